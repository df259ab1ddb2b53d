//! NIC ports (`netmap:IFNAME`) over AF_PACKET, on a veth pair whose ends
//! live in two network namespaces the test makes and removes itself.
//! Each side runs on its own thread, moved into its namespace with
//! setns (a thread's network namespace is its own). Needs root; without
//! it each test prints why and passes.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_ring::port::{Interest, Port, PortError};
use vale_offload::nic::{self, NicCounter};

/// The experimental ethertype of IEEE 802: the frames of these tests,
/// told apart from anything else the kernel sends on the link.
const TEST_ETHERTYPE: u16 = 0x88b5;
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x01];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x01];
/// No test waits longer than this for frames.
const DEADLINE: Duration = Duration::from_secs(20);

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces joined by a veth pair, `a` in `ns_a` and `b` in `ns_b`;
/// deleting the namespaces on drop deletes the interfaces.
struct VethPair {
    ns_a: String,
    ns_b: String,
    a: String,
    b: String,
}

impl VethPair {
    /// Makes the pair, or says why the test cannot run.
    fn create() -> Result<Self, String> {
        if !is_root() {
            return Err("not root: network namespaces and AF_PACKET need root".into());
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}x{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pair = Self {
            ns_a: format!("nmnic{tag}a"),
            ns_b: format!("nmnic{tag}b"),
            a: format!("nv{tag}a"),
            b: format!("nv{tag}b"),
        };
        ip(&["netns", "add", &pair.ns_a])?;
        if let Err(e) = ip(&["netns", "add", &pair.ns_b]) {
            let _ = ip(&["netns", "del", &pair.ns_a]);
            return Err(e);
        }
        // From here on, drop removes what was made.
        let mac_a = format_mac(MAC_A);
        let mac_b = format_mac(MAC_B);
        for ns in [&pair.ns_a, &pair.ns_b] {
            // No IPv6 chatter (router solicitations, MLD) on the test link.
            let _ = Command::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-qw"])
                .arg("net.ipv6.conf.default.disable_ipv6=1")
                .output();
        }
        ip(&[
            "-n", &pair.ns_a, "link", "add", &pair.a, "address", &mac_a, "type", "veth", "peer",
            "name", &pair.b, "address", &mac_b, "netns", &pair.ns_b,
        ])?;
        ip(&["-n", &pair.ns_a, "link", "set", &pair.a, "up"])?;
        ip(&["-n", &pair.ns_b, "link", "set", &pair.b, "up"])?;
        Ok(pair)
    }

    /// Runs `f` on a thread inside namespace `ns`.
    fn run_in<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace file");
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns into the test namespace");
            f()
        })
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.ns_a]);
        let _ = ip(&["netns", "del", &self.ns_b]);
    }
}

macro_rules! veth_or_skip {
    () => {
        match VethPair::create() {
            Ok(pair) => pair,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        }
    };
}

fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A test frame: Ethernet header with [`TEST_ETHERTYPE`], then a sequence
/// number, then filler up to `len` bytes derived from the number.
fn test_frame(src: [u8; 6], dst: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push((seq as usize + f.len()) as u8);
    }
    f
}

/// The sequence number of a test frame, `None` for any other frame.
fn test_seq(frame: &[u8]) -> Option<u32> {
    if frame.len() < 18 || frame[12..14] != TEST_ETHERTYPE.to_be_bytes() {
        return None;
    }
    Some(u32::from_be_bytes(frame[14..18].try_into().unwrap()))
}

/// Length of frame `seq`: varied, 60..=1514 bytes.
fn frame_len(seq: u32) -> usize {
    60 + (seq as usize * 37) % 1455
}

/// A plain AF_PACKET socket: the independent peer of the port.
struct RawSocket(OwnedFd);

impl RawSocket {
    fn bind(ifname: &str) -> io::Result<Self> {
        let c_name = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: `c_name` is a valid NUL-terminated string for the call.
        let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        let protocol = (TEST_ETHERTYPE).to_be();
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data, valid all-zero.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = index as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: `timeout` is a valid timeval and its size is passed.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        Ok(Self(fd))
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a valid slice for the call.
        let rc = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Receives one frame, or `None` after the 200 ms receive timeout.
    fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: `buf` is a valid writable slice for the call.
        let rc = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        (rc >= 0).then_some(rc as usize)
    }
}

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
        if port.inject(&test_frame(MAC_A, MAC_B, seq, frame_len(seq))) {
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

#[test]
fn frames_cross_between_two_nic_ports_in_order_with_their_bytes() {
    let pair = veth_or_skip!();
    const COUNT: u32 = 3000;
    let received = Arc::new(AtomicU64::new(0));
    let rx_count = Arc::clone(&received);
    let b = format!("netmap:{}", pair.b);
    let receiver = VethPair::run_in(&pair.ns_b, move || {
        let mut port = vale_offload::open(&b).expect("open receiver");
        let mut got = Vec::new();
        let started = Instant::now();
        while got.len() < COUNT as usize && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                if let Some(seq) = test_seq(&packet.data) {
                    assert_eq!(packet.data, test_frame(MAC_A, MAC_B, seq, frame_len(seq)));
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
        let mut port = vale_offload::open(&a).expect("open sender");
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

#[test]
fn a_port_receives_what_a_plain_socket_sends_and_sends_what_it_receives() {
    let pair = veth_or_skip!();
    const COUNT: u32 = 500;
    let b = pair.b.clone();
    let a = format!("netmap:{}", pair.a);
    let ready = Arc::new(AtomicU32::new(0));
    let port_ready = Arc::clone(&ready);
    // The port echoes what it receives back with MACs swapped.
    let echo = VethPair::run_in(&pair.ns_a, move || {
        let mut port = vale_offload::open(&a).expect("open port");
        port_ready.store(1, Ordering::Release);
        let mut echoed = 0;
        let started = Instant::now();
        while echoed < COUNT && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                if test_seq(&packet.data).is_none() {
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
                .send(&test_frame(MAC_B, MAC_A, seq, frame_len(seq)))
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
        let mut want = test_frame(MAC_B, MAC_A, seq, frame_len(seq));
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

#[test]
fn tshark_on_the_peer_decodes_what_the_port_sends() {
    let pair = veth_or_skip!();
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("skipped: tshark is not installed (scripts/setup installs it)");
        return;
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
        let mut port = vale_offload::open(&a).expect("open port");
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

#[test]
fn poll_sleeps_until_a_frame_arrives_and_times_out_without_one() {
    let pair = veth_or_skip!();
    let b = pair.b.clone();
    let a = format!("netmap:{}", pair.a);
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let waiter = VethPair::run_in(&pair.ns_a, move || {
        let mut port = vale_offload::open(&a).expect("open port");
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
                seq = seq.or(test_seq(&packet.data));
            }
        }
        (idle, early, seq, started.elapsed())
    });
    opened_rx.recv_timeout(DEADLINE).expect("port opened");
    let sender = VethPair::run_in(&pair.ns_b, move || {
        std::thread::sleep(Duration::from_millis(100));
        RawSocket::bind(&b)
            .expect("raw socket")
            .send(&test_frame(MAC_B, MAC_A, 7, 60))
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
        let mut port = vale_offload::open(&b).expect("open receiver");
        assert_eq!(port.rx_rings(), 2);
        let mut got = Vec::new();
        let started = Instant::now();
        while got.len() < COUNT as usize && started.elapsed() < DEADLINE {
            port.poll(Interest::RX, Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(packet) = port.next_packet() {
                if let Some(seq) = test_seq(&packet.data) {
                    got.push(seq);
                    rx_count.store(got.len() as u64, Ordering::Release);
                }
            }
        }
        got
    });
    let a = format!("netmap:{}", pair.a);
    VethPair::run_in(&pair.ns_a, move || {
        let mut port = vale_offload::open(&a).expect("open sender");
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
        let err = vale_offload::open("netmap:nosuchif0").unwrap_err();
        match &err {
            PortError::Io { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound, "{err}")
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("no such interface"), "{err}");
        let err = vale_offload::open(&format!("netmap:{a}^")).unwrap_err();
        assert!(matches!(err, PortError::Unsupported { .. }), "{err}");
        ip(&["-n", &ns_a, "link", "set", &a, "down"]).unwrap();
        let err = vale_offload::open(&format!("netmap:{a}")).unwrap_err();
        match &err {
            PortError::Io { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::NetworkDown, "{err}")
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("is down"), "{err}");
        ip(&["-n", &ns_a, "link", "set", &a, "up"]).unwrap();
        vale_offload::open(&format!("netmap:{a}")).expect("opens once up");
    })
    .join()
    .expect("checks");
}
