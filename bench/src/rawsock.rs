//! AF_PACKET raw sockets bound to one interface: the standard OS path the
//! Linux-bridge baseline is driven through (batched with sendmmsg and
//! recvmmsg, the fastest way without PACKET_MMAP rings or AF_XDP).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Frames per sendmmsg/recvmmsg call.
pub const MMSG_BATCH: usize = 64;
/// Receive buffer per frame.
const RX_BUF: usize = 2048;

/// A raw socket bound to an interface.
pub struct RawSocket {
    fd: OwnedFd,
}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl RawSocket {
    /// Opens a socket on `ifname` receiving frames of `ethertype` (0 for a
    /// send-only socket that receives nothing).
    pub fn bind(ifname: &str, ethertype: u16) -> io::Result<Self> {
        let name = std::ffi::CString::new(ifname)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
        // SAFETY: `name` is a valid NUL-terminated string for the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(last_error(&format!("interface {ifname}")));
        }
        let protocol = ethertype.to_be();
        // SAFETY: plain socket(2) call; the result is checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(last_error("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data, valid all-zero.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(last_error(&format!("bind to {ifname}")));
        }
        let socket = Self { fd };
        // A larger queue: the receiver counts what the bridge delivers, and
        // should not lose frames to its own socket buffer.
        socket.set_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 32 << 20);
        Ok(socket)
    }

    fn set_int(&self, level: i32, name: i32, value: i32) {
        // SAFETY: `value` is a valid int for the call and its size is
        // passed; failure only leaves the default in place.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as u32,
            )
        };
    }

    /// Sends `frame` once.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a valid slice for the duration of the call.
        let rc = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if rc < 0 {
            return Err(last_error("send"));
        }
        Ok(())
    }

    /// Sends `count` (at most [`MMSG_BATCH`]) copies of `frame` with one
    /// sendmmsg; returns how many the kernel took.
    pub fn send_batch(&self, frame: &[u8], count: usize) -> io::Result<usize> {
        let count = count.min(MMSG_BATCH);
        let mut iov = libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        };
        // SAFETY: mmsghdr is plain data, valid all-zero.
        let mut msgs: [libc::mmsghdr; MMSG_BATCH] = unsafe { std::mem::zeroed() };
        for m in &mut msgs[..count] {
            m.msg_hdr.msg_iov = &mut iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header of the first `count` points to `iov`, which
        // points to `frame`; all live across the call, and the kernel only
        // reads them (and writes msg_len).
        let rc = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), count as u32, 0) };
        if rc < 0 {
            return Err(last_error("sendmmsg"));
        }
        Ok(rc as usize)
    }

    /// Receives what is queued, up to [`MMSG_BATCH`] frames, without
    /// waiting; returns the number of frames and their total length.
    pub fn recv_batch(&self, bufs: &mut RecvBuffers) -> io::Result<(usize, u64)> {
        let mut iovs: [libc::iovec; MMSG_BATCH] = std::array::from_fn(|i| libc::iovec {
            iov_base: bufs.data[i].as_mut_ptr().cast(),
            iov_len: RX_BUF,
        });
        // SAFETY: mmsghdr is plain data, valid all-zero.
        let mut msgs: [libc::mmsghdr; MMSG_BATCH] = unsafe { std::mem::zeroed() };
        for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: each header points to one iovec that points to a distinct
        // RX_BUF-byte buffer of `bufs`; all outlive the call.
        let rc = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                MMSG_BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok((0, 0));
            }
            return Err(last_error("recvmmsg"));
        }
        let n = rc as usize;
        let bytes = msgs[..n].iter().map(|m| u64::from(m.msg_len)).sum();
        Ok((n, bytes))
    }
}

/// Receive buffers for [`RawSocket::recv_batch`].
pub struct RecvBuffers {
    data: Vec<[u8; RX_BUF]>,
}

impl Default for RecvBuffers {
    fn default() -> Self {
        Self {
            data: vec![[0; RX_BUF]; MMSG_BATCH],
        }
    }
}
