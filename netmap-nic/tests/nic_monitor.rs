//! NIC monitors (`netmap:IFNAME/r`, `/rt`) on a veth pair in namespaces
//! the test makes: a port echoes what a plain socket sends, and the
//! monitors see what the interface received and (flagged NS_TXMON) what
//! the port transmitted. Needs root; skipped with the reason without it.

mod nic_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_nic::{NicBackend, NicEngine};
use netmap_ring::abi::NS_TXMON;
use netmap_ring::port::{Interest, Port, PortError};

use netmap_testkit::frames::{frame, seq_of};
use netmap_testkit::netns::VethPair;
use nic_support::*;

fn open(name: &str) -> Result<Port, PortError> {
    Port::open_on(
        &NicBackend {
            engine: NicEngine::Packet,
        },
        name,
    )
}

/// The test frames a monitor holds, as (seq, transmitted).
fn take(monitor: &mut Port, into: &mut Vec<(u32, bool)>) {
    monitor.rxsync().expect("monitor rxsync");
    while let Some(p) = monitor.next_packet() {
        if let Some(seq) = seq_of(&p.data) {
            into.push((seq, p.slot.flags & NS_TXMON != 0));
        }
    }
}

#[test]
fn monitors_see_what_the_interface_receives_and_the_port_sends() {
    let pair = veth_or_skip!();
    const COUNT: u32 = 200;
    let a = format!("netmap:{}", pair.a);
    let b = pair.b.clone();
    let ready = Arc::new(AtomicU32::new(0));
    let port_ready = Arc::clone(&ready);
    let side_a = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open(&a).expect("open port");
        let mut rt = open(&format!("{a}/rt")).expect("open /rt monitor");
        let mut r = open(&format!("{a}/r")).expect("open /r monitor");
        assert_eq!(rt.tx_rings(), 0, "a monitor binds no TX ring");
        let zero_copy = open(&format!("{a}/zt"));
        assert!(
            matches!(zero_copy, Err(PortError::Unsupported { .. })),
            "{zero_copy:?}"
        );
        port_ready.store(1, Ordering::Release);
        let (mut seen_rt, mut seen_r) = (Vec::new(), Vec::new());
        let mut echoed = 0;
        let started = Instant::now();
        while started.elapsed() < DEADLINE
            && (echoed < COUNT
                || seen_rt.len() < 2 * COUNT as usize
                || seen_r.len() < COUNT as usize)
        {
            port.poll(Interest::RX, Some(Duration::from_millis(20)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                let Some(seq) = seq_of(&packet.data) else {
                    continue;
                };
                let reply = frame(MAC_B, MAC_A, seq, frame_len(seq));
                while !port.inject(&reply) {
                    port.txsync().expect("txsync");
                }
                port.txsync().expect("txsync");
                echoed += 1;
            }
            take(&mut rt, &mut seen_rt);
            take(&mut r, &mut seen_r);
        }
        let dropped = rt.rx_dropped();
        (echoed, seen_rt, seen_r, dropped)
    });
    let peer = VethPair::run_in(&pair.ns_b, move || {
        let socket = RawSocket::bind(&b).expect("raw socket");
        while ready.load(Ordering::Acquire) == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut buf = vec![0u8; 2048];
        let mut replies = 0;
        for seq in 0..COUNT {
            socket
                .send(&frame(MAC_A, MAC_B, seq, frame_len(seq)))
                .expect("send");
            // One at a time: the reply comes before the next frame.
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(2) {
                match socket.recv(&mut buf) {
                    Some(n) if seq_of(&buf[..n]) == Some(seq) => {
                        replies += 1;
                        break;
                    }
                    _ => {}
                }
            }
        }
        replies
    });
    let replies = peer.join().expect("peer");
    let (echoed, seen_rt, seen_r, dropped) = side_a.join().expect("port side");
    assert_eq!(echoed, COUNT);
    assert_eq!(replies, COUNT);
    let received: Vec<u32> = seen_rt.iter().filter(|f| !f.1).map(|f| f.0).collect();
    let sent: Vec<u32> = seen_rt.iter().filter(|f| f.1).map(|f| f.0).collect();
    assert_eq!(
        received,
        (0..COUNT).collect::<Vec<_>>(),
        "/rt: received side"
    );
    assert_eq!(
        sent,
        (0..COUNT).collect::<Vec<_>>(),
        "/rt: transmitted side"
    );
    assert!(seen_r.iter().all(|f| !f.1), "/r sees no transmitted frame");
    assert_eq!(
        seen_r.iter().map(|f| f.0).collect::<Vec<_>>(),
        (0..COUNT).collect::<Vec<_>>()
    );
    assert_eq!(dropped, Some(0));
}

#[test]
fn a_monitor_of_a_missing_interface_is_not_found() {
    match open("netmap:nmnosuchif0/r") {
        Err(PortError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{source}")
        }
        Err(PortError::Permission { .. }) => {
            netmap_testkit::skip::skip("AF_PACKET needs root");
        }
        other => panic!("expected not found, got {other:?}"),
    }
}
