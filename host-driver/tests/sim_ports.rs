//! netmap ports on the RTL: the `Port` API over the device backend with the
//! `sim` body moves packets through a VALE switch and a pipe, with the
//! link costs the design promises (no MMIO read, one doorbell per batch).

use std::time::Duration;

use host_driver::port::DeviceBackend;
use host_driver::sim::SimDevice;
use netmap_ring::port::{Interest, Port};
use netmap_testkit::frames::frame;
use netmap_testkit::slots::drain;

fn backend() -> DeviceBackend {
    DeviceBackend::new(Box::new(SimDevice::new().unwrap())).unwrap()
}

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const BCAST: [u8; 6] = [0xff; 6];

#[test]
fn vale_frames_cross_the_rtl_switch() {
    let backend = backend();
    let mut a = Port::open_on(&backend, "vale0:a").unwrap();
    let mut b = Port::open_on(&backend, "vale0:b").unwrap();
    let mut c = Port::open_on(&backend, "vale0:c").unwrap();

    // Broadcast from a reaches b and c, not a; a is learned.
    let hello = frame(BCAST, MAC_A, 0, 60);
    assert!(a.inject(&hello));
    a.txsync().unwrap();
    assert_eq!(drain(&mut b), std::slice::from_ref(&hello));
    assert_eq!(drain(&mut c), [hello]);
    assert!(drain(&mut a).is_empty());

    // b answers a by unicast (a is known): only a gets it, in order.
    let replies: Vec<Vec<u8>> = (1..=40)
        .map(|seq| frame(MAC_A, MAC_B, seq, 60 + seq as usize * 30))
        .collect();
    for r in &replies {
        assert!(b.inject(r));
    }
    b.txsync().unwrap();
    assert_eq!(drain(&mut a), replies);
    assert!(drain(&mut c).is_empty(), "unicast leaked to c");
}

#[test]
fn a_batch_costs_one_doorbell_and_no_mmio_read() {
    let backend = backend();
    let mut a = Port::open_on(&backend, "vale1:a").unwrap();
    let mut b = Port::open_on(&backend, "vale1:b").unwrap();
    // Learn both ends first, so the batch below is plain unicast.
    a.inject(&frame(BCAST, MAC_A, 0, 60));
    a.txsync().unwrap();
    b.inject(&frame(BCAST, MAC_B, 0, 60));
    b.txsync().unwrap();
    drain(&mut a);
    drain(&mut b);

    let before = backend.counters();
    let batch = 64;
    for seq in 0..batch {
        assert!(a.inject(&frame(MAC_B, MAC_A, seq, 60)));
    }
    a.txsync().unwrap();
    let got = drain(&mut b);
    let cost = backend.counters().since(&before);
    assert_eq!(got.len(), batch as usize);
    assert_eq!(cost.mmio_reads, 0, "MMIO reads on the data path");
    assert_eq!(cost.mmio_writes, 1, "one doorbell for the batch");
    assert_eq!(
        cost.bar2_write_bytes,
        16 * u64::from(batch),
        "16 bytes per slot"
    );
    assert!(
        cost.dma_write_bytes >= 60 * u64::from(batch),
        "payload copied by DMA"
    );
    assert!(cost.cycles > 0);
}

#[test]
fn a_pipe_batch_costs_two_doorbells_and_no_mmio_read() {
    let backend = backend();
    let mut master = Port::open_on(&backend, "netmap:q{2").unwrap();
    let mut slave = Port::open_on(&backend, "netmap:q}2").unwrap();
    let batch = 64u32;
    let tx = master.tx_ring(0);
    let sent_bufs: Vec<u32> = (0..batch).map(|i| tx.slot(i).buf_idx).collect();
    let rx = slave.rx_ring(0);
    let offered_bufs: Vec<u32> = (0..batch).map(|i| rx.slot(i).buf_idx).collect();

    let before = backend.counters();
    for seq in 0..batch {
        assert!(master.inject(&frame(MAC_B, MAC_A, seq, 60)));
    }
    master.txsync().unwrap();
    let got = drain(&mut slave);
    // The sender's next sync sees the completions (status in host memory).
    master.txsync().unwrap();
    let cost = backend.counters().since(&before);
    assert_eq!(got.len(), batch as usize);
    assert_eq!(cost.mmio_reads, 0, "MMIO reads on the pipe data path");
    assert_eq!(cost.bar2_read_bytes, 0, "swapped slots read back from BAR2");
    assert_eq!(cost.mmio_writes, 2, "a TX and an RX doorbell for the batch");
    assert_eq!(cost.bar2_write_bytes, 16 * u64::from(batch));
    // RX slots, the swapped TX slots (four per 64-byte write), statuses.
    assert!(
        cost.dma_write_bytes >= 2 * 16 * u64::from(batch),
        "{cost:?}"
    );

    // Zero copy: the receiver got the sender's buffers and the sender's
    // ring, in host memory, holds the receiver's old ones.
    let rx = slave.rx_ring(0);
    let tx = master.tx_ring(0);
    for i in 0..batch {
        assert_eq!(rx.slot(i).buf_idx, sent_bufs[i as usize]);
        let back = tx.slot(i);
        assert_eq!(back.buf_idx, offered_bufs[i as usize], "slot {i}");
        assert_eq!((back.len, back.ptr), (0, 0));
        assert_ne!(back.flags & netmap_ring::abi::NS_BUF_CHANGED, 0);
    }
    assert_eq!(tx.tail(), batch - 1, "the sender got its slots back");
}

#[test]
fn pipe_moves_buffers_not_bytes_and_loses_nothing() {
    let backend = backend();
    let mut master = Port::open_on(&backend, "netmap:p{1").unwrap();
    let mut slave = Port::open_on(&backend, "netmap:p}1").unwrap();
    let free_before = backend.free_buffers();
    // More frames than the ring holds: the sender waits for the receiver.
    let frames: Vec<Vec<u8>> = (0..3000)
        .map(|seq| frame(MAC_B, MAC_A, seq, 64 + (seq as usize % 7) * 100))
        .collect();
    let mut sent = 0;
    let mut got = Vec::new();
    for _round in 0..100 {
        while sent < frames.len() && master.inject(&frames[sent]) {
            sent += 1;
        }
        master.txsync().unwrap();
        got.extend(drain(&mut slave));
        if got.len() == frames.len() {
            break;
        }
    }
    assert_eq!(got.len(), frames.len());
    assert!(got == frames, "pipe reordered or corrupted frames");
    assert_eq!(backend.free_buffers(), free_before);
    let pair = host_driver::port::pair::PairRegion::path_of(
        &format!("p{}", std::process::id()),
        "if-p",
        "{1",
    );
    assert!(pair.exists(), "the pair lives in its own region");
    drop(master);
    assert!(pair.exists(), "the pair outlives one end");
    drop(slave);
    assert_eq!(
        backend.free_buffers(),
        free_before,
        "pipes take no buffer from the VALE ports' pool"
    );
    assert!(!pair.exists(), "the last end's close removes the pair");
}

#[test]
fn poll_wakes_on_the_device_notification() {
    let backend = std::sync::Arc::new(backend());
    let a = Port::open_on(&*backend, "vale2:a").unwrap();
    let mut b = Port::open_on(&*backend, "vale2:b").unwrap();
    let sender = std::thread::spawn(move || {
        let mut a = a;
        std::thread::sleep(Duration::from_millis(100));
        a.inject(&frame(BCAST, MAC_A, 7, 60));
        a.txsync().unwrap();
        a
    });
    let ready = b.poll(Interest::RX, Some(Duration::from_secs(10))).unwrap();
    assert!(ready.rx, "poll timed out");
    let got = drain(&mut b);
    assert_eq!(got.len(), 1);
    drop(sender.join().unwrap());
}

#[test]
fn device_limits_are_reported_as_errors() {
    let backend = backend();
    let _a = Port::open_on(&backend, "vale3:a").unwrap();
    let err = Port::open_on(&backend, "vale3:a").unwrap_err();
    assert!(
        matches!(err, netmap_ring::port::PortError::Busy { .. }),
        "{err}"
    );
    let err = Port::open_on(&backend, "vale4:x").unwrap_err();
    assert!(
        matches!(err, netmap_ring::port::PortError::Unsupported { .. }),
        "{err}"
    );
    let err = Port::open_on(&backend, "vale3:big@conf:rings=16").unwrap_err();
    assert!(
        matches!(err, netmap_ring::port::PortError::Config { .. }),
        "{err}"
    );
}

#[test]
fn unicast_keeps_the_ring_number_on_multi_ring_ports() {
    let backend = backend();
    let mut a = Port::open_on(&backend, "vale5:a@conf:rings=2,slots=512").unwrap();
    let mut b = Port::open_on(&backend, "vale5:b@conf:rings=2,slots=512").unwrap();
    assert_eq!((a.tx_rings(), b.rx_rings()), (2, 2));
    // b announces itself, so a's frames are unicast.
    b.inject(&frame(BCAST, MAC_B, 0, 60));
    b.txsync().unwrap();
    drain(&mut a);
    // One frame on a's TX ring 1 only.
    let f = frame(MAC_B, MAC_A, 1, 80);
    let tx = a.tx_ring(1);
    let slot = tx.slot(0);
    a.write_buf(slot.buf_idx, &f).unwrap();
    tx.set_len_flags(0, f.len() as u16, 0);
    tx.set_head(1);
    tx.set_cur(1);
    a.txsync_ring(1).unwrap();
    b.rxsync().unwrap();
    assert_eq!(b.rx_ring(0).tail(), 0, "ring 0 got the frame of ring 1");
    assert_eq!(b.rx_ring(1).tail(), 1);
    assert_eq!(drain(&mut b), [f]);
}
