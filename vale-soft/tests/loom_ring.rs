//! A loom model of the ring synchronisation between one producer and one
//! consumer, as the software engine does it over shared memory.
//!
//! It is a model of the protocol, not the engine's code (loom needs its own
//! atomics); each step names the function it mirrors:
//!
//! - producer, VALE: `deliver::deliver_to_ring` loads the RX kring's
//!   `hwcur` (Acquire) to compute free slots, writes the slots, then stores
//!   `hwtail` (Release; only when a slot moved, as the engine does since
//!   a sync with nothing to publish stores nothing on the line the
//!   consumer polls); a frame with no room is dropped. Then
//!   `forward::kick`: a SeqCst fence, a Relaxed load of the wake flag and,
//!   if it was set, a swap that clears it and a write to the wake FIFO.
//! - producer, pipe: `pipe::pipe_txsync` moves slots the same way but never
//!   drops: with no room it waits, arming its own wake flag like a poll()
//!   for TX, until the consumer's release kicks it.
//! - consumer: `forward::rxsync` stores the released `head` as `hwcur`
//!   (Release), then loads `hwtail` (Acquire) into the ring's tail (a
//!   sync that releases nothing stores nothing: `forward::is_idle`
//!   answers it with loads alone, without the sync lock); the
//!   application reads slots below tail (`Port::next_packet`); with nothing
//!   to read, `Port::poll` arms (`SoftBinding::arm`: SeqCst store of the
//!   flag, SeqCst fence), syncs again and only then sleeps on the FIFO.
//!   `SoftBinding::rxsync` kicks the pipe peer after releasing slots.
//!
//! The wake FIFO is a counter of unread bytes under a loom `Mutex` with a
//! `Condvar` for the sleeper: a byte written stays until read, a reader
//! with nothing to read sleeps, and a disarm drains it, as the real FIFO
//! does (its syscalls order memory as the mutex does).
//!
//! The bound: loom explores every interleaving with up to 3 preemptions.
//! From 4 on it reports a lost wake-up that the C++ memory model forbids;
//! [`loom_false_alarm_litmus`] reduces it to 2 threads and 8 operations
//! (a SeqCst-fenced store/load pair on each side with a swap between the
//! producer's fences) and shows loom returning the forbidden outcome.
//!
//! What the model checks, over every interleaving loom explores:
//! - no slot is read before it was written, and none is overwritten before
//!   it was released: slot payloads are loom `UnsafeCell`s, so an access
//!   not ordered by the protocol is a reported data race, and every value
//!   read is checked against the sequence sent;
//! - no wake-up is lost: a consumer (or a blocked pipe producer) asleep
//!   while work is pending never wakes, which loom reports as a deadlock;
//! - VALE loses only what it counts; a pipe loses nothing.
//!
//! Two negative controls weaken one ordering each and must fail, showing
//! the model can see the bugs it is there for.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// The orderings under test; `ENGINE` is what the engine uses.
#[derive(Clone, Copy)]
struct Orderings {
    /// Producer's store of `hwtail` (deliver_to_ring, pipe_txsync).
    publish: Ordering,
    /// Whether kick and arm put a SeqCst fence between their store and
    /// their load (the Dekker handshake).
    wake_fences: bool,
}

const ENGINE: Orderings = Orderings {
    publish: Ordering::Release,
    wake_fences: true,
};

/// One side's wake-up: the flag in the port entry and its FIFO.
struct Wake {
    wanted: AtomicU32,
    fifo: Fifo,
}

/// The wake-up FIFO of one port.
struct Fifo {
    unread: Mutex<u32>,
    readable: Condvar,
}

impl Fifo {
    fn new() -> Self {
        Fifo {
            unread: Mutex::new(0),
            readable: Condvar::new(),
        }
    }

    /// A one-byte write (kick).
    fn write(&self) {
        *self.unread.lock().unwrap() += 1;
        self.readable.notify_one();
    }

    /// poll() on the FIFO: sleeps until a byte is there.
    fn wait(&self) {
        let mut unread = self.unread.lock().unwrap();
        while *unread == 0 {
            unread = self.readable.wait(unread).unwrap();
        }
    }

    /// Reads everything (disarm's drain).
    fn drain(&self) {
        *self.unread.lock().unwrap() = 0;
    }
}

impl Wake {
    fn new() -> Self {
        Wake {
            wanted: AtomicU32::new(0),
            fifo: Fifo::new(),
        }
    }

    /// forward::kick, after the caller published its progress.
    fn kick(&self, o: Orderings) {
        if o.wake_fences {
            fence(Ordering::SeqCst);
        }
        if self.wanted.load(Ordering::Relaxed) == 0 {
            return;
        }
        if self.wanted.swap(0, Ordering::AcqRel) == 0 {
            return;
        }
        self.fifo.write();
    }

    /// SoftBinding::arm; the caller re-reads the ring afterwards.
    fn arm(&self, o: Orderings) {
        self.wanted.store(1, Ordering::SeqCst);
        if o.wake_fences {
            fence(Ordering::SeqCst);
        }
    }

    /// SoftBinding::disarm: clear the flag, drain the FIFO.
    fn disarm(&self) {
        self.wanted.store(0, Ordering::SeqCst);
        self.fifo.drain();
    }
}

/// The RX kring of the consumer and the shared slots.
struct Ring {
    slots: Vec<UnsafeCell<u32>>,
    hwcur: AtomicU32,
    hwtail: AtomicU32,
    /// The consumer's wake-up (RX) and the pipe producer's (TX).
    rx: Wake,
    tx: Wake,
    /// Set by the producer after its last frame, so the consumer of a lossy
    /// run knows when to stop (not part of the engine's protocol).
    done: AtomicBool,
}

impl Ring {
    fn new(n: usize) -> Self {
        Ring {
            slots: (0..n).map(|_| UnsafeCell::new(0)).collect(),
            hwcur: AtomicU32::new(0),
            hwtail: AtomicU32::new(0),
            rx: Wake::new(),
            tx: Wake::new(),
            done: AtomicBool::new(false),
        }
    }

    fn n(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Free slots as the producer computes them (one slot always empty).
    fn free(&self, hwcur: u32, hwtail: u32) -> u32 {
        (hwcur + self.n() - hwtail - 1) % self.n()
    }
}

/// The producer: sends frames 1..=frames; VALE drops on a full ring, a
/// pipe waits. Returns how many it dropped.
fn produce(ring: &Ring, frames: u32, lossless: bool, o: Orderings) -> u32 {
    let mut hwtail = 0;
    let mut dropped = 0;
    for seq in 1..=frames {
        // Acquire: pairs with the consumer's Release store of hwcur.
        let mut hwcur = ring.hwcur.load(Ordering::Acquire);
        while ring.free(hwcur, hwtail) == 0 && lossless {
            // pipe back-pressure: a poll() for TX room.
            ring.tx.arm(o);
            hwcur = ring.hwcur.load(Ordering::Acquire);
            if ring.free(hwcur, hwtail) == 0 {
                ring.tx.fifo.wait();
            }
            ring.tx.disarm();
            hwcur = ring.hwcur.load(Ordering::Acquire);
        }
        if ring.free(hwcur, hwtail) == 0 {
            dropped += 1; // VALE: RxDropFull
            continue;
        }
        // The copy into the destination slot.
        ring.slots[hwtail as usize].with_mut(|slot| write_slot(slot, seq));
        hwtail = (hwtail + 1) % ring.n();
        ring.hwtail.store(hwtail, o.publish);
        ring.rx.kick(o);
    }
    ring.done.store(true, Ordering::Release);
    ring.rx.kick(o);
    dropped
}

/// Writes through loom's raw pointer; loom checks the access itself.
fn write_slot(slot: *mut u32, value: u32) {
    // SAFETY: loom hands out a pointer valid for this closure only, and the
    // protocol under test is what makes the access exclusive; loom reports
    // it if it is not.
    unsafe { *slot = value }
}

fn read_slot(slot: *const u32) -> u32 {
    // SAFETY: as for `write_slot`: valid for the closure, and loom
    // checks that no write races with this read.
    unsafe { *slot }
}

/// The consumer: Port::poll(RX) + rxsync + next_packet until the producer
/// is done (lossy) or every frame arrived (lossless). Returns the frames.
fn consume(ring: &Ring, frames: u32, lossless: bool, o: Orderings) -> Vec<u32> {
    let mut got = Vec::new();
    let mut head = 0;
    let mut released = 0;
    loop {
        if lossless && got.len() as u32 == frames {
            return got;
        }
        // rxsync: hand back what we read, then look at what arrived.
        if head != released {
            // Release: the slots we read are free for the producer.
            ring.hwcur.store(head, Ordering::Release);
            released = head;
            // SoftBinding::rxsync: the pipe peer may have room again.
            ring.tx.kick(o);
        }
        // Acquire: pairs with the producer's store of hwtail.
        let tail = ring.hwtail.load(Ordering::Acquire);
        if tail != head {
            while head != tail {
                let seq = ring.slots[head as usize].with(read_slot);
                assert!(seq != 0, "slot {head} read before it was written");
                assert!(
                    got.last().is_none_or(|&last| seq > last),
                    "slot {head} holds {seq} after {got:?}: overwritten or reordered"
                );
                got.push(seq);
                head = (head + 1) % ring.n();
            }
            continue;
        }
        if ring.done.load(Ordering::Acquire) && ring.hwtail.load(Ordering::Acquire) == head {
            return got;
        }
        // Port::poll: arm, look again, and only then sleep.
        ring.rx.arm(o);
        let ready =
            ring.hwtail.load(Ordering::Acquire) != head || ring.done.load(Ordering::Acquire);
        if !ready {
            ring.rx.fifo.wait();
        }
        ring.rx.disarm();
    }
}

fn run(slots: usize, frames: u32, lossless: bool, o: Orderings, preemptions: usize) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    builder.check(move || {
        let ring = Arc::new(Ring::new(slots));
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || produce(&ring, frames, lossless, o))
        };
        let got = consume(&ring, frames, lossless, o);
        let dropped = producer.join().unwrap();
        assert_eq!(got.len() as u32 + dropped, frames, "got {got:?}");
        if lossless {
            assert_eq!(got, (1..=frames).collect::<Vec<_>>());
        }
    });
}

/// VALE delivery into a 3-slot ring (room for 2): frames are dropped when
/// the consumer lags, never corrupted, and the consumer never sleeps
/// through an arrival.
#[test]
fn vale_delivery_and_wakeups() {
    run(3, 4, false, ENGINE, 3);
}

/// Pipe crossover into a 2-slot ring (room for 1): every frame arrives,
/// producer and consumer take turns through each other's wake-ups.
#[test]
fn pipe_backpressure_and_wakeups() {
    run(2, 4, true, ENGINE, 3);
}

/// Negative control: publishing hwtail with Relaxed lets the consumer read
/// a slot the producer's write is not ordered before.
#[test]
#[should_panic(expected = "Causality violation")]
fn relaxed_publication_is_caught() {
    run(
        3,
        2,
        false,
        Orderings {
            publish: Ordering::Relaxed,
            ..ENGINE
        },
        2,
    );
}

/// Negative control: without the SeqCst fences the store-buffering outcome
/// (each side misses the other's store) loses a wake-up.
#[test]
#[should_panic(expected = "deadlock")]
fn wakeup_without_fences_is_lost() {
    run(
        3,
        2,
        false,
        Orderings {
            wake_fences: false,
            ..ENGINE
        },
        2,
    );
}

/// The reduction of the false alarm above, kept to re-check new loom
/// versions. Consumer: `w = 1; fence; w = 0; w = 2; fence; r1 = d`.
/// Producer: `fence; l = w; if l != 0 { s = swap(w, 0) }; d = 1; fence;
/// r2 = w`. loom yields r1 = 0, l = 1, s = 0, r2 = 0. The swap read the
/// 0, so the modification order of `w` is 1, 0, swap's 0, 2, and r2 (after
/// the swap) reads the swap's 0, which is before the 2. Whichever of the
/// two last fences comes first in the single SeqCst order, the load after
/// the other one must see the store before the first one (C++
/// [atomics.fences]): r2 would read 2 or r1 would read 1. So the outcome is
/// impossible, and so is the lost wake-up loom derives from it.
#[test]
#[ignore = "documents a loom false alarm; fails while loom has it"]
fn loom_false_alarm_litmus() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(4);
    builder.check(|| {
        let w = Arc::new(AtomicU32::new(0));
        let d = Arc::new(AtomicU32::new(0));
        let producer = {
            let (w, d) = (Arc::clone(&w), Arc::clone(&d));
            thread::spawn(move || {
                fence(Ordering::SeqCst);
                let l = w.load(Ordering::Relaxed);
                let s = if l != 0 {
                    w.swap(0, Ordering::AcqRel)
                } else {
                    u32::MAX
                };
                d.store(1, Ordering::Release);
                fence(Ordering::SeqCst);
                (l, s, w.load(Ordering::Relaxed))
            })
        };
        w.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        w.store(0, Ordering::Relaxed);
        w.store(2, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let r1 = d.load(Ordering::Acquire);
        let (l, s, r2) = producer.join().unwrap();
        assert!(
            r1 == 1 || r2 != 0 || s == 2,
            "forbidden outcome r1={r1} l={l} s={s} r2={r2}"
        );
    });
}
