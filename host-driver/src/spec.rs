//! Device selection: `sim|sim:private|vfio-user:<socket>|vfio:<pci>`,
//! the device part of `--backend` (the `netmap-backend` crate adds `soft`,
//! the software engine, and `NETMAP_BACKEND`). `sim` is the user's one
//! simulated NIC, shared by all their processes ([`crate::shared_sim`]);
//! `sim:private` a model inside this process only, built with the `sim`
//! feature (it links the Verilator model).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use netmap_ring::port::Backend;

use crate::port::{BackendError, DeviceBackend};
use crate::shared_sim::SharedSim;
use crate::vfio::{sys::LinuxSys, VfioDevice, VfioError};

/// A parsed device name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
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

/// Why a device could not be selected or brought up.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unknown backend {0:?}: use soft, sim, sim:private, vfio-user:<socket> or vfio:<pci-address>")]
    Unknown(String),
    #[error("backend {0}: the argument is missing")]
    MissingArgument(&'static str),
    #[error("backend sim:private: this program was built without the in-process model (host-driver's `sim` feature); use sim, which starts nmsim-server")]
    NoPrivateModel,
    #[error(transparent)]
    Vfio(#[from] VfioError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(transparent)]
    SharedSim(#[from] crate::shared_sim::SharedSimError),
}

impl FromStr for DeviceSpec {
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
            "sim" if arg.is_none() => Ok(DeviceSpec::Sim),
            "sim" if arg == Some("private") => Ok(DeviceSpec::SimPrivate),
            "vfio-user" => Ok(DeviceSpec::VfioUser(PathBuf::from(needs("vfio-user")?))),
            "vfio" => {
                let address = crate::vfio::parse_pci_address(needs("vfio")?)?;
                Ok(DeviceSpec::Vfio(address))
            }
            _ => Err(SpecError::Unknown(text.to_owned())),
        }
    }
}

/// The in-process model.
#[cfg(feature = "sim")]
fn private_model() -> Result<Box<dyn crate::device::Device>, SpecError> {
    Ok(Box::new(crate::sim::SimDevice::new()?))
}

/// This build has no in-process model.
#[cfg(not(feature = "sim"))]
fn private_model() -> Result<Box<dyn crate::device::Device>, SpecError> {
    Err(SpecError::NoPrivateModel)
}

impl DeviceSpec {
    /// The device itself, for control-path tools (`valectl --backend`).
    pub fn open_device(&self) -> Result<Box<dyn crate::device::Device>, SpecError> {
        Ok(match self {
            DeviceSpec::Sim => Box::new(SharedSim::for_user().connect()?),
            DeviceSpec::SimPrivate => private_model()?,
            DeviceSpec::VfioUser(socket) => Box::new(crate::shared_sim::connect_by_path(socket)?),
            DeviceSpec::Vfio(address) => Box::new(VfioDevice::open(Arc::new(LinuxSys), address)?),
        })
    }

    /// Brings the device up (opens and probes it, sets up its memory) as a
    /// netmap backend.
    pub fn open(&self) -> Result<Box<dyn Backend>, SpecError> {
        Ok(Box::new(DeviceBackend::new(self.open_device()?)?))
    }
}

/// The backend on the device named by `spec`.
pub fn device_backend(spec: &str) -> Result<Box<dyn Backend>, SpecError> {
    spec.parse::<DeviceSpec>()?.open()
}

/// The backend on the device named by `spec`, opened once per process and
/// kept: every port a process opens on `sim:private` must be on the same
/// simulated device (a bridge's two ports, a test's sender and receiver),
/// and a process is one host of a shared device (`sim`, `vfio:`), with one
/// driver instance. Later calls with the same spec return the same backend.
pub fn shared_device_backend(spec: &str) -> Result<&'static dyn Backend, SpecError> {
    static OPENED: Mutex<Vec<(String, &'static dyn Backend)>> = Mutex::new(Vec::new());
    let mut opened = OPENED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, backend)) = opened.iter().find(|(s, _)| s == spec) {
        return Ok(*backend);
    }
    // Leaked on purpose: the backend lives as long as the process, like the
    // device it stands for.
    let backend: &'static dyn Backend = Box::leak(device_backend(spec)?);
    opened.push((spec.to_owned(), backend));
    Ok(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!("sim".parse::<DeviceSpec>().unwrap(), DeviceSpec::Sim);
        assert_eq!(
            "sim:private".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::SimPrivate
        );
        assert_eq!(
            "vfio-user:/run/nmsim.sock".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::VfioUser("/run/nmsim.sock".into())
        );
        assert_eq!(
            "vfio:03:00.0".parse::<DeviceSpec>().unwrap(),
            DeviceSpec::Vfio("0000:03:00.0".into())
        );
    }

    #[test]
    fn bad_specs_say_why() {
        type Check = fn(&SpecError) -> bool;
        let cases: [(&str, Check); 8] = [
            ("", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
            ("hw", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
            ("soft", |e: &SpecError| matches!(e, SpecError::Unknown(_))),
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
            let err = text.parse::<DeviceSpec>().unwrap_err();
            assert!(check(&err), "{text:?}: {err}");
        }
    }

    #[cfg(feature = "sim")]
    #[test]
    fn a_shared_backend_is_opened_once() {
        let first = shared_device_backend("sim:private").unwrap();
        let second = shared_device_backend("sim:private").unwrap();
        assert!(std::ptr::addr_eq(first, second));
        assert_eq!(first.kind(), "sim");
    }

    #[cfg(feature = "sim")]
    #[test]
    fn sim_private_opens_a_device_backend() {
        assert_eq!(device_backend("sim:private").unwrap().kind(), "sim");
    }

    #[cfg(not(feature = "sim"))]
    #[test]
    fn sim_private_without_the_model_says_so() {
        let err = device_backend("sim:private").err().expect("no model");
        assert!(matches!(err, SpecError::NoPrivateModel), "{err}");
    }

    #[test]
    fn a_missing_board_is_an_error_not_a_panic() {
        // No such device on a CI machine: the error names the missing group.
        let err = device_backend("vfio:0000:7f:1f.7")
            .err()
            .expect("no board here");
        assert!(matches!(err, SpecError::Vfio(_)), "{err}");
    }
}
