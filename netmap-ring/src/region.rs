//! netmap's memory: three pools (interfaces, rings, buffers) in one region.
//!
//! ```text
//! 0            meta: header page, then the free stacks of the three pools
//! ctrl_off     control area, owned by the engine (switch and port state)
//! if_off       netmap_if pool   (if_objects   x if_object_size)
//! ring_off     ring pool        (ring_objects x ring_object_size)
//! buf_off      buffer pool      (num_bufs     x buf_size)
//! ```
//! Every area is a whole number of pages. Objects are fixed-size, as in
//! netmap's allocator, so that allocation is a pop from a free stack. Each
//! ring's `buf_ofs` is the distance from the ring to the buffer pool, so
//! `NETMAP_BUF(ring, i)` lands on buffer `i` of this one pool. Buffers 0
//! and 1 are reserved as in netmap (never handed out, never freed).
//!
//! Nothing here holds a pointer: every location is an offset in the region,
//! so any process that maps the region sees the same state.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::lock::{Acquired, ShmLock, ShmLockGuard};
use crate::shm::{SharedRegion, ShmError};

/// Page size the pools are built from.
pub const PAGE_SIZE: usize = 4096;
/// Buffers netmap reserves at the start of the pool.
pub const RESERVED_BUFFERS: u32 = 2;
/// Largest ring netmap allows.
pub const MAX_RING_SLOTS: u32 = 4096;

const MAGIC: u64 = u64::from_le_bytes(*b"NMRSMEM1");
const VERSION: u32 = 1;

/// Offsets of the header fields at the start of the region.
mod hdr {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 8;
    pub const READY: usize = 12;
    pub const TOTAL_LEN: usize = 16;
    pub const CTRL_OFF: usize = 24;
    pub const CTRL_SIZE: usize = 32;
    pub const IF_OFF: usize = 40;
    pub const IF_OBJ_SIZE: usize = 48;
    pub const IF_OBJS: usize = 52;
    pub const RING_OFF: usize = 56;
    pub const RING_OBJ_SIZE: usize = 64;
    pub const RING_OBJS: usize = 68;
    pub const BUF_OFF: usize = 72;
    pub const BUF_SIZE: usize = 80;
    pub const NUM_BUFS: usize = 84;
    pub const LOCK: usize = 88;
    pub const FREE_BUFS: usize = 92;
    pub const FREE_IFS: usize = 96;
    pub const FREE_RINGS: usize = 100;
    pub const BUF_STACK_OFF: usize = 104;
    pub const IF_STACK_OFF: usize = 112;
    pub const RING_STACK_OFF: usize = 120;
    pub const ALLOC_FAILURES: usize = 128;
}

/// What a region is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionConfig {
    /// Bytes of control area the engine needs (rounded up to pages).
    pub ctrl_size: usize,
    /// Number of netmap_if objects (one per registered port).
    pub if_objects: u32,
    /// Bytes per netmap_if object: header plus one `ring_ofs` per ring.
    pub if_object_size: u32,
    /// Number of ring objects.
    pub ring_objects: u32,
    /// Largest `num_slots` a ring of this region may have.
    pub max_ring_slots: u32,
    /// `nr_buf_size`: bytes per buffer. Not a power of two by default:
    /// 2112 keeps 60-byte copies from colliding in the cache (DESIGN.md 6).
    pub buf_size: u32,
    /// Buffers in the pool, reserved ones included.
    pub num_bufs: u32,
}

impl Default for RegionConfig {
    fn default() -> Self {
        Self {
            ctrl_size: PAGE_SIZE,
            if_objects: 256,
            if_object_size: 1024,
            ring_objects: 1024,
            max_ring_slots: MAX_RING_SLOTS,
            buf_size: 2112,
            num_bufs: 65536,
        }
    }
}

/// A region configuration that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizingError {
    #[error("buffer size {0} is out of range: use 64..=65535 bytes, a multiple of 64")]
    BufSize(u32),
    #[error("{0} buffers is too few: need at least {min}", min = RESERVED_BUFFERS + 1)]
    TooFewBuffers(u32),
    #[error("max ring slots {0} is out of range: use 1..={MAX_RING_SLOTS}")]
    RingSlots(u32),
    #[error("netmap_if objects of {0} bytes are too small: need at least 64")]
    IfObjectSize(u32),
    #[error("{what} pool is empty: configure at least one object")]
    EmptyPool { what: &'static str },
    #[error("region would be {bytes} bytes, larger than the address space allows; reduce num_bufs or buf_size")]
    TooLarge { bytes: u128 },
}

/// An allocation that could not be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllocError {
    #[error("buffer pool exhausted: {wanted} buffers wanted, {free} free of {total}; close ports, use fewer or smaller rings (@conf:slots=), or create the region with more buffers")]
    Buffers { wanted: u32, free: u32, total: u32 },
    #[error("ring pool exhausted: {wanted} rings wanted, {free} free of {total}; close ports, use fewer rings (@conf:rings=), or create the region with more ring objects")]
    Rings { wanted: u32, free: u32, total: u32 },
    #[error("netmap_if pool exhausted: all {total} port slots of this memory are in use")]
    Ifs { total: u32 },
    #[error("ring of {slots} slots exceeds this memory's maximum of {max}")]
    RingTooLarge { slots: u32, max: u32 },
    #[error("cannot reserve memory for {wanted} buffers or rings: {} (the memory's file system is full; see df -h)", std::io::Error::from_raw_os_error(*errno))]
    NoSpace { wanted: u32, errno: i32 },
}

/// A region whose header does not describe a usable memory.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("not a netmap memory region (bad magic or version)")]
    NotNetmap,
    #[error("region header is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error(transparent)]
    Shm(#[from] ShmError),
}

/// Buffer bookkeeping that does not add up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConservationError {
    #[error("buffer {index} is out of range 2..{num_bufs}")]
    OutOfRange { index: u32, num_bufs: u32 },
    #[error("buffer {index} is counted twice (free: {in_free}, in use: {in_use})")]
    Duplicate {
        index: u32,
        in_free: bool,
        in_use: bool,
    },
    #[error("{missing} buffers are neither free nor in use (first: {first})")]
    Lost { missing: u32, first: u32 },
}

/// Where everything is, computed once from a [`RegionConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionLayout {
    pub config: RegionConfig,
    pub buf_stack_off: usize,
    pub if_stack_off: usize,
    pub ring_stack_off: usize,
    pub ctrl_off: usize,
    pub ctrl_size: usize,
    pub if_off: usize,
    pub ring_off: usize,
    pub ring_object_size: usize,
    pub buf_off: usize,
    pub total_len: usize,
}

fn pages(bytes: u128) -> u128 {
    bytes.div_ceil(PAGE_SIZE as u128) * PAGE_SIZE as u128
}

/// Bytes of one ring object able to hold `slots` slots.
pub fn ring_object_size(slots: u32) -> usize {
    (crate::abi::RING_HEADER_SIZE + crate::abi::SLOT_SIZE * slots as usize).next_multiple_of(64)
}

impl RegionLayout {
    /// Lays out a region, or says which figure does not work.
    pub fn new(config: RegionConfig) -> Result<Self, SizingError> {
        let c = config;
        if !(64..=65535).contains(&c.buf_size) || !c.buf_size.is_multiple_of(64) {
            return Err(SizingError::BufSize(c.buf_size));
        }
        if c.num_bufs <= RESERVED_BUFFERS {
            return Err(SizingError::TooFewBuffers(c.num_bufs));
        }
        if !(1..=MAX_RING_SLOTS).contains(&c.max_ring_slots) {
            return Err(SizingError::RingSlots(c.max_ring_slots));
        }
        if c.if_object_size < 64 {
            return Err(SizingError::IfObjectSize(c.if_object_size));
        }
        if c.if_objects == 0 {
            return Err(SizingError::EmptyPool { what: "netmap_if" });
        }
        if c.ring_objects == 0 {
            return Err(SizingError::EmptyPool { what: "ring" });
        }
        let ring_object_size = ring_object_size(c.max_ring_slots);
        let mut at: u128 = PAGE_SIZE as u128; // the header page
        let mut place = |bytes: u128| {
            let start = at;
            at += pages(bytes);
            start
        };
        let buf_stack = place(4 * c.num_bufs as u128);
        let if_stack = place(4 * c.if_objects as u128);
        let ring_stack = place(4 * c.ring_objects as u128);
        let ctrl_size = pages(c.ctrl_size as u128);
        let ctrl = place(ctrl_size);
        let ifs = place(c.if_objects as u128 * c.if_object_size as u128);
        let rings = place(c.ring_objects as u128 * ring_object_size as u128);
        let bufs = place(c.num_bufs as u128 * c.buf_size as u128);
        // Offsets go into i64 fields (buf_ofs, ring_ofs): stay below 2^62.
        if at > (1u128 << 62) {
            return Err(SizingError::TooLarge { bytes: at });
        }
        Ok(Self {
            // Normalised, so that a layout read back from a region equals
            // the one it was made from.
            config: RegionConfig {
                ctrl_size: ctrl_size as usize,
                ..config
            },
            buf_stack_off: buf_stack as usize,
            if_stack_off: if_stack as usize,
            ring_stack_off: ring_stack as usize,
            ctrl_off: ctrl as usize,
            ctrl_size: ctrl_size as usize,
            if_off: ifs as usize,
            ring_off: rings as usize,
            ring_object_size,
            buf_off: bufs as usize,
            total_len: at as usize,
        })
    }
}

/// A formatted netmap memory region and its allocator.
///
/// Cloning is cheap: clones share the mapping.
#[derive(Clone, Debug)]
pub struct NetmapMemory {
    region: Arc<SharedRegion>,
    layout: RegionLayout,
}

impl NetmapMemory {
    /// Creates an anonymous (memfd) region and formats it.
    pub fn create(name: &str, config: RegionConfig) -> Result<Self, AttachError> {
        let layout = RegionLayout::new(config)
            .map_err(|_| AttachError::Inconsistent("invalid configuration"))?;
        let region = Arc::new(SharedRegion::create(name, layout.total_len)?);
        Self::format(region, config).map_err(|e| match e {
            FormatError::Sizing(_) => AttachError::Inconsistent("invalid configuration"),
            FormatError::Shm(e) => AttachError::Shm(e),
        })
    }

    /// Formats a zero-filled region of at least `RegionLayout::total_len`
    /// bytes: writes the header and fills the free stacks.
    pub fn format(region: Arc<SharedRegion>, config: RegionConfig) -> Result<Self, FormatError> {
        let layout = RegionLayout::new(config)?;
        if region.len() < layout.total_len {
            return Err(FormatError::Shm(ShmError::OutOfBounds {
                offset: 0,
                size: layout.total_len,
                region_len: region.len(),
            }));
        }
        let r = &region;
        let c = &layout.config;
        r.write(hdr::VERSION, VERSION)?;
        r.write(hdr::TOTAL_LEN, layout.total_len as u64)?;
        r.write(hdr::CTRL_OFF, layout.ctrl_off as u64)?;
        r.write(hdr::CTRL_SIZE, layout.ctrl_size as u64)?;
        r.write(hdr::IF_OFF, layout.if_off as u64)?;
        r.write(hdr::IF_OBJ_SIZE, c.if_object_size)?;
        r.write(hdr::IF_OBJS, c.if_objects)?;
        r.write(hdr::RING_OFF, layout.ring_off as u64)?;
        r.write(hdr::RING_OBJ_SIZE, layout.ring_object_size as u32)?;
        r.write(hdr::RING_OBJS, c.ring_objects)?;
        r.write(hdr::BUF_OFF, layout.buf_off as u64)?;
        r.write(hdr::BUF_SIZE, c.buf_size)?;
        r.write(hdr::NUM_BUFS, c.num_bufs)?;
        r.write(hdr::BUF_STACK_OFF, layout.buf_stack_off as u64)?;
        r.write(hdr::IF_STACK_OFF, layout.if_stack_off as u64)?;
        r.write(hdr::RING_STACK_OFF, layout.ring_stack_off as u64)?;
        // Push in reverse so the lowest indexes come out first.
        let mut top = 0u32;
        for index in (RESERVED_BUFFERS..c.num_bufs).rev() {
            r.write(layout.buf_stack_off + 4 * top as usize, index)?;
            top += 1;
        }
        r.write(hdr::FREE_BUFS, top)?;
        for (n, obj) in (0..c.if_objects).rev().enumerate() {
            r.write(layout.if_stack_off + 4 * n, obj)?;
        }
        r.write(hdr::FREE_IFS, c.if_objects)?;
        for (n, obj) in (0..c.ring_objects).rev().enumerate() {
            r.write(layout.ring_stack_off + 4 * n, obj)?;
        }
        r.write(hdr::FREE_RINGS, c.ring_objects)?;
        // Magic last: a process attaching concurrently sees either nothing
        // or a complete header.
        r.write(hdr::MAGIC, MAGIC)?;
        r.atomic_u32(hdr::READY)?.store(1, Ordering::Release);
        Ok(Self { region, layout })
    }

    /// Attaches to a region formatted by another process.
    pub fn attach(region: Arc<SharedRegion>) -> Result<Self, AttachError> {
        // Acquire: pairs with the Release store of READY in `format`.
        if region.len() < PAGE_SIZE || region.atomic_u32(hdr::READY)?.load(Ordering::Acquire) != 1 {
            return Err(AttachError::NotNetmap);
        }
        if region.read::<u64>(hdr::MAGIC)? != MAGIC || region.read::<u32>(hdr::VERSION)? != VERSION
        {
            return Err(AttachError::NotNetmap);
        }
        let config = RegionConfig {
            ctrl_size: region.read::<u64>(hdr::CTRL_SIZE)? as usize,
            if_objects: region.read(hdr::IF_OBJS)?,
            if_object_size: region.read(hdr::IF_OBJ_SIZE)?,
            ring_objects: region.read(hdr::RING_OBJS)?,
            max_ring_slots: 0,
            buf_size: region.read(hdr::BUF_SIZE)?,
            num_bufs: region.read(hdr::NUM_BUFS)?,
        };
        let ring_object_size = region.read::<u32>(hdr::RING_OBJ_SIZE)? as usize;
        let max_ring_slots = (ring_object_size.saturating_sub(crate::abi::RING_HEADER_SIZE)
            / crate::abi::SLOT_SIZE)
            .min(MAX_RING_SLOTS as usize) as u32;
        let config = RegionConfig {
            max_ring_slots,
            ..config
        };
        let layout = RegionLayout::new(config)
            .map_err(|_| AttachError::Inconsistent("configuration out of range"))?;
        // Everything derived must match what the creator wrote.
        let matches = layout.total_len as u64 == region.read::<u64>(hdr::TOTAL_LEN)?
            && layout.ctrl_off as u64 == region.read::<u64>(hdr::CTRL_OFF)?
            && layout.if_off as u64 == region.read::<u64>(hdr::IF_OFF)?
            && layout.ring_off as u64 == region.read::<u64>(hdr::RING_OFF)?
            && layout.buf_off as u64 == region.read::<u64>(hdr::BUF_OFF)?
            && layout.ring_object_size == ring_object_size
            && layout.total_len <= region.len();
        if !matches {
            return Err(AttachError::Inconsistent(
                "pool offsets disagree with sizes",
            ));
        }
        Ok(Self { region, layout })
    }

    /// The mapping.
    pub fn region(&self) -> &Arc<SharedRegion> {
        &self.region
    }

    /// Where the pools are.
    pub fn layout(&self) -> &RegionLayout {
        &self.layout
    }

    /// `nr_buf_size`.
    pub fn buf_size(&self) -> u32 {
        self.layout.config.buf_size
    }

    /// Buffers in the pool, reserved ones included.
    pub fn num_bufs(&self) -> u32 {
        self.layout.config.num_bufs
    }

    /// Region offset of buffer `index`, if it is a buffer a slot may hold.
    #[inline]
    pub fn buf_offset(&self, index: u32) -> Option<usize> {
        (RESERVED_BUFFERS..self.layout.config.num_bufs)
            .contains(&index)
            .then(|| self.layout.buf_off + index as usize * self.layout.config.buf_size as usize)
    }

    fn lock(&self) -> ShmLockGuard<'_> {
        let word = self
            .region
            .atomic_u32(hdr::LOCK)
            .expect("header lock is inside every formatted region");
        let (guard, how) = ShmLock::new(word).lock();
        if let Acquired::FromDeadHolder { .. } = how {
            // Pops and pushes write the slot before the counter, so a
            // holder killed mid-operation leaves the counter consistent with
            // the stack; at worst one index is in the stack twice or lost,
            // which the conservation check reports.
        }
        guard
    }

    fn counter(&self, field: usize) -> u32 {
        self.region.read(field).unwrap_or(0)
    }

    /// Free buffers now.
    pub fn free_buffers(&self) -> u32 {
        let _guard = self.lock();
        self.counter(hdr::FREE_BUFS)
    }

    /// Allocations refused so far (all pools).
    pub fn alloc_failures(&self) -> u32 {
        self.counter(hdr::ALLOC_FAILURES)
    }

    fn note_failure(&self) {
        let n = self.counter(hdr::ALLOC_FAILURES);
        let _ = self.region.write(hdr::ALLOC_FAILURES, n.wrapping_add(1));
    }

    /// Pops `count` entries of a free stack, all or nothing.
    fn pop(&self, top_field: usize, stack_off: usize, count: u32, out: &mut Vec<u32>) -> bool {
        let top = self.counter(top_field);
        if top < count {
            self.note_failure();
            return false;
        }
        for n in 0..count {
            let at = stack_off + 4 * (top - 1 - n) as usize;
            out.push(self.region.read(at).unwrap_or(0));
        }
        crate::crash_point!("region::pop:taken");
        let _ = self.region.write(top_field, top - count);
        true
    }

    fn push(&self, top_field: usize, stack_off: usize, capacity: u32, value: u32) {
        let top = self.counter(top_field);
        if top < capacity {
            let _ = self.region.write(stack_off + 4 * top as usize, value);
            crate::crash_point!("region::push:written");
            let _ = self.region.write(top_field, top + 1);
        }
    }

    /// Allocates `count` buffers, all or nothing, appending them to `out`.
    ///
    /// The buffers' memory is reserved here, not when the region is made:
    /// a region's pool is large and mostly never used, and a buffer's
    /// pages must exist before anyone touches them (see
    /// [`SharedRegion::reserve`]). Freed buffers keep their pages.
    pub fn alloc_buffers(&self, count: u32, out: &mut Vec<u32>) -> Result<(), AllocError> {
        let _guard = self.lock();
        let total = self.layout.config.num_bufs - RESERVED_BUFFERS;
        let first = out.len();
        if self.pop(hdr::FREE_BUFS, self.layout.buf_stack_off, count, out) {
            if let Err(e) = self.reserve_buffers(&out[first..]) {
                let capacity = self.layout.config.num_bufs - RESERVED_BUFFERS;
                for &index in out[first..].iter().rev() {
                    self.push(hdr::FREE_BUFS, self.layout.buf_stack_off, capacity, index);
                }
                out.truncate(first);
                return Err(AllocError::NoSpace {
                    wanted: count,
                    errno: e.raw_os_error().unwrap_or(libc::ENOSPC),
                });
            }
            Ok(())
        } else {
            Err(AllocError::Buffers {
                wanted: count,
                free: self.counter(hdr::FREE_BUFS),
                total,
            })
        }
    }

    /// Reserves the pages of `indexes`' buffers, in runs of adjacent
    /// buffers (a fresh pool hands them out in order: one call per ring).
    fn reserve_buffers(&self, indexes: &[u32]) -> std::io::Result<()> {
        let mut sorted = indexes.to_vec();
        sorted.sort_unstable();
        let size = self.layout.config.buf_size as usize;
        let mut at = 0;
        while at < sorted.len() {
            let mut end = at + 1;
            while end < sorted.len() && sorted[end] == sorted[end - 1] + 1 {
                end += 1;
            }
            let offset = self.layout.buf_off + sorted[at] as usize * size;
            self.region.reserve(offset, (end - at) * size)?;
            at = end;
        }
        Ok(())
    }

    /// Returns buffers to the pool. Indexes that are not real buffers
    /// (reserved or out of range) are skipped and their number returned:
    /// they came from memory a user could write.
    pub fn release_buffers(&self, indexes: impl IntoIterator<Item = u32>) -> u32 {
        let _guard = self.lock();
        let mut rejected = 0;
        let capacity = self.layout.config.num_bufs - RESERVED_BUFFERS;
        for index in indexes {
            if self.buf_offset(index).is_some() {
                self.push(hdr::FREE_BUFS, self.layout.buf_stack_off, capacity, index);
            } else {
                rejected += 1;
            }
        }
        rejected
    }

    /// Allocates a netmap_if object; returns its region offset.
    pub fn alloc_if(&self) -> Result<usize, AllocError> {
        let _guard = self.lock();
        let mut got = Vec::with_capacity(1);
        if !self.pop(hdr::FREE_IFS, self.layout.if_stack_off, 1, &mut got) {
            return Err(AllocError::Ifs {
                total: self.layout.config.if_objects,
            });
        }
        let off = self.layout.if_off + got[0] as usize * self.layout.config.if_object_size as usize;
        let _ = self
            .region
            .fill(off, self.layout.config.if_object_size as usize, 0);
        Ok(off)
    }

    /// Frees a netmap_if object by its offset; a bad offset is ignored and
    /// reported as `false`.
    pub fn free_if(&self, offset: usize) -> bool {
        let size = self.layout.config.if_object_size as usize;
        let Some(rel) = offset.checked_sub(self.layout.if_off) else {
            return false;
        };
        if rel % size != 0 || rel / size >= self.layout.config.if_objects as usize {
            return false;
        }
        let _guard = self.lock();
        self.push(
            hdr::FREE_IFS,
            self.layout.if_stack_off,
            self.layout.config.if_objects,
            (rel / size) as u32,
        );
        true
    }

    /// Allocates `count` ring objects for rings of `slots` slots, all or
    /// nothing; returns their region offsets.
    pub fn alloc_rings(&self, count: u32, slots: u32) -> Result<Vec<usize>, AllocError> {
        if slots == 0 || slots > self.layout.config.max_ring_slots {
            return Err(AllocError::RingTooLarge {
                slots,
                max: self.layout.config.max_ring_slots,
            });
        }
        let _guard = self.lock();
        let mut got = Vec::with_capacity(count as usize);
        if !self.pop(hdr::FREE_RINGS, self.layout.ring_stack_off, count, &mut got) {
            return Err(AllocError::Rings {
                wanted: count,
                free: self.counter(hdr::FREE_RINGS),
                total: self.layout.config.ring_objects,
            });
        }
        // Reserved as they are taken, as buffers are (`alloc_buffers`).
        let size = self.layout.ring_object_size;
        let offsets: Vec<usize> = got
            .iter()
            .map(|&obj| self.layout.ring_off + obj as usize * size)
            .collect();
        if let Some(e) = offsets
            .iter()
            .find_map(|&off| self.region.reserve(off, size).err())
        {
            for &obj in got.iter().rev() {
                self.push(
                    hdr::FREE_RINGS,
                    self.layout.ring_stack_off,
                    self.layout.config.ring_objects,
                    obj,
                );
            }
            return Err(AllocError::NoSpace {
                wanted: count,
                errno: e.raw_os_error().unwrap_or(libc::ENOSPC),
            });
        }
        Ok(offsets)
    }

    /// Frees a ring object by its offset; a bad offset is ignored and
    /// reported as `false`.
    pub fn free_ring(&self, offset: usize) -> bool {
        let size = self.layout.ring_object_size;
        let Some(rel) = offset.checked_sub(self.layout.ring_off) else {
            return false;
        };
        if rel % size != 0 || rel / size >= self.layout.config.ring_objects as usize {
            return false;
        }
        let _guard = self.lock();
        self.push(
            hdr::FREE_RINGS,
            self.layout.ring_stack_off,
            self.layout.config.ring_objects,
            (rel / size) as u32,
        );
        true
    }

    /// Allocates `count` extra buffers linked through their first u32
    /// (netmap's `ni_bufs_head` list; 0 ends it). Returns the head.
    pub fn alloc_extra_list(&self, count: u32) -> Result<u32, AllocError> {
        let mut bufs = Vec::with_capacity(count as usize);
        self.alloc_buffers(count, &mut bufs)?;
        let mut next = 0u32;
        for &index in bufs.iter().rev() {
            let off = self.buf_offset(index).expect("allocated buffers are valid");
            let _ = self.region.write(off, next);
            crate::crash_point!("region::extra_list:linking");
            next = index;
        }
        Ok(next)
    }

    /// Walks an extra-buffer list from `head` (a value the user could have
    /// written), collecting at most `limit` valid, distinct indexes; stops
    /// at the first bad link. Returns the indexes and whether the list ended
    /// cleanly (reached 0).
    pub fn walk_extra_list(&self, head: u32, limit: u32) -> (Vec<u32>, bool) {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut index = head;
        while index != 0 {
            if out.len() as u32 >= limit || !seen.insert(index) {
                return (out, false);
            }
            let Some(off) = self.buf_offset(index) else {
                return (out, false);
            };
            out.push(index);
            index = self.region.read(off).unwrap_or(0);
        }
        (out, true)
    }

    /// Rebuilds the three free stacks as the complement of what is in use:
    /// after a process died inside an allocation or a release (its lock
    /// taken over), the stacks may have lost or doubled an entry, and
    /// whatever it had taken but not yet recorded is nowhere. `bufs` are
    /// buffer indexes, `rings` and `ifs` region offsets of ring and
    /// netmap_if objects; values that are not real objects (they may come
    /// from memory an application writes) are ignored. Returns how many
    /// free entries changed per pool (buffers, rings, ifs).
    pub fn rebuild_free_stacks(
        &self,
        bufs: impl IntoIterator<Item = u32>,
        rings: impl IntoIterator<Item = usize>,
        ifs: impl IntoIterator<Item = usize>,
    ) -> [u32; 3] {
        let c = &self.layout.config;
        let l = &self.layout;
        let object = |offset: usize, base: usize, size: usize, count: u32| {
            let rel = offset.checked_sub(base)?;
            (rel % size == 0 && rel / size < count as usize).then_some(rel / size)
        };
        let mut buf_used = vec![false; c.num_bufs as usize];
        for index in bufs {
            if self.buf_offset(index).is_some() {
                buf_used[index as usize] = true;
            }
        }
        let mut ring_used = vec![false; c.ring_objects as usize];
        for off in rings {
            if let Some(n) = object(off, l.ring_off, l.ring_object_size, c.ring_objects) {
                ring_used[n] = true;
            }
        }
        let mut if_used = vec![false; c.if_objects as usize];
        for off in ifs {
            if let Some(n) = object(off, l.if_off, c.if_object_size as usize, c.if_objects) {
                if_used[n] = true;
            }
        }
        let _guard = self.lock();
        let mut changed = [0u32; 3];
        let pools = [
            (
                hdr::FREE_BUFS,
                l.buf_stack_off,
                RESERVED_BUFFERS as usize,
                &buf_used,
            ),
            (hdr::FREE_RINGS, l.ring_stack_off, 0, &ring_used),
            (hdr::FREE_IFS, l.if_stack_off, 0, &if_used),
        ];
        for (n, (top_field, stack_off, first, used)) in pools.into_iter().enumerate() {
            let before = self.counter(top_field);
            // Lowest indexes on top, as `format` leaves them.
            let free: Vec<u32> = (first..used.len())
                .rev()
                .filter(|&i| !used[i])
                .map(|i| i as u32)
                .collect();
            for (at, &index) in free.iter().enumerate() {
                let _ = self.region.write(stack_off + 4 * at, index);
            }
            let _ = self.region.write(top_field, free.len() as u32);
            changed[n] = before.abs_diff(free.len() as u32);
        }
        changed
    }

    /// Checks that every buffer is exactly once either free or in `in_use`.
    pub fn check_conservation(
        &self,
        in_use: impl IntoIterator<Item = u32>,
    ) -> Result<(), ConservationError> {
        let num_bufs = self.layout.config.num_bufs;
        // 0 = unseen, 1 = free, 2 = in use.
        let mut seen = vec![0u8; num_bufs as usize];
        {
            let _guard = self.lock();
            let top = self.counter(hdr::FREE_BUFS);
            for n in 0..top {
                let index: u32 = self
                    .region
                    .read(self.layout.buf_stack_off + 4 * n as usize)
                    .unwrap_or(0);
                if self.buf_offset(index).is_none() {
                    return Err(ConservationError::OutOfRange { index, num_bufs });
                }
                if seen[index as usize] != 0 {
                    return Err(ConservationError::Duplicate {
                        index,
                        in_free: true,
                        in_use: false,
                    });
                }
                seen[index as usize] = 1;
            }
        }
        for index in in_use {
            if self.buf_offset(index).is_none() {
                return Err(ConservationError::OutOfRange { index, num_bufs });
            }
            match seen[index as usize] {
                0 => seen[index as usize] = 2,
                prior => {
                    return Err(ConservationError::Duplicate {
                        index,
                        in_free: prior == 1,
                        in_use: true,
                    })
                }
            }
        }
        let missing: Vec<u32> = (RESERVED_BUFFERS..num_bufs)
            .filter(|&i| seen[i as usize] == 0)
            .collect();
        match missing.first() {
            None => Ok(()),
            Some(&first) => Err(ConservationError::Lost {
                missing: missing.len() as u32,
                first,
            }),
        }
    }
}

/// Failure to format a region.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Sizing(#[from] SizingError),
    #[error(transparent)]
    Shm(#[from] ShmError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> RegionConfig {
        RegionConfig {
            ctrl_size: 100,
            if_objects: 4,
            if_object_size: 256,
            ring_objects: 8,
            max_ring_slots: 64,
            buf_size: 2048,
            num_bufs: 130,
        }
    }

    #[test]
    fn layout_is_page_aligned_and_ordered() {
        let l = RegionLayout::new(small()).unwrap();
        for off in [
            l.buf_stack_off,
            l.if_stack_off,
            l.ring_stack_off,
            l.ctrl_off,
            l.if_off,
            l.ring_off,
            l.buf_off,
            l.total_len,
        ] {
            assert_eq!(off % PAGE_SIZE, 0, "{l:?}");
        }
        assert!(l.ctrl_off < l.if_off && l.if_off < l.ring_off && l.ring_off < l.buf_off);
        assert_eq!(l.ctrl_size, PAGE_SIZE);
        assert_eq!(l.ring_object_size, 256 + 64 * 16);
        assert!(l.buf_off + 130 * 2048 <= l.total_len);
    }

    #[test]
    fn sizing_errors_say_what_is_wrong() {
        let bad = RegionConfig {
            buf_size: 100,
            ..small()
        };
        let err = RegionLayout::new(bad).unwrap_err();
        assert_eq!(err, SizingError::BufSize(100));
        assert!(err.to_string().contains("multiple of 64"));
        let bad = RegionConfig {
            max_ring_slots: 5000,
            ..small()
        };
        assert_eq!(
            RegionLayout::new(bad).unwrap_err(),
            SizingError::RingSlots(5000)
        );
        let bad = RegionConfig {
            num_bufs: 2,
            ..small()
        };
        assert_eq!(
            RegionLayout::new(bad).unwrap_err(),
            SizingError::TooFewBuffers(2)
        );
    }

    #[test]
    fn buffers_are_allocated_freed_and_conserved() {
        let mem = NetmapMemory::create("region-test", small()).unwrap();
        assert_eq!(mem.free_buffers(), 128);
        let mut got = Vec::new();
        mem.alloc_buffers(100, &mut got).unwrap();
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|&i| (2..130).contains(&i)));
        assert_eq!(got[0], 2, "lowest index first");
        let err = mem.alloc_buffers(29, &mut got).unwrap_err();
        assert_eq!(
            err,
            AllocError::Buffers {
                wanted: 29,
                free: 28,
                total: 128
            }
        );
        assert_eq!(got.len(), 100, "a refused allocation takes nothing");
        assert_eq!(mem.alloc_failures(), 1);
        mem.check_conservation(got.iter().copied()).unwrap();
        // Losing one buffer is seen.
        assert_eq!(
            mem.check_conservation(got[1..].iter().copied()),
            Err(ConservationError::Lost {
                missing: 1,
                first: got[0]
            })
        );
        // Claiming a free one as in use is seen.
        let mut dup = got.clone();
        dup.push(129);
        assert!(matches!(
            mem.check_conservation(dup),
            Err(ConservationError::Duplicate { index: 129, .. })
        ));
        assert_eq!(
            mem.release_buffers(got.iter().copied().chain([0, 1, 999])),
            3
        );
        assert_eq!(mem.free_buffers(), 128);
        mem.check_conservation([]).unwrap();
    }

    #[test]
    fn rings_and_ifs_come_from_their_pools() {
        let mem = NetmapMemory::create("region-test", small()).unwrap();
        let l = *mem.layout();
        let rings = mem.alloc_rings(8, 64).unwrap();
        assert!(rings
            .iter()
            .all(|&r| r >= l.ring_off && r + l.ring_object_size <= l.buf_off));
        assert!(matches!(
            mem.alloc_rings(1, 64),
            Err(AllocError::Rings { free: 0, .. })
        ));
        assert!(matches!(
            mem.alloc_rings(1, 65),
            Err(AllocError::RingTooLarge { .. })
        ));
        assert!(mem.free_ring(rings[3]));
        assert!(!mem.free_ring(rings[3] + 1));
        assert_eq!(mem.alloc_rings(1, 64).unwrap(), vec![rings[3]]);
        let ifs: Vec<usize> = (0..4).map(|_| mem.alloc_if().unwrap()).collect();
        assert!(matches!(mem.alloc_if(), Err(AllocError::Ifs { total: 4 })));
        assert!(mem.free_if(ifs[0]));
        assert!(!mem.free_if(l.if_off + 3));
    }

    #[test]
    fn extra_buffer_lists_link_through_the_first_word() {
        let mem = NetmapMemory::create("region-test", small()).unwrap();
        let head = mem.alloc_extra_list(5).unwrap();
        let (list, clean) = mem.walk_extra_list(head, 100);
        assert!(clean);
        assert_eq!(list.len(), 5);
        assert_eq!(list[0], head);
        mem.check_conservation(list.iter().copied()).unwrap();
        // A cycle written by a buggy application ends the walk.
        let last = mem.buf_offset(list[4]).unwrap();
        mem.region().write(last, list[1]).unwrap();
        let (cut, clean) = mem.walk_extra_list(head, 100);
        assert!(!clean);
        assert_eq!(cut.len(), 5);
        // A wild index too.
        mem.region().write(last, 100_000u32).unwrap();
        assert!(!mem.walk_extra_list(head, 100).1);
        assert_eq!(mem.alloc_extra_list(0).unwrap(), 0);
    }

    #[test]
    fn a_second_mapping_attaches_and_shares_the_allocator() {
        let mem = NetmapMemory::create("region-test", small()).unwrap();
        let fd = std::os::fd::AsFd::as_fd(&**mem.region())
            .try_clone_to_owned()
            .unwrap();
        let other = NetmapMemory::attach(Arc::new(SharedRegion::from_fd(fd).unwrap())).unwrap();
        assert_eq!(other.layout(), mem.layout());
        let mut got = Vec::new();
        other.alloc_buffers(10, &mut got).unwrap();
        assert_eq!(mem.free_buffers(), 118);
        let garbage = Arc::new(SharedRegion::create("garbage", 8192).unwrap());
        assert!(matches!(
            NetmapMemory::attach(garbage),
            Err(AttachError::NotNetmap)
        ));
    }
}
