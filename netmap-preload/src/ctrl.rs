//! `NIOCCTRL`: `struct nmreq_header`, its body and its options.
//!
//! The order of checks and the copy-back follow netmap's `netmap_ioctl`,
//! `nmreq_copyin` and `nmreq_copyout` on Linux: the 88-byte header is
//! always copied back (even on error), the body only on success, each
//! option header always (with its `nro_status`).

use netmap_ring::abi::{
    NmreqHeader, NmreqOption, NmreqRegister, NETMAP_MAX_API, NETMAP_MIN_API, NETMAP_REQ_CSB_ENABLE,
    NETMAP_REQ_MAXSIZE, NETMAP_REQ_OPT_CSB, NETMAP_REQ_OPT_EXTMEM, NETMAP_REQ_OPT_MAX,
    NETMAP_REQ_OPT_OFFSETS, NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS, NETMAP_REQ_OPT_SYNC_KLOOP_MODE,
    NETMAP_REQ_POOLS_INFO_GET, NETMAP_REQ_PORT_HDR_GET, NETMAP_REQ_PORT_HDR_SET,
    NETMAP_REQ_PORT_INFO_GET, NETMAP_REQ_REGISTER, NETMAP_REQ_SYNC_KLOOP_START,
    NETMAP_REQ_SYNC_KLOOP_STOP, NETMAP_REQ_VALE_ATTACH, NETMAP_REQ_VALE_DELIF,
    NETMAP_REQ_VALE_DETACH, NETMAP_REQ_VALE_LIST, NETMAP_REQ_VALE_NEWIF,
    NETMAP_REQ_VALE_POLLING_DISABLE, NETMAP_REQ_VALE_POLLING_ENABLE, NR_EXCLUSIVE, NR_REG_ALL_NIC,
};

use crate::error::NmError;
use crate::file::{Geometry, NmFile, RegRequest};
use crate::umem::{c_name, copy_in, copy_out};

/// Size of the body of request type `reqtype`, `None` for an unknown type.
/// `Some(0)` means the request has no body (`nr_body` must be 0).
fn body_size(reqtype: u16) -> Option<usize> {
    Some(match reqtype {
        NETMAP_REQ_REGISTER => 56,
        NETMAP_REQ_PORT_INFO_GET => 32,
        NETMAP_REQ_VALE_ATTACH => 64,
        NETMAP_REQ_VALE_DETACH => 8,
        NETMAP_REQ_VALE_LIST => 8,
        NETMAP_REQ_PORT_HDR_SET | NETMAP_REQ_PORT_HDR_GET => 8,
        NETMAP_REQ_VALE_NEWIF => 16,
        NETMAP_REQ_VALE_DELIF => 0,
        NETMAP_REQ_VALE_POLLING_ENABLE | NETMAP_REQ_VALE_POLLING_DISABLE => 16,
        NETMAP_REQ_POOLS_INFO_GET => 64,
        NETMAP_REQ_SYNC_KLOOP_START => 8,
        NETMAP_REQ_SYNC_KLOOP_STOP | NETMAP_REQ_CSB_ENABLE => 0,
        _ => return None,
    })
}

/// Size of an option's body after its 24-byte header.
fn option_body_size(opt: &NmreqOption) -> Result<usize, NmError> {
    Ok(match opt.nro_reqtype {
        NETMAP_REQ_OPT_EXTMEM => 72,
        NETMAP_REQ_OPT_CSB => 16,
        NETMAP_REQ_OPT_SYNC_KLOOP_MODE => 8,
        NETMAP_REQ_OPT_OFFSETS => 32,
        NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS => {
            if opt.nro_size < 24 {
                return Err(NmError::Option(libc::EINVAL as u32, "nro_size too small"));
            }
            (opt.nro_size - 24).min(NETMAP_REQ_MAXSIZE as u64 + 1) as usize
        }
        _ => 0,
    })
}

/// An option of the list: where it is and what it says.
struct Opt {
    addr: u64,
    head: NmreqOption,
}

/// Walks the option list as `nmreq_copyin` does: size accounting (a
/// self-linked list ends in `EMSGSIZE` or a duplicate), type 0 is
/// `EINVAL`, a known type twice makes both `EINVAL`. Every option starts
/// with `nro_status = EOPNOTSUPP`.
fn read_options(first: u64, body: usize) -> Result<Vec<Opt>, (Vec<Opt>, NmError)> {
    // The kernel's buffer: header pointers, the largest body, options.
    const BUF: usize = (2 + 6) * 8 + NETMAP_REQ_MAXSIZE + 6 * 8;
    let mut used = 16 + body + 48;
    let mut in_options = 0usize;
    let mut opts: Vec<Opt> = Vec::new();
    let mut next = first;
    while next != 0 {
        if used + 32 > BUF {
            return Err((opts, NmError::TooLarge));
        }
        used += 32;
        let mut head: NmreqOption = match copy_in(next) {
            Ok(head) => head,
            Err(e) => return Err((opts, e)),
        };
        head.nro_status = libc::EOPNOTSUPP as u32;
        let addr = next;
        next = head.nro_next;
        if head.nro_reqtype == 0 {
            head.nro_status = libc::EINVAL as u32;
            opts.push(Opt { addr, head });
            return Err((opts, NmError::Option(libc::EINVAL as u32, "type 0")));
        }
        let optbody = match option_body_size(&head) {
            Ok(size) => size,
            Err(e) => {
                head.nro_status = libc::EINVAL as u32;
                opts.push(Opt { addr, head });
                return Err((opts, e));
            }
        };
        in_options += 24 + optbody;
        if body + in_options > NETMAP_REQ_MAXSIZE || used + optbody > BUF {
            opts.push(Opt { addr, head });
            return Err((opts, NmError::TooLarge));
        }
        used += optbody;
        if head.nro_reqtype < NETMAP_REQ_OPT_MAX {
            if let Some(other) = opts
                .iter_mut()
                .find(|o| o.head.nro_reqtype == head.nro_reqtype)
            {
                other.head.nro_status = libc::EINVAL as u32;
                head.nro_status = libc::EINVAL as u32;
                opts.push(Opt { addr, head });
                return Err((opts, NmError::Option(libc::EINVAL as u32, "given twice")));
            }
        }
        opts.push(Opt { addr, head });
    }
    Ok(opts)
}

/// Copies every option header back (status included).
fn write_options(opts: &[Opt]) {
    for opt in opts {
        let _ = copy_out(opt.addr, &opt.head);
    }
}

/// `ioctl(fd, NIOCCTRL, hdr)`.
pub fn ioctl(file: &NmFile, hdr_addr: u64) -> Result<(), NmError> {
    let mut hdr: NmreqHeader = copy_in(hdr_addr)?;
    let result = handle(file, &mut hdr);
    // Linux copies the whole argument back whatever happened.
    copy_out(hdr_addr, &hdr)?;
    result
}

fn handle(file: &NmFile, hdr: &mut NmreqHeader) -> Result<(), NmError> {
    let version = u32::from(hdr.nr_version);
    if !(NETMAP_MIN_API..=NETMAP_MAX_API).contains(&version) {
        return Err(NmError::Version(version));
    }
    if hdr.nr_reserved != 0 {
        return Err(NmError::Invalid("nr_reserved is not 0".into()));
    }
    let Some(body) = body_size(hdr.nr_reqtype) else {
        return Err(NmError::Invalid(format!(
            "unknown request type {}",
            hdr.nr_reqtype
        )));
    };
    if (body == 0) != (hdr.nr_body == 0) {
        return Err(NmError::Invalid(if body == 0 {
            "this request takes no body".into()
        } else {
            "nr_body is missing".into()
        }));
    }
    // The kernel terminates the name, whatever the application wrote.
    let last = hdr.nr_name.len() - 1;
    hdr.nr_name[last] = 0;
    let mut opts = match read_options(hdr.nr_options, body) {
        Ok(opts) => opts,
        Err((opts, e)) => {
            write_options(&opts);
            return Err(e);
        }
    };
    let result = dispatch(file, hdr, &mut opts);
    write_options(&opts);
    result
}

fn dispatch(file: &NmFile, hdr: &mut NmreqHeader, opts: &mut [Opt]) -> Result<(), NmError> {
    let name = c_name(&hdr.nr_name);
    match hdr.nr_reqtype {
        NETMAP_REQ_REGISTER => {
            let mut body: NmreqRegister = copy_in(hdr.nr_body)?;
            check_register_options(&body, opts)?;
            let req = RegRequest {
                name,
                mode: body.nr_mode,
                ringid: body.nr_ringid,
                flags: body.nr_flags,
                mem_id: body.nr_mem_id,
                extra_bufs: body.nr_extra_bufs,
                tx_slots: body.nr_tx_slots,
                rx_slots: body.nr_rx_slots,
                tx_rings: body.nr_tx_rings,
                rx_rings: body.nr_rx_rings,
            };
            let g = file.register(&req)?;
            fill_register(&mut body, &g);
            copy_out(hdr.nr_body, &body)
        }
        NETMAP_REQ_PORT_INFO_GET => {
            let mut body: [u8; 32] = copy_in(hdr.nr_body)?;
            let g = port_info(file, &name, u16::from_ne_bytes([body[24], body[25]]))?;
            body[0..8].copy_from_slice(&g.memsize.to_ne_bytes());
            body[8..12].copy_from_slice(&g.tx_slots.to_ne_bytes());
            body[12..16].copy_from_slice(&g.rx_slots.to_ne_bytes());
            body[16..18].copy_from_slice(&g.tx_rings.to_ne_bytes());
            body[18..20].copy_from_slice(&g.rx_rings.to_ne_bytes());
            body[20..24].fill(0); // no host rings
            body[24..26].copy_from_slice(&g.mem_id.to_ne_bytes());
            copy_out(hdr.nr_body, &body)
        }
        NETMAP_REQ_PORT_HDR_GET => {
            let mut body: [u8; 8] = copy_in(hdr.nr_body)?;
            // No virtio-net headers on our ports: the length is 0.
            port_info(file, &name, 0)?;
            body[0..4].fill(0);
            copy_out(hdr.nr_body, &body)
        }
        NETMAP_REQ_SYNC_KLOOP_START | NETMAP_REQ_CSB_ENABLE => {
            // Both need CSB mode, which we never grant (OPT_CSB is refused).
            Err(NmError::Invalid(
                "the in-kernel sync loop and CSB mode are not available".into(),
            ))
        }
        NETMAP_REQ_SYNC_KLOOP_STOP => match file.bound() {
            None => Err(NmError::NotBound),
            // No loop runs: STOP returns at once, as after a START that
            // never began.
            Some(_) => Ok(()),
        },
        other => Err(NmError::NotSupported(format!(
            "request type {other} is not implemented yet"
        ))),
    }
}

/// `nmreq_checkoptions` for REGISTER: we consume no option, so any option
/// left at `EOPNOTSUPP` fails the request; `OPT_CSB` without
/// `NR_EXCLUSIVE` is `EINVAL`.
fn check_register_options(body: &NmreqRegister, opts: &mut [Opt]) -> Result<(), NmError> {
    for opt in opts.iter_mut() {
        if opt.head.nro_reqtype == NETMAP_REQ_OPT_CSB && body.nr_flags & NR_EXCLUSIVE == 0 {
            opt.head.nro_status = libc::EINVAL as u32;
            return Err(NmError::Option(
                libc::EINVAL as u32,
                "OPT_CSB needs NR_EXCLUSIVE",
            ));
        }
    }
    if let Some(opt) = opts.first() {
        let what = match opt.head.nro_reqtype {
            NETMAP_REQ_OPT_EXTMEM => "OPT_EXTMEM (memory comes from the backend)",
            NETMAP_REQ_OPT_CSB => "OPT_CSB (no CSB mode)",
            NETMAP_REQ_OPT_OFFSETS => "OPT_OFFSETS",
            _ => "this option",
        };
        return Err(NmError::Option(libc::EOPNOTSUPP as u32, what));
    }
    Ok(())
}

fn fill_register(body: &mut NmreqRegister, g: &Geometry) {
    body.nr_offset = g.if_offset;
    body.nr_memsize = g.memsize;
    body.nr_tx_slots = g.tx_slots;
    body.nr_rx_slots = g.rx_slots;
    body.nr_tx_rings = g.tx_rings;
    body.nr_rx_rings = g.rx_rings;
    body.nr_host_tx_rings = 0;
    body.nr_host_rx_rings = 0;
    body.nr_mem_id = g.mem_id;
    body.nr_extra_bufs = g.extra_bufs;
}

/// `PORT_INFO_GET`: the geometry of `name`, made temporarily if it does
/// not exist (as netmap does), or of this descriptor's own port.
pub fn port_info(file: &NmFile, name: &str, mem_id: u16) -> Result<Geometry, NmError> {
    if name.is_empty() {
        let id = if mem_id == 0 { 1 } else { mem_id };
        if !crate::mem::exists(id) {
            return Err(NmError::Invalid(format!("no memory allocator {id}")));
        }
        return Ok(Geometry {
            mem_id: id,
            ..Default::default()
        });
    }
    if let Some(bound) = file.bound() {
        if bound.name == name {
            return Ok(bound.geometry);
        }
    }
    let req = RegRequest {
        name: name.to_owned(),
        mode: NR_REG_ALL_NIC,
        ..Default::default()
    };
    match crate::file::bind(&req) {
        Ok(bound) => Ok(bound.geometry),
        Err(NmError::Port(netmap_ring::port::PortError::Busy { .. })) => {
            if let Some(geometry) = crate::file::last_seen(name) {
                return Ok(geometry);
            }
            // Bound elsewhere: a binding of no rings still reads the
            // port's ring counts (slot counts stay unknown: 0).
            let req = RegRequest {
                flags: netmap_ring::abi::NR_RX_RINGS_ONLY | netmap_ring::abi::NR_TX_RINGS_ONLY,
                ..req
            };
            crate::file::bind(&req).map(|bound| bound.geometry)
        }
        Err(e) => Err(e),
    }
}
