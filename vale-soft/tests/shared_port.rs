//! Threads sharing one `Port`: each fills its own TX ring but syncs every
//! ring (as `Port::poll` and `Port::txsync` do), so syncs of one ring run
//! concurrently and the engine must serialise them (netmap's
//! `nm_kr_tryget`). Nothing may be lost, duplicated or reordered.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use netmap_ring::port::Interest;
use netmap_ring::ring;
use netmap_testkit::{frames::*, names::*};

const PER_RING: u32 = 30_000;

fn sender(port: Arc<netmap_ring::port::Port>, n: usize) {
    let start = Instant::now();
    let mut seq = 0u32;
    while seq < PER_RING && start.elapsed() < Duration::from_secs(60) {
        let tx = port.tx_ring(n);
        let mut cur = tx.cur();
        let mut queued = false;
        while seq < PER_RING && !ring::empty(cur, tx.tail()) {
            let slot = tx.slot(cur);
            let data = frame(BROADCAST, mac(n as u8 + 1), seq, 60);
            port.write_buf(slot.buf_idx, &data).unwrap();
            tx.set_len_flags(cur, 60, 0);
            cur = ring::next(cur, tx.num_slots());
            seq += 1;
            queued = true;
        }
        tx.set_head(cur);
        tx.set_cur(cur);
        if queued {
            // Every ring, on purpose: the other thread's ring too.
            port.txsync().unwrap();
        } else {
            port.poll(Interest::TX, Some(Duration::from_millis(5)))
                .unwrap();
        }
    }
    assert_eq!(seq, PER_RING, "sender {n} stalled");
}

#[test]
fn threads_syncing_one_port_lose_and_duplicate_nothing() {
    let sw = unique_switch("shared");
    let master = Arc::new(vale_soft::open(&format!("{sw}:m{{1@conf:rings=2,slots=128")).unwrap());
    let mut slave = vale_soft::open(&format!("{sw}:m}}1")).unwrap();
    let senders: Vec<_> = (0..2)
        .map(|n| {
            let port = Arc::clone(&master);
            std::thread::spawn(move || sender(port, n))
        })
        .collect();
    let mut next = [0u32; 2];
    let start = Instant::now();
    while next.iter().any(|&s| s < PER_RING) && start.elapsed() < Duration::from_secs(60) {
        slave
            .poll(Interest::RX, Some(Duration::from_millis(5)))
            .unwrap();
        while let Some(packet) = slave.next_packet() {
            let n = packet.data[11] as usize - 1;
            assert_eq!(
                seq_of(&packet.data),
                Some(next[n]),
                "ring {n} in order, once each"
            );
            next[n] += 1;
        }
    }
    slave.rxsync().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(next, [PER_RING; 2]);
    assert_conserved(&switch_domain(&sw));
}
