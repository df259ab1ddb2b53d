//! Monitors of device ports on the RTL in Verilator, in the driver's view:
//! a monitor opened through the backend that holds the port gets copies
//! of what the port's syncs see (`/t` flagged NS_TXMON, `/r`), drops what
//! does not fit (counted), and ends when the port closes.

use host_driver::port::DeviceBackend;
use host_driver::sim::SimDevice;
use netmap_ring::abi::NS_TXMON;
use netmap_ring::port::{Port, PortError, SyncError};
use netmap_testkit::frames::frame;
use netmap_testkit::slots::drain;

fn backend() -> DeviceBackend {
    DeviceBackend::new(Box::new(SimDevice::new().unwrap())).unwrap()
}

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

fn take(monitor: &mut Port) -> Vec<(Vec<u8>, bool)> {
    monitor.rxsync().unwrap();
    let mut out = Vec::new();
    monitor.dispatch(0, |p| {
        out.push((p.data.clone(), p.slot.flags & NS_TXMON != 0))
    });
    monitor.rxsync().unwrap();
    out
}

#[test]
fn vale_monitors_copy_what_the_ports_send_and_receive() {
    let backend = backend();
    let mut a = Port::open_on(&backend, "vale0:a").unwrap();
    let mut b = Port::open_on(&backend, "vale0:b").unwrap();
    let mut a_tx = Port::open_on(&backend, "vale0:a/t").unwrap();
    let mut b_rx = Port::open_on(&backend, "vale0:b/r").unwrap();
    let mut b_rt = Port::open_on(&backend, "vale0:b/rt").unwrap();
    let frames: Vec<Vec<u8>> = (0..20)
        .map(|seq| frame(MAC_B, MAC_A, seq, 60 + seq as usize * 10))
        .collect();
    for f in &frames {
        assert!(a.inject(f));
    }
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), frames, "the port still gets every frame");
    let sent = take(&mut a_tx);
    assert!(sent.iter().all(|(_, tx)| *tx));
    assert_eq!(sent.into_iter().map(|(f, _)| f).collect::<Vec<_>>(), frames);
    let received = take(&mut b_rx);
    assert!(received.iter().all(|(_, tx)| !tx));
    assert_eq!(
        received.into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
        frames
    );
    // b answers: b/rt has b's RX, then b's TX.
    let reply = frame(MAC_A, MAC_B, 99, 70);
    assert!(b.inject(&reply));
    b.txsync().unwrap();
    let both = take(&mut b_rt);
    assert_eq!(both.len(), 21, "{}", both.len());
    assert_eq!(both[20], (reply, true));
    assert_eq!(a_tx.rx_dropped(), Some(0));

    // The monitored port closes: the monitor ends after its copies.
    drop(a);
    match a_tx.rxsync() {
        Err(SyncError::Gone(why)) => assert!(why.contains("closed"), "{why}"),
        other => panic!("expected Gone, got {other:?}"),
    }
}

#[test]
fn a_full_monitor_drops_and_counts_without_slowing_the_port() {
    let backend = backend();
    let mut m = Port::open_on(&backend, "netmap:q{1").unwrap();
    let mut s = Port::open_on(&backend, "netmap:q}1").unwrap();
    let mut m_tx = Port::open_on(&backend, "netmap:q{1/t").unwrap();
    let slots = m_tx.rx_ring(0).num_slots() as usize;
    let frames: Vec<Vec<u8>> = (0..(slots as u32 + 300))
        .map(|seq| frame(MAC_B, MAC_A, seq, 64))
        .collect();
    let mut sent = 0;
    let mut got = Vec::new();
    for _round in 0..200 {
        while sent < frames.len() && m.inject(&frames[sent]) {
            sent += 1;
        }
        m.txsync().unwrap();
        got.extend(drain(&mut s));
        if got.len() == frames.len() {
            break;
        }
    }
    assert!(got == frames, "the pipe lost or reordered frames");
    let kept = take(&mut m_tx).len();
    assert_eq!(kept, slots - 1);
    assert_eq!(m_tx.rx_dropped(), Some((frames.len() - kept) as u64));
}

#[test]
fn bad_monitor_requests_are_refused_as_on_the_software_engine() {
    let backend = backend();
    let _a = Port::open_on(&backend, "vale0:a").unwrap();
    match Port::open_on(&backend, "vale0:nobody/r") {
        Err(PortError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(matches!(
        Port::open_on(&backend, "vale0:a/z"),
        Err(PortError::Config { .. })
    ));
    assert!(matches!(
        Port::open_on(&backend, "vale0:a/zt"),
        Err(PortError::Unsupported { .. })
    ));
}
