//! Crash-point testing of the software engine: every multi-step change of
//! shared state is cut at each of its named crash points
//! (`netmap_ring::crash_point!`) by running the operation in a child whose
//! `NETMAP_CRASH_AT` names the point (the child SIGKILLs itself there);
//! then this process, which took no part, checks the invariants
//! (`check_invariants`). A second test kills children at random instants
//! while they open and close ports under traffic.
//!
//! The list of points is read from the sources, so a point added without
//! a scenario that reaches it fails the test. `docs/semantics.md` reports
//! the counts.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use netmap_ring::port::Port;
use netmap_testkit::frames::{frame, mac, BROADCAST};
use netmap_tests::{child_role, ChildRole, CHILD_ROLE};
use vale_soft::admin::{self, AdminError};
use vale_soft::ctrl::{binding, MAX_BINDINGS, MAX_ENTRIES, PORT_CLOSING};
use vale_soft::ports;

/// Where the points are: every `crash_point!("...")` in these sources.
const POINT_SOURCES: &[&str] = &["netmap-ring/src", "vale-soft/src"];

/// Buffers per switch in these tests (a few ports' worth): a switch is
/// created and destroyed several hundred times.
const BUFS: &str = "1024";

/// Rings of 64 slots: small switches are quick to make.
const CONF: &str = "@conf:slots=64";

/// Each test runs with `NETMAP_RS_DIR` set to a directory of its own; the
/// variable is process-wide, so the tests take turns.
static DIR_LOCK: Mutex<()> = Mutex::new(());

/// A private runtime directory, removed on drop.
struct RunDir {
    path: PathBuf,
}

impl RunDir {
    fn new(tag: &str) -> Self {
        let path = PathBuf::from(format!("/dev/shm/nmrs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::env::set_var("NETMAP_RS_DIR", &path);
        std::env::set_var("NETMAP_RS_BUFS", BUFS);
        netmap_ring::rundir::ensure_dir(&path).expect("runtime dir");
        Self { path }
    }

    /// Files left in the directory.
    fn leftovers(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Every crash point named in the sources.
fn all_points() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut points = BTreeSet::new();
    let mut stack: Vec<PathBuf> = POINT_SOURCES.iter().map(|d| root.join(d)).collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
            continue;
        }
        if path.extension() != Some(std::ffi::OsStr::new("rs")) || path.ends_with("crash.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for part in text.split("crash_point!(\"").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(
                points.insert(name.to_owned()),
                "crash point {name} is named twice"
            );
        }
    }
    points
}

// ---------------------------------------------------------------- children

/// Sends one frame from `tx` and checks that `rx` receives it.
fn exchange(tx: &mut Port, rx: &mut Port) -> Result<(), String> {
    let f = frame(BROADCAST, mac(1), 7, 60);
    if !tx.inject(&f) {
        return Err(format!("{}: TX ring full", tx.name()));
    }
    tx.txsync().map_err(|e| format!("txsync: {e}"))?;
    rx.rxsync().map_err(|e| format!("rxsync: {e}"))?;
    match rx.next_packet() {
        Some(_) => Ok(()),
        None => Err(format!("{} received nothing from {}", rx.name(), tx.name())),
    }
}

fn open(name: &str) -> Port {
    vale_soft::open(&format!("{name}{CONF}")).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

/// The operations, each one a child role `op|<what>|<switch>`.
fn run_child_role(role: &str) {
    let parts: Vec<&str> = role.split('|').collect();
    match parts.as_slice() {
        // Two ports of a switch: create (the switch too), bind, exchange,
        // unbind, destroy.
        ["op", "vale", sw] => {
            let mut a = open(&format!("{sw}:a"));
            // With extra buffers: their list is made and given back too.
            let name = format!("{sw}:b{CONF}");
            let mut b = vale_soft::open_with_extra_bufs(&name, 4)
                .unwrap_or_else(|e| panic!("open {name}: {e}"));
            exchange(&mut a, &mut b).unwrap();
        }
        // A pipe: pairing, both ends bound, one frame, both closed.
        ["op", "pipe", sw] => {
            let mut m = open(&format!("{sw}:p{{1"));
            let mut s = open(&format!("{sw}:p}}1"));
            exchange(&mut m, &mut s).unwrap();
        }
        // A persistent port made and removed (valectl -n, -r).
        ["op", "persistent", sw] => {
            admin::create_persistent(&format!("{sw}:p{CONF}")).unwrap();
            admin::delete_persistent(&format!("{sw}:p")).unwrap();
        }
        // Holds a port and a pipe until killed.
        ["hold", sw] => {
            let _a = open(&format!("{sw}:dead"));
            let _m = open(&format!("{sw}:d{{2"));
            let _s = open(&format!("{sw}:d}}2"));
            println!("ready");
            std::thread::sleep(Duration::from_secs(60));
        }
        // Opens and closes ports and pipes until killed.
        ["churn", sw] => {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < Duration::from_secs(30) {
                let mut a = open(&format!("{sw}:c{}", n % 3));
                let mut m = open(&format!("{sw}:q{{{}", n % 2));
                let mut s = open(&format!("{sw}:q}}{}", n % 2));
                if n == 0 {
                    println!("ready");
                }
                let _ = a.inject(&frame(BROADCAST, mac(3), n, 60));
                let _ = a.txsync();
                exchange(&mut m, &mut s).unwrap();
                n += 1;
            }
        }
        // Sends broadcast frames until killed.
        ["load", sw] => {
            let mut p = open(&format!("{sw}:load"));
            println!("ready");
            let start = Instant::now();
            let mut seq = 0;
            while start.elapsed() < Duration::from_secs(60) {
                while p.inject(&frame(BROADCAST, mac(2), seq, 60)) {
                    seq += 1;
                }
                let _ = p.txsync();
            }
        }
        other => panic!("unknown child role {other:?}"),
    }
}

/// How a child run ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Killed,
    Exited,
}

/// Runs child role `role` to its end, with `NETMAP_CRASH_AT=point`.
fn run_child(test: &str, role: &str, point: Option<&str>) -> Result<Ended, String> {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, role)
        .env_remove(netmap_ring::crash::ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(point) = point {
        command.env(netmap_ring::crash::ENV, point);
    }
    let out = command.output().expect("run child");
    match out.status.signal() {
        Some(sig) if sig == rustix::process::Signal::KILL.as_raw() => Ok(Ended::Killed),
        _ if out.status.success() => Ok(Ended::Exited),
        _ => Err(format!(
            "child {role} (crash point {point:?}) failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

// ---------------------------------------------------------------- checks

/// The invariants, from this process (which took no part in the killed
/// operation): for every switch left, after the reclaim an opener or
/// `valectl` runs, it has ports (or it is gone), no entry is stuck
/// closing, no binding names a dead process, and every buffer is owned
/// exactly once.
fn check_switches() -> Result<(), String> {
    for name in admin::domain_names() {
        let domain = match admin::open_existing(&name) {
            Ok(domain) => domain,
            Err(AdminError::NoSuchSwitch(_)) => continue,
            Err(e) => return Err(format!("{name}: cannot open: {e}")),
        };
        match admin::describe(&domain) {
            Err(AdminError::NoSuchSwitch(_)) => continue,
            Err(e) => return Err(format!("{name}: {e}")),
            Ok(info) if info.ports.is_empty() => {
                return Err(format!("{name}: a switch without ports"))
            }
            Ok(_) => {}
        }
        {
            let _guard = domain.lock();
            ports::reclaim_dead(&domain);
            let ctrl = domain.ctrl();
            if let Some(i) = (0..MAX_ENTRIES).find(|&i| ctrl.port(i).state() == PORT_CLOSING) {
                return Err(format!("{name}: entry {i} stuck closing"));
            }
            for b in (0..MAX_BINDINGS).map(|s| ctrl.binding(s)) {
                let pid = b.get(binding::PID);
                if b.is_active() && !netmap_ring::lock::task_alive(pid) {
                    return Err(format!("{name}: binding of dead process {pid} kept"));
                }
            }
        }
        ports::check_conservation(&domain).map_err(|e| format!("{name}: {e}"))?;
    }
    // A creator killed after linking its switch in leaves its hidden
    // build file: it goes with the switch, not at some later creation.
    let dir = netmap_ring::rundir::runtime_dir();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix('.').and_then(|f| f.strip_suffix(".new")) else {
            continue;
        };
        let (stem, pid) = rest.rsplit_once('.').unwrap_or((rest, "0"));
        let dead = !netmap_ring::lock::task_alive(pid.parse().unwrap_or(0));
        if dead && !dir.join(format!("{stem}.mem")).exists() {
            return Err(format!("{file}: a dead creator's file outlived its switch"));
        }
    }
    Ok(())
}

/// A new pair on the names the operation used exchanges frames (VALE and
/// pipe), and the switch's buffers are all accounted for meanwhile.
fn check_new_pair(sw: &str) -> Result<(), String> {
    let open = |name: String| {
        vale_soft::open(&format!("{name}{CONF}")).map_err(|e| format!("reopen {name}: {e}"))
    };
    let mut a = open(format!("{sw}:a"))?;
    let mut b = open(format!("{sw}:b"))?;
    exchange(&mut a, &mut b)?;
    exchange(&mut b, &mut a)?;
    let mut m = open(format!("{sw}:p{{1"))?;
    let mut s = open(format!("{sw}:p}}1"))?;
    exchange(&mut m, &mut s)?;
    exchange(&mut s, &mut m)?;
    check_switches()
}

/// Removes persistent ports an operation left whole, then checks that
/// nothing is left: no switch file, wake-up FIFO or half-built switch.
fn check_clean(dir: &RunDir, sw: &str) -> Result<(), String> {
    if let Ok(domain) = admin::open_existing(sw) {
        if let Ok(info) = admin::describe(&domain) {
            for p in info.ports.iter().filter(|p| p.persistent) {
                admin::delete_persistent(&format!("{sw}:{}", p.name))
                    .map_err(|e| format!("valectl -r {sw}:{}: {e}", p.name))?;
            }
        }
    }
    let left = dir.leftovers();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("files left after the last close: {left:?}"))
    }
}

fn check_invariants(dir: &RunDir, sw: &str) -> Result<(), String> {
    check_switches()?;
    check_new_pair(sw)?;
    check_clean(dir, sw)
}

// ---------------------------------------------------------------- tests

/// An operation to cut at every point, with what it needs set up first.
struct Scenario {
    name: &'static str,
    /// The child role's operation.
    op: &'static str,
    setup: Setup,
    /// Also kill at the second time each point is passed (the second
    /// port, ring or buffer run of the operation).
    again: bool,
}

enum Setup {
    /// Nothing: the operation creates the switch and destroys it.
    None,
    /// This process holds a port: the switch stays.
    Hold,
    /// A process holding ports was killed: the operation reclaims them.
    DeadHolder,
    /// A process was killed holding the domain lock (in a bind): the
    /// operation repairs the pools.
    DeadLockHolder,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "vale",
        op: "vale",
        setup: Setup::None,
        again: true,
    },
    Scenario {
        name: "vale-join",
        op: "vale",
        setup: Setup::Hold,
        again: false,
    },
    Scenario {
        name: "pipe",
        op: "pipe",
        setup: Setup::None,
        again: true,
    },
    Scenario {
        name: "pipe-join",
        op: "pipe",
        setup: Setup::Hold,
        again: false,
    },
    Scenario {
        name: "reclaim",
        op: "vale",
        setup: Setup::DeadHolder,
        again: false,
    },
    Scenario {
        name: "repair",
        op: "vale",
        setup: Setup::DeadLockHolder,
        again: false,
    },
    Scenario {
        name: "persistent",
        op: "persistent",
        setup: Setup::None,
        again: false,
    },
];

const CRASH_TEST: &str = "every_crash_point_leaves_the_switch_whole";

#[test]
fn every_crash_point_leaves_the_switch_whole() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let _turn = DIR_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = RunDir::new("crash");
    let points = all_points();
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut kills = 0;
    let started = Instant::now();
    for scenario in SCENARIOS {
        let scenario_started = Instant::now();
        let sw = format!("valecp{}", scenario.name.replace('-', "_"));
        let nths: &[u32] = if scenario.again { &[1, 2] } else { &[1] };
        for (point, &nth) in points.iter().flat_map(|p| nths.iter().map(move |n| (p, n))) {
            runs += 1;
            let armed = if nth == 1 {
                point.clone()
            } else {
                format!("{point}:{nth}")
            };
            let held = match scenario.setup {
                Setup::None => None,
                Setup::Hold => Some(open(&format!("{sw}:hold"))),
                Setup::DeadHolder => {
                    let mut holder = ChildRole::spawn(CRASH_TEST, &format!("hold|{sw}"));
                    holder.expect_line("ready");
                    holder.kill();
                    None
                }
                Setup::DeadLockHolder => {
                    let ended = run_child(
                        CRASH_TEST,
                        &format!("op|vale|{sw}"),
                        Some("ports::bind:if_taken:2"),
                    );
                    assert_eq!(ended, Ok(Ended::Killed), "set-up of {}", scenario.name);
                    None
                }
            };
            let role = format!("op|{}|{sw}", scenario.op);
            let result = run_child(CRASH_TEST, &role, Some(&armed)).and_then(|ended| {
                if ended == Ended::Killed {
                    kills += 1;
                    reached.insert(point);
                }
                drop(held);
                // A panic in the checks (an overflow in the reclaim, say) is
                // a failure of this point, not the end of the test.
                std::panic::catch_unwind(|| check_invariants(&dir, &sw))
                    .unwrap_or_else(|_| Err("the checks panicked".into()))
            });
            if let Err(e) = result {
                failures.push(format!("{} at {armed}: {e}", scenario.name));
                // Start the next point from a clean directory.
                let _ = std::fs::remove_dir_all(&dir.path);
                netmap_ring::rundir::ensure_dir(&dir.path).unwrap();
            }
        }
        println!(
            "scenario {}: {:.1} s",
            scenario.name,
            scenario_started.elapsed().as_secs_f64()
        );
    }
    let unreached: Vec<&String> = points
        .iter()
        .filter(|p| !reached.contains(p.as_str()))
        .collect();
    println!(
        "crash points: {} named, {} reached; {runs} runs ({kills} killed at a point), each followed by the checks, in {:.1} s",
        points.len(),
        reached.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs broke an invariant:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        unreached.is_empty(),
        "no scenario reaches crash points {unreached:?}"
    );
}

const RANDOM_TEST: &str = "kills_at_random_instants_under_traffic_lose_nothing";

#[test]
fn kills_at_random_instants_under_traffic_lose_nothing() {
    if let Some(role) = child_role() {
        return run_child_role(&role);
    }
    let _turn = DIR_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = RunDir::new("rkill");
    let sw = "valerkill";
    // A sender keeps every ring of the switch busy meanwhile.
    let mut load = ChildRole::spawn(RANDOM_TEST, &format!("load|{sw}"));
    load.expect_line("ready");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        | 1;
    println!("random kills: seed {seed}");
    const KILLS: u32 = 60;
    for kill in 0..KILLS {
        // xorshift32
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let mut churn = ChildRole::spawn(RANDOM_TEST, &format!("churn|{sw}"));
        churn.expect_line("ready");
        std::thread::sleep(Duration::from_micros(u64::from(seed % 30_000)));
        churn.kill();
        if let Err(e) = check_switches() {
            panic!("kill {kill} (seed {seed}): {e}");
        }
    }
    load.kill();
    if let Err(e) = check_invariants(&dir, sw) {
        panic!("after {KILLS} kills: {e}");
    }
    println!("random kills: {KILLS} kills under traffic, each followed by the checks");
}
