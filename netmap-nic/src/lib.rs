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
//! The port's pollable descriptor is an epoll set over its sockets. See
//! `docs/nic.md` for the choices and their cost.

mod afxdp;
mod counters;
mod datapath;
mod monitor;
mod sys;
mod xdp_sys;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use netmap_ring::name::{PortName, RingMode, Subsystem};
use netmap_ring::port::{Binding, BindingLayout, BufferPool, PortError, RingSpec, SyncError};
use netmap_ring::region::{NetmapMemory, RegionConfig, PAGE_SIZE, RESERVED_BUFFERS};
use netmap_ring::view::{format_if, Direction, IfDescription, RingView};

pub use counters::{counters, NicCounter, NicCounters, NicEngine};
pub use datapath::{PacketIo, Received, Span};

use counters::Counters;
use datapath::{RingState, SyncContext};
use sys::{EpollSet, PacketSocket};
use xdp_sys::{XdpRedirect, XskSocket};

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

/// The AF_XDP side of a port: one socket on queue 0 serving the one ring
/// pair, and the program that steers the queue to it.
struct XdpEngine {
    socket: XskSocket,
    _redirect: XdpRedirect,
    tx: Option<(RingSpec, Mutex<afxdp::XdpTxState>)>,
    rx: Option<(RingSpec, Mutex<afxdp::XdpRxState>)>,
    tx_blocked: AtomicBool,
    out_armed: AtomicBool,
}

/// Buffers beyond the rings' own, to repair RX slots the application left
/// with a bad buffer index.
const SPARE_BUFFERS: u32 = 64;
/// Buffers the kernel holds for an AF_XDP port (frames waiting for RX
/// slots): the AF_XDP counterpart of the AF_PACKET socket queue.
const XDP_KERNEL_BUFFERS: u32 = 4096;
/// Socket receive queue: room for bursts between two syncs.
const RECEIVE_QUEUE_BYTES: i32 = 8 << 20;

/// One bound ring and the socket that serves it.
struct NicRing {
    spec: RingSpec,
    socket: usize,
    state: Mutex<RingState>,
}

/// One of the port's sockets and what epoll watches it for.
struct SocketEntry {
    socket: PacketSocket,
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
}

fn io_error(name: &PortName, kind: io::ErrorKind, why: String) -> PortError {
    PortError::Io {
        name: name.to_string(),
        source: io::Error::new(kind, why),
    }
}

/// Registers `netmap:IFNAME` (no pipe) on the software backend, with the
/// engine `NETMAP_RS_NIC` names (AF_XDP where possible by default).
pub fn register(name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError> {
    register_with(name, extra_bufs, engine_from_env())
}

/// Registers `netmap:IFNAME` with `engine`.
pub fn register_with(
    name: &PortName,
    extra_bufs: u32,
    engine: NicEngine,
) -> Result<Box<dyn Binding>, PortError> {
    let Subsystem::Netmap { ifname } = &name.subsystem else {
        return Err(PortError::Config {
            name: name.to_string(),
            why: "not a NIC port".into(),
        });
    };
    if name.flags.monitor_rx || name.flags.monitor_tx || name.flags.zero_copy_monitor {
        return monitor::register(name, ifname);
    }
    let geometry = vale_offload::geometry::PortGeometry::requested(name);
    geometry.validate().map_err(|why| PortError::Config {
        name: name.to_string(),
        why,
    })?;
    let all = |count: u32| (1u32 << count) - 1;
    let (mut tx_mask, mut rx_mask) = match name.mode {
        RingMode::AllNic => (all(geometry.tx_rings), all(geometry.rx_rings)),
        RingMode::OneNic(ring) => {
            let ring = u32::from(ring);
            if ring >= geometry.tx_rings.max(geometry.rx_rings) {
                return Err(PortError::Config {
                    name: name.to_string(),
                    why: format!(
                        "ring {ring} does not exist: the port has {} tx and {} rx rings",
                        geometry.tx_rings, geometry.rx_rings
                    ),
                });
            }
            (
                u32::from(ring < geometry.tx_rings) << ring,
                u32::from(ring < geometry.rx_rings) << ring,
            )
        }
        RingMode::Sw | RingMode::OneSw(_) | RingMode::NicSw => {
            return Err(PortError::Unsupported {
                name: name.to_string(),
                backend: "soft",
                what: "host rings (^, ^N, *) of a NIC port: the host stack keeps the \
                       interface, use a plain socket for its traffic"
                    .into(),
            });
        }
    };
    if name.flags.rx_rings_only {
        tx_mask = 0;
    }
    if name.flags.tx_rings_only {
        rx_mask = 0;
    }
    let ifindex = sys::if_index(ifname).map_err(|e| {
        io_error(
            name,
            io::ErrorKind::NotFound,
            format!("no such interface {ifname:?} in this network namespace ({e})"),
        )
    })?;

    // Sockets first: they fail on permission and on a down link, before
    // any memory is made.
    let rings = geometry.tx_rings.max(geometry.rx_rings);
    let mut sockets = Vec::new();
    let mut socket_of_ring = vec![usize::MAX; rings as usize];
    for r in 0..rings {
        let used = (tx_mask | rx_mask) >> r & 1 == 1;
        if !used {
            continue;
        }
        let receives = rx_mask >> r & 1 == 1;
        let socket = PacketSocket::open(ifindex, receives).map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => PortError::Permission {
                name: name.to_string(),
                why: format!("AF_PACKET sockets need CAP_NET_RAW (run as root): {e}"),
            },
            _ => PortError::Io {
                name: name.to_string(),
                source: e,
            },
        })?;
        if receives {
            socket.set_receive_buffer(RECEIVE_QUEUE_BYTES);
            if geometry.rx_rings > 1 {
                // One group per interface, so that ports binding single
                // rings (`-N`) of the same interface share its traffic.
                socket
                    .join_fanout(ifindex as u16)
                    .map_err(|source| PortError::Io {
                        name: name.to_string(),
                        source,
                    })?;
            }
        }
        socket_of_ring[r as usize] = sockets.len();
        sockets.push(SocketEntry {
            socket,
            receives,
            tx_blocked: AtomicBool::new(false),
            out_armed: AtomicBool::new(false),
        });
    }
    let Some(first) = sockets.first() else {
        return Err(PortError::Config {
            name: name.to_string(),
            why: "no ring is bound (/T and /R together)".into(),
        });
    };
    match first.socket.interface_is_up(ifname) {
        Ok(true) => {}
        Ok(false) => {
            return Err(io_error(
                name,
                io::ErrorKind::NetworkDown,
                format!("interface {ifname} is down (bring it up: ip link set {ifname} up)"),
            ))
        }
        Err(source) => {
            return Err(PortError::Io {
                name: name.to_string(),
                source,
            })
        }
    }
    if rx_mask != 0 {
        first
            .socket
            .add_promiscuous(ifindex)
            .map_err(|source| PortError::Io {
                name: name.to_string(),
                source,
            })?;
    }

    let single_pair =
        geometry.tx_rings == 1 && geometry.rx_rings == 1 && tx_mask == 1 && rx_mask == 1;
    let may_use_xdp = engine != NicEngine::Packet && single_pair;

    // The memory: one netmap_if, the bound rings, their buffers.
    let bound_tx = tx_mask.count_ones();
    let bound_rx = rx_mask.count_ones();
    let ring_bufs = bound_tx * geometry.tx_slots + bound_rx * geometry.rx_slots;
    let config = RegionConfig {
        ctrl_size: PAGE_SIZE,
        if_objects: 1,
        ring_objects: (bound_tx + bound_rx).max(1),
        max_ring_slots: geometry.tx_slots.max(geometry.rx_slots),
        num_bufs: RESERVED_BUFFERS
            + ring_bufs
            + extra_bufs
            + SPARE_BUFFERS
            + if may_use_xdp { XDP_KERNEL_BUFFERS } else { 0 },
        ..RegionConfig::default()
    };
    let no_memory = |why: String| PortError::NoMemory {
        name: name.to_string(),
        why,
    };
    let memory = NetmapMemory::create(&format!("netmap-rs-nic-{ifname}"), config)
        .map_err(|e| no_memory(e.to_string()))?;
    let region = Arc::clone(memory.region());
    let buf_off = memory.layout().buf_off;
    let make_ring = |r: u32, dir: Direction| -> Result<NicRing, PortError> {
        let slots = match dir {
            Direction::Tx => geometry.tx_slots,
            Direction::Rx => geometry.rx_slots,
        };
        let offset = memory
            .alloc_rings(1, slots)
            .map_err(|e| no_memory(e.to_string()))?[0];
        let mut bufs = Vec::with_capacity(slots as usize);
        memory
            .alloc_buffers(slots, &mut bufs)
            .map_err(|e| no_memory(e.to_string()))?;
        let (tail, state) = match dir {
            Direction::Tx => (slots - 1, RingState::new_tx(slots)),
            Direction::Rx => (0, RingState::new_rx()),
        };
        RingView::format(
            &region,
            offset,
            &bufs,
            r as u16,
            dir,
            memory.buf_size(),
            buf_off as i64 - offset as i64,
            tail,
        )
        .map_err(|e| no_memory(e.to_string()))?;
        Ok(NicRing {
            spec: RingSpec {
                id: r,
                offset,
                num_slots: slots,
            },
            socket: socket_of_ring[r as usize],
            state: Mutex::new(state),
        })
    };
    let mut tx = Vec::new();
    for r in (0..geometry.tx_rings).filter(|r| tx_mask >> r & 1 == 1) {
        tx.push(make_ring(r, Direction::Tx)?);
    }
    let mut rx = Vec::new();
    for r in (0..geometry.rx_rings).filter(|r| rx_mask >> r & 1 == 1) {
        rx.push(make_ring(r, Direction::Rx)?);
    }
    let bufs_head = memory
        .alloc_extra_list(extra_bufs)
        .map_err(|e| no_memory(e.to_string()))?;
    let if_offset = memory.alloc_if().map_err(|e| no_memory(e.to_string()))?;
    let ring_offset = |list: &[NicRing], r: u32| {
        list.iter()
            .find(|ring| ring.spec.id == r)
            .map(|ring| ring.spec.offset)
    };
    let mut ring_ofs = Vec::new();
    ring_ofs.extend((0..geometry.tx_rings).map(|r| ring_offset(&tx, r)));
    ring_ofs.extend((0..geometry.rx_rings).map(|r| ring_offset(&rx, r)));
    format_if(
        &region,
        if_offset,
        &IfDescription {
            name: name.nr_name(),
            tx_rings: geometry.tx_rings,
            rx_rings: geometry.rx_rings,
            bufs_head,
            rings: ring_ofs,
            ..Default::default()
        },
    )
    .map_err(|e| no_memory(e.to_string()))?;
    let counters = Counters::format(Arc::clone(&region), memory.layout().ctrl_off);

    let epoll = EpollSet::new().map_err(|source| PortError::Io {
        name: name.to_string(),
        source,
    })?;
    let xdp = match engine {
        NicEngine::Packet => None,
        NicEngine::Auto if !single_pair => None,
        _ => {
            let made = if single_pair {
                open_xdp(
                    &sockets[0].socket,
                    ifname,
                    ifindex,
                    &memory,
                    &counters,
                    &tx,
                    &rx,
                )
            } else {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "AF_XDP serves one ring pair (no @conf rings, -N, /T or /R)",
                ))
            };
            match made {
                Ok(x) => Some(x),
                Err(e) if engine == NicEngine::Xdp => {
                    return Err(io_error(name, e.kind(), format!("AF_XDP: {e}")));
                }
                Err(_) => None,
            }
        }
    };
    if let Some(x) = &xdp {
        counters.set_engine(NicEngine::Xdp);
        epoll
            .add(x.socket.as_fd(), 0, true)
            .map_err(|source| PortError::Io {
                name: name.to_string(),
                source,
            })?;
    } else {
        counters.set_engine(NicEngine::Packet);
        for (key, entry) in sockets.iter().enumerate() {
            epoll
                .add(entry.socket.as_fd(), key as u64, entry.receives)
                .map_err(|source| PortError::Io {
                    name: name.to_string(),
                    source,
                })?;
        }
    }
    let layout = BindingLayout {
        region,
        if_offset,
        tx_rings: tx.iter().map(|ring| ring.spec).collect(),
        rx_rings: rx.iter().map(|ring| ring.spec).collect(),
        buffers: BufferPool {
            base: buf_off,
            buf_size: memory.buf_size(),
            num_bufs: memory.num_bufs(),
        },
        nr_flags: name.flags.nr_flags(),
    };
    Ok(Box::new(NicBinding {
        xdp,
        layout,
        memory,
        counters,
        sockets,
        tx,
        rx,
        epoll,
    }))
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
        if let Some(x) = &self.xdp {
            let (spec, state) =
                x.tx.as_ref()
                    .filter(|(spec, _)| spec.id == ring)
                    .ok_or(SyncError::NoSuchRing { ring })?;
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
        if let Some(x) = &self.xdp {
            let (spec, state) =
                x.rx.as_ref()
                    .filter(|(spec, _)| spec.id == ring)
                    .ok_or(SyncError::NoSuchRing { ring })?;
            let view = RingView::new(&self.layout.region, spec.offset, spec.num_slots)
                .map_err(|e| SyncError::Gone(e.to_string()))?;
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            return afxdp::rxsync(&view, &mut state, &self.context(), ring, &x.socket);
        }
        let nic_ring = self
            .rx
            .iter()
            .find(|r| r.spec.id == ring)
            .ok_or(SyncError::NoSuchRing { ring })?;
        let view = self.view(nic_ring)?;
        let mut state = nic_ring.state.lock().unwrap_or_else(|p| p.into_inner());
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

    /// The epoll set always reports sockets with frames queued; a socket
    /// whose TX ring found it full is watched for room too, until
    /// [`Binding::disarm`] (watching it always would wake RX waiters at
    /// every sync, since a socket is writable nearly all the time).
    fn arm(&self) {
        if let Some(x) = &self.xdp {
            if x.tx_blocked.load(Ordering::Relaxed) && !x.out_armed.swap(true, Ordering::Relaxed) {
                let _ = self.epoll.modify(x.socket.as_fd(), 0, true, true);
            }
            return;
        }
        for (key, entry) in self.sockets.iter().enumerate() {
            if entry.tx_blocked.load(Ordering::Relaxed)
                && !entry.out_armed.swap(true, Ordering::Relaxed)
            {
                let _ = self
                    .epoll
                    .modify(entry.socket.as_fd(), key as u64, entry.receives, true);
            }
        }
    }

    fn disarm(&self) {
        if let Some(x) = &self.xdp {
            if x.out_armed.swap(false, Ordering::Relaxed) {
                let _ = self.epoll.modify(x.socket.as_fd(), 0, true, false);
            }
            return;
        }
        for (key, entry) in self.sockets.iter().enumerate() {
            if entry.out_armed.swap(false, Ordering::Relaxed) {
                let _ = self
                    .epoll
                    .modify(entry.socket.as_fd(), key as u64, entry.receives, false);
            }
        }
    }
}

/// Sets up AF_XDP for a port with one ring pair: checks the interface has
/// one RX queue, attaches the redirect program, opens the socket over the
/// buffer pool and posts the RX ring's buffers.
fn open_xdp(
    probe: &PacketSocket,
    ifname: &str,
    ifindex: u32,
    memory: &NetmapMemory,
    counters: &Counters,
    tx: &[NicRing],
    rx: &[NicRing],
) -> io::Result<XdpEngine> {
    let queues = xdp_sys::rx_queue_count(probe.as_fd(), ifname)?;
    if queues != 1 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{ifname} has {queues} RX queues; AF_XDP is used on single-queue interfaces"),
        ));
    }
    let mtu = xdp_sys::interface_mtu(probe.as_fd(), ifname)? as usize;
    let (tx, rx) = (tx[0].spec, rx[0].spec);
    let redirect = XdpRedirect::attach(ifindex, 1)?;
    let ring_size = tx.num_slots.max(XDP_KERNEL_BUFFERS).next_power_of_two();
    let pool = memory.layout();
    let socket = XskSocket::open(
        ifindex,
        0,
        memory.region(),
        pool.buf_off,
        memory.num_bufs() as usize * memory.buf_size() as usize,
        memory.buf_size(),
        ring_size,
    )?;
    redirect.set_socket(0, &socket)?;
    let mut spare = Vec::with_capacity(XDP_KERNEL_BUFFERS as usize);
    memory
        .alloc_buffers(XDP_KERNEL_BUFFERS, &mut spare)
        .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e.to_string()))?;
    let mut rx_state = afxdp::XdpRxState::new(spare);
    let ctx = SyncContext { memory, counters };
    afxdp::post_spare(&mut rx_state, &ctx, &socket);
    Ok(XdpEngine {
        socket,
        _redirect: redirect,
        tx: Some((tx, Mutex::new(afxdp::XdpTxState::new(mtu + 14)))),
        rx: Some((rx, Mutex::new(rx_state))),
        tx_blocked: AtomicBool::new(false),
        out_armed: AtomicBool::new(false),
    })
}
