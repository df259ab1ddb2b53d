//! What a NIC port costs on veth, beside a bare AF_XDP socket in the same
//! mode and a plain AF_PACKET socket in the same run (DESIGN.md 6:
//! alternate ours and the baselines in short rounds, report each round's
//! ratios and their medians). A measuring program, not a test: it is
//! ignored by default and asserts nothing about speed. Run it as root with
//!
//! ```text
//! cargo test --release -p netmap-nic --test nic_bench -- --ignored --nocapture
//! ```
//! `NIC_BENCH_PAIRS` (default 5) and `NIC_BENCH_ROUND_MS` (default 300)
//! set the number of rounds of each contender and their length.
//! `NIC_BENCH_ONLY=tx-port|tx-bare|rx-port|rx-bare` runs that contender
//! alone, round after round (for `strace -c` or `valgrind` on one loop).
//!
//! Besides frames per second, each round reads its thread's CPU time: on
//! TX the sender's thread does all the work (the kernel sends, and veth
//! delivers, inside its `sendto`), so CPU time per frame is the cost of a
//! frame whatever share of the CPU the other processes left the thread.

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

/// The smallest and largest of `v`.
fn spread(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)))
}

/// CPU time the calling thread has used, in seconds.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec that lives across the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// What one contender did in one round.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    frames: u64,
    secs: f64,
    cpu_secs: f64,
}

impl Sample {
    fn mpps(&self) -> f64 {
        self.frames as f64 / self.secs / 1e6
    }

    /// Nanoseconds of the thread's CPU time per frame.
    fn cpu_ns(&self) -> f64 {
        self.cpu_secs * 1e9 / self.frames.max(1) as f64
    }
}

/// Runs `step` (which returns the frames it moved) until `round` has
/// passed.
fn timed(round: Duration, mut step: impl FnMut() -> u64) -> Sample {
    let cpu = thread_cpu_secs();
    let started = Instant::now();
    let mut frames = 0;
    while started.elapsed() < round {
        frames += step();
    }
    Sample {
        frames,
        secs: started.elapsed().as_secs_f64(),
        cpu_secs: thread_cpu_secs() - cpu,
    }
}

/// One round of each contender: the port over AF_XDP, a bare AF_XDP
/// socket in the same mode (`netmap_nic::bare`), the port over
/// AF_PACKET, the plain AF_PACKET socket.
#[derive(Clone, Copy, Debug)]
struct Round {
    port: Sample,
    bare: Sample,
    packet_port: Sample,
    socket: Sample,
}

fn report(what: &str, rounds: &[Round], cpu_bound: bool) {
    println!(
        "{what}: round  port-Mpps  bare-Mpps  port/bare  port-ns/frame  bare-ns/frame  \
         packet-port-Mpps  socket-Mpps  packet-port/socket"
    );
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "{what}: {i:5}  {:9.3}  {:9.3}  {:9.2}  {:13.0}  {:13.0}  {:16.3}  {:11.3}  {:18.2}",
            r.port.mpps(),
            r.bare.mpps(),
            r.port.mpps() / r.bare.mpps(),
            r.port.cpu_ns(),
            r.bare.cpu_ns(),
            r.packet_port.mpps(),
            r.socket.mpps(),
            r.packet_port.mpps() / r.socket.mpps(),
        );
    }
    let ratios = || rounds.iter().map(|r| r.port.mpps() / r.bare.mpps());
    let (lo, hi) = spread(ratios());
    let of = |f: fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    println!(
        "{what}: RESULT port {:.3} Mpps, bare AF_XDP {:.3} Mpps: port/bare {:.2} \
         (median of {} rounds' ratios, spread {lo:.2}-{hi:.2}; target >= 0.9)",
        of(|r| r.port.mpps()),
        of(|r| r.bare.mpps()),
        median(ratios().collect()),
        rounds.len(),
    );
    if cpu_bound {
        let cpu = || rounds.iter().map(|r| r.bare.cpu_ns() / r.port.cpu_ns());
        let (lo, hi) = spread(cpu());
        println!(
            "{what}: RESULT CPU per frame: port {:.0} ns, bare {:.0} ns: bare/port {:.2} \
             (median, spread {lo:.2}-{hi:.2}; the sender's thread time, load-independent)",
            of(|r| r.port.cpu_ns()),
            of(|r| r.bare.cpu_ns()),
            median(cpu().collect()),
        );
    }
    println!(
        "{what}: RESULT AF_PACKET port {:.3} Mpps, socket {:.3} Mpps: port/socket {:.2}",
        of(|r| r.packet_port.mpps()),
        of(|r| r.socket.mpps()),
        median(
            rounds
                .iter()
                .map(|r| r.packet_port.mpps() / r.socket.mpps())
                .collect()
        ),
    );
}

/// Sends 60-byte frames for one round through a bare AF_XDP socket;
/// counts the frames the kernel completed.
fn bare_tx_round(ifname: &str, frame: &[u8], round: Duration) -> Sample {
    let mut bare = nic::bare::BareXdp::open(ifname, frame).expect("bare AF_XDP");
    timed(round, || u64::from(bare.send(1024, 60).expect("bare send")))
}

/// Receives for one round through a bare AF_XDP socket.
fn bare_rx_round(ifname: &str, round: Duration) -> Sample {
    let mut bare = nic::bare::BareXdp::open(ifname, &[]).expect("bare AF_XDP");
    timed(round, || u64::from(bare.receive()))
}

fn open_port(name: &str, engine: NicEngine) -> Port {
    let port = Port::open_on(&NicBackend { engine }, name).expect("open port");
    assert_eq!(nic::counters(&port).unwrap().engine(), engine);
    port
}

/// Receives for one round on a port opened for it, releasing every slot
/// at once and syncing again (a busy receiver, as the bare one is).
fn port_rx_round(name: &str, engine: NicEngine, round: Duration) -> Sample {
    let port = open_port(name, engine);
    port.rxsync().unwrap();
    timed(round, || {
        port.rxsync().unwrap();
        let r = port.rx_ring(0);
        let (head, tail) = (r.head(), r.tail());
        r.set_head(tail);
        r.set_cur(tail);
        u64::from(ring::distance(head, tail, r.num_slots()))
    })
}

/// Sends 60-byte frames for one round through the port, as pkt-gen does
/// (the frame is in every buffer already; a send sets the length and moves
/// head); counts the frames the kernel took.
fn port_tx_round(port: &Port, round: Duration) -> Sample {
    let before = nic::counters(port).unwrap().get(NicCounter::TxPackets);
    let mut sample = timed(round, || {
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
        0
    });
    sample.frames = nic::counters(port).unwrap().get(NicCounter::TxPackets) - before;
    sample
}

fn raw_tx_round(socket: &RawSocket, frame: &[u8], round: Duration) -> Sample {
    timed(round, || socket.send_batch(frame, 64) as u64)
}

fn raw_rx_round(ifname: &str, round: Duration) -> Sample {
    let socket = RawSocket::bind_protocol(ifname, libc::ETH_P_ALL as u16).expect("raw");
    socket.set_receive_buffer(8 << 20);
    let mut bufs = Box::new([[0u8; 2048]; 64]);
    while socket.recv_batch(&mut bufs) > 0 {}
    timed(round, || socket.recv_batch(&mut bufs) as u64)
}

/// A port with the 60-byte frame in every TX buffer.
fn open_filled(name: &str, engine: NicEngine, frame: &[u8]) -> Port {
    let port = open_port(name, engine);
    let ring = port.tx_ring(0);
    for i in 0..ring.num_slots() {
        port.write_buf(ring.slot(i).buf_idx, frame).unwrap();
    }
    port
}

/// Runs one contender alone for `rounds` rounds (`NIC_BENCH_ONLY`).
fn only(which: &str, pair: &VethPair, rounds: usize, round: Duration) {
    let (a, ifname_a) = (format!("netmap:{}", pair.a), pair.a.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let sender = which.starts_with("rx").then(|| {
        let (stop, ifname_b) = (Arc::clone(&stop), pair.b.clone());
        VethPair::run_in(&pair.ns_b, move || {
            let socket = RawSocket::bind_protocol(&ifname_b, 0).expect("raw socket");
            let b_to_a = frame(MAC_A, MAC_B, 1, 60);
            while !stop.load(Ordering::Relaxed) {
                socket.send_batch(&b_to_a, 64);
            }
        })
    });
    let which_owned = which.to_string();
    let samples = VethPair::run_in(&pair.ns_a, move || {
        let tx_frame = frame(MAC_B, MAC_A, 0, 60);
        (0..rounds)
            .map(|_| match which_owned.as_str() {
                "tx-port" => port_tx_round(&open_filled(&a, NicEngine::Xdp, &tx_frame), round),
                "tx-bare" => bare_tx_round(&ifname_a, &tx_frame, round),
                "rx-port" => port_rx_round(&a, NicEngine::Xdp, round),
                "rx-bare" => bare_rx_round(&ifname_a, round),
                other => panic!("NIC_BENCH_ONLY={other}: tx-port, tx-bare, rx-port or rx-bare"),
            })
            .collect::<Vec<_>>()
    })
    .join()
    .expect("rounds");
    stop.store(true, Ordering::Relaxed);
    if let Some(sender) = sender {
        sender.join().expect("sender");
    }
    for (i, s) in samples.iter().enumerate() {
        println!(
            "{which}: {i:5}  {:.3} Mpps  {:.0} ns CPU/frame  {} frames",
            s.mpps(),
            s.cpu_ns(),
            s.frames
        );
    }
}

#[test]
#[ignore = "a measuring program: run with --ignored --nocapture"]
fn nic_port_beside_a_plain_af_packet_socket() {
    let pair = veth_or_skip!();
    let pairs = env_or("NIC_BENCH_PAIRS", 5) as usize;
    let round = Duration::from_millis(env_or("NIC_BENCH_ROUND_MS", 300));
    if let Ok(which) = std::env::var("NIC_BENCH_ONLY") {
        only(&which, &pair, pairs, round);
        return;
    }
    let a_to_b = frame(MAC_B, MAC_A, 0, 60);

    // TX: one thread takes turns: port over AF_XDP, port over AF_PACKET,
    // bare AF_XDP, socket. One AF_XDP user of the queue at a time: the
    // XDP port and the bare socket are opened for their rounds.
    let (a, ifname_a) = (format!("netmap:{}", pair.a), pair.a.clone());
    let tx_frame = a_to_b.clone();
    let tx = VethPair::run_in(&pair.ns_a, move || {
        let packet_port = open_filled(&a, NicEngine::Packet, &tx_frame);
        let socket = RawSocket::bind_protocol(&ifname_a, 0).expect("raw socket");
        (0..pairs)
            .map(|_| {
                let xdp_port = open_filled(&a, NicEngine::Xdp, &tx_frame);
                let port = port_tx_round(&xdp_port, round);
                drop(xdp_port);
                // An AF_PACKET round after each AF_XDP one, so that what
                // the kernel defers when a socket closes (its UMEM's
                // release) falls on neither AF_XDP contender.
                let packet_port = port_tx_round(&packet_port, round);
                let bare = bare_tx_round(&ifname_a, &tx_frame, round);
                Round {
                    port,
                    bare,
                    packet_port,
                    socket: raw_tx_round(&socket, &tx_frame, round),
                }
            })
            .collect::<Vec<_>>()
    })
    .join()
    .expect("tx rounds");
    report("tx", &tx, true);

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
            let port = port_rx_round(&a, NicEngine::Xdp, round);
            let secs = started.elapsed().as_secs_f64();
            offered_rates
                .push((offered.load(Ordering::Relaxed) - offered_before) as f64 / secs / 1e6);
            let packet_port = port_rx_round(&a, NicEngine::Packet, round);
            let bare = bare_rx_round(&ifname_a, round);
            out.push(Round {
                port,
                bare,
                packet_port,
                socket: raw_rx_round(&ifname_a, round),
            });
        }
        (out, median(offered_rates))
    })
    .join()
    .expect("rx rounds");
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("sender");
    report("rx", &rx.0, false);
    println!(
        "rx: the sender offered {:.3} Mpps (median over port rounds): RX is sender-bound",
        rx.1
    );
}
