//! `nmsim-server --socket PATH [--clients N]`: serves the Verilator model
//! of the NIC over vfio-user to several clients at once (one thread per
//! connection, one device). When a client disconnects or is killed, its
//! ports are released and its memory unmapped; the others go on. Exits
//! after N connections have ended when `--clients` is given.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use host_driver::vfio_user::server::SimServer;
use vfio_user::Server;

/// Connections served at the same time.
const WORKERS: usize = 16;

fn usage() -> ExitCode {
    eprintln!("usage: nmsim-server --socket PATH [--clients N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut socket: Option<PathBuf> = None;
    let mut clients: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--socket" => socket = args.next().map(PathBuf::from),
            "--clients" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => clients = Some(n),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let Some(socket) = socket else {
        return usage();
    };
    let device = SimServer::new();
    let listener = match UnixListener::bind(&socket) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("nmsim-server: cannot listen on {}: {e}", socket.display());
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "nmsim-server: serving the RTL model on {}",
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
    while clients.is_none_or(|n| served < n) {
        if ends.recv().is_err() {
            break;
        }
        served += 1;
    }
    let _ = std::fs::remove_file(&socket);
    ExitCode::SUCCESS
}
