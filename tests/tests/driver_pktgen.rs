//! Issue 7's end-to-end check: `pkt-gen -f rx` and `pkt-gen -f tx`, two
//! processes, exchange packets through the RTL over vfio-user: with
//! `--backend vfio-user:<socket>` (a server the test starts) and with
//! `--backend sim` (the per-user server the first process starts; each
//! test has its own runtime directory, so its own server).
//!
//! The binaries come from the workspace's other packages (netmap-tools,
//! host-driver); `cargo test --workspace` builds them next to this test.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netmap_testkit::nmsim::{workspace_bin, SimServer};
use netmap_tests::nmsim_server;

/// A child killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (bounded) for a child and returns its stdout and stderr.
fn finish(mut guard: Guard, limit: Duration) -> (bool, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            let mut text = String::new();
            for stream in [
                guard
                    .0
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read>),
                guard
                    .0
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read>),
            ]
            .into_iter()
            .flatten()
            {
                let mut stream = stream;
                let _ = stream.read_to_string(&mut text);
            }
            return (status.success(), text);
        }
        assert!(Instant::now() < deadline, "a child did not finish in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pkt_gen_tx_and_rx_processes_exchange_packets_through_the_rtl() {
    let dir = SimDir::new("vfio-user");
    let socket = std::env::temp_dir().join(format!("nmsim-pktgen-{}.sock", std::process::id()));
    let server = SimServer::start_at(&nmsim_server(), socket, &[]);
    exchange_on(&dir, &server.spec(), "vale0:a", "vale0:b", "3000");
}

/// A private runtime directory (`NETMAP_RS_DIR`) for one test, so that the
/// `--backend sim` server it starts is its own. On drop, the server (if it
/// still runs) is killed and the directory removed.
struct SimDir(PathBuf);

impl SimDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nmsim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    /// A command running `bin` against this directory's shared simulator,
    /// which leaves one second after its last client.
    fn command(&self, bin: &std::path::Path) -> Command {
        let mut command = Command::new(bin);
        command
            .env("NETMAP_RS_DIR", &self.0)
            .env("NMSIM_IDLE_EXIT", "1")
            .env_remove("NETMAP_BACKEND")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// The running server's pid.
    fn server_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.0.join("nmsim.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// How many servers were started here (each logs one "serving" line).
    fn servers_started(&self) -> usize {
        std::fs::read_to_string(self.0.join("nmsim-server.log"))
            .unwrap_or_default()
            .matches("serving the RTL model")
            .count()
    }

    /// Waits (up to 20 s) until `count` port entries are enabled; panics
    /// with `why` otherwise.
    fn wait_enabled_ports(&self, count: usize, why: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.enabled_ports() != count {
            assert!(Instant::now() < deadline, "{why}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port entries enabled on the device, from `valectl -l --backend
    /// sim --json`.
    fn enabled_ports(&self) -> usize {
        let out = self
            .command(&workspace_bin("valectl"))
            .args(["-l", "--json", "--backend", "sim"])
            .output()
            .expect("valectl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "valectl failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.matches("\"entry\":").count()
    }

    /// Waits (bounded) until the server has left by itself.
    fn wait_server_gone(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.0.join("nmsim.sock").exists() && self.server_pid().is_none() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for SimDir {
    fn drop(&mut self) {
        if let Some(pid) = self.server_pid().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `pkt-gen` whose stdout is collected by a thread; `ready`
/// fires at its " ready (" line.
struct PktGen {
    guard: Guard,
    ready: std::sync::mpsc::Receiver<()>,
    text: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl PktGen {
    fn start(dir: &SimDir, args: &[&str]) -> Self {
        let mut child = dir
            .command(&workspace_bin("pkt-gen"))
            .args(args)
            .spawn()
            .expect("pkt-gen");
        let stdout = child.stdout.take().expect("piped stdout");
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (ready, is_ready) = std::sync::mpsc::channel();
        let collected = text.clone();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains(" ready (") {
                    let _ = ready.send(());
                }
                let mut text = collected.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Self {
            guard: Guard(child),
            ready: is_ready,
            text,
            reader,
        }
    }

    fn wait_ready(&self, what: &str) {
        if self.ready.recv_timeout(Duration::from_secs(60)).is_err() {
            panic!(
                "{what} never got ready:\n{}",
                self.text.lock().unwrap().clone()
            );
        }
    }

    /// Waits (bounded) for the end; success and everything it printed.
    fn finish(self) -> (bool, String) {
        let (ok, stderr) = finish(self.guard, Duration::from_secs(60));
        self.reader.join().expect("reader");
        let text = self.text.lock().unwrap().clone() + &stderr;
        (ok, text)
    }
}

/// `rx` on `rx_port`, then `tx` of `count` frames on `tx_port`, two
/// processes on `--backend sim`: the receiver gets every frame.
fn exchange_on_shared_sim(dir: &SimDir, rx_port: &str, tx_port: &str, count: &str) {
    exchange_on(dir, "sim", rx_port, tx_port, count);
}

/// As [`exchange_on_shared_sim`] on any `--backend`.
fn exchange_on(dir: &SimDir, backend: &str, rx_port: &str, tx_port: &str, count: &str) {
    let rx = PktGen::start(
        dir,
        &["-i", rx_port, "-f", "rx", "-n", count, "--backend", backend],
    );
    rx.wait_ready("pkt-gen rx");
    let tx = PktGen::start(
        dir,
        &["-i", tx_port, "-f", "tx", "-n", count, "--backend", backend],
    );
    let (tx_ok, tx_out) = tx.finish();
    assert!(tx_ok, "pkt-gen tx failed:\n{tx_out}");
    assert!(
        tx_out.contains(&format!("Sent {count} packets")),
        "{tx_out}"
    );
    let (rx_ok, rx_out) = rx.finish();
    assert!(rx_ok, "pkt-gen rx failed:\n{rx_out}");
    assert!(
        rx_out.contains(&format!("Received {count} packets")),
        "receiver output:\n{rx_out}"
    );
}

#[test]
fn pkt_gen_processes_on_backend_sim_meet_on_one_auto_started_server() {
    let dir = SimDir::new("vale");
    exchange_on_shared_sim(&dir, "vale0:a", "vale0:b", "2000");
    assert_eq!(dir.servers_started(), 1, "one server for both processes");
    // With no client left, the server leaves by itself (idle exit 1 s) and
    // takes its socket and pid file with it.
    assert!(
        dir.wait_server_gone(Duration::from_secs(20)),
        "the server did not leave after its idle time"
    );
    // The next opener starts a new one.
    exchange_on_shared_sim(&dir, "vale0:c", "vale0:d", "500");
    assert_eq!(dir.servers_started(), 2);
}

#[test]
fn a_stale_socket_is_replaced_by_a_new_server() {
    let dir = SimDir::new("stale");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // What a killed server leaves: a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(dir.0.join("nmsim.sock")).unwrap());
    assert_eq!(dir.enabled_ports(), 0);
    assert_eq!(dir.servers_started(), 1);
}

#[test]
fn a_killed_process_releases_its_port_on_the_shared_sim() {
    let dir = SimDir::new("kill");
    let keeper = PktGen::start(
        &dir,
        &["-i", "vale0:keeper", "-f", "rx", "--backend", "sim"],
    );
    keeper.wait_ready("keeper");
    let victim = PktGen::start(
        &dir,
        &["-i", "vale0:victim", "-f", "rx", "--backend", "sim"],
    );
    victim.wait_ready("victim");
    assert_eq!(dir.enabled_ports(), 2);
    // SIGKILL: no chance to close anything.
    drop(victim.guard);
    dir.wait_enabled_ports(1, "the killed process's port stayed on the device");
    // Another process opens the same name, and the keeper still works.
    let again = PktGen::start(
        &dir,
        &["-i", "vale0:victim", "-f", "rx", "--backend", "sim"],
    );
    again.wait_ready("a new process on the same name");
    assert_eq!(dir.enabled_ports(), 2);
    assert_eq!(dir.servers_started(), 1);
    drop(again);
    drop(keeper);
}

#[test]
fn processes_starting_the_server_at_once_get_one_server() {
    let dir = SimDir::new("race");
    let starters: Vec<PktGen> = ["vale0:p", "vale0:q", "vale0:r"]
        .into_iter()
        .map(|port| PktGen::start(&dir, &["-i", port, "-f", "rx", "--backend", "sim"]))
        .collect();
    for (i, starter) in starters.iter().enumerate() {
        starter.wait_ready(&format!("starter {i}"));
    }
    // One device: all three ports are on it.
    assert_eq!(dir.enabled_ports(), 3);
    assert_eq!(dir.servers_started(), 1);
    drop(starters);
}

#[test]
fn pipe_ends_in_two_processes_exchange_packets_on_backend_sim() {
    let dir = SimDir::new("pipe");
    exchange_on_shared_sim(&dir, "netmap:pX}0", "netmap:pX{0", "3000");
    // Again, with the pair region of the first run gone: a fresh pair.
    exchange_on_shared_sim(&dir, "netmap:pX}0", "netmap:pX{0", "500");
    assert_eq!(dir.servers_started(), 1);
}

#[test]
fn pipe_ends_in_two_processes_exchange_packets_over_vfio_user() {
    let dir = SimDir::new("pipeu");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let socket = dir.0.join("own.sock");
    let server = SimServer::start_at(&nmsim_server(), socket, &[]);
    let backend = server.spec();
    exchange_on(&dir, &backend, "netmap:pY}0", "netmap:pY{0", "2000");
    drop(server);
}

#[test]
fn a_killed_pipe_end_is_retaken_and_the_other_end_goes_on() {
    let dir = SimDir::new("pipekill");
    // The sender runs until stopped: while no receiver is bound it waits
    // (a pipe is lossless).
    let sender = PktGen::start(&dir, &["-i", "netmap:pK{0", "-f", "tx", "--backend", "sim"]);
    sender.wait_ready("sender");
    let victim = PktGen::start(&dir, &["-i", "netmap:pK}0", "-f", "rx", "--backend", "sim"]);
    victim.wait_ready("victim receiver");
    assert_eq!(dir.enabled_ports(), 2);
    // SIGKILL: the receiver closes nothing.
    drop(victim.guard);
    dir.wait_enabled_ports(1, "the killed end's entry stayed on the device");
    // A new process takes the name; the sender's frames flow to it.
    let again = PktGen::start(
        &dir,
        &[
            "-i",
            "netmap:pK}0",
            "-f",
            "rx",
            "-n",
            "1000",
            "--backend",
            "sim",
        ],
    );
    let (ok, out) = again.finish();
    assert!(ok, "the new receiver failed:\n{out}");
    assert!(
        out.contains("Received 1000 packets"),
        "receiver output:\n{out}"
    );
    // The sender lived through it all.
    let mut guard = sender.guard;
    assert!(
        guard.0.try_wait().expect("sender status").is_none(),
        "the sender died"
    );
    drop(guard);
    assert_eq!(dir.servers_started(), 1);
}

/// The pair files in `dir` of the `sim:private` process `pid` (its device
/// is named after it).
fn pair_files_of(dir: &SimDir, pid: u32) -> Vec<PathBuf> {
    let prefix = format!("dev-p{pid}-");
    std::fs::read_dir(&dir.0)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".pair"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_killed_private_devices_pair_file_goes_at_the_next_open() {
    let dir = SimDir::new("pairsweep");
    let rx = |pipe: &str| {
        let port = format!("netmap:{pipe}{{0");
        let receiver = PktGen::start(&dir, &["-i", &port, "-f", "rx", "--backend", "sim:private"]);
        receiver.wait_ready(&port);
        let pid = receiver.guard.0.id();
        assert_eq!(pair_files_of(&dir, pid).len(), 1, "{port}: no pair file");
        (receiver, pid)
    };
    let (victim, victim_pid) = rx("pV");
    let (live, live_pid) = rx("pL");
    // SIGKILL: the victim removes nothing.
    drop(victim.guard);
    assert_eq!(pair_files_of(&dir, victim_pid).len(), 1);
    // The next pair open (in a third process) removes the dead one's file
    // and keeps the live one's.
    let (next, next_pid) = rx("pN");
    assert!(
        pair_files_of(&dir, victim_pid).is_empty(),
        "the killed process's pair file stayed"
    );
    assert_eq!(pair_files_of(&dir, live_pid).len(), 1, "a live pair went");
    assert_eq!(pair_files_of(&dir, next_pid).len(), 1);
    let mut live = live.guard;
    assert!(live.0.try_wait().expect("status").is_none(), "it died");
    drop(live);
    drop(next.guard);
}

/// The shared simulator's server is killed under waiting receivers: each
/// (polling or spinning, on a VALE port or a pipe end) ends within a
/// second with an error that says so, instead of waiting forever.
#[test]
fn receivers_see_the_server_die_within_a_second() {
    let dir = SimDir::new("death");
    let receivers: Vec<PktGen> = [
        &["-i", "vale0:r", "-f", "rx", "--backend", "sim"][..],
        &["-i", "vale0:s", "-f", "rx", "--backend", "sim", "--busy"][..],
        &["-i", "vale0:x}3", "-f", "rx", "--backend", "sim"][..],
        &["-i", "vale0:y}4", "-f", "rx", "--backend", "sim", "--busy"][..],
    ]
    .into_iter()
    .map(|args| {
        let rx = PktGen::start(&dir, args);
        rx.wait_ready("a receiver");
        rx
    })
    .collect();
    let pid = dir.server_pid().expect("the server's pid file");
    let pid = rustix::process::Pid::from_raw(pid).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill the server");
    let killed = Instant::now();
    for rx in receivers {
        let mut guard = rx.guard;
        let mut status = None;
        while killed.elapsed() < Duration::from_secs(5) {
            status = guard.0.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let waited = killed.elapsed();
        let status = status.expect("a receiver still waits 5 s after the server died");
        let mut stderr = String::new();
        use std::io::Read;
        guard
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{stderr}");
        assert!(
            stderr.contains("server") && stderr.contains("exited"),
            "{stderr}"
        );
        assert!(waited < Duration::from_secs(1), "took {waited:?}");
    }
}

/// `valectl --watch --backend <device>` reads the device's port counters
/// (BAR0) once per interval and prints per-port rates: with pkt-gen
/// sending through the RTL, one entry transmits and another receives.
#[test]
fn valectl_watch_shows_rates_of_device_ports() {
    let pkt_gen = workspace_bin("pkt-gen");
    let valectl = workspace_bin("valectl");
    let socket = std::env::temp_dir().join(format!("nmsim-watch-{}.sock", std::process::id()));
    let server = SimServer::start_at(&nmsim_server(), socket, &[]);
    let backend = server.spec();
    let spawn = |port: &str, function: &str, extra: &[&str]| {
        let mut c = Command::new(&pkt_gen);
        c.args(["-i", port, "-f", function, "--backend", &backend])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Guard(c.spawn().expect("pkt-gen"))
    };
    let mut rx = spawn("vale0:w", "rx", &[]);
    // The receiver's "ready" line: its port is on the device.
    let mut line = Vec::new();
    let stdout = rx.0.stdout.as_mut().expect("piped stdout");
    let started = Instant::now();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&line).contains(" ready (") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "rx never ready"
        );
        if stdout.read(&mut byte).expect("read") == 0 {
            panic!("pkt-gen rx exited: {}", String::from_utf8_lossy(&line));
        }
        line.push(byte[0]);
    }
    let _tx = spawn("vale0:v", "tx", &["-R", "2000"]);
    std::thread::sleep(Duration::from_millis(500));
    let watch = Guard(
        Command::new(&valectl)
            .args([
                "--backend",
                &backend,
                "--watch",
                "--count",
                "2",
                "--interval",
                "0.5",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("valectl"),
    );
    let (ok, out) = finish(watch, Duration::from_secs(60));
    assert!(ok, "valectl --watch failed:\n{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("rx pps")).count(),
        2,
        "{out}"
    );
    // Columns after the name `entry N (kind)`: rx pps, tx pps, drops/s.
    let last: Vec<Vec<f64>> = out
        .lines()
        .rev()
        .take_while(|l| !l.contains("rx pps"))
        .filter(|l| l.trim_start().starts_with("entry"))
        .map(|l| {
            l.split(')')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect();
    assert!(last.iter().any(|r| r[0] > 0.0), "an entry receives:\n{out}");
    assert!(
        last.iter().any(|r| r[1] > 0.0),
        "an entry transmits:\n{out}"
    );
}
