//! Issue 7's end-to-end check: `pkt-gen -f rx` and `pkt-gen -f tx`, two
//! processes, exchange packets through the RTL over vfio-user
//! (`--backend vfio-user:<socket>`, served by `nmsim-server`).
//!
//! The binaries come from the workspace's other packages (netmap-tools,
//! host-driver); `cargo test --workspace` builds them next to this test.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A workspace binary, found next to this test's executable.
fn workspace_bin(name: &str) -> PathBuf {
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
    let pkt_gen = workspace_bin("pkt-gen");
    let server_bin = workspace_bin("nmsim-server");
    let socket = std::env::temp_dir().join(format!("nmsim-pktgen-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let _server = Guard(
        Command::new(server_bin)
            .arg("--socket")
            .arg(&socket)
            .stderr(Stdio::null())
            .spawn()
            .expect("nmsim-server"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    let backend = format!("vfio-user:{}", socket.display());
    let count = "3000";
    let rx = Guard(
        Command::new(&pkt_gen)
            .args([
                "-i",
                "vale0:a",
                "-f",
                "rx",
                "-n",
                count,
                "--backend",
                &backend,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pkt-gen rx"),
    );
    // Let the receiver register first, so the frames find it.
    std::thread::sleep(Duration::from_millis(500));
    let tx = Guard(
        Command::new(&pkt_gen)
            .args([
                "-i",
                "vale0:b",
                "-f",
                "tx",
                "-n",
                count,
                "--backend",
                &backend,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pkt-gen tx"),
    );
    let (tx_ok, tx_out) = finish(tx, Duration::from_secs(60));
    assert!(tx_ok, "pkt-gen tx failed:\n{tx_out}");
    assert!(
        tx_out.contains(&format!("Sent {count} packets")),
        "{tx_out}"
    );
    let (rx_ok, rx_out) = finish(rx, Duration::from_secs(60));
    assert!(rx_ok, "pkt-gen rx failed:\n{rx_out}");
    assert!(
        rx_out.contains(&format!("Received {count} packets")),
        "receiver output:\n{rx_out}"
    );
    let _ = std::fs::remove_file(&socket);
}
