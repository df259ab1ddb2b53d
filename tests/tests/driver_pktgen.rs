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

/// A socket path removed on drop, also when the test fails.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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
    let _socket_file = SocketFile(socket.clone());
    let mut server = Command::new(server_bin)
        .arg("--socket")
        .arg(&socket)
        .stderr(Stdio::piped())
        .spawn()
        .expect("nmsim-server");
    // The "serving" line comes after listen(); the socket file appears a
    // moment earlier, at bind().
    let stderr = server.stderr.take().expect("piped stderr");
    let _server = Guard(server);
    let (ready, is_ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("serving") {
                let _ = ready.send(());
            }
        }
    });
    is_ready
        .recv_timeout(Duration::from_secs(30))
        .expect("nmsim-server never started serving");
    let backend = format!("vfio-user:{}", socket.display());
    let count = "3000";
    let mut rx = Command::new(&pkt_gen)
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
        .expect("pkt-gen rx");
    // Start the sender once the receiver's port is on the device (its
    // "ready" line), so that the frames find it.
    let rx_stdout = rx.stdout.take().expect("piped stdout");
    let rx = Guard(rx);
    let rx_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (ready, is_ready) = std::sync::mpsc::channel();
    let collected = rx_text.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(rx_stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains(" ready (") {
                let _ = ready.send(());
            }
            let mut text = collected.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    is_ready
        .recv_timeout(Duration::from_secs(60))
        .expect("pkt-gen rx never got ready");
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
    let (rx_ok, rx_err) = finish(rx, Duration::from_secs(60));
    reader.join().expect("reader");
    let rx_out = rx_text.lock().unwrap().clone() + &rx_err;
    assert!(rx_ok, "pkt-gen rx failed:\n{rx_out}");
    assert!(
        rx_out.contains(&format!("Received {count} packets")),
        "receiver output:\n{rx_out}"
    );
}
