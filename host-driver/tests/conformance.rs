//! The same netmap behaviour on every backend: each check runs on `soft`
//! (the golden model), `sim` (the RTL in this process) and `vfio-user` (the
//! RTL in a server process). A reduced set of the software engine's
//! conformance suite, written against `&dyn Backend`.

mod common;

use common::{backend, drain, frame, unique_switch};
use netmap_ring::abi::NS_MOREFRAG;
use netmap_ring::port::{Backend, Port, SyncError};
use netmap_ring::ring;

const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const C: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
const BCAST: [u8; 6] = [0xff; 6];
const BACKENDS: [&str; 3] = ["soft", "sim", "vfio-user"];

fn on_every_backend(check: fn(&dyn Backend)) {
    for kind in BACKENDS {
        let (backend, _server) = backend(kind);
        eprintln!("backend {kind}");
        check(&*backend);
    }
}

#[test]
fn new_rings_offer_every_tx_slot_but_one_and_no_rx_slot() {
    on_every_backend(|backend| {
        let sw = unique_switch();
        let a = Port::open_on(backend, &format!("{sw}:a")).unwrap();
        let tx = a.tx_ring(0);
        let rx = a.rx_ring(0);
        assert_eq!((tx.head(), tx.cur()), (0, 0));
        assert_eq!(tx.tail(), tx.num_slots() - 1);
        assert_eq!((rx.head(), rx.cur(), rx.tail()), (0, 0, 0));
        assert_eq!(a.buf_size() % 64, 0);
    });
}

#[test]
fn tail_moves_only_in_a_sync() {
    on_every_backend(|backend| {
        let sw = unique_switch();
        let mut a = Port::open_on(backend, &format!("{sw}:a")).unwrap();
        let b = Port::open_on(backend, &format!("{sw}:b")).unwrap();
        assert!(a.inject(&frame(BCAST, A, 1, 60)));
        a.txsync().unwrap();
        // Delivered, but b's tail waits for b's rxsync.
        assert_eq!(b.rx_ring(0).tail(), 0);
        b.rxsync().unwrap();
        assert_eq!(b.rx_ring(0).tail(), 1);
    });
}

#[test]
fn a_head_outside_the_ring_is_refused_and_the_ring_reset() {
    on_every_backend(|backend| {
        let sw = unique_switch();
        let a = Port::open_on(backend, &format!("{sw}:a")).unwrap();
        let tx = a.tx_ring(0);
        tx.set_head(tx.num_slots() + 5);
        let err = a.txsync().unwrap_err();
        assert!(matches!(err, SyncError::BadRing { ring: 0, .. }), "{err}");
        assert_eq!((tx.head(), tx.cur()), (0, 0));
        assert_eq!(tx.tail(), tx.num_slots() - 1);
        // The ring works again.
        a.txsync().unwrap();
    });
}

#[test]
fn vale_floods_unknown_learns_and_forwards_unicast() {
    on_every_backend(|backend| {
        let sw = unique_switch();
        let mut a = Port::open_on(backend, &format!("{sw}:a")).unwrap();
        let mut b = Port::open_on(backend, &format!("{sw}:b")).unwrap();
        let mut c = Port::open_on(backend, &format!("{sw}:c")).unwrap();
        let hello = frame(BCAST, A, 0, 60);
        assert!(a.inject(&hello));
        a.txsync().unwrap();
        assert_eq!(drain(&mut b), std::slice::from_ref(&hello));
        assert_eq!(drain(&mut c), [hello]);
        assert!(drain(&mut a).is_empty(), "flooded back to the source");
        // Unknown unicast floods too; known unicast goes to one port.
        let to_c = frame(C, B, 1, 100);
        assert!(b.inject(&to_c));
        b.txsync().unwrap();
        assert_eq!(drain(&mut a), std::slice::from_ref(&to_c));
        assert_eq!(drain(&mut c), [to_c]);
        let to_a: Vec<Vec<u8>> = (2..20).map(|s| frame(A, B, s, 60 + s as usize)).collect();
        for f in &to_a {
            assert!(b.inject(f));
        }
        b.txsync().unwrap();
        assert_eq!(drain(&mut a), to_a);
        assert!(drain(&mut c).is_empty());
    });
}

#[test]
fn runts_and_frames_to_their_own_port_are_dropped() {
    on_every_backend(|backend| {
        let sw = unique_switch();
        let mut a = Port::open_on(backend, &format!("{sw}:a")).unwrap();
        let mut b = Port::open_on(backend, &format!("{sw}:b")).unwrap();
        assert!(a.inject(&frame(BCAST, A, 0, 60)));
        a.txsync().unwrap();
        drain(&mut b);
        // A 13-byte frame, then a frame from b to A's own address sent by a.
        assert!(b.inject(&frame(BCAST, B, 1, 13)));
        b.txsync().unwrap();
        assert!(a.inject(&frame(A, A, 2, 60)));
        a.txsync().unwrap();
        assert!(drain(&mut a).is_empty());
        assert!(drain(&mut b).is_empty());
    });
}

#[test]
fn morefrag_chains_arrive_whole() {
    on_every_backend(|backend| {
        let sw = unique_switch();
        let a = Port::open_on(backend, &format!("{sw}:a")).unwrap();
        let mut b = Port::open_on(backend, &format!("{sw}:b")).unwrap();
        let whole = frame(BCAST, A, 9, 300);
        let tx = a.tx_ring(0);
        let n = tx.num_slots();
        let mut cur = tx.cur();
        for (i, part) in whole.chunks(100).enumerate() {
            let slot = tx.slot(cur);
            a.write_buf(slot.buf_idx, part).unwrap();
            let flags = if i < 2 { NS_MOREFRAG } else { 0 };
            tx.set_len_flags(cur, part.len() as u16, flags);
            cur = ring::next(cur, n);
        }
        tx.set_head(cur);
        tx.set_cur(cur);
        a.txsync().unwrap();
        assert_eq!(drain(&mut b), [whole]);
    });
}

#[test]
fn pipes_are_lossless_and_in_order_under_back_pressure() {
    on_every_backend(|backend| {
        let parent = format!("netmap:{}", unique_switch());
        let mut m = Port::open_on(backend, &format!("{parent}{{3")).unwrap();
        let mut s = Port::open_on(backend, &format!("{parent}}}3")).unwrap();
        let frames: Vec<Vec<u8>> = (0..2500)
            .map(|q| frame(B, A, q, 60 + (q % 9) as usize * 40))
            .collect();
        let (mut sent, mut got) = (0, Vec::new());
        for _ in 0..200 {
            while sent < frames.len() && m.inject(&frames[sent]) {
                sent += 1;
            }
            m.txsync().unwrap();
            // A slow receiver: at most 300 per round.
            s.rxsync().unwrap();
            s.dispatch(300, |p| got.push(p.data.clone()));
            s.rxsync().unwrap();
            if got.len() == frames.len() {
                break;
            }
        }
        assert_eq!(got.len(), frames.len());
        assert!(got == frames);
    });
}
