//! The `sim` body: the Verilator model of `hw/` (crate `sim`) in this
//! process, clocked by the driver when there is work.
//!
//! BAR0 accesses are bus transactions on the model's BAR0 port. DMA
//! memory is bookkept here (device addresses from an [`IovaAllocator`]),
//! notifications are eventfds this body signals itself. BAR2, the DMA
//! responder and the notification lines come with the RTL data path
//! (issue 6); until the sim crate exposes them, those operations answer
//! `Unsupported`.
#![forbid(unsafe_code)]

use std::sync::Arc;

use netmap_ring::shm::SharedRegion;
use sim::nic::{Nic, NicVariant};
use vale_offload::regmap as map;

use crate::device::{check_bar0_offset, Device, DeviceCounters, DeviceError, IovaAllocator};
use crate::eventfd::EventFd;

/// Device addresses handed to DMA regions: from 4 GiB up, so that a
/// driver that truncates an address to 32 bits fails visibly.
const IOVA_BASE: u64 = 1 << 32;
const IOVA_END: u64 = 1 << 48;

/// The Verilator model as a [`Device`].
pub struct SimDevice {
    nic: Nic,
    iovas: IovaAllocator,
    notifiers: Vec<Arc<EventFd>>,
    counters: DeviceCounters,
}

impl SimDevice {
    /// A fresh model (reset, table flushed) with one notification eventfd
    /// per port entry.
    pub fn new() -> Result<Self, DeviceError> {
        let mut device = Self {
            nic: Nic::new(NicVariant::Netmap),
            iovas: IovaAllocator::new(IOVA_BASE, IOVA_END),
            notifiers: Vec::new(),
            counters: DeviceCounters::default(),
        };
        let ports = device.nic.bar0_read(map::PT_COUNT);
        for _ in 0..ports {
            let fd = EventFd::new().map_err(|e| DeviceError::sys("eventfd", e))?;
            device.notifiers.push(Arc::new(fd));
        }
        Ok(device)
    }

    fn unsupported(what: &str) -> DeviceError {
        DeviceError::Unsupported {
            body: "sim",
            what: format!("{what} (needs the RTL data path)"),
        }
    }
}

impl Device for SimDevice {
    fn body(&self) -> &'static str {
        "sim"
    }

    fn bar0_read(&mut self, offset: u32) -> Result<u32, DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.counters.mmio_reads += 1;
        Ok(self.nic.bar0_read(offset))
    }

    fn bar0_write(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.counters.mmio_writes += 1;
        self.nic.bar0_write(offset, value);
        Ok(())
    }

    fn bar2_len(&self) -> u64 {
        0
    }

    fn bar2_write(&mut self, _offset: u64, _data: &[u8]) -> Result<(), DeviceError> {
        Err(Self::unsupported("BAR2"))
    }

    fn bar2_read(&mut self, _offset: u64, _out: &mut [u8]) -> Result<(), DeviceError> {
        Err(Self::unsupported("BAR2"))
    }

    fn dma_map(&mut self, region: Arc<SharedRegion>) -> Result<u64, DeviceError> {
        self.iovas.insert(region)
    }

    fn dma_unmap(&mut self, iova: u64) -> Result<(), DeviceError> {
        self.iovas.remove(iova).map(drop)
    }

    fn vectors(&self) -> u32 {
        self.notifiers.len() as u32
    }

    fn notifier(&mut self, vector: u32) -> Result<Arc<EventFd>, DeviceError> {
        self.notifiers
            .get(vector as usize)
            .cloned()
            .ok_or(DeviceError::NoVector {
                vector,
                count: self.notifiers.len() as u32,
            })
    }

    fn settle(&mut self) -> Result<(), DeviceError> {
        // Nothing runs by itself in this revision of the model: the switch
        // core is idle as soon as its BAR0 writes are taken.
        Ok(())
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.nic.reset();
        Ok(())
    }

    fn counters(&self) -> DeviceCounters {
        DeviceCounters {
            cycles: self.nic.cycles(),
            ..self.counters
        }
    }
}
