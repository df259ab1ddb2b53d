//! `nmsim-server --socket PATH [--clients N]`: serves the Verilator model
//! of the NIC over vfio-user, one client at a time. When a client
//! disconnects (or is killed), its ports are released (device reset, DMA
//! unmapped) and the next client is served. Exits after N clients when
//! `--clients` is given.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use host_driver::vfio_user::server::SimServer;
use vfio_user::Server;

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
    let mut device = SimServer::new();
    let ports = device.ports();
    let server = match Server::new(&socket, true, SimServer::irqs(ports), device.regions()) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("nmsim-server: cannot listen on {}: {e}", socket.display());
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "nmsim-server: serving the RTL model on {}",
        socket.display()
    );
    let mut served = 0u64;
    while clients.is_none_or(|n| served < n) {
        if let Err(e) = server.run(&mut device) {
            eprintln!("nmsim-server: client error: {e}");
        }
        device.client_gone();
        served += 1;
    }
    ExitCode::SUCCESS
}
