//! `--backend sim`: one simulated NIC per user, shared by all the user's
//! processes, as a board is shared by every process of its host.
//!
//! The Verilator model cannot live in two processes, so it lives in a
//! simulator process, `nmsim-server`, reached over vfio-user on a socket in
//! the user's runtime directory (the software engine's: `$NETMAP_RS_DIR`,
//! default `/dev/shm/netmap-rs-<uid>`, mode 0700):
//!
//! - `nmsim.sock`: the server's socket (0600);
//! - `nmsim.lock`: the start-up lock (`flock`);
//! - `nmsim.pid`: the running server's process id;
//! - `nmsim-server.log`: the server's stdout and stderr.
//!
//! Lifecycle: an opener takes the lock, connects, and releases the lock
//! once attached. If nothing listens (no socket, or a stale one whose
//! server died: connect refused, the file is removed), it starts
//! `nmsim-server --idle-exit` detached (own session, stdio to the log) and
//! connects when it serves. Two processes starting at once thus get one
//! server. The server leaves by itself after [`DEFAULT_IDLE_EXIT_SECS`]
//! (or `$NMSIM_IDLE_EXIT`) seconds without a client; it takes the lock to
//! decide, so a client never connects to a server on its way out.
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::device::DeviceError;
use crate::vfio_user::VfioUserDevice;

/// Seconds without a client before an auto-started server leaves.
pub const DEFAULT_IDLE_EXIT_SECS: f64 = 10.0;
/// Overrides [`DEFAULT_IDLE_EXIT_SECS`] (tests use a short one).
pub const IDLE_EXIT_ENV: &str = "NMSIM_IDLE_EXIT";
fn tracing_watch(pid_file: &Path, e: &DeviceError) {
    if std::env::var_os("NETMAP_RS_DEBUG").is_some() {
        eprintln!(
            "netmap-rs: cannot watch the server of {}: {e}",
            pid_file.display()
        );
    }
}

/// Path of the `nmsim-server` binary, overriding the search.
pub const SERVER_ENV: &str = "NMSIM_SERVER";
/// The server binary's name.
pub const SERVER_BIN: &str = "nmsim-server";

/// How long a starting server may take to serve (the model is built at
/// start: a second or so on a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two connection attempts to a starting server.
const START_POLL: Duration = Duration::from_millis(20);

/// Why the shared simulator could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum SharedSimError {
    #[error(transparent)]
    Dir(#[from] netmap_ring::rundir::RunDirError),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("{SERVER_BIN} is not next to {exe} nor on PATH: build it with `cargo build -p host-driver --bin {SERVER_BIN}` (add --release for release tools), set {SERVER_ENV}, or use --backend sim:private")]
    NoServer { exe: String },
    #[error("{binary}: could not start: {source}")]
    Spawn { binary: PathBuf, source: io::Error },
    #[error("{SERVER_BIN} did not serve on {socket} ({why}); its log {log} ends with:\n{tail}")]
    NotServing {
        socket: PathBuf,
        why: String,
        log: PathBuf,
        tail: String,
    },
    #[error("no simulator serves {socket} (a `--backend sim` server leaves after {DEFAULT_IDLE_EXIT_SECS} s, or ${IDLE_EXIT_ENV}, without a client): use --backend sim, which starts one")]
    NotRunning { socket: PathBuf },
    #[error("the shared simulator at {socket}: {source}")]
    Device {
        socket: PathBuf,
        source: DeviceError,
    },
}

/// The files of one user's shared simulator.
#[derive(Clone, Debug)]
pub struct SharedSim {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub lock: PathBuf,
    pub pid_file: PathBuf,
    pub log: PathBuf,
}

/// What a connection attempt found.
enum Attempt {
    Connected(Box<VfioUserDevice>),
    /// No socket file.
    Absent,
    /// A socket file nobody listens on: its server died.
    Stale,
}

impl SharedSim {
    /// The shared simulator of this user (of `$NETMAP_RS_DIR`).
    pub fn for_user() -> Self {
        Self::in_dir(netmap_ring::rundir::runtime_dir())
    }

    /// The shared simulator whose files are in `dir`.
    pub fn in_dir(dir: PathBuf) -> Self {
        Self {
            socket: dir.join("nmsim.sock"),
            lock: dir.join("nmsim.lock"),
            pid_file: dir.join("nmsim.pid"),
            log: dir.join("nmsim-server.log"),
            dir,
        }
    }

    fn file_error(path: &Path) -> impl FnOnce(io::Error) -> SharedSimError + '_ {
        move |source| SharedSimError::File {
            path: path.to_owned(),
            source,
        }
    }

    /// Connects to the running server, starting one if none runs.
    pub fn connect(&self) -> Result<VfioUserDevice, SharedSimError> {
        netmap_ring::rundir::ensure_dir(&self.dir)?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock)
            .map_err(Self::file_error(&self.lock))?;
        // Released when `lock` is dropped, once we are attached (or failed).
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Self::file_error(&self.lock)(e.into()))?;
        match self.attempt()? {
            Attempt::Connected(device) => return Ok(self.watched(*device)),
            Attempt::Absent => {}
            Attempt::Stale => {
                std::fs::remove_file(&self.socket).map_err(Self::file_error(&self.socket))?
            }
        }
        let mut server = self.spawn()?;
        let started = Instant::now();
        loop {
            if let Attempt::Connected(device) = self.attempt()? {
                let device = *device;
                // Reaps the server if it leaves while we still run; the
                // thread ends with it (or with us).
                std::thread::spawn(move || server.wait());
                return Ok(self.watched(device));
            }
            let why = match server.try_wait() {
                Ok(Some(status)) => Some(format!("it exited: {status}")),
                _ if started.elapsed() > START_TIMEOUT => {
                    let _ = server.kill();
                    let _ = server.wait();
                    Some(format!("not within {START_TIMEOUT:?}"))
                }
                _ => None,
            };
            if let Some(why) = why {
                return Err(SharedSimError::NotServing {
                    socket: self.socket.clone(),
                    why,
                    log: self.log.clone(),
                    tail: log_tail(&self.log),
                });
            }
            std::thread::sleep(START_POLL);
        }
    }

    /// `device` with a watch on its server's process (its pid file, read
    /// under the start-up lock, names the server we reached), so that a
    /// killed server is seen by ports that only wait. Without a readable
    /// pid file, death is still seen at the next doorbell.
    fn watched(&self, device: VfioUserDevice) -> VfioUserDevice {
        let pid = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            if let Err(e) = device.watch_server(pid) {
                tracing_watch(&self.pid_file, &e);
            }
        }
        device
    }

    /// One connection attempt, told apart by the socket's answer.
    fn attempt(&self) -> Result<Attempt, SharedSimError> {
        match VfioUserDevice::connect(&self.socket) {
            Ok(device) => Ok(Attempt::Connected(Box::new(device))),
            Err(DeviceError::Sys { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(Attempt::Absent)
            }
            Err(DeviceError::Sys { source, .. })
                if source.kind() == io::ErrorKind::ConnectionRefused =>
            {
                Ok(Attempt::Stale)
            }
            Err(source) => Err(SharedSimError::Device {
                socket: self.socket.clone(),
                source,
            }),
        }
    }

    fn spawn(&self) -> Result<Child, SharedSimError> {
        let binary = server_binary()?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.log)
            .map_err(Self::file_error(&self.log))?;
        let log_too = log.try_clone().map_err(Self::file_error(&self.log))?;
        let idle = std::env::var(IDLE_EXIT_ENV)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .unwrap_or(DEFAULT_IDLE_EXIT_SECS);
        Command::new(&binary)
            .arg("--socket")
            .arg(&self.socket)
            .arg("--lock")
            .arg(&self.lock)
            .arg("--pid-file")
            .arg(&self.pid_file)
            .arg("--idle-exit")
            .arg(idle.to_string())
            .arg("--detach")
            // Our stdio may be a pipe someone reads to its end: the
            // server, which may outlive us, must not hold it open.
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too)
            .spawn()
            .map_err(|source| SharedSimError::Spawn { binary, source })
    }
}

/// `--backend vfio-user:<socket>`: connects to the vfio-user server at
/// `socket`. When that is a shared simulator's socket (`nmsim.sock` with
/// its `nmsim.lock` beside it), it connects under the lock, as `--backend
/// sim` does: the server decides to leave (idle) under the same lock, so a
/// client is either attached before (and the server stays) or finds the
/// socket gone, never half attached to a server on its way out.
pub fn connect_by_path(socket: &Path) -> Result<VfioUserDevice, SharedSimError> {
    let device_err = |source| SharedSimError::Device {
        socket: socket.to_owned(),
        source,
    };
    let Some(lock_path) = shared_sim_lock(socket) else {
        return VfioUserDevice::connect(socket).map_err(device_err);
    };
    let lock = match OpenOptions::new().read(true).write(true).open(&lock_path) {
        Ok(lock) => lock,
        // No shared simulator manages this socket after all.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return VfioUserDevice::connect(socket).map_err(device_err)
        }
        Err(source) => {
            return Err(SharedSimError::File {
                path: lock_path,
                source,
            })
        }
    };
    // Released when `lock` is dropped, once we are attached (or failed).
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
        SharedSimError::File {
            path: lock_path.clone(),
            source: e.into(),
        }
    })?;
    match VfioUserDevice::connect(socket) {
        Ok(device) => Ok(device),
        Err(DeviceError::Sys { source, .. })
            if matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Err(SharedSimError::NotRunning {
                socket: socket.to_owned(),
            })
        }
        Err(source) => Err(device_err(source)),
    }
}

/// The start-up lock of the shared simulator whose socket is `socket`,
/// if `socket` is named as one ([`SharedSim::in_dir`]).
fn shared_sim_lock(socket: &Path) -> Option<PathBuf> {
    let dir = socket.parent()?;
    let sim = SharedSim::in_dir(dir.to_owned());
    (socket.file_name() == sim.socket.file_name()).then_some(sim.lock)
}

/// The last lines of the server's log, for an error message.
fn log_tail(path: &Path) -> String {
    const TAIL_BYTES: u64 = 2000;
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        let len = file.metadata().map_or(0, |m| m.len());
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
        let _ = file.read_to_string(&mut text);
    }
    text
}

/// `nmsim-server`: `$NMSIM_SERVER`, else next to the current executable
/// (`target/<profile>/`, also from a test in `target/<profile>/deps/`),
/// else on `PATH`.
pub fn server_binary() -> Result<PathBuf, SharedSimError> {
    if let Some(path) = std::env::var_os(SERVER_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut candidates = Vec::new();
    if let Some(dir) = exe.parent() {
        candidates.push(dir.join(SERVER_BIN));
        if dir.file_name().is_some_and(|name| name == "deps") {
            if let Some(profile) = dir.parent() {
                candidates.push(profile.join(SERVER_BIN));
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(SERVER_BIN)));
    }
    candidates
        .into_iter()
        .find(|c| c.is_file())
        .ok_or_else(|| SharedSimError::NoServer {
            exe: exe.display().to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_live_in_the_runtime_directory() {
        let sim = SharedSim::in_dir("/run/x".into());
        assert_eq!(sim.socket, Path::new("/run/x/nmsim.sock"));
        assert_eq!(sim.lock, Path::new("/run/x/nmsim.lock"));
        assert_eq!(sim.log, Path::new("/run/x/nmsim-server.log"));
    }

    #[test]
    fn a_stale_socket_is_told_from_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("nmsim-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sim = SharedSim::in_dir(dir.clone());
        let _ = std::fs::remove_file(&sim.socket);
        assert!(matches!(sim.attempt().unwrap(), Attempt::Absent));
        // A socket bound and closed: the file stays, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&sim.socket).unwrap());
        assert!(matches!(sim.attempt().unwrap(), Attempt::Stale));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_server_binary_says_how_to_build_it() {
        let err = SharedSimError::NoServer { exe: "x".into() };
        let text = err.to_string();
        assert!(text.contains("cargo build -p host-driver --bin nmsim-server"));
        assert!(text.contains("sim:private"));
    }
}
