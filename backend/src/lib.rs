//! Which netmap kernel side opens the ports, for every tool and for
//! applications of the `Port` API: `--backend
//! soft|sim|sim:private|vfio-user:<socket>|vfio:<pci>`, or the
//! `NETMAP_BACKEND` environment variable. `soft`, the software engine
//! (`vale-soft`), is the default; the others are devices of the host
//! driver (`host_driver::DeviceSpec`).
#![forbid(unsafe_code)]

use std::str::FromStr;

use host_driver::spec::SpecError;
use host_driver::{Device, DeviceSpec};
use netmap_ring::port::{Backend, Port, PortError};
use vale_soft::SoftBackend;

/// Environment variable naming the backend when no `--backend` is given.
pub const BACKEND_ENV: &str = "NETMAP_BACKEND";

/// A parsed backend name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendSpec {
    /// The software engine.
    Soft,
    /// A device: the board, or the RTL in simulation.
    Device(DeviceSpec),
}

impl FromStr for BackendSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        match text {
            "soft" => Ok(BackendSpec::Soft),
            _ => Ok(BackendSpec::Device(text.parse()?)),
        }
    }
}

impl BackendSpec {
    /// The backend named by `$NETMAP_BACKEND`, `soft` when it is unset or
    /// empty; a value that names no backend is an error, as on a command
    /// line.
    pub fn from_env() -> Result<Self, SpecError> {
        match std::env::var(BACKEND_ENV) {
            Ok(text) if !text.is_empty() => text.parse(),
            _ => Ok(BackendSpec::Soft),
        }
    }

    /// The device itself, for control-path tools (`valectl --backend`):
    /// `None` for the software engine, which has no device.
    pub fn open_device(&self) -> Result<Option<Box<dyn Device>>, SpecError> {
        match self {
            BackendSpec::Soft => Ok(None),
            BackendSpec::Device(device) => device.open_device().map(Some),
        }
    }

    /// Brings the backend up: for a device, opens and probes it and sets
    /// up its memory.
    pub fn open(&self) -> Result<Box<dyn Backend>, SpecError> {
        match self {
            BackendSpec::Soft => Ok(Box::new(SoftBackend)),
            BackendSpec::Device(device) => device.open(),
        }
    }
}

/// The backend named by `spec` (the `--backend` value).
pub fn backend_from_spec(spec: &str) -> Result<Box<dyn Backend>, SpecError> {
    spec.parse::<BackendSpec>()?.open()
}

/// The backend named by `$NETMAP_BACKEND`, the software engine when unset.
pub fn backend_from_env() -> Result<Box<dyn Backend>, SpecError> {
    BackendSpec::from_env()?.open()
}

/// The backend named by `spec`, opened once per process and kept (see
/// [`host_driver::shared_device_backend`]: a process is one host of a
/// device); the software engine needs no opening.
pub fn shared_backend(spec: &str) -> Result<&'static dyn Backend, SpecError> {
    static SOFT: SoftBackend = SoftBackend;
    match spec.parse::<BackendSpec>()? {
        BackendSpec::Soft => Ok(&SOFT),
        BackendSpec::Device(_) => host_driver::shared_device_backend(spec),
    }
}

/// Opens port `name` on the backend named by `spec`, shared per process.
pub fn open_on(spec: &str, name: &str) -> Result<Port, PortError> {
    let backend = shared_backend(spec).map_err(|e| PortError::Io {
        name: name.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Port::open_on(backend, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_and_devices_parse() {
        assert_eq!("soft".parse::<BackendSpec>().unwrap(), BackendSpec::Soft);
        assert_eq!(
            "sim".parse::<BackendSpec>().unwrap(),
            BackendSpec::Device(DeviceSpec::Sim)
        );
        let err = "soft:x".parse::<BackendSpec>().unwrap_err();
        assert!(matches!(err, SpecError::Unknown(_)), "{err}");
        assert!(err.to_string().contains("use soft, sim"), "{err}");
    }

    #[test]
    fn soft_is_the_default_and_opens() {
        assert_eq!(backend_from_spec("soft").unwrap().kind(), "soft");
        assert_eq!(shared_backend("soft").unwrap().kind(), "soft");
    }

    #[test]
    fn a_missing_board_is_an_error_not_a_panic() {
        let err = backend_from_spec("vfio:0000:7f:1f.7")
            .err()
            .expect("no board here");
        assert!(matches!(err, SpecError::Vfio(_)), "{err}");
    }
}
