//! Opening a NIC port: the rings the name selects, the sockets (and the
//! TAP of the host rings) that serve them, the port's memory, and the
//! AF_XDP engine where it can serve the NIC rings.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};

use netmap_ring::name::{PortName, RingMode, Subsystem};
use netmap_ring::port::{Binding, BindingLayout, BufferPool, PortError, RingSpec};
use netmap_ring::region::{NetmapMemory, RegionConfig, PAGE_SIZE, RESERVED_BUFFERS};
use netmap_ring::view::{format_if, Direction, IfDescription};

use super::counters::{Counters, NicEngine};
use super::datapath::{RingState, SyncContext};
use super::hostaddr::{self, HostMove};
use super::sys::{self, EpollSet, PacketSocket};
use super::tap::Tap;
use super::xdp_sys::{self, XdpRedirect, XskSocket};
use super::{afxdp, Endpoint, NicBinding, NicRing, SocketEntry, XdpEngine, XdpQueue};

/// Buffers beyond the rings' own, to repair RX slots the application left
/// with a bad buffer index.
const SPARE_BUFFERS: u32 = 64;
/// Buffers the kernel holds for an AF_XDP port (frames waiting for RX
/// slots): the AF_XDP counterpart of the AF_PACKET socket queue.
const XDP_KERNEL_BUFFERS: u32 = 4096;
/// Socket receive queue: room for bursts between two syncs.
pub(crate) const RECEIVE_QUEUE_BYTES: i32 = 8 << 20;

fn io_error(name: &PortName, kind: io::ErrorKind, why: String) -> PortError {
    PortError::Io {
        name: name.to_string(),
        source: io::Error::new(kind, why),
    }
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
        return crate::monitor::register(name, ifname);
    }
    let mut geometry = vale_offload::geometry::PortGeometry::requested(name);
    // A NIC port has a ring pair per queue unless the name says otherwise,
    // as netmap gives a NIC's rings.
    let queues = queue_count(ifname);
    let conf = &name.options.conf;
    if conf.tx_rings().is_none() && conf.rx_rings().is_none() {
        let rings = queues.clamp(1, vale_offload::geometry::MAX_RINGS);
        geometry.tx_rings = rings;
        geometry.rx_rings = rings;
    }
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
        RingMode::Sw | RingMode::OneSw(0) => (0, 0),
        RingMode::NicSw => (all(geometry.tx_rings), all(geometry.rx_rings)),
        RingMode::OneSw(ring) => {
            return Err(PortError::Config {
                name: name.to_string(),
                why: format!("host ring {ring} does not exist: a NIC has one host ring pair"),
            });
        }
    };
    let host = matches!(
        name.mode,
        RingMode::Sw | RingMode::OneSw(_) | RingMode::NicSw
    );
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
            socket: Endpoint::Packet(socket),
            receives,
            tx_blocked: AtomicBool::new(false),
            out_armed: AtomicBool::new(false),
        });
    }
    if sockets.is_empty() && !host {
        return Err(PortError::Config {
            name: name.to_string(),
            why: "no ring is bound (/T and /R together)".into(),
        });
    }
    // A port of host rings only keeps one TX-only socket on the NIC: for
    // the checks below and to send what its host RX ring forwards.
    let probe = match sockets.first() {
        Some(_) => None,
        None => Some(
            PacketSocket::open(ifindex, false).map_err(|e| PortError::Permission {
                name: name.to_string(),
                why: format!("AF_PACKET sockets need CAP_NET_RAW (run as root): {e}"),
            })?,
        ),
    };
    let first = match (&probe, sockets.first()) {
        (Some(probe), _) => probe,
        (None, Some(entry)) => entry.socket.packet().expect("NIC rings have sockets"),
        (None, None) => unreachable!("checked above"),
    };
    match first.interface_is_up(ifname) {
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
            .add_promiscuous(ifindex)
            .map_err(|source| PortError::Io {
                name: name.to_string(),
                source,
            })?;
    }

    // The host stack's side: a TAP with the NIC's MAC, MTU, addresses and
    // routes (moved back when the port closes).
    let host_side = if host {
        let tap_name = hostaddr::tap_name(ifname, ifindex);
        let tap = Tap::create(&tap_name).map_err(|source| PortError::Io {
            name: name.to_string(),
            source,
        })?;
        let moved = HostMove::take(ifname, &tap_name).map_err(|source| PortError::Io {
            name: name.to_string(),
            source,
        })?;
        Some((tap, moved))
    } else {
        None
    };
    if let Some(probe) = probe {
        sockets.push(SocketEntry {
            socket: Endpoint::Packet(probe),
            receives: false,
            tx_blocked: AtomicBool::new(false),
            out_armed: AtomicBool::new(false),
        });
    }
    let (tap_index, host_move) = match host_side {
        Some((tap, moved)) => {
            sockets.push(SocketEntry {
                socket: Endpoint::Tap(tap),
                receives: true,
                tx_blocked: AtomicBool::new(false),
                out_armed: AtomicBool::new(false),
            });
            (Some(sockets.len() - 1), Some(moved))
        }
        None => (None, None),
    };

    // AF_XDP serves ring pairs that are queues: every queue (all rings,
    // as many as the NIC has queues) or one (`-N`).
    let xdp_shape = tx_mask == rx_mask
        && tx_mask != 0
        && geometry.tx_rings == geometry.rx_rings
        && match name.mode {
            RingMode::AllNic | RingMode::NicSw => geometry.rx_rings == queues.max(1),
            RingMode::OneNic(ring) => u32::from(ring) < queues.max(1),
            _ => false,
        };
    let may_use_xdp = engine != NicEngine::Packet && xdp_shape;
    let xdp_queues = tx_mask.count_ones();
    let kernel_buffers = kernel_buffers_per_queue(xdp_queues) * xdp_queues;

    // The memory: one netmap_if, the bound rings, their buffers.
    let bound_tx = tx_mask.count_ones() + u32::from(host);
    let bound_rx = rx_mask.count_ones() + u32::from(host);
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
            + if may_use_xdp { kernel_buffers } else { 0 },
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
    let make_ring = |r: u32, dir: Direction, socket: usize| -> Result<NicRing, PortError> {
        let slots = match dir {
            Direction::Tx => geometry.tx_slots,
            Direction::Rx => geometry.rx_slots,
        };
        let offset = memory
            .alloc_fresh_ring(r as u16, dir, slots)
            .map_err(|e| no_memory(e.to_string()))?
            .offset;
        let state = match dir {
            Direction::Tx => RingState::new_tx(slots),
            Direction::Rx => RingState::new_rx(),
        };
        Ok(NicRing {
            spec: RingSpec {
                id: r,
                offset,
                num_slots: slots,
            },
            socket,
            state: Mutex::new(state),
        })
    };
    let mut tx = Vec::new();
    for r in (0..geometry.tx_rings).filter(|r| tx_mask >> r & 1 == 1) {
        tx.push(make_ring(r, Direction::Tx, socket_of_ring[r as usize])?);
    }
    if let Some(tap) = tap_index {
        tx.push(make_ring(geometry.tx_rings, Direction::Tx, tap)?);
    }
    let mut rx = Vec::new();
    for r in (0..geometry.rx_rings).filter(|r| rx_mask >> r & 1 == 1) {
        rx.push(make_ring(r, Direction::Rx, socket_of_ring[r as usize])?);
    }
    if let Some(tap) = tap_index {
        rx.push(make_ring(geometry.rx_rings, Direction::Rx, tap)?);
    }
    // A veth peer's stack leaves partial checksums in the frames it
    // sends; the NIC rings complete them as they receive (`csum.rs`).
    let from_veth = is_veth(ifname);
    for ring in rx.iter().filter(|ring| Some(ring.socket) != tap_index) {
        ring.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .complete_csums = from_veth;
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
    let host_rings = u32::from(host);
    ring_ofs.extend((0..geometry.tx_rings + host_rings).map(|r| ring_offset(&tx, r)));
    ring_ofs.extend((0..geometry.rx_rings + host_rings).map(|r| ring_offset(&rx, r)));
    format_if(
        &region,
        if_offset,
        &IfDescription {
            name: name.nr_name(),
            tx_rings: geometry.tx_rings,
            rx_rings: geometry.rx_rings,
            host_tx_rings: host_rings,
            host_rx_rings: host_rings,
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
        NicEngine::Auto if !xdp_shape => None,
        _ => {
            let made = if xdp_shape {
                open_xdp(
                    first_packet(&sockets),
                    ifname,
                    ifindex,
                    &memory,
                    &counters,
                    &tx[..xdp_queues as usize],
                    &rx[..xdp_queues as usize],
                )
            } else {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "AF_XDP serves a ring pair per queue (all of them, or one with -N; no /T or /R)",
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
    // The sockets join the epoll set while the port is armed (lib.rs).
    if let Some(x) = &xdp {
        counters.set_engine(NicEngine::Xdp);
        counters.set_zero_copy(x.queues[0].socket.zero_copy);
    } else {
        counters.set_engine(NicEngine::Packet);
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
        armed: Mutex::new(Default::default()),
        syncs_unarmed: AtomicU32::new(0),
        host_ring_ids: host.then_some((geometry.tx_rings, geometry.rx_rings)),
        tap: tap_index,
        _host_move: host_move,
    }))
}

/// Whether the interface is a veth (false when the driver does not say).
fn is_veth(ifname: &str) -> bool {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|probe| xdp_sys::driver_name(probe.as_fd(), ifname))
        .is_ok_and(|driver| driver == "veth")
}

/// The interface's RX queues (1 when the driver does not say).
fn queue_count(ifname: &str) -> u32 {
    // Any socket of this namespace carries the ethtool request.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|probe| xdp_sys::rx_queue_count(probe.as_fd(), ifname))
        .unwrap_or(1)
        .max(1)
}

/// Buffers the kernel holds per AF_XDP queue: 4096 for one or two
/// queues, fewer (down to 1024) for more, bounding a port's pool.
fn kernel_buffers_per_queue(queues: u32) -> u32 {
    (2 * XDP_KERNEL_BUFFERS / queues.max(1)).clamp(1024, XDP_KERNEL_BUFFERS)
}

/// Sets up AF_XDP for a port whose NIC ring pairs `tx`/`rx` (ring `i` on
/// queue `i`) are queues of the interface: attaches the redirect program,
/// opens one socket per queue (the first registers the buffer pool as the
/// UMEM, the others share it) and posts each queue's kernel buffers.
fn open_xdp(
    probe: &PacketSocket,
    ifname: &str,
    ifindex: u32,
    memory: &NetmapMemory,
    counters: &Counters,
    tx: &[NicRing],
    rx: &[NicRing],
) -> io::Result<XdpEngine> {
    let queues = xdp_sys::rx_queue_count(probe.as_fd(), ifname)?.max(1);
    let mtu = xdp_sys::interface_mtu(probe.as_fd(), ifname)? as usize;
    let from_veth = xdp_sys::driver_name(probe.as_fd(), ifname).is_ok_and(|d| d == "veth");
    let redirect = XdpRedirect::attach(ifindex, queues)?;
    let per_queue = kernel_buffers_per_queue(tx.len() as u32);
    let pool = memory.layout();
    let mut made: Vec<XdpQueue> = Vec::with_capacity(tx.len());
    for (tx, rx) in tx.iter().zip(rx) {
        let queue = tx.spec.id;
        if queue >= queues || rx.spec.id != queue {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{ifname} has {queues} RX queues; ring {queue} is not one"),
            ));
        }
        let ring_size = tx.spec.num_slots.max(per_queue).next_power_of_two();
        let socket = match made.first() {
            None => XskSocket::open(
                ifindex,
                queue,
                memory.region(),
                pool.buf_off,
                memory.num_bufs() as usize * memory.buf_size() as usize,
                memory.buf_size(),
                ring_size,
            )?,
            Some(owner) => XskSocket::open_shared(ifindex, queue, &owner.socket, ring_size)?,
        };
        redirect.set_socket(queue, &socket)?;
        let mut spare = Vec::with_capacity(per_queue as usize);
        memory
            .alloc_buffers(per_queue, &mut spare)
            .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e.to_string()))?;
        let mut rx_state = afxdp::XdpRxState::new(spare);
        rx_state.complete_csums = from_veth;
        let ctx = SyncContext { memory, counters };
        afxdp::post_spare(&mut rx_state, &ctx, &socket);
        made.push(XdpQueue {
            socket,
            tx: (tx.spec, Mutex::new(afxdp::XdpTxState::new(mtu + 14))),
            rx: (rx.spec, Mutex::new(rx_state)),
            tx_blocked: AtomicBool::new(false),
            out_armed: AtomicBool::new(false),
        });
    }
    Ok(XdpEngine {
        queues: made,
        _redirect: redirect,
    })
}

/// The first AF_PACKET socket of the port (every port has one).
fn first_packet(sockets: &[SocketEntry]) -> &PacketSocket {
    sockets
        .iter()
        .find_map(|entry| entry.socket.packet())
        .expect("a NIC port keeps an AF_PACKET socket")
}
