//! netmap ports over a [`Device`]: the `Backend` of the `Port` API whose
//! kernel side is the NIC (DESIGN.md section 3, `docs/datapath.md`).
//!
//! Registration lays the port out in the backend's one DMA region
//! ([`layout`]), writes the TX rings into BAR2, programs a port table
//! entry and hands the application a standard netmap_if and rings. The
//! application's TX rings live in host memory next to its RX rings and
//! buffers (one `SharedRegion`, as netmap's `nr_offset` model wants); the
//! txsync copies the slots the application filled into BAR2 with posted
//! writes and rings the doorbell once. RX rings are the device's own: it
//! DMA-writes slots into them, so rxsync only publishes `head` and reads
//! `hwtail` from the status block. No MMIO read on the data path.
#![forbid(unsafe_code)]

mod binding;
pub mod layout;
mod monitor;
pub mod pair;
mod pipe_end;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use netmap_ring::abi::NetmapSlot;
use netmap_ring::name::{PortName, RingMode};
use netmap_ring::port::{Backend, Binding, PortError};
use netmap_ring::view::{format_if, Direction, IfDescription, RingView};
use vale_offload::placement::placement;
use vale_offload::placement::PortKind;
use vale_offload::regmap as map;

use crate::device::{Device, DmaRegion};
use crate::regs::{self, DeviceInfo, PortEntry, RegisterError};
use binding::{DeviceBinding, PipeLink};
use layout::{ring_bytes, MemoryLayout, BUF_SIZE, DEFAULT_BUFFERS, MAX_PORT_RINGS, MAX_PORT_SLOTS};
use netmap_ring::shm::SharedRegion;
use pair::{PairRegion, NO_ENTRY};

/// Why a device backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Registers(#[from] RegisterError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error("the device has no data path ({0}); it needs RTL revision with doorbells")]
    NoDataPath(&'static str),
}

/// The owner a `Busy` error names when another host took the entry while
/// we programmed it (its process is not ours to know): `register` then
/// tries another entry.
const LOST_RACE: u32 = 0;

/// What the backend knows about one port table entry.
#[derive(Debug)]
struct EntryState {
    /// Domain (switch or pipe parent) and entry name, as the software
    /// engine names them.
    domain: String,
    name: String,
    kind: PortKind,
    geometry: vale_offload::geometry::PortGeometry,
    /// Bound by a live `Port` (false: a pipe end's entry reserved for the
    /// other end of a pair this process holds).
    open: bool,
    /// The pipe pair region, for pipe ends.
    pair: Option<Arc<PairRegion>>,
}

/// A pipe pair region this process maps, with its device address.
struct LocalPair {
    pair: Arc<PairRegion>,
    iova: u64,
    /// Ends of the pair this process has bound.
    users: u32,
}

/// Where a binding's rings, status blocks and buffers live: the backend's
/// DMA region (VALE ports, by entry) or a pipe pair's (by end).
struct Area {
    region: Arc<SharedRegion>,
    iova: u64,
    layout: MemoryLayout,
    index: u32,
}

/// Where a binding's buffers come from.
enum Supply {
    /// The backend's free list.
    Pool,
    /// Exactly these (a pipe end: every buffer its open peer does not hold).
    Given(Vec<u32>),
}

/// State shared by the backend and its bindings.
pub(crate) struct Shared {
    body: &'static str,
    /// The device's [`Liveness`](crate::device::Liveness), read by every
    /// sync without taking the state lock.
    pub(crate) liveness: Arc<crate::device::Liveness>,
    pub(crate) state: Mutex<State>,
    /// Monitor ports of this backend's ports (the driver's view).
    pub(crate) monitors: Arc<monitor::Monitors>,
}

pub(crate) struct State {
    pub(crate) dev: Box<dyn Device>,
    pub(crate) info: DeviceInfo,
    pub(crate) mem: DmaRegion,
    pub(crate) layout: MemoryLayout,
    free_bufs: Vec<u32>,
    entries: Vec<Option<EntryState>>,
    /// Pipe pair regions mapped here, by path.
    pairs: HashMap<PathBuf, LocalPair>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A `Backend` whose ports live on a device.
pub struct DeviceBackend {
    shared: Arc<Shared>,
}

impl DeviceBackend {
    /// Probes `dev`, disables every port entry, and sets up the memory the
    /// ports will share (`NETMAP_RS_BUFS` buffers, 16384 by default).
    pub fn new(mut dev: Box<dyn Device>) -> Result<Self, BackendError> {
        let info = regs::probe(dev.as_mut())?;
        if info.doorbells.is_none() {
            return Err(BackendError::NoDataPath("no doorbell block in BAR0"));
        }
        if dev.bar2_len() == 0 {
            return Err(BackendError::NoDataPath("no BAR2"));
        }
        // A device of our own starts with no port; on a shared one the
        // other hosts' entries stay as they are.
        if !dev.shared() {
            for entry in 0..info.ports.count {
                info.ports.disable(dev.as_mut(), entry)?;
            }
        }
        let num_bufs = std::env::var("NETMAP_RS_BUFS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_BUFFERS)
            .max(64);
        let layout = MemoryLayout::new(info.ports.count, num_bufs, dev.bar2_len());
        let name = format!("netmap-{}-{}", dev.body(), std::process::id());
        let mem = dev.dma_alloc(&name, layout.len)?;
        let entries = (0..info.ports.count).map(|_| None).collect();
        let body = dev.body();
        let liveness = dev.liveness();
        Ok(Self {
            shared: Arc::new(Shared {
                body,
                liveness,
                monitors: Arc::default(),
                state: Mutex::new(State {
                    dev,
                    info,
                    mem,
                    layout,
                    // Buffers 0 and 1 are reserved, as in netmap.
                    free_bufs: (2..num_bufs).rev().collect(),
                    entries,
                    pairs: HashMap::new(),
                }),
            }),
        })
    }

    /// What crossed the link so far.
    pub fn counters(&self) -> crate::device::DeviceCounters {
        self.shared.lock().dev.counters()
    }

    /// Runs `f` on the device (counters, port table, tests).
    pub fn with_device<R>(&self, f: impl FnOnce(&mut dyn Device, &DeviceInfo) -> R) -> R {
        let mut state = self.shared.lock();
        let state = &mut *state;
        f(state.dev.as_mut(), &state.info)
    }

    /// Free buffers in the pool of the VALE ports (for conservation
    /// checks; pipe pairs have pools of their own, with no free list).
    pub fn free_buffers(&self) -> usize {
        self.shared.lock().free_bufs.len()
    }

    /// The region of the VALE ports' pool (pipe pairs have their own).
    pub fn pool_region(&self) -> Arc<SharedRegion> {
        self.shared.lock().mem.region.clone()
    }

    /// Entry index of the open port `entry` of domain `domain` (for
    /// counters): e.g. ("vale0", "a").
    pub fn entry_of(&self, domain: &str, entry: &str) -> Option<u32> {
        let state = self.shared.lock();
        state
            .entries
            .iter()
            .position(|e| {
                e.as_ref()
                    .is_some_and(|e| e.open && e.domain == domain && e.name == entry)
            })
            .map(|p| p as u32)
    }
}

fn port_kind_code(kind: PortKind) -> u32 {
    match kind {
        PortKind::Vale => map::PORT_KIND_VALE,
        PortKind::PipeMaster => map::PORT_KIND_PIPE_MASTER,
        PortKind::PipeSlave => map::PORT_KIND_PIPE_SLAVE,
    }
}

impl State {
    fn find(&self, domain: &str, name: &str) -> Option<u32> {
        self.entries
            .iter()
            .position(|e| {
                e.as_ref()
                    .is_some_and(|e| e.pair.is_none() && e.domain == domain && e.name == name)
            })
            .map(|p| p as u32)
    }

    /// A port entry nobody uses: not ours, and on a shared device not
    /// enabled by another host (a control-path MMIO read per candidate).
    fn free_entry(&mut self, except: &[u32]) -> Option<u32> {
        let ports = self.info.ports;
        (0..self.entries.len() as u32).find(|&p| {
            self.entries[p as usize].is_none()
                && !except.contains(&p)
                && (!self.dev.shared()
                    || self
                        .dev
                        .bar0_read(ports.register(p, map::PORT_CONTROL))
                        .is_ok_and(|control| control & map::PORT_CONTROL_ENABLE == 0))
        })
    }

    fn vale_switch(&self) -> Option<&str> {
        self.entries
            .iter()
            .flatten()
            .find(|e| e.kind == PortKind::Vale)
            .map(|e| e.domain.as_str())
    }

    /// Forgets entry `p` unless it is open.
    fn forget_if_unused(&mut self, p: u32) {
        if self.entries[p as usize].as_ref().is_some_and(|e| !e.open) {
            self.entries[p as usize] = None;
        }
    }
}

impl Backend for DeviceBackend {
    fn kind(&self) -> &'static str {
        self.shared.body
    }

    fn register(&self, name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError> {
        let unsupported = |what: &str| PortError::Unsupported {
            name: name.to_string(),
            backend: self.shared.body,
            what: what.to_owned(),
        };
        let config = |why: String| PortError::Config {
            name: name.to_string(),
            why,
        };
        let flags = &name.flags;
        if flags.zero_copy_monitor {
            return Err(if flags.monitor_tx || flags.monitor_rx {
                unsupported("zero-copy monitors (/z): use a copy monitor, /t /r /rt")
            } else {
                // netmap's EINVAL: /z only says how /t or /r copies.
                config("/z (zero-copy monitor) needs /t, /r or /rt".into())
            });
        }
        if flags.monitor_tx || flags.monitor_rx {
            return self.register_monitor(name);
        }
        if name.options.share.is_some()
            || name.options.extmem.is_some()
            || name.options.offset.is_some()
            || name.mem_id.is_some()
        {
            return Err(unsupported("@share, @extmem, @offset and @N"));
        }
        if name.mode != RingMode::AllNic || flags.rx_rings_only || flags.tx_rings_only {
            return Err(unsupported(
                "binding a subset of the rings (-N, ^, *, /T, /R)",
            ));
        }
        if extra_bufs > 0 {
            return Err(unsupported("extra buffers"));
        }
        let place = placement(name)?;
        let geometry = vale_offload::geometry::PortGeometry::requested(name);
        geometry.validate().map_err(&config)?;
        let mut state = self.shared.lock();
        let state = &mut *state;
        let device_rings = state.info.device_rings.min(MAX_PORT_RINGS);
        if geometry.tx_rings > device_rings
            || geometry.rx_rings > device_rings
            || geometry.tx_slots > MAX_PORT_SLOTS
            || geometry.rx_slots > MAX_PORT_SLOTS
        {
            return Err(config(format!(
                "the device serves at most {device_rings} rings of {MAX_PORT_SLOTS} slots per direction"
            )));
        }
        if !state.layout.fits_bar2(geometry.tx_rings, geometry.tx_slots) {
            return Err(config(
                "the TX rings do not fit in this port's share of BAR2".into(),
            ));
        }
        if place.kind == PortKind::Vale {
            if let Some(switch) = state.vale_switch() {
                if switch != place.domain {
                    return Err(unsupported(&format!(
                        "a second VALE switch (the device hosts one switch, now {switch})"
                    )));
                }
            }
        }

        if place.kind != PortKind::Vale {
            return self.register_pipe(state, name, &place, geometry);
        }
        // Entries another host took between our look and our writes, on a
        // shared device: each is tried once.
        let mut lost: Vec<u32> = Vec::new();
        loop {
            // The entry: a port bound elsewhere in this process, or a new one.
            let index = match state.find(&place.domain, &place.entry) {
                Some(p) => {
                    let entry = state.entries[p as usize].as_ref().expect("found");
                    if entry.open {
                        return Err(PortError::Busy {
                            name: name.to_string(),
                            owner: std::process::id(),
                        });
                    }
                    p
                }
                None => {
                    let Some(p) = state.free_entry(&lost) else {
                        return Err(PortError::SwitchFull {
                            name: name.to_string(),
                            switch: place.domain.clone(),
                            max: state.info.ports.count,
                        });
                    };
                    state.entries[p as usize] = Some(EntryState {
                        domain: place.domain.clone(),
                        name: place.entry.clone(),
                        kind: place.kind,
                        geometry,
                        open: false,
                        pair: None,
                    });
                    p
                }
            };
            let area = Area {
                region: state.mem.region.clone(),
                iova: state.mem.iova,
                layout: state.layout,
                index,
            };
            let result = self.bind(state, index, name, area, Supply::Pool, NO_ENTRY, None);
            if result.is_err() {
                state.forget_if_unused(index);
            }
            match result {
                Err(PortError::Busy {
                    owner: LOST_RACE, ..
                }) if state.entries[index as usize].is_none() => lost.push(index),
                result => return result,
            }
        }
    }
}

impl DeviceBackend {
    /// A monitor of a port this process holds on this backend (the
    /// driver's view, `monitor`).
    fn register_monitor(&self, name: &PortName) -> Result<Box<dyn Binding>, PortError> {
        let place = placement(name)?;
        let found = {
            let state = self.shared.lock();
            state.entries.iter().enumerate().find_map(|(p, e)| {
                let e = e.as_ref()?;
                (e.open && e.domain == place.domain && e.name == place.entry)
                    .then(|| (p as u32, e.geometry.tx_slots.max(e.geometry.rx_slots)))
            })
        };
        let Some((entry, slots)) = found else {
            // netmap's ENXIO: nothing to monitor here.
            return Err(PortError::Io {
                name: name.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "no port {} in {} to monitor: a device port is monitored from the process that holds it",
                        place.entry, place.domain
                    ),
                ),
            });
        };
        monitor::register(&self.shared.monitors, name, entry, slots)
    }
}

impl DeviceBackend {
    /// Lays out, formats and programs entry `p`, then hands out its binding;
    /// on failure the buffers go back and the entry is disabled.
    #[allow(clippy::too_many_arguments)]
    fn bind(
        &self,
        state: &mut State,
        p: u32,
        name: &PortName,
        area: Area,
        supply: Supply,
        peer: u32,
        link: Option<PipeLink>,
    ) -> Result<Box<dyn Binding>, PortError> {
        let mut allocated = Vec::new();
        let from_pool = matches!(supply, Supply::Pool);
        let result = self.bind_entry(state, p, name, area, supply, peer, link, &mut allocated);
        if result.is_err() {
            if from_pool {
                state.free_bufs.extend(allocated);
            }
            // On a shared device the write is dropped if the entry is
            // another host's.
            let ports = state.info.ports;
            let _ = ports.disable(state.dev.as_mut(), p);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn bind_entry(
        &self,
        state: &mut State,
        p: u32,
        name: &PortName,
        area: Area,
        mut supply: Supply,
        peer: u32,
        link: Option<PipeLink>,
        allocated: &mut Vec<u32>,
    ) -> Result<Box<dyn Binding>, PortError> {
        let entry = state.entries[p as usize].as_ref().expect("entry reserved");
        let (kind, g) = (entry.kind, entry.geometry);
        let wanted = g.tx_rings * g.tx_slots + g.rx_rings * g.rx_slots;
        if matches!(supply, Supply::Pool) && (state.free_bufs.len() as u32) < wanted {
            return Err(PortError::NoMemory {
                name: name.to_string(),
                why: format!(
                    "{wanted} buffers wanted, {} free (NETMAP_RS_BUFS sizes the pool)",
                    state.free_bufs.len()
                ),
            });
        }
        let io = |e: crate::device::DeviceError| PortError::Io {
            name: name.to_string(),
            source: std::io::Error::other(e.to_string()),
        };
        let Area {
            region,
            iova,
            layout,
            index: a,
        } = area;
        let shm = |e: netmap_ring::shm::ShmError| PortError::Io {
            name: name.to_string(),
            source: std::io::Error::other(e.to_string()),
        };
        region
            .fill(layout.status_off(a), map::STATUS_BLOCK_BYTES as usize, 0)
            .map_err(shm)?;
        let mut tx_rings = Vec::new();
        let mut rx_rings = Vec::new();
        for (dir, rings, slots) in [
            (Direction::Tx, g.tx_rings, g.tx_slots),
            (Direction::Rx, g.rx_rings, g.rx_slots),
        ] {
            for r in 0..rings {
                let off = match dir {
                    Direction::Tx => layout.tx_ring_off(a, r, slots),
                    Direction::Rx => layout.rx_ring_off(a, r, slots),
                };
                let bufs: Vec<u32> = match &mut supply {
                    Supply::Pool => {
                        let at = state.free_bufs.len() - slots as usize;
                        state.free_bufs.drain(at..).collect()
                    }
                    Supply::Given(given) => given.drain(..slots as usize).collect(),
                };
                allocated.extend(&bufs);
                // TX: every slot but one is the application's; RX: empty.
                let tail = match dir {
                    Direction::Tx => slots - 1,
                    Direction::Rx => 0,
                };
                let buf_ofs = layout.pool_off as i64 - off as i64;
                RingView::format(&region, off, &bufs, r as u16, dir, BUF_SIZE, buf_ofs, tail)
                    .map_err(shm)?;
                let spec = netmap_ring::port::RingSpec {
                    id: r,
                    offset: off,
                    num_slots: slots,
                };
                match dir {
                    Direction::Tx => tx_rings.push(spec),
                    Direction::Rx => rx_rings.push(spec),
                }
            }
        }
        // The device's copy of the TX rings: header and slots, into BAR2.
        for spec in &tx_rings {
            let mut image = vec![0u8; ring_bytes(spec.num_slots)];
            region.read_bytes(spec.offset, &mut image).map_err(shm)?;
            let at = state.layout.bar2_ring_off(p, spec.id, spec.num_slots);
            state.dev.bar2_write(at, &image).map_err(io)?;
        }
        let mut rings: Vec<Option<usize>> = tx_rings.iter().map(|r| Some(r.offset)).collect();
        rings.extend(rx_rings.iter().map(|r| Some(r.offset)));
        format_if(
            &region,
            layout.if_off(a),
            &IfDescription {
                name: name.to_string(),
                tx_rings: g.tx_rings,
                rx_rings: g.rx_rings,
                host_tx_rings: 0,
                host_rx_rings: 0,
                bufs_head: 0,
                flags: 0,
                rings,
            },
        )
        .map_err(shm)?;
        let port_entry = PortEntry {
            kind: port_kind_code(kind),
            tx_rings: g.tx_rings as u16,
            rx_rings: g.rx_rings as u16,
            tx_slots: g.tx_slots as u16,
            rx_slots: g.rx_slots as u16,
            buf_size: BUF_SIZE,
            pipe_peer: peer,
            ring_addr: state.layout.bar2_ring_off(p, 0, g.tx_slots),
            pool_addr: iova + layout.pool_off as u64,
            status_addr: iova + layout.status_off(a) as u64,
            num_bufs: layout.num_bufs,
            rx_ring_addr: iova + layout.rx_ring_off(a, 0, g.rx_slots) as u64,
            // Pipe crossover writes swapped TX slots back here (VALE ports
            // never have theirs swapped): no BAR2 reads in txsync.
            tx_host_ring_off: (layout.tx_ring_off(a, 0, g.tx_slots) - layout.status_off(a)) as u32,
        };
        let ports = state.info.ports;
        ports
            .program(state.dev.as_mut(), p, &port_entry)
            .map_err(|e| PortError::Io {
                name: name.to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
        if state.dev.shared() {
            // Another host may have enabled the entry between our check and
            // our writes; the device then ignored ours.
            let (programmed, enabled) =
                ports
                    .read(state.dev.as_mut(), p)
                    .map_err(|e| PortError::Io {
                        name: name.to_string(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
            if !enabled || programmed != port_entry {
                return Err(PortError::Busy {
                    name: name.to_string(),
                    owner: LOST_RACE,
                });
            }
        }
        if kind != PortKind::Vale {
            // Frames the other end sent while this one was closed wait in
            // its TX rings (the device had no room to give them): an RX
            // doorbell per ring marks them pending again, so they cross
            // now, as the engine's would have at the other end's sync.
            for r in 0..g.rx_rings {
                state
                    .dev
                    .ring_doorbell(map::rx_doorbell(p), map::rx_doorbell_value(r, 0))
                    .map_err(io)?;
            }
        }
        let notifier = state.dev.notifier(p).map_err(io)?;
        state.entries[p as usize].as_mut().expect("entry").open = true;
        let binding = DeviceBinding::new(
            self.shared.clone(),
            p,
            kind,
            netmap_ring::port::BindingLayout {
                region,
                if_offset: layout.if_off(a),
                tx_rings,
                rx_rings,
                buffers: netmap_ring::port::BufferPool {
                    base: layout.pool_off,
                    buf_size: BUF_SIZE,
                    num_bufs: layout.num_bufs,
                },
                nr_flags: 0,
            },
            layout.status_off(a),
            notifier,
            link,
        );
        Ok(Box::new(binding))
    }
}

impl State {
    /// Closes entry `p`: disables it on the device, returns the buffers of
    /// its rings to the pool, forgets it unless its pipe partner is open.
    pub(crate) fn close(&mut self, p: u32, layout: &netmap_ring::port::BindingLayout) {
        let ports = self.info.ports;
        let _ = ports.disable(self.dev.as_mut(), p);
        if self.entries[p as usize]
            .as_ref()
            .is_some_and(|e| e.kind == PortKind::Vale)
        {
            // The table must forget the port's MACs, as the engine's
            // `forget_port` does: a new port may take this entry. A switch
            // block older than 1.1 cannot forget one port: flush it all (a
            // cache: the other ports' MACs are learned again).
            if let Ok(switch) = self.info.blocks.find(map::TYPE_SWITCH) {
                let _ = if switch.version >= map::SWITCH_VERSION_FORGET {
                    self.dev
                        .bar0_write(switch.reg(map::SWITCH_BASE, map::SW_FORGET_PORT), p)
                } else {
                    self.dev.bar0_write(
                        switch.reg(map::SWITCH_BASE, map::SW_CONTROL),
                        map::SW_CONTROL_FLUSH | map::SW_CONTROL_LEARN,
                    )
                };
            }
        }
        let _ = self.dev.settle();
        let pipe = self.entries[p as usize]
            .as_ref()
            .and_then(|e| Some((e.pair.clone()?, usize::from(e.kind == PortKind::PipeSlave))));
        if let Some((pair, end)) = pipe {
            // A pipe end's buffers stay in its slots: the pair's pool has
            // no free list (an end that opens takes what the other lacks).
            {
                let _guard = pair.lock();
                pair.set_open(end, false);
            }
            self.entries[p as usize] = None;
            let path = pair.path.clone();
            drop(pair);
            self.release_pair(&path);
            return;
        }
        for spec in layout.tx_rings.iter().chain(&layout.rx_rings) {
            if let Ok(view) = RingView::new(&layout.region, spec.offset, spec.num_slots) {
                for i in 0..spec.num_slots {
                    let NetmapSlot { buf_idx, .. } = view.slot(i);
                    if (2..self.layout.num_bufs).contains(&buf_idx) {
                        self.free_bufs.push(buf_idx);
                    }
                }
            }
        }
        if let Some(entry) = self.entries[p as usize].as_mut() {
            entry.open = false;
        }
        self.forget_if_unused(p);
    }
}
