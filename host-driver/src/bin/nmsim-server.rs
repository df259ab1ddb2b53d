//! `nmsim-server --socket PATH [--clients N] [--idle-exit SECS] [--lock PATH]
//! [--pid-file PATH] [--detach]`: serves the Verilator model of the NIC over
//! vfio-user to several clients at once (one thread per connection, one
//! device). When a client disconnects or is killed, its ports are released
//! and its memory unmapped; the others go on.
//!
//! Ends after N connections have ended (`--clients`), or once no client
//! has been attached for SECS seconds (`--idle-exit`). `--backend sim`
//! starts it with `--idle-exit`, `--lock` (the start-up lock of
//! `host_driver::shared_sim`: the server takes it before it leaves, so that
//! no client is connecting meanwhile) and `--detach` (a session of its own:
//! a terminal's signals do not reach it).
#![forbid(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use host_driver::vfio_user::server::SimServer;
use vfio_user::Server;

/// Connections served at the same time.
const WORKERS: usize = 16;

/// How often the idle time is looked at.
const IDLE_CHECK: Duration = Duration::from_millis(200);

fn usage() -> ExitCode {
    eprintln!(
        "usage: nmsim-server --socket PATH [--clients N] [--idle-exit SECS] [--lock PATH] [--pid-file PATH] [--detach]\n       nmsim-server --rtl-hash   (the fingerprint of the RTL it was built from)"
    );
    ExitCode::from(2)
}

#[derive(Default)]
struct Options {
    socket: Option<PathBuf>,
    clients: Option<u64>,
    idle_exit: Option<Duration>,
    lock: Option<PathBuf>,
    pid_file: Option<PathBuf>,
    detach: bool,
}

fn parse() -> Option<Options> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--socket" => options.socket = Some(args.next()?.into()),
            "--clients" => options.clients = Some(args.next()?.parse().ok()?),
            "--idle-exit" => {
                let secs: f64 = args.next()?.parse().ok()?;
                options.idle_exit = Some(Duration::try_from_secs_f64(secs).ok()?);
            }
            "--lock" => options.lock = Some(args.next()?.into()),
            "--pid-file" => options.pid_file = Some(args.next()?.into()),
            "--detach" => options.detach = true,
            _ => return None,
        }
    }
    Some(options)
}

/// Takes the start-up lock (blocking: clients hold it for a connect only).
fn take_lock(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(file)
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--rtl-hash") {
        println!("{}", sim::RTL_HASH);
        return ExitCode::SUCCESS;
    }
    let Some(options) = parse() else {
        return usage();
    };
    let Some(socket) = options.socket.clone() else {
        return usage();
    };
    if options.detach {
        // Fails only for a process group leader, which a freshly spawned
        // child is not; then we simply stay in the caller's session.
        if let Err(e) = rustix::process::setsid() {
            eprintln!("nmsim-server: setsid: {e}");
        }
    }
    let device = SimServer::new();
    let listener = match UnixListener::bind(&socket) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("nmsim-server: cannot listen on {}: {e}", socket.display());
            return ExitCode::FAILURE;
        }
    };
    // The device is this user's: nobody else may connect.
    if let Err(e) = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)) {
        eprintln!("nmsim-server: {}: {e}", socket.display());
        return ExitCode::FAILURE;
    }
    if let Some(pid_file) = &options.pid_file {
        if let Err(e) = std::fs::write(pid_file, format!("{}\n", std::process::id())) {
            eprintln!("nmsim-server: {}: {e}", pid_file.display());
        }
    }
    eprintln!(
        "nmsim-server {}: serving the RTL model (rtl {}) on {}",
        std::process::id(),
        sim::RTL_HASH,
        socket.display()
    );
    // Every worker accepts on the same listening socket; each connection
    // is served to its end by the worker that accepted it.
    let (ended, ends) = mpsc::channel::<()>();
    for _ in 0..WORKERS {
        let listener = match listener.try_clone() {
            Ok(listener) => OwnedFd::from(listener),
            Err(e) => {
                eprintln!("nmsim-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        let server = Server::from_owned_fd(
            listener,
            true,
            SimServer::irqs(device.ports()),
            device.regions(),
        );
        let device = device.clone();
        let ended = ended.clone();
        std::thread::spawn(move || loop {
            let mut connection = device.connection();
            if let Err(e) = server.run(&mut connection) {
                eprintln!("nmsim-server: client error: {e}");
            }
            connection.close();
            if ended.send(()).is_err() {
                return;
            }
        });
    }
    let mut served = 0u64;
    // Held from the decision to leave to the exit, when it is released.
    let mut _leaving_lock = None;
    while options.clients.is_none_or(|n| served < n) {
        match ends.recv_timeout(IDLE_CHECK) {
            Ok(()) => served += 1,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let Some(limit) = options.idle_exit else {
            continue;
        };
        if device.idle_for().is_none_or(|idle| idle < limit) {
            continue;
        }
        // A client starting us or connecting to us holds the lock until
        // it is attached: with the lock, idle means idle.
        if let Some(path) = &options.lock {
            match take_lock(path) {
                Ok(file) => _leaving_lock = Some(file),
                Err(e) => eprintln!("nmsim-server: lock {}: {e}", path.display()),
            }
            if device.idle_for().is_none_or(|idle| idle < limit) {
                _leaving_lock = None;
                continue;
            }
        }
        eprintln!(
            "nmsim-server {}: no client for {limit:?}, leaving",
            std::process::id()
        );
        break;
    }
    let _ = std::fs::remove_file(&socket);
    if let Some(pid_file) = &options.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    ExitCode::SUCCESS
}
