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

use std::sync::{Arc, Mutex, MutexGuard};

use netmap_ring::abi::NetmapSlot;
use netmap_ring::name::{PortName, RingMode};
use netmap_ring::port::{Backend, Binding, PortError};
use netmap_ring::view::{format_if, Direction, IfDescription, RingView};
use vale_offload::ctrl::PortKind;
use vale_offload::regmap as map;
use vale_offload::soft::{placement, requested_geometry};

use crate::device::{Device, DmaRegion};
use crate::regs::{self, DeviceInfo, PortEntry, RegisterError};
use binding::DeviceBinding;
use layout::{ring_bytes, MemoryLayout, BUF_SIZE, DEFAULT_BUFFERS, MAX_PORT_RINGS, MAX_PORT_SLOTS};

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
    geometry: vale_offload::ports::PortGeometry,
    /// Bound by a live `Port`.
    open: bool,
    /// Entry index of the other pipe end.
    peer: Option<u32>,
}

/// State shared by the backend and its bindings.
pub(crate) struct Shared {
    body: &'static str,
    pub(crate) state: Mutex<State>,
}

pub(crate) struct State {
    pub(crate) dev: Box<dyn Device>,
    pub(crate) info: DeviceInfo,
    pub(crate) mem: DmaRegion,
    pub(crate) layout: MemoryLayout,
    free_bufs: Vec<u32>,
    entries: Vec<Option<EntryState>>,
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
        Ok(Self {
            shared: Arc::new(Shared {
                body,
                state: Mutex::new(State {
                    dev,
                    info,
                    mem,
                    layout,
                    // Buffers 0 and 1 are reserved, as in netmap.
                    free_bufs: (2..num_bufs).rev().collect(),
                    entries,
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

    /// Free buffers in the pool (for conservation checks).
    pub fn free_buffers(&self) -> usize {
        self.shared.lock().free_bufs.len()
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
                    .is_some_and(|e| e.domain == domain && e.name == entry)
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
                    .is_some_and(|e| e.domain == domain && e.name == name)
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

    /// Forgets entry `p` if neither it nor its pipe partner is open.
    fn forget_if_unused(&mut self, p: u32) {
        let Some(entry) = &self.entries[p as usize] else {
            return;
        };
        if entry.open {
            return;
        }
        match entry.peer {
            Some(peer) if self.entries[peer as usize].as_ref().is_some_and(|e| e.open) => {}
            Some(peer) => {
                self.entries[p as usize] = None;
                self.entries[peer as usize] = None;
            }
            None => self.entries[p as usize] = None,
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
        if flags.monitor_tx || flags.monitor_rx || flags.zero_copy_monitor {
            return Err(unsupported("monitor ports (/t /r /z)"));
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
        let geometry = requested_geometry(name);
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

        // Entries another host took between our look and our writes, on a
        // shared device: each is tried once.
        let mut lost: Vec<u32> = Vec::new();
        loop {
            // The entry: a known one (a pipe end reserved by its partner, or a
            // port bound elsewhere), or a new one.
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
                    let full = PortError::SwitchFull {
                        name: name.to_string(),
                        switch: place.domain.clone(),
                        max: state.info.ports.count,
                    };
                    let Some(p) = state.free_entry(&lost) else {
                        return Err(full);
                    };
                    let peer = match &place.peer {
                        None => None,
                        Some(_) => match state.free_entry(&[&lost[..], &[p]].concat()) {
                            Some(q) => Some(q),
                            None => return Err(full),
                        },
                    };
                    state.entries[p as usize] = Some(EntryState {
                        domain: place.domain.clone(),
                        name: place.entry.clone(),
                        kind: place.kind,
                        geometry,
                        open: false,
                        peer,
                    });
                    if let (Some(q), Some(peer_name)) = (peer, &place.peer) {
                        let mirrored = vale_offload::ports::PortGeometry {
                            tx_rings: geometry.rx_rings,
                            rx_rings: geometry.tx_rings,
                            tx_slots: geometry.rx_slots,
                            rx_slots: geometry.tx_slots,
                        };
                        state.entries[q as usize] = Some(EntryState {
                            domain: place.domain.clone(),
                            name: peer_name.clone(),
                            kind: match place.kind {
                                PortKind::PipeMaster => PortKind::PipeSlave,
                                _ => PortKind::PipeMaster,
                            },
                            geometry: mirrored,
                            open: false,
                            peer: Some(p),
                        });
                    }
                    p
                }
            };
            let result = self.bind(state, index, name);
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
    /// Lays out, formats and programs entry `p`, then hands out its binding;
    /// on failure the buffers go back and the entry is disabled.
    fn bind(
        &self,
        state: &mut State,
        p: u32,
        name: &PortName,
    ) -> Result<Box<dyn Binding>, PortError> {
        let mut allocated = Vec::new();
        let result = self.bind_entry(state, p, name, &mut allocated);
        if result.is_err() {
            state.free_bufs.extend(allocated);
            // On a shared device the write is dropped if the entry is
            // another host's.
            let ports = state.info.ports;
            let _ = ports.disable(state.dev.as_mut(), p);
        }
        result
    }

    fn bind_entry(
        &self,
        state: &mut State,
        p: u32,
        name: &PortName,
        allocated: &mut Vec<u32>,
    ) -> Result<Box<dyn Binding>, PortError> {
        let entry = state.entries[p as usize].as_ref().expect("entry reserved");
        let (kind, peer, g) = (entry.kind, entry.peer, entry.geometry);
        let wanted = g.tx_rings * g.tx_slots + g.rx_rings * g.rx_slots;
        if (state.free_bufs.len() as u32) < wanted {
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
        let layout = state.layout;
        let region = state.mem.region.clone();
        let shm = |e: netmap_ring::shm::ShmError| PortError::Io {
            name: name.to_string(),
            source: std::io::Error::other(e.to_string()),
        };
        region
            .fill(layout.status_off(p), map::STATUS_BLOCK_BYTES as usize, 0)
            .map_err(shm)?;
        let mut tx_rings = Vec::new();
        let mut rx_rings = Vec::new();
        for (dir, rings, slots) in [
            (Direction::Tx, g.tx_rings, g.tx_slots),
            (Direction::Rx, g.rx_rings, g.rx_slots),
        ] {
            for r in 0..rings {
                let off = match dir {
                    Direction::Tx => layout.tx_ring_off(p, r, slots),
                    Direction::Rx => layout.rx_ring_off(p, r, slots),
                };
                let at = state.free_bufs.len() - slots as usize;
                let bufs: Vec<u32> = state.free_bufs.drain(at..).collect();
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
            let at = layout.bar2_ring_off(p, spec.id, spec.num_slots);
            state.dev.bar2_write(at, &image).map_err(io)?;
        }
        let mut rings: Vec<Option<usize>> = tx_rings.iter().map(|r| Some(r.offset)).collect();
        rings.extend(rx_rings.iter().map(|r| Some(r.offset)));
        format_if(
            &region,
            layout.if_off(p),
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
        let iova = state.mem.iova;
        let port_entry = PortEntry {
            kind: port_kind_code(kind),
            tx_rings: g.tx_rings as u16,
            rx_rings: g.rx_rings as u16,
            tx_slots: g.tx_slots as u16,
            rx_slots: g.rx_slots as u16,
            buf_size: BUF_SIZE,
            pipe_peer: peer.unwrap_or(0),
            ring_addr: layout.bar2_ring_off(p, 0, g.tx_slots),
            pool_addr: iova + layout.pool_off as u64,
            status_addr: iova + layout.status_off(p) as u64,
            num_bufs: layout.num_bufs,
            rx_ring_addr: iova + layout.rx_ring_off(p, 0, g.rx_slots) as u64,
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
                if_offset: layout.if_off(p),
                tx_rings,
                rx_rings,
                buffers: netmap_ring::port::BufferPool {
                    base: layout.pool_off,
                    buf_size: BUF_SIZE,
                    num_bufs: layout.num_bufs,
                },
                nr_flags: 0,
            },
            layout.status_off(p),
            notifier,
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
            // `forget_port` does: a new port may take this entry. The RTL
            // has no per-port forget, so the whole table is flushed (a
            // cache: the other ports' MACs are learned again).
            if let Ok(switch) = self.info.blocks.find(map::TYPE_SWITCH) {
                let _ = self.dev.bar0_write(
                    switch.reg(map::SWITCH_BASE, map::SW_CONTROL),
                    map::SW_CONTROL_FLUSH | map::SW_CONTROL_LEARN,
                );
            }
        }
        let _ = self.dev.settle();
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
