//! What the NIC tests share beyond the test kit: the MACs of the veth
//! pair's ends, frame lengths, and a plain AF_PACKET socket as the
//! independent peer of a port. The veth pair itself, the frames and the
//! skip come from `netmap-testkit`.
// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use netmap_nic::{NicBackend, NicEngine};
use netmap_ring::port::{Port, PortError};
use netmap_testkit::frames::TEST_ETHERTYPE;

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x01];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x01];
/// No test waits longer than this for frames.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A veth pair between two namespaces with ends [`MAC_A`] and [`MAC_B`],
/// or a skip saying why there is none (not root, no `ip netns`, no veth).
#[macro_export]
macro_rules! veth_or_skip {
    () => {
        netmap_testkit::ok_or_skip!(netmap_testkit::netns::VethPair::create(
            $crate::nic_support::MAC_A,
            $crate::nic_support::MAC_B
        ))
    };
}

/// One test per NIC engine: `<scenario>::af_packet` and `<scenario>::af_xdp`
/// (the test file imports `NicEngine`).
#[macro_export]
macro_rules! on_each_engine {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn af_packet() {
                super::$scenario(super::NicEngine::Packet);
            }

            #[test]
            fn af_xdp() {
                super::$scenario(super::NicEngine::Xdp);
            }
        }
    };
}

/// Opens `name` with `engine`, checking that engine serves it.
pub fn open_port(name: &str, engine: NicEngine) -> Result<Port, PortError> {
    let port = Port::open_on(&NicBackend { engine }, name)?;
    assert_eq!(
        netmap_nic::counters(&port).expect("NIC port").engine(),
        engine
    );
    Ok(port)
}

/// Length of frame `seq`: varied, 60..=1514 bytes.
pub fn frame_len(seq: u32) -> usize {
    60 + (seq as usize * 37) % 1455
}

/// A plain AF_PACKET socket: the independent peer of the port.
pub struct RawSocket(pub OwnedFd);

impl RawSocket {
    /// A socket that receives the test frames and can send.
    pub fn bind(ifname: &str) -> io::Result<Self> {
        Self::bind_protocol(ifname, TEST_ETHERTYPE)
    }

    /// A socket receiving frames of `ethertype` (0: none, a sender only;
    /// `ETH_P_ALL`: every frame, as a NIC port does).
    pub fn bind_protocol(ifname: &str, ethertype: u16) -> io::Result<Self> {
        let c_name = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: `c_name` is a valid NUL-terminated string for the call.
        let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::last_os_error());
        }
        let protocol = ethertype.to_be();
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(protocol),
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data, valid all-zero.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = index as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: `timeout` is a valid timeval and its size is passed.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        Ok(Self(fd))
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is a valid slice for the call.
        let rc = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends 60-byte frames numbered `0..count` from [`MAC_B`] to
    /// [`MAC_A`], 32 at a time with a pause between, so the kernel's
    /// per-CPU backlog never drops one (the drops a test asks for are the
    /// port's, not the stack's); then waits for the last ones to land.
    pub fn send_numbered_paced(&self, count: u32) {
        for seq in 0..count {
            self.send(&netmap_testkit::frames::frame(MAC_A, MAC_B, seq, 60))
                .expect("send");
            if seq % 32 == 31 {
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Receives one frame, or `None` after the 200 ms receive timeout.
    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: `buf` is a valid writable slice for the call.
        let rc = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        (rc >= 0).then_some(rc as usize)
    }

    /// Sends `count` (at most 64) copies of `frame` with one sendmmsg;
    /// returns how many the kernel took.
    pub fn send_batch(&self, frame: &[u8], count: usize) -> usize {
        let count = count.min(64);
        let mut iov = libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        };
        // SAFETY: mmsghdr is plain data, valid all-zero.
        let mut msgs: [libc::mmsghdr; 64] = unsafe { std::mem::zeroed() };
        for m in &mut msgs[..count] {
            m.msg_hdr.msg_iov = &mut iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the first `count` headers point to `iov`, which points to
        // `frame`; all outlive the call and the kernel only reads them.
        let rc = unsafe {
            libc::sendmmsg(
                self.0.as_raw_fd(),
                msgs.as_mut_ptr(),
                count as u32,
                libc::MSG_DONTWAIT,
            )
        };
        rc.max(0) as usize
    }

    /// Receives what is queued (at most 64 frames of up to 2048 bytes into
    /// `bufs`) without waiting; returns the number of frames.
    pub fn recv_batch(&self, bufs: &mut [[u8; 2048]; 64]) -> usize {
        let mut iovs: [libc::iovec; 64] = std::array::from_fn(|i| libc::iovec {
            iov_base: bufs[i].as_mut_ptr().cast(),
            iov_len: 2048,
        });
        // SAFETY: mmsghdr is plain data, valid all-zero.
        let mut msgs: [libc::mmsghdr; 64] = unsafe { std::mem::zeroed() };
        for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: each header points to one iovec that points to a distinct
        // 2048-byte buffer of `bufs`; all outlive the call.
        let rc = unsafe {
            libc::recvmmsg(
                self.0.as_raw_fd(),
                msgs.as_mut_ptr(),
                64,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        rc.max(0) as usize
    }

    /// Sets the receive queue size (as the NIC port does for its sockets).
    pub fn set_receive_buffer(&self, bytes: i32) {
        // SAFETY: `bytes` is a valid int and its size is passed; failure
        // leaves the default.
        unsafe {
            libc::setsockopt(
                self.0.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as u32,
            )
        };
    }
}
