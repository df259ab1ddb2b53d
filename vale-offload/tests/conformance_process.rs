//! Sender and receiver in different processes. The test re-executes its
//! own binary (`current_exe`) to run an ignored child test with a role in
//! the environment; the child opens the other port of the same switch or
//! pipe, which it finds by name in the user's runtime directory.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use netmap_ring::port::Interest;
use vale_offload::ctrl::PortCounter as P;

const ROLE: &str = "NETMAP_CONFORMANCE_ROLE";
const WHERE: &str = "NETMAP_CONFORMANCE_SWITCH";
const FRAMES: u32 = 20_000;
const ECHOES: u32 = 200;

/// Kills the child if the parent's test fails half way.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the child role and waits for its "ready" line.
fn spawn_child(role: &str, switch: &str) -> ChildGuard {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_role",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(WHERE, switch)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "child never got ready");
        match lines.next() {
            // libtest may print its "test child_role ..." on the same line.
            Some(Ok(line)) if line.ends_with("child ready") => break,
            Some(Ok(_)) => continue,
            _ => panic!("child exited before it was ready"),
        }
    }
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    guard
}

fn wait_child(mut guard: ChildGuard) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            assert!(status.success(), "child failed: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "child did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The child side, run only by the tests below through `spawn_child`.
#[test]
#[ignore = "child role of the cross-process tests, which start it themselves"]
fn child_role() {
    let (Ok(role), Ok(switch)) = (std::env::var(ROLE), std::env::var(WHERE)) else {
        panic!("run by the cross-process tests only");
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    match role.as_str() {
        "pipe-slave" => {
            let mut s = vale_offload::open(&format!("{switch}:x}}1")).unwrap();
            println!("child ready");
            let mut next = 0;
            while next < FRAMES {
                assert!(Instant::now() < deadline, "child stuck at {next}");
                s.poll(Interest::RX, Some(Duration::from_secs(1))).unwrap();
                s.dispatch(0, |p| {
                    assert_eq!(
                        p.data,
                        frame(mac(2), mac(1), 60 + (next % 500) as usize, next)
                    );
                    next += 1;
                });
            }
            s.rxsync().unwrap();
        }
        "vale-echo" => {
            let mut b = vale_offload::open(&format!("{switch}:b")).unwrap();
            println!("child ready");
            let mut echoed = 0;
            while echoed < ECHOES {
                assert!(Instant::now() < deadline, "child stuck at {echoed}");
                b.poll(Interest::RX, Some(Duration::from_secs(1))).unwrap();
                while let Some(p) = b.next_packet() {
                    let seq = seq_of(&p.data);
                    assert!(b.inject(&frame(mac(1), mac(2), p.data.len(), seq)));
                    echoed += 1;
                }
                b.txsync().unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn a_pipe_between_two_processes_is_lossless() {
    let sw = unique_switch("x");
    let mut m = vale_offload::open(&format!("{sw}:x{{1")).unwrap();
    let child = spawn_child("pipe-slave", &sw);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seq = 0;
    while seq < FRAMES {
        assert!(Instant::now() < deadline, "sender stuck at {seq}");
        m.poll(Interest::TX, Some(Duration::from_secs(1))).unwrap();
        while seq < FRAMES && m.inject(&frame(mac(2), mac(1), 60 + (seq % 500) as usize, seq)) {
            seq += 1;
        }
        m.txsync().unwrap();
    }
    wait_child(child);
    let d = switch_domain(&sw);
    assert_eq!(port_counter(&d, "x}1", P::RxPackets), u64::from(FRAMES));
    assert_conserved(&d);
}

#[test]
fn a_vale_switch_between_two_processes_forwards_both_ways() {
    let sw = unique_switch("x");
    let mut a = vale_offload::open(&format!("{sw}:a")).unwrap();
    let child = spawn_child("vale-echo", &sw);
    let deadline = Instant::now() + Duration::from_secs(30);
    for seq in 0..ECHOES {
        assert!(a.inject(&frame(mac(2), mac(1), 60 + seq as usize, seq)));
        a.txsync().unwrap();
        let answer = loop {
            assert!(Instant::now() < deadline, "no echo for {seq}");
            a.poll(Interest::RX, Some(Duration::from_secs(1))).unwrap();
            if let Some(p) = a.next_packet() {
                break p;
            }
        };
        assert_eq!(answer.data, frame(mac(1), mac(2), 60 + seq as usize, seq));
        if seq == 0 {
            // The child's port learned in the shared table (the child is
            // still there: it waits for more).
            let d = switch_domain(&sw);
            assert_eq!(d.table().lookup(&mac(2)), Some(entry(&d, "b") as u8));
        }
    }
    let d = switch_domain(&sw);
    assert_eq!(port_counter(&d, "a", P::RxPackets), u64::from(ECHOES));
    assert_conserved(&d);
    a.rxsync().unwrap();
    wait_child(child);
}
