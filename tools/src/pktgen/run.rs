//! Opening the port, starting the workers and reporting while they run.
#![forbid(unsafe_code)]

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use netmap_ring::port::Port;

use super::{Config, Function};
use crate::error::ToolError;
use crate::latency;
use crate::pcap::PcapWriter;
use crate::report::{self, Totals};
use crate::signal;

/// `min_space` when nothing was measured (netmap prints the same).
pub const NO_SPACE_SEEN: u32 = 99999;

/// Counters one worker publishes for the reporter.
pub struct WorkerStats {
    pkts: AtomicU64,
    bytes: AtomicU64,
    events: AtomicU64,
    min_space: AtomicU32,
    done: AtomicBool,
    /// Nanoseconds from the start to the first and the latest event
    /// (u64::MAX: none yet); the receiver's speed is measured between
    /// them, as netmap's receiver starts its clock at the first packet.
    first_ns: AtomicU64,
    last_ns: AtomicU64,
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self {
            pkts: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            events: AtomicU64::new(0),
            min_space: AtomicU32::new(NO_SPACE_SEEN),
            done: AtomicBool::new(false),
            first_ns: AtomicU64::new(u64::MAX),
            last_ns: AtomicU64::new(u64::MAX),
        }
    }
}

impl WorkerStats {
    /// Counts one event that moved `pkts` packets of `bytes` bytes.
    pub fn add(&self, pkts: u64, bytes: u64) {
        self.pkts.fetch_add(pkts, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    /// Records that an event happened `since_start` after the start.
    pub fn stamp(&self, since_start: Duration) {
        let ns = since_start.as_nanos() as u64;
        self.first_ns.fetch_min(ns, Ordering::Relaxed);
        self.last_ns.store(ns, Ordering::Relaxed);
    }

    /// Records the free space seen in a TX ring before filling it.
    pub fn note_space(&self, space: u32) {
        self.min_space.fetch_min(space, Ordering::Relaxed);
    }

    fn totals(&self) -> Totals {
        Totals {
            pkts: self.pkts.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
        }
    }
}

/// The pcap sink shared by rx workers.
pub type PcapSink = Mutex<PcapWriter<BufWriter<std::fs::File>>>;

/// What a worker hands to its loop.
pub struct Worker<'a> {
    pub cfg: &'a Config,
    /// Positions (among the bound rings) this worker serves.
    pub rings: Vec<usize>,
    /// Packets this worker sends (0: unbounded).
    pub quota: u64,
    /// Packets per second for this worker (0: unlimited).
    pub rate: f64,
    pub stats: &'a WorkerStats,
    /// When the workers started.
    pub start: Instant,
    /// rx: packets still to receive, shared by the workers.
    pub remaining: Option<&'a AtomicU64>,
    pub pcap: Option<&'a PcapSink>,
}

/// What ping reports besides its counters.
#[derive(Default)]
pub struct PingOutcome {
    pub rtts: Vec<Duration>,
    pub replies: Totals,
    pub lost: u64,
}

fn open(cfg: &Config) -> Result<Port, ToolError> {
    cfg.backend
        .open(&cfg.port)
        .map_err(|e| ToolError::port(&cfg.port, e))
}

/// Runs pkt-gen with `cfg`.
pub fn run(cfg: Config) -> Result<(), ToolError> {
    signal::install();
    let mut port = open(&cfg)?;
    let rings = match cfg.function {
        Function::Tx => port.tx_rings(),
        _ => port.rx_rings(),
    };
    if rings == 0 {
        return Err(ToolError::Usage(format!(
            "{}: no {} ring is bound (check the /T /R flags)",
            cfg.port,
            if cfg.function == Function::Tx {
                "tx"
            } else {
                "rx"
            }
        )));
    }
    if cfg.threads as usize > rings {
        return Err(ToolError::Usage(format!(
            "-p {}: {} has {rings} ring(s) for this function; one thread per ring (ask for more with @conf:rings={})",
            cfg.threads, cfg.port, cfg.threads
        )));
    }
    let slots = |n: usize, view: &dyn Fn(usize) -> u32| if n > 0 { view(0) } else { 0 };
    println!(
        "pkt-gen: {} ready ({:?}: {} tx ring(s) of {} slots, {} rx ring(s) of {} slots, {}-byte buffers, {} thread(s))",
        cfg.port,
        cfg.function,
        port.tx_rings(),
        slots(port.tx_rings(), &|n| port.tx_ring(n).num_slots()),
        port.rx_rings(),
        slots(port.rx_rings(), &|n| port.rx_ring(n).num_slots()),
        port.buf_size(),
        cfg.threads
    );
    if let Some(nic) = netmap_nic::counters(&port) {
        println!(
            "pkt-gen: {} reaches the NIC through {}",
            cfg.port,
            nic.mode()
        );
    }
    if !cfg.wait.is_zero() {
        println!("pkt-gen: waiting {} s before starting", cfg.wait.as_secs());
        std::thread::sleep(cfg.wait);
    }
    let threads = cfg.threads as usize;
    let stats: Vec<WorkerStats> = (0..threads).map(|_| WorkerStats::default()).collect();
    let remaining = AtomicU64::new(cfg.count);
    let pcap = match &cfg.pcap {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|source| ToolError::Io {
                what: path.display().to_string(),
                source,
            })?;
            Some(Mutex::new(PcapWriter::new(BufWriter::new(file)).map_err(
                |source| ToolError::Io {
                    what: path.display().to_string(),
                    source,
                },
            )?))
        }
        None => None,
    };
    let start = Instant::now();
    let workers: Vec<Worker<'_>> = (0..threads)
        .map(|t| {
            let share = |total: u64| {
                total / threads as u64 + u64::from((t as u64) < total % threads as u64)
            };
            Worker {
                cfg: &cfg,
                rings: (0..rings).filter(|r| r % threads == t).collect(),
                quota: if cfg.count == 0 { 0 } else { share(cfg.count) },
                rate: cfg.rate as f64 / threads as f64,
                stats: &stats[t],
                start,
                remaining: (cfg.count > 0).then_some(&remaining),
                pcap: pcap.as_ref(),
            }
        })
        .collect();
    let mut ping_outcome = None;
    let result: Result<(), ToolError> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        match cfg.function {
            Function::Ping | Function::Pong => {
                let w = workers.into_iter().next().expect("one worker");
                let port = &mut port;
                let ping = cfg.function == Function::Ping;
                handles.push(s.spawn(move || {
                    let r = if ping {
                        super::ping::ping(port, &w).map(Some)
                    } else {
                        super::ping::pong(port, &w).map(|()| None)
                    };
                    w.stats.done.store(true, Ordering::Release);
                    r
                }));
            }
            Function::Tx | Function::Rx => {
                let port = &port;
                for w in workers {
                    let tx = cfg.function == Function::Tx;
                    handles.push(s.spawn(move || {
                        let r = if tx {
                            super::tx::tx_worker(port, &w)
                        } else {
                            super::rx::rx_worker(port, &w)
                        };
                        w.stats.done.store(true, Ordering::Release);
                        // A failed worker stops the others.
                        if r.is_err() {
                            signal::request_stop();
                        }
                        r.map(|()| None)
                    }));
                }
            }
        }
        report_while_running(&stats, cfg.report);
        let mut first_error = Ok(());
        for h in handles {
            match h.join().expect("worker panicked") {
                Ok(Some(outcome)) => ping_outcome = Some(outcome),
                Ok(None) => {}
                Err(e) => first_error = first_error.and(Err(e)),
            }
        }
        first_error
    });
    let mut seconds = start.elapsed().as_secs_f64();
    if cfg.function == Function::Rx {
        // From the first packet to the last, as netmap's receiver.
        let first = stats
            .iter()
            .map(|s| s.first_ns.load(Ordering::Relaxed))
            .min();
        let last = stats
            .iter()
            .map(|s| s.last_ns.load(Ordering::Relaxed))
            .filter(|&ns| ns != u64::MAX)
            .max();
        if let (Some(first), Some(last)) = (first, last) {
            seconds = (last - first) as f64 / 1e9;
        }
    }
    if let Some(pcap) = pcap {
        let writer = pcap.into_inner().unwrap_or_else(|e| e.into_inner());
        writer
            .finish()
            .and_then(|mut w| w.flush())
            .map_err(|source| ToolError::Io {
                what: "pcap file".into(),
                source,
            })?;
    }
    let mut totals = Totals::default();
    for s in &stats {
        let t = s.totals();
        totals.pkts += t.pkts;
        totals.bytes += t.bytes;
        totals.events += t.events;
    }
    match cfg.function {
        Function::Tx | Function::Pong => println!("{}", report::summary("Sent", &totals, seconds)),
        Function::Rx => println!("{}", report::summary("Received", &totals, seconds)),
        Function::Ping => {
            println!("{}", report::summary("Sent", &totals, seconds));
            if let Some(outcome) = &ping_outcome {
                println!("{}", report::summary("Received", &outcome.replies, seconds));
                match latency::percentiles(&outcome.rtts) {
                    Some(p) => println!(
                        "{p} ({} replies, {} lost)",
                        outcome.rtts.len(),
                        outcome.lost
                    ),
                    None => println!("round-trip usec: no replies ({} lost)", outcome.lost),
                }
            }
        }
    }
    drop(port);
    result
}

/// Prints netmap's interval line every `every` until all workers are done.
fn report_while_running(stats: &[WorkerStats], every: Duration) {
    let mut prev = Totals::default();
    let mut last = Instant::now();
    loop {
        let all_done = stats.iter().all(|s| s.done.load(Ordering::Acquire));
        if all_done {
            return;
        }
        std::thread::sleep(every.min(Duration::from_millis(20)));
        if last.elapsed() >= every {
            let now = Instant::now();
            let mut cur = Totals::default();
            let mut min_space = NO_SPACE_SEEN;
            for s in stats {
                let t = s.totals();
                cur.pkts += t.pkts;
                cur.bytes += t.bytes;
                cur.events += t.events;
                min_space = min_space.min(s.min_space.swap(NO_SPACE_SEEN, Ordering::Relaxed));
            }
            let usec = now.duration_since(last).as_micros() as u64;
            println!(
                "{}",
                report::interval_line(&cur.since(&prev), usec, min_space)
            );
            prev = cur;
            last = now;
        }
    }
}
