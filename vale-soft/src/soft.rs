//! The software backend: netmap's kernel side for VALE ports and pipes,
//! run in the application's own process over shared memory.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netmap_ring::name::{PortName, RingMode, Subsystem};
use netmap_ring::port::{
    Backend, Binding, BindingLayout, BufferPool, Port, PortError, RingSpec, SyncError,
};
use netmap_ring::view::RingView;

use vale_offload::counters::PortCounter;
use vale_offload::geometry::PortGeometry;
use vale_offload::placement::{placement, PortKind};

use crate::ctrl::{binding, kring, port, Dir, MAX_BINDINGS, MAX_ENTRIES, PORT_ACTIVE};
use crate::domain::{Domain, DomainError};
use crate::ports::{self, AllocPortError};

/// The software engine as a [`Backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SoftBackend;

/// Opens `name` on the software backend.
pub fn open(name: &str) -> Result<Port, PortError> {
    Port::open_on(&SoftBackend, name)
}

/// Opens `name` on the software backend with extra buffers.
pub fn open_with_extra_bufs(name: &str, extra_bufs: u32) -> Result<Port, PortError> {
    Port::open_with_extra_bufs(&SoftBackend, name, extra_bufs)
}

fn domain_error(name: &PortName, e: DomainError) -> PortError {
    let name = name.to_string();
    if let DomainError::Reserve { .. } = e {
        return PortError::NoMemory {
            name,
            why: e.to_string(),
        };
    }
    if e.is_permission() {
        PortError::Permission {
            name,
            why: e.to_string(),
        }
    } else {
        PortError::Io {
            name,
            source: std::io::Error::other(e.to_string()),
        }
    }
}

fn alloc_error(name: &PortName, switch: &str, e: AllocPortError) -> PortError {
    match e {
        AllocPortError::SwitchFull { max } => PortError::SwitchFull {
            name: name.to_string(),
            switch: switch.to_owned(),
            max,
        },
        other => PortError::NoMemory {
            name: name.to_string(),
            why: other.to_string(),
        },
    }
}

impl Backend for SoftBackend {
    fn kind(&self) -> &'static str {
        "soft"
    }

    fn register(&self, name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError> {
        let unsupported = |what: &str| PortError::Unsupported {
            name: name.to_string(),
            backend: "soft",
            what: what.to_owned(),
        };
        let flags = &name.flags;
        let monitor = flags.monitor_tx || flags.monitor_rx;
        if flags.zero_copy_monitor && !monitor {
            // netmap's EINVAL: /z only says how /t or /r copies.
            return Err(PortError::Config {
                name: name.to_string(),
                why: "/z (zero-copy monitor) needs /t, /r or /rt".into(),
            });
        }
        if name.options.share.is_some() || name.options.extmem.is_some() {
            return Err(unsupported("@share and @extmem"));
        }
        if name.options.offset.is_some() {
            return Err(unsupported("@offset"));
        }
        if name.mem_id.is_some() {
            return Err(unsupported(
                "@N memory ids (each switch has its own memory)",
            ));
        }
        if matches!(name.subsystem, Subsystem::Netmap { .. }) && name.pipe.is_none() {
            return netmap_nic::register(name, extra_bufs);
        }
        let place = placement(name)?;
        let geometry = PortGeometry::requested(name);
        geometry.validate().map_err(|why| PortError::Config {
            name: name.to_string(),
            why,
        })?;
        let pid = std::process::id();
        let domain =
            Domain::open(&place.domain, place.domain_kind).map_err(|e| domain_error(name, e))?;
        let guard = domain.lock();
        if !domain.is_live() {
            // Destroyed between open and lock by another process's close.
            drop(guard);
            return self.register(name, extra_bufs);
        }
        ports::reclaim_dead(&domain);
        let ctrl = domain.ctrl();
        let found = if monitor {
            match crate::monitor::create(&domain, &place.entry, name) {
                Ok(index) => Some(index),
                Err(e) => {
                    ports::destroy_if_empty(&domain);
                    return Err(e);
                }
            }
        } else {
            ports::find(&domain, &place.entry)
        };
        let index =
            match found {
                // Joining an existing port: [`ports::bind`] refuses rings
                // another binding holds.
                Some(index) => index,
                None => {
                    let created = ports::create(&domain, &place.entry, place.kind, geometry)
                        .and_then(|index| match &place.peer {
                            None => Ok(index),
                            Some(peer_name) => {
                                netmap_ring::crash_point!("pipe::pair:first_end_made");
                                match ports::create(
                                    &domain,
                                    peer_name,
                                    mirrored_kind(place.kind),
                                    geometry.mirrored(),
                                ) {
                                    Ok(peer) => {
                                        netmap_ring::crash_point!("pipe::pair:both_made");
                                        ctrl.port(index).set(port::PEER, peer);
                                        netmap_ring::crash_point!("pipe::pair:half_linked");
                                        ctrl.port(peer).set(port::PEER, index);
                                        Ok(index)
                                    }
                                    Err(e) => {
                                        ports::destroy(&domain, index);
                                        Err(e)
                                    }
                                }
                            }
                        });
                    match created {
                        Ok(index) => index,
                        Err(e) => {
                            ports::destroy_if_empty(&domain);
                            return Err(alloc_error(name, domain.name(), e));
                        }
                    }
                }
            };
        let e = ctrl.port(index);
        let g = ports::geometry_of(&e);
        let all = |count: u32| (1u32 << count) - 1;
        let (mut tx_mask, mut rx_mask) = match name.mode {
            RingMode::AllNic => (all(g.tx_rings), all(g.rx_rings)),
            RingMode::OneNic(ring) => {
                let ring = u32::from(ring);
                if ring >= g.tx_rings.max(g.rx_rings) {
                    ports::release_port(&domain, index);
                    return Err(PortError::Config {
                        name: name.to_string(),
                        why: format!(
                            "ring {ring} does not exist: the port has {} tx and {} rx rings",
                            g.tx_rings, g.rx_rings
                        ),
                    });
                }
                (
                    u32::from(ring < g.tx_rings) << ring,
                    u32::from(ring < g.rx_rings) << ring,
                )
            }
            RingMode::Sw | RingMode::OneSw(_) | RingMode::NicSw => {
                // An entry this call created (or found unbound) goes back.
                ports::release_port(&domain, index);
                return Err(unsupported(
                    "host rings (^, ^N, *): VALE ports and pipes have none",
                ));
            }
        };
        if flags.rx_rings_only {
            tx_mask = 0;
        }
        if flags.tx_rings_only {
            rx_mask = 0;
        }
        if monitor {
            // A monitor only receives (netmap's monitors refuse txsync).
            tx_mask = 0;
        }
        let if_name = name.nr_name();
        let bound = ports::bind(
            &domain,
            index,
            pid,
            tx_mask,
            rx_mask,
            flags.exclusive,
            extra_bufs,
            &if_name,
        );
        let (slot, if_off) = match bound {
            Ok(bound) => bound,
            Err(err) => {
                ports::release_port(&domain, index);
                return Err(match err {
                    ports::BindError::Busy { owner } => PortError::Busy {
                        name: name.to_string(),
                        owner,
                    },
                    ports::BindError::Alloc(err) => alloc_error(name, domain.name(), err),
                });
            }
        };
        netmap_ring::crash_point!("soft::register:bound");
        let fifo = match open_wake_fifo(&domain, slot) {
            Ok(fifo) => fifo,
            Err(source) => {
                ports::release_binding(&domain, slot);
                return Err(PortError::Io {
                    name: name.to_string(),
                    source,
                });
            }
        };
        let spec = |dir: Dir, r: u32| {
            let k = ctrl.kring(index, dir, r);
            RingSpec {
                id: r,
                offset: k.ring_off(),
                num_slots: k.num_slots(),
            }
        };
        let tx_rings = (0..g.tx_rings)
            .filter(|r| tx_mask >> r & 1 == 1)
            .map(|r| spec(Dir::Tx, r))
            .collect();
        let rx_rings = (0..g.rx_rings)
            .filter(|r| rx_mask >> r & 1 == 1)
            .map(|r| spec(Dir::Rx, r))
            .collect();
        let memory = domain.memory();
        let layout = BindingLayout {
            region: Arc::clone(memory.region()),
            if_offset: if_off,
            tx_rings,
            rx_rings,
            buffers: BufferPool {
                base: memory.layout().buf_off,
                buf_size: memory.buf_size(),
                num_bufs: memory.num_bufs(),
            },
            nr_flags: name.flags.nr_flags(),
        };
        let generation = ctrl.binding(slot).get(binding::GENERATION);
        let kind = e.kind().unwrap_or(PortKind::Vale);
        netmap_ring::crash_point!("soft::register:done");
        drop(guard);
        Ok(Box::new(SoftBinding {
            domain,
            index,
            slot,
            generation,
            kind,
            tx_mask,
            rx_mask,
            layout,
            fifo,
            peer_checked_ms: AtomicU64::new(coarse_ms()),
            monitor,
        }))
    }
}

/// How often a pipe end that can move nothing asks whether its peer's
/// process still exists (a `/proc` read).
const PEER_CHECK_EVERY: Duration = Duration::from_millis(100);

/// Milliseconds of the kernel's coarse monotonic clock (updated every
/// tick, 1-4 ms), the clock of the rate limit of [`PEER_CHECK_EVERY`]:
/// a stalled pipe sync reads it, and a busy-polling end stalls at every
/// poll that finds nothing. On this VM `CLOCK_MONOTONIC` (what `Instant`
/// reads) costs 150-190 ns a call (its `rdtsc` is slow under the
/// hypervisor) against about 40 ns for the coarse clock: with `Instant`,
/// an idle poll of a pipe end spent more time reading the clock than
/// syncing, where the plain ring's consumer reads no clock at all.
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given, a valid
    // local. CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32;
    // the precise clock is the fallback.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        // SAFETY: as above.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

fn mirrored_kind(kind: PortKind) -> PortKind {
    match kind {
        PortKind::PipeMaster => PortKind::PipeSlave,
        PortKind::PipeSlave => PortKind::PipeMaster,
        PortKind::Vale => PortKind::Vale,
    }
}

/// Creates (afresh) and opens the wake-up FIFO of binding `slot`. Opened
/// read-write so that it never reports end-of-file when no writer is left.
fn open_wake_fifo(domain: &Domain, slot: u32) -> std::io::Result<File> {
    let path = domain.wake_path(slot);
    let _ = std::fs::remove_file(&path);
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )?;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
}

/// A port bound by this process on the software engine.
pub struct SoftBinding {
    domain: Arc<Domain>,
    /// The port's entry.
    index: u32,
    /// This binding's entry, and its generation when made.
    slot: u32,
    generation: u32,
    kind: PortKind,
    tx_mask: u32,
    rx_mask: u32,
    layout: BindingLayout,
    fifo: File,
    /// The coarse clock ([`coarse_ms`]) at the last peer check (at the
    /// binding's creation before the first).
    peer_checked_ms: AtomicU64,
    /// A monitor port (`/t`, `/r`): its syncs end when its port closes.
    monitor: bool,
}

impl SoftBinding {
    /// A handle, in this process, to the binding another process `owner`
    /// made (its netmap_if at `if_offset`): the same rings, netmap_if and
    /// wake-up FIFO, synced as the owner syncs them. The binding stays the
    /// owner's: dropping the handle releases nothing (see `Drop`), and its
    /// syncs fail once the owner released it. What a netmap descriptor
    /// passed to another process needs (`netmap-preload`).
    pub fn adopt(domain: Arc<Domain>, if_offset: usize, nr_flags: u64, owner: u32) -> Option<Self> {
        let ctrl = domain.ctrl();
        let slot = (0..MAX_BINDINGS).find(|&b| {
            let e = ctrl.binding(b);
            e.is_active() && e.if_off() == if_offset && e.get(binding::PID) == owner
        })?;
        let b = ctrl.binding(slot);
        let index = b.get(binding::PORT);
        let entry = ctrl.port(index);
        if entry.state() != PORT_ACTIVE {
            return None;
        }
        let monitor = crate::monitor::is_monitor(&entry);
        let kind = if monitor {
            PortKind::Vale
        } else {
            entry.kind()?
        };
        let (tx_mask, rx_mask) = (b.get(binding::TX_MASK), b.get(binding::RX_MASK));
        let specs = |dir: Dir, mask: u32| -> Vec<RingSpec> {
            (0..32)
                .filter(|r| mask >> r & 1 == 1)
                .map(|r| {
                    let k = ctrl.kring(index, dir, r);
                    RingSpec {
                        id: r,
                        offset: k.ring_off(),
                        num_slots: k.num_slots(),
                    }
                })
                .collect()
        };
        let memory = domain.memory();
        let layout = BindingLayout {
            region: Arc::clone(memory.region()),
            if_offset,
            tx_rings: specs(Dir::Tx, tx_mask),
            rx_rings: specs(Dir::Rx, rx_mask),
            buffers: BufferPool {
                base: memory.layout().buf_off,
                buf_size: memory.buf_size(),
                num_bufs: memory.num_bufs(),
            },
            nr_flags,
        };
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(domain.wake_path(slot))
            .ok()?;
        let generation = b.get(binding::GENERATION);
        Some(Self {
            domain,
            index,
            slot,
            generation,
            kind,
            tx_mask,
            rx_mask,
            layout,
            fifo,
            peer_checked_ms: AtomicU64::new(coarse_ms()),
            monitor,
        })
    }

    fn check_alive(&self) -> Result<(), SyncError> {
        let ctrl = self.domain.ctrl();
        let b = ctrl.binding(self.slot);
        if ctrl.port(self.index).state() != PORT_ACTIVE
            || !b.is_active()
            || b.get(binding::GENERATION) != self.generation
        {
            return Err(SyncError::Gone(format!(
                "port entry {} of {} was reclaimed",
                self.index,
                self.domain.name()
            )));
        }
        Ok(())
    }

    /// True when ring `ring` can move nothing for the application: a TX
    /// ring with no free slot, an RX ring with nothing to read.
    fn stalled(&self, dir: Dir, ring: u32) -> bool {
        let specs = match dir {
            Dir::Tx => &self.layout.tx_rings,
            Dir::Rx => &self.layout.rx_rings,
        };
        let Some(spec) = specs.iter().find(|s| s.id == ring) else {
            return false;
        };
        let Ok(view) = RingView::new(&self.layout.region, spec.offset, spec.num_slots) else {
            return false;
        };
        match dir {
            Dir::Tx => view.cur() == view.tail(),
            Dir::Rx => view.head() == view.tail(),
        }
    }

    /// For a pipe end whose ring is stalled: at most every
    /// [`PEER_CHECK_EVERY`], checks that the process holding the other end
    /// lives. If it died, its binding is released, its RX rings are
    /// released whole (the slots this end sent it come back: this end's
    /// TX ring has room again), and the error names it, once: the end
    /// stays open, as an end whose peer was never opened, for a new peer.
    fn check_peer(&self) -> Result<(), SyncError> {
        let now = coarse_ms();
        // Relaxed: a rate limit; two threads checking at once do no harm.
        let last = self.peer_checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PEER_CHECK_EVERY.as_millis() as u64 {
            return Ok(());
        }
        self.peer_checked_ms.store(now, Ordering::Relaxed);
        let ctrl = self.domain.ctrl();
        let peer = ctrl.port(self.index).get(port::PEER);
        if peer >= MAX_ENTRIES {
            return Ok(());
        }
        let pid = ctrl.port(peer).get(port::OWNER_PID);
        if pid == 0 || netmap_ring::lock::task_alive(pid) {
            return Ok(());
        }
        let name = ctrl.port(peer).name();
        {
            let _guard = self.domain.lock();
            ports::reclaim_dead(&self.domain);
            let e = ctrl.port(peer);
            if e.state() == PORT_ACTIVE && e.get(port::BINDINGS) == 0 {
                let region = self.domain.memory().region();
                for r in 0..ports::geometry_of(&e).rx_rings {
                    let k = ctrl.kring(peer, Dir::Rx, r);
                    let (_ring, _) = netmap_ring::lock::ShmLock::new(k.lock_word()).lock();
                    let tail = k.field(kring::HWTAIL).load(Ordering::Acquire);
                    if let Ok(view) = RingView::new(region, k.ring_off(), k.num_slots()) {
                        view.set_head(tail);
                        view.set_cur(tail);
                    }
                    // Release: pairs with the sender's Acquire load of
                    // hwcur in pipe_txsync.
                    k.field(kring::HWCUR).store(tail, Ordering::Release);
                }
            }
        }
        Err(SyncError::Gone(format!(
            "the other end of the pipe, {name} of {}, was held by process {pid}, which died",
            self.domain.name()
        )))
    }

    /// The domain this port lives in.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    /// The port-table entry index.
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl Binding for SoftBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        if ring >= 32 || self.tx_mask >> ring & 1 == 0 {
            return Err(SyncError::NoSuchRing { ring });
        }
        self.check_alive()?;
        match self.kind {
            PortKind::Vale => crate::forward::vale_txsync(&self.domain, self.index, ring),
            PortKind::PipeMaster | PortKind::PipeSlave => {
                if crate::pipe::pipe_txsync(&self.domain, self.index, ring)? {
                    self.check_peer()?;
                }
                Ok(())
            }
        }
    }

    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        if ring >= 32 || self.rx_mask >> ring & 1 == 0 {
            return Err(SyncError::NoSuchRing { ring });
        }
        self.check_alive()?;
        let released = crate::forward::rxsync(&self.domain, self.index, ring)?;
        if self.monitor {
            crate::monitor::check_watched(&self.domain, self.index, ring)?;
        }
        if self.kind != PortKind::Vale && self.stalled(Dir::Rx, ring) {
            self.check_peer()?;
        }
        if released && self.kind != PortKind::Vale {
            // The peer's TX ring of the same number may have room again.
            let peer = self.domain.ctrl().port(self.index).get(port::PEER);
            if peer < crate::ctrl::MAX_ENTRIES {
                crate::forward::kick_ring(&self.domain, peer, Dir::Tx, ring);
            }
        }
        Ok(())
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.fifo.as_fd()
    }

    fn arm(&self) {
        let b = self.domain.ctrl().binding(self.slot);
        // SeqCst store, then the heavy barrier (a fence and a membarrier
        // reaching every publisher's CPU): see `wake` and
        // `forward::kick_ring`; the caller re-reads the rings after this.
        b.field(binding::WAKE_WANTED).store(1, Ordering::SeqCst);
        crate::wake::heavy();
    }

    fn rx_dropped(&self) -> Option<u64> {
        let e = self.domain.ctrl().port(self.index);
        Some(e.read(PortCounter::RxDropFull))
    }

    fn disarm(&self) {
        let b = self.domain.ctrl().binding(self.slot);
        // Still set: nobody kicked, so the FIFO is empty and reading it
        // would be a wasted system call. Cleared: a kicker wrote a byte.
        if b.field(binding::WAKE_WANTED).swap(0, Ordering::SeqCst) == 0 {
            let mut sink = [0u8; 64];
            while matches!((&self.fifo).read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

impl Drop for SoftBinding {
    fn drop(&mut self) {
        let _guard = self.domain.lock();
        let b = self.domain.ctrl().binding(self.slot);
        if b.is_active()
            && b.get(binding::GENERATION) == self.generation
            && b.get(binding::PID) == std::process::id()
        {
            let _ = std::fs::remove_file(self.domain.wake_path(self.slot));
            netmap_ring::crash_point!("soft::close:fifo_removed");
            ports::release_binding(&self.domain, self.slot);
        }
    }
}
