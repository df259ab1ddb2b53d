//! The system-call seam of AF_XDP sockets: the socket with the port's
//! buffer pool registered as its UMEM (or sharing another socket's), and
//! the four rings it shares with the kernel. Every `unsafe` of the AF_XDP
//! socket path is here; the program is in `xdp_prog.rs`.
//!
//! Facts used (linux/if_xdp.h): AF_XDP's socket options, bind flags, mmap
//! offsets, ring flags and descriptor layout.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use netmap_ring::shm::SharedRegion;

pub use super::xdp_prog::XdpRedirect;

/// Unaligned-chunk descriptors carry an offset above this bit.
const UNALIGNED_OFFSET_SHIFT: u32 = 48;

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` is a descriptor the kernel just returned to us and that
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// One of the four rings an AF_XDP socket shares with the kernel: a
/// producer index, a consumer index, a flags word and `size` entries.
/// The kernel writes the other side's index at any time, so indexes are
/// atomics and entries are read and written with volatile accesses.
#[derive(Debug)]
pub struct XskRing {
    map: *mut libc::c_void,
    map_len: usize,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    entries: *mut u8,
    size: u32,
}

// SAFETY: the ring is plain shared memory reached through atomics and
// volatile accesses; the binding serialises each ring's users with a
// mutex.
unsafe impl Send for XskRing {}
// SAFETY: as above.
unsafe impl Sync for XskRing {}

impl XskRing {
    fn map(
        fd: BorrowedFd<'_>,
        offsets: &libc::xdp_ring_offset,
        size: u32,
        entry_size: usize,
        pgoff: u64,
    ) -> io::Result<Self> {
        let map_len = offsets.desc as usize + size as usize * entry_size;
        // SAFETY: mapping the ring the kernel made for this socket, at the
        // page offset if_xdp.h names for it; the result is checked.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                pgoff as libc::off_t,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let at = |off: u64| (map as usize + off as usize) as *mut u8;
        Ok(Self {
            map,
            map_len,
            producer: at(offsets.producer).cast(),
            consumer: at(offsets.consumer).cast(),
            flags: at(offsets.flags).cast(),
            entries: at(offsets.desc),
            size,
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: the producer index is an aligned u32 inside the mapping,
        // which lives as long as `self`.
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }

    /// The kernel asks for a system call to go on with this ring
    /// (`XDP_RING_NEED_WAKEUP`, with `XDP_USE_NEED_WAKEUP`): without it,
    /// no `sendto`/`poll` is needed per batch.
    pub fn needs_wakeup(&self) -> bool {
        // SAFETY: the flags word is an aligned u32 inside the mapping,
        // which lives as long as `self`.
        let flags = unsafe { &*self.flags };
        // Acquire: pairs with the kernel setting the flag after it ran
        // out of work, so entries we published before are seen as ours.
        flags.load(Ordering::Acquire) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// Entries the ring holds.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Entries a producer may add now.
    pub fn free(&self) -> u32 {
        // Acquire: pairs with the kernel's release of the consumer index,
        // so the entries it consumed are ours to overwrite.
        let consumer = self.consumer().load(Ordering::Acquire);
        self.size
            - self
                .producer()
                .load(Ordering::Relaxed)
                .wrapping_sub(consumer)
    }

    /// Entries a consumer may take now.
    pub fn available(&self) -> u32 {
        // Acquire: pairs with the kernel's release of the producer index,
        // so the entries it produced are visible.
        let producer = self.producer().load(Ordering::Acquire);
        producer.wrapping_sub(self.consumer().load(Ordering::Relaxed))
    }

    /// Entries produced and not yet consumed by the other side.
    pub fn in_flight(&self) -> u32 {
        self.producer()
            .load(Ordering::Relaxed)
            .wrapping_sub(self.consumer().load(Ordering::Acquire))
    }

    fn entry(&self, index: u32, entry_size: usize) -> *mut u8 {
        let slot = (index & (self.size - 1)) as usize;
        (self.entries as usize + slot * entry_size) as *mut u8
    }

    /// Writes address entry `n` past the producer index (fill ring).
    pub fn put_addr(&self, n: u32, addr: u64) {
        let index = self.producer().load(Ordering::Relaxed).wrapping_add(n);
        // SAFETY: the entry is inside the mapping (index masked to the
        // power-of-two size) and aligned to 8.
        unsafe { std::ptr::write_volatile(self.entry(index, 8).cast::<u64>(), addr) };
    }

    /// Writes descriptor `n` past the producer index (TX ring).
    pub fn put_desc(&self, n: u32, addr: u64, len: u32, options: u32) {
        let index = self.producer().load(Ordering::Relaxed).wrapping_add(n);
        let desc = libc::xdp_desc { addr, len, options };
        // SAFETY: as in `put_addr`, for a 16-byte descriptor.
        unsafe { std::ptr::write_volatile(self.entry(index, 16).cast::<libc::xdp_desc>(), desc) };
    }

    /// Publishes `count` entries written with `put_*`.
    pub fn submit(&self, count: u32) {
        let producer = self.producer().load(Ordering::Relaxed);
        // Release: the entries written above are visible to the kernel
        // before the index that hands them over.
        self.producer()
            .store(producer.wrapping_add(count), Ordering::Release);
    }

    /// Reads descriptor `n` past the consumer index (RX ring).
    pub fn get_desc(&self, n: u32) -> libc::xdp_desc {
        let index = self.consumer().load(Ordering::Relaxed).wrapping_add(n);
        // SAFETY: as in `put_desc`.
        unsafe { std::ptr::read_volatile(self.entry(index, 16).cast::<libc::xdp_desc>()) }
    }

    /// Reads address entry `n` past the consumer index (completion ring).
    pub fn get_addr(&self, n: u32) -> u64 {
        let index = self.consumer().load(Ordering::Relaxed).wrapping_add(n);
        // SAFETY: as in `put_addr`.
        unsafe { std::ptr::read_volatile(self.entry(index, 8).cast::<u64>()) }
    }

    /// Gives `count` consumed entries back.
    pub fn release(&self, count: u32) {
        let consumer = self.consumer().load(Ordering::Relaxed);
        // Release: we are done reading the entries before the kernel may
        // reuse them.
        self.consumer()
            .store(consumer.wrapping_add(count), Ordering::Release);
    }
}

impl Drop for XskRing {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` mapped; no reference into it
        // outlives `self`.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}

/// The real address of the frame an RX descriptor describes, as an offset
/// in the UMEM (unaligned-chunk descriptors keep an offset in the top
/// bits).
pub fn desc_data_offset(addr: u64) -> u64 {
    (addr & ((1 << UNALIGNED_OFFSET_SHIFT) - 1)) + (addr >> UNALIGNED_OFFSET_SHIFT)
}

/// An AF_XDP socket bound to one queue of an interface, in zero copy
/// when the driver offers it, else in copy mode, whose UMEM is the port's
/// buffer pool.
#[derive(Debug)]
pub struct XskSocket {
    fd: OwnedFd,
    /// The NIC reads and writes the UMEM itself (`XDP_OPTIONS_ZEROCOPY`).
    pub zero_copy: bool,
    pub fill: XskRing,
    pub completion: XskRing,
    pub rx: XskRing,
    pub tx: XskRing,
}

fn setsockopt<T>(fd: &OwnedFd, option: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T whose size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl XskSocket {
    /// Opens a socket on queue `queue` of `ifindex`, registering bytes
    /// `umem_offset..umem_offset + umem_len` of `region` (page aligned) as
    /// the UMEM, in chunks of `chunk_size`; each ring has `ring_size`
    /// (a power of two) entries, the fill ring twice as many: the kernel
    /// publishes its fill consumer index only when it has used up what it
    /// saw, so a fill ring just large enough for the posted buffers would
    /// look full to us until then, and empty to the kernel right after.
    pub fn open(
        ifindex: u32,
        queue: u32,
        region: &SharedRegion,
        umem_offset: usize,
        umem_len: usize,
        chunk_size: u32,
        ring_size: u32,
    ) -> io::Result<Self> {
        if umem_offset
            .checked_add(umem_len)
            .is_none_or(|end| end > region.len())
            || !(region.base_addr() + umem_offset).is_multiple_of(4096)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "UMEM outside the region or not page aligned",
            ));
        }
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = owned(i64::from(raw));
        let reg = libc::xdp_umem_reg {
            addr: (region.base_addr() + umem_offset) as u64,
            len: umem_len as u64,
            chunk_size,
            headroom: 0,
            flags: libc::XDP_UMEM_UNALIGNED_CHUNK_FLAG,
            tx_metadata_len: 0,
        };
        // The kernel pins the pool's pages; they stay mapped as long as the
        // region, which the binding holds longer than this socket.
        setsockopt(&fd, libc::XDP_UMEM_REG, &reg)?;
        // Neither XDP_COPY nor XDP_ZEROCOPY: the kernel takes zero copy
        // where the driver offers it (for unaligned chunks and multi-buffer
        // frames) and falls back to copy mode.
        Self::bind_rings(
            fd,
            ifindex,
            queue,
            ring_size,
            libc::XDP_USE_SG | libc::XDP_USE_NEED_WAKEUP,
            0,
        )
    }

    /// Opens a socket on queue `queue` of `ifindex` sharing `owner`'s UMEM
    /// (`XDP_SHARED_UMEM`): one socket per queue of a multi-queue port,
    /// each with its own fill and completion rings, all in the owner's
    /// mode.
    pub fn open_shared(
        ifindex: u32,
        queue: u32,
        owner: &XskSocket,
        ring_size: u32,
    ) -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = owned(i64::from(raw));
        // A shared socket may name no mode: it takes the owner's.
        Self::bind_rings(
            fd,
            ifindex,
            queue,
            ring_size,
            libc::XDP_SHARED_UMEM,
            owner.fd.as_raw_fd() as u32,
        )
    }

    /// Sizes and maps the four rings, binds to the queue and reads the
    /// mode the kernel chose.
    fn bind_rings(
        fd: OwnedFd,
        ifindex: u32,
        queue: u32,
        ring_size: u32,
        bind_flags: u16,
        shared_umem_fd: u32,
    ) -> io::Result<Self> {
        let fill_size = ring_size * 2;
        setsockopt(&fd, libc::XDP_UMEM_FILL_RING, &fill_size)?;
        for option in [
            libc::XDP_UMEM_COMPLETION_RING,
            libc::XDP_RX_RING,
            libc::XDP_TX_RING,
        ] {
            setsockopt(&fd, option, &ring_size)?;
        }
        // SAFETY: xdp_mmap_offsets is plain data, valid all-zero.
        let mut offsets: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::xdp_mmap_offsets>() as u32;
        // SAFETY: `offsets` and `len` live across the call and `len` holds
        // the size of `offsets`.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                (&mut offsets as *mut libc::xdp_mmap_offsets).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let fill = XskRing::map(
            fd.as_fd(),
            &offsets.fr,
            fill_size,
            8,
            libc::XDP_UMEM_PGOFF_FILL_RING,
        )?;
        let completion = XskRing::map(
            fd.as_fd(),
            &offsets.cr,
            ring_size,
            8,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        )?;
        let rx = XskRing::map(
            fd.as_fd(),
            &offsets.rx,
            ring_size,
            16,
            libc::XDP_PGOFF_RX_RING as u64,
        )?;
        let tx = XskRing::map(
            fd.as_fd(),
            &offsets.tx,
            ring_size,
            16,
            libc::XDP_PGOFF_TX_RING as u64,
        )?;
        let addr = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: bind_flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: shared_umem_fd,
        };
        // SAFETY: `addr` is a valid sockaddr_xdp and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_xdp).cast(),
                std::mem::size_of::<libc::sockaddr_xdp>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut options = 0u32;
        let mut len = std::mem::size_of::<u32>() as u32;
        // SAFETY: `options` and `len` live across the call and `len` holds
        // the size of `options` (struct xdp_options is one u32).
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_OPTIONS,
                (&mut options as *mut u32).cast(),
                &mut len,
            )
        };
        let zero_copy = rc == 0 && options & libc::XDP_OPTIONS_ZEROCOPY != 0;
        Ok(Self {
            fd,
            zero_copy,
            fill,
            completion,
            rx,
            tx,
        })
    }

    /// Lets the kernel take fill entries when it stopped for want of them
    /// (zero copy drivers set the fill ring's need-wakeup flag then).
    pub fn wake_rx(&self) {
        // SAFETY: a zero-length recvfrom with no buffer and no address.
        unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
    }

    /// Asks the kernel to send what the TX ring holds (copy mode sends
    /// during this call, a bounded batch at a time). Busy answers are not
    /// errors: the caller sees progress in the ring's consumer index.
    pub fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length sendto with no buffer and no address.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS) => Ok(()),
                _ => Err(e),
            };
        }
        Ok(())
    }

    /// Frames the kernel dropped: RX with no fill entry or no RX room, or
    /// invalid (`XDP_STATISTICS`, cumulative).
    pub fn rx_drops(&self) -> u64 {
        // SAFETY: xdp_statistics is plain data, valid all-zero.
        let mut stats: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::xdp_statistics>() as u32;
        // SAFETY: `stats` and `len` live across the call and `len` holds
        // the size of `stats`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                (&mut stats as *mut libc::xdp_statistics).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return 0;
        }
        // rx_dropped already includes the frames that found the fill ring
        // empty (rx_fill_ring_empty_descs).
        stats.rx_dropped + stats.rx_ring_full
    }
}

impl AsFd for XskSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The interface's MTU (frames longer than MTU + Ethernet header are
/// refused by AF_XDP without a completion, so the port drops them first).
pub fn interface_mtu(socket: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    let mut req = super::sys::ifreq_named(name)?;
    // SAFETY: SIOCGIFMTU reads the name and writes the MTU of the `ifreq`
    // we pass, which lives across the call.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFMTU filled the mtu member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

/// The name of the interface's driver (`ETHTOOL_GDRVINFO`): `veth`,
/// `ice`, `mlx5_core`, ...
pub fn driver_name(socket: BorrowedFd<'_>, name: &str) -> io::Result<String> {
    const ETHTOOL_GDRVINFO: u32 = 0x3;
    // struct ethtool_drvinfo: cmd, then driver[32], version[32], ...;
    // 196 bytes in all.
    let mut info = [0u32; 49];
    info[0] = ETHTOOL_GDRVINFO;
    // SAFETY: `info` is the 196 bytes of struct ethtool_drvinfo.
    unsafe { ethtool(socket, name, &mut info)? };
    let driver: Vec<u8> = info[1..9].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let end = driver.iter().position(|&b| b == 0).unwrap_or(driver.len());
    Ok(String::from_utf8_lossy(&driver[..end]).into_owned())
}

/// RX queues of the interface (`ETHTOOL_GCHANNELS`: the larger of the
/// RX-only and combined channel counts).
pub fn rx_queue_count(socket: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    const ETHTOOL_GCHANNELS: u32 = 0x3c;
    // cmd, max_rx, max_tx, max_other, max_combined, rx_count, tx_count,
    // other_count, combined_count (struct ethtool_channels).
    let mut channels = [0u32; 9];
    channels[0] = ETHTOOL_GCHANNELS;
    // SAFETY: `channels` is the 36 bytes of struct ethtool_channels.
    unsafe { ethtool(socket, name, &mut channels)? };
    Ok(channels[5].max(channels[8]))
}

/// One `SIOCETHTOOL` request on interface `name`: `request` is the
/// kernel's struct for the command in its first word, as 32-bit words,
/// read and written in place.
///
/// # Safety
/// `request` must be at least as long as the kernel's struct for that
/// command: the kernel writes that many bytes.
unsafe fn ethtool(socket: BorrowedFd<'_>, name: &str, request: &mut [u32]) -> io::Result<()> {
    let mut req = super::sys::ifreq_named(name)?;
    req.ifr_ifru.ifru_data = request.as_mut_ptr().cast();
    // SAFETY: SIOCETHTOOL reads the command from and writes its answer
    // into `request`, which `req` points to and which outlives the call;
    // the caller sized it to the kernel's struct for the command.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
