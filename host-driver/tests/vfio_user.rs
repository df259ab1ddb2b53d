//! The vfio-user body end to end: `nmsim-server` serves the RTL in another
//! process; ports opened through `--backend vfio-user:<socket>` move
//! packets through it, with DMA memory passed as memfds and notifications
//! as eventfds; a killed client's ports are released on the device.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use host_driver::port::DeviceBackend;
use host_driver::vfio_user::VfioUserDevice;
use netmap_ring::port::{Interest, Port};
use netmap_testkit::frames;
use netmap_testkit::nmsim::{wait_until_serving, SimServer};
use netmap_testkit::slots::drain;
use vale_offload::regmap as map;

/// Frame `seq`, of one of five lengths from 60 to 504 bytes.
fn frame(dst: [u8; 6], src: [u8; 6], seq: u32) -> Vec<u8> {
    frames::frame(dst, src, seq, 60 + (seq as usize % 5) * 111)
}

/// The workspace's `nmsim-server`, built with this test.
fn server_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nmsim-server"))
}

#[test]
fn vale_and_pipe_traffic_through_the_server() {
    let server = SimServer::start(server_bin(), &["--clients", "1"]);
    let backend = host_driver::device_backend(&server.spec()).unwrap();
    assert_eq!(backend.kind(), "vfio-user");
    let mut a = Port::open_on(&*backend, "vale0:a").unwrap();
    let mut b = Port::open_on(&*backend, "vale0:b").unwrap();
    let mac_a = [2, 0, 0, 0, 0, 0xa];
    let mac_b = [2, 0, 0, 0, 0, 0xb];
    assert!(a.inject(&frame([0xff; 6], mac_a, 0)));
    a.txsync().unwrap();
    assert_eq!(drain(&mut b).len(), 1);
    let sent: Vec<Vec<u8>> = (1..50).map(|s| frame(mac_a, mac_b, s)).collect();
    for f in &sent {
        assert!(b.inject(f));
    }
    b.txsync().unwrap();
    assert_eq!(drain(&mut a), sent);

    let mut m = Port::open_on(&*backend, "netmap:u{1").unwrap();
    let mut s = Port::open_on(&*backend, "netmap:u}1").unwrap();
    let sent: Vec<Vec<u8>> = (0..100).map(|q| frame(mac_b, mac_a, q)).collect();
    for f in &sent {
        assert!(m.inject(f));
    }
    m.txsync().unwrap();
    // The receiver waits on the eventfd the server signals.
    let ready = s.poll(Interest::RX, Some(Duration::from_secs(10))).unwrap();
    assert!(ready.rx);
    assert_eq!(drain(&mut s), sent);
}

fn entry_enabled(backend: &DeviceBackend, entry: u32) -> bool {
    backend.with_device(|dev, info| {
        let control = dev
            .bar0_read(info.ports.register(entry, map::PORT_CONTROL))
            .unwrap();
        control & map::PORT_CONTROL_ENABLE != 0
    })
}

fn connect(server: &SimServer) -> DeviceBackend {
    DeviceBackend::new(Box::new(VfioUserDevice::connect(server.socket()).unwrap())).unwrap()
}

#[test]
fn two_clients_share_one_device() {
    let server = SimServer::start(server_bin(), &["--clients", "3"]);
    let first = connect(&server);
    let second = connect(&server);
    let mut a = Port::open_on(&first, "vale0:a").unwrap();
    let mut b = Port::open_on(&second, "vale0:b").unwrap();
    assert_ne!(first.entry_of("vale0", "a"), second.entry_of("vale0", "b"));
    let mac_a = [2, 0, 0, 0, 0, 0xa];
    let mac_b = [2, 0, 0, 0, 0, 0xb];
    assert!(a.inject(&frame([0xff; 6], mac_a, 1)));
    a.txsync().unwrap();
    // b's own eventfd wakes it: the server routes port b's line to b's
    // connection.
    let ready = b.poll(Interest::RX, Some(Duration::from_secs(10))).unwrap();
    assert!(ready.rx);
    assert_eq!(drain(&mut b).len(), 1);
    let back: Vec<Vec<u8>> = (2..30).map(|s| frame(mac_a, mac_b, s)).collect();
    for f in &back {
        assert!(b.inject(f));
    }
    b.txsync().unwrap();
    assert_eq!(drain(&mut a), back);

    // A third client (valectl --backend) sees both ports and their counters.
    let spec: host_driver::DeviceSpec = server.spec().parse().unwrap();
    let mut dev = spec.open_device().unwrap();
    let report = host_driver::report::device_report(dev.as_mut()).unwrap();
    assert_eq!(report.ports.len(), 2);
    let counter = |entry: u32, name: &str| {
        let port = report.ports.iter().find(|p| p.entry == entry).unwrap();
        port.counters.iter().find(|(n, _)| *n == name).unwrap().1
    };
    let (ea, eb) = (
        first.entry_of("vale0", "a").unwrap(),
        second.entry_of("vale0", "b").unwrap(),
    );
    assert_eq!(counter(ea, "tx_packets"), 1);
    assert_eq!(counter(eb, "rx_packets"), 1);
    assert_eq!(counter(eb, "tx_packets"), back.len() as u32);
    assert_eq!(counter(ea, "rx_packets"), back.len() as u32);
    assert!(report.to_json().contains("\"kind\":\"vale\""));
    assert!(report.to_string().contains("switch: lookups="));
}

#[test]
fn a_killed_application_releases_its_ports_on_the_device() {
    if let Ok(socket) = std::env::var("NMSIM_CHILD_SOCKET") {
        // The child: open a port, say so, and wait to be killed.
        let backend = host_driver::device_backend(&format!("vfio-user:{socket}")).unwrap();
        let _port = Port::open_on(&*backend, "vale0:victim").unwrap();
        println!("OPEN");
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let server = SimServer::start(server_bin(), &["--clients", "2"]);
    let keeper_backend = connect(&server);
    let _keeper = Port::open_on(&keeper_backend, "vale0:keeper").unwrap();
    let keeper_entry = keeper_backend.entry_of("vale0", "keeper").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_application_releases_its_ports_on_the_device",
            "--nocapture",
        ])
        .env("NMSIM_CHILD_SOCKET", server.socket())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains("OPEN") {
        assert!(Instant::now() < deadline, "child never opened its port");
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "child exited early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // The child took the next free entry.
    let victim_entry = (0..8)
        .find(|&e| e != keeper_entry && entry_enabled(&keeper_backend, e))
        .expect("the child's port is on the device");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while entry_enabled(&keeper_backend, victim_entry) {
        assert!(
            Instant::now() < deadline,
            "the dead client's port stayed enabled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        entry_enabled(&keeper_backend, keeper_entry),
        "the survivor lost its port"
    );
}

/// `--backend vfio-user:` naming a `--backend sim` server's socket takes
/// that server's start-up lock, under which the server decides to leave:
/// the client waits while the lock is held, attaches whole once it is
/// free, and once the server has left gets a clear error, not a hang.
#[test]
fn a_client_by_path_of_the_shared_sim_takes_its_lock() {
    use host_driver::shared_sim::{connect_by_path, SharedSim, SharedSimError};
    use host_driver::Device;

    let dir = std::env::temp_dir().join(format!("nmsim-bypath-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sim = SharedSim::in_dir(dir.clone());
    let mut child = Command::new(env!("CARGO_BIN_EXE_nmsim-server"))
        .arg("--socket")
        .arg(&sim.socket)
        .arg("--lock")
        .arg(&sim.lock)
        .args(["--idle-exit", "0.3"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nmsim-server starts");
    wait_until_serving(&mut child);
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&sim.lock)
        .unwrap();
    // Held as the server holds it from its decision to leave to its exit.
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let (done, connected) = std::sync::mpsc::channel();
    let socket = sim.socket.clone();
    let client = std::thread::spawn(move || {
        let result = connect_by_path(&socket);
        let _ = done.send(());
        result
    });
    assert!(
        connected.recv_timeout(Duration::from_millis(500)).is_err(),
        "the client connected while the lock was held"
    );
    drop(lock);
    connected
        .recv_timeout(Duration::from_secs(30))
        .expect("the client never connected once the lock was free");
    let mut device = client.join().unwrap().expect("attached");
    device.device_counters().expect("a whole device");
    // Attached: the server stays past its idle limit.
    std::thread::sleep(Duration::from_millis(800));
    assert!(child.try_wait().unwrap().is_none(), "left with a client");
    drop(device);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the idle server never left");
        std::thread::sleep(Duration::from_millis(50));
    }
    let Err(err) = connect_by_path(&sim.socket) else {
        panic!("connected to a server that left");
    };
    assert!(matches!(err, SharedSimError::NotRunning { .. }), "{err}");
    assert!(err.to_string().contains("--backend sim"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
