//! The counting rule of a pipe's txsync: each ring keeps its share of the
//! port's transmit counters (TX kring, under its sync lock) and of the
//! peer's receive counters (RX kring, under its lock), written with a load
//! and a store instead of an atomic add; a port's counter is its entry's
//! word plus its rings' shares (`PortEntry::read`), and a reset zeroes
//! both (`admin::reset_counters`).
//!
//! proptest drives random batches (1-40 frames of 60-1514 bytes) on
//! either ring of a two-ring pipe, some with a bad buffer index, random
//! resets, and the receiver draining after each batch; after every step
//! each end's counters equal a model's sums since the last reset.

mod common;

use common::*;
use netmap_ring::abi::NetmapSlot;
use netmap_testkit::{frames::*, names::*, slots::*};
use proptest::prelude::*;
use proptest::test_runner::Config;
use vale_offload::counters::PortCounter as P;

#[derive(Clone, Debug)]
enum Op {
    /// One txsync of ring `ring` with `lens.len()` frames; a frame whose
    /// length is 0 gets a bad buffer index instead (never moved, counted).
    Send { ring: usize, lens: Vec<u16> },
    /// `vale-ctl`'s counter reset.
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..2usize, prop::collection::vec(prop_oneof![9 => 60..1515u16, 1 => Just(0u16)], 1..40))
            .prop_map(|(ring, lens)| Op::Send { ring, lens }),
        1 => Just(Op::Reset),
    ]
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Sums {
    tx_packets: u64,
    tx_bytes: u64,
    bad: u64,
    rx_packets: u64,
    rx_bytes: u64,
}

proptest! {
    #![proptest_config(Config { cases: 24, ..Config::default() })]

    #[test]
    fn ring_shares_add_up_to_the_port_counters(ops in prop::collection::vec(op(), 1..30)) {
        let sw = unique_switch("pc");
        let conf = "@conf:rings=2,slots=64";
        let m = vale_soft::open(&format!("{sw}:x{{1{conf}")).unwrap();
        let mut s = vale_soft::open(&format!("{sw}:x}}1{conf}")).unwrap();
        let d = switch_domain(&sw);
        let mut want = Sums::default();
        for op in &ops {
            match op {
                Op::Send { ring, lens } => {
                    let mut restore = Vec::new();
                    for (seq, &len) in lens.iter().enumerate() {
                        if len == 0 {
                            restore.push(put_raw_on(&m, *ring));
                            want.bad += 1;
                        } else {
                            put_on(&m, *ring, &frame(mac(2), mac(1), seq as u32, len.into()), 0);
                            want.tx_packets += 1;
                            want.tx_bytes += u64::from(len);
                            want.rx_packets += 1;
                            want.rx_bytes += u64::from(len);
                        }
                    }
                    m.txsync_ring(*ring).unwrap();
                    // The skipped slots get their own buffers back.
                    for (at, old) in restore {
                        m.tx_ring(*ring).set_slot(at, old);
                    }
                    let got = drain(&mut s);
                    prop_assert_eq!(got.len(), lens.iter().filter(|&&l| l != 0).count());
                    // A sync that moves nothing: the TX ring's tail catches
                    // up with what the receiver released.
                    m.txsync_ring(*ring).unwrap();
                }
                Op::Reset => {
                    vale_soft::admin::reset_counters(&d);
                    want = Sums::default();
                }
            }
            let got = Sums {
                tx_packets: port_counter(&d, "x{1", P::TxPackets),
                tx_bytes: port_counter(&d, "x{1", P::TxBytes),
                bad: port_counter(&d, "x{1", P::TxDropBadSlot),
                rx_packets: port_counter(&d, "x}1", P::RxPackets),
                rx_bytes: port_counter(&d, "x}1", P::RxBytes),
            };
            prop_assert_eq!(&got, &want, "after {:?}", op);
            // The other direction moved nothing.
            prop_assert_eq!(port_counter(&d, "x}1", P::TxPackets), 0);
            prop_assert_eq!(port_counter(&d, "x{1", P::RxPackets), 0);
        }
        assert_conserved(&d);
        drop((m, s));
    }
}

/// Puts a slot with an invalid buffer index at `cur` of TX ring `n` (the
/// pipe skips and counts it) and returns the slot and what it held, for
/// the test to put back after the sync.
fn put_raw_on(port: &netmap_ring::port::Port, n: usize) -> (u32, NetmapSlot) {
    let ring = port.tx_ring(n);
    let cur = ring.cur();
    assert!(
        !netmap_ring::ring::empty(cur, ring.tail()),
        "TX ring {n} is full"
    );
    let old = ring.slot(cur);
    ring.set_slot(
        cur,
        NetmapSlot {
            buf_idx: 0,
            len: 60,
            flags: 0,
            ptr: 0,
        },
    );
    let next = netmap_ring::ring::next(cur, ring.num_slots());
    ring.set_head(next);
    ring.set_cur(next);
    (cur, old)
}
