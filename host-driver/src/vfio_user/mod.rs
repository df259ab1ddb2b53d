//! The `vfio-user` body: a device served by another process over the
//! vfio-user protocol (rust-vmm's `vfio_user` crate), the way a VMM talks
//! to an out-of-process device. [`server::SimServer`] serves the Verilator
//! model (`nmsim-server --socket PATH`), so the VFIO-style path runs end to
//! end against the RTL: regions for BAR0/BAR2, DMA regions passed as
//! memfds that the server maps, MSI-X vectors as eventfds the server
//! signals.
//!
//! The server settles the model before it answers each write, so a
//! doorbell's work is done when `bar0_write` returns. Several processes
//! may be clients of one server (one device): each takes free port entries
//! and its own window of device addresses.
#![forbid(unsafe_code)]

#[cfg(feature = "sim")]
pub mod server;

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use netmap_ring::shm::SharedRegion;
use vale_offload::regmap as map;
use vfio_bindings::bindings::vfio::{
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
};
use vfio_user::Client;

use crate::device::{
    check_bar0_offset, check_range, Device, DeviceCounters, DeviceError, IovaAllocator, Liveness,
};
use crate::eventfd::EventFd;

/// The device-wide counters region the server adds ([`DeviceCounters`],
/// little-endian words): the first index past the PCI ones.
pub const COUNTERS_REGION_INDEX: u32 = vfio_bindings::bindings::vfio::VFIO_PCI_NUM_REGIONS;

/// Bytes of the counters region.
pub const COUNTERS_BYTES: u64 = DeviceCounters::WORDS as u64 * 8;

/// Device addresses: clients of one server share the device's address
/// space, so each client takes its own 256 MiB window above 4 GiB, chosen
/// by pid and by a count of this process's connections (the vfio-user
/// client does not report a refused mapping, so overlaps must not happen).
const IOVA_WINDOW: u64 = 1 << 28;
const IOVA_BASE: u64 = 1 << 32;
const WINDOWS_PER_PROCESS: u64 = 16;

fn iova_window() -> (u64, u64) {
    static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
    let nth = CONNECTIONS.fetch_add(1, Ordering::Relaxed) % WINDOWS_PER_PROCESS;
    let slot = u64::from(std::process::id() & 0xfff) * WINDOWS_PER_PROCESS + nth;
    let base = IOVA_BASE + slot * IOVA_WINDOW;
    (base, base + IOVA_WINDOW)
}

fn protocol(op: &'static str) -> impl FnOnce(vfio_user::Error) -> DeviceError {
    move |e| DeviceError::sys(op, io::Error::other(e.to_string()))
}

/// A device behind a vfio-user socket, as a [`Device`].
pub struct VfioUserDevice {
    client: Client,
    /// The server's socket: names the device for pipe pair regions.
    socket: std::path::PathBuf,
    bar2_len: u64,
    iovas: IovaAllocator,
    vectors: Vec<Arc<EventFd>>,
    counters: DeviceCounters,
    liveness: Arc<Liveness>,
}

impl VfioUserDevice {
    /// Connects to the server at `socket`, checks its regions and binds one
    /// eventfd per MSI-X vector.
    pub fn connect(socket: &Path) -> Result<Self, DeviceError> {
        // The socket's own error is kept whole: whether nothing listens
        // (refused) or nothing is there (not found) decides what the
        // `sim` backend does next.
        let mut client = Client::new(socket).map_err(|e| match e {
            vfio_user::Error::Connect(e) => DeviceError::sys("vfio-user connect", e),
            e => protocol("vfio-user connect")(e),
        })?;
        let size = |client: &Client, index| client.region(index).map_or(0, |r| r.size);
        let bar0 = size(&client, VFIO_PCI_BAR0_REGION_INDEX);
        if bar0 < u64::from(map::BAR0_SIZE) {
            return Err(DeviceError::Unsupported {
                body: "vfio-user",
                what: format!("a BAR0 of {bar0:#x} bytes"),
            });
        }
        let bar2_len = size(&client, VFIO_PCI_BAR2_REGION_INDEX);
        let irqs = client
            .get_irq_info(VFIO_PCI_MSIX_IRQ_INDEX)
            .map_err(protocol("vfio-user get irq info"))?;
        let mut vectors = Vec::new();
        for _ in 0..irqs.count {
            let fd = EventFd::new().map_err(|e| DeviceError::sys("eventfd", e))?;
            vectors.push(Arc::new(fd));
        }
        if !vectors.is_empty() {
            let fds: Vec<i32> = vectors.iter().map(|v| v.as_fd().as_raw_fd()).collect();
            client
                .set_irqs(
                    VFIO_PCI_MSIX_IRQ_INDEX,
                    VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                    0,
                    irqs.count,
                    &fds,
                )
                .map_err(protocol("vfio-user set irqs"))?;
        }
        Ok(Self {
            client,
            socket: std::fs::canonicalize(socket).unwrap_or_else(|_| socket.to_owned()),
            bar2_len,
            iovas: {
                let (base, end) = iova_window();
                IovaAllocator::new(base, end)
            },
            vectors,
            counters: DeviceCounters::default(),
            liveness: Arc::new(Liveness::default()),
        })
    }

    /// Watches the server's process `pid`: when it exits, the device is
    /// marked gone and every notification fires, so that ports waiting in
    /// `poll` wake up and their next sync reports it. The watcher is a
    /// thread asleep on a pidfd; it ends with the process.
    pub fn watch_server(&self, pid: u32) -> Result<(), DeviceError> {
        let pid = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| DeviceError::sys("pidfd_open", io::Error::other("pid 0")))?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_err(|e| DeviceError::sys("pidfd_open", io::Error::from(e)))?;
        let liveness = self.liveness.clone();
        let vectors = self.vectors.clone();
        let socket = self.socket.clone();
        std::thread::Builder::new()
            .name("nmsim-watch".into())
            .spawn(move || {
                use rustix::event::{poll, PollFd, PollFlags};
                let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
                // Readable once the process has exited; EINTR retries.
                while poll(&mut fds, None).is_err() {}
                liveness.set_gone(format!(
                    "the simulated NIC's server (pid {}, {}) exited",
                    pid.as_raw_nonzero(),
                    socket.display()
                ));
                for vector in &vectors {
                    let _ = vector.signal();
                }
            })
            .map_err(|e| DeviceError::sys("spawn watcher", e))?;
        Ok(())
    }
}

impl Device for VfioUserDevice {
    fn body(&self) -> &'static str {
        "vfio-user"
    }

    fn bar0_read(&mut self, offset: u32) -> Result<u32, DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        let mut word = [0u8; 4];
        self.client
            .region_read(VFIO_PCI_BAR0_REGION_INDEX, offset.into(), &mut word)
            .map_err(protocol("vfio-user BAR0 read"))?;
        self.counters.mmio_reads += 1;
        Ok(u32::from_le_bytes(word))
    }

    fn bar0_write(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.client
            .region_write(
                VFIO_PCI_BAR0_REGION_INDEX,
                offset.into(),
                &value.to_le_bytes(),
            )
            .map_err(protocol("vfio-user BAR0 write"))?;
        self.counters.mmio_writes += 1;
        Ok(())
    }

    fn bar2_len(&self) -> u64 {
        self.bar2_len
    }

    fn bar2_write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        check_range("BAR2", offset, data.len(), self.bar2_len)?;
        self.client
            .region_write(VFIO_PCI_BAR2_REGION_INDEX, offset, data)
            .map_err(protocol("vfio-user BAR2 write"))?;
        self.counters.bar2_write_bytes += data.len() as u64;
        Ok(())
    }

    fn bar2_read(&mut self, offset: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        check_range("BAR2", offset, out.len(), self.bar2_len)?;
        self.client
            .region_read(VFIO_PCI_BAR2_REGION_INDEX, offset, out)
            .map_err(protocol("vfio-user BAR2 read"))?;
        self.counters.bar2_read_bytes += out.len() as u64;
        Ok(())
    }

    fn dma_map(&mut self, region: Arc<SharedRegion>) -> Result<u64, DeviceError> {
        let len = region.len() as u64;
        let fd = region.as_fd().as_raw_fd();
        let iova = self.iovas.insert(region)?;
        if let Err(e) = self.client.dma_map(0, iova, len, fd) {
            let _ = self.iovas.remove(iova);
            return Err(protocol("vfio-user DMA map")(e));
        }
        Ok(iova)
    }

    fn dma_unmap(&mut self, iova: u64) -> Result<(), DeviceError> {
        let size = self.iovas.mapping_len(iova)?;
        self.client
            .dma_unmap(iova, size)
            .map_err(protocol("vfio-user DMA unmap"))?;
        self.iovas.remove(iova).map(drop)
    }

    fn vectors(&self) -> u32 {
        self.vectors.len() as u32
    }

    fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
    }

    fn notifier(&mut self, vector: u32) -> Result<Arc<EventFd>, DeviceError> {
        crate::device::vector_eventfd(&self.vectors, vector)
    }

    fn settle(&mut self) -> Result<(), DeviceError> {
        // The server ran the model to idle before answering the write.
        Ok(())
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.client.reset().map_err(protocol("vfio-user reset"))
    }

    fn counters(&self) -> DeviceCounters {
        self.counters
    }

    fn device_counters(&mut self) -> Result<DeviceCounters, DeviceError> {
        if self
            .client
            .region(COUNTERS_REGION_INDEX)
            .map_or(0, |r| r.size)
            < COUNTERS_BYTES
        {
            return Err(DeviceError::Unsupported {
                body: "vfio-user",
                what: "device-wide counters (a server other than nmsim-server)".into(),
            });
        }
        let mut bytes = [0u8; COUNTERS_BYTES as usize];
        self.client
            .region_read(COUNTERS_REGION_INDEX, 0, &mut bytes)
            .map_err(protocol("vfio-user counters read"))?;
        let mut words = [0u64; DeviceCounters::WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        Ok(DeviceCounters::from_words(words))
    }

    fn shared(&self) -> bool {
        true
    }

    fn scope(&self) -> String {
        format!("u{}", self.socket.display())
    }
}

impl Drop for VfioUserDevice {
    fn drop(&mut self) {
        let _ = self.client.shutdown();
    }
}
