//! The delivery rule for a batch meeting a full ring: every destination
//! ring takes the batch's frames in order while it has room, and the rest
//! of its share is dropped and counted (`TxDropFull` on the sender,
//! `RxDropFull` on the receiver), whether the ring was full before the
//! batch or filled up inside it. A full ring's share is dropped as one
//! count (`deliver::deliver_to_ring`); this test checks that the outcome
//! is the frame-by-frame rule's.
//!
//! proptest drives random broadcast batches (1-40 one-slot frames, one
//! txsync each) from one port to three receivers with rings of 8, 8 and
//! 32 slots, and random partial receives; after every step each receiver
//! has got exactly the frames a per-ring queue of the ring's capacity
//! admits, in order, and the counters agree.

mod common;

use std::collections::VecDeque;

use common::*;
use netmap_ring::abi::NetmapSlot;
use netmap_ring::port::Port;
use netmap_ring::ring;
use netmap_testkit::{frames::*, names::*};
use proptest::prelude::*;
use proptest::test_runner::Config;
use vale_offload::counters::PortCounter as P;

const BROADCAST: [u8; 6] = [0xff; 6];
/// Receiving ports and their RX ring sizes (a ring holds one slot less).
const RECEIVERS: [(&str, u32); 3] = [("b", 8), ("c", 8), ("d", 32)];

#[derive(Clone, Debug)]
enum Op {
    /// One txsync of this many broadcast frames from `a`.
    Send(u32),
    /// Receiver `r` reads up to `max` frames.
    Receive { r: usize, max: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1..=40u32).prop_map(Op::Send),
        3 => (0..RECEIVERS.len(), 1..40usize).prop_map(|(r, max)| Op::Receive { r, max }),
    ]
}

struct Receiver {
    port: Port,
    /// Sequence numbers delivered and not yet read.
    queued: VecDeque<u32>,
    capacity: usize,
    dropped: u64,
}

struct Harness {
    switch: String,
    tx: Port,
    rx: Vec<Receiver>,
    seq: u32,
    sent: u64,
}

impl Harness {
    fn new() -> Self {
        let switch = unique_switch("f");
        let tx = vale_soft::open(&format!("{switch}:a@conf:tx-slots=64,rx-slots=64")).unwrap();
        let rx = RECEIVERS
            .iter()
            .map(|&(name, slots)| Receiver {
                port: vale_soft::open(&format!("{switch}:{name}@conf:tx-slots=8,rx-slots={slots}"))
                    .unwrap(),
                queued: VecDeque::new(),
                capacity: slots as usize - 1,
                dropped: 0,
            })
            .collect();
        Harness {
            switch,
            tx,
            rx,
            seq: 0,
            sent: 0,
        }
    }

    /// Writes `k` frames into `a`'s TX ring and syncs once: one batch.
    fn send(&mut self, k: u32) {
        let ring = self.tx.tx_ring(0);
        for _ in 0..k {
            self.seq += 1;
            let cur = ring.cur();
            let buf_idx = ring.slot(cur).buf_idx;
            let data = frame(BROADCAST, mac(1), self.seq, 60);
            self.tx.write_buf(buf_idx, &data).unwrap();
            ring.set_slot(
                cur,
                NetmapSlot {
                    buf_idx,
                    len: data.len() as u16,
                    flags: 0,
                    ptr: 0,
                },
            );
            let next = ring::next(cur, ring.num_slots());
            ring.set_head(next);
            ring.set_cur(next);
        }
        self.tx.txsync().unwrap();
        self.sent += u64::from(k);
        // The rule: each ring takes the batch in order while it has room.
        for r in &mut self.rx {
            for i in 0..k {
                if r.queued.len() < r.capacity {
                    r.queued.push_back(self.seq - k + 1 + i);
                } else {
                    r.dropped += 1;
                }
            }
        }
    }

    fn receive(&mut self, r: usize, max: usize) {
        let rx = &mut self.rx[r];
        rx.port.rxsync().unwrap();
        let mut got = Vec::new();
        rx.port.dispatch(max, |pkt| {
            got.push(seq_of(&pkt.data).expect("a test frame"))
        });
        rx.port.rxsync().unwrap();
        let k = rx.queued.len().min(max);
        let want: Vec<u32> = rx.queued.drain(..k).collect();
        assert_eq!(got, want, "frames read by {}", RECEIVERS[r].0);
    }

    fn check(&self) {
        let d = switch_domain(&self.switch);
        let mut all_dropped = 0;
        for (r, (name, _)) in self.rx.iter().zip(RECEIVERS) {
            assert_eq!(
                port_counter(&d, name, P::RxDropFull),
                r.dropped,
                "RxDropFull of {name}"
            );
            assert_eq!(
                port_counter(&d, name, P::RxPackets),
                self.sent - r.dropped,
                "RxPackets of {name}"
            );
            all_dropped += r.dropped;
        }
        assert_eq!(
            port_counter(&d, "a", P::TxDropFull),
            all_dropped,
            "TxDropFull of a"
        );
        assert_eq!(
            port_counter(&d, "a", P::TxPackets),
            self.sent,
            "TxPackets of a"
        );
        assert_conserved(&d);
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn a_full_ring_drops_the_rest_of_its_share_in_order(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = Harness::new();
        for op in &ops {
            match *op {
                Op::Send(k) => h.send(k),
                Op::Receive { r, max } => h.receive(r, max),
            }
            h.check();
        }
        // Whatever is queued still arrives, in order.
        for r in 0..RECEIVERS.len() {
            h.receive(r, 1000);
            prop_assert!(h.rx[r].queued.is_empty());
        }
        h.check();
    }
}
