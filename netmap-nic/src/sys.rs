//! The system-call seam of NIC ports: AF_PACKET sockets and the epoll set
//! that makes them one pollable descriptor. Every `unsafe` of the NIC
//! module is here; the data path sees only [`PacketIo`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use netmap_ring::shm::SharedRegion;
use rustix::event::epoll;

use super::datapath::{PacketIo, Received, Span, MAX_BATCH, MAX_SPANS};

/// `ETH_P_ALL` in network byte order: every protocol.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

fn errno(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// The index of interface `name` in this network namespace.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c_name = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: `c_name` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

/// Checks that `len` bytes at region offset `offset` are inside `region`
/// and returns their address in this process.
pub(crate) fn region_ptr(region: &SharedRegion, offset: usize, len: usize) -> io::Result<*mut u8> {
    match offset.checked_add(len) {
        Some(end) if end <= region.len() => Ok((region.base_addr() + offset) as *mut u8),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "span outside the port's memory",
        )),
    }
}

/// An AF_PACKET raw socket bound to one interface, non-blocking.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// Opens a socket on interface `ifindex`. With `receive` false it is
    /// bound with protocol 0 and never queues frames (a TX-only ring).
    pub fn open(ifindex: u32, receive: bool) -> io::Result<Self> {
        // Protocol 0 at creation: nothing is queued before the bind below
        // limits the socket to one interface.
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let socket = Self { fd };
        // A netmap NIC port does not see its own transmissions; ignore the
        // error on kernels before 4.20 (the data path filters them too).
        let _ = socket.set_int(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        // SAFETY: sockaddr_ll is plain data, valid all-zero.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = if receive { ETH_P_ALL_BE } else { 0 };
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                socket.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(errno("bind"));
        }
        Ok(socket)
    }

    /// Lets the socket see the frames this host sends too (a monitor's
    /// `/t`), which [`PacketSocket::open`] turned off.
    pub fn see_outgoing(&self) -> io::Result<()> {
        self.set_int(libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 0)
    }

    fn set_int(&self, level: i32, option: i32, value: i32) -> io::Result<()> {
        self.set_raw(level, option, &value)
    }

    fn set_raw<T>(&self, level: i32, option: i32, value: &T) -> io::Result<()> {
        // SAFETY: `value` points to a live T whose size is passed.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                option,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as u32,
            )
        };
        if rc < 0 {
            return Err(errno("setsockopt"));
        }
        Ok(())
    }

    /// True when interface `name` is administratively up (`IFF_UP`).
    pub fn interface_is_up(&self, name: &str) -> io::Result<bool> {
        let mut req = ifreq_named(name)?;
        // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of the
        // `ifreq` we pass, which lives across the call.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
        if rc < 0 {
            return Err(errno("SIOCGIFFLAGS"));
        }
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        Ok(flags & libc::IFF_UP as libc::c_short != 0)
    }

    /// Puts the interface in promiscuous mode for the life of the socket:
    /// the kernel counts such requests and drops ours when the socket is
    /// closed, restoring the previous mode.
    pub fn add_promiscuous(&self, ifindex: u32) -> io::Result<()> {
        let req = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        self.set_raw(libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &req)
    }

    /// Joins fanout group `group` (hash of the flow), so that the RX rings
    /// of a port share the interface's traffic as RSS queues would.
    pub fn join_fanout(&self, group: u16) -> io::Result<()> {
        let arg = u32::from(group) | (libc::PACKET_FANOUT_HASH << 16);
        self.set_int(libc::SOL_PACKET, libc::PACKET_FANOUT, arg as i32)
    }

    /// Enlarges the receive queue (bursts on veth arrive faster than a
    /// sync runs); falls back to the unprivileged limit.
    pub fn set_receive_buffer(&self, bytes: i32) {
        if self
            .set_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
            .is_err()
        {
            let _ = self.set_int(libc::SOL_SOCKET, libc::SO_RCVBUF, bytes);
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PacketIo for PacketSocket {
    fn send(
        &self,
        region: &SharedRegion,
        spans: &[Span],
        frame_spans: &[usize],
    ) -> io::Result<usize> {
        let frames = frame_spans.len().min(MAX_BATCH);
        let span_count: usize = frame_spans[..frames].iter().sum();
        if span_count > MAX_SPANS || span_count > spans.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "batch too large",
            ));
        }
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_SPANS];
        for (iov, span) in iovs.iter_mut().zip(&spans[..span_count]) {
            iov.iov_base = region_ptr(region, span.offset, span.len)?.cast();
            iov.iov_len = span.len;
        }
        // SAFETY: mmsghdr is plain data, valid all-zero.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut first = 0;
        for (msg, &count) in msgs.iter_mut().zip(&frame_spans[..frames]) {
            msg.msg_hdr.msg_iov = iovs[first..].as_mut_ptr();
            msg.msg_hdr.msg_iovlen = count;
            first += count;
        }
        // SAFETY: each of the first `frames` headers points to its run of
        // `iovs`, and each iovec to bytes checked to lie inside `region`,
        // which stays mapped across the call; the kernel only reads them.
        let rc = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                frames as u32,
                libc::MSG_DONTWAIT,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc as usize)
    }

    fn recv(
        &self,
        region: &SharedRegion,
        buffers: &[Span],
        out: &mut Vec<Received>,
    ) -> io::Result<()> {
        out.clear();
        let count = buffers.len().min(MAX_BATCH);
        let mut iovs = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_BATCH];
        for (iov, span) in iovs.iter_mut().zip(&buffers[..count]) {
            iov.iov_base = region_ptr(region, span.offset, span.len)?.cast();
            iov.iov_len = span.len;
        }
        // SAFETY: sockaddr_ll and mmsghdr are plain data, valid all-zero.
        let mut addrs: [libc::sockaddr_ll; MAX_BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for ((msg, iov), addr) in msgs.iter_mut().zip(iovs.iter_mut()).zip(addrs.iter_mut()) {
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
            msg.msg_hdr.msg_name = (addr as *mut libc::sockaddr_ll).cast();
            msg.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        }
        // SAFETY: each of the first `count` headers points to one iovec
        // (bytes checked to lie inside `region`, one buffer each, distinct)
        // and one sockaddr_ll; all outlive the call.
        let rc = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(())
            } else {
                Err(e)
            };
        }
        for (msg, addr) in msgs.iter().zip(&addrs).take(rc as usize) {
            out.push(Received {
                len: msg.msg_len as usize,
                truncated: msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                outgoing: addr.sll_pkttype == libc::PACKET_OUTGOING,
            });
        }
        Ok(())
    }

    fn take_kernel_drops(&self) -> u64 {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as u32;
        // SAFETY: `stats` and `len` live across the call and `len` holds
        // the size of `stats`. Reading resets the kernel's counters.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return 0;
        }
        u64::from(stats.tp_drops)
    }
}

/// An epoll set over a port's sockets: the port's one wake-up descriptor.
#[derive(Debug)]
pub struct EpollSet {
    fd: OwnedFd,
}

impl EpollSet {
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            fd: epoll::create(epoll::CreateFlags::CLOEXEC)?,
        })
    }

    fn flags(readable: bool, writable: bool) -> epoll::EventFlags {
        let mut flags = epoll::EventFlags::empty();
        if readable {
            flags |= epoll::EventFlags::IN;
        }
        if writable {
            flags |= epoll::EventFlags::OUT;
        }
        flags
    }

    /// Adds `source`, watched for frames if `readable` and for room if
    /// `writable`.
    pub fn add(
        &self,
        source: BorrowedFd<'_>,
        key: u64,
        readable: bool,
        writable: bool,
    ) -> io::Result<()> {
        epoll::add(
            &self.fd,
            source,
            epoll::EventData::new_u64(key),
            Self::flags(readable, writable),
        )?;
        Ok(())
    }

    /// Stops watching `source`.
    pub fn remove(&self, source: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(&self.fd, source)?;
        Ok(())
    }

    /// Changes what `source` is watched for.
    pub fn modify(
        &self,
        source: BorrowedFd<'_>,
        key: u64,
        readable: bool,
        writable: bool,
    ) -> io::Result<()> {
        epoll::modify(
            &self.fd,
            source,
            epoll::EventData::new_u64(key),
            Self::flags(readable, writable),
        )?;
        Ok(())
    }
}

impl AsFd for EpollSet {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// An all-zero `ifreq` carrying interface name `name`, the first step of
/// every interface ioctl; a name that is empty or does not fit the
/// kernel's 15 bytes is refused.
pub(crate) fn ifreq_named(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain data, valid all-zero.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?} is empty or longer than 15 bytes"),
        ));
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}
