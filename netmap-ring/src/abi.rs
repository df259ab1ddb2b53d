//! The netmap ABI, API version 14, as laid out on x86-64 Linux.
//!
//! Everything here is plain data: `#[repr(C)]` structures whose size,
//! alignment and every field offset are asserted at compile time, the
//! offsets as constants (derived with `offset_of!`, so they cannot drift
//! from the structures), and netmap's flag, mode, request and ioctl numbers.
//! `tests/abi_c.rs` checks all of it once more from C, against our own
//! header `include/netmap_abi.h`.
//!
//! The ring and interface structures describe memory that another process or
//! a device writes. Code must never form a `&`/`&mut` to such memory: it goes
//! through the volatile accessors of [`crate::shm`], addressing fields with
//! the offsets of [`slot_off`], [`ring_off`] and [`if_off`]. The structures
//! are still useful as documentation and for building requests in process
//! memory (the `nmreq*` family is passed to `ioctl`).
#![forbid(unsafe_code)]

use core::mem::{align_of, offset_of, size_of};

// ---------------------------------------------------------------------------
// Versions and sizes
// ---------------------------------------------------------------------------

/// The API version this crate speaks (`nr_version`, `ni_version`).
pub const NETMAP_API: u32 = 14;
/// Oldest API version a netmap kernel of this generation accepts.
pub const NETMAP_MIN_API: u32 = 14;
/// Newest API version a netmap kernel of this generation accepts.
pub const NETMAP_MAX_API: u32 = 15;
/// Alignment netmap uses for contended fields (the ring's `sem`).
pub const NM_CACHE_ALIGN: usize = 128;
/// Length of an interface name in `netmap_if` and the legacy `nmreq`.
pub const IFNAMSIZ: usize = 16;
/// Length of the port name in `nmreq_header`.
pub const NETMAP_REQ_IFNAMSIZ: usize = 64;
/// Upper bound on the size of a request including all its options.
pub const NETMAP_REQ_MAXSIZE: usize = 4096;
/// Most slots a single `NS_MOREFRAG` chain may span.
pub const NETMAP_MAX_FRAGS: u32 = 64;
/// Prefix of VALE switch port names.
pub const NM_BDG_NAME: &str = "vale";
/// Size of the opaque payload of `nm_ifreq` (`NIOCCONFIG`).
pub const NM_IFRDATA_LEN: usize = 256;

// ---------------------------------------------------------------------------
// Shared-memory structures
// ---------------------------------------------------------------------------

/// `struct netmap_slot`: one buffer descriptor of a ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetmapSlot {
    /// Index of the buffer in the buffer pool.
    pub buf_idx: u32,
    /// Bytes of payload in the buffer (TX: set by the user; RX: by the kernel).
    pub len: u16,
    /// `NS_*` flags; the high byte is a VALE destination port or fragment count.
    pub flags: u16,
    /// User address of an `NS_INDIRECT` payload, or the buffer offset when the
    /// ring was opened with `NETMAP_REQ_OPT_OFFSETS` (masked by `offset_mask`).
    pub ptr: u64,
}

/// `struct timeval` as the x86-64 Linux C library lays it out.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeval {
    /// Seconds.
    pub tv_sec: i64,
    /// Microseconds.
    pub tv_usec: i64,
}

/// The ring's opaque `sem[128]`, carrying the C `__aligned__(128)` that
/// makes the ring header 256 bytes.
#[repr(C, align(128))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingSem(pub [u8; 128]);

impl Default for RingSem {
    fn default() -> Self {
        RingSem([0; 128])
    }
}

/// `struct netmap_ring`: the header of a TX or RX ring. `num_slots`
/// [`NetmapSlot`]s follow at offset [`RING_HEADER_SIZE`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetmapRing {
    /// Offset of the buffer pool from the start of this ring, so a buffer is
    /// at `ring + buf_ofs + buf_idx * nr_buf_size`.
    pub buf_ofs: i64,
    /// Number of slots.
    pub num_slots: u32,
    /// Size of each buffer in bytes (not necessarily a power of two).
    pub nr_buf_size: u32,
    /// Index of this ring within its direction.
    pub ringid: u16,
    /// 0 for TX, 1 for RX.
    pub dir: u16,
    /// First slot owned by the user (written by the user).
    pub head: u32,
    /// Wake-up point (written by the user).
    pub cur: u32,
    /// First slot owned by the kernel (written by the kernel, in syncs only).
    pub tail: u32,
    /// `NR_TIMESTAMP`, `NR_FORWARD`.
    pub flags: u32,
    /// Time of the last sync.
    pub ts: Timeval,
    /// Bits of `slot.ptr` that hold a buffer offset; 0 without offsets.
    pub offset_mask: u64,
    /// Alignment required for packet starts inside buffers.
    pub buf_align: u64,
    /// Opaque room for a lock, cache aligned.
    pub sem: RingSem,
    /// The slot array starts here (zero-sized marker for its offset).
    pub slot: [NetmapSlot; 0],
}

/// `struct netmap_if`: one per bound file descriptor. After the header comes
/// `ring_ofs[]`: one `i64` per ring, relative to the start of this structure,
/// ordered NIC TX, host TX, NIC RX, host RX; 0 marks a ring not bound.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetmapIf {
    /// Interface name, NUL padded.
    pub ni_name: [u8; IFNAMSIZ],
    /// API version.
    pub ni_version: u32,
    /// `NI_PRIV_MEM`.
    pub ni_flags: u32,
    /// Number of NIC TX rings.
    pub ni_tx_rings: u32,
    /// Number of NIC RX rings.
    pub ni_rx_rings: u32,
    /// Head of the extra-buffer list (linked through each buffer's first u32).
    pub ni_bufs_head: u32,
    /// Number of host TX rings.
    pub ni_host_tx_rings: u32,
    /// Number of host RX rings.
    pub ni_host_rx_rings: u32,
    /// Reserved.
    pub ni_spare1: [u32; 3],
    /// Ring offsets start here (zero-sized marker; also gives the C alignment).
    pub ring_ofs: [i64; 0],
}

// ---------------------------------------------------------------------------
// Request structures (process memory, passed to ioctl)
// ---------------------------------------------------------------------------

/// Legacy `struct nmreq` (`NIOCREGIF`, `NIOCGINFO`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nmreq {
    /// Port name.
    pub nr_name: [u8; IFNAMSIZ],
    /// API version.
    pub nr_version: u32,
    /// Offset of the `netmap_if` in the shared region.
    pub nr_offset: u32,
    /// Size of the shared region.
    pub nr_memsize: u32,
    /// Slots per TX ring.
    pub nr_tx_slots: u32,
    /// Slots per RX ring.
    pub nr_rx_slots: u32,
    /// Number of TX rings.
    pub nr_tx_rings: u16,
    /// Number of RX rings.
    pub nr_rx_rings: u16,
    /// Ring selection and the legacy `NETMAP_*` ring bits.
    pub nr_ringid: u16,
    /// `NETMAP_BDG_*` command, 0 for a plain register.
    pub nr_cmd: u16,
    /// Command argument (e.g. `NETMAP_BDG_HOST`).
    pub nr_arg1: u16,
    /// Memory allocator id.
    pub nr_arg2: u16,
    /// Extra buffers requested.
    pub nr_arg3: u32,
    /// `NR_REG_*` mode in the low bits ([`NR_REG_MASK`]) plus `NR_*` flags.
    pub nr_flags: u32,
    /// Reserved.
    pub spare2: [u32; 1],
}

/// `struct nmreq_header`: the argument of `NIOCCTRL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NmreqHeader {
    /// API version.
    pub nr_version: u16,
    /// `NETMAP_REQ_*`.
    pub nr_reqtype: u16,
    /// Must be zero.
    pub nr_reserved: u32,
    /// Port name, NUL padded.
    pub nr_name: [u8; NETMAP_REQ_IFNAMSIZ],
    /// User address of the first [`NmreqOption`], or 0.
    pub nr_options: u64,
    /// User address of the request body (e.g. [`NmreqRegister`]).
    pub nr_body: u64,
}

impl Default for NmreqHeader {
    fn default() -> Self {
        NmreqHeader {
            nr_version: 0,
            nr_reqtype: 0,
            nr_reserved: 0,
            nr_name: [0; NETMAP_REQ_IFNAMSIZ],
            nr_options: 0,
            nr_body: 0,
        }
    }
}

/// `struct nmreq_register`: body of `NETMAP_REQ_REGISTER`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NmreqRegister {
    /// Offset of the `netmap_if` in the shared region (out).
    pub nr_offset: u64,
    /// Size of the shared region (out).
    pub nr_memsize: u64,
    /// Slots per TX ring.
    pub nr_tx_slots: u32,
    /// Slots per RX ring.
    pub nr_rx_slots: u32,
    /// Number of NIC TX rings.
    pub nr_tx_rings: u16,
    /// Number of NIC RX rings.
    pub nr_rx_rings: u16,
    /// Number of host TX rings.
    pub nr_host_tx_rings: u16,
    /// Number of host RX rings.
    pub nr_host_rx_rings: u16,
    /// Memory allocator id (0: let the system choose).
    pub nr_mem_id: u16,
    /// Ring index for the single-ring modes.
    pub nr_ringid: u16,
    /// `NR_REG_*`.
    pub nr_mode: u32,
    /// Extra buffers requested (in) and granted (out).
    pub nr_extra_bufs: u32,
    /// `NR_*` register flags.
    pub nr_flags: u64,
}

/// `struct nmreq_option`: the header every request option starts with.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NmreqOption {
    /// User address of the next option, or 0.
    pub nro_next: u64,
    /// `NETMAP_REQ_OPT_*`.
    pub nro_reqtype: u32,
    /// 0 when the option was processed, else an errno (out).
    pub nro_status: u32,
    /// Size of a variable-size option, 0 for fixed-size ones.
    pub nro_size: u64,
}

/// `struct nmreq_pools_info`: geometry of a memory allocator's three pools.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NmreqPoolsInfo {
    /// Total size of the region.
    pub nr_memsize: u64,
    /// Allocator id.
    pub nr_mem_id: u16,
    /// Reserved.
    pub pad1: [u16; 3],
    /// Offset of the interface pool.
    pub nr_if_pool_offset: u64,
    /// Objects in the interface pool.
    pub nr_if_pool_objtotal: u32,
    /// Size of an interface object.
    pub nr_if_pool_objsize: u32,
    /// Offset of the ring pool.
    pub nr_ring_pool_offset: u64,
    /// Objects in the ring pool.
    pub nr_ring_pool_objtotal: u32,
    /// Size of a ring object.
    pub nr_ring_pool_objsize: u32,
    /// Offset of the buffer pool.
    pub nr_buf_pool_offset: u64,
    /// Buffers in the buffer pool.
    pub nr_buf_pool_objtotal: u32,
    /// Size of a buffer.
    pub nr_buf_pool_objsize: u32,
}

/// `struct nmreq_opt_extmem`: `NETMAP_REQ_OPT_EXTMEM` (pools in user memory).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NmreqOptExtmem {
    /// Option header.
    pub nro_opt: NmreqOption,
    /// User address of the memory.
    pub nro_usrptr: u64,
    /// Requested (in) and actual (out) pool geometry.
    pub nro_info: NmreqPoolsInfo,
}

/// `struct nmreq_opt_offsets`: `NETMAP_REQ_OPT_OFFSETS` (packet offsets in
/// `slot.ptr`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NmreqOptOffsets {
    /// Option header.
    pub nro_opt: NmreqOption,
    /// Largest offset the user will write (in), effective maximum (out).
    pub nro_max_offset: u64,
    /// Offset preset in every slot.
    pub nro_initial_offset: u64,
    /// Low bits of `ptr` used for the offset; 0 means all of them.
    pub nro_offset_bits: u32,
    /// Required alignment of packet starts in TX slots.
    pub nro_tx_align: u32,
    /// Reserved, zero.
    pub nro_min_gap: u64,
}

/// `struct nm_ifreq`: the argument of `NIOCCONFIG`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NmIfreq {
    /// Interface name.
    pub nifr_name: [u8; IFNAMSIZ],
    /// Opaque payload for an external module.
    pub data: [u8; NM_IFRDATA_LEN],
}

// ---------------------------------------------------------------------------
// Sizes and offsets for addressing shared memory
// ---------------------------------------------------------------------------

/// Size of one slot.
pub const SLOT_SIZE: usize = size_of::<NetmapSlot>();
/// Size of the ring header; slot 0 starts here.
pub const RING_HEADER_SIZE: usize = size_of::<NetmapRing>();
/// Alignment of a ring header.
pub const RING_ALIGN: usize = align_of::<NetmapRing>();
/// Size of the `netmap_if` header; `ring_ofs[0]` starts here.
pub const IF_HEADER_SIZE: usize = size_of::<NetmapIf>();
/// Size of one `ring_ofs[]` entry.
pub const RING_OFS_ENTRY_SIZE: usize = size_of::<i64>();

/// Field offsets inside a `netmap_slot`.
pub mod slot_off {
    use super::NetmapSlot;
    use core::mem::offset_of;
    /// `buf_idx: u32`.
    pub const BUF_IDX: usize = offset_of!(NetmapSlot, buf_idx);
    /// `len: u16`.
    pub const LEN: usize = offset_of!(NetmapSlot, len);
    /// `flags: u16`.
    pub const FLAGS: usize = offset_of!(NetmapSlot, flags);
    /// `ptr: u64`.
    pub const PTR: usize = offset_of!(NetmapSlot, ptr);
}

/// Field offsets inside a `netmap_ring` header.
pub mod ring_off {
    use super::{NetmapRing, Timeval};
    use core::mem::offset_of;
    /// `buf_ofs: i64`.
    pub const BUF_OFS: usize = offset_of!(NetmapRing, buf_ofs);
    /// `num_slots: u32`.
    pub const NUM_SLOTS: usize = offset_of!(NetmapRing, num_slots);
    /// `nr_buf_size: u32`.
    pub const NR_BUF_SIZE: usize = offset_of!(NetmapRing, nr_buf_size);
    /// `ringid: u16`.
    pub const RINGID: usize = offset_of!(NetmapRing, ringid);
    /// `dir: u16`.
    pub const DIR: usize = offset_of!(NetmapRing, dir);
    /// `head: u32`.
    pub const HEAD: usize = offset_of!(NetmapRing, head);
    /// `cur: u32`.
    pub const CUR: usize = offset_of!(NetmapRing, cur);
    /// `tail: u32`.
    pub const TAIL: usize = offset_of!(NetmapRing, tail);
    /// `flags: u32`.
    pub const FLAGS: usize = offset_of!(NetmapRing, flags);
    /// `ts: timeval`.
    pub const TS: usize = offset_of!(NetmapRing, ts);
    /// `ts.tv_sec: i64`.
    pub const TS_SEC: usize = TS + offset_of!(Timeval, tv_sec);
    /// `ts.tv_usec: i64`.
    pub const TS_USEC: usize = TS + offset_of!(Timeval, tv_usec);
    /// `offset_mask: u64`.
    pub const OFFSET_MASK: usize = offset_of!(NetmapRing, offset_mask);
    /// `buf_align: u64`.
    pub const BUF_ALIGN: usize = offset_of!(NetmapRing, buf_align);
    /// `sem: [u8; 128]`.
    pub const SEM: usize = offset_of!(NetmapRing, sem);
    /// `slot[0]`.
    pub const SLOT: usize = offset_of!(NetmapRing, slot);
}

/// Field offsets inside a `netmap_if` header.
pub mod if_off {
    use super::NetmapIf;
    use core::mem::offset_of;
    /// `ni_name: [u8; 16]`.
    pub const NAME: usize = offset_of!(NetmapIf, ni_name);
    /// `ni_version: u32`.
    pub const VERSION: usize = offset_of!(NetmapIf, ni_version);
    /// `ni_flags: u32`.
    pub const FLAGS: usize = offset_of!(NetmapIf, ni_flags);
    /// `ni_tx_rings: u32`.
    pub const TX_RINGS: usize = offset_of!(NetmapIf, ni_tx_rings);
    /// `ni_rx_rings: u32`.
    pub const RX_RINGS: usize = offset_of!(NetmapIf, ni_rx_rings);
    /// `ni_bufs_head: u32`.
    pub const BUFS_HEAD: usize = offset_of!(NetmapIf, ni_bufs_head);
    /// `ni_host_tx_rings: u32`.
    pub const HOST_TX_RINGS: usize = offset_of!(NetmapIf, ni_host_tx_rings);
    /// `ni_host_rx_rings: u32`.
    pub const HOST_RX_RINGS: usize = offset_of!(NetmapIf, ni_host_rx_rings);
    /// `ni_spare1: [u32; 3]`.
    pub const SPARE1: usize = offset_of!(NetmapIf, ni_spare1);
    /// `ring_ofs[0]`.
    pub const RING_OFS: usize = offset_of!(NetmapIf, ring_ofs);
}

/// Offset of slot `index` from the start of its ring.
pub const fn slot_offset(index: u32) -> usize {
    RING_HEADER_SIZE + index as usize * SLOT_SIZE
}

/// Bytes taken by a ring of `num_slots` slots (header included).
pub const fn ring_bytes(num_slots: u32) -> usize {
    slot_offset(num_slots)
}

/// Offset of `ring_ofs[index]` from the start of the `netmap_if`.
pub const fn ring_ofs_offset(index: u32) -> usize {
    if_off::RING_OFS + index as usize * RING_OFS_ENTRY_SIZE
}

/// Bytes taken by a `netmap_if` describing `total_rings` rings (all four
/// kinds together).
pub const fn if_bytes(total_rings: u32) -> usize {
    ring_ofs_offset(total_rings)
}

/// Index into `ring_ofs[]` of TX ring `tx_ring`, counting NIC rings first and
/// host rings after them (as `NETMAP_TXRING` does).
pub const fn tx_ring_ofs_index(tx_ring: u32) -> u32 {
    tx_ring
}

/// Index into `ring_ofs[]` of RX ring `rx_ring`: the RX entries follow all
/// TX entries, NIC and host (as `NETMAP_RXRING` does).
pub const fn rx_ring_ofs_index(rx_ring: u32, ni_tx_rings: u32, ni_host_tx_rings: u32) -> u32 {
    rx_ring + ni_tx_rings + ni_host_tx_rings
}

// ---------------------------------------------------------------------------
// Slot flags (netmap_slot.flags)
// ---------------------------------------------------------------------------

/// `buf_idx` changed; set by whoever swaps a buffer.
pub const NS_BUF_CHANGED: u16 = 0x0001;
/// Ask for a notification when the slot has been processed.
pub const NS_REPORT: u16 = 0x0002;
/// On an RX ring with `NR_FORWARD`: pass the released slot to the peer ring.
pub const NS_FORWARD: u16 = 0x0004;
/// VALE: do not learn the source MAC of this frame.
pub const NS_NO_LEARN: u16 = 0x0008;
/// VALE TX: the payload is at the user address in `slot.ptr`.
pub const NS_INDIRECT: u16 = 0x0010;
/// More fragments of this packet follow in the next slot.
pub const NS_MOREFRAG: u16 = 0x0020;
/// Monitor ports: the frame was seen on the monitored port's TX ring.
pub const NS_TXMON: u16 = 0x0040;
/// Shift of the high byte (VALE destination port on TX).
pub const NS_PORT_SHIFT: u16 = 8;
/// Mask of the high byte.
pub const NS_PORT_MASK: u16 = 0xff << NS_PORT_SHIFT;

/// VALE destination port override carried in the high byte of TX slot flags
/// (0: use the lookup table).
pub const fn ns_port(flags: u16) -> u8 {
    ((flags & NS_PORT_MASK) >> NS_PORT_SHIFT) as u8
}

/// Fragment count carried in the high byte of VALE RX slot flags
/// (`NS_RFRAGS`).
pub const fn ns_rfrags(flags: u16) -> u8 {
    ((flags >> 8) & 0xff) as u8
}

// ---------------------------------------------------------------------------
// Ring flags (netmap_ring.flags), interface flags (netmap_if.ni_flags)
// ---------------------------------------------------------------------------

/// Update `ring.ts` on every sync.
pub const NR_TIMESTAMP: u32 = 0x0002;
/// Honour `NS_FORWARD` on this ring.
pub const NR_FORWARD: u32 = 0x0004;
/// The interface uses a private memory region.
pub const NI_PRIV_MEM: u32 = 0x1;

// ---------------------------------------------------------------------------
// Register modes (nmreq_register.nr_mode) and flags (nr_flags)
// ---------------------------------------------------------------------------

/// Backward compatibility only; behaves as `NR_REG_ALL_NIC`.
pub const NR_REG_DEFAULT: u32 = 0;
/// All NIC rings.
pub const NR_REG_ALL_NIC: u32 = 1;
/// All host rings.
pub const NR_REG_SW: u32 = 2;
/// All NIC and host rings.
pub const NR_REG_NIC_SW: u32 = 3;
/// One NIC ring pair, `nr_ringid`.
pub const NR_REG_ONE_NIC: u32 = 4;
/// Pipe master end (deprecated: use the `x{y` name syntax).
pub const NR_REG_PIPE_MASTER: u32 = 5;
/// Pipe slave end (deprecated: use the `x}y` name syntax).
pub const NR_REG_PIPE_SLAVE: u32 = 6;
/// No rings (a port kept open without binding rings).
pub const NR_REG_NULL: u32 = 7;
/// One host ring pair, `nr_ringid`.
pub const NR_REG_ONE_SW: u32 = 8;
/// Legacy `nmreq.nr_flags`: the bits holding the `NR_REG_*` mode.
pub const NR_REG_MASK: u32 = 0xf;

/// Monitor the TX side of the selected rings.
pub const NR_MONITOR_TX: u64 = 0x100;
/// Monitor the RX side of the selected rings.
pub const NR_MONITOR_RX: u64 = 0x200;
/// Zero-copy monitor.
pub const NR_ZCOPY_MON: u64 = 0x400;
/// Exclusive access to the selected rings.
pub const NR_EXCLUSIVE: u64 = 0x800;
/// Bind RX rings only.
pub const NR_RX_RINGS_ONLY: u64 = 0x2000;
/// Bind TX rings only.
pub const NR_TX_RINGS_ONLY: u64 = 0x4000;
/// The application handles virtio-net headers.
pub const NR_ACCEPT_VNET_HDR: u64 = 0x8000;
/// `poll()` also syncs RX rings without `POLLIN`.
pub const NR_DO_RX_POLL: u64 = 0x10000;
/// `poll()` syncs TX rings only with `POLLOUT`.
pub const NR_NO_TX_POLL: u64 = 0x20000;

// ---------------------------------------------------------------------------
// Request types (nmreq_header.nr_reqtype) and option types (nro_reqtype)
// ---------------------------------------------------------------------------

/// Bind a port to the control device.
pub const NETMAP_REQ_REGISTER: u16 = 1;
/// Query ring counts, slots and memory of a port.
pub const NETMAP_REQ_PORT_INFO_GET: u16 = 2;
/// Attach a port to a VALE switch.
pub const NETMAP_REQ_VALE_ATTACH: u16 = 3;
/// Detach a port from a VALE switch.
pub const NETMAP_REQ_VALE_DETACH: u16 = 4;
/// List the ports of VALE switches.
pub const NETMAP_REQ_VALE_LIST: u16 = 5;
/// Set the port header length.
pub const NETMAP_REQ_PORT_HDR_SET: u16 = 6;
/// Get the port header length.
pub const NETMAP_REQ_PORT_HDR_GET: u16 = 7;
/// Create a persistent VALE port.
pub const NETMAP_REQ_VALE_NEWIF: u16 = 8;
/// Delete a persistent VALE port.
pub const NETMAP_REQ_VALE_DELIF: u16 = 9;
/// Start kernel polling threads on a VALE port.
pub const NETMAP_REQ_VALE_POLLING_ENABLE: u16 = 10;
/// Stop kernel polling threads on a VALE port.
pub const NETMAP_REQ_VALE_POLLING_DISABLE: u16 = 11;
/// Query the pools of a memory allocator.
pub const NETMAP_REQ_POOLS_INFO_GET: u16 = 12;
/// Run the in-kernel sync loop in the calling thread.
pub const NETMAP_REQ_SYNC_KLOOP_START: u16 = 13;
/// Stop the in-kernel sync loop.
pub const NETMAP_REQ_SYNC_KLOOP_STOP: u16 = 14;
/// Switch a bound control device to CSB mode.
pub const NETMAP_REQ_CSB_ENABLE: u16 = 15;

/// Pools in user-provided memory.
pub const NETMAP_REQ_OPT_EXTMEM: u32 = 1;
/// Eventfds for the in-kernel sync loop.
pub const NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS: u32 = 2;
/// Exchange ring pointers through a control/status block.
pub const NETMAP_REQ_OPT_CSB: u32 = 3;
/// Direct TX/RX syncs for the in-kernel loop.
pub const NETMAP_REQ_OPT_SYNC_KLOOP_MODE: u32 = 4;
/// Packet offsets inside buffers, carried in `slot.ptr`.
pub const NETMAP_REQ_OPT_OFFSETS: u32 = 5;
/// One past the last option type.
pub const NETMAP_REQ_OPT_MAX: u32 = 6;

/// `NETMAP_REQ_OPT_SYNC_KLOOP_MODE`: sync TX in the notifier context.
pub const NM_OPT_SYNC_KLOOP_DIRECT_TX: u32 = 1 << 0;
/// `NETMAP_REQ_OPT_SYNC_KLOOP_MODE`: sync RX in the notifier context.
pub const NM_OPT_SYNC_KLOOP_DIRECT_RX: u32 = 1 << 1;
/// VALE polling: one thread on one CPU.
pub const NETMAP_POLLING_MODE_SINGLE_CPU: u32 = 1;
/// VALE polling: one thread per CPU.
pub const NETMAP_POLLING_MODE_MULTI_CPU: u32 = 2;

// ---------------------------------------------------------------------------
// Legacy API (nmreq.nr_ringid bits, nmreq.nr_cmd commands)
// ---------------------------------------------------------------------------

/// `nr_ringid`: bind the single NIC ring pair in the low bits.
pub const NETMAP_HW_RING: u16 = 0x4000;
/// `nr_ringid`: bind the host ring pair only.
pub const NETMAP_SW_RING: u16 = 0x2000;
/// `nr_ringid`: the ring number bits.
pub const NETMAP_RING_MASK: u16 = 0x0fff;
/// `nr_ringid`: no implicit TX sync on `poll()`.
pub const NETMAP_NO_TX_POLL: u16 = 0x1000;
/// `nr_ringid`: implicit RX sync on `poll()`.
pub const NETMAP_DO_RX_POLL: u16 = 0x8000;

/// `nr_cmd`: attach a NIC to a switch.
pub const NETMAP_BDG_ATTACH: u16 = 1;
/// `nr_cmd`: detach a NIC from a switch.
pub const NETMAP_BDG_DETACH: u16 = 2;
/// `nr_cmd`: register switch callbacks (kernel modules).
pub const NETMAP_BDG_REGOPS: u16 = 3;
/// `nr_cmd`: list switches and ports.
pub const NETMAP_BDG_LIST: u16 = 4;
/// `nr_cmd`: set the port's virtio-net header length.
pub const NETMAP_BDG_VNET_HDR: u16 = 5;
/// `nr_cmd`: create a persistent port.
pub const NETMAP_BDG_NEWIF: u16 = 6;
/// `nr_cmd`: delete a persistent port.
pub const NETMAP_BDG_DELIF: u16 = 7;
/// `nr_cmd`: create ptnetmap threads.
pub const NETMAP_PT_HOST_CREATE: u16 = 8;
/// `nr_cmd`: delete ptnetmap threads.
pub const NETMAP_PT_HOST_DELETE: u16 = 9;
/// `nr_cmd`: start polling threads.
pub const NETMAP_BDG_POLLING_ON: u16 = 10;
/// `nr_cmd`: stop polling threads.
pub const NETMAP_BDG_POLLING_OFF: u16 = 11;
/// `nr_cmd`: get the port's virtio-net header length.
pub const NETMAP_VNET_HDR_GET: u16 = 12;
/// `nr_arg1` with `NETMAP_BDG_ATTACH`: attach the host rings too.
pub const NETMAP_BDG_HOST: u16 = 1;

// ---------------------------------------------------------------------------
// ioctl numbers (Linux encoding)
// ---------------------------------------------------------------------------

/// The ioctl "type" byte netmap uses.
pub const NETMAP_IOC_TYPE: u8 = b'i';

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Linux `_IOC(dir, type, nr, size)`. Fails to compile (in const context)
/// when the size does not fit the 14-bit field.
pub const fn ioc(dir: u32, ioc_type: u8, nr: u8, size: usize) -> u32 {
    assert!(size < (1 << IOC_SIZEBITS), "ioctl argument too large");
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | ((ioc_type as u32) << IOC_TYPESHIFT)
        | ((nr as u32) << IOC_NRSHIFT)
}

/// Linux `_IO(type, nr)`: no argument.
pub const fn io(ioc_type: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, ioc_type, nr, 0)
}

/// Linux `_IOWR(type, nr, T)` with `size = size_of::<T>()`.
pub const fn iowr(ioc_type: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ioc_type, nr, size)
}

/// Legacy: port information, argument [`Nmreq`].
pub const NIOCGINFO: u32 = iowr(NETMAP_IOC_TYPE, 145, size_of::<Nmreq>());
/// Legacy: register a port, argument [`Nmreq`].
pub const NIOCREGIF: u32 = iowr(NETMAP_IOC_TYPE, 146, size_of::<Nmreq>());
/// Sync the bound TX rings; no argument.
pub const NIOCTXSYNC: u32 = io(NETMAP_IOC_TYPE, 148);
/// Sync the bound RX rings; no argument.
pub const NIOCRXSYNC: u32 = io(NETMAP_IOC_TYPE, 149);
/// Configuration for external modules, argument [`NmIfreq`].
pub const NIOCCONFIG: u32 = iowr(NETMAP_IOC_TYPE, 150, size_of::<NmIfreq>());
/// Every request of the new API, argument [`NmreqHeader`].
pub const NIOCCTRL: u32 = iowr(NETMAP_IOC_TYPE, 151, size_of::<NmreqHeader>());

// ---------------------------------------------------------------------------
// Compile-time layout checks (facts of netmap API 14 on x86-64 Linux)
// ---------------------------------------------------------------------------

macro_rules! assert_layout {
    ($ty:ty, size $size:expr, align $align:expr, { $($field:ident @ $off:expr),* $(,)? }) => {
        const _: () = assert!(size_of::<$ty>() == $size);
        const _: () = assert!(align_of::<$ty>() == $align);
        $(const _: () = assert!(offset_of!($ty, $field) == $off);)*
    };
}

assert_layout!(NetmapSlot, size 16, align 8, {
    buf_idx @ 0, len @ 4, flags @ 6, ptr @ 8,
});
assert_layout!(Timeval, size 16, align 8, { tv_sec @ 0, tv_usec @ 8 });
assert_layout!(RingSem, size 128, align 128, {});
assert_layout!(NetmapRing, size 256, align 128, {
    buf_ofs @ 0, num_slots @ 8, nr_buf_size @ 12, ringid @ 16, dir @ 18,
    head @ 20, cur @ 24, tail @ 28, flags @ 32, ts @ 40,
    offset_mask @ 56, buf_align @ 64, sem @ 128, slot @ 256,
});
assert_layout!(NetmapIf, size 56, align 8, {
    ni_name @ 0, ni_version @ 16, ni_flags @ 20, ni_tx_rings @ 24,
    ni_rx_rings @ 28, ni_bufs_head @ 32, ni_host_tx_rings @ 36,
    ni_host_rx_rings @ 40, ni_spare1 @ 44, ring_ofs @ 56,
});
assert_layout!(Nmreq, size 60, align 4, {
    nr_name @ 0, nr_version @ 16, nr_offset @ 20, nr_memsize @ 24,
    nr_tx_slots @ 28, nr_rx_slots @ 32, nr_tx_rings @ 36, nr_rx_rings @ 38,
    nr_ringid @ 40, nr_cmd @ 42, nr_arg1 @ 44, nr_arg2 @ 46, nr_arg3 @ 48,
    nr_flags @ 52, spare2 @ 56,
});
assert_layout!(NmreqHeader, size 88, align 8, {
    nr_version @ 0, nr_reqtype @ 2, nr_reserved @ 4, nr_name @ 8,
    nr_options @ 72, nr_body @ 80,
});
assert_layout!(NmreqRegister, size 56, align 8, {
    nr_offset @ 0, nr_memsize @ 8, nr_tx_slots @ 16, nr_rx_slots @ 20,
    nr_tx_rings @ 24, nr_rx_rings @ 26, nr_host_tx_rings @ 28,
    nr_host_rx_rings @ 30, nr_mem_id @ 32, nr_ringid @ 34, nr_mode @ 36,
    nr_extra_bufs @ 40, nr_flags @ 48,
});
assert_layout!(NmreqOption, size 24, align 8, {
    nro_next @ 0, nro_reqtype @ 8, nro_status @ 12, nro_size @ 16,
});
assert_layout!(NmreqPoolsInfo, size 64, align 8, {
    nr_memsize @ 0, nr_mem_id @ 8, pad1 @ 10, nr_if_pool_offset @ 16,
    nr_if_pool_objtotal @ 24, nr_if_pool_objsize @ 28,
    nr_ring_pool_offset @ 32, nr_ring_pool_objtotal @ 40,
    nr_ring_pool_objsize @ 44, nr_buf_pool_offset @ 48,
    nr_buf_pool_objtotal @ 56, nr_buf_pool_objsize @ 60,
});
assert_layout!(NmreqOptExtmem, size 96, align 8, {
    nro_opt @ 0, nro_usrptr @ 24, nro_info @ 32,
});
assert_layout!(NmreqOptOffsets, size 56, align 8, {
    nro_opt @ 0, nro_max_offset @ 24, nro_initial_offset @ 32,
    nro_offset_bits @ 40, nro_tx_align @ 44, nro_min_gap @ 48,
});
assert_layout!(NmIfreq, size 272, align 1, { nifr_name @ 0, data @ 16 });

// The exported constants are what other modules address memory with.
const _: () = assert!(SLOT_SIZE == 16 && RING_HEADER_SIZE == 256 && IF_HEADER_SIZE == 56);
const _: () = assert!(RING_ALIGN == NM_CACHE_ALIGN);
const _: () = assert!(ring_off::SLOT == RING_HEADER_SIZE && if_off::RING_OFS == IF_HEADER_SIZE);
const _: () = assert!(ring_off::TS_SEC == 40 && ring_off::TS_USEC == 48);

// The ioctl numbers netmap applications are built with on Linux.
const _: () = assert!(NIOCCTRL == 0xC058_6997);
const _: () = assert!(NIOCREGIF == 0xC03C_6992);
const _: () = assert!(NIOCGINFO == 0xC03C_6991);
const _: () = assert!(NIOCTXSYNC == 0x6994);
const _: () = assert!(NIOCRXSYNC == 0x6995);
const _: () = assert!(NIOCCONFIG == 0xC110_6996);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_and_ring_helpers_agree_with_the_layout() {
        assert_eq!(slot_offset(0), ring_off::SLOT);
        assert_eq!(slot_offset(3) - slot_offset(2), SLOT_SIZE);
        assert_eq!(ring_bytes(1024), 256 + 1024 * 16);
        assert_eq!(if_bytes(0), IF_HEADER_SIZE);
        assert_eq!(ring_ofs_offset(5), 56 + 5 * 8);
    }

    #[test]
    fn rx_rings_follow_all_tx_rings_in_ring_ofs() {
        // 4 NIC TX, 1 host TX: RX ring 0 is entry 5, RX ring 2 is entry 7.
        assert_eq!(rx_ring_ofs_index(0, 4, 1), 5);
        assert_eq!(rx_ring_ofs_index(2, 4, 1), 7);
        assert_eq!(tx_ring_ofs_index(4), 4);
    }

    #[test]
    fn high_byte_of_slot_flags() {
        let flags = NS_MOREFRAG | (7 << NS_PORT_SHIFT);
        assert_eq!(ns_port(flags), 7);
        assert_eq!(ns_rfrags(flags), 7);
        assert_eq!(ns_rfrags(NS_MOREFRAG | NS_NO_LEARN), 0);
        assert_eq!(ns_port(0xffff), 0xff);
    }

    #[test]
    fn ioctl_encoding_matches_linux_fields() {
        let n = iowr(b'i', 151, 88);
        assert_eq!(n >> 30, 3, "read|write direction");
        assert_eq!((n >> 16) & 0x3fff, 88, "size");
        assert_eq!((n >> 8) & 0xff, u32::from(b'i'), "type");
        assert_eq!(n & 0xff, 151, "number");
        assert_eq!(io(b'i', 148) >> 16, 0, "no direction, no size");
    }

    #[test]
    fn flag_groups_do_not_overlap() {
        let slot = [
            NS_BUF_CHANGED,
            NS_REPORT,
            NS_FORWARD,
            NS_NO_LEARN,
            NS_INDIRECT,
            NS_MOREFRAG,
            NS_TXMON,
        ];
        let reg = [
            NR_MONITOR_TX,
            NR_MONITOR_RX,
            NR_ZCOPY_MON,
            NR_EXCLUSIVE,
            NR_RX_RINGS_ONLY,
            NR_TX_RINGS_ONLY,
            NR_ACCEPT_VNET_HDR,
            NR_DO_RX_POLL,
            NR_NO_TX_POLL,
        ];
        let slot_union = slot.iter().fold(0u16, |acc, f| {
            assert_eq!(acc & f, 0, "slot flag {f:#x} overlaps");
            assert_eq!(f.count_ones(), 1);
            acc | f
        });
        assert_eq!(
            slot_union & NS_PORT_MASK,
            0,
            "low flags stay out of the port byte"
        );
        let reg_union = reg.iter().fold(0u64, |acc, f| {
            assert_eq!(acc & f, 0, "register flag {f:#x} overlaps");
            assert_eq!(f.count_ones(), 1);
            acc | f
        });
        assert_eq!(
            reg_union & u64::from(NR_REG_MASK),
            0,
            "flags stay out of the legacy mode bits"
        );
    }
}
