//! A port's file descriptor works with the event loops applications use:
//! epoll directly, and tokio's `AsyncFd`, with the need-kick protocol
//! (`Port::arm` before waiting, `Port::disarm` after waking).

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use netmap_testkit::frames::{frame, mac, seq_of, BROADCAST};
use netmap_testkit::names::unique_switch;

#[test]
fn epoll_reports_a_port_readable_when_a_frame_arrives() {
    let sw = unique_switch("epoll");
    let mut rx = vale_soft::open(&format!("{sw}:rx")).unwrap();
    let tx_name = format!("{sw}:tx");
    let epoll = rustix::event::epoll::create(rustix::event::epoll::CreateFlags::CLOEXEC).unwrap();
    rustix::event::epoll::add(
        &epoll,
        rx.as_fd(),
        rustix::event::epoll::EventData::new_u64(7),
        rustix::event::epoll::EventFlags::IN,
    )
    .unwrap();
    let mut events = Vec::with_capacity(4);

    // Nothing yet: an armed port is not readable.
    rx.arm();
    rx.rxsync().unwrap();
    assert!(rx.next_packet().is_none());
    rustix::event::epoll::wait(
        &epoll,
        rustix::buffer::spare_capacity(&mut events),
        Some(&rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        }),
    )
    .unwrap();
    assert!(events.is_empty(), "not readable before any frame");

    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut tx = vale_soft::open(&tx_name).unwrap();
        assert!(tx.inject(&frame(BROADCAST, mac(1), 42, 60)));
        tx.txsync().unwrap();
        // Keep the port (and the switch) until the receiver has looked.
        std::thread::sleep(Duration::from_millis(200));
    });
    let start = Instant::now();
    rustix::event::epoll::wait(
        &epoll,
        rustix::buffer::spare_capacity(&mut events),
        Some(&rustix::event::Timespec {
            tv_sec: 5,
            tv_nsec: 0,
        }),
    )
    .unwrap();
    assert_eq!(events.len(), 1, "readable after the frame");
    assert_eq!(events[0].data.u64(), 7);
    assert!(start.elapsed() < Duration::from_secs(5));
    rx.disarm();
    rx.rxsync().unwrap();
    assert_eq!(seq_of(&rx.next_packet().unwrap().data), Some(42));
    sender.join().unwrap();
}

#[test]
fn tokio_async_fd_waits_for_a_port() {
    let sw = unique_switch("tokio");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let rx = vale_soft::open(&format!("{sw}:rx")).unwrap();
        let tx_name = format!("{sw}:tx");
        let sender = std::thread::spawn(move || {
            let mut tx = vale_soft::open(&tx_name).unwrap();
            for seq in 0..3 {
                std::thread::sleep(Duration::from_millis(30));
                assert!(tx.inject(&frame(BROADCAST, mac(1), seq, 60)));
                tx.txsync().unwrap();
            }
            std::thread::sleep(Duration::from_millis(300));
        });
        // SAFETY: the AsyncFd owns the Port, and the Port owns its wake-up
        // fd for its whole life, so the fd stays open while registered.
        let mut async_rx = unsafe { tokio::io::unix::AsyncFd::register(rx) }
            .map_err(|e| e.to_string())
            .unwrap();
        let mut seqs = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seqs.len() < 3 {
            // Arm, then look: a frame that arrived before arming is seen by
            // this sync, one after it kicks the fd.
            async_rx.get_ref().arm();
            async_rx.get_ref().rxsync().unwrap();
            if let Some(packet) = async_rx.get_mut().next_packet() {
                async_rx.get_ref().disarm();
                seqs.push(seq_of(&packet.data).unwrap());
                continue;
            }
            let mut guard = tokio::time::timeout_at(deadline, async_rx.readable())
                .await
                .expect("woken before the deadline")
                .unwrap();
            guard.clear_ready();
            async_rx.get_ref().disarm();
        }
        assert_eq!(seqs, vec![0, 1, 2]);
        sender.join().unwrap();
    });
}
