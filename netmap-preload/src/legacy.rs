//! The legacy API: `NIOCREGIF` and `NIOCGINFO` with `struct nmreq`,
//! converted to the new requests as netmap's `netmap_legacy.c` does.

use netmap_ring::abi::{
    Nmreq, NETMAP_BDG_ATTACH, NETMAP_BDG_DELIF, NETMAP_BDG_DETACH, NETMAP_BDG_HOST,
    NETMAP_BDG_LIST, NETMAP_BDG_NEWIF, NETMAP_BDG_POLLING_OFF, NETMAP_BDG_POLLING_ON,
    NETMAP_BDG_VNET_HDR, NETMAP_DO_RX_POLL, NETMAP_HW_RING, NETMAP_MIN_API, NETMAP_NO_TX_POLL,
    NETMAP_RING_MASK, NETMAP_SW_RING, NETMAP_VNET_HDR_GET, NR_DO_RX_POLL, NR_NO_TX_POLL,
    NR_REG_ALL_NIC, NR_REG_DEFAULT, NR_REG_MASK, NR_REG_ONE_NIC, NR_REG_PIPE_MASTER,
    NR_REG_PIPE_SLAVE, NR_REG_SW,
};

use crate::error::NmError;
use crate::file::{Geometry, NmFile, RegRequest};
use crate::umem::{c_name, copy_in, copy_out};

/// `ioctl(fd, NIOCREGIF, nmreq)`.
pub fn regif(file: &NmFile, addr: u64) -> Result<(), NmError> {
    let mut req: Nmreq = copy_in(addr)?;
    let result = handle_regif(file, &mut req);
    copy_out(addr, &req)?;
    result
}

/// `ioctl(fd, NIOCGINFO, nmreq)`.
pub fn ginfo(file: &NmFile, addr: u64) -> Result<(), NmError> {
    let mut req: Nmreq = copy_in(addr)?;
    let result = handle_ginfo(file, &mut req);
    copy_out(addr, &req)?;
    result
}

fn check_version(req: &Nmreq) -> Result<(), NmError> {
    // The legacy path has a lower bound only.
    if req.nr_version < NETMAP_MIN_API {
        return Err(NmError::Version(req.nr_version));
    }
    Ok(())
}

/// The new-API registration a legacy `nmreq` stands for.
fn register_request(req: &Nmreq) -> RegRequest {
    let mut name = c_name(&req.nr_name);
    let ring = req.nr_ringid & NETMAP_RING_MASK;
    let mut mode = req.nr_flags & NR_REG_MASK;
    if mode == NR_REG_DEFAULT {
        mode = if req.nr_ringid & NETMAP_SW_RING != 0 {
            NR_REG_SW
        } else if req.nr_ringid & NETMAP_HW_RING != 0 {
            NR_REG_ONE_NIC
        } else {
            NR_REG_ALL_NIC
        };
    }
    if mode == NR_REG_PIPE_MASTER || mode == NR_REG_PIPE_SLAVE {
        let brace = if mode == NR_REG_PIPE_MASTER { '{' } else { '}' };
        name = format!("{name}{brace}{ring}");
        mode = NR_REG_ALL_NIC;
    }
    let mut flags = u64::from(req.nr_flags & !NR_REG_MASK);
    if req.nr_ringid & NETMAP_NO_TX_POLL != 0 {
        flags |= NR_NO_TX_POLL;
    }
    if req.nr_ringid & NETMAP_DO_RX_POLL != 0 {
        flags |= NR_DO_RX_POLL;
    }
    RegRequest {
        name,
        mode,
        ringid: ring,
        flags,
        mem_id: req.nr_arg2,
        extra_bufs: req.nr_arg3,
        ..Default::default()
    }
}

fn fill(req: &mut Nmreq, g: &Geometry) {
    req.nr_offset = g.if_offset as u32;
    req.nr_memsize = g.memsize as u32;
    req.nr_tx_slots = g.tx_slots;
    req.nr_rx_slots = g.rx_slots;
    req.nr_tx_rings = g.tx_rings;
    req.nr_rx_rings = g.rx_rings;
    req.nr_arg2 = g.mem_id;
}

fn handle_regif(file: &NmFile, req: &mut Nmreq) -> Result<(), NmError> {
    check_version(req)?;
    match req.nr_cmd {
        0 => {
            let g = file.register(&register_request(req))?;
            // nr_flags and nr_ringid are left as the application wrote them.
            fill(req, &g);
            req.nr_arg3 = g.extra_bufs;
            Ok(())
        }
        NETMAP_BDG_ATTACH => {
            let name = c_name(&req.nr_name);
            crate::vale::attach(&name, req.nr_arg1 & NETMAP_BDG_HOST != 0).map(|_| ())
        }
        NETMAP_BDG_DETACH => crate::vale::detach(&c_name(&req.nr_name)).map(|_| ()),
        NETMAP_BDG_VNET_HDR => {
            crate::ctrl::port_hdr_set(&c_name(&req.nr_name), u32::from(req.nr_arg1))
        }
        NETMAP_VNET_HDR_GET => {
            crate::ctrl::port_info(file, &c_name(&req.nr_name), 0)?;
            req.nr_arg1 = 0;
            Ok(())
        }
        NETMAP_BDG_NEWIF => {
            let asked = crate::vale::NewifGeometry {
                tx_slots: req.nr_tx_slots,
                rx_slots: req.nr_rx_slots,
                tx_rings: req.nr_tx_rings,
                rx_rings: req.nr_rx_rings,
            };
            let (result, g) = match crate::vale::newif(&c_name(&req.nr_name), asked) {
                Ok(g) => (Ok(()), g),
                Err((e, g)) => (Err(e), g),
            };
            req.nr_tx_slots = g.tx_slots;
            req.nr_rx_slots = g.rx_slots;
            req.nr_tx_rings = g.tx_rings;
            req.nr_rx_rings = g.rx_rings;
            result
        }
        NETMAP_BDG_DELIF => crate::vale::delif(&c_name(&req.nr_name)),
        NETMAP_BDG_POLLING_ON | NETMAP_BDG_POLLING_OFF => Err(NmError::NotSupported(
            "kernel polling threads (they serve NICs attached to a switch)".into(),
        )),
        cmd => Err(NmError::Invalid(format!("unknown legacy command {cmd}"))),
    }
}

fn handle_ginfo(file: &NmFile, req: &mut Nmreq) -> Result<(), NmError> {
    check_version(req)?;
    if req.nr_cmd == NETMAP_BDG_LIST {
        let (name, bridge, port) =
            crate::vale::list(&c_name(&req.nr_name), req.nr_arg1, u32::from(req.nr_arg2))?;
        crate::umem::set_c_name(&mut req.nr_name, &name);
        req.nr_arg1 = bridge;
        req.nr_arg2 = port as u16;
        return Ok(());
    }
    let g = crate::ctrl::port_info(file, &c_name(&req.nr_name), req.nr_arg2)?;
    fill(req, &g);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nmreq(name: &str, flags: u32, ringid: u16) -> Nmreq {
        let mut req = Nmreq {
            nr_version: 14,
            nr_flags: flags,
            nr_ringid: ringid,
            ..Default::default()
        };
        crate::umem::set_c_name(&mut req.nr_name, name);
        req
    }

    #[test]
    fn legacy_registrations_convert_as_netmap_legacy_c() {
        let r = register_request(&nmreq("vale0:a", 0, 0));
        assert_eq!((r.mode, r.ringid), (NR_REG_ALL_NIC, 0));
        let r = register_request(&nmreq("vale0:a", 0, NETMAP_HW_RING | 3));
        assert_eq!((r.mode, r.ringid), (NR_REG_ONE_NIC, 3));
        let r = register_request(&nmreq("eth0", 0, NETMAP_SW_RING));
        assert_eq!(r.mode, NR_REG_SW);
        let r = register_request(&nmreq("x", NR_REG_PIPE_MASTER, 2));
        assert_eq!((r.name.as_str(), r.mode), ("x{2", NR_REG_ALL_NIC));
        let r = register_request(&nmreq("x", NR_REG_PIPE_SLAVE, 5));
        assert_eq!(r.name, "x}5");
        let r = register_request(&nmreq(
            "vale0:a",
            NR_REG_ALL_NIC | 0x800,
            NETMAP_NO_TX_POLL | NETMAP_DO_RX_POLL,
        ));
        assert_eq!(
            r.flags,
            0x800 | netmap_ring::abi::NR_NO_TX_POLL | netmap_ring::abi::NR_DO_RX_POLL
        );
    }
}
