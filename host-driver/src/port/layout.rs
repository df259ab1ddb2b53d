//! Where a device backend keeps things: one DMA region for every port of
//! the device, and BAR2 split between the port entries.
//!
//! ```text
//! region (host memory, DMA-mapped; the application maps it too)
//!   entry p's area at p * AREA_BYTES:
//!     netmap_if | status blocks | TX rings (the application's) | RX rings
//!   buffer pool at pool_off: buffer i at pool_off + i * BUF_SIZE
//! BAR2
//!   entry p's TX rings at p * bar2_area (the device's copy)
//! ```
//! Fixed areas per entry keep allocation trivial (an entry's area is
//! reused by the next port on that entry) and put every ring of a port at
//! the stride the device expects (`docs/datapath.md`: ring r at base +
//! r * (256 + 16 * slots)). One buffer pool serves every port, as one VALE
//! switch's memory in netmap: pipes swap buffer indexes between their ends.
#![forbid(unsafe_code)]

use netmap_ring::abi::{RING_HEADER_SIZE, SLOT_SIZE};
use netmap_ring::region::PAGE_SIZE;
use vale_offload::regmap as map;

/// Largest rings a device port may have (per direction), and slots per
/// ring: what the fixed per-entry areas are sized for.
pub const MAX_PORT_RINGS: u32 = 4;
pub const MAX_PORT_SLOTS: u32 = 1024;
/// `nr_buf_size`: a multiple of 64 so DMA beats stay aligned.
pub const BUF_SIZE: u32 = 2112;
/// Buffers in the pool unless `NETMAP_RS_BUFS` says otherwise.
pub const DEFAULT_BUFFERS: u32 = 16384;
/// Bytes of a netmap_if object (header and 2 * 16 ring offsets).
pub const IF_BYTES: usize = 1024;

/// Bytes of one ring of `slots` slots.
pub fn ring_bytes(slots: u32) -> usize {
    RING_HEADER_SIZE + slots as usize * SLOT_SIZE
}

/// Rounds up to a multiple of `align`.
fn align_up(value: usize, align: usize) -> usize {
    value.div_ceil(align) * align
}

/// Offsets inside one entry's area.
const STATUS_OFF: usize = IF_BYTES;
fn tx_rings_off() -> usize {
    align_up(STATUS_OFF + map::STATUS_BLOCK_BYTES as usize, 64)
}
fn rx_rings_off() -> usize {
    tx_rings_off() + MAX_PORT_RINGS as usize * ring_bytes(MAX_PORT_SLOTS)
}
/// Bytes of one entry's area, page aligned.
pub fn area_bytes() -> usize {
    align_up(
        rx_rings_off() + MAX_PORT_RINGS as usize * ring_bytes(MAX_PORT_SLOTS),
        PAGE_SIZE,
    )
}

/// The layout of a device backend's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLayout {
    pub entries: u32,
    pub pool_off: usize,
    pub num_bufs: u32,
    pub len: usize,
    /// BAR2 bytes per entry (multiple of 64).
    pub bar2_area: u64,
}

impl MemoryLayout {
    /// The layout for `entries` port entries, `num_bufs` buffers and a
    /// BAR2 of `bar2_len` bytes.
    pub fn new(entries: u32, num_bufs: u32, bar2_len: u64) -> Self {
        let pool_off = entries as usize * area_bytes();
        let len = align_up(pool_off + num_bufs as usize * BUF_SIZE as usize, PAGE_SIZE);
        let bar2_area = (bar2_len / u64::from(entries.max(1))) / 64 * 64;
        Self {
            entries,
            pool_off,
            num_bufs,
            len,
            bar2_area,
        }
    }

    fn area(&self, entry: u32) -> usize {
        entry as usize * area_bytes()
    }

    /// Region offset of entry `entry`'s netmap_if.
    pub fn if_off(&self, entry: u32) -> usize {
        self.area(entry)
    }

    /// Region offset of entry `entry`'s status blocks.
    pub fn status_off(&self, entry: u32) -> usize {
        self.area(entry) + STATUS_OFF
    }

    /// Region offset of TX ring `ring` of an entry whose rings have `slots`.
    pub fn tx_ring_off(&self, entry: u32, ring: u32, slots: u32) -> usize {
        self.area(entry) + tx_rings_off() + ring as usize * ring_bytes(slots)
    }

    /// Region offset of RX ring `ring`.
    pub fn rx_ring_off(&self, entry: u32, ring: u32, slots: u32) -> usize {
        self.area(entry) + rx_rings_off() + ring as usize * ring_bytes(slots)
    }

    /// BAR2 offset of TX ring `ring` of entry `entry`.
    pub fn bar2_ring_off(&self, entry: u32, ring: u32, slots: u32) -> u64 {
        u64::from(entry) * self.bar2_area + (ring as usize * ring_bytes(slots)) as u64
    }

    /// Whether `rings` TX rings of `slots` fit an entry's BAR2 area.
    pub fn fits_bar2(&self, rings: u32, slots: u32) -> bool {
        (rings as usize * ring_bytes(slots)) as u64 <= self.bar2_area
    }

    /// Region offset of buffer `index`.
    pub fn buf_off(&self, index: u32) -> usize {
        self.pool_off + index as usize * BUF_SIZE as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_do_not_overlap_and_rings_follow_the_device_stride() {
        let l = MemoryLayout::new(8, 4096, 1 << 20);
        for entry in 0..8 {
            let if_end = l.if_off(entry) + IF_BYTES;
            assert!(if_end <= l.status_off(entry));
            let status_end = l.status_off(entry) + map::STATUS_BLOCK_BYTES as usize;
            assert!(status_end <= l.tx_ring_off(entry, 0, 1024));
            let tx_end = l.tx_ring_off(entry, MAX_PORT_RINGS - 1, 1024) + ring_bytes(1024);
            assert!(tx_end <= l.rx_ring_off(entry, 0, 1024));
            let rx_end = l.rx_ring_off(entry, MAX_PORT_RINGS - 1, 1024) + ring_bytes(1024);
            assert!(rx_end <= l.if_off(entry + 1).min(l.pool_off));
            assert_eq!(
                l.rx_ring_off(entry, 1, 256) - l.rx_ring_off(entry, 0, 256),
                256 + 16 * 256
            );
        }
        assert_eq!(l.pool_off % PAGE_SIZE, 0);
        assert_eq!(l.buf_off(3) - l.buf_off(2), BUF_SIZE as usize);
        assert!(l.len >= l.buf_off(4095) + BUF_SIZE as usize);
        assert_eq!(l.bar2_area % 64, 0);
        assert!(l.fits_bar2(1, 1024));
        assert!(!MemoryLayout::new(8, 16, 64 << 10).fits_bar2(4, 1024));
    }
}
