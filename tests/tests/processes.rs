//! Ports shared by separate processes: traffic, blocking waits, a process
//! killed mid-traffic, and isolation between users.
//!
//! Each test re-runs this binary as a child process in a role (see
//! `netmap_tests::ChildRole`); the child opens its own port by name, with no
//! set-up step, exactly as a second program would.

use std::time::{Duration, Instant};

use netmap_ring::port::{Interest, Port};
use netmap_testkit::frames::{frame, mac, seq_of, BROADCAST};
use netmap_testkit::names::unique_switch;
use netmap_testkit::skip;
use netmap_tests::{child_role, ChildRole};
use vale_offload::counters::PortCounter;
use vale_offload::placement::DomainKind;
use vale_soft::domain::Domain;
use vale_soft::ports;

const LIMIT: Duration = Duration::from_secs(30);

/// Child: opens `port`, says so, then sends `count` frames (0 = until
/// killed, at most LIMIT) to `dst`, then waits for stdin EOF or LIMIT.
fn child_sender(port: &str, dst: [u8; 6], count: u32, blocking: bool) {
    let mut p = vale_soft::open(port).expect("child opens its port");
    println!("ready {}", std::process::id());
    let start = Instant::now();
    let mut seq = 0u32;
    while (count == 0 || seq < count) && start.elapsed() < LIMIT {
        if p.inject(&frame(dst, mac(0xa), seq, 60)) {
            seq += 1;
            if seq.is_multiple_of(64) {
                p.txsync().expect("txsync");
            }
        } else if blocking {
            p.poll(Interest::TX, Some(Duration::from_millis(100)))
                .expect("poll");
        } else {
            p.txsync().expect("txsync");
        }
    }
    p.txsync().expect("txsync");
    // Let the receiver drain before the port (and a pipe's buffers) go.
    if blocking {
        let ring = p.tx_ring(0);
        while start.elapsed() < LIMIT
            && ring.tail() != netmap_ring::ring::prev(ring.head(), ring.num_slots())
        {
            p.poll(Interest::TX, Some(Duration::from_millis(50)))
                .expect("poll");
        }
    }
    println!("sent {seq}");
}

fn run_child_role(role: &str) {
    let parts: Vec<&str> = role.split('|').collect();
    match parts.as_slice() {
        ["send", port, count, blocking] => child_sender(
            port,
            BROADCAST,
            count.parse().unwrap(),
            *blocking == "blocking",
        ),
        ["probe-other-user", path, switch] => probe_as_other_user(path, switch),
        ["hold", port] => {
            let _p = vale_soft::open(port).expect("child opens its port");
            println!("ready");
            std::thread::sleep(LIMIT);
        }
        other => panic!("unknown child role {other:?}"),
    }
}

/// Receives until `count` frames arrived or `limit` passed; returns the
/// sequence numbers in arrival order.
fn receive(p: &mut Port, count: usize, limit: Duration) -> Vec<u32> {
    let start = Instant::now();
    let mut seqs = Vec::with_capacity(count.min(1 << 16));
    while seqs.len() < count && start.elapsed() < limit {
        p.poll(Interest::RX, Some(Duration::from_millis(50)))
            .expect("poll");
        while seqs.len() < count {
            let Some(packet) = p.next_packet() else { break };
            seqs.push(seq_of(&packet.data).expect("our frame"));
        }
    }
    seqs
}

#[test]
fn vale_traffic_between_processes_is_delivered_or_counted() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let sw = unique_switch("mp");
    let mut rx = vale_soft::open(&format!("{sw}:rx")).unwrap();
    const COUNT: u32 = 20_000;
    let mut child = ChildRole::spawn(
        "vale_traffic_between_processes_is_delivered_or_counted",
        &format!("send|{sw}:tx|{COUNT}|spin"),
    );
    child.expect_line("ready");
    let mut seqs = Vec::new();
    let start = Instant::now();
    let domain = Domain::open(&sw, DomainKind::Switch).unwrap();
    let me = ports::find(&domain, "rx").unwrap();
    let dropped = || domain.ctrl().port(me).read(PortCounter::RxDropFull) as usize;
    while seqs.len() + dropped() < COUNT as usize && start.elapsed() < LIMIT {
        seqs.extend(receive(&mut rx, usize::MAX, Duration::from_millis(20)));
    }
    assert_eq!(child.expect_line("sent"), COUNT.to_string());
    assert!(child.wait_success(LIMIT));
    seqs.extend(receive(&mut rx, usize::MAX, Duration::from_millis(50)));
    // VALE does not block: every frame was either delivered, in order and
    // once, or dropped for a full ring and counted.
    assert!(!seqs.is_empty());
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "order kept, no duplicates"
    );
    assert_eq!(seqs.len() + dropped(), COUNT as usize);
    drop(rx);
}

#[test]
fn pipe_between_processes_is_lossless_and_blocks() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let sw = unique_switch("mpp");
    // Small rings so that back-pressure (a blocked sender) really happens.
    let mut rx = vale_soft::open(&format!("{sw}:p}}7@conf:slots=64")).unwrap();
    const COUNT: u32 = 50_000;
    let mut child = ChildRole::spawn(
        "pipe_between_processes_is_lossless_and_blocks",
        &format!("send|{sw}:p{{7|{COUNT}|blocking"),
    );
    child.expect_line("ready");
    let seqs = receive(&mut rx, COUNT as usize, LIMIT);
    assert_eq!(seqs.len(), COUNT as usize, "a pipe loses nothing");
    assert!(seqs.iter().enumerate().all(|(i, &s)| s == i as u32));
    // Hand the last slots back: the sender waits to see its ring drained.
    rx.rxsync().unwrap();
    assert_eq!(child.expect_line("sent"), COUNT.to_string());
    assert!(child.wait_success(LIMIT));
}

#[test]
fn a_blocked_poll_wakes_when_another_process_sends() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let sw = unique_switch("wake");
    let mut rx = vale_soft::open(&format!("{sw}:rx")).unwrap();
    let mut child = ChildRole::spawn(
        "a_blocked_poll_wakes_when_another_process_sends",
        &format!("send|{sw}:tx|1|spin"),
    );
    child.expect_line("ready");
    let start = Instant::now();
    let ready = rx
        .poll(Interest::RX, Some(Duration::from_secs(10)))
        .unwrap();
    assert!(ready.rx, "woken by the other process's send");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(seq_of(&rx.next_packet().unwrap().data), Some(0));
    assert!(child.wait_success(LIMIT));
}

#[test]
fn a_killed_process_loses_only_its_own_port() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let sw = unique_switch("kill");
    let mut rx = vale_soft::open(&format!("{sw}:rx")).unwrap();
    let mut bystander = vale_soft::open(&format!("{sw}:other")).unwrap();
    let test = "a_killed_process_loses_only_its_own_port";
    let mut victim = ChildRole::spawn(test, &format!("send|{sw}:tx|0|spin"));
    victim.expect_line("ready");
    let got = receive(&mut rx, 500, LIMIT);
    assert_eq!(got.len(), 500, "traffic flows before the kill");
    victim.kill();

    // The switch and the other ports go on.
    let _ = receive(&mut rx, usize::MAX, Duration::from_millis(50));
    assert!(bystander.inject(&frame(BROADCAST, mac(0xb), 7, 60)));
    bystander.txsync().unwrap();
    let seqs = receive(&mut rx, 1, Duration::from_secs(5));
    assert_eq!(seqs, vec![7]);

    // A new process takes the same name (reclaiming the dead one's port)
    // and its traffic arrives.
    let mut heir = ChildRole::spawn(test, &format!("send|{sw}:tx|100|spin"));
    heir.expect_line("ready");
    let seqs = receive(&mut rx, 100, LIMIT);
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    assert!(heir.wait_success(LIMIT));

    // Every buffer of the killed process went back to the pool.
    let domain = Domain::open(&sw, DomainKind::Switch).unwrap();
    {
        let _guard = domain.lock();
        ports::reclaim_dead(&domain);
    }
    ports::check_conservation(&domain).expect("buffers conserved after the kill");
    assert!(ports::find(&domain, "tx").is_none(), "dead port reclaimed");
}

/// Child, run as another user: tries to map the first user's domain and to
/// join the same switch name.
fn probe_as_other_user(path: &str, switch: &str) {
    match std::fs::OpenOptions::new().read(true).open(path) {
        Ok(_) => println!("opened"),
        Err(e) => println!("refused {:?}", e.kind()),
    }
    let mut port = vale_soft::open(&format!("{switch}:spy")).expect("own switch");
    std::thread::sleep(Duration::from_millis(300));
    port.rxsync().unwrap();
    let mut n = 0;
    while port.next_packet().is_some() {
        n += 1;
    }
    println!("received {n}");
}

#[test]
fn another_user_cannot_reach_our_switch() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    if !netmap_testkit::is_root() {
        skip!("not root: running a child as another user needs root");
    }
    let sw = unique_switch("iso");
    let mut tx = vale_soft::open(&format!("{sw}:tx")).unwrap();
    let _rx = vale_soft::open(&format!("{sw}:rx")).unwrap();
    let domain = Domain::open(&sw, DomainKind::Switch).unwrap();
    let path = domain.path().to_string_lossy().into_owned();
    let mut spy = ChildRole::spawn_with(
        "another_user_cannot_reach_our_switch",
        &format!("probe-other-user|{path}|{sw}"),
        |command| {
            use std::os::unix::process::CommandExt;
            command.uid(65534).gid(65534).env_remove("NETMAP_RS_DIR");
        },
    );
    assert_eq!(spy.expect_line("refused"), "PermissionDenied");
    for seq in 0..10 {
        assert!(tx.inject(&frame(BROADCAST, mac(1), seq, 60)));
    }
    tx.txsync().unwrap();
    // Same switch name, different user: a different switch, so nothing of
    // ours arrives there.
    assert_eq!(spy.expect_line("received"), "0");
    assert!(spy.wait_success(LIMIT));
}

#[test]
fn a_pipe_whose_peer_died_says_so_and_gets_its_slots_back() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let sw = unique_switch("pd");
    let (master, slave) = (format!("{sw}:p{{1"), format!("{sw}:p}}1"));
    let mut m = vale_soft::open(&master).unwrap();
    let mut child = ChildRole::spawn(
        "a_pipe_whose_peer_died_says_so_and_gets_its_slots_back",
        &format!("hold|{slave}"),
    );
    child.expect_line("ready");
    // Fill the pipe: the peer never reads.
    let mut seq = 0;
    for _ in 0..2 {
        while m.inject(&frame(BROADCAST, mac(1), seq, 60)) {
            seq += 1;
        }
        m.txsync().unwrap();
    }
    assert!(!m.inject(&frame(BROADCAST, mac(1), seq, 60)), "pipe full");
    child.kill();
    // The next syncs of the survivor name the dead peer, within a second.
    let start = Instant::now();
    let err = loop {
        match m.txsync() {
            Err(e) => break e,
            Ok(()) => {
                assert!(start.elapsed() < Duration::from_secs(1), "death not seen");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let text = err.to_string();
    assert!(text.contains("p}1") && text.contains("died"), "{text}");
    // The slots it sent came back: room to send again, to a new peer.
    m.txsync().unwrap();
    assert!(m.inject(&frame(BROADCAST, mac(1), 7777, 60)));
    let mut s = vale_soft::open(&slave).unwrap();
    m.txsync().unwrap();
    let got = receive(&mut s, 1, Duration::from_secs(2));
    assert_eq!(got, vec![7777]);
    let domain = Domain::open(&sw, DomainKind::Switch).unwrap();
    ports::check_conservation(&domain).unwrap();
}
