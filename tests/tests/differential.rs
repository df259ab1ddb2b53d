//! The differential test: random traffic traces run through the software
//! engine (real ports on a fresh VALE switch, `vale_soft::open`) and
//! through the RTL data path (the Verilator model behind `sim::rig::Rig`,
//! a small host that lays out the same rings and plays application and
//! driver). After every step the frames each receiver reads (bytes, flags,
//! order) and each sender's TX tail must be equal; at the end every
//! per-port counter, every switch counter and the MAC table.
//!
//! Traces cover unicast, broadcast, multicast, learning and relearning,
//! table collisions, full destination rings, MOREFRAG chains (unfinished
//! ones and ones over 64 slots), invalid slots, invalid heads, broken RX
//! buffers released by the application, and pipes with a slow receiver.
//!
//! `NETMAP_DIFF_SEED=n` picks the first seed, `NETMAP_DIFF_TRACES=n` the
//! number of traces per test. A failing trace is shrunk (ops, then frames
//! and fragments, removed while it still fails) and printed with the
//! command that replays it.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use netmap_ring::abi::{NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::port::Port;
use sim::host::HostConfig;
use sim::nic::NicVariant;
use sim::rig::{PortSpec, Rig, Slot};
use vale_offload::counters::PortCounter;
use vale_offload::counters::SwitchCounter;
use vale_offload::counters::PORT_COUNTERS;
use vale_offload::placement::DomainKind;
use vale_offload::regmap;
use vale_offload::table::PlacedEntry;
use vale_soft::domain::Domain;

/// Traces per test unless `NETMAP_DIFF_TRACES` says otherwise.
const DEFAULT_TRACES: u64 = 1000;
/// Bound on shrinking attempts.
const SHRINK_RUNS: usize = 400;

// ---- A tiny deterministic generator (SplitMix64) ----------------------

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

// ---- Traces -------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Frag {
    /// A good slot with these bytes.
    Data(Vec<u8>),
    /// A slot whose buffer index is outside the pool.
    BadBuf(u16),
    /// A slot whose length exceeds the buffer.
    Oversize,
}

#[derive(Clone, Debug, PartialEq)]
struct Frame {
    frags: Vec<Frag>,
    no_learn: bool,
    /// The last fragment keeps NS_MOREFRAG: the chain is unfinished.
    unfinished: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// Port sends frames on a TX ring (as many as fit), then syncs.
    Send {
        port: u32,
        ring: u32,
        frames: Vec<Frame>,
    },
    /// A txsync with head = num_slots + extra (outside the ring).
    BadHead { port: u32, ring: u32, extra: u32 },
    /// Port reads what arrived on an RX ring and releases `release`
    /// slots of those it holds (clamped).
    Receive { port: u32, ring: u32, release: u32 },
    /// The application puts a bad buffer index into the oldest RX slot
    /// it holds (read, not released) and releases it: the engine finds it
    /// when it wraps around, and from then on that ring drops.
    BreakRx { port: u32, ring: u32 },
}

#[derive(Clone, Debug, PartialEq)]
struct Trace {
    pipe: bool,
    /// Host side of the RTL's DMA port: back-pressure seed (0: none) and
    /// the host model (round trip, tags, completion splitting and
    /// reordering, bandwidth).
    stall: u64,
    host: HostConfig,
    ports: u32,
    rings: u32,
    slots: u32,
    ops: Vec<Op>,
}

fn mac_pool(g: &mut Gen) -> Vec<[u8; 6]> {
    let mut pool = Vec::new();
    let count = 2 + g.below(6);
    for i in 0..count {
        let mut mac = [0x02, 0, 0, 0, 0, i as u8];
        if g.chance(300) {
            mac[5] = g.next() as u8;
            mac[4] = g.next() as u8;
        }
        if g.chance(120) {
            mac[0] |= 1; // multicast
        }
        pool.push(mac);
    }
    // Two MACs that share a row of the 1024 x 1 table (a collision).
    let base = [0x02, 0x11, 0, 0, 0, g.next() as u8];
    let row = |mac: &[u8; 6]| vale_offload::hash::netmap_mac_hash(mac) & 1023;
    let mut other = base;
    for n in 0..100_000u32 {
        other[3] = (n >> 8) as u8;
        other[4] = n as u8;
        if other != base && row(&other) == row(&base) {
            break;
        }
    }
    pool.push(base);
    pool.push(other);
    pool.push([0xff; 6]);
    pool
}

fn gen_frame(g: &mut Gen, pool: &[[u8; 6]], pipe: bool, long_chains: bool) -> Frame {
    let frags = if long_chains && g.chance(60) {
        63 + g.below(4) as usize
    } else if g.chance(250) {
        2 + g.below(3) as usize
    } else {
        1
    };
    let mut out = Vec::new();
    for f in 0..frags {
        let bad = g.chance(25);
        if bad {
            out.push(if g.chance(500) {
                Frag::BadBuf(1 + g.below(100) as u16)
            } else {
                Frag::Oversize
            });
            continue;
        }
        let len = match g.below(10) {
            0 => g.below(14) as usize,
            1 => 1400 + g.below(115) as usize,
            _ => 14 + g.below(120) as usize,
        };
        let mut bytes: Vec<u8> = (0..len).map(|_| g.next() as u8).collect();
        if f == 0 && !pipe && len >= 12 {
            let dst = pool[g.below(pool.len() as u64) as usize];
            let src = pool[g.below(pool.len() as u64) as usize];
            bytes[0..6].copy_from_slice(&dst);
            bytes[6..12].copy_from_slice(&src);
        }
        out.push(Frag::Data(bytes));
    }
    Frame {
        frags: out,
        no_learn: g.chance(60),
        unfinished: g.chance(30),
    }
}

fn gen_trace(seed: u64, pipe: bool) -> Trace {
    let mut g = Gen(seed);
    // One VALE port alone floods to nobody (TxDropNoDest).
    let ports = if pipe {
        2
    } else if g.chance(40) {
        1
    } else {
        2 + g.below(3) as u32
    };
    let rings = 1 + g.below(2) as u32;
    let long_chains = !pipe && g.chance(150);
    let slots = if long_chains {
        128
    } else {
        [4, 8, 16, 32][g.below(4) as usize]
    };
    let pool = mac_pool(&mut g);
    let count = 1 + g.below(24);
    let mut ops = Vec::new();
    for _ in 0..count {
        let port = g.below(u64::from(ports)) as u32;
        let ring = g.below(u64::from(rings)) as u32;
        let op = match g.below(100) {
            0..=54 => {
                let most = if g.chance(200) { 12 } else { 4 };
                let n = 1 + g.below(most);
                Op::Send {
                    port,
                    ring,
                    frames: (0..n)
                        .map(|_| gen_frame(&mut g, &pool, pipe, long_chains))
                        .collect(),
                }
            }
            55..=58 => Op::BadHead {
                port,
                ring,
                extra: g.below(3) as u32,
            },
            59..=66 if !pipe => Op::BreakRx { port, ring },
            _ => Op::Receive {
                port,
                ring,
                // Slow receivers: often release nothing or a little.
                release: match g.below(4) {
                    0 => 0,
                    1 => 1 + g.below(2) as u32,
                    _ => u32::MAX,
                },
            },
        };
        ops.push(op);
    }
    Trace {
        pipe,
        stall: 0,
        host: HostConfig::IDEAL,
        ports,
        rings,
        slots,
        ops,
    }
}

// ---- What each side reports ------------------------------------------

/// What a step observed: frames read, TX tails.
#[derive(Debug, PartialEq)]
enum Seen {
    Received(Vec<(Vec<u8>, u16)>),
    TxTail(u32),
    Nothing,
}

#[derive(Debug, PartialEq)]
struct Outcome {
    steps: Vec<Seen>,
    port_counters: Vec<[u32; PORT_COUNTERS]>,
    /// Lookups, hits, misses, learns, floods, same-port drops, forwarded.
    switch: [u32; 7],
    table: Vec<PlacedEntry>,
}

fn flags_of(frame: &Frame, index: usize) -> u16 {
    let last = index + 1 == frame.frags.len();
    let mut flags = if !last || frame.unfinished {
        NS_MOREFRAG
    } else {
        0
    };
    if index == 0 && frame.no_learn {
        flags |= NS_NO_LEARN;
    }
    flags
}

/// Slots the frames of a Send take, in order, limited to `room`: frames
/// that do not fit are not sent (the application would wait).
fn fitting(frames: &[Frame], room: u32) -> Vec<&Frame> {
    let mut used = 0;
    let mut out = Vec::new();
    for frame in frames {
        let n = frame.frags.len() as u32;
        if used + n > room {
            break;
        }
        used += n;
        out.push(frame);
    }
    out
}

// ---- The software engine ---------------------------------------------

static SWITCHES: AtomicU32 = AtomicU32::new(0);

fn run_software(trace: &Trace) -> Outcome {
    let switch = format!(
        "valed{}x{}",
        std::process::id(),
        SWITCHES.fetch_add(1, Ordering::Relaxed)
    );
    let conf = format!("@conf:rings={},slots={}", trace.rings, trace.slots);
    let names: Vec<String> = if trace.pipe {
        vec![
            format!("{switch}:x{{1{conf}"),
            format!("{switch}:x}}1{conf}"),
        ]
    } else {
        (0..trace.ports)
            .map(|i| format!("{switch}:p{i}{conf}"))
            .collect()
    };
    let ports: Vec<Port> = names
        .iter()
        .map(|name| vale_soft::open(name).expect("open software port"))
        .collect();
    let domain = Domain::open(&switch, DomainKind::Switch).expect("switch domain");
    let index: Vec<u32> = (0..trace.ports)
        .map(|i| {
            let name = if trace.pipe {
                if i == 0 {
                    "x{1".to_owned()
                } else {
                    "x}1".to_owned()
                }
            } else {
                format!("p{i}")
            };
            vale_soft::ports::find(&domain, &name).expect("port entry")
        })
        .collect();
    assert_eq!(
        index,
        (0..trace.ports).collect::<Vec<_>>(),
        "entries in open order"
    );
    let num_bufs = domain.memory().num_bufs();
    let buf_size = domain.memory().buf_size();
    let mut cursor = vec![vec![0u32; trace.rings as usize]; trace.ports as usize];
    let mut saved: std::collections::HashMap<(u32, u32, u32), u32> = Default::default();
    let mut steps = Vec::new();
    for op in &trace.ops {
        match op {
            Op::Send { port, ring, frames } => {
                let p = &ports[*port as usize];
                let tx = p.tx_ring(*ring as usize);
                let n = tx.num_slots();
                let mut head = tx.head();
                let room = (tx.tail() + n - head) % n;
                for frame in fitting(frames, room) {
                    for (k, frag) in frame.frags.iter().enumerate() {
                        let flags = flags_of(frame, k);
                        let mut slot = tx.slot(head);
                        if let Some(buf) = saved.remove(&(*port, *ring, head)) {
                            slot.buf_idx = buf;
                        }
                        match frag {
                            Frag::Data(bytes) => {
                                p.write_buf(slot.buf_idx, bytes).unwrap();
                                slot.len = bytes.len() as u16;
                            }
                            Frag::BadBuf(len) => {
                                saved.insert((*port, *ring, head), slot.buf_idx);
                                slot.buf_idx = num_bufs + 7;
                                slot.len = *len;
                            }
                            Frag::Oversize => slot.len = buf_size as u16 + 1,
                        }
                        slot.flags = flags;
                        slot.ptr = 0;
                        tx.set_slot(head, slot);
                        head = (head + 1) % n;
                    }
                }
                tx.set_head(head);
                tx.set_cur(head);
                p.txsync_ring(*ring as usize).expect("txsync");
                steps.push(Seen::TxTail(tx.tail()));
            }
            Op::BadHead { port, ring, extra } => {
                let p = &ports[*port as usize];
                let tx = p.tx_ring(*ring as usize);
                let bad = tx.num_slots() + extra;
                tx.set_head(bad);
                tx.set_cur(bad);
                assert!(p.txsync_ring(*ring as usize).is_err());
                steps.push(Seen::Nothing);
            }
            Op::Receive {
                port,
                ring,
                release,
            } => {
                let p = &ports[*port as usize];
                p.rxsync_ring(*ring as usize).expect("rxsync");
                let rx = p.rx_ring(*ring as usize);
                let n = rx.num_slots();
                let c = &mut cursor[*port as usize][*ring as usize];
                let mut got = Vec::new();
                while *c != rx.tail() {
                    let slot = rx.slot(*c);
                    let mut bytes = vec![0u8; usize::from(slot.len)];
                    p.read_buf(slot.buf_idx, &mut bytes).unwrap();
                    got.push((bytes, slot.flags));
                    *c = (*c + 1) % n;
                }
                let held = (rx.tail() + n - rx.head()) % n;
                let head = (rx.head() + (*release).min(held)) % n;
                rx.set_head(head);
                rx.set_cur(head);
                p.rxsync_ring(*ring as usize).expect("rxsync");
                steps.push(Seen::Received(got));
            }
            Op::BreakRx { port, ring } => {
                // Legal misbehaviour: a bad index in a slot the application
                // holds (read, not yet released), then released.
                let p = &ports[*port as usize];
                let rx = p.rx_ring(*ring as usize);
                let head = rx.head();
                if head != cursor[*port as usize][*ring as usize] {
                    rx.set_buf_idx(head, 1);
                    let next = (head + 1) % rx.num_slots();
                    rx.set_head(next);
                    rx.set_cur(next);
                    p.rxsync_ring(*ring as usize).expect("rxsync");
                }
                steps.push(Seen::Nothing);
            }
        }
    }
    let ctrl = domain.ctrl();
    let port_counters = (0..trace.ports)
        .map(|i| {
            let mut c = [0u32; PORT_COUNTERS];
            for (k, value) in c.iter_mut().enumerate() {
                *value = ctrl.port(i).read(PortCounter::ALL[k]) as u32;
            }
            c
        })
        .collect();
    let sc = |c: SwitchCounter| ctrl.switch_counter(c).load(Ordering::Relaxed) as u32;
    let switch_counters = [
        sc(SwitchCounter::Lookups),
        sc(SwitchCounter::Hits),
        sc(SwitchCounter::Misses),
        sc(SwitchCounter::Learns),
        sc(SwitchCounter::Floods),
        sc(SwitchCounter::SamePortDrops),
        sc(SwitchCounter::Forwarded),
    ];
    let mut table: Vec<PlacedEntry> = domain.table().entries().collect();
    table.sort_by_key(|e| (e.row, e.way));
    drop(ports);
    Outcome {
        steps,
        port_counters,
        switch: switch_counters,
        table,
    }
}

// ---- The RTL --------------------------------------------------------------

fn run_rtl(trace: &Trace) -> Outcome {
    let specs: Vec<PortSpec> = (0..trace.ports)
        .map(|i| {
            if trace.pipe {
                PortSpec::pipe(i == 0, 1 - i, trace.rings, trace.slots)
            } else {
                PortSpec::vale(trace.rings, trace.slots)
            }
        })
        .collect();
    let mut rig = Rig::new(NicVariant::Netmap, &specs, 16);
    rig.nic.set_host_config(trace.host);
    rig.nic
        .set_dma_backpressure((trace.stall != 0).then_some(trace.stall));
    let n = trace.slots;
    let num_bufs = rig.num_bufs();
    let per_port = vec![0u32; trace.rings as usize];
    let mut tx_head = vec![per_port.clone(); trace.ports as usize];
    let mut tx_tail = vec![vec![n - 1; trace.rings as usize]; trace.ports as usize];
    let mut rx_head = vec![per_port.clone(); trace.ports as usize];
    let mut cursor = vec![per_port; trace.ports as usize];
    let mut saved: std::collections::HashMap<(u32, u32, u32), u32> = Default::default();
    let mut steps = Vec::new();
    for op in &trace.ops {
        match op {
            Op::Send { port, ring, frames } => {
                let (p, r) = (*port, *ring);
                let mut head = tx_head[p as usize][r as usize];
                let room = (tx_tail[p as usize][r as usize] + n - head) % n;
                for frame in fitting(frames, room) {
                    for (k, frag) in frame.frags.iter().enumerate() {
                        let flags = flags_of(frame, k);
                        let mut slot = rig.tx_slot(p, r, head);
                        if let Some(buf) = saved.remove(&(p, r, head)) {
                            slot.buf_idx = buf;
                            rig.set_tx_slot(p, r, head, slot);
                        }
                        match frag {
                            Frag::Data(bytes) => rig.write_tx(p, r, head, bytes, flags),
                            Frag::BadBuf(len) => {
                                saved.insert((p, r, head), slot.buf_idx);
                                rig.set_tx_slot(
                                    p,
                                    r,
                                    head,
                                    Slot {
                                        buf_idx: num_bufs + 7,
                                        len: *len,
                                        flags,
                                    },
                                );
                            }
                            Frag::Oversize => rig.set_tx_slot(
                                p,
                                r,
                                head,
                                Slot {
                                    len: sim::rig::RIG_BUF_SIZE as u16 + 1,
                                    flags,
                                    ..slot
                                },
                            ),
                        }
                        head = (head + 1) % n;
                    }
                }
                tx_head[p as usize][r as usize] = head;
                rig.tx_doorbell(p, r, head);
                let (_, tail) = rig.status(p, false, r);
                tx_tail[p as usize][r as usize] = tail;
                steps.push(Seen::TxTail(tail));
            }
            Op::BadHead { port, ring, extra } => {
                rig.tx_doorbell(*port, *ring, n + extra);
                // The application's ring goes back to the device's view.
                tx_head[*port as usize][*ring as usize] = rig.status(*port, false, *ring).0;
                steps.push(Seen::Nothing);
            }
            Op::Receive {
                port,
                ring,
                release,
            } => {
                let (p, r) = (*port, *ring);
                let (_, tail) = rig.status(p, true, r);
                let got = rig.rx_frames(p, r, cursor[p as usize][r as usize]);
                cursor[p as usize][r as usize] = tail;
                let head = rx_head[p as usize][r as usize];
                let held = (tail + n - head) % n;
                let new_head = (head + (*release).min(held)) % n;
                rx_head[p as usize][r as usize] = new_head;
                // Released through the status block only: the device reads
                // it when it needs room (and a pipe at the sender's sync).
                rig.rx_release(p, r, new_head, false);
                steps.push(Seen::Received(got));
            }
            Op::BreakRx { port, ring } => {
                let (p, r) = (*port, *ring);
                let head = rx_head[p as usize][r as usize];
                if head != cursor[p as usize][r as usize] {
                    rig.set_rx_buf(p, r, head, 1);
                    let next = (head + 1) % n;
                    rx_head[p as usize][r as usize] = next;
                    rig.rx_release(p, r, next, false);
                }
                steps.push(Seen::Nothing);
            }
        }
    }
    let nic = &mut rig.nic;
    let port_counters = (0..trace.ports)
        .map(|i| {
            let mut c = [0u32; PORT_COUNTERS];
            for (k, value) in c.iter_mut().enumerate() {
                *value = nic.bar0_read(regmap::port_counter(i, k as u32 * 4));
            }
            c
        })
        .collect();
    let lookups = nic.bar0_read(regmap::SW_LOOKUPS);
    let hits = nic.bar0_read(regmap::SW_HIT);
    let switch = [
        lookups,
        hits,
        lookups - hits,
        nic.bar0_read(regmap::SW_LEARN),
        nic.bar0_read(regmap::SW_FLOOD),
        nic.bar0_read(regmap::SW_DROP),
        nic.bar0_read(regmap::SW_FORWARDED),
    ];
    assert_eq!(
        nic.bar0_read(regmap::SW_OVERFLOW),
        0,
        "learn queue overflow"
    );
    assert_eq!(nic.link_counters().dma_errors, 0, "DMA outside host memory");
    let table = if trace.pipe {
        Vec::new()
    } else {
        nic.table_entries()
    };
    Outcome {
        steps,
        port_counters,
        switch,
        table,
    }
}

// ---- Driver, shrinking ------------------------------------------------

fn differs(trace: &Trace) -> Option<String> {
    compare(trace).err()
}

/// Runs both sides; the common outcome, or where they differ.
fn compare(trace: &Trace) -> Result<Outcome, String> {
    let soft = run_software(trace);
    let rtl = run_rtl(trace);
    if soft == rtl {
        return Ok(soft);
    }
    for (i, (s, r)) in soft.steps.iter().zip(&rtl.steps).enumerate() {
        if s != r {
            return Err(format!(
                "step {i} ({:?}):\n  software: {s:?}\n  rtl:      {r:?}",
                trace.ops[i]
            ));
        }
    }
    Err(format!(
        "end state:\n  software: counters {:?} switch {:?} table {:?}\n  rtl:      counters {:?} switch {:?} table {:?}",
        soft.port_counters, soft.switch, soft.table, rtl.port_counters, rtl.switch, rtl.table
    ))
}

/// Removes ops, frames and fragments while the trace still fails.
fn shrink(mut trace: Trace) -> Trace {
    let mut runs = 0;
    let mut progress = true;
    while progress && runs < SHRINK_RUNS {
        progress = false;
        let mut i = 0;
        while i < trace.ops.len() && runs < SHRINK_RUNS {
            let mut candidate = trace.clone();
            candidate.ops.remove(i);
            runs += 1;
            if differs(&candidate).is_some() {
                trace = candidate;
                progress = true;
            } else {
                i += 1;
            }
        }
        for op in 0..trace.ops.len() {
            let frames = match &trace.ops[op] {
                Op::Send { frames, .. } => frames.len(),
                _ => 0,
            };
            let mut f = 0;
            while f < frames && runs < SHRINK_RUNS {
                let mut candidate = trace.clone();
                if let Op::Send { frames, .. } = &mut candidate.ops[op] {
                    if f >= frames.len() {
                        break;
                    }
                    frames.remove(f);
                }
                runs += 1;
                if differs(&candidate).is_some() {
                    trace = candidate;
                    progress = true;
                } else {
                    f += 1;
                }
            }
        }
    }
    trace
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The host model of a busy-link trace: every parameter drawn from the
/// seed (the latency spread evenly over 1..=300).
fn busy_host(seed: u64) -> HostConfig {
    let mut g = Gen(seed ^ 0x4057);
    HostConfig {
        read_latency: 1 + g.below(300),
        tags: [1, 2, 8, 256][g.below(4) as usize],
        completion_bytes: 64 << g.below(3),
        reorder_cycles: g.below(64),
        seed: g.next(),
        down_bytes_per_cycle: [32, 64][g.below(2) as usize],
        up_bytes_per_cycle: [32, 64][g.below(2) as usize],
    }
}

fn run_traces(pipe: bool, salt: u64) {
    run_traces_on(pipe, salt, false);
}

/// `busy_link`: the RTL's DMA port sees back-pressure and a PCIe-like host
/// (what must not change any outcome): a read round trip of 1 to 300
/// cycles, completions split at 64 to 256 bytes and reordered by up to 63
/// cycles of jitter, 1 to 256 tags, half or all of the 512-bit bandwidth;
/// a quarter as many traces.
fn run_traces_on(pipe: bool, salt: u64, busy_link: bool) {
    let first = env_u64("NETMAP_DIFF_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    });
    let mut count = env_u64("NETMAP_DIFF_TRACES").unwrap_or(DEFAULT_TRACES);
    if busy_link {
        count = count.div_ceil(4);
    }
    let kind = match (pipe, busy_link) {
        (false, false) => "vale",
        (true, false) => "pipe",
        (false, true) => "vale (busy link)",
        (true, true) => "pipe (busy link)",
    };
    println!(
        "differential {kind}: seeds {first}..{} (NETMAP_DIFF_SEED={first})",
        first + count
    );
    let mut covered = [0u64; PORT_COUNTERS];
    for seed in first..first + count {
        let mut trace = gen_trace(seed ^ salt, pipe);
        if busy_link {
            trace.stall = seed.wrapping_mul(0x9e37_79b9) | 1;
            trace.host = busy_host(seed);
            // The extremes every run: the shortest and the longest trip.
            if seed == first {
                trace.host.read_latency = 1;
            } else if seed == first + 1 {
                trace.host.read_latency = 300;
            }
        }
        match compare(&trace) {
            Ok(outcome) => {
                for port in &outcome.port_counters {
                    for (sum, value) in covered.iter_mut().zip(port) {
                        *sum += u64::from(*value);
                    }
                }
            }
            Err(first_diff) => {
                let small = shrink(trace);
                let diff = differs(&small).unwrap_or(first_diff);
                panic!(
                    "{kind} trace {seed} differs; replay: NETMAP_DIFF_SEED={seed} NETMAP_DIFF_TRACES=1 \
                     cargo test -p netmap-tests --test differential\nshrunk trace: {small:?}\n{diff}"
                );
            }
        }
    }
    println!(
        "differential {kind}: counters summed over the traces (PortCounter order): {covered:?}"
    );
    // Enough traces must reach every outcome the generator aims at, or the
    // agreement says little.
    if count >= 500 && !busy_link {
        let wanted: &[PortCounter] = if pipe {
            &[
                PortCounter::RxPackets,
                PortCounter::TxDropBadSlot,
                PortCounter::BadRingSyncs,
            ]
        } else {
            &[
                PortCounter::RxPackets,
                PortCounter::TxDropFull,
                PortCounter::TxDropShort,
                PortCounter::TxDropBadSlot,
                PortCounter::TxDropSamePort,
                PortCounter::RxDropBadBuf,
                PortCounter::BadRingSyncs,
                PortCounter::TxDropNoDest,
                PortCounter::TxDropChain,
            ]
        };
        for counter in wanted {
            assert!(
                covered[*counter as usize] > 0,
                "{kind} traces never produced {counter:?}"
            );
        }
    }
}

#[test]
fn vale_traces_agree() {
    run_traces(false, 0);
}

#[test]
fn pipe_traces_agree() {
    run_traces(true, 0x5eed_0000_0000_0000);
}

#[test]
fn traces_agree_over_a_busy_link() {
    run_traces_on(false, 0xb5_0000_0000, true);
    run_traces_on(true, 0xb6_0000_0000, true);
}

#[test]
fn the_comparison_can_fail() {
    // A trace whose RTL run is perturbed (one frame dropped) must differ:
    // the harness compares what it claims to.
    let trace = Trace {
        pipe: false,
        stall: 0,
        host: HostConfig::IDEAL,
        ports: 2,
        rings: 1,
        slots: 8,
        ops: vec![
            Op::Send {
                port: 0,
                ring: 0,
                frames: vec![Frame {
                    frags: vec![Frag::Data(vec![0xff; 60])],
                    no_learn: false,
                    unfinished: false,
                }],
            },
            Op::Receive {
                port: 1,
                ring: 0,
                release: 1,
            },
        ],
    };
    assert!(differs(&trace).is_none());
    let soft = run_software(&trace);
    let mut other = trace.clone();
    other.ops.remove(0);
    other.ops.insert(
        0,
        Op::BadHead {
            port: 0,
            ring: 0,
            extra: 0,
        },
    );
    assert_ne!(soft, run_rtl(&other));
}
