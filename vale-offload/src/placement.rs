//! Where a port name lives: the memory domain (a VALE switch, or the pipes
//! of a NIC parent), the entry in its port table, and the port's kind.
//! The software engine and the host driver place names alike, so a name
//! means the same port on every backend.

use netmap_ring::name::{PipeRole, PortName, Subsystem};
use netmap_ring::port::PortError;

/// Port kinds (the `PORT_KIND` values of the device's port table too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    Vale = 1,
    PipeMaster = 2,
    PipeSlave = 3,
}

impl PortKind {
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Vale),
            2 => Some(Self::PipeMaster),
            3 => Some(Self::PipeSlave),
            _ => None,
        }
    }

    /// A pipe end of either role.
    pub fn is_pipe(self) -> bool {
        matches!(self, Self::PipeMaster | Self::PipeSlave)
    }
}

/// Domain kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainKind {
    /// A VALE switch (its pipes live in it too).
    Switch = 1,
    /// The memory of a NIC parent, holding only its pipes.
    Pipes = 2,
}

/// Where a name lives: its domain and its entry name there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub domain: String,
    pub domain_kind: DomainKind,
    pub entry: String,
    pub kind: PortKind,
    /// Entry name of the pipe's other end.
    pub peer: Option<String>,
}

/// Maps a parsed name onto a domain and a port entry. A NIC port itself
/// (`netmap:eth0` without a pipe suffix) has no place in a domain: it is
/// `Unsupported` here, and the backends that serve NICs route it before.
pub fn placement(name: &PortName) -> Result<Placement, PortError> {
    let (domain, domain_kind, base) = match &name.subsystem {
        Subsystem::Vale { switch, port } => {
            (format!("vale{switch}"), DomainKind::Switch, port.clone())
        }
        Subsystem::Netmap { ifname } => {
            if name.pipe.is_none() {
                return Err(PortError::Unsupported {
                    name: name.to_string(),
                    backend: "soft",
                    what: "a NIC port (netmap:IFNAME); only VALE ports and pipes are served in software".to_owned(),
                });
            }
            (format!("if-{ifname}"), DomainKind::Pipes, String::new())
        }
    };
    Ok(match &name.pipe {
        None => Placement {
            domain,
            domain_kind,
            entry: base,
            kind: PortKind::Vale,
            peer: None,
        },
        Some(pipe) => {
            let master = format!("{base}{{{}", pipe.id);
            let slave = format!("{base}}}{}", pipe.id);
            let (entry, peer, kind) = match pipe.role {
                PipeRole::Master => (master, slave, PortKind::PipeMaster),
                PipeRole::Slave => (slave, master, PortKind::PipeSlave),
            };
            Placement {
                domain,
                domain_kind,
                entry,
                kind,
                peer: Some(peer),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(text: &str) -> Placement {
        placement(&text.parse().unwrap()).unwrap()
    }

    #[test]
    fn vale_ports_and_pipes_are_placed() {
        let p = place("vale0:a");
        assert_eq!((p.domain.as_str(), p.entry.as_str()), ("vale0", "a"));
        assert_eq!(
            (p.kind, p.domain_kind, p.peer),
            (PortKind::Vale, DomainKind::Switch, None)
        );
        let m = place("vale1:x{3");
        assert_eq!((m.entry.as_str(), m.kind), ("x{3", PortKind::PipeMaster));
        assert_eq!(m.peer.as_deref(), Some("x}3"));
        let s = place("netmap:eth0}7");
        assert_eq!(
            (s.domain.as_str(), s.domain_kind),
            ("if-eth0", DomainKind::Pipes)
        );
        assert_eq!((s.entry.as_str(), s.kind), ("}7", PortKind::PipeSlave));
    }

    #[test]
    fn a_nic_port_has_no_place() {
        let err = placement(&"netmap:eth0".parse().unwrap()).unwrap_err();
        assert!(matches!(err, PortError::Unsupported { .. }), "{err}");
    }
}
