//! Port names: the grammar of libnetmap (`nmport_parse`) and of the legacy
//! `nm_open`, parsed into a typed registration request.
//!
//! ```
//! use netmap_ring::name::{PortName, RingMode, Subsystem};
//!
//! let name: PortName = "netmap:eth0-1/x@2".parse().unwrap();
//! assert_eq!(name.subsystem, Subsystem::Netmap { ifname: "eth0".into() });
//! assert_eq!(name.mode, RingMode::OneNic(1));
//! assert!(name.flags.exclusive);
//! assert_eq!(name.mem_id, Some(2));
//! assert_eq!(name.to_string(), "netmap:eth0-1/x@2");
//!
//! let err = "netmap:eth0@2/R@3".parse::<PortName>().unwrap_err();
//! assert_eq!(err.to_string(), "at 15: second @3 disagrees with @2");
//! ```
//!
//! The grammar, every error and where we are stricter than libnetmap are in
//! `docs/port-names.md`.
#![forbid(unsafe_code)]

mod display;
mod error;
mod header;
mod legacy;
mod options;
mod register;
mod request;
mod scan;

pub use error::{Found, NameError, NameErrorKind};
pub use legacy::parse_legacy;
pub use request::{
    ConfOption, ExtmemOption, OffsetOption, PipeEnd, PipeRole, PortName, PortOptions, RegFlags,
    RingMode, Subsystem,
};

/// The largest ring index a name may select (`-N`, `^N`): netmap checks
/// `N < NETMAP_RING_MASK`.
pub const MAX_RING_ID: u16 = crate::abi::NETMAP_RING_MASK - 1;

/// The longest `nr_name` of `nmreq_header` (without the NUL).
pub const MAX_NAME_LEN: usize = crate::abi::NETMAP_REQ_IFNAMSIZ - 1;

/// The longest `nr_name` of the legacy `nmreq` (without the NUL).
pub const MAX_LEGACY_NAME_LEN: usize = crate::abi::IFNAMSIZ - 1;

impl std::str::FromStr for PortName {
    type Err = NameError;

    /// Parses a name as libnetmap's `nmport_parse` does.
    fn from_str(name: &str) -> Result<Self, NameError> {
        let header = header::parse_header(name, 0, name.len())?;
        let register = register::parse_register(name, header.end)?;
        let mut options = PortOptions::default();
        if let Some(start) = register.options_at {
            options::parse_options(name, start, &mut options)?;
        }
        Ok(PortName {
            subsystem: header.subsystem,
            mode: register.mode,
            pipe: header.pipe,
            flags: register.flags,
            mem_id: register.mem_id,
            options,
        })
    }
}
