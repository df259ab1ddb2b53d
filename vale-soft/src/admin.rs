//! Switch administration for `valectl`: list switches and their ports,
//! read and reset counters, dump the MAC table, and create or delete
//! persistent ports (netmap's `valectl -n/-r/-a/-d`).
//!
//! Read-only requests never create a switch: they look for the domain's
//! file first, and a domain that turns out empty (its last port closed in
//! between) is destroyed again and reported missing. Every change runs
//! under the domain lock, after reclaiming ports of dead processes, as a
//! port registration does.
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use netmap_ring::name::{NameError, PortName, RegFlags, RingMode, Subsystem};

use vale_offload::counters::{PortCounter, SwitchCounter};
use vale_offload::geometry::PortGeometry;
use vale_offload::placement::{DomainKind, PortKind};

use crate::ctrl::{port, MAX_ENTRIES, PORT_ACTIVE, PORT_FLAG_PERSISTENT};
use netmap_ring::rundir::{file_stem, runtime_dir};

use crate::domain::{Domain, DomainError};
use crate::ports::{self, AllocPortError};

/// Why an administrative request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no such switch {0}")]
    NoSuchSwitch(String),
    #[error("{switch}: no such port {port}")]
    NoSuchPort { switch: String, port: String },
    #[error("{0}: port already exists")]
    Exists(String),
    #[error("bad port name '{name}': {source}")]
    Name { name: String, source: NameError },
    #[error("{name}: {why}")]
    NotAVALEPort { name: String, why: &'static str },
    #[error("{name}: in use by process {pid}; stop it first, or detach (-d) to remove the port when it closes")]
    Busy { name: String, pid: u32 },
    #[error("{name}: not a persistent port (it belongs to process {pid} and goes when it closes)")]
    NotPersistent { name: String, pid: u32 },
    #[error("{name}: invalid configuration: {why}")]
    Config { name: String, why: String },
    #[error("{name}: switch {switch} is full ({max} ports)")]
    SwitchFull {
        name: String,
        switch: String,
        max: u32,
    },
    #[error("{name}: out of memory: {why}")]
    NoMemory { name: String, why: String },
    #[error("permission denied: {0}")]
    Permission(DomainError),
    #[error("{0}")]
    Domain(DomainError),
}

impl From<DomainError> for AdminError {
    fn from(e: DomainError) -> Self {
        if e.is_permission() {
            AdminError::Permission(e)
        } else {
            AdminError::Domain(e)
        }
    }
}

/// One port of a switch, as valectl lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// Port-table entry (the VALE port number for switch ports).
    pub index: u32,
    /// Entry name (`a`, or `x{1` for a pipe end).
    pub name: String,
    pub kind: PortKind,
    /// Process holding the port, 0 when none (a persistent port at rest).
    pub owner_pid: u32,
    pub persistent: bool,
    pub geometry: PortGeometry,
    /// Entry name of a pipe's other end.
    pub peer: Option<String>,
    /// Every `PortCounter`, by name, in index order.
    pub counters: Vec<(&'static str, u64)>,
}

/// A monitor port (`PORT/r`, `/t`, `/rt`, `/z...`) of a switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorInfo {
    pub index: u32,
    /// Entry name: the monitored port's and the flags (`b/rt`).
    pub name: String,
    /// The monitored port's entry name; `None` once it closed.
    pub watching: Option<String>,
    pub owner_pid: u32,
    /// Every `PortCounter` (copies in `rx_packets`, drops in
    /// `rx_drop_full`), by name, in index order.
    pub counters: Vec<(&'static str, u64)>,
}

/// A switch (or pipe parent) and its ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchInfo {
    pub name: String,
    pub kind: DomainKind,
    /// MAC table geometry.
    pub table_rows: u32,
    pub table_ways: u32,
    pub ports: Vec<PortInfo>,
    pub monitors: Vec<MonitorInfo>,
    /// Every `SwitchCounter`, by name, in index order.
    pub counters: Vec<(&'static str, u64)>,
}

/// One learned address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacEntry {
    /// The VALE port number the address was learned on.
    pub port: u8,
    /// That port's name (empty if the port went away meanwhile).
    pub port_name: String,
    pub mac: [u8; 6],
}

/// Names of this user's domains: VALE switches (`vale0`) and pipe parents
/// of NIC names (`if-eth0`).
pub fn domain_names() -> Vec<String> {
    Domain::list()
}

fn kind_of(name: &str) -> DomainKind {
    if name.starts_with("if-") {
        DomainKind::Pipes
    } else {
        DomainKind::Switch
    }
}

/// Maps an existing domain without creating it.
pub fn open_existing(name: &str) -> Result<Arc<Domain>, AdminError> {
    let path = runtime_dir().join(format!("{}.mem", file_stem(name)));
    match std::fs::symlink_metadata(&path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AdminError::NoSuchSwitch(name.to_owned()))
        }
        Err(source) => return Err(DomainError::File { path, source }.into()),
    }
    let domain = Domain::open(name, kind_of(name))?;
    let guard = domain.lock();
    if !domain.is_live() || ports::destroy_if_empty(&domain) {
        // It went away between the look and the open: the open made an
        // empty one, now destroyed again.
        drop(guard);
        return Err(AdminError::NoSuchSwitch(name.to_owned()));
    }
    drop(guard);
    Ok(domain)
}

/// The ports and counters of `domain`, after reclaiming ports of dead
/// processes (which may destroy the domain: then it is missing).
pub fn describe(domain: &Domain) -> Result<SwitchInfo, AdminError> {
    let _guard = domain.lock();
    if !domain.is_live() {
        return Err(AdminError::NoSuchSwitch(domain.name().to_owned()));
    }
    ports::reclaim_dead(domain);
    if ports::destroy_if_empty(domain) {
        return Err(AdminError::NoSuchSwitch(domain.name().to_owned()));
    }
    let ctrl = domain.ctrl();
    let mut ports_info = Vec::new();
    let mut monitors = Vec::new();
    let counters_of = |e: &crate::ctrl::PortEntry<'_>| {
        PortCounter::ALL
            .iter()
            .map(|&c| (c.name(), e.read(c)))
            .collect()
    };
    for index in 0..MAX_ENTRIES {
        let e = ctrl.port(index);
        if e.state() != PORT_ACTIVE {
            continue;
        }
        if crate::monitor::is_monitor(&e) {
            let watched = e.get(port::MONITOR_OF);
            monitors.push(MonitorInfo {
                index,
                name: e.name(),
                watching: (watched < MAX_ENTRIES).then(|| ctrl.port(watched).name()),
                owner_pid: e.get(port::OWNER_PID),
                counters: counters_of(&e),
            });
            continue;
        }
        let Some(kind) = e.kind() else { continue };
        let peer = e.get(port::PEER);
        ports_info.push(PortInfo {
            index,
            name: e.name(),
            kind,
            owner_pid: e.get(port::OWNER_PID),
            persistent: e.get(port::FLAGS) & PORT_FLAG_PERSISTENT != 0,
            geometry: ports::geometry_of(&e),
            peer: (peer < MAX_ENTRIES).then(|| ctrl.port(peer).name()),
            counters: counters_of(&e),
        });
    }
    let geometry = domain.table().geometry();
    Ok(SwitchInfo {
        name: domain.name().to_owned(),
        kind: domain.kind(),
        table_rows: geometry.rows,
        table_ways: geometry.ways,
        ports: ports_info,
        monitors,
        counters: SwitchCounter::ALL
            .iter()
            .map(|&c| (c.name(), ctrl.switch_counter(c).load(Ordering::Relaxed)))
            .collect(),
    })
}

/// The learned addresses of a switch, by port then address.
pub fn mac_table(domain: &Domain) -> Vec<MacEntry> {
    let ctrl = domain.ctrl();
    let mut entries: Vec<MacEntry> = domain
        .table()
        .entries()
        .map(|p| {
            let e = (u32::from(p.port) < MAX_ENTRIES).then(|| ctrl.port(u32::from(p.port)));
            let port_name = e
                .filter(|e| e.state() == PORT_ACTIVE)
                .map(|e| e.name())
                .unwrap_or_default();
            MacEntry {
                port: p.port,
                port_name,
                mac: p.mac,
            }
        })
        .collect();
    entries.sort_by_key(|e| (e.port, e.mac));
    entries
}

/// Zeroes every port and switch counter of `domain`.
pub fn reset_counters(domain: &Domain) {
    let ctrl = domain.ctrl();
    for index in 0..MAX_ENTRIES {
        ctrl.port(index).reset_counters();
    }
    for c in SwitchCounter::ALL {
        ctrl.switch_counter(c).store(0, Ordering::Relaxed);
    }
}

/// A VALE port named for administration: its switch, entry and geometry.
struct Target {
    name: String,
    switch: String,
    port: String,
    geometry: PortGeometry,
}

fn target(name: &str) -> Result<Target, AdminError> {
    let parsed: PortName = name.parse().map_err(|source| AdminError::Name {
        name: name.to_owned(),
        source,
    })?;
    let Subsystem::Vale { switch, port } = &parsed.subsystem else {
        return Err(AdminError::NotAVALEPort {
            name: name.to_owned(),
            why: "not a VALE port (valeS:P); NIC ports cannot be attached in software",
        });
    };
    if parsed.pipe.is_some() {
        return Err(AdminError::NotAVALEPort {
            name: name.to_owned(),
            why: "pipe ends exist while their processes hold them; they cannot be persistent",
        });
    }
    // A persistent port is a port: ring selections, flags and memory
    // options belong to the processes that bind it, not to valectl.
    let o = &parsed.options;
    let plain = parsed.mode == RingMode::AllNic
        && parsed.flags == RegFlags::default()
        && parsed.mem_id.is_none()
        && o.share.is_none()
        && o.extmem.is_none()
        && o.offset.is_none();
    if !plain {
        return Err(AdminError::NotAVALEPort {
            name: name.to_owned(),
            why: "valectl takes valeS:P (with @conf: for its geometry); ring suffixes (^ ^N * -N), /flags, @N and other options are for the processes that bind it",
        });
    }
    let geometry = PortGeometry::requested(&parsed);
    geometry.validate().map_err(|why| AdminError::Config {
        name: name.to_owned(),
        why,
    })?;
    Ok(Target {
        name: name.to_owned(),
        switch: format!("vale{switch}"),
        port: port.clone(),
        geometry,
    })
}

/// Opens (creating if needed) the switch of `t`, locks it and runs `f`.
fn with_switch_locked<R>(
    t: &Target,
    create: bool,
    f: impl Fn(&Domain) -> Result<R, AdminError>,
) -> Result<R, AdminError> {
    loop {
        let domain = if create {
            Domain::open(&t.switch, DomainKind::Switch)?
        } else {
            open_existing(&t.switch)?
        };
        let guard = domain.lock();
        if !domain.is_live() {
            // Destroyed between open and lock by another process's close.
            drop(guard);
            continue;
        }
        // Reclaiming leaves the domain alive; `f` may add a port to it.
        ports::reclaim_dead(&domain);
        let result = f(&domain);
        ports::destroy_if_empty(&domain);
        return result;
    }
}

fn alloc_error(t: &Target, e: AllocPortError) -> AdminError {
    match e {
        AllocPortError::SwitchFull { max } => AdminError::SwitchFull {
            name: t.name.clone(),
            switch: t.switch.clone(),
            max,
        },
        other => AdminError::NoMemory {
            name: t.name.clone(),
            why: other.to_string(),
        },
    }
}

fn create_locked(domain: &Domain, t: &Target) -> Result<u32, AdminError> {
    let index = ports::create(domain, &t.port, PortKind::Vale, t.geometry)
        .map_err(|e| alloc_error(t, e))?;
    netmap_ring::crash_point!("admin::create:not_yet_persistent");
    domain
        .ctrl()
        .port(index)
        .set(port::FLAGS, PORT_FLAG_PERSISTENT);
    Ok(index)
}

/// `valectl -n valeS:P`: creates a persistent port (and the switch if
/// needed). `@conf:` in the name sets its rings and slots. Returns the
/// port number.
pub fn create_persistent(name: &str) -> Result<u32, AdminError> {
    let t = target(name)?;
    with_switch_locked(&t, true, |domain| {
        if ports::find(domain, &t.port).is_some() {
            return Err(AdminError::Exists(t.name.clone()));
        }
        create_locked(domain, &t)
    })
}

/// `valectl -a valeS:P`: makes the port persistent, creating it if absent
/// (a port a process holds now stays after it closes). Returns the port
/// number and whether it was created.
pub fn attach(name: &str) -> Result<(u32, bool), AdminError> {
    let t = target(name)?;
    with_switch_locked(&t, true, |domain| match ports::find(domain, &t.port) {
        Some(index) => {
            let e = domain.ctrl().port(index);
            if e.kind() != Some(PortKind::Vale) {
                return Err(AdminError::NotAVALEPort {
                    name: t.name.clone(),
                    why: "a pipe end, not a switch port",
                });
            }
            e.set(port::FLAGS, e.get(port::FLAGS) | PORT_FLAG_PERSISTENT);
            Ok((index, false))
        }
        None => create_locked(domain, &t).map(|index| (index, true)),
    })
}

fn existing_port(domain: &Domain, t: &Target) -> Result<u32, AdminError> {
    ports::find(domain, &t.port)
        .filter(|&i| domain.ctrl().port(i).kind() == Some(PortKind::Vale))
        .ok_or_else(|| AdminError::NoSuchPort {
            switch: t.switch.clone(),
            port: t.port.clone(),
        })
}

/// `valectl -r valeS:P`: deletes a persistent port nobody holds (and the
/// switch with its last port).
pub fn delete_persistent(name: &str) -> Result<(), AdminError> {
    let t = target(name)?;
    with_switch_locked(&t, false, |domain| {
        let index = existing_port(domain, &t)?;
        let e = domain.ctrl().port(index);
        let pid = e.get(port::OWNER_PID);
        if e.get(port::FLAGS) & PORT_FLAG_PERSISTENT == 0 {
            return Err(AdminError::NotPersistent {
                name: t.name.clone(),
                pid,
            });
        }
        if pid != 0 {
            return Err(AdminError::Busy {
                name: t.name.clone(),
                pid,
            });
        }
        ports::destroy(domain, index);
        Ok(())
    })
}

/// `valectl -d valeS:P`: makes the port non-persistent; one nobody holds
/// goes now, one a process holds goes when that process closes it.
/// Returns true when the port was removed now.
pub fn detach(name: &str) -> Result<bool, AdminError> {
    let t = target(name)?;
    with_switch_locked(&t, false, |domain| {
        let index = existing_port(domain, &t)?;
        let e = domain.ctrl().port(index);
        e.set(port::FLAGS, e.get(port::FLAGS) & !PORT_FLAG_PERSISTENT);
        if e.get(port::OWNER_PID) == 0 {
            ports::destroy(domain, index);
            Ok(true)
        } else {
            Ok(false)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique_switch() -> String {
        netmap_testkit::names::unique_switch("adm")
    }

    fn small(switch: &str, port: &str) -> String {
        format!("{switch}:{port}@conf:slots=8")
    }

    #[test]
    fn read_only_requests_do_not_create_switches() {
        let switch = unique_switch();
        assert!(matches!(
            open_existing(&switch),
            Err(AdminError::NoSuchSwitch(s)) if s == switch
        ));
        assert!(!domain_names().contains(&switch));
        assert!(matches!(
            delete_persistent(&small(&switch, "x")),
            Err(AdminError::NoSuchSwitch(_))
        ));
        assert!(!domain_names().contains(&switch));
    }

    #[test]
    fn persistent_port_outlives_its_user_and_deletes_with_the_switch() {
        let switch = unique_switch();
        let index = create_persistent(&small(&switch, "p")).unwrap();
        assert!(matches!(
            create_persistent(&small(&switch, "p")),
            Err(AdminError::Exists(_))
        ));
        assert!(domain_names().contains(&switch));
        let domain = open_existing(&switch).unwrap();
        let info = describe(&domain).unwrap();
        assert_eq!(info.ports.len(), 1);
        let p = &info.ports[0];
        assert_eq!((p.index, p.name.as_str(), p.owner_pid), (index, "p", 0));
        assert!(p.persistent);
        assert_eq!(p.geometry.tx_slots, 8);
        {
            // A process opens and closes it: it stays, unbound.
            let user = crate::open(&format!("{switch}:p")).unwrap();
            let info = describe(&domain).unwrap();
            assert_eq!(info.ports[0].owner_pid, std::process::id());
            assert!(matches!(
                delete_persistent(&format!("{switch}:p")),
                Err(AdminError::Busy { .. })
            ));
            drop(user);
        }
        let info = describe(&domain).unwrap();
        assert_eq!(info.ports[0].owner_pid, 0);
        drop(domain);
        delete_persistent(&format!("{switch}:p")).unwrap();
        assert!(matches!(
            open_existing(&switch),
            Err(AdminError::NoSuchSwitch(_))
        ));
    }

    #[test]
    fn attach_marks_a_held_port_and_detach_lets_it_go_at_close() {
        let switch = unique_switch();
        let user = crate::open(&small(&switch, "a")).unwrap();
        let (_, created) = attach(&format!("{switch}:a")).unwrap();
        assert!(!created);
        assert!(!detach(&format!("{switch}:a")).unwrap());
        let domain = open_existing(&switch).unwrap();
        assert!(!describe(&domain).unwrap().ports[0].persistent);
        drop(domain);
        drop(user);
        assert!(matches!(
            open_existing(&switch),
            Err(AdminError::NoSuchSwitch(_))
        ));
        let (_, created) = attach(&small(&switch, "b")).unwrap();
        assert!(created);
        assert!(detach(&format!("{switch}:b")).unwrap());
        assert!(matches!(
            open_existing(&switch),
            Err(AdminError::NoSuchSwitch(_))
        ));
    }

    #[test]
    fn counters_mac_table_and_reset() {
        let switch = unique_switch();
        let mut a = crate::open(&small(&switch, "a")).unwrap();
        let b = crate::open(&small(&switch, "b")).unwrap();
        let mut frame = [0u8; 60];
        frame[..6].copy_from_slice(&[0xff; 6]);
        frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xa]);
        assert!(a.inject(&frame));
        a.txsync().unwrap();
        let domain = open_existing(&switch).unwrap();
        let macs = mac_table(&domain);
        assert_eq!(macs.len(), 1);
        assert_eq!(macs[0].mac, [2, 0, 0, 0, 0, 0xa]);
        assert_eq!(macs[0].port_name, "a");
        let info = describe(&domain).unwrap();
        let count = |port: &str, counter: &str| {
            info.ports
                .iter()
                .find(|p| p.name == port)
                .unwrap()
                .counters
                .iter()
                .find(|(n, _)| *n == counter)
                .unwrap()
                .1
        };
        assert_eq!(count("a", "tx_packets"), 1);
        assert_eq!(count("b", "rx_packets"), 1);
        assert_eq!(count("b", "rx_bytes"), 60);
        reset_counters(&domain);
        let info = describe(&domain).unwrap();
        assert!(info
            .ports
            .iter()
            .all(|p| p.counters.iter().all(|&(_, v)| v == 0)));
        assert!(info.counters.iter().all(|&(_, v)| v == 0));
        drop((a, b, domain));
    }

    #[test]
    fn names_that_cannot_be_persistent_are_refused() {
        assert!(matches!(
            create_persistent("vale0:"),
            Err(AdminError::Name { .. })
        ));
        assert!(matches!(
            create_persistent("netmap:eth0"),
            Err(AdminError::NotAVALEPort { .. })
        ));
        assert!(matches!(
            create_persistent("vale0:x{1"),
            Err(AdminError::NotAVALEPort { .. })
        ));
        // Suffixes a binding process would take are refused, not dropped.
        for name in [
            "vale0:c^",
            "vale0:c@1",
            "vale0:c/t",
            "vale0:c-3",
            "vale0:c/R",
            "vale0:c*",
        ] {
            assert!(
                matches!(
                    create_persistent(name),
                    Err(AdminError::NotAVALEPort { .. })
                ),
                "{name}"
            );
            assert!(
                matches!(
                    delete_persistent(name),
                    Err(AdminError::NotAVALEPort { .. })
                ),
                "{name}"
            );
        }
    }
}
