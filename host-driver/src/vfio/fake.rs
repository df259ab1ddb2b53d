//! A fake kernel and board behind the [`Sys`] seam: a test double for what
//! cannot exist in CI (kernel VFIO and the NIC). It answers the VFIO
//! ioctls from a configurable description, serves BAR0 from a
//! [`RegisterImage`] and BAR2 from a byte array, records every call, and
//! fails chosen operations with chosen errnos.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use vfio_bindings::bindings::vfio::{
    VFIO_TYPE1v2_IOMMU, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_GROUP_FLAGS_VIABLE,
    VFIO_IRQ_INFO_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};

use super::sys::{Ioctl, IrqSet, Mmio, Sys};
use crate::eventfd::EventFd;
use crate::testing::RegisterImage;

/// The PCI address and IOMMU group the fake board sits at.
pub const ADDRESS: &str = "0000:03:00.0";
pub const GROUP: u32 = 7;

/// Fake mapping addresses: one per kind of mapping, never dereferenced.
const BAR0_TOKEN: usize = 0x1000_0000;
const BAR2_TOKEN: usize = 0x2000_0000;
const BAR2_WC_TOKEN: usize = 0x3000_0000;

/// What a descriptor returned by the fake stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Container,
    Group,
    Device,
    WcResource,
}

/// One region as `VFIO_DEVICE_GET_REGION_INFO` reports it.
#[derive(Clone, Copy, Debug)]
pub struct FakeRegion {
    pub size: u64,
    pub offset: u64,
    pub flags: u32,
}

/// The fake's configuration and state.
pub struct Board {
    pub calls: Vec<String>,
    /// Errno to fail an operation with, by its name (an ioctl name, `open
    /// <path>`, `mmap`, `pread`, `pwrite`, `readlink`, `eventfd`).
    pub failures: HashMap<String, i32>,
    pub api_version: i32,
    pub extensions: Vec<u32>,
    pub viable: bool,
    pub device_flags: u32,
    pub num_irqs: u32,
    pub msix_count: u32,
    pub regions: BTreeMap<u32, FakeRegion>,
    pub wc_resource: bool,
    pub bar0: RegisterImage,
    pub bar2: Vec<u8>,
    pub config: [u8; 256],
    pub dma: Vec<(u64, u64, u64)>,
    pub irq_sets: Vec<IrqSet>,
    pub resets: u32,
    pub container_set: bool,
    pub iommu: Option<u32>,
    pub unmapped: Vec<usize>,
    fds: HashMap<RawFd, Role>,
    links: HashMap<PathBuf, PathBuf>,
    /// Duplicates of the eventfds handed out, in order, to fire them.
    eventfds: Vec<OwnedFd>,
}

/// The fake kernel: a [`Sys`] over a shared [`Board`].
pub struct FakeSys {
    board: Mutex<Board>,
}

impl FakeSys {
    /// A healthy board at [`ADDRESS`] in group [`GROUP`], with the
    /// documented BAR0, 64 KiB of BAR2, 4 MSI-X vectors and a command
    /// register with only I/O decoding on.
    pub fn new() -> Self {
        let mut regions = BTreeMap::new();
        let rw_mmap =
            VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
        regions.insert(
            VFIO_PCI_BAR0_REGION_INDEX,
            FakeRegion {
                size: 0x10000,
                offset: 0,
                flags: rw_mmap,
            },
        );
        regions.insert(
            VFIO_PCI_BAR2_REGION_INDEX,
            FakeRegion {
                size: 0x10000,
                offset: 2 << 40,
                flags: rw_mmap,
            },
        );
        regions.insert(
            VFIO_PCI_CONFIG_REGION_INDEX,
            FakeRegion {
                size: 256,
                offset: 7 << 40,
                flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
            },
        );
        let mut config = [0u8; 256];
        config[4] = 0x01; // PCI_COMMAND: I/O space on
        let mut links = HashMap::new();
        links.insert(
            PathBuf::from(format!("/sys/bus/pci/devices/{ADDRESS}/iommu_group")),
            PathBuf::from(format!("../../../kernel/iommu_groups/{GROUP}")),
        );
        Self {
            board: Mutex::new(Board {
                calls: Vec::new(),
                failures: HashMap::new(),
                api_version: 0,
                extensions: vec![VFIO_TYPE1v2_IOMMU],
                viable: true,
                device_flags: VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET,
                num_irqs: 5,
                msix_count: 4,
                regions,
                wc_resource: false,
                bar0: RegisterImage::documented(8),
                bar2: vec![0; 0x10000],
                config,
                dma: Vec::new(),
                irq_sets: Vec::new(),
                resets: 0,
                container_set: false,
                iommu: None,
                unmapped: Vec::new(),
                fds: HashMap::new(),
                links,
                eventfds: Vec::new(),
            }),
        }
    }

    /// The board, to configure or inspect.
    pub fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap()
    }

    /// Makes operation `op` fail with `errno`.
    pub fn fail(&self, op: &str, errno: i32) {
        self.board().failures.insert(op.to_owned(), errno);
    }

    /// Names of the calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.board().calls.clone()
    }
}

impl Board {
    fn enter(&mut self, op: String) -> io::Result<()> {
        let failure = self.failures.get(&op).copied();
        self.calls.push(op);
        match failure {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }

    fn new_fd(&mut self, role: Role) -> io::Result<OwnedFd> {
        let fd: OwnedFd = File::open("/dev/null")?.into();
        self.fds.insert(fd.as_raw_fd(), role);
        Ok(fd)
    }

    fn role(&self, fd: BorrowedFd<'_>) -> Option<Role> {
        self.fds.get(&fd.as_raw_fd()).copied()
    }

    fn einval() -> io::Error {
        io::Error::from_raw_os_error(libc::EINVAL)
    }
}

impl Sys for FakeSys {
    fn open(&self, path: &Path, _write: bool) -> io::Result<OwnedFd> {
        let mut board = self.board();
        board.enter(format!("open {}", path.display()))?;
        let role = if path == Path::new("/dev/vfio/vfio") {
            Role::Container
        } else if path == Path::new(&format!("/dev/vfio/{GROUP}")) {
            Role::Group
        } else if board.wc_resource
            && path == Path::new(&format!("/sys/bus/pci/devices/{ADDRESS}/resource2_wc"))
        {
            Role::WcResource
        } else {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        };
        board.new_fd(role)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let mut board = self.board();
        board.enter("readlink".into())?;
        board
            .links
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn ioctl(&self, fd: BorrowedFd<'_>, ioctl: Ioctl<'_>) -> io::Result<i32> {
        let mut board = self.board();
        board.enter(ioctl.name().into())?;
        let role = board.role(fd);
        let expect = |want: Role| {
            if role == Some(want) {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::ENOTTY))
            }
        };
        match ioctl {
            Ioctl::GetApiVersion => {
                expect(Role::Container)?;
                Ok(board.api_version)
            }
            Ioctl::CheckExtension(kind) => {
                expect(Role::Container)?;
                Ok(i32::from(board.extensions.contains(&kind)))
            }
            Ioctl::SetIommu(kind) => {
                expect(Role::Container)?;
                if !board.container_set || !board.extensions.contains(&kind) {
                    return Err(Board::einval());
                }
                board.iommu = Some(kind);
                Ok(0)
            }
            Ioctl::GroupGetStatus(status) => {
                expect(Role::Group)?;
                status.flags = if board.viable {
                    VFIO_GROUP_FLAGS_VIABLE
                } else {
                    0
                };
                Ok(0)
            }
            Ioctl::GroupSetContainer(container) => {
                expect(Role::Group)?;
                if board.fds.get(&container) != Some(&Role::Container) {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                }
                board.container_set = true;
                Ok(0)
            }
            Ioctl::GroupGetDeviceFd(name) => {
                expect(Role::Group)?;
                if name != ADDRESS || board.iommu.is_none() {
                    return Err(Board::einval());
                }
                Ok(board.new_fd(Role::Device)?.into_raw_fd())
            }
            Ioctl::DeviceGetInfo(info) => {
                expect(Role::Device)?;
                info.flags = board.device_flags;
                info.num_regions = 9;
                info.num_irqs = board.num_irqs;
                Ok(0)
            }
            Ioctl::DeviceGetRegionInfo(info) => {
                expect(Role::Device)?;
                let region = board
                    .regions
                    .get(&info.index)
                    .copied()
                    .unwrap_or(FakeRegion {
                        size: 0,
                        offset: 0,
                        flags: 0,
                    });
                info.size = region.size;
                info.offset = region.offset;
                info.flags = region.flags;
                Ok(0)
            }
            Ioctl::DeviceGetIrqInfo(info) => {
                expect(Role::Device)?;
                if info.index != VFIO_PCI_MSIX_IRQ_INDEX {
                    return Err(Board::einval());
                }
                info.count = board.msix_count;
                info.flags = VFIO_IRQ_INFO_EVENTFD;
                Ok(0)
            }
            Ioctl::DeviceSetIrqs(set) => {
                expect(Role::Device)?;
                if set.start + set.count > board.msix_count
                    || set.eventfds.len() > set.count as usize
                {
                    return Err(Board::einval());
                }
                board.irq_sets.push(set.clone());
                Ok(0)
            }
            Ioctl::DeviceReset => {
                expect(Role::Device)?;
                board.resets += 1;
                Ok(0)
            }
            Ioctl::IommuMapDma(map) => {
                expect(Role::Container)?;
                let overlaps = board
                    .dma
                    .iter()
                    .any(|&(iova, _, size)| map.iova < iova + size && iova < map.iova + map.size);
                if overlaps {
                    return Err(io::Error::from_raw_os_error(libc::EEXIST));
                }
                board.dma.push((map.iova, map.vaddr, map.size));
                Ok(0)
            }
            Ioctl::IommuUnmapDma(unmap) => {
                expect(Role::Container)?;
                let at = board
                    .dma
                    .iter()
                    .position(|&(iova, _, size)| iova == unmap.iova && size == unmap.size)
                    .ok_or_else(Board::einval)?;
                board.dma.remove(at);
                Ok(0)
            }
        }
    }

    fn mmap(&self, fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<Mmio> {
        let mut board = self.board();
        board.enter("mmap".into())?;
        let region = |index: u32, board: &Board| board.regions.get(&index).copied();
        let addr = match board.role(fd) {
            Some(Role::WcResource) => BAR2_WC_TOKEN,
            Some(Role::Device) => {
                let bar0 = region(VFIO_PCI_BAR0_REGION_INDEX, &board);
                let bar2 = region(VFIO_PCI_BAR2_REGION_INDEX, &board);
                if bar0.is_some_and(|r| r.offset == offset) {
                    BAR0_TOKEN
                } else if bar2.is_some_and(|r| r.offset == offset) {
                    BAR2_TOKEN
                } else {
                    return Err(Board::einval());
                }
            }
            _ => return Err(io::Error::from_raw_os_error(libc::ENODEV)),
        };
        Ok(Mmio { addr, len })
    }

    fn munmap(&self, map: &Mmio) {
        let mut board = self.board();
        board.calls.push("munmap".into());
        board.unmapped.push(map.addr);
    }

    fn mmio_read32(&self, map: &Mmio, offset: usize) -> u32 {
        let mut board = self.board();
        match map.addr {
            BAR0_TOKEN => board.bar0.mmio_read(offset as u32),
            _ => u32::from_le_bytes(board.bar2[offset..offset + 4].try_into().unwrap()),
        }
    }

    fn mmio_write32(&self, map: &Mmio, offset: usize, value: u32) {
        let mut board = self.board();
        match map.addr {
            BAR0_TOKEN => board.bar0.mmio_write(offset as u32, value),
            BAR2_TOKEN | BAR2_WC_TOKEN => {
                board.bar2[offset..offset + 4].copy_from_slice(&value.to_le_bytes())
            }
            other => panic!("write to unknown mapping {other:#x}"),
        }
    }

    fn pread(&self, fd: BorrowedFd<'_>, offset: u64, out: &mut [u8]) -> io::Result<usize> {
        let mut board = self.board();
        board.enter("pread".into())?;
        let (index, at) = board.locate(fd, offset, out.len())?;
        match index {
            VFIO_PCI_CONFIG_REGION_INDEX => out.copy_from_slice(&board.config[at..at + out.len()]),
            VFIO_PCI_BAR2_REGION_INDEX => out.copy_from_slice(&board.bar2[at..at + out.len()]),
            _ => {
                let value = board.bar0.mmio_read(at as u32);
                out.copy_from_slice(&value.to_le_bytes()[..out.len()]);
            }
        }
        Ok(out.len())
    }

    fn pwrite(&self, fd: BorrowedFd<'_>, offset: u64, data: &[u8]) -> io::Result<usize> {
        let mut board = self.board();
        board.enter("pwrite".into())?;
        let (index, at) = board.locate(fd, offset, data.len())?;
        match index {
            VFIO_PCI_CONFIG_REGION_INDEX => board.config[at..at + data.len()].copy_from_slice(data),
            VFIO_PCI_BAR2_REGION_INDEX => board.bar2[at..at + data.len()].copy_from_slice(data),
            _ => {
                let mut word = [0u8; 4];
                word[..data.len()].copy_from_slice(data);
                board.bar0.mmio_write(at as u32, u32::from_le_bytes(word));
            }
        }
        Ok(data.len())
    }

    fn eventfd(&self) -> io::Result<EventFd> {
        let mut board = self.board();
        board.enter("eventfd".into())?;
        let fd = EventFd::new()?;
        board.eventfds.push(rustix::io::dup(&fd)?);
        Ok(fd)
    }
}

impl Board {
    /// The region and offset inside it of a file access on the device fd.
    fn locate(&self, fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<(u32, usize)> {
        if self.role(fd) != Some(Role::Device) {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        self.regions
            .iter()
            .find_map(|(&index, r)| {
                let at = offset.checked_sub(r.offset)?;
                (at + len as u64 <= r.size).then_some((index, at as usize))
            })
            .ok_or_else(Board::einval)
    }

    /// Signals MSI-X vector `vector` as the board's interrupt would, through
    /// (a duplicate of) the `vector`th eventfd handed out.
    pub fn fire(&self, vector: usize) {
        rustix::io::write(&self.eventfds[vector], &1u64.to_ne_bytes()).unwrap();
    }
}
