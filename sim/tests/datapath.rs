//! Testbench of the data path (`dp_engine` and its stages, `desc_mem`, `port_counters`
//! through `nic_top`): VALE forwarding by DMA, pipe crossover, status
//! blocks, notifications, bad slots and heads, all through the rig host.
#![forbid(unsafe_code)]

use netmap_ring::abi::{NS_BUF_CHANGED, NS_MOREFRAG, NS_NO_LEARN};
use sim::host::HostConfig;
use sim::nic::NicVariant;
use sim::rig::{PortSpec, Rig, Slot};
use vale_offload::counters::PortCounter;
use vale_offload::regmap;

const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xb];
const C: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc];
const BROADCAST: [u8; 6] = [0xff; 6];

fn frame(dst: [u8; 6], src: [u8; 6], len: usize, fill: u8) -> Vec<u8> {
    let mut bytes = vec![fill; len];
    bytes[0..6].copy_from_slice(&dst);
    bytes[6..12].copy_from_slice(&src);
    bytes
}

fn rfrags(count: u16) -> u16 {
    count << 8
}

fn vale_rig(ports: usize, slots: u32) -> Rig {
    Rig::new(
        NicVariant::Netmap,
        &vec![PortSpec::vale(1, slots); ports],
        64,
    )
}

#[test]
fn broadcast_floods_then_unicast_goes_to_the_learned_port() {
    let mut rig = vale_rig(3, 16);
    let hello = frame(BROADCAST, A, 60, 0x11);
    rig.write_tx(0, 0, 0, &hello, 0);
    rig.tx_doorbell(0, 0, 1);
    assert_eq!(rig.status(0, false, 0), (1, 0), "TX handed back whole");
    for port in [1, 2] {
        assert_eq!(rig.status(port, true, 0), (0, 1));
        assert_eq!(rig.rx_frames(port, 0, 0), vec![(hello.clone(), rfrags(1))]);
    }
    assert_eq!(rig.status(0, true, 0), (0, 0), "never back to the source");

    // B answers A: A was learned on port 0, so only port 0 gets it.
    let answer = frame(A, B, 1514, 0x22);
    rig.write_tx(1, 0, 0, &answer, 0);
    rig.tx_doorbell(1, 0, 1);
    assert_eq!(rig.rx_frames(0, 0, 0), vec![(answer, rfrags(1))]);
    assert_eq!(rig.status(2, true, 0), (0, 1), "port 2 got nothing new");

    let nic = &mut rig.nic;
    assert_eq!(nic.port_counter(0, PortCounter::TxPackets), 1);
    assert_eq!(nic.port_counter(0, PortCounter::TxBytes), 60);
    assert_eq!(nic.port_counter(1, PortCounter::RxPackets), 1);
    assert_eq!(nic.port_counter(0, PortCounter::RxBytes), 1514);
    assert_eq!(nic.bar0_read(regmap::SW_FORWARDED), 3);
    assert_eq!(nic.bar0_read(regmap::SW_LOOKUPS), 2);
    assert_eq!(nic.bar0_read(regmap::SW_FLOOD), 1);
    assert_eq!(nic.bar0_read(regmap::SW_HIT), 1);
    assert_eq!(nic.link_counters().dma_errors, 0);
}

#[test]
fn drops_are_counted_by_reason() {
    let mut rig = vale_rig(2, 8);
    let nbufs = rig.num_bufs();
    // 0: short; 1: bad buffer; 2: too long; 3: to itself after learning;
    // 4: learns A on port 0; 5: to A from port 0 (same port).
    rig.write_tx(0, 0, 0, &[0u8; 13], 0);
    rig.set_tx_slot(
        0,
        0,
        1,
        Slot {
            buf_idx: nbufs,
            len: 60,
            flags: 0,
        },
    );
    rig.set_tx_slot(
        0,
        0,
        2,
        Slot {
            buf_idx: 3,
            len: 4000,
            flags: 0,
        },
    );
    rig.write_tx(0, 0, 3, &frame(B, A, 60, 1), 0);
    rig.write_tx(0, 0, 4, &frame(A, C, 60, 2), 0);
    rig.tx_doorbell(0, 0, 5);
    let nic = &mut rig.nic;
    assert_eq!(nic.port_counter(0, PortCounter::TxDropShort), 1);
    assert_eq!(nic.port_counter(0, PortCounter::TxDropBadSlot), 2);
    assert_eq!(nic.port_counter(0, PortCounter::TxDropSamePort), 1);
    assert_eq!(nic.port_counter(0, PortCounter::TxPackets), 1);
    assert_eq!(rig.rx_frames(1, 0, 0).len(), 1);
    // A head past the ring is refused and counted; nothing moves.
    rig.tx_doorbell(0, 0, 8);
    assert_eq!(rig.nic.port_counter(0, PortCounter::BadRingSyncs), 1);
    assert_eq!(rig.status(0, false, 0), (5, 4));
}

#[test]
fn a_full_ring_drops_and_released_slots_are_reused() {
    let mut rig = vale_rig(2, 4);
    // Port 1's RX ring holds 3 frames; the 4th and 5th find it full.
    for i in 0..3 {
        rig.write_tx(0, 0, i, &frame(BROADCAST, A, 64, i as u8), 0);
    }
    rig.tx_doorbell(0, 0, 3);
    for i in 3..5 {
        rig.write_tx(0, 0, i % 4, &frame(BROADCAST, A, 64, i as u8), 0);
    }
    rig.tx_doorbell(0, 0, 1);
    assert_eq!(rig.nic.port_counter(1, PortCounter::RxDropFull), 2);
    assert_eq!(rig.nic.port_counter(0, PortCounter::TxDropFull), 2);
    // The receiver releases two slots (status block only): the device
    // re-reads the head when it runs out of room.
    rig.rx_release(1, 0, 2, false);
    rig.write_tx(0, 0, 1, &frame(BROADCAST, A, 64, 9), 0);
    rig.tx_doorbell(0, 0, 2);
    assert_eq!(rig.status(1, true, 0), (2, 0));
    assert_eq!(rig.rx_frames(1, 0, 3)[0].0[12], 9);
}

#[test]
fn morefrag_chains_go_whole_and_wait_when_unfinished() {
    let mut rig = vale_rig(2, 16);
    let first = frame(BROADCAST, A, 100, 1);
    rig.write_tx(0, 0, 0, &first, NS_MOREFRAG);
    rig.write_tx(0, 0, 1, &[2u8; 50], NS_MOREFRAG);
    // Head after an unfinished chain: nothing moves, hwcur stays.
    rig.tx_doorbell(0, 0, 2);
    assert_eq!(rig.status(0, false, 0).0, 0);
    assert_eq!(rig.status(1, true, 0), (0, 0));
    rig.write_tx(0, 0, 2, &[3u8; 10], 0);
    rig.tx_doorbell(0, 0, 3);
    let got = rig.rx_frames(1, 0, 0);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], (first, rfrags(3) | NS_MOREFRAG));
    assert_eq!(got[1], (vec![2u8; 50], rfrags(3) | NS_MOREFRAG));
    assert_eq!(got[2], (vec![3u8; 10], rfrags(3)));
    assert_eq!(rig.nic.port_counter(0, PortCounter::TxBytes), 160);
}

#[test]
fn no_learn_flag_and_unicast_ring_choice() {
    let mut rig = Rig::new(
        NicVariant::Netmap,
        &[
            PortSpec::vale(2, 8),
            PortSpec::vale(2, 8),
            PortSpec::vale(1, 8),
        ],
        16,
    );
    // A on port 0 without learning: B's answer still floods.
    rig.write_tx(0, 1, 0, &frame(BROADCAST, A, 60, 0), NS_NO_LEARN);
    rig.tx_doorbell(0, 1, 1);
    assert_eq!(rig.status(1, true, 0).1, 1, "flood goes to ring 0");
    rig.write_tx(1, 1, 0, &frame(A, B, 60, 0), 0);
    rig.tx_doorbell(1, 1, 1);
    assert_eq!(rig.status(2, true, 0).1, 2, "unknown A floods");
    assert_eq!(rig.status(0, true, 0).1, 1);
    // Now B is known on port 1: from TX ring 1 of port 0 it lands in RX
    // ring 1 of port 1; port 2 (one ring) would get ring 1 mod 1 = 0.
    rig.write_tx(0, 1, 1, &frame(B, A, 60, 0), 0);
    rig.tx_doorbell(0, 1, 2);
    assert_eq!(rig.status(1, true, 1).1, 1);
}

#[test]
fn notifications_follow_need_kick() {
    let mut rig = vale_rig(2, 8);
    rig.write_tx(0, 0, 0, &frame(BROADCAST, A, 60, 0), 0);
    rig.tx_doorbell(0, 0, 1);
    assert!(rig.nic.take_notified().is_empty(), "nobody asked");
    rig.set_need_kick(1, true, 0, true);
    rig.write_tx(0, 0, 1, &frame(BROADCAST, A, 60, 0), 0);
    rig.tx_doorbell(0, 0, 2);
    assert_eq!(rig.nic.take_notified(), vec![1]);
    assert_eq!(rig.nic.bar0_read(regmap::NT_RAISED_BASE + 4), 1);
    rig.set_need_kick(0, false, 0, true);
    rig.tx_doorbell(0, 0, 2);
    assert_eq!(rig.nic.take_notified(), vec![0], "TX completion kick");
}

#[test]
fn pipe_moves_descriptors_losslessly() {
    let mut rig = Rig::new(
        NicVariant::Netmap,
        &[
            PortSpec::pipe(true, 1, 1, 4),
            PortSpec::pipe(false, 0, 1, 4),
        ],
        8,
    );
    let tx_bufs: Vec<u32> = (0..4).map(|i| rig.tx_slot(0, 0, i).buf_idx).collect();
    let rx_bufs: Vec<u32> = (0..4).map(|i| rig.rx_slot(1, 0, i).buf_idx).collect();
    rig.write_tx(0, 0, 0, &[1u8; 60], 0);
    rig.write_tx(0, 0, 1, &[2u8; 70], NS_MOREFRAG);
    rig.write_tx(0, 0, 2, &[3u8; 80], 0);
    let before = rig.nic.link_counters();
    rig.tx_doorbell(0, 0, 3);
    let link = rig.nic.link_counters().since(&before);
    // Slot 0 moves in a run (its RX slot, the host's copy of it), the
    // chain by the frame path (two RX slots, one write-back of the two
    // swapped TX slots), the RX and TX status entries.
    assert_eq!(link.dma_write_requests, 2 + 3 + 2, "{link:?}");
    assert_eq!(link.mmio_reads + link.bar2_read_bytes, 0);
    // Three slots crossed; the receiver's ring (4 slots) is now full.
    assert_eq!(rig.status(1, true, 0), (0, 3));
    assert_eq!(rig.status(0, false, 0), (3, 3), "tail = hwcur + 0 free");
    let got = rig.rx_frames(1, 0, 0);
    assert_eq!(got[0], (vec![1u8; 60], NS_BUF_CHANGED));
    assert_eq!(got[1], (vec![2u8; 70], NS_BUF_CHANGED | NS_MOREFRAG));
    for i in 0..3 {
        assert_eq!(
            rig.rx_slot(1, 0, i).buf_idx,
            tx_bufs[i as usize],
            "zero copy"
        );
        // The swapped slot, in host memory as in the device's copy.
        let back = Slot {
            buf_idx: rx_bufs[i as usize],
            len: 0,
            flags: NS_BUF_CHANGED,
        };
        assert_eq!(rig.tx_slot(0, 0, i), back);
        assert_eq!(rig.tx_slot_ptr(0, 0, i), 0);
        assert_eq!(rig.tx_slot_bar2_copy(0, 0, i), back);
    }
    assert_eq!(rig.tx_slot(0, 0, 3).buf_idx, tx_bufs[3], "slot 3 untouched");
    // The receiver releases two slots with an RX doorbell: the sender's
    // tail advances (the device re-runs the sender's ring).
    rig.rx_release(1, 0, 2, true);
    assert_eq!(rig.status(0, false, 0), (3, 1));
    assert_eq!(rig.nic.port_counter(0, PortCounter::TxPackets), 2);
    assert_eq!(rig.nic.port_counter(1, PortCounter::RxBytes), 210);
    // A bad slot is skipped, never handed over.
    rig.set_tx_slot(
        0,
        0,
        3,
        Slot {
            buf_idx: 1,
            len: 10,
            flags: 0,
        },
    );
    rig.tx_doorbell(0, 0, 0);
    assert_eq!(rig.nic.port_counter(0, PortCounter::TxDropBadSlot), 1);
    assert_eq!(rig.status(1, true, 0).1, 3, "nothing crossed");
    // A head beyond the tail is refused.
    rig.tx_doorbell(0, 0, 3);
    assert_eq!(rig.nic.port_counter(0, PortCounter::BadRingSyncs), 1);
}

#[test]
fn a_stalling_link_changes_nothing_but_time() {
    let run = |stall: Option<u64>| {
        let mut rig = vale_rig(3, 16);
        rig.nic.set_dma_backpressure(stall);
        rig.nic
            .set_dma_read_latency(if stall.is_some() { 17 } else { 4 });
        let big = frame(BROADCAST, A, 1514, 7);
        rig.write_tx(0, 0, 0, &big, 0);
        rig.write_tx(0, 0, 1, &frame(BROADCAST, A, 200, 8), NS_MOREFRAG);
        rig.write_tx(0, 0, 2, &[9u8; 100], 0);
        let cycles = {
            rig.nic.tx_doorbell(0, 0, 3);
            rig.settle()
        };
        (rig.rx_frames(1, 0, 0), rig.rx_frames(2, 0, 0), cycles)
    };
    let (calm1, calm2, calm_cycles) = run(None);
    let (busy1, busy2, busy_cycles) = run(Some(0x1234_5678));
    assert_eq!(calm1.len(), 3);
    assert_eq!((&busy1, &busy2), (&calm1, &calm2));
    assert!(busy_cycles > calm_cycles, "the stalls cost cycles");
}

#[test]
fn a_pcie_like_host_changes_nothing_but_time() {
    // The Gen4 x16 host model (150-cycle round trip, completions split at
    // 256 bytes and reordered, 256 tags) and a 300-cycle one with 64-byte
    // completions and a single tag.
    let run = |host: HostConfig| {
        let mut rig = vale_rig(3, 16);
        rig.nic.set_host_config(host);
        rig.write_tx(0, 0, 0, &frame(BROADCAST, A, 1514, 7), 0);
        rig.write_tx(0, 0, 1, &frame(BROADCAST, A, 200, 8), NS_MOREFRAG);
        rig.write_tx(0, 0, 2, &[9u8; 100], 0);
        rig.write_tx(0, 0, 3, &frame(BROADCAST, A, 60, 9), 0);
        let cycles = {
            rig.nic.tx_doorbell(0, 0, 4);
            rig.settle()
        };
        assert_eq!(rig.nic.dma_reads_in_flight(), 0);
        assert_eq!(rig.nic.link_counters().dma_errors, 0);
        (rig.rx_frames(1, 0, 0), rig.rx_frames(2, 0, 0), cycles)
    };
    let (ideal1, ideal2, ideal_cycles) = run(HostConfig::IDEAL);
    assert_eq!(ideal1.len(), 4, "the 1514, the chain of two slots, the 60");
    let (pcie1, pcie2, pcie_cycles) = run(HostConfig::default());
    assert_eq!((&pcie1, &pcie2), (&ideal1, &ideal2));
    assert!(
        pcie_cycles > ideal_cycles + 150,
        "the round trips cost cycles"
    );
    let far = HostConfig {
        read_latency: 300,
        tags: 1,
        completion_bytes: 64,
        seed: 3,
        ..HostConfig::default()
    };
    let (far1, far2, _) = run(far);
    assert_eq!((&far1, &far2), (&ideal1, &ideal2));
}

#[test]
fn a_vale_job_stops_half_a_ring_in_at_a_frame_boundary() {
    // Six slots from hwcur 0: two frames, a chain of three slots (2..4)
    // across slot 4 (half the 8-slot ring), a frame at 5. The job stops
    // taking frames once one ends at or past slot 4: after the chain,
    // which goes whole. It publishes there (hwcur 5) and its ring wakes
    // for slot 5, whose job publishes again: two more status entries (8
    // bytes each) than a 16-slot ring's one job, and nothing else.
    let run = |slots: u32| {
        let mut rig = vale_rig(2, slots);
        let frames = [
            (frame(BROADCAST, A, 60, 0), 0),
            (frame(BROADCAST, A, 61, 1), 0),
            (frame(BROADCAST, A, 100, 2), NS_MOREFRAG),
            (vec![3u8; 50], NS_MOREFRAG),
            (vec![4u8; 10], 0),
            (frame(BROADCAST, A, 62, 5), 0),
        ];
        for (i, (bytes, flags)) in frames.iter().enumerate() {
            rig.write_tx(0, 0, i as u32, bytes, *flags);
        }
        let before = rig.nic.link_counters();
        rig.tx_doorbell(0, 0, 6);
        let link = rig.nic.link_counters().since(&before);
        assert_eq!(rig.status(0, false, 0), (6, 5));
        assert_eq!(rig.status(1, true, 0), (0, 6));
        (rig.rx_frames(1, 0, 0), link)
    };
    let (whole, whole_link) = run(16);
    let (cut, cut_link) = run(8);
    assert_eq!(whole.len(), 6);
    assert_eq!(cut, whole, "the chain goes whole across the stop");
    assert_eq!(cut[4], (vec![4u8; 10], rfrags(3)));
    assert_eq!(
        cut_link.dma_write_requests,
        whole_link.dma_write_requests + 2,
        "{cut_link:?} {whole_link:?}"
    );
    assert_eq!(cut_link.dma_write_bytes, whole_link.dma_write_bytes + 16);
}

/// A pipe pair of one ring of `slots` each way (port 0 master, 1 slave).
fn pipe_rig(slots: u32) -> Rig {
    Rig::new(
        NicVariant::Netmap,
        &[
            PortSpec::pipe(true, 1, 1, slots),
            PortSpec::pipe(false, 0, 1, slots),
        ],
        8,
    )
}

#[test]
fn pipe_write_back_gathers_runs_of_swapped_slots() {
    let mut rig = pipe_rig(8);
    let rx_bufs: Vec<u32> = (0..8).map(|i| rig.rx_slot(1, 0, i).buf_idx).collect();
    for i in [0, 1, 3, 4, 5] {
        rig.write_tx(0, 0, i, &[i as u8; 60], 0);
    }
    let bad = Slot {
        buf_idx: 1,
        len: 10,
        flags: 0,
    };
    rig.set_tx_slot(0, 0, 2, bad);
    let before = rig.nic.link_counters();
    rig.tx_doorbell(0, 0, 6);
    let link = rig.nic.link_counters().since(&before);
    // Slot 2 is skipped: runs of one-slot packets move a line's slots
    // with one RX write and one write of the host's copy: [0, 1] (the bad
    // slot ends the run), [3] (the line ends), [4, 5] (head). A pipe job's
    // runs stop half a ring (4 slots here) from its first slot: the job
    // publishes at slot 4 (two status entries) and its ring wakes for
    // [4, 5] (two more).
    assert_eq!(link.dma_write_requests, 3 + 3 + 2 + 2, "{link:?}");
    assert_eq!(link.dma_write_bytes, 16 * 5 + 16 * 5 + 8 * 4, "{link:?}");
    assert_eq!(rig.nic.port_counter(0, PortCounter::TxDropBadSlot), 1);
    assert_eq!(rig.tx_slot(0, 0, 2), bad, "a skipped slot is not written");
    for (i, rx) in [(0, 0), (1, 1), (3, 2), (4, 3), (5, 4)] {
        let swapped = Slot {
            buf_idx: rx_bufs[rx],
            len: 0,
            flags: NS_BUF_CHANGED,
        };
        assert_eq!(rig.tx_slot(0, 0, i), swapped, "slot {i}");
    }
    // Across the ring's end: a chain in slots 6, 7 and a frame in slot 0.
    rig.rx_release(1, 0, 5, true);
    assert_eq!(rig.status(0, false, 0), (6, 5));
    rig.write_tx(0, 0, 6, &[6u8; 60], NS_MOREFRAG);
    rig.write_tx(0, 0, 7, &[7u8; 60], 0);
    rig.write_tx(0, 0, 0, &[8u8; 60], 0);
    let before = rig.nic.link_counters();
    rig.tx_doorbell(0, 0, 1);
    let link = rig.nic.link_counters().since(&before);
    assert_eq!(link.dma_write_requests, 2 + 3 + 2, "{link:?}");
    for (i, rx) in [(6, 5), (7, 6), (0, 7)] {
        assert_eq!(rig.tx_slot(0, 0, i).buf_idx, rx_bufs[rx], "slot {i}");
    }
    assert_eq!(rig.status(1, true, 0).1, 0, "receiver got all eight");
}

#[test]
fn pipe_write_back_off_leaves_host_memory_alone() {
    let mut rig = pipe_rig(4);
    rig.disable_tx_write_back(0);
    let rx_buf = rig.rx_slot(1, 0, 0).buf_idx;
    rig.write_tx(0, 0, 0, &[1u8; 60], 0);
    let written = rig.tx_slot(0, 0, 0);
    let before = rig.nic.link_counters();
    rig.tx_doorbell(0, 0, 1);
    let link = rig.nic.link_counters().since(&before);
    assert_eq!(link.dma_write_requests, 1 + 2, "{link:?}");
    assert_eq!(rig.status(1, true, 0), (0, 1), "the frame crossed");
    assert_eq!(rig.tx_slot(0, 0, 0), written);
    assert_eq!(
        rig.tx_slot_bar2_copy(0, 0, 0),
        Slot {
            buf_idx: rx_buf,
            len: 0,
            flags: NS_BUF_CHANGED
        }
    );
}

#[test]
fn an_rx_doorbell_older_than_the_head_reread_never_moves_it_back() {
    // Wave 7, check (b): an RX doorbell waits in dp_sched while a job of
    // the peer runs; that job's re-read of the receiver's head already
    // saw a newer head (the receiver moved its head in memory again
    // without a doorbell). J_RXDB then checks the older head against the
    // newer cached one: it is refused, and the sender's room stays the
    // one of the newer head.
    let mut rig = pipe_rig(8);
    for i in 0..7 {
        rig.write_tx(0, 0, i, &[i as u8; 60], 0);
    }
    rig.tx_doorbell(0, 0, 7);
    assert_eq!(rig.status(1, true, 0), (0, 7));
    assert_eq!(
        rig.status(0, false, 0),
        (7, 7),
        "the receiver's ring is full"
    );
    // The receiver released up to 6 in memory (no doorbell yet).
    rig.rx_release(1, 0, 6, false);
    // The sender's ring is run again (nothing to move): its open re-reads
    // the receiver's head (the cached one, 0, is not the hwtail).
    let before = rig.nic.link_counters();
    rig.nic.tx_doorbell(0, 0, 7);
    let mut guard = 0;
    while rig.nic.link_counters().since(&before).dma_read_requests == 0 {
        rig.nic.tick();
        guard += 1;
        assert!(guard < 1000, "the head re-read never left");
    }
    // A doorbell with the older head 4 arrives while that job runs.
    rig.nic.rx_doorbell(1, 0, 4);
    rig.settle();
    // The room is the fresh head's: 6 - 1 - 7 (mod 8) = 6 slots.
    assert_eq!(rig.status(0, false, 0), (7, 5), "room from head 6, not 4");
    // The older head is behind the device's hwcur: a bad sync, by
    // netmap's rule (head in [hwcur, hwtail]).
    assert_eq!(rig.nic.port_counter(1, PortCounter::BadRingSyncs), 1);
    // The sender fills the six free slots; the receiver gets exactly them.
    for i in [7, 0, 1, 2, 3, 4] {
        rig.write_tx(0, 0, i, &[0x40 + i as u8; 60], 0);
    }
    rig.tx_doorbell(0, 0, 5);
    assert_eq!(
        rig.status(1, true, 0).1,
        5,
        "hwtail stops a slot before head 6"
    );
    assert_eq!(rig.nic.port_counter(1, PortCounter::RxPackets), 13);
}
