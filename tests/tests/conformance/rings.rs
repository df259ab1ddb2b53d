//! netmap's ring protocol, step by step as the netmap(4) man page draws the
//! TX and RX rings: what `head`, `cur` and `tail` mean, what each sync
//! changes, the rule that `tail` moves only inside a sync, the refusal of
//! bad `head`/`cur` (ring reinitialised to `head = cur = hwcur`), ring
//! selection (`-N`, `/R`, `/T`) and `@conf:` geometry.

use std::time::Duration;

use crate::fixture::{Cap, Fixture};
use netmap_ring::port::{Interest, PortError, SyncError};
use netmap_ring::ring::{self, RingError};
use netmap_testkit::{frames::*, names::*, slots::*};
use vale_offload::counters::PortCounter;

fn a_new_tx_ring_offers_every_slot_but_one_and_a_new_rx_ring_is_empty(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let tx = a.tx_ring(0);
    let rx = a.rx_ring(0);
    assert_eq!(tx.num_slots(), 1024, "netmap's default VALE ring");
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (0, 0, 1023));
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (0, 0, 0));
    assert_eq!((a.tx_rings(), a.rx_rings()), (1, 1));
    // Every slot starts with a buffer of its own.
    let mut seen = std::collections::HashSet::new();
    for ring in [tx, rx] {
        for i in 0..ring.num_slots() {
            assert!(a.buf_offset(ring.slot(i).buf_idx).is_some());
            assert!(
                seen.insert(ring.slot(i).buf_idx),
                "buffer shared by two slots"
            );
        }
    }
    f.assert_conserved(&sw);
}

/// The man page's TX diagram: the user fills slots from `head`, moves
/// `head`/`cur` past them and calls txsync; the kernel takes `hwcur..head`
/// and, once they are sent, moves `tail` to hand them back. A VALE port
/// transmits inside the sync, so afterwards `tail` sits just before `head`.
fn tx_ring_steps(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let mut b = f.open(&format!("{sw}:b")).unwrap();
    let tx = a.tx_ring(0);
    for seq in 0..3 {
        put(&a, &frame(mac(2), mac(1), seq, 60), 0);
    }
    // Filled but not synced: the kernel has seen nothing, tail is where it
    // was and nothing reached b.
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (3, 3, 1023));
    b.rxsync().unwrap();
    assert_eq!(b.rx_ring(0).tail(), 0);

    a.txsync().unwrap();
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (3, 3, 2));
    assert!(!ring::tx_pending(tx.head(), tx.tail(), tx.num_slots()));
    let got = drain(&mut b);
    assert_eq!(
        got,
        (0..3)
            .map(|s| frame(mac(2), mac(1), s, 60))
            .collect::<Vec<_>>()
    );

    // A sync with nothing new changes nothing.
    a.txsync().unwrap();
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (3, 3, 2));

    // Around the end of the ring: head wraps to 0.
    let n = tx.num_slots();
    tx.set_head(n - 1);
    tx.set_cur(n - 1);
    a.txsync().unwrap(); // slots 3..n-1 go out with whatever they held (len 0: dropped as short)
    assert_eq!(tx.tail(), n - 2);
    put(&a, &frame(mac(2), mac(1), 7, 60), 0);
    assert_eq!(tx.head(), 0);
    a.txsync().unwrap();
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (0, 0, n - 1));
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 7, 60)]);
    let d = sw.as_str();
    assert_eq!(
        f.port_counter(d, "a", PortCounter::TxDropShort),
        u64::from(n - 4)
    );
    f.assert_conserved(d);
}

/// The man page's RX diagram: `head..tail` holds received slots; the user
/// reads them, moves `head` to release them, and the next rxsync both
/// returns them to the kernel (`hwcur = head`) and publishes new arrivals
/// (`tail = hwtail`).
fn rx_ring_steps(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let b = f.open(&format!("{sw}:b@conf:rx-slots=8")).unwrap();
    let rx = b.rx_ring(0);
    assert_eq!(rx.num_slots(), 8);
    for seq in 0..3 {
        put(&a, &frame(mac(2), mac(1), seq, 60 + seq as usize), 0);
    }
    a.txsync().unwrap();
    // Delivered into b's kernel ring, but tail moves only in b's sync.
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (0, 0, 0));
    b.rxsync().unwrap();
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (0, 0, 3));
    for i in 0..3 {
        let slot = rx.slot(i);
        assert_eq!(slot.len, 60 + i as u16);
        let mut data = vec![0; slot.len as usize];
        b.read_buf(slot.buf_idx, &mut data).unwrap();
        assert_eq!(data, frame(mac(2), mac(1), i, 60 + i as usize));
    }
    // Release two slots; the third stays ours.
    rx.set_head(2);
    rx.set_cur(2);
    b.rxsync().unwrap();
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (2, 2, 3));
    // Only 8 - 1 - 1 = 6 slots are free in the kernel's view now (one held
    // by us, one always empty): the 7th frame of a burst is dropped.
    for seq in 10..17 {
        put(&a, &frame(mac(2), mac(1), seq, 60), 0);
    }
    a.txsync().unwrap();
    b.rxsync().unwrap();
    assert_eq!(rx.tail(), 1, "3 + 6 slots, wrapped");
    let d = sw.as_str();
    assert_eq!(f.port_counter(d, "b", PortCounter::RxDropFull), 1);
    assert_eq!(f.port_counter(d, "a", PortCounter::TxDropFull), 1);
    assert_eq!(f.port_counter(d, "b", PortCounter::RxPackets), 9);
    // The ring is full: head == tail + 1.
    assert_eq!(ring::space(rx.head(), rx.tail(), 8), 7);
    f.assert_conserved(d);
}

/// `cur` is the wake-up point: poll() on RX returns only when `tail`
/// moves past `cur`, even if `head..cur` holds unread slots.
fn rx_cur_ahead_of_head_waits_for_more(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let b = f.open(&format!("{sw}:b")).unwrap();
    put(&a, &frame(mac(2), mac(1), 0, 60), 0);
    a.txsync().unwrap();
    let ready = b.poll(Interest::RX, Some(Duration::from_secs(5))).unwrap();
    assert!(ready.rx);
    let rx = b.rx_ring(0);
    assert_eq!((rx.head(), rx.tail()), (0, 1));
    rx.set_cur(1); // keep the slot, ask for more
    let ready = b
        .poll(Interest::RX, Some(Duration::from_millis(30)))
        .unwrap();
    assert!(!ready.rx, "nothing past cur yet");
    assert_eq!(rx.head(), 0, "the kept slot is still ours");
    put(&a, &frame(mac(2), mac(1), 1, 60), 0);
    a.txsync().unwrap();
    let ready = b.poll(Interest::RX, Some(Duration::from_secs(5))).unwrap();
    assert!(ready.rx);
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (0, 1, 2));
    f.assert_conserved(&sw);
}

/// poll() for TX syncs the ring: a TX ring the user filled to `tail`
/// (cur == tail: no room) is ready again after the poll's txsync.
fn tx_poll_syncs_and_reports_room(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a@conf:slots=16")).unwrap();
    let _b = f.open(&format!("{sw}:b")).unwrap();
    let tx = a.tx_ring(0);
    for seq in 0..15 {
        put(&a, &frame(mac(2), mac(1), seq, 60), 0);
    }
    assert!(ring::empty(tx.cur(), tx.tail()), "no room left");
    let ready = a.poll(Interest::TX, Some(Duration::from_secs(5))).unwrap();
    assert!(ready.tx);
    assert_eq!(tx.tail(), 14, "all 15 sent, every slot but one free again");
    f.assert_conserved(&sw);
}

fn assert_reinit(e: SyncError, ring_id: u32) -> RingError {
    match e {
        SyncError::BadRing { ring, source } => {
            assert_eq!(ring, ring_id);
            source
        }
        other => panic!("expected BadRing, got {other}"),
    }
}

fn bad_tx_head_or_cur_is_refused_and_the_ring_reinitialised(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a@conf:slots=64")).unwrap();
    let mut b = f.open(&format!("{sw}:b")).unwrap();
    let d = sw.as_str();
    let tx = a.tx_ring(0);
    put(&a, &frame(mac(2), mac(1), 0, 60), 0);
    a.txsync().unwrap();
    assert_eq!((tx.head(), tx.tail()), (1, 0));

    // head out of range.
    put(&a, &frame(mac(2), mac(1), 1, 60), 0);
    tx.set_head(64);
    let source = assert_reinit(a.txsync().unwrap_err(), 0);
    assert!(matches!(source, RingError::OutOfRange { value: 64, .. }));
    assert_eq!(
        (tx.head(), tx.cur(), tx.tail()),
        (1, 1, 0),
        "head = cur = hwcur"
    );
    // cur behind head.
    put(&a, &frame(mac(2), mac(1), 2, 60), 0);
    put(&a, &frame(mac(2), mac(1), 3, 60), 0);
    tx.set_cur(2);
    let source = assert_reinit(a.txsync().unwrap_err(), 0);
    assert!(matches!(source, RingError::CurOutsideWindow { .. }));
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (1, 1, 0));
    // cur out of range.
    tx.set_cur(1000);
    assert_reinit(a.txsync().unwrap_err(), 0);
    assert_eq!((tx.head(), tx.cur(), tx.tail()), (1, 1, 0));

    // The device driver refuses these syncs on the host; the device,
    // which never sees them, counts none (docs/conformance.md).
    let counted = if f.supports(Cap::CountsRefusedSyncs) {
        3
    } else {
        0
    };
    assert_eq!(f.port_counter(d, "a", PortCounter::BadRingSyncs), counted);
    // Nothing of the refused syncs went out; only frame 0 did.
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 0, 60)]);
    // The reinitialised ring works.
    put(&a, &frame(mac(2), mac(1), 9, 60), 0);
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 9, 60)]);
    f.assert_conserved(d);
}

fn bad_rx_head_is_refused_and_the_ring_reinitialised(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let mut b = f.open(&format!("{sw}:b@conf:slots=32")).unwrap();
    let d = sw.as_str();
    for seq in 0..3 {
        put(&a, &frame(mac(2), mac(1), seq, 60), 0);
    }
    a.txsync().unwrap();
    b.rxsync().unwrap();
    let rx = b.rx_ring(0);
    assert_eq!(rx.tail(), 3);
    // Releasing past tail: slots we do not own.
    rx.set_head(5);
    rx.set_cur(5);
    let source = assert_reinit(b.rxsync().unwrap_err(), 0);
    assert!(matches!(
        source,
        RingError::HeadOutsideWindow { head: 5, .. }
    ));
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (0, 0, 3));
    // head moving backwards past hwcur.
    rx.set_head(2);
    rx.set_cur(2);
    b.rxsync().unwrap();
    rx.set_head(1);
    rx.set_cur(1);
    assert_reinit(b.rxsync().unwrap_err(), 0);
    assert_eq!((rx.head(), rx.cur(), rx.tail()), (2, 2, 3));
    // The device driver refuses these syncs on the host; the device,
    // which never sees them, counts none (docs/conformance.md).
    let counted = if f.supports(Cap::CountsRefusedSyncs) {
        2
    } else {
        0
    };
    assert_eq!(f.port_counter(d, "b", PortCounter::BadRingSyncs), counted);
    // Nothing was lost: the third frame is still there.
    assert_eq!(drain(&mut b), vec![frame(mac(2), mac(1), 2, 60)]);
    f.assert_conserved(d);
}

/// `tail` is written only by syncs: traffic arriving while the receiver
/// never syncs leaves its ring header untouched.
fn tail_changes_only_inside_a_sync(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let b = f.open(&format!("{sw}:b")).unwrap();
    let rx = b.rx_ring(0);
    let tx = a.tx_ring(0);
    for round in 0..5u32 {
        for seq in 0..10 {
            put(&a, &frame(mac(2), mac(1), round * 10 + seq, 60), 0);
        }
        let before = tx.tail();
        a.txsync().unwrap();
        assert_ne!(tx.tail(), before, "the sender's own sync moves its tail");
        assert_eq!(rx.tail(), 0, "round {round}: receiver did not sync");
    }
    b.rxsync().unwrap();
    assert_eq!(rx.tail(), 50);
    f.assert_conserved(&sw);
}

fn conf_sets_ring_counts_and_sizes(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a@conf:rings=4,slots=256")).unwrap();
    assert_eq!((a.tx_rings(), a.rx_rings()), (4, 4));
    for n in 0..4 {
        assert_eq!(a.tx_ring(n).num_slots(), 256);
        assert_eq!(a.rx_ring(n).num_slots(), 256);
        assert_eq!(a.tx_ring(n).tail(), 255);
        assert_eq!(a.layout().tx_rings[n].id, n as u32);
    }
    let b = f
        .open(&format!(
            "{sw}:b@conf:tx-rings=2,rx-rings=3,tx-slots=64,rx-slots=128"
        ))
        .unwrap();
    assert_eq!((b.tx_rings(), b.rx_rings()), (2, 3));
    assert_eq!(b.tx_ring(1).num_slots(), 64);
    assert_eq!(b.rx_ring(2).num_slots(), 128);
    // More rings than the device serves: refused there, fine elsewhere.
    let _e = f.open_if(Cap::ManyRings, &format!("{sw}:e@conf:rings=5"));
    for bad in ["slots=5000", "rings=17", "slots=1"] {
        match f.open(&format!("{sw}:c@conf:{bad}")) {
            Err(PortError::Config { .. }) => {}
            other => panic!("{bad}: expected a configuration error, got {other:?}"),
        }
    }
    f.assert_conserved(&sw);
}

/// `-N` binds ring pair N only; a VALE port's unicast goes to RX ring
/// (source ring mod destination RX rings), broadcast to RX ring 0.
fn one_ring_binding_and_ring_choice_of_forwarding(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let Some(mut a) = f.open_if(Cap::RingSubset, &format!("{sw}:a-2@conf:rings=4")) else {
        return;
    };
    assert_eq!((a.tx_rings(), a.rx_rings()), (1, 1));
    assert_eq!(a.layout().tx_rings[0].id, 2);
    assert_eq!(a.layout().rx_rings[0].id, 2);
    let mut b = f.open(&format!("{sw}:b@conf:rings=4")).unwrap();
    let mut c = f.open(&format!("{sw}:c")).unwrap();
    // a learns nothing yet; b's frame to a floods to RX ring 0 of a and c.
    put_on(&b, 1, &frame(mac(1), mac(2), 0, 60), 0);
    b.txsync().unwrap();
    assert!(
        drain(&mut a).is_empty(),
        "a bound ring 2 only; the flood went to ring 0"
    );
    assert_eq!(drain(&mut c), vec![frame(mac(1), mac(2), 0, 60)]);
    // a (TX ring 2) to b, known: b's RX ring 2.
    put(&a, &frame(mac(2), mac(1), 1, 60), 0);
    a.txsync().unwrap();
    b.rxsync().unwrap();
    assert_eq!(b.rx_ring(2).tail(), 1);
    for other in [0, 1, 3] {
        assert_eq!(b.rx_ring(other).tail(), 0, "ring {other}");
    }
    let packet = b.next_packet().unwrap();
    assert_eq!(
        (packet.ring, packet.data),
        (2, frame(mac(2), mac(1), 1, 60))
    );
    // a's broadcast: RX ring 0 of b and c.
    put(&a, &frame(BROADCAST, mac(1), 2, 60), 0);
    a.txsync().unwrap();
    b.rxsync().unwrap();
    assert_eq!(b.rx_ring(0).tail(), 1);
    assert_eq!(drain(&mut c), vec![frame(BROADCAST, mac(1), 2, 60)]);
    f.assert_conserved(&sw);
}

/// A refused registration leaves nothing behind: no port entry, and the
/// switch still goes away with its last real port.
fn a_refused_ring_selection_leaves_no_port_behind(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    match f.open(&format!("{sw}:d-5")) {
        Err(PortError::Config { .. }) => {}
        // A backend without ring subsets refuses any `-N`.
        Err(PortError::Unsupported { .. }) if !f.supports(Cap::RingSubset) => {}
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(f.find(&sw, "d"), None, "entry of the refused port");
    f.assert_conserved(&sw);
    drop(a);
    assert!(!f.domain_exists(&sw), "the switch outlived its last port");
}

fn rx_only_and_tx_only_bindings(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let Some(r) = f.open_if(Cap::RingSubset, &format!("{sw}:r/R")) else {
        return;
    };
    assert_eq!((r.tx_rings(), r.rx_rings()), (0, 1));
    let t = f.open_if(Cap::RingSubset, &format!("{sw}:t/T")).unwrap();
    assert_eq!((t.tx_rings(), t.rx_rings()), (1, 0));
    put(&t, &frame(BROADCAST, mac(1), 0, 60), 0);
    t.txsync().unwrap();
    r.rxsync().unwrap();
    assert_eq!(r.rx_ring(0).tail(), 1);
    f.assert_conserved(&sw);
}

fn the_switch_goes_away_with_its_last_port(f: &dyn Fixture) {
    let sw = unique_switch("r");
    let a = f.open(&format!("{sw}:a")).unwrap();
    let b = f.open(&format!("{sw}:b")).unwrap();
    assert!(f.domain_exists(&sw));
    drop(a);
    assert!(f.domain_exists(&sw), "b still holds the switch");
    drop(b);
    assert!(!f.domain_exists(&sw), "the last close destroys the switch");
}

cases!(
    a_new_tx_ring_offers_every_slot_but_one_and_a_new_rx_ring_is_empty,
    tx_ring_steps,
    rx_ring_steps,
    rx_cur_ahead_of_head_waits_for_more,
    tx_poll_syncs_and_reports_room,
    bad_tx_head_or_cur_is_refused_and_the_ring_reinitialised,
    bad_rx_head_is_refused_and_the_ring_reinitialised,
    tail_changes_only_inside_a_sync,
    conf_sets_ring_counts_and_sizes,
    one_ring_binding_and_ring_choice_of_forwarding,
    a_refused_ring_selection_leaves_no_port_behind,
    rx_only_and_tx_only_bindings,
    the_switch_goes_away_with_its_last_port,
);
