//! Ring arithmetic and the sync invariant check, against netmap's ring life
//! cycle and against an independent brute-force model.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use netmap_ring::ring::{
    between, check_head_cur, distance, empty, next, prev, space, tx_pending, RingError, RingIndex,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

// ---------------------------------------------------------------------------
// The netmap(4) life cycle of a TX and an RX ring, step by step
// ---------------------------------------------------------------------------

/// What the user sees of a ring, and the kernel's private indexes.
#[derive(Debug, Clone, Copy)]
struct Ring {
    n: u32,
    head: u32,
    cur: u32,
    tail: u32,
    hwcur: u32,
    hwtail: u32,
}

impl Ring {
    /// A sync: validate, then accept head as hwcur and publish hwtail. On a
    /// violation, reinitialise as netmap does and report the error.
    fn sync(&mut self) -> Result<(), RingError> {
        match check_head_cur(self.n, self.hwcur, self.hwtail, self.head, self.cur) {
            Ok(()) => {
                self.hwcur = self.head;
                self.tail = self.hwtail;
                Ok(())
            }
            Err(err) => {
                self.head = self.hwcur;
                self.cur = self.hwcur;
                self.tail = self.hwtail;
                Err(err)
            }
        }
    }
}

#[test]
fn tx_ring_life_cycle() {
    let n = 8;
    // After register: the user owns every slot but one; nothing in flight.
    let mut r = Ring {
        n,
        head: 0,
        cur: 0,
        tail: n - 1,
        hwcur: 0,
        hwtail: n - 1,
    };
    assert_eq!(space(r.head, r.tail, n), 7);
    assert!(!tx_pending(r.head, r.tail, n));

    // Fill 3 slots and sync: they are handed to the kernel, not yet sent.
    r.head = 3;
    r.cur = 3;
    r.sync().expect("3 filled slots are legal");
    assert_eq!(r.hwcur, 3);
    assert!(tx_pending(r.head, r.tail, n));
    assert_eq!(space(r.head, r.tail, n), 4);

    // The kernel completes them: hwtail advances by 3, wrapping to 2.
    r.hwtail = (r.hwtail + 3) % n;
    r.sync().expect("no user change is always legal");
    assert_eq!(r.tail, 2);
    assert_eq!(space(r.head, r.tail, n), 7);
    assert!(!tx_pending(r.head, r.tail, n));

    // Fill 6 slots across the wrap: head 3 -> 1.
    r.head = (r.head + 6) % n;
    r.cur = r.head;
    r.sync().expect("filling across the wrap is legal");
    assert_eq!((r.hwcur, r.tail), (1, 2));
    assert_eq!(space(r.head, r.tail, n), 1);

    // cur may run ahead to tail (wait for room), but not past it.
    r.cur = 2;
    r.sync().expect("cur == tail is legal");
    r.cur = 3;
    let err = r.sync().unwrap_err();
    assert_eq!(
        err,
        RingError::CurOutsideWindow {
            cur: 3,
            head: 1,
            hwtail: 2,
            num_slots: 8
        }
    );
    assert_eq!((r.head, r.cur, r.tail), (1, 1, 2), "reinitialised");

    // Writing past tail is refused and the ring reinitialised.
    r.head = 3;
    r.cur = 3;
    let err = r.sync().unwrap_err();
    assert_eq!(
        err.to_string(),
        "head 3 outside [hwcur 1, hwtail 2] of a 8-slot ring"
    );
    assert_eq!((r.head, r.cur, r.tail), (1, 1, 2));

    // head may not move backwards over slots already handed to the kernel.
    r.head = 0;
    r.cur = 0;
    assert_eq!(r.sync().unwrap_err().index(), Some(RingIndex::Head));
}

#[test]
fn rx_ring_life_cycle() {
    let n = 8;
    // After register: nothing received.
    let mut r = Ring {
        n,
        head: 0,
        cur: 0,
        tail: 0,
        hwcur: 0,
        hwtail: 0,
    };
    r.sync().expect("an empty ring is legal");
    assert!(empty(r.head, r.tail));

    // The kernel receives 5 frames.
    r.hwtail = 5;
    r.sync().expect("no user change is legal");
    assert_eq!(space(r.head, r.tail, n), 5);
    assert!(!empty(r.head, r.tail));

    // Consume 3, and move cur to tail to be woken only by new frames.
    r.head = 3;
    r.cur = r.tail;
    r.sync().expect("head 3, cur 5 within [0, 5]");
    assert_eq!(r.hwcur, 3);
    assert_eq!(space(r.head, r.tail, n), 2);

    // The kernel fills up to one slot before hwcur: the ring is full.
    r.hwtail = prev(r.hwcur, n);
    r.sync().expect("no user change is legal");
    assert_eq!(r.tail, 2);
    assert_eq!(space(r.head, r.tail, n), n - 1);

    // Consume everything across the wrap.
    r.head = r.tail;
    r.cur = r.tail;
    r.sync().expect("releasing every slot is legal");
    assert!(empty(r.head, r.tail));

    // Releasing a slot not yet received is refused.
    r.head = next(r.tail, n);
    r.cur = r.head;
    let err = r.sync().unwrap_err();
    assert_eq!(
        err,
        RingError::HeadOutsideWindow {
            head: 3,
            hwcur: 2,
            hwtail: 2,
            num_slots: 8
        }
    );
    assert_eq!((r.head, r.cur, r.tail), (2, 2, 2), "reinitialised");

    // cur behind head is refused.
    r.hwtail = 6;
    r.head = 4;
    r.cur = 3;
    assert_eq!(r.sync().unwrap_err().index(), Some(RingIndex::Cur));
}

// ---------------------------------------------------------------------------
// Boundaries
// ---------------------------------------------------------------------------

#[test]
fn one_slot_ring() {
    assert_eq!(next(0, 1), 0);
    assert_eq!(prev(0, 1), 0);
    assert_eq!(space(0, 0, 1), 0);
    assert!(!tx_pending(0, 0, 1));
    assert_eq!(check_head_cur(1, 0, 0, 0, 0), Ok(()));
    for (args, index) in [
        ((1, 0, 0, 0), RingIndex::Hwcur),
        ((0, 1, 0, 0), RingIndex::Hwtail),
        ((0, 0, 1, 0), RingIndex::Head),
        ((0, 0, 0, 1), RingIndex::Cur),
    ] {
        let (hwcur, hwtail, head, cur) = args;
        let err = check_head_cur(1, hwcur, hwtail, head, cur).unwrap_err();
        assert_eq!(
            err,
            RingError::OutOfRange {
                index,
                value: 1,
                num_slots: 1
            }
        );
    }
}

#[test]
fn largest_ring() {
    let n = 4096;
    assert_eq!(next(4095, n), 0);
    assert_eq!(prev(0, n), 4095);
    assert_eq!(distance(4095, 0, n), 1);
    assert_eq!(distance(0, 4095, n), 4095);
    // Full window: hwtail just before hwcur, every head is legal.
    for head in [4000, 4095, 0, 3999] {
        assert_eq!(
            check_head_cur(n, 4000, 3999, head, 3999),
            Ok(()),
            "head {head}"
        );
    }
    // ... but cur must still not be behind head.
    assert_eq!(
        check_head_cur(n, 4000, 3999, 4095, 4000)
            .unwrap_err()
            .index(),
        Some(RingIndex::Cur)
    );
    assert!(check_head_cur(n, 0, 0, 4096, 0).is_err());
}

#[test]
fn empty_window_admits_only_hwcur() {
    for n in [1, 2, 16, 4096] {
        let hw = n / 2;
        for x in [0, hw, n - 1] {
            let expect_ok = x == hw;
            assert_eq!(
                check_head_cur(n, hw, hw, x, hw).is_ok(),
                expect_ok,
                "n {n} head {x}"
            );
            assert_eq!(
                check_head_cur(n, hw, hw, hw, x).is_ok(),
                expect_ok,
                "n {n} cur {x}"
            );
        }
    }
}

#[test]
fn zero_slots_is_an_error_not_a_panic() {
    assert_eq!(check_head_cur(0, 0, 0, 0, 0), Err(RingError::NoSlots));
    assert_eq!(RingError::NoSlots.index(), None);
}

// ---------------------------------------------------------------------------
// Against a brute-force model
// ---------------------------------------------------------------------------

/// The verdict of the model, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    NoSlots,
    OutOfRange(RingIndex),
    Head,
    Cur,
}

/// Walk forward one slot at a time from `from` to `to` (inclusive) and say
/// whether `x` is met on the way: the definition of "circularly between".
fn reached_walking(from: u32, to: u32, x: u32, n: u32) -> bool {
    let mut p = from;
    for _ in 0..n {
        if p == x {
            return true;
        }
        if p == to {
            return false;
        }
        p = (p + 1) % n;
    }
    false
}

fn model(n: u32, hwcur: u32, hwtail: u32, head: u32, cur: u32) -> Verdict {
    if n == 0 {
        return Verdict::NoSlots;
    }
    for (index, value) in [
        (RingIndex::Hwcur, hwcur),
        (RingIndex::Hwtail, hwtail),
        (RingIndex::Head, head),
        (RingIndex::Cur, cur),
    ] {
        if value >= n {
            return Verdict::OutOfRange(index);
        }
    }
    if !reached_walking(hwcur, hwtail, head, n) {
        return Verdict::Head;
    }
    if !reached_walking(head, hwtail, cur, n) {
        return Verdict::Cur;
    }
    Verdict::Ok
}

fn verdict_of(result: Result<(), RingError>, inputs: (u32, u32, u32, u32, u32)) -> Verdict {
    let (n, hwcur, hwtail, head, cur) = inputs;
    match result {
        Ok(()) => Verdict::Ok,
        Err(RingError::NoSlots) => Verdict::NoSlots,
        Err(RingError::OutOfRange {
            index,
            value,
            num_slots,
        }) => {
            let expected = match index {
                RingIndex::Hwcur => hwcur,
                RingIndex::Hwtail => hwtail,
                RingIndex::Head => head,
                RingIndex::Cur => cur,
            };
            assert_eq!(
                (value, num_slots),
                (expected, n),
                "error reports the inputs"
            );
            Verdict::OutOfRange(index)
        }
        Err(e @ RingError::HeadOutsideWindow { .. }) => {
            let want = RingError::HeadOutsideWindow {
                head,
                hwcur,
                hwtail,
                num_slots: n,
            };
            assert_eq!(e, want, "error reports the inputs");
            Verdict::Head
        }
        Err(e @ RingError::CurOutsideWindow { .. }) => {
            let want = RingError::CurOutsideWindow {
                cur,
                head,
                hwtail,
                num_slots: n,
            };
            assert_eq!(e, want, "error reports the inputs");
            Verdict::Cur
        }
    }
}

/// Ring sizes from the smallest to netmap's largest, biased to small ones
/// where every position gets visited.
fn ring_size() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 1u32..=8, 4 => 9u32..=64, 1 => 65u32..=4096, 1 => Just(4096u32)]
}

/// An index that is often inside the window starting at `from` (so legal
/// cases are common), sometimes anywhere, and sometimes out of range.
fn index_near(from: u32, n: u32, pick: u64) -> u32 {
    let raw = (pick >> 2) as u32;
    match pick & 3 {
        0 | 1 => ((u64::from(from) + u64::from(raw)) % u64::from(n)) as u32,
        2 => raw % n,
        _ => n + raw % 3,
    }
}

#[test]
fn check_head_cur_agrees_with_the_walking_model() {
    let inputs = (
        ring_size(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        0u32..64,
    )
        .prop_map(|(n, a, b, c, d, rare)| {
            // Kernel indexes: in range except about one case in 64.
            let hwcur = if rare == 0 {
                n + 1
            } else {
                (a % u64::from(n)) as u32
            };
            let hwtail = if rare == 1 {
                n
            } else {
                (b % u64::from(n)) as u32
            };
            let head = index_near(hwcur % n, n, c);
            let cur = index_near(head % n, n, d);
            (n, hwcur, hwtail, head, cur)
        });
    let seen: [AtomicUsize; 5] = Default::default();
    let mut runner = TestRunner::new(Config {
        cases: 20_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&inputs, |(n, hwcur, hwtail, head, cur)| {
            let got = verdict_of(
                check_head_cur(n, hwcur, hwtail, head, cur),
                (n, hwcur, hwtail, head, cur),
            );
            let want = model(n, hwcur, hwtail, head, cur);
            prop_assert_eq!(
                got,
                want,
                "n {} hwcur {} hwtail {} head {} cur {}",
                n,
                hwcur,
                hwtail,
                head,
                cur
            );
            let bucket = match want {
                Verdict::Ok => 0,
                Verdict::Head => 1,
                Verdict::Cur => 2,
                Verdict::OutOfRange(RingIndex::Head | RingIndex::Cur) => 3,
                _ => 4,
            };
            seen[bucket].fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let counts: Vec<usize> = seen.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    // Every outcome must be exercised substantially, or the test proves little.
    for (what, count, at_least) in [
        ("accepted", counts[0], 2_000),
        ("bad head", counts[1], 1_000),
        ("bad cur", counts[2], 1_000),
        ("user index out of range", counts[3], 1_000),
        ("kernel index out of range", counts[4], 100),
    ] {
        assert!(count >= at_least, "only {count} {what} cases: {counts:?}");
    }
}

proptest! {
    #![proptest_config(Config { cases: 10_000, failure_persistence: None, ..Config::default() })]

    /// The arithmetic against plain modular arithmetic in u64.
    #[test]
    fn arithmetic_matches_modular_arithmetic(n in ring_size(), a in any::<u32>(), b in any::<u32>(), c in any::<u32>()) {
        let (a, b, c) = (a % n, b % n, c % n);
        let m = u64::from(n);
        let modn = |x: u64| (x % m) as u32;
        prop_assert_eq!(next(a, n), modn(u64::from(a) + 1));
        prop_assert_eq!(prev(a, n), modn(u64::from(a) + m - 1));
        prop_assert_eq!(distance(a, b, n), modn(u64::from(b) + m - u64::from(a)));
        prop_assert_eq!(space(a, b, n), distance(a, b, n));
        prop_assert_eq!(empty(a, b), a == b);
        prop_assert_eq!(tx_pending(a, b, n), modn(u64::from(b) + 1) != a);
        prop_assert_eq!(between(a, b, c, n), reached_walking(a, c, b, n));
        prop_assert_eq!(prev(next(a, n), n), a);
    }
}
