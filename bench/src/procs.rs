//! The parent's side of the children: spawning this very program with a
//! role, the ready/go handshake, and collecting the result lines. A child
//! still running when its handle drops is killed and reaped.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a child may take to say anything: set-up (a 64-port switch
/// included) and a measurement take seconds; a child silent for this long
/// is stuck, and is killed.
const CHILD_SILENCE_LIMIT: Duration = Duration::from_secs(60);

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start {role}: {source}")]
    Spawn {
        role: String,
        source: std::io::Error,
    },
    #[error("{role}: {what}")]
    Child { role: String, what: String },
    #[error("{0}")]
    Setup(String),
}

/// How to start one child.
#[derive(Clone, Debug, Default)]
pub struct ChildSpec {
    /// Human name for messages (`vale rx`).
    pub label: String,
    /// A wrapper command run first (`ip netns exec NS`), or empty.
    pub wrapper: Vec<String>,
    /// The role and its arguments, after `child`.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

impl ChildSpec {
    pub fn new(label: &str, args: Vec<String>) -> Self {
        Self {
            label: label.to_owned(),
            args,
            ..Self::default()
        }
    }
}

/// A running child.
pub struct Running {
    label: String,
    child: std::process::Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    /// Starts `spec` and waits for its `ready`.
    pub fn start(spec: &ChildSpec) -> Result<Self, BenchError> {
        let exe = std::env::current_exe().map_err(|source| BenchError::Spawn {
            role: spec.label.clone(),
            source,
        })?;
        let mut command = match spec.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        command
            .arg("child")
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().map_err(|source| BenchError::Spawn {
            role: spec.label.clone(),
            source,
        })?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut running = Self {
            label: spec.label.clone(),
            child,
            stdin,
            stdout,
        };
        let line = running.line()?;
        if line != "ready" {
            return Err(running.failure(&line));
        }
        Ok(running)
    }

    /// Waits until the child's stdout has something to read, at most
    /// [`CHILD_SILENCE_LIMIT`].
    fn wait_readable(&mut self) -> Result<(), BenchError> {
        if !self.stdout.buffer().is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + CHILD_SILENCE_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BenchError::Child {
                    role: self.label.clone(),
                    what: format!("silent for {CHILD_SILENCE_LIMIT:?}; killed"),
                });
            }
            let mut fds = [libc::pollfd {
                fd: self.stdout.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: `fds` is one valid pollfd for the duration of the
            // call, and the descriptor stays open (owned by `self.stdout`).
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
            if rc > 0 {
                return Ok(());
            }
            if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(BenchError::Child {
                    role: self.label.clone(),
                    what: format!("poll: {}", std::io::Error::last_os_error()),
                });
            }
        }
    }

    fn line(&mut self) -> Result<String, BenchError> {
        self.wait_readable()?;
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(BenchError::Child {
                role: self.label.clone(),
                what: "exited without a word".into(),
            }),
            Ok(_) => Ok(line.trim().to_owned()),
            Err(e) => Err(BenchError::Child {
                role: self.label.clone(),
                what: e.to_string(),
            }),
        }
    }

    /// The error a child reported instead of what was expected.
    fn failure(&self, line: &str) -> BenchError {
        let what = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("unexpected output {line:?}"));
        BenchError::Child {
            role: self.label.clone(),
            what,
        }
    }

    /// Tells the child to start.
    pub fn go(&mut self) -> Result<(), BenchError> {
        let stdin = self.stdin.as_mut().ok_or_else(|| BenchError::Child {
            role: self.label.clone(),
            what: "stdin already closed".into(),
        })?;
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| BenchError::Child {
                role: self.label.clone(),
                what: format!("cannot send go: {e}"),
            })
    }

    /// Reads the child's result and reaps it.
    pub fn finish(mut self) -> Result<Value, BenchError> {
        let line = self.line()?;
        let value: Value = serde_json::from_str(&line).map_err(|_| self.failure(&line))?;
        if value.get("error").is_some() {
            return Err(self.failure(&line));
        }
        drop(self.stdin.take());
        let _ = self.child.wait();
        Ok(value)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs one measurement: starts the receivers (each ready before the
/// next starts), then the senders, says `go` to all, and returns the
/// receivers' and the senders' results.
pub fn run_measurement(
    receivers: &[ChildSpec],
    senders: &[ChildSpec],
) -> Result<(Vec<Value>, Vec<Value>), BenchError> {
    let mut rx = Vec::new();
    for spec in receivers {
        rx.push(Running::start(spec)?);
    }
    let mut tx = Vec::new();
    for spec in senders {
        tx.push(Running::start(spec)?);
    }
    for child in rx.iter_mut().chain(tx.iter_mut()) {
        child.go()?;
    }
    let rx_results = rx
        .into_iter()
        .map(Running::finish)
        .collect::<Result<Vec<_>, _>>()?;
    let tx_results = tx
        .into_iter()
        .map(Running::finish)
        .collect::<Result<Vec<_>, _>>()?;
    if std::env::var_os("NETMAP_BENCH_DEBUG").is_some() {
        let label = |specs: &[ChildSpec]| specs.iter().map(|s| s.label.clone()).collect::<Vec<_>>();
        eprintln!(
            "netmap-bench: {:?} -> {rx_results:?}; {:?} -> {tx_results:?}",
            label(receivers),
            label(senders)
        );
    }
    Ok((rx_results, tx_results))
}
