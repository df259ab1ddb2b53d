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
                    from.read_buf(rs.buf_idx, &mut scratch[..len]).is_ok()
                        && to.write_buf(ts.buf_idx, &scratch[..len]).is_ok()
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

fn line(a: &str, b: &str, ab: &DirectionCounters, ba: &DirectionCounters) -> String {
    format!(
        "{a} -> {b}: {} packets {} bytes {} dropped; {b} -> {a}: {} packets {} bytes {} dropped",
        ab.pkts, ab.bytes, ab.dropped, ba.pkts, ba.bytes, ba.dropped
    )
}

/// Runs the bridge.
pub fn run(args: Args) -> Result<(), ToolError> {
    let [name_a, name_b] = args.ports.as_slice() else {
        return Err(ToolError::Usage(
            "give exactly two ports: -i A -i B (host-stack bridging of a single NIC is not available in software)".into(),
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
    a.arm();
    b.arm();
    // Look again after arming: a frame that came in between would not kick.
    let pending = |p: &Port| {
        p.rxsync().is_ok()
            && (0..p.rx_rings()).any(|r| {
                let rx = p.rx_ring(r);
                !ring::empty(rx.cur(), rx.tail())
            })
    };
    if !pending(a) && !pending(b) {
        let mut fds = [PollFd::new(a, PollFlags::IN), PollFd::new(b, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                a.disarm();
                b.disarm();
                return Err(ToolError::Io {
                    what: format!("{name}: poll"),
                    source: e.into(),
                });
            }
        }
    }
    a.disarm();
    b.disarm();
    Ok(())
}

/// bridge's entry point.
pub fn main() -> std::process::ExitCode {
    let args = Args::parse();
    crate::error::run("bridge", || run(args))
}
