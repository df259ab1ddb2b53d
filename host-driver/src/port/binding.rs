//! One registered device port: txsync, rxsync and the need-kick protocol
//! over the status blocks (`docs/datapath.md`), with netmap's rules: the
//! application's `head`/`cur` are checked (`ring::check_head_cur`) before
//! use, `tail` changes only here, and values the device wrote are
//! validated before they reach the ring.
//!
//! Per batch: TX costs one doorbell (a posted BAR0 write) plus 16 bytes of
//! posted BAR2 writes per new slot; RX costs nothing on the link (the head
//! goes to the status block in host memory; pipes, being lossless, add one
//! RX doorbell so a sender waiting for room resumes). No MMIO reads: pipe
//! crossover DMA-writes the swapped TX slots into the application's TX
//! ring before it publishes the TX status, so they are there when the
//! status says they are done.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use netmap_ring::abi::{RING_HEADER_SIZE, SLOT_SIZE};
use netmap_ring::port::{Binding, BindingLayout, RingSpec, SyncError};
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::view::RingView;
use vale_offload::placement::PortKind;
use vale_offload::regmap as map;

use super::pair::PairRegion;
use super::Shared;
use crate::eventfd::EventFd;

/// A pipe end's link to its pair: the entry the other end has now (in the
/// pair's header) against the one programmed as this entry's peer.
pub(crate) struct PipeLink {
    pair: Arc<PairRegion>,
    other_end: usize,
    programmed_peer: AtomicU32,
}

impl PipeLink {
    pub(crate) fn new(pair: Arc<PairRegion>, other_end: usize, peer: u32) -> Self {
        Self {
            pair,
            other_end,
            programmed_peer: AtomicU32::new(peer),
        }
    }
}

/// The kernel-side copy of one ring's indexes (netmap's kring).
#[derive(Clone, Copy, Debug, Default)]
struct Kring {
    /// The head accepted at the last sync (TX: handed to the device).
    hwcur: u32,
    /// The tail exposed at the last sync.
    hwtail: u32,
    /// TX: slots before this one are completed by the device (its hwcur).
    done: u32,
}

pub(crate) struct DeviceBinding {
    shared: Arc<Shared>,
    entry: u32,
    kind: PortKind,
    layout: BindingLayout,
    /// Region offset of this port's status blocks.
    status_base: usize,
    tx: Mutex<Vec<Kring>>,
    rx: Mutex<Vec<Kring>>,
    notifier: Arc<EventFd>,
    pipe: Option<PipeLink>,
}

impl DeviceBinding {
    pub(crate) fn new(
        shared: Arc<Shared>,
        entry: u32,
        kind: PortKind,
        layout: BindingLayout,
        status_base: usize,
        notifier: Arc<EventFd>,
        pipe: Option<PipeLink>,
    ) -> Self {
        let tx = layout
            .tx_rings
            .iter()
            .map(|spec| Kring {
                hwcur: 0,
                hwtail: spec.num_slots - 1,
                done: 0,
            })
            .collect();
        let rx = vec![Kring::default(); layout.rx_rings.len()];
        Self {
            shared,
            entry,
            kind,
            layout,
            status_base,
            tx: Mutex::new(tx),
            rx: Mutex::new(rx),
            notifier,
            pipe,
        }
    }

    /// A pipe end whose other end (re)opened on another entry than the
    /// one this entry names (another process took the reserved one)
    /// names the new one, then rings its TX doorbells so frames held
    /// meanwhile cross. One load from shared memory when nothing changed.
    fn repair_pipe(&self) -> Result<(), SyncError> {
        let Some(link) = &self.pipe else {
            return Ok(());
        };
        let want = link.pair.entry(link.other_end);
        if want == link.programmed_peer.load(Ordering::Relaxed) {
            return Ok(());
        }
        let gone = |e: crate::device::DeviceError| SyncError::Gone(e.to_string());
        let krings = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.shared.lock();
        let reg = state.info.ports.register(self.entry, map::PORT_PIPE_PEER);
        state.dev.bar0_write(reg, want).map_err(gone)?;
        link.programmed_peer.store(want, Ordering::Relaxed);
        for (spec, kr) in self.layout.tx_rings.iter().zip(krings.iter()) {
            state
                .dev
                .ring_doorbell(map::tx_doorbell(self.entry, spec.id), kr.hwcur)
                .map_err(gone)?;
        }
        Ok(())
    }

    fn view(&self, spec: &RingSpec) -> RingView<'_> {
        RingView::new(&self.layout.region, spec.offset, spec.num_slots)
            .expect("rings were laid out inside the region")
    }

    /// Region offset of the status entry of a ring.
    fn status(&self, rx: bool, ring: u32, field: u32) -> usize {
        let entry = if rx {
            map::rx_status_offset(ring)
        } else {
            map::tx_status_offset(ring)
        };
        self.status_base + entry as usize + field as usize
    }

    fn load(&self, offset: usize) -> u32 {
        // Acquire: pairs with the device's write of the slots before it
        // published the index (a DMA write ordered before the status write).
        self.layout
            .region
            .atomic_u32(offset)
            .map(|a| a.load(Ordering::Acquire))
            .unwrap_or(u32::MAX)
    }

    fn store(&self, offset: usize, value: u32) {
        // Release: the slots the application released are visible before
        // the device reads the new head.
        if let Ok(a) = self.layout.region.atomic_u32(offset) {
            a.store(value, Ordering::Release);
        }
    }

    fn bad_ring(ring: u32, view: &RingView<'_>, kr: &Kring, source: ring::RingError) -> SyncError {
        // As netmap: put the ring back to the kernel's view.
        view.set_head(kr.hwcur);
        view.set_cur(kr.hwcur);
        view.set_tail(kr.hwtail);
        SyncError::BadRing { ring, source }
    }

    /// The start of every sync: the pipe's pairing repaired if needed, the
    /// ring's view and its kring (locked), with the application's head and
    /// cur checked against the kring.
    fn begin_sync(&self, rx: bool, ring: u32) -> Result<SyncStart<'_>, SyncError> {
        // A device found gone fails every sync.
        if let Some(why) = self.shared.liveness.gone() {
            return Err(SyncError::Gone(why.to_owned()));
        }
        self.repair_pipe()?;
        let (specs, krings) = if rx {
            (&self.layout.rx_rings, &self.rx)
        } else {
            (&self.layout.tx_rings, &self.tx)
        };
        let at = specs
            .iter()
            .position(|s| s.id == ring)
            .ok_or(SyncError::NoSuchRing { ring })?;
        let view = self.view(&specs[at]);
        let krings = krings.lock().unwrap_or_else(|p| p.into_inner());
        let kr = &krings[at];
        let (head, cur) = (view.head(), view.cur());
        if let Err(e) = check_head_cur(view.num_slots(), kr.hwcur, kr.hwtail, head, cur) {
            return Err(Self::bad_ring(ring, &view, kr, e));
        }
        Ok(SyncStart {
            view,
            krings,
            at,
            head,
        })
    }

    /// Asks the device for (1) or waives (0) a notification on every bound ring.
    fn set_need_kick(&self, value: u32) {
        for spec in &self.layout.rx_rings {
            self.store(self.status(true, spec.id, map::ST_NEED_KICK), value);
        }
        for spec in &self.layout.tx_rings {
            self.store(self.status(false, spec.id, map::ST_NEED_KICK), value);
        }
    }
}

/// What [`DeviceBinding::begin_sync`] hands the sync that follows.
struct SyncStart<'a> {
    view: RingView<'a>,
    krings: std::sync::MutexGuard<'a, Vec<Kring>>,
    /// Index of the ring's kring in `krings`.
    at: usize,
    /// The application's head, already checked.
    head: u32,
}

/// Copies slots `[from, to)` of `view` (wrapping) into the BAR2 ring at
/// `bar2_ring`: at most two posted bursts.
fn push_slots(
    dev: &mut dyn crate::device::Device,
    view: &RingView<'_>,
    bar2_ring: u64,
    from: u32,
    to: u32,
) -> Result<(), crate::device::DeviceError> {
    let n = view.num_slots();
    let runs = if from <= to {
        [(from, to), (0, 0)]
    } else {
        [(from, n), (0, to)]
    };
    for (start, end) in runs {
        if start == end {
            continue;
        }
        let mut bytes = vec![0u8; (end - start) as usize * SLOT_SIZE];
        let off = view.offset() + RING_HEADER_SIZE + start as usize * SLOT_SIZE;
        view.region().read_bytes(off, &mut bytes)?;
        let at = bar2_ring + (RING_HEADER_SIZE + start as usize * SLOT_SIZE) as u64;
        dev.bar2_write(at, &bytes)?;
    }
    Ok(())
}

impl Binding for DeviceBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        let SyncStart {
            view,
            mut krings,
            at,
            head,
        } = self.begin_sync(false, ring)?;
        let n = view.num_slots();
        let kr = &mut krings[at];
        let status_cur = self.status(false, ring, map::ST_HWCUR);
        let status_tail = self.status(false, ring, map::ST_HWTAIL);
        let mut state = self.shared.lock();
        let state = &mut *state;
        let bar2_ring = state.layout.bar2_ring_off(self.entry, ring, n);
        let gone = |e: crate::device::DeviceError| SyncError::Gone(e.to_string());
        if head != kr.hwcur {
            self.shared
                .monitors
                .copy(self.entry, true, &self.layout, &view, kr.hwcur, head);
            push_slots(state.dev.as_mut(), &view, bar2_ring, kr.hwcur, head).map_err(gone)?;
            state
                .dev
                .ring_doorbell(map::tx_doorbell(self.entry, ring), head)
                .map_err(gone)?;
            kr.hwcur = head;
        }
        // The device's progress, validated: its hwcur moves from `done`
        // towards our head, its tail stays behind its hwcur.
        let dev_cur = self.load(status_cur);
        let dev_tail = self.load(status_tail);
        let cur_ok = dev_cur < n && ring::between(kr.done, dev_cur, kr.hwcur, n);
        if cur_ok {
            // Pipes: the completed slots already hold the swapped buffers
            // (written by the device before this status; Acquire above).
            kr.done = dev_cur;
            // The tail only moves forward, and never past the slot before
            // the first one the device has not completed.
            let limit = ring::prev(dev_cur, n);
            if dev_tail < n && ring::between(kr.hwtail, dev_tail, limit, n) {
                kr.hwtail = dev_tail;
            }
        }
        view.set_tail(kr.hwtail);
        Ok(())
    }

    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        let SyncStart {
            view,
            mut krings,
            at,
            head,
        } = self.begin_sync(true, ring)?;
        let n = view.num_slots();
        let kr = &mut krings[at];
        if head != kr.hwcur {
            self.store(self.status(true, ring, map::ST_HEAD), head);
            kr.hwcur = head;
            if self.kind != PortKind::Vale {
                let mut state = self.shared.lock();
                state
                    .dev
                    .ring_doorbell(
                        map::rx_doorbell(self.entry),
                        map::rx_doorbell_value(ring, head),
                    )
                    .map_err(|e| SyncError::Gone(e.to_string()))?;
            }
        }
        // New slots run from our tail towards our head (one kept empty).
        let dev_tail = self.load(self.status(true, ring, map::ST_HWTAIL));
        if dev_tail < n && ring::between(kr.hwtail, dev_tail, ring::prev(kr.hwcur, n), n) {
            self.shared
                .monitors
                .copy(self.entry, false, &self.layout, &view, kr.hwtail, dev_tail);
            kr.hwtail = dev_tail;
        }
        view.set_tail(kr.hwtail);
        Ok(())
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.notifier.as_fd()
    }

    fn arm(&self) {
        self.set_need_kick(1);
    }

    fn disarm(&self) {
        self.set_need_kick(0);
        let _ = self.notifier.drain();
    }
}

impl Drop for DeviceBinding {
    fn drop(&mut self) {
        self.shared.monitors.port_closed(self.entry);
        let mut state = self.shared.lock();
        state.close(self.entry, &self.layout);
    }
}
