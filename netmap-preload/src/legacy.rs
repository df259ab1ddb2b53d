//! The legacy API: `NIOCREGIF` and `NIOCGINFO` with `struct nmreq`,
//! converted to the new requests as netmap's `netmap_legacy.c` does.

use netmap_ring::abi::{
    Nmreq, NETMAP_BDG_LIST, NETMAP_DO_RX_POLL, NETMAP_HW_RING, NETMAP_MIN_API, NETMAP_NO_TX_POLL,
    NETMAP_RING_MASK, NETMAP_SW_RING, NR_DO_RX_POLL, NR_NO_TX_POLL, NR_REG_ALL_NIC, NR_REG_DEFAULT,
    NR_REG_MASK, NR_REG_ONE_NIC, NR_REG_PIPE_MASTER, NR_REG_PIPE_SLAVE, NR_REG_SW,
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
        cmd => Err(NmError::NotSupported(format!(
            "legacy NIOCREGIF command {cmd} is not implemented yet"
        ))),
    }
}

fn handle_ginfo(file: &NmFile, req: &mut Nmreq) -> Result<(), NmError> {
    check_version(req)?;
    if req.nr_cmd == NETMAP_BDG_LIST {
        return Err(NmError::NotSupported(
            "legacy NETMAP_BDG_LIST is not implemented yet".into(),
        ));
    }
    let g = crate::ctrl::port_info(file, &c_name(&req.nr_name), req.nr_arg2)?;
    fill(req, &g);
    Ok(())
}
