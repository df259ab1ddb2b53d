//! VALE switch behaviour as netmap documents it: learning from unicast
//! sources, flooding of broadcast, multicast and unknown unicast to every
//! port but the source, the source-equals-destination drop, frames under
//! 14 bytes dropped, `NS_NO_LEARN`, `NS_MOREFRAG` chains (whole, up to 64,
//! with the fragment count in the RX flags' high byte), `NS_INDIRECT`,
//! invalid slots dropped and counted, full destination rings, counters,
//! extra buffers, a replaceable lookup, and traffic between threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fixture::{Cap, Fixture};
use netmap_ring::abi::{ns_rfrags, NetmapSlot, NS_INDIRECT, NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::port::Interest;
use netmap_testkit::{frames::*, names::*, slots::*};
use vale_offload::chain::ETH_HEADER_LEN;
use vale_offload::counters::PortCounter as P;
use vale_offload::counters::SwitchCounter as S;
use vale_offload::table::{ForwardDecision, LearnOutcome, LearningTable};
use vale_soft::domain::RegionTable;
use vale_soft::forward::Lookup;

fn three_ports(f: &dyn Fixture, sw: &str) -> [netmap_ring::port::Port; 3] {
    ["a", "b", "c"].map(|p| f.open(&format!("{sw}:{p}")).unwrap())
}

fn unknown_unicast_floods_then_the_learned_port_alone_receives(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [mut a, mut b, mut c] = three_ports(f, &sw);
    let d = sw.as_str();
    put(&a, &frame(mac(2), mac(1), 0, 60), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 0, 60)]);
    assert_eq!(drain(&mut c), vec![frame(mac(2), mac(1), 0, 60)]);
    assert!(
        drain(&mut a).is_empty(),
        "a flood never returns to its source"
    );
    assert_eq!(f.switch_counter(d, S::Learns), 1);
    assert_eq!(f.switch_counter(d, S::Floods), 1);
    assert_eq!(f.switch_counter(d, S::Misses), 1);
    // b answers: mac(1) was learned on a, so only a receives; b is learned.
    put(&b, &frame(mac(1), mac(2), 1, 100), 0);
    b.txsync().unwrap();
    assert_eq!(drain(&mut a), vec![frame(mac(1), mac(2), 1, 100)]);
    assert!(drain(&mut c).is_empty());
    // Now a to b is unicast too.
    put(&a, &frame(mac(2), mac(1), 2, 70), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 2, 70)]);
    assert!(drain(&mut c).is_empty());
    assert_eq!(f.switch_counter(d, S::Lookups), 3);
    assert_eq!(f.switch_counter(d, S::Hits), 2);
    assert_eq!(f.switch_counter(d, S::Learns), 2);
    assert_eq!(
        f.switch_counter(d, S::Forwarded),
        4,
        "2 flood copies + 2 unicast"
    );
    assert_eq!(f.port_counter(d, "a", P::TxPackets), 2);
    assert_eq!(f.port_counter(d, "a", P::TxBytes), 130);
    assert_eq!(f.port_counter(d, "b", P::RxPackets), 2);
    assert_eq!(f.port_counter(d, "b", P::RxBytes), 130);
    assert_eq!(f.port_counter(d, "c", P::RxPackets), 1);
    // The learned entries name the right ports.
    assert_eq!(f.lookup(d, &mac(1)), Some(f.entry(d, "a") as u8));
    assert_eq!(f.lookup(d, &mac(2)), Some(f.entry(d, "b") as u8));
    f.assert_conserved(d);
}

fn broadcast_and_multicast_reach_every_port_but_the_source(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [mut a, mut b, mut c] = three_ports(f, &sw);
    let d = sw.as_str();
    for (seq, dst) in [BROADCAST, MULTICAST].into_iter().enumerate() {
        put(&a, &frame(dst, mac(1), seq as u32, 64), 0);
    }
    a.txsync().unwrap();
    let want = vec![
        frame(BROADCAST, mac(1), 0, 64),
        frame(MULTICAST, mac(1), 1, 64),
    ];
    assert_eq!(drain(&mut b), want);
    assert_eq!(drain(&mut c), want);
    assert!(drain(&mut a).is_empty());
    // Group sources are never learned: a frame from the broadcast address
    // still floods its answer.
    put(&b, &frame(mac(9), BROADCAST, 2, 60), 0);
    b.txsync().unwrap();
    put(&c, &frame(BROADCAST, mac(3), 3, 60), 0);
    c.txsync().unwrap();
    assert!(f.lookup(d, &BROADCAST).is_none());
    assert_eq!(drain(&mut a).len(), 2);
    assert_eq!(f.switch_counter(d, S::Floods), 4);
    f.assert_conserved(d);
}

fn a_frame_for_its_own_source_port_is_dropped(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, mut c] = three_ports(f, &sw);
    let d = sw.as_str();
    put(&a, &frame(BROADCAST, mac(1), 0, 60), 0); // learn mac(1) on a
    a.txsync().unwrap();
    drain(&mut b);
    drain(&mut c);
    put(&a, &frame(mac(1), mac(5), 1, 60), 0); // to itself
    a.txsync().unwrap();
    assert!(drain(&mut b).is_empty());
    assert!(drain(&mut c).is_empty());
    assert_eq!(f.port_counter(d, "a", P::TxDropSamePort), 1);
    assert_eq!(f.switch_counter(d, S::SamePortDrops), 1);
    assert_eq!(
        f.switch_counter(d, S::Hits),
        1,
        "it was a hit, on the source"
    );
    f.assert_conserved(d);
}

fn frames_under_an_ethernet_header_are_dropped(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, _c] = three_ports(f, &sw);
    let d = sw.as_str();
    for len in [0, 1, 13, 14, 15] {
        put(&a, &frame(BROADCAST, mac(1), 0, len), 0);
    }
    a.txsync().unwrap();
    let got = drain(&mut b);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![14, 15]);
    assert_eq!(f.port_counter(d, "a", P::TxDropShort), 3);
    assert_eq!(f.port_counter(d, "a", P::TxPackets), 2);
    assert_eq!(
        f.switch_counter(d, S::Lookups),
        2,
        "short frames are never looked up"
    );
    f.assert_conserved(d);
}

fn no_learn_flag_keeps_the_source_out_of_the_table(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, mut c] = three_ports(f, &sw);
    let d = sw.as_str();
    put(&a, &frame(BROADCAST, mac(1), 0, 60), NS_NO_LEARN);
    a.txsync().unwrap();
    assert_eq!(f.switch_counter(d, S::Learns), 0);
    assert!(f.lookup(d, &mac(1)).is_none());
    drain(&mut b);
    drain(&mut c);
    // b's frame to mac(1) must flood: nobody knows where it is.
    put(&b, &frame(mac(1), mac(2), 1, 60), 0);
    b.txsync().unwrap();
    assert_eq!(drain(&mut c).len(), 1);
    // Without the flag, a's next frame teaches the switch.
    put(&a, &frame(BROADCAST, mac(1), 2, 60), 0);
    a.txsync().unwrap();
    assert_eq!(f.lookup(d, &mac(1)), Some(f.entry(d, "a") as u8));
    f.assert_conserved(d);
}

/// Writes a chain of `lens.len()` slots (MOREFRAG on all but the last,
/// unless `finish` is false) carrying consecutive bytes of one frame.
fn put_chain(port: &netmap_ring::port::Port, whole: &[u8], lens: &[usize], finish: bool) {
    let mut at = 0;
    for (i, &len) in lens.iter().enumerate() {
        let last = i + 1 == lens.len();
        let flags = if last && finish { 0 } else { NS_MOREFRAG };
        put(port, &whole[at..at + len], flags);
        at += len;
    }
}

fn morefrag_chains_travel_whole_with_their_fragment_count(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, _c] = three_ports(f, &sw);
    let d = sw.as_str();
    let whole = frame(BROADCAST, mac(1), 0, 3000);
    put_chain(&a, &whole, &[1000, 1500, 500], true);
    a.txsync().unwrap();
    b.rxsync().unwrap();
    let rx = b.rx_ring(0);
    assert_eq!(rx.tail(), 3);
    for i in 0..3 {
        let flags = rx.slot(i).flags;
        assert_eq!(ns_rfrags(flags), 3, "NS_RFRAGS of slot {i}");
        assert_eq!(flags & NS_MOREFRAG != 0, i < 2, "MOREFRAG of slot {i}");
    }
    assert_eq!(b.next_packet().unwrap().data, whole);
    assert_eq!(f.port_counter(d, "a", P::TxPackets), 1);
    assert_eq!(f.port_counter(d, "a", P::TxBytes), 3000);
    assert_eq!(f.port_counter(d, "b", P::RxBytes), 3000);
    drain(&mut b);
    f.assert_conserved(d);
}

fn an_unfinished_chain_waits_for_its_last_slot(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, _c] = three_ports(f, &sw);
    let d = sw.as_str();
    let whole = frame(BROADCAST, mac(1), 0, 300);
    put(&a, &frame(BROADCAST, mac(1), 9, 60), 0);
    put_chain(&a, &whole, &[100, 100], false);
    a.txsync().unwrap();
    // The complete frame went; the chain stays with the kernel at hwcur.
    assert_eq!(drain(&mut b), vec![frame(BROADCAST, mac(1), 9, 60)]);
    let tx = a.tx_ring(0);
    assert_eq!(
        (tx.head(), tx.tail()),
        (3, 0),
        "tail stops before the pending chain"
    );
    put(&a, &whole[200..], 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![whole]);
    assert_eq!((tx.head(), tx.tail()), (4, 3));
    f.assert_conserved(d);
}

fn chains_of_64_pass_and_longer_ones_are_dropped(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, _c] = three_ports(f, &sw);
    let d = sw.as_str();
    let ok = frame(BROADCAST, mac(1), 1, 64 * 20);
    put_chain(&a, &ok, &[20; 64], true);
    let too_long = frame(BROADCAST, mac(1), 2, 65 * 20);
    put_chain(&a, &too_long, &[20; 65], true);
    put(&a, &frame(BROADCAST, mac(1), 3, 60), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![ok, frame(BROADCAST, mac(1), 3, 60)]);
    assert_eq!(f.port_counter(d, "a", P::TxDropChain), 1);
    assert_eq!(f.port_counter(d, "a", P::TxPackets), 2);
    // An unfinished chain already over 64 slots is dropped at once rather
    // than waiting forever.
    put_chain(&a, &frame(BROADCAST, mac(1), 4, 70 * 10), &[10; 70], false);
    a.txsync().unwrap();
    assert_eq!(f.port_counter(d, "a", P::TxDropChain), 2);
    assert!(drain(&mut b).is_empty());
    f.assert_conserved(d);
}

fn a_chain_that_does_not_fit_the_destination_is_dropped_whole(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let mut b = f.open(&format!("{sw}:b@conf:rx-slots=8")).unwrap();
    let d = sw.as_str();
    put(&a, &frame(BROADCAST, mac(1), 0, 60), 0);
    put(&a, &frame(BROADCAST, mac(1), 1, 60), 0);
    // 5 free slots left of 7; a 6-slot chain cannot go, the next frame can.
    put_chain(&a, &frame(BROADCAST, mac(1), 2, 600), &[100; 6], true);
    put(&a, &frame(BROADCAST, mac(1), 3, 60), 0);
    a.txsync().unwrap();
    let got: Vec<u32> = drain(&mut b)
        .iter()
        .map(|f| seq_of(f).expect("a test frame"))
        .collect();
    assert_eq!(got, vec![0, 1, 3]);
    assert_eq!(f.port_counter(d, "b", P::RxDropFull), 1);
    assert_eq!(f.port_counter(d, "a", P::TxDropFull), 1);
    f.assert_conserved(d);
}

fn indirect_payloads_are_read_through_ptr(f: &dyn Fixture) {
    let sw = unique_switch("v");
    // The device backends refuse extra buffers (and the RTL has no
    // NS_INDIRECT): the refusal is the check there.
    let Some(a) = f.open_extra_if(Cap::ExtraBufs, &format!("{sw}:a"), 1) else {
        return;
    };
    let [mut b] = ["b"].map(|p| f.open(&format!("{sw}:{p}")).unwrap());
    let d = sw.as_str();
    // The payload sits in an extra buffer, 8 bytes in (past the list link).
    let extra = a.extra_bufs_head();
    let payload = frame(BROADCAST, mac(1), 5, 200);
    let at = a.buf_offset(extra).unwrap() + 8;
    a.region().write_bytes(at, &payload).unwrap();
    let base = a.region().base_addr() as u64;
    let slot = a.tx_ring(0).slot(0);
    let (_, _) = put_raw(
        &a,
        NetmapSlot {
            buf_idx: slot.buf_idx,
            len: payload.len() as u16,
            flags: NS_INDIRECT,
            ptr: base + at as u64,
        },
    );
    // A pointer outside the mapped region is a bad slot.
    let slot = a.tx_ring(0).slot(1);
    put_raw(
        &a,
        NetmapSlot {
            buf_idx: slot.buf_idx,
            len: 60,
            flags: NS_INDIRECT,
            ptr: base + a.region().len() as u64 - 30,
        },
    );
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![payload]);
    assert_eq!(f.port_counter(d, "a", P::TxDropBadSlot), 1);
    f.assert_conserved(d);
}

fn invalid_slots_are_dropped_counted_and_never_followed(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, _c] = three_ports(f, &sw);
    let d = sw.as_str();
    let num_bufs = a.layout().buffers.num_bufs;
    let buf_size = a.buf_size();
    let good = |seq| frame(BROADCAST, mac(1), seq, 60);
    put(&a, &good(0), 0);
    let mut restore = Vec::new();
    for (buf_idx, len) in [(num_bufs, 60), (u32::MAX, 60), (0, 60), (1, 60)] {
        restore.push(put_raw(
            &a,
            NetmapSlot {
                buf_idx,
                len,
                flags: 0,
                ptr: 0,
            },
        ));
    }
    // A real buffer with a length past its end.
    let ring = a.tx_ring(0);
    let idx = ring.slot(ring.cur()).buf_idx;
    put_raw(
        &a,
        NetmapSlot {
            buf_idx: idx,
            len: buf_size as u16 + 1,
            flags: 0,
            ptr: 0,
        },
    );
    // One bad fragment spoils its whole chain.
    put(&a, &good(1)[..30], NS_MOREFRAG);
    restore.push(put_raw(
        &a,
        NetmapSlot {
            buf_idx: num_bufs + 7,
            len: 30,
            flags: 0,
            ptr: 0,
        },
    ));
    put(&a, &good(2), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![good(0), good(2)]);
    assert_eq!(f.port_counter(d, "a", P::TxDropBadSlot), 6);
    assert_eq!(f.port_counter(d, "a", P::TxPackets), 2);
    // Give the ring its buffers back before counting them.
    for (slot, old) in restore {
        ring.set_buf_idx(slot, old.buf_idx);
    }
    f.assert_conserved(d);
}

fn a_bad_buffer_in_the_destination_rx_ring_drops_the_frame_not_the_switch(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let mut b = f.open(&format!("{sw}:b")).unwrap();
    let d = sw.as_str();
    let rx = b.rx_ring(0);
    let original = rx.slot(0).buf_idx;
    rx.set_buf_idx(0, b.layout().buffers.num_bufs + 1);
    put(&a, &frame(BROADCAST, mac(1), 0, 60), 0);
    a.txsync().unwrap();
    assert_eq!(f.port_counter(d, "b", P::RxDropBadBuf), 1);
    b.rxsync().unwrap();
    assert_eq!(rx.tail(), 0);
    rx.set_buf_idx(0, original);
    put(&a, &frame(BROADCAST, mac(1), 1, 60), 0);
    a.txsync().unwrap();
    if f.supports(Cap::RewriteReleasedRxSlot) {
        assert_eq!(drain(&mut b), vec![frame(BROADCAST, mac(1), 1, 60)]);
    } else {
        // The device prefetched the released slot with its bad index; the
        // repair (outside its protocol) is not seen, the frame is dropped.
        assert!(drain(&mut b).is_empty());
        assert_eq!(f.port_counter(d, "b", P::RxDropBadBuf), 2);
    }
    f.assert_conserved(d);
}

fn a_full_destination_ring_drops_and_counts(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let mut b = f.open(&format!("{sw}:b@conf:rx-slots=16")).unwrap();
    let mut c = f.open(&format!("{sw}:c")).unwrap();
    let d = sw.as_str();
    for seq in 0..40 {
        put(&a, &frame(BROADCAST, mac(1), seq, 60), 0);
    }
    a.txsync().unwrap();
    assert_eq!(drain(&mut b).len(), 15, "16 slots hold 15 frames");
    assert_eq!(drain(&mut c).len(), 40, "c's ring had room for all");
    assert_eq!(f.port_counter(d, "b", P::RxDropFull), 25);
    assert_eq!(f.port_counter(d, "a", P::TxDropFull), 25);
    assert_eq!(f.port_counter(d, "a", P::TxPackets), 40);
    f.assert_conserved(d);
}

fn a_flood_with_nobody_to_receive_is_counted(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let d = sw.as_str();
    put(&a, &frame(BROADCAST, mac(1), 0, 60), 0);
    a.txsync().unwrap();
    assert_eq!(f.port_counter(d, "a", P::TxDropNoDest), 1);
    f.assert_conserved(d);
}

/// A flood whose every destination is full is counted once per dropped
/// copy (TxDropFull), not as a frame with nowhere to go.
fn a_flood_into_full_rings_is_not_a_flood_without_destination(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let _b = f.open(&format!("{sw}:b@conf:rx-slots=4")).unwrap();
    let _c = f.open(&format!("{sw}:c@conf:rx-slots=4")).unwrap();
    let d = sw.as_str();
    for seq in 0..5 {
        put(&a, &frame(BROADCAST, mac(1), seq, 60), 0);
    }
    a.txsync().unwrap();
    assert_eq!(
        f.port_counter(d, "a", P::TxDropFull),
        4,
        "2 copies of 2 frames"
    );
    assert_eq!(f.port_counter(d, "a", P::TxDropNoDest), 0);
    f.assert_conserved(d);
}

fn a_port_that_closes_is_forgotten_by_the_table(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, c] = three_ports(f, &sw);
    let d = sw.as_str();
    let b_entry = f.entry(d, "b") as u8;
    put(&b, &frame(BROADCAST, mac(2), 0, 60), 0);
    b.txsync().unwrap();
    put(&c, &frame(BROADCAST, mac(3), 0, 60), 0);
    c.txsync().unwrap();
    assert!(f.lookup(d, &mac(3)).is_some());
    drop(c);
    assert!(f.lookup(d, &mac(3)).is_none());
    // Only c's MACs are forgotten: b's stays.
    assert_eq!(f.lookup(d, &mac(2)), Some(b_entry));
    // A new port may take c's index; frames for mac(3) flood, reaching b.
    let mut c2 = f.open(&format!("{sw}:c2")).unwrap();
    drain(&mut b);
    put(&a, &frame(mac(3), mac(1), 1, 60), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b).len(), 1);
    assert_eq!(drain(&mut c2).len(), 1);
    // Frames for b's MAC still go to b alone, no flood.
    let floods = f.switch_counter(d, S::Floods);
    put(&a, &frame(mac(2), mac(1), 2, 60), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 2, 60)]);
    assert!(drain(&mut c2).is_empty(), "b's MAC was kept: no flood");
    assert_eq!(f.switch_counter(d, S::Floods), floods);
    f.assert_conserved(d);
}

fn extra_buffers_form_a_list_and_return_on_close(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let keeper = f.open(&format!("{sw}:keeper")).unwrap();
    let d = sw.as_str();
    let free_before = f.free_buffers(d);
    let Some(a) = f.open_extra_if(Cap::ExtraBufs, &format!("{sw}:a"), 8) else {
        return;
    };
    // Walk nr_extra_bufs' list: each buffer's first u32 names the next.
    let mut list = Vec::new();
    let mut next = a.extra_bufs_head();
    while next != 0 {
        assert!(a.buf_offset(next).is_some(), "listed buffer {next} is real");
        assert!(!list.contains(&next), "list loops at {next}");
        list.push(next);
        let mut link = [0u8; 4];
        a.read_buf(next, &mut link).unwrap();
        next = u32::from_ne_bytes(link);
        assert!(list.len() <= 8);
    }
    assert_eq!(list.len(), 8);
    let ring_bufs = 2 * 1024;
    assert_eq!(f.free_buffers(d), free_before - 8 - ring_bufs);
    f.assert_conserved(d);
    // Swap one extra buffer into a TX slot (netmap's zero-copy idiom) and
    // list the slot's old buffer instead: still conserved, all back on close.
    let tx = a.tx_ring(0);
    let old = tx.slot(0).buf_idx;
    tx.set_buf_idx(0, list[0]);
    a.write_buf(old, &list[1].to_ne_bytes()).unwrap();
    a.set_extra_bufs_head(old);
    f.assert_conserved(d);
    drop(a);
    assert_eq!(f.free_buffers(d), free_before);
    f.assert_conserved(d);
    drop(keeper);
}

/// A user-supplied forwarding policy (netmap's `bdg_ops.lookup`): send
/// every frame to the port named in the low byte of the destination MAC.
struct ByLastByte;

impl Lookup for ByLastByte {
    fn lookup(
        &self,
        header: &[u8; ETH_HEADER_LEN],
        _src_port: u8,
        _learn: bool,
        _table: &LearningTable<RegionTable>,
    ) -> ForwardDecision {
        ForwardDecision {
            port: header[5],
            hit: true,
            learned: LearnOutcome::Skipped,
        }
    }
}

fn the_lookup_function_is_replaceable(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let [a, mut b, mut c] = three_ports(f, &sw);
    let d = sw.as_str();
    // The hook is a function of the process that forwards: soft only.
    let domain = crate::fixture::domain(&sw);
    domain.set_lookup(Arc::new(ByLastByte));
    let to_c = f.entry(d, "c") as u8;
    put(&a, &frame([2, 0, 0, 0, 0, to_c], mac(1), 0, 60), 0);
    a.txsync().unwrap();
    assert!(drain(&mut b).is_empty());
    assert_eq!(drain(&mut c).len(), 1);
    assert_eq!(f.switch_counter(d, S::Learns), 0);
    domain.set_lookup(Arc::new(vale_soft::forward::LearningBridge));
    f.assert_conserved(d);
}

/// Sender and receiver on different threads, the receiver blocking in
/// poll(). VALE never blocks the sender, so frames the receiver had no room
/// for are dropped; the rest arrive in order, and the counters account for
/// every frame.
fn threads_unicast_in_order_with_every_drop_counted(f: &dyn Fixture) {
    let frames = f.frames(20_000);
    let sw = unique_switch("v");
    let mut a = f.open(&format!("{sw}:a")).unwrap();
    let mut b = f.open(&format!("{sw}:b")).unwrap();
    let d = sw.as_str();
    // Teach the switch where mac(2) is, so a's frames are unicast.
    put(&b, &frame(mac(1), mac(2), 0, 60), 0);
    b.txsync().unwrap();
    drain(&mut a);
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut seqs = Vec::new();
            loop {
                let ready = b
                    .poll(Interest::RX, Some(Duration::from_millis(50)))
                    .unwrap();
                if !ready.rx && done.load(Ordering::Acquire) {
                    break;
                }
                assert!(Instant::now() < deadline, "receiver timed out");
                b.dispatch(0, |p| {
                    let seq = seq_of(&p.data).expect("a test frame");
                    assert_eq!(p.data, frame(mac(2), mac(1), seq, p.data.len()));
                    seqs.push(seq);
                });
            }
            (b, seqs)
        })
    };
    let sender = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seq = 0;
            while seq < frames {
                a.poll(Interest::TX, Some(Duration::from_secs(5))).unwrap();
                let burst = (frames - seq).min(256);
                for _ in 0..burst {
                    assert!(a.inject(&frame(mac(2), mac(1), seq, 60 + (seq % 64) as usize)));
                    seq += 1;
                }
                a.txsync().unwrap();
                if seq % 2048 == 0 {
                    std::thread::yield_now();
                }
            }
            done.store(true, Ordering::Release);
            a
        })
    };
    let a = sender.join().unwrap();
    let (b, seqs) = receiver.join().unwrap();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of order");
    assert!(!seqs.is_empty());
    let dropped = f.port_counter(d, "b", P::RxDropFull);
    assert_eq!(seqs.len() as u64 + dropped, u64::from(frames));
    assert_eq!(f.port_counter(d, "a", P::TxDropFull), dropped);
    assert_eq!(f.port_counter(d, "b", P::RxPackets), seqs.len() as u64);
    assert_eq!(f.port_counter(d, "a", P::TxPackets), u64::from(frames));
    f.assert_conserved(d);
    drop((a, b));
}

/// DESIGN.md section 4: up to 254 ports per switch (the device: its port
/// entries); one more is refused. A broadcast from one reaches the others.
fn a_switch_takes_254_ports(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let max = f.max_ports();
    let ports: Vec<netmap_ring::port::Port> = (0..max)
        .map(|i| f.open(&format!("{sw}:p{i}@conf:slots=2")).unwrap())
        .collect();
    match f.open(&format!("{sw}:extra@conf:slots=2")) {
        Err(netmap_ring::port::PortError::SwitchFull { max: said, .. }) => assert_eq!(said, max),
        other => panic!("expected SwitchFull, got {other:?}"),
    }
    let d = sw.as_str();
    let last = ports.last().unwrap();
    put(&ports[0], &frame(BROADCAST, mac(1), 0, 60), 0);
    ports[0].txsync().unwrap();
    assert_eq!(f.switch_counter(d, S::Forwarded), u64::from(max - 1));
    last.rxsync().unwrap();
    assert_eq!(last.rx_ring(0).tail(), 1);
    f.assert_conserved(d);
}

/// A documented difference (docs/semantics.md): one binding per port at a
/// time; a second open is refused with the owner's pid until it closes.
fn a_bound_port_is_busy_until_it_closes(f: &dyn Fixture) {
    let sw = unique_switch("v");
    let a = f.open(&format!("{sw}:a@conf:rings=2,slots=256")).unwrap();
    let again: &[&str] = if f.supports(Cap::RingSubset) {
        &["a", "a-1"]
    } else {
        &["a"]
    };
    for again in again {
        match f.open(&format!("{sw}:{again}")) {
            Err(netmap_ring::port::PortError::Busy { owner, .. }) => {
                assert_eq!(owner, f.owner_pid(&a))
            }
            other => panic!("{again}: expected Busy, got {other:?}"),
        }
    }
    let keep = f.open(&format!("{sw}:keep")).unwrap();
    drop(a);
    // The port went with its last binding: a new "a" has netmap's default
    // single ring pair, so ring 1 no longer exists.
    if f.supports(Cap::RingSubset) {
        match f.open(&format!("{sw}:a-1")) {
            Err(netmap_ring::port::PortError::Config { .. }) => {}
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }
    let a = f.open(&format!("{sw}:a")).unwrap();
    assert_eq!((a.tx_rings(), a.rx_rings()), (1, 1));
    f.assert_conserved(&sw);
    drop((a, keep));
}

cases!(
    unknown_unicast_floods_then_the_learned_port_alone_receives,
    broadcast_and_multicast_reach_every_port_but_the_source,
    a_frame_for_its_own_source_port_is_dropped,
    frames_under_an_ethernet_header_are_dropped,
    no_learn_flag_keeps_the_source_out_of_the_table,
    morefrag_chains_travel_whole_with_their_fragment_count,
    an_unfinished_chain_waits_for_its_last_slot,
    chains_of_64_pass_and_longer_ones_are_dropped,
    a_chain_that_does_not_fit_the_destination_is_dropped_whole,
    invalid_slots_are_dropped_counted_and_never_followed,
    a_bad_buffer_in_the_destination_rx_ring_drops_the_frame_not_the_switch,
    a_full_destination_ring_drops_and_counts,
    a_flood_with_nobody_to_receive_is_counted,
    a_flood_into_full_rings_is_not_a_flood_without_destination,
    a_port_that_closes_is_forgotten_by_the_table,
    extra_buffers_form_a_list_and_return_on_close,
    threads_unicast_in_order_with_every_drop_counted,
    a_switch_takes_254_ports,
    a_bound_port_is_busy_until_it_closes,
);

// The lookup hook is a function pointer of the process that forwards: the
// device has its own table, and in `process` the forwarding runs in the
// port processes (docs/conformance.md).
cases!([Soft on_soft] the_lookup_function_is_replaceable);

// `ptr` is an address in the process that syncs; in `process` the sync runs
// in the port's process, not where the test wrote the pointer.
cases!(
    [Soft on_soft, Sim on_sim, VfioUser on_vfio_user]
    indirect_payloads_are_read_through_ptr
);
