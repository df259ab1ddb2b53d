//! The VALE learning table: rows x ways of packed 64-bit entries.
//!
//! One table serves the software engine (which keeps it in shared memory
//! between processes) and is the golden model of the RTL table in
//! `hw/mac_table.sv`. The entry packing, the row index, the replacement
//! policy and the return codes are fixed in `docs/mac-table.md` and shared
//! bit for bit with the RTL. With [`Geometry::NETMAP`] (1024 rows, 1 way)
//! the table decides as netmap's `netmap_bdg_learning` does.
//!
//! Storage is any [`EntryStore`]: an array of 64-bit words, each read and
//! written as one atomic word, so several processes can share the table.
//! A learn is a read of one row followed by at most one word store; two
//! concurrent learners race like netmap's (the last writer wins) but can
//! never tear an entry.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use crate::hash::netmap_mac_hash_bits;

/// Destination code: flood to every port but the source (netmap's
/// `NM_BDG_BROADCAST`).
pub const PORT_FLOOD: u8 = 254;
/// Destination code: drop the frame (netmap's `NM_BDG_NOPORT`).
pub const PORT_DROP: u8 = 255;
/// Ports are numbered `0..MAX_PORTS`; the two codes above follow them.
pub const MAX_PORTS: u8 = 254;

/// Valid bit of a packed entry.
pub const ENTRY_VALID: u64 = 1 << 63;
/// Bit position of the port number in a packed entry.
pub const ENTRY_PORT_SHIFT: u32 = 48;
/// The 48 MAC bits of a packed entry.
pub const ENTRY_MAC_MASK: u64 = (1 << 48) - 1;
/// Bits 56..=62 are reserved and always zero in a well-formed entry.
const ENTRY_RESERVED_MASK: u64 = 0x7f << 56;

/// Largest accepted row count (2^20) and way count (16).
pub const MAX_ROWS: u32 = 1 << 20;
/// See [`MAX_ROWS`].
pub const MAX_WAYS: u32 = 16;

/// Errors of table construction.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TableError {
    /// Rows or ways not a power of two, zero, or above the limits.
    #[error("invalid table geometry {rows} rows x {ways} ways (powers of two, rows <= {MAX_ROWS}, ways <= {MAX_WAYS})")]
    InvalidGeometry { rows: u32, ways: u32 },
    /// The store does not hold exactly `rows * ways` entries.
    #[error("entry store holds {actual} entries, the geometry needs {expected}")]
    StoreSize { expected: usize, actual: usize },
}

/// Table shape: `rows` sets of `ways` entries each, both powers of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub rows: u32,
    pub ways: u32,
}

impl Geometry {
    /// netmap's VALE table: 1024 rows, direct mapped.
    pub const NETMAP: Geometry = Geometry {
        rows: 1024,
        ways: 1,
    };

    /// A validated geometry.
    pub fn new(rows: u32, ways: u32) -> Result<Self, TableError> {
        let valid = rows.is_power_of_two()
            && ways.is_power_of_two()
            && rows <= MAX_ROWS
            && ways <= MAX_WAYS;
        if valid {
            Ok(Geometry { rows, ways })
        } else {
            Err(TableError::InvalidGeometry { rows, ways })
        }
    }

    /// Number of entries, `rows * ways`.
    pub fn entries(&self) -> usize {
        self.rows as usize * self.ways as usize
    }

    /// The row of a hash: its low `log2(rows)` bits (netmap's mask).
    #[inline]
    pub fn row_of(&self, hash: u32) -> u32 {
        hash & (self.rows - 1)
    }

    /// The way replaced when a full row learns a new MAC: the hash bits
    /// just above the row index. Stateless, so the RTL needs no per-row
    /// replacement state and a learn stays a single word store.
    pub fn victim_way(&self, hash: u32) -> u32 {
        (hash >> self.rows.trailing_zeros()) & (self.ways - 1)
    }

    /// Index of `(row, way)` in the entry store.
    #[inline]
    pub fn index(&self, row: u32, way: u32) -> usize {
        row as usize * self.ways as usize + way as usize
    }
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry::NETMAP
    }
}

/// A MAC address as the 48-bit integer netmap compares: byte 0 in the low
/// bits (a little-endian load of the six bytes).
pub fn mac_to_bits(mac: &[u8; 6]) -> u64 {
    let mut word = [0u8; 8];
    word[..6].copy_from_slice(mac);
    u64::from_le_bytes(word)
}

/// Inverse of [`mac_to_bits`]; bits above 47 are ignored.
pub fn mac_from_bits(bits: u64) -> [u8; 6] {
    let bytes = bits.to_le_bytes();
    [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]
}

/// True for group (multicast and broadcast) addresses: bit 0 of byte 0.
pub fn is_group_mac(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

/// One valid table entry, unpacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub mac: [u8; 6],
    pub port: u8,
}

impl Entry {
    /// The 64-bit word stored in the table: valid bit 63, port in bits
    /// 48..=55, MAC in bits 0..=47, the rest zero.
    pub fn pack(&self) -> u64 {
        ENTRY_VALID | u64::from(self.port) << ENTRY_PORT_SHIFT | mac_to_bits(&self.mac)
    }

    /// Decodes a stored word. Empty words, and words that no table could
    /// have written (reserved bits set, port out of range: the store may be
    /// shared with a faulty process), read as `None`.
    pub fn unpack(word: u64) -> Option<Entry> {
        let port = (word >> ENTRY_PORT_SHIFT) as u8;
        let well_formed = word & ENTRY_VALID != 0 && word & ENTRY_RESERVED_MASK == 0;
        (well_formed && port < MAX_PORTS).then(|| Entry {
            mac: mac_from_bits(word),
            port,
        })
    }
}

/// Word storage for a table: `len()` 64-bit words, each loaded and stored
/// atomically (a torn entry could forward to a wrong port).
pub trait EntryStore {
    /// Number of words.
    fn len(&self) -> usize;
    /// True when the store holds no words.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Atomically reads word `index` (`index < len()`).
    fn load(&self, index: usize) -> u64;
    /// Atomically writes word `index` (`index < len()`).
    fn store(&self, index: usize, entry: u64);
    /// Hints that word `index` is about to be read (a cache prefetch); a
    /// store may ignore it. Never faults, changes nothing.
    #[inline]
    fn prefetch(&self, index: usize) {
        let _ = index;
    }
}

// Relaxed ordering: every entry is self-contained (MAC, port and valid bit
// in one word) and no other memory is published through it.
impl EntryStore for [AtomicU64] {
    fn len(&self) -> usize {
        <[AtomicU64]>::len(self)
    }
    #[inline]
    fn load(&self, index: usize) -> u64 {
        self[index].load(Ordering::Relaxed)
    }
    fn store(&self, index: usize, entry: u64) {
        self[index].store(entry, Ordering::Relaxed)
    }
}

impl EntryStore for Vec<AtomicU64> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn load(&self, index: usize) -> u64 {
        self.as_slice().load(index)
    }
    fn store(&self, index: usize, entry: u64) {
        self.as_slice().store(index, entry)
    }
}

impl EntryStore for Box<[AtomicU64]> {
    fn len(&self) -> usize {
        <[AtomicU64]>::len(self)
    }
    fn load(&self, index: usize) -> u64 {
        (**self).load(index)
    }
    fn store(&self, index: usize, entry: u64) {
        (**self).store(index, entry)
    }
}

impl<T: EntryStore + ?Sized> EntryStore for &T {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn load(&self, index: usize) -> u64 {
        (**self).load(index)
    }
    fn store(&self, index: usize, entry: u64) {
        (**self).store(index, entry)
    }
    fn prefetch(&self, index: usize) {
        (**self).prefetch(index)
    }
}

impl<T: EntryStore + ?Sized> EntryStore for std::sync::Arc<T> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn load(&self, index: usize) -> u64 {
        (**self).load(index)
    }
    fn store(&self, index: usize, entry: u64) {
        (**self).store(index, entry)
    }
    fn prefetch(&self, index: usize) {
        (**self).prefetch(index)
    }
}

/// What learning a source address did to the table. The discriminants are
/// the 3-bit learn codes the RTL reports (`docs/mac-table.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LearnOutcome {
    /// Not learned: group source address, learning off, or invalid port.
    Skipped = 0,
    /// Already known on this port; nothing written.
    Refreshed = 1,
    /// Written into an empty way.
    Inserted = 2,
    /// Known on another port; the entry now names the new port.
    Moved = 3,
    /// The row was full; the victim way's MAC was replaced.
    Evicted = 4,
}

impl LearnOutcome {
    /// The learn code shared with the RTL.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Decodes a learn code; `None` for codes no table produces.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => LearnOutcome::Skipped,
            1 => LearnOutcome::Refreshed,
            2 => LearnOutcome::Inserted,
            3 => LearnOutcome::Moved,
            4 => LearnOutcome::Evicted,
            _ => return None,
        })
    }

    /// True when the learn wrote an entry.
    pub fn wrote(self) -> bool {
        matches!(
            self,
            LearnOutcome::Inserted | LearnOutcome::Moved | LearnOutcome::Evicted
        )
    }
}

/// A MAC address as the table compares it ([`mac_to_bits`]) with its
/// netmap hash: a batch computes it once per address (and once per run of
/// equal addresses) before it learns and looks up, and can prefetch the
/// row it names ([`LearningTable::prefetch_row`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashedMac {
    /// The 48 MAC bits, byte 0 lowest.
    pub bits: u64,
    /// [`netmap_mac_hash`] of the address.
    pub hash: u32,
}

impl HashedMac {
    /// The address whose 48 bits are the low bits of `bits` (the higher
    /// ones are ignored: a frame's first header word can be passed as is).
    #[inline]
    pub fn new(bits: u64) -> Self {
        let bits = bits & ENTRY_MAC_MASK;
        HashedMac {
            bits,
            hash: netmap_mac_hash_bits(bits),
        }
    }

    /// The address as six bytes.
    #[inline]
    pub fn of(mac: &[u8; 6]) -> Self {
        Self::new(mac_to_bits(mac))
    }

    /// True for group (multicast and broadcast) addresses: bit 0 of byte 0.
    #[inline]
    pub fn is_group(&self) -> bool {
        self.bits & 1 != 0
    }
}

/// An address and where its row starts in the table's store
/// ([`LearningTable::locate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Located {
    /// The 48 MAC bits, byte 0 lowest.
    pub bits: u64,
    /// Store index of the row's first way.
    first: usize,
}

/// The switch's decision for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForwardDecision {
    /// Destination port, or [`PORT_FLOOD`] or [`PORT_DROP`].
    pub port: u8,
    /// The destination was a unicast address found in the table (also when
    /// the frame is then dropped for going back to its source).
    pub hit: bool,
    /// What learning the source address did.
    pub learned: LearnOutcome,
}

/// A valid entry and where it sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlacedEntry {
    pub mac: [u8; 6],
    pub port: u8,
    pub row: u32,
    pub way: u32,
}

/// The learning table over a word store.
#[derive(Debug)]
pub struct LearningTable<S: EntryStore> {
    geometry: Geometry,
    store: S,
}

impl LearningTable<Box<[AtomicU64]>> {
    /// An empty table in private memory.
    pub fn in_memory(geometry: Geometry) -> Self {
        let store: Box<[AtomicU64]> = (0..geometry.entries()).map(|_| AtomicU64::new(0)).collect();
        LearningTable { geometry, store }
    }
}

impl<S: EntryStore> LearningTable<S> {
    /// A table over `store`, which must hold `rows * ways` words. The
    /// store's current contents are the table's contents (a zeroed store is
    /// an empty table).
    pub fn new(geometry: Geometry, store: S) -> Result<Self, TableError> {
        let geometry = Geometry::new(geometry.rows, geometry.ways)?;
        if store.len() != geometry.entries() {
            return Err(TableError::StoreSize {
                expected: geometry.entries(),
                actual: store.len(),
            });
        }
        Ok(LearningTable { geometry, store })
    }

    /// The table's geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The raw word at `(row, way)`, as the RTL's table readback returns it.
    #[inline]
    pub fn raw(&self, row: u32, way: u32) -> u64 {
        self.store.load(self.geometry.index(row, way))
    }

    /// The port `mac` was learned on, if any. Group addresses are never in
    /// the table, so they always miss.
    pub fn lookup(&self, mac: &[u8; 6]) -> Option<u8> {
        self.lookup_hashed(HashedMac::of(mac))
    }

    /// [`LearningTable::lookup`] of an address hashed beforehand.
    #[inline]
    pub fn lookup_hashed(&self, mac: HashedMac) -> Option<u8> {
        self.lookup_at(self.locate(mac))
    }

    /// Where `mac`'s row is in the store: computed once per address, it
    /// makes a lookup a few loads and compares ([`LearningTable::lookup_at`],
    /// [`LearningTable::destination_at`]).
    #[inline]
    pub fn locate(&self, mac: HashedMac) -> Located {
        Located {
            bits: mac.bits,
            first: self.geometry.index(self.geometry.row_of(mac.hash), 0),
        }
    }

    /// [`LearningTable::lookup`] of a located address.
    #[inline]
    pub fn lookup_at(&self, mac: Located) -> Option<u8> {
        self.find_at(mac.first, mac.bits).map(|(_, port)| port)
    }

    /// Learns that `mac` lives behind `port` (netmap's order of checks:
    /// same MAC in the row, then an empty way, then the victim way).
    pub fn learn(&self, mac: &[u8; 6], port: u8) -> LearnOutcome {
        self.learn_hashed(HashedMac::of(mac), port)
    }

    /// [`LearningTable::learn`] of an address hashed beforehand. An address
    /// already known on `port` is only read: the table is written when an
    /// entry changes, never to refresh one.
    #[inline]
    pub fn learn_hashed(&self, mac: HashedMac, port: u8) -> LearnOutcome {
        if mac.is_group() || port >= MAX_PORTS {
            return LearnOutcome::Skipped;
        }
        let row = self.geometry.row_of(mac.hash);
        let new_entry = ENTRY_VALID | u64::from(port) << ENTRY_PORT_SHIFT | mac.bits;
        if let Some((way, known)) = self.find_at(self.geometry.index(row, 0), mac.bits) {
            if known == port {
                return LearnOutcome::Refreshed;
            }
            self.store.store(self.geometry.index(row, way), new_entry);
            return LearnOutcome::Moved;
        }
        let empty_way =
            (0..self.geometry.ways).find(|&way| Entry::unpack(self.raw(row, way)).is_none());
        let (way, outcome) = match empty_way {
            Some(way) => (way, LearnOutcome::Inserted),
            None => (self.geometry.victim_way(mac.hash), LearnOutcome::Evicted),
        };
        self.store.store(self.geometry.index(row, way), new_entry);
        outcome
    }

    /// Where a frame to `dst` from `src_port` goes, by the table alone
    /// (no learning): the destination port, [`PORT_FLOOD`] for group and
    /// unknown destinations, [`PORT_DROP`] for a destination on the source
    /// port; and whether the table knew `dst`.
    #[inline]
    pub fn destination(&self, dst: HashedMac, src_port: u8) -> (u8, bool) {
        self.destination_at(self.locate(dst), src_port)
    }

    /// [`LearningTable::destination`] of a located address.
    #[inline]
    pub fn destination_at(&self, dst: Located, src_port: u8) -> (u8, bool) {
        // Group addresses are never in the table (bit 0 of byte 0).
        let found = if dst.bits & 1 != 0 {
            None
        } else {
            self.lookup_at(dst)
        };
        let port = match found {
            None => PORT_FLOOD,
            Some(port) if port == src_port => PORT_DROP,
            Some(port) => port,
        };
        (port, found.is_some())
    }

    /// Hints that the row of `hash` is about to be read (a prefetch of its
    /// first word, for batches that look up many frames in a row).
    #[inline]
    pub fn prefetch_row(&self, hash: u32) {
        let row = self.geometry.row_of(hash);
        self.store.prefetch(self.geometry.index(row, 0));
    }

    /// The whole VALE decision for one frame, in netmap's order: learn the
    /// source (unicast sources only, and only when `learn` is set), then
    /// look up the destination. Group and unknown destinations flood; a
    /// destination on the source port is dropped.
    pub fn forward(
        &self,
        src: &[u8; 6],
        dst: &[u8; 6],
        src_port: u8,
        learn: bool,
    ) -> ForwardDecision {
        self.forward_hashed(HashedMac::of(src), HashedMac::of(dst), src_port, learn)
    }

    /// [`LearningTable::forward`] of addresses hashed beforehand.
    #[inline]
    pub fn forward_hashed(
        &self,
        src: HashedMac,
        dst: HashedMac,
        src_port: u8,
        learn: bool,
    ) -> ForwardDecision {
        let learned = if learn {
            self.learn_hashed(src, src_port)
        } else {
            LearnOutcome::Skipped
        };
        let (port, hit) = self.destination(dst, src_port);
        ForwardDecision { port, hit, learned }
    }

    /// Forgets every entry.
    pub fn flush(&self) {
        for index in 0..self.store.len() {
            self.store.store(index, 0);
        }
    }

    /// Every valid entry, in row then way order.
    pub fn entries(&self) -> impl Iterator<Item = PlacedEntry> + '_ {
        let ways = self.geometry.ways;
        (0..self.store.len()).filter_map(move |index| {
            Entry::unpack(self.store.load(index)).map(|entry| PlacedEntry {
                mac: entry.mac,
                port: entry.port,
                row: (index / ways as usize) as u32,
                way: (index % ways as usize) as u32,
            })
        })
    }

    /// Forgets every entry that names `port` (for a port that detaches).
    pub fn forget_port(&self, port: u8) {
        for index in 0..self.store.len() {
            if Entry::unpack(self.store.load(index)).is_some_and(|entry| entry.port == port) {
                self.store.store(index, 0);
            }
        }
    }

    /// The way of the row whose first word is `first` holding the
    /// well-formed entry of MAC `bits`, and its port.
    #[inline]
    fn find_at(&self, first: usize, bits: u64) -> Option<(u32, u8)> {
        (0..self.geometry.ways).find_map(|way| {
            let word = self.store.load(first + way as usize);
            let port = (word >> ENTRY_PORT_SHIFT) as u8;
            // Entry::unpack's rule, on the word: valid, no reserved bit,
            // a port number; and the address.
            let found = word & (ENTRY_VALID | ENTRY_RESERVED_MASK | ENTRY_MAC_MASK)
                == ENTRY_VALID | bits
                && port < MAX_PORTS;
            found.then_some((way, port))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_rejects_bad_shapes() {
        assert!(Geometry::new(1000, 1).is_err());
        assert!(Geometry::new(1024, 3).is_err());
        assert!(Geometry::new(0, 1).is_err());
        assert!(Geometry::new(MAX_ROWS * 2, 1).is_err());
        assert!(Geometry::new(1024, MAX_WAYS * 2).is_err());
        assert_eq!(
            Geometry::new(8192, 4),
            Ok(Geometry {
                rows: 8192,
                ways: 4
            })
        );
        assert_eq!(Geometry::default(), Geometry::NETMAP);
    }

    #[test]
    fn store_size_must_match() {
        let store: Vec<AtomicU64> = (0..10).map(|_| AtomicU64::new(0)).collect();
        assert_eq!(
            LearningTable::new(Geometry::NETMAP, store).unwrap_err(),
            TableError::StoreSize {
                expected: 1024,
                actual: 10
            }
        );
    }

    #[test]
    fn entry_packing_round_trips_and_rejects_garbage() {
        let entry = Entry {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            port: 7,
        };
        let word = entry.pack();
        assert_eq!(word, 0x8007_5634_1200_5452);
        assert_eq!(Entry::unpack(word), Some(entry));
        assert_eq!(Entry::unpack(word & !ENTRY_VALID), None);
        assert_eq!(Entry::unpack(word | 1 << 60), None);
        assert_eq!(
            Entry::unpack(ENTRY_VALID | u64::from(PORT_FLOOD) << 48),
            None
        );
    }

    /// A store that counts its writes.
    struct CountingStore(Vec<AtomicU64>, std::sync::atomic::AtomicUsize);

    impl EntryStore for CountingStore {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn load(&self, index: usize) -> u64 {
            self.0.load(index)
        }
        fn store(&self, index: usize, entry: u64) {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.store(index, entry)
        }
    }

    #[test]
    fn learning_writes_only_when_an_entry_changes() {
        let store = CountingStore((0..1024).map(|_| AtomicU64::new(0)).collect(), 0.into());
        let table = LearningTable::new(Geometry::NETMAP, store).unwrap();
        let writes = |t: &LearningTable<CountingStore>| t.store().1.load(Ordering::Relaxed);
        let mac = [0x02, 0, 0, 0, 0, 7];
        assert_eq!(table.learn(&mac, 3), LearnOutcome::Inserted);
        assert_eq!(writes(&table), 1);
        for _ in 0..10 {
            assert_eq!(table.learn(&mac, 3), LearnOutcome::Refreshed);
        }
        assert_eq!(writes(&table), 1, "a known address is not rewritten");
        assert_eq!(table.learn(&mac, 4), LearnOutcome::Moved);
        assert_eq!(writes(&table), 2);
    }

    #[test]
    fn hashed_forms_decide_as_the_byte_forms() {
        let a = LearningTable::in_memory(Geometry::new(64, 2).unwrap());
        let b = LearningTable::in_memory(Geometry::new(64, 2).unwrap());
        // A small table, so rows collide and ways get evicted.
        let mut x = 0x1234_5678_u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let src = mac_from_bits(x & 0x3f_0000_00fe);
            let dst = mac_from_bits((x >> 20) & 0x3f_0000_00ff);
            let port = (x >> 40) as u8 % 8;
            let learn = x >> 50 & 3 != 0;
            assert_eq!(
                a.forward(&src, &dst, port, learn),
                b.forward_hashed(
                    HashedMac::of(&src),
                    HashedMac::new(mac_to_bits(&dst) | 0xffff << 48),
                    port,
                    learn
                )
            );
            assert_eq!(HashedMac::of(&dst).hash, crate::hash::netmap_mac_hash(&dst));
        }
        assert_eq!(
            a.entries().collect::<Vec<_>>(),
            b.entries().collect::<Vec<_>>()
        );
    }

    #[test]
    fn learn_codes_round_trip() {
        for code in 0..8 {
            if let Some(outcome) = LearnOutcome::from_code(code) {
                assert_eq!(outcome.code(), code);
            } else {
                assert!(code > 4);
            }
        }
    }
}
