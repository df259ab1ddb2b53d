//! `NIOCCTRL`: `struct nmreq_header`, its body and its options.
//!
//! The order of checks and the copy-back follow netmap's `netmap_ioctl`,
//! `nmreq_copyin` and `nmreq_copyout` on Linux: the 88-byte header is
//! always copied back (even on error), the body only on success, each
//! option header always (with its `nro_status`).

use netmap_ring::abi::{
    NmreqHeader, NmreqOption, NmreqPoolsInfo, NmreqRegister, NETMAP_MAX_API, NETMAP_MIN_API,
    NETMAP_REQ_CSB_ENABLE, NETMAP_REQ_MAXSIZE, NETMAP_REQ_OPT_CSB, NETMAP_REQ_OPT_EXTMEM,
    NETMAP_REQ_OPT_MAX, NETMAP_REQ_OPT_OFFSETS, NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS,
    NETMAP_REQ_OPT_SYNC_KLOOP_MODE, NETMAP_REQ_POOLS_INFO_GET, NETMAP_REQ_PORT_HDR_GET,
    NETMAP_REQ_PORT_HDR_SET, NETMAP_REQ_PORT_INFO_GET, NETMAP_REQ_REGISTER,
    NETMAP_REQ_SYNC_KLOOP_START, NETMAP_REQ_SYNC_KLOOP_STOP, NETMAP_REQ_VALE_ATTACH,
    NETMAP_REQ_VALE_DELIF, NETMAP_REQ_VALE_DETACH, NETMAP_REQ_VALE_LIST, NETMAP_REQ_VALE_NEWIF,
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
        NETMAP_REQ_PORT_HDR_SET => {
            let body: [u8; 8] = copy_in(hdr.nr_body)?;
            port_hdr_set(
                &name,
                u32::from_ne_bytes([body[0], body[1], body[2], body[3]]),
            )
        }
        NETMAP_REQ_POOLS_INFO_GET => {
            let info = pools_info(file, &name)?;
            copy_out(hdr.nr_body, &info)
        }
        NETMAP_REQ_VALE_LIST => {
            let mut body: [u8; 8] = copy_in(hdr.nr_body)?;
            let bridge = u16::from_ne_bytes([body[0], body[1]]);
            let port = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
            let (found, bridge, port) = crate::vale::list(&name, bridge, port)?;
            crate::umem::set_c_name(&mut hdr.nr_name, &found);
            body[0..2].copy_from_slice(&bridge.to_ne_bytes());
            body[4..8].copy_from_slice(&port.to_ne_bytes());
            copy_out(hdr.nr_body, &body)
        }
        NETMAP_REQ_VALE_NEWIF => {
            let mut body: [u8; 16] = copy_in(hdr.nr_body)?;
            let asked = crate::vale::NewifGeometry {
                tx_slots: u32::from_ne_bytes([body[0], body[1], body[2], body[3]]),
                rx_slots: u32::from_ne_bytes([body[4], body[5], body[6], body[7]]),
                tx_rings: u16::from_ne_bytes([body[8], body[9]]),
                rx_rings: u16::from_ne_bytes([body[10], body[11]]),
            };
            let (result, g) = match crate::vale::newif(&name, asked) {
                Ok(g) => (Ok(()), g),
                Err((e, g)) => (Err(e), g),
            };
            body[0..4].copy_from_slice(&g.tx_slots.to_ne_bytes());
            body[4..8].copy_from_slice(&g.rx_slots.to_ne_bytes());
            body[8..10].copy_from_slice(&g.tx_rings.to_ne_bytes());
            body[10..12].copy_from_slice(&g.rx_rings.to_ne_bytes());
            body[12..14].copy_from_slice(&1u16.to_ne_bytes());
            match result {
                // netmap fills the body of an existing port too.
                Err(e) if e.errno() != libc::EEXIST => Err(e),
                result => copy_out(hdr.nr_body, &body).and(result),
            }
        }
        NETMAP_REQ_VALE_DELIF => crate::vale::delif(&name),
        NETMAP_REQ_VALE_ATTACH => {
            let mut body: [u8; 64] = copy_in(hdr.nr_body)?;
            let mode = u32::from_ne_bytes([body[36], body[37], body[38], body[39]]);
            let host = mode == netmap_ring::abi::NR_REG_NIC_SW;
            let index = crate::vale::attach(&name, host)?;
            body[56..60].copy_from_slice(&index.to_ne_bytes());
            copy_out(hdr.nr_body, &body)
        }
        NETMAP_REQ_VALE_DETACH => {
            let mut body: [u8; 8] = copy_in(hdr.nr_body)?;
            let index = crate::vale::detach(&name)?;
            body[0..4].copy_from_slice(&index.to_ne_bytes());
            copy_out(hdr.nr_body, &body)
        }
        NETMAP_REQ_VALE_POLLING_ENABLE | NETMAP_REQ_VALE_POLLING_DISABLE => {
            Err(NmError::NotSupported(
                "kernel polling threads (they serve NICs attached to a switch)".into(),
            ))
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

/// `PORT_HDR_SET`: VALE ports only; lengths 0, 10 and 12 are netmap's,
/// and only 0 (no virtio-net header) is served.
pub fn port_hdr_set(name: &str, len: u32) -> Result<(), NmError> {
    if !name.starts_with(netmap_ring::abi::NM_BDG_NAME) {
        return Err(NmError::NoSuchPort(format!(
            "{name}: virtio-net headers are set on VALE ports"
        )));
    }
    match len {
        0 => Ok(()),
        10 | 12 => Err(NmError::NotSupported(format!(
            "{len}-byte virtio-net headers"
        ))),
        _ => Err(NmError::Invalid(format!(
            "header length {len}: use 0, 10 or 12"
        ))),
    }
}

/// Runs `f` on this descriptor's binding if it is bound to `name`, else on
/// a temporary binding of `name` (as netmap creates the port for the
/// request); a port whose rings are all bound elsewhere gets a binding of
/// no rings.
fn with_binding<T>(
    file: &NmFile,
    name: &str,
    f: impl FnOnce(&crate::file::Bound) -> T,
) -> Result<T, NmError> {
    if let Some(bound) = file.bound() {
        if bound.name == name {
            return Ok(f(bound));
        }
    }
    let req = RegRequest {
        name: name.to_owned(),
        mode: NR_REG_ALL_NIC,
        ..Default::default()
    };
    match crate::file::bind(&req) {
        Ok(bound) => Ok(f(&bound)),
        Err(NmError::Port(netmap_ring::port::PortError::Busy { .. })) => {
            let req = RegRequest {
                flags: netmap_ring::abi::NR_RX_RINGS_ONLY | netmap_ring::abi::NR_TX_RINGS_ONLY,
                ..req
            };
            crate::file::bind(&req).map(|bound| f(&bound))
        }
        Err(e) => Err(e),
    }
}

/// `POOLS_INFO_GET`: the allocator geometry of `name`'s memory.
pub fn pools_info(file: &NmFile, name: &str) -> Result<NmreqPoolsInfo, NmError> {
    if name.is_empty() {
        return Err(NmError::NoSuchPort(
            "POOLS_INFO_GET needs a port name".into(),
        ));
    }
    with_binding(file, name, |bound| {
        let layout = &bound.layout;
        let mut info = NmreqPoolsInfo {
            nr_memsize: bound.geometry.memsize,
            nr_mem_id: bound.geometry.mem_id,
            nr_buf_pool_offset: layout.buffers.base as u64,
            nr_buf_pool_objtotal: layout.buffers.num_bufs,
            nr_buf_pool_objsize: layout.buffers.buf_size,
            ..Default::default()
        };
        match netmap_ring::region::NetmapMemory::attach(std::sync::Arc::clone(&layout.region)) {
            Ok(memory) => {
                let l = memory.layout();
                info.nr_if_pool_offset = l.if_off as u64;
                info.nr_if_pool_objtotal = l.config.if_objects;
                info.nr_if_pool_objsize = l.config.if_object_size;
                info.nr_ring_pool_offset = l.ring_off as u64;
                info.nr_ring_pool_objtotal = l.config.ring_objects;
                info.nr_ring_pool_objsize = l.ring_object_size as u32;
            }
            Err(_) => {
                // A device region: what this binding shows of it.
                let rings = layout.tx_rings.iter().chain(&layout.rx_rings);
                info.nr_if_pool_offset = layout.if_offset as u64;
                info.nr_if_pool_objtotal = 1;
                info.nr_if_pool_objsize = netmap_ring::abi::if_bytes(
                    (layout.tx_rings.len() + layout.rx_rings.len()) as u32,
                ) as u32;
                info.nr_ring_pool_offset =
                    rings.clone().map(|r| r.offset).min().unwrap_or(0) as u64;
                info.nr_ring_pool_objtotal = rings.clone().count() as u32;
                info.nr_ring_pool_objsize = rings
                    .map(|r| netmap_ring::abi::ring_bytes(r.num_slots))
                    .max()
                    .unwrap_or(0) as u32;
            }
        }
        info
    })
}

/// `PORT_INFO_GET`: the geometry of `name`, made temporarily if it does
/// not exist (as netmap does), or of this descriptor's own port.
pub fn port_info(file: &NmFile, name: &str, mem_id: u16) -> Result<Geometry, NmError> {
    if name.is_empty() {
        let id = if mem_id == 0 { 1 } else { mem_id };
        if !crate::mem::exists(id) {
            return Err(NmError::Invalid(format!("no memory allocator {id}")));
        }
        let memsize = if id == 1 {
            crate::null::global()?.region().len() as u64
        } else {
            0
        };
        return Ok(Geometry {
            mem_id: id,
            memsize,
            ..Default::default()
        });
    }
    if let Some(bound) = file.bound() {
        if bound.name == name {
            return Ok(bound.geometry);
        }
    }
    if let Some(geometry) = crate::file::last_seen(name) {
        // Answered without a temporary binding when this process knows
        // the port and another binding holds all its rings.
        let busy = crate::file::bind(&RegRequest {
            name: name.to_owned(),
            mode: NR_REG_ALL_NIC,
            ..Default::default()
        });
        return match busy {
            Ok(bound) => Ok(bound.geometry),
            Err(NmError::Port(netmap_ring::port::PortError::Busy { .. })) => Ok(geometry),
            Err(e) => Err(e),
        };
    }
    with_binding(file, name, |bound| bound.geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(reqtype: u32) -> Box<NmreqOption> {
        Box::new(NmreqOption {
            nro_reqtype: reqtype,
            ..Default::default()
        })
    }

    fn addr(o: &NmreqOption) -> u64 {
        o as *const NmreqOption as u64
    }

    fn errno(r: Result<Vec<Opt>, (Vec<Opt>, NmError)>) -> i32 {
        r.err().map_or(0, |(_, e)| e.errno())
    }

    #[test]
    fn option_lists_are_checked_as_netmap_does() {
        // Type 0 is EINVAL.
        let zero = opt(0);
        assert_eq!(errno(read_options(addr(&zero), 56)), libc::EINVAL);
        // Unknown types are accepted here, left at EOPNOTSUPP.
        let unknown = opt(42);
        let opts = read_options(addr(&unknown), 56).ok().unwrap();
        assert_eq!(opts[0].head.nro_status, libc::EOPNOTSUPP as u32);
        // A known type twice: both EINVAL.
        let mut first = opt(NETMAP_REQ_OPT_OFFSETS);
        let second = opt(NETMAP_REQ_OPT_OFFSETS);
        first.nro_next = addr(&second);
        let (opts, e) = read_options(addr(&first), 56).err().unwrap();
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(opts
            .iter()
            .all(|o| o.head.nro_status == libc::EINVAL as u32));
        // A self-linked unknown option runs out of room: EMSGSIZE; a known
        // one is its own duplicate: EINVAL.
        let mut selfish = opt(42);
        selfish.nro_next = addr(&selfish);
        assert_eq!(errno(read_options(addr(&selfish), 56)), libc::EMSGSIZE);
        let mut known = opt(NETMAP_REQ_OPT_CSB);
        known.nro_next = addr(&known);
        assert_eq!(errno(read_options(addr(&known), 56)), libc::EINVAL);
        // A bad pointer is EFAULT.
        assert_eq!(errno(read_options(8, 56)), libc::EFAULT);
    }

    #[test]
    fn bodies_have_netmaps_sizes() {
        assert_eq!(body_size(NETMAP_REQ_REGISTER), Some(56));
        assert_eq!(body_size(NETMAP_REQ_VALE_DELIF), Some(0));
        assert_eq!(body_size(NETMAP_REQ_POOLS_INFO_GET), Some(64));
        assert_eq!(body_size(0), None);
        assert_eq!(body_size(16), None);
    }

    #[test]
    fn port_hdr_set_takes_netmaps_lengths() {
        assert!(port_hdr_set("vale0:a", 0).is_ok());
        assert_eq!(
            port_hdr_set("vale0:a", 10).unwrap_err().errno(),
            libc::EOPNOTSUPP
        );
        assert_eq!(
            port_hdr_set("vale0:a", 7).unwrap_err().errno(),
            libc::EINVAL
        );
        assert_eq!(port_hdr_set("eth0", 0).unwrap_err().errno(), libc::ENXIO);
    }
}
