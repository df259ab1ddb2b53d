//! The `vfio` body: the board through Linux VFIO (the type1 IOMMU
//! container interface, `Documentation/driver-api/vfio.rst`).
//!
//! Bring-up, in the order the kernel document gives it:
//! 1. find the device's IOMMU group (`/sys/bus/pci/devices/<addr>/iommu_group`);
//! 2. open the container `/dev/vfio/vfio`, check the API version and the
//!    type1 IOMMU extension;
//! 3. open the group `/dev/vfio/<group>`, check it is viable (every device
//!    of the group bound to vfio-pci), attach it to the container, set the
//!    IOMMU type;
//! 4. get the device fd, check it is a PCI device with BAR0 and BAR2;
//! 5. map BAR0 (registers) and BAR2 (descriptor memory; write-combined
//!    through sysfs `resource2_wc` when the platform offers it);
//! 6. enable memory decoding and bus mastering in the command register;
//! 7. bind one eventfd per MSI-X vector;
//! 8. function reset.
//!
//! Every system call goes through [`sys::Sys`], so the tests in this module
//! run the whole sequence, the DMA bookkeeping and the error paths against
//! a fake kernel and board ([`fake`]).
#![deny(unsafe_code)]

pub mod sys;

#[cfg(test)]
mod fake;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netmap_ring::shm::SharedRegion;
use vale_offload::regmap as map;
use vfio_bindings::bindings::vfio::{
    vfio_device_info, vfio_group_status, vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap,
    vfio_irq_info, vfio_region_info, VFIO_TYPE1v2_IOMMU, VFIO_API_VERSION, VFIO_DEVICE_FLAGS_PCI,
    VFIO_DEVICE_FLAGS_RESET, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE,
    VFIO_GROUP_FLAGS_VIABLE, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_SET_ACTION_TRIGGER,
    VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
    VFIO_REGION_INFO_FLAG_MMAP, VFIO_TYPE1_IOMMU,
};

use crate::device::{
    check_bar0_offset, check_range, Device, DeviceCounters, DeviceError, IovaAllocator,
};
use crate::eventfd::EventFd;
use sys::{Ioctl, IrqSet, Mmio, Sys};

/// PCI configuration space: the command register and its bits (PCI Local
/// Bus Specification 3.0, section 6.2.2).
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MEMORY: u16 = 1 << 1;
const PCI_COMMAND_MASTER: u16 = 1 << 2;

/// Device addresses for DMA regions: from 4 GiB (never 0, and a driver bug
/// that truncates to 32 bits shows) to 2^48, inside every IOMMU's range.
const IOVA_BASE: u64 = 1 << 32;
const IOVA_END: u64 = 1 << 48;

/// Why bring-up failed. Failed system calls keep their `io::Error` (and so
/// the errno).
#[derive(Debug, thiserror::Error)]
pub enum VfioError {
    #[error("{0:?} is not a PCI address (expected DDDD:BB:DD.F or BB:DD.F)")]
    BadAddress(String),
    #[error("{device}: no IOMMU group (is the IOMMU enabled and the device bound to vfio-pci?): {source}")]
    NoGroup {
        device: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{op} failed: {source}")]
    Ioctl {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("VFIO API version {0}, this driver speaks {VFIO_API_VERSION}")]
    ApiVersion(i32),
    #[error("the container supports no type1 IOMMU")]
    NoIommu,
    #[error("IOMMU group {group} is not viable: bind every device of the group to vfio-pci")]
    NotViable { group: u32 },
    #[error("{device}: {why}")]
    BadDevice { device: String, why: String },
    #[error(transparent)]
    Device(#[from] DeviceError),
}

impl VfioError {
    /// The errno of a failed system call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            VfioError::NoGroup { source, .. }
            | VfioError::Open { source, .. }
            | VfioError::Ioctl { source, .. } => source.raw_os_error(),
            VfioError::Device(e) => e.errno(),
            _ => None,
        }
    }
}

/// Normalises a PCI address to `DDDD:BB:DD.F` (lower case).
pub fn parse_pci_address(text: &str) -> Result<String, VfioError> {
    let bad = || VfioError::BadAddress(text.to_owned());
    let full = match text.matches(':').count() {
        1 => format!("0000:{text}"),
        2 => text.to_owned(),
        _ => return Err(bad()),
    };
    let (domain, rest) = full.split_once(':').ok_or_else(bad)?;
    let (bus, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (slot, function) = rest.split_once('.').ok_or_else(bad)?;
    let hex = |s: &str, width: usize, max: u32| {
        (s.len() == width && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|&v| v <= max)
    };
    let (d, b, s, f) = (
        hex(domain, 4, 0xffff).ok_or_else(bad)?,
        hex(bus, 2, 0xff).ok_or_else(bad)?,
        hex(slot, 2, 0x1f).ok_or_else(bad)?,
        hex(function, 1, 7).ok_or_else(bad)?,
    );
    Ok(format!("{d:04x}:{b:02x}:{s:02x}.{f:x}"))
}

/// A device region (BAR or config space) as VFIO describes it.
#[derive(Clone, Copy, Debug)]
struct Region {
    size: u64,
    /// Offset of the region in the device fd (for pread/pwrite/mmap).
    offset: u64,
    mappable: bool,
}

/// How a BAR is reached: mapped, or through pread/pwrite on the device fd
/// when the kernel does not allow mmap (e.g. a BAR smaller than a page).
enum BarAccess {
    Mapped(Mmio),
    FileIo(Region),
}

/// The board as a [`Device`].
pub struct VfioDevice<S: Sys> {
    sys: Arc<S>,
    address: String,
    // Field order is drop order for the fds: device, group, container.
    device: OwnedFd,
    /// Held open: closing the group detaches it from the container.
    _group: OwnedFd,
    container: OwnedFd,
    bar0: BarAccess,
    bar2: Option<BarAccess>,
    bar2_len: u64,
    can_reset: bool,
    iovas: IovaAllocator,
    vectors: Vec<Arc<EventFd>>,
    counters: DeviceCounters,
}

impl<S: Sys> std::fmt::Debug for VfioDevice<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfioDevice")
            .field("address", &self.address)
            .field("bar2_len", &self.bar2_len)
            .field("vectors", &self.vectors.len())
            .finish()
    }
}

fn ioctl_err(op: &'static str) -> impl FnOnce(io::Error) -> VfioError {
    move |source| VfioError::Ioctl { op, source }
}

impl<S: Sys> VfioDevice<S> {
    /// Brings up the device at PCI address `address` (see the module doc for
    /// the steps), with `sysfs` as the root of `/sys` and `dev_vfio` as
    /// `/dev/vfio` (tests point them elsewhere).
    pub fn open(sys: Arc<S>, address: &str) -> Result<Self, VfioError> {
        Self::open_at(sys, address, Path::new("/sys"), Path::new("/dev/vfio"))
    }

    /// [`VfioDevice::open`] with explicit `/sys` and `/dev/vfio`.
    pub fn open_at(
        sys: Arc<S>,
        address: &str,
        sysfs: &Path,
        dev_vfio: &Path,
    ) -> Result<Self, VfioError> {
        let address = parse_pci_address(address)?;
        let pci_dir = sysfs.join("bus/pci/devices").join(&address);

        // 1. The IOMMU group is the number the sysfs link points to.
        let group_id = Self::group_of(&sys, &pci_dir, &address)?;

        // 2. The container.
        let open = |path: PathBuf| {
            sys.open(&path, true)
                .map_err(|source| VfioError::Open { path, source })
        };
        let container = open(dev_vfio.join("vfio"))?;
        let version = sys
            .ioctl(container.as_fd(), Ioctl::GetApiVersion)
            .map_err(ioctl_err("VFIO_GET_API_VERSION"))?;
        if version != VFIO_API_VERSION as i32 {
            return Err(VfioError::ApiVersion(version));
        }
        let has = |kind| {
            sys.ioctl(container.as_fd(), Ioctl::CheckExtension(kind))
                .map(|r| r > 0)
                .map_err(ioctl_err("VFIO_CHECK_EXTENSION"))
        };
        // Type1v2 has the unmap semantics we rely on (no splitting of
        // mappings); plain type1 is the fallback of older kernels.
        let iommu = if has(VFIO_TYPE1v2_IOMMU)? {
            VFIO_TYPE1v2_IOMMU
        } else if has(VFIO_TYPE1_IOMMU)? {
            VFIO_TYPE1_IOMMU
        } else {
            return Err(VfioError::NoIommu);
        };

        // 3. The group, viable, in the container.
        let group = open(dev_vfio.join(group_id.to_string()))?;
        let mut status = vfio_group_status {
            argsz: std::mem::size_of::<vfio_group_status>() as u32,
            flags: 0,
        };
        sys.ioctl(group.as_fd(), Ioctl::GroupGetStatus(&mut status))
            .map_err(ioctl_err("VFIO_GROUP_GET_STATUS"))?;
        if status.flags & VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(VfioError::NotViable { group: group_id });
        }
        sys.ioctl(
            group.as_fd(),
            Ioctl::GroupSetContainer(container.as_raw_fd()),
        )
        .map_err(ioctl_err("VFIO_GROUP_SET_CONTAINER"))?;
        sys.ioctl(container.as_fd(), Ioctl::SetIommu(iommu))
            .map_err(ioctl_err("VFIO_SET_IOMMU"))?;

        // 4. The device.
        let raw = sys
            .ioctl(group.as_fd(), Ioctl::GroupGetDeviceFd(&address))
            .map_err(ioctl_err("VFIO_GROUP_GET_DEVICE_FD"))?;
        let device = sys::owned_fd(raw);
        let mut info = vfio_device_info {
            argsz: std::mem::size_of::<vfio_device_info>() as u32,
            ..Default::default()
        };
        sys.ioctl(device.as_fd(), Ioctl::DeviceGetInfo(&mut info))
            .map_err(ioctl_err("VFIO_DEVICE_GET_INFO"))?;
        let bad_device = |why: String| VfioError::BadDevice {
            device: address.clone(),
            why,
        };
        if info.flags & VFIO_DEVICE_FLAGS_PCI == 0 {
            return Err(bad_device("not a PCI device".into()));
        }
        if info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX {
            return Err(bad_device(format!("only {} regions", info.num_regions)));
        }

        // 5. BAR0 (registers) and BAR2 (descriptor memory).
        let region = |index| Self::region_info(&sys, &device, index);
        let bar0 = region(VFIO_PCI_BAR0_REGION_INDEX)?;
        if bar0.size < u64::from(map::BAR0_SIZE) {
            return Err(bad_device(format!(
                "BAR0 is {:#x} bytes, the register map needs {:#x}",
                bar0.size,
                map::BAR0_SIZE
            )));
        }
        let bar0_access = Self::map_bar(&sys, &device, bar0, None)?;
        let bar2 = region(VFIO_PCI_BAR2_REGION_INDEX)?;
        let bar2_access = if bar2.size == 0 {
            None
        } else {
            let wc = pci_dir.join("resource2_wc");
            Some(Self::map_bar(&sys, &device, bar2, Some(&wc))?)
        };
        let config = region(VFIO_PCI_CONFIG_REGION_INDEX)?;

        let mut dev = VfioDevice {
            sys: sys.clone(),
            address: address.clone(),
            device,
            _group: group,
            container,
            bar0: bar0_access,
            bar2: bar2_access,
            bar2_len: bar2.size,
            can_reset: info.flags & VFIO_DEVICE_FLAGS_RESET != 0,
            iovas: IovaAllocator::new(IOVA_BASE, IOVA_END),
            vectors: Vec::new(),
            counters: DeviceCounters::default(),
        };

        // 6. Memory decoding and bus mastering: the device may DMA from now.
        dev.enable_bus_master(config)?;

        // 7. MSI-X vectors to eventfds.
        dev.bind_vectors(info.num_irqs)?;

        // 8. A clean device, when the kernel has a reset method for it
        // (FLR or a bus reset); otherwise the driver clears the port table
        // itself when it registers ports.
        if dev.can_reset {
            dev.reset()?;
        }
        Ok(dev)
    }

    fn group_of(sys: &Arc<S>, pci_dir: &Path, address: &str) -> Result<u32, VfioError> {
        let no_group = |source| VfioError::NoGroup {
            device: address.to_owned(),
            source,
        };
        let link = sys
            .read_link(&pci_dir.join("iommu_group"))
            .map_err(no_group)?;
        link.file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse().ok())
            .ok_or_else(|| {
                no_group(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("iommu_group link {} names no group", link.display()),
                ))
            })
    }

    fn region_info(sys: &Arc<S>, device: &OwnedFd, index: u32) -> Result<Region, VfioError> {
        let mut info = vfio_region_info {
            argsz: std::mem::size_of::<vfio_region_info>() as u32,
            index,
            ..Default::default()
        };
        sys.ioctl(device.as_fd(), Ioctl::DeviceGetRegionInfo(&mut info))
            .map_err(ioctl_err("VFIO_DEVICE_GET_REGION_INFO"))?;
        Ok(Region {
            size: info.size,
            offset: info.offset,
            mappable: info.flags & VFIO_REGION_INFO_FLAG_MMAP != 0,
        })
    }

    /// Maps a BAR: through the sysfs write-combining resource file when
    /// given and present, else through VFIO, else file I/O.
    fn map_bar(
        sys: &Arc<S>,
        device: &OwnedFd,
        region: Region,
        wc_resource: Option<&Path>,
    ) -> Result<BarAccess, VfioError> {
        let len = region.size as usize;
        if let Some(path) = wc_resource {
            // Only prefetchable BARs have this file; opening it needs root.
            // Failing here is fine: the VFIO mapping (uncached) still works.
            if let Ok(fd) = sys.open(path, true) {
                if let Ok(map) = sys.mmap(fd.as_fd(), 0, len) {
                    return Ok(BarAccess::Mapped(map));
                }
            }
        }
        if region.mappable {
            let map = sys
                .mmap(device.as_fd(), region.offset, len)
                .map_err(|source| VfioError::Ioctl {
                    op: "mmap of a BAR",
                    source,
                })?;
            return Ok(BarAccess::Mapped(map));
        }
        Ok(BarAccess::FileIo(region))
    }

    fn enable_bus_master(&mut self, config: Region) -> Result<(), VfioError> {
        let at = config.offset + PCI_COMMAND;
        let mut word = [0u8; 2];
        self.sys
            .pread(self.device.as_fd(), at, &mut word)
            .map_err(ioctl_err("config space read"))?;
        let command = u16::from_le_bytes(word) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
        self.sys
            .pwrite(self.device.as_fd(), at, &command.to_le_bytes())
            .map_err(ioctl_err("config space write"))?;
        Ok(())
    }

    fn bind_vectors(&mut self, num_irqs: u32) -> Result<(), VfioError> {
        if num_irqs <= VFIO_PCI_MSIX_IRQ_INDEX {
            return Ok(());
        }
        let mut info = vfio_irq_info {
            argsz: std::mem::size_of::<vfio_irq_info>() as u32,
            index: VFIO_PCI_MSIX_IRQ_INDEX,
            ..Default::default()
        };
        self.sys
            .ioctl(self.device.as_fd(), Ioctl::DeviceGetIrqInfo(&mut info))
            .map_err(ioctl_err("VFIO_DEVICE_GET_IRQ_INFO"))?;
        if info.count == 0 || info.flags & VFIO_IRQ_INFO_EVENTFD == 0 {
            return Ok(());
        }
        let mut vectors = Vec::with_capacity(info.count as usize);
        for _ in 0..info.count {
            let fd = self
                .sys
                .eventfd()
                .map_err(|e| DeviceError::sys("eventfd", e))?;
            vectors.push(Arc::new(fd));
        }
        let set = IrqSet {
            flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            index: VFIO_PCI_MSIX_IRQ_INDEX,
            start: 0,
            count: info.count,
            eventfds: vectors.iter().map(|fd| fd.as_fd().as_raw_fd()).collect(),
        };
        self.sys
            .ioctl(self.device.as_fd(), Ioctl::DeviceSetIrqs(&set))
            .map_err(ioctl_err("VFIO_DEVICE_SET_IRQS"))?;
        self.vectors = vectors;
        Ok(())
    }

    /// The normalised PCI address.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn bar_read32(&self, bar: &BarAccess, offset: u64) -> Result<u32, DeviceError> {
        match bar {
            BarAccess::Mapped(map) => Ok(self.sys.mmio_read32(map, offset as usize)),
            BarAccess::FileIo(region) => {
                let mut word = [0u8; 4];
                self.sys
                    .pread(self.device.as_fd(), region.offset + offset, &mut word)
                    .map_err(|e| DeviceError::sys("BAR read", e))?;
                Ok(u32::from_le_bytes(word))
            }
        }
    }

    fn bar_write32(&self, bar: &BarAccess, offset: u64, value: u32) -> Result<(), DeviceError> {
        match bar {
            BarAccess::Mapped(map) => {
                self.sys.mmio_write32(map, offset as usize, value);
                Ok(())
            }
            BarAccess::FileIo(region) => self
                .sys
                .pwrite(
                    self.device.as_fd(),
                    region.offset + offset,
                    &value.to_le_bytes(),
                )
                .map(drop)
                .map_err(|e| DeviceError::sys("BAR write", e)),
        }
    }

    fn bar2(&self) -> Result<&BarAccess, DeviceError> {
        self.bar2.as_ref().ok_or(DeviceError::Unsupported {
            body: "vfio",
            what: "BAR2 (the board exposes none)".into(),
        })
    }
}

/// BAR2 is written in whole 32-bit words (what a write-combining buffer
/// merges into bursts); unaligned heads and tails are refused.
fn check_word_access(offset: u64, len: usize) -> Result<(), DeviceError> {
    if !offset.is_multiple_of(4) || !len.is_multiple_of(4) {
        return Err(DeviceError::Misaligned {
            space: "BAR2",
            offset,
            align: 4,
        });
    }
    Ok(())
}

impl<S: Sys> Device for VfioDevice<S> {
    fn body(&self) -> &'static str {
        "vfio"
    }

    fn bar0_read(&mut self, offset: u32) -> Result<u32, DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.counters.mmio_reads += 1;
        self.bar_read32(&self.bar0, offset.into())
    }

    fn bar0_write(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        check_bar0_offset(offset, map::BAR0_SIZE)?;
        self.counters.mmio_writes += 1;
        self.bar_write32(&self.bar0, offset.into(), value)
    }

    fn bar2_len(&self) -> u64 {
        self.bar2_len
    }

    fn bar2_write(&mut self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        check_range("BAR2", offset, data.len(), self.bar2_len)?;
        check_word_access(offset, data.len())?;
        let bar = self.bar2()?;
        for (i, word) in data.chunks_exact(4).enumerate() {
            let value = u32::from_le_bytes(word.try_into().expect("chunks of 4"));
            self.bar_write32(bar, offset + 4 * i as u64, value)?;
        }
        self.counters.bar2_write_bytes += data.len() as u64;
        Ok(())
    }

    fn bar2_read(&mut self, offset: u64, out: &mut [u8]) -> Result<(), DeviceError> {
        check_range("BAR2", offset, out.len(), self.bar2_len)?;
        check_word_access(offset, out.len())?;
        let bar = self.bar2()?;
        for (i, word) in out.chunks_exact_mut(4).enumerate() {
            let value = self.bar_read32(bar, offset + 4 * i as u64)?;
            word.copy_from_slice(&value.to_le_bytes());
        }
        self.counters.bar2_read_bytes += out.len() as u64;
        Ok(())
    }

    fn dma_map(&mut self, region: Arc<SharedRegion>) -> Result<u64, DeviceError> {
        let page = rustix::param::page_size();
        if region.is_empty() || !region.len().is_multiple_of(page) {
            return Err(DeviceError::Unsupported {
                body: "vfio",
                what: format!(
                    "DMA mapping of {} bytes (the IOMMU maps whole {page}-byte pages)",
                    region.len()
                ),
            });
        }
        let vaddr = region.base_addr() as u64;
        let size = region.len() as u64;
        let iova = self.iovas.insert(region)?;
        let map = vfio_iommu_type1_dma_map {
            argsz: std::mem::size_of::<vfio_iommu_type1_dma_map>() as u32,
            flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
            vaddr,
            iova,
            size,
        };
        if let Err(e) = self
            .sys
            .ioctl(self.container.as_fd(), Ioctl::IommuMapDma(&map))
        {
            // Keep the bookkeeping equal to the IOMMU's state.
            let _ = self.iovas.remove(iova);
            return Err(DeviceError::sys("VFIO_IOMMU_MAP_DMA", e));
        }
        Ok(iova)
    }

    fn dma_unmap(&mut self, iova: u64) -> Result<(), DeviceError> {
        let size = self.iovas.mapping_len(iova)?;
        let mut unmap = vfio_iommu_type1_dma_unmap {
            argsz: std::mem::size_of::<vfio_iommu_type1_dma_unmap>() as u32,
            iova,
            size,
            ..Default::default()
        };
        self.sys
            .ioctl(self.container.as_fd(), Ioctl::IommuUnmapDma(&mut unmap))
            .map_err(|e| DeviceError::sys("VFIO_IOMMU_UNMAP_DMA", e))?;
        // The region (and so the memory the IOMMU pointed at) is dropped
        // only now that the device can no longer reach it.
        self.iovas.remove(iova).map(drop)
    }

    fn vectors(&self) -> u32 {
        self.vectors.len() as u32
    }

    fn notifier(&mut self, vector: u32) -> Result<Arc<EventFd>, DeviceError> {
        crate::device::vector_eventfd(&self.vectors, vector)
    }

    fn settle(&mut self) -> Result<(), DeviceError> {
        // The board runs by itself.
        Ok(())
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        if !self.can_reset {
            return Err(DeviceError::Unsupported {
                body: "vfio",
                what: "function reset (the kernel offers no reset method for this device)".into(),
            });
        }
        self.sys
            .ioctl(self.device.as_fd(), Ioctl::DeviceReset)
            .map(drop)
            .map_err(|e| DeviceError::sys("VFIO_DEVICE_RESET", e))
    }

    fn counters(&self) -> DeviceCounters {
        self.counters
    }
}

impl<S: Sys> Drop for VfioDevice<S> {
    fn drop(&mut self) {
        // Interrupts off before the eventfds go; DMA unmapped before the
        // memory goes; BARs unmapped before the device fd closes.
        if !self.vectors.is_empty() {
            let off = IrqSet {
                flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                index: VFIO_PCI_MSIX_IRQ_INDEX,
                start: 0,
                count: 0,
                eventfds: Vec::new(),
            };
            let _ = self
                .sys
                .ioctl(self.device.as_fd(), Ioctl::DeviceSetIrqs(&off));
        }
        let mapped: Vec<u64> = self.iovas.mappings().map(|(iova, _)| iova).collect();
        for iova in mapped {
            let _ = self.dma_unmap(iova);
        }
        for bar in [Some(&self.bar0), self.bar2.as_ref()].into_iter().flatten() {
            if let BarAccess::Mapped(map) = bar {
                self.sys.munmap(map);
            }
        }
    }
}

#[cfg(test)]
mod tests;
