//! NIC ports (`netmap:IFNAME`) in the software backend, over AF_XDP or
//! AF_PACKET.
//!
//! A NIC port gets its own netmap memory (a memfd): one netmap_if, its
//! rings and their buffers. With AF_PACKET, ring `i` has its own socket
//! bound to the interface; with more than one RX ring the sockets join a
//! fanout group that hashes flows over them, as RSS spreads them over a
//! NIC's queues. `recvmmsg` and `sendmmsg` move frames straight between the
//! sockets and the ring buffers (one copy each way, done by the kernel).
//! With AF_XDP (one ring pair, an interface with one RX queue), the
//! buffer pool is the socket's UMEM and frames move as buffer addresses.
//! Host rings (`netmap:IF^`, `^0`, `*`) are served by a TAP interface
//! that takes over the NIC's addresses while the port is open
//! (`hostaddr.rs`); `NS_FORWARD` slots released on an RX ring with
//! `NR_FORWARD` cross to the other side at that rxsync.
//! The port's pollable descriptor is an epoll set over its sockets. See
//! `docs/nic.md` for the choices and their cost.

mod afxdp;
pub mod bare;
mod counters;
mod csum;
mod datapath;
mod hostaddr;
mod monitor;
mod open;
mod sys;
mod tap;
mod transparent;
mod xdp_prog;
mod xdp_sys;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use netmap_ring::name::PortName;
use netmap_ring::port::{Binding, BindingLayout, PortError, RingSpec, SyncError};
use netmap_ring::region::NetmapMemory;
use netmap_ring::shm::SharedRegion;
use netmap_ring::view::RingView;

pub use counters::{counters, NicCounter, NicCounters, NicEngine};
pub use datapath::{PacketIo, Received, Span};
pub use hostaddr::restore_orphans as restore_host_addresses;
pub use open::register_with;

use counters::Counters;
use datapath::{RingState, SyncContext};
use sys::{EpollSet, PacketSocket};
use xdp_sys::{XdpRedirect, XskSocket};

/// The index of interface `name` in the calling thread's network
/// namespace (`NotFound` when there is none).
pub fn interface_index(name: &str) -> io::Result<u32> {
    sys::if_index(name)
}

/// A backend that serves NIC names only, with a chosen engine (the soft
/// backend uses [`NicEngine::Auto`], or `NETMAP_RS_NIC=packet|xdp`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NicBackend {
    pub engine: NicEngine,
}

impl netmap_ring::port::Backend for NicBackend {
    fn kind(&self) -> &'static str {
        "soft"
    }

    fn register(&self, name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError> {
        register_with(name, extra_bufs, self.engine)
    }
}

/// The engine the environment asks for (`NETMAP_RS_NIC`).
fn engine_from_env() -> NicEngine {
    match std::env::var("NETMAP_RS_NIC").as_deref() {
        Ok("packet") => NicEngine::Packet,
        Ok("xdp") => NicEngine::Xdp,
        _ => NicEngine::Auto,
    }
}

/// One queue of the AF_XDP side: its socket and the ring pair it serves
/// (ring `i` is queue `i`).
struct XdpQueue {
    socket: XskSocket,
    tx: (RingSpec, Mutex<afxdp::XdpTxState>),
    rx: (RingSpec, Mutex<afxdp::XdpRxState>),
    tx_blocked: AtomicBool,
    out_armed: AtomicBool,
}

/// The AF_XDP side of a port: one socket per queue, all sharing the
/// port's buffer pool as their UMEM (the first registers it, the others
/// bind with `XDP_SHARED_UMEM`), and the program that steers each queue
/// to its socket.
struct XdpEngine {
    queues: Vec<XdpQueue>,
    _redirect: XdpRedirect,
}

impl XdpEngine {
    fn queue_of_tx(&self, ring: u32) -> Option<&XdpQueue> {
        self.queues.iter().find(|q| q.tx.0.id == ring)
    }

    fn queue_of_rx(&self, ring: u32) -> Option<&XdpQueue> {
        self.queues.iter().find(|q| q.rx.0.id == ring)
    }
}

/// One bound ring and the socket that serves it.
struct NicRing {
    spec: RingSpec,
    socket: usize,
    state: Mutex<RingState>,
}

/// What serves a ring: an AF_PACKET socket on the NIC, or the TAP of
/// the host rings.
#[derive(Debug)]
enum Endpoint {
    Packet(PacketSocket),
    Tap(tap::Tap),
}

impl Endpoint {
    fn packet(&self) -> Option<&PacketSocket> {
        match self {
            Endpoint::Packet(socket) => Some(socket),
            Endpoint::Tap(_) => None,
        }
    }
}

impl AsFd for Endpoint {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Endpoint::Packet(socket) => socket.as_fd(),
            Endpoint::Tap(tap) => tap.as_fd(),
        }
    }
}

impl PacketIo for Endpoint {
    fn send(
        &self,
        region: &SharedRegion,
        spans: &[Span],
        frame_spans: &[usize],
    ) -> io::Result<usize> {
        match self {
            Endpoint::Packet(socket) => socket.send(region, spans, frame_spans),
            Endpoint::Tap(tap) => tap.send(region, spans, frame_spans),
        }
    }

    fn recv(
        &self,
        region: &SharedRegion,
        buffers: &[Span],
        out: &mut Vec<Received>,
    ) -> io::Result<()> {
        match self {
            Endpoint::Packet(socket) => socket.recv(region, buffers, out),
            Endpoint::Tap(tap) => tap.recv(region, buffers, out),
        }
    }

    fn take_kernel_drops(&self) -> u64 {
        match self {
            Endpoint::Packet(socket) => socket.take_kernel_drops(),
            Endpoint::Tap(_) => 0,
        }
    }
}

/// One of the port's sockets and what epoll watches it for.
struct SocketEntry {
    socket: Endpoint,
    receives: bool,
    /// A TX ring of this socket found it full at its last sync.
    tx_blocked: AtomicBool,
    /// `arm` added writability to the epoll set.
    out_armed: AtomicBool,
}

/// A NIC port bound by this process.
pub struct NicBinding {
    /// First, so that the AF_XDP socket closes (and unpins the buffer
    /// pool) before anything else goes.
    xdp: Option<XdpEngine>,
    layout: BindingLayout,
    memory: NetmapMemory,
    counters: Counters,
    sockets: Vec<SocketEntry>,
    tx: Vec<NicRing>,
    rx: Vec<NicRing>,
    epoll: EpollSet,
    /// Who is armed, and whether the sockets are in `epoll` (see `arm`).
    armed: Mutex<ArmState>,
    /// Syncs since the last arm: a port that syncs this much without
    /// arming is a busy poller, and its sockets leave `epoll`.
    syncs_unarmed: AtomicU32,
    /// Ids of the host TX and RX rings, when the port has them.
    host_ring_ids: Option<(u32, u32)>,
    /// The TAP's entry in `sockets`.
    tap: Option<usize>,
    /// Last: the addresses go back to the NIC after the TAP is gone.
    _host_move: Option<hostaddr::HostMove>,
}

/// The port's arming, behind one lock.
#[derive(Debug, Default)]
struct ArmState {
    /// Callers between [`Binding::arm`] and [`Binding::disarm`].
    callers: u32,
    /// The sockets are in the epoll set.
    in_set: bool,
}

/// Unarmed syncs after which the sockets leave the epoll set: more than
/// a `Port::poll` spins between two sleeps (50 us of syncs), so that an
/// application that sleeps often keeps them there and pays no
/// `epoll_ctl` per sleep, while a busy poller sheds them soon.
const UNARMED_SYNCS_TO_LEAVE: u32 = 4096;

/// The epoll key of AF_XDP queue `queue` (apart from the sockets' keys).
fn xdp_key(queue: usize) -> u64 {
    u64::MAX - queue as u64
}

/// Registers `netmap:IFNAME` (no pipe) on the software backend, with the
/// engine `NETMAP_RS_NIC` names (AF_XDP where possible by default).
pub fn register(name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError> {
    register_with(name, extra_bufs, engine_from_env())
}

impl NicBinding {
    fn context(&self) -> SyncContext<'_> {
        SyncContext {
            memory: &self.memory,
            counters: &self.counters,
        }
    }

    fn view(&self, ring: &NicRing) -> Result<RingView<'_>, SyncError> {
        RingView::new(&self.layout.region, ring.spec.offset, ring.spec.num_slots)
            .map_err(|e| SyncError::Gone(e.to_string()))
    }

    /// Where `NS_FORWARD` frames released on RX ring `ring` go: the TAP
    /// for a NIC ring, the NIC for the host ring (with host rings bound).
    fn forward_peer(&self, ring: u32) -> Option<&dyn PacketIo> {
        let (_, host_rx) = self.host_ring_ids?;
        if ring == host_rx {
            let socket = self.sockets.iter().find_map(|e| e.socket.packet())?;
            Some(socket)
        } else {
            Some(&self.sockets[self.tap?].socket)
        }
    }

    /// What the epoll set watches while the port is armed: each AF_XDP
    /// socket, else each AF_PACKET socket; the host rings' TAP in both
    /// cases. Each with its key, whether it receives, and its TX state.
    fn watched(
        &self,
    ) -> impl Iterator<Item = (BorrowedFd<'_>, u64, bool, &AtomicBool, &AtomicBool)> {
        let xdp = self.xdp.iter().flat_map(|x| x.queues.iter().enumerate());
        let xdp = xdp.map(|(key, x)| {
            let fd = x.socket.as_fd();
            (fd, xdp_key(key), true, &x.tx_blocked, &x.out_armed)
        });
        let sockets = self
            .sockets
            .iter()
            .enumerate()
            .filter(|(key, _)| self.xdp.is_none() || self.tap == Some(*key));
        let sockets = sockets.map(|(key, e)| {
            let fd = e.socket.as_fd();
            (fd, key as u64, e.receives, &e.tx_blocked, &e.out_armed)
        });
        xdp.chain(sockets)
    }

    /// Counts a sync; the sockets leave the epoll set when the port has
    /// synced long enough without arming (see `arm`).
    fn note_sync(&self) {
        if self.syncs_unarmed.fetch_add(1, Ordering::Relaxed) != UNARMED_SYNCS_TO_LEAVE {
            return;
        }
        let mut state = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if state.callers == 0 && state.in_set {
            state.in_set = false;
            for (fd, _, _, _, out_armed) in self.watched() {
                out_armed.store(false, Ordering::Relaxed);
                let _ = self.epoll.remove(fd);
            }
        }
    }

    /// The port's counters now.
    pub fn counters(&self) -> NicCounters {
        self.counters.snapshot()
    }
}

impl Binding for NicBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        self.note_sync();
        if let Some(x) = self.xdp.as_ref().and_then(|x| x.queue_of_tx(ring)) {
            let (spec, state) = &x.tx;
            let view = RingView::new(&self.layout.region, spec.offset, spec.num_slots)
                .map_err(|e| SyncError::Gone(e.to_string()))?;
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            let blocked = afxdp::txsync(&view, &mut state, &self.context(), ring, &x.socket)?;
            x.tx_blocked.store(blocked, Ordering::Relaxed);
            return Ok(());
        }
        let nic_ring = self
            .tx
            .iter()
            .find(|r| r.spec.id == ring)
            .ok_or(SyncError::NoSuchRing { ring })?;
        let view = self.view(nic_ring)?;
        let entry = &self.sockets[nic_ring.socket];
        let mut state = nic_ring.state.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = datapath::txsync(&view, &mut state, &self.context(), ring, &entry.socket)?;
        entry.tx_blocked.store(outcome.blocked, Ordering::Relaxed);
        Ok(())
    }

    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        self.note_sync();
        let peer = self.forward_peer(ring);
        if let Some(x) = self.xdp.as_ref().and_then(|x| x.queue_of_rx(ring)) {
            let (spec, state) = &x.rx;
            let view = RingView::new(&self.layout.region, spec.offset, spec.num_slots)
                .map_err(|e| SyncError::Gone(e.to_string()))?;
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(peer) = peer {
                let ctx = self.context();
                transparent::forward_released(&view, state.hwcur, state.hwtail, &ctx, peer);
            }
            return afxdp::rxsync(&view, &mut state, &self.context(), ring, &x.socket);
        }
        let nic_ring = self
            .rx
            .iter()
            .find(|r| r.spec.id == ring)
            .ok_or(SyncError::NoSuchRing { ring })?;
        let view = self.view(nic_ring)?;
        let mut state = nic_ring.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(peer) = peer {
            let ctx = self.context();
            transparent::forward_released(&view, state.hwcur, state.hwtail, &ctx, peer);
        }
        datapath::rxsync(
            &view,
            &mut state,
            &self.context(),
            ring,
            &self.sockets[nic_ring.socket].socket,
        )
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    /// The sockets join the epoll set at the first arm, and leave it
    /// once the port has made [`UNARMED_SYNCS_TO_LEAVE`] syncs without
    /// arming: a socket with a waiter on it makes the kernel run a
    /// wake-up for every frame it sends (the freed frame's
    /// `sk_write_space`) and every batch it receives, which a busy poller
    /// never asks for (8% of a sender's CPU time on veth), while an
    /// application that sleeps often would pay two `epoll_ctl` per socket
    /// per sleep if they left at each disarm. A socket is watched for
    /// frames and, while armed after a TX ring found it full, for room
    /// (not always: a socket is writable nearly all the time, which would
    /// wake RX waiters at every sync).
    fn arm(&self) {
        let mut state = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        state.callers += 1;
        self.syncs_unarmed.store(0, Ordering::Relaxed);
        let join = !state.in_set;
        state.in_set = true;
        for (fd, key, receives, tx_blocked, out_armed) in self.watched() {
            let out = tx_blocked.load(Ordering::Relaxed);
            if join {
                out_armed.store(out, Ordering::Relaxed);
                let _ = self.epoll.add(fd, key, receives, out);
            } else if out && !out_armed.swap(true, Ordering::Relaxed) {
                let _ = self.epoll.modify(fd, key, receives, true);
            }
        }
    }

    fn disarm(&self) {
        let mut state = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if state.callers == 0 {
            return;
        }
        state.callers -= 1;
        if state.callers == 0 {
            for (fd, key, receives, _, out_armed) in self.watched() {
                if out_armed.swap(false, Ordering::Relaxed) {
                    let _ = self.epoll.modify(fd, key, receives, false);
                }
            }
        }
    }
}
