//! Senders and receivers on netmap ports (VALE ports and pipe ends)
//! through the Port API, as an application uses it, and the one-thread
//! loop used for profiling.

use std::time::{Duration, Instant};

use netmap_ring::port::Port;
use netmap_ring::ring;
use netmap_ring::view::RingView;
use serde_json::json;

use super::{
    open_control, Common, FinishOnDrop, Idle, RoleResult, SendUntil, Window, FIRST_PACKET_TIMEOUT,
};
use crate::ctl;
use crate::frame::{self, parse_mac};

/// The device backend the parent named (`scripts/bench --backend`), if
/// any: the children's ports are on it.
fn device_backend() -> Option<String> {
    std::env::var(netmap_backend::BACKEND_ENV)
        .ok()
        .filter(|spec| !spec.is_empty() && spec != "soft")
}

pub(super) fn open_port(name: &str) -> Result<Port, String> {
    match device_backend() {
        None => vale_soft::open(name),
        Some(spec) => {
            let backend = netmap_backend::shared_backend(&spec)
                .map_err(|e| format!("open {name} on {spec}: {e}"))?;
            Port::open_on(backend, name)
        }
    }
    .map_err(|e| format!("open {name}: {e}"))
}

/// Writes `frame` into the buffer of every slot of TX ring 0 (VALE keeps
/// its TX buffers, so this is done once, as pkt-gen does).
pub(super) fn prefill(port: &Port, frame: &[u8]) -> Result<(), String> {
    let ring = port.tx_ring(0);
    for s in 0..ring.num_slots() {
        port.write_buf(ring.slot(s).buf_idx, frame)
            .map_err(|e| format!("prefill: {e}"))?;
    }
    Ok(())
}

/// The slot runs of `k` slots from `cur` in a ring of `n` (two when they
/// wrap), for loops with no index wrap per slot.
#[inline]
fn runs(cur: u32, k: u32, n: u32) -> [(u32, u32); 2] {
    let first = k.min(n - cur);
    [(cur, first), (0, k - first)]
}

/// Queues up to `count` frames of `len` bytes on `ring` (buffers already
/// filled); returns how many. Does not sync.
#[inline]
pub(super) fn queue(ring: &RingView<'_>, count: u32, len: u16) -> u32 {
    let n = ring.num_slots();
    let cur = ring.cur();
    let k = ring::distance(cur, ring.tail(), n).min(count);
    for (start, run) in runs(cur, k, n) {
        for slot in ring.slot_run(start, run).chunks_exact(2) {
            // The application owns these slots: buffer kept, length set,
            // flags cleared.
            let word = slot[0].load(std::sync::atomic::Ordering::Relaxed);
            slot[0].store(
                word & 0xffff_ffff | u64::from(len) << 32,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }
    if k > 0 {
        let cur = (cur + k) % n;
        ring.set_head(cur);
        ring.set_cur(cur);
    }
    k
}

/// Releases up to `count` received slots of `ring`; returns how many and
/// their bytes. Does not sync.
#[inline]
pub(super) fn consume(ring: &RingView<'_>, count: u32) -> (u64, u64) {
    let n = ring.num_slots();
    let cur = ring.cur();
    let k = ring::distance(cur, ring.tail(), n).min(count);
    let mut bytes = 0u64;
    for (start, run) in runs(cur, k, n) {
        for slot in ring.slot_run(start, run).chunks_exact(2) {
            bytes += (slot[0].load(std::sync::atomic::Ordering::Relaxed) >> 32) & 0xffff;
        }
    }
    if k > 0 {
        let cur = (cur + k) % n;
        ring.set_head(cur);
        ring.set_cur(cur);
    }
    (u64::from(k), bytes)
}

/// Sends one frame (already in the buffers) and syncs.
pub(super) fn send_one(port: &Port, len: u16) -> Result<(), String> {
    if queue(&port.tx_ring(0), 1, len) != 1 {
        return Err("TX ring full".into());
    }
    port.txsync_ring(0).map_err(|e| e.to_string())
}

/// Waits (busy) for at least one frame on RX ring 0 and releases all.
fn wait_one(port: &Port, timeout: Duration) -> Result<u64, String> {
    let until = Instant::now() + timeout;
    loop {
        port.rxsync_ring(0).map_err(|e| e.to_string())?;
        let (k, _) = consume(&port.rx_ring(0), u32::MAX);
        if k > 0 {
            return Ok(k);
        }
        if Instant::now() >= until {
            return Err(format!("nothing received within {timeout:?}"));
        }
    }
}

fn frame_len(len: usize) -> u16 {
    len.clamp(frame::MIN_FRAME, frame::MAX_FRAME) as u16
}

pub(super) fn port_tx(
    common: &Common,
    name: &str,
    dst: &str,
    src: &str,
    len: usize,
    receivers: u32,
    learn: bool,
) -> RoleResult {
    let ctl = open_control(common)?;
    let port = open_port(name)?;
    let len = frame_len(len);
    prefill(
        &port,
        &frame::frame(parse_mac(dst)?, parse_mac(src)?, len.into()),
    )?;
    if learn {
        send_one(&port, len)?;
    }
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    if learn {
        wait_one(&port, FIRST_PACKET_TIMEOUT).map_err(|e| format!("learning reply: {e}"))?;
    }
    let ring = port.tx_ring(0);
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut idle = Idle::default();
    while until.go_on() {
        let k = queue(&ring, common.batch, len);
        sent += u64::from(k);
        idle.progress(k > 0);
        if let Err(e) = port.txsync_ring(0) {
            // The receiver closing its end of a pipe ends the run.
            if ctl.finished() >= receivers {
                break;
            }
            return Err(format!("txsync: {e}"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut result = json!({ "packets": sent, "secs": secs, "counters": vale_counters(name) });
    idle.report(&mut result);
    Ok(result)
}

/// The engine's counters for VALE port `name` and its switch (what the
/// sender's frames became: forwarded, dropped on a full ring, ...), or
/// null for a pipe.
fn vale_counters(name: &str) -> serde_json::Value {
    use vale_offload::counters::PortCounter;
    use vale_offload::counters::SwitchCounter;
    use vale_offload::placement::DomainKind;
    // A device's counters are the parent's to read (`--backend`).
    if device_backend().is_some() {
        return serde_json::Value::Null;
    }
    let Some((switch, port)) = name.split_once(':').filter(|(s, _)| s.starts_with("vale")) else {
        return serde_json::Value::Null;
    };
    // This process has the port open, so the domain exists and is shared
    // through the engine's registry: opening it creates nothing.
    let Ok(domain) = vale_soft::domain::Domain::open(switch, DomainKind::Switch) else {
        return serde_json::Value::Null;
    };
    let Some(index) = vale_soft::ports::find(&domain, port) else {
        return serde_json::Value::Null;
    };
    let ctrl = domain.ctrl();
    let entry = ctrl.port(index);
    let read = |c: PortCounter| entry.read(c);
    let switch_read = |c: SwitchCounter| {
        ctrl.switch_counter(c)
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    json!({
        "tx_packets": read(PortCounter::TxPackets),
        "tx_drop_full": read(PortCounter::TxDropFull),
        "tx_drop_no_dest": read(PortCounter::TxDropNoDest),
        "switch_lookups": switch_read(SwitchCounter::Lookups),
        "switch_hits": switch_read(SwitchCounter::Hits),
        "switch_floods": switch_read(SwitchCounter::Floods),
        "switch_forwarded": switch_read(SwitchCounter::Forwarded),
    })
}

pub(super) fn port_rx(
    common: &Common,
    names: &[String],
    reply_to: Option<&str>,
    src: &str,
) -> RoleResult {
    let ctl = open_control(common)?;
    let ports = names
        .iter()
        .map(|name| open_port(name))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(dst) = reply_to {
        prefill(
            &ports[0],
            &frame::frame(parse_mac(dst)?, parse_mac(src)?, 60),
        )?;
    }
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    if reply_to.is_some() {
        // Drop the sender's learning frame, then let the switch learn us.
        for port in &ports {
            port.rxsync_ring(0).map_err(|e| e.to_string())?;
            consume(&port.rx_ring(0), u32::MAX);
        }
        send_one(&ports[0], 60)?;
    }
    let rings: Vec<RingView<'_>> = ports.iter().map(|p| p.rx_ring(0)).collect();
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (mut packets, mut bytes) = (0, 0);
        for (port, ring) in ports.iter().zip(&rings) {
            port.rxsync_ring(0).map_err(|e| format!("rxsync: {e}"))?;
            let (k, b) = consume(ring, common.batch);
            packets += k;
            bytes += b;
        }
        idle.progress(packets > 0);
        if !window.add(packets, bytes)? {
            break;
        }
    }
    let mut result = window.result();
    idle.report(&mut result);
    Ok(result)
}

pub(super) fn in_process_loop(common: &Common, kind: &str, name: &str) -> RoleResult {
    // Broadcast: one sender floods to four receivers (each frame is
    // delivered four times; packets counts frames). `broadcast-full`: only
    // the first receiver drains, the other three rings stay full, as when
    // three of the benchmark's four receiver processes wait for their CPU.
    let (tx_name, rx_names, dst) = match kind {
        "pipe" => (
            format!("netmap:{name}{{0"),
            vec![format!("netmap:{name}}}0")],
            frame::mac(2),
        ),
        "vale" => (
            format!("vale{name}:a"),
            vec![format!("vale{name}:b")],
            frame::mac(2),
        ),
        "broadcast" | "broadcast-full" => (
            format!("vale{name}:a"),
            ["b", "c", "d", "e"]
                .iter()
                .map(|p| format!("vale{name}:{p}"))
                .collect(),
            [0xff; 6],
        ),
        other => {
            return Err(format!(
                "unknown kind {other:?}: use pipe, vale, broadcast or broadcast-full"
            ))
        }
    };
    let rxs = rx_names
        .iter()
        .map(|n| open_port(n))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = open_port(&tx_name)?;
    let len = frame::MIN_FRAME as u16;
    prefill(&tx, &frame::frame(dst, frame::mac(1), len.into()))?;
    if kind == "vale" {
        // Unicast as in the two-process benchmark: the receiver's address
        // is learned first (its one frame floods to the sender's port).
        prefill(&rxs[0], &frame::frame(frame::mac(1), dst, len.into()))?;
        send_one(&rxs[0], len)?;
    }
    let total = common.max_packets.min(100_000_000);
    let tx_ring = tx.tx_ring(0);
    let draining = if kind == "broadcast-full" {
        1
    } else {
        rxs.len()
    };
    if common.ctl.exists() {
        ctl::say_ready();
        if !ctl::wait_go() {
            return Err("no go".into());
        }
    }
    let started = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    while received < total {
        sent += u64::from(queue(&tx_ring, common.batch, len));
        tx.txsync_ring(0).map_err(|e| e.to_string())?;
        let mut first = 0;
        for (i, rx) in rxs.iter().enumerate().take(draining) {
            rx.rxsync_ring(0).map_err(|e| e.to_string())?;
            let (k, _) = consume(&rx.rx_ring(0), u32::MAX);
            if i == 0 {
                first = k;
            }
        }
        if first == 0 && started.elapsed() > Duration::from_secs(60) {
            return Err("stalled".into());
        }
        received += first;
    }
    Ok(json!({ "packets": received, "sent": sent, "secs": started.elapsed().as_secs_f64() }))
}
