//! Creating, binding and releasing ports in a domain's port table.
//!
//! All of it runs under the domain lock. A port's rings, buffers and
//! netmap_if come from the domain's pools; releasing returns every buffer
//! found in its rings (whatever swaps happened) and its extra-buffer list,
//! so buffer conservation holds across opens, closes and kills.

use std::sync::atomic::Ordering;

use netmap_ring::abi::{IF_HEADER_SIZE, RING_OFS_ENTRY_SIZE};
use netmap_ring::view::{format_if, Direction, IfDescription, RingView};

use vale_offload::geometry::{PortGeometry, MAX_RINGS};
use vale_offload::placement::PortKind;

use crate::ctrl::{
    self, binding, kring, port, Dir, PortEntry, BINDING_ACTIVE, MAX_BINDINGS, MAX_ENTRIES,
    PORT_ACTIVE, PORT_CLOSING, PORT_FLAG_PERSISTENT, PORT_FREE,
};
use crate::domain::Domain;
use netmap_ring::lock::ShmLock;
use vale_offload::table::{EntryStore, MAX_PORTS};

/// Why a port could not be allocated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllocPortError {
    #[error("switch is full ({max} ports)")]
    SwitchFull { max: u32 },
    #[error("port table of this memory is full ({max} entries)")]
    TableFull { max: u32 },
    #[error("{0}")]
    Memory(#[from] netmap_ring::region::AllocError),
}

/// Entry index of the port named `name`, if any.
pub fn find(domain: &Domain, name: &str) -> Option<u32> {
    let ctrl = domain.ctrl();
    (0..MAX_ENTRIES).find(|&i| {
        let e = ctrl.port(i);
        e.state() == PORT_ACTIVE && e.name() == name
    })
}

/// Allocates a port entry with its rings and buffers (not bound to any
/// process yet). VALE ports get an index below [`MAX_PORTS`] and join the
/// switch's flood set.
pub fn create(
    domain: &Domain,
    name: &str,
    kind: PortKind,
    geometry: PortGeometry,
) -> Result<u32, AllocPortError> {
    let ctrl = domain.ctrl();
    let limit = if kind == PortKind::Vale {
        u32::from(MAX_PORTS)
    } else {
        MAX_ENTRIES
    };
    let Some(index) = (0..limit).find(|&i| ctrl.port(i).state() == PORT_FREE) else {
        return Err(if kind == PortKind::Vale {
            AllocPortError::SwitchFull {
                max: u32::from(MAX_PORTS),
            }
        } else {
            AllocPortError::TableFull { max: MAX_ENTRIES }
        });
    };
    let memory = domain.memory();
    let total_rings = geometry.tx_rings + geometry.rx_rings;
    let mut rings = Vec::new();
    let mut bufs = Vec::new();
    let undo = |rings: &[usize], bufs: &[u32]| {
        for &r in rings {
            memory.free_ring(r);
        }
        memory.release_buffers(bufs.iter().copied());
    };
    for (dir, count, slots) in [
        (Dir::Tx, geometry.tx_rings, geometry.tx_slots),
        (Dir::Rx, geometry.rx_rings, geometry.rx_slots),
    ] {
        let got = match memory.alloc_rings(count, slots) {
            Ok(got) => got,
            Err(e) => {
                undo(&rings, &bufs);
                return Err(e.into());
            }
        };
        netmap_ring::crash_point!("ports::create:rings_taken");
        rings.extend_from_slice(&got);
        for (r, &ring_off) in got.iter().enumerate() {
            let start = bufs.len();
            if let Err(e) = memory.alloc_buffers(slots, &mut bufs) {
                undo(&rings, &bufs);
                return Err(e.into());
            }
            netmap_ring::crash_point!("ports::create:buffers_taken");
            let (direction, tail) = match dir {
                // A fresh TX ring offers every slot but one; RX is empty.
                Dir::Tx => (Direction::Tx, slots - 1),
                Dir::Rx => (Direction::Rx, 0),
            };
            let buf_ofs = memory.layout().buf_off as i64 - ring_off as i64;
            RingView::format(
                memory.region(),
                ring_off,
                &bufs[start..],
                r as u16,
                direction,
                memory.buf_size(),
                buf_ofs,
                tail,
            )
            .expect("ring objects fit their pool");
            let k = ctrl.kring(index, dir, r as u32);
            k.clear();
            k.set_ring_off(ring_off);
            k.field(ctrl::kring::NUM_SLOTS)
                .store(slots, Ordering::Release);
            k.field(ctrl::kring::HWCUR).store(0, Ordering::Release);
            k.field(ctrl::kring::HWTAIL).store(tail, Ordering::Release);
            k.field(ctrl::kring::REPORTED_TAIL)
                .store(tail, Ordering::Release);
            netmap_ring::crash_point!("ports::create:kring_set");
        }
    }
    let _ = total_rings;
    let e = ctrl.port(index);
    let generation = e.get(port::GENERATION).wrapping_add(1);
    e.clear();
    e.set(port::KIND, kind as u32);
    e.set(port::GENERATION, generation);
    e.set(port::PEER, u32::MAX);
    e.set(port::TX_RINGS, geometry.tx_rings);
    e.set(port::RX_RINGS, geometry.rx_rings);
    e.set(port::TX_SLOTS, geometry.tx_slots);
    e.set(port::RX_SLOTS, geometry.rx_slots);
    e.set_name(name);
    netmap_ring::crash_point!("ports::create:entry_named");
    e.set(port::STATE, PORT_ACTIVE);
    netmap_ring::crash_point!("ports::create:active");
    ctrl.u32_at(ctrl::dom::ENTRIES_IN_USE)
        .fetch_add(1, Ordering::AcqRel);
    netmap_ring::crash_point!("ports::create:counted");
    ctrl.u32_at(ctrl::dom::GENERATION)
        .fetch_add(1, Ordering::AcqRel);
    if kind == PortKind::Vale {
        ctrl.vale_bitmap(index as usize / 64)
            .fetch_or(1 << (index % 64), Ordering::AcqRel);
    }
    Ok(index)
}

/// Geometry of an allocated entry.
pub fn geometry_of(e: &PortEntry<'_>) -> PortGeometry {
    PortGeometry {
        tx_rings: e.get(port::TX_RINGS),
        rx_rings: e.get(port::RX_RINGS),
        tx_slots: e.get(port::TX_SLOTS),
        rx_slots: e.get(port::RX_SLOTS),
    }
}

/// Why rings could not be bound.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindError {
    #[error("rings already bound by process {owner}")]
    Busy { owner: u32 },
    #[error("{0}")]
    Alloc(#[from] AllocPortError),
}

/// The pid of a binding of port `index` that conflicts with a request for
/// `tx_mask`/`rx_mask` (overlapping rings, or an exclusive side), if any.
pub fn conflicting_owner(
    domain: &Domain,
    index: u32,
    tx_mask: u32,
    rx_mask: u32,
    exclusive: bool,
) -> Option<u32> {
    let ctrl = domain.ctrl();
    (0..MAX_BINDINGS)
        .map(|b| ctrl.binding(b))
        .filter(|b| b.is_active() && b.get(binding::PORT) == index)
        .find(|b| {
            exclusive
                || b.get(binding::EXCLUSIVE) != 0
                || b.get(binding::TX_MASK) & tx_mask != 0
                || b.get(binding::RX_MASK) & rx_mask != 0
        })
        .map(|b| b.get(binding::PID))
}

/// Binds rings `tx_mask`/`rx_mask` of entry `index` to process `pid`: a
/// new binding with a fresh netmap_if listing those rings and, with
/// `extra_bufs`, an extra-buffer list. Several bindings may share a port
/// when their rings differ, as in netmap. Returns the binding index and
/// the netmap_if offset.
#[allow(clippy::too_many_arguments)]
pub fn bind(
    domain: &Domain,
    index: u32,
    pid: u32,
    tx_mask: u32,
    rx_mask: u32,
    exclusive: bool,
    extra_bufs: u32,
    if_name: &str,
) -> Result<(u32, usize), BindError> {
    if let Some(owner) = conflicting_owner(domain, index, tx_mask, rx_mask, exclusive) {
        return Err(BindError::Busy { owner });
    }
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let Some(slot) = (0..MAX_BINDINGS).find(|&b| !ctrl.binding(b).is_active()) else {
        return Err(AllocPortError::TableFull { max: MAX_BINDINGS }.into());
    };
    let e = ctrl.port(index);
    let g = geometry_of(&e);
    let if_off = memory.alloc_if().map_err(AllocPortError::from)?;
    netmap_ring::crash_point!("ports::bind:if_taken");
    let bufs_head = match memory.alloc_extra_list(extra_bufs) {
        Ok(head) => head,
        Err(err) => {
            memory.free_if(if_off);
            return Err(AllocPortError::from(err).into());
        }
    };
    netmap_ring::crash_point!("ports::bind:extra_taken");
    let mut rings = Vec::new();
    for r in 0..g.tx_rings {
        rings.push((tx_mask >> r & 1 == 1).then(|| ctrl.kring(index, Dir::Tx, r).ring_off()));
    }
    for r in 0..g.rx_rings {
        rings.push((rx_mask >> r & 1 == 1).then(|| ctrl.kring(index, Dir::Rx, r).ring_off()));
    }
    debug_assert!(
        IF_HEADER_SIZE + RING_OFS_ENTRY_SIZE * rings.len()
            <= memory.layout().config.if_object_size as usize
    );
    let description = IfDescription {
        name: if_name.to_owned(),
        tx_rings: g.tx_rings,
        rx_rings: g.rx_rings,
        bufs_head,
        rings,
        ..Default::default()
    };
    format_if(memory.region(), if_off, &description).expect("if objects fit their pool");
    let b = ctrl.binding(slot);
    b.clear();
    b.set(binding::PORT, index);
    b.set(binding::PID, pid);
    b.set(binding::TX_MASK, tx_mask);
    b.set(binding::RX_MASK, rx_mask);
    b.set(binding::EXCLUSIVE, u32::from(exclusive));
    b.set_if_off(if_off);
    // A new generation: wake-up FIFOs that senders cached for an earlier
    // binding in this slot are reopened.
    b.set(
        binding::GENERATION,
        b.get(binding::GENERATION).wrapping_add(1),
    );
    b.set(binding::STATE, BINDING_ACTIVE);
    netmap_ring::crash_point!("ports::bind:binding_active");
    set_ring_owners(domain, index, tx_mask, rx_mask, slot + 1);
    netmap_ring::crash_point!("ports::bind:owners_set");
    e.field(port::BOUND_TX).fetch_or(tx_mask, Ordering::AcqRel);
    e.field(port::BOUND_RX).fetch_or(rx_mask, Ordering::AcqRel);
    e.field(port::BINDINGS).fetch_add(1, Ordering::AcqRel);
    e.set(port::OWNER_PID, pid);
    Ok((slot, if_off))
}

fn set_ring_owners(domain: &Domain, index: u32, tx_mask: u32, rx_mask: u32, owner: u32) {
    let ctrl = domain.ctrl();
    for (dir, mask) in [(Dir::Tx, tx_mask), (Dir::Rx, rx_mask)] {
        for r in (0..MAX_RINGS).filter(|r| mask >> r & 1 == 1) {
            ctrl.kring(index, dir, r)
                .field(kring::OWNER)
                .store(owner, Ordering::Release);
        }
    }
}

/// Undoes [`bind`]: frees the netmap_if and the extra buffers the
/// application left listed in `ni_bufs_head`, and gives the rings back to
/// the port. Returns the port's entry index.
pub fn unbind(domain: &Domain, slot: u32) -> u32 {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let b = ctrl.binding(slot);
    let index = b.get(binding::PORT);
    let if_off = b.if_off();
    if if_off != 0 {
        if let Ok(head) = netmap_ring::view::if_bufs_head(memory.region(), if_off) {
            let (list, _clean) = memory.walk_extra_list(head, memory.num_bufs());
            // Buffers the application listed that are already elsewhere
            // (in a ring) would be freed twice: keep only those not in any
            // ring of this domain.
            let in_rings: std::collections::HashSet<u32> = buffers_in_rings(domain).collect();
            memory.release_buffers(list.into_iter().filter(|b| !in_rings.contains(b)));
            netmap_ring::crash_point!("ports::unbind:extra_released");
        }
        memory.free_if(if_off);
        netmap_ring::crash_point!("ports::unbind:if_freed");
    }
    let (tx_mask, rx_mask) = (b.get(binding::TX_MASK), b.get(binding::RX_MASK));
    set_ring_owners(domain, index, tx_mask, rx_mask, 0);
    netmap_ring::crash_point!("ports::unbind:owners_cleared");
    b.clear();
    netmap_ring::crash_point!("ports::unbind:binding_cleared");
    recount_bindings(domain, index);
    index
}

/// Sets entry `index`'s binding count, bound rings and owner from the
/// binding table, which is what says who holds it. Counting up and down
/// instead would go wrong after a process died between making a binding
/// active and counting it: its reclaim would take the count below zero.
fn recount_bindings(domain: &Domain, index: u32) {
    let ctrl = domain.ctrl();
    let (mut count, mut tx, mut rx, mut owner) = (0, 0, 0, 0);
    for b in (0..MAX_BINDINGS).map(|s| ctrl.binding(s)) {
        if b.is_active() && b.get(binding::PORT) == index {
            count += 1;
            tx |= b.get(binding::TX_MASK);
            rx |= b.get(binding::RX_MASK);
            owner = b.get(binding::PID);
        }
    }
    let e = ctrl.port(index);
    e.set(port::BOUND_TX, tx);
    e.set(port::BOUND_RX, rx);
    e.set(port::BINDINGS, count);
    // OWNER_PID names a process that holds the port, 0 when none does.
    e.set(port::OWNER_PID, owner);
}

/// Frees entry `index`: detaches it from the switch, waits out senders that
/// are copying into it, then returns its rings and buffers.
///
/// Runs under the domain lock. A process killed in here leaves the entry
/// `PORT_CLOSING`; since the domain lock is taken over only from a dead
/// holder, the next holder that finds such an entry knows its destroyer
/// died, and [`reclaim_dead`] finishes the job from where it stopped:
/// every step below is either done whole or can be done again.
pub fn destroy(domain: &Domain, index: u32) {
    let e = domain.ctrl().port(index);
    if e.state() != PORT_ACTIVE {
        return;
    }
    e.set(port::STATE, PORT_CLOSING);
    netmap_ring::crash_point!("ports::destroy:closing");
    finish_destroy(domain, index);
}

/// The part of [`destroy`] after the entry is marked closing.
fn finish_destroy(domain: &Domain, index: u32) {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let e = ctrl.port(index);
    crate::monitor::forget(domain, index);
    ctrl.vale_bitmap(index as usize / 64)
        .fetch_and(!(1 << (index % 64)), Ordering::AcqRel);
    if e.kind() == Some(PortKind::Vale) {
        forget_port_in_table(domain, index as u8);
    }
    netmap_ring::crash_point!("ports::destroy:detached");
    let g = geometry_of(&e);
    for (dir, count) in [(Dir::Tx, g.tx_rings), (Dir::Rx, g.rx_rings)] {
        for r in 0..count.min(MAX_RINGS) {
            let k = ctrl.kring(index, dir, r);
            if k.num_slots() == 0 {
                continue; // freed before the destroyer died
            }
            // A sender holds the RX kring lock while it copies; taking it
            // once means none is left inside.
            drop(ShmLock::new(k.lock_word()).lock());
            let ring_off = k.ring_off();
            let held: Vec<u32> = RingView::new(memory.region(), ring_off, k.num_slots())
                .map(|view| {
                    (0..view.num_slots())
                        .map(|s| view.slot(s).buf_idx)
                        .collect()
                })
                .unwrap_or_default();
            // Forget the ring first: killed past this point, the ring and
            // its buffers leak, but are never given out twice.
            k.clear();
            netmap_ring::crash_point!("ports::destroy:ring_forgotten");
            memory.release_buffers(held);
            netmap_ring::crash_point!("ports::destroy:buffers_released");
            memory.free_ring(ring_off);
        }
    }
    e.set(port::PEER, u32::MAX);
    e.set(port::KIND, 0);
    e.set(port::STATE, PORT_FREE);
    netmap_ring::crash_point!("ports::destroy:freed");
    ctrl.u32_at(ctrl::dom::ENTRIES_IN_USE)
        .fetch_sub(1, Ordering::AcqRel);
    ctrl.u32_at(ctrl::dom::GENERATION)
        .fetch_add(1, Ordering::AcqRel);
}

/// Removes MAC table entries that point to a port being freed, so a later
/// port reusing the index does not receive its traffic.
fn forget_port_in_table(domain: &Domain, port_index: u8) {
    let table = domain.table();
    let geometry = table.geometry();
    let stale: Vec<usize> = table
        .entries()
        .filter(|p| p.port == port_index)
        .map(|p| geometry.index(p.row, p.way))
        .collect();
    for index in stale {
        table.store().store(index, 0);
    }
}

/// Releases binding `slot`, then the port if nothing keeps it (see
/// [`release_port`]). Returns true when the domain became empty and was
/// destroyed.
pub fn release_binding(domain: &Domain, slot: u32) -> bool {
    if !domain.ctrl().binding(slot).is_active() {
        return false;
    }
    let index = unbind(domain, slot);
    release_port(domain, index)
}

/// Frees entry `index` (and a pipe's peer) when no binding holds it and
/// nothing else keeps it (a persistent VALE port, a pipe whose other end is
/// bound). Returns true when the domain became empty and was destroyed.
pub fn release_port(domain: &Domain, index: u32) -> bool {
    free_unheld(domain, index);
    destroy_if_empty(domain)
}

/// The entry part of [`release_port`]; leaves the domain alone.
fn free_unheld(domain: &Domain, index: u32) {
    let ctrl = domain.ctrl();
    let e = ctrl.port(index);
    if e.state() != PORT_ACTIVE || e.get(port::BINDINGS) != 0 {
        return;
    }
    match e.kind() {
        Some(PortKind::Vale) => {
            if e.get(port::FLAGS) & PORT_FLAG_PERSISTENT == 0 {
                destroy(domain, index);
            }
        }
        Some(PortKind::PipeMaster | PortKind::PipeSlave) => {
            let peer = e.get(port::PEER);
            let peer_bound = peer < MAX_ENTRIES && ctrl.port(peer).get(port::BINDINGS) != 0;
            if !peer_bound {
                destroy(domain, index);
                if peer < MAX_ENTRIES {
                    destroy(domain, peer);
                }
            }
        }
        None => destroy(domain, index),
    }
}

/// Destroys the domain if no entry is in use; returns whether it did.
pub fn destroy_if_empty(domain: &Domain) -> bool {
    if domain
        .ctrl()
        .u32_at(ctrl::dom::ENTRIES_IN_USE)
        .load(Ordering::Acquire)
        == 0
    {
        domain.destroy_locked();
        true
    } else {
        false
    }
}

/// Releases every binding whose process has died, finishes the port
/// destructions of processes that died inside one, and frees entries no
/// binding holds that nothing keeps (their opener or closer died between
/// two steps). Runs under the domain lock. Returns how many bindings it
/// released.
///
/// It never destroys the domain, even when it leaves it empty: the caller
/// may be about to add a port (an opener that destroyed the domain it had
/// just joined would bind into unlinked memory that no later opener
/// sees). Callers that add nothing end with [`destroy_if_empty`].
pub fn reclaim_dead(domain: &Domain) -> u32 {
    let ctrl = domain.ctrl();
    let mut reclaimed = 0;
    for slot in 0..MAX_BINDINGS {
        let b = ctrl.binding(slot);
        if !b.is_active() {
            continue;
        }
        let pid = b.get(binding::PID);
        if !netmap_ring::lock::task_alive(pid) {
            let index = b.get(binding::PORT);
            tracing_dead(domain, &ctrl.port(index), pid);
            let _ = std::fs::remove_file(domain.wake_path(slot));
            netmap_ring::crash_point!("ports::reclaim:fifo_removed");
            unbind(domain, slot);
            netmap_ring::crash_point!("ports::reclaim:unbound");
            free_unheld(domain, index);
            reclaimed += 1;
        }
    }
    for index in 0..MAX_ENTRIES {
        match ctrl.port(index).state() {
            // We hold the domain lock, so whoever marked it closing died.
            PORT_CLOSING => finish_destroy(domain, index),
            PORT_ACTIVE => free_unheld(domain, index),
            _ => {}
        }
    }
    if ctrl.u32_at(ctrl::dom::REPAIR).swap(0, Ordering::AcqRel) != 0 {
        repair_pools(domain);
    }
    reclaimed
}

/// After a process died holding the domain lock: whatever it had taken
/// from the pools but not yet recorded (a port being created or bound) or
/// given back twice is set right by rebuilding the free stacks from what
/// the port table holds, and the count of entries in use is recounted.
fn repair_pools(domain: &Domain) {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let mut in_use = 0;
    let mut rings = Vec::new();
    for index in 0..MAX_ENTRIES {
        let e = ctrl.port(index);
        if e.state() == PORT_FREE {
            // A creation that never finished: its krings name nothing now.
            for dir in [Dir::Tx, Dir::Rx] {
                for r in 0..MAX_RINGS {
                    ctrl.kring(index, dir, r).clear();
                }
            }
            continue;
        }
        in_use += 1;
        recount_bindings(domain, index);
        let g = geometry_of(&e);
        for (dir, count) in [(Dir::Tx, g.tx_rings), (Dir::Rx, g.rx_rings)] {
            for r in 0..count.min(MAX_RINGS) {
                let k = ctrl.kring(index, dir, r);
                if k.num_slots() != 0 {
                    rings.push(k.ring_off());
                }
            }
        }
    }
    ctrl.u32_at(ctrl::dom::ENTRIES_IN_USE)
        .store(in_use, Ordering::Release);
    netmap_ring::crash_point!("ports::repair:recounted");
    let ifs: Vec<usize> = (0..MAX_BINDINGS)
        .map(|s| ctrl.binding(s))
        .filter(|b| b.is_active() && b.if_off() != 0)
        .map(|b| b.if_off())
        .collect();
    let bufs: Vec<u32> = buffers_in_rings(domain)
        .chain(buffers_in_extra_lists(domain))
        .collect();
    let changed = memory.rebuild_free_stacks(bufs, rings, ifs);
    netmap_ring::crash_point!("ports::repair:rebuilt");
    if std::env::var_os("NETMAP_RS_DEBUG").is_some() {
        eprintln!(
            "netmap-rs: {}: repaired after a dead lock holder (free buffers, rings, ifs moved by {changed:?})",
            domain.name()
        );
    }
}

fn tracing_dead(domain: &Domain, e: &PortEntry<'_>, pid: u32) {
    if std::env::var_os("NETMAP_RS_DEBUG").is_some() {
        eprintln!(
            "netmap-rs: {}: reclaiming port {} of dead process {pid}",
            domain.name(),
            e.name()
        );
    }
}

/// Every buffer index held by a slot of any ring of the domain.
pub fn buffers_in_rings(domain: &Domain) -> impl Iterator<Item = u32> + '_ {
    let ctrl = domain.ctrl();
    let region = domain.memory().region();
    (0..MAX_ENTRIES)
        .filter(move |&i| ctrl.port(i).state() == PORT_ACTIVE)
        .flat_map(move |i| {
            let g = geometry_of(&ctrl.port(i));
            (0..g.tx_rings)
                .map(move |r| ctrl.kring(i, Dir::Tx, r))
                .chain((0..g.rx_rings).map(move |r| ctrl.kring(i, Dir::Rx, r)))
        })
        .flat_map(move |k| {
            let view = RingView::new(region, k.ring_off(), k.num_slots()).ok();
            view.into_iter()
                .flat_map(|v| (0..v.num_slots()).map(move |s| v.slot(s).buf_idx))
        })
}

/// Every buffer held in the extra-buffer lists of the bindings.
pub fn buffers_in_extra_lists(domain: &Domain) -> Vec<u32> {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let mut out = Vec::new();
    for slot in 0..MAX_BINDINGS {
        let b = ctrl.binding(slot);
        if b.is_active() && b.if_off() != 0 {
            if let Ok(head) = netmap_ring::view::if_bufs_head(memory.region(), b.if_off()) {
                out.extend(memory.walk_extra_list(head, memory.num_bufs()).0);
            }
        }
    }
    out
}

/// Checks buffer conservation of the whole domain: every buffer is free,
/// in exactly one ring slot, or in one extra-buffer list.
pub fn check_conservation(domain: &Domain) -> Result<(), netmap_ring::region::ConservationError> {
    let _guard = domain.lock();
    let in_use: Vec<u32> = buffers_in_rings(domain)
        .chain(buffers_in_extra_lists(domain))
        .collect();
    domain.memory().check_conservation(in_use)
}
