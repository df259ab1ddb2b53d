//! Host rings of a NIC port (`netmap:IF^`, `netmap:IF*`) and transparent
//! mode (`NR_FORWARD` / `NS_FORWARD`), on a veth pair in namespaces the
//! test makes and removes. Needs root (and /dev/net/tun); else skipped.

mod nic_support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_nic::NicBackend;
use netmap_ring::abi::{NR_FORWARD, NS_FORWARD};
use netmap_ring::port::{Interest, Port};
use netmap_testkit::netns::{ip, run_bounded, VethPair, IP_TIMEOUT};
use netmap_testkit::ping::{arp_reply_sender, arp_request, udp_echo};
use nic_support::*;

/// A veth pair, or a skip when there is none or no TAP device.
macro_rules! veth_and_tun {
    () => {{
        if !std::path::Path::new("/dev/net/tun").exists() {
            netmap_testkit::skip!("no /dev/net/tun: host rings need TAP interfaces");
        }
        veth_or_skip!()
    }};
}

fn addresses(ns: &str, dev: &str) -> String {
    let out = run_bounded(
        Command::new("ip").args(["-n", ns, "-o", "addr", "show", "dev", dev]),
        IP_TIMEOUT,
    )
    .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn host_rings_carry_the_stack_s_traffic_and_addresses_come_back() {
    let pair = veth_and_tun!();
    let (a, ns_a) = (pair.a.clone(), pair.ns_a.clone());
    ip(&["-n", &ns_a, "addr", "add", "10.9.0.1/24", "dev", &a]).unwrap();
    ip(&[
        "-n",
        &ns_a,
        "route",
        "add",
        "10.99.0.0/16",
        "via",
        "10.9.0.254",
    ])
    .unwrap();
    VethPair::run_in(&pair.ns_a, move || {
        let mut host = Port::open_on(&NicBackend::default(), &format!("netmap:{a}^")).unwrap();
        assert_eq!((host.tx_rings(), host.rx_rings()), (1, 1));
        let tap = format!("{a}^");
        assert!(addresses(&ns_a, &tap).contains("10.9.0.1/24"));
        assert!(!addresses(&ns_a, &a).contains("10.9.0.1/24"));
        // Host TX -> the stack: an ARP request for the stack's address;
        // the stack's answer comes back on host RX.
        let asker = Ipv4Addr::new(10, 9, 0, 7);
        let request = arp_request(MAC_B, asker, Ipv4Addr::new(10, 9, 0, 1));
        let started = Instant::now();
        let mut answered = None;
        while answered.is_none() {
            assert!(started.elapsed() < DEADLINE, "the stack never answered");
            assert!(host.inject(&request));
            host.txsync().unwrap();
            let _ = host.poll(Interest::RX, Some(Duration::from_millis(200)));
            while let Some(frame) = host.next_packet() {
                answered = answered.or(arp_reply_sender(&frame.data, asker));
            }
        }
        // The TAP speaks with the NIC's MAC.
        assert_eq!(answered, Some((MAC_A, Ipv4Addr::new(10, 9, 0, 1))));
        drop(host);
        assert!(addresses(&ns_a, &a).contains("10.9.0.1/24"));
        let routes = run_bounded(
            Command::new("ip").args(["-n", &ns_a, "route", "show", "dev", &a]),
            IP_TIMEOUT,
        )
        .unwrap();
        assert!(String::from_utf8_lossy(&routes.stdout).contains("10.99.0.0/16"));
    })
    .join()
    .expect("host side");
}

/// `netmap:IF*` with `NR_FORWARD` on both RX rings and every slot
/// released with `NS_FORWARD`: the namespace's traffic passes through
/// the application untouched.
#[test]
fn transparent_mode_passes_everything_on() {
    let pair = veth_and_tun!();
    let (a, ns_a) = (pair.a.clone(), pair.ns_a.clone());
    ip(&["-n", &ns_a, "addr", "add", "10.9.1.1/24", "dev", &a]).unwrap();
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.9.1.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let stop_in = Arc::clone(&stop);
    let forwarder = VethPair::run_in(&pair.ns_a, move || {
        let port = Port::open_on(&NicBackend::default(), &format!("netmap:{a}*")).unwrap();
        assert_eq!((port.tx_rings(), port.rx_rings()), (2, 2));
        for r in 0..port.rx_rings() {
            let ring = port.rx_ring(r);
            ring.set_flags(ring.flags() | NR_FORWARD);
        }
        opened_tx.send(()).unwrap();
        let started = Instant::now();
        let mut passed = 0u64;
        while !stop_in.load(Ordering::Relaxed) && started.elapsed() < DEADLINE {
            let _ = port.poll(Interest::RX, Some(Duration::from_millis(20)));
            for r in 0..port.rx_rings() {
                let ring = port.rx_ring(r);
                let (mut cur, tail) = (ring.cur(), ring.tail());
                while cur != tail {
                    let slot = ring.slot(cur);
                    ring.set_len_flags(cur, slot.len, slot.flags | NS_FORWARD);
                    cur = (cur + 1) % ring.num_slots();
                    passed += 1;
                }
                ring.set_head(cur);
                ring.set_cur(cur);
            }
        }
        port.rxsync().unwrap();
        passed
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    let back = udp_echo(
        &pair.ns_a,
        &pair.ns_b,
        Ipv4Addr::new(10, 9, 1, 2),
        7200,
        5,
        Duration::from_secs(2),
    )
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let passed = forwarder.join().expect("forwarder");
    eprintln!("transparent: {passed} frames passed, {back} echoes");
    assert_eq!(back, 5);
    // ARP both ways, five datagrams and their echoes.
    assert!(passed >= 10, "only {passed} frames passed");
}
