//! Helpers shared by the host driver's integration tests: a vfio-user
//! server process, backends by name, frames.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use netmap_ring::port::{Backend, Port};

/// `nmsim-server` in a child process, killed on drop.
pub struct Server {
    child: Child,
    pub socket: PathBuf,
}

impl Server {
    /// Starts a server for up to `clients` clients on a fresh socket.
    pub fn start(clients: u32) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = std::env::temp_dir().join(format!(
            "nmsim-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&socket);
        let mut child = Command::new(env!("CARGO_BIN_EXE_nmsim-server"))
            .arg("--socket")
            .arg(&socket)
            .arg("--clients")
            .arg(clients.to_string())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nmsim-server starts");
        wait_until_serving(&mut child);
        Self { child, socket }
    }

    /// The `--backend` value naming this server.
    pub fn spec(&self) -> String {
        format!("vfio-user:{}", self.socket.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Waits for the server's "serving" line: it comes after `listen()`, while
/// the socket file appears at `bind()`, a moment earlier (a connect in
/// between is refused). The rest of its stderr is drained in a thread.
pub fn wait_until_serving(child: &mut Child) {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("piped stderr");
    let (ready, is_ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
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
}

/// A backend of kind `kind` (soft, sim:private or vfio-user) and, for vfio-user,
/// the server behind it (keep it alive as long as the backend).
pub fn backend(kind: &str) -> (Box<dyn Backend>, Option<Server>) {
    match kind {
        "vfio-user" => {
            let server = Server::start(1);
            let backend = host_driver::device_backend(&server.spec()).unwrap();
            (backend, Some(server))
        }
        other => (host_driver::device_backend(other).unwrap(), None),
    }
}

/// A switch name unique to this process and call (the soft backend's
/// switches are shared between processes).
pub fn unique_switch() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "vale{}n{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An Ethernet frame of `len` bytes from `src` to `dst`, tagged `seq`.
pub fn frame(dst: [u8; 6], src: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len.max(18)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[18..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(31).wrapping_add(seq) as u8;
    }
    f.truncate(len);
    f
}

/// Syncs, takes every received frame, releases the slots.
pub fn drain(port: &mut Port) -> Vec<Vec<u8>> {
    port.rxsync().unwrap();
    let mut got = Vec::new();
    port.dispatch(0, |p| got.push(p.data.clone()));
    port.rxsync().unwrap();
    got
}
