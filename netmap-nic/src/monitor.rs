//! NIC monitors (`netmap:IFNAME/r`, `/t`, `/rt`) over AF_PACKET.
//!
//! A NIC port's rings live in the memory of the process that opened it,
//! so a monitor in another process cannot copy from them as the software
//! engine's monitors do. It watches the interface instead, where every
//! frame of the port passes: one AF_PACKET socket that also sees the
//! host's outgoing frames (`PACKET_IGNORE_OUTGOING` off), in promiscuous
//! mode as the port is. Its one RX ring gets what the interface receives
//! (`/r`) and what it transmits (`/t`, flagged `NS_TXMON`). What the
//! monitor's socket queue cannot hold the kernel drops and counts; the
//! binding reports it as `rx_dropped`. Frames the port sends over AF_XDP
//! bypass the packet sockets: monitor such a port with `NETMAP_RS_NIC=packet`.
//!
//! Zero-copy monitors (`/z`) are refused: the frames cross the kernel,
//! there are no buffers to share.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use netmap_ring::abi::{NS_BUF_CHANGED, NS_TXMON};
use netmap_ring::monitor_memory::MonitorMemory;
use netmap_ring::name::PortName;
use netmap_ring::port::{Binding, BindingLayout, PortError, RingSpec, SyncError};
use netmap_ring::region::NetmapMemory;
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::view::RingView;

use crate::datapath::{PacketIo, Received, Span, MAX_BATCH};
use crate::open::RECEIVE_QUEUE_BYTES;
use crate::sys::{self, PacketSocket};

/// The monitor's ring state: the kernel side of its one RX ring.
struct MonitorRing {
    hwcur: u32,
    hwtail: u32,
    spans: Vec<Span>,
    received: Vec<Received>,
}

/// A NIC monitor bound by this process.
pub struct NicMonitor {
    layout: BindingLayout,
    memory: NetmapMemory,
    socket: PacketSocket,
    ring: RingSpec,
    state: Mutex<MonitorRing>,
    watch_rx: bool,
    watch_tx: bool,
    dropped: AtomicU64,
}

/// Registers the monitor `name` of interface `ifname`.
pub fn register(name: &PortName, ifname: &str) -> Result<Box<dyn Binding>, PortError> {
    let io_err = |source: io::Error| match source.kind() {
        io::ErrorKind::PermissionDenied => PortError::Permission {
            name: name.to_string(),
            why: format!("AF_PACKET sockets need CAP_NET_RAW (run as root): {source}"),
        },
        _ => PortError::Io {
            name: name.to_string(),
            source,
        },
    };
    if name.flags.zero_copy_monitor {
        return Err(PortError::Unsupported {
            name: name.to_string(),
            backend: "soft",
            what: "zero-copy monitors (/z) of interfaces: the frames cross the kernel, \
                   use a copy monitor (/r /t /rt)"
                .into(),
        });
    }
    let ifindex = sys::if_index(ifname).map_err(|e| {
        io_err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no such interface {ifname:?} in this network namespace ({e})"),
        ))
    })?;
    let socket = PacketSocket::open(ifindex, true).map_err(io_err)?;
    socket.see_outgoing().map_err(io_err)?;
    socket.set_receive_buffer(RECEIVE_QUEUE_BYTES);
    socket.add_promiscuous(ifindex).map_err(io_err)?;

    let slots = vale_offload::geometry::PortGeometry::requested(name).rx_slots;
    let MonitorMemory {
        memory,
        ring,
        layout,
    } = MonitorMemory::create(&format!("netmap-rs-nicmon-{ifname}"), name, slots)?;
    Ok(Box::new(NicMonitor {
        layout,
        memory,
        socket,
        ring,
        state: Mutex::new(MonitorRing {
            hwcur: 0,
            hwtail: 0,
            spans: Vec::with_capacity(MAX_BATCH),
            received: Vec::with_capacity(MAX_BATCH),
        }),
        watch_rx: name.flags.monitor_rx,
        watch_tx: name.flags.monitor_tx,
        dropped: AtomicU64::new(0),
    }))
}

impl NicMonitor {
    /// Takes the queued frames into the free slots past `hwtail`, keeping
    /// the watched directions. Returns the new hwtail.
    fn fill(&self, view: &RingView<'_>, st: &mut MonitorRing) -> io::Result<u32> {
        let n = self.ring.num_slots;
        let buf_size = self.memory.buf_size() as usize;
        let mut tail = st.hwtail;
        loop {
            let free = ring::distance(tail, ring::prev(st.hwcur, n), n) as usize;
            if free == 0 {
                return Ok(tail);
            }
            st.spans.clear();
            let mut s = tail;
            for _ in 0..free.min(MAX_BATCH) {
                let Some(offset) = self.memory.buf_offset(view.slot(s).buf_idx) else {
                    // The application wrote a bad buffer index: stop here.
                    break;
                };
                st.spans.push(Span {
                    offset,
                    len: buf_size,
                });
                s = ring::next(s, n);
            }
            if st.spans.is_empty() {
                return Ok(tail);
            }
            let (spans, received) = (&st.spans, &mut st.received);
            self.socket.recv(self.memory.region(), spans, received)?;
            let got = received.len();
            // Slot `tail + i` holds frame i; the kept ones move down to
            // `tail`, their buffers swapped with the skipped frames' slots.
            let mut from = tail;
            for r in received.iter() {
                let keep = if r.outgoing {
                    self.watch_tx
                } else {
                    self.watch_rx
                };
                if keep {
                    if from != tail {
                        let (a, b) = (view.slot(tail), view.slot(from));
                        view.set_buf_idx(tail, b.buf_idx);
                        view.set_buf_idx(from, a.buf_idx);
                    }
                    let flags = if r.outgoing { NS_TXMON } else { 0 } | NS_BUF_CHANGED;
                    view.set_len_flags(tail, r.len.min(buf_size) as u16, flags);
                    tail = ring::next(tail, n);
                }
                from = ring::next(from, n);
            }
            if got < spans.len() {
                return Ok(tail);
            }
        }
    }
}

impl Binding for NicMonitor {
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
        let n = self.ring.num_slots;
        let view = RingView::new(&self.layout.region, self.ring.offset, n)
            .map_err(|e| SyncError::Gone(e.to_string()))?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (head, cur) = (view.head(), view.cur());
        if let Err(source) = check_head_cur(n, st.hwcur, st.hwtail, head, cur) {
            view.set_head(st.hwcur);
            view.set_cur(st.hwcur);
            view.set_tail(st.hwtail);
            return Err(SyncError::BadRing { ring, source });
        }
        st.hwcur = head;
        let tail = self
            .fill(&view, &mut st)
            .map_err(|e| SyncError::Gone(format!("monitor socket: {e}")))?;
        st.hwtail = tail;
        view.set_tail(tail);
        let drops = self.socket.take_kernel_drops();
        self.dropped.fetch_add(drops, Ordering::Relaxed);
        Ok(())
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        // Readable while frames are queued (level-triggered): nothing to
        // arm or drain.
        self.socket.as_fd()
    }

    fn arm(&self) {}

    fn disarm(&self) {}

    fn rx_dropped(&self) -> Option<u64> {
        Some(self.dropped.load(Ordering::Relaxed))
    }
}
