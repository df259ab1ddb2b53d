//! The `sim` body: the Verilator model of `hw/` (crate `sim`) in this
//! process, clocked by the driver when there is work.
//!
//! BAR0 and BAR2 accesses are bus transactions on the model's ports; DMA
//! is served by the sim crate from the regions mapped here (device
//! address = region offset + the address handed out by an
//! [`IovaAllocator`]); each notification line signals its port's eventfd.
//! The model runs only when the driver lets it ([`Device::settle`], after
//! every doorbell): until it is idle, or a bounded number of cycles.
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

/// Cycles one `settle` may run before the device counts as hung.
pub const SETTLE_CYCLE_LIMIT: u64 = 20_000_000;

/// The Verilator model as a [`Device`].
pub struct SimDevice {
    nic: Nic,
    iovas: IovaAllocator,
    notifiers: Vec<Arc<EventFd>>,
}

impl SimDevice {
    /// A fresh model (reset, table flushed) with one notification eventfd
    /// per port entry.
    pub fn new() -> Result<Self, DeviceError> {
        let mut nic = Nic::new(NicVariant::Netmap);
        let ports = nic.bar0_read(map::PT_COUNT);
        let mut notifiers = Vec::new();
        for _ in 0..ports {
            let fd = EventFd::new().map_err(|e| DeviceError::sys("eventfd", e))?;
            notifiers.push(Arc::new(fd));
        }
        let lines = notifiers.clone();
        nic.set_notify_handler(Box::new(move |port| {
            if let Some(fd) = lines.get(port as usize) {
                let _ = fd.signal();
            }
        }));
        Ok(Self {
            nic,
            iovas: IovaAllocator::new(IOVA_BASE, IOVA_END),
            notifiers,
        })
    }

    fn bar2_error(e: sim::nic::Bar2Error) -> DeviceError {
        DeviceError::Unsupported {
            body: "sim",
            what: e.to_string(),
        }
    }
}

impl Device for SimDevice {
    fn body(&self) -> &'static str {
        "sim"
    }

    fn bar0_read(&mut self, offset: u32) -> Result<u32, DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        Ok(self.nic.bar0_read(offset))
    }

    fn bar0_write(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.nic.bar0_write(offset, value);
        Ok(())
    }

    fn bar2_len(&self) -> u64 {
        self.nic.bar2_len()
    }

    fn bar2_write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        crate::device::check_range("BAR2", offset, data.len(), self.nic.bar2_len())?;
        self.nic.bar2_write(offset, data).map_err(Self::bar2_error)
    }

    fn bar2_read(&mut self, offset: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        crate::device::check_range("BAR2", offset, out.len(), self.nic.bar2_len())?;
        self.nic.bar2_read(offset, out).map_err(Self::bar2_error)
    }

    fn dma_map(&mut self, region: Arc<SharedRegion>) -> Result<u64, DeviceError> {
        let iova = self.iovas.insert(region.clone())?;
        if let Err(e) = self.nic.dma_map(iova, region) {
            let _ = self.iovas.remove(iova);
            return Err(DeviceError::Unsupported {
                body: "sim",
                what: e.to_string(),
            });
        }
        Ok(iova)
    }

    fn dma_unmap(&mut self, iova: u64) -> Result<(), DeviceError> {
        self.iovas.remove(iova)?;
        self.nic.dma_unmap(iova);
        Ok(())
    }

    fn vectors(&self) -> u32 {
        self.notifiers.len() as u32
    }

    fn notifier(&mut self, vector: u32) -> Result<Arc<EventFd>, DeviceError> {
        crate::device::vector_eventfd(&self.notifiers, vector)
    }

    fn settle(&mut self) -> Result<(), DeviceError> {
        self.nic
            .run_until_idle(SETTLE_CYCLE_LIMIT)
            .map(drop)
            .map_err(|_| DeviceError::Hung {
                cycles: SETTLE_CYCLE_LIMIT,
            })
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.nic.reset();
        Ok(())
    }

    fn counters(&self) -> DeviceCounters {
        nic_counters(&self.nic)
    }
}

/// The model's link counters and clock cycles, as [`DeviceCounters`].
pub fn nic_counters(nic: &Nic) -> DeviceCounters {
    let link = nic.link_counters();
    DeviceCounters {
        mmio_reads: link.mmio_reads,
        mmio_writes: link.mmio_writes,
        bar2_write_bytes: link.bar2_write_bytes,
        bar2_read_bytes: link.bar2_read_bytes,
        dma_read_requests: link.dma_read_requests,
        dma_read_bytes: link.dma_read_bytes,
        dma_write_requests: link.dma_write_requests,
        dma_write_bytes: link.dma_write_bytes,
        notifications: link.notifications,
        cycles: nic.cycles(),
    }
}
