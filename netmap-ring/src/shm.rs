//! A memory region shared with other processes or a device.
//!
//! Another process (or the device) may write this memory at any time, so no
//! Rust reference (`&T`/`&mut T`) to plain data in it is ever made: every
//! access goes through the bounds-checked volatile or atomic accessors of
//! [`SharedRegion`]. Atomic references are the one exception, because an
//! atomic is built for concurrent mutation (as vm-memory's `get_atomic_ref`).
//! Values read here are untrusted: callers validate them before use.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

/// Errors of region creation and access.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    #[error("cannot create shared memory {name:?} of {len} bytes: {source}")]
    Create {
        name: String,
        len: usize,
        source: io::Error,
    },
    #[error("cannot map shared memory of {len} bytes: {source}")]
    Map { len: usize, source: io::Error },
    #[error("access of {size} bytes at offset {offset} is outside the {region_len}-byte region")]
    OutOfBounds {
        offset: usize,
        size: usize,
        region_len: usize,
    },
    #[error("offset {offset} is not aligned to {align} bytes")]
    Misaligned { offset: usize, align: usize },
}

/// Plain integer types that may be read from and written to shared memory
/// with a single volatile access.
pub trait Scalar: Copy + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! scalars {
    ($($t:ty),*) => {$(impl sealed::Sealed for $t {} impl Scalar for $t {})*};
}
scalars!(u8, u16, u32, u64, i32, i64);

/// A shared mapping of a memfd (or any file), with checked accessors.
#[derive(Debug)]
pub struct SharedRegion {
    map: MmapRaw,
    file: File,
}

impl SharedRegion {
    /// Creates a zero-filled anonymous region that other processes can map
    /// through its file descriptor.
    pub fn create(name: &str, len: usize) -> Result<Self, ShmError> {
        let create_err = |source: io::Error| ShmError::Create {
            name: name.to_owned(),
            len,
            source,
        };
        let fd = rustix::fs::memfd_create(
            name,
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| create_err(e.into()))?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(|e| create_err(e.into()))?;
        Self::from_file(File::from(fd))
    }

    /// Maps the whole of an existing file or memfd, shared.
    /// Reserves the backing memory of `offset .. offset + len` (its file's
    /// pages), so that touching them later cannot fault for want of memory
    /// (SIGBUS on a full tmpfs): an error now instead. Pages already there
    /// cost nothing.
    pub fn reserve(&self, offset: usize, len: usize) -> io::Result<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        rustix::fs::fallocate(
            &self.file,
            rustix::fs::FallocateFlags::empty(),
            offset as u64,
            len as u64,
        )
        .map_err(io::Error::from)
    }

    pub fn from_fd(fd: OwnedFd) -> Result<Self, ShmError> {
        Self::from_file(File::from(fd))
    }

    fn from_file(file: File) -> Result<Self, ShmError> {
        let len = file
            .metadata()
            .map_err(|source| ShmError::Map { len: 0, source })?
            .len() as usize;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(|source| ShmError::Map { len, source })?;
        Ok(Self { map, file })
    }

    /// Length of the region in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True for a zero-length region.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// Base address of the mapping in this process, for diagnostics and for
    /// handing the region to C code; never dereferenced by this crate
    /// outside the accessors.
    pub fn base_addr(&self) -> usize {
        self.map.as_ptr() as usize
    }

    /// Checks that `size` bytes at `offset` lie inside the region and that
    /// `offset` is aligned to `align`, and returns the address.
    #[inline]
    fn checked_ptr(&self, offset: usize, size: usize, align: usize) -> Result<*mut u8, ShmError> {
        let end = offset.checked_add(size);
        if end.is_none_or(|end| end > self.len()) {
            return Err(ShmError::OutOfBounds {
                offset,
                size,
                region_len: self.len(),
            });
        }
        if !offset.is_multiple_of(align) {
            return Err(ShmError::Misaligned { offset, align });
        }
        // `wrapping_add` keeps this free of unsafe; the bounds check above
        // guarantees the result is inside the mapping.
        Ok(self.map.as_mut_ptr().wrapping_add(offset))
    }

    /// Checks that `size` bytes at `offset` lie inside the region and that
    /// `offset` is a multiple of `align`, touching no memory (a load of a
    /// line another core is writing costs a transfer).
    #[inline]
    pub fn check_range(&self, offset: usize, size: usize, align: usize) -> Result<(), ShmError> {
        self.checked_ptr(offset, size, align).map(|_| ())
    }

    /// Reads one naturally aligned scalar with a volatile load.
    #[inline]
    pub fn read<T: Scalar>(&self, offset: usize) -> Result<T, ShmError> {
        let ptr = self.checked_ptr(offset, size_of::<T>(), align_of::<T>())?;
        // SAFETY: `ptr` is inside the live mapping and aligned for `T`
        // (checked above); `T` is a plain integer, valid for any bit pattern.
        Ok(unsafe { std::ptr::read_volatile(ptr.cast::<T>()) })
    }

    /// Writes one naturally aligned scalar with a volatile store.
    #[inline]
    pub fn write<T: Scalar>(&self, offset: usize, value: T) -> Result<(), ShmError> {
        let ptr = self.checked_ptr(offset, size_of::<T>(), align_of::<T>())?;
        // SAFETY: `ptr` is inside the live, writable mapping and aligned for
        // `T` (checked above); no Rust reference to this memory exists.
        unsafe { std::ptr::write_volatile(ptr.cast::<T>(), value) };
        Ok(())
    }

    /// Reads two consecutive u64 words (a netmap slot) with one bounds check
    /// and two volatile loads.
    #[inline]
    pub fn read_u64_pair(&self, offset: usize) -> Result<[u64; 2], ShmError> {
        let ptr = self.checked_ptr(offset, 16, 8)?.cast::<u64>();
        // SAFETY: 16 bytes at `ptr` are inside the mapping and 8-aligned
        // (checked); u64 is valid for any bit pattern.
        Ok(unsafe {
            [
                std::ptr::read_volatile(ptr),
                std::ptr::read_volatile(ptr.add(1)),
            ]
        })
    }

    /// Writes two consecutive u64 words (a netmap slot) with one bounds
    /// check and two volatile stores.
    #[inline]
    pub fn write_u64_pair(&self, offset: usize, words: [u64; 2]) -> Result<(), ShmError> {
        let ptr = self.checked_ptr(offset, 16, 8)?.cast::<u64>();
        // SAFETY: 16 bytes at `ptr` are inside the writable mapping and
        // 8-aligned (checked); no Rust reference to them exists.
        unsafe {
            std::ptr::write_volatile(ptr, words[0]);
            std::ptr::write_volatile(ptr.add(1), words[1]);
        }
        Ok(())
    }

    /// An atomic view of the aligned u32 at `offset`.
    #[inline]
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32, ShmError> {
        let ptr = self.checked_ptr(offset, 4, 4)?;
        // SAFETY: in bounds and 4-aligned (checked); the mapping lives as
        // long as `self`, which bounds the returned lifetime; AtomicU32 has
        // the layout of u32 and tolerates concurrent writers.
        Ok(unsafe { AtomicU32::from_ptr(ptr.cast::<u32>()) })
    }

    /// An atomic view of the aligned u64 at `offset`.
    #[inline]
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64, ShmError> {
        let ptr = self.checked_ptr(offset, 8, 8)?;
        // SAFETY: in bounds and 8-aligned (checked); the mapping lives as
        // long as `self`; AtomicU64 has the layout of u64.
        Ok(unsafe { AtomicU64::from_ptr(ptr.cast::<u64>()) })
    }

    /// An atomic view of `count` consecutive aligned u64 words at `offset`.
    pub fn atomic_u64_slice(&self, offset: usize, count: usize) -> Result<&[AtomicU64], ShmError> {
        let size = count.checked_mul(8).ok_or_else(|| ShmError::OutOfBounds {
            offset,
            size: usize::MAX,
            region_len: self.len(),
        })?;
        let ptr = self.checked_ptr(offset, size, 8)?;
        // SAFETY: `count` aligned u64 words at `ptr` are inside the mapping
        // (checked); atomics tolerate concurrent writers; the lifetime is
        // bounded by `self`, which owns the mapping.
        Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<AtomicU64>(), count) })
    }

    /// Copies bytes out of the region.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) -> Result<(), ShmError> {
        let ptr = self.checked_ptr(offset, out.len(), 1)?;
        // SAFETY: the source range is inside the mapping (checked) and
        // cannot overlap `out`, a Rust-owned buffer outside it.
        unsafe { std::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Copies bytes into the region.
    pub fn write_bytes(&self, offset: usize, data: &[u8]) -> Result<(), ShmError> {
        let ptr = self.checked_ptr(offset, data.len(), 1)?;
        // SAFETY: the destination range is inside the writable mapping
        // (checked) and cannot overlap `data`, which lives outside it.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        Ok(())
    }

    /// Copies `len` bytes between two non-overlapping ranges of this region
    /// (a packet copy from one buffer into another).
    #[inline]
    pub fn copy_within(&self, src: usize, dst: usize, len: usize) -> Result<(), ShmError> {
        let from = self.checked_ptr(src, len, 1)?;
        let to = self.checked_ptr(dst, len, 1)?;
        if src < dst + len && dst < src + len {
            return Err(ShmError::OutOfBounds {
                offset: dst,
                size: len,
                region_len: self.len(),
            });
        }
        // SAFETY: both ranges are inside the mapping (checked) and do not
        // overlap (checked above).
        unsafe { std::ptr::copy_nonoverlapping(from, to, len) };
        Ok(())
    }

    /// Copies `len` bytes at `src` of this region to `dst` of region `to`
    /// (a packet copy between two memories, such as a NIC port's and a
    /// switch's: one copy, no bounce buffer).
    pub fn copy_to(
        &self,
        src: usize,
        to: &SharedRegion,
        dst: usize,
        len: usize,
    ) -> Result<(), ShmError> {
        let from = self.checked_ptr(src, len, 1)?;
        let into = to.checked_ptr(dst, len, 1)?;
        // SAFETY: both ranges are inside their mappings (checked); `copy`
        // tolerates overlap, should `to` be this very region.
        unsafe { std::ptr::copy(from, into, len) };
        Ok(())
    }

    /// A copier of whole 64-byte lines within this region, for a batch of
    /// short frames (`None` for a region under one line).
    pub fn line_copier(&self) -> Option<LineCopier<'_>> {
        Some(LineCopier {
            base: self.map.as_mut_ptr(),
            last: self.len().checked_sub(LINE)?,
            _region: std::marker::PhantomData,
        })
    }

    /// Sets `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<(), ShmError> {
        let ptr = self.checked_ptr(offset, len, 1)?;
        // SAFETY: the range is inside the writable mapping (checked).
        unsafe { std::ptr::write_bytes(ptr, byte, len) };
        Ok(())
    }
}

/// The first 16 bytes of each of `count` records `stride` bytes apart (a
/// buffer pool seen by the Ethernet headers of the frames in it), checked
/// inside the region once when made: a read is then one index compare
/// and two volatile loads.
#[derive(Clone, Copy, Debug)]
pub struct RecordHeads<'a> {
    base: *mut u8,
    /// Region offset of record 0.
    offset: usize,
    stride: usize,
    count: u32,
    _region: std::marker::PhantomData<&'a SharedRegion>,
}

impl SharedRegion {
    /// The heads of `count` records of `stride` bytes (a multiple of 8, at
    /// least 16) from `offset` (8-aligned), all inside the region.
    pub fn record_heads(
        &self,
        offset: usize,
        stride: usize,
        count: u32,
    ) -> Result<RecordHeads<'_>, ShmError> {
        let size = stride
            .checked_mul(count as usize)
            .filter(|_| stride >= 16 && stride.is_multiple_of(8))
            .ok_or_else(|| ShmError::OutOfBounds {
                offset,
                size: usize::MAX,
                region_len: self.len(),
            })?;
        let base = self.checked_ptr(offset, size, 8)?;
        Ok(RecordHeads {
            base,
            offset,
            stride,
            count,
            _region: std::marker::PhantomData,
        })
    }
}

impl RecordHeads<'_> {
    /// Records in the window.
    #[inline]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Bytes from one record to the next.
    #[inline]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Copies the first 64 bytes (one line) of record `src` over those of
    /// record `dst`: a short frame's copy from one pool buffer into
    /// another as a few fixed-size vector moves. False (nothing copied)
    /// for an index past the last record, the same record twice, or
    /// records under a line apart.
    #[inline]
    pub fn copy_line(&self, src: u32, dst: u32) -> bool {
        if src >= self.count || dst >= self.count || src == dst || self.stride < LINE {
            return false;
        }
        // SAFETY: both records are inside the live mapping (checked at
        // creation; the borrow keeps it alive) and at least a line long
        // (stride >= LINE); distinct records `stride >= LINE` bytes apart
        // do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.wrapping_add(src as usize * self.stride),
                self.base.wrapping_add(dst as usize * self.stride),
                LINE,
            )
        };
        true
    }

    /// Region offset of record `index` (`index < count`: inside the region).
    #[inline]
    pub fn offset_of(&self, index: u32) -> usize {
        self.offset + index as usize * self.stride
    }

    /// The first 16 bytes of record `index` as two little-endian words, or
    /// `None` past the last record.
    #[inline]
    pub fn read(&self, index: u32) -> Option<[u64; 2]> {
        if index >= self.count {
            return None;
        }
        let ptr = self
            .base
            .wrapping_add(index as usize * self.stride)
            .cast::<u64>();
        // SAFETY: the `count` records were checked inside the live mapping
        // at creation (the borrow keeps it alive); record `index < count`
        // starts 8-aligned (offset and stride are multiples of 8) and has
        // at least 16 bytes. u64 is valid for any bit pattern.
        Some(unsafe {
            [
                std::ptr::read_volatile(ptr),
                std::ptr::read_volatile(ptr.add(1)),
            ]
        })
    }
}

/// Bytes of a cache line: the unit of [`LineCopier`].
pub const LINE: usize = 64;

/// Copies one whole 64-byte line between two offsets of a region: a short
/// frame's copy as a few fixed-size vector moves instead of a `memcpy`
/// call (netmap's `pkt_copy` copies in 64-byte units too), with one
/// compare per end instead of a full range check. Made once per batch
/// ([`SharedRegion::line_copier`]).
#[derive(Clone, Copy, Debug)]
pub struct LineCopier<'a> {
    base: *mut u8,
    /// The last offset a line may start at (`len - LINE`).
    last: usize,
    _region: std::marker::PhantomData<&'a SharedRegion>,
}

impl LineCopier<'_> {
    /// Copies the line at `src` to `dst`; false (nothing copied) when a
    /// line leaves the region or the two overlap. The caller owns the 64
    /// bytes at `dst` even when its frame is shorter.
    #[inline]
    pub fn copy(&self, src: usize, dst: usize) -> bool {
        if src > self.last || dst > self.last || src.abs_diff(dst) < LINE {
            return false;
        }
        // SAFETY: both lines lie inside the mapping (each starts at most
        // `len - LINE` bytes in) and do not overlap (checked above); the
        // borrow of the region keeps the mapping alive. The constant size
        // lets the copy be inlined as vector moves.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.wrapping_add(src),
                self.base.wrapping_add(dst),
                LINE,
            )
        };
        true
    }
}

/// A window of `count` 16-byte records (netmap slots) inside a region,
/// bounds-checked once when made; each access then only checks its index.
#[derive(Clone, Copy, Debug)]
pub struct SlotWindow<'a> {
    base: *mut u64,
    count: u32,
    _region: std::marker::PhantomData<&'a SharedRegion>,
}

/// `count` atomic u64 words at a fixed offset of a region, checked once
/// when made (as [`SlotWindow`] is for rings): each access is then one
/// index check. It holds the region, so it may live beside it (a MAC table
/// in a domain's control area).
#[derive(Clone, Debug)]
pub struct AtomicU64Window {
    region: Arc<SharedRegion>,
    /// Address of word 0 (an integer, so the window is Send and Sync like
    /// the atomics it hands out).
    base: usize,
    count: usize,
}

/// [`prefetch_line_for_write`] by address, for a loop that steps a
/// pointer (wrapping arithmetic) instead of indexing a slice: `prefetchw`
/// never faults and changes nothing, whatever the address, so any pointer
/// will do.
#[inline]
pub fn prefetch_addr_for_write(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetchw is a hint: it writes no memory and does not fault
    // on any address, mapped or not.
    unsafe {
        std::arch::asm!("prefetchw [{0}]", in(reg) addr, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

impl AtomicU64Window {
    /// The `count` words at `offset` (8-aligned) of `region`.
    pub fn new(region: Arc<SharedRegion>, offset: usize, count: usize) -> Result<Self, ShmError> {
        let base = region.atomic_u64_slice(offset, count)?.as_ptr() as usize;
        Ok(Self {
            region,
            base,
            count,
        })
    }

    /// Number of words.
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for a window of no words.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The region the words live in.
    pub fn region(&self) -> &Arc<SharedRegion> {
        &self.region
    }

    /// Word `index`; panics if `index >= len()` (callers bound it).
    #[inline]
    pub fn get(&self, index: usize) -> &AtomicU64 {
        assert!(
            index < self.count,
            "word {index} outside a window of {}",
            self.count
        );
        // SAFETY: the `count` aligned words at `base` were checked inside
        // the mapping at creation; `self.region` keeps the mapping alive and
        // it never moves; `index < count`. Atomics tolerate the concurrent
        // writers shared memory has.
        unsafe { &*(self.base as *const AtomicU64).add(index) }
    }
}

/// Hints that the cache line holding `value` is about to be read (x86
/// `prefetcht0`), so that a load of a line another core wrote last can be
/// issued early and overlap other work instead of stalling where the
/// value is needed. Never faults, changes nothing.
#[inline]
pub fn prefetch_line<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetcht0 is a hint: it writes no memory and does not fault
    // on any address (this one is a live reference's).
    unsafe {
        std::arch::asm!("prefetcht0 [{0}]", in(reg) value as *const T, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Asks for the cache line holding `value` in a writable state (x86
/// `prefetchw`), ahead of a read-modify-write of it: a line another core
/// read last is then fetched once, exclusive, instead of shared by the
/// load and again by the store. Never faults, changes nothing.
#[inline]
pub fn prefetch_line_for_write<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetchw is a hint: it writes no memory and does not fault
    // on any address (this one is a live reference's).
    unsafe {
        std::arch::asm!("prefetchw [{0}]", in(reg) value as *const T, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

impl AtomicU64Window {
    /// Hints that word `index` is about to be read (x86 `prefetcht0`); an
    /// index outside the window is ignored. Never faults, changes nothing.
    #[inline]
    pub fn prefetch(&self, index: usize) {
        #[cfg(target_arch = "x86_64")]
        if index < self.count {
            let ptr = (self.base as *const u64).wrapping_add(index);
            // SAFETY: prefetcht0 is a hint: it writes no memory and does
            // not fault on any address (this one is inside the window).
            unsafe {
                std::arch::asm!("prefetcht0 [{0}]", in(reg) ptr, options(nostack, preserves_flags, readonly));
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = index;
    }
}

impl SharedRegion {
    /// The `count` 16-byte records at `offset` (8-aligned).
    #[inline]
    pub fn slot_window(&self, offset: usize, count: u32) -> Result<SlotWindow<'_>, ShmError> {
        let size = 16 * count as usize;
        if count == 0 {
            // Indexes are taken modulo the count: an empty window has none.
            return Err(ShmError::OutOfBounds {
                offset,
                size,
                region_len: self.len(),
            });
        }
        let base = self.checked_ptr(offset, size, 8)?.cast::<u64>();
        Ok(SlotWindow {
            base,
            count,
            _region: std::marker::PhantomData,
        })
    }
}

impl<'a> SlotWindow<'a> {
    /// Number of records.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// `index` taken modulo the record count (a ring index an application
    /// wrote may be past the end): one compare when it is in range, which
    /// is also the only bounds check an access needs.
    #[inline]
    fn wrap(&self, index: u32) -> u32 {
        if index < self.count {
            index
        } else {
            // A window has at least one record (`slot_window` refuses none).
            index % self.count
        }
    }

    /// Pointer to word `word` (0 or 1) of record `index` (modulo the count).
    #[inline]
    fn word_ptr(&self, index: u32, word: usize) -> *mut u64 {
        self.base.wrapping_add(2 * self.wrap(index) as usize + word)
    }

    /// Reads record `index` with two volatile loads.
    #[inline]
    pub fn read(&self, index: u32) -> [u64; 2] {
        let ptr = self.word_ptr(index, 0);
        // SAFETY: the window was checked inside the live mapping at
        // creation (the borrow keeps the mapping alive) and `word_ptr`
        // wraps `index` into it, so both 8-aligned words are in bounds.
        unsafe {
            [
                std::ptr::read_volatile(ptr),
                std::ptr::read_volatile(ptr.add(1)),
            ]
        }
    }

    /// Reads the first word of record `index` with one volatile load.
    #[inline]
    pub fn read_first(&self, index: u32) -> u64 {
        let ptr = self.word_ptr(index, 0);
        // SAFETY: as in `read`.
        unsafe { std::ptr::read_volatile(ptr) }
    }

    /// Writes record `index` with two volatile stores.
    #[inline]
    pub fn write(&self, index: u32, words: [u64; 2]) {
        let ptr = self.word_ptr(index, 0);
        // SAFETY: as in `read`; the mapping is writable and no Rust
        // reference to it exists.
        unsafe {
            std::ptr::write_volatile(ptr, words[0]);
            std::ptr::write_volatile(ptr.add(1), words[1]);
        }
    }

    /// The words of records `start..start + len` as atomics, two per
    /// record, for loops over a run of records: they index a slice whose
    /// length the compiler knows instead of checking every access. Panics
    /// if the run leaves the window.
    #[inline]
    pub fn run_words(&self, start: u32, len: u32) -> &'a [AtomicU64] {
        assert!(
            start <= self.count && len <= self.count - start,
            "records {start}..+{len} outside a window of {}",
            self.count
        );
        // SAFETY: the window was checked inside the live mapping at
        // creation (the 'a borrow keeps the mapping alive) and the run lies
        // inside it; the words are 8-aligned u64s. Atomics tolerate the
        // other processes writing this memory, and no non-atomic reference
        // to it is made.
        unsafe {
            std::slice::from_raw_parts(
                self.base.add(2 * start as usize).cast::<AtomicU64>(),
                2 * len as usize,
            )
        }
    }

    /// Asks for the cache line of record `index` in a writable state
    /// (x86 `prefetchw`), ahead of a read-modify-write of it. A record the
    /// other side of a ring read last is then fetched once, exclusive,
    /// instead of by a load and again by the store that follows; the
    /// hint never faults and changes no memory. `index` is taken modulo
    /// the record count, as by every accessor.
    #[inline]
    pub fn prefetch_for_write(&self, index: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            let ptr = self.word_ptr(index, 0);
            // SAFETY: prefetchw is a hint: it reads no register but the
            // address, writes no memory, and does not fault on any address
            // (the record is in the mapping anyway).
            unsafe {
                std::arch::asm!("prefetchw [{0}]", in(reg) ptr, options(nostack, preserves_flags, readonly));
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = index;
    }

    /// Writes the u32 at byte `byte_offset` (0 or 4) of record `index`.
    #[inline]
    pub fn write_u32(&self, index: u32, byte_offset: usize, value: u32) {
        assert!(byte_offset == 0 || byte_offset == 4 || byte_offset == 8 || byte_offset == 12);
        let ptr = self.word_ptr(index, 0).cast::<u32>();
        // SAFETY: as in `write`; the u32 is 4-aligned inside the record.
        unsafe { std::ptr::write_volatile(ptr.wrapping_add(byte_offset / 4), value) }
    }
}

impl AsFd for SharedRegion {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn scalars_round_trip_and_bounds_are_enforced() {
        let region = SharedRegion::create("shm-test", 4096).unwrap();
        assert_eq!(region.len(), 4096);
        region.write(8, 0x1122_3344_5566_7788u64).unwrap();
        assert_eq!(region.read::<u64>(8).unwrap(), 0x1122_3344_5566_7788);
        assert_eq!(region.read::<u32>(8).unwrap(), 0x5566_7788);
        assert_eq!(region.read::<u16>(14).unwrap(), 0x1122);
        assert!(matches!(
            region.read::<u32>(4094),
            Err(ShmError::OutOfBounds { .. })
        ));
        assert!(matches!(
            region.read::<u32>(usize::MAX - 1),
            Err(ShmError::OutOfBounds { .. })
        ));
        assert!(matches!(
            region.read::<u32>(6),
            Err(ShmError::Misaligned { .. })
        ));
        assert!(region.write_bytes(4090, &[0; 7]).is_err());
    }

    #[test]
    fn a_line_copy_stays_inside_and_refuses_overlap() {
        let region = SharedRegion::create("shm-test", 4096).unwrap();
        let line: Vec<u8> = (0..64).collect();
        region.write_bytes(128, &line).unwrap();
        let copier = region.line_copier().unwrap();
        assert!(copier.copy(128, 4096 - 64));
        let mut out = [0u8; 64];
        region.read_bytes(4096 - 64, &mut out).unwrap();
        assert_eq!(&out[..], &line[..]);
        // A line leaving the region, from either end, or overlapping.
        assert!(!copier.copy(128, 4096 - 63));
        assert!(!copier.copy(4096 - 63, 0));
        assert!(!copier.copy(usize::MAX, 0));
        assert!(!copier.copy(128, 128 + 63));
        assert!(!copier.copy(128 + 63, 128));
        assert!(copier.copy(128, 192));
    }

    #[test]
    fn record_heads_read_inside_and_refuse_past_the_end() {
        let region = SharedRegion::create("shm-test", 4096).unwrap();
        region.write_u64_pair(64 + 2 * 128, [7, 8]).unwrap();
        let heads = region.record_heads(64, 128, 31).unwrap();
        assert_eq!(heads.read(2), Some([7, 8]));
        assert_eq!(
            (heads.count(), heads.stride(), heads.offset_of(2)),
            (31, 128, 320)
        );
        assert!(heads.copy_line(2, 5));
        assert_eq!(region.read_u64_pair(64 + 5 * 128).unwrap(), [7, 8]);
        assert!(!heads.copy_line(2, 2), "same record");
        assert!(!heads.copy_line(2, 31), "past the end");
        assert!(!heads.copy_line(31, 2), "past the end");
        let narrow = region.record_heads(64, 32, 4).unwrap();
        assert!(!narrow.copy_line(0, 1), "records under a line apart");
        assert_eq!(heads.read(31), None);
        assert!(region.record_heads(64, 128, 32).is_err(), "overhangs");
        assert!(region.record_heads(64, 12, 4).is_err(), "stride under 16");
        assert!(region.record_heads(60, 128, 4).is_err(), "misaligned");
        assert!(region.record_heads(64, usize::MAX / 2, 4).is_err());
    }

    #[test]
    fn a_write_prefetch_changes_nothing_and_wraps_its_index() {
        let region = SharedRegion::create("shm-test", 4096).unwrap();
        let window = region.slot_window(64, 4).unwrap();
        window.write(1, [0x1122, 0x3344]);
        // Index 5 names record 1 of a 4-record window; 4000 is far past it.
        for index in [1, 5, 4000] {
            window.prefetch_for_write(index);
        }
        assert_eq!(window.read(1), [0x1122, 0x3344]);
        assert_eq!(window.read(0), [0, 0]);
    }

    #[test]
    fn slot_windows_wrap_indexes_and_runs_stay_inside() {
        let region = SharedRegion::create("shm-test", 4096).unwrap();
        assert!(region.slot_window(64, 0).is_err());
        let window = region.slot_window(64, 4).unwrap();
        window.write(6, [7, 8]); // record 2
        assert_eq!(window.read(2), [7, 8]);
        let run = window.run_words(1, 3);
        assert_eq!(run.len(), 6);
        assert_eq!(run[2].load(Ordering::Relaxed), 7);
        run[5].store(9, Ordering::Relaxed);
        assert_eq!(window.read(3), [0, 9]);
        assert!(std::panic::catch_unwind(|| window.run_words(2, 3).len()).is_err());
        assert!(std::panic::catch_unwind(|| window.run_words(5, 0).len()).is_err());
    }

    #[test]
    fn a_word_window_reaches_its_words_and_refuses_to_overhang() {
        let region = Arc::new(SharedRegion::create("shm-test", 4096).unwrap());
        let window = AtomicU64Window::new(Arc::clone(&region), 1024, 4).unwrap();
        assert_eq!(window.len(), 4);
        window.get(3).store(0xfeed, Ordering::Relaxed);
        assert_eq!(region.read::<u64>(1024 + 3 * 8).unwrap(), 0xfeed);
        assert!(AtomicU64Window::new(Arc::clone(&region), 4096 - 8, 2).is_err());
        assert!(AtomicU64Window::new(Arc::clone(&region), 1028, 1).is_err());
        let outside = std::panic::catch_unwind(|| window.get(4).load(Ordering::Relaxed));
        assert!(outside.is_err());
    }

    #[test]
    fn copies_refuse_overlap_and_out_of_range() {
        let region = SharedRegion::create("shm-test", 4096).unwrap();
        region.write_bytes(0, b"hello world").unwrap();
        region.copy_within(0, 100, 11).unwrap();
        let mut out = [0u8; 11];
        region.read_bytes(100, &mut out).unwrap();
        assert_eq!(&out, b"hello world");
        assert!(region.copy_within(0, 5, 11).is_err());
        assert!(region.copy_within(0, 4090, 11).is_err());
    }

    #[test]
    fn a_second_mapping_of_the_fd_sees_the_same_memory() {
        let region = SharedRegion::create("shm-test", 8192).unwrap();
        let dup = region.as_fd().try_clone_to_owned().unwrap();
        let other = SharedRegion::from_fd(dup).unwrap();
        assert_eq!(other.len(), 8192);
        region.atomic_u32(4096).unwrap().store(7, Ordering::Release);
        assert_eq!(other.atomic_u32(4096).unwrap().load(Ordering::Acquire), 7);
        other.write(0, 0xabu8).unwrap();
        assert_eq!(region.read::<u8>(0).unwrap(), 0xab);
    }
}
