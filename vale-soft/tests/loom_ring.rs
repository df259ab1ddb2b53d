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
//!   `forward::kick_ring`: `wake::light` (a compiler fence in a process
//!   registered for membarrier, which orders nothing between CPUs), a
//!   Relaxed load of the wake flag and, if it was set, a swap that clears
//!   it and a write to the wake FIFO.
//! - producer, pipe: `pipe::pipe_txsync` moves slots the same way but never
//!   drops: with no room it waits, arming its own wake flag like a poll()
//!   for TX, until the consumer's release kicks it.
//! - consumer: `forward::rxsync` stores the released `head` as `hwcur`
//!   (Release), then loads `hwtail` (Acquire) into the ring's tail (a
//!   sync that releases nothing stores nothing: `forward::is_idle`
//!   answers it with loads alone, without the sync lock); the
//!   application reads slots below tail (`Port::next_packet`); with nothing
//!   to read, `Port::poll` arms (`SoftBinding::arm`: SeqCst store of the
//!   flag, `wake::heavy`: a SeqCst fence and membarrier), syncs again and
//!   only then sleeps on the FIFO. `SoftBinding::rxsync` kicks the pipe
//!   peer after releasing slots.
//!
//! `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` has no loom primitive. It
//! runs a full barrier on the other thread's CPU at some point of that
//! thread's instruction stream (an IPI lands between two instructions; a
//! thread not running passed a context switch) and returns after it. The
//! model gives each thread a "CPU" mutex, held by a publishing side from
//! its first publication store through its load of the wake flag; the
//! membarrier takes and drops the other thread's mutex. So the barrier
//! falls before the publisher's store (the mutex's release/acquire order
//! the arming store before the publisher's load) or after its load (they
//! order the publication before the sleeper's re-read), never between:
//! a barrier between the two makes the store visible to the sleeper and
//! the flag to the publisher, both seen, which loom also explores (a
//! Relaxed load may read a store loom executed earlier). Nothing else
//! takes those mutexes, so they add no order the real protocol lacks.
//! The fence fallback (a process whose registration was refused) is
//! checked too.
//!
//! The wake FIFO is a counter of unread bytes under a loom `Mutex` with a
//! `Condvar` for the sleeper: a byte written stays until read, a reader
//! with nothing to read sleeps, and a disarm drains it, as the real FIFO
//! does (its syscalls order memory as the mutex does).
//!
//! The bound: loom explores every interleaving with up to 3 preemptions
//! (the fence fallback) or 2 (the membarrier, whose mutexes add
//! scheduling points). Past them it reports a lost wake-up that the C++
//! memory model forbids; [`loom_false_alarm_litmus`] reduces the fence
//! model's to 2 threads and 8 operations (a SeqCst-fenced store/load pair
//! on each side with a swap between the producer's fences) and shows loom
//! returning the forbidden outcome. The membarrier model's at 3, traced:
//! the producer's kick swaps the flag (reading the consumer's first arm),
//! the consumer disarms and arms again, takes and drops the producer's CPU
//! mutex, and the producer's next swap, after it takes that mutex, reads
//! the 0 its own earlier swap wrote. An RMW reads the last value in the
//! modification order, and the earlier swap, which read the first arm,
//! sits right after it, before the disarm and the second arm, so the swap
//! must read 1: loom keeps the modification order as vector clocks, a
//! partial order that loses the RMW's atomicity (the swap and the
//! consumer's later stores stay unordered, both "newest").
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
use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
use loom::thread;

/// The barriers of the wake-up handshake (Dekker: kick and arm each put
/// one between their store and their load).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Barriers {
    /// `wake::light` in a registered process (a compiler fence) and
    /// `wake::heavy` (fence, membarrier): the engine.
    Membarrier,
    /// A SeqCst fence on both sides: a publisher whose registration was
    /// refused.
    Fences,
    /// Negative control: the publisher skips the fence (as registered)
    /// but the sleeper does not run membarrier.
    ArmFenceOnly,
    /// Negative control: no barrier at all.
    None,
}

/// The orderings under test; `ENGINE` is what the engine uses.
#[derive(Clone, Copy)]
struct Orderings {
    /// Producer's store of `hwtail` (deliver_to_ring, pipe_txsync).
    publish: Ordering,
    /// The wake-up handshake's barriers.
    wake: Barriers,
}

const ENGINE: Orderings = Orderings {
    publish: Ordering::Release,
    wake: Barriers::Membarrier,
};

/// Thread numbers, for the CPU mutexes.
const PRODUCER: usize = 0;
const CONSUMER: usize = 1;

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

    /// forward::kick_ring, after the caller published its progress;
    /// `cpu` is the caller's CPU mutex, held since before its publication
    /// (`Ring::publishing`), dropped once the flag is loaded.
    fn kick(&self, o: Orderings, cpu: Option<MutexGuard<'_, ()>>) {
        if o.wake == Barriers::Fences {
            fence(Ordering::SeqCst);
        }
        let wanted = self.wanted.load(Ordering::Relaxed);
        drop(cpu);
        if wanted == 0 {
            return;
        }
        if self.wanted.swap(0, Ordering::AcqRel) == 0 {
            return;
        }
        self.fifo.write();
    }

    /// SoftBinding::arm; the caller re-reads the ring afterwards.
    /// `other_cpu`: the other thread's CPU mutex, which the membarrier
    /// takes and drops.
    fn arm(&self, o: Orderings, other_cpu: &Mutex<()>) {
        self.wanted.store(1, Ordering::SeqCst);
        match o.wake {
            Barriers::Membarrier => {
                fence(Ordering::SeqCst);
                drop(other_cpu.lock().unwrap());
            }
            Barriers::Fences | Barriers::ArmFenceOnly => fence(Ordering::SeqCst),
            Barriers::None => {}
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
    /// Each thread's CPU, for the membarrier (see the module's comment).
    cpu: [Mutex<()>; 2],
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
            cpu: [Mutex::new(()), Mutex::new(())],
        }
    }

    /// Thread `me` starts publishing: with the membarrier, its CPU is not
    /// interrupted until its kick has loaded the wake flag.
    fn publishing(&self, o: Orderings, me: usize) -> Option<MutexGuard<'_, ()>> {
        (o.wake == Barriers::Membarrier).then(|| self.cpu[me].lock().unwrap())
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
            ring.tx.arm(o, &ring.cpu[CONSUMER]);
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
        let cpu = ring.publishing(o, PRODUCER);
        ring.hwtail.store(hwtail, o.publish);
        ring.rx.kick(o, cpu);
    }
    let cpu = ring.publishing(o, PRODUCER);
    ring.done.store(true, Ordering::Release);
    ring.rx.kick(o, cpu);
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
            let cpu = ring.publishing(o, CONSUMER);
            ring.hwcur.store(head, Ordering::Release);
            released = head;
            // SoftBinding::rxsync: the pipe peer may have room again.
            ring.tx.kick(o, cpu);
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
        ring.rx.arm(o, &ring.cpu[PRODUCER]);
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
    run(3, 4, false, ENGINE, 2);
}

/// Pipe crossover into a 2-slot ring (room for 1): every frame arrives,
/// producer and consumer take turns through each other's wake-ups.
#[test]
fn pipe_backpressure_and_wakeups() {
    run(2, 4, true, ENGINE, 2);
}

/// The same two with the fence fallback (membarrier registration refused).
#[test]
fn fence_fallback_delivery_and_wakeups() {
    let fences = Orderings {
        wake: Barriers::Fences,
        ..ENGINE
    };
    run(3, 4, false, fences, 3);
    run(2, 4, true, fences, 3);
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
            wake: Barriers::None,
            ..ENGINE
        },
        2,
    );
}

/// Negative control: a publisher without its fence (as when registered)
/// and a sleeper that fences but runs no membarrier lose a wake-up: the
/// membarrier is what stands for the publisher's fence.
#[test]
#[should_panic(expected = "deadlock")]
fn wakeup_without_membarrier_is_lost() {
    run(
        3,
        2,
        false,
        Orderings {
            wake: Barriers::ArmFenceOnly,
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
