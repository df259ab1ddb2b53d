//! The hot loop of a pipe txsync: moves a run of one-slot packets from TX
//! slots into the RX slots beside them and the RX slots' buffers back.
//!
//! Per slot it does what `pipe.rs` describes (the TX buffer and length go
//! to the receiver, its returned buffer comes back, both slots marked
//! `NS_BUF_CHANGED` with `ptr` cleared). On x86-64 four slots (one line of
//! RX slots) are checked at once with SSE2 and each slot is written with
//! one 16-byte store: netmap's three checks of a slot (a buffer of the
//! pool, not a reserved one; a length within the buffer; no MOREFRAG) are
//! a handful of vector instructions for the four, and the byte count is a
//! vector sum. [`swap_run_scalar`] is the same rule a slot at a time: the
//! tail of a run, other targets, and the reference the property tests
//! compare the vector loop with.

use std::sync::atomic::{AtomicU64, Ordering};

use netmap_ring::abi::{NS_BUF_CHANGED, NS_MOREFRAG};
use netmap_ring::region::RESERVED_BUFFERS;

/// What a TX slot may hold to move in the hot loop: a buffer of the pool
/// (not a reserved one) and a length within it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SlotLimits {
    pub num_bufs: u32,
    pub buf_size: u32,
}

// Raw slot words: buf_idx in bits 0..32, len in 32..48, flags in 48..64.
const LEN_SHIFT: u32 = 32;
const FLAGS_SHIFT: u32 = 48;
const CHANGED: u64 = (NS_BUF_CHANGED as u64) << FLAGS_SHIFT;
const MOREFRAG: u64 = (NS_MOREFRAG as u64) << FLAGS_SHIFT;
const KEEP_LEN_FLAGS: u64 = (1 << FLAGS_SHIFT) - 1;

impl SlotLimits {
    /// True for the word of a valid one-slot packet (no MOREFRAG).
    #[inline]
    pub(crate) fn plain(&self, word: u64) -> bool {
        let buf_idx = word as u32;
        let len = u32::from((word >> LEN_SHIFT) as u16);
        (word & MOREFRAG == 0)
            & (RESERVED_BUFFERS..self.num_bufs).contains(&buf_idx)
            & (len <= self.buf_size)
    }
}

/// Why a run of one-slot packets ([`swap_run`]) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Every slot of the run moved.
    Done,
    /// At a MOREFRAG chain (the caller takes it).
    Chain,
    /// At a bad slot (the caller skips and counts it).
    Bad,
}

/// Swaps one TX slot into its RX slot: the TX buffer and length go to the
/// receiver, its returned buffer comes back; both marked NS_BUF_CHANGED,
/// ptr cleared. Returns the packet's length.
#[inline(always)]
fn swap_slot(t_slot: &[AtomicU64], r_slot: &[AtomicU64], t: u64) -> u64 {
    let r = r_slot[0].load(Ordering::Relaxed);
    r_slot[0].store((t & KEEP_LEN_FLAGS) | CHANGED, Ordering::Relaxed);
    r_slot[1].store(0, Ordering::Relaxed);
    t_slot[0].store(u64::from(r as u32) | CHANGED, Ordering::Relaxed);
    t_slot[1].store(0, Ordering::Relaxed);
    u64::from((t >> LEN_SHIFT) as u16)
}

/// Moves the one-slot packets of a run of TX slot words into the RX slot
/// words beside them (same length, two words a slot), a slot at a time,
/// from slot `moved` of the run on; `prefetch(moved)` is called before
/// each slot whose index in the run is a multiple of four. Stops at a
/// chain or a bad slot. Returns the slots moved in all, the bytes of the
/// slots this call moved, and why it stopped.
#[inline(always)]
pub(crate) fn swap_run_scalar(
    tx_words: &[AtomicU64],
    rx_words: &[AtomicU64],
    limits: SlotLimits,
    mut moved: u32,
    mut prefetch: impl FnMut(u32),
) -> (u32, u64, RunEnd) {
    let mut bytes = 0u64;
    let from = 2 * moved as usize;
    for (t_slot, r_slot) in tx_words[from..]
        .chunks_exact(2)
        .zip(rx_words[from..].chunks_exact(2))
    {
        let t = t_slot[0].load(Ordering::Relaxed);
        if !limits.plain(t) {
            let end = if t & MOREFRAG != 0 {
                RunEnd::Chain
            } else {
                RunEnd::Bad
            };
            return (moved, bytes, end);
        }
        if moved.is_multiple_of(4) {
            prefetch(moved);
        }
        bytes += swap_slot(t_slot, r_slot, t);
        moved += 1;
    }
    (moved, bytes, RunEnd::Done)
}

/// The hot loop: [`swap_run_scalar`]'s rule, four slots at a time where
/// the target has a vector form. `tx_words` and `rx_words` are the same
/// length. Returns the slots moved, their bytes and why it stopped.
#[inline(always)]
pub(crate) fn swap_run(
    tx_words: &[AtomicU64],
    rx_words: &[AtomicU64],
    limits: SlotLimits,
    mut prefetch: impl FnMut(u32),
) -> (u32, u64, RunEnd) {
    assert_eq!(tx_words.len(), rx_words.len());
    #[cfg(target_arch = "x86_64")]
    let (moved, bytes) = sse2::swap_blocks(tx_words, rx_words, limits, &mut prefetch);
    #[cfg(not(target_arch = "x86_64"))]
    let (moved, bytes) = (0, 0);
    let (moved, rest, end) = swap_run_scalar(tx_words, rx_words, limits, moved, prefetch);
    (moved, bytes + rest, end)
}

/// [`swap_run`] compiled for AVX2, BMI1 and BMI2 (the same SSE2
/// intrinsics, VEX-encoded, three-operand forms).
///
/// # Safety
///
/// The CPU must have AVX2, BMI1 and BMI2 ([`crate::cpu::has_x86v3`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2")]
pub(crate) unsafe fn swap_run_x86v3(
    tx_words: &[AtomicU64],
    rx_words: &[AtomicU64],
    limits: SlotLimits,
    mut prefetch: impl FnMut(u32),
) -> (u32, u64, RunEnd) {
    assert_eq!(tx_words.len(), rx_words.len());
    // SAFETY: the caller guarantees AVX2 (this function's own contract).
    let (moved, bytes) = unsafe { avx2::swap_blocks(tx_words, rx_words, limits, &mut prefetch) };
    let (moved, rest, end) = swap_run_scalar(tx_words, rx_words, limits, moved, prefetch);
    (moved, bytes + rest, end)
}

/// The block loop with 32-byte vectors: two slots a register, the four
/// slots' checks in one 8-lane compare, and each slot pair swapped with
/// an `and` and an `or` (the buffer index of the RX slot kept, or the
/// TX slot's buffer and length kept; `NS_BUF_CHANGED` set; `ptr`
/// cleared) and one 32-byte store, where the SSE2 loop moves the fields
/// lane by lane.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castps_si256, _mm256_castsi256_ps,
        _mm256_cmpgt_epi32, _mm256_loadu_si256, _mm256_movemask_ps, _mm256_or_si256,
        _mm256_set_epi32, _mm256_setzero_si256, _mm256_shuffle_ps, _mm256_storeu_si256,
        _mm256_sub_epi32, _mm256_xor_si256,
    };
    use std::sync::atomic::AtomicU64;

    use super::{SlotLimits, CHANGED, KEEP_LEN_FLAGS, NS_MOREFRAG, RESERVED_BUFFERS};

    /// Slots per block: one 64-byte line of RX slots.
    const BLOCK: usize = 4;
    /// Blocks summed in one u32 lane before it is folded into the u64
    /// total: 2^16 lengths of at most 0xffff fit a lane.
    const FOLD_BLOCKS: usize = 1 << 16;

    /// [`super::sse2::swap_blocks`]'s contract: whole blocks of four
    /// plain one-slot packets from the start of the run, `prefetch(moved)`
    /// before each block moves; returns the slots moved and their bytes.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[inline]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    pub(super) unsafe fn swap_blocks(
        tx_words: &[AtomicU64],
        rx_words: &[AtomicU64],
        limits: SlotLimits,
        prefetch: &mut impl FnMut(u32),
    ) -> (u32, u64) {
        let blocks = (tx_words.len().min(rx_words.len()) / 2) / BLOCK;
        let tx = tx_words.as_ptr().cast::<u8>().cast_mut();
        let rx = rx_words.as_ptr().cast::<u8>().cast_mut();
        let room = (limits.num_bufs.saturating_sub(RESERVED_BUFFERS) as i32) ^ i32::MIN;
        let len_limit = limits.buf_size.min(0xffff) as i32 + 1;
        let len_mf = 0xffff | i32::from(NS_MOREFRAG) << 16;
        // The checks, in lanes [buf, len | flags << 16] of each slot
        // (`_mm256_set_epi32` lists the lanes from the highest): a buffer
        // of the pool is `(buf - RESERVED) ^ sign < room ^ sign` (unsigned
        // compare as signed); a length within the buffer and no MOREFRAG
        // is `(len | flags << 16) & (0xffff | MOREFRAG << 16) < limit`.
        let bias = _mm256_set_epi32(
            0,
            RESERVED_BUFFERS as i32,
            0,
            RESERVED_BUFFERS as i32,
            0,
            RESERVED_BUFFERS as i32,
            0,
            RESERVED_BUFFERS as i32,
        );
        let mask = _mm256_set_epi32(len_mf, -1, len_mf, -1, len_mf, -1, len_mf, -1);
        let sign = _mm256_set_epi32(0, i32::MIN, 0, i32::MIN, 0, i32::MIN, 0, i32::MIN);
        let limit = _mm256_set_epi32(
            len_limit, room, len_limit, room, len_limit, room, len_limit, room,
        );
        // Per slot, as u64 lanes [word, ptr]: what a swap keeps of each
        // side's word, and the flag it sets.
        let keep_tx = _mm256_set_epi32(
            0,
            0,
            (KEEP_LEN_FLAGS >> 32) as i32,
            -1,
            0,
            0,
            (KEEP_LEN_FLAGS >> 32) as i32,
            -1,
        );
        let keep_rx = _mm256_set_epi32(0, 0, 0, -1, 0, 0, 0, -1);
        let changed = _mm256_set_epi32(
            0,
            0,
            (CHANGED >> 32) as i32,
            0,
            0,
            0,
            (CHANGED >> 32) as i32,
            0,
        );
        let (mut block, mut bytes) = (0usize, 0u64);
        while block < blocks {
            let fold_end = blocks.min(block + FOLD_BLOCKS);
            let mut sums = _mm256_setzero_si256();
            while block < fold_end {
                let (at, moved) = (block * BLOCK * 16, (block * BLOCK) as u32);
                // SAFETY: slots `moved..moved + 4` are inside both runs
                // (block < blocks, and each run holds 2 * 4 * blocks
                // words), 64 bytes on each side; the loads and stores are
                // unaligned forms. The engine owns these slots during the
                // sync (netmap's rule: TX slots from hwcur to head, RX
                // slots from hwtail to the receiver's hwcur); a process
                // breaking that rule changes slot values under us, and
                // each value is loaded once here, checked, and stored as
                // loaded, so it cannot get past the checks. Every RX slot
                // is read before it is written.
                let ok = unsafe {
                    let t01 = _mm256_loadu_si256(tx.add(at).cast::<__m256i>());
                    let t23 = _mm256_loadu_si256(tx.add(at + 32).cast::<__m256i>());
                    // Lanes [buf0, lf0, buf2, lf2, buf1, lf1, buf3, lf3].
                    let fields = _mm256_castps_si256(_mm256_shuffle_ps::<0b01_00_01_00>(
                        _mm256_castsi256_ps(t01),
                        _mm256_castsi256_ps(t23),
                    ));
                    let checked = _mm256_xor_si256(
                        _mm256_and_si256(_mm256_sub_epi32(fields, bias), mask),
                        sign,
                    );
                    let good = _mm256_cmpgt_epi32(limit, checked);
                    let all = _mm256_movemask_ps(_mm256_castsi256_ps(good));
                    if all == 0xff {
                        prefetch(moved);
                        // The odd lanes hold the four lengths (MOREFRAG
                        // is clear); the even ones are summed too and
                        // ignored.
                        sums = _mm256_add_epi32(sums, checked);
                        let r01 = _mm256_loadu_si256(rx.add(at).cast::<__m256i>());
                        let r23 = _mm256_loadu_si256(rx.add(at + 32).cast::<__m256i>());
                        let (rx01, rx23, tx01, tx23) = (
                            _mm256_or_si256(_mm256_and_si256(t01, keep_tx), changed),
                            _mm256_or_si256(_mm256_and_si256(t23, keep_tx), changed),
                            _mm256_or_si256(_mm256_and_si256(r01, keep_rx), changed),
                            _mm256_or_si256(_mm256_and_si256(r23, keep_rx), changed),
                        );
                        _mm256_storeu_si256(rx.add(at).cast::<__m256i>(), rx01);
                        _mm256_storeu_si256(rx.add(at + 32).cast::<__m256i>(), rx23);
                        _mm256_storeu_si256(tx.add(at).cast::<__m256i>(), tx01);
                        _mm256_storeu_si256(tx.add(at + 32).cast::<__m256i>(), tx23);
                    }
                    all == 0xff
                };
                if !ok {
                    return (moved, bytes + odd_lane_sum(sums));
                }
                block += 1;
            }
            bytes += odd_lane_sum(sums);
        }
        ((block * BLOCK) as u32, bytes)
    }

    /// The sum of the odd u32 lanes.
    #[inline]
    fn odd_lane_sum(lanes: __m256i) -> u64 {
        // SAFETY: __m256i and [u32; 8] have the same size, and any bits
        // are a valid [u32; 8].
        let lanes: [u32; 8] = unsafe { std::mem::transmute(lanes) };
        lanes.iter().skip(1).step_by(2).map(|&l| u64::from(l)).sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_and_si128, _mm_castps_si128, _mm_castsi128_ps, _mm_cmpgt_epi32,
        _mm_cmplt_epi32, _mm_cvtsi32_si128, _mm_insert_epi16, _mm_loadl_epi64, _mm_movemask_ps,
        _mm_set1_epi32, _mm_setzero_si128, _mm_shuffle_ps, _mm_storeu_si128, _mm_sub_epi32,
        _mm_unpacklo_epi64, _mm_xor_si128,
    };
    use std::sync::atomic::AtomicU64;

    use super::{SlotLimits, NS_BUF_CHANGED, NS_MOREFRAG, RESERVED_BUFFERS};

    /// Slots per block: one 64-byte line of RX slots.
    const BLOCK: usize = 4;
    /// Blocks summed in one u32 lane set before it is folded into the
    /// u64 total: 2^16 lengths of at most 0xffff fit a lane.
    const FOLD_BLOCKS: usize = 1 << 16;

    /// Moves whole blocks of four slots from the start of the run while
    /// all four of a block are plain one-slot packets; `prefetch(moved)`
    /// before each block. Returns the slots moved and their bytes; the
    /// caller's scalar loop takes the rest from there (a short tail, or
    /// the block that held a chain or a bad slot, which it finds again).
    #[inline(always)]
    pub(super) fn swap_blocks(
        tx_words: &[AtomicU64],
        rx_words: &[AtomicU64],
        limits: SlotLimits,
        prefetch: &mut impl FnMut(u32),
    ) -> (u32, u64) {
        let blocks = (tx_words.len().min(rx_words.len()) / 2) / BLOCK;
        let tx = tx_words.as_ptr().cast::<u8>().cast_mut();
        let rx = rx_words.as_ptr().cast::<u8>().cast_mut();
        // The lane constants (SSE2 is part of x86-64, so these are plain
        // instructions; `unsafe` only because they are intrinsics).
        // SAFETY: SSE2 is always present on x86-64.
        let (sign, reserved, buf_room, len_limit, len_mf_mask) = unsafe {
            (
                _mm_set1_epi32(i32::MIN),
                _mm_set1_epi32(RESERVED_BUFFERS as i32),
                // buf - RESERVED (wrapping) < num_bufs - RESERVED, unsigned:
                // compared as signed with the sign bit flipped.
                _mm_set1_epi32(
                    (limits.num_bufs.saturating_sub(RESERVED_BUFFERS) as i32) ^ i32::MIN,
                ),
                // len | MOREFRAG above it, compared with the largest length a
                // u16 can reach in a buffer of buf_size: MOREFRAG makes it
                // too large.
                _mm_set1_epi32(limits.buf_size.min(0xffff) as i32 + 1),
                _mm_set1_epi32(0xffff | i32::from(NS_MOREFRAG) << 16),
            )
        };
        let changed = i32::from(NS_BUF_CHANGED);
        let (mut block, mut bytes) = (0usize, 0u64);
        while block < blocks {
            let fold_end = blocks.min(block + FOLD_BLOCKS);
            // SAFETY: SSE2 is always present on x86-64.
            let mut lens = unsafe { _mm_setzero_si128() };
            while block < fold_end {
                let (at, moved) = (block * BLOCK * 16, (block * BLOCK) as u32);
                // SAFETY: slots `moved..moved + 4` are inside both runs
                // (block < blocks, and each run holds 2 * 4 * blocks
                // words), 16 bytes each; the loads and stores are unaligned
                // forms, so the words' 8-byte alignment is enough. The
                // engine owns these slots during the sync (netmap's rule:
                // TX slots from hwcur to head, RX slots from hwtail to the
                // receiver's hwcur); a process breaking that rule changes
                // slot values under us, and each value is loaded once here,
                // checked, and stored as loaded, so it cannot get past the
                // checks. Every RX slot is read before it is written.
                let ok = unsafe {
                    let t = [0, 16, 32, 48].map(|o| _mm_loadl_epi64(tx.add(at + o).cast()));
                    // 32-bit lanes: [buf, len | flags << 16] of two slots each.
                    let t01 = _mm_castsi128_ps(_mm_unpacklo_epi64(t[0], t[1]));
                    let t23 = _mm_castsi128_ps(_mm_unpacklo_epi64(t[2], t[3]));
                    let bufs = _mm_castps_si128(_mm_shuffle_ps::<0b10_00_10_00>(t01, t23));
                    let len_flags = _mm_castps_si128(_mm_shuffle_ps::<0b11_01_11_01>(t01, t23));
                    let buf_ok = _mm_cmplt_epi32(
                        _mm_xor_si128(_mm_sub_epi32(bufs, reserved), sign),
                        buf_room,
                    );
                    let len_mf = _mm_and_si128(len_flags, len_mf_mask);
                    let len_ok = _mm_cmpgt_epi32(len_limit, len_mf);
                    let all = _mm_movemask_ps(_mm_castsi128_ps(_mm_and_si128(buf_ok, len_ok)));
                    if all == 0b1111 {
                        prefetch(moved);
                        lens = _mm_add_epi32(lens, len_mf);
                        for (j, &t) in t.iter().enumerate() {
                            let (t_at, r_at) = (tx.add(at + 16 * j), rx.add(at + 16 * j));
                            // The buffer the receiver returned; len 0, ptr 0.
                            let r = _mm_cvtsi32_si128(r_at.cast::<i32>().read_unaligned());
                            // The TX slot's buffer and length (ptr 0 from
                            // the 8-byte load), flags NS_BUF_CHANGED alone
                            // (MOREFRAG is clear: checked).
                            _mm_storeu_si128(r_at.cast(), _mm_insert_epi16::<3>(t, changed));
                            _mm_storeu_si128(t_at.cast(), _mm_insert_epi16::<3>(r, changed));
                        }
                    }
                    all == 0b1111
                };
                if !ok {
                    return (moved, bytes + lane_sum(lens));
                }
                block += 1;
            }
            bytes += lane_sum(lens);
        }
        ((block * BLOCK) as u32, bytes)
    }

    /// The sum of four u32 lanes.
    #[inline(always)]
    fn lane_sum(lanes: __m128i) -> u64 {
        // SAFETY: __m128i and [u32; 4] have the same size, and any bits
        // are a valid [u32; 4].
        let lanes: [u32; 4] = unsafe { std::mem::transmute(lanes) };
        lanes.iter().map(|&l| u64::from(l)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::has_x86v3;
    use proptest::prelude::*;

    const LIMITS: SlotLimits = SlotLimits {
        num_bufs: 100,
        buf_size: 2112,
    };

    fn words(values: &[u64]) -> Vec<AtomicU64> {
        values.iter().map(|&v| AtomicU64::new(v)).collect()
    }

    fn plain_values(words: &[AtomicU64]) -> Vec<u64> {
        words.iter().map(|w| w.load(Ordering::Relaxed)).collect()
    }

    /// A slot's first word from its fields.
    fn slot_word(buf: u32, len: u16, flags: u16) -> u64 {
        u64::from(buf) | u64::from(len) << LEN_SHIFT | u64::from(flags) << FLAGS_SHIFT
    }

    /// Slot first words: mostly valid packets, with the edge cases of
    /// each check (reserved buffers, the last buffer, lengths at and past
    /// the buffer, MOREFRAG, other flags) mixed in.
    fn a_slot() -> impl Strategy<Value = u64> {
        let buf = prop_oneof![
            4 => RESERVED_BUFFERS..LIMITS.num_bufs,
            1 => prop::sample::select(vec![0, 1, LIMITS.num_bufs - 1, LIMITS.num_bufs, u32::MAX]),
        ];
        let len = prop_oneof![
            4 => 0..=LIMITS.buf_size as u16,
            1 => prop::sample::select(vec![2112u16, 2113, 0x7fff, 0xffff]),
        ];
        let flags = prop_oneof![
            4 => Just(0u16),
            1 => prop::sample::select(vec![NS_MOREFRAG, NS_BUF_CHANGED, 0x0002, 0xffff, 0xffdf]),
        ];
        (buf, len, flags).prop_map(|(b, l, f)| slot_word(b, l, f))
    }

    proptest! {
        /// The vector loop moves exactly what the slot-at-a-time rule
        /// moves: the same slots, bytes, end, prefetches and final words
        /// of both rings, whatever the slots hold.
        #[test]
        fn four_at_a_time_is_the_slot_at_a_time_rule(
            tx in prop::collection::vec((a_slot(), any::<u64>()), 0..70),
            rx_bufs in prop::collection::vec((any::<u64>(), any::<u64>()), 70),
            limits in prop::sample::select(vec![
                LIMITS,
                SlotLimits { num_bufs: 1, buf_size: 2112 },
                SlotLimits { num_bufs: 100, buf_size: 0x10000 },
                SlotLimits { num_bufs: u32::MAX, buf_size: 0 },
            ]),
        ) {
            let tx_flat: Vec<u64> = tx.iter().flat_map(|&(w, p)| [w, p]).collect();
            let rx_flat: Vec<u64> =
                rx_bufs[..tx.len()].iter().flat_map(|&(w, p)| [w, p]).collect();
            let (t1, r1) = (words(&tx_flat), words(&rx_flat));
            let (t2, r2) = (words(&tx_flat), words(&rx_flat));
            let (mut p1, mut p2) = (Vec::new(), Vec::new());
            let fast = swap_run(&t1, &r1, limits, |m| p1.push(m));
            let slow = swap_run_scalar(&t2, &r2, limits, 0, |m| p2.push(m));
            prop_assert_eq!(fast, slow);
            prop_assert_eq!(&p1, &p2);
            prop_assert_eq!(plain_values(&t1), plain_values(&t2));
            prop_assert_eq!(plain_values(&r1), plain_values(&r2));
            // The same loop compiled for AVX2/BMI2, where the CPU has them.
            #[cfg(target_arch = "x86_64")]
            if has_x86v3() {
                let (t3, r3) = (words(&tx_flat), words(&rx_flat));
                let mut p3 = Vec::new();
                // SAFETY: the CPU has the features (checked above).
                let v3 = unsafe { swap_run_x86v3(&t3, &r3, limits, |m| p3.push(m)) };
                prop_assert_eq!(v3, slow);
                prop_assert_eq!(p3, p2);
                prop_assert_eq!(plain_values(&t3), plain_values(&t2));
                prop_assert_eq!(plain_values(&r3), plain_values(&r2));
            }
        }
    }

    #[test]
    fn a_swap_hands_the_buffer_over_and_takes_the_returned_one_back() {
        let tx = words(&[slot_word(7, 60, 0), 99, slot_word(8, 61, 0), 98]);
        let rx = words(&[slot_word(20, 5, 0x0002), 97, slot_word(21, 0, 0), 96]);
        assert_eq!(swap_run(&tx, &rx, LIMITS, |_| ()), (2, 121, RunEnd::Done));
        let changed = NS_BUF_CHANGED;
        assert_eq!(
            plain_values(&rx),
            [slot_word(7, 60, changed), 0, slot_word(8, 61, changed), 0]
        );
        assert_eq!(
            plain_values(&tx),
            [slot_word(20, 0, changed), 0, slot_word(21, 0, changed), 0]
        );
    }

    #[test]
    fn a_run_stops_at_a_chain_or_a_bad_slot_in_a_block() {
        let good = slot_word(7, 60, 0);
        for (bad, end) in [
            (slot_word(7, 60, NS_MOREFRAG), RunEnd::Chain),
            (slot_word(1, 60, 0), RunEnd::Bad),
            (slot_word(7, 2113, 0), RunEnd::Bad),
        ] {
            let tx = words(&[
                good, 0, good, 0, good, 0, good, 0, good, 0, bad, 0, good, 0, good, 0,
            ]);
            let rx = words(&[slot_word(30, 0, 0), 0].repeat(8));
            let (moved, bytes, stop) = swap_run(&tx, &rx, LIMITS, |_| ());
            assert_eq!((moved, bytes, stop), (5, 300, end));
            assert_eq!(
                tx[10].load(Ordering::Relaxed),
                bad,
                "the stopping slot stays"
            );
        }
    }
}
