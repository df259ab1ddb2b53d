//! What attaching a NIC to a switch costs: frames arriving on a veth
//! received by a VALE port behind `valectl -a` (NIC -> agent -> switch ->
//! port), beside the same frames received by our NIC port directly, in
//! alternating rounds with one sender running throughout (DESIGN.md 6).
//! A measuring program, not a test: ignored by default. As root:
//!
//! ```text
//! cargo test --release -p netmap-tools --test attach_bench -- --ignored --nocapture
//! ```
//! `NIC_BENCH_PAIRS` (default 5) and `NIC_BENCH_ROUND_MS` (default 500).

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netmap_ring::port::{Interest, Port};
use netmap_ring::ring;
use netmap_testkit::frames::frame;
use netmap_testkit::netns::{run_bounded, VethPair};
use netmap_testkit::{names::unique_switch, ok_or_skip};

const VALECTL: &str = env!("CARGO_BIN_EXE_valectl");
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x08];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x08];

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

/// Counts what `port` receives for `round`, sleeping in poll() when its
/// ring is empty (as an application would); Mpps.
fn receive_round(port: &Port, round: Duration) -> f64 {
    let _ = port.rxsync();
    let r = port.rx_ring(0);
    r.set_head(r.tail());
    r.set_cur(r.tail());
    let started = Instant::now();
    let mut got = 0u64;
    while started.elapsed() < round {
        let _ = port.poll(Interest::RX, Some(Duration::from_millis(10)));
        let r = port.rx_ring(0);
        let (head, tail) = (r.head(), r.tail());
        got += u64::from(ring::distance(head, tail, r.num_slots()));
        r.set_head(tail);
        r.set_cur(tail);
    }
    got as f64 / started.elapsed().as_secs_f64() / 1e6
}

fn valectl(ns: &str, args: &[&str]) {
    let out = run_bounded(
        Command::new("ip")
            .args(["netns", "exec", ns, VALECTL])
            .args(args),
        Duration::from_secs(60),
    )
    .expect("valectl runs");
    assert!(
        out.status.success(),
        "valectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "a measuring program: run with --ignored --nocapture"]
fn vale_behind_an_attached_nic_beside_the_bare_nic_port() {
    let pair = ok_or_skip!(VethPair::create(MAC_A, MAC_B));
    let pairs = env_or("NIC_BENCH_PAIRS", 5) as usize;
    let round = Duration::from_millis(env_or("NIC_BENCH_ROUND_MS", 500));
    let switch = unique_switch("bench");

    // The sender: our NIC port on the far end, full rings all along.
    let stop = Arc::new(AtomicBool::new(false));
    let offered = Arc::new(AtomicU64::new(0));
    let (stop_s, offered_s, b) = (Arc::clone(&stop), Arc::clone(&offered), pair.b.clone());
    let sender = VethPair::run_in(&pair.ns_b, move || {
        let port = vale_soft::open(&format!("netmap:{b}")).expect("sender port");
        let f = frame(MAC_A, MAC_B, 1, 60);
        let r = port.tx_ring(0);
        for i in 0..r.num_slots() {
            port.write_buf(r.slot(i).buf_idx, &f).unwrap();
        }
        while !stop_s.load(Ordering::Relaxed) {
            let r = port.tx_ring(0);
            let (mut cur, tail) = (r.cur(), r.tail());
            let n = r.num_slots();
            let mut queued = 0;
            while cur != tail {
                r.set_len_flags(cur, 60, 0);
                cur = ring::next(cur, n);
                queued += 1;
            }
            r.set_head(cur);
            r.set_cur(cur);
            let _ = port.txsync();
            offered_s.fetch_add(queued, Ordering::Relaxed);
        }
    });

    let target = format!("{switch}:{}", pair.a);
    let a = pair.a.clone();
    let ns_a = pair.ns_a.clone();
    println!(
        "attach: agent coalescing {} us (NETMAP_RS_AGENT_COALESCE_US)",
        std::env::var("NETMAP_RS_AGENT_COALESCE_US").unwrap_or_else(|_| "50".into())
    );
    let rounds: Vec<(f64, f64)> = (0..pairs)
        .map(|_| {
            valectl(&ns_a, &["-a", &target]);
            let port = vale_soft::open(&format!("{switch}:r")).expect("VALE receiver");
            let attached = receive_round(&port, round);
            drop(port);
            valectl(&ns_a, &["-d", &target]);
            let a = a.clone();
            let bare = VethPair::run_in(&ns_a, move || {
                let port = vale_soft::open(&format!("netmap:{a}")).expect("NIC port");
                receive_round(&port, round)
            })
            .join()
            .expect("bare round");
            (attached, bare)
        })
        .collect();
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("sender");

    println!("attach: round  vale-behind-attach  nic-port  ratio (target >= 0.8)");
    for (i, (att, bare)) in rounds.iter().enumerate() {
        println!("attach: {i:5}  {att:18.3}  {bare:8.3}  {:5.2}", att / bare);
    }
    let ratios: Vec<f64> = rounds.iter().map(|r| r.0 / r.1).collect();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    println!(
        "attach: RESULT VALE behind the attached NIC {:.3} Mpps, NIC port {:.3} Mpps: \
         attached/port {:.2} (median of {} rounds' ratios, spread {lo:.2}-{hi:.2}; \
         target >= 0.8; 60-byte frames)",
        median(rounds.iter().map(|r| r.0).collect()),
        median(rounds.iter().map(|r| r.1).collect()),
        median(ratios.clone()),
        rounds.len(),
    );
}
