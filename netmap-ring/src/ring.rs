//! Ring index arithmetic and the invariant every sync checks.
//!
//! A netmap ring of `n` slots is shared by the user and the kernel (here: the
//! software engine or the device) through three user-visible indexes and two
//! kernel-private ones:
//!
//! - `head`: first slot owned by the user; the user advances it to hand
//!   slots back (TX: to send them, RX: to release them);
//! - `cur`: the user's wake-up point, `head <= cur <= tail`;
//! - `tail`: first slot owned by the kernel, changed only inside a sync;
//! - `hwcur`: the kernel's copy of the `head` it last accepted;
//! - `hwtail`: the kernel's progress (TX: slots it has freed, RX: slots it
//!   has filled).
//!
//! At every sync the kernel requires, taken circularly from `hwcur`,
//! `hwcur <= head <= cur <= hwtail`; [`check_head_cur`] is that check.
//! Everything here works on plain `u32` values: reading them from shared
//! memory (and never trusting them) is the caller's job.
#![forbid(unsafe_code)]

use core::fmt;

/// Slot after `i` in a ring of `n` slots (`nm_ring_next`). Requires `i < n`.
#[inline]
pub const fn next(i: u32, n: u32) -> u32 {
    let j = i.wrapping_add(1);
    if j >= n {
        0
    } else {
        j
    }
}

/// Slot before `i` in a ring of `n` slots. Requires `i < n`.
#[inline]
pub const fn prev(i: u32, n: u32) -> u32 {
    if i == 0 {
        n - 1
    } else {
        i - 1
    }
}

/// Steps from `from` forward to `to`, `(to - from) mod n`. Requires both `< n`.
#[inline]
pub const fn distance(from: u32, to: u32, n: u32) -> u32 {
    if to >= from {
        to - from
    } else {
        to + (n - from)
    }
}

/// Slots the user owns, `(tail - head) mod n` (`nm_ring_space`, which
/// netmap computes from `head`; pass `cur` instead to count the slots
/// beyond the wake-up point).
#[inline]
pub const fn space(head: u32, tail: u32, n: u32) -> u32 {
    distance(head, tail, n)
}

/// The user owns no slot (`nm_ring_empty`): on RX nothing to read, on TX no
/// room to write.
#[inline]
pub const fn empty(head: u32, tail: u32) -> bool {
    head == tail
}

/// A TX ring still has slots the kernel has not completed
/// (`nm_tx_pending`). When every transmission is done the kernel has
/// handed back all slots but one, so `tail` sits just before `head`.
#[inline]
pub const fn tx_pending(head: u32, tail: u32, n: u32) -> bool {
    next(tail, n) != head
}

/// `x` lies on the circular arc from `lo` forward to `hi`, both ends
/// included. Requires all three `< n`.
#[inline]
pub const fn between(lo: u32, x: u32, hi: u32, n: u32) -> bool {
    distance(lo, x, n) <= distance(lo, hi, n)
}

/// One of the indexes [`check_head_cur`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RingIndex {
    /// The user's `head`.
    Head,
    /// The user's `cur`.
    Cur,
    /// The kernel's `hwcur`.
    Hwcur,
    /// The kernel's `hwtail`.
    Hwtail,
}

impl fmt::Display for RingIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RingIndex::Head => "head",
            RingIndex::Cur => "cur",
            RingIndex::Hwcur => "hwcur",
            RingIndex::Hwtail => "hwtail",
        })
    }
}

/// Why a sync refused the ring's indexes. netmap's answer to any of these is
/// to reinitialise the ring (`head = cur = hwcur`, `tail = hwtail`) and
/// return an error to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The ring claims to have no slots.
    #[error("a ring needs at least one slot, num_slots is 0")]
    NoSlots,
    /// An index is not a slot number at all.
    #[error("{index} {value} out of range for a {num_slots}-slot ring")]
    OutOfRange {
        /// Which index.
        index: RingIndex,
        /// Its value.
        value: u32,
        /// Slots in the ring.
        num_slots: u32,
    },
    /// `head` moved backwards past `hwcur` or forward past `hwtail`.
    #[error("head {head} outside [hwcur {hwcur}, hwtail {hwtail}] of a {num_slots}-slot ring")]
    HeadOutsideWindow {
        /// The user's head.
        head: u32,
        /// The kernel's hwcur.
        hwcur: u32,
        /// The kernel's hwtail.
        hwtail: u32,
        /// Slots in the ring.
        num_slots: u32,
    },
    /// `cur` is behind `head` or past `hwtail`.
    #[error("cur {cur} outside [head {head}, hwtail {hwtail}] of a {num_slots}-slot ring")]
    CurOutsideWindow {
        /// The user's cur.
        cur: u32,
        /// The user's head.
        head: u32,
        /// The kernel's hwtail.
        hwtail: u32,
        /// Slots in the ring.
        num_slots: u32,
    },
}

impl RingError {
    /// The index at fault, if the error is about one.
    pub fn index(&self) -> Option<RingIndex> {
        match self {
            RingError::NoSlots => None,
            RingError::OutOfRange { index, .. } => Some(*index),
            RingError::HeadOutsideWindow { .. } => Some(RingIndex::Head),
            RingError::CurOutsideWindow { .. } => Some(RingIndex::Cur),
        }
    }
}

/// The sync prologue check of netmap (`nm_txsync_prologue`,
/// `nm_rxsync_prologue`): every index is a slot number and, circularly from
/// `hwcur`, `hwcur <= head <= cur <= hwtail`.
///
/// The same rule serves both directions. For TX, netmap checks against the
/// values it published at the previous sync (the `head` it accepted then and
/// the `tail` it exposed): pass those as `hwcur` and `hwtail` to also forbid
/// `head` moving backwards over slots the kernel has not consumed yet.
///
/// `hwcur` and `hwtail` come from the kernel side; they are checked too,
/// because in this project "the kernel" may be a device writing shared
/// memory.
pub fn check_head_cur(
    num_slots: u32,
    hwcur: u32,
    hwtail: u32,
    head: u32,
    cur: u32,
) -> Result<(), RingError> {
    if num_slots == 0 {
        return Err(RingError::NoSlots);
    }
    for (index, value) in [
        (RingIndex::Hwcur, hwcur),
        (RingIndex::Hwtail, hwtail),
        (RingIndex::Head, head),
        (RingIndex::Cur, cur),
    ] {
        if value >= num_slots {
            return Err(RingError::OutOfRange {
                index,
                value,
                num_slots,
            });
        }
    }
    if !between(hwcur, head, hwtail, num_slots) {
        return Err(RingError::HeadOutsideWindow {
            head,
            hwcur,
            hwtail,
            num_slots,
        });
    }
    if !between(head, cur, hwtail, num_slots) {
        return Err(RingError::CurOutsideWindow {
            cur,
            head,
            hwtail,
            num_slots,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_prev_wrap() {
        assert_eq!(next(0, 4), 1);
        assert_eq!(next(3, 4), 0);
        assert_eq!(prev(0, 4), 3);
        assert_eq!(prev(3, 4), 2);
        assert_eq!(next(0, 1), 0);
        assert_eq!(prev(0, 1), 0);
        for i in 0..16 {
            assert_eq!(prev(next(i, 16), 16), i);
        }
    }

    #[test]
    fn distance_and_space_wrap() {
        assert_eq!(distance(3, 7, 16), 4);
        assert_eq!(distance(7, 3, 16), 12);
        assert_eq!(distance(5, 5, 16), 0);
        assert_eq!(space(14, 2, 16), 4);
        assert_eq!(space(0, 4095, 4096), 4095);
        assert!(empty(9, 9));
        assert!(!empty(9, 10));
    }

    #[test]
    fn between_is_inclusive_and_circular() {
        assert!(between(3, 3, 7, 16));
        assert!(between(3, 7, 7, 16));
        assert!(!between(3, 8, 7, 16));
        assert!(!between(3, 2, 7, 16));
        // Wrapped arc 14..=2.
        assert!(between(14, 15, 2, 16));
        assert!(between(14, 0, 2, 16));
        assert!(!between(14, 3, 2, 16));
        assert!(!between(14, 13, 2, 16));
    }

    #[test]
    fn error_messages_name_the_index_and_values() {
        let err = check_head_cur(16, 3, 7, 9, 9).unwrap_err();
        assert_eq!(
            err.to_string(),
            "head 9 outside [hwcur 3, hwtail 7] of a 16-slot ring"
        );
        assert_eq!(err.index(), Some(RingIndex::Head));
        let err = check_head_cur(16, 3, 7, 5, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cur 4 outside [head 5, hwtail 7] of a 16-slot ring"
        );
        let err = check_head_cur(16, 3, 7, 5, 16).unwrap_err();
        assert_eq!(err.to_string(), "cur 16 out of range for a 16-slot ring");
        assert_eq!(err.index(), Some(RingIndex::Cur));
        assert_eq!(check_head_cur(0, 0, 0, 0, 0), Err(RingError::NoSlots));
    }
}
