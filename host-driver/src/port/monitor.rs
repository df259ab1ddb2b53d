//! Monitors of device ports (`PORT/r`, `/t`, `/rt`), in the driver's
//! view: a monitor opened in the process that holds the monitored port,
//! through the same backend, gets copies of what that port's syncs see:
//! the slots its txsync hands to the device (`/t`, flagged `NS_TXMON`)
//! and the slots its rxsync publishes (`/r`). A port of another process
//! is that process's driver's to watch; asking for one is "no such port".
//!
//! The board itself could mirror frames in hardware (a mirror bit per
//! port entry making the delivery stage write a second copy into a
//! monitor's RX ring, as it floods); the RTL has no such stage yet, so the
//! copies are the host's. A copy never blocks the port: a full monitor
//! ring drops the frame and counts it (`rx_dropped`). When the monitored
//! port closes, its monitors hand over what they hold, then fail with
//! `SyncError::Gone`.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use netmap_ring::abi::{NS_MOREFRAG, NS_TXMON};
use netmap_ring::monitor_memory::MonitorMemory;
use netmap_ring::name::PortName;
use netmap_ring::port::{Binding, BindingLayout, PortError, RingSpec, SyncError};
use netmap_ring::region::NetmapMemory;
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::view::RingView;

use crate::eventfd::EventFd;

/// The monitors of one backend, by monitored entry.
#[derive(Default)]
pub(crate) struct Monitors {
    /// Monitors alive: the syncs skip the list when none is.
    count: AtomicUsize,
    list: Mutex<Vec<(u32, Weak<Sink>)>>,
}

/// A monitor's ring, filled by the monitored port's syncs.
pub(crate) struct Sink {
    memory: NetmapMemory,
    ring: RingSpec,
    /// The kernel side of the ring: (hwcur, hwtail).
    indexes: Mutex<(u32, u32)>,
    notifier: EventFd,
    watch_rx: bool,
    watch_tx: bool,
    dropped: AtomicU64,
    closed: AtomicBool,
}

impl Monitors {
    /// Copies the frames in slots `from..to` of `view` (a ring of entry
    /// `entry`, buffers in `layout`) to the monitors watching that
    /// direction. One load when no monitor exists.
    #[inline]
    pub(crate) fn copy(
        &self,
        entry: u32,
        tx: bool,
        layout: &BindingLayout,
        view: &RingView<'_>,
        from: u32,
        to: u32,
    ) {
        if self.count.load(Ordering::Relaxed) == 0 || from == to {
            return;
        }
        let list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        for (watched, sink) in list.iter() {
            let Some(sink) = sink.upgrade().filter(|_| *watched == entry) else {
                continue;
            };
            if (tx && sink.watch_tx) || (!tx && sink.watch_rx) {
                sink.push(layout, view, from, to, tx);
            }
        }
    }

    /// Entry `entry` closed: its monitors end.
    pub(crate) fn port_closed(&self, entry: u32) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(watched, sink)| {
            if *watched != entry {
                return true;
            }
            if let Some(sink) = sink.upgrade() {
                sink.closed.store(true, Ordering::Release);
                let _ = sink.notifier.signal();
            }
            false
        });
    }

    fn add(&self, entry: u32, sink: &Arc<Sink>) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(_, s)| s.strong_count() > 0);
        list.push((entry, Arc::downgrade(sink)));
        self.count.store(list.len(), Ordering::Relaxed);
    }

    fn remove(&self, sink: &Arc<Sink>) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(_, s)| s.strong_count() > 0 && !std::ptr::eq(s.as_ptr(), Arc::as_ptr(sink)));
        self.count.store(list.len(), Ordering::Relaxed);
    }
}

impl Sink {
    /// Copies frames `from..to` of `src` into the ring; what does not fit
    /// is dropped and counted.
    fn push(&self, layout: &BindingLayout, src: &RingView<'_>, from: u32, to: u32, tx: bool) {
        let region = self.memory.region();
        let n = self.ring.num_slots;
        let Ok(dst) = RingView::new(region, self.ring.offset, n) else {
            return;
        };
        let buf_size = self.memory.buf_size() as usize;
        let mark = if tx { NS_TXMON } else { 0 };
        let mut indexes = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
        let (hwcur, mut hwtail) = *indexes;
        let sn = src.num_slots();
        let mut scratch = vec![0u8; buf_size];
        let (mut copied, mut dropped) = (0u32, 0u64);
        let mut i = from;
        while i != to {
            let slot = src.slot(i);
            i = ring::next(i, sn);
            if ring::next(hwtail, n) == hwcur {
                dropped += 1;
                continue;
            }
            let len = usize::from(slot.len).min(buf_size);
            let (Some(from_off), Some(to_off)) = (
                layout.buffers.offset(slot.buf_idx),
                self.memory.buf_offset(dst.slot(hwtail).buf_idx),
            ) else {
                dropped += 1;
                continue;
            };
            if layout
                .region
                .read_bytes(from_off, &mut scratch[..len])
                .is_err()
                || region.write_bytes(to_off, &scratch[..len]).is_err()
            {
                dropped += 1;
                continue;
            }
            dst.set_len_flags(hwtail, len as u16, (slot.flags & NS_MOREFRAG) | mark);
            hwtail = ring::next(hwtail, n);
            copied += 1;
        }
        indexes.1 = hwtail;
        drop(indexes);
        self.dropped.fetch_add(dropped, Ordering::Relaxed);
        if copied > 0 {
            let _ = self.notifier.signal();
        }
    }
}

/// A monitor bound by this process.
pub(crate) struct MonitorBinding {
    sink: Arc<Sink>,
    monitors: Arc<Monitors>,
    layout: BindingLayout,
}

/// Registers the monitor `name` of open entry `entry`.
pub(crate) fn register(
    monitors: &Arc<Monitors>,
    name: &PortName,
    entry: u32,
    slots: u32,
) -> Result<Box<dyn Binding>, PortError> {
    let MonitorMemory {
        memory,
        ring,
        layout,
    } = MonitorMemory::create("netmap-rs-devmon", name, slots)?;
    let notifier = EventFd::new().map_err(|source| PortError::Io {
        name: name.to_string(),
        source,
    })?;
    let sink = Arc::new(Sink {
        memory,
        ring,
        indexes: Mutex::new((0, 0)),
        notifier,
        watch_rx: name.flags.monitor_rx,
        watch_tx: name.flags.monitor_tx,
        dropped: AtomicU64::new(0),
        closed: AtomicBool::new(false),
    });
    monitors.add(entry, &sink);
    Ok(Box::new(MonitorBinding {
        sink,
        monitors: Arc::clone(monitors),
        layout,
    }))
}

impl Binding for MonitorBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        // netmap's monitors refuse transmission.
        Err(SyncError::NoSuchRing { ring })
    }

    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        if ring != 0 {
            return Err(SyncError::NoSuchRing { ring });
        }
        let s = &self.sink;
        let n = s.ring.num_slots;
        let view = RingView::new(s.memory.region(), s.ring.offset, n)
            .map_err(|e| SyncError::Gone(e.to_string()))?;
        let mut indexes = s.indexes.lock().unwrap_or_else(|p| p.into_inner());
        let (hwcur, hwtail) = *indexes;
        let (head, cur) = (view.head(), view.cur());
        if let Err(source) = check_head_cur(n, hwcur, hwtail, head, cur) {
            view.set_head(hwcur);
            view.set_cur(hwcur);
            view.set_tail(hwtail);
            return Err(SyncError::BadRing { ring, source });
        }
        indexes.0 = head;
        view.set_tail(hwtail);
        if head == hwtail && s.closed.load(Ordering::Acquire) {
            return Err(SyncError::Gone("the monitored port was closed".into()));
        }
        Ok(())
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.sink.notifier.as_fd()
    }

    fn arm(&self) {}

    fn disarm(&self) {
        let _ = self.sink.notifier.drain();
    }

    fn rx_dropped(&self) -> Option<u64> {
        Some(self.sink.dropped.load(Ordering::Relaxed))
    }
}

impl Drop for MonitorBinding {
    fn drop(&mut self) {
        self.monitors.remove(&self.sink);
    }
}
