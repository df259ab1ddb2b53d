//! Several bindings on one port, as netmap allows: each registration holds
//! its own rings (`-N`, `/R`, `/T`), has its own netmap_if and is woken on
//! its own; overlapping rings, or `/x`, are refused with the holder's pid.

mod common;

use std::time::Duration;

use common::*;
use netmap_ring::port::{Interest, PortError};
use netmap_testkit::{frames::*, names::*, slots::*};

#[test]
fn disjoint_rings_of_one_port_are_bound_separately_and_each_gets_its_traffic() {
    let sw = unique_switch("bind");
    // Port a has two ring pairs, held by two bindings (two threads here,
    // two processes in netmap's usual multi-queue set-up).
    let a0 = vale_soft::open(&format!("{sw}:a@conf:rings=2-0")).unwrap_err();
    assert!(matches!(a0, PortError::Name(_)), "ring suffix comes first");
    let mut a0 = vale_soft::open(&format!("{sw}:a-0@conf:rings=2")).unwrap();
    let mut a1 = vale_soft::open(&format!("{sw}:a-1")).unwrap();
    assert_eq!((a0.tx_rings(), a0.rx_rings()), (1, 1));
    assert_eq!(a1.layout().rx_rings[0].id, 1);
    assert_ne!(a0.if_offset(), a1.if_offset(), "one netmap_if per binding");
    let s = vale_soft::open(&format!("{sw}:s@conf:rings=2")).unwrap();

    // a learns its MAC through ring 0.
    put(&a0, &frame(BROADCAST, mac(0xa), 0, 60), 0);
    a0.txsync().unwrap();
    // s sends to a from its TX ring 1: unicast lands in a's RX ring 1
    // (ring id modulo RX rings), which binding a1 holds.
    put_on(&s, 1, &frame(mac(0xa), mac(0x5), 7, 60), 0);
    let waiter = std::thread::spawn(move || {
        let ready = a1.poll(Interest::RX, Some(Duration::from_secs(5))).unwrap();
        assert!(ready.rx, "binding a-1 is woken for its ring");
        let got = drain(&mut a1);
        assert_eq!(got.len(), 1);
        assert_eq!(seq_of(&got[0]), Some(7));
        a1
    });
    std::thread::sleep(Duration::from_millis(50));
    s.txsync_ring(1).unwrap();
    let a1 = waiter.join().unwrap();
    a0.rxsync().unwrap();
    assert!(a0.next_packet().is_none(), "ring 0 got nothing");

    // Closing one binding keeps the port for the other.
    let d = switch_domain(&sw);
    drop(a1);
    assert!(vale_soft::ports::find(&d, "a").is_some());
    let again = vale_soft::open(&format!("{sw}:a-1")).unwrap();
    drop(again);
    drop(a0);
    assert!(
        vale_soft::ports::find(&d, "a").is_none(),
        "gone with its last binding"
    );
    assert_conserved(&d);
}

#[test]
fn overlapping_or_exclusive_bindings_are_busy() {
    let sw = unique_switch("busy");
    let a0 = vale_soft::open(&format!("{sw}:a-0/x@conf:rings=2")).unwrap();
    match vale_soft::open(&format!("{sw}:a-1")) {
        Err(PortError::Busy { owner, .. }) => assert_eq!(owner, std::process::id()),
        other => panic!("an exclusive binding keeps others out, got {other:?}"),
    }
    drop(a0);
    let a0 = vale_soft::open(&format!("{sw}:a-0@conf:rings=2")).unwrap();
    for name in ["a", "a-0", "a-1/x"] {
        match vale_soft::open(&format!("{sw}:{name}")) {
            Err(PortError::Busy { .. }) => {}
            other => panic!("{name}: expected Busy, got {other:?}"),
        }
    }
    // TX and RX rings are held separately: /T on ring 1 and /R on ring 1.
    let t1 = vale_soft::open(&format!("{sw}:a-1/T")).unwrap();
    let r1 = vale_soft::open(&format!("{sw}:a-1/R")).unwrap();
    assert_eq!((t1.tx_rings(), t1.rx_rings()), (1, 0));
    assert_eq!((r1.tx_rings(), r1.rx_rings()), (0, 1));
    let d = switch_domain(&sw);
    drop((a0, t1, r1));
    assert!(vale_soft::ports::find(&d, "a").is_none());
}
