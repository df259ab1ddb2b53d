//! What the NIC tests share: a veth pair across two network namespaces
//! made and removed by the test, test frames, and a plain AF_PACKET socket
//! as the independent peer of a port.
// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The experimental ethertype of IEEE 802: the frames of these tests,
/// told apart from anything else the kernel sends on the link.
pub const TEST_ETHERTYPE: u16 = 0x88b5;
pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x01];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x01];
/// No test waits longer than this for frames.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces joined by a veth pair, `a` in `ns_a` and `b` in `ns_b`;
/// deleting the namespaces on drop deletes the interfaces.
pub struct VethPair {
    pub ns_a: String,
    pub ns_b: String,
    pub a: String,
    pub b: String,
}

impl VethPair {
    /// Makes the pair, or says why the test cannot run.
    pub fn create() -> Result<Self, String> {
        if !is_root() {
            return Err("not root: network namespaces and AF_PACKET need root".into());
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}x{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pair = Self {
            ns_a: format!("nmnic{tag}a"),
            ns_b: format!("nmnic{tag}b"),
            a: format!("nv{tag}a"),
            b: format!("nv{tag}b"),
        };
        ip(&["netns", "add", &pair.ns_a])?;
        if let Err(e) = ip(&["netns", "add", &pair.ns_b]) {
            let _ = ip(&["netns", "del", &pair.ns_a]);
            return Err(e);
        }
        // From here on, drop removes what was made.
        let mac_a = format_mac(MAC_A);
        let mac_b = format_mac(MAC_B);
        for ns in [&pair.ns_a, &pair.ns_b] {
            // No IPv6 chatter (router solicitations, MLD) on the test link.
            let _ = Command::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-qw"])
                .arg("net.ipv6.conf.default.disable_ipv6=1")
                .output();
        }
        ip(&[
            "-n", &pair.ns_a, "link", "add", &pair.a, "address", &mac_a, "type", "veth", "peer",
            "name", &pair.b, "address", &mac_b, "netns", &pair.ns_b,
        ])?;
        ip(&["-n", &pair.ns_a, "link", "set", &pair.a, "up"])?;
        ip(&["-n", &pair.ns_b, "link", "set", &pair.b, "up"])?;
        Ok(pair)
    }

    /// Runs `f` on a thread inside namespace `ns`.
    pub fn run_in<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace file");
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns into the test namespace");
            f()
        })
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.ns_a]);
        let _ = ip(&["netns", "del", &self.ns_b]);
    }
}

#[macro_export]
macro_rules! veth_or_skip {
    () => {
        match $crate::nic_support::VethPair::create() {
            Ok(pair) => pair,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        }
    };
}

pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A test frame: Ethernet header with [`TEST_ETHERTYPE`], then a sequence
/// number, then filler up to `len` bytes derived from the number.
pub fn test_frame(src: [u8; 6], dst: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push((seq as usize + f.len()) as u8);
    }
    f
}

/// The sequence number of a test frame, `None` for any other frame.
pub fn test_seq(frame: &[u8]) -> Option<u32> {
    if frame.len() < 18 || frame[12..14] != TEST_ETHERTYPE.to_be_bytes() {
        return None;
    }
    Some(u32::from_be_bytes(frame[14..18].try_into().unwrap()))
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
