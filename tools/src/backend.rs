//! The `--backend` choice: which netmap kernel side opens the ports. Only
//! the software engine exists today; the device-backed ones (simulator,
//! vfio-user, the board) plug in here.
#![forbid(unsafe_code)]

use netmap_ring::port::{Port, PortError};

/// A backend the tools can open ports on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// The software engine (vale-offload): VALE switches and pipes in
    /// shared memory.
    #[default]
    Soft,
}

impl BackendChoice {
    /// Opens `name` on this backend.
    pub fn open(self, name: &str) -> Result<Port, PortError> {
        match self {
            BackendChoice::Soft => vale_offload::open(name),
        }
    }
}
