//! Backend selection: `--backend
//! soft|sim|sim:private|vfio-user:<socket>|vfio:<pci>` and the
//! `NETMAP_BACKEND` environment variable, for every tool and for
//! applications of the `Port` API. `soft` (the software engine) is the
//! default. `sim` is the user's one simulated NIC, shared by all their
//! processes ([`crate::shared_sim`]); `sim:private` a model inside this
//! process only.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use netmap_ring::port::Backend;

use crate::port::{BackendError, DeviceBackend};
use crate::shared_sim::SharedSim;
use crate::sim::SimDevice;
use crate::vfio::{sys::LinuxSys, VfioDevice, VfioError};

/// Environment variable naming the backend when no `--backend` is given.
pub const BACKEND_ENV: &str = "NETMAP_BACKEND";

/// A parsed backend name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendSpec {
    /// The software engine (vale-offload).
    Soft,
    /// The user's shared simulated NIC: the Verilator model in an
    /// `nmsim-server` started on demand ([`crate::shared_sim`]).
    Sim,
    /// The Verilator model in this process, seen by no other.
    SimPrivate,
    /// The model (or any vfio-user device) behind a UNIX socket.
    VfioUser(PathBuf),
    /// The board at a PCI address, through kernel VFIO.
    Vfio(String),
}

/// Why a backend could not be selected or brought up.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unknown backend {0:?}: use soft, sim, sim:private, vfio-user:<socket> or vfio:<pci-address>")]
    Unknown(String),
    #[error("backend {0}: the argument is missing")]
    MissingArgument(&'static str),
    #[error(transparent)]
    Vfio(#[from] VfioError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(transparent)]
    SharedSim(#[from] crate::shared_sim::SharedSimError),
}

impl FromStr for BackendSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let (kind, arg) = match text.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (text, None),
        };
        let needs = |what: &'static str| match arg {
            Some(arg) if !arg.is_empty() => Ok(arg),
            _ => Err(SpecError::MissingArgument(what)),
        };
        match kind {
            "soft" if arg.is_none() => Ok(BackendSpec::Soft),
            "sim" if arg.is_none() => Ok(BackendSpec::Sim),
            "sim" if arg == Some("private") => Ok(BackendSpec::SimPrivate),
            "vfio-user" => Ok(BackendSpec::VfioUser(PathBuf::from(needs("vfio-user")?))),
            "vfio" => {
                let address = crate::vfio::parse_pci_address(needs("vfio")?)?;
                Ok(BackendSpec::Vfio(address))
            }
            _ => Err(SpecError::Unknown(text.to_owned())),
        }
    }
}

impl BackendSpec {
    /// The device itself, for control-path tools (`valectl --backend`):
    /// `None` for the software engine, which has no device.
    pub fn open_device(&self) -> Result<Option<Box<dyn crate::device::Device>>, SpecError> {
        Ok(match self {
            BackendSpec::Soft => None,
            BackendSpec::Sim => Some(Box::new(SharedSim::for_user().connect()?)),
            BackendSpec::SimPrivate => Some(Box::new(SimDevice::new()?)),
            BackendSpec::VfioUser(socket) => {
                Some(Box::new(crate::shared_sim::connect_by_path(socket)?))
            }
            BackendSpec::Vfio(address) => {
                Some(Box::new(VfioDevice::open(Arc::new(LinuxSys), address)?))
            }
        })
    }

    /// Brings the backend up: for the device backends, opens and probes
    /// the device and sets up its memory.
    pub fn open(&self) -> Result<Box<dyn Backend>, SpecError> {
        Ok(match self {
            BackendSpec::Soft => Box::new(vale_offload::SoftBackend),
            BackendSpec::Sim => {
                let device = SharedSim::for_user().connect()?;
                Box::new(DeviceBackend::new(Box::new(device))?)
            }
            BackendSpec::SimPrivate => Box::new(DeviceBackend::new(Box::new(SimDevice::new()?))?),
            BackendSpec::VfioUser(socket) => {
                let device = crate::shared_sim::connect_by_path(socket)?;
                Box::new(DeviceBackend::new(Box::new(device))?)
            }
            BackendSpec::Vfio(address) => {
                let device = VfioDevice::open(Arc::new(LinuxSys), address)?;
                Box::new(DeviceBackend::new(Box::new(device))?)
            }
        })
    }
}

/// The backend named by `spec` (the `--backend` value).
pub fn backend_from_spec(spec: &str) -> Result<Box<dyn Backend>, SpecError> {
    spec.parse::<BackendSpec>()?.open()
}

/// The backend named by `spec`, opened once per process and kept: every
/// port a process opens on `sim:private` must be on the same simulated
/// device (a bridge's two ports, a test's sender and receiver), and a
/// process is one host of a shared device (`sim`, `vfio:`), with one
/// driver instance. Later calls with the same spec
/// return the same backend.
pub fn shared_backend(spec: &str) -> Result<&'static dyn Backend, SpecError> {
    static OPENED: Mutex<Vec<(String, &'static dyn Backend)>> = Mutex::new(Vec::new());
    let mut opened = OPENED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, backend)) = opened.iter().find(|(s, _)| s == spec) {
        return Ok(*backend);
    }
    // Leaked on purpose: the backend lives as long as the process, like the
    // device it stands for.
    let backend: &'static dyn Backend = Box::leak(backend_from_spec(spec)?);
    opened.push((spec.to_owned(), backend));
    Ok(backend)
}

/// The backend named by `$NETMAP_BACKEND`, the software engine when unset.
pub fn backend_from_env() -> Result<Box<dyn Backend>, SpecError> {
    match std::env::var(BACKEND_ENV) {
        Ok(spec) if !spec.is_empty() => backend_from_spec(&spec),
        _ => Ok(Box::new(vale_offload::SoftBackend)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!("soft".parse::<BackendSpec>().unwrap(), BackendSpec::Soft);
        assert_eq!("sim".parse::<BackendSpec>().unwrap(), BackendSpec::Sim);
        assert_eq!(
            "sim:private".parse::<BackendSpec>().unwrap(),
            BackendSpec::SimPrivate
        );
        assert_eq!(
            "vfio-user:/run/nmsim.sock".parse::<BackendSpec>().unwrap(),
            BackendSpec::VfioUser("/run/nmsim.sock".into())
        );
        assert_eq!(
            "vfio:03:00.0".parse::<BackendSpec>().unwrap(),
            BackendSpec::Vfio("0000:03:00.0".into())
        );
    }

    #[test]
    fn bad_specs_say_why() {
        type Check = fn(&SpecError) -> bool;
        let cases: [(&str, Check); 7] = [
            ("", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
            ("hw", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
            ("sim:x", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
            ("sim:", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
            ("vfio", |e: &SpecError| {
                matches!(e, SpecError::MissingArgument("vfio"))
            }),
            ("vfio-user:", |e: &SpecError| {
                matches!(e, SpecError::MissingArgument("vfio-user"))
            }),
            ("vfio:zz:00.0", |e: &SpecError| {
                matches!(e, SpecError::Vfio(_))
            }),
        ];
        for (text, check) in cases {
            let err = text.parse::<BackendSpec>().unwrap_err();
            assert!(check(&err), "{text:?}: {err}");
        }
    }

    #[test]
    fn soft_is_the_default_and_opens() {
        assert_eq!(backend_from_spec("soft").unwrap().kind(), "soft");
    }

    #[test]
    fn a_shared_backend_is_opened_once() {
        let first = shared_backend("sim:private").unwrap();
        let second = shared_backend("sim:private").unwrap();
        assert!(std::ptr::addr_eq(first, second));
        assert_eq!(first.kind(), "sim");
    }

    #[test]
    fn sim_private_opens_a_device_backend() {
        assert_eq!(backend_from_spec("sim:private").unwrap().kind(), "sim");
    }

    #[test]
    fn a_missing_board_is_an_error_not_a_panic() {
        // No such device on a CI machine: the error names the missing group.
        let err = backend_from_spec("vfio:0000:7f:1f.7")
            .err()
            .expect("no board here");
        assert!(matches!(err, SpecError::Vfio(_)), "{err}");
    }
}
