//! First end-to-end checks of the software engine.

use netmap_ring::port::Interest;
use netmap_testkit::frames::frame;
use netmap_testkit::names::unique_switch;
use std::time::Duration;

#[test]
fn vale_floods_then_learns() {
    let sw = unique_switch("smoke");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut c = vale_soft::open(&format!("{sw}:c")).unwrap();
    let ma = [2, 0, 0, 0, 0, 0xa];
    let mb = [2, 0, 0, 0, 0, 0xb];
    // Unknown destination: flooded to b and c.
    assert!(a.inject(&frame(mb, ma, 0, 60)));
    a.txsync().unwrap();
    b.rxsync().unwrap();
    c.rxsync().unwrap();
    let pb = b.next_packet().expect("b got the flood");
    assert_eq!(pb.data, frame(mb, ma, 0, 60));
    assert!(c.next_packet().is_some());
    // b answers a: a is known now, so only a gets it.
    assert!(b.inject(&frame(ma, mb, 0, 100)));
    b.txsync().unwrap();
    a.rxsync().unwrap();
    c.rxsync().unwrap();
    assert_eq!(a.next_packet().unwrap().data, frame(ma, mb, 0, 100));
    assert!(c.next_packet().is_none());
    let ready = c
        .poll(Interest::RX, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(!ready.rx);
}

#[test]
fn pipe_moves_descriptors() {
    let sw = unique_switch("pipe");
    let mut m = vale_soft::open(&format!("{sw}:p{{1")).unwrap();
    let mut s = vale_soft::open(&format!("{sw}:p}}1")).unwrap();
    for n in 0..10u8 {
        assert!(m.inject(&[n; 64]));
    }
    m.txsync().unwrap();
    s.rxsync().unwrap();
    for n in 0..10u8 {
        assert_eq!(s.next_packet().unwrap().data, vec![n; 64]);
    }
    assert!(s.next_packet().is_none());
}

#[test]
fn nr_timestamp_stamps_the_ring_at_each_sync() {
    use netmap_ring::abi::{ring_off, NR_TIMESTAMP};
    let sw = unique_switch("ts");
    let a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let ring = a.rx_ring(0);
    let sec_at = ring.offset() + ring_off::TS_SEC;
    a.rxsync().unwrap();
    assert_eq!(
        a.region().read::<i64>(sec_at).unwrap(),
        0,
        "no flag, no stamp"
    );
    ring.set_flags(NR_TIMESTAMP);
    a.rxsync().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let stamped = a.region().read::<i64>(sec_at).unwrap();
    assert!((now - 2..=now).contains(&stamped), "{stamped} vs {now}");
}
