//! The server side: the Verilator model as a vfio-user device.
//!
//! Regions: BAR0 (registers), BAR2 (descriptor memory), a zeroed config
//! space; IRQs: one MSI-X vector per port entry. Every write is followed by
//! running the model until it is idle, so work started by a doorbell is
//! done when the client gets its reply. When a client goes away (closed or
//! killed), [`SimServer::client_gone`] resets the device and drops its DMA
//! mappings: every port it had is released.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use netmap_ring::shm::SharedRegion;
use sim::nic::{Nic, NicVariant};
use vale_offload::regmap as map;
use vfio_bindings::bindings::vfio::{
    vfio_region_info, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
    VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS, VFIO_REGION_INFO_FLAG_READ,
    VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_user::{DmaMapFlags, DmaUnmapFlags, IrqInfo, ServerBackend, ServerRegion};

use crate::sim::SETTLE_CYCLE_LIMIT;

/// Bytes of the (all-zero) config space region.
const CONFIG_BYTES: u64 = 256;

/// The eventfds the client bound, one per port entry.
type Lines = Arc<Mutex<Vec<Option<File>>>>;

/// The model behind the vfio-user protocol.
pub struct SimServer {
    nic: Nic,
    lines: Lines,
    mapped: Vec<u64>,
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.into())
}

impl SimServer {
    /// A fresh model whose notification lines signal the client's eventfds.
    pub fn new() -> Self {
        let mut nic = Nic::new(NicVariant::Netmap);
        let lines: Lines = Arc::new(Mutex::new(Vec::new()));
        let signalled = lines.clone();
        nic.set_notify_handler(Box::new(move |port| {
            let mut lines = signalled.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(Some(fd)) = lines.get_mut(port as usize) {
                let _ = fd.write_all(&1u64.to_ne_bytes());
            }
        }));
        Self {
            nic,
            lines,
            mapped: Vec::new(),
        }
    }

    /// Port entries (and MSI-X vectors).
    pub fn ports(&mut self) -> u32 {
        self.nic.bar0_read(map::PT_COUNT)
    }

    /// The regions to announce: BAR0, BAR2 and config space.
    pub fn regions(&self) -> Vec<ServerRegion> {
        (0..VFIO_PCI_NUM_REGIONS)
            .map(|index| {
                let size = match index {
                    VFIO_PCI_BAR0_REGION_INDEX => u64::from(map::BAR0_SIZE),
                    VFIO_PCI_BAR2_REGION_INDEX => self.nic.bar2_len(),
                    VFIO_PCI_CONFIG_REGION_INDEX => CONFIG_BYTES,
                    _ => 0,
                };
                let flags = if size > 0 {
                    VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
                } else {
                    0
                };
                ServerRegion {
                    region_info: vfio_region_info {
                        argsz: std::mem::size_of::<vfio_region_info>() as u32,
                        index,
                        size,
                        flags,
                        ..Default::default()
                    },
                    sparse_areas: Vec::new(),
                    mmap_fd: None,
                }
            })
            .collect()
    }

    /// The IRQs to announce: `ports` MSI-X vectors.
    pub fn irqs(ports: u32) -> Vec<IrqInfo> {
        (0..VFIO_PCI_NUM_IRQS)
            .map(|index| IrqInfo {
                index,
                count: if index == VFIO_PCI_MSIX_IRQ_INDEX {
                    ports
                } else {
                    0
                },
                flags: if index == VFIO_PCI_MSIX_IRQ_INDEX {
                    VFIO_IRQ_INFO_EVENTFD
                } else {
                    0
                },
            })
            .collect()
    }

    /// Releases everything a client had: ports (by reset), DMA mappings,
    /// notification fds.
    pub fn client_gone(&mut self) {
        self.nic.reset();
        for iova in std::mem::take(&mut self.mapped) {
            self.nic.dma_unmap(iova);
        }
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn settle(&mut self) -> io::Result<()> {
        self.nic
            .run_until_idle(SETTLE_CYCLE_LIMIT)
            .map(drop)
            .map_err(|_| io::Error::other("device did not go idle"))
    }
}

impl Default for SimServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBackend for SimServer {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> io::Result<()> {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => {
                if data.len() != 4
                    || !offset.is_multiple_of(4)
                    || offset >= u64::from(map::BAR0_SIZE)
                {
                    return Err(invalid("BAR0 reads are aligned 32-bit words"));
                }
                let value = self.nic.bar0_read(offset as u32);
                data.copy_from_slice(&value.to_le_bytes());
                Ok(())
            }
            VFIO_PCI_BAR2_REGION_INDEX => self
                .nic
                .bar2_read(offset, data)
                .map_err(|e| invalid(e.to_string())),
            VFIO_PCI_CONFIG_REGION_INDEX if offset + data.len() as u64 <= CONFIG_BYTES => {
                data.fill(0);
                Ok(())
            }
            _ => Err(invalid(format!("no region {region}"))),
        }
    }

    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> io::Result<()> {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => {
                if data.len() != 4
                    || !offset.is_multiple_of(4)
                    || offset >= u64::from(map::BAR0_SIZE)
                {
                    return Err(invalid("BAR0 writes are aligned 32-bit words"));
                }
                let value = u32::from_le_bytes(data.try_into().expect("4 bytes"));
                self.nic.bar0_write(offset as u32, value);
                self.settle()
            }
            VFIO_PCI_BAR2_REGION_INDEX => self
                .nic
                .bar2_write(offset, data)
                .map_err(|e| invalid(e.to_string())),
            VFIO_PCI_CONFIG_REGION_INDEX => Ok(()),
            _ => Err(invalid(format!("no region {region}"))),
        }
    }

    fn dma_map(
        &mut self,
        _flags: DmaMapFlags,
        offset: u64,
        address: u64,
        size: u64,
        fd: Option<File>,
    ) -> io::Result<()> {
        let file = fd.ok_or_else(|| invalid("DMA map without a file descriptor"))?;
        let region = SharedRegion::from_fd(OwnedFd::from(file)).map_err(io::Error::other)?;
        if offset != 0 || region.len() as u64 != size {
            return Err(invalid("DMA regions are whole memfds"));
        }
        self.nic
            .dma_map(address, Arc::new(region))
            .map_err(|e| invalid(e.to_string()))?;
        self.mapped.push(address);
        Ok(())
    }

    fn dma_unmap(&mut self, _flags: DmaUnmapFlags, address: u64, _size: u64) -> io::Result<()> {
        self.nic
            .dma_unmap(address)
            .ok_or_else(|| invalid(format!("nothing mapped at {address:#x}")))?;
        self.mapped.retain(|&a| a != address);
        Ok(())
    }

    fn reset(&mut self) -> io::Result<()> {
        self.nic.reset();
        Ok(())
    }

    fn set_irqs(
        &mut self,
        index: u32,
        flags: u32,
        start: u32,
        count: u32,
        fds: Vec<File>,
    ) -> io::Result<()> {
        if index != VFIO_PCI_MSIX_IRQ_INDEX {
            return Err(invalid("only MSI-X vectors exist"));
        }
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let end = (start + count) as usize;
        if lines.len() < end {
            lines.resize_with(end, || None);
        }
        if flags & VFIO_IRQ_SET_DATA_EVENTFD != 0 {
            for (line, fd) in lines[start as usize..end].iter_mut().zip(fds) {
                *line = Some(fd);
            }
        } else {
            for line in &mut lines[start as usize..end] {
                *line = None;
            }
        }
        Ok(())
    }
}
