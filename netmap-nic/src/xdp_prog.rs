//! The XDP program of AF_XDP ports: loaded and attached with `bpf()`, it
//! redirects each RX queue's frames to the AF_XDP socket in that queue's
//! `XSKMAP` slot and passes the rest up the stack. Every `unsafe` of it
//! is here.
//!
//! Facts used (linux/bpf.h): `bpf()` commands and the layout of their
//! `bpf_attr` members, the eBPF instruction encoding, the XSKMAP map
//! type and the `bpf_redirect_map` helper id.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use super::xdp_sys::XskSocket;
const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_PROG_LOAD: i64 = 5;
const BPF_LINK_CREATE: i64 = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// `bpf_redirect_map`'s helper id.
const HELPER_REDIRECT_MAP: i32 = 51;
const XDP_PASS: i32 = 2;

/// `bpf_attr`, as a zeroed block whose members the callers place.
#[repr(C, align(8))]
struct BpfAttr([u8; 128]);

impl BpfAttr {
    fn new() -> Self {
        Self([0; 128])
    }
    fn u32_at(&mut self, offset: usize, value: u32) -> &mut Self {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }
    fn u64_at(&mut self, offset: usize, value: u64) -> &mut Self {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }
}

fn bpf(cmd: i64, attr: &mut BpfAttr) -> io::Result<i64> {
    // SAFETY: `attr` is a live, 128-byte bpf_attr whose pointer members
    // (set by the callers) point to data that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut BpfAttr,
            std::mem::size_of::<BpfAttr>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` is a descriptor the kernel just returned to us and that
    // nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// One eBPF instruction: opcode, dst/src registers, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    let regs = (src << 4) | (dst & 0xf);
    u64::from(code)
        | u64::from(regs) << 8
        | u64::from(off as u16) << 16
        | u64::from(imm as u32) << 32
}

/// An XDP program attached to an interface that sends the frames of each
/// RX queue to the AF_XDP socket in its XSKMAP slot (and the rest up the
/// stack). Detached when dropped (the link is closed).
#[derive(Debug)]
pub struct XdpRedirect {
    map: OwnedFd,
    _prog: OwnedFd,
    _link: OwnedFd,
}

impl XdpRedirect {
    /// Loads and attaches the program on `ifindex` (driver mode, else
    /// generic mode).
    pub fn attach(ifindex: u32, queues: u32) -> io::Result<Self> {
        let mut attr = BpfAttr::new();
        attr.u32_at(0, BPF_MAP_TYPE_XSKMAP)
            .u32_at(4, 4)
            .u32_at(8, 4)
            .u32_at(12, queues);
        let map = owned(bpf(BPF_MAP_CREATE, &mut attr)?);
        // r2 = ctx->rx_queue_index; r1 = map; r3 = XDP_PASS (action when
        // the slot is empty); return bpf_redirect_map(r1, r2, r3).
        let program = [
            insn(0x61, 2, 1, 16, 0),
            insn(0x18, 1, 1, 0, map.as_raw_fd()),
            0,
            insn(0xb7, 3, 0, 0, XDP_PASS),
            insn(0x85, 0, 0, 0, HELPER_REDIRECT_MAP),
            insn(0x95, 0, 0, 0, 0),
        ];
        let license = c"Dual BSD/GPL";
        let mut attr = BpfAttr::new();
        attr.u32_at(0, BPF_PROG_TYPE_XDP)
            .u32_at(4, program.len() as u32)
            .u64_at(8, program.as_ptr() as u64)
            .u64_at(16, license.as_ptr() as u64)
            .u32_at(68, BPF_XDP);
        let prog = owned(bpf(BPF_PROG_LOAD, &mut attr)?);
        let mut last = None;
        // NETMAP_RS_XDP_MODE=skb|drv picks one mode; by default the
        // driver's, then generic.
        let modes: &[u32] = match std::env::var("NETMAP_RS_XDP_MODE").as_deref() {
            Ok("skb") => &[XDP_FLAGS_SKB_MODE],
            Ok("drv") => &[XDP_FLAGS_DRV_MODE],
            _ => &[XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE],
        };
        for &flags in modes {
            let mut attr = BpfAttr::new();
            attr.u32_at(0, prog.as_raw_fd() as u32)
                .u32_at(4, ifindex)
                .u32_at(8, BPF_XDP)
                .u32_at(12, flags);
            match bpf(BPF_LINK_CREATE, &mut attr) {
                Ok(link) => {
                    return Ok(Self {
                        map,
                        _prog: prog,
                        _link: owned(link),
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one mode tried"))
    }

    /// Points queue `queue` at `socket`.
    pub fn set_socket(&self, queue: u32, socket: &XskSocket) -> io::Result<()> {
        let value = socket.as_fd().as_raw_fd() as u32;
        let mut attr = BpfAttr::new();
        attr.u32_at(0, self.map.as_raw_fd() as u32)
            .u64_at(8, &queue as *const u32 as u64)
            .u64_at(16, &value as *const u32 as u64);
        bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
    }
}
