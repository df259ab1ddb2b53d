//! bridge: netmap's `bridge`, forwarding every frame between two ports in
//! both directions. When both ports live in one memory region (two ports
//! of one VALE switch, two pipe ends of one parent) frames move by buffer
//! swap, as netmap's zero-copy bridge does; otherwise they are copied.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use netmap_ring::abi::{NetmapSlot, NS_BUF_CHANGED, NS_MOREFRAG};
use netmap_ring::port::Port;
use netmap_ring::ring;
use rustix::event::{PollFd, PollFlags, Timespec};

use crate::backend::BackendChoice;
use crate::error::ToolError;
use crate::report::norm;
use crate::signal;

/// Command line (netmap's letters, plus `-n` and `-T`).
#[derive(Debug, Parser)]
#[command(
    name = "bridge",
    about = "Forward frames between two netmap-rs ports, both ways"
)]
pub struct Args {
    /// The two ports (-i A -i B).
    #[arg(short = 'i', value_name = "PORT", num_args = 1, required = true)]
    pub ports: Vec<String>,
    /// Frames moved per ring per round.
    #[arg(short = 'b', default_value_t = 1024)]
    pub batch: u32,
    /// Seconds to wait before forwarding.
    #[arg(short = 'w', default_value_t = 0)]
    pub wait_secs: u64,
    /// Copy payloads even when the ports share memory.
    #[arg(short = 'c')]
    pub copy: bool,
    /// Stop after forwarding this many frames in total (0: until
    /// interrupted).
    #[arg(short = 'n', default_value_t = 0)]
    pub count: u64,
    /// Milliseconds between counter reports (0: only at exit).
    #[arg(short = 'T', default_value_t = 0)]
    pub report_ms: u64,
    /// Spin on syncs instead of sleeping in poll().
    #[arg(long)]
    pub busy: bool,
    /// Which netmap backend opens the ports.
    #[arg(long, env = netmap_backend::BACKEND_ENV, default_value = "soft")]
    pub backend: BackendChoice,
}

/// Frames and bytes moved in one direction, and frames dropped for a bad
/// slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    pub pkts: u64,
    pub bytes: u64,
    pub dropped: u64,
}

/// Moves up to `limit` frames from the RX rings of `from` into the TX
/// rings of `to`; swaps buffers when `zero_copy`. Returns the frames moved.
pub fn forward(
    from: &Port,
    to: &Port,
    zero_copy: bool,
    limit: u64,
    scratch: &mut [u8],
    counters: &mut DirectionCounters,
) -> u64 {
    let mut moved = 0u64;
    let mut tx_index = 0;
    for r in 0..from.rx_rings() {
        let rx = from.rx_ring(r);
        let rn = rx.num_slots();
        let mut rcur = rx.cur();
        if rcur >= rn {
            continue;
        }
        let rtail = rx.tail();
        while rcur != rtail && moved < limit && tx_index < to.tx_rings() {
            let tx = to.tx_ring(tx_index);
            let tn = tx.num_slots();
            let mut tcur = tx.cur();
            if tcur >= tn || ring::empty(tcur, tx.tail()) {
                tx_index += 1;
                continue;
            }
            let ttail = tx.tail();
            while rcur != rtail && tcur != ttail && moved < limit {
                let rs = rx.slot(rcur);
                let len = usize::from(rs.len).min(scratch.len());
                let more = rs.flags & NS_MOREFRAG;
                let ts = tx.slot(tcur);
                let ok = if zero_copy {
                    // The two slots trade buffers; both are marked changed
                    // so the engine reloads their buffer indexes.
                    tx.set_slot(
                        tcur,
                        NetmapSlot {
                            buf_idx: rs.buf_idx,
                            len: len as u16,
                            flags: NS_BUF_CHANGED | more,
                            ptr: 0,
                        },
                    );
                    rx.set_slot(
                        rcur,
                        NetmapSlot {
                            buf_idx: ts.buf_idx,
                            len: 0,
                            flags: NS_BUF_CHANGED,
                            ptr: 0,
                        },
                    );
                    true
                } else {
                    copy_payload(from, rs.buf_idx, to, ts.buf_idx, len)
                };
                rcur = ring::next(rcur, rn);
                if ok {
                    if !zero_copy {
                        tx.set_len_flags(tcur, len as u16, more);
                    }
                    tcur = ring::next(tcur, tn);
                    counters.pkts += 1;
                    counters.bytes += len as u64;
                    moved += 1;
                } else {
                    counters.dropped += 1;
                }
            }
            tx.set_head(tcur);
            tx.set_cur(tcur);
        }
        rx.set_head(rcur);
        rx.set_cur(rcur);
    }
    moved
}

/// Copies `len` bytes from buffer `src` of `from` into buffer `dst` of
/// `to`, memory to memory; false (nothing copied) for a bad index or a
/// length over either buffer.
fn copy_payload(from: &Port, src: u32, to: &Port, dst: u32, len: usize) -> bool {
    let fits = len <= from.buf_size() as usize && len <= to.buf_size() as usize;
    match (from.buf_offset(src), to.buf_offset(dst)) {
        (Some(s), Some(d)) if fits => from.region().copy_to(s, to.region(), d, len).is_ok(),
        _ => false,
    }
}

/// netmap's one-port form: `-i netmap:IF` alone bridges the NIC with
/// its host stack (`netmap:IF^`).
fn with_host_side(ports: &[String]) -> Vec<String> {
    use netmap_ring::name::{PortName, RingMode, Subsystem};
    match ports {
        [one] => match one.parse::<PortName>() {
            Ok(name)
                if matches!(name.subsystem, Subsystem::Netmap { .. })
                    && name.mode == RingMode::AllNic
                    && name.pipe.is_none() =>
            {
                vec![
                    one.clone(),
                    format!("netmap:{}^", name.subsystem.parent_name()),
                ]
            }
            _ => ports.to_vec(),
        },
        _ => ports.to_vec(),
    }
}

fn line(a: &str, b: &str, ab: &DirectionCounters, ba: &DirectionCounters) -> String {
    format!(
        "{a} -> {b}: {} packets {} bytes {} dropped; {b} -> {a}: {} packets {} bytes {} dropped",
        ab.pkts, ab.bytes, ab.dropped, ba.pkts, ba.bytes, ba.dropped
    )
}

/// Runs the bridge.
pub fn run(args: Args) -> Result<(), ToolError> {
    let ports = with_host_side(&args.ports);
    let [name_a, name_b] = ports.as_slice() else {
        return Err(ToolError::Usage(
            "give two ports (-i A -i B), or one NIC (-i netmap:IF, bridged with its host stack IF^)"
                .into(),
        ));
    };
    if args.batch == 0 {
        return Err(ToolError::Usage("-b: the batch is at least 1".into()));
    }
    signal::install();
    let open = |name: &String| {
        args.backend
            .open(name)
            .map_err(|e| ToolError::port(name, e))
    };
    let a = open(name_a)?;
    let b = open(name_b)?;
    let zero_copy = !args.copy && Arc::ptr_eq(a.region(), b.region());
    println!(
        "bridge: {name_a} <-> {name_b} ({})",
        if zero_copy {
            "zero-copy: buffer swap in shared memory"
        } else {
            "copy"
        }
    );
    if args.wait_secs > 0 {
        std::thread::sleep(Duration::from_secs(args.wait_secs));
    }
    let mut scratch = vec![0u8; a.buf_size().max(b.buf_size()) as usize];
    let (mut ab, mut ba) = (DirectionCounters::default(), DirectionCounters::default());
    let sync = |p: &Port, name: &str| -> Result<(), ToolError> {
        p.rxsync().map_err(|e| ToolError::sync(name, e))?;
        p.txsync().map_err(|e| ToolError::sync(name, e))
    };
    let report_every = (args.report_ms > 0).then(|| Duration::from_millis(args.report_ms));
    let mut last_report = Instant::now();
    let mut prev = (ab, ba);
    let batch = u64::from(args.batch);
    while !signal::stop_requested() {
        let total = ab.pkts + ba.pkts;
        if args.count > 0 && total >= args.count {
            break;
        }
        let left = if args.count > 0 {
            args.count - total
        } else {
            u64::MAX
        };
        sync(&a, name_a)?;
        sync(&b, name_b)?;
        let m1 = forward(&a, &b, zero_copy, batch.min(left), &mut scratch, &mut ab);
        let m2 = forward(
            &b,
            &a,
            zero_copy,
            batch.min(left - m1),
            &mut scratch,
            &mut ba,
        );
        if m1 > 0 {
            b.txsync().map_err(|e| ToolError::sync(name_b, e))?;
        }
        if m2 > 0 {
            a.txsync().map_err(|e| ToolError::sync(name_a, e))?;
        }
        if let Some(every) = report_every {
            if last_report.elapsed() >= every {
                let secs = last_report.elapsed().as_secs_f64();
                println!(
                    "{name_a} -> {name_b} {}pps, {name_b} -> {name_a} {}pps",
                    norm((ab.pkts - prev.0.pkts) as f64 / secs),
                    norm((ba.pkts - prev.1.pkts) as f64 / secs)
                );
                prev = (ab, ba);
                last_report = Instant::now();
            }
        }
        if m1 + m2 > 0 || args.busy {
            continue;
        }
        wait_both(&a, &b, name_a)?;
    }
    // Hand back the last RX slots and push out the last TX slots.
    sync(&a, name_a)?;
    sync(&b, name_b)?;
    println!(
        "{} ({})",
        line(name_a, name_b, &ab, &ba),
        if zero_copy { "zero-copy" } else { "copy" }
    );
    Ok(())
}

/// Sleeps until either port may have frames (or room), or 100 ms pass.
fn wait_both(a: &Port, b: &Port, name: &str) -> Result<(), ToolError> {
    wait_any(&[a, b], Duration::from_millis(100), name)
}

/// Sleeps until any of `ports` may have frames (or room), or `limit`
/// passes: the ports are armed, looked at again (a frame that came in
/// between would not kick), and only then is poll() entered.
pub fn wait_any(ports: &[&Port], limit: Duration, name: &str) -> Result<(), ToolError> {
    for p in ports {
        p.arm();
    }
    let pending = |p: &Port| {
        p.rxsync().is_ok()
            && (0..p.rx_rings()).any(|r| {
                let rx = p.rx_ring(r);
                !ring::empty(rx.cur(), rx.tail())
            })
    };
    let mut result = Ok(());
    if !ports.iter().any(|p| pending(p)) {
        let mut fds: Vec<PollFd<'_>> = ports
            .iter()
            .map(|p| PollFd::new(*p, PollFlags::IN))
            .collect();
        let timeout = Timespec {
            tv_sec: limit.as_secs() as i64,
            tv_nsec: i64::from(limit.subsec_nanos()),
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                result = Err(ToolError::Io {
                    what: format!("{name}: poll"),
                    source: e.into(),
                })
            }
        }
    }
    for p in ports {
        p.disarm();
    }
    result
}

/// bridge's entry point.
pub fn main() -> std::process::ExitCode {
    let args = Args::parse();
    crate::error::run("bridge", || run(args))
}
