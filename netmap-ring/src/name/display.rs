//! The canonical text of a port name: libnetmap syntax that parses back to
//! the same value, with every part in a fixed order (header, ring mode,
//! flags, `@N`, then conf, share, extmem, offset) and keys spelled with `-`.

use std::fmt::{self, Display, Formatter};

use super::request::{ConfOption, PortName, PortOptions, RingMode, Subsystem};

impl Display for Subsystem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Subsystem::Netmap { ifname } => write!(f, "netmap:{ifname}"),
            Subsystem::Vale { switch, port } => write!(f, "vale{switch}:{port}"),
        }
    }
}

impl Display for RingMode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            RingMode::AllNic => Ok(()),
            RingMode::Sw => f.write_str("^"),
            RingMode::OneSw(ring) => write!(f, "^{ring}"),
            RingMode::NicSw => f.write_str("*"),
            RingMode::OneNic(ring) => write!(f, "-{ring}"),
        }
    }
}

impl Display for PortName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.subsystem)?;
        if let Some(pipe) = &self.pipe {
            write!(f, "{}{}", pipe.role.symbol(), pipe.id)?;
        }
        write!(f, "{}", self.mode)?;
        if self.flags.any() {
            f.write_str("/")?;
            for (set, letter, _) in self.flags.table() {
                if set {
                    write!(f, "{letter}")?;
                }
            }
        }
        if let Some(mem_id) = self.mem_id {
            write!(f, "@{mem_id}")?;
        }
        write!(f, "{}", self.options)
    }
}

/// Writes `key=value` pairs of the set keys, comma separated.
fn write_keys<T: Display>(f: &mut Formatter<'_>, keys: &[(&str, Option<T>)]) -> fmt::Result {
    let mut separator = "";
    for (key, value) in keys {
        if let Some(value) = value {
            write!(f, "{separator}{key}={value}")?;
            separator = ",";
        }
    }
    Ok(())
}

impl ConfOption {
    fn keys(&self) -> [(&'static str, Option<u32>); 9] {
        [
            ("rings", self.rings.map(u32::from)),
            ("host-rings", self.host_rings.map(u32::from)),
            ("slots", self.slots),
            ("tx-rings", self.tx_rings.map(u32::from)),
            ("rx-rings", self.rx_rings.map(u32::from)),
            ("host-tx-rings", self.host_tx_rings.map(u32::from)),
            ("host-rx-rings", self.host_rx_rings.map(u32::from)),
            ("tx-slots", self.tx_slots),
            ("rx-slots", self.rx_slots),
        ]
    }
}

impl Display for PortOptions {
    /// Each option with its leading `@`; nothing when no option is set.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.conf.is_empty() {
            f.write_str("@conf:")?;
            write_keys(f, &self.conf.keys())?;
        }
        if let Some(port) = &self.share {
            write!(f, "@share={port}")?;
        }
        if let Some(extmem) = &self.extmem {
            let keys = extmem.numeric_keys();
            if keys.iter().all(|(_, value)| value.is_none()) {
                write!(f, "@extmem={}", extmem.file)?;
            } else {
                write!(f, "@extmem:file={},", extmem.file)?;
                write_keys(f, &keys)?;
            }
        }
        if let Some(offset) = &self.offset {
            match offset.bits {
                None => write!(f, "@offset={}", offset.initial)?,
                Some(bits) => write!(f, "@offset:initial={},bits={bits}", offset.initial)?,
            }
        }
        Ok(())
    }
}
