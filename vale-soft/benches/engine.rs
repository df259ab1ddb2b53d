//! Micro-benchmark of the software engine: pipe and VALE packet rates in
//! one process, a sender thread and a receiver thread, 60-byte frames,
//! batches of 256, beside a baseline run in the same process: a plain
//! single-producer single-consumer ring in shared memory that copies each
//! 60-byte frame in and out (what any packet path has to do at least).
//!
//! The machine is shared and two-core figures swing a lot (DESIGN.md
//! section 6), so the runs alternate baseline, pipe, VALE in short rounds;
//! each round prints its figures and the ratios to the baseline of the same
//! round, then the medians are printed. Not a test: `cargo bench -p
//! vale-soft --bench engine` (ROUNDS and ROUND_SECS in the environment
//! override the defaults of 5 rounds of 0.5 s per figure).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_ring::port::{Interest, Port};
use netmap_ring::ring;
use netmap_ring::shm::SharedRegion;

const FRAME_LEN: usize = 60;
/// What the receiver is told about the end of a run: not yet known, or
/// lossy (stop when a sync after the sender's end brings nothing); any
/// other value is the number of frames a lossless sender sent.
const END_UNKNOWN: u64 = u64::MAX - 1;
const END_LOSSY: u64 = u64::MAX;
const BATCH: u32 = 256;

fn frame() -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]); // to b
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]); // from a
    f[12] = 0x88;
    f[13] = 0xb5;
    f
}

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
struct Rate {
    /// Frames the sender handed over.
    sent: u64,
    /// Frames the receiver got.
    received: u64,
    secs: f64,
}

impl Rate {
    fn rx_mpps(&self) -> f64 {
        self.received as f64 / self.secs / 1e6
    }
    fn tx_mpps(&self) -> f64 {
        self.sent as f64 / self.secs / 1e6
    }
}

// ---------------------------------------------------------------------------
// Baseline: an SPSC ring of 64-byte slots in a shared region.

const SPSC_SLOTS: u64 = 1024;
const SPSC_HEAD: usize = 0; // producer's index (own cache line)
const SPSC_TAIL: usize = 128; // consumer's index (own cache line)
const SPSC_SLOT0: usize = 256;

fn spsc_slot(i: u64) -> usize {
    SPSC_SLOT0 + (i % SPSC_SLOTS) as usize * 64
}

fn run_baseline(duration: Duration) -> Rate {
    let region = Arc::new(
        SharedRegion::create("bench-spsc", SPSC_SLOT0 + SPSC_SLOTS as usize * 64).unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent_total = Arc::new(AtomicU64::new(u64::MAX));
    let consumer = {
        let (region, sent_total) = (Arc::clone(&region), Arc::clone(&sent_total));
        std::thread::spawn(move || {
            let head_ix = region.atomic_u64(SPSC_HEAD).unwrap();
            let tail_ix = region.atomic_u64(SPSC_TAIL).unwrap();
            let mut tail = 0u64;
            let mut out = [0u8; FRAME_LEN];
            let mut checksum = 0u64;
            loop {
                // Acquire: pairs with the producer's Release of head.
                let head = head_ix.load(Ordering::Acquire);
                if head == tail {
                    if sent_total.load(Ordering::Acquire) == tail {
                        break;
                    }
                    std::thread::yield_now();
                    continue;
                }
                let end = head.min(tail + u64::from(BATCH));
                while tail != end {
                    region.read_bytes(spsc_slot(tail), &mut out).unwrap();
                    checksum = checksum.wrapping_add(u64::from(out[13]));
                    tail += 1;
                }
                // Release: the slots read are free for the producer.
                tail_ix.store(tail, Ordering::Release);
            }
            std::hint::black_box(checksum);
            tail
        })
    };
    let producer = {
        let (region, stop) = (Arc::clone(&region), Arc::clone(&stop));
        std::thread::spawn(move || {
            let head_ix = region.atomic_u64(SPSC_HEAD).unwrap();
            let tail_ix = region.atomic_u64(SPSC_TAIL).unwrap();
            let frame = frame();
            let mut head = 0u64;
            let mut tail_cache = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if head - tail_cache == SPSC_SLOTS {
                    // Acquire: pairs with the consumer's Release of tail.
                    tail_cache = tail_ix.load(Ordering::Acquire);
                    if head - tail_cache == SPSC_SLOTS {
                        std::thread::yield_now();
                        continue;
                    }
                }
                let end = (tail_cache + SPSC_SLOTS).min(head + u64::from(BATCH));
                while head != end {
                    region.write_bytes(spsc_slot(head), &frame).unwrap();
                    head += 1;
                }
                // Release: the slots written become visible with head.
                head_ix.store(head, Ordering::Release);
            }
            head
        })
    };
    let start = Instant::now();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let sent = producer.join().unwrap();
    sent_total.store(sent, Ordering::Release);
    let received = consumer.join().unwrap();
    Rate {
        sent,
        received,
        secs: start.elapsed().as_secs_f64(),
    }
}

// ---------------------------------------------------------------------------
// The engine: a sender port and a receiver port, through the Port API.

/// Fills up to BATCH free TX slots with the frame and syncs; waits in
/// poll() when the ring has no room. Returns the frames handed over.
fn send_until(port: &Port, stop: &AtomicBool) -> u64 {
    let frame = frame();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let tx = port.tx_ring(0);
        let n = tx.num_slots();
        let mut cur = tx.cur();
        let room = ring::distance(cur, tx.tail(), n).min(BATCH);
        if room == 0 {
            port.poll(Interest::TX, Some(Duration::from_millis(10)))
                .unwrap();
            continue;
        }
        for _ in 0..room {
            let slot = tx.slot(cur);
            port.write_buf(slot.buf_idx, &frame).unwrap();
            tx.set_len_flags(cur, FRAME_LEN as u16, 0);
            cur = ring::next(cur, n);
        }
        tx.set_head(cur);
        tx.set_cur(cur);
        port.txsync().unwrap();
        sent += u64::from(room);
    }
    sent
}

/// Takes every received frame (reading its bytes) until `expected` says
/// the run is over (see [`END_UNKNOWN`]).
fn receive_until(port: &Port, expected: &AtomicU64) -> u64 {
    let mut received = 0u64;
    let mut out = [0u8; FRAME_LEN];
    let mut checksum = 0u64;
    loop {
        port.rxsync().unwrap();
        let rx = port.rx_ring(0);
        let n = rx.num_slots();
        let (mut head, tail) = (rx.head(), rx.tail());
        if head == tail {
            if expected.load(Ordering::Acquire) == received {
                break;
            }
            if expected.load(Ordering::Acquire) == END_LOSSY {
                // Lossy (VALE): the sender's last sync delivered all it
                // could; one more empty sync means the end.
                port.rxsync().unwrap();
                if rx.tail() == rx.head() {
                    break;
                }
                continue;
            }
            port.poll(Interest::RX, Some(Duration::from_millis(10)))
                .unwrap();
            continue;
        }
        while head != tail {
            let slot = rx.slot(head);
            let len = usize::from(slot.len).min(FRAME_LEN);
            port.read_buf(slot.buf_idx, &mut out[..len]).unwrap();
            checksum = checksum.wrapping_add(u64::from(out[13]));
            head = ring::next(head, n);
            received += 1;
        }
        rx.set_head(head);
        rx.set_cur(head);
    }
    std::hint::black_box(checksum);
    received
}

fn run_engine(tx: Port, rx: Port, duration: Duration, lossless: bool) -> (Rate, Port, Port) {
    let stop = Arc::new(AtomicBool::new(false));
    let expected = Arc::new(AtomicU64::new(END_UNKNOWN));
    let receiver = {
        let expected = Arc::clone(&expected);
        std::thread::spawn(move || {
            let got = receive_until(&rx, &expected);
            (got, rx)
        })
    };
    let sender = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || (send_until(&tx, &stop), tx))
    };
    let start = Instant::now();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let (sent, tx) = sender.join().unwrap();
    expected.store(if lossless { sent } else { END_LOSSY }, Ordering::Release);
    let (received, rx) = receiver.join().unwrap();
    let rate = Rate {
        sent,
        received,
        secs: start.elapsed().as_secs_f64(),
    };
    (rate, tx, rx)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rounds: usize = env_or("ROUNDS", 5);
    let secs: f64 = env_or("ROUND_SECS", 0.5);
    let duration = Duration::from_secs_f64(secs);
    let switch = format!("valebench{}", std::process::id());
    let mut master = vale_soft::open(&format!("{switch}:p{{0")).unwrap();
    let mut slave = vale_soft::open(&format!("{switch}:p}}0")).unwrap();
    let mut a = vale_soft::open(&format!("{switch}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{switch}:b")).unwrap();
    // Teach the switch where b is, so a's frames are unicast.
    let mut hello = frame();
    hello[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    hello[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    assert!(b.inject(&hello));
    b.txsync().unwrap();
    a.rxsync().unwrap();
    while a.next_packet().is_some() {}
    a.rxsync().unwrap();

    println!(
        "engine: {FRAME_LEN}-byte frames, batch {BATCH}, sender and receiver threads, \
         {rounds} rounds of {secs} s per figure (baseline: SPSC ring in shared memory, copy in and out)"
    );
    let (mut base, mut pipe, mut vale) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pipe_ratio, mut vale_ratio) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let b_rate = run_baseline(duration);
        let (p_rate, m, s) = run_engine(master, slave, duration, true);
        (master, slave) = (m, s);
        let (v_rate, ta, rb) = run_engine(a, b, duration, false);
        (a, b) = (ta, rb);
        let drop_pct = 100.0 * (1.0 - v_rate.received as f64 / v_rate.sent.max(1) as f64);
        println!(
            "round {round}: shm-ring {:.2} Mpps | pipe {:.2} Mpps ({:.2}x) | \
             vale {:.2} Mpps received, {:.2} Mpps sent, {drop_pct:.1}% dropped ({:.2}x)",
            b_rate.rx_mpps(),
            p_rate.rx_mpps(),
            p_rate.rx_mpps() / b_rate.rx_mpps(),
            v_rate.rx_mpps(),
            v_rate.tx_mpps(),
            v_rate.rx_mpps() / b_rate.rx_mpps(),
        );
        assert_eq!(p_rate.received, p_rate.sent, "a pipe loses nothing");
        pipe_ratio.push(p_rate.rx_mpps() / b_rate.rx_mpps());
        vale_ratio.push(v_rate.rx_mpps() / b_rate.rx_mpps());
        base.push(b_rate.rx_mpps());
        pipe.push(p_rate.rx_mpps());
        vale.push(v_rate.rx_mpps());
    }
    println!("median shm-ring: {:.2} Mpps", median(base));
    println!(
        "median pipe: {:.2} Mpps, ratio to shm-ring {:.2}",
        median(pipe),
        median(pipe_ratio)
    );
    println!(
        "median vale (received): {:.2} Mpps, ratio to shm-ring {:.2}",
        median(vale),
        median(vale_ratio)
    );
    drop((master, slave, a, b));
}
