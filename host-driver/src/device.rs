//! The `Device` interface: what the driver needs from the NIC, whichever
//! body it has (the board through VFIO, the Verilator model in-process, the
//! model behind vfio-user).
//!
//! The device model is DESIGN.md section 3: BAR0 holds 32-bit registers
//! (hw/README.md), BAR2 holds descriptor memory (the TX rings), host memory
//! reached by DMA holds buffers, RX rings and status blocks, and each port
//! has a notification (an eventfd). Every body counts what a PCIe link
//! would carry (MMIO reads and writes, DMA bytes), so the cost on a real
//! link can be estimated from a simulated run.
#![forbid(unsafe_code)]

use std::io;
use std::sync::Arc;

use netmap_ring::shm::{SharedRegion, ShmError};

use crate::eventfd::EventFd;

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{space} access of {len} bytes at {offset:#x} is outside its {size:#x} bytes")]
    OutOfRange {
        space: &'static str,
        offset: u64,
        len: usize,
        size: u64,
    },
    #[error("{space} offset {offset:#x} is not {align}-byte aligned")]
    Misaligned {
        space: &'static str,
        offset: u64,
        align: u64,
    },
    #[error("the {body} device body does not support {what}")]
    Unsupported { body: &'static str, what: String },
    #[error("{op}: {source}")]
    Sys {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("no DMA mapping at device address {iova:#x}")]
    NotMapped { iova: u64 },
    #[error("DMA space exhausted: {len} more bytes do not fit")]
    DmaSpace { len: usize },
    #[error("notification vector {vector} does not exist ({count} vectors)")]
    NoVector { vector: u32, count: u32 },
    #[error("device did not go idle within {cycles} cycles")]
    Hung { cycles: u64 },
    #[error(transparent)]
    Memory(#[from] ShmError),
}

impl DeviceError {
    /// A failed system call, keeping its errno.
    pub fn sys(op: &'static str, source: impl Into<io::Error>) -> Self {
        DeviceError::Sys {
            op,
            source: source.into(),
        }
    }

    /// The errno of a failed system call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            DeviceError::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// What crossed the (real or modelled) PCIe link, counted by the body.
/// DMA figures are those the device side observed; a body that cannot see
/// them (the board) leaves them 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// 32-bit BAR0 reads: about a microsecond each on PCIe, so the data
    /// path avoids them.
    pub mmio_reads: u64,
    /// 32-bit BAR0 writes (posted).
    pub mmio_writes: u64,
    /// Bytes written into BAR2 (write-combined, posted).
    pub bar2_write_bytes: u64,
    /// Bytes read from BAR2.
    pub bar2_read_bytes: u64,
    /// DMA read requests and bytes (device reading host memory).
    pub dma_read_requests: u64,
    pub dma_read_bytes: u64,
    /// DMA write requests and bytes (device writing host memory).
    pub dma_write_requests: u64,
    pub dma_write_bytes: u64,
    /// Notifications the device raised.
    pub notifications: u64,
    /// Device clock cycles run (simulated bodies only).
    pub cycles: u64,
}

impl DeviceCounters {
    /// The counts accumulated since `earlier`.
    pub fn since(&self, earlier: &DeviceCounters) -> DeviceCounters {
        DeviceCounters {
            mmio_reads: self.mmio_reads - earlier.mmio_reads,
            mmio_writes: self.mmio_writes - earlier.mmio_writes,
            bar2_write_bytes: self.bar2_write_bytes - earlier.bar2_write_bytes,
            bar2_read_bytes: self.bar2_read_bytes - earlier.bar2_read_bytes,
            dma_read_requests: self.dma_read_requests - earlier.dma_read_requests,
            dma_read_bytes: self.dma_read_bytes - earlier.dma_read_bytes,
            dma_write_requests: self.dma_write_requests - earlier.dma_write_requests,
            dma_write_bytes: self.dma_write_bytes - earlier.dma_write_bytes,
            notifications: self.notifications - earlier.notifications,
            cycles: self.cycles - earlier.cycles,
        }
    }

    /// Number of 64-bit words in [`DeviceCounters::to_words`].
    pub const WORDS: usize = 10;

    /// The counters as words in field order (how the simulator server
    /// hands its device-wide counters to clients).
    pub fn to_words(&self) -> [u64; Self::WORDS] {
        [
            self.mmio_reads,
            self.mmio_writes,
            self.bar2_write_bytes,
            self.bar2_read_bytes,
            self.dma_read_requests,
            self.dma_read_bytes,
            self.dma_write_requests,
            self.dma_write_bytes,
            self.notifications,
            self.cycles,
        ]
    }

    /// The inverse of [`DeviceCounters::to_words`].
    pub fn from_words(w: [u64; Self::WORDS]) -> Self {
        DeviceCounters {
            mmio_reads: w[0],
            mmio_writes: w[1],
            bar2_write_bytes: w[2],
            bar2_read_bytes: w[3],
            dma_read_requests: w[4],
            dma_read_bytes: w[5],
            dma_write_requests: w[6],
            dma_write_bytes: w[7],
            notifications: w[8],
            cycles: w[9],
        }
    }
}

/// Host memory the device can reach by DMA: a shared region and the device
/// address (IOVA) of its first byte.
#[derive(Clone, Debug)]
pub struct DmaRegion {
    pub region: Arc<SharedRegion>,
    pub iova: u64,
}

impl DmaRegion {
    /// Device address of region offset `offset`.
    pub fn device_address(&self, offset: usize) -> u64 {
        self.iova + offset as u64
    }
}

/// Whether a device is still there. Set once, by whoever finds it gone (a
/// watcher of a simulator's server process); every binding reads it at
/// each sync (one relaxed load) and fails with `SyncError::Gone`.
#[derive(Debug, Default)]
pub struct Liveness {
    gone: std::sync::OnceLock<String>,
}

impl Liveness {
    /// Why the device is gone, if it is.
    pub fn gone(&self) -> Option<&str> {
        self.gone.get().map(String::as_str)
    }

    /// Marks the device gone (the first reason stays).
    pub fn set_gone(&self, why: String) {
        let _ = self.gone.set(why);
    }
}

/// One NIC, as the driver sees it. Methods take `&mut self`: the port layer
/// serialises access (control operations are rare, and the data path makes
/// one doorbell write per batch).
pub trait Device: Send {
    /// Short name of the body (`vfio`, `sim`, `vfio-user`, ...).
    fn body(&self) -> &'static str;

    /// Reads the 32-bit BAR0 register at byte `offset`.
    fn bar0_read(&mut self, offset: u32) -> Result<u32, DeviceError>;

    /// Writes the 32-bit BAR0 register at byte `offset`.
    fn bar0_write(&mut self, offset: u32, value: u32) -> Result<(), DeviceError>;

    /// Size of BAR2 (descriptor memory) in bytes; 0 when the device has none.
    fn bar2_len(&self) -> u64;

    /// Writes `data` into BAR2 at `offset`.
    fn bar2_write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError>;

    /// Reads BAR2 at `offset` into `out` (not on the data path).
    fn bar2_read(&mut self, offset: u64, out: &mut [u8]) -> Result<(), DeviceError>;

    /// Makes `region` reachable by DMA; returns its device address.
    fn dma_map(&mut self, region: Arc<SharedRegion>) -> Result<u64, DeviceError>;

    /// Withdraws the mapping made at device address `iova`.
    fn dma_unmap(&mut self, iova: u64) -> Result<(), DeviceError>;

    /// Number of notification vectors.
    fn vectors(&self) -> u32;

    /// The eventfd that notification `vector` signals.
    fn notifier(&mut self, vector: u32) -> Result<Arc<EventFd>, DeviceError>;

    /// Lets the device make progress on work just handed to it. A board
    /// runs by itself (nothing to do); a simulated body runs its clock until
    /// the device is idle or a bounded number of cycles has passed.
    fn settle(&mut self) -> Result<(), DeviceError>;

    /// Resets the device (function reset): registers to their reset values,
    /// the table flushed, every port disabled. DMA mappings stay.
    fn reset(&mut self) -> Result<(), DeviceError>;

    /// What has crossed the link so far, as this host counted it.
    fn counters(&self) -> DeviceCounters;

    /// What the whole device counted: every host's traffic and, on a
    /// simulated body, its clock cycles. A device of our own counts only
    /// our traffic, so this is [`Device::counters`]; a shared simulator
    /// reports its model's counters.
    fn device_counters(&mut self) -> Result<DeviceCounters, DeviceError> {
        Ok(self.counters())
    }

    /// Where the driver learns that the device went away without a call
    /// failing (a simulator's server killed while we only read host
    /// memory). A device that cannot tell returns one that never says so.
    fn liveness(&self) -> Arc<Liveness> {
        Arc::new(Liveness::default())
    }

    /// Whether other hosts (other processes, each with its own driver) use
    /// the device at the same time: then the driver leaves port entries it
    /// did not enable alone.
    fn shared(&self) -> bool {
        false
    }

    /// What names this device among the user's devices, so that the
    /// pipe pair regions of the same pipe name on two devices differ: a
    /// device of our own is this process's, a shared one names its server.
    fn scope(&self) -> String {
        format!("p{}", std::process::id())
    }

    /// Rings a doorbell: one posted BAR0 write, then lets the device run.
    fn ring_doorbell(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        self.bar0_write(offset, value)?;
        self.settle()
    }

    /// Allocates `len` bytes of zeroed host memory (a memfd) and maps it for
    /// DMA.
    fn dma_alloc(&mut self, name: &str, len: usize) -> Result<DmaRegion, DeviceError> {
        let region = Arc::new(SharedRegion::create(name, len)?);
        let iova = self.dma_map(region.clone())?;
        Ok(DmaRegion { region, iova })
    }
}

/// Checks a BAR0 register offset: 4-byte aligned, inside `size` bytes.
pub fn check_bar0_offset(offset: u32, size: u32) -> Result<(), DeviceError> {
    if !offset.is_multiple_of(4) {
        return Err(DeviceError::Misaligned {
            space: "BAR0",
            offset: offset.into(),
            align: 4,
        });
    }
    if offset.checked_add(4).is_none_or(|end| end > size) {
        return Err(DeviceError::OutOfRange {
            space: "BAR0",
            offset: offset.into(),
            len: 4,
            size: size.into(),
        });
    }
    Ok(())
}

/// Checks an access of `len` bytes at `offset` inside a space of `size`.
pub fn check_range(
    space: &'static str,
    offset: u64,
    len: usize,
    size: u64,
) -> Result<(), DeviceError> {
    if offset.checked_add(len as u64).is_none_or(|end| end > size) {
        return Err(DeviceError::OutOfRange {
            space,
            offset,
            len,
            size,
        });
    }
    Ok(())
}

/// Device addresses handed out to DMA regions: a simple bump allocator
/// with page alignment, so regions never overlap and address 0 (a common
/// bug's value) is never valid.
#[derive(Debug)]
pub struct IovaAllocator {
    base: u64,
    end: u64,
    mapped: Vec<(u64, Arc<SharedRegion>)>,
}

/// Alignment of device addresses: 2 MiB, so hugepage-backed regions map
/// with large IOMMU pages.
pub const IOVA_ALIGN: u64 = 2 << 20;

impl IovaAllocator {
    /// Addresses from `base` (aligned up) below `end`.
    pub fn new(base: u64, end: u64) -> Self {
        Self {
            base: base.max(IOVA_ALIGN).next_multiple_of(IOVA_ALIGN),
            end,
            mapped: Vec::new(),
        }
    }

    /// Reserves an address range for `region`: the lowest gap that fits,
    /// so that ranges freed by unmaps (pipe pairs come and go) are reused.
    pub fn insert(&mut self, region: Arc<SharedRegion>) -> Result<u64, DeviceError> {
        let len = region.len();
        let mut taken: Vec<(u64, u64)> = self
            .mapped
            .iter()
            .map(|(start, r)| (*start, *start + r.len() as u64))
            .collect();
        taken.sort_unstable();
        let mut iova = self.base;
        for (start, end) in taken {
            if iova.checked_add(len as u64).is_some_and(|e| e <= start) {
                break;
            }
            iova = iova.max(end.next_multiple_of(IOVA_ALIGN));
        }
        iova.checked_add(len as u64)
            .filter(|&end| end <= self.end)
            .ok_or(DeviceError::DmaSpace { len })?;
        self.mapped.push((iova, region));
        Ok(iova)
    }

    /// Forgets the mapping at `iova`; returns its region.
    pub fn remove(&mut self, iova: u64) -> Result<Arc<SharedRegion>, DeviceError> {
        let at = self
            .mapped
            .iter()
            .position(|(start, _)| *start == iova)
            .ok_or(DeviceError::NotMapped { iova })?;
        Ok(self.mapped.swap_remove(at).1)
    }

    /// The length of the mapping that starts at `iova` (what an unmap of
    /// `iova` covers).
    pub fn mapping_len(&self, iova: u64) -> Result<u64, DeviceError> {
        self.mapped
            .iter()
            .find(|(start, _)| *start == iova)
            .map(|(_, region)| region.len() as u64)
            .ok_or(DeviceError::NotMapped { iova })
    }

    /// The mapping holding `len` bytes at device address `iova`, and the
    /// offset inside it.
    pub fn resolve(&self, iova: u64, len: usize) -> Option<(&Arc<SharedRegion>, usize)> {
        self.mapped.iter().find_map(|(start, region)| {
            let offset = iova.checked_sub(*start)?;
            let end = offset.checked_add(len as u64)?;
            (end <= region.len() as u64).then_some((region, offset as usize))
        })
    }

    /// Every mapping, as (device address, region).
    pub fn mappings(&self) -> impl Iterator<Item = (u64, &Arc<SharedRegion>)> {
        self.mapped.iter().map(|(iova, region)| (*iova, region))
    }
}

/// The notification eventfd of `vector` among a body's `vectors`, or
/// [`DeviceError::NoVector`]: the lookup every body's
/// [`Device::notifier`] does.
pub fn vector_eventfd(
    vectors: &[std::sync::Arc<crate::eventfd::EventFd>],
    vector: u32,
) -> Result<std::sync::Arc<crate::eventfd::EventFd>, DeviceError> {
    vectors
        .get(vector as usize)
        .cloned()
        .ok_or(DeviceError::NoVector {
            vector,
            count: vectors.len() as u32,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(len: usize) -> Arc<SharedRegion> {
        Arc::new(SharedRegion::create("iova-test", len).unwrap())
    }

    #[test]
    fn iova_ranges_are_aligned_disjoint_and_resolvable() {
        let mut iovas = IovaAllocator::new(0, 1 << 40);
        let a = iovas.insert(region(4096)).unwrap();
        let b = iovas.insert(region(3 << 20)).unwrap();
        assert_ne!(a, 0, "address 0 is never handed out");
        assert_eq!(a % IOVA_ALIGN, 0);
        assert_eq!(b % IOVA_ALIGN, 0);
        assert!(b >= a + 4096);
        let (_, off) = iovas.resolve(b + 100, 8).unwrap();
        assert_eq!(off, 100);
        assert!(iovas.resolve(a + 4090, 8).is_none(), "crosses the end of a");
        assert!(iovas.resolve(a - 1, 1).is_none());
        assert_eq!(iovas.mapping_len(a).unwrap(), 4096);
        assert!(
            iovas.mapping_len(a + 4096).is_err(),
            "not the start of a mapping"
        );
        iovas.remove(a).unwrap();
        assert!(iovas.resolve(a, 1).is_none());
        let c = iovas.insert(region(4096)).unwrap();
        assert_eq!(c, a, "a freed range is reused");
        iovas.remove(c).unwrap();
        assert!(iovas.mapping_len(a).is_err());
        assert!(matches!(
            iovas.remove(a),
            Err(DeviceError::NotMapped { .. })
        ));
    }

    #[test]
    fn iova_space_runs_out_with_an_error() {
        let mut iovas = IovaAllocator::new(0, 4 << 20);
        iovas.insert(region(4096)).unwrap();
        assert!(matches!(
            iovas.insert(region(8192)),
            Err(DeviceError::DmaSpace { len: 8192 })
        ));
    }

    #[test]
    fn bar0_offsets_are_checked() {
        assert!(check_bar0_offset(0x10, 0x10000).is_ok());
        assert!(matches!(
            check_bar0_offset(0x11, 0x10000),
            Err(DeviceError::Misaligned { .. })
        ));
        assert!(matches!(
            check_bar0_offset(0x10000, 0x10000),
            Err(DeviceError::OutOfRange { .. })
        ));
        assert!(check_range("BAR2", u64::MAX, 2, 10).is_err());
    }

    #[test]
    fn counters_subtract() {
        let a = DeviceCounters {
            mmio_writes: 3,
            dma_read_bytes: 100,
            ..Default::default()
        };
        let b = DeviceCounters {
            mmio_writes: 5,
            dma_read_bytes: 160,
            ..Default::default()
        };
        let d = b.since(&a);
        assert_eq!((d.mmio_writes, d.dma_read_bytes, d.mmio_reads), (2, 60, 0));
    }
}
