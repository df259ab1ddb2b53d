//! Async receive vs busy polling at batch 256, over a software-engine pipe.
//!
//! The receiver takes frames in batches of 256 and copies each into one
//! reused buffer, either by busy polling (rxsync, copy, in a loop) or
//! through `AsyncPort::recv_batch` on a single-threaded tokio runtime.
//! Two setups:
//! - one thread (the figure): the same thread sends a batch of 256
//!   60-byte frames, then receives it; this isolates what the async path
//!   costs per batch (readiness check, reactor, the extra rxsync) with no
//!   scheduler in the way;
//! - two threads: a sender thread busy-sends while this thread receives;
//!   the async receiver sleeps on the port's descriptor when the ring is
//!   empty, the busy one spins. On a loaded two-core machine this mostly
//!   measures who gets the CPU.
//!
//! Rounds alternate busy, async, busy, async...; each pair gives a ratio
//! async / busy of the received rate, and the median ratio is the figure
//! (target: async at least 0.90 of busy, i.e. costs at most 10% more).
//!
//! `cargo bench -p netmap-tools --bench async_vs_busy` (ROUNDS, COUNT in
//! the environment change the rounds and the frames per round).

use std::time::Instant;

use netmap_ring::async_port::{AsyncPort, FrameBatch};
use netmap_ring::port::Port;
use netmap_ring::ring;

const BATCH: usize = 256;
const FRAME: usize = 60;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends `count` frames through `port` in batches of [`BATCH`], busy.
fn sender(port: Port, count: u64) {
    let frame = [0x5au8; FRAME];
    let mut sent = 0;
    while sent < count {
        let mut queued = 0;
        while queued < BATCH as u64 && sent + queued < count {
            if !port_inject(&port, &frame) {
                break;
            }
            queued += 1;
        }
        port.txsync().expect("txsync");
        sent += queued;
        if queued == 0 {
            std::hint::spin_loop();
        }
    }
}

/// `Port::inject` needs `&mut`; the sender owns its port, so wrap it.
fn port_inject(port: &Port, frame: &[u8]) -> bool {
    let ring = port.tx_ring(0);
    let cur = ring.cur();
    if ring::empty(cur, ring.tail()) {
        return false;
    }
    let slot = ring.slot(cur);
    if port.write_buf(slot.buf_idx, frame).is_err() {
        return false;
    }
    ring.set_len_flags(cur, frame.len() as u16, 0);
    let next = ring::next(cur, ring.num_slots());
    ring.set_head(next);
    ring.set_cur(next);
    true
}

/// Copies up to `limit` frames waiting in RX ring 0 to the end of `bytes`
/// and releases their slots; returns how many.
fn copy_out(port: &Port, bytes: &mut Vec<u8>, limit: usize) -> usize {
    let ring = port.rx_ring(0);
    let (n, tail) = (ring.num_slots(), ring.tail());
    let mut cur = ring.cur();
    let mut taken = 0;
    while taken < limit && !ring::empty(cur, tail) {
        let slot = ring.slot(cur);
        let len = usize::from(slot.len);
        if let Some(off) = port.buf_offset(slot.buf_idx) {
            let start = bytes.len();
            bytes.resize(start + len, 0);
            let _ = port.region().read_bytes(off, &mut bytes[start..]);
        }
        cur = ring::next(cur, n);
        taken += 1;
    }
    ring.set_head(cur);
    ring.set_cur(cur);
    taken
}

/// Busy receiver: rxsync until `count` frames were copied out.
fn busy_receive(port: &Port, count: u64) {
    let mut bytes: Vec<u8> = Vec::with_capacity(BATCH * 2048);
    let mut got = 0;
    while got < count {
        port.rxsync().expect("rxsync");
        bytes.clear();
        got += copy_out(port, &mut bytes, BATCH) as u64;
        std::hint::black_box(&bytes);
    }
}

/// Async receiver: `recv_batch(256)` until `count` frames arrived.
fn async_receive(port: Port, count: u64) -> Port {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut port = AsyncPort::new(port).expect("async port");
        let mut batch = FrameBatch::with_capacity(BATCH);
        let mut got = 0;
        while got < count {
            got += port.recv_batch(&mut batch, BATCH).await.expect("recv") as u64;
            std::hint::black_box(&batch);
        }
        port.into_inner()
    })
}

/// Receives exactly `want` frames by busy polling; returns them copied.
fn busy_batch(port: &Port, bytes: &mut Vec<u8>, want: usize) {
    bytes.clear();
    let mut taken = 0;
    while taken < want {
        port.rxsync().expect("rxsync");
        taken += copy_out(port, bytes, want - taken);
    }
}

/// Sends one batch of `BATCH` frames through `port`.
fn send_batch(port: &Port) {
    let frame = [0x5au8; FRAME];
    for _ in 0..BATCH {
        assert!(port_inject(port, &frame), "the pipe has room for a batch");
    }
    port.txsync().expect("txsync");
}

/// One single-threaded round: send a batch, receive it; frames per second.
fn one_thread_round(tag: &str, round: u64, asynchronous: bool, count: u64) -> f64 {
    let switch = format!("vale{tag}s{round}");
    let rx = vale_soft::open(&format!("{switch}:p}}0")).expect("receiver end");
    let tx = vale_soft::open(&format!("{switch}:p{{0")).expect("sender end");
    let batches = count / BATCH as u64;
    let start = Instant::now();
    if asynchronous {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut port = AsyncPort::new(rx).expect("async port");
            let mut batch = FrameBatch::with_capacity(BATCH);
            for _ in 0..batches {
                send_batch(&tx);
                let mut got = 0;
                while got < BATCH {
                    got += port
                        .recv_batch(&mut batch, BATCH - got)
                        .await
                        .expect("recv");
                    std::hint::black_box(&batch);
                }
            }
        });
    } else {
        let mut bytes = Vec::with_capacity(BATCH * 2048);
        for _ in 0..batches {
            send_batch(&tx);
            busy_batch(&rx, &mut bytes, BATCH);
            std::hint::black_box(&bytes);
        }
        // The last batch's slots go back, as recv_batch's rxsync does.
        rx.rxsync().expect("rxsync");
    }
    (batches * BATCH as u64) as f64 / start.elapsed().as_secs_f64()
}

/// One two-thread round: frames per second received.
fn round(tag: &str, round: u64, asynchronous: bool, count: u64) -> f64 {
    let switch = format!("vale{tag}r{round}");
    let rx = vale_soft::open(&format!("{switch}:p}}0")).expect("receiver end");
    let tx = vale_soft::open(&format!("{switch}:p{{0")).expect("sender end");
    let start = Instant::now();
    let sending = std::thread::spawn(move || sender(tx, count));
    if asynchronous {
        drop(async_receive(rx, count));
    } else {
        busy_receive(&rx, count);
    }
    let seconds = start.elapsed().as_secs_f64();
    sending.join().expect("sender");
    count as f64 / seconds
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `rounds` pairs of `run(busy)`, `run(async)`; prints each pair and
/// returns the medians (busy, async, ratio).
fn pairs(what: &str, rounds: u64, mut run: impl FnMut(u64, bool) -> f64) -> (f64, f64, f64) {
    let (mut busy_all, mut async_all, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let busy = run(2 * r, false);
        let asynchronous = run(2 * r + 1, true);
        println!(
            "{what}: pair {r}: busy {:.2} Mpps, async {:.2} Mpps, async/busy {:.3}",
            busy / 1e6,
            asynchronous / 1e6,
            asynchronous / busy
        );
        busy_all.push(busy);
        async_all.push(asynchronous);
        ratios.push(asynchronous / busy);
    }
    (
        median(&mut busy_all),
        median(&mut async_all),
        median(&mut ratios),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let rounds = env_or("ROUNDS", 5).max(1);
    let count = env_or("COUNT", 2_000_000).max(BATCH as u64);
    let tag = format!("avb{}", std::process::id());
    let one = pairs("one thread", rounds, |r, a| {
        one_thread_round(&tag, r, a, count)
    });
    let two = pairs("two threads", rounds, |r, a| round(&tag, r, a, count));
    for ((busy, asynchronous, ratio), what) in [
        (one, "one thread, send then receive"),
        (two, "two threads, sender apart"),
    ] {
        println!(
            "async vs busy polling ({what}), pipe, batch {BATCH}, {FRAME}-byte frames, {count} frames x {rounds} pairs: busy {:.2} Mpps, async {:.2} Mpps (medians), async/busy {ratio:.3} (median of pairs; higher is better for async; target >= 0.90: {})",
            busy / 1e6,
            asynchronous / 1e6,
            if ratio >= 0.90 { "met" } else { "NOT met" }
        );
    }
}
