//! One ring made from scratch in a [`NetmapMemory`]: its object, a buffer
//! per slot, and the header and slots of a freshly registered ring. The
//! private memories (a monitor's, a NIC port's, the preload's null port)
//! all start their rings this way.

use crate::region::{AllocError, NetmapMemory};
use crate::shm::ShmError;
use crate::view::Direction;
use crate::view::RingView;

/// Why a fresh ring could not be made; nothing it took is kept.
#[derive(Debug, thiserror::Error)]
pub enum FreshRingError {
    #[error(transparent)]
    Alloc(#[from] AllocError),
    #[error("cannot format the ring: {0}")]
    Format(#[from] ShmError),
}

/// Where a fresh ring lives and what it first reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreshRing {
    /// The ring object's offset in the region.
    pub offset: usize,
    /// The tail it starts with: every slot but one for TX, none for RX.
    pub tail: u32,
}

impl NetmapMemory {
    /// Allocates a ring object of `slots` slots and a buffer for each slot
    /// and formats it as netmap registers a ring: head and cur 0, a TX
    /// ring offering every slot but one, an RX ring empty. All or
    /// nothing: on failure the object and buffers go back to the pools.
    pub fn alloc_fresh_ring(
        &self,
        ringid: u16,
        dir: Direction,
        slots: u32,
    ) -> Result<FreshRing, FreshRingError> {
        let offset = self.alloc_rings(1, slots)?[0];
        let mut bufs = Vec::with_capacity(slots as usize);
        if let Err(e) = self.alloc_buffers(slots, &mut bufs) {
            self.free_ring(offset);
            return Err(e.into());
        }
        let tail = match dir {
            Direction::Tx => slots - 1,
            Direction::Rx => 0,
        };
        let buf_ofs = self.layout().buf_off as i64 - offset as i64;
        if let Err(e) = RingView::format(
            self.region(),
            offset,
            &bufs,
            ringid,
            dir,
            self.buf_size(),
            buf_ofs,
            tail,
        ) {
            self.release_buffers(bufs);
            self.free_ring(offset);
            return Err(e.into());
        }
        Ok(FreshRing { offset, tail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::RegionConfig;

    fn memory() -> NetmapMemory {
        let config = RegionConfig {
            ctrl_size: 100,
            if_objects: 1,
            if_object_size: 256,
            ring_objects: 4,
            max_ring_slots: 64,
            buf_size: 2048,
            num_bufs: 130,
        };
        NetmapMemory::create("fresh-ring-test", config).unwrap()
    }

    #[test]
    fn a_fresh_ring_is_formatted_as_registered() {
        let mem = memory();
        let tx = mem.alloc_fresh_ring(3, Direction::Tx, 64).unwrap();
        let rx = mem.alloc_fresh_ring(0, Direction::Rx, 32).unwrap();
        assert_eq!((tx.tail, rx.tail), (63, 0));
        let view = RingView::new(mem.region(), tx.offset, 64).unwrap();
        assert_eq!((view.head(), view.cur(), view.tail()), (0, 0, 63));
        let mut bufs: Vec<u32> = (0..64).map(|i| view.slot(i).buf_idx).collect();
        bufs.sort_unstable();
        bufs.dedup();
        assert_eq!(bufs.len(), 64, "a distinct buffer per slot");
    }

    #[test]
    fn a_failed_ring_gives_back_what_it_took() {
        let mem = memory();
        mem.alloc_fresh_ring(0, Direction::Tx, 64).unwrap();
        mem.alloc_fresh_ring(1, Direction::Tx, 64).unwrap();
        let free = mem.free_buffers();
        let err = mem.alloc_fresh_ring(2, Direction::Tx, 64).unwrap_err();
        assert!(matches!(
            err,
            FreshRingError::Alloc(AllocError::Buffers { .. })
        ));
        assert_eq!(mem.free_buffers(), free, "no buffer kept");
        // Two of the four ring objects are in use; the failed one came back.
        assert_eq!(mem.alloc_rings(2, 1).unwrap().len(), 2);
    }
}
