//! NIC ports (`netmap:IFNAME`) over AF_PACKET, on a veth pair whose ends
//! live in two network namespaces the test makes and removes itself.
//! Each side runs on its own thread, moved into its namespace with
//! setns (a thread's network namespace is its own). Needs root; without
//! it each test is reported as skipped, with the reason.

mod nic_support;

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_nic::{self as nic, NicBackend, NicCounter, NicEngine};
use netmap_ring::port::{Interest, Port, PortError};

use netmap_testkit::frames::{frame, seq_of};
use netmap_testkit::netns::{ip, VethPair};
use netmap_testkit::{is_root, skip};
use nic_support::*;

/// Sends frames `0..count` through `port`, keeping at most `window`
/// frames ahead of what the receiver reports in `received`.
fn send_paced(port: &mut Port, count: u32, window: u64, received: &AtomicU64) {
    let started = Instant::now();
    let mut seq = 0;
    while seq < count {
        assert!(started.elapsed() < DEADLINE, "sender stalled at {seq}");
        if u64::from(seq) >= received.load(Ordering::Acquire) + window {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        if port.inject(&frame(MAC_B, MAC_A, seq, frame_len(seq))) {
            seq += 1;
        } else {
            port.txsync().expect("txsync");
        }
        if seq % 32 == 0 {
            port.txsync().expect("txsync");
        }
    }
    port.txsync().expect("txsync");
}

on_each_engine!(frames_cross_between_two_nic_ports_in_order_with_their_bytes);

fn frames_cross_between_two_nic_ports_in_order_with_their_bytes(engine: NicEngine) {
    let pair = veth_or_skip!();
    const COUNT: u32 = 3000;
    let received = Arc::new(AtomicU64::new(0));
    let rx_count = Arc::clone(&received);
    let b = format!("netmap:{}", pair.b);
    let receiver = VethPair::run_in(&pair.ns_b, move || {
        let mut port = open_port(&b, engine).expect("open receiver");
        let mut got = Vec::new();
        let started = Instant::now();
        while got.len() < COUNT as usize && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                if let Some(seq) = seq_of(&packet.data) {
                    assert_eq!(packet.data, frame(MAC_B, MAC_A, seq, frame_len(seq)));
                    got.push(seq);
                    rx_count.store(got.len() as u64, Ordering::Release);
                }
            }
        }
        port.rxsync().expect("rxsync");
        (got, nic::counters(&port).expect("NIC counters"))
    });
    let a = format!("netmap:{}", pair.a);
    let sender = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open sender");
        // Give the receiver time to open its socket.
        std::thread::sleep(Duration::from_millis(200));
        send_paced(&mut port, COUNT, 256, &received);
        nic::counters(&port).expect("NIC counters")
    });
    let tx = sender.join().expect("sender");
    let (got, rx) = receiver.join().expect("receiver");
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>(), "lost or reordered");
    let bytes: u64 = (0..COUNT).map(|s| frame_len(s) as u64).sum();
    assert_eq!(tx.get(NicCounter::TxPackets), u64::from(COUNT));
    assert_eq!(tx.get(NicCounter::TxBytes), bytes);
    assert_eq!(tx.get(NicCounter::TxDropError), 0);
    // The receiver may also count frames the kernel sent on the link.
    assert!(rx.get(NicCounter::RxPackets) >= u64::from(COUNT));
    assert!(rx.get(NicCounter::RxBytes) >= bytes);
    assert_eq!(rx.get(NicCounter::RxDropKernel), 0);
}

on_each_engine!(a_port_receives_what_a_plain_socket_sends_and_sends_what_it_receives);

fn a_port_receives_what_a_plain_socket_sends_and_sends_what_it_receives(engine: NicEngine) {
    let pair = veth_or_skip!();
    const COUNT: u32 = 500;
    let b = pair.b.clone();
    let a = format!("netmap:{}", pair.a);
    let ready = Arc::new(AtomicU32::new(0));
    let port_ready = Arc::clone(&ready);
    // The port echoes what it receives back with MACs swapped.
    let echo = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        port_ready.store(1, Ordering::Release);
        let mut echoed = 0;
        let started = Instant::now();
        while echoed < COUNT && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                if seq_of(&packet.data).is_none() {
                    continue;
                }
                let mut reply = packet.data.clone();
                reply[..6].copy_from_slice(&MAC_B);
                reply[6..12].copy_from_slice(&MAC_A);
                while !port.inject(&reply) {
                    port.txsync().expect("txsync");
                }
                port.txsync().expect("txsync");
                echoed += 1;
            }
        }
        echoed
    });
    let peer = VethPair::run_in(&pair.ns_b, move || {
        let socket = RawSocket::bind(&b).expect("raw socket");
        while ready.load(Ordering::Acquire) == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 2048];
        let started = Instant::now();
        for seq in 0..COUNT {
            socket
                .send(&frame(MAC_A, MAC_B, seq, frame_len(seq)))
                .expect("send");
            // One in flight: the reply comes before the next frame.
            while started.elapsed() < DEADLINE {
                let Some(len) = socket.recv(&mut buf) else {
                    continue;
                };
                // The socket sees its own frames too; keep the replies.
                if buf[..6] == MAC_B && buf[6..12] == MAC_A {
                    replies.push(buf[..len].to_vec());
                    break;
                }
            }
        }
        replies
    });
    let replies = peer.join().expect("peer");
    assert_eq!(echo.join().expect("echo"), COUNT);
    assert_eq!(replies.len(), COUNT as usize);
    for (seq, reply) in (0..COUNT).zip(&replies) {
        let mut want = frame(MAC_A, MAC_B, seq, frame_len(seq));
        want[..6].copy_from_slice(&MAC_B);
        want[6..12].copy_from_slice(&MAC_A);
        assert_eq!(reply, &want, "reply {seq}");
    }
}

/// An Ethernet + IPv4 + UDP frame with a correct header checksum.
fn udp_frame(seq: u16, payload: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC_B);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + 8 + payload) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&seq.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&1234u16.to_be_bytes());
    f.extend_from_slice(&5678u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    f.extend((0..payload).map(|i| i as u8));
    f
}

on_each_engine!(tshark_on_the_peer_decodes_what_the_port_sends);

fn tshark_on_the_peer_decodes_what_the_port_sends(engine: NicEngine) {
    let pair = veth_or_skip!();
    if Command::new("tshark").arg("-v").output().is_err() {
        skip!("tshark is not installed (scripts/setup installs it)");
    }
    const COUNT: u16 = 50;
    let dir = std::env::temp_dir().join(format!("nic-tshark-{}-{}", std::process::id(), pair.b));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("peer.pcapng");
    let mut tshark = Command::new("ip")
        .args(["netns", "exec", &pair.ns_b, "tshark", "-q", "-i", &pair.b])
        .args([
            "-f",
            "udp",
            "-c",
            &COUNT.to_string(),
            "-a",
            "duration:15",
            "-w",
        ])
        .arg(&capture)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tshark");
    // tshark says "Capture started" once dumpcap runs; the socket may
    // still be settling, so the sender also waits a little.
    let stderr = tshark.stderr.take().unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Capture started") {
                let _ = started_tx.send(());
            }
        }
    });
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("tshark started capturing");
    std::thread::sleep(Duration::from_millis(300));
    let a = format!("netmap:{}", pair.a);
    VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        for seq in 0..COUNT {
            assert!(port.inject(&udp_frame(seq, 18 + usize::from(seq) * 7)));
        }
        port.txsync().expect("txsync");
    })
    .join()
    .expect("sender");
    let status = tshark.wait().expect("tshark");
    assert!(status.success(), "tshark failed: {status}");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args(["-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "ip.id",
            "-e",
            "udp.length",
            "-e",
            "ip.checksum.status",
        ])
        .args(["-e", "_ws.malformed", "-e", "_ws.expert.severity"])
        .args(["-o", "ip.check_checksum:TRUE"])
        .output()
        .expect("tshark -r");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        usize::from(COUNT),
        "tshark saw: {text} ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    for (seq, line) in lines.iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], format!("0x{seq:04x}"), "{line}");
        assert_eq!(fields[1], (8 + 18 + seq * 7).to_string(), "{line}");
        // Wireshark checksum status: 0 bad, 1 good, 2 unverified.
        assert_eq!(fields[2], "1", "IPv4 checksum not good: {line}");
        assert_eq!(fields[3], "", "malformed: {line}");
        assert_eq!(fields[4], "", "expert info: {line}");
    }
}

on_each_engine!(poll_sleeps_until_a_frame_arrives_and_times_out_without_one);

fn poll_sleeps_until_a_frame_arrives_and_times_out_without_one(engine: NicEngine) {
    let pair = veth_or_skip!();
    let b = pair.b.clone();
    let a = format!("netmap:{}", pair.a);
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let waiter = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        port.set_poll_spin(Duration::ZERO);
        // Nothing was sent yet: the wait runs out (other traffic aside).
        let started = Instant::now();
        let ready = port
            .poll(Interest::RX, Some(Duration::from_millis(150)))
            .expect("poll");
        let idle = started.elapsed();
        let early = ready.rx.then(|| port.next_packet());
        opened_tx.send(()).unwrap();
        let started = Instant::now();
        let mut seq = None;
        while seq.is_none() && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_secs(5)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                seq = seq.or(seq_of(&packet.data));
            }
        }
        (idle, early, seq, started.elapsed())
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    let sender = VethPair::run_in(&pair.ns_b, move || {
        std::thread::sleep(Duration::from_millis(100));
        RawSocket::bind(&b)
            .expect("raw socket")
            .send(&frame(MAC_A, MAC_B, 7, 60))
            .expect("send");
    });
    sender.join().expect("sender");
    let (idle, early, seq, waited) = waiter.join().expect("waiter");
    if early.is_none() {
        assert!(idle >= Duration::from_millis(140), "woke early: {idle:?}");
    }
    assert_eq!(seq, Some(7));
    assert!(waited < Duration::from_secs(4), "slept through the frame");
}

#[test]
fn two_rx_rings_share_the_traffic_and_lose_nothing() {
    let pair = veth_or_skip!();
    const COUNT: u32 = 1000;
    let received = Arc::new(AtomicU64::new(0));
    let rx_count = Arc::clone(&received);
    let b = format!("netmap:{}@conf:rings=2", pair.b);
    let receiver = VethPair::run_in(&pair.ns_b, move || {
        let mut port = open_port(&b, NicEngine::Packet).expect("open receiver");
        assert_eq!(port.rx_rings(), 2);
        let mut got = Vec::new();
        let started = Instant::now();
        while got.len() < COUNT as usize && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                if let Some(seq) = seq_of(&packet.data) {
                    got.push(seq);
                    rx_count.store(got.len() as u64, Ordering::Release);
                }
            }
        }
        got
    });
    let a = format!("netmap:{}", pair.a);
    VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, NicEngine::Packet).expect("open sender");
        std::thread::sleep(Duration::from_millis(200));
        send_paced(&mut port, COUNT, 128, &received);
    })
    .join()
    .expect("sender");
    let mut got = receiver.join().expect("receiver");
    got.sort_unstable();
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
}

#[test]
fn opening_fails_clearly_without_the_interface_or_with_it_down() {
    let pair = veth_or_skip!();
    let (a, ns_a) = (pair.a.clone(), pair.ns_a.clone());
    VethPair::run_in(&pair.ns_a, move || {
        let err = Port::open_on(&NicBackend::default(), "netmap:nosuchif0").unwrap_err();
        match &err {
            PortError::Io { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound, "{err}")
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("no such interface"), "{err}");
        let err = Port::open_on(&NicBackend::default(), &format!("netmap:{a}^1")).unwrap_err();
        assert!(matches!(err, PortError::Config { .. }), "{err}");
        ip(&["-n", &ns_a, "link", "set", &a, "down"]).unwrap();
        let err = Port::open_on(&NicBackend::default(), &format!("netmap:{a}")).unwrap_err();
        match &err {
            PortError::Io { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::NetworkDown, "{err}")
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("is down"), "{err}");
        ip(&["-n", &ns_a, "link", "set", &a, "up"]).unwrap();
        Port::open_on(&NicBackend::default(), &format!("netmap:{a}")).expect("opens once up");
    })
    .join()
    .expect("checks");
}

#[test]
fn auto_takes_af_xdp_once_per_interface_and_af_packet_otherwise() {
    let pair = veth_or_skip!();
    let a = format!("netmap:{}", pair.a);
    VethPair::run_in(&pair.ns_a, move || {
        let auto = NicBackend {
            engine: NicEngine::Auto,
        };
        let first = Port::open_on(&auto, &a).expect("first port");
        let engine = nic::counters(&first).unwrap().engine();
        if engine != NicEngine::Xdp {
            eprintln!("AF_XDP unavailable here: only the fallback is checked");
        }
        // The interface's XDP hook is taken: the next port uses AF_PACKET,
        // and so does a port with two ring pairs.
        let second = Port::open_on(&auto, &a).expect("second port");
        assert_eq!(nic::counters(&second).unwrap().engine(), NicEngine::Packet);
        let err = Port::open_on(
            &NicBackend {
                engine: NicEngine::Xdp,
            },
            &a,
        );
        if engine == NicEngine::Xdp {
            assert!(err.is_err(), "a second AF_XDP program on one interface");
        }
        drop((first, second));
        let two = Port::open_on(&auto, &format!("{a}@conf:rings=2")).expect("two rings");
        assert_eq!(nic::counters(&two).unwrap().engine(), NicEngine::Packet);
        drop(two);
        // Closing the first port detached its program: AF_XDP again. The
        // kernel releases an XDP socket's hold on the interface after the
        // close returns (deferred work), so allow it a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let again = Port::open_on(&auto, &a).expect("again");
            let now = nic::counters(&again).unwrap().engine();
            if now == engine || std::time::Instant::now() > deadline {
                assert_eq!(now, engine);
                break;
            }
            drop(again);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    })
    .join()
    .expect("checks");
}

on_each_engine!(frames_wait_while_the_ring_is_full);

/// A 64-slot RX ring the application leaves full: later frames wait in the
/// kernel (socket queue, or the AF_XDP socket's own buffers) and come in
/// order once slots are released.
fn frames_wait_while_the_ring_is_full(engine: NicEngine) {
    let pair = veth_or_skip!();
    const COUNT: u32 = 1000;
    let a = format!("netmap:{}@conf:slots=64", pair.a);
    let b = pair.b.clone();
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let receiver = VethPair::run_in(&pair.ns_a, move || {
        let mut port = open_port(&a, engine).expect("open port");
        opened_tx.send(()).unwrap();
        sent_rx.recv_timeout(DEADLINE).expect("sender done");
        let mut got = Vec::new();
        let started = Instant::now();
        while got.len() < COUNT as usize && started.elapsed() < DEADLINE {
            port.rxsync().expect("rxsync");
            while let Some(packet) = port.next_packet() {
                got.extend(seq_of(&packet.data));
            }
        }
        (got, nic::counters(&port).unwrap())
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    VethPair::run_in(&pair.ns_b, move || {
        RawSocket::bind(&b)
            .expect("raw socket")
            .send_numbered_paced(COUNT);
        sent_tx.send(()).unwrap();
    })
    .join()
    .expect("sender");
    let (got, counters) = receiver.join().expect("receiver");
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
    assert_eq!(counters.get(NicCounter::RxDropKernel), 0);
}

/// Opening a NIC port without CAP_NET_RAW fails with a permission error
/// that names the capability: checked here when the test is not root,
/// else in a child run as nobody.
#[test]
fn without_cap_net_raw_opening_is_a_permission_error() {
    if std::env::var_os("NIC_TEST_UNPRIVILEGED").is_some() || !is_root() {
        // Unprivileged (the child below, or a plain user): `lo` exists
        // everywhere.
        let err = Port::open_on(&NicBackend::default(), "netmap:lo").unwrap_err();
        assert!(matches!(err, PortError::Permission { .. }), "{err}");
        assert!(err.to_string().contains("CAP_NET_RAW"), "{err}");
        return;
    }
    // Run this test again as nobody, from a copy of the binary that user
    // may read.
    let dir = std::env::temp_dir().join(format!("nic-unpriv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("nic_veth");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args([
            "--exact",
            "without_cap_net_raw_opening_is_a_permission_error",
        ])
        .env("NIC_TEST_UNPRIVILEGED", "1")
        .current_dir(&dir)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(out) = out else {
        skip!("setpriv is not installed");
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// veth has no AF_XDP zero copy: the socket, bound asking for neither
/// mode, falls back to copy mode and the port says so.
#[test]
fn xdp_falls_back_to_copy_mode_on_veth() {
    let pair = veth_or_skip!();
    let a = pair.a.clone();
    VethPair::run_in(&pair.ns_a, move || {
        let port = open_port(&format!("netmap:{a}"), NicEngine::Xdp).expect("opens");
        let c = nic::counters(&port).expect("NIC port");
        assert!(!c.zero_copy());
        assert_eq!(c.mode(), "AF_XDP copy mode");
    })
    .join()
    .expect("checks");
}

/// A NIC with four queues gets four ring pairs, one AF_XDP socket per
/// queue sharing one UMEM: flows spread over the queues (the sender's TX
/// queue is our RX queue on veth) and every frame arrives on some ring.
#[test]
fn multi_queue_rx_fills_several_rings() {
    const SOURCES: u16 = 32;
    const EACH: u32 = 40;
    let pair = netmap_testkit::ok_or_skip!(VethPair::create_with_queues(MAC_A, MAC_B, 4));
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.9.3.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let mac_a = netmap_testkit::frames::format_mac(MAC_A);
    ip(&[
        "-n", &pair.ns_b, "neigh", "add", "10.9.3.1", "lladdr", &mac_a, "dev", &pair.b,
    ])
    .unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let a = pair.a.clone();
    let receiver = VethPair::run_in(&pair.ns_a, move || {
        let port = open_port(&format!("netmap:{a}"), NicEngine::Xdp).expect("opens");
        assert_eq!((port.tx_rings(), port.rx_rings()), (4, 4));
        ready_tx.send(()).unwrap();
        let mut per_ring = [0u32; 4];
        let started = Instant::now();
        while per_ring.iter().sum::<u32>() < u32::from(SOURCES) * EACH
            && started.elapsed() < DEADLINE
        {
            let _ = port.poll(Interest::RX, Some(Duration::from_millis(50)));
            for (r, count) in per_ring.iter_mut().enumerate() {
                let ring = port.rx_ring(r);
                let (head, tail) = (ring.head(), ring.tail());
                *count += netmap_ring::ring::distance(head, tail, ring.num_slots());
                ring.set_head(tail);
                ring.set_cur(tail);
            }
        }
        per_ring
    });
    ready_rx.recv_timeout(DEADLINE).expect("port open");
    VethPair::run_in(&pair.ns_b, move || {
        let sockets: Vec<std::net::UdpSocket> = (0..SOURCES)
            .map(|i| std::net::UdpSocket::bind(("10.9.3.2", 20000 + i)).expect("bind"))
            .collect();
        for n in 0..EACH {
            for s in &sockets {
                s.send_to(&n.to_be_bytes(), "10.9.3.1:9").expect("send");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    })
    .join()
    .expect("sender");
    let per_ring = receiver.join().expect("receiver");
    eprintln!("frames per ring: {per_ring:?}");
    assert_eq!(
        per_ring.iter().sum::<u32>(),
        u32::from(SOURCES) * EACH,
        "{per_ring:?}"
    );
    assert!(
        per_ring.iter().filter(|&&n| n > 0).count() >= 2,
        "flows on one queue only: {per_ring:?}"
    );
}

/// With a jumbo MTU, frames larger than a buffer cross as `NS_MOREFRAG`
/// chains both ways over AF_XDP (multi-buffer frames, `XDP_USE_SG`).
#[test]
fn jumbo_frames_cross_as_morefrag_chains() {
    const LEN: usize = 3500;
    let pair = veth_or_skip!();
    for (ns, dev) in [(&pair.ns_a, &pair.a), (&pair.ns_b, &pair.b)] {
        ip(&["-n", ns, "link", "set", dev, "mtu", "4000"]).unwrap();
    }
    let (a, b) = (pair.a.clone(), pair.b.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let port_side = VethPair::run_in(&pair.ns_a, move || {
        let port = open_port(&format!("netmap:{a}"), NicEngine::Xdp).expect("opens");
        ready_tx.send(()).unwrap();
        // RX: the peer's jumbo frame arrives as a chain.
        let started = Instant::now();
        let (mut joined, mut slots) = (Vec::new(), 0);
        while started.elapsed() < DEADLINE {
            let _ = port.poll(Interest::RX, Some(Duration::from_millis(50)));
            let ring = port.rx_ring(0);
            let (mut cur, tail) = (ring.cur(), ring.tail());
            let mut done = false;
            while cur != tail && !done {
                let slot = ring.slot(cur);
                let mut part = vec![0u8; usize::from(slot.len)];
                port.read_buf(slot.buf_idx, &mut part).unwrap();
                joined.extend_from_slice(&part);
                slots += 1;
                done = slot.flags & netmap_ring::abi::NS_MOREFRAG == 0;
                cur = netmap_ring::ring::next(cur, ring.num_slots());
            }
            ring.set_head(cur);
            ring.set_cur(cur);
            if done {
                break;
            }
        }
        // TX: a chain of two slots leaves as one frame.
        let out = frame(MAC_B, MAC_A, 9, LEN);
        let ring = port.tx_ring(0);
        let (first, second) = (
            ring.cur(),
            netmap_ring::ring::next(ring.cur(), ring.num_slots()),
        );
        port.write_buf(ring.slot(first).buf_idx, &out[..2000])
            .unwrap();
        ring.set_len_flags(first, 2000, netmap_ring::abi::NS_MOREFRAG);
        port.write_buf(ring.slot(second).buf_idx, &out[2000..])
            .unwrap();
        ring.set_len_flags(second, (LEN - 2000) as u16, 0);
        let next = netmap_ring::ring::next(second, ring.num_slots());
        ring.set_head(next);
        ring.set_cur(next);
        port.txsync().unwrap();
        (joined, slots)
    });
    ready_rx.recv_timeout(DEADLINE).expect("port open");
    let peer = VethPair::run_in(&pair.ns_b, move || {
        let socket = RawSocket::bind(&b).expect("raw socket");
        socket.send(&frame(MAC_A, MAC_B, 7, LEN)).unwrap();
        let mut buf = vec![0u8; 9000];
        let started = Instant::now();
        while started.elapsed() < DEADLINE {
            if let Some(n) = socket.recv(&mut buf) {
                if seq_of(&buf[..n]) == Some(9) {
                    return buf[..n].to_vec();
                }
            }
        }
        panic!("the chain never arrived as one frame");
    });
    let (joined, slots) = port_side.join().expect("port side");
    assert!(slots >= 2, "a {LEN}-byte frame in {slots} slot(s)");
    assert_eq!(joined, frame(MAC_A, MAC_B, 7, LEN));
    assert_eq!(peer.join().expect("peer"), frame(MAC_B, MAC_A, 9, LEN));
}
