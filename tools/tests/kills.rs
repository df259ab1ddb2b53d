//! Processes killed at any instant lose nothing: the switch they were on
//! keeps working for the next opener, and no entry or buffer stays stuck.
//! (Issue 16's reproductions, as tests; the kill count scales with
//! `NETMAP_KILL_ROUNDS`.)

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use vale_offload::placement::DomainKind;
use vale_soft::ctrl::{dom, MAX_ENTRIES, PORT_ACTIVE};
use vale_soft::domain::Domain;
use vale_soft::ports;

const PKT_GEN: &str = env!("CARGO_BIN_EXE_pkt-gen");

fn pkt_gen(args: &[&str]) -> Command {
    let mut cmd = Command::new(PKT_GEN);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Starts pkt-gen and waits (bounded) until it says its port is ready.
fn pkt_gen_ready(args: &[&str]) -> Child {
    use std::io::BufRead;
    let mut child = pkt_gen(args).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready, is_ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads to the end, so pkt-gen never blocks on a full pipe.
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(" ready ") {
                let _ = ready.send(());
            }
        }
    });
    is_ready
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("pkt-gen {args:?} never got ready"));
    child
}

/// Waits (bounded) for `child` and says whether it exited with success.
fn wait_ok(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// The last holder of a switch dies; the next pair of processes on the
/// same switch exchanges every frame (the opener that reclaimed the dead
/// port used to destroy the switch it had just joined).
#[test]
fn the_next_pair_after_the_last_holder_died_exchanges_frames() {
    for (kind, tx_name, rx_name) in [("vale", "t", "r"), ("pipe", "x{1", "x}1")] {
        let sw = format!("valekill{kind}{}", std::process::id());
        let tx_port = format!("{sw}:{tx_name}");
        let rx_port = format!("{sw}:{rx_name}");
        let mut victim = pkt_gen(&["-i", &tx_port, "-f", "tx"]).spawn().unwrap();
        // Let it open and send a while.
        std::thread::sleep(Duration::from_millis(300));
        victim.kill().unwrap();
        victim.wait().unwrap();
        // The receiver first: a pipe's or a switch's frames with nobody on
        // the other side go nowhere, by netmap's semantics.
        let mut rx = pkt_gen_ready(&["-i", &rx_port, "-f", "rx", "-n", "1000"]);
        let mut tx = pkt_gen(&["-i", &tx_port, "-f", "tx", "-n", "1000"])
            .spawn()
            .unwrap();
        assert!(
            wait_ok(&mut tx, Duration::from_secs(20)),
            "{kind}: sender failed"
        );
        assert!(
            wait_ok(&mut rx, Duration::from_secs(20)),
            "{kind}: the receiver never got its 1000 frames"
        );
    }
}

/// Senders opening a switch are killed at random instants, many at once,
/// while one receiver holds it: afterwards only the receiver's port is in
/// the table, every buffer is owned once, and the switch goes away with
/// its last port (no zombie switch, no entry stuck closing).
#[test]
fn kills_during_concurrent_opens_leave_no_stuck_entry() {
    let rounds: u64 = std::env::var("NETMAP_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let sw = format!("valekills{}", std::process::id());
    let hold_name = format!("{sw}:hold");
    let mut hold = pkt_gen(&["-i", &hold_name, "-f", "rx"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let workers: Vec<_> = (0..8u64)
        .map(|w| {
            let sw = sw.clone();
            std::thread::spawn(move || {
                for round in 0..rounds {
                    let name = format!("{sw}:k{w}");
                    let mut child = pkt_gen(&["-i", &name, "-f", "tx"]).spawn().unwrap();
                    // 10..90 ms: kills land in the open, the send and the close.
                    let delay = 10 + (w * 37 + round * 53) % 80;
                    std::thread::sleep(Duration::from_millis(delay));
                    child.kill().unwrap();
                    child.wait().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let domain = Domain::open(&sw, DomainKind::Switch).unwrap();
    let active: Vec<String> = {
        let _guard = domain.lock();
        ports::reclaim_dead(&domain);
        let ctrl = domain.ctrl();
        (0..MAX_ENTRIES)
            .map(|i| ctrl.port(i))
            .filter(|e| e.state() != 0)
            .map(|e| {
                assert_eq!(e.state(), PORT_ACTIVE, "entry {} stuck", e.index);
                e.name()
            })
            .collect()
    };
    assert_eq!(active, ["hold"], "only the holder's port stays");
    assert_eq!(
        domain
            .ctrl()
            .u32_at(dom::ENTRIES_IN_USE)
            .load(Ordering::Acquire),
        1
    );
    ports::check_conservation(&domain).expect("every buffer owned once");
    drop(domain);
    hold.kill().unwrap();
    hold.wait().unwrap();
    // The holder's death empties the switch: the next look removes it.
    let out = Command::new(env!("CARGO_BIN_EXE_valectl"))
        .args(["--stats", &sw])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dir = netmap_ring::rundir::runtime_dir();
    let stem = netmap_ring::rundir::file_stem(&sw);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{stem}.")))
        .collect();
    assert!(left.is_empty(), "files of the dead switch stay: {left:?}");
}

/// Many processes opening a new switch at once all land on one switch (a
/// joiner used to take a file still being created for one whose creator
/// died, and remove it under the creator's feet).
#[test]
fn concurrent_first_opens_share_one_switch() {
    for round in 0..3 {
        let sw = format!("valefirst{round}x{}", std::process::id());
        let mut children: Vec<Child> = (0..16)
            .map(|i| {
                pkt_gen(&["-i", &format!("{sw}:p{i}"), "-f", "rx"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut listed = 0;
        while Instant::now() < deadline {
            let out = Command::new(env!("CARGO_BIN_EXE_valectl"))
                .args(["--stats", &sw])
                .output()
                .unwrap();
            listed = String::from_utf8_lossy(&out.stdout)
                .matches("rx_packets")
                .count();
            let running = children
                .iter_mut()
                .filter_map(|c| c.try_wait().unwrap().is_none().then_some(()))
                .count();
            if listed == 16 || running < 16 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(listed, 16, "round {round}: ports missing from the switch");
    }
}
