//! The software engine against an executable model of a VALE switch.
//!
//! The model is a small, separate reimplementation of the semantics netmap
//! documents and DESIGN.md section 4 fixes: a 1024 x 1 learning table
//! indexed by netmap's hash (overwrite on collision, entries of a closing
//! port forgotten), flooding of group and unknown destinations to every
//! other port, the source-equals-destination drop, frames whose first slot
//! is under 14 bytes dropped, `NS_NO_LEARN`, `NS_MOREFRAG` chains (whole,
//! at most 64 slots; an unfinished chain waits), invalid slots dropped, and
//! per-port RX rings of fixed capacity that drop what does not fit.
//!
//! proptest drives random operations (opens, closes, sends of random
//! frames between random MACs, partial receives, long chains, invalid
//! head/cur) on both, and after every step compares what each port
//! received (bytes and order), every counter, and buffer conservation.

mod common;

use std::collections::{HashMap, VecDeque};

use common::*;
use netmap_ring::abi::{NetmapSlot, NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::port::{Port, SyncError};
use netmap_ring::ring;
use netmap_testkit::{frames::*, names::*};
use proptest::prelude::*;
use proptest::test_runner::Config;
use vale_offload::counters::PortCounter as P;
use vale_offload::counters::SwitchCounter as S;
use vale_offload::hash::netmap_mac_hash;
use vale_soft::ctrl::{kring, Dir};

/// Port names of the switch and their RX ring sizes: two big enough for
/// the longest chain, two small ones that fill up quickly.
const PORTS: [(&str, u32); 4] = [("p0", 80), ("p1", 80), ("p2", 8), ("p3", 8)];
const TX_SLOTS: u32 = 128;
const ROWS: u32 = 1024;
const MAX_FRAGS: usize = 64;

// ---------------------------------------------------------------------------
// The model.

/// What a test slot holds: payload bytes, MOREFRAG, NO_LEARN, and how it
/// is broken, if it is.
#[derive(Clone, Debug)]
struct SlotSpec {
    data: Vec<u8>,
    more: bool,
    no_learn: bool,
    bad: Bad,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    No,
    /// A buffer index past the pool.
    BufIdx,
    /// A length past the buffer.
    TooLong,
}

#[derive(Default)]
struct ModelPort {
    /// Entry index in the switch (the lowest free one at open).
    index: u8,
    rx_capacity: u32,
    /// Frames delivered and not yet released: (bytes, slots).
    rx: VecDeque<(Vec<u8>, u32)>,
    /// Slots of an unfinished chain waiting in the TX ring.
    pending: Vec<SlotSpec>,
    counters: HashMap<&'static str, u64>,
}

impl ModelPort {
    fn add(&mut self, c: &'static str, n: u64) {
        *self.counters.entry(c).or_default() += n;
    }
    fn rx_used(&self) -> u32 {
        self.rx.iter().map(|(_, s)| s).sum()
    }
}

#[derive(Default)]
struct Model {
    ports: [Option<ModelPort>; 4],
    /// row -> (MAC, port index)
    table: HashMap<u32, ([u8; 6], u8)>,
    switch: HashMap<&'static str, u64>,
}

fn is_group(mac: &[u8; 6]) -> bool {
    mac[0] & 1 == 1
}

impl Model {
    fn bump(&mut self, c: &'static str, n: u64) {
        *self.switch.entry(c).or_default() += n;
    }

    fn open(&mut self, p: usize) {
        let used: Vec<u8> = self.ports.iter().flatten().map(|m| m.index).collect();
        let index = (0..).find(|i| !used.contains(i)).unwrap();
        self.ports[p] = Some(ModelPort {
            index,
            rx_capacity: PORTS[p].1 - 1,
            ..Default::default()
        });
    }

    fn close(&mut self, p: usize) {
        let gone = self.ports[p].take().expect("open").index;
        self.table.retain(|_, (_, port)| *port != gone);
        if self.ports.iter().all(Option::is_none) {
            // The last close destroys the switch: table and counters too.
            *self = Model::default();
        }
    }

    fn port_of_index(&self, index: u8) -> Option<usize> {
        self.ports
            .iter()
            .position(|m| m.as_ref().is_some_and(|m| m.index == index))
    }

    /// netmap's learning bridge decision: Some(port) for unicast,
    /// None to flood; Err(()) to drop (destination is the source).
    fn decide(&mut self, src_p: usize, header: &[u8], learn: bool) -> Result<Option<u8>, ()> {
        let src_index = self.ports[src_p].as_ref().unwrap().index;
        let dst: [u8; 6] = header[0..6].try_into().unwrap();
        let src: [u8; 6] = header[6..12].try_into().unwrap();
        self.bump("lookups", 1);
        if learn && !is_group(&src) {
            let row = netmap_mac_hash(&src) & (ROWS - 1);
            let wrote = self.table.get(&row) != Some(&(src, src_index));
            if wrote {
                self.table.insert(row, (src, src_index));
                self.bump("learns", 1);
            }
        }
        let found = if is_group(&dst) {
            None
        } else {
            let row = netmap_mac_hash(&dst) & (ROWS - 1);
            self.table
                .get(&row)
                .filter(|(mac, _)| *mac == dst)
                .map(|(_, port)| *port)
        };
        match found {
            None => {
                self.bump("misses", 1);
                self.bump("floods", 1);
                Ok(None)
            }
            Some(port) => {
                self.bump("hits", 1);
                if port == src_index {
                    self.bump("same", 1);
                    Err(())
                } else {
                    Ok(Some(port))
                }
            }
        }
    }

    /// A txsync of port `src_p` after `slots` were added to its TX ring.
    fn send(&mut self, src_p: usize, slots: Vec<SlotSpec>) {
        let mut stream = std::mem::take(&mut self.ports[src_p].as_mut().unwrap().pending);
        stream.extend(slots);
        let mut frames = Vec::new();
        let mut chain = Vec::new();
        for slot in stream {
            let more = slot.more;
            chain.push(slot);
            if !more {
                frames.push(std::mem::take(&mut chain));
            }
        }
        let me = self.ports[src_p].as_mut().unwrap();
        if chain.len() > MAX_FRAGS {
            me.add("chain", 1);
        } else {
            me.pending = chain;
        }
        // Decide every frame in order (learning included), then deliver.
        let mut decided = Vec::new();
        for frame in frames {
            let me = self.ports[src_p].as_mut().unwrap();
            if frame.len() > MAX_FRAGS {
                me.add("chain", 1);
                continue;
            }
            if frame.iter().any(|s| s.bad != Bad::No) {
                me.add("bad", 1);
                continue;
            }
            if frame[0].data.len() < 14 {
                me.add("short", 1);
                continue;
            }
            let bytes: Vec<u8> = frame.iter().flat_map(|s| s.data.clone()).collect();
            match self.decide(src_p, &bytes, !frame[0].no_learn) {
                Err(()) => self.ports[src_p].as_mut().unwrap().add("same", 1),
                Ok(dst) => decided.push((bytes, frame.len() as u32, dst)),
            }
        }
        let src_index = self.ports[src_p].as_ref().unwrap().index;
        for (bytes, slots, dst) in decided {
            let targets: Vec<usize> = match dst {
                Some(index) => self.port_of_index(index).into_iter().collect(),
                None => (0..4)
                    .filter(|&p| self.ports[p].as_ref().is_some_and(|m| m.index != src_index))
                    .collect(),
            };
            {
                let me = self.ports[src_p].as_mut().unwrap();
                me.add("tx_packets", 1);
                me.add("tx_bytes", bytes.len() as u64);
                if targets.is_empty() {
                    me.add("no_dest", 1);
                }
            }
            for t in targets {
                let port = self.ports[t].as_mut().unwrap();
                if port.rx_used() + slots <= port.rx_capacity {
                    port.rx.push_back((bytes.clone(), slots));
                    port.add("rx_packets", 1);
                    port.add("rx_bytes", bytes.len() as u64);
                    self.bump("forwarded", 1);
                } else {
                    port.add("rx_full", 1);
                    self.ports[src_p].as_mut().unwrap().add("tx_full", 1);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Operations.

#[derive(Clone, Debug)]
struct FrameSpec {
    dst: usize,
    src: usize,
    len: usize,
    frags: usize,
    no_learn: bool,
    /// A broken fragment: (which fragment, how).
    bad: Option<(usize, Bad)>,
}

#[derive(Clone, Copy, Debug)]
enum BadSync {
    TxHeadOutOfRange(u32),
    TxCurOutOfRange(u32),
    RxHeadOutOfRange(u32),
    RxHeadPastTail,
}

#[derive(Clone, Debug)]
enum Op {
    Open(usize),
    Close(usize),
    Send {
        port: usize,
        frames: Vec<FrameSpec>,
        /// Fragments of a chain left unfinished at the end.
        unfinished: usize,
    },
    LongChain {
        port: usize,
        slots: usize,
    },
    Receive {
        port: usize,
        max: usize,
    },
    Bad {
        port: usize,
        kind: BadSync,
    },
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    let bad = prop_oneof![
        8 => Just(None),
        1 => (0..3usize).prop_map(|f| Some((f, Bad::BufIdx))),
        1 => (0..3usize).prop_map(|f| Some((f, Bad::TooLong))),
    ];
    let len = prop_oneof![
        1 => 0..14usize,
        6 => 14..200usize,
        1 => 1000..3000usize,
    ];
    (
        0..MACS,
        0..MACS,
        len,
        1..=3usize,
        prop::bool::weighted(0.15),
        bad,
    )
        .prop_map(|(dst, src, len, frags, no_learn, bad)| FrameSpec {
            dst,
            src,
            len,
            frags,
            no_learn,
            bad: bad.map(|(f, how)| (f % frags, how)),
        })
}

fn op() -> impl Strategy<Value = Op> {
    let port = 0..4usize;
    prop_oneof![
        2 => port.clone().prop_map(Op::Open),
        1 => port.clone().prop_map(Op::Close),
        8 => (port.clone(), prop::collection::vec(frame_spec(), 1..8), prop_oneof![4 => Just(0usize), 1 => 1..3usize])
            .prop_map(|(port, frames, unfinished)| Op::Send { port, frames, unfinished }),
        1 => (port.clone(), 60..=70usize).prop_map(|(port, slots)| Op::LongChain { port, slots }),
        4 => (port.clone(), 1..12usize).prop_map(|(port, max)| Op::Receive { port, max }),
        1 => (port, prop_oneof![
            (0..3u32).prop_map(BadSync::TxHeadOutOfRange),
            (0..3u32).prop_map(BadSync::TxCurOutOfRange),
            (0..3u32).prop_map(BadSync::RxHeadOutOfRange),
            Just(BadSync::RxHeadPastTail),
        ]).prop_map(|(port, kind)| Op::Bad { port, kind }),
    ]
}

// ---------------------------------------------------------------------------
// Driving the engine and the model together.

const MACS: usize = 6;

/// The MAC pool: three unicast MACs, one that hashes to the same row as
/// the first (so learning evicts), broadcast and multicast.
fn mac_pool() -> [[u8; 6]; MACS] {
    let first = mac(1);
    let row = netmap_mac_hash(&first) & (ROWS - 1);
    let colliding = (0..=u16::MAX)
        .map(|n| [0x02, 0, 0, 0x77, (n >> 8) as u8, n as u8])
        .find(|m| netmap_mac_hash(m) & (ROWS - 1) == row)
        .expect("a colliding MAC among 65536");
    [first, mac(2), mac(3), colliding, BROADCAST, MULTICAST]
}

struct Harness {
    sw: String,
    macs: [[u8; 6]; MACS],
    ports: [Option<Port>; 4],
    model: Model,
    seq: u32,
}

impl Harness {
    fn new() -> Self {
        Harness {
            sw: unique_switch("m"),
            macs: mac_pool(),
            ports: Default::default(),
            model: Model::default(),
            seq: 0,
        }
    }

    fn name(&self, p: usize) -> String {
        format!(
            "{}:{}@conf:tx-slots={TX_SLOTS},rx-slots={}",
            self.sw, PORTS[p].0, PORTS[p].1
        )
    }

    /// Payload slots of one frame spec.
    fn slots_of(&mut self, f: &FrameSpec) -> Vec<SlotSpec> {
        self.seq += 1;
        // Every fragment fits a buffer.
        let len = f.len.min(f.frags * 2000);
        let bytes = frame(self.macs[f.dst], self.macs[f.src], self.seq, len);
        let piece = bytes.len() / f.frags;
        (0..f.frags)
            .map(|i| {
                let end = if i + 1 == f.frags {
                    bytes.len()
                } else {
                    (i + 1) * piece
                };
                SlotSpec {
                    data: bytes[i * piece..end].to_vec(),
                    more: i + 1 < f.frags,
                    no_learn: i == 0 && f.no_learn,
                    bad: match f.bad {
                        Some((at, how)) if at == i => how,
                        _ => Bad::No,
                    },
                }
            })
            .collect()
    }

    /// Writes `slots` into the TX ring of `p` and syncs it.
    fn transmit(&mut self, p: usize, slots: &[SlotSpec]) {
        let port = self.ports[p].as_ref().unwrap();
        let num_bufs = switch_domain(&self.sw).memory().num_bufs();
        let ring = port.tx_ring(0);
        let mut restore = Vec::new();
        for (k, s) in slots.iter().enumerate() {
            let cur = ring.cur();
            let buf_idx = ring.slot(cur).buf_idx;
            port.write_buf(buf_idx, &s.data).unwrap();
            let flags =
                if s.more { NS_MOREFRAG } else { 0 } | if s.no_learn { NS_NO_LEARN } else { 0 };
            let (idx, len) = match s.bad {
                Bad::No => (buf_idx, s.data.len() as u16),
                Bad::BufIdx => {
                    restore.push((cur, buf_idx));
                    (num_bufs + k as u32, s.data.len() as u16)
                }
                Bad::TooLong => (buf_idx, port.buf_size() as u16 + 1 + k as u16),
            };
            ring.set_slot(
                cur,
                NetmapSlot {
                    buf_idx: idx,
                    len,
                    flags,
                    ptr: 0,
                },
            );
            let next = ring::next(cur, ring.num_slots());
            ring.set_head(next);
            ring.set_cur(next);
        }
        port.txsync().unwrap();
        // The application puts its buffers back in the slots it broke.
        for (slot, buf_idx) in restore {
            ring.set_buf_idx(slot, buf_idx);
        }
    }

    fn room(&self, p: usize) -> usize {
        let ring = self.ports[p].as_ref().unwrap().tx_ring(0);
        let room = ring::distance(ring.cur(), ring.tail(), ring.num_slots()) as usize;
        let pending = self.model.ports[p].as_ref().unwrap().pending.len();
        assert_eq!(
            room,
            TX_SLOTS as usize - 1 - pending,
            "TX room of {}",
            PORTS[p].0
        );
        room
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Open(p) => {
                if self.ports[*p].is_none() {
                    self.ports[*p] = Some(vale_soft::open(&self.name(*p)).unwrap());
                    self.model.open(*p);
                }
            }
            Op::Close(p) => {
                if self.ports[*p].take().is_some() {
                    self.model.close(*p);
                }
            }
            Op::Send {
                port: p,
                frames,
                unfinished,
            } => {
                if self.ports[*p].is_none() {
                    return;
                }
                let mut room = self.room(*p);
                let mut slots = Vec::new();
                for f in frames {
                    let s = self.slots_of(f);
                    if s.len() > room {
                        break;
                    }
                    room -= s.len();
                    slots.extend(s);
                }
                if *unfinished > 0 {
                    // Always valid, so no broken slot waits in the ring.
                    let spec = FrameSpec {
                        dst: 1,
                        src: 0,
                        len: 100,
                        frags: 3,
                        no_learn: false,
                        bad: None,
                    };
                    let mut tail = self.slots_of(&spec);
                    tail.truncate(*unfinished);
                    tail.iter_mut().for_each(|s| s.more = true);
                    if tail.len() <= room {
                        slots.extend(tail);
                    }
                }
                self.transmit(*p, &slots);
                self.model.send(*p, slots);
            }
            Op::LongChain { port: p, slots: n } => {
                if self.ports[*p].is_none() || *n > self.room(*p) {
                    return;
                }
                let spec = FrameSpec {
                    dst: 4,
                    src: 2,
                    len: n * 20,
                    frags: *n,
                    no_learn: false,
                    bad: None,
                };
                let slots = self.slots_of(&spec);
                self.transmit(*p, &slots);
                self.model.send(*p, slots);
            }
            Op::Receive { port: p, max } => {
                let Some(port) = self.ports[*p].as_mut() else {
                    return;
                };
                port.rxsync().unwrap();
                let mut got = Vec::new();
                port.dispatch(*max, |pkt| got.push(pkt.data.clone()));
                port.rxsync().unwrap();
                let m = self.model.ports[*p].as_mut().unwrap();
                let k = m.rx.len().min(*max);
                let want: Vec<Vec<u8>> = m.rx.drain(..k).map(|(bytes, _)| bytes).collect();
                assert_eq!(got, want, "frames received by {}", PORTS[*p].0);
            }
            Op::Bad { port: p, kind } => self.bad_sync(*p, *kind),
        }
    }

    fn bad_sync(&mut self, p: usize, kind: BadSync) {
        let Some(port) = self.ports[p].as_ref() else {
            return;
        };
        let (tx, rx) = (port.tx_ring(0), port.rx_ring(0));
        let result = match kind {
            BadSync::TxHeadOutOfRange(k) => {
                tx.set_head(tx.num_slots() + k);
                port.txsync()
            }
            BadSync::TxCurOutOfRange(k) => {
                tx.set_cur(tx.num_slots() + k);
                port.txsync()
            }
            BadSync::RxHeadOutOfRange(k) => {
                rx.set_head(rx.num_slots() + k);
                port.rxsync()
            }
            BadSync::RxHeadPastTail => {
                port.rxsync().unwrap();
                let past = ring::next(rx.tail(), rx.num_slots());
                if past == rx.head() {
                    return; // a full ring: every index is inside the window
                }
                rx.set_head(past);
                rx.set_cur(past);
                port.rxsync()
            }
        };
        assert!(
            matches!(result, Err(SyncError::BadRing { ring: 0, .. })),
            "{kind:?} gave {result:?}"
        );
        let m = self.model.ports[p].as_mut().unwrap();
        m.add("bad_ring", 1);
        // A refused TX sync hands the ring back at hwcur: an unfinished
        // chain the application had queued is no longer queued.
        if matches!(
            kind,
            BadSync::TxHeadOutOfRange(_) | BadSync::TxCurOutOfRange(_)
        ) {
            m.pending.clear();
        }
        let d = switch_domain(&self.sw);
        let index = entry(&d, PORTS[p].0);
        let (view, dir) = match kind {
            BadSync::TxHeadOutOfRange(_) | BadSync::TxCurOutOfRange(_) => (tx, Dir::Tx),
            BadSync::RxHeadOutOfRange(_) | BadSync::RxHeadPastTail => (rx, Dir::Rx),
        };
        let hwcur = d.ctrl().kring(index, dir, 0).field(kring::HWCUR);
        let hwcur = hwcur.load(std::sync::atomic::Ordering::Acquire);
        assert_eq!(
            (view.head(), view.cur()),
            (hwcur, hwcur),
            "{dir:?} ring reinitialised"
        );
    }

    /// Counters and conservation, compared after every step.
    fn check(&self) {
        if self.ports.iter().all(Option::is_none) {
            return;
        }
        let d = switch_domain(&self.sw);
        for (p, m) in self.model.ports.iter().enumerate() {
            let Some(m) = m else { continue };
            let name = PORTS[p].0;
            assert_eq!(entry(&d, name), u32::from(m.index), "entry index of {name}");
            for (counter, key) in [
                (P::RxPackets, "rx_packets"),
                (P::RxBytes, "rx_bytes"),
                (P::TxPackets, "tx_packets"),
                (P::TxBytes, "tx_bytes"),
                (P::TxDropFull, "tx_full"),
                (P::TxDropShort, "short"),
                (P::TxDropBadSlot, "bad"),
                (P::TxDropSamePort, "same"),
                (P::TxDropChain, "chain"),
                (P::RxDropFull, "rx_full"),
                (P::BadRingSyncs, "bad_ring"),
                (P::TxDropNoDest, "no_dest"),
            ] {
                let want = m.counters.get(key).copied().unwrap_or(0);
                assert_eq!(port_counter(&d, name, counter), want, "{name} {counter:?}");
            }
        }
        for (counter, key) in [
            (S::Lookups, "lookups"),
            (S::Hits, "hits"),
            (S::Misses, "misses"),
            (S::Learns, "learns"),
            (S::Floods, "floods"),
            (S::SamePortDrops, "same"),
            (S::Forwarded, "forwarded"),
        ] {
            let want = self.model.switch.get(key).copied().unwrap_or(0);
            assert_eq!(switch_counter(&d, counter), want, "switch {counter:?}");
        }
        // The engine's table holds exactly the model's entries.
        let mut engine: Vec<([u8; 6], u8)> = d.table().entries().map(|e| (e.mac, e.port)).collect();
        let mut model: Vec<([u8; 6], u8)> = self.model.table.values().copied().collect();
        engine.sort();
        model.sort();
        assert_eq!(engine, model, "MAC table");
        assert_conserved(&d);
    }

    /// Everything still queued arrives, then the ports close.
    fn finish(mut self) {
        for p in 0..4 {
            if self.ports[p].is_some() {
                self.apply(&Op::Receive { port: p, max: 1000 });
                assert!(self.model.ports[p].as_ref().unwrap().rx.is_empty());
            }
        }
        self.check();
        for p in 0..4 {
            self.apply(&Op::Close(p));
        }
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        max_shrink_iters: 400,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn engine_matches_the_model(ops in prop::collection::vec(op(), 1..120)) {
        let mut h = Harness::new();
        // Start with two ports so most runs carry traffic from the first op.
        h.apply(&Op::Open(0));
        h.apply(&Op::Open(2));
        for op in &ops {
            h.apply(op);
            h.check();
        }
        h.finish();
    }
}
