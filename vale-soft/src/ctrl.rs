//! The engine's control area: switch, port table and kernel rings, laid out
//! by offset inside the memory region so that every process mapping the
//! region sees (and, under the locks, changes) the same state.
//!
//! ```text
//! ctrl_off + 0          domain header (magic, lock, state, kind, geometry, name)
//! ctrl_off + 128        switch counters (u64 each)
//! ctrl_off + 256        VALE port bitmap (4 x u64: which entries are switch ports)
//! ctrl_off + 512        port table: MAX_ENTRIES x PORT_SIZE
//! ctrl_off + KRINGS     kernel rings: MAX_ENTRIES x 2 directions x MAX_RINGS x KRING_SIZE
//! ctrl_off + BINDINGS   bindings: MAX_BINDINGS x BINDING_SIZE (who holds which rings)
//! ctrl_off + TABLE      MAC table words (rows x ways u64)
//! ```
//! Every field is a u32 or u64 at a naturally aligned offset, read and
//! written atomically through [`SharedRegion`]; the offsets below are the
//! single description of the area.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use netmap_ring::shm::SharedRegion;
use vale_offload::counters::{PortCounter, SwitchCounter, PORT_COUNTERS, SWITCH_COUNTERS};
use vale_offload::geometry::MAX_RINGS;
use vale_offload::placement::{DomainKind, PortKind};

/// Port-table entries in one memory domain (VALE ports use indexes below
/// [`vale_offload::table::MAX_PORTS`]; pipe ends may use any).
pub const MAX_ENTRIES: u32 = 256;
/// Bytes of a port name kept in its entry (NUL padded).
pub const NAME_LEN: usize = 48;

const MAGIC: u64 = u64::from_le_bytes(*b"NMRSDOM4");

/// Domain header fields.
pub mod dom {
    pub const MAGIC: usize = 0;
    pub const LOCK: usize = 8;
    pub const STATE: usize = 12;
    pub const KIND: usize = 16;
    pub const GENERATION: usize = 20;
    pub const ROWS: usize = 24;
    pub const WAYS: usize = 28;
    pub const ENTRIES_IN_USE: usize = 32;
    /// Nonzero: a process died holding the domain lock, somewhere inside
    /// a change of the port table or the pools; the next
    /// `ports::reclaim_dead` repairs them.
    pub const REPAIR: usize = 36;
    pub const NAME: usize = 64;
    pub const NAME_LEN: usize = 64;
    pub const COUNTERS: usize = 128;
    pub const VALE_BITMAP: usize = 256;
}

/// Domain states.
pub const DOMAIN_LIVE: u32 = 1;
/// The last port closed; the files are unlinked and nobody may join.
pub const DOMAIN_DEAD: u32 = 2;

/// Port-table entry fields.
pub mod port {
    pub const STATE: usize = 0;
    pub const KIND: usize = 4;
    pub const OWNER_PID: usize = 8;
    pub const GENERATION: usize = 12;
    pub const PEER: usize = 16;
    pub const TX_RINGS: usize = 20;
    pub const RX_RINGS: usize = 24;
    pub const TX_SLOTS: usize = 28;
    pub const RX_SLOTS: usize = 32;
    pub const FLAGS: usize = 36;
    pub const IF_OFF: usize = 40;
    pub const WAKE_WANTED: usize = 48;
    /// Union of the TX / RX ring masks of the port's bindings.
    pub const BOUND_TX: usize = 52;
    pub const BOUND_RX: usize = 56;
    /// Number of bindings holding rings of the port.
    pub const BINDINGS: usize = 60;
    pub const NAME: usize = 64;
    pub const COUNTERS: usize = 112;
    /// Bitmap (4 x u64) of the monitor entries watching this port.
    pub const MONITORS: usize = 216;
    /// Directions its monitors watch (`monitor::WATCH_TX`/`WATCH_RX`).
    pub const MONITOR_DIRS: usize = 248;
    /// A monitor entry's monitored entry (`monitor::NOT_MONITORING`: none).
    pub const MONITOR_OF: usize = 252;
}

/// Bytes per port-table entry.
pub const PORT_SIZE: usize = 256;

/// Port states.
pub const PORT_FREE: u32 = 0;
/// Allocated and reachable.
pub const PORT_ACTIVE: u32 = 1;
/// Being torn down: senders must not touch its rings.
pub const PORT_CLOSING: u32 = 2;

/// Port flag: stays when its last user closes (created by `valectl -n`).
pub const PORT_FLAG_PERSISTENT: u32 = 1;

/// Kernel-ring fields.
///
/// Four cache lines, one per writer, so that a sender and a receiver
/// polling each other take a line from the other side only when it
/// carries news:
/// - line 0, set at bind and read by everyone: where the ring is, its
///   size, whom to wake;
/// - line 1, `HWTAIL`: the producer's publication (senders into an RX
///   ring, the owner of a TX ring), polled by the consumer;
/// - line 2, `LOCK`: taken by the senders into an RX ring at every sync;
///   a polling receiver never touches it;
/// - line 3, the owner's: `HWCUR` (read by senders for free space),
///   `REPORTED_TAIL` and `SYNC_LOCK`.
pub mod kring {
    pub const RING_OFF: usize = 0;
    pub const NUM_SLOTS: usize = 8;
    /// Binding holding this ring, plus one (0: none); whom to wake.
    pub const OWNER: usize = 12;
    pub const HWTAIL: usize = 64;
    pub const LOCK: usize = 128;
    pub const HWCUR: usize = 192;
    /// The tail last published to the application's ring.
    pub const REPORTED_TAIL: usize = 196;
    /// Serialises the owner's syncs of this ring (netmap's
    /// `nm_kr_tryget`): threads sharing a port may sync the same ring at
    /// once, e.g. through `poll`, which syncs every bound ring.
    pub const SYNC_LOCK: usize = 200;
    /// A TX ring's share of its port's `TxPackets`, `TxBytes` and
    /// `TxDropBadSlot` (u64 each, in that order), kept by the pipe's
    /// txsync under `SYNC_LOCK` on the owner's line it writes anyway: a
    /// load and a store, not an atomic read-modify-write (whose lock
    /// prefix would wait, once per batch, for the `hwtail` store just
    /// before it to take that line back from the polling receiver).
    pub const TX_COUNTERS: usize = 208;
    /// An RX ring's share of its port's `RxPackets` and `RxBytes`, kept by
    /// the senders into the ring (a pipe's peer txsync) under `LOCK`, on
    /// the lock's line, which the ring's owner never touches.
    pub const RX_COUNTERS: usize = 136;
}

/// Where kernel rings of direction `dir` keep a share of counter `c`
/// (offset in the kring), if they do. A port's counter is its entry's
/// word plus its rings' shares ([`PortEntry::read`]).
#[inline]
pub const fn ring_counter(dir: Dir, c: PortCounter) -> Option<usize> {
    match (dir, c) {
        (Dir::Tx, PortCounter::TxPackets) => Some(kring::TX_COUNTERS),
        (Dir::Tx, PortCounter::TxBytes) => Some(kring::TX_COUNTERS + 8),
        (Dir::Tx, PortCounter::TxDropBadSlot) => Some(kring::TX_COUNTERS + 16),
        (Dir::Rx, PortCounter::RxPackets) => Some(kring::RX_COUNTERS),
        (Dir::Rx, PortCounter::RxBytes) => Some(kring::RX_COUNTERS + 8),
        _ => None,
    }
}

/// Bytes per kernel ring.
pub const KRING_SIZE: usize = 256;

/// Offset of the port table in the control area.
pub const PORTS_OFF: usize = 512;
/// Offset of the kernel rings.
pub const KRINGS_OFF: usize = PORTS_OFF + MAX_ENTRIES as usize * PORT_SIZE;
/// Bindings (registrations of rings of a port by a process) at once.
pub const MAX_BINDINGS: u32 = 512;

/// Binding fields.
pub mod binding {
    pub const STATE: usize = 0;
    pub const PORT: usize = 4;
    pub const PID: usize = 8;
    pub const GENERATION: usize = 12;
    pub const TX_MASK: usize = 16;
    pub const RX_MASK: usize = 20;
    /// The owner waits and wants a byte in its FIFO at the next change.
    pub const WAKE_WANTED: usize = 24;
    /// `NR_EXCLUSIVE`: no other binding may join the port.
    pub const EXCLUSIVE: usize = 28;
    pub const IF_OFF: usize = 32;
}

/// Bytes per binding (a cache line: the wake flag is written by others).
pub const BINDING_SIZE: usize = 64;

/// Binding states.
pub const BINDING_FREE: u32 = 0;
pub const BINDING_ACTIVE: u32 = 1;

/// Offset of the bindings.
pub const BINDINGS_OFF: usize = KRINGS_OFF + (MAX_ENTRIES * 2 * MAX_RINGS) as usize * KRING_SIZE;
/// Offset of the MAC table.
pub const TABLE_OFF: usize = BINDINGS_OFF + MAX_BINDINGS as usize * BINDING_SIZE;

const _: () = assert!(dom::COUNTERS + 8 * SWITCH_COUNTERS <= dom::VALE_BITMAP);
const _: () = assert!(dom::VALE_BITMAP + 32 <= PORTS_OFF);
const _: () = assert!(port::NAME + NAME_LEN <= port::COUNTERS);
const _: () = assert!(port::COUNTERS + 8 * PORT_COUNTERS <= port::MONITORS);
const _: () = assert!(port::MONITOR_OF + 4 <= PORT_SIZE);
const _: () = assert!(kring::SYNC_LOCK + 4 <= kring::TX_COUNTERS);
const _: () = assert!(kring::TX_COUNTERS + 3 * 8 <= KRING_SIZE);
const _: () = assert!(kring::LOCK + 4 <= kring::RX_COUNTERS);
const _: () = assert!(kring::RX_COUNTERS + 2 * 8 <= kring::HWCUR);
const _: () = assert!(binding::IF_OFF + 8 <= BINDING_SIZE);
const _: () = assert!(TABLE_OFF.is_multiple_of(8));
// Records (`Record::field`'s unchecked path): 64-aligned, below TABLE_OFF.
const _: () = assert!(PORTS_OFF.is_multiple_of(64) && PORT_SIZE.is_multiple_of(64));
const _: () = assert!(KRINGS_OFF.is_multiple_of(64) && KRING_SIZE.is_multiple_of(64));
const _: () = assert!(BINDINGS_OFF.is_multiple_of(64) && BINDING_SIZE.is_multiple_of(64));
const _: () = assert!(KRINGS_OFF >= PORTS_OFF + MAX_ENTRIES as usize * PORT_SIZE);
const _: () =
    assert!(BINDINGS_OFF >= KRINGS_OFF + (MAX_ENTRIES * 2 * MAX_RINGS) as usize * KRING_SIZE);
const _: () = assert!(TABLE_OFF >= BINDINGS_OFF + MAX_BINDINGS as usize * BINDING_SIZE);

/// Bytes of control area for a table of `entries` words.
pub fn ctrl_size(table_entries: usize) -> usize {
    TABLE_OFF + 8 * table_entries
}

/// Direction of a kernel ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Tx = 0,
    Rx = 1,
}

/// The control area of one mapped domain.
#[derive(Clone, Copy)]
pub struct Ctrl<'a> {
    pub region: &'a SharedRegion,
    pub base: usize,
    /// Address of the control area's first byte when the region holds
    /// everything before the MAC table (`TABLE_OFF` bytes) at a 64-aligned
    /// `base`, checked once here; 0 otherwise. Fields below `TABLE_OFF`
    /// are then reached by an add, not a bounds-checked `Result` per
    /// access (the pipe's sync reads about twenty of them per call).
    fixed: usize,
}

impl<'a> Ctrl<'a> {
    pub fn new(region: &'a SharedRegion, base: usize) -> Self {
        let fixed = match region.check_range(base, TABLE_OFF, 64) {
            Ok(()) => region
                .atomic_u32(base)
                .map_or(0, |word| word.as_ptr() as usize),
            Err(_) => 0,
        };
        let fixed = if fixed.is_multiple_of(64) { fixed } else { 0 };
        Self {
            region,
            base,
            fixed,
        }
    }

    /// What `new` found for `fixed` (0: the slow, checked accessors).
    pub(crate) fn fixed(&self) -> usize {
        self.fixed
    }

    /// A `Ctrl` with the `fixed` an earlier `new` of the same region and
    /// base returned (the region's mapping does not move or shrink while
    /// it lives), without checking again.
    #[inline]
    pub(crate) fn checked(region: &'a SharedRegion, base: usize, fixed: usize) -> Self {
        Self {
            region,
            base,
            fixed,
        }
    }

    /// An atomic u32 of the control area; offsets come from this module's
    /// constants and entry/ring indexes the engine bounds, so a failure is a
    /// bug, not bad input.
    #[inline]
    pub fn u32_at(&self, offset: usize) -> &'a AtomicU32 {
        if self.fixed != 0 && offset.is_multiple_of(4) && offset < TABLE_OFF {
            // SAFETY: `fixed` is the address of the region's byte `base`,
            // and `new` checked that `TABLE_OFF` bytes from there lie inside
            // the mapping, 64-aligned; `offset + 4 <= TABLE_OFF` (TABLE_OFF
            // is a multiple of 8) and 4-aligned, so the word is inside and
            // aligned. The mapping lives as long as `region` (`'a`);
            // atomics tolerate the other processes' concurrent accesses.
            return unsafe { AtomicU32::from_ptr((self.fixed + offset) as *mut u32) };
        }
        self.region
            .atomic_u32(self.base + offset)
            .expect("control-area offset inside the region")
    }

    #[inline]
    pub fn u64_at(&self, offset: usize) -> &'a AtomicU64 {
        if self.fixed != 0 && offset.is_multiple_of(8) && offset < TABLE_OFF {
            // SAFETY: as in `u32_at`, for an 8-aligned word below TABLE_OFF
            // (a multiple of 8) from a 64-aligned base.
            return unsafe { AtomicU64::from_ptr((self.fixed + offset) as *mut u64) };
        }
        self.region
            .atomic_u64(self.base + offset)
            .expect("control-area offset inside the region")
    }

    pub fn is_formatted(&self) -> bool {
        self.region.read::<u64>(self.base + dom::MAGIC).ok() == Some(MAGIC)
    }

    pub fn format(&self, kind: DomainKind, name: &str, rows: u32, ways: u32) {
        let r = self.region;
        let _ = r.fill(self.base, TABLE_OFF, 0);
        let _ = r.write(self.base + dom::KIND, kind as u32);
        let _ = r.write(self.base + dom::ROWS, rows);
        let _ = r.write(self.base + dom::WAYS, ways);
        let mut bytes = [0u8; dom::NAME_LEN];
        let n = name.len().min(dom::NAME_LEN - 1);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        let _ = r.write_bytes(self.base + dom::NAME, &bytes);
        let _ = r.write(self.base + dom::MAGIC, MAGIC);
        self.u32_at(dom::STATE)
            .store(DOMAIN_LIVE, Ordering::Release);
    }

    pub fn switch_counter(&self, c: SwitchCounter) -> &'a AtomicU64 {
        self.u64_at(dom::COUNTERS + 8 * c as usize)
    }

    pub fn vale_bitmap(&self, word: usize) -> &'a AtomicU64 {
        self.u64_at(dom::VALE_BITMAP + 8 * word)
    }

    /// Entry `index` of the port table (index < MAX_ENTRIES).
    #[inline]
    pub fn port(&self, index: u32) -> PortEntry<'a> {
        assert!(index < MAX_ENTRIES);
        PortEntry {
            record: self.record(PORTS_OFF + index as usize * PORT_SIZE, PORT_SIZE),
            index,
        }
    }

    /// Kernel ring `ring` of direction `dir` of entry `index`.
    #[inline]
    pub fn kring(&self, index: u32, dir: Dir, ring: u32) -> Kring<'a> {
        assert!(index < MAX_ENTRIES && ring < MAX_RINGS);
        let n = (index as usize * 2 + dir as usize) * MAX_RINGS as usize + ring as usize;
        Kring {
            record: self.record(KRINGS_OFF + n * KRING_SIZE, KRING_SIZE),
        }
    }
}

impl<'a> Ctrl<'a> {
    /// Binding `index` (< MAX_BINDINGS).
    #[inline]
    pub fn binding(&self, index: u32) -> BindingEntry<'a> {
        assert!(index < MAX_BINDINGS);
        BindingEntry {
            record: self.record(BINDINGS_OFF + index as usize * BINDING_SIZE, BINDING_SIZE),
            index,
        }
    }

    #[inline]
    fn record(&self, base: usize, size: usize) -> Record<'a> {
        Record {
            ctrl: *self,
            base,
            size,
        }
    }
}

/// A fixed-size record of the control area (a port entry, a binding, a
/// kernel ring): atomic words by offset within it. The records deref to
/// it, so each adds only what is its own.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    ctrl: Ctrl<'a>,
    base: usize,
    size: usize,
}

impl<'a> Record<'a> {
    /// The u32 at `offset` in the record.
    #[inline(always)]
    pub fn field(&self, offset: usize) -> &'a AtomicU32 {
        // Records lie below TABLE_OFF (their constructors bound the
        // index), so a 4-aligned offset inside the record (constants at
        // every call: folded) needs only `fixed`.
        if self.ctrl.fixed != 0 && offset.is_multiple_of(4) && offset + 4 <= self.size {
            debug_assert!(self.base + self.size <= TABLE_OFF && self.base.is_multiple_of(4));
            // SAFETY: as in `Ctrl::u32_at`: `fixed` covers TABLE_OFF bytes
            // from a 64-aligned address, and `base + offset + 4 <= base +
            // size <= TABLE_OFF` with both 4-aligned (records are built by
            // `Ctrl::port`, `kring` and `binding` only, at multiples of
            // their sizes, all multiples of 64, below TABLE_OFF).
            return unsafe {
                AtomicU32::from_ptr((self.ctrl.fixed + self.base + offset) as *mut u32)
            };
        }
        self.ctrl.u32_at(self.base + offset)
    }

    /// The u64 at `offset` in the record.
    #[inline(always)]
    pub fn field64(&self, offset: usize) -> &'a AtomicU64 {
        if self.ctrl.fixed != 0 && offset.is_multiple_of(8) && offset + 8 <= self.size {
            debug_assert!(self.base + self.size <= TABLE_OFF && self.base.is_multiple_of(8));
            // SAFETY: as in `field`, for an 8-aligned word.
            return unsafe {
                AtomicU64::from_ptr((self.ctrl.fixed + self.base + offset) as *mut u64)
            };
        }
        self.ctrl.u64_at(self.base + offset)
    }

    #[inline(always)]
    pub fn get(&self, offset: usize) -> u32 {
        self.field(offset).load(Ordering::Acquire)
    }

    #[inline(always)]
    pub fn set(&self, offset: usize, value: u32) {
        self.field(offset).store(value, Ordering::Release)
    }

    #[inline]
    fn get_offset(&self, offset: usize) -> usize {
        self.field64(offset).load(Ordering::Acquire) as usize
    }

    fn set_offset(&self, offset: usize, value: usize) {
        self.field64(offset).store(value as u64, Ordering::Release)
    }

    fn zero(&self) {
        let _ = self
            .ctrl
            .region
            .fill(self.ctrl.base + self.base, self.size, 0);
    }

    fn read_bytes(&self, offset: usize, out: &mut [u8]) {
        let _ = self
            .ctrl
            .region
            .read_bytes(self.ctrl.base + self.base + offset, out);
    }

    fn write_bytes(&self, offset: usize, data: &[u8]) {
        let _ = self
            .ctrl
            .region
            .write_bytes(self.ctrl.base + self.base + offset, data);
    }
}

macro_rules! deref_to_record {
    ($($ty:ident),*) => {$(
        impl<'a> std::ops::Deref for $ty<'a> {
            type Target = Record<'a>;
            fn deref(&self) -> &Record<'a> {
                &self.record
            }
        }
    )*};
}
deref_to_record!(BindingEntry, PortEntry, Kring);

/// One binding: rings of one port held by one process through one Port.
#[derive(Clone, Copy)]
pub struct BindingEntry<'a> {
    record: Record<'a>,
    pub index: u32,
}

impl BindingEntry<'_> {
    #[inline]
    pub fn is_active(&self) -> bool {
        self.get(binding::STATE) == BINDING_ACTIVE
    }

    pub fn if_off(&self) -> usize {
        self.get_offset(binding::IF_OFF)
    }

    pub fn set_if_off(&self, value: usize) {
        self.set_offset(binding::IF_OFF, value)
    }

    /// Clears every field but the generation (a freed binding).
    pub fn clear(&self) {
        let generation = self.get(binding::GENERATION);
        self.zero();
        self.set(binding::GENERATION, generation);
    }
}

/// One entry of the port table.
#[derive(Clone, Copy)]
pub struct PortEntry<'a> {
    record: Record<'a>,
    pub index: u32,
}

impl<'a> PortEntry<'a> {
    #[inline]
    pub fn state(&self) -> u32 {
        self.get(port::STATE)
    }

    pub fn kind(&self) -> Option<PortKind> {
        PortKind::from_u32(self.get(port::KIND))
    }

    pub fn name(&self) -> String {
        let mut bytes = [0u8; NAME_LEN];
        self.read_bytes(port::NAME, &mut bytes);
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    pub fn set_name(&self, name: &str) {
        let mut bytes = [0u8; NAME_LEN];
        let n = name.len().min(NAME_LEN - 1);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        self.write_bytes(port::NAME, &bytes);
    }

    /// The entry's own word of counter `c` (atomic adds from any
    /// writer); [`PortEntry::read`] adds the rings' shares.
    #[inline]
    pub fn counter(&self, c: PortCounter) -> &'a AtomicU64 {
        self.field64(port::COUNTERS + 8 * c as usize)
    }

    #[inline]
    pub fn add(&self, c: PortCounter, n: u64) {
        if n != 0 {
            self.counter(c).fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counter `c` of the port: the entry's word plus the shares its
    /// kernel rings keep ([`ring_counter`]). Exact once the syncs that
    /// counted are over (each share has one writer at a time).
    pub fn read(&self, c: PortCounter) -> u64 {
        let mut total = self.counter(c).load(Ordering::Relaxed);
        for (dir, rings) in [(Dir::Tx, port::TX_RINGS), (Dir::Rx, port::RX_RINGS)] {
            if let Some(offset) = ring_counter(dir, c) {
                for r in 0..self.get(rings).min(MAX_RINGS) {
                    let k = self.record.ctrl.kring(self.index, dir, r);
                    total = total.wrapping_add(k.field64(offset).load(Ordering::Relaxed));
                }
            }
        }
        total
    }

    /// Zeroes every counter of the port, the rings' shares under the
    /// locks their writers hold (so a sync in flight counts after the
    /// reset, or not at all).
    pub fn reset_counters(&self) {
        for c in PortCounter::ALL {
            self.counter(c).store(0, Ordering::Relaxed);
        }
        for (dir, rings) in [(Dir::Tx, port::TX_RINGS), (Dir::Rx, port::RX_RINGS)] {
            for r in 0..self.get(rings).min(MAX_RINGS) {
                let k = self.record.ctrl.kring(self.index, dir, r);
                let word = match dir {
                    Dir::Tx => k.sync_lock_word(),
                    Dir::Rx => k.lock_word(),
                };
                let (_guard, _) = netmap_ring::lock::ShmLock::new(word).lock();
                for c in PortCounter::ALL {
                    if let Some(offset) = ring_counter(dir, c) {
                        k.field64(offset).store(0, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Clears every field (a freed entry).
    pub fn clear(&self) {
        self.zero();
    }
}

/// One kernel ring: the engine's own record of a ring (netmap's kring),
/// kept apart from the application's ring so the application cannot
/// corrupt `hwcur`/`hwtail`.
#[derive(Clone, Copy)]
pub struct Kring<'a> {
    record: Record<'a>,
}

impl<'a> Kring<'a> {
    #[inline]
    pub fn ring_off(&self) -> usize {
        self.get_offset(kring::RING_OFF)
    }

    pub fn set_ring_off(&self, value: usize) {
        self.set_offset(kring::RING_OFF, value)
    }

    #[inline]
    pub fn num_slots(&self) -> u32 {
        self.get(kring::NUM_SLOTS)
    }

    #[inline]
    pub fn lock_word(&self) -> &'a AtomicU32 {
        self.field(kring::LOCK)
    }

    /// The word of [`kring::SYNC_LOCK`].
    #[inline]
    pub fn sync_lock_word(&self) -> &'a AtomicU32 {
        self.field(kring::SYNC_LOCK)
    }

    pub fn clear(&self) {
        self.zero();
    }

    /// Adds `n` to this ring's share of a counter (`offset` from
    /// [`ring_counter`]). The caller holds the lock that serialises the
    /// share's writers (a TX ring's `SYNC_LOCK`, an RX ring's `LOCK`), so
    /// a load and a store do: no atomic read-modify-write on the data
    /// path.
    #[inline]
    pub fn add_held(&self, offset: usize, n: u64) {
        if n != 0 {
            let word = self.field64(offset);
            word.store(
                word.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        }
    }
}
