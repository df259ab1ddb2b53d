//! Cross-crate integration tests.
//!
//! The tests in `tests/tests/` exercise several crates together: ports
//! shared by real processes, the software engine against the RTL model,
//! and traffic through veth pairs in network namespaces the tests create
//! and remove. This library holds the helpers they share.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Environment variable that turns a test binary into a child role.
pub const CHILD_ROLE: &str = "NETMAP_TEST_CHILD_ROLE";

/// A workspace binary (`pkt-gen`, `valectl`, `nmsim-server`), found next to
/// the running test's executable, where `cargo test --workspace` builds
/// it. For `nmsim-server`, also checks it was built from the same RTL as
/// this test ([`assert_server_is_current`]).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test --workspace` (or build netmap-tools and host-driver first)",
        bin.display()
    );
    if name == "nmsim-server" {
        assert_server_is_current(&bin);
    }
    bin
}

/// Panics unless `nmsim-server` at `bin` simulates the RTL this test was
/// built with: a server left from before an RTL change would test the old
/// device (cargo rebuilds it only when asked to).
pub fn assert_server_is_current(bin: &Path) {
    let output = Command::new(bin)
        .arg("--rtl-hash")
        .output()
        .expect("nmsim-server --rtl-hash runs");
    let theirs = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(
        theirs,
        sim::RTL_HASH,
        "{} was built from other RTL than this test: run `cargo build -p host-driver` (or `cargo test --workspace`)",
        bin.display()
    );
}

/// A switch name no other test (or test process) uses.
pub fn unique_switch(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "vale{tag}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An Ethernet frame of `len` bytes from `src` to `dst` whose payload
/// carries `seq` (bytes 14..18, little endian) and a fill pattern.
pub fn frame(dst: [u8; 6], src: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(18)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    f[14..18].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in f.iter_mut().enumerate().skip(18) {
        *b = (i as u32).wrapping_add(seq) as u8;
    }
    f
}

/// The sequence number [`frame`] wrote.
pub fn frame_seq(f: &[u8]) -> Option<u32> {
    f.get(14..18)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
}

/// A unicast MAC address for host `n`.
pub fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

/// The broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];

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

/// True when running as root (needed for other users and namespaces).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in `nmsim-server` that prints `hash` for `--rtl-hash`.
    fn fake_server(hash: &str) -> PathBuf {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "fake-nmsim-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, format!("#!/bin/sh\necho {hash}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path
    }

    #[test]
    fn a_server_built_from_other_rtl_is_refused() {
        let current = fake_server(sim::RTL_HASH);
        assert_server_is_current(&current);
        let stale = fake_server("0123456789abcdef");
        let refused = std::panic::catch_unwind(|| assert_server_is_current(&stale));
        let _ = std::fs::remove_file(&current);
        let _ = std::fs::remove_file(&stale);
        assert!(refused.is_err(), "a stale server passed the check");
    }
}
