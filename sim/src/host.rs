//! Host memory as the device sees it: shared regions mapped at device
//! addresses (IOVAs), and the DMA responder that serves the model's DMA
//! master port from them.
//!
//! Every access is bounds-checked against one mapping (an access may not
//! straddle two) and counted. A DMA the host did not map is an error the
//! device cannot see: reads return zeros, writes are dropped, and both are
//! counted in [`LinkCounters::dma_errors`].
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use netmap_ring::shm::SharedRegion;

/// Bytes per DMA data beat (the 512-bit data path).
pub const BEAT_BYTES: usize = 64;

/// Errors of DMA mapping.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DmaMapError {
    #[error("mapping of {len:#x} bytes at {iova:#x} overlaps the one at {other:#x}")]
    Overlap { iova: u64, len: u64, other: u64 },
    #[error("mapping of {len:#x} bytes at {iova:#x} wraps the address space")]
    Wraps { iova: u64, len: u64 },
}

/// What crossed the modelled PCIe link, counted by the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// 32-bit BAR0 reads (about a microsecond each on PCIe).
    pub mmio_reads: u64,
    /// 32-bit BAR0 writes (posted).
    pub mmio_writes: u64,
    /// Bytes read from and written into BAR2.
    pub bar2_read_bytes: u64,
    pub bar2_write_bytes: u64,
    /// DMA read requests and the bytes they asked for.
    pub dma_read_requests: u64,
    pub dma_read_bytes: u64,
    /// DMA write requests and their bytes.
    pub dma_write_requests: u64,
    pub dma_write_bytes: u64,
    /// DMA accesses outside every mapping (reads answered with zeros,
    /// writes dropped).
    pub dma_errors: u64,
    /// Notification pulses raised by the device.
    pub notifications: u64,
}

impl LinkCounters {
    /// The counts accumulated since `earlier`.
    pub fn since(&self, earlier: &LinkCounters) -> LinkCounters {
        LinkCounters {
            mmio_reads: self.mmio_reads - earlier.mmio_reads,
            mmio_writes: self.mmio_writes - earlier.mmio_writes,
            bar2_read_bytes: self.bar2_read_bytes - earlier.bar2_read_bytes,
            bar2_write_bytes: self.bar2_write_bytes - earlier.bar2_write_bytes,
            dma_read_requests: self.dma_read_requests - earlier.dma_read_requests,
            dma_read_bytes: self.dma_read_bytes - earlier.dma_read_bytes,
            dma_write_requests: self.dma_write_requests - earlier.dma_write_requests,
            dma_write_bytes: self.dma_write_bytes - earlier.dma_write_bytes,
            dma_errors: self.dma_errors - earlier.dma_errors,
            notifications: self.notifications - earlier.notifications,
        }
    }
}

/// Shared regions at device addresses.
#[derive(Default)]
pub struct HostMemory {
    maps: Vec<(u64, Arc<SharedRegion>)>,
}

impl HostMemory {
    /// Maps `region` at device address `iova`.
    pub fn map(&mut self, iova: u64, region: Arc<SharedRegion>) -> Result<(), DmaMapError> {
        let len = region.len() as u64;
        let end = iova
            .checked_add(len)
            .ok_or(DmaMapError::Wraps { iova, len })?;
        for (other, mapped) in &self.maps {
            if iova < other + mapped.len() as u64 && *other < end {
                return Err(DmaMapError::Overlap {
                    iova,
                    len,
                    other: *other,
                });
            }
        }
        self.maps.push((iova, region));
        Ok(())
    }

    /// Removes the mapping at `iova`, returning its region.
    pub fn unmap(&mut self, iova: u64) -> Option<Arc<SharedRegion>> {
        let at = self.maps.iter().position(|(base, _)| *base == iova)?;
        Some(self.maps.swap_remove(at).1)
    }

    /// The region and offset holding `len` bytes at `addr`, if one mapping
    /// holds them all.
    fn find(&self, addr: u64, len: usize) -> Option<(&SharedRegion, usize)> {
        let end = addr.checked_add(len as u64)?;
        self.maps.iter().find_map(|(base, region)| {
            (addr >= *base && end <= base + region.len() as u64)
                .then(|| (&**region, (addr - base) as usize))
        })
    }

    /// Reads `out.len()` bytes at device address `addr`; false when no
    /// mapping holds them.
    pub fn read(&self, addr: u64, out: &mut [u8]) -> bool {
        match self.find(addr, out.len()) {
            Some((region, offset)) => region.read_bytes(offset, out).is_ok(),
            None => false,
        }
    }

    /// Writes `data` at device address `addr`; false when no mapping holds it.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr, data.len()) {
            Some((region, offset)) => region.write_bytes(offset, data).is_ok(),
            None => false,
        }
    }
}

/// One response beat of the DMA read channel.
#[derive(Clone, Copy, Debug)]
pub struct ReadBeat {
    pub data: [u32; 16],
    pub tag: u8,
    pub last: bool,
    /// The first cycle the beat may be presented.
    pub due: u64,
}

/// The host side of the DMA port: reads are taken from memory when
/// requested (a later host write is not seen, as on PCIe where the
/// completion carries the data read then) and answered in request order
/// after a fixed latency, one beat per cycle; writes are performed when
/// accepted, in order, before any read accepted in the same cycle.
pub struct DmaResponder {
    beats: VecDeque<ReadBeat>,
    latency: u64,
}

impl DmaResponder {
    /// A responder answering reads `latency` cycles after the request.
    pub fn new(latency: u64) -> Self {
        Self {
            beats: VecDeque::new(),
            latency,
        }
    }

    /// Cycles from a read request to its first beat.
    pub fn latency(&self) -> u64 {
        self.latency
    }

    /// Changes the read latency (for requests from now on).
    pub fn set_latency(&mut self, cycles: u64) {
        self.latency = cycles;
    }

    /// Serves a read request accepted at cycle `now`.
    pub fn read_request(
        &mut self,
        memory: &HostMemory,
        counters: &mut LinkCounters,
        now: u64,
        addr: u64,
        len: usize,
        tag: u8,
    ) {
        counters.dma_read_requests += 1;
        counters.dma_read_bytes += len as u64;
        let mut bytes = vec![0u8; len.div_ceil(BEAT_BYTES).max(1) * BEAT_BYTES];
        if !memory.read(addr, &mut bytes[..len]) {
            counters.dma_errors += 1;
            bytes.fill(0);
        }
        let count = bytes.len() / BEAT_BYTES;
        for (i, chunk) in bytes.chunks_exact(BEAT_BYTES).enumerate() {
            let mut data = [0u32; 16];
            for (word, four) in data.iter_mut().zip(chunk.chunks_exact(4)) {
                *word = u32::from_le_bytes(four.try_into().expect("4 bytes"));
            }
            self.beats.push_back(ReadBeat {
                data,
                tag,
                last: i + 1 == count,
                due: now + self.latency + i as u64,
            });
        }
    }

    /// Performs a write request (bytes 0 .. len of `data`).
    pub fn write_request(
        memory: &HostMemory,
        counters: &mut LinkCounters,
        addr: u64,
        len: usize,
        data: &[u32; 16],
    ) {
        counters.dma_write_requests += 1;
        counters.dma_write_bytes += len as u64;
        let mut bytes = [0u8; BEAT_BYTES];
        for (four, word) in bytes.chunks_exact_mut(4).zip(data) {
            four.copy_from_slice(&word.to_le_bytes());
        }
        let len = len.min(BEAT_BYTES);
        if !memory.write(addr, &bytes[..len]) {
            counters.dma_errors += 1;
        }
    }

    /// The beat to present in cycle `now`, if one is due.
    pub fn current(&self, now: u64) -> Option<&ReadBeat> {
        self.beats.front().filter(|beat| beat.due <= now)
    }

    /// The presented beat was accepted.
    pub fn pop(&mut self) {
        self.beats.pop_front();
    }

    /// Read beats not yet delivered.
    pub fn pending(&self) -> usize {
        self.beats.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_bounds_checked_and_do_not_overlap() {
        let mut memory = HostMemory::default();
        let region = Arc::new(SharedRegion::create("host-test", 4096).unwrap());
        memory.map(0x1_0000, region.clone()).unwrap();
        assert!(matches!(
            memory.map(0x1_0800, region.clone()),
            Err(DmaMapError::Overlap { .. })
        ));
        assert!(memory.write(0x1_0ffc, &[1, 2, 3, 4]));
        assert!(!memory.write(0x1_0ffd, &[1, 2, 3, 4]), "straddles the end");
        assert!(!memory.write(0xfffc, &[1, 2, 3, 4]), "before the start");
        let mut out = [0u8; 4];
        assert!(memory.read(0x1_0ffc, &mut out));
        assert_eq!(out, [1, 2, 3, 4]);
        assert_eq!(region.read::<u32>(4092).unwrap(), 0x0403_0201);
        assert!(memory.unmap(0x1_0000).is_some());
        assert!(!memory.read(0x1_0ffc, &mut out));
    }

    #[test]
    fn reads_are_answered_in_beats_after_the_latency() {
        let mut memory = HostMemory::default();
        let region = Arc::new(SharedRegion::create("host-test", 4096).unwrap());
        let bytes: Vec<u8> = (0..200u8).collect();
        region.write_bytes(100, &bytes).unwrap();
        memory.map(0x2000, region).unwrap();
        let mut counters = LinkCounters::default();
        let mut dma = DmaResponder::new(5);
        dma.read_request(&memory, &mut counters, 10, 0x2000 + 100, 130, 7);
        assert_eq!(dma.pending(), 3);
        assert!(dma.current(14).is_none());
        let first = *dma.current(15).unwrap();
        assert_eq!(first.tag, 7);
        assert!(!first.last);
        assert_eq!(first.data[0], u32::from_le_bytes([0, 1, 2, 3]));
        dma.pop();
        dma.pop();
        let last = *dma.current(17).unwrap();
        assert!(last.last);
        // Byte 128 of the request is the first of the third beat; the rest
        // beyond the request's 130 bytes reads as zero.
        assert_eq!(last.data[0], u32::from_le_bytes([128, 129, 0, 0]));
        assert_eq!(counters.dma_read_bytes, 130);
        dma.read_request(&memory, &mut counters, 20, 0x9000, 8, 1);
        assert_eq!(counters.dma_errors, 1);
    }
}
