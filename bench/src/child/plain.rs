//! Producer and consumer of the plain shared-memory ring baseline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{open_control, Common, FinishOnDrop, Idle, RoleResult, SendUntil, Window};
use crate::ctl::{self, TempFile};
use crate::frame;
use crate::spsc::{Geometry, SpscRing};

fn open_rings(paths: &[PathBuf]) -> Result<Vec<SpscRing>, String> {
    paths
        .iter()
        .map(|p| SpscRing::open(p).map_err(|e| e.to_string()))
        .collect()
}

pub(super) fn ring_tx(
    common: &Common,
    paths: &[PathBuf],
    len: u16,
    copy: bool,
    receivers: u32,
) -> RoleResult {
    let ctl = open_control(common)?;
    let rings = open_rings(paths)?;
    let frame = frame::frame(frame::BROADCAST, frame::mac(1), len.into());
    for ring in &rings {
        ring.fill_tx_pool(&frame);
    }
    let mut producers: Vec<_> = rings.iter().map(|r| r.producer()).collect();
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let batch = common.batch as usize;
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut idle = Idle::default();
    if let [producer] = producers.as_mut_slice() {
        // One ring: the common case, without the fan-out loop.
        while until.go_on() {
            let k = if copy {
                producer.push(batch, len, true)
            } else {
                producer.push(batch, len, false)
            };
            sent += k as u64;
            idle.progress(k > 0);
        }
    } else {
        // Fan-out: the batch goes to every ring, as a broadcast does; a
        // full ring loses what does not fit (VALE is not lossless either).
        while until.go_on() {
            let mut most = 0;
            for producer in &mut producers {
                most = most.max(producer.push(batch, len, copy));
            }
            sent += most as u64;
            idle.progress(most > 0);
        }
    }
    let mut result = json!({ "packets": sent, "secs": started.elapsed().as_secs_f64() });
    idle.report(&mut result);
    Ok(result)
}

pub(super) fn ring_rx(common: &Common, paths: &[PathBuf]) -> RoleResult {
    let ctl = open_control(common)?;
    let rings = open_rings(paths)?;
    let mut consumers: Vec<_> = rings.iter().map(|r| r.consumer()).collect();
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let batch = common.batch as usize;
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (mut packets, mut bytes) = (0, 0);
        for consumer in &mut consumers {
            let (k, b) = consumer.pop(batch);
            packets += k as u64;
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

/// The baselines in one thread, as `netmap::in_process_loop` runs ours,
/// for `scripts/profile`: 60-byte packets pushed a batch at a time and
/// popped, until `--max-packets` arrived in the first ring. `kind`:
/// `ring` (descriptors only), `one-copy` (each packet copied once),
/// `fan-out` (copied into each of four rings) or `fan-out-full` (the same,
/// only the first ring drained: `broadcast-full`'s baseline). The rings have the
/// benchmark's geometry (1024 slots, buffers 2112 bytes apart).
pub(super) fn in_process_loop(common: &Common, kind: &str) -> RoleResult {
    let (rings, copy) = match kind {
        "ring" => (1, false),
        "one-copy" => (1, true),
        "fan-out" | "fan-out-full" => (4, true),
        other => return Err(format!("unknown baseline {other:?}")),
    };
    let geometry = Geometry {
        slots: 1024,
        stride: 2112,
    };
    let files: Vec<TempFile> = (0..rings).map(|_| TempFile::new("loop")).collect();
    let rings = files
        .iter()
        .map(|f| SpscRing::create(f.path(), geometry).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let len = frame::MIN_FRAME as u16;
    let frame = frame::frame(frame::BROADCAST, frame::mac(1), len.into());
    for ring in &rings {
        ring.fill_tx_pool(&frame);
    }
    let mut producers: Vec<_> = rings.iter().map(|r| r.producer()).collect();
    let mut consumers: Vec<_> = rings.iter().map(|r| r.consumer()).collect();
    let batch = common.batch as usize;
    let total = common.max_packets.min(100_000_000);
    let draining = if kind == "fan-out-full" {
        1
    } else {
        consumers.len()
    };
    let started = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    while received < total {
        for producer in &mut producers {
            sent += producer.push(batch, len, copy) as u64;
        }
        let mut first = 0;
        for (i, consumer) in consumers.iter_mut().enumerate().take(draining) {
            let (k, _) = consumer.pop(batch);
            if i == 0 {
                first = k as u64;
            }
        }
        if first == 0 && started.elapsed() > Duration::from_secs(60) {
            return Err("stalled".into());
        }
        received += first;
    }
    Ok(json!({ "packets": received, "sent": sent, "secs": started.elapsed().as_secs_f64() }))
}
