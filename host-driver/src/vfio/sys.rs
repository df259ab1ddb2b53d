//! The one seam between the VFIO driver and the kernel: every system call,
//! ioctl and MMIO access of the `vfio` body goes through [`Sys`], so unit
//! tests replace the kernel and the board with a fake (as rust-vmm's crates
//! do). [`LinuxSys`] is the real thing; it holds this crate's only `unsafe`
//! code, each block with its justification.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use vfio_bindings::bindings::vfio::{
    vfio_device_info, vfio_group_status, vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap,
    vfio_irq_info, vfio_irq_set, vfio_region_info, VFIO_BASE, VFIO_TYPE,
};

use crate::eventfd::EventFd;

/// One VFIO ioctl and its argument (linux/vfio.h). Numbers are
/// `_IO(VFIO_TYPE, VFIO_BASE + n)`; the kernel reads the argument size
/// from `argsz`.
#[derive(Debug)]
pub enum Ioctl<'a> {
    /// `VFIO_GET_API_VERSION` on the container.
    GetApiVersion,
    /// `VFIO_CHECK_EXTENSION`: is IOMMU type `n` supported?
    CheckExtension(u32),
    /// `VFIO_SET_IOMMU` on the container.
    SetIommu(u32),
    /// `VFIO_GROUP_GET_STATUS`.
    GroupGetStatus(&'a mut vfio_group_status),
    /// `VFIO_GROUP_SET_CONTAINER`: attaches the group to the container fd.
    GroupSetContainer(RawFd),
    /// `VFIO_GROUP_GET_DEVICE_FD` by PCI address; returns the device fd.
    GroupGetDeviceFd(&'a str),
    /// `VFIO_DEVICE_GET_INFO`.
    DeviceGetInfo(&'a mut vfio_device_info),
    /// `VFIO_DEVICE_GET_REGION_INFO` (index set by the caller).
    DeviceGetRegionInfo(&'a mut vfio_region_info),
    /// `VFIO_DEVICE_GET_IRQ_INFO` (index set by the caller).
    DeviceGetIrqInfo(&'a mut vfio_irq_info),
    /// `VFIO_DEVICE_SET_IRQS`.
    DeviceSetIrqs(&'a IrqSet),
    /// `VFIO_DEVICE_RESET`.
    DeviceReset,
    /// `VFIO_IOMMU_MAP_DMA` on the container.
    IommuMapDma(&'a vfio_iommu_type1_dma_map),
    /// `VFIO_IOMMU_UNMAP_DMA` on the container.
    IommuUnmapDma(&'a mut vfio_iommu_type1_dma_unmap),
}

impl Ioctl<'_> {
    /// Position after `VFIO_BASE` (linux/vfio.h).
    fn number(&self) -> u32 {
        match self {
            Ioctl::GetApiVersion => 0,
            Ioctl::CheckExtension(_) => 1,
            Ioctl::SetIommu(_) => 2,
            Ioctl::GroupGetStatus(_) => 3,
            Ioctl::GroupSetContainer(_) => 4,
            Ioctl::GroupGetDeviceFd(_) => 6,
            Ioctl::DeviceGetInfo(_) => 7,
            Ioctl::DeviceGetRegionInfo(_) => 8,
            Ioctl::DeviceGetIrqInfo(_) => 9,
            Ioctl::DeviceSetIrqs(_) => 10,
            Ioctl::DeviceReset => 11,
            Ioctl::IommuMapDma(_) => 13,
            Ioctl::IommuUnmapDma(_) => 14,
        }
    }

    /// The request code: `_IO(';', 100 + n)` (direction and size bits are
    /// 0 for VFIO, which carries `argsz` instead).
    pub fn request(&self) -> u64 {
        u64::from(VFIO_TYPE) << 8 | u64::from(VFIO_BASE + self.number())
    }

    /// Name for errors and call logs.
    pub fn name(&self) -> &'static str {
        match self {
            Ioctl::GetApiVersion => "VFIO_GET_API_VERSION",
            Ioctl::CheckExtension(_) => "VFIO_CHECK_EXTENSION",
            Ioctl::SetIommu(_) => "VFIO_SET_IOMMU",
            Ioctl::GroupGetStatus(_) => "VFIO_GROUP_GET_STATUS",
            Ioctl::GroupSetContainer(_) => "VFIO_GROUP_SET_CONTAINER",
            Ioctl::GroupGetDeviceFd(_) => "VFIO_GROUP_GET_DEVICE_FD",
            Ioctl::DeviceGetInfo(_) => "VFIO_DEVICE_GET_INFO",
            Ioctl::DeviceGetRegionInfo(_) => "VFIO_DEVICE_GET_REGION_INFO",
            Ioctl::DeviceGetIrqInfo(_) => "VFIO_DEVICE_GET_IRQ_INFO",
            Ioctl::DeviceSetIrqs(_) => "VFIO_DEVICE_SET_IRQS",
            Ioctl::DeviceReset => "VFIO_DEVICE_RESET",
            Ioctl::IommuMapDma(_) => "VFIO_IOMMU_MAP_DMA",
            Ioctl::IommuUnmapDma(_) => "VFIO_IOMMU_UNMAP_DMA",
        }
    }
}

/// The argument of `VFIO_DEVICE_SET_IRQS`: the header fields and, for
/// `VFIO_IRQ_SET_DATA_EVENTFD`, one fd per vector (-1 unbinds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrqSet {
    pub flags: u32,
    pub index: u32,
    pub start: u32,
    pub count: u32,
    pub eventfds: Vec<RawFd>,
}

/// A mapped BAR (or sysfs resource file), valid until [`Sys::munmap`].
/// The address is only ever dereferenced by the `Sys` that made it.
#[derive(Debug, PartialEq, Eq)]
pub struct Mmio {
    pub addr: usize,
    pub len: usize,
}

/// Every kernel interaction of the `vfio` body.
pub trait Sys: Send + Sync {
    /// `open(2)`, read-write when `write`.
    fn open(&self, path: &Path, write: bool) -> io::Result<OwnedFd>;
    /// `readlink(2)`.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
    /// A VFIO ioctl; returns the ioctl's non-negative result.
    fn ioctl(&self, fd: BorrowedFd<'_>, ioctl: Ioctl<'_>) -> io::Result<i32>;
    /// `mmap(2)` shared, read-write, of `len` bytes at file offset `offset`.
    fn mmap(&self, fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<Mmio>;
    /// `munmap(2)`.
    fn munmap(&self, map: &Mmio);
    /// A 32-bit MMIO load at `offset` (checked: 4-aligned, inside `map`).
    fn mmio_read32(&self, map: &Mmio, offset: usize) -> u32;
    /// A 32-bit MMIO store at `offset` (checked as above).
    fn mmio_write32(&self, map: &Mmio, offset: usize, value: u32);
    /// `pread(2)`.
    fn pread(&self, fd: BorrowedFd<'_>, offset: u64, out: &mut [u8]) -> io::Result<usize>;
    /// `pwrite(2)`.
    fn pwrite(&self, fd: BorrowedFd<'_>, offset: u64, data: &[u8]) -> io::Result<usize>;
    /// `eventfd(2)`.
    fn eventfd(&self) -> io::Result<EventFd>;
}

/// The real kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinuxSys;

/// Panics unless a `len`-byte access at `offset` lies inside `map` and is
/// naturally aligned: the caller checked already, this guards the unsafe
/// accesses below.
fn assert_mmio_access(map: &Mmio, offset: usize, len: usize) {
    assert!(
        offset.is_multiple_of(len) && offset.checked_add(len).is_some_and(|end| end <= map.len),
        "MMIO access of {len} bytes at {offset:#x} outside a {:#x}-byte mapping",
        map.len
    );
}

fn check(rc: libc::c_int) -> io::Result<i32> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

impl Sys for LinuxSys {
    fn open(&self, path: &Path, write: bool) -> io::Result<OwnedFd> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)?;
        Ok(file.into())
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }

    fn ioctl(&self, fd: BorrowedFd<'_>, ioctl: Ioctl<'_>) -> io::Result<i32> {
        let request = ioctl.request() as libc::c_ulong;
        let fd = fd.as_raw_fd();
        match ioctl {
            Ioctl::GetApiVersion | Ioctl::DeviceReset => {
                // SAFETY: these ioctls take no argument.
                check(unsafe { libc::ioctl(fd, request) })
            }
            Ioctl::CheckExtension(value) | Ioctl::SetIommu(value) => {
                // SAFETY: these ioctls take their argument by value.
                check(unsafe { libc::ioctl(fd, request, libc::c_ulong::from(value)) })
            }
            Ioctl::GroupSetContainer(container) => {
                let container: libc::c_int = container;
                // SAFETY: the kernel reads one int through the pointer, which
                // is valid for the call.
                check(unsafe { libc::ioctl(fd, request, &container as *const libc::c_int) })
            }
            Ioctl::GroupGetDeviceFd(name) => {
                let name =
                    CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                // SAFETY: the kernel reads a NUL-terminated string that lives
                // for the call.
                check(unsafe { libc::ioctl(fd, request, name.as_ptr()) })
            }
            Ioctl::GroupGetStatus(arg) => {
                // SAFETY: `arg` is a valid, exclusively borrowed
                // vfio_group_status with argsz set; the kernel writes within it.
                check(unsafe { libc::ioctl(fd, request, arg as *mut vfio_group_status) })
            }
            Ioctl::DeviceGetInfo(arg) => {
                // SAFETY: as above, for vfio_device_info.
                check(unsafe { libc::ioctl(fd, request, arg as *mut vfio_device_info) })
            }
            Ioctl::DeviceGetRegionInfo(arg) => {
                // SAFETY: as above, for vfio_region_info (argsz excludes
                // capabilities, so the kernel writes no more than the struct).
                check(unsafe { libc::ioctl(fd, request, arg as *mut vfio_region_info) })
            }
            Ioctl::DeviceGetIrqInfo(arg) => {
                // SAFETY: as above, for vfio_irq_info.
                check(unsafe { libc::ioctl(fd, request, arg as *mut vfio_irq_info) })
            }
            Ioctl::IommuMapDma(arg) => {
                // SAFETY: the kernel reads the struct; the memory it names
                // was mapped by the caller and stays mapped until unmapped.
                check(unsafe { libc::ioctl(fd, request, arg as *const vfio_iommu_type1_dma_map) })
            }
            Ioctl::IommuUnmapDma(arg) => {
                // SAFETY: the kernel reads and updates (size) the struct.
                check(unsafe { libc::ioctl(fd, request, arg as *mut vfio_iommu_type1_dma_unmap) })
            }
            Ioctl::DeviceSetIrqs(set) => {
                // vfio_irq_set is a 20-byte header followed by the data
                // array; build it in a u32 buffer so it is aligned.
                let header = std::mem::size_of::<vfio_irq_set>();
                let data_len = set.eventfds.len() * std::mem::size_of::<RawFd>();
                let argsz = header + data_len;
                let mut words = vec![0u32; argsz.div_ceil(4)];
                words[0] = argsz as u32;
                words[1] = set.flags;
                words[2] = set.index;
                words[3] = set.start;
                words[4] = set.count;
                for (slot, fd) in words[5..].iter_mut().zip(&set.eventfds) {
                    *slot = *fd as u32;
                }
                // SAFETY: `words` holds argsz bytes laid out as vfio_irq_set
                // and its eventfd array; the kernel reads argsz bytes.
                check(unsafe { libc::ioctl(fd, request, words.as_ptr()) })
            }
        }
    }

    fn mmap(&self, fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<Mmio> {
        // SAFETY: a fresh shared mapping at an address the kernel chooses;
        // it aliases no Rust object, and is accessed only through
        // `mmio_read32`/`mmio_write32` with volatile operations.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmio {
            addr: addr as usize,
            len,
        })
    }

    fn munmap(&self, map: &Mmio) {
        // SAFETY: `map` was returned by `mmap` above and is unmapped once
        // (its owner drops it right after).
        unsafe { libc::munmap(map.addr as *mut libc::c_void, map.len) };
    }

    fn mmio_read32(&self, map: &Mmio, offset: usize) -> u32 {
        assert_mmio_access(map, offset, 4);
        // SAFETY: the address is inside a live mapping of device memory and
        // 4-byte aligned (checked above); a volatile load is one PCIe read.
        unsafe { std::ptr::read_volatile((map.addr + offset) as *const u32) }
    }

    fn mmio_write32(&self, map: &Mmio, offset: usize, value: u32) {
        assert_mmio_access(map, offset, 4);
        // SAFETY: as in `mmio_read32`; a volatile store is one posted write.
        unsafe { std::ptr::write_volatile((map.addr + offset) as *mut u32, value) }
    }

    fn pread(&self, fd: BorrowedFd<'_>, offset: u64, out: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::pread(fd, out, offset)?)
    }

    fn pwrite(&self, fd: BorrowedFd<'_>, offset: u64, data: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::pwrite(fd, data, offset)?)
    }

    fn eventfd(&self) -> io::Result<EventFd> {
        EventFd::new()
    }
}

/// Wraps a file descriptor number returned by an ioctl.
pub fn owned_fd(raw: i32) -> OwnedFd {
    assert!(raw >= 0, "ioctl returned fd {raw}");
    // SAFETY: the kernel just created this descriptor for us
    // (VFIO_GROUP_GET_DEVICE_FD) and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_codes_match_linux_vfio_h() {
        // _IO(';', 100) and _IO(';', 114), as in linux/vfio.h.
        assert_eq!(Ioctl::GetApiVersion.request(), 0x3b64);
        assert_eq!(Ioctl::DeviceReset.request(), 0x3b6f);
        let mut unmap = vfio_iommu_type1_dma_unmap::default();
        assert_eq!(Ioctl::IommuUnmapDma(&mut unmap).request(), 0x3b72);
    }

    #[test]
    fn a_real_ioctl_failure_keeps_its_errno() {
        // An eventfd is not a VFIO container: the kernel says ENOTTY.
        let fd = LinuxSys.eventfd().unwrap();
        let err = LinuxSys
            .ioctl(std::os::fd::AsFd::as_fd(&fd), Ioctl::GetApiVersion)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    }
}
