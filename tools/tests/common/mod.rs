//! Running the tools as child processes with bounded waits: every child is
//! killed when its guard drops, so a failing test leaves nothing behind.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for any child step; generous, the machine is shared.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A private runtime directory (NETMAP_RS_DIR) for one test, removed at
/// drop, and a unique switch-name stem.
pub struct Sandbox {
    pub dir: PathBuf,
    pub tag: String,
}

impl Sandbox {
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}t{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("netmap-tools-test-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        Self { dir, tag }
    }

    /// A switch name unique to this test (`vale<pid>t<n><suffix>`).
    pub fn switch(&self, suffix: &str) -> String {
        format!("vale{}{suffix}", self.tag)
    }

    /// A command for tool `bin` (a path from CARGO_BIN_EXE_*) in this
    /// sandbox.
    pub fn command(&self, bin: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.args(args).env("NETMAP_RS_DIR", &self.dir);
        c
    }

    /// Runs a tool to completion (bounded) and returns its status and
    /// output (stdout then stderr).
    pub fn run(&self, bin: &str, args: &[&str]) -> (ExitStatus, String, String) {
        let mut child = Running::spawn(self.command(bin, args));
        let status = child.wait(TIMEOUT);
        (status, child.stdout(), child.stderr())
    }

    /// Spawns a tool in the background.
    pub fn spawn(&self, bin: &str, args: &[&str]) -> Running {
        Running::spawn(self.command(bin, args))
    }

    /// Starts `pkt-gen -i port -f rx` with `more` arguments and waits until
    /// its port is open, so frames sent after this return are received.
    pub fn receiver(&self, port: &str, more: &[&str]) -> Running {
        let mut args = vec!["-i", port, "-f", "rx"];
        args.extend_from_slice(more);
        let rx = self.spawn(PKT_GEN, &args);
        rx.wait_for_line("ready", TIMEOUT);
        rx
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Default)]
struct Output {
    lines: Vec<String>,
    closed: bool,
}

type Shared = Arc<(Mutex<Output>, Condvar)>;

fn collect(stream: impl std::io::Read + Send + 'static) -> Shared {
    let shared: Shared = Arc::default();
    let sink = Arc::clone(&shared);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let (lock, cv) = &*sink;
            lock.lock().unwrap().lines.push(line);
            cv.notify_all();
        }
        let (lock, cv) = &*sink;
        lock.lock().unwrap().closed = true;
        cv.notify_all();
    });
    shared
}

/// A child process whose output is collected line by line; killed on drop.
pub struct Running {
    child: Child,
    out: Shared,
    err: Shared,
    status: Option<ExitStatus>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn tool");
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        Self {
            child,
            out,
            err,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a stdout line contains `text`; panics (with the output
    /// so far) after `timeout` or when the child closes stdout first.
    pub fn wait_for_line(&self, text: &str, timeout: Duration) -> String {
        self.wait_for(&self.out, "stdout", text, timeout)
    }

    /// As [`Running::wait_for_line`], on stderr.
    pub fn wait_for_stderr_line(&self, text: &str, timeout: Duration) -> String {
        self.wait_for(&self.err, "stderr", text, timeout)
    }

    fn wait_for(&self, stream: &Shared, what: &str, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &**stream;
        let mut o = lock.lock().unwrap();
        loop {
            if let Some(line) = o.lines.iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            let now = Instant::now();
            if o.closed || now >= deadline {
                drop(o);
                panic!(
                    "no line with {text:?} on {what}; stdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            o = cv.wait_timeout(o, deadline - now).unwrap().0;
        }
    }

    /// Waits for the child to exit and for its output to close; kills it
    /// and panics after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "child {} did not exit within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                    self.pid(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for shared in [&self.out, &self.err] {
            let (lock, cv) = &**shared;
            let mut o = lock.lock().unwrap();
            while !o.closed {
                o = cv.wait_timeout(o, Duration::from_millis(100)).unwrap().0;
            }
        }
        self.status = Some(status);
        status
    }

    /// Sends SIGINT (the tools print their summary and exit).
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    pub fn stdout(&self) -> String {
        self.out.0.lock().unwrap().lines.join("\n")
    }

    pub fn stderr(&self) -> String {
        self.err.0.lock().unwrap().lines.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The number after `word` in `text` (`"Received 5 packets"`, "Received").
pub fn number_after(text: &str, word: &str) -> Option<u64> {
    let at = text.find(word)? + word.len();
    text[at..].split_whitespace().next()?.parse().ok()
}

pub const PKT_GEN: &str = env!("CARGO_BIN_EXE_pkt-gen");
pub const VALECTL: &str = env!("CARGO_BIN_EXE_valectl");
pub const BRIDGE: &str = env!("CARGO_BIN_EXE_bridge");
pub const NMDUMP: &str = env!("CARGO_BIN_EXE_nmdump");

/// tshark's checksum status 1 is "Good" (0 Bad, 2 Unverified).
pub const GOOD: &str = "1";

/// The `fields` of every frame of capture `file` that tshark decodes
/// (with IP and UDP checksum checks on), optionally through a display
/// filter: one row per frame.
pub fn tshark_fields(file: &Path, fields: &[&str], filter: Option<&str>) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    if let Some(filter) = filter {
        cmd.args(["-Y", filter]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "tshark is needed to check captures and could not run ({e}); install it with scripts/setup (apt-get install tshark)"
        ),
    };
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
