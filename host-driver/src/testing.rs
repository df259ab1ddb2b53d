//! Test doubles shared by the unit tests: a BAR0 register image laid out as
//! hw/README.md documents it (what the RTL's `bar0_regs` answers at reset),
//! usable as a [`Device`] or served behind the fake VFIO kernel.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use netmap_ring::shm::SharedRegion;
use vale_offload::regmap as map;

use crate::device::{check_bar0_offset, Device, DeviceCounters, DeviceError};
use crate::eventfd::EventFd;

/// A BAR0 image: plain storage (reads return the last write, 0 elsewhere)
/// with a log of writes.
#[derive(Debug, Default)]
pub struct RegisterImage {
    regs: BTreeMap<u32, u32>,
    writes: Vec<(u32, u32)>,
    counters: DeviceCounters,
}

impl RegisterImage {
    /// The documented reset image with `ports` port entries.
    pub fn documented(ports: u32) -> Self {
        let mut image = Self::default();
        let header = |image: &mut Self, base: u32, kind: u32, version: u32, next: u32| {
            image.set(base + map::BLOCK_TYPE, kind);
            image.set(base + map::BLOCK_VERSION, version);
            image.set(base + map::BLOCK_NEXT, next);
        };
        header(
            &mut image,
            map::DEVICE_BASE,
            map::TYPE_DEVICE,
            map::DEVICE_VERSION,
            map::SWITCH_BASE,
        );
        image.set(map::DEV_ID, map::DEVICE_ID_VALUE);
        image.set(map::DEV_REVISION, map::DEV_REVISION_VALUE);
        image.set(map::DEV_DATAPATH_BITS, 512);
        image.set(map::DEV_CLOCK_MHZ, 250);
        header(
            &mut image,
            map::SWITCH_BASE,
            map::TYPE_SWITCH,
            map::SWITCH_VERSION,
            map::PORT_TABLE_BASE,
        );
        image.set(map::SW_ROWS, 1024);
        image.set(map::SW_WAYS, 1);
        image.set(map::SW_HASH_ID, map::HASH_ID_NETMAP);
        image.set(map::SW_MAX_PORTS, 254);
        header(
            &mut image,
            map::PORT_TABLE_BASE,
            map::TYPE_PORT_TABLE,
            map::PORT_TABLE_VERSION,
            0,
        );
        image.set(map::PT_COUNT, ports);
        image.set(map::PT_STRIDE, map::PORT_ENTRY_STRIDE);
        image.set(map::PT_FIRST, map::PORT_ENTRY_BASE);
        image
    }

    /// Sets a register.
    pub fn set(&mut self, offset: u32, value: u32) {
        self.regs.insert(offset, value);
    }

    /// Reads a register without counting.
    pub fn get(&self, offset: u32) -> u32 {
        self.regs.get(&offset).copied().unwrap_or(0)
    }

    /// Moves the block at `from` (its header and the 0x100 bytes after it)
    /// to `to`, relinking its predecessor.
    pub fn move_block(&mut self, from: u32, to: u32) {
        let moved: Vec<(u32, u32)> = self
            .regs
            .range(from..from + 0x100)
            .map(|(&o, &v)| (o, v))
            .collect();
        for (offset, value) in moved {
            self.regs.remove(&offset);
            self.regs.insert(offset - from + to, value);
        }
        let links: Vec<u32> = self
            .regs
            .iter()
            .filter(|(&o, &v)| o % 0x100 == map::BLOCK_NEXT && v == from)
            .map(|(&o, _)| o)
            .collect();
        for link in links {
            self.regs.insert(link, to);
        }
    }

    /// Writes seen so far, as (offset, value).
    pub fn write_log(&self) -> &[(u32, u32)] {
        &self.writes
    }

    /// Forgets the write log.
    pub fn clear_log(&mut self) {
        self.writes.clear();
    }

    /// An MMIO read, counted.
    pub fn mmio_read(&mut self, offset: u32) -> u32 {
        self.counters.mmio_reads += 1;
        self.get(offset)
    }

    /// An MMIO write, counted and logged.
    pub fn mmio_write(&mut self, offset: u32, value: u32) {
        self.counters.mmio_writes += 1;
        self.writes.push((offset, value));
        self.set(offset, value);
    }
}

impl Device for RegisterImage {
    fn body(&self) -> &'static str {
        "image"
    }

    fn bar0_read(&mut self, offset: u32) -> Result<u32, DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        Ok(self.mmio_read(offset))
    }

    fn bar0_write(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.mmio_write(offset, value);
        Ok(())
    }

    fn bar2_len(&self) -> u64 {
        0
    }

    fn bar2_write(&mut self, _offset: u64, _data: &[u8]) -> Result<(), DeviceError> {
        Err(self.unsupported("BAR2"))
    }

    fn bar2_read(&mut self, _offset: u64, _out: &mut [u8]) -> Result<(), DeviceError> {
        Err(self.unsupported("BAR2"))
    }

    fn dma_map(&mut self, _region: Arc<SharedRegion>) -> Result<u64, DeviceError> {
        Err(self.unsupported("DMA"))
    }

    fn dma_unmap(&mut self, iova: u64) -> Result<(), DeviceError> {
        Err(DeviceError::NotMapped { iova })
    }

    fn vectors(&self) -> u32 {
        0
    }

    fn notifier(&mut self, vector: u32) -> Result<Arc<EventFd>, DeviceError> {
        Err(DeviceError::NoVector { vector, count: 0 })
    }

    fn settle(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn counters(&self) -> DeviceCounters {
        self.counters
    }
}

impl RegisterImage {
    fn unsupported(&self, what: &str) -> DeviceError {
        DeviceError::Unsupported {
            body: "image",
            what: what.to_owned(),
        }
    }
}
