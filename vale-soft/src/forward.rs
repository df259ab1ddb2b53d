//! VALE forwarding, done in the sender's txsync as netmap's kernel does,
//! and the RX sync shared by VALE ports and pipe ends.
//!
//! A txsync takes the slots the application released (`hwcur..head`),
//! validates each (buffer index, length, chain length), decides every
//! frame's destination with the switch's lookup function, then delivers:
//! for each destination ring, under that ring's lock, it copies the frames
//! in order into free RX slots and publishes them by moving the ring's
//! `hwtail`. Nothing blocks: a frame that does not fit is dropped and
//! counted. The TX ring is then handed back whole (netmap's VALE completes
//! transmission inside the sync).

use std::cell::RefCell;
use std::sync::atomic::{fence, Ordering};

use netmap_ring::abi::{NetmapSlot, NR_TIMESTAMP, NS_INDIRECT, NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::lock::ShmLock;
use netmap_ring::port::SyncError;
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::shm::SharedRegion;
use netmap_ring::view::RingView;

use vale_offload::chain::{Chain, TxDrop, ETH_HEADER_LEN};
use vale_offload::counters::{PortCounter, SwitchCounter};
use vale_offload::placement::PortKind;

use crate::ctrl::{self, binding, kring, port, Dir, Kring, MAX_BINDINGS, PORT_ACTIVE};
use crate::domain::{Domain, RegionTable};
use vale_offload::table::{ForwardDecision, LearningTable, MAX_PORTS, PORT_DROP, PORT_FLOOD};

/// A switch's forwarding policy (netmap's `bdg_ops.lookup` hook). Given
/// the first bytes of a frame (at least the Ethernet header) and its
/// source port, returns the destination port, [`PORT_FLOOD`] or
/// [`PORT_DROP`].
pub trait Lookup: Send + Sync {
    fn lookup(
        &self,
        header: &[u8; ETH_HEADER_LEN],
        src_port: u8,
        learn: bool,
        table: &LearningTable<RegionTable>,
    ) -> ForwardDecision;
}

/// The default policy: netmap's learning bridge.
#[derive(Clone, Copy, Debug, Default)]
pub struct LearningBridge;

impl Lookup for LearningBridge {
    fn lookup(
        &self,
        header: &[u8; ETH_HEADER_LEN],
        src_port: u8,
        learn: bool,
        table: &LearningTable<RegionTable>,
    ) -> ForwardDecision {
        let dst: [u8; 6] = header[0..6].try_into().expect("6 bytes");
        let src: [u8; 6] = header[6..12].try_into().expect("6 bytes");
        table.forward(&src, &dst, src_port, learn)
    }
}

/// One frame taken from a TX ring, waiting for delivery.
#[derive(Clone, Copy, Debug)]
struct Frame {
    first_slot: u32,
    /// Region offset of the first fragment's payload.
    first_offset: usize,
    slots: u32,
    bytes: u32,
    dst: u8,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    static DELIVERED: RefCell<Vec<bool>> = const { RefCell::new(Vec::new()) };
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

/// The Ethernet header at `off`: two word loads from a buffer (buffers
/// are 64-byte aligned), a byte copy from an unaligned indirect payload.
#[inline]
fn read_header(region: &SharedRegion, off: usize) -> Option<[u8; ETH_HEADER_LEN]> {
    let mut header = [0u8; ETH_HEADER_LEN];
    if off.is_multiple_of(8) {
        let [w0, w1] = region.read_u64_pair(off).ok()?;
        header[..8].copy_from_slice(&w0.to_le_bytes());
        header[8..].copy_from_slice(&w1.to_le_bytes()[..ETH_HEADER_LEN - 8]);
    } else {
        region.read_bytes(off, &mut header).ok()?;
    }
    Some(header)
}

/// Reports a bad head/cur: counts it, puts the ring back to the engine's
/// view (netmap reinitialises the ring) and returns the error.
pub(crate) fn reinit(
    view: &RingView<'_>,
    k: &Kring<'_>,
    entry: &ctrl::PortEntry<'_>,
    ring_id: u32,
    tail: u32,
    source: ring::RingError,
) -> SyncError {
    let hwcur = k.field(kring::HWCUR).load(Ordering::Acquire);
    view.set_head(hwcur);
    view.set_cur(hwcur);
    view.set_tail(tail);
    entry.add(PortCounter::BadRingSyncs, 1);
    SyncError::BadRing {
        ring: ring_id,
        source,
    }
}

/// netmap's `NR_TIMESTAMP`: a sync stamps the ring's `ts` when the
/// application set the flag in the ring.
pub(crate) fn stamp_if_asked(view: &RingView<'_>) {
    if view.flags() & NR_TIMESTAMP != 0 {
        view.stamp();
    }
}

/// Wakes the binding that holds ring `ring` (of direction `dir`) of entry
/// `index`, if it asked to be woken.
pub fn kick_ring(domain: &Domain, index: u32, dir: Dir, ring: u32) {
    let ctrl = domain.ctrl();
    let owner = ctrl
        .kring(index, dir, ring)
        .field(kring::OWNER)
        .load(Ordering::Acquire);
    if owner == 0 || owner > MAX_BINDINGS {
        return;
    }
    let slot = owner - 1;
    let b = ctrl.binding(slot);
    // SeqCst fence: orders our publication (hwtail/hwcur stores) before
    // reading the wake flag, against the waiter's SeqCst store of the flag
    // before it re-reads the ring (Dekker): one of us sees the other.
    fence(Ordering::SeqCst);
    if b.field(binding::WAKE_WANTED).load(Ordering::Relaxed) == 0 {
        return;
    }
    if b.field(binding::WAKE_WANTED).swap(0, Ordering::AcqRel) == 0 {
        return;
    }
    let generation = b.get(binding::GENERATION);
    let mut wakers = domain.wakers.lock().unwrap_or_else(|p| p.into_inner());
    let stale = wakers.get(&slot).is_none_or(|(g, _)| *g != generation);
    if stale {
        wakers.remove(&slot);
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(fifo) = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(domain.wake_path(slot))
        {
            wakers.insert(slot, (generation, fifo));
        }
    }
    if let Some((_, fifo)) = wakers.get(&slot) {
        use std::io::Write;
        // A full FIFO already holds a wake-up: EAGAIN is fine.
        let _ = (&*fifo).write(&[1]);
    }
}

/// txsync of TX ring `ring_id` of VALE port `src`.
pub fn vale_txsync(domain: &Domain, src: u32, ring_id: u32) -> Result<(), SyncError> {
    let ctrl = domain.ctrl();
    let region = domain.memory().region();
    let entry = ctrl.port(src);
    let k = ctrl.kring(src, Dir::Tx, ring_id);
    let n = k.num_slots();
    let view =
        RingView::new(region, k.ring_off(), n).map_err(|e| SyncError::Gone(e.to_string()))?;
    // One sync of this ring at a time (threads sharing the port).
    let (_sync, _) = ShmLock::new(k.sync_lock_word()).lock();
    let hwcur = k.field(kring::HWCUR).load(Ordering::Acquire);
    let hwtail = k.field(kring::HWTAIL).load(Ordering::Acquire);
    let head = view.head();
    let cur = view.cur();
    if let Err(source) = check_head_cur(n, hwcur, hwtail, head, cur) {
        return Err(reinit(&view, &k, &entry, ring_id, hwtail, source));
    }
    let lookup = domain
        .lookup
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    FRAMES.with_borrow_mut(|frames| {
        frames.clear();
        let new_hwcur = collect_frames(domain, &view, &entry, src, hwcur, head, &*lookup, frames);
        deliver(domain, region, &view, &entry, src, ring_id, frames);
        crate::monitor::transmitted(domain, src, ring_id, &view, hwcur, new_hwcur);
        // Every slot up to the new hwcur is transmitted: give the ring back.
        let new_hwtail = ring::prev(new_hwcur, n);
        k.field(kring::HWCUR).store(new_hwcur, Ordering::Release);
        k.field(kring::HWTAIL).store(new_hwtail, Ordering::Release);
        view.set_tail(new_hwtail);
    });
    stamp_if_asked(&view);
    Ok(())
}

/// Walks `hwcur..head`, validating and deciding each frame. Returns the new
/// hwcur: `head`, or the start of a MOREFRAG chain the application has not
/// finished (it stays pending until a later sync).
#[allow(clippy::too_many_arguments)]
fn collect_frames(
    domain: &Domain,
    view: &RingView<'_>,
    entry: &ctrl::PortEntry<'_>,
    src: u32,
    hwcur: u32,
    head: u32,
    lookup: &dyn Lookup,
    frames: &mut Vec<Frame>,
) -> u32 {
    let n = view.num_slots();
    let ctrl = domain.ctrl();
    let region = domain.memory().region();
    let (mut lookups, mut hits, mut misses, mut learns, mut floods, mut same) = (0, 0, 0, 0, 0, 0);
    let (mut short, mut bad, mut long) = (0, 0, 0);
    // netmap's per-port `last_smac`: a source just learned from this port
    // is not looked up again for the next frame of the same batch. Nothing
    // else writes the table between the two (the destination lookup only
    // reads), so the outcome is the same as learning again.
    let mut last_learned: Option<[u8; 6]> = None;
    let mut i = hwcur;
    while i != head {
        let start = i;
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
            // An unfinished chain waits at hwcur for the rest of it.
            break;
        }
        i = chain.end;
        // The header must be in the first fragment.
        if let Err(why) = chain.verdict(valid, usize::from(first.len)) {
            match why {
                TxDrop::Chain => long += 1,
                TxDrop::BadSlot => bad += 1,
                TxDrop::Short => short += 1,
            }
            continue;
        }
        let slots = chain.slots;
        let off = first_offset.expect("validated above");
        let Some(header) = read_header(region, off) else {
            bad += 1;
            continue;
        };
        let src_mac: [u8; 6] = header[6..12].try_into().expect("6 bytes");
        let learn = first.flags & NS_NO_LEARN == 0 && last_learned != Some(src_mac);
        let decision = lookup.lookup(&header, src as u8, learn, domain.table());
        if learn {
            last_learned = Some(src_mac);
        }
        lookups += 1;
        if decision.hit {
            hits += 1;
        } else {
            misses += 1;
        }
        if decision.learned.wrote() {
            learns += 1;
        }
        match decision.port {
            PORT_DROP => {
                same += 1;
                continue;
            }
            PORT_FLOOD => floods += 1,
            _ => {}
        }
        frames.push(Frame {
            first_slot: start,
            first_offset: off,
            slots,
            bytes,
            dst: decision.port,
        });
    }
    entry.add(PortCounter::TxDropShort, short);
    entry.add(PortCounter::TxDropBadSlot, bad);
    entry.add(PortCounter::TxDropChain, long);
    entry.add(PortCounter::TxDropSamePort, same);
    for (counter, value) in [
        (SwitchCounter::Lookups, lookups),
        (SwitchCounter::Hits, hits),
        (SwitchCounter::Misses, misses),
        (SwitchCounter::Learns, learns),
        (SwitchCounter::Floods, floods),
        (SwitchCounter::SamePortDrops, same),
    ] {
        if value != 0 {
            ctrl.switch_counter(counter)
                .fetch_add(value, Ordering::Relaxed);
        }
    }
    i
}

/// Copies the collected frames into their destinations' RX rings.
fn deliver(
    domain: &Domain,
    region: &SharedRegion,
    view: &RingView<'_>,
    entry: &ctrl::PortEntry<'_>,
    src: u32,
    ring_id: u32,
    frames: &[Frame],
) {
    if frames.is_empty() {
        return;
    }
    let ctrl = domain.ctrl();
    // Which ports receive anything: unicast targets, plus every other
    // switch port when some frame floods.
    let mut targets = [0u64; 4];
    let mut any_flood = false;
    for f in frames {
        if f.dst == PORT_FLOOD {
            any_flood = true;
        } else {
            targets[usize::from(f.dst) / 64] |= 1 << (f.dst % 64);
        }
    }
    // A flood with no other port on the switch has nowhere to go; one
    // whose destinations were all full is counted as TxDropFull instead.
    let mut flood_has_port = false;
    if any_flood {
        for (w, word) in targets.iter_mut().enumerate() {
            let mut ports = ctrl.vale_bitmap(w).load(Ordering::Acquire);
            if w == src as usize / 64 {
                ports &= !(1 << (src % 64));
            }
            flood_has_port |= ports != 0;
            *word |= ports;
        }
    }
    targets[src as usize / 64] &= !(1 << (src % 64));
    let set_bits = targets.iter().enumerate().flat_map(|(w, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros();
                word &= word - 1;
                (w * 64) as u32 + bit
            })
        })
    });
    for dst in set_bits.filter(|&d| d < u32::from(MAX_PORTS)) {
        let d = ctrl.port(dst);
        if d.state() != PORT_ACTIVE || d.kind() != Some(PortKind::Vale) {
            continue;
        }
        let rx_rings = d.get(port::RX_RINGS).max(1);
        let unicast_ring = ring_id % rx_rings;
        // Broadcast and flooding go to RX ring 0 (DESIGN.md section 4).
        let rings: &[u32] = if unicast_ring == 0 {
            &[0]
        } else {
            &[unicast_ring, 0]
        };
        for &rx_ring in rings {
            let wanted = |f: &Frame| {
                (f.dst == dst as u8 && rx_ring == unicast_ring)
                    || (f.dst == PORT_FLOOD && rx_ring == 0)
            };
            if !frames.iter().any(wanted) {
                continue;
            }
            if deliver_to_ring(
                domain, region, view, entry, &d, dst, rx_ring, frames, &wanted,
            ) {
                kick_ring(domain, dst, Dir::Rx, rx_ring);
            }
        }
    }
    let mut no_dest = 0;
    let (mut tx_packets, mut tx_bytes) = (0, 0);
    for f in frames {
        tx_packets += 1;
        tx_bytes += u64::from(f.bytes);
        if f.dst == PORT_FLOOD && !flood_has_port {
            no_dest += 1;
        }
    }
    entry.add(PortCounter::TxPackets, tx_packets);
    entry.add(PortCounter::TxBytes, tx_bytes);
    entry.add(PortCounter::TxDropNoDest, no_dest);
}

/// Bytes of a cache line: the unit of a short frame's copy.
const LINE: usize = 64;

/// How far ahead of the slot being filled a delivery prefetches RX slots
/// (see `pipe::pipe_txsync`, where it was measured).
const PREFETCH_AHEAD: u32 = crate::pipe::PREFETCH_AHEAD;

/// Copies the frames `wanted` selects into RX ring `rx_ring` of port `d`.
/// Returns whether anything was published.
#[allow(clippy::too_many_arguments)]
fn deliver_to_ring(
    domain: &Domain,
    region: &SharedRegion,
    view: &RingView<'_>,
    entry: &ctrl::PortEntry<'_>,
    d: &ctrl::PortEntry<'_>,
    dst: u32,
    rx_ring: u32,
    frames: &[Frame],
    wanted: &dyn Fn(&Frame) -> bool,
) -> bool {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let k = ctrl.kring(dst, Dir::Rx, rx_ring);
    let (_guard, _how) = ShmLock::new(k.lock_word()).lock();
    // The port may have closed between the check and the lock.
    if d.state() != PORT_ACTIVE {
        return false;
    }
    let n = k.num_slots();
    let Ok(rx) = RingView::new(region, k.ring_off(), n) else {
        return false;
    };
    let tx_n = view.num_slots();
    // Acquire: pairs with the receiver's Release store of hwcur in rxsync,
    // so the slots it released are really free.
    let hwcur = k.field(kring::HWCUR).load(Ordering::Acquire);
    let mut hwtail = k.field(kring::HWTAIL).load(Ordering::Relaxed);
    let first_new = hwtail;
    let (mut packets, mut bytes, mut full, mut bad_buf) = (0u64, 0u64, 0u64, 0u64);
    let mut free = (hwcur + n - hwtail - 1) % n;
    let buf_size = memory.buf_size() as usize;
    for f in frames {
        if !wanted(f) {
            continue;
        }
        if f.slots > free {
            full += 1;
            continue;
        }
        if f.slots == 1 {
            // The common case: one slot, one copy, no chain bookkeeping.
            // The RX slot (and below, its buffer) is read, then written:
            // ask for lines ahead in a writable state, as the pipe does.
            if free > PREFETCH_AHEAD {
                rx.prefetch_slot_for_write(hwtail + PREFETCH_AHEAD);
            }
            let Some(to) = memory.buf_offset(rx.slot(hwtail).buf_idx) else {
                bad_buf += 1;
                continue;
            };
            let len = (f.bytes as usize).min(buf_size);
            // A short frame is copied as one whole cache line, as netmap's
            // `pkt_copy` copies in 64-byte units: a constant size is a few
            // vector moves instead of a memcpy call. The bytes past `len`
            // in the RX buffer are not the receiver's to read; the source
            // line is inside the region (checked), else the exact copy runs.
            let line_copied = len <= LINE
                && buf_size >= LINE
                && region.copy_within(f.first_offset, to, LINE).is_ok();
            let len = if line_copied || region.copy_within(f.first_offset, to, len).is_ok() {
                len
            } else {
                0 // an indirect pointer into this very buffer
            };
            rx.set_len_flags(hwtail, len as u16, 1 << 8);
            hwtail = ring::next(hwtail, n);
            free -= 1;
            packets += 1;
            bytes += u64::from(f.bytes);
            continue;
        }
        // Every destination buffer must be valid before anything is
        // copied: a frame is delivered whole or not at all.
        let mut j = hwtail;
        let mut ok = true;
        for _ in 0..f.slots {
            ok &= memory.buf_offset(rx.slot(j).buf_idx).is_some();
            j = ring::next(j, n);
        }
        if !ok {
            bad_buf += 1;
            continue;
        }
        let mut s = f.first_slot;
        for frag in 0..f.slots {
            let slot = view.slot(s);
            let rx_slot = rx.slot(hwtail);
            let from = payload_offset(domain, &slot).expect("validated at collection");
            let to = memory.buf_offset(rx_slot.buf_idx).expect("validated above");
            let mut len = usize::from(slot.len).min(buf_size);
            if region.copy_within(from, to, len).is_err() {
                // Source and destination overlap (an indirect pointer into
                // this very buffer): deliver an empty fragment.
                len = 0;
            }
            let more = if frag + 1 < f.slots { NS_MOREFRAG } else { 0 };
            // netmap's NS_RFRAGS: the fragment count in the high byte.
            let rfrags = (f.slots.min(255) as u16) << 8;
            rx.set_len_flags(hwtail, len as u16, rfrags | more);
            hwtail = ring::next(hwtail, n);
            s = ring::next(s, tx_n);
        }
        free -= f.slots;
        packets += 1;
        bytes += u64::from(f.bytes);
    }
    crate::monitor::copy(domain, dst, Dir::Rx, rx_ring, &rx, first_new, hwtail);
    // Release: the slots and payloads written above become visible to the
    // receiver's Acquire load of hwtail in rxsync.
    k.field(kring::HWTAIL).store(hwtail, Ordering::Release);
    d.add(PortCounter::RxPackets, packets);
    d.add(PortCounter::RxBytes, bytes);
    d.add(PortCounter::RxDropFull, full);
    d.add(PortCounter::RxDropBadBuf, bad_buf);
    entry.add(PortCounter::TxDropFull, full);
    domain
        .ctrl()
        .switch_counter(SwitchCounter::Forwarded)
        .fetch_add(packets, Ordering::Relaxed);
    packets > 0
}

/// rxsync of RX ring `ring_id` of entry `index` (VALE port or pipe end):
/// releases the slots the application returned (`hwcur..head`) and
/// publishes the ones delivered since the last sync (`tail = hwtail`).
/// Returns whether slots were released (a pipe peer may want to know).
pub fn rxsync(domain: &Domain, index: u32, ring_id: u32) -> Result<bool, SyncError> {
    let ctrl = domain.ctrl();
    let entry = ctrl.port(index);
    let k = ctrl.kring(index, Dir::Rx, ring_id);
    let n = k.num_slots();
    let view = RingView::new(domain.memory().region(), k.ring_off(), n)
        .map_err(|e| SyncError::Gone(e.to_string()))?;
    let (_sync, _) = ShmLock::new(k.sync_lock_word()).lock();
    let hwcur = k.field(kring::HWCUR).load(Ordering::Acquire);
    let reported = k.field(kring::REPORTED_TAIL).load(Ordering::Acquire);
    let head = view.head();
    let cur = view.cur();
    if let Err(source) = check_head_cur(n, hwcur, reported, head, cur) {
        return Err(reinit(&view, &k, &entry, ring_id, reported, source));
    }
    let released = head != hwcur;
    if released {
        crate::monitor::released(domain, index, ring_id, &view, hwcur, head);
        // Release: pairs with the sender's Acquire load of hwcur; the
        // application is done with these slots and buffers.
        k.field(kring::HWCUR).store(head, Ordering::Release);
    }
    // Acquire: pairs with the sender's Release store of hwtail.
    let hwtail = k.field(kring::HWTAIL).load(Ordering::Acquire);
    // Write only what changed: these lines are shared with the senders
    // (and the application may have scribbled on tail: put it back).
    if hwtail != reported {
        k.field(kring::REPORTED_TAIL)
            .store(hwtail, Ordering::Release);
    }
    if view.tail() != hwtail {
        view.set_tail(hwtail);
    }
    stamp_if_asked(&view);
    Ok(released)
}
