//! VALE forwarding, done in the sender's txsync as netmap's kernel does,
//! and the RX sync shared by VALE ports and pipe ends.
//!
//! A txsync takes the slots the application released (`hwcur..head`) in
//! stages, each a pass over the batch: validate every frame and hash its
//! addresses (`collect`), decide every destination in order (`collect`:
//! learn, look up), group the frames per destination (`batch`), then
//! deliver (`deliver`): for each destination ring, under that ring's lock
//! taken once per batch, copy its frames in order into free RX slots and
//! publish them by moving the ring's `hwtail`. Nothing blocks: a frame
//! that does not fit is dropped and counted. The TX ring is then handed
//! back whole (netmap's VALE completes transmission inside the sync).

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use netmap_ring::abi::NR_TIMESTAMP;
use netmap_ring::lock::ShmLock;
use netmap_ring::port::SyncError;
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::view::RingView;

use vale_offload::chain::ETH_HEADER_LEN;
use vale_offload::counters::PortCounter;

use crate::batch::Groups;
use crate::collect::{collect_frames, Frame};
use crate::ctrl::{self, binding, kring, Dir, Kring, MAX_BINDINGS};
use crate::deliver::{deliver, Source};
use crate::domain::{Domain, RegionTable};
use vale_offload::table::{ForwardDecision, LearningTable};

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

    /// True when [`Lookup::lookup`] is exactly `table.forward(src, dst,
    /// src_port, learn)` (the learning bridge): the engine then learns and
    /// looks up with the table directly, the addresses hashed once per
    /// batch and the table rows prefetched.
    fn decides_by_table_alone(&self) -> bool {
        false
    }
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

    fn decides_by_table_alone(&self) -> bool {
        true
    }
}

thread_local! {
    /// The batch being forwarded and its grouping, reused sync after sync.
    static BATCH: RefCell<(Vec<Frame>, Groups)> = const { RefCell::new((Vec::new(), Groups::new())) };
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
#[inline]
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
    // Orders our publication (hwtail/hwcur stores) before reading the
    // wake flag, against the waiter's store of the flag before it re-reads
    // the ring (Dekker): one of us sees the other. The waiter pays for it
    // (`wake::heavy`, a membarrier); here it is a compiler fence when this
    // process is registered for that (`wake`), a SeqCst fence otherwise.
    crate::wake::light();
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
    BATCH.with_borrow_mut(|(frames, groups)| {
        // Validate and decide, group per destination, deliver.
        let collected = collect_frames(
            domain,
            &view,
            &entry,
            src as u8,
            (hwcur, head),
            &*lookup,
            frames,
        );
        let frames = &frames[..collected.kept];
        match collected.one_dst {
            Some(dst) => groups.build_one(dst, frames.len() as u32),
            None => groups.build(frames.iter().map(|f| f.dst)),
        }
        let source = Source {
            view: &view,
            entry: &entry,
            port: src,
            ring_id,
        };
        deliver(
            domain,
            &source,
            frames,
            (frames.len() as u64, collected.bytes),
            groups,
        );
        let new_hwcur = collected.hwcur;
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
    if is_idle(&view, &k, n) {
        stamp_if_asked(&view);
        return Ok(false);
    }
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

/// True when an rxsync of RX kring `k` (ring `view`) would change
/// nothing: no slot released (`head == hwcur`), a valid `cur`, nothing
/// delivered since the last report and the ring's `tail` as reported.
/// Such a sync is answered without the sync lock, by loads alone: a
/// receiver polling an empty ring then writes none of the kring's lines
/// (the lock word shares the owner's line with `hwcur`, which every
/// sender loads at every batch), as the plain ring's consumer writes
/// nothing while it waits. A sync racing another thread's on the same
/// ring reads a state that sync had before or after; it stores nothing
/// either way, and anything else takes the lock.
#[inline]
fn is_idle(view: &RingView<'_>, k: &Kring<'_>, n: u32) -> bool {
    let hwcur = k.field(kring::HWCUR).load(Ordering::Acquire);
    let reported = k.field(kring::REPORTED_TAIL).load(Ordering::Acquire);
    let head = view.head();
    head == hwcur
        && check_head_cur(n, hwcur, reported, head, view.cur()).is_ok()
        // Acquire: pairs with the sender's Release store of hwtail, as
        // in the locked path.
        && k.field(kring::HWTAIL).load(Ordering::Acquire) == reported
        && view.tail() == reported
}
