//! The baseline: a plain single-producer/single-consumer ring in shared
//! memory, the fastest way to hand descriptors from one process to another.
//!
//! One file holds the two indexes (each on its own pair of cache lines),
//! a ring of 16-byte descriptors (the size of a netmap slot) and two buffer
//! pools with a configurable stride: the "rx" pool the descriptors point
//! into and a "tx" pool the producer copies from when it is asked to copy
//! (the one-copy baseline mirrors VALE, which copies from a TX buffer into
//! an RX buffer). Indexes run free (u64, never wrapped); a slot is
//! `index & (slots - 1)`. Each side caches the other's index and reads it
//! again only when the ring looks full (producer) or empty (consumer), as
//! rtrb does.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

/// Offset of the producer's index (`tail`: descriptors written so far).
const PRODUCER_INDEX: usize = 0;
/// Offset of the consumer's index (`head`: descriptors consumed so far),
/// 128 bytes away so that adjacent-line prefetch does not share it.
const CONSUMER_INDEX: usize = 128;
/// Offsets of the geometry, written by the creator.
const SLOTS_FIELD: usize = 256;
const STRIDE_FIELD: usize = 264;
/// Where the descriptors start.
const DESC_OFF: usize = 4096;
/// Bytes per descriptor: `buf_idx: u32, len: u16, flags: u16, ptr: u64`.
pub const DESC_SIZE: usize = 16;

/// Why a ring could not be created or mapped.
#[derive(Debug, thiserror::Error)]
pub enum SpscError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: bad ring geometry ({slots} slots, stride {stride})")]
    Geometry {
        path: String,
        slots: u64,
        stride: u64,
    },
}

/// Size and buffer stride of a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Descriptors in the ring, a power of two.
    pub slots: usize,
    /// Bytes between consecutive buffers of a pool.
    pub stride: usize,
}

impl Geometry {
    fn valid(&self) -> bool {
        self.slots.is_power_of_two()
            && self.slots <= 1 << 16
            && (64..=1 << 16).contains(&self.stride)
    }

    fn rx_pool(&self) -> usize {
        DESC_OFF + self.slots * DESC_SIZE
    }

    fn tx_pool(&self) -> usize {
        self.rx_pool() + self.slots * self.stride
    }

    fn total_len(&self) -> usize {
        self.tx_pool() + self.slots * self.stride
    }
}

/// A mapped ring, either side.
pub struct SpscRing {
    map: MmapRaw,
    geometry: Geometry,
    _file: File,
}

impl SpscRing {
    /// Creates the ring file at `path` (which must not exist).
    pub fn create(path: &Path, geometry: Geometry) -> Result<Self, SpscError> {
        let err = |source| SpscError::Io {
            path: path.display().to_string(),
            source,
        };
        if !geometry.valid() {
            return Err(SpscError::Geometry {
                path: path.display().to_string(),
                slots: geometry.slots as u64,
                stride: geometry.stride as u64,
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(err)?;
        file.set_len(geometry.total_len() as u64).map_err(err)?;
        let ring = Self::map(file, geometry, path)?;
        ring.word(SLOTS_FIELD)
            .store(geometry.slots as u64, Ordering::Release);
        ring.word(STRIDE_FIELD)
            .store(geometry.stride as u64, Ordering::Release);
        Ok(ring)
    }

    /// Maps an existing ring file, trusting only a geometry that fits it.
    pub fn open(path: &Path) -> Result<Self, SpscError> {
        let err = |source| SpscError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(err)?;
        let len = file.metadata().map_err(err)?.len() as usize;
        if len < DESC_OFF {
            return Err(SpscError::Geometry {
                path: path.display().to_string(),
                slots: 0,
                stride: 0,
            });
        }
        // Map the header alone first to learn the geometry.
        let probe = Self::map(
            file.try_clone().map_err(err)?,
            Geometry {
                slots: 0,
                stride: 0,
            },
            path,
        )?;
        let slots = probe.word(SLOTS_FIELD).load(Ordering::Acquire);
        let stride = probe.word(STRIDE_FIELD).load(Ordering::Acquire);
        let geometry = Geometry {
            slots: slots as usize,
            stride: stride as usize,
        };
        if !geometry.valid() || geometry.total_len() > len {
            return Err(SpscError::Geometry {
                path: path.display().to_string(),
                slots,
                stride,
            });
        }
        drop(probe);
        Self::map(file, geometry, path)
    }

    fn map(file: File, geometry: Geometry, path: &Path) -> Result<Self, SpscError> {
        let len = if geometry.slots == 0 {
            DESC_OFF
        } else {
            geometry.total_len()
        };
        let map = MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(|source| SpscError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self {
            map,
            geometry,
            _file: file,
        })
    }

    /// The ring's geometry.
    #[cfg(test)]
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The u64 word at `offset`, which is one of the header fields.
    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset + 8 <= DESC_OFF && offset.is_multiple_of(8));
        // SAFETY: the header (DESC_OFF bytes) is always mapped, the offset
        // is 8-aligned inside it (asserted) on a page-aligned mapping, and
        // the mapping lives as long as `self`, which bounds the lifetime.
        // AtomicU64 tolerates the other process writing concurrently.
        unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(offset).cast::<u64>()) }
    }

    /// Address of descriptor `index` (taken modulo the ring size).
    #[inline]
    fn desc(&self, index: u64) -> *mut u8 {
        let slot = index as usize & (self.geometry.slots - 1);
        // `wrapping_add` keeps this safe; the mask keeps it inside the
        // descriptor area of the mapping.
        self.map
            .as_mut_ptr()
            .wrapping_add(DESC_OFF + slot * DESC_SIZE)
    }

    /// Address of buffer `slot` of the rx (`tx == false`) or tx pool.
    #[inline]
    fn buffer(&self, slot: usize, tx: bool) -> *mut u8 {
        let slot = slot & (self.geometry.slots - 1);
        let pool = if tx {
            self.geometry.tx_pool()
        } else {
            self.geometry.rx_pool()
        };
        self.map
            .as_mut_ptr()
            .wrapping_add(pool + slot * self.geometry.stride)
    }

    /// Fills every tx-pool buffer with `frame` (at most one stride).
    pub fn fill_tx_pool(&self, frame: &[u8]) {
        let len = frame.len().min(self.geometry.stride);
        for slot in 0..self.geometry.slots {
            // SAFETY: the buffer is inside the mapping (slot < slots, len <=
            // stride) and `frame` is a Rust slice outside it.
            unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), self.buffer(slot, true), len) };
        }
    }

    /// The producer side; one process only.
    pub fn producer(&self) -> Producer<'_> {
        let tail = self.word(PRODUCER_INDEX).load(Ordering::Acquire);
        let head = self.word(CONSUMER_INDEX).load(Ordering::Acquire);
        Producer {
            ring: self,
            tail,
            cached_head: head,
        }
    }

    /// The consumer side; one process only.
    pub fn consumer(&self) -> Consumer<'_> {
        let head = self.word(CONSUMER_INDEX).load(Ordering::Acquire);
        let tail = self.word(PRODUCER_INDEX).load(Ordering::Acquire);
        Consumer {
            ring: self,
            head,
            cached_tail: tail,
        }
    }
}

/// Writes descriptors.
pub struct Producer<'a> {
    ring: &'a SpscRing,
    tail: u64,
    cached_head: u64,
}

impl Producer<'_> {
    /// Publishes up to `batch` descriptors of `len`-byte packets, copying
    /// each packet's bytes from the tx pool into the rx buffer its
    /// descriptor points to when `copy` is set. Returns how many.
    #[inline]
    pub fn push(&mut self, batch: usize, len: u16, copy: bool) -> usize {
        let slots = self.ring.geometry.slots as u64;
        let mut free = slots - (self.tail - self.cached_head);
        if free < batch as u64 {
            // Acquire: pairs with the consumer's Release store of its index,
            // so the descriptors and buffers it gave back are really free.
            self.cached_head = self.ring.word(CONSUMER_INDEX).load(Ordering::Acquire);
            free = slots - (self.tail - self.cached_head);
        }
        let count = free.min(batch as u64);
        let copy_len = usize::from(len).min(self.ring.geometry.stride);
        for i in 0..count {
            let index = self.tail + i;
            let slot = index as usize & (self.ring.geometry.slots - 1);
            if copy {
                // SAFETY: both buffers are inside the mapping (slot masked,
                // copy_len <= stride) and belong to different pools, so they
                // do not overlap; the consumer does not touch this rx buffer
                // until the index store below publishes it.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.ring.buffer(slot, true),
                        self.ring.buffer(slot, false),
                        copy_len,
                    )
                };
            }
            let desc = self.ring.desc(index);
            let word = u64::from(slot as u32) | u64::from(len) << 32;
            // SAFETY: `desc` is an 8-aligned descriptor inside the mapping
            // (masked index); the consumer reads it only after the Release
            // store below, so this write races with nothing.
            unsafe {
                std::ptr::write_volatile(desc.cast::<u64>(), word);
                std::ptr::write_volatile(desc.add(8).cast::<u64>(), 0);
            }
        }
        if count > 0 {
            self.tail += count;
            // Release: pairs with the consumer's Acquire load of this index,
            // publishing the descriptors and buffers written above.
            self.ring
                .word(PRODUCER_INDEX)
                .store(self.tail, Ordering::Release);
        }
        count as usize
    }
}

/// Reads descriptors.
pub struct Consumer<'a> {
    ring: &'a SpscRing,
    head: u64,
    cached_tail: u64,
}

impl Consumer<'_> {
    /// Takes up to `batch` descriptors; returns how many and their total
    /// length in bytes.
    #[inline]
    pub fn pop(&mut self, batch: usize) -> (usize, u64) {
        let mut avail = self.cached_tail - self.head;
        if avail == 0 {
            // Acquire: pairs with the producer's Release store, making the
            // descriptors (and copied buffers) it published visible.
            self.cached_tail = self.ring.word(PRODUCER_INDEX).load(Ordering::Acquire);
            avail = self.cached_tail - self.head;
        }
        let count = avail.min(batch as u64);
        let mut bytes = 0u64;
        for i in 0..count {
            let desc = self.ring.desc(self.head + i);
            // SAFETY: an 8-aligned descriptor inside the mapping (masked),
            // published by the Acquire load above and not rewritten by the
            // producer until our index store below gives it back.
            let word = unsafe { std::ptr::read_volatile(desc.cast::<u64>()) };
            bytes += (word >> 32) & 0xffff;
        }
        if count > 0 {
            self.head += count;
            // Release: pairs with the producer's Acquire load; we are done
            // with these descriptors and buffers.
            self.ring
                .word(CONSUMER_INDEX)
                .store(self.head, Ordering::Release);
        }
        (count as usize, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("netmap-bench-spsc-{tag}-{}", std::process::id()))
    }

    #[test]
    fn descriptors_and_copies_arrive_in_order_and_the_ring_fills() {
        let path = temp_path("order");
        let _ = std::fs::remove_file(&path);
        let geometry = Geometry {
            slots: 8,
            stride: 2112,
        };
        let a = SpscRing::create(&path, geometry).unwrap();
        let b = SpscRing::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(b.geometry(), geometry);
        a.fill_tx_pool(&[0xab; 60]);
        let mut producer = a.producer();
        let mut consumer = b.consumer();
        assert_eq!(producer.push(5, 60, true), 5);
        assert_eq!(producer.push(5, 60, true), 3, "only 8 slots");
        assert_eq!(producer.push(5, 60, true), 0);
        assert_eq!(consumer.pop(6), (6, 360));
        assert_eq!(producer.push(16, 61, false), 6);
        // The consumer's cached tail still says 8: it takes the two it
        // knows of, and looks at the producer's index only when empty.
        assert_eq!(consumer.pop(100), (2, 2 * 60));
        assert_eq!(consumer.pop(100), (6, 6 * 61));
        assert_eq!(consumer.pop(100), (0, 0));
        // The copy landed in the rx buffer the consumer would read.
        let mut byte = 0u8;
        // SAFETY: buffer 0 of the rx pool is inside the mapping.
        unsafe { std::ptr::copy_nonoverlapping(b.buffer(0, false), &mut byte, 1) };
        assert_eq!(byte, 0xab);
    }

    #[test]
    fn a_bad_geometry_is_refused() {
        let path = temp_path("geometry");
        let _ = std::fs::remove_file(&path);
        let bad = Geometry {
            slots: 6,
            stride: 2112,
        };
        assert!(matches!(
            SpscRing::create(&path, bad),
            Err(SpscError::Geometry { .. })
        ));
        std::fs::write(&path, [0u8; 8192]).unwrap();
        assert!(matches!(
            SpscRing::open(&path),
            Err(SpscError::Geometry { .. })
        ));
        std::fs::remove_file(&path).unwrap();
    }
}
