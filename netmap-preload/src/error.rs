//! Why a request failed, and the errno netmap's kernel gives for it.

use netmap_ring::port::{PortError, SyncError};

/// A failed request on a netmap descriptor.
#[derive(Debug, thiserror::Error)]
pub enum NmError {
    #[error("bad address {0:#x}")]
    Fault(u64),
    #[error("API version {0} is not supported (use 14..=15)")]
    Version(u32),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("the descriptor is already bound to a port")]
    AlreadyBound,
    #[error("the descriptor is not bound to a port")]
    NotBound,
    #[error("no such port: {0}")]
    NoSuchPort(String),
    #[error("not supported: {0}")]
    NotSupported(String),
    #[error(
        "request and options exceed {} bytes",
        netmap_ring::abi::NETMAP_REQ_MAXSIZE
    )]
    TooLarge,
    #[error("option {0}: {1}")]
    Option(u32, &'static str),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("backend {spec}: {why}")]
    Backend { spec: String, why: String },
    #[error("{why} (errno {errno})")]
    Errno { errno: i32, why: String },
}

impl NmError {
    /// The errno the kernel returns for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            NmError::Fault(_) => libc::EFAULT,
            NmError::Version(_) | NmError::Invalid(_) => libc::EINVAL,
            NmError::AlreadyBound => libc::EBUSY,
            NmError::NotBound => libc::ENXIO,
            NmError::NoSuchPort(_) => libc::ENXIO,
            NmError::NotSupported(_) => libc::EOPNOTSUPP,
            NmError::TooLarge => libc::EMSGSIZE,
            NmError::Option(errno, _) => *errno as i32,
            NmError::Port(e) => port_errno(e),
            NmError::Sync(_) => libc::ENXIO,
            NmError::Backend { .. } => libc::ENXIO,
            NmError::Errno { errno, .. } => *errno,
        }
    }
}

/// The errno of a registration failure.
pub fn port_errno(e: &PortError) -> i32 {
    match e {
        PortError::Name(_) | PortError::Config { .. } => libc::EINVAL,
        // A NIC the backend cannot serve does not exist for netmap.
        PortError::Unsupported { what, .. } if what.contains("NIC") => libc::ENXIO,
        PortError::Unsupported { .. } => libc::EOPNOTSUPP,
        PortError::Busy { .. } => libc::EBUSY,
        PortError::SwitchFull { .. } | PortError::NoMemory { .. } => libc::ENOMEM,
        PortError::Permission { .. } => libc::EPERM,
        PortError::Io { source, .. } => match source.raw_os_error() {
            Some(libc::ENODEV) | Some(libc::ENOENT) => libc::ENXIO,
            Some(errno) => errno,
            // Nothing by that name (a monitor's port): netmap's ENXIO.
            None if source.kind() == std::io::ErrorKind::NotFound => libc::ENXIO,
            None => libc::EIO,
        },
    }
}
