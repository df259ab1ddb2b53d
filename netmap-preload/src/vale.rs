//! VALE control requests (`vale-ctl`): LIST, NEWIF, DELIF, ATTACH, DETACH,
//! on the software engine, through its administration API (the one
//! `valectl` uses).
//!
//! netmap's model and the engine's differ in one place: a netmap NEWIF port
//! exists on its own and is then attached to switches, while the engine's
//! persistent ports are ports of a switch. So NEWIF records the port (name
//! and geometry) in the runtime directory, ATTACH makes a persistent port of
//! that name and geometry on the switch, DETACH removes it from the switch
//! (when its last user closes it), DELIF forgets the record. A NEWIF port is
//! reached through a switch (`valeX:v0`), not on its own (`netmap:v0`).

use std::path::PathBuf;

use vale_offload::placement::PortKind;
use vale_soft::admin::{self, AdminError};

use crate::error::NmError;

/// `nr_port_idx` of a port not on the switch (`NM_BDG_NOPORT`).
pub const NM_BDG_NOPORT: u32 = 255;

fn errno_of(e: &AdminError) -> i32 {
    match e {
        AdminError::NoSuchSwitch(_) => libc::ENOENT,
        AdminError::NoSuchPort { .. } => libc::ENXIO,
        AdminError::Exists(_) => libc::EEXIST,
        AdminError::Name { .. }
        | AdminError::NotAVALEPort { .. }
        | AdminError::NotPersistent { .. }
        | AdminError::Config { .. } => libc::EINVAL,
        AdminError::Busy { .. } => libc::EBUSY,
        AdminError::SwitchFull { .. } | AdminError::NoMemory { .. } => libc::ENOMEM,
        AdminError::Permission(_) => libc::EPERM,
        AdminError::Domain(_) => libc::EIO,
    }
}

fn admin_error(e: AdminError) -> NmError {
    NmError::Errno {
        errno: errno_of(&e),
        why: e.to_string(),
    }
}

/// The control requests act on the software engine's switches only.
fn soft_only(what: &str) -> Result<(), NmError> {
    let kind = crate::file::backend()?.kind();
    if kind != "soft" {
        return Err(NmError::NotSupported(format!(
            "{what} on the {kind} backend (use valectl --backend {kind})"
        )));
    }
    Ok(())
}

/// This user's VALE switches, in a stable order (their bridge indexes).
fn switches() -> Vec<String> {
    let mut names: Vec<String> = admin::domain_names()
        .into_iter()
        .filter(|n| n.starts_with(netmap_ring::abi::NM_BDG_NAME))
        .collect();
    names.sort();
    names
}

/// The VALE ports of switch `name`, by port number; `None` if it is gone.
fn ports_of(name: &str) -> Option<Vec<(u32, String)>> {
    let domain = admin::open_existing(name).ok()?;
    let info = admin::describe(&domain).ok()?;
    let mut ports: Vec<(u32, String)> = info
        .ports
        .into_iter()
        .filter(|p| p.kind == PortKind::Vale)
        .map(|p| (p.index, p.name))
        .collect();
    ports.sort();
    Some(ports)
}

/// Splits `valeS:P` into (`valeS`, `P`); EINVAL for anything else.
fn split(name: &str) -> Result<(&str, &str), NmError> {
    match name.split_once(':') {
        Some((switch, port))
            if switch.starts_with(netmap_ring::abi::NM_BDG_NAME) && !port.is_empty() =>
        {
            Ok((switch, port))
        }
        _ => Err(NmError::Invalid(format!("{name:?} is not a valeS:P name"))),
    }
}

/// `NETMAP_REQ_VALE_LIST`: returns the name to write back (for the walk
/// with an empty name), the bridge index and the port index.
pub fn list(name: &str, bridge: u16, port: u32) -> Result<(String, u16, u32), NmError> {
    soft_only("VALE_LIST")?;
    let all = switches();
    if !name.is_empty() {
        if !name.starts_with(netmap_ring::abi::NM_BDG_NAME) {
            return Err(NmError::Invalid(format!("{name:?} is not a VALE name")));
        }
        let (switch, port_name) = name.split_once(':').unwrap_or((name, ""));
        let no_switch = || NmError::Errno {
            errno: libc::ENOENT,
            why: format!("no switch {switch}"),
        };
        let index = all.iter().position(|s| s == switch).ok_or_else(no_switch)?;
        let ports = ports_of(switch).ok_or_else(no_switch)?;
        let port = ports
            .iter()
            .find(|(_, p)| p == port_name)
            .map_or(NM_BDG_NOPORT, |(i, _)| *i);
        return Ok((name.to_owned(), index as u16, port));
    }
    for (b, switch) in all.iter().enumerate().skip(usize::from(bridge)) {
        let from = if b == usize::from(bridge) { port } else { 0 };
        let Some(ports) = ports_of(switch) else {
            continue;
        };
        if let Some((i, p)) = ports.iter().find(|(i, _)| *i >= from) {
            return Ok((format!("{switch}:{p}"), b as u16, *i));
        }
    }
    Err(NmError::Errno {
        errno: libc::ENOENT,
        why: "no more ports".into(),
    })
}

/// Geometry of a NEWIF port (`nmreq_vale_newif`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewifGeometry {
    pub tx_slots: u32,
    pub rx_slots: u32,
    pub tx_rings: u16,
    pub rx_rings: u16,
}

impl NewifGeometry {
    /// netmap's defaults for zeros; EINVAL beyond its bounds.
    fn normalized(self) -> Result<Self, NmError> {
        let slots = |v: u32| match v {
            0 => Ok(1024),
            1..=4096 => Ok(v),
            _ => Err(NmError::Invalid(format!("{v} slots: use 1..=4096"))),
        };
        let rings = |v: u16| match v {
            0 => Ok(1),
            1..=16 => Ok(v),
            _ => Err(NmError::Invalid(format!("{v} rings: use 1..=16"))),
        };
        Ok(Self {
            tx_slots: slots(self.tx_slots)?,
            rx_slots: slots(self.rx_slots)?,
            tx_rings: rings(self.tx_rings)?,
            rx_rings: rings(self.rx_rings)?,
        })
    }

    fn conf(&self) -> String {
        format!(
            "@conf:tx-rings={},rx-rings={},tx-slots={},rx-slots={}",
            self.tx_rings, self.rx_rings, self.tx_slots, self.rx_slots
        )
    }
}

fn newif_dir() -> PathBuf {
    netmap_ring::rundir::runtime_dir().join("preload-newif")
}

fn newif_path(name: &str) -> Result<PathBuf, NmError> {
    let valid = !name.is_empty()
        && name.len() < netmap_ring::abi::IFNAMSIZ
        && !name.starts_with(netmap_ring::abi::NM_BDG_NAME)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(NmError::Invalid(format!(
            "{name:?}: a NEWIF name is 1..15 of [A-Za-z0-9_] and does not start with vale"
        )));
    }
    Ok(newif_dir().join(name))
}

fn read_newif(name: &str) -> Result<Option<NewifGeometry>, NmError> {
    let path = newif_path(name)?;
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let v: Vec<u32> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match v[..] {
        [tx_slots, rx_slots, tx_rings, rx_rings] => Ok(Some(NewifGeometry {
            tx_slots,
            rx_slots,
            tx_rings: tx_rings as u16,
            rx_rings: rx_rings as u16,
        })),
        _ => Ok(None),
    }
}

fn io_error(what: &str, e: std::io::Error) -> NmError {
    NmError::Errno {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        why: format!("{what}: {e}"),
    }
}

/// `NETMAP_REQ_VALE_NEWIF`: records a persistent port. On EEXIST the
/// existing port's geometry is returned with the error, as netmap fills
/// the body even then.
pub fn newif(name: &str, asked: NewifGeometry) -> Result<NewifGeometry, (NmError, NewifGeometry)> {
    let fail = |e: NmError| (e, asked);
    soft_only("VALE_NEWIF").map_err(fail)?;
    let path = newif_path(name).map_err(fail)?;
    if let Some(existing) = read_newif(name).map_err(fail)? {
        let e = NmError::Errno {
            errno: libc::EEXIST,
            why: format!("{name} exists"),
        };
        return Err((e, existing));
    }
    let g = asked.normalized().map_err(fail)?;
    let dir = newif_dir();
    std::fs::create_dir_all(&dir).map_err(|e| fail(io_error("runtime directory", e)))?;
    let text = format!(
        "{} {} {} {}\n",
        g.tx_slots, g.rx_slots, g.tx_rings, g.rx_rings
    );
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| fail(io_error("NEWIF record", e)))?;
    // A hard link fails if the name exists: two NEWIFs, one winner.
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(g),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = read_newif(name).ok().flatten().unwrap_or(g);
            let e = NmError::Errno {
                errno: libc::EEXIST,
                why: format!("{name} exists"),
            };
            Err((e, existing))
        }
        Err(e) => Err(fail(io_error("NEWIF record", e))),
    }
}

/// The switches `name` is attached to.
fn attached_to(name: &str) -> Vec<String> {
    switches()
        .into_iter()
        .filter(|s| ports_of(s).is_some_and(|ports| ports.iter().any(|(_, p)| p == name)))
        .collect()
}

/// `NETMAP_REQ_VALE_DELIF`.
pub fn delif(name: &str) -> Result<(), NmError> {
    soft_only("VALE_DELIF")?;
    if read_newif(name)?.is_none() {
        return Err(NmError::NoSuchPort(name.to_owned()));
    }
    if let Some(switch) = attached_to(name).first() {
        return Err(NmError::Errno {
            errno: libc::EBUSY,
            why: format!("{name} is attached to {switch}"),
        });
    }
    std::fs::remove_file(newif_path(name)?).map_err(|e| io_error("NEWIF record", e))
}

/// `NETMAP_REQ_VALE_ATTACH` of `valeS:IF`; returns the port number.
pub fn attach(name: &str, host_rings: bool) -> Result<u32, NmError> {
    soft_only("VALE_ATTACH")?;
    let (switch, ifname) = split(name)?;
    if host_rings {
        return Err(NmError::Invalid(format!(
            "{ifname}: no host rings to attach"
        )));
    }
    let geometry = match newif_path(ifname)
        .ok()
        .and_then(|_| read_newif(ifname).ok())
    {
        Some(Some(g)) => g,
        _ => {
            return Err(NmError::Invalid(format!(
                "{ifname} is not an interface made by VALE_NEWIF"
            )))
        }
    };
    if ports_of(switch).is_some_and(|ports| ports.iter().any(|(_, p)| p == ifname)) {
        return Err(NmError::Errno {
            errno: libc::EBUSY,
            why: format!("{ifname} is already on {switch}"),
        });
    }
    admin::create_persistent(&format!("{name}{}", geometry.conf())).map_err(admin_error)
}

/// `NETMAP_REQ_VALE_DETACH` of `valeS:IF`; returns the port number.
pub fn detach(name: &str) -> Result<u32, NmError> {
    soft_only("VALE_DETACH")?;
    let (switch, ifname) = split(name)?;
    let index = ports_of(switch)
        .and_then(|ports| ports.into_iter().find(|(_, p)| p == ifname))
        .map(|(i, _)| i)
        .ok_or_else(|| NmError::NoSuchPort(format!("{ifname} is not on {switch}")))?;
    admin::detach(name).map_err(admin_error)?;
    Ok(index)
}
