//! The C programs of `tests/c`, compiled with the system C compiler against
//! the project's header (`netmap-ring/include/netmap_abi.h`) and run with
//! `LD_PRELOAD=libnetmap_preload.so`, on the software engine and on the
//! shared simulated NIC (`NETMAP_BACKEND=sim`).
//!
//! A test whose tools are missing (no C compiler, no `nmsim-server` built)
//! is reported as skipped with the reason (`netmap_testkit::skip`).
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

const PROGRAMS: [&str; 14] = [
    "threads",
    "garbage",
    "fd_pass",
    "lb_pipes",
    "valectl",
    "fork_child",
    "vale_tx",
    "vale_rx",
    "pipe_pair",
    "errors",
    "poll_wake",
    "epoll_modes",
    "zc_bridge",
    "monitor",
];

/// `target/<profile>`, where cargo put the library and the tools.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

/// The library under test: `cargo test` builds it in `deps/` (and
/// `cargo build` copies it up one level); the newer one is this source's.
fn preload_lib() -> PathBuf {
    let candidates = [
        target_dir().join("deps/libnetmap_preload.so"),
        target_dir().join("libnetmap_preload.so"),
    ];
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p.clone())
        .expect("libnetmap_preload.so is missing: `cargo test -p netmap-preload` builds it")
}

/// The compiled programs' directory, or why they could not be built.
fn programs() -> Result<&'static Path, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
            let include = crate_dir.join("../netmap-ring/include");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("preload-c-{}", std::process::id()));
            std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
            let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
            for name in PROGRAMS {
                let built = Command::new(&cc)
                    .args([
                        "-std=gnu11",
                        "-Wall",
                        "-Wextra",
                        "-Werror",
                        "-O1",
                        "-pthread",
                    ])
                    .arg("-I")
                    .arg(&include)
                    .arg(crate_dir.join(format!("tests/c/{name}.c")))
                    .arg("-o")
                    .arg(out.join(name))
                    .output()
                    .map_err(|e| format!("no C compiler `{cc}`: {e}"))?;
                assert!(
                    built.status.success(),
                    "{cc} failed on tests/c/{name}.c:\n{}",
                    String::from_utf8_lossy(&built.stderr)
                );
            }
            Ok(out)
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// A unique token for switch and pipe names.
fn unique(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where and on what backend the programs run.
struct Env {
    backend: &'static str,
    dir: PathBuf,
    programs: &'static Path,
    server: Option<PathBuf>,
}

impl Env {
    /// The environment, or `None` (after reporting a skip) if a tool is
    /// missing.
    fn new(backend: &'static str, test: &str) -> Option<Self> {
        let programs = match programs() {
            Ok(p) => p,
            Err(why) => {
                netmap_testkit::skip::skip(&format!("{test}: {why}"));
                return None;
            }
        };
        let server = if backend == "sim" {
            let server = target_dir().join("nmsim-server");
            if !server.exists() {
                netmap_testkit::skip::skip(&format!(
                    "{test}: {} is not built (run `cargo build --workspace` first)",
                    server.display()
                ));
                return None;
            }
            Some(server)
        } else {
            None
        };
        let dir = std::env::temp_dir().join(unique(&format!("nmpreload-{test}-")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("runtime directory");
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod runtime directory");
        Some(Self {
            backend,
            dir,
            programs,
            server,
        })
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(self.programs.join(program));
        command
            .args(args)
            .env("LD_PRELOAD", preload_lib())
            .env("NETMAP_BACKEND", self.backend)
            .env("NETMAP_RS_DIR", &self.dir)
            .env("NMSIM_IDLE_EXIT", "1")
            .env("NETMAP_PRELOAD_DEBUG", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(server) = &self.server {
            command.env("NMSIM_SERVER", server);
        }
        command
    }

    /// Runs `program` to the end (killed after `limit`).
    fn run(&self, program: &str, args: &[&str], limit: Duration) -> Output {
        let child = self.command(program, args).spawn().expect("spawn");
        wait(child, limit)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A simulator server this test started (it would leave by itself a
        // second after its last client).
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("nmsim.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed: {}", text(out));
}

// ---------------------------------------------------------------------------
// The scenarios, each run on both backends
// ---------------------------------------------------------------------------

/// A receiver and a sender in two processes over one VALE switch: the
/// receiver counts exactly what the sender sent, in order. VALE drops what
/// does not fit the receiver's ring, so the count stays below its size:
/// 4000 into 4096 slots in software; the device serves rings of up to
/// 1024 slots, so 1000 there.
fn vale_two_processes(env: &Env) {
    let switch = unique("vale");
    let (count, slots) = if env.backend == "sim" {
        ("1000", "1024")
    } else {
        ("4000", "4096")
    };
    let (rx_port, tx_port) = (format!("{switch}:b"), format!("{switch}:a"));
    let mut rx = env
        .command("vale_rx", &[&rx_port, count, "5000", slots])
        .spawn()
        .expect("spawn vale_rx");
    // Wait for "ready" (the receiver's port exists) before sending.
    let stdout = rx.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let ready = lines.recv_timeout(Duration::from_secs(60));
    assert_eq!(
        ready.as_deref(),
        Ok("ready"),
        "receiver never got ready: {}",
        text(&wait(rx, Duration::from_secs(1)))
    );
    let sent = env.run("vale_tx", &[&tx_port, count], Duration::from_secs(60));
    assert_ok("vale_tx", &sent);
    assert_eq!(
        String::from_utf8_lossy(&sent.stdout).trim(),
        format!("sent {count}")
    );
    let out = wait(rx, Duration::from_secs(60));
    reader.join().expect("reader");
    let received: Vec<String> = lines.try_iter().collect();
    assert!(out.status.success(), "vale_rx: {received:?} {}", text(&out));
    assert_eq!(received, [format!("received {count} bad 0")]);
}

/// Both ends of a pipe in one process: lossless, in order, zero-copy, both
/// directions, dup'd descriptors.
fn pipe_pair(env: &Env) {
    let name = unique("pp");
    let out = env.run("pipe_pair", &[&name, "20000"], Duration::from_secs(60));
    assert_ok("pipe_pair", &out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "pipe ok 20000",
        "{}",
        text(&out)
    );
}

/// Every error case, with netmap's errno.
fn errors(env: &Env) {
    let out = env.run("errors", &[&unique("vale")], Duration::from_secs(60));
    assert_ok("errors", &out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("errors ok\n"));
}

/// poll blocks until traffic (or its timeout, or a signal) and wakes on it.
fn poll_wake(env: &Env) {
    let out = env.run("poll_wake", &[&unique("vale")], Duration::from_secs(60));
    assert_ok("poll_wake", &out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("poll ok\n"));
}

/// The epoll uses of event-loop libraries: a descriptor added before it
/// is registered, EPOLLET, EPOLLONESHOT re-armed by EPOLL_CTL_MOD,
/// epoll_pwait2.
fn epoll_modes(env: &Env) {
    let out = env.run("epoll_modes", &[&unique("vale")], Duration::from_secs(60));
    assert_ok("epoll_modes", &out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("epoll ok\n"));
}

/// netmap's bridge over pipes: zero-copy when its two ports share one
/// memory, as every pipe of a family does in the software engine (the
/// receiver gets the sender's own buffers, swapped through the bridge's
/// rings); the device backends give each pipe pair its own memory, so the
/// bridge copies there, and must see that from `nr_mem_id`.
fn zero_copy_bridge(env: &Env) {
    let out = env.run(
        "zc_bridge",
        &[&unique("zb"), "20000"],
        Duration::from_secs(60),
    );
    assert_ok("zc_bridge", &out);
    let mode = if env.backend == "soft" {
        "zerocopy"
    } else {
        "copy"
    };
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("bridge ok 20000 {mode}")
    );
}

/// A forked child sends through the descriptor and mapping it inherited;
/// its close and exit leave the parent's binding alone.
fn fork_child(env: &Env) {
    let out = env.run(
        "fork_child",
        &[&unique("fk"), "500"],
        Duration::from_secs(60),
    );
    assert_ok("fork_child", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "fork ok 500");
}

/// Garbage in every ring field and slot, with syncs and polls after each
/// write: no crash of the program or the engine, and the ports work again
/// once the program behaves.
fn garbage(env: &Env) {
    let out = env.run(
        "garbage",
        &[&unique("vale"), &unique("gb")],
        Duration::from_secs(60),
    );
    assert_ok("garbage", &out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("garbage ok\n"));
}

/// Copy monitors registered with NR_MONITOR_RX, NR_MONITOR_TX or both
/// see every frame of the monitored ports, in order, with NS_TXMON on the
/// transmitted ones; netmap's errors for bad requests. On the device
/// backends the monitors are the driver's (same process, `docs/tools.md`).
fn monitor(env: &Env) {
    let out = env.run(
        "monitor",
        &[&unique("vale"), "2000"],
        Duration::from_secs(60),
    );
    assert_ok("monitor", &out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "monitor ok 2000"
    );
}

macro_rules! on_backends {
    ($($scenario:ident),*) => {
        mod soft {
            $(#[test]
            fn $scenario() {
                if let Some(env) = super::Env::new("soft", stringify!($scenario)) {
                    super::$scenario(&env);
                }
            })*
        }
        mod sim {
            $(#[test]
            fn $scenario() {
                if let Some(env) = super::Env::new("sim", stringify!($scenario)) {
                    super::$scenario(&env);
                }
            })*
        }
    };
}

on_backends!(
    vale_two_processes,
    pipe_pair,
    errors,
    poll_wake,
    epoll_modes,
    zero_copy_bridge,
    fork_child,
    garbage,
    monitor
);

/// vale-ctl's persistent-port lifecycle and the other control requests,
/// on the software engine (the device backends refuse them: their
/// switches are managed with `valectl --backend`).
#[test]
fn soft_vale_control_requests() {
    let Some(env) = Env::new("soft", "valectl") else {
        return;
    };
    let out = env.run(
        "valectl",
        &[
            &unique("vale"),
            &format!("v{}", std::process::id() % 100_000),
        ],
        Duration::from_secs(60),
    );
    assert_ok("valectl", &out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("valectl ok\n"));
}

/// netmap's lb over pipes: output pipes registered with the input's
/// `nr_mem_id` share its memory (the software engine places them in the
/// input's switch), consumers in another process meet them, and input
/// buffers swapped into the pipes reach them.
#[test]
fn soft_load_balancer_over_pipes() {
    let Some(env) = Env::new("soft", "lb") else {
        return;
    };
    let out = env.run(
        "lb_pipes",
        &[&unique("vale"), &unique("lb"), "1000"],
        Duration::from_secs(60),
    );
    assert_ok("lb_pipes", &out);
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("lb ok 1000\n"));
}

/// pkt-gen -p 2: two descriptors, one ring each (ONE_NIC, the second
/// with the first's `nr_mem_id` and mapping), two threads sending at once;
/// every frame of each arrives in order. Software engine (the device
/// backends bind all rings of a port).
#[test]
fn soft_threads_on_one_nic_rings() {
    let Some(env) = Env::new("soft", "threads") else {
        return;
    };
    let out = env.run(
        "threads",
        &[&unique("vale"), "400"],
        Duration::from_secs(60),
    );
    assert_ok("threads", &out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "threads ok 400 400"
    );
}

/// A registered descriptor sent over a UNIX socket (SCM_RIGHTS) to a
/// process that never opened /dev/netmap: it maps it and sends through it
/// with poll, and the sender's peer receives every frame in order.
#[test]
fn soft_descriptor_passing() {
    let Some(env) = Env::new("soft", "fd_pass") else {
        return;
    };
    let out = env.run("fd_pass", &[&unique("fp"), "5000"], Duration::from_secs(60));
    assert_ok("fd_pass", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("child sent 5000"), "{}", text(&out));
    assert!(stdout.ends_with("fd_pass ok 5000\n"), "{}", text(&out));
}

/// With `NETMAP_PRELOAD_SHARE_MAPPING=1` the application's mapping is the
/// backend's own: the pipe and error programs still pass, and the
/// backend's mapping survives their `munmap`s.
#[test]
fn soft_shared_mapping() {
    let Some(env) = Env::new("soft", "shared_mapping") else {
        return;
    };
    for (program, args) in [
        ("pipe_pair", vec![unique("sm"), "5000".to_owned()]),
        ("errors", vec![unique("vale")]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = env
            .command(program, &args)
            .env("NETMAP_PRELOAD_SHARE_MAPPING", "1")
            .spawn()
            .expect("spawn");
        let out = wait(child, Duration::from_secs(60));
        assert_ok(program, &out);
    }
}

/// `scripts/netmap-run` runs a program over the library (here the one
/// under test, through `NETMAP_PRELOAD_LIB`) on the backend it is given.
#[test]
fn netmap_run_wraps_a_program() {
    let Some(env) = Env::new("soft", "netmap_run") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/netmap-run");
    let child = Command::new(script)
        .args(["--backend", "soft"])
        .arg(env.programs.join("pipe_pair"))
        .args([&unique("pr"), "1000"])
        .env("NETMAP_PRELOAD_LIB", preload_lib())
        .env("NETMAP_RS_DIR", &env.dir)
        .env_remove("LD_PRELOAD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scripts/netmap-run");
    let out = wait(child, Duration::from_secs(60));
    assert_ok("netmap-run pipe_pair", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pipe ok 1000");
}
