//! The system-call seam of host rings: the TAP interface that stands for
//! the host stack's side of a NIC (`netmap:IF^`). Frames written to the
//! TAP's descriptor enter the Linux stack as if received on the TAP;
//! frames the stack sends through the TAP are read from it. One frame per
//! `writev`/`read`: a TAP has no batch calls.
//!
//! Frames written to the stack get their TCP/UDP checksum completed
//! when it is only the partial sum a veth peer's stack left for an
//! offload (`csum.rs`): the host rings see bytes, not the kernel's note
//! that the checksum is partial, and the stack would drop such frames.
//!
//! Facts used (linux/if_tun.h): `TUNSETIFF`, `IFF_TAP`, `IFF_NO_PI`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use netmap_ring::shm::SharedRegion;

use super::datapath::{PacketIo, Received, Span, MAX_BATCH, MAX_SPANS};
use super::sys::region_ptr;

/// `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

/// A TAP interface, removed by the kernel when this descriptor closes
/// (it is not made persistent), also when the process dies.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
}

impl Tap {
    /// Creates TAP interface `name` (at most 15 bytes), non-blocking.
    pub fn create(name: &str) -> io::Result<Self> {
        let mut req = super::sys::ifreq_named(name)?;
        req.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI;
        // SAFETY: open(2) of a constant NUL-terminated path; checked below.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("/dev/net/tun: {e}")));
        }
        // SAFETY: `raw` was just returned by open(2) and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: TUNSETIFF reads the name and flags of the `ifreq` we pass,
        // which lives across the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("creating TAP {name}: {e}"),
            ));
        }
        Ok(Self { fd })
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PacketIo for Tap {
    fn send(
        &self,
        region: &SharedRegion,
        spans: &[Span],
        frame_spans: &[usize],
    ) -> io::Result<usize> {
        let frames = frame_spans.len().min(MAX_BATCH);
        let mut first = 0;
        for (sent, &count) in frame_spans[..frames].iter().enumerate() {
            if count > MAX_SPANS || first + count > spans.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "batch too large",
                ));
            }
            if count == 1 {
                super::csum::complete_partial(region, spans[first]);
            }
            let mut iovs = Vec::with_capacity(count);
            for span in &spans[first..first + count] {
                iovs.push(libc::iovec {
                    iov_base: region_ptr(region, span.offset, span.len)?.cast(),
                    iov_len: span.len,
                });
            }
            // SAFETY: each iovec points to bytes checked to lie inside
            // `region`, which stays mapped across the call; the kernel only
            // reads them.
            let rc = unsafe { libc::writev(self.fd.as_raw_fd(), iovs.as_ptr(), iovs.len() as i32) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return if sent > 0 { Ok(sent) } else { Err(e) };
            }
            first += count;
        }
        Ok(frames)
    }

    fn recv(
        &self,
        region: &SharedRegion,
        buffers: &[Span],
        out: &mut Vec<Received>,
    ) -> io::Result<()> {
        out.clear();
        for span in buffers.iter().take(MAX_BATCH) {
            let at = region_ptr(region, span.offset, span.len)?;
            // SAFETY: `at..at + span.len` lies inside `region` (checked
            // above), which stays mapped across the call; nothing else in
            // this process holds a reference into a free RX buffer.
            let rc = unsafe { libc::read(self.fd.as_raw_fd(), at.cast(), span.len) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    break;
                }
                return if out.is_empty() { Err(e) } else { Ok(()) };
            }
            // A TAP read returns one frame, cut to the buffer: a frame that
            // fills the buffer exactly may have been longer (the MTU is
            // copied from the NIC, so only a jumbo MTU gets here).
            let len = rc as usize;
            out.push(Received {
                len,
                truncated: len == span.len && len > 1514,
                outgoing: false,
            });
        }
        Ok(())
    }
}
