//! The server side: the Verilator model as a vfio-user device, shared by
//! several clients (one connection each, as several processes share one
//! board).
//!
//! Regions: BAR0 (registers), BAR2 (descriptor memory), a zeroed config
//! space; IRQs: one MSI-X vector per port entry. Every BAR0 write is
//! followed by running the model until it is idle, so work started by a
//! doorbell is done when the client gets its reply.
//!
//! What a connection owns: the port entries it enabled, its DMA mappings,
//! its eventfds. A notification for port `p` goes to the eventfd of the
//! connection that enabled `p`. When a connection ends (closed or its
//! process killed), [`Connection::close`] disables its entries and unmaps
//! its memory: every port it had is released, the others keep running.
//!
//! One more region, [`COUNTERS_REGION_INDEX`], read-only, holds the
//! model's device-wide counters ([`DeviceCounters::to_words`], little
//! endian): what every client's traffic cost, in MMIO, DMA and cycles.
//! [`SimServer::idle_for`] tells how long no client has been attached
//! (`nmsim-server --idle-exit`).
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use netmap_ring::shm::SharedRegion;
use sim::nic::{Nic, NicVariant};
use vale_offload::regmap as map;
use vfio_bindings::bindings::vfio::{
    vfio_region_info, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
    VFIO_PCI_NUM_IRQS, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_user::{DmaMapFlags, DmaUnmapFlags, IrqInfo, ServerBackend, ServerRegion};

use super::{COUNTERS_BYTES, COUNTERS_REGION_INDEX};

use crate::sim::{nic_counters, SETTLE_CYCLE_LIMIT};

/// Bytes of the (all-zero) config space region.
const CONFIG_BYTES: u64 = 256;

/// Clients attached, and since when none is.
struct Attached {
    clients: usize,
    idle_since: Instant,
}

/// Who gets notifications: per port entry its owner, per connection its
/// eventfds. Locked by the model's notification handler, so never held
/// while calling into the model.
#[derive(Default)]
struct Routing {
    owners: HashMap<u32, u64>,
    lines: HashMap<u64, Vec<Option<File>>>,
}

/// The model and what each connection holds in it.
struct Device {
    nic: Nic,
    ports: u32,
    mapped: HashMap<u64, Vec<u64>>,
}

/// The model behind the vfio-user protocol, shared by connections.
#[derive(Clone)]
pub struct SimServer {
    device: Arc<Mutex<Device>>,
    routing: Arc<Mutex<Routing>>,
    next_connection: Arc<Mutex<u64>>,
    attached: Arc<Mutex<Attached>>,
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.into())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimServer {
    /// A fresh model whose notification lines signal the owning
    /// connection's eventfds.
    pub fn new() -> Self {
        let mut nic = Nic::new(NicVariant::Netmap);
        let routing: Arc<Mutex<Routing>> = Arc::default();
        let signalled = routing.clone();
        nic.set_notify_handler(Box::new(move |port| {
            let mut routing = lock(&signalled);
            let Some(&owner) = routing.owners.get(&port) else {
                return;
            };
            if let Some(Some(fd)) = routing
                .lines
                .get_mut(&owner)
                .and_then(|lines| lines.get_mut(port as usize))
            {
                let _ = fd.write_all(&1u64.to_ne_bytes());
            }
        }));
        let ports = nic.bar0_read(map::PT_COUNT);
        Self {
            device: Arc::new(Mutex::new(Device {
                nic,
                ports,
                mapped: HashMap::new(),
            })),
            routing,
            next_connection: Arc::new(Mutex::new(0)),
            attached: Arc::new(Mutex::new(Attached {
                clients: 0,
                idle_since: Instant::now(),
            })),
        }
    }

    /// How long no client has been attached; `None` while one is. A
    /// client counts from its first request past the protocol handshake
    /// (our client's first is setting its interrupt eventfds) to the end of
    /// its connection.
    pub fn idle_for(&self) -> Option<Duration> {
        let attached = lock(&self.attached);
        (attached.clients == 0).then(|| attached.idle_since.elapsed())
    }

    /// Port entries (and MSI-X vectors).
    pub fn ports(&self) -> u32 {
        lock(&self.device).ports
    }

    /// The regions to announce: BAR0, BAR2, config space and the
    /// counters.
    pub fn regions(&self) -> Vec<ServerRegion> {
        let bar2 = lock(&self.device).nic.bar2_len();
        (0..=COUNTERS_REGION_INDEX)
            .map(|index| {
                let size = match index {
                    VFIO_PCI_BAR0_REGION_INDEX => u64::from(map::BAR0_SIZE),
                    VFIO_PCI_BAR2_REGION_INDEX => bar2,
                    VFIO_PCI_CONFIG_REGION_INDEX => CONFIG_BYTES,
                    COUNTERS_REGION_INDEX => COUNTERS_BYTES,
                    _ => 0,
                };
                let flags = match (size, index) {
                    (0, _) => 0,
                    (_, COUNTERS_REGION_INDEX) => VFIO_REGION_INFO_FLAG_READ,
                    _ => VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
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

    /// A new connection's view of the device.
    pub fn connection(&self) -> Connection {
        let mut next = lock(&self.next_connection);
        *next += 1;
        Connection {
            id: *next,
            server: self.clone(),
            attached: false,
        }
    }
}

impl Default for SimServer {
    fn default() -> Self {
        Self::new()
    }
}

/// One client's connection: a [`ServerBackend`] over the shared model.
pub struct Connection {
    id: u64,
    server: SimServer,
    /// Counted in [`SimServer::idle_for`].
    attached: bool,
}

impl Connection {
    /// Counts this connection as an attached client (once).
    fn attach(&mut self) {
        if !self.attached {
            self.attached = true;
            lock(&self.server.attached).clients += 1;
        }
    }

    /// Releases what this connection held: its port entries (disabled),
    /// its DMA mappings, its eventfds.
    pub fn close(&mut self) {
        if std::mem::take(&mut self.attached) {
            let mut attached = lock(&self.server.attached);
            attached.clients -= 1;
            attached.idle_since = Instant::now();
        }
        // The entries stay ours until they are disabled, so that no other
        // connection programs one that our disable would then clear.
        let owned: Vec<u32> = lock(&self.server.routing)
            .owners
            .iter()
            .filter(|(_, &owner)| owner == self.id)
            .map(|(&port, _)| port)
            .collect();
        {
            let mut device = lock(&self.server.device);
            for &port in &owned {
                device
                    .nic
                    .bar0_write(map::port_register(port, map::PORT_CONTROL), 0);
            }
            let _ = device.nic.run_until_idle(SETTLE_CYCLE_LIMIT);
            for iova in device.mapped.remove(&self.id).unwrap_or_default() {
                device.nic.dma_unmap(iova);
            }
        }
        let mut routing = lock(&self.server.routing);
        routing.lines.remove(&self.id);
        for port in owned {
            routing.owners.remove(&port);
        }
    }

    /// Records who owns a port entry: the connection whose write first
    /// reaches a free entry (programming it, then enabling it) until it
    /// writes the entry disabled or goes away. A write to an entry another
    /// connection owns is dropped (false): two clients programming the same
    /// free entry at once cannot mix their values, and the one that lost
    /// sees another's entry when it reads it back (the protocol has no
    /// error reply for region writes that the client reads).
    fn claim(&self, offset: u32, value: u32) -> bool {
        let stride = map::PORT_ENTRY_STRIDE;
        let ports = lock(&self.server.device).ports;
        let end = map::PORT_ENTRY_BASE + ports * stride;
        if !(map::PORT_ENTRY_BASE..end).contains(&offset) {
            return true;
        }
        let port = (offset - map::PORT_ENTRY_BASE) / stride;
        let mut routing = lock(&self.server.routing);
        if routing
            .owners
            .get(&port)
            .is_some_and(|&owner| owner != self.id)
        {
            return false;
        }
        let control = (offset - map::PORT_ENTRY_BASE) % stride == map::PORT_CONTROL;
        if control && value & map::PORT_CONTROL_ENABLE == 0 {
            routing.owners.remove(&port);
        } else {
            routing.owners.insert(port, self.id);
        }
        true
    }

    fn bar0_checked(offset: u64, len: usize) -> io::Result<u32> {
        if len != 4 || !offset.is_multiple_of(4) || offset >= u64::from(map::BAR0_SIZE) {
            return Err(invalid("BAR0 accesses are aligned 32-bit words"));
        }
        Ok(offset as u32)
    }
}

impl ServerBackend for Connection {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> io::Result<()> {
        self.attach();
        let mut device = lock(&self.server.device);
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => {
                let offset = Self::bar0_checked(offset, data.len())?;
                let value = device.nic.bar0_read(offset);
                data.copy_from_slice(&value.to_le_bytes());
                Ok(())
            }
            VFIO_PCI_BAR2_REGION_INDEX => device
                .nic
                .bar2_read(offset, data)
                .map_err(|e| invalid(e.to_string())),
            VFIO_PCI_CONFIG_REGION_INDEX if offset + data.len() as u64 <= CONFIG_BYTES => {
                data.fill(0);
                Ok(())
            }
            COUNTERS_REGION_INDEX if offset + data.len() as u64 <= COUNTERS_BYTES => {
                let bytes: Vec<u8> = nic_counters(&device.nic)
                    .to_words()
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .collect();
                data.copy_from_slice(&bytes[offset as usize..offset as usize + data.len()]);
                Ok(())
            }
            _ => Err(invalid(format!("no region {region}"))),
        }
    }

    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> io::Result<()> {
        self.attach();
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => {
                let offset = Self::bar0_checked(offset, data.len())?;
                let value = u32::from_le_bytes(data.try_into().expect("4 bytes"));
                if !self.claim(offset, value) {
                    return Ok(());
                }
                let mut device = lock(&self.server.device);
                device.nic.bar0_write(offset, value);
                device
                    .nic
                    .run_until_idle(SETTLE_CYCLE_LIMIT)
                    .map(drop)
                    .map_err(|_| io::Error::other("device did not go idle"))
            }
            VFIO_PCI_BAR2_REGION_INDEX => lock(&self.server.device)
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
        self.attach();
        let file = fd.ok_or_else(|| invalid("DMA map without a file descriptor"))?;
        let region = SharedRegion::from_fd(OwnedFd::from(file)).map_err(io::Error::other)?;
        if offset != 0 || region.len() as u64 != size {
            return Err(invalid("DMA regions are whole memfds"));
        }
        let mut device = lock(&self.server.device);
        device
            .nic
            .dma_map(address, Arc::new(region))
            .map_err(|e| invalid(e.to_string()))?;
        device.mapped.entry(self.id).or_default().push(address);
        Ok(())
    }

    fn dma_unmap(&mut self, _flags: DmaUnmapFlags, address: u64, _size: u64) -> io::Result<()> {
        self.attach();
        let mut device = lock(&self.server.device);
        let mine = device.mapped.entry(self.id).or_default();
        if !mine.contains(&address) {
            return Err(invalid(format!(
                "this client mapped nothing at {address:#x}"
            )));
        }
        mine.retain(|&a| a != address);
        device.nic.dma_unmap(address);
        Ok(())
    }

    fn reset(&mut self) -> io::Result<()> {
        // A reset would take every other client's ports away; a client
        // gets its own entries cleared instead, and stays attached.
        self.close();
        self.attach();
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
        self.attach();
        if index != VFIO_PCI_MSIX_IRQ_INDEX {
            return Err(invalid("only MSI-X vectors exist"));
        }
        let mut routing = lock(&self.server.routing);
        let lines = routing.lines.entry(self.id).or_default();
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
