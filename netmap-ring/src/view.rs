//! Typed views of netmap objects (rings, slots, interfaces) that live in a
//! [`SharedRegion`].
//!
//! A view is a region plus an offset: it reads and writes fields through the
//! region's volatile and atomic accessors, never through a reference. The
//! ring indexes (`head`, `cur`, `tail`) are the synchronisation points
//! between the application and the engine, so they are atomics: the writer
//! of each uses Release and the reader Acquire, which makes the slots and
//! buffers written before an index moved visible to whoever sees it move.

use std::sync::atomic::Ordering;

use crate::abi::{if_off, ring_off, slot_off, NetmapSlot, IFNAMSIZ, IF_HEADER_SIZE, NETMAP_API};
use crate::shm::{SharedRegion, ShmError, SlotWindow};

// `RingView::slot` reads a slot as two little-endian words.
#[cfg(not(target_endian = "little"))]
compile_error!("netmap rings are read as little-endian words");
const _: () = assert!(
    slot_off::BUF_IDX == 0 && slot_off::LEN == 4 && slot_off::FLAGS == 6 && slot_off::PTR == 8
);

/// Direction of a ring, as netmap's `dir` field says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Tx = 0,
    Rx = 1,
}

/// One netmap ring in a region.
#[derive(Clone, Copy)]
pub struct RingView<'a> {
    region: &'a SharedRegion,
    offset: usize,
    num_slots: u32,
    slots: SlotWindow<'a>,
    /// Address of the header's first byte (checked in bounds and
    /// 8-aligned with the whole header at construction).
    header: usize,
}

impl<'a> RingView<'a> {
    /// A view of the ring at `offset`, whose slot count the caller knows
    /// from its own (trusted) records, not from the ring header, which the
    /// application may have overwritten. Fails if the ring does not fit.
    #[inline]
    pub fn new(region: &'a SharedRegion, offset: usize, num_slots: u32) -> Result<Self, ShmError> {
        if !offset.is_multiple_of(8) {
            return Err(ShmError::Misaligned { offset, align: 8 });
        }
        if num_slots == 0 {
            return Err(ShmError::OutOfBounds {
                offset,
                size: 0,
                region_len: region.len(),
            });
        }
        // The header, then the slots: everything later accesses is checked
        // here, once, without reading the header (the application writes
        // it: a sync of the other side would take its line for nothing).
        region.check_range(offset, ring_off::SLOT, 8)?;
        let header = region.atomic_u32(offset)?.as_ptr() as usize;
        let slots = region.slot_window(
            offset
                .checked_add(ring_off::SLOT)
                .ok_or_else(|| ShmError::OutOfBounds {
                    offset,
                    size: ring_off::SLOT,
                    region_len: region.len(),
                })?,
            num_slots,
        )?;
        Ok(Self {
            region,
            offset,
            num_slots,
            slots,
            header,
        })
    }

    /// The region the ring lives in.
    #[inline]
    pub fn region(&self) -> &'a SharedRegion {
        self.region
    }

    /// Region offset of the ring header.
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Slots in the ring.
    #[inline]
    pub fn num_slots(&self) -> u32 {
        self.num_slots
    }

    #[inline(always)]
    fn index(&self, field: usize) -> &'a std::sync::atomic::AtomicU32 {
        // The callers pass `ring_off` constants: folded away.
        assert!(field.is_multiple_of(4) && field + 4 <= ring_off::SLOT);
        // SAFETY: `new` checked that the header (`ring_off::SLOT` bytes
        // from `header`) lies inside the mapping, 8-aligned; `field` is a
        // 4-aligned word inside it (asserted). The mapping lives as long
        // as `region` (`'a`); atomics tolerate the application's
        // concurrent writes. No bounds-checked `Result` per access: the
        // syncs read head, cur and tail at every call.
        unsafe { std::sync::atomic::AtomicU32::from_ptr((self.header + field) as *mut u32) }
    }

    /// `head` as last published by the application.
    #[inline]
    pub fn head(&self) -> u32 {
        // Acquire: pairs with the Release store of `set_head`, making the
        // slots the application filled before moving head visible.
        self.index(ring_off::HEAD).load(Ordering::Acquire)
    }

    /// `cur` as last published by the application.
    #[inline]
    pub fn cur(&self) -> u32 {
        // Acquire: as for `head`.
        self.index(ring_off::CUR).load(Ordering::Acquire)
    }

    /// `tail` as last published by a sync.
    #[inline]
    pub fn tail(&self) -> u32 {
        // Acquire: pairs with the Release store of `set_tail` in the sync,
        // making the slots it published visible.
        self.index(ring_off::TAIL).load(Ordering::Acquire)
    }

    /// Publishes `head` (application side).
    #[inline]
    pub fn set_head(&self, value: u32) {
        // Release: pairs with the Acquire load in `head`.
        self.index(ring_off::HEAD).store(value, Ordering::Release)
    }

    /// Publishes `cur` (application side).
    #[inline]
    pub fn set_cur(&self, value: u32) {
        // Release: pairs with the Acquire load in `cur`.
        self.index(ring_off::CUR).store(value, Ordering::Release)
    }

    /// Publishes `tail` (sync side only: netmap's rule).
    #[inline]
    pub fn set_tail(&self, value: u32) {
        // Release: pairs with the Acquire load in `tail`.
        self.index(ring_off::TAIL).store(value, Ordering::Release)
    }

    /// Ring flags (`NR_TIMESTAMP`, `NR_FORWARD`).
    #[inline]
    pub fn flags(&self) -> u32 {
        // Relaxed: a flag word the application sets before its sync.
        self.index(ring_off::FLAGS).load(Ordering::Relaxed)
    }

    /// Sets the ring flags.
    #[inline]
    pub fn set_flags(&self, flags: u32) {
        self.region
            .write(self.offset + ring_off::FLAGS, flags)
            .expect("in bounds")
    }

    /// Stamps the ring's `ts` with the current time (netmap does on every
    /// sync when `NR_TIMESTAMP` is set, and always on RX).
    #[inline]
    pub fn stamp(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let _ = self
            .region
            .write(self.offset + ring_off::TS_SEC, now.as_secs() as i64);
        let _ = self.region.write(
            self.offset + ring_off::TS_USEC,
            i64::from(now.subsec_micros()),
        );
    }

    /// Reads slot `index` (taken modulo the ring size) as two words: the
    /// first holds buf_idx, len and flags, the second ptr (x86-64 is little
    /// endian, as the layout assertions in `abi` assume).
    #[inline]
    pub fn slot(&self, index: u32) -> NetmapSlot {
        let [w0, ptr] = self.slots.read(index);
        NetmapSlot {
            buf_idx: w0 as u32,
            len: (w0 >> 32) as u16,
            flags: (w0 >> 48) as u16,
            ptr,
        }
    }

    /// The first word of slot `index` (little endian: `buf_idx` in bits
    /// 0..32, `len` in 32..48, `flags` in 48..64), for loops that move
    /// many slots and do not need `ptr`.
    #[inline]
    pub fn slot_word(&self, index: u32) -> u64 {
        self.slots.read_first(index)
    }

    /// The words of slots `start..start + len` (two per slot, as
    /// [`RingView::slot_word`] and ptr), for loops over a run of slots that
    /// does not wrap. Panics if the run leaves the ring.
    #[inline]
    pub fn slot_run(&self, start: u32, len: u32) -> &'a [std::sync::atomic::AtomicU64] {
        self.slots.run_words(start, len)
    }

    /// Hints that slot `index` (modulo the ring size) is about to be read
    /// and rewritten: see [`SlotWindow::prefetch_for_write`].
    #[inline]
    pub fn prefetch_slot_for_write(&self, index: u32) {
        self.slots.prefetch_for_write(index);
    }

    /// Writes slot `index` as its two words (see [`RingView::slot_word`]).
    #[inline]
    pub fn set_slot_words(&self, index: u32, words: [u64; 2]) {
        self.slots.write(index, words);
    }

    /// Writes slot `index` (taken modulo the ring size).
    #[inline]
    pub fn set_slot(&self, index: u32, slot: NetmapSlot) {
        let w0 = u64::from(slot.buf_idx) | u64::from(slot.len) << 32 | u64::from(slot.flags) << 48;
        self.slots.write(index, [w0, slot.ptr]);
    }

    /// Writes the length and flags of slot `index` (one 32-bit store),
    /// keeping its buffer.
    #[inline]
    pub fn set_len_flags(&self, index: u32, len: u16, flags: u16) {
        self.slots.write_u32(
            index,
            slot_off::LEN,
            u32::from(len) | u32::from(flags) << 16,
        );
    }

    /// Writes the buffer index of slot `index`.
    #[inline]
    pub fn set_buf_idx(&self, index: u32, buf_idx: u32) {
        self.slots.write_u32(index, slot_off::BUF_IDX, buf_idx);
    }

    /// Writes a complete ring header and its slots: the state of a freshly
    /// registered ring. `buf_ofs` is the distance from the ring to buffer 0.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn format(
        region: &'a SharedRegion,
        offset: usize,
        buffers: &[u32],
        ringid: u16,
        dir: Direction,
        buf_size: u32,
        buf_ofs: i64,
        tail: u32,
    ) -> Result<Self, ShmError> {
        let num_slots = buffers.len() as u32;
        let ring = Self::new(region, offset, num_slots)?;
        region.fill(offset, crate::abi::RING_HEADER_SIZE, 0)?;
        region.write(offset + ring_off::BUF_OFS, buf_ofs)?;
        region.write(offset + ring_off::NUM_SLOTS, num_slots)?;
        region.write(offset + ring_off::NR_BUF_SIZE, buf_size)?;
        region.write(offset + ring_off::RINGID, ringid)?;
        region.write(offset + ring_off::DIR, dir as u16)?;
        for (index, &buf_idx) in buffers.iter().enumerate() {
            ring.set_slot(
                index as u32,
                NetmapSlot {
                    buf_idx,
                    len: 0,
                    flags: 0,
                    ptr: 0,
                },
            );
        }
        ring.set_head(0);
        ring.set_cur(0);
        ring.set_tail(tail);
        Ok(ring)
    }
}

/// What a netmap_if says, for formatting one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfDescription {
    pub name: String,
    pub tx_rings: u32,
    pub rx_rings: u32,
    pub host_tx_rings: u32,
    pub host_rx_rings: u32,
    pub bufs_head: u32,
    pub flags: u32,
    /// Region offsets of the rings in `ring_ofs` order (NIC tx, host tx,
    /// NIC rx, host rx); `None` for a ring this binding does not map.
    pub rings: Vec<Option<usize>>,
}

/// Writes a netmap_if at `offset`. `ring_ofs` entries are relative to the
/// netmap_if, as netmap's `NETMAP_TXRING`/`NETMAP_RXRING` expect; a ring not
/// bound gets 0.
pub fn format_if(region: &SharedRegion, offset: usize, d: &IfDescription) -> Result<(), ShmError> {
    region.fill(offset, IF_HEADER_SIZE + 8 * d.rings.len(), 0)?;
    let mut name = [0u8; IFNAMSIZ];
    let bytes = d.name.as_bytes();
    let n = bytes.len().min(IFNAMSIZ - 1);
    name[..n].copy_from_slice(&bytes[..n]);
    region.write_bytes(offset + if_off::NAME, &name)?;
    region.write(offset + if_off::VERSION, NETMAP_API)?;
    region.write(offset + if_off::FLAGS, d.flags)?;
    region.write(offset + if_off::TX_RINGS, d.tx_rings)?;
    region.write(offset + if_off::RX_RINGS, d.rx_rings)?;
    region.write(offset + if_off::BUFS_HEAD, d.bufs_head)?;
    region.write(offset + if_off::HOST_TX_RINGS, d.host_tx_rings)?;
    region.write(offset + if_off::HOST_RX_RINGS, d.host_rx_rings)?;
    for (n, ring) in d.rings.iter().enumerate() {
        let rel = ring.map_or(0, |ring| ring as i64 - offset as i64);
        region.write(offset + if_off::RING_OFS + 8 * n, rel)?;
    }
    Ok(())
}

/// Reads `ni_bufs_head` (the application may have changed it).
pub fn if_bufs_head(region: &SharedRegion, offset: usize) -> Result<u32, ShmError> {
    region.read(offset + if_off::BUFS_HEAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_ring_reads_back() {
        let region = SharedRegion::create("view-test", 1 << 16).unwrap();
        let ring = RingView::format(
            &region,
            4096,
            &[2, 3, 4, 5],
            1,
            Direction::Tx,
            2048,
            8192,
            3,
        )
        .unwrap();
        assert_eq!(ring.head(), 0);
        assert_eq!(ring.tail(), 3);
        assert_eq!(ring.slot(2).buf_idx, 4);
        assert_eq!(region.read::<u32>(4096 + ring_off::NUM_SLOTS).unwrap(), 4);
        assert_eq!(region.read::<i64>(4096).unwrap(), 8192);
        assert_eq!(region.read::<u16>(4096 + ring_off::DIR).unwrap(), 0);
        ring.set_len_flags(1, 60, crate::abi::NS_MOREFRAG);
        assert_eq!(ring.slot(1).len, 60);
        assert_eq!(ring.slot(1).flags, crate::abi::NS_MOREFRAG);
        // A ring that would not fit is refused.
        assert!(RingView::new(&region, (1 << 16) - 256, 4).is_err());
    }

    #[test]
    fn netmap_if_offsets_are_relative() {
        let region = SharedRegion::create("view-test", 1 << 16).unwrap();
        let d = IfDescription {
            name: "vale0:a".into(),
            tx_rings: 1,
            rx_rings: 1,
            rings: vec![Some(8192), None, Some(4096)],
            ..Default::default()
        };
        format_if(&region, 1024, &d).unwrap();
        assert_eq!(region.read::<i64>(1024 + if_off::RING_OFS).unwrap(), 7168);
        assert_eq!(region.read::<i64>(1024 + if_off::RING_OFS + 8).unwrap(), 0);
        assert_eq!(
            region.read::<i64>(1024 + if_off::RING_OFS + 16).unwrap(),
            3072
        );
        assert_eq!(region.read::<u32>(1024 + if_off::VERSION).unwrap(), 14);
        let mut name = [0u8; 8];
        region.read_bytes(1024, &mut name).unwrap();
        assert_eq!(&name[..7], b"vale0:a");
    }
}
