//! One open of `/dev/netmap` and the port it is bound to.
//!
//! [`NmFile`] is the open file (shared by `dup`s); [`Bound`] is what
//! `NETMAP_REQ_REGISTER` made of it: the backend's binding, its memory and
//! the answers registration hands back. A file is bound at most once, as
//! in netmap (a second REGISTER is `EBUSY`), and stays bound until it is
//! dropped, so the sync path reads it without a lock.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Mutex, OnceLock};

use netmap_ring::abi::{
    if_off, NETMAP_RING_MASK, NR_EXCLUSIVE, NR_MONITOR_RX, NR_MONITOR_TX, NR_REG_ALL_NIC,
    NR_REG_DEFAULT, NR_REG_NIC_SW, NR_REG_NULL, NR_REG_ONE_NIC, NR_REG_ONE_SW, NR_REG_PIPE_MASTER,
    NR_REG_PIPE_SLAVE, NR_REG_SW, NR_RX_RINGS_ONLY, NR_TX_RINGS_ONLY, NR_ZCOPY_MON,
};
use netmap_ring::name::{PortName, RingMode, Subsystem};
use netmap_ring::port::{Backend, Binding, BindingLayout, PortError, SyncError};

use crate::error::NmError;
use crate::mem;

/// What a registration asks for, from `nmreq_register` (or the legacy
/// `nmreq`, converted as netmap's `netmap_legacy.c` does).
#[derive(Clone, Debug, Default)]
pub struct RegRequest {
    /// `nr_name`: the port as libnetmap writes it (`vale0:a`, `x{1`, `eth0`).
    pub name: String,
    pub mode: u32,
    pub ringid: u16,
    pub flags: u64,
    pub mem_id: u16,
    pub extra_bufs: u32,
    pub tx_slots: u32,
    pub rx_slots: u32,
    pub tx_rings: u16,
    pub rx_rings: u16,
}

/// What registration (and `PORT_INFO_GET`) answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Geometry {
    pub if_offset: u64,
    pub memsize: u64,
    pub tx_slots: u32,
    pub rx_slots: u32,
    pub tx_rings: u16,
    pub rx_rings: u16,
    pub mem_id: u16,
    pub extra_bufs: u32,
}

/// A bound descriptor.
pub struct Bound {
    /// Where the software engine keeps this binding, for other processes
    /// that receive the descriptor ([`crate::adopt`]).
    pub record: Option<crate::adopt::Record>,
    binding: Box<dyn Binding>,
    pub layout: BindingLayout,
    pub geometry: Geometry,
    /// `nr_flags` as registered (`NR_NO_TX_POLL` matters to poll).
    pub nr_flags: u64,
    /// `nr_name` as registered.
    pub name: String,
}

impl Bound {
    /// A binding another process made, adopted through its descriptor.
    pub fn adopted(
        binding: Box<dyn Binding>,
        nr_flags: u64,
        name: String,
    ) -> Result<Self, NmError> {
        let layout = binding.layout().clone();
        let geometry = geometry_of(&layout)?;
        Ok(Self {
            record: None,
            binding,
            layout,
            geometry,
            nr_flags,
            name,
        })
    }

    /// `NIOCTXSYNC`: every bound TX ring. A ring the application corrupted
    /// has been reset by the backend; that is still success, as in netmap.
    pub fn txsync(&self) -> Result<(), NmError> {
        for spec in &self.layout.tx_rings {
            match self.binding.txsync(spec.id) {
                Ok(()) | Err(SyncError::BadRing { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// `NIOCRXSYNC`: every bound RX ring.
    pub fn rxsync(&self) -> Result<(), NmError> {
        for spec in &self.layout.rx_rings {
            match self.binding.rxsync(spec.id) {
                Ok(()) | Err(SyncError::BadRing { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// True when a bound TX ring has room (`cur != tail`).
    pub fn tx_ready(&self) -> bool {
        self.layout
            .tx_rings
            .iter()
            .any(|spec| ring_has_slots(&self.layout, spec.offset))
    }

    /// True when a bound RX ring has packets (`cur != tail`).
    pub fn rx_ready(&self) -> bool {
        self.layout
            .rx_rings
            .iter()
            .any(|spec| ring_has_slots(&self.layout, spec.offset))
    }

    /// A number that changes whenever a bound ring's `tail` moves (frames
    /// arrived, or TX room came back): the edges `EPOLLET` reports.
    pub fn progress(&self) -> u64 {
        use netmap_ring::abi::ring_off;
        self.layout
            .tx_rings
            .iter()
            .chain(&self.layout.rx_rings)
            .map(|spec| {
                let tail = self.layout.region.read::<u32>(spec.offset + ring_off::TAIL);
                u64::from(tail.unwrap_or(0))
            })
            .fold(0u64, |acc, tail| {
                acc.wrapping_mul(0x1_0000_0001).wrapping_add(tail)
            })
    }

    /// The descriptor that becomes readable after [`Bound::arm`].
    pub fn wake_fd(&self) -> RawFd {
        self.binding.wake_fd().as_raw_fd()
    }

    pub fn arm(&self) {
        self.binding.arm();
    }

    pub fn disarm(&self) {
        self.binding.disarm();
    }

    /// The descriptor of the memory region, for `mmap`.
    pub fn region_fd(&self) -> RawFd {
        self.layout.region.as_fd().as_raw_fd()
    }
}

fn ring_has_slots(layout: &BindingLayout, ring: usize) -> bool {
    use netmap_ring::abi::ring_off;
    let cur = layout.region.read::<u32>(ring + ring_off::CUR);
    let tail = layout.region.read::<u32>(ring + ring_off::TAIL);
    matches!((cur, tail), (Ok(cur), Ok(tail)) if cur != tail)
}

/// One open of `/dev/netmap`.
pub struct NmFile {
    registering: Mutex<()>,
    bound: OnceLock<Bound>,
    /// The eventfd's system-wide id, under which the binding is published.
    eventfd_id: Option<u64>,
    /// The process that opened it (a forked child's drop withdraws nothing).
    opener: u32,
    published: std::sync::atomic::AtomicBool,
}

impl NmFile {
    /// A new open, whose eventfd has system-wide id `eventfd_id`.
    pub fn new(eventfd_id: Option<u64>) -> Self {
        Self {
            registering: Mutex::new(()),
            bound: OnceLock::new(),
            eventfd_id,
            opener: std::process::id(),
            published: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// An open file received from another process, bound to `bound`.
    pub fn with_bound(bound: Bound, eventfd_id: Option<u64>) -> Self {
        let file = Self::new(eventfd_id);
        let _ = file.bound.set(bound);
        file
    }

    /// The binding, once registered.
    #[inline]
    pub fn bound(&self) -> Option<&Bound> {
        self.bound.get()
    }

    /// `NETMAP_REQ_REGISTER`: binds this file, or `EBUSY` if it is bound.
    pub fn register(&self, req: &RegRequest) -> Result<Geometry, NmError> {
        let _one_at_a_time = self.registering.lock().unwrap_or_else(|p| p.into_inner());
        if self.bound.get().is_some() {
            return Err(NmError::AlreadyBound);
        }
        let bound = bind(req)?;
        let geometry = bound.geometry;
        if let (Some(id), Some(record)) = (self.eventfd_id, &bound.record) {
            crate::adopt::publish(id, record, bound.nr_flags, &bound.name);
            self.published
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let _ = self.bound.set(bound);
        Ok(geometry)
    }
}

impl Drop for NmFile {
    fn drop(&mut self) {
        if let Some(id) = self.eventfd_id {
            if *self.published.get_mut() && self.opener == std::process::id() {
                crate::adopt::withdraw(id);
            }
        }
    }
}

/// The backend named by `$NETMAP_BACKEND` (default `soft`), opened once
/// per process.
pub fn backend() -> Result<&'static dyn Backend, NmError> {
    let spec = match std::env::var("NETMAP_BACKEND") {
        Ok(spec) if !spec.is_empty() => spec,
        _ => "soft".to_owned(),
    };
    netmap_backend::shared_backend(&spec).map_err(|e| NmError::Backend {
        spec,
        why: e.to_string(),
    })
}

/// True for a name of a VALE port or a pipe: ports without host rings.
fn is_vale_or_pipe(name: &PortName) -> bool {
    matches!(name.subsystem, Subsystem::Vale { .. }) || name.pipe.is_some()
}

/// The typed request for `req`, with netmap's errors for what it refuses.
pub fn port_name(req: &RegRequest) -> Result<PortName, NmError> {
    if req.name.is_empty() {
        return Err(NmError::NoSuchPort(String::new()));
    }
    let vale = req.name.starts_with(netmap_ring::abi::NM_BDG_NAME);
    let text = if vale {
        req.name.clone()
    } else {
        format!("netmap:{}", req.name)
    };
    let bad = |why: String| {
        if vale {
            NmError::Invalid(why)
        } else {
            NmError::NoSuchPort(why)
        }
    };
    let mut name: PortName = text
        .parse()
        .map_err(|e| bad(format!("{:?}: {e}", req.name)))?;
    // `nr_name` carries no suffixes: libnetmap moves them into the body.
    if name.mode != RingMode::AllNic
        || name.flags.any()
        || name.mem_id.is_some()
        || name.options != Default::default()
    {
        return Err(bad(format!("{:?} is not a port name", req.name)));
    }
    let no_host_rings = is_vale_or_pipe(&name);
    name.mode = match req.mode {
        NR_REG_DEFAULT | NR_REG_ALL_NIC => RingMode::AllNic,
        NR_REG_ONE_NIC => {
            if req.ringid >= NETMAP_RING_MASK {
                return Err(NmError::Invalid(format!(
                    "ring {} is too large",
                    req.ringid
                )));
            }
            RingMode::OneNic(req.ringid)
        }
        NR_REG_SW | NR_REG_NIC_SW | NR_REG_ONE_SW if no_host_rings => {
            return Err(NmError::Invalid(format!(
                "{}: VALE ports and pipes have no host rings",
                req.name
            )))
        }
        NR_REG_SW => RingMode::Sw,
        NR_REG_NIC_SW => RingMode::NicSw,
        NR_REG_ONE_SW => RingMode::OneSw(req.ringid & NETMAP_RING_MASK),
        NR_REG_PIPE_MASTER | NR_REG_PIPE_SLAVE => {
            return Err(NmError::Invalid(
                "NR_REG_PIPE_MASTER/SLAVE exist in the legacy API only".into(),
            ))
        }
        NR_REG_NULL => {
            return Err(NmError::Invalid(
                "NR_REG_NULL is registered without a port name".into(),
            ))
        }
        other => return Err(NmError::Invalid(format!("unknown nr_mode {other}"))),
    };
    let f = req.flags;
    name.flags.exclusive = f & NR_EXCLUSIVE != 0;
    name.flags.monitor_tx = f & NR_MONITOR_TX != 0;
    name.flags.monitor_rx = f & NR_MONITOR_RX != 0;
    name.flags.zero_copy_monitor = f & NR_ZCOPY_MON != 0;
    name.flags.rx_rings_only = f & NR_RX_RINGS_ONLY != 0;
    name.flags.tx_rings_only = f & NR_TX_RINGS_ONLY != 0;
    let conf = &mut name.options.conf;
    let some = |v: u32| (v != 0).then_some(v);
    conf.tx_slots = some(req.tx_slots);
    conf.rx_slots = some(req.rx_slots);
    conf.tx_rings = some(u32::from(req.tx_rings)).map(|v| v as u16);
    conf.rx_rings = some(u32::from(req.rx_rings)).map(|v| v as u16);
    Ok(name)
}

/// Registers `req` on the backend.
pub fn bind(req: &RegRequest) -> Result<Bound, NmError> {
    if req.mode == NR_REG_NULL {
        return bind_null(req);
    }
    let asked = req;
    let mut placed = req.clone();
    let soft = backend()?.kind() == "soft";
    if soft {
        crate::pipes::place(&mut placed)?;
    }
    let req = &placed;
    let name = port_name(req)?;
    if req.mem_id != 0 && !mem::exists(req.mem_id) {
        return Err(NmError::Invalid(format!(
            "no memory allocator {}",
            req.mem_id
        )));
    }
    if let (Subsystem::Netmap { ifname }, None) = (&name.subsystem, &name.pipe) {
        if !interface_exists(ifname) {
            return Err(NmError::NoSuchPort(format!("no interface {ifname:?}")));
        }
    }
    let backend = backend()?;
    let binding = match backend.register(&name, req.extra_bufs) {
        Ok(binding) => binding,
        Err(e @ PortError::Unsupported { .. }) => {
            return Err(ring_out_of_range(backend, &name).unwrap_or(e.into()))
        }
        Err(e) => return Err(e.into()),
    };
    let layout = binding.layout().clone();
    let geometry = geometry_of(&layout)?;
    if let (true, Some(switch)) = (soft, name.subsystem.switch_name()) {
        mem::note_switch(geometry.mem_id, &switch);
    }
    remember(&asked.name, geometry);
    let record = if soft {
        vale_offload::placement::placement(&name)
            .ok()
            .map(|p| crate::adopt::Record {
                domain: p.domain,
                kind: p.domain_kind,
                if_offset: layout.if_offset,
            })
    } else {
        None
    };
    Ok(Bound {
        record,
        binding,
        layout,
        geometry,
        nr_flags: req.flags,
        name: asked.name.clone(),
    })
}

/// `NR_REG_NULL`: a port of any name in the global allocator (id 1).
fn bind_null(req: &RegRequest) -> Result<Bound, NmError> {
    match req.mem_id {
        0 | 1 => {}
        id if mem::exists(id) => {
            return Err(NmError::NotSupported(format!(
                "null ports in allocator {id}: only the global allocator (1) has them"
            )))
        }
        id => return Err(NmError::Invalid(format!("no memory allocator {id}"))),
    }
    let binding = crate::null::register(
        &req.name,
        req.tx_rings,
        req.rx_rings,
        req.tx_slots,
        req.rx_slots,
    )?;
    let layout = binding.layout().clone();
    let geometry = geometry_of(&layout)?;
    Ok(Bound {
        record: None,
        binding: Box::new(binding),
        layout,
        geometry,
        nr_flags: req.flags,
        name: req.name.clone(),
    })
}

/// For a backend that cannot bind one ring: `EINVAL`, as netmap, if the
/// ring asked for does not exist (learnt from a binding of all rings).
fn ring_out_of_range(backend: &dyn Backend, name: &PortName) -> Option<NmError> {
    let RingMode::OneNic(ring) = name.mode else {
        return None;
    };
    let mut all = name.clone();
    all.mode = RingMode::AllNic;
    all.flags = Default::default();
    let probe = backend.register(&all, 0).ok()?;
    let layout = probe.layout();
    let g = geometry_of(layout).ok()?;
    (ring >= g.tx_rings.max(g.rx_rings)).then(|| {
        NmError::Invalid(format!(
            "ring {ring} does not exist: the port has {} tx and {} rx rings",
            g.tx_rings, g.rx_rings
        ))
    })
}

/// True if the network interface `ifname` exists here (netmap looks NIC
/// names up the same way: `ENXIO` when there is none).
fn interface_exists(ifname: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(ifname) else {
        return false;
    };
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

static SEEN: Mutex<Vec<(String, Geometry)>> = Mutex::new(Vec::new());

fn remember(name: &str, geometry: Geometry) {
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    seen.retain(|(n, _)| n != name);
    seen.push((name.to_owned(), geometry));
}

/// The geometry `name` had when this process last bound it: what
/// `PORT_INFO_GET` answers for a port whose rings are all bound (the
/// engine lets no second binding take them to look).
pub fn last_seen(name: &str) -> Option<Geometry> {
    let seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    seen.iter().find(|(n, _)| n == name).map(|(_, g)| *g)
}

/// The answers of a registration, read back from the binding's memory.
fn geometry_of(layout: &BindingLayout) -> Result<Geometry, NmError> {
    use netmap_ring::abi::ring_off;
    let region = &layout.region;
    let nifp = layout.if_offset;
    let bad = |what: &str| NmError::Errno {
        errno: libc::EIO,
        why: format!("backend memory: {what}"),
    };
    let read_u32 = |off: usize| region.read::<u32>(off).map_err(|_| bad("netmap_if"));
    let tx_rings = read_u32(nifp + if_off::TX_RINGS)?;
    let rx_rings = read_u32(nifp + if_off::RX_RINGS)?;
    if tx_rings > 255 || rx_rings > 255 {
        return Err(bad("ring counts out of range"));
    }
    let slots_of = |specs: &[netmap_ring::port::RingSpec]| -> Option<u32> {
        let spec = specs.first()?;
        region.read::<u32>(spec.offset + ring_off::NUM_SLOTS).ok()
    };
    let tx_slots = slots_of(&layout.tx_rings);
    let rx_slots = slots_of(&layout.rx_rings);
    let extra = count_extra_bufs(layout);
    Ok(Geometry {
        if_offset: nifp as u64,
        memsize: region.len() as u64,
        tx_slots: tx_slots.or(rx_slots).unwrap_or(0),
        rx_slots: rx_slots.or(tx_slots).unwrap_or(0),
        tx_rings: tx_rings as u16,
        rx_rings: rx_rings as u16,
        mem_id: mem::id_of(region.as_fd().as_raw_fd()),
        extra_bufs: extra,
    })
}

/// Length of the `ni_bufs_head` list (each buffer's first u32 links to the
/// next; 0 ends it). Bounded and validated: a bad link ends the count.
fn count_extra_bufs(layout: &BindingLayout) -> u32 {
    let region = &layout.region;
    let Ok(mut next) = region.read::<u32>(layout.if_offset + if_off::BUFS_HEAD) else {
        return 0;
    };
    let mut count = 0;
    while next != 0 && count < layout.buffers.num_bufs {
        let Some(off) = layout.buffers.offset(next) else {
            break;
        };
        count += 1;
        next = region.read::<u32>(off).unwrap_or(0);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, mode: u32, ringid: u16) -> RegRequest {
        RegRequest {
            name: name.to_owned(),
            mode,
            ringid,
            ..Default::default()
        }
    }

    fn errno(r: &RegRequest) -> i32 {
        port_name(r).err().map_or(0, |e| e.errno())
    }

    #[test]
    fn names_and_modes_get_netmaps_errors() {
        assert_eq!(errno(&req("vale0:a", NR_REG_ALL_NIC, 0)), 0);
        assert_eq!(errno(&req("vale0:a", NR_REG_DEFAULT, 0)), 0);
        assert_eq!(errno(&req("x{1", NR_REG_ONE_NIC, 0)), 0);
        assert_eq!(errno(&req("", NR_REG_ALL_NIC, 0)), libc::ENXIO);
        assert_eq!(errno(&req("vale0:a-1", NR_REG_ALL_NIC, 0)), libc::EINVAL);
        assert_eq!(errno(&req("eth0/x", NR_REG_ALL_NIC, 0)), libc::ENXIO);
        assert_eq!(errno(&req("vale0:a", NR_REG_SW, 0)), libc::EINVAL);
        assert_eq!(errno(&req("x}1", NR_REG_NIC_SW, 0)), libc::EINVAL);
        assert_eq!(errno(&req("vale0:a", NR_REG_PIPE_SLAVE, 0)), libc::EINVAL);
        assert_eq!(errno(&req("vale0:a", 9, 0)), libc::EINVAL);
        assert_eq!(errno(&req("vale0:a", NR_REG_ONE_NIC, 0xfff)), libc::EINVAL);
        // The body's flags and geometry become the name's.
        let mut r = req("vale0:a", NR_REG_ONE_NIC, 2);
        r.flags = NR_EXCLUSIVE | NR_TX_RINGS_ONLY | 0x1000;
        r.tx_slots = 256;
        r.rx_rings = 4;
        let name = port_name(&r).unwrap();
        assert_eq!(name.mode, RingMode::OneNic(2));
        assert!(name.flags.exclusive && name.flags.tx_rings_only && !name.flags.rx_rings_only);
        assert_eq!(name.options.conf.tx_slots, Some(256));
        assert_eq!(name.options.conf.rx_rings, Some(4));
        assert_eq!(name.options.conf.tx_rings, None);
    }
}
