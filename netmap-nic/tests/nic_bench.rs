//! What a NIC port costs over AF_PACKET on veth, beside a plain AF_PACKET
//! socket in the same run (DESIGN.md 6: alternate ours and the baseline in
//! short rounds, report each pair's ratio and the medians). A measuring
//! program, not a test: it is ignored by default and asserts nothing about
//! speed. Run it as root with
//!
//! ```text
//! cargo test --release -p netmap-nic --test nic_bench -- --ignored --nocapture
//! ```
//! `NIC_BENCH_PAIRS` (default 5) and `NIC_BENCH_ROUND_MS` (default 300)
//! set the number of A/B pairs and the length of a round.

mod nic_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_nic::{self as nic, NicBackend, NicCounter, NicEngine};
use netmap_ring::port::Port;
use netmap_ring::ring;

use netmap_testkit::frames::frame;
use netmap_testkit::netns::VethPair;
use nic_support::*;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One round of each contender: the port over AF_XDP, the port over
/// AF_PACKET, the plain AF_PACKET socket, a bare AF_XDP socket in the
/// same mode (`netmap_nic::bare`), in Mpps.
type Round = (f64, f64, f64, f64);

fn report(what: &str, rounds: &[Round]) {
    println!(
        "{what}: round  xdp-port  packet-port  socket  bare-xdp  xdp-port/bare-xdp  packet-port/socket"
    );
    for (i, (xdp, packet, raw, bare)) in rounds.iter().enumerate() {
        println!(
            "{what}: {i:5}  {xdp:8.3}  {packet:11.3}  {raw:6.3}  {bare:8.3}  {:17.2}  {:18.2}",
            xdp / bare,
            packet / raw
        );
    }
    println!(
        "{what}: median {:8.3}  {:11.3}  {:6.3}  {:8.3}  {:17.2}  {:18.2} (medians of ratios)",
        median(rounds.iter().map(|p| p.0).collect()),
        median(rounds.iter().map(|p| p.1).collect()),
        median(rounds.iter().map(|p| p.2).collect()),
        median(rounds.iter().map(|p| p.3).collect()),
        median(rounds.iter().map(|p| p.0 / p.3).collect()),
        median(rounds.iter().map(|p| p.1 / p.2).collect()),
    );
}

/// Sends 60-byte frames for one round through a bare AF_XDP socket.
fn bare_tx_round(ifname: &str, frame: &[u8], round: Duration) -> f64 {
    let mut bare = nic::bare::BareXdp::open(ifname, frame).expect("bare AF_XDP");
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < round {
        sent += u64::from(bare.send(1024, 60).expect("bare send"));
    }
    sent as f64 / started.elapsed().as_secs_f64() / 1e6
}

/// Receives for one round through a bare AF_XDP socket.
fn bare_rx_round(ifname: &str, round: Duration) -> f64 {
    let mut bare = nic::bare::BareXdp::open(ifname, &[]).expect("bare AF_XDP");
    let started = Instant::now();
    let mut got = 0u64;
    while started.elapsed() < round {
        got += u64::from(bare.receive());
    }
    got as f64 / started.elapsed().as_secs_f64() / 1e6
}

fn open_port(name: &str, engine: NicEngine) -> Port {
    let port = Port::open_on(&NicBackend { engine }, name).expect("open port");
    assert_eq!(nic::counters(&port).unwrap().engine(), engine);
    port
}

/// Receives for one round on a port opened for it; returns Mpps.
fn port_rx_round(name: &str, engine: NicEngine, round: Duration) -> f64 {
    let port = open_port(name, engine);
    port.rxsync().unwrap();
    let started = Instant::now();
    let mut got = 0u64;
    while started.elapsed() < round {
        port.rxsync().unwrap();
        let r = port.rx_ring(0);
        let (head, tail) = (r.head(), r.tail());
        got += u64::from(ring::distance(head, tail, r.num_slots()));
        r.set_head(tail);
        r.set_cur(tail);
    }
    got as f64 / started.elapsed().as_secs_f64() / 1e6
}

/// Sends 60-byte frames for one round through the port, as pkt-gen does
/// (the frame is in every buffer already; a send sets the length and moves
/// head); returns Mpps taken by the kernel.
fn port_tx_round(port: &Port, round: Duration) -> f64 {
    let before = nic::counters(port).unwrap().get(NicCounter::TxPackets);
    let started = Instant::now();
    while started.elapsed() < round {
        let r = port.tx_ring(0);
        let n = r.num_slots();
        let mut cur = r.cur();
        let tail = r.tail();
        while cur != tail {
            r.set_len_flags(cur, 60, 0);
            cur = ring::next(cur, n);
        }
        r.set_head(cur);
        r.set_cur(cur);
        port.txsync().unwrap();
    }
    let sent = nic::counters(port).unwrap().get(NicCounter::TxPackets) - before;
    sent as f64 / started.elapsed().as_secs_f64() / 1e6
}

fn raw_tx_round(socket: &RawSocket, frame: &[u8], round: Duration) -> f64 {
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < round {
        sent += socket.send_batch(frame, 64);
    }
    sent as f64 / started.elapsed().as_secs_f64() / 1e6
}

#[test]
#[ignore = "a measuring program: run with --ignored --nocapture"]
fn nic_port_beside_a_plain_af_packet_socket() {
    let pair = veth_or_skip!();
    let pairs = env_or("NIC_BENCH_PAIRS", 5) as usize;
    let round = Duration::from_millis(env_or("NIC_BENCH_ROUND_MS", 300));
    let a_to_b = frame(MAC_B, MAC_A, 0, 60);

    // TX: one thread takes turns: port over AF_XDP, over AF_PACKET, socket.
    let (a, ifname_a) = (format!("netmap:{}", pair.a), pair.a.clone());
    let tx_frame = a_to_b.clone();
    let tx = VethPair::run_in(&pair.ns_a, move || {
        // One AF_XDP user of the queue at a time: the XDP port and the
        // bare socket are opened for their rounds.
        let open_filled = |engine| {
            let port = open_port(&a, engine);
            let ring = port.tx_ring(0);
            for i in 0..ring.num_slots() {
                port.write_buf(ring.slot(i).buf_idx, &tx_frame).unwrap();
            }
            port
        };
        let packet_port = open_filled(NicEngine::Packet);
        let socket = RawSocket::bind_protocol(&ifname_a, 0).expect("raw socket");
        (0..pairs)
            .map(|_| {
                let xdp_port = open_filled(NicEngine::Xdp);
                let xdp = port_tx_round(&xdp_port, round);
                drop(xdp_port);
                (
                    xdp,
                    port_tx_round(&packet_port, round),
                    raw_tx_round(&socket, &tx_frame, round),
                    bare_tx_round(&ifname_a, &tx_frame, round),
                )
            })
            .collect::<Vec<_>>()
    })
    .join()
    .expect("tx rounds");
    report("tx", &tx);

    // RX: a sender on the other side runs all along; the receiver opens
    // the port or the socket for each round (two open sockets would each
    // get a copy of every frame).
    let stop = Arc::new(AtomicBool::new(false));
    let offered = Arc::new(AtomicU64::new(0));
    let (stop_tx, offered_tx, ifname_b) = (Arc::clone(&stop), Arc::clone(&offered), pair.b.clone());
    let sender = VethPair::run_in(&pair.ns_b, move || {
        let socket = RawSocket::bind_protocol(&ifname_b, 0).expect("raw socket");
        let b_to_a = frame(MAC_A, MAC_B, 1, 60);
        while !stop_tx.load(Ordering::Relaxed) {
            let n = socket.send_batch(&b_to_a, 64);
            offered_tx.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    let (a, ifname_a) = (format!("netmap:{}", pair.a), pair.a.clone());
    let rx = VethPair::run_in(&pair.ns_a, move || {
        let mut out = Vec::new();
        let mut offered_rates = Vec::new();
        for _ in 0..pairs {
            let offered_before = offered.load(Ordering::Relaxed);
            let started = Instant::now();
            let xdp_rate = port_rx_round(&a, NicEngine::Xdp, round);
            let secs = started.elapsed().as_secs_f64();
            offered_rates
                .push((offered.load(Ordering::Relaxed) - offered_before) as f64 / secs / 1e6);
            let packet_rate = port_rx_round(&a, NicEngine::Packet, round);

            let socket = RawSocket::bind_protocol(&ifname_a, libc::ETH_P_ALL as u16).expect("raw");
            socket.set_receive_buffer(8 << 20);
            let mut bufs = Box::new([[0u8; 2048]; 64]);
            while socket.recv_batch(&mut bufs) > 0 {}
            let started = Instant::now();
            let mut got = 0u64;
            while started.elapsed() < round {
                got += socket.recv_batch(&mut bufs) as u64;
            }
            let raw_rate = got as f64 / started.elapsed().as_secs_f64() / 1e6;
            drop(socket);
            out.push((
                xdp_rate,
                packet_rate,
                raw_rate,
                bare_rx_round(&ifname_a, round),
            ));
        }
        (out, median(offered_rates))
    })
    .join()
    .expect("rx rounds");
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("sender");
    report("rx", &rx.0);
    println!(
        "rx: sender offered {:.3} Mpps (median over port rounds)",
        rx.1
    );
}
