//! Monitor ports on the software engine: `/r`, `/t` and `/rt` copies of a
//! VALE port's and a pipe end's traffic, drops when a monitor is full,
//! several monitors per port, the end of a monitor whose port closes, and
//! zero-copy monitors (`/zt`, `/zr`) that take the frames' own buffers.

mod common;

use common::{assert_conserved, port_counter, switch_domain};
use netmap_ring::abi::NS_TXMON;
use netmap_ring::port::{Port, PortError, SyncError};
use netmap_testkit::frames::{frame, mac};
use netmap_testkit::names::unique_switch;
use vale_offload::counters::PortCounter;

/// Every frame waiting in `port`'s RX rings, with its slot flags.
fn take_all(port: &mut Port) -> Vec<(Vec<u8>, u16)> {
    port.rxsync().expect("rxsync");
    let mut out = Vec::new();
    port.dispatch(0, |p| out.push((p.data.clone(), p.slot.flags)));
    port.rxsync().expect("rxsync");
    out
}

/// Sends `count` frames from `from` (MAC id `src`) to MAC id `dst`,
/// numbered from `first`, in one txsync.
fn send(from: &mut Port, src: u8, dst: u8, first: u32, count: u32) -> Vec<Vec<u8>> {
    let frames: Vec<Vec<u8>> = (first..first + count)
        .map(|seq| frame(mac(dst), mac(src), seq, 60 + seq as usize % 40))
        .collect();
    for f in &frames {
        assert!(from.inject(f), "TX ring has room");
    }
    from.txsync().expect("txsync");
    frames
}

#[test]
fn rx_monitor_copies_what_the_port_receives() {
    let sw = unique_switch("monr");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut mon = vale_soft::open(&format!("{sw}:b/r")).unwrap();
    assert_eq!(mon.tx_rings(), 0, "a monitor binds no TX ring");
    let sent = send(&mut a, 1, 2, 0, 20);
    let got: Vec<Vec<u8>> = take_all(&mut b).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, sent, "the monitored port still gets every frame");
    let copies = take_all(&mut mon);
    assert_eq!(
        copies.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
        sent
    );
    assert!(copies.iter().all(|(_, flags)| flags & NS_TXMON == 0));
    // What b sends is not b's RX: the /r monitor sees none of it.
    send(&mut b, 2, 1, 100, 5);
    assert!(take_all(&mut mon).is_empty());
    assert_conserved(&switch_domain(&sw));
}

#[test]
fn tx_monitor_copies_what_the_port_sends_flagged_txmon() {
    let sw = unique_switch("mont");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let _b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut mon = vale_soft::open(&format!("{sw}:a/t")).unwrap();
    let sent = send(&mut a, 1, 2, 0, 10);
    // A frame the switch drops (too short) was still transmitted.
    assert!(a.inject(&frame(mac(2), mac(1), 0, 10)));
    a.txsync().unwrap();
    let copies = take_all(&mut mon);
    assert_eq!(copies.len(), 11);
    assert_eq!(
        copies[..10]
            .iter()
            .map(|(f, _)| f.clone())
            .collect::<Vec<_>>(),
        sent
    );
    assert!(copies.iter().all(|(_, flags)| flags & NS_TXMON != 0));
}

#[test]
fn rt_monitor_sees_both_directions_in_order() {
    let sw = unique_switch("monrt");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut mon = vale_soft::open(&format!("{sw}:b/rt")).unwrap();
    let to_b = send(&mut a, 1, 2, 0, 3);
    let from_b = send(&mut b, 2, 1, 10, 4);
    let copies = take_all(&mut mon);
    let rx: Vec<_> = copies
        .iter()
        .filter(|(_, f)| f & NS_TXMON == 0)
        .map(|(d, _)| d.clone())
        .collect();
    let tx: Vec<_> = copies
        .iter()
        .filter(|(_, f)| f & NS_TXMON != 0)
        .map(|(d, _)| d.clone())
        .collect();
    assert_eq!(rx, to_b);
    assert_eq!(tx, from_b);
}

#[test]
fn full_monitor_drops_and_counts_without_slowing_the_port() {
    let sw = unique_switch("monfull");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut mon = vale_soft::open(&format!("{sw}:b/r")).unwrap();
    let slots = mon.rx_ring(0).num_slots();
    // Fill b and its monitor, draining b only: the monitor fills up.
    let mut sent = 0u32;
    let rounds = 2 * slots / 200 + 1;
    for round in 0..rounds {
        send(&mut a, 1, 2, round * 200, 200);
        sent += 200;
        assert_eq!(take_all(&mut b).len(), 200, "b never loses a frame");
    }
    let domain = switch_domain(&sw);
    let kept = u64::from(slots - 1);
    assert_eq!(port_counter(&domain, "b/r", PortCounter::RxPackets), kept);
    assert_eq!(
        port_counter(&domain, "b/r", PortCounter::RxDropFull),
        u64::from(sent) - kept
    );
    assert_eq!(port_counter(&domain, "b", PortCounter::RxDropFull), 0);
    assert_eq!(take_all(&mut mon).len() as u64, kept);
    assert_conserved(&domain);
}

#[test]
fn several_monitors_on_one_port_each_get_every_copy() {
    let sw = unique_switch("monmany");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let _b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut mons: Vec<Port> = (0..3)
        .map(|_| vale_soft::open(&format!("{sw}:b/r")).unwrap())
        .collect();
    let mut tx_mon = vale_soft::open(&format!("{sw}:a/t")).unwrap();
    let sent = send(&mut a, 1, 2, 0, 8);
    for mon in &mut mons {
        let got: Vec<_> = take_all(mon).into_iter().map(|(f, _)| f).collect();
        assert_eq!(got, sent);
    }
    assert_eq!(take_all(&mut tx_mon).len(), 8);
    // valectl's view: four monitors, each naming its port, with its copies.
    let info = vale_soft::admin::describe(&switch_domain(&sw)).unwrap();
    assert_eq!(info.ports.len(), 2, "monitors are not switch ports");
    assert_eq!(info.monitors.len(), 4);
    let b_monitors: Vec<_> = info.monitors.iter().filter(|m| m.name == "b/r").collect();
    assert_eq!(b_monitors.len(), 3);
    assert!(b_monitors
        .iter()
        .all(|m| m.watching.as_deref() == Some("b")));
    assert!(b_monitors
        .iter()
        .all(|m| m.counters.contains(&("rx_packets", 8))));
    // Closing one monitor leaves the others watching.
    drop(mons.pop());
    send(&mut a, 1, 2, 8, 2);
    for mon in &mut mons {
        assert_eq!(take_all(mon).len(), 2);
    }
}

#[test]
fn pipe_end_monitors_see_the_moved_frames() {
    let sw = unique_switch("monpipe");
    let mut m = vale_soft::open(&format!("{sw}:p{{1")).unwrap();
    let mut s = vale_soft::open(&format!("{sw}:p}}1")).unwrap();
    let mut m_tx = vale_soft::open(&format!("{sw}:p{{1/t")).unwrap();
    let mut s_rx = vale_soft::open(&format!("{sw}:p}}1/r")).unwrap();
    let sent: Vec<Vec<u8>> = (0..12u8).map(|n| vec![n; 64 + usize::from(n)]).collect();
    for f in &sent {
        assert!(m.inject(f));
    }
    m.txsync().unwrap();
    let got: Vec<_> = take_all(&mut s).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, sent, "the pipe still moves every frame");
    let tx: Vec<_> = take_all(&mut m_tx);
    assert!(tx.iter().all(|(_, f)| f & NS_TXMON != 0));
    assert_eq!(tx.into_iter().map(|(f, _)| f).collect::<Vec<_>>(), sent);
    let rx: Vec<_> = take_all(&mut s_rx).into_iter().map(|(f, _)| f).collect();
    assert_eq!(rx, sent);
    assert_conserved(&switch_domain(&sw));
}

#[test]
fn closing_the_monitored_port_ends_its_monitors_after_their_copies() {
    let sw = unique_switch("monclose");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut mon = vale_soft::open(&format!("{sw}:b/r")).unwrap();
    send(&mut a, 1, 2, 0, 4);
    drop(b);
    // The copies taken before the close are still read...
    mon.rxsync().unwrap();
    let mut seen = 0;
    mon.dispatch(0, |_| seen += 1);
    assert_eq!(seen, 4);
    // ...then the monitor says its port is gone.
    match mon.rxsync() {
        Err(SyncError::Gone(why)) => assert!(why.contains("closed"), "{why}"),
        other => panic!("expected Gone, got {other:?}"),
    }
    // A new port b is not watched by the old monitor.
    let _b2 = vale_soft::open(&format!("{sw}:b")).unwrap();
    send(&mut a, 1, 2, 10, 2);
    assert!(matches!(mon.rxsync(), Err(SyncError::Gone(_))));
    drop(mon);
    assert_conserved(&switch_domain(&sw));
}

#[test]
fn bad_monitor_requests_get_netmaps_errors() {
    let sw = unique_switch("monbad");
    let _a = vale_soft::open(&format!("{sw}:a")).unwrap();
    match vale_soft::open(&format!("{sw}:nobody/r")) {
        Err(PortError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(matches!(
        vale_soft::open(&format!("{sw}:a/z")),
        Err(PortError::Config { .. })
    ));
    let _zero_copy = vale_soft::open(&format!("{sw}:a/zt")).unwrap();
    assert!(
        matches!(
            vale_soft::open(&format!("{sw}:a/zr")),
            Err(PortError::Busy { .. })
        ),
        "one zero-copy monitor per port"
    );
    let _m = vale_soft::open(&format!("{sw}:p{{1")).unwrap();
    assert!(matches!(
        vale_soft::open(&format!("{sw}:p{{1/zt")),
        Err(PortError::Unsupported { .. })
    ));
    // Nothing leaked by the refusals.
    assert_conserved(&switch_domain(&sw));
}

#[test]
fn zero_copy_tx_monitor_takes_the_transmitted_buffers() {
    use netmap_ring::abi::NS_BUF_CHANGED;
    let sw = unique_switch("zmont");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut zmon = vale_soft::open(&format!("{sw}:a/zt")).unwrap();
    let mut copies = vale_soft::open(&format!("{sw}:a/t")).unwrap();
    let first = a.tx_ring(0).cur();
    let buffers: Vec<u32> = (0..10)
        .map(|i| a.tx_ring(0).slot(first + i).buf_idx)
        .collect();
    let sent = send(&mut a, 1, 2, 0, 10);
    let got: Vec<_> = take_all(&mut b).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, sent, "the port delivers first");
    // The monitor holds the very buffers a transmitted.
    zmon.rxsync().unwrap();
    let held: Vec<u32> = {
        let ring = zmon.rx_ring(0);
        (0..10).map(|i| ring.slot(ring.cur() + i).buf_idx).collect()
    };
    assert_eq!(held, buffers);
    let frames = take_all(&mut zmon);
    assert!(frames.iter().all(|(_, flags)| flags & NS_TXMON != 0));
    assert_eq!(frames.into_iter().map(|(f, _)| f).collect::<Vec<_>>(), sent);
    // a's slots came back with other buffers, marked.
    for i in 0..10 {
        let slot = a.tx_ring(0).slot(first + i);
        assert_ne!(slot.buf_idx, buffers[i as usize]);
        assert!(slot.flags & NS_BUF_CHANGED != 0);
    }
    // A copy monitor beside it still gets copies.
    assert_eq!(take_all(&mut copies).len(), 10);
    // a keeps sending on the swapped buffers.
    let more = send(&mut a, 1, 2, 10, 5);
    let got: Vec<_> = take_all(&mut b).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, more);
    assert_conserved(&switch_domain(&sw));
}

#[test]
fn zero_copy_rx_monitor_gets_what_the_application_released() {
    let sw = unique_switch("zmonr");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut zmon = vale_soft::open(&format!("{sw}:b/zr")).unwrap();
    let sent = send(&mut a, 1, 2, 0, 6);
    b.rxsync().unwrap();
    let mut got = Vec::new();
    b.dispatch(0, |p| got.push(p.data.clone()));
    assert_eq!(got, sent);
    assert!(
        take_all(&mut zmon).is_empty(),
        "b has not released them yet"
    );
    b.rxsync().unwrap(); // releases the slots
    let frames = take_all(&mut zmon);
    assert!(frames.iter().all(|(_, flags)| flags & NS_TXMON == 0));
    assert_eq!(frames.into_iter().map(|(f, _)| f).collect::<Vec<_>>(), sent);
    // b's ring works on with the monitor's buffers.
    let more = send(&mut a, 1, 2, 6, 4);
    let got: Vec<_> = take_all(&mut b).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, more);
    assert_conserved(&switch_domain(&sw));
}

#[test]
fn a_full_zero_copy_monitor_skips_the_oldest_and_counts_them() {
    let sw = unique_switch("zmonfull");
    let mut a = vale_soft::open(&format!("{sw}:a")).unwrap();
    let mut b = vale_soft::open(&format!("{sw}:b")).unwrap();
    let mut zmon = vale_soft::open(&format!("{sw}:a/zt")).unwrap();
    let slots = zmon.rx_ring(0).num_slots();
    let mut sent = 0u32;
    for round in 0..(slots / 200 + 2) {
        send(&mut a, 1, 2, round * 200, 200);
        sent += 200;
        assert_eq!(take_all(&mut b).len(), 200, "b never loses a frame");
    }
    let domain = switch_domain(&sw);
    let kept = u64::from(slots - 1);
    assert_eq!(port_counter(&domain, "a/zt", PortCounter::RxPackets), kept);
    assert_eq!(
        port_counter(&domain, "a/zt", PortCounter::RxDropFull),
        u64::from(sent) - kept
    );
    assert_eq!(take_all(&mut zmon).len() as u64, kept);
    assert_conserved(&domain);
}
