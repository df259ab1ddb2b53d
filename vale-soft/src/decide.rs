//! The forwarding decision of each frame of a batch, in the batch's
//! order (netmap's order, so a frame sees what the frames before it
//! learned): learn the source, look up the destination.
//!
//! With the default learning bridge the engine uses the table directly
//! ([`ByTable`], when `Lookup::decides_by_table_alone`): an address is
//! hashed once per run of equal addresses, a run of frames to one
//! destination is looked up once (again after a table write of the
//! batch), a source just learned from this port is not learned again
//! (netmap's `last_smac`), and learning writes the table only when an
//! entry changes. Another policy is asked frame by frame ([`ByLookup`]).

use vale_offload::chain::ETH_HEADER_LEN;
use vale_offload::table::{HashedMac, LearningTable, ENTRY_MAC_MASK, PORT_DROP};

use crate::domain::{Domain, RegionTable};
use crate::forward::Lookup;

/// A forwarding decision per frame, from its first 16 bytes (two
/// little-endian words: destination, source, type and two bytes more).
pub(crate) trait Decide {
    /// Learns the source (unless `no_learn`) and looks up the destination:
    /// a port, `PORT_FLOOD` or `PORT_DROP`.
    fn decide(&mut self, header: [u64; 2], no_learn: bool) -> u8;
    /// Lookups that found the destination, and learns that wrote, of a
    /// batch of `lookups` decisions of which `floods` flood.
    fn hits_learns(&self, lookups: u64, floods: u64) -> (u64, u64);
    /// True when the decisions so far were some `PORT_DROP`s then one
    /// destination (kept frames, which exclude `PORT_DROP`, have one).
    /// May say false when that holds (the batch is then sorted).
    fn one_dst(&self) -> bool;
}

/// The source address bits of a header (bytes 6..12).
#[inline]
fn src_bits(header: [u64; 2]) -> u64 {
    (header[0] >> 48 | header[1] << 16) & ENTRY_MAC_MASK
}

/// Bits no address has (48 bits at most).
pub(crate) const NO_MAC: u64 = u64::MAX;

/// The learning bridge on the table directly. An address is hashed once
/// per run of equal addresses (the hash is a pure function of it), and a
/// destination is looked up again only when it differs from the previous
/// frame's or this batch wrote the table since (another sender's
/// concurrent write is a race either way, as in netmap: a lookup may see
/// it or not).
#[derive(Clone, Copy)]
pub(crate) struct ByTable<'a> {
    table: &'a LearningTable<RegionTable>,
    src: u8,
    src_mac: HashedMac,
    /// netmap's per-port `last_smac`: a source just learned from this port
    /// is not learned again for the next frame of the same batch. Nothing
    /// else writes the table between the two (the destination lookup only
    /// reads), so the outcome is the same as learning again.
    last_learned: u64,
    /// The last destination looked up, and where it goes.
    dst_seen: u64,
    decided: u8,
    /// Times a lookup's answer differed from the one before (from
    /// `PORT_DROP` before the first).
    changes: u32,
    learns: u64,
}

impl<'a> ByTable<'a> {
    pub(crate) fn new(table: &'a LearningTable<RegionTable>, src: u8) -> Self {
        ByTable {
            table,
            src,
            src_mac: HashedMac {
                bits: NO_MAC,
                hash: 0,
            },
            last_learned: NO_MAC,
            dst_seen: NO_MAC,
            decided: PORT_DROP,
            changes: 0,
            learns: 0,
        }
    }
}

impl Decide for ByTable<'_> {
    #[inline(always)]
    fn decide(&mut self, header: [u64; 2], no_learn: bool) -> u8 {
        let src = src_bits(header);
        if !no_learn && src != self.last_learned {
            self.learn(src);
        }
        let dst = header[0] & ENTRY_MAC_MASK;
        if dst != self.dst_seen {
            let port = self.table.destination(HashedMac::new(dst), self.src).0;
            self.changes += u32::from(port != self.decided);
            (self.decided, self.dst_seen) = (port, dst);
        }
        self.decided
    }

    fn one_dst(&self) -> bool {
        self.changes <= 1
    }

    fn hits_learns(&self, lookups: u64, floods: u64) -> (u64, u64) {
        // The table floods exactly the destinations it does not find.
        (lookups - floods, self.learns)
    }
}

impl ByTable<'_> {
    /// Learns source `src` (not the one learned last).
    #[inline]
    fn learn(&mut self, src: u64) {
        if src != self.src_mac.bits {
            self.src_mac = HashedMac::new(src);
        }
        if learn(self.table, self.src_mac, self.src) {
            self.learns += 1;
            // The table changed: look the destination up again.
            self.dst_seen = NO_MAC;
        }
        self.last_learned = src;
    }
}

/// Learns `mac` on `port`; true when the table was written. Out of line
/// (a batch learns once per source run) and on values, so the caller's
/// state stays in registers.
#[inline(never)]
fn learn(table: &LearningTable<RegionTable>, mac: HashedMac, port: u8) -> bool {
    table.learn_hashed(mac, port).wrote()
}

/// Another forwarding policy: its `lookup`, frame by frame.
#[derive(Clone, Copy)]
pub(crate) struct ByLookup<'a> {
    pub domain: &'a Domain,
    pub lookup: &'a dyn Lookup,
    pub src: u8,
    pub last_learned: u64,
    pub hits: u64,
    pub learns: u64,
    /// As [`ByTable::changes`], frame by frame.
    pub changes: u32,
    pub last_port: u8,
}

impl Decide for ByLookup<'_> {
    fn decide(&mut self, header: [u64; 2], no_learn: bool) -> u8 {
        let src = src_bits(header);
        let learn = !no_learn && self.last_learned != src;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&header[0].to_le_bytes());
        bytes[8..].copy_from_slice(&header[1].to_le_bytes());
        let header = bytes[..ETH_HEADER_LEN].try_into().expect("14 of 16");
        let decision = self
            .lookup
            .lookup(header, self.src, learn, self.domain.table());
        if learn {
            self.last_learned = src;
        }
        self.hits += u64::from(decision.hit);
        self.learns += u64::from(decision.learned.wrote());
        self.changes += u32::from(decision.port != self.last_port);
        self.last_port = decision.port;
        decision.port
    }

    fn one_dst(&self) -> bool {
        self.changes <= 1
    }

    fn hits_learns(&self, _: u64, _: u64) -> (u64, u64) {
        (self.hits, self.learns)
    }
}
