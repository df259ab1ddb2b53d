//! The first half of a VALE txsync: take the frames the application
//! released (`hwcur..head`), validate each and decide where it goes
//! (netmap's `nm_bdg_preflush`).
//!
//! - **Validate**: each frame's slots (buffer index in the pool, length
//!   within the buffer, `NS_INDIRECT` pointers inside the region, the
//!   MOREFRAG rule of `vale_offload::chain`). A one-slot frame, the common
//!   case, is one load of its slot word and one 16-byte load of its
//!   header; chains and indirect payloads take [`slow_frame`].
//! - **Decide**, in the batch's order (netmap's order, so a frame sees what
//!   the frames before it learned): learn the source, look up the
//!   destination. With the default learning bridge the engine uses the
//!   table directly ([`Lookup::decides_by_table_alone`]): a run of frames
//!   to one destination is looked up once (again after any table write of
//!   the batch), a source just learned from this port is not learned
//!   again (netmap's `last_smac`), and learning writes the table only
//!   when an entry changes.
//!
//! Frames dropped here (bad, short, too long a chain, back to their
//! source) are counted, once per batch, and not kept; the rest are kept
//! in order with their destination for delivery.

use std::sync::atomic::{AtomicU64, Ordering};

use netmap_ring::abi::{NetmapSlot, NS_INDIRECT, NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::region::RESERVED_BUFFERS;
use netmap_ring::ring;
use netmap_ring::shm::SharedRegion;
use netmap_ring::view::RingView;

use vale_offload::chain::{Chain, TxDrop, ETH_HEADER_LEN};
use vale_offload::counters::{PortCounter, SwitchCounter};
use vale_offload::table::{HashedMac, ENTRY_MAC_MASK, PORT_DROP, PORT_FLOOD};

use crate::ctrl::PortEntry;
use crate::domain::Domain;
use crate::forward::Lookup;

/// One frame taken from a TX ring, waiting for delivery.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// The first 16 bytes of the payload as two little-endian words: the
    /// Ethernet header (destination, source, type) and two bytes more.
    pub header: [u64; 2],
    /// Region offset of the first fragment's payload.
    pub first_offset: usize,
    pub first_slot: u32,
    pub bytes: u32,
    pub slots: u16,
    /// The first slot had `NS_NO_LEARN`.
    pub no_learn: bool,
    /// Where it goes: a port, `PORT_FLOOD`, or `PORT_DROP` (back to its
    /// source: counted, never delivered).
    pub dst: u8,
}

impl Frame {
    /// The destination address bits of the header.
    #[inline]
    fn dst_bits(&self) -> u64 {
        self.header[0] & ENTRY_MAC_MASK
    }

    /// The source address bits of the header (bytes 6..12).
    #[inline]
    fn src_bits(&self) -> u64 {
        (self.header[0] >> 48 | self.header[1] << 16) & ENTRY_MAC_MASK
    }
}

/// What a batch's collection found, beside its frames.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Collected {
    /// The new hwcur: `head`, or the start of a MOREFRAG chain the
    /// application has not finished (it waits for a later sync).
    pub hwcur: u32,
    /// Frames and bytes to deliver (not dropped).
    pub packets: u64,
    pub bytes: u64,
    /// The one destination every kept frame has, if they share one.
    pub one_dst: Option<u8>,
}

/// Where a fragment's payload is, as a region offset, if the slot is valid:
/// a buffer of the pool (len within the buffer), or with `NS_INDIRECT` an
/// address inside the mapped region.
pub(crate) fn payload_offset(domain: &Domain, slot: &NetmapSlot) -> Option<usize> {
    let memory = domain.memory();
    if slot.flags & NS_INDIRECT != 0 {
        let region = memory.region();
        let off = (slot.ptr as usize).checked_sub(region.base_addr())?;
        (off.checked_add(usize::from(slot.len))? <= region.len()).then_some(off)
    } else {
        let off = memory.buf_offset(slot.buf_idx)?;
        (u32::from(slot.len) <= memory.buf_size()).then_some(off)
    }
}

/// The first 16 bytes at `off` as two little-endian words: one 16-byte
/// load from a buffer (buffers are 64-byte aligned), a byte copy of the
/// header from an unaligned indirect payload.
#[inline]
fn read_header(region: &SharedRegion, off: usize) -> Option<[u64; 2]> {
    if off.is_multiple_of(8) {
        region.read_u64_pair(off).ok()
    } else {
        let mut bytes = [0u8; 16];
        region.read_bytes(off, &mut bytes[..ETH_HEADER_LEN]).ok()?;
        let (w0, w1) = bytes.split_at(8);
        Some([
            u64::from_le_bytes(w0.try_into().expect("8 bytes")),
            u64::from_le_bytes(w1.try_into().expect("8 bytes")),
        ])
    }
}

/// The buffer pool's geometry, copied out of the memory's layout once per
/// batch so a loop keeps it in registers.
#[derive(Clone, Copy)]
pub(crate) struct Pool {
    base: usize,
    buf_size: usize,
    num_bufs: u32,
}

impl Pool {
    pub(crate) fn of(memory: &netmap_ring::region::NetmapMemory) -> Self {
        Pool {
            base: memory.layout().buf_off,
            buf_size: memory.buf_size() as usize,
            num_bufs: memory.num_bufs(),
        }
    }

    /// `NetmapMemory::buf_offset`: the offset of a buffer a slot may hold.
    #[inline]
    pub(crate) fn offset(&self, index: u32) -> Option<usize> {
        (RESERVED_BUFFERS..self.num_bufs)
            .contains(&index)
            .then(|| self.base + index as usize * self.buf_size)
    }
}

/// The fast path of collection: the one-slot frames in pool buffers at
/// the start of a run of TX slot words (`first` is the run's first slot),
/// validated, their headers loaded and pushed to `frames`; bad and short
/// ones counted in `drops` (bad, short). Stops at the first slot that
/// needs the slow path (a chain or an indirect payload). Returns the slots
/// taken and the bytes kept.
#[inline(always)]
fn collect_plain(
    words: &[AtomicU64],
    first: u32,
    pool: Pool,
    region: &SharedRegion,
    frames: &mut Vec<Frame>,
    drops: &mut (u64, u64),
) -> (u32, u64) {
    let (mut taken, mut bytes) = (0u32, 0u64);
    for slot in words.chunks_exact(2) {
        let word = slot[0].load(Ordering::Relaxed);
        let (buf_idx, len, flags) = (word as u32, (word >> 32) as u16, (word >> 48) as u16);
        if flags & (NS_MOREFRAG | NS_INDIRECT) != 0 {
            break;
        }
        let at = first + taken;
        taken += 1;
        let header = match pool.offset(buf_idx) {
            Some(off) if usize::from(len) <= pool.buf_size => {
                if usize::from(len) < ETH_HEADER_LEN {
                    drops.1 += 1;
                    continue;
                }
                region.read_u64_pair(off).ok().map(|header| (off, header))
            }
            _ => None,
        };
        let Some((off, header)) = header else {
            drops.0 += 1;
            continue;
        };
        bytes += u64::from(len);
        frames.push(Frame {
            header,
            first_offset: off,
            first_slot: at,
            bytes: u32::from(len),
            slots: 1,
            no_learn: flags & NS_NO_LEARN != 0,
            dst: PORT_DROP,
        });
    }
    (taken, bytes)
}

/// What the slow path made of the frame at a slot.
enum Slow {
    /// An unfinished chain: it waits at hwcur.
    Waits,
    /// Dropped before any lookup; the walk goes on at `end`.
    Dropped { why: TxDrop, end: u32 },
    /// A valid frame: its first payload offset, slots, bytes, end.
    Frame {
        offset: usize,
        slots: u32,
        bytes: u32,
        end: u32,
    },
}

/// A frame that is a MOREFRAG chain or has an indirect payload: walks and
/// validates its slots (`vale_offload::chain`'s rule).
#[cold]
fn slow_frame(domain: &Domain, view: &RingView<'_>, start: u32, head: u32) -> Slow {
    let n = view.num_slots();
    let first = view.slot(start);
    // The first fragment's payload: the frame's header is read there.
    let first_offset = payload_offset(domain, &first);
    let mut valid = first_offset.is_some();
    let mut bytes = u32::from(first.len);
    let chain = Chain::walk(start, head, n, |at| {
        if at == start {
            return first.flags & NS_MOREFRAG != 0;
        }
        let slot = view.slot(at);
        valid &= payload_offset(domain, &slot).is_some();
        bytes += u32::from(slot.len);
        slot.flags & NS_MOREFRAG != 0
    });
    if chain.waits() {
        return Slow::Waits;
    }
    // The header must be in the first fragment.
    match chain.verdict(valid, usize::from(first.len)) {
        Err(why) => Slow::Dropped {
            why,
            end: chain.end,
        },
        Ok(()) => Slow::Frame {
            offset: first_offset.expect("validated above"),
            slots: chain.slots,
            bytes,
            end: chain.end,
        },
    }
}

/// Pass 1: walks `hwcur..head` of TX ring `view`, validating each frame
/// and loading its header; keeps the valid frames in `frames`, in order,
/// and counts the others on `entry`. Returns the new hwcur and the bytes
/// kept.
#[inline(never)]
fn collect(
    domain: &Domain,
    view: &RingView<'_>,
    entry: &PortEntry<'_>,
    (hwcur, head): (u32, u32),
    frames: &mut Vec<Frame>,
) -> (u32, u64) {
    let n = view.num_slots();
    let memory = domain.memory();
    let region = memory.region();
    let pool = Pool::of(memory);
    let (mut short, mut bad, mut long) = (0u64, 0u64, 0u64);
    let mut bytes_kept = 0u64;
    frames.reserve(ring::distance(hwcur, head, n) as usize);
    let mut i = hwcur;
    while i != head {
        // The common case: a run of one-slot frames in pool buffers, up to
        // head or the ring's end.
        let run = ring::distance(i, head, n).min(n - i);
        let mut drops = (0, 0);
        let (taken, bytes) =
            collect_plain(view.slot_run(i, run), i, pool, region, frames, &mut drops);
        bad += drops.0;
        short += drops.1;
        bytes_kept += bytes;
        i += taken;
        if i == n {
            i = 0;
        }
        if taken == run {
            continue;
        }
        // A chain or an indirect payload.
        let start = i;
        let flags = (view.slot_word(start) >> 48) as u16;
        let (offset, slots, bytes) = match slow_frame(domain, view, start, head) {
            Slow::Waits => break,
            Slow::Dropped { why, end } => {
                i = end;
                match why {
                    TxDrop::Chain => long += 1,
                    TxDrop::BadSlot => bad += 1,
                    TxDrop::Short => short += 1,
                }
                continue;
            }
            Slow::Frame {
                offset,
                slots,
                bytes,
                end,
            } => {
                i = end;
                (offset, slots, bytes)
            }
        };
        let Some(header) = read_header(region, offset) else {
            bad += 1;
            continue;
        };
        bytes_kept += u64::from(bytes);
        frames.push(Frame {
            header,
            first_offset: offset,
            first_slot: start,
            bytes,
            // A chain is at most MAX_FRAGS slots.
            slots: slots as u16,
            no_learn: flags & NS_NO_LEARN != 0,
            dst: PORT_DROP,
        });
    }
    entry.add(PortCounter::TxDropShort, short);
    entry.add(PortCounter::TxDropBadSlot, bad);
    entry.add(PortCounter::TxDropChain, long);
    (i, bytes_kept)
}

/// What pass 2 counted.
#[derive(Default)]
struct Decisions {
    hits: u64,
    learns: u64,
    floods: u64,
    same: u64,
    same_bytes: u64,
    /// Every frame has the destination of the first.
    one_dst: bool,
}

/// Pass 2 with the learning bridge: the table directly. An address is
/// hashed and located once per run of equal addresses (the hash is a pure
/// function of the address), and a destination is looked up again only
/// when it differs from the previous frame's or this batch wrote the table
/// since (another sender's concurrent write is a race either way, as in
/// netmap: the lookup may see it or not).
#[inline(never)]
fn decide_by_table(domain: &Domain, src: u8, frames: &mut [Frame]) -> Decisions {
    let table = domain.table();
    let (mut hits, mut learns, mut floods, mut same, mut same_bytes) = (0, 0, 0, 0, 0);
    // Bits no address has (48 bits at most): the first frame hashes.
    const NONE: u64 = u64::MAX;
    let mut src_mac = HashedMac {
        bits: NONE,
        hash: 0,
    };
    // The last destination looked up and the answer: (port, hit).
    let (mut dst_bits_seen, mut decided) = (NONE, (PORT_DROP, false));
    // netmap's per-port `last_smac`: a source just learned from this port
    // is not learned again for the next frame of the same batch. Nothing
    // else writes the table between the two (the destination lookup only
    // reads), so the outcome is the same as learning again.
    let mut last_learned = NONE;
    // Destination changes from frame to frame (from `PORT_DROP` before
    // the first).
    let (mut changes, mut last_dst) = (0u32, PORT_DROP);
    for frame in frames.iter_mut() {
        let src_bits = frame.src_bits();
        if !frame.no_learn && src_bits != last_learned {
            if src_bits != src_mac.bits {
                src_mac = HashedMac::new(src_bits);
            }
            if table.learn_hashed(src_mac, src).wrote() {
                learns += 1;
                dst_bits_seen = NONE;
            }
            last_learned = src_bits;
        }
        let dst_bits = frame.dst_bits();
        if dst_bits != dst_bits_seen {
            decided = table.destination(HashedMac::new(dst_bits), src);
            dst_bits_seen = dst_bits;
        }
        let (port, hit) = decided;
        frame.dst = port;
        hits += u64::from(hit);
        floods += u64::from(port == PORT_FLOOD);
        if port == PORT_DROP {
            same += 1;
            same_bytes += u64::from(frame.bytes);
        }
        changes += u32::from(port != last_dst);
        last_dst = port;
    }
    Decisions {
        hits,
        learns,
        floods,
        same,
        same_bytes,
        // One change at most, and that one at the first frame.
        one_dst: changes == 0 || (changes == 1 && frames[0].dst != PORT_DROP),
    }
}

/// Pass 2 with another forwarding policy: its `lookup` per frame.
fn decide_by_lookup(
    domain: &Domain,
    src: u8,
    lookup: &dyn Lookup,
    frames: &mut [Frame],
) -> Decisions {
    let mut d = Decisions::default();
    let mut last_learned = u64::MAX;
    for frame in frames.iter_mut() {
        let src_bits = frame.src_bits();
        let learn = !frame.no_learn && src_bits != last_learned;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&frame.header[0].to_le_bytes());
        bytes[8..].copy_from_slice(&frame.header[1].to_le_bytes());
        let header = bytes[..ETH_HEADER_LEN].try_into().expect("14 of 16");
        let decision = lookup.lookup(header, src, learn, domain.table());
        if learn {
            last_learned = src_bits;
        }
        frame.dst = decision.port;
        d.hits += u64::from(decision.hit);
        d.learns += u64::from(decision.learned.wrote());
        d.floods += u64::from(decision.port == PORT_FLOOD);
        if decision.port == PORT_DROP {
            d.same += 1;
            d.same_bytes += u64::from(frame.bytes);
        }
    }
    d
}

/// Collects and decides the frames of `hwcur..head` of TX ring `view` of
/// port `src` (entry `entry`): the frames to deliver end up in `frames`
/// in order (a frame going back to its source stays, marked `PORT_DROP`),
/// every drop and lookup counted.
pub(crate) fn collect_frames(
    domain: &Domain,
    view: &RingView<'_>,
    entry: &PortEntry<'_>,
    src: u8,
    ring: (u32, u32),
    lookup: &dyn Lookup,
    frames: &mut Vec<Frame>,
) -> Collected {
    let (hwcur, bytes) = collect(domain, view, entry, ring, frames);
    let d = if lookup.decides_by_table_alone() {
        decide_by_table(domain, src, frames)
    } else {
        decide_by_lookup(domain, src, lookup, frames)
    };
    let lookups = frames.len() as u64;
    entry.add(PortCounter::TxDropSamePort, d.same);
    let ctrl = domain.ctrl();
    for (counter, value) in [
        (SwitchCounter::Lookups, lookups),
        (SwitchCounter::Hits, d.hits),
        (SwitchCounter::Misses, lookups - d.hits),
        (SwitchCounter::Learns, d.learns),
        (SwitchCounter::Floods, d.floods),
        (SwitchCounter::SamePortDrops, d.same),
    ] {
        if value != 0 {
            ctrl.switch_counter(counter)
                .fetch_add(value, Ordering::Relaxed);
        }
    }
    Collected {
        hwcur,
        packets: lookups - d.same,
        bytes: bytes - d.same_bytes,
        one_dst: frames.first().map(|f| f.dst).filter(|_| d.one_dst),
    }
}
