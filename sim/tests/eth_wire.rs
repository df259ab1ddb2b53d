//! The simulated wire, end to end (root; skipped with the reason
//! otherwise). A veth pair joins two fresh network namespaces; `sim::wire`
//! binds an AF_PACKET socket to end `a` and makes it the wire of
//! `eth_loop_top`'s port (eth_rx_port -> eth_tx_port, MACs swapped). Real
//! frames sent from end `b` cross the RTL and come back to `b`, where a
//! raw socket captures them: intact (but for the swapped MACs and the
//! wire's padding to 60 bytes), in order, and counted. An FCS error and a
//! runt injected at the AXI side, and a frame over the port's 1518 bytes
//! from Linux, are dropped and counted under their reasons. An idle wire
//! runs no clock cycles. Everything is bounded in time; the namespaces go
//! with the test.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use netmap_testkit::netns::{ip, VethPair};
use sim::models::EthLoopPorts;
use sim::wire::{self, MacPorts, PacketSocket, Wire};

const ETHERTYPE: [u8; 2] = [0x88, 0xb5]; // local experimental
const MAC_A: [u8; 6] = [0x02, 0, 0, 0x13, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0x13, 0, 0x0b];
/// The destination the namespace sends to: nobody's.
const MAC_X: [u8; 6] = [0x02, 0, 0, 0x13, 0, 0xee];

fn test_frame(dst: [u8; 6], src: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE);
    f.extend_from_slice(&seq.to_le_bytes());
    f.extend((f.len()..len).map(|i| (i as u32 * 7 + seq) as u8));
    f.truncate(len);
    f
}

/// The frame the loop sends back for `sent`: padded by the wire, MACs
/// swapped by the test top.
fn looped(sent: &[u8]) -> Vec<u8> {
    let mut f = sent.to_vec();
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f[..6].copy_from_slice(&sent[6..12]);
    f[6..12].copy_from_slice(&sent[..6]);
    f
}

/// Our frames `peer` received within `limit`, stopping at `count`.
fn capture(peer: &PacketSocket, count: usize, limit: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 16384];
    let mut got = Vec::new();
    while got.len() < count {
        match peer.recv(&mut buf).expect("capture recv") {
            Some(n) if buf[12..14] == ETHERTYPE => got.push(buf[..n].to_vec()),
            Some(_) => {}
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                PacketSocket::wait_any(&[peer], deadline - now).expect("poll");
            }
        }
    }
    got
}

#[derive(Debug, PartialEq, Eq)]
struct Counters {
    rx_packets: u64,
    rx_bytes: u64,
    rx_dropped_full: u64,
    rx_errors: u64,
    rx_runts: u64,
    rx_oversize: u64,
    tx_packets: u64,
    tx_bytes: u64,
    tx_dropped: u64,
}

fn counters(m: &EthLoopPorts) -> Counters {
    Counters {
        rx_packets: m.rx_packets(),
        rx_bytes: m.rx_bytes(),
        rx_dropped_full: m.rx_dropped_full(),
        rx_errors: m.rx_errors(),
        rx_runts: m.rx_runts(),
        rx_oversize: m.rx_oversize(),
        tx_packets: m.tx_packets(),
        tx_bytes: m.tx_bytes(),
        tx_dropped: m.tx_dropped(),
    }
}

#[test]
fn real_frames_cross_the_rtl_and_bad_ones_are_counted() {
    let pair = netmap_testkit::ok_or_skip!(VethPair::create(MAC_A, MAC_B));
    // A large MTU, so the namespace can send a frame the port must refuse.
    for (ns, dev) in [(&pair.ns_a, &pair.a), (&pair.ns_b, &pair.b)] {
        ip(&["-n", ns, "link", "set", dev, "mtu", "9000"]).expect("set the MTU");
    }
    let a = pair.a.clone();
    let wire_socket = VethPair::run_in(&pair.ns_a, move || PacketSocket::open(&a))
        .join()
        .expect("namespace thread")
        .expect("the wire's socket on a");
    let b = pair.b.clone();
    let peer = VethPair::run_in(&pair.ns_b, move || PacketSocket::open(&b))
        .join()
        .expect("namespace thread")
        .expect("the peer's socket on b");
    let mut wires = [Wire::with_socket(wire_socket, 0)];
    let mut model = EthLoopPorts::reset_new();

    // An idle wire costs nothing: no frame, no cycle.
    let (done, cycles) = wire::run(
        &mut wires,
        &mut model,
        Duration::from_millis(300),
        |_, _| false,
    )
    .unwrap();
    assert_eq!((done, cycles), (false, 0), "cycles run on an idle wire");

    // Good frames, short ones included (the wire pads them to 60).
    let sizes = [42usize, 59, 60, 61, 64, 65, 100, 128, 500, 1000, 1500, 1514];
    let sent: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| test_frame(MAC_X, MAC_B, i as u32, len))
        .collect();
    for f in &sent {
        peer.send(f).expect("send from the namespace");
    }
    let n = sent.len() as u64;
    let (done, cycles) = wire::run(&mut wires, &mut model, Duration::from_secs(20), |w, m| {
        w[0].stats.frames_out >= n && !w[0].in_flight() && !MacPorts::busy(m)
    })
    .unwrap();
    assert!(done, "frames not back in 20 s: {:?}", wires[0].stats);
    assert!(cycles > 0);
    let got = capture(&peer, sent.len() + 1, Duration::from_millis(500));
    let expected: Vec<Vec<u8>> = sent.iter().map(|f| looped(f)).collect();
    assert_eq!(got.len(), expected.len(), "frames captured on b");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            g == e,
            "frame {i} ({} bytes sent) changed on the way",
            sizes[i]
        );
    }
    let bytes: u64 = sizes.iter().map(|&l| l.max(60) as u64).sum();
    assert_eq!(
        counters(&model),
        Counters {
            rx_packets: n,
            rx_bytes: bytes,
            rx_dropped_full: 0,
            rx_errors: 0,
            rx_runts: 0,
            rx_oversize: 0,
            tx_packets: n,
            tx_bytes: bytes,
            tx_dropped: 0,
        }
    );
    assert_eq!(wires[0].stats.frames_in, n);

    // An FCS error and a runt at the AXI side (Linux cannot send them),
    // an oversize frame from Linux, then a good frame.
    wires[0].inject(&test_frame(MAC_X, MAC_B, 100, 200), true);
    wires[0].inject(&test_frame(MAC_X, MAC_B, 101, 50), false);
    let oversize = test_frame(MAC_X, MAC_B, 102, 2000);
    let good = test_frame(MAC_X, MAC_B, 103, 80);
    peer.send(&oversize).expect("send the oversize frame");
    peer.send(&good).expect("send");
    let (done, _) = wire::run(&mut wires, &mut model, Duration::from_secs(20), |w, m| {
        w[0].stats.frames_in >= n + 2
            && w[0].stats.frames_out > n
            && !w[0].in_flight()
            && !MacPorts::busy(m)
    })
    .unwrap();
    assert!(
        done,
        "the good frame not back in 20 s: {:?}",
        wires[0].stats
    );
    let got = capture(&peer, 2, Duration::from_millis(500));
    assert_eq!(got, vec![looped(&good)], "only the good frame comes back");
    let c = counters(&model);
    assert_eq!(
        (c.rx_errors, c.rx_runts, c.rx_oversize, c.rx_dropped_full),
        (1, 1, 1, 0),
        "{c:?}"
    );
    assert_eq!((c.rx_packets, c.tx_packets), (n + 1, n + 1), "{c:?}");
    assert_eq!(c.tx_bytes, bytes + 80);

    // Idle again: no cycles.
    let (_, cycles) = wire::run(
        &mut wires,
        &mut model,
        Duration::from_millis(300),
        |_, _| false,
    )
    .unwrap();
    assert_eq!(cycles, 0, "cycles run on an idle wire");
}
