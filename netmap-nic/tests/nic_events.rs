//! NIC ports on a veth pair meeting what a busy network does: a busy
//! poller beside a sleeper (the epoll set), a flood into a held ring, a
//! link going down under a sender, the checksums a veth peer's stack
//! leaves partial. Each test makes its own namespaces and veth pair and
//! runs on each engine; without root each is reported as skipped.

mod nic_support;

use std::time::{Duration, Instant};

use netmap_nic::{self as nic, NicCounter, NicEngine};
use netmap_ring::port::{Interest, Port};

use netmap_testkit::frames::{frame, seq_of};
use netmap_testkit::netns::{ip, VethPair};
use nic_support::*;

/// Descriptors the port's epoll set watches now (its `tfd:` lines in
/// /proc/self/fdinfo).
fn watched_descriptors(port: &Port) -> usize {
    let fd = std::os::fd::AsRawFd::as_raw_fd(port);
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .expect("fdinfo of the port's descriptor")
        .lines()
        .filter(|line| line.starts_with("tfd:"))
        .count()
}

/// Whether the port's descriptor is readable within `wait`.
fn readable_within(port: &Port, wait: Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(port),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: `fds` is one valid pollfd for the call; the port keeps the
    // descriptor open.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, wait.as_millis() as i32) };
    rc == 1
}

on_each_engine!(sockets_leave_the_epoll_set_of_a_busy_poller_and_no_frame_is_missed);

/// A socket in an epoll set costs the kernel a wake-up per sent frame,
/// which a busy poller never asks for: the port's sockets join its epoll
/// set at the first arm and leave it after 4096 syncs without one (an
/// application that sleeps often keeps them). A frame that came while
/// they were out still wakes the next waiter.
fn sockets_leave_the_epoll_set_of_a_busy_poller_and_no_frame_is_missed(engine: NicEngine) {
    let pair = veth_or_skip!();
    let b = pair.b.clone();
    let a = format!("netmap:{}", pair.a);
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let port_side = VethPair::run_in(&pair.ns_a, move || {
        let port = open_port(&a, engine).expect("open port");
        let never_armed = watched_descriptors(&port);
        port.arm();
        port.arm();
        let armed = watched_descriptors(&port);
        port.disarm();
        port.disarm();
        let after_disarm = watched_descriptors(&port);
        for _ in 0..4200 {
            port.txsync().expect("txsync");
        }
        let busy = watched_descriptors(&port);
        opened_tx.send(()).unwrap();
        sent_rx.recv_timeout(DEADLINE).expect("frame sent");
        // Give the kernel time to queue the frame on the socket.
        std::thread::sleep(Duration::from_millis(100));
        port.arm();
        let woke = readable_within(&port, Duration::from_secs(5));
        port.disarm();
        port.rxsync().expect("rxsync");
        let r = port.rx_ring(0);
        let got = netmap_ring::ring::distance(r.head(), r.tail(), r.num_slots());
        (never_armed, armed, after_disarm, busy, woke, got)
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    VethPair::run_in(&pair.ns_b, move || {
        RawSocket::bind(&b)
            .expect("raw socket")
            .send(&frame(MAC_A, MAC_B, 3, 60))
            .expect("send");
    })
    .join()
    .expect("sender");
    sent_tx.send(()).unwrap();
    let (never_armed, armed, after_disarm, busy, woke, got) = port_side.join().expect("port");
    assert_eq!(never_armed, 0, "watched before any arm");
    assert!(armed >= 1, "nothing watched while armed");
    assert_eq!(after_disarm, armed, "a sleeper's sockets left at disarm");
    assert_eq!(busy, 0, "still watched after 4200 unarmed syncs");
    assert!(
        woke,
        "the frame that came while unarmed did not wake the waiter"
    );
    assert!(got >= 1, "the frame is not on the RX ring");
}

/// Whether the UDP checksum of the IPv4 frame `f` (no IP options) is
/// complete: the ones' complement sum over the pseudo-header and the
/// segment is 0xffff.
fn udp_checksum_is_complete(f: &[u8]) -> bool {
    let udp_len = usize::from(u16::from_be_bytes([f[38], f[39]]));
    let mut sum: u32 = 17 + udp_len as u32;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
    };
    add(&f[26..34]);
    add(&f[34..34 + udp_len]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

on_each_engine!(a_datagram_from_the_peer_stack_arrives_with_a_complete_checksum);

/// A veth peer's stack leaves the UDP checksum to an offload (only the
/// pseudo-header sum in the field): the port completes it on receipt, so
/// a program forwarding it to another NIC (`bridge`) or to a VALE switch
/// hands on a frame the receiving stack accepts.
fn a_datagram_from_the_peer_stack_arrives_with_a_complete_checksum(engine: NicEngine) {
    let pair = veth_or_skip!();
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.79.0.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let mac_a = netmap_testkit::frames::format_mac(MAC_A);
    ip(&[
        "-n",
        &pair.ns_b,
        "neigh",
        "replace",
        "10.79.0.1",
        "lladdr",
        &mac_a,
        "dev",
        &pair.b,
    ])
    .unwrap();
    let a = format!("netmap:{}", pair.a);
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let receiver = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        opened_tx.send(()).unwrap();
        let started = Instant::now();
        while started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                let f = packet.data;
                if f.len() > 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f[42..] == *b"csum" {
                    return Some(f);
                }
            }
        }
        None
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    VethPair::run_in(&pair.ns_b, move || {
        let socket = std::net::UdpSocket::bind("10.79.0.2:0").expect("udp socket");
        for _ in 0..20 {
            socket.send_to(b"csum", "10.79.0.1:9").expect("send");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .join()
    .expect("sender");
    let f = receiver
        .join()
        .expect("receiver")
        .expect("no datagram reached the port");
    assert!(
        udp_checksum_is_complete(&f),
        "partial checksum left: {f:02x?}"
    );
}

on_each_engine!(a_sender_survives_a_link_flap);

/// The link goes down under a sender and comes back: no sync fails, and
/// frames sent after it came back arrive. While it was down, AF_XDP
/// frames waited in the kernel's TX ring and go out once it is up;
/// AF_PACKET frames were dropped and counted (`TxDropError`).
fn a_sender_survives_a_link_flap(engine: NicEngine) {
    let pair = veth_or_skip!();
    let a = format!("netmap:{}", pair.a);
    let (ns_a, ifname_a, b) = (pair.ns_a.clone(), pair.a.clone(), pair.b.clone());
    let (listening_tx, listening_rx) = std::sync::mpsc::channel();
    let receiver = VethPair::run_in(&pair.ns_b, move || {
        let socket = RawSocket::bind(&b).expect("raw socket");
        listening_tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        let mut seen = Vec::new();
        let started = Instant::now();
        while !seen.contains(&109) && started.elapsed() < DEADLINE {
            if let Some(len) = socket.recv(&mut buf) {
                seen.extend(seq_of(&buf[..len]));
            }
        }
        seen
    });
    listening_rx.recv_timeout(DEADLINE).expect("peer listening");
    let sender = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        ip(&["-n", &ns_a, "link", "set", &ifname_a, "down"]).unwrap();
        let mut syncs_while_down = Vec::new();
        for seq in 0..10 {
            assert!(port.inject(&frame(MAC_B, MAC_A, seq, 60)));
            syncs_while_down.push(port.txsync().map_err(|e| e.to_string()));
        }
        ip(&["-n", &ns_a, "link", "set", &ifname_a, "up"]).unwrap();
        // veth carries frames once both ends are up again.
        std::thread::sleep(Duration::from_millis(200));
        for seq in 100..110 {
            while !port.inject(&frame(MAC_B, MAC_A, seq, 60)) {
                port.txsync().expect("txsync after the link came back");
            }
            port.txsync().expect("txsync after the link came back");
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            port.txsync().expect("txsync");
        }
        (syncs_while_down, nic::counters(&port).unwrap())
    });
    let (syncs_while_down, counters) = sender.join().expect("sender");
    let seen = receiver.join().expect("receiver");
    assert!(
        syncs_while_down.iter().all(Result::is_ok),
        "a sync failed while the link was down: {syncs_while_down:?}"
    );
    for seq in 100..110 {
        assert!(
            seen.contains(&seq),
            "frame {seq} lost after the link came back: {seen:?}"
        );
    }
    let early: Vec<u32> = seen.iter().copied().filter(|s| *s < 10).collect();
    match engine {
        NicEngine::Packet => assert_eq!(
            early.len() as u64 + counters.get(NicCounter::TxDropError),
            10,
            "frames sent while down neither arrived nor counted: {seen:?}"
        ),
        _ => assert_eq!(
            early,
            (0..10).collect::<Vec<_>>(),
            "frames that waited: {seen:?}"
        ),
    }
}

on_each_engine!(a_flood_into_a_full_ring_is_received_or_counted_as_dropped);

/// The application holds every slot of a 64-slot RX ring while more
/// frames come than the kernel can keep for it: each frame is either
/// received later or counted in `RxDropKernel`, none vanishes.
fn a_flood_into_a_full_ring_is_received_or_counted_as_dropped(engine: NicEngine) {
    let pair = veth_or_skip!();
    // More than the kernel keeps for the port: 4096 AF_XDP buffers, or
    // an AF_PACKET receive queue of 8 MB, doubled by the kernel (some
    // 20000 short frames).
    let count: u32 = match engine {
        NicEngine::Packet => 40_000,
        _ => 8_000,
    };
    let a = format!("netmap:{}@conf:slots=64", pair.a);
    let b = pair.b.clone();
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let receiver = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        opened_tx.send(()).unwrap();
        sent_rx.recv_timeout(DEADLINE).expect("sender done");
        let mut got = 0u32;
        let started = Instant::now();
        let mut idle_syncs = 0;
        // Drain until nothing more comes for a while.
        while idle_syncs < 2000 && started.elapsed() < DEADLINE {
            port.rxsync().expect("rxsync");
            let before = got;
            while let Some(packet) = port.next_packet() {
                got += u32::from(seq_of(&packet.data).is_some());
            }
            idle_syncs = if got == before { idle_syncs + 1 } else { 0 };
        }
        (got, nic::counters(&port).unwrap())
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    VethPair::run_in(&pair.ns_b, move || {
        RawSocket::bind(&b)
            .expect("raw socket")
            .send_numbered_paced(count);
        sent_tx.send(()).unwrap();
    })
    .join()
    .expect("sender");
    let (got, counters) = receiver.join().expect("receiver");
    let dropped = counters.get(NicCounter::RxDropKernel);
    assert!(dropped > 0, "nothing dropped: the flood was too small");
    assert_eq!(
        u64::from(got) + dropped,
        u64::from(count),
        "received {got}, counted {dropped} dropped"
    );
}
