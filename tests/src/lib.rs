//! Cross-crate integration tests.
//!
//! The tests in `tests/tests/` exercise several crates together: ports
//! shared by real processes, the software engine against the RTL model,
//! and traffic through veth pairs in network namespaces the tests create
//! and remove. This library holds what only they use (a test binary
//! re-run in a child process in a role) and where the RTL's
//! `nmsim-server` is; frames, names and skips come from `netmap-testkit`.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's `nmsim-server`, checked to be built from the RTL this
/// test was built with (a server left from before an RTL change would
/// test the old device).
pub fn nmsim_server() -> PathBuf {
    netmap_testkit::nmsim::nmsim_server(sim::RTL_HASH)
}

/// Environment variable that turns a test binary into a child role.
pub const CHILD_ROLE: &str = "NETMAP_TEST_CHILD_ROLE";

/// A child process running one role of a test binary, with its stdout
/// read line by line. Killed on drop, so a failing test leaves nothing.
pub struct ChildRole {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl ChildRole {
    /// Re-runs the current test binary, only `test` in it, with the child
    /// role `role` (read back with [`child_role`]).
    pub fn spawn(test: &str, role: &str) -> Self {
        Self::spawn_with(test, role, |_| {})
    }

    /// As [`ChildRole::spawn`], letting the caller adjust the command (for
    /// example to run it as another user).
    pub fn spawn_with(test: &str, role: &str, adjust: impl FnOnce(&mut Command)) -> Self {
        let exe = std::env::current_exe().expect("test binary path");
        let mut command = Command::new(exe);
        command
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ROLE, role)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        adjust(&mut command);
        let mut child = command.spawn().expect("spawn child role");
        let stdout = child.stdout.take().expect("piped stdout");
        Self {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// Waits for a line containing `prefix` (other lines, such as the test
    /// harness's, are skipped; the harness may print `test NAME ... ` on the
    /// same line first) and returns what follows it.
    pub fn expect_line(&mut self, prefix: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.expect("child stdout");
            if let Some(at) = line.find(prefix) {
                return line[at + prefix.len()..].trim().to_owned();
            }
        }
        panic!("child ended before printing {prefix:?}");
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (at most `limit`) for the child to exit; true if it exited 0.
    pub fn wait_success(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
        false
    }
}

impl Drop for ChildRole {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// The role this process plays, if it was spawned by [`ChildRole`].
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}
