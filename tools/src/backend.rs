//! The `--backend` choice: which netmap kernel side opens the ports: the
//! software engine (`soft`, the default), the user's shared simulated NIC
//! (`sim`: the RTL in an `nmsim-server` started on demand), the RTL in this
//! process (`sim:private`), the RTL behind a vfio-user server of your own
//! (`vfio-user:<socket>`) or the board
//! (`vfio:<pci-address>`); see host-driver. Without `--backend`,
//! `NETMAP_BACKEND` decides.
#![forbid(unsafe_code)]

use std::str::FromStr;

use netmap_backend::BackendSpec;
use netmap_ring::port::{Port, PortError};

/// A backend the tools can open ports on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendChoice {
    text: String,
    spec: BackendSpec,
}

impl BackendChoice {
    /// Opens `name` on this backend. Device backends are opened once per
    /// process, so all the ports of a tool share one device.
    pub fn open(&self, name: &str) -> Result<Port, PortError> {
        match self.spec {
            BackendSpec::Soft => vale_soft::open(name),
            BackendSpec::Device(_) => netmap_backend::open_on(&self.text, name),
        }
    }
}

impl FromStr for BackendChoice {
    type Err = host_driver::spec::SpecError;

    /// An empty value (`NETMAP_BACKEND=`) is the default, `soft`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = if text.is_empty() { "soft" } else { text };
        Ok(Self {
            text: text.to_owned(),
            spec: text.parse()?,
        })
    }
}
