//! netmap pipe crossover: TX ring i of one end is RX ring i of the other.
//!
//! The txsync of one end moves slot descriptors, never payload: each TX
//! slot's buffer goes into the peer's RX slot, and the buffer that RX slot
//! held (returned by the receiver, possibly one it swapped in) comes back
//! into the TX slot, both marked `NS_BUF_CHANGED`. Only complete packets
//! move (a MOREFRAG chain waits until its last slot is released), and
//! nothing is dropped: the sender's `tail` stops where the receiver's free
//! space ends, and advances as the receiver releases slots.

use std::sync::atomic::Ordering;

use netmap_ring::abi::{NetmapSlot, NS_BUF_CHANGED, NS_MOREFRAG};
use netmap_ring::lock::ShmLock;
use netmap_ring::port::SyncError;
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::shm::{prefetch_addr_for_write, prefetch_line};
use netmap_ring::view::RingView;

use vale_offload::chain::Chain;
use vale_offload::counters::PortCounter;

use crate::cpu::has_x86v3;
use crate::ctrl::{kring, port, ring_counter, Dir, MAX_ENTRIES, PORT_ACTIVE};
use crate::domain::Domain;
use crate::forward::kick_ring;
#[cfg(target_arch = "x86_64")]
use crate::pipe_swap::swap_run_x86v3;
use crate::pipe_swap::{swap_run, RunEnd, SlotLimits};

/// How many slots ahead of the one being moved a txsync asks for RX slots
/// in a writable state (x86 `prefetchw`). The receiver read those slots
/// last; reading each here before rewriting it would fetch its line twice
/// (shared, then exclusive), one miss after the other. Measured on the
/// two-process pipe benchmark: 32 slots (8 lines) ahead doubled the rate;
/// 4 lines gained a little, 16 no more than 8. Slots the receiver still
/// holds are never prefetched (that would take their lines from it while
/// it reads them).
pub(crate) const PREFETCH_AHEAD: u32 = 32;

/// txsync of TX ring `ring_id` of pipe end `index`. Returns true when
/// the ring is left stalled for the application (`cur` at the new
/// `tail`: no free slot), which is when the caller checks the peer's
/// process (without building a second view of the ring to find out).
pub fn pipe_txsync(domain: &Domain, index: u32, ring_id: u32) -> Result<bool, SyncError> {
    let ctrl = domain.ctrl();
    let memory = domain.memory();
    let region = memory.region();
    let entry = ctrl.port(index);
    let peer = entry.get(port::PEER);
    if peer >= MAX_ENTRIES || ctrl.port(peer).state() != PORT_ACTIVE {
        return Err(SyncError::Gone("pipe peer is gone".into()));
    }
    let tk = ctrl.kring(index, Dir::Tx, ring_id);
    let rk = ctrl.kring(peer, Dir::Rx, ring_id);
    // The receiver wrote this line last (it releases slots there and takes
    // its sync lock on it at every rxsync): ask for it now, so that the
    // cross-core transfer overlaps the checks and locks below instead of
    // stalling the load of its hwcur.
    prefetch_line(rk.field(kring::HWCUR));
    let tn = tk.num_slots();
    let tx =
        RingView::new(region, tk.ring_off(), tn).map_err(|e| SyncError::Gone(e.to_string()))?;
    // One sync of this ring at a time (threads sharing the port).
    let (_sync, _) = ShmLock::new(tk.sync_lock_word()).lock();
    let hwcur = tk.field(kring::HWCUR).load(Ordering::Acquire);
    let hwtail = tk.field(kring::HWTAIL).load(Ordering::Acquire);
    let head = tx.head();
    let cur = tx.cur();
    if let Err(source) = check_head_cur(tn, hwcur, hwtail, head, cur) {
        return Err(crate::forward::reinit(
            &tx, &tk, &entry, ring_id, hwtail, source,
        ));
    }

    let (_guard, _how) = ShmLock::new(rk.lock_word()).lock();
    let rn = rk.num_slots();
    let rx =
        RingView::new(region, rk.ring_off(), rn).map_err(|e| SyncError::Gone(e.to_string()))?;
    // Acquire: pairs with the receiver's Release store of hwcur in rxsync.
    let rx_hwcur = rk.field(kring::HWCUR).load(Ordering::Acquire);
    let mut rx_hwtail = rk.field(kring::HWTAIL).load(Ordering::Relaxed);
    let first_moved = rx_hwtail;
    // Both indexes are below rn: the sum is below 2 rn, and a compare
    // replaces the division (netmap rings need not be powers of two).
    let mut rx_free = wrap(rx_hwcur + rn - rx_hwtail - 1, rn);

    let (mut moved_packets, mut moved_bytes, mut bad) = (0u64, 0u64, 0u64);
    let (num_bufs, buf_size) = (memory.num_bufs(), memory.buf_size());
    let valid = |slot: &NetmapSlot| {
        (netmap_ring::region::RESERVED_BUFFERS..num_bufs).contains(&slot.buf_idx)
            && u32::from(slot.len) <= buf_size
    };
    // Swaps one descriptor: TX slot `s` into RX slot `r`, and back.
    let swap = |s: u32, t: NetmapSlot, r: u32| {
        let old = rx.slot(r);
        rx.set_slot(
            r,
            NetmapSlot {
                buf_idx: t.buf_idx,
                len: t.len,
                flags: (t.flags & NS_MOREFRAG) | NS_BUF_CHANGED,
                ptr: 0,
            },
        );
        tx.set_slot(
            s,
            NetmapSlot {
                buf_idx: old.buf_idx,
                len: 0,
                flags: NS_BUF_CHANGED,
                ptr: 0,
            },
        );
    };
    let mut i = hwcur;
    let limits = SlotLimits { num_bufs, buf_size };
    // Runs that wrap in neither ring: the loop walks two slices of slot
    // words in step, so it neither wraps indexes nor checks bounds per
    // slot. A chain or a bad slot ends the run; the loop below takes the
    // chain, a bad slot is skipped (counted) and the next run starts.
    'runs: while i != head && rx_free > 0 {
        let run = ring::distance(i, head, tn)
            .min(rx_free)
            .min(tn - i)
            .min(rn - rx_hwtail);
        let tx_words = tx.slot_run(i, run);
        let rx_words = rx.slot_run(rx_hwtail, run);
        // One prefetch per line of RX slots (four slots), PREFETCH_AHEAD
        // slots ahead of the block being moved, inside this run only: the
        // run's slots are free in the RX ring (run <= rx_free), so no line
        // the receiver still holds is asked for, and the address is the
        // run's own slice plus an offset, with no wrap; near the run's end
        // it is clamped to the run's last slot (asked for again: harmless,
        // and no branch). The loops call the closure for `moved` = 0, 4,
        // 8, ... (`swap_run`'s contract): an add, a compare-and-move and
        // the prefetch per block, on values in registers (a countdown and
        // a stepped pointer kept in the closure cost 15 instructions a
        // block, 3.8 a slot). The run's first PREFETCH_AHEAD slots, which
        // no block asks for, are asked for here, all at once.
        let rx_base = rx_words.as_ptr().cast::<u8>();
        for line in 0..run.min(PREFETCH_AHEAD).div_ceil(4) {
            prefetch_addr_for_write(rx_base.wrapping_add(64 * line as usize));
        }
        let last = 16 * (run as usize - 1);
        let prefetch = move |moved: u32| {
            let at = (16 * (moved + PREFETCH_AHEAD) as usize).min(last);
            prefetch_addr_for_write(rx_base.wrapping_add(at));
        };
        #[cfg(target_arch = "x86_64")]
        let (moved, bytes, end) = if has_x86v3() {
            // SAFETY: the CPU has the features `swap_run_x86v3` is
            // compiled for (checked by `has_x86v3`).
            unsafe { swap_run_x86v3(tx_words, rx_words, limits, prefetch) }
        } else {
            swap_run(tx_words, rx_words, limits, prefetch)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let (moved, bytes, end) = swap_run(tx_words, rx_words, limits, prefetch);
        moved_bytes += bytes;
        let (stopped_at_chain, stopped_at_bad) = (end == RunEnd::Chain, end == RunEnd::Bad);
        // The run ends at either ring's end at the latest.
        i = wrap(i + moved, tn);
        rx_hwtail = wrap(rx_hwtail + moved, rn);
        rx_free -= moved;
        moved_packets += u64::from(moved);
        if stopped_at_chain {
            break 'runs;
        }
        if stopped_at_bad {
            // Never handed to the receiver: skipped, counted.
            bad += 1;
            i = ring::next(i, tn);
        }
    }
    while i != head {
        let first = tx.slot(i);
        if first.flags & NS_MOREFRAG == 0 {
            // The common case, a one-slot packet: one read of the slot.
            if !valid(&first) {
                bad += 1;
            } else if rx_free == 0 {
                break; // back-pressure: wait for the receiver
            } else {
                swap(i, first, rx_hwtail);
                moved_bytes += u64::from(first.len);
                moved_packets += 1;
                rx_hwtail = ring::next(rx_hwtail, rn);
                rx_free -= 1;
            }
            i = ring::next(i, tn);
            continue;
        }
        // A chain: find its end; stop at an unfinished one.
        let mut chain_valid = true;
        let chain = Chain::walk(i, head, tn, |at| {
            let slot = tx.slot(at);
            chain_valid &= valid(&slot);
            slot.flags & NS_MOREFRAG != 0
        });
        if !chain.complete {
            break;
        }
        let (end, slots) = (chain.end, chain.slots);
        if !chain_valid || slots > rn - 1 {
            // A bad descriptor is never handed to the receiver, and a chain
            // longer than the peer ring could never move: skip it, counted.
            bad += 1;
            i = end;
            continue;
        }
        if slots > rx_free {
            break; // back-pressure: wait for the receiver
        }
        let mut s = i;
        for _ in 0..slots {
            let t = tx.slot(s);
            swap(s, t, rx_hwtail);
            moved_bytes += u64::from(t.len);
            rx_hwtail = ring::next(rx_hwtail, rn);
            s = ring::next(s, tn);
        }
        rx_free -= slots;
        moved_packets += 1;
        i = end;
    }
    // The moved frames, in the receiver's ring: what this end transmitted
    // and what the peer receives.
    crate::monitor::copy(domain, index, Dir::Tx, ring_id, &rx, first_moved, rx_hwtail);
    crate::monitor::copy(domain, peer, Dir::Rx, ring_id, &rx, first_moved, rx_hwtail);
    // Release: the moved descriptors become visible with hwtail. Stored
    // only when something moved: the receiver polls this line at every
    // rxsync (`forward::is_idle`), and a sender waiting for room syncs in
    // a loop; storing the unchanged value took the line from the polling
    // receiver at every such sync (and made its next poll miss), where
    // the plain ring's producer writes its index only to publish.
    if rx_hwtail != first_moved {
        rk.field(kring::HWTAIL).store(rx_hwtail, Ordering::Release);
    }
    // The peer's receive counters: this ring's share, under its lock
    // (loads and stores on the lock's line, which this sync holds).
    if let (Some(packets), Some(bytes)) = (
        ring_counter(Dir::Rx, PortCounter::RxPackets),
        ring_counter(Dir::Rx, PortCounter::RxBytes),
    ) {
        rk.add_held(packets, moved_packets);
        rk.add_held(bytes, moved_bytes);
    }
    drop(_guard);

    // The sender may fill as many slots past hwcur as the receiver has
    // free, at most the whole ring but one. hwcur + free only grows, so
    // tail never moves back.
    let new_hwcur = i;
    let avail = rx_free.min(tn - 1);
    let new_hwtail = wrap(new_hwcur + avail, tn);
    tk.field(kring::HWCUR).store(new_hwcur, Ordering::Release);
    tk.field(kring::HWTAIL).store(new_hwtail, Ordering::Release);
    tx.set_tail(new_hwtail);
    crate::forward::stamp_if_asked(&tx);

    // This end's transmit counters: the TX ring's share, under its sync
    // lock (held to the end of this function). No atomic read-modify-write
    // here: its lock prefix would wait for the hwtail store above to take
    // its line back from the polling receiver, once per batch.
    if let (Some(packets), Some(bytes), Some(bad_slots)) = (
        ring_counter(Dir::Tx, PortCounter::TxPackets),
        ring_counter(Dir::Tx, PortCounter::TxBytes),
        ring_counter(Dir::Tx, PortCounter::TxDropBadSlot),
    ) {
        tk.add_held(packets, moved_packets);
        tk.add_held(bytes, moved_bytes);
        tk.add_held(bad_slots, bad);
    }
    if moved_packets > 0 {
        kick_ring(domain, peer, Dir::Rx, ring_id);
    }
    Ok(cur == new_hwtail)
}

/// `value` modulo `n` for a `value` below `2 n`: one compare.
#[inline]
fn wrap(value: u32, n: u32) -> u32 {
    debug_assert!(value < 2 * n);
    if value >= n {
        value - n
    } else {
        value
    }
}
