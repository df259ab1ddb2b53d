//! The first half of a VALE txsync: take the frames the application
//! released (`hwcur..head`), validate each and decide where it goes, in
//! one pass over the batch (netmap's `nm_bdg_preflush`).
//!
//! - **Validate**: each frame's slots (buffer index in the pool, length
//!   within the buffer, `NS_INDIRECT` pointers inside the region, the
//!   MOREFRAG rule of `vale_offload::chain`). One-slot frames in pool
//!   buffers, the common case, are taken in runs ([`collect_plain`]): one
//!   load of the slot word and one 16-byte load of the header each; chains
//!   and indirect payloads take [`slow_frame`].
//! - **Decide** each valid frame as it is taken, in the batch's order
//!   (`crate::decide`: the table directly for the learning bridge, the
//!   switch's `Lookup` otherwise).
//!
//! Frames dropped here (bad, short, too long a chain, back to their
//! source) are counted, once per batch, and not kept; the rest are kept
//! in order with their destination for delivery.

use std::sync::atomic::{AtomicU64, Ordering};

use netmap_ring::abi::{NetmapSlot, NS_INDIRECT, NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::region::RESERVED_BUFFERS;
use netmap_ring::ring;
use netmap_ring::shm::{RecordHeads, SharedRegion, LINE};
use netmap_ring::view::RingView;

use vale_offload::chain::{Chain, TxDrop, ETH_HEADER_LEN};
use vale_offload::counters::{PortCounter, SwitchCounter};
use vale_offload::table::{PORT_DROP, PORT_FLOOD};

use crate::ctrl::PortEntry;
use crate::decide::{ByLookup, ByTable, Decide, NO_MAC};
use crate::domain::Domain;
use crate::forward::Lookup;

/// One frame taken from a TX ring, decided, waiting for delivery.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// Region offset of the first fragment's payload.
    pub first_offset: usize,
    pub first_slot: u32,
    pub bytes: u32,
    /// Slots of the frame (a chain is at most `MAX_FRAGS`).
    pub slots: u16,
    /// For one slot of at most a line (64 bytes) in a pool buffer, that
    /// buffer (delivery may copy it as one whole line); `NO_LINE` else.
    pub line_buf: u32,
    /// A port or `PORT_FLOOD`.
    pub dst: u8,
}

/// `Frame::line_buf` of a frame not copied as a line.
pub(crate) const NO_LINE: u32 = u32::MAX;

/// A place in the batch's frame array before a frame fills it.
const EMPTY: Frame = Frame {
    first_offset: 0,
    first_slot: 0,
    bytes: 0,
    slots: 0,
    line_buf: NO_LINE,
    dst: PORT_DROP,
};

/// What a batch's collection found, beside its frames.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Collected {
    /// The new hwcur: `head`, or the start of a MOREFRAG chain the
    /// application has not finished (it waits for a later sync).
    pub hwcur: u32,
    /// Bytes of the kept frames.
    pub bytes: u64,
    /// The one destination every kept frame has, if they share one.
    pub one_dst: Option<u8>,
    /// The frames kept: the first `kept` of the batch's frame array.
    pub kept: usize,
}

/// The batch's counts, added to the port and switch once.
#[derive(Clone, Copy, Default)]
struct Tally {
    short: u64,
    bad: u64,
    long: u64,
    same: u64,
    bytes: u64,
}

impl Tally {
    /// Decides a valid frame and keeps it unless it goes back to its
    /// source.
    #[inline(always)]
    fn decide_and_keep(
        &mut self,
        decider: &mut impl Decide,
        (out, kept): (&mut [Frame], &mut usize),
        header: [u64; 2],
        no_learn: bool,
        mut frame: Frame,
    ) {
        let dst = decider.decide(header, no_learn);
        if dst == PORT_DROP {
            self.same += 1;
            return;
        }
        self.bytes += u64::from(frame.bytes);
        frame.dst = dst;
        // `out` has a place for every slot of the batch.
        out[*kept] = frame;
        *kept += 1;
    }
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

    /// The pool's buffers as a window of records (`None` for a pool not
    /// inside its region, which no formatted domain has).
    pub(crate) fn buffers(self, region: &SharedRegion) -> Option<RecordHeads<'_>> {
        region
            .record_heads(self.base, self.buf_size, self.num_bufs)
            .ok()
    }
}

/// The fast path of collection: the one-slot frames in pool buffers at
/// the start of a run of TX slot words (`first` is the run's first slot),
/// validated, decided and kept; bad and short ones counted. Stops at the
/// first slot that needs the slow path (a chain or an indirect payload).
/// Returns the slots taken.
#[inline(always)]
fn collect_plain(
    words: &[AtomicU64],
    first: u32,
    heads: RecordHeads<'_>,
    decider: &mut impl Decide,
    tally: &mut Tally,
    (out, kept): (&mut [Frame], &mut usize),
) -> u32 {
    let mut taken = 0u32;
    for slot in words.chunks_exact(2) {
        let word = slot[0].load(Ordering::Relaxed);
        let (buf_idx, len, flags) = (word as u32, (word >> 32) as u16, (word >> 48) as u16);
        if flags & (NS_MOREFRAG | NS_INDIRECT) != 0 {
            break;
        }
        let at = first + taken;
        taken += 1;
        // The pool's buffers are the window's records (`NetmapMemory::
        // buf_offset`'s rule: not a reserved one, length within it).
        if buf_idx < RESERVED_BUFFERS || usize::from(len) > heads.stride() {
            tally.bad += 1;
            continue;
        }
        let Some(header) = heads.read(buf_idx) else {
            tally.bad += 1;
            continue;
        };
        if usize::from(len) < ETH_HEADER_LEN {
            tally.short += 1;
            continue;
        }
        let off = heads.offset_of(buf_idx);
        let frame = Frame {
            first_offset: off,
            first_slot: at,
            bytes: u32::from(len),
            slots: 1,
            line_buf: if usize::from(len) <= LINE {
                buf_idx
            } else {
                NO_LINE
            },
            dst: PORT_DROP,
        };
        tally.decide_and_keep(
            decider,
            (out, kept),
            header,
            flags & NS_NO_LEARN != 0,
            frame,
        );
    }
    taken
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

/// Walks `hwcur..head` of TX ring `view`, validating and deciding each
/// frame with `decider`; keeps the frames to deliver in `out` (a place
/// for every slot), in order. Returns the new hwcur, the frames kept, the
/// tally and the decider (state kept in locals, so the loop has it in
/// registers).
#[inline(always)]
fn collect<D: Decide>(
    domain: &Domain,
    view: &RingView<'_>,
    (hwcur, head): (u32, u32),
    mut decider: D,
    out: &mut [Frame],
) -> (u32, usize, Tally, D) {
    let n = view.num_slots();
    let memory = domain.memory();
    let region = memory.region();
    let pool = Pool::of(memory);
    let heads = pool.buffers(region);
    let mut tally = Tally::default();
    let mut kept = 0;
    let mut i = hwcur;
    while i != head {
        // The common case: a run of one-slot frames in pool buffers, up to
        // head or the ring's end.
        let run = ring::distance(i, head, n).min(n - i);
        let words = view.slot_run(i, run);
        let taken = match heads {
            Some(heads) => {
                collect_plain(words, i, heads, &mut decider, &mut tally, (out, &mut kept))
            }
            // A pool not inside its region (never formatted so): every
            // frame takes the slow path's checks.
            None => 0,
        };
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
                    TxDrop::Chain => tally.long += 1,
                    TxDrop::BadSlot => tally.bad += 1,
                    TxDrop::Short => tally.short += 1,
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
            tally.bad += 1;
            continue;
        };
        let frame = Frame {
            first_offset: offset,
            first_slot: start,
            bytes,
            slots: slots as u16,
            line_buf: NO_LINE,
            dst: PORT_DROP,
        };
        tally.decide_and_keep(
            &mut decider,
            (out, &mut kept),
            header,
            flags & NS_NO_LEARN != 0,
            frame,
        );
    }
    (i, kept, tally, decider)
}

/// Collects and decides the frames of `hwcur..head` of TX ring `view` of
/// port `src` (entry `entry`): the frames to deliver end up at the start
/// of `frames`, in order (`Collected::kept` of them; the places past them
/// are stale), every drop and lookup counted.
pub(crate) fn collect_frames(
    domain: &Domain,
    view: &RingView<'_>,
    entry: &PortEntry<'_>,
    src: u8,
    ring: (u32, u32),
    lookup: &dyn Lookup,
    frames: &mut Vec<Frame>,
) -> Collected {
    // A place for every slot of the batch. The array is kept from batch
    // to batch and only grows: every place is written before it is read
    // (the frames kept are written in order from the first place), so
    // filling it again each batch would only cost its stores.
    let places = ring::distance(ring.0, ring.1, view.num_slots()) as usize;
    if frames.len() < places {
        frames.resize(places, EMPTY);
    }
    let frames = &mut frames[..places];
    let (hwcur, kept, tally, one_dst, lookups, floods, (hits, learns)) = if lookup
        .decides_by_table_alone()
    {
        let decider = ByTable::new(domain.table(), src);
        let (hwcur, kept, tally, decider) = collect_by_table(domain, view, ring, decider, frames);
        let (one_dst, lookups, floods) = summary(frames, kept, &tally, decider.one_dst());
        let hits_learns = decider.hits_learns(lookups, floods);
        (hwcur, kept, tally, one_dst, lookups, floods, hits_learns)
    } else {
        let decider = ByLookup {
            domain,
            lookup,
            src,
            last_learned: NO_MAC,
            hits: 0,
            learns: 0,
            changes: 0,
            last_port: PORT_DROP,
        };
        let (hwcur, kept, tally, decider) = collect(domain, view, ring, decider, frames);
        let (one_dst, lookups, floods) = summary(frames, kept, &tally, decider.one_dst());
        let hits_learns = decider.hits_learns(lookups, floods);
        (hwcur, kept, tally, one_dst, lookups, floods, hits_learns)
    };
    entry.add(PortCounter::TxDropShort, tally.short);
    entry.add(PortCounter::TxDropBadSlot, tally.bad);
    entry.add(PortCounter::TxDropChain, tally.long);
    entry.add(PortCounter::TxDropSamePort, tally.same);
    let ctrl = domain.ctrl();
    for (counter, value) in [
        (SwitchCounter::Lookups, lookups),
        (SwitchCounter::Hits, hits),
        (SwitchCounter::Misses, lookups - hits),
        (SwitchCounter::Learns, learns),
        (SwitchCounter::Floods, floods),
        (SwitchCounter::SamePortDrops, tally.same),
    ] {
        if value != 0 {
            ctrl.switch_counter(counter)
                .fetch_add(value, Ordering::Relaxed);
        }
    }
    Collected {
        hwcur,
        bytes: tally.bytes,
        one_dst,
        kept,
    }
}

/// Of the `kept` frames at the start of `frames`: their one destination
/// if they share one (`one` says the decisions had one), and the batch's
/// lookups (the kept frames and the ones sent back to their source) and
/// floods (kept frames to `PORT_FLOOD`).
fn summary(frames: &[Frame], kept: usize, tally: &Tally, one: bool) -> (Option<u8>, u64, u64) {
    let frames = &frames[..kept];
    let one_dst = frames.first().map(|f| f.dst).filter(|_| one);
    let floods = match one_dst {
        Some(dst) => kept as u64 * u64::from(dst == PORT_FLOOD),
        None => frames.iter().filter(|f| f.dst == PORT_FLOOD).count() as u64,
    };
    (one_dst, kept as u64 + tally.same, floods)
}

/// [`collect`] with the learning bridge, not inlined: its loop keeps its
/// state in registers. On an x86-64 CPU with AVX2 and BMI2 the same loop
/// is compiled for them (`collect_by_table_x86v3`).
#[inline(never)]
fn collect_by_table<'a>(
    domain: &Domain,
    view: &RingView<'_>,
    ring: (u32, u32),
    decider: ByTable<'a>,
    out: &mut [Frame],
) -> (u32, usize, Tally, ByTable<'a>) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_x86v3() {
        // SAFETY: the CPU has AVX2, BMI1 and BMI2 (checked just above),
        // the features `collect_by_table_x86v3` is compiled for.
        return unsafe { collect_by_table_x86v3(domain, view, ring, decider, out) };
    }
    collect(domain, view, ring, decider, out)
}

/// [`collect_by_table`] compiled for AVX2, BMI1 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2")]
unsafe fn collect_by_table_x86v3<'a>(
    domain: &Domain,
    view: &RingView<'_>,
    ring: (u32, u32),
    decider: ByTable<'a>,
    out: &mut [Frame],
) -> (u32, usize, Tally, ByTable<'a>) {
    collect(domain, view, ring, decider, out)
}
