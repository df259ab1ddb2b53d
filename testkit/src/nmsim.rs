//! A test's own `nmsim-server` (the RTL model served over vfio-user), and
//! the workspace binaries tests run.
//!
//! The kit does not depend on `sim` or `host-driver`: the caller passes
//! the server's path (`env!("CARGO_BIN_EXE_nmsim-server")` in
//! host-driver, [`workspace_bin`] elsewhere) and the RTL hash it expects
//! (`sim::RTL_HASH`).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Longest wait for a server to start serving (building nothing, but the
/// machine is shared).
pub const SERVING_TIMEOUT: Duration = Duration::from_secs(30);

/// A workspace binary (`pkt-gen`, `valectl`, `nmsim-server`), found next to
/// the running test's executable, where `cargo test --workspace` builds
/// it. Panics, saying how to build it, when it is missing.
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
    bin
}

/// The workspace's `nmsim-server`, checked to simulate the RTL whose hash
/// is `rtl_hash` ([`assert_server_is_current`]).
pub fn nmsim_server(rtl_hash: &str) -> PathBuf {
    let bin = workspace_bin("nmsim-server");
    assert_server_is_current(&bin, rtl_hash);
    bin
}

/// Panics unless `nmsim-server` at `bin` simulates the RTL of hash
/// `rtl_hash`: a server left from before an RTL change would test the old
/// device (cargo rebuilds it only when asked to).
pub fn assert_server_is_current(bin: &Path, rtl_hash: &str) {
    let output = Command::new(bin)
        .arg("--rtl-hash")
        .output()
        .expect("nmsim-server --rtl-hash runs");
    let theirs = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert_eq!(
        theirs,
        rtl_hash,
        "{} was built from other RTL than this test: run `cargo build -p host-driver` (or `cargo test --workspace`)",
        bin.display()
    );
}

/// Waits (at most [`SERVING_TIMEOUT`]) for the server's "serving" line on
/// its piped stderr: it comes after `listen()`, while the socket file
/// appears at `bind()`, a moment earlier (a connect in between is
/// refused). The rest of its stderr is drained on a thread. Panics (after
/// killing the child) when the line never comes.
pub fn wait_until_serving(child: &mut Child) {
    let stderr = child.stderr.take().expect("nmsim-server's stderr piped");
    let (ready, is_ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("serving") {
                let _ = ready.send(());
            }
        }
    });
    if is_ready.recv_timeout(SERVING_TIMEOUT).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("nmsim-server never started serving");
    }
}

/// `nmsim-server` in a child process, serving on its own socket; killed
/// (and its socket removed) on drop.
#[derive(Debug)]
pub struct SimServer {
    child: Child,
    socket: PathBuf,
}

impl SimServer {
    /// Starts `bin` on a fresh socket in the temporary directory, with the
    /// extra arguments `args` (`["--clients", "1"]`), and waits until it
    /// serves.
    pub fn start(bin: &Path, args: &[&str]) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = std::env::temp_dir().join(format!(
            "nmsim-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        Self::start_at(bin, socket, args)
    }

    /// As [`SimServer::start`], on socket `socket`.
    pub fn start_at(bin: &Path, socket: PathBuf, args: &[&str]) -> Self {
        let _ = std::fs::remove_file(&socket);
        let mut child = Command::new(bin)
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", bin.display()));
        wait_until_serving(&mut child);
        Self { child, socket }
    }

    /// The socket the server listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The `--backend` value naming this server: `vfio-user:<socket>`.
    pub fn spec(&self) -> String {
        format!("vfio-user:{}", self.socket.display())
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in server script, removed on drop.
    struct Script(PathBuf);

    impl Script {
        fn new(body: &str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "fake-nmsim-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
            Self(path)
        }
    }

    impl Drop for Script {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_server_built_from_other_rtl_is_refused() {
        let server = Script::new("echo 0123456789abcdef");
        assert_server_is_current(&server.0, "0123456789abcdef");
        let refused = std::panic::catch_unwind(|| assert_server_is_current(&server.0, "fedcba"));
        assert!(refused.is_err(), "a stale server passed the check");
    }

    #[test]
    fn a_server_is_ready_once_it_says_serving() {
        let server = Script::new("echo 'nmsim-server: serving on x' >&2; exec sleep 30");
        let running = SimServer::start(&server.0, &[]);
        assert!(running.spec().starts_with("vfio-user:"));
        assert!(running.spec().ends_with(".sock"));
    }
}
