//! Monitor ports (`PORT/r`, `PORT/t`, `PORT/rt`): copies of what a VALE
//! port or pipe end receives and transmits, as netmap's copy monitors.
//!
//! A monitor is an entry of the monitored port's domain with RX rings only
//! (as many as the monitored port has rings in either direction); monitor
//! RX ring `i` gets copies of the monitored port's TX ring `i` (`/t`,
//! flagged `NS_TXMON`) and RX ring `i` (`/r`). The data paths call
//! [`copy`] once per direction after they fill or take slots; it costs
//! one load when nobody watches.
//!
//! A copy never slows or blocks the monitored port: what does not fit in
//! the monitor's ring is dropped and counted on the monitor
//! (`rx_drop_full`). Several monitors may watch one port. When the
//! monitored port is freed, its monitors are orphaned: their syncs hand
//! over what they hold, then fail with `SyncError::Gone`.
//!
//! The shared state, all in the control area:
//! - the monitored entry: [`port::MONITORS`], a bitmap of the entries that
//!   watch it, and [`port::MONITOR_DIRS`], the directions any of them
//!   watches (the data path's one load);
//! - the monitor entry: kind [`KIND_MONITOR`], [`port::MONITOR_OF`] (the
//!   monitored entry, [`NOT_MONITORING`] once orphaned) and its directions
//!   in [`port::FLAGS`].

use std::sync::atomic::Ordering;

use netmap_ring::abi::{NS_MOREFRAG, NS_TXMON};
use netmap_ring::lock::{ShmLock, ShmLockGuard};
use netmap_ring::name::PortName;
use netmap_ring::port::{PortError, SyncError};
use netmap_ring::ring;
use netmap_ring::view::RingView;

use vale_offload::counters::PortCounter;
use vale_offload::geometry::PortGeometry;
use vale_offload::placement::PortKind;

use crate::collect::payload_offset;
use crate::ctrl::{kring, port, Dir, Kring, PortEntry, MAX_ENTRIES, PORT_ACTIVE};
use crate::domain::Domain;
use crate::forward::kick_ring;
use crate::ports::{self, geometry_of};

/// `port::KIND` of a monitor entry: no switch or pipe kind, so the
/// forwarding paths never deliver to it as a port.
pub const KIND_MONITOR: u32 = 0x10;
/// `port::MONITOR_OF` of a monitor whose port was freed.
pub const NOT_MONITORING: u32 = u32::MAX;
/// Direction bits of a monitor's `port::FLAGS`, and of the monitored
/// port's `port::MONITOR_DIRS` for its copy monitors.
pub const WATCH_TX: u32 = 1 << 1;
pub const WATCH_RX: u32 = 1 << 2;
/// A monitor's `port::FLAGS`: zero-copy (`/z`, see `zmon`).
pub const ZERO_COPY: u32 = 1 << 3;
/// `port::MONITOR_DIRS` bits of a zero-copy monitor's directions.
pub const ZWATCH_TX: u32 = 1 << 4;
pub const ZWATCH_RX: u32 = 1 << 5;

/// Longest chain a monitor copies (netmap's VALE limit).
const MAX_CHAIN: u32 = 64;

fn dir_bit(dir: Dir) -> u32 {
    match dir {
        Dir::Tx => WATCH_TX,
        Dir::Rx => WATCH_RX,
    }
}

/// True when entry `index` is a monitor.
pub fn is_monitor(e: &PortEntry<'_>) -> bool {
    e.get(port::KIND) == KIND_MONITOR
}

/// The monitor entries watching `e`.
pub(crate) fn monitors_of<'a>(e: &PortEntry<'a>) -> impl Iterator<Item = u32> + 'a {
    let e = *e;
    (0..4usize).flat_map(move |w| {
        let mut word = e.field64(port::MONITORS + 8 * w).load(Ordering::Acquire);
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros();
                word &= word - 1;
                (w * 64) as u32 + bit
            })
        })
    })
}

/// Recomputes `MONITOR_DIRS` of `e` from its monitors' directions.
fn recount_dirs(domain: &Domain, e: &PortEntry<'_>) {
    let ctrl = domain.ctrl();
    let dirs = monitors_of(e).fold(0, |acc, m| {
        let flags = ctrl.port(m).get(port::FLAGS);
        let dirs = flags & (WATCH_TX | WATCH_RX);
        // The zero-copy bits sit two places above the copy bits.
        acc | if flags & ZERO_COPY != 0 {
            dirs << 3
        } else {
            dirs
        }
    });
    e.set(port::MONITOR_DIRS, dirs);
}

/// Creates a monitor entry for `name` (whose flags ask for `/t`, `/r` or
/// both) watching the port `entry` of `domain`. Runs under the domain lock.
pub fn create(domain: &Domain, entry: &str, name: &PortName) -> Result<u32, PortError> {
    let ctrl = domain.ctrl();
    let Some(watched) = ports::find(domain, entry) else {
        // netmap's ENXIO: nothing to monitor.
        return Err(PortError::Io {
            name: name.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no port {entry} in {} to monitor", domain.name()),
            ),
        });
    };
    let w = ctrl.port(watched);
    if is_monitor(&w) {
        return Err(PortError::Config {
            name: name.to_string(),
            why: "a monitor cannot be monitored".into(),
        });
    }
    if name.flags.zero_copy_monitor {
        crate::zmon::check_request(domain, &w, name)?;
    }
    let g = geometry_of(&w);
    let rings = g.tx_rings.max(g.rx_rings);
    // The copies arrive at the monitored port's rate: give the monitor as
    // many slots as its largest ring. Its one TX ring is never bound.
    let geometry = PortGeometry {
        tx_rings: 1,
        rx_rings: rings,
        tx_slots: 2,
        rx_slots: g.tx_slots.max(g.rx_slots),
    };
    let mon_name = format!("{entry}/{}", monitor_suffix(name));
    // Created as a pipe end: any entry index, outside the switch's flood
    // set; the kind changes to a monitor's before anyone can reach it.
    let index = ports::create(domain, &mon_name, PortKind::PipeMaster, geometry).map_err(|e| {
        PortError::NoMemory {
            name: name.to_string(),
            why: e.to_string(),
        }
    })?;
    let m = ctrl.port(index);
    m.set(port::KIND, KIND_MONITOR);
    let mut dirs = 0;
    if name.flags.monitor_tx {
        dirs |= WATCH_TX;
    }
    if name.flags.monitor_rx {
        dirs |= WATCH_RX;
    }
    if name.flags.zero_copy_monitor {
        dirs |= ZERO_COPY;
    }
    m.set(port::FLAGS, dirs);
    m.set(port::MONITOR_OF, watched);
    w.field64(port::MONITORS + 8 * (index as usize / 64))
        .fetch_or(1 << (index % 64), Ordering::AcqRel);
    recount_dirs(domain, &w);
    Ok(index)
}

fn monitor_suffix(name: &PortName) -> &'static str {
    match (
        name.flags.zero_copy_monitor,
        name.flags.monitor_rx,
        name.flags.monitor_tx,
    ) {
        (false, true, true) => "rt",
        (false, true, false) => "r",
        (false, _, _) => "t",
        (true, true, true) => "zrt",
        (true, true, false) => "zr",
        (true, _, _) => "zt",
    }
}

/// Entry `index` is being freed (under the domain lock): a monitor leaves
/// its port's bitmap; a monitored port orphans its monitors and wakes them
/// so that a waiting reader sees the end.
pub fn forget(domain: &Domain, index: u32) {
    let ctrl = domain.ctrl();
    let e = ctrl.port(index);
    if is_monitor(&e) {
        let watched = e.get(port::MONITOR_OF);
        e.set(port::MONITOR_OF, NOT_MONITORING);
        if watched < MAX_ENTRIES {
            let w = ctrl.port(watched);
            w.field64(port::MONITORS + 8 * (index as usize / 64))
                .fetch_and(!(1 << (index % 64)), Ordering::AcqRel);
            recount_dirs(domain, &w);
        }
        return;
    }
    let monitors: Vec<u32> = monitors_of(&e).collect();
    for w in 0..4 {
        e.field64(port::MONITORS + 8 * w)
            .store(0, Ordering::Release);
    }
    e.set(port::MONITOR_DIRS, 0);
    for m in monitors {
        let me = ctrl.port(m);
        if me.get(port::MONITOR_OF) == index {
            me.set(port::MONITOR_OF, NOT_MONITORING);
            for r in 0..geometry_of(&me).rx_rings {
                kick_ring(domain, m, Dir::Rx, r);
            }
        }
    }
}

/// For a monitor's sync of ring `ring_id`: fails once its port is gone
/// and the ring holds nothing more to read, so a reader sees every copy.
pub fn check_watched(domain: &Domain, index: u32, ring_id: u32) -> Result<(), SyncError> {
    let ctrl = domain.ctrl();
    let e = ctrl.port(index);
    if !is_monitor(&e) || e.get(port::MONITOR_OF) != NOT_MONITORING {
        return Ok(());
    }
    let k = ctrl.kring(index, Dir::Rx, ring_id);
    if let Ok(view) = RingView::new(domain.memory().region(), k.ring_off(), k.num_slots()) {
        if view.head() != k.field(kring::HWTAIL).load(Ordering::Acquire) {
            return Ok(());
        }
    }
    Err(SyncError::Gone(format!(
        "the port monitored by {} of {} was closed",
        e.name(),
        domain.name()
    )))
}

/// Whether copy monitors of `watched` watch direction `dir` (one load).
#[inline]
pub fn watches(domain: &Domain, watched: u32, dir: Dir) -> bool {
    domain.ctrl().port(watched).get(port::MONITOR_DIRS) & dir_bit(dir) != 0
}

/// Copies the frames in slots `from..to` of `ring` (ring `ring_id` of
/// direction `dir` of port `watched`) into the monitors of `watched` that
/// watch `dir`. The slots must be valid and stable for the call (the
/// caller holds the ring). One load when nobody watches.
#[inline]
pub fn copy(
    domain: &Domain,
    watched: u32,
    dir: Dir,
    ring_id: u32,
    ring: &RingView<'_>,
    from: u32,
    to: u32,
) {
    let e = domain.ctrl().port(watched);
    if e.get(port::MONITOR_DIRS) & dir_bit(dir) == 0 || from == to {
        return;
    }
    copy_slow(domain, &e, dir, ring_id, ring, from, to);
}

/// After a VALE txsync transmitted slots `from..to` of TX ring `ring_id`
/// of `watched` (still the engine's): the copy monitors get copies, then
/// a zero-copy monitor gets the buffers (`zmon`). One load when nobody
/// watches.
#[inline]
pub fn transmitted(
    domain: &Domain,
    watched: u32,
    ring_id: u32,
    ring: &RingView<'_>,
    from: u32,
    to: u32,
) {
    let e = domain.ctrl().port(watched);
    let dirs = e.get(port::MONITOR_DIRS);
    if dirs & (WATCH_TX | ZWATCH_TX) == 0 || from == to {
        return;
    }
    if dirs & WATCH_TX != 0 {
        copy_slow(domain, &e, Dir::Tx, ring_id, ring, from, to);
    }
    if dirs & ZWATCH_TX != 0 {
        crate::zmon::hand_over(domain, &e, Dir::Tx, ring_id, ring, from, to);
    }
}

/// In an rxsync, before the slots `from..to` that the application
/// released go back to the senders: a zero-copy monitor of `watched`
/// takes their buffers (`zmon`). One load when nobody watches.
#[inline]
pub fn released(
    domain: &Domain,
    watched: u32,
    ring_id: u32,
    ring: &RingView<'_>,
    from: u32,
    to: u32,
) {
    let e = domain.ctrl().port(watched);
    if e.get(port::MONITOR_DIRS) & ZWATCH_RX == 0 || from == to {
        return;
    }
    crate::zmon::hand_over(domain, &e, Dir::Rx, ring_id, ring, from, to);
}

#[inline(never)]
fn copy_slow(
    domain: &Domain,
    e: &PortEntry<'_>,
    dir: Dir,
    ring_id: u32,
    ring: &RingView<'_>,
    from: u32,
    to: u32,
) {
    let ctrl = domain.ctrl();
    for m in takers(domain, e, dir, ring_id, false) {
        if copy_into(domain, &ctrl.port(m), e.index, dir, ring_id, ring, from, to) {
            kick_ring(domain, m, Dir::Rx, ring_id);
        }
    }
}

/// The monitors of `e` that take the frames of its ring `ring_id` in
/// direction `dir`: the copying ones or the zero-copy ones. Only rings the
/// monitor's reader has bound take frames (`/r` of one ring binds one).
pub(crate) fn takers<'a>(
    domain: &'a Domain,
    e: &PortEntry<'a>,
    dir: Dir,
    ring_id: u32,
    zero_copy: bool,
) -> impl Iterator<Item = u32> + 'a {
    let ctrl = domain.ctrl();
    monitors_of(e).filter(move |&m| {
        let me = ctrl.port(m);
        let flags = me.get(port::FLAGS);
        flags & dir_bit(dir) != 0
            && (flags & ZERO_COPY != 0) == zero_copy
            && ring_id < me.get(port::RX_RINGS)
            && me.get(port::BOUND_RX) >> ring_id & 1 != 0
    })
}

/// RX ring `ring_id` of a monitor, under its lock, with the kernel side's
/// indexes as the lock found them.
pub(crate) struct LockedRx<'a> {
    _guard: ShmLockGuard<'a>,
    pub kring: Kring<'a>,
    pub view: RingView<'a>,
    pub hwcur: u32,
    pub hwtail: u32,
}

impl LockedRx<'_> {
    /// Slots the monitor's reader has released and nobody filled yet.
    pub(crate) fn free(&self) -> u32 {
        let n = self.view.num_slots();
        (self.hwcur + n - self.hwtail - 1) % n
    }

    /// Publishes slots up to `hwtail`, counting `packets` frames of `bytes`
    /// and the frames dropped for a full ring or a bad buffer.
    pub(crate) fn publish(&self, me: &PortEntry<'_>, hwtail: u32, counts: TakeCounts) {
        // Release: the slots filled become visible to the monitor's Acquire
        // load of hwtail in rxsync.
        self.kring
            .field(kring::HWTAIL)
            .store(hwtail, Ordering::Release);
        me.add(PortCounter::RxPackets, counts.packets);
        me.add(PortCounter::RxBytes, counts.bytes);
        me.add(PortCounter::RxDropFull, counts.full);
        me.add(PortCounter::RxDropBadBuf, counts.bad);
    }
}

/// What one hand-over to a monitor did.
#[derive(Default, Clone, Copy)]
pub(crate) struct TakeCounts {
    pub packets: u64,
    pub bytes: u64,
    pub full: u64,
    pub bad: u64,
}

/// Locks RX ring `ring_id` of monitor `me`; `None` when `me` was freed or
/// reused (it no longer monitors `watched`) between the bitmap read and
/// the lock, or its ring is not readable.
pub(crate) fn lock_rx<'a>(
    domain: &'a Domain,
    me: &PortEntry<'_>,
    watched: u32,
    ring_id: u32,
) -> Option<LockedRx<'a>> {
    let k = domain.ctrl().kring(me.index, Dir::Rx, ring_id);
    let (guard, _) = ShmLock::new(k.lock_word()).lock();
    if me.state() != PORT_ACTIVE || !is_monitor(me) || me.get(port::MONITOR_OF) != watched {
        return None;
    }
    let view = RingView::new(domain.memory().region(), k.ring_off(), k.num_slots()).ok()?;
    Some(LockedRx {
        _guard: guard,
        kring: k,
        view,
        // Acquire: pairs with the monitor's Release store of hwcur in rxsync.
        hwcur: k.field(kring::HWCUR).load(Ordering::Acquire),
        hwtail: k.field(kring::HWTAIL).load(Ordering::Relaxed),
    })
}

/// Copies into RX ring `ring_id` of monitor `me`; returns whether anything
/// was published.
#[allow(clippy::too_many_arguments)]
fn copy_into(
    domain: &Domain,
    me: &PortEntry<'_>,
    watched: u32,
    dir: Dir,
    ring_id: u32,
    src: &RingView<'_>,
    from: u32,
    to: u32,
) -> bool {
    let memory = domain.memory();
    let region = memory.region();
    let Some(locked) = lock_rx(domain, me, watched, ring_id) else {
        return false;
    };
    let rx = &locked.view;
    let n = rx.num_slots();
    let mut hwtail = locked.hwtail;
    let mut free = locked.free();
    let sn = src.num_slots();
    let mark = if dir == Dir::Tx { NS_TXMON } else { 0 };
    let buf_size = memory.buf_size() as usize;
    let (mut packets, mut bytes, mut full, mut bad) = (0u64, 0u64, 0u64, 0u64);
    let mut i = from;
    while i != to {
        // One frame: its chain of slots, up to `to`.
        let mut slots = 1;
        let mut j = i;
        while src.slot(j).flags & NS_MOREFRAG != 0 && slots < MAX_CHAIN {
            let next = ring::next(j, sn);
            if next == to {
                break;
            }
            j = next;
            slots += 1;
        }
        let end = ring::next(j, sn);
        if slots > free {
            full += 1;
            i = end;
            continue;
        }
        let mut s = i;
        let mut t = hwtail;
        let mut frame_bytes = 0u64;
        let mut ok = true;
        for frag in 0..slots {
            let slot = src.slot(s);
            let (Some(from_off), Some(to_off)) = (
                payload_offset(domain, &slot),
                memory.buf_offset(rx.slot(t).buf_idx),
            ) else {
                ok = false;
                break;
            };
            let len = usize::from(slot.len).min(buf_size);
            let len = if region.copy_within(from_off, to_off, len).is_ok() {
                len
            } else {
                0
            };
            let more = if frag + 1 < slots { NS_MOREFRAG } else { 0 };
            rx.set_len_flags(t, len as u16, more | mark);
            frame_bytes += len as u64;
            s = ring::next(s, sn);
            t = ring::next(t, n);
        }
        i = end;
        if !ok {
            bad += 1;
            continue;
        }
        hwtail = t;
        free -= slots;
        packets += 1;
        bytes += frame_bytes;
    }
    locked.publish(
        me,
        hwtail,
        TakeCounts {
            packets,
            bytes,
            full,
            bad,
        },
    );
    packets > 0
}
