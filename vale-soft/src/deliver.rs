//! The second half of a VALE txsync: the decided frames, grouped per
//! destination ([`crate::batch`]), are copied into their destinations' RX
//! rings, each ring locked once per batch.
//!
//! [`deliver_to_ring`] is the one place where a batch enters a destination
//! ring: under the ring's lock it checks free space against the
//! receiver's `hwcur`, checks every destination slot's buffer, copies the
//! payloads (a short frame as one 64-byte line), writes `len` and flags,
//! and publishes the lot with one Release store of `hwtail`. What does not
//! fit is dropped and counted (`TxDropFull` on the sender, `RxDropFull` on
//! the receiver); counters are added once per ring and batch.

use std::sync::atomic::Ordering;

use netmap_ring::abi::NS_MOREFRAG;
use netmap_ring::lock::ShmLock;
use netmap_ring::region::RESERVED_BUFFERS;
use netmap_ring::ring;
use netmap_ring::shm::{RecordHeads, LINE};
use netmap_ring::view::RingView;

use vale_offload::counters::{PortCounter, SwitchCounter};
use vale_offload::placement::PortKind;
use vale_offload::table::{MAX_PORTS, PORT_FLOOD};

use crate::batch::{merged, Groups};
use crate::collect::{payload_offset, Frame, Pool};
use crate::ctrl::{port, Dir, PortEntry, PORT_ACTIVE};
use crate::domain::Domain;
use crate::forward::kick_ring;

/// How far ahead of the slot being filled a delivery prefetches RX slots
/// (see `pipe::pipe_txsync`, where it was measured).
const PREFETCH_AHEAD: u32 = crate::pipe::PREFETCH_AHEAD;

/// The sender's side of one batch: its TX ring, port and ring number.
pub(crate) struct Source<'a> {
    pub view: &'a RingView<'a>,
    pub entry: &'a PortEntry<'a>,
    pub port: u32,
    pub ring_id: u32,
}

/// Delivers a decided batch: every destination port's frames (its unicast
/// group, and the flooded frames to every other switch port) into its RX
/// rings, then counts the batch (`packets` frames of `bytes`) on the
/// sender.
pub(crate) fn deliver(
    domain: &Domain,
    source: &Source<'_>,
    frames: &[Frame],
    (packets, bytes): (u64, u64),
    groups: &Groups,
) {
    if frames.is_empty() {
        return;
    }
    let ctrl = domain.ctrl();
    let src = source.port;
    let flooded = groups.of(PORT_FLOOD);
    // Which ports receive anything: unicast targets, plus every other
    // switch port when some frame floods.
    let mut targets = [0u64; 4];
    for key in groups.keys().filter(|&k| k < MAX_PORTS) {
        targets[usize::from(key) / 64] |= 1 << (key % 64);
    }
    // A flood with no other port on the switch has nowhere to go; one
    // whose destinations were all full is counted as TxDropFull instead.
    let mut flood_has_port = false;
    if !flooded.is_empty() {
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
        let unicast = groups.of(dst as u8);
        let rx_rings = d.get(port::RX_RINGS).max(1);
        let unicast_ring = source.ring_id % rx_rings;
        // Unicast goes to the TX ring's number modulo the RX rings;
        // broadcast and flooding to RX ring 0 (DESIGN.md section 4). Ring
        // 0 taking both gets them in the batch's order.
        if unicast_ring == 0 && !unicast.is_empty() && !flooded.is_empty() {
            // Ring 0 takes both, in the batch's order.
            let both: Vec<u32> = merged(unicast, flooded).collect();
            if deliver_to_ring(domain, source, &d, dst, 0, frames, &both) {
                kick_ring(domain, dst, Dir::Rx, 0);
            }
        } else {
            for (rx_ring, batch) in [(unicast_ring, unicast), (0, flooded)] {
                if !batch.is_empty()
                    && deliver_to_ring(domain, source, &d, dst, rx_ring, frames, batch)
                {
                    kick_ring(domain, dst, Dir::Rx, rx_ring);
                }
            }
        }
    }
    let no_dest = if flood_has_port {
        0
    } else {
        flooded.len() as u64
    };
    source.entry.add(PortCounter::TxPackets, packets);
    source.entry.add(PortCounter::TxBytes, bytes);
    source.entry.add(PortCounter::TxDropNoDest, no_dest);
}

/// The fast path of a delivery: copies the frames `batch` names (at most
/// the free RX slots from `hwtail`, none past the ring's end) as long as
/// each is a one-slot frame of at most a line in a pool buffer
/// (`Frame::line_buf`) and its RX slot holds a valid buffer, as one
/// 64-byte line from buffer to buffer (`RecordHeads::copy_line`), and
/// writes each RX slot's length and flags in one store. Returns the
/// frames delivered and their bytes; the caller takes the frame it
/// stopped at. Not inlined: on its own, its loop keeps the pool, the
/// ring and the batch in registers (inlined in `deliver_to_ring`, four
/// of them were reloaded from the stack at every frame). On an x86-64
/// CPU with AVX2 and BMI2 the same loop is compiled for them
/// (`copy_lines_x86v3`): a line is then two 32-byte moves instead of four
/// 16-byte ones.
#[inline(never)]
fn copy_lines(
    rx: &RingView<'_>,
    at: (u32, u32),
    batch: &[u32],
    frames: &[Frame],
    buffers: RecordHeads<'_>,
) -> (usize, u64) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_x86v3() {
        // SAFETY: the CPU has AVX2, BMI1 and BMI2 (checked just above),
        // the features `copy_lines_x86v3` is compiled for.
        return unsafe { copy_lines_x86v3(rx, at, batch, frames, buffers) };
    }
    copy_lines_loop(rx, at, batch, frames, buffers)
}

/// [`copy_lines`]'s loop compiled for AVX2, BMI1 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2")]
unsafe fn copy_lines_x86v3(
    rx: &RingView<'_>,
    at: (u32, u32),
    batch: &[u32],
    frames: &[Frame],
    buffers: RecordHeads<'_>,
) -> (usize, u64) {
    copy_lines_loop(rx, at, batch, frames, buffers)
}

/// The loop of [`copy_lines`].
#[inline(always)]
fn copy_lines_loop(
    rx: &RingView<'_>,
    (hwtail, free): (u32, u32),
    batch: &[u32],
    frames: &[Frame],
    buffers: RecordHeads<'_>,
) -> (usize, u64) {
    let words = rx.slot_run(hwtail, batch.len() as u32);
    let (mut done, mut bytes) = (0usize, 0u64);
    // Slots that may be prefetched: never those the receiver holds.
    let prefetch_below = free.saturating_sub(PREFETCH_AHEAD) as usize;
    for (slot, &at) in words.chunks_exact(2).zip(batch) {
        let f = &frames[at as usize];
        // Both read here, so the loop keeps no pointer to the record.
        // NO_LINE is past every record: `copy_line` below refuses it.
        let (line_buf, len) = (f.line_buf, f.bytes);
        // The RX slot (and below, its buffer) is read, then written: ask
        // for lines ahead in a writable state, one prefetch per line of
        // four slots (see `pipe`).
        let at_slot = hwtail + done as u32;
        if at_slot.is_multiple_of(4) && done < prefetch_below {
            rx.prefetch_slot_for_write(at_slot + PREFETCH_AHEAD);
        }
        let word = slot[0].load(Ordering::Relaxed);
        let rx_buf = word as u32;
        // `NetmapMemory::buf_offset`'s rule for the RX buffer (the copy
        // checks the upper bound); the bytes past the frame in its line
        // are not the receiver's to read. Anything else (the same buffer
        // on both sides) takes the slow path.
        if rx_buf < RESERVED_BUFFERS || !buffers.copy_line(line_buf, rx_buf) {
            break;
        }
        // buf_idx kept, len (a line frame's, under 64), flags =
        // NS_RFRAGS of one fragment.
        slot[0].store(
            u64::from(rx_buf) | u64::from(len | 1 << (8 + 16)) << 32,
            Ordering::Relaxed,
        );
        done += 1;
        bytes += u64::from(len);
    }
    (done, bytes)
}

/// Copies the frames `batch` names (positions in `frames`, in order) into
/// RX ring `rx_ring` of port `d` (entry `dst`), under the ring's lock, and
/// publishes them. Returns whether anything was published. Not inlined:
/// its loop keeps its state in registers, apart from the batch's.
#[inline(never)]
fn deliver_to_ring(
    domain: &Domain,
    source: &Source<'_>,
    d: &PortEntry<'_>,
    dst: u32,
    rx_ring: u32,
    frames: &[Frame],
    batch: &[u32],
) -> bool {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let region = memory.region();
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
    // Acquire: pairs with the receiver's Release store of hwcur in rxsync,
    // so the slots it released are really free.
    let hwcur = k.field(crate::ctrl::kring::HWCUR).load(Ordering::Acquire);
    let mut hwtail = k.field(crate::ctrl::kring::HWTAIL).load(Ordering::Relaxed);
    let first_hwtail = hwtail;
    let (mut packets, mut bytes, mut full, mut bad_buf) = (0u64, 0u64, 0u64, 0u64);
    let mut free = (hwcur + n - hwtail - 1) % n;
    let buf_size = memory.buf_size() as usize;
    // Short frames are copied as whole lines when a line fits a buffer.
    let lines = region.line_copier().filter(|_| buf_size >= LINE);
    let pool = Pool::of(memory);
    let buffers = pool.buffers(region).filter(|_| buf_size >= LINE);
    let mut next = 0;
    while next < batch.len() {
        // A full ring takes nothing more (every frame is at least one
        // slot): the rest of the batch is dropped as one count. A receiver
        // that is not running leaves its ring full, and a broadcast sender
        // meets such rings at every batch; dropping them frame by frame
        // cost it more than the frames it delivered.
        if free == 0 {
            full += (batch.len() - next) as u64;
            break;
        }
        // The common case first: a run of short one-slot frames that fit,
        // up to where the RX ring wraps, copied as lines (`copy_lines`).
        if let Some(buffers) = buffers {
            let run = (batch.len() - next)
                .min(free as usize)
                .min((n - hwtail) as usize);
            let (done, done_bytes) = copy_lines(
                &rx,
                (hwtail, free),
                &batch[next..next + run],
                frames,
                buffers,
            );
            next += done;
            // The run stops at the ring's end at most.
            hwtail += done as u32;
            if hwtail == n {
                hwtail = 0;
            }
            free -= done as u32;
            packets += done as u64;
            bytes += done_bytes;
            if next == batch.len() {
                break;
            }
        }
        // Anything else, one frame: a long one, a chain, a bad RX buffer,
        // no room.
        let f = &frames[batch[next] as usize];
        next += 1;
        if u32::from(f.slots) > free {
            full += 1;
            continue;
        }
        if u32::from(f.slots) == 1 {
            // The common case: one slot, one copy, no chain bookkeeping.
            // The RX slot (and below, its buffer) is read, then written:
            // ask for lines ahead in a writable state, one prefetch per
            // line of four slots, as the pipe does.
            if hwtail.is_multiple_of(4) && free > PREFETCH_AHEAD {
                rx.prefetch_slot_for_write(hwtail + PREFETCH_AHEAD);
            }
            let Some(to) = memory.buf_offset(rx.slot_word(hwtail) as u32) else {
                bad_buf += 1;
                continue;
            };
            let len = (f.bytes as usize).min(buf_size);
            // A short frame is copied as one whole cache line: the bytes
            // past `len` in the RX buffer are not the receiver's to read;
            // the source line is inside the region (checked), else the
            // exact copy runs.
            let copied = (len <= LINE && lines.is_some_and(|l| l.copy(f.first_offset, to)))
                || region.copy_within(f.first_offset, to, len).is_ok();
            // An indirect pointer into this very buffer: an empty frame.
            let len = if copied { len } else { 0 };
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
        for _ in 0..u32::from(f.slots) {
            ok &= memory.buf_offset(rx.slot(j).buf_idx).is_some();
            j = ring::next(j, n);
        }
        if !ok {
            bad_buf += 1;
            continue;
        }
        let tx_n = source.view.num_slots();
        let mut s = f.first_slot;
        for frag in 0..u32::from(f.slots) {
            let slot = source.view.slot(s);
            let rx_slot = rx.slot(hwtail);
            let from = payload_offset(domain, &slot).expect("validated at collection");
            let to = memory.buf_offset(rx_slot.buf_idx).expect("validated above");
            let mut len = usize::from(slot.len).min(buf_size);
            if region.copy_within(from, to, len).is_err() {
                // Source and destination overlap (an indirect pointer into
                // this very buffer): deliver an empty fragment.
                len = 0;
            }
            let more = if frag + 1 < u32::from(f.slots) {
                NS_MOREFRAG
            } else {
                0
            };
            // netmap's NS_RFRAGS: the fragment count in the high byte.
            let rfrags = (u32::from(f.slots).min(255) as u16) << 8;
            rx.set_len_flags(hwtail, len as u16, rfrags | more);
            hwtail = ring::next(hwtail, n);
            s = ring::next(s, tx_n);
        }
        free -= u32::from(f.slots);
        packets += 1;
        bytes += u64::from(f.bytes);
    }
    if crate::monitor::watches(domain, dst, Dir::Rx) {
        // A view of its own for the monitors: lending `rx` to them would
        // keep it in memory through the copy loop (measured: 2 more
        // instructions per frame). The ring's published tail is still the
        // one before this batch (the lock is held).
        let first_new = k.field(crate::ctrl::kring::HWTAIL).load(Ordering::Relaxed);
        if let Ok(view) = RingView::new(region, k.ring_off(), n) {
            crate::monitor::copy(domain, dst, Dir::Rx, rx_ring, &view, first_new, hwtail);
        }
    }
    // Release: the slots and payloads written above become visible to the
    // receiver's Acquire load of hwtail in rxsync. Stored only when it
    // moved: the receiver polls this line at every rxsync, and a full
    // ring (a receiver not running) meets every batch of a broadcast
    // sender; storing the unchanged value took the line from the poller
    // for nothing.
    if hwtail != first_hwtail {
        k.field(crate::ctrl::kring::HWTAIL)
            .store(hwtail, Ordering::Release);
    }
    d.add(PortCounter::RxPackets, packets);
    d.add(PortCounter::RxBytes, bytes);
    d.add(PortCounter::RxDropFull, full);
    d.add(PortCounter::RxDropBadBuf, bad_buf);
    source.entry.add(PortCounter::TxDropFull, full);
    if packets > 0 {
        ctrl.switch_counter(SwitchCounter::Forwarded)
            .fetch_add(packets, Ordering::Relaxed);
    }
    packets > 0
}
