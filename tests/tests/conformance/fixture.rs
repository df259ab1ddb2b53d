//! What a conformance case needs from a backend, and the four backends
//! the suite runs on: `soft` (the engine in this process), `process` (the
//! engine, each port in a process of its own), `sim` (the RTL model in
//! this process, through the host driver) and `vfio-user` (the RTL model
//! in an `nmsim-server` process). Each case gets a fresh fixture.
//!
//! Counters, the MAC table and buffer conservation are read where each
//! backend keeps them: the engine's domain (shared memory) for `soft` and
//! `process`; BAR0 (per-port counters at 0x5000, switch counters, table
//! readback) and the driver's buffer pool for the device backends.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use host_driver::device::Device;
use host_driver::regs::DeviceInfo;
use host_driver::DeviceBackend;
use netmap_ring::port::{Backend, Binding, BindingLayout, Port, PortError, SyncError};
use netmap_ring::view::RingView;
use netmap_testkit::nmsim::SimServer;
use vale_offload::counters::PortCounter;
use vale_offload::counters::SwitchCounter;
use vale_offload::hash::netmap_mac_hash;
use vale_offload::placement::DomainKind;
use vale_offload::regmap as map;
use vale_offload::table::{Entry, Geometry};
use vale_soft::domain::Domain;

use crate::process::ProcessBackend;

/// The backends of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Soft,
    Process,
    Sim,
    VfioUser,
}

/// Things a backend may lack. A case that needs one checks it with
/// [`Fixture::supports`] and, where the backend's contract is to refuse,
/// asserts the refusal instead (docs/conformance.md lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// Binding a subset of a port's rings: `-N`, `/R`, `/T`.
    RingSubset,
    /// `nr_extra_bufs`.
    ExtraBufs,
    /// More rings per direction than the RTL's `DEV_RINGS` (4).
    ManyRings,
    /// Syncs refused for bad `head`/`cur` show in `BadRingSyncs` (the
    /// device driver refuses them on the host, so the device never counts
    /// them).
    CountsRefusedSyncs,
    /// An RX slot the application released may still be repaired (its
    /// buffer index rewritten) before a frame lands in it; the device
    /// prefetches released slots (docs/datapath.md: outside its protocol).
    RewriteReleasedRxSlot,
}

/// One backend under test, with what the checks need to look inside it.
pub trait Fixture {
    fn kind(&self) -> Kind;
    fn backend(&self) -> &dyn Backend;
    fn supports(&self, cap: Cap) -> bool;

    /// Opens `name` on the backend.
    fn open(&self, name: &str) -> Result<Port, PortError> {
        Port::open_on(self.backend(), name)
    }

    /// Opens `name` with extra buffers.
    fn open_with_extra_bufs(&self, name: &str, extra: u32) -> Result<Port, PortError> {
        Port::open_with_extra_bufs(self.backend(), name, extra)
    }

    /// Counter `c` of entry `port` (`a`, `x{1`) of domain `domain`
    /// (`valeX`, `if-IFNAME`).
    fn port_counter(&self, domain: &str, port: &str, c: PortCounter) -> u64;
    /// Switch counter `c` of domain `domain`.
    fn switch_counter(&self, domain: &str, c: SwitchCounter) -> u64;
    /// The entry index `mac` was learned on.
    fn lookup(&self, domain: &str, mac: &[u8; 6]) -> Option<u8>;
    /// The entry index of port `port`, if it exists.
    fn find(&self, domain: &str, port: &str) -> Option<u32>;
    /// Panics unless every buffer is free or in exactly one ring slot or
    /// extra-buffer list.
    fn assert_conserved(&self, domain: &str);
    /// True while the domain (switch or pipe parent) exists.
    fn domain_exists(&self, domain: &str) -> bool;
    /// The pid a `Busy` error names for `port`'s binding.
    fn owner_pid(&self, port: &Port) -> u32;
    /// Most ports one switch takes.
    fn max_ports(&self) -> u32;
    /// Free buffers of the domain's pool.
    fn free_buffers(&self, domain: &str) -> u64;
    /// Frame counts of the long cases, scaled down on the slow backends.
    fn frames(&self, soft_count: u32) -> u32 {
        match self.kind() {
            Kind::Soft | Kind::Process => soft_count,
            Kind::Sim | Kind::VfioUser => (soft_count / 20).max(100),
        }
    }

    /// The entry index of `port`, which must exist.
    fn entry(&self, domain: &str, port: &str) -> u32 {
        self.find(domain, port)
            .unwrap_or_else(|| panic!("no port {port} in {domain}"))
    }

    /// Opens `name` when the backend supports `cap`; otherwise asserts the
    /// backend refuses it as unsupported or misconfigured, and gives None.
    fn open_if(&self, cap: Cap, name: &str) -> Option<Port> {
        self.open_extra_if(cap, name, 0)
    }

    /// As [`Fixture::open_if`], with extra buffers.
    fn open_extra_if(&self, cap: Cap, name: &str, extra: u32) -> Option<Port> {
        let result = self.open_with_extra_bufs(name, extra);
        if self.supports(cap) {
            return Some(result.unwrap_or_else(|e| panic!("{name}: {e}")));
        }
        match result {
            Err(PortError::Unsupported { .. } | PortError::Config { .. }) => None,
            other => panic!(
                "{name}: the {:?} backend lacks {cap:?} and must refuse it, got {other:?}",
                self.kind()
            ),
        }
    }
}

/// Runs `case` on a fresh fixture of kind `kind`.
pub fn run(kind: Kind, case: fn(&dyn Fixture)) {
    match kind {
        Kind::Soft => case(&EngineFixture {
            kind,
            backend: Box::new(vale_soft::SoftBackend),
        }),
        Kind::Process => case(&EngineFixture {
            kind,
            backend: Box::new(ProcessBackend::default()),
        }),
        Kind::Sim => {
            let device = host_driver::sim::SimDevice::new().expect("sim device");
            case(&DeviceFixture::new(kind, Box::new(device), None))
        }
        Kind::VfioUser => {
            // Checked once per case: built from this test's RTL.
            let server = SimServer::start(&netmap_tests::nmsim_server(), &["--clients", "1"]);
            let device = host_driver::vfio_user::VfioUserDevice::connect(server.socket())
                .expect("connect to nmsim-server");
            case(&DeviceFixture::new(kind, Box::new(device), Some(server)))
        }
    }
}

/// `soft` and `process`: the engine, whose state is in the domain file
/// this process maps too.
struct EngineFixture {
    kind: Kind,
    backend: Box<dyn Backend>,
}

/// The engine's domain `name` (`if-<nic>` for a NIC's pipes, else a
/// switch); opening creates it when absent.
pub fn domain(name: &str) -> Arc<Domain> {
    let kind = if name.starts_with("if-") {
        DomainKind::Pipes
    } else {
        DomainKind::Switch
    };
    Domain::open(name, kind).unwrap_or_else(|e| panic!("domain {name}: {e}"))
}

impl Fixture for EngineFixture {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    fn supports(&self, _cap: Cap) -> bool {
        true
    }

    fn port_counter(&self, domain_name: &str, port: &str, c: PortCounter) -> u64 {
        let d = domain(domain_name);
        let index = self.entry(domain_name, port);
        d.ctrl().port(index).read(c)
    }

    fn switch_counter(&self, domain_name: &str, c: SwitchCounter) -> u64 {
        domain(domain_name)
            .ctrl()
            .switch_counter(c)
            .load(Ordering::Relaxed)
    }

    fn lookup(&self, domain_name: &str, mac: &[u8; 6]) -> Option<u8> {
        domain(domain_name).table().lookup(mac)
    }

    fn find(&self, domain_name: &str, port: &str) -> Option<u32> {
        vale_soft::ports::find(&domain(domain_name), port)
    }

    fn assert_conserved(&self, domain_name: &str) {
        let d = domain(domain_name);
        if let Err(e) = vale_soft::ports::check_conservation(&d) {
            panic!("buffer conservation broken in {domain_name}: {e}");
        }
    }

    fn domain_exists(&self, domain_name: &str) -> bool {
        // Not through `Domain::open`, which would create it.
        let stem = netmap_ring::rundir::file_stem(domain_name);
        netmap_ring::rundir::runtime_dir()
            .join(format!("{stem}.mem"))
            .exists()
    }

    fn owner_pid(&self, port: &Port) -> u32 {
        match self.kind {
            Kind::Process => ProcessBackend::owner_of(port),
            _ => std::process::id(),
        }
    }

    fn max_ports(&self) -> u32 {
        254
    }

    fn free_buffers(&self, domain_name: &str) -> u64 {
        u64::from(domain(domain_name).memory().free_buffers())
    }
}

/// `sim` and `vfio-user`: ports on a device, through the host driver.
struct DeviceFixture {
    kind: Kind,
    backend: Tracked,
    _server: Option<SimServer>,
}

impl DeviceFixture {
    fn new(kind: Kind, device: Box<dyn Device>, server: Option<SimServer>) -> Self {
        Self {
            kind,
            backend: Tracked {
                inner: DeviceBackend::new(device).expect("device backend"),
                live: Arc::new(Mutex::new(Vec::new())),
                next: AtomicU64::new(0),
            },
            _server: server,
        }
    }

    fn device<R>(&self, f: impl FnOnce(&mut dyn Device, &DeviceInfo) -> R) -> R {
        self.backend.inner.with_device(f)
    }
}

impl Fixture for DeviceFixture {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn backend(&self) -> &dyn Backend {
        &self.backend
    }

    fn supports(&self, cap: Cap) -> bool {
        match cap {
            Cap::RingSubset
            | Cap::ExtraBufs
            | Cap::ManyRings
            | Cap::CountsRefusedSyncs
            | Cap::RewriteReleasedRxSlot => false,
        }
    }

    fn port_counter(&self, domain: &str, port: &str, c: PortCounter) -> u64 {
        let entry = self.entry(domain, port);
        self.device(|dev, _| {
            dev.settle().expect("settle");
            let reg = map::port_counter(entry, c as u32 * 4);
            u64::from(dev.bar0_read(reg).expect("counter read"))
        })
    }

    fn switch_counter(&self, _domain: &str, c: SwitchCounter) -> u64 {
        self.device(|dev, _| {
            dev.settle().expect("settle");
            let mut read = |reg| u64::from(dev.bar0_read(reg).expect("switch counter read"));
            match c {
                SwitchCounter::Lookups => read(map::SW_LOOKUPS),
                SwitchCounter::Hits => read(map::SW_HIT),
                // As the differential test: the engine's misses are the
                // lookups that did not hit.
                SwitchCounter::Misses => read(map::SW_LOOKUPS) - read(map::SW_HIT),
                SwitchCounter::Learns => read(map::SW_LEARN),
                SwitchCounter::Floods => read(map::SW_FLOOD),
                SwitchCounter::SamePortDrops => read(map::SW_DROP),
                SwitchCounter::Forwarded => read(map::SW_FORWARDED),
            }
        })
    }

    fn lookup(&self, _domain: &str, mac: &[u8; 6]) -> Option<u8> {
        self.device(|dev, info| {
            let geometry = Geometry::new(info.table_rows, info.table_ways).expect("geometry");
            let row = geometry.row_of(netmap_mac_hash(mac));
            dev.settle().expect("settle");
            wait_switch_idle(dev);
            (0..info.table_ways).find_map(|way| {
                dev.bar0_write(map::SW_TABLE_INDEX, geometry.index(row, way) as u32)
                    .expect("table index");
                wait_switch_idle(dev);
                let lo = dev.bar0_read(map::SW_TABLE_LO).expect("table lo");
                let hi = dev.bar0_read(map::SW_TABLE_HI).expect("table hi");
                Entry::unpack(u64::from(hi) << 32 | u64::from(lo))
                    .filter(|e| e.mac == *mac)
                    .map(|e| e.port)
            })
        })
    }

    fn find(&self, domain: &str, port: &str) -> Option<u32> {
        self.backend.inner.entry_of(domain, port)
    }

    /// Every pool buffer (2 .. num_bufs) is free in the driver or in
    /// exactly one slot of an open port's rings, as the host sees them:
    /// a pipe's crossover writes the swapped TX slots back into host
    /// memory before it publishes them, so no slot is read from BAR2. A
    /// pipe pair has a pool of its own with no free list: with both ends
    /// open, every one of its buffers is in exactly one slot of the two
    /// ends.
    fn assert_conserved(&self, _domain: &str) {
        let live = self.backend.live.lock().unwrap();
        let main = self.backend.inner.pool_region();
        // Per pool (by region): buffers in slots, bindings, num_bufs.
        let mut pools: Vec<(
            Arc<netmap_ring::shm::SharedRegion>,
            HashSet<u32>,
            usize,
            u32,
        )> = Vec::new();
        self.device(|_, _| {
            for (_, _, layout) in live.iter() {
                let at = match pools.iter().position(|p| Arc::ptr_eq(&p.0, &layout.region)) {
                    Some(at) => at,
                    None => {
                        pools.push((
                            layout.region.clone(),
                            HashSet::new(),
                            0,
                            layout.buffers.num_bufs,
                        ));
                        pools.len() - 1
                    }
                };
                pools[at].2 += 1;
                for spec in layout.tx_rings.iter().chain(&layout.rx_rings) {
                    let view = RingView::new(&layout.region, spec.offset, spec.num_slots).unwrap();
                    for i in 0..spec.num_slots {
                        let idx = view.slot(i).buf_idx;
                        assert!(
                            (2..layout.buffers.num_bufs).contains(&idx),
                            "ring {} slot {i} holds buffer {idx}, not a pool buffer",
                            spec.id
                        );
                        assert!(pools[at].1.insert(idx), "buffer {idx} in two slots");
                    }
                }
            }
        });
        for (region, in_rings, bindings, num_bufs) in pools {
            let expected = num_bufs as usize - 2;
            if Arc::ptr_eq(&region, &main) {
                let free = self.backend.inner.free_buffers();
                assert_eq!(
                    free + in_rings.len(),
                    expected,
                    "buffers lost: {free} free, {} in rings",
                    in_rings.len()
                );
            } else if bindings == 2 {
                assert_eq!(in_rings.len(), expected, "pipe pair buffers lost");
            }
        }
    }

    fn domain_exists(&self, _domain: &str) -> bool {
        // The device hosts one switch: it exists while a port is enabled.
        self.device(|dev, info| {
            (0..info.ports.count).any(|p| info.ports.read(dev, p).expect("port entry").1)
        })
    }

    fn owner_pid(&self, _port: &Port) -> u32 {
        std::process::id()
    }

    fn max_ports(&self) -> u32 {
        self.device(|_, info| info.ports.count)
    }

    fn free_buffers(&self, _domain: &str) -> u64 {
        self.backend.inner.free_buffers() as u64
    }
}

/// Waits (a bounded number of BAR0 reads, each a clock or more of the
/// model) until no learn write, flush or table readback is pending.
fn wait_switch_idle(dev: &mut dyn Device) {
    for _ in 0..100_000 {
        if dev.bar0_read(map::SW_STATUS).expect("switch status") == 0 {
            return;
        }
    }
    panic!("the switch never went idle");
}

/// A device backend that remembers the layouts of the bindings it handed
/// out and still open, for the conservation check.
struct Tracked {
    inner: DeviceBackend,
    /// Open bindings: id, port entry, layout.
    live: Arc<Mutex<Vec<(u64, u32, BindingLayout)>>>,
    next: AtomicU64,
}

impl Backend for Tracked {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn register(
        &self,
        name: &netmap_ring::name::PortName,
        extra_bufs: u32,
    ) -> Result<Box<dyn Binding>, PortError> {
        let inner = self.inner.register(name, extra_bufs)?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let place = vale_offload::placement::placement(name)?;
        let entry = self
            .inner
            .entry_of(&place.domain, &place.entry)
            .expect("a registered port has an entry");
        self.live
            .lock()
            .unwrap()
            .push((id, entry, inner.layout().clone()));
        Ok(Box::new(TrackedBinding {
            inner,
            id,
            live: self.live.clone(),
        }))
    }
}

struct TrackedBinding {
    inner: Box<dyn Binding>,
    id: u64,
    live: Arc<Mutex<Vec<(u64, u32, BindingLayout)>>>,
}

impl Binding for TrackedBinding {
    fn layout(&self) -> &BindingLayout {
        self.inner.layout()
    }
    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        self.inner.txsync(ring)
    }
    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        self.inner.rxsync(ring)
    }
    fn wake_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.wake_fd()
    }
    fn arm(&self) {
        self.inner.arm()
    }
    fn disarm(&self) {
        self.inner.disarm()
    }
}

impl Drop for TrackedBinding {
    fn drop(&mut self) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|(id, _, _)| *id != self.id);
    }
}
