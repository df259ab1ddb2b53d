//! netmap pipes: TX ring i of one end is RX ring i of the other; crossover
//! moves buffer indexes (zero copy, `NS_BUF_CHANGED`), publishes only
//! complete packets, and is lossless: the sender's `tail` stops where the
//! receiver's room ends and moves on when the receiver releases slots.
//! Several pipes share a parent; parents are VALE switches or NICs.

use std::time::{Duration, Instant};

use crate::fixture::{Cap, Fixture};
use netmap_ring::abi::{NetmapSlot, NS_BUF_CHANGED, NS_MOREFRAG};
use netmap_ring::port::{Interest, Port};
use netmap_ring::ring;
use netmap_testkit::{frames::*, names::*, slots::*};
use vale_offload::counters::PortCounter as P;

fn pipe(f: &dyn Fixture, parent: &str, id: &str, conf: &str) -> (Port, Port) {
    let master = f.open(&format!("{parent}{{{id}{conf}")).unwrap();
    let slave = f.open(&format!("{parent}}}{id}{conf}")).unwrap();
    (master, slave)
}

fn crossover_moves_buffer_indexes_not_bytes(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let (m, s) = pipe(f, &format!("{sw}:x"), "1", "");
    let d = sw.as_str();
    let tx = m.tx_ring(0);
    let sent: Vec<u32> = (0..4).map(|i| tx.slot(i).buf_idx).collect();
    for seq in 0..4 {
        put(&m, &frame(mac(2), mac(1), seq, 60 + seq as usize), 0);
    }
    m.txsync().unwrap();
    s.rxsync().unwrap();
    let rx = s.rx_ring(0);
    assert_eq!(rx.tail(), 4);
    for i in 0..4 {
        let slot = rx.slot(i);
        assert_eq!(
            slot.buf_idx, sent[i as usize],
            "the sender's buffer itself arrived"
        );
        assert_ne!(slot.flags & NS_BUF_CHANGED, 0);
        assert_eq!(slot.len, 60 + i as u16);
        // The sender's slot got a different buffer back, marked changed.
        let back = tx.slot(i);
        assert_ne!(back.buf_idx, sent[i as usize]);
        assert_ne!(back.flags & NS_BUF_CHANGED, 0);
    }
    assert_eq!(s.clone_packet_data(0), frame(mac(2), mac(1), 0, 60));
    f.assert_conserved(d);
}

/// Reads the frame in RX slot `i` of the first RX ring.
trait PacketAt {
    fn clone_packet_data(&self, i: u32) -> Vec<u8>;
}

impl PacketAt for Port {
    fn clone_packet_data(&self, i: u32) -> Vec<u8> {
        let slot = self.rx_ring(0).slot(i);
        let mut data = vec![0; slot.len as usize];
        self.read_buf(slot.buf_idx, &mut data).unwrap();
        data
    }
}

fn a_buffer_swapped_in_by_the_receiver_travels_back(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let m = f.open(&format!("{sw}:x{{1")).unwrap();
    let Some(s) = f.open_extra_if(Cap::ExtraBufs, &format!("{sw}:x}}1"), 1) else {
        return;
    };
    let d = sw.as_str();
    put(&m, &frame(mac(2), mac(1), 0, 60), 0);
    m.txsync().unwrap();
    s.rxsync().unwrap();
    let rx = s.rx_ring(0);
    // Keep the received buffer (as a zero-copy forwarder would) and put
    // the extra buffer in its place.
    let kept = rx.slot(0).buf_idx;
    let spare = s.extra_bufs_head();
    rx.set_slot(
        0,
        NetmapSlot {
            buf_idx: spare,
            len: 0,
            flags: NS_BUF_CHANGED,
            ptr: 0,
        },
    );
    s.write_buf(kept, &0u32.to_ne_bytes()).unwrap();
    s.set_extra_bufs_head(kept);
    rx.set_head(1);
    rx.set_cur(1);
    s.rxsync().unwrap();
    f.assert_conserved(d);
    // Walk the master's ring until its slot 0 comes round again: the
    // crossover hands it the buffer the receiver released there.
    let n = m.tx_ring(0).num_slots();
    // Frame n lands in RX slot 0 again, taking the spare back to TX.
    for seq in 1..=n {
        put(&m, &frame(mac(2), mac(1), seq, 60), 0);
        m.txsync().unwrap();
        s.rxsync().unwrap();
        let rx = s.rx_ring(0);
        rx.set_head(rx.tail());
        rx.set_cur(rx.tail());
        s.rxsync().unwrap();
    }
    let tx = m.tx_ring(0);
    let got: Vec<u32> = (0..n).map(|i| tx.slot(i).buf_idx).collect();
    assert!(
        got.contains(&spare),
        "the swapped-in buffer reached the sender"
    );
    f.assert_conserved(d);
}

fn only_complete_packets_cross(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let (m, mut s) = pipe(f, &format!("{sw}:x"), "1", "");
    let d = sw.as_str();
    put(&m, &[1; 100], NS_MOREFRAG);
    put(&m, &[2; 100], NS_MOREFRAG);
    m.txsync().unwrap();
    s.rxsync().unwrap();
    assert_eq!(s.rx_ring(0).tail(), 0, "half a packet never crosses");
    put(&m, &[3; 50], 0);
    m.txsync().unwrap();
    let got = drain(&mut s);
    let mut want = vec![1; 100];
    want.extend([2; 100]);
    want.extend([3; 50]);
    assert_eq!(got, vec![want]);
    assert_eq!(f.port_counter(d, "x{1", P::TxPackets), 1);
    assert_eq!(f.port_counter(d, "x}1", P::RxPackets), 1);
    f.assert_conserved(d);
}

fn back_pressure_stops_the_sender_and_loses_nothing(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let (m, mut s) = pipe(f, &format!("{sw}:x"), "1", "@conf:slots=32");
    let d = sw.as_str();
    let tx = m.tx_ring(0);
    let mut seq = 0;
    // As in netmap, the two rings of a pipe hold at most n - 1 slots in
    // flight between them: once the receiver holds 31 frames the sender's
    // tail stops, whatever it syncs.
    for _ in 0..10 {
        while !ring::empty(tx.cur(), tx.tail()) {
            put(&m, &frame(mac(2), mac(1), seq, 60), 0);
            seq += 1;
        }
        m.txsync().unwrap();
    }
    assert_eq!(seq, 31);
    assert!(ring::empty(tx.cur(), tx.tail()));
    assert!(
        !m.poll(Interest::TX, Some(Duration::from_millis(20)))
            .unwrap()
            .tx,
        "no room while the receiver holds everything"
    );
    // The receiver releases 5: the sender's tail advances by 5.
    s.rxsync().unwrap();
    let rx = s.rx_ring(0);
    assert_eq!(rx.tail(), 31);
    rx.set_head(5);
    rx.set_cur(5);
    s.rxsync().unwrap();
    let tail_before = tx.tail();
    m.txsync().unwrap();
    assert_eq!(ring::distance(tail_before, tx.tail(), 32), 5);
    while !ring::empty(tx.cur(), tx.tail()) {
        put(&m, &frame(mac(2), mac(1), seq, 60), 0);
        seq += 1;
    }
    m.txsync().unwrap();
    assert_eq!(seq, 36);
    // Drain everything: every frame arrives once, in order.
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(
            drain(&mut s)
                .iter()
                .map(|f| seq_of(f).expect("a test frame")),
        );
        m.txsync().unwrap();
    }
    assert_eq!(got, (5..36).collect::<Vec<_>>());
    assert_eq!(f.port_counter(d, "x{1", P::TxPackets), 36);
    assert_eq!(f.port_counter(d, "x{1", P::TxDropBadSlot), 0);
    f.assert_conserved(d);
}

fn a_bad_slot_is_never_handed_to_the_peer(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let (m, mut s) = pipe(f, &format!("{sw}:x"), "1", "");
    let d = sw.as_str();
    put(&m, &frame(mac(2), mac(1), 0, 60), 0);
    let (at, old) = put_raw(
        &m,
        NetmapSlot {
            buf_idx: m.layout().buffers.num_bufs,
            len: 60,
            flags: 0,
            ptr: 0,
        },
    );
    let size = m.buf_size() as u16;
    put_raw(
        &m,
        NetmapSlot {
            buf_idx: m.tx_ring(0).slot(2).buf_idx,
            len: size + 1,
            flags: 0,
            ptr: 0,
        },
    );
    put(&m, &frame(mac(2), mac(1), 1, 60), 0);
    m.txsync().unwrap();
    let got: Vec<u32> = drain(&mut s)
        .iter()
        .map(|f| seq_of(f).expect("a test frame"))
        .collect();
    assert_eq!(got, vec![0, 1]);
    assert_eq!(f.port_counter(d, "x{1", P::TxDropBadSlot), 2);
    // The receiver released its slots: the sender's next sync hands the
    // ring back, bad slot included, and only then may the sender repair it
    // (before, the slot is the kernel's; the device keeps its own copy).
    m.txsync().unwrap();
    m.tx_ring(0).set_buf_idx(at, old.buf_idx);
    f.assert_conserved(d);
}

fn several_pipes_on_one_parent_are_independent(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let parent = format!("{sw}:x");
    let (m1, mut s1) = pipe(f, &parent, "1", "");
    let (m2, mut s2) = pipe(f, &parent, "2", "");
    let (m3, mut s3) = pipe(f, &parent, "abc", "");
    for (i, m) in [&m1, &m2, &m3].into_iter().enumerate() {
        put(m, &frame(mac(2), mac(1), i as u32, 60), 0);
        m.txsync().unwrap();
    }
    for (i, s) in [&mut s1, &mut s2, &mut s3].into_iter().enumerate() {
        assert_eq!(drain(s), vec![frame(mac(2), mac(1), i as u32, 60)]);
    }
    // Pipes are full duplex: the slave's TX is the master's RX.
    let mut m1 = m1;
    put(&s1, &frame(mac(1), mac(2), 9, 60), 0);
    s1.txsync().unwrap();
    assert_eq!(drain(&mut m1), vec![frame(mac(1), mac(2), 9, 60)]);
    let d = sw.as_str();
    f.assert_conserved(d);
    drop((m2, m3, s2, s3));
}

fn pipes_on_a_vale_port_stay_off_the_switch(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let mut a = f.open(&format!("{sw}:a")).unwrap();
    let b = f.open(&format!("{sw}:b")).unwrap();
    let (m, mut s) = pipe(f, &format!("{sw}:a"), "1", "");
    put(&b, &frame(BROADCAST, mac(2), 0, 60), 0);
    b.txsync().unwrap();
    assert_eq!(drain(&mut a).len(), 1);
    assert!(drain(&mut s).is_empty(), "a pipe end is not a switch port");
    put(&m, &frame(BROADCAST, mac(1), 1, 60), 0);
    m.txsync().unwrap();
    assert_eq!(drain(&mut s).len(), 1);
    assert!(
        drain(&mut a).is_empty(),
        "pipe traffic does not reach the switch"
    );
    f.assert_conserved(&sw);
}

fn pipes_on_a_nic_parent(f: &dyn Fixture) {
    // Unique per call: the case runs on several backends at once, in
    // threads of this process.
    let ifname = unique_name("cf");
    let (m, mut s) = pipe(
        f,
        &format!("netmap:{ifname}"),
        "7",
        "@conf:rings=2,slots=64",
    );
    assert_eq!((m.tx_rings(), s.rx_rings()), (2, 2));
    // Ring i of the master feeds ring i of the slave.
    put_on(&m, 1, &frame(mac(2), mac(1), 3, 60), 0);
    m.txsync().unwrap();
    s.rxsync().unwrap();
    assert_eq!((s.rx_ring(0).tail(), s.rx_ring(1).tail()), (0, 1));
    assert_eq!(drain(&mut s), vec![frame(mac(2), mac(1), 3, 60)]);
    let d = format!("if-{ifname}");
    f.assert_conserved(&d);
    drop((m, s));
    assert!(
        !f.domain_exists(&d),
        "the parent's memory goes with its last pipe"
    );
}

/// Closing one end keeps the pipe while the other end is open: frames
/// sent meanwhile wait for the end to be opened again.
fn a_pipe_outlives_the_close_of_one_end(f: &dyn Fixture) {
    let sw = unique_switch("p");
    let (m, s) = pipe(f, &format!("{sw}:x"), "1", "");
    drop(s);
    put(&m, &frame(mac(2), mac(1), 0, 60), 0);
    m.txsync().unwrap();
    let mut s = f.open(&format!("{sw}:x}}1")).unwrap();
    assert_eq!(drain(&mut s), vec![frame(mac(2), mac(1), 0, 60)]);
    f.assert_conserved(&sw);
    drop((m, s));
}

/// A master thread and a slave thread, both blocking in poll(): every frame
/// arrives once, in order, with its bytes, however the threads interleave.
fn threads_across_a_pipe_lose_nothing(f: &dyn Fixture) {
    let frames = f.frames(50_000);
    let sw = unique_switch("p");
    let (mut m, mut s) = pipe(f, &format!("{sw}:x"), "1", "@conf:slots=256");
    let d = sw.as_str();
    let receiver = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut next = 0u32;
        while next < frames {
            assert!(Instant::now() < deadline, "receiver stuck at {next}");
            s.poll(Interest::RX, Some(Duration::from_secs(1))).unwrap();
            s.dispatch(0, |p| {
                let len = 60 + (next % 1400) as usize;
                assert_eq!(p.data, frame(mac(2), mac(1), next, len), "frame {next}");
                next += 1;
            });
        }
        // Release the last slots.
        s.rxsync().unwrap();
        s
    });
    let sender = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seq = 0u32;
        while seq < frames {
            assert!(Instant::now() < deadline, "sender stuck at {seq}");
            m.poll(Interest::TX, Some(Duration::from_secs(1))).unwrap();
            let mut burst = 0;
            while seq < frames && burst < 512 {
                let len = 60 + (seq % 1400) as usize;
                if !m.inject(&frame(mac(2), mac(1), seq, len)) {
                    break;
                }
                seq += 1;
                burst += 1;
            }
            m.txsync().unwrap();
        }
        m
    });
    let m = sender.join().unwrap();
    let s = receiver.join().unwrap();
    assert_eq!(f.port_counter(d, "x{1", P::TxPackets), u64::from(frames));
    assert_eq!(f.port_counter(d, "x}1", P::RxPackets), u64::from(frames));
    f.assert_conserved(d);
    drop((m, s));
}

cases!(
    crossover_moves_buffer_indexes_not_bytes,
    a_buffer_swapped_in_by_the_receiver_travels_back,
    only_complete_packets_cross,
    back_pressure_stops_the_sender_and_loses_nothing,
    a_bad_slot_is_never_handed_to_the_peer,
    several_pipes_on_one_parent_are_independent,
    pipes_on_a_vale_port_stay_off_the_switch,
    pipes_on_a_nic_parent,
    a_pipe_outlives_the_close_of_one_end,
    threads_across_a_pipe_lose_nothing,
);
