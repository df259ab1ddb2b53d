//! Netmap descriptors received from another process (SCM_RIGHTS, or kept
//! across `exec`): software engine only.
//!
//! The kernel finds a binding from the open file, so a descriptor sent to
//! another process brings its binding along. Here the binding is a handle
//! in the registering process; the engine state behind it is in shared
//! memory. So a registration records, under the eventfd's system-wide id
//! (`eventfd-id` in `/proc/self/fdinfo`), where its binding lives
//! (`$NETMAP_RS_DIR/preload-fds/<id>`: domain and netmap_if offset), and a
//! process that meets an unknown eventfd in a netmap `ioctl` or `mmap`
//! looks the id up and builds a handle to that same binding: the same
//! netmap_if, rings and wake-up FIFO, synced with the engine's functions.
//!
//! This is a stopgap with the engine's internals: the engine should offer
//! it as `Backend::adopt` (a binding handed to another process). The
//! binding still belongs to the registering process: when that process
//! closes its last descriptor (or dies), the binding ends and the
//! receiver's syncs fail with ENXIO (the kernel keeps it to the last close
//! anywhere).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

use netmap_ring::port::{Binding, BindingLayout, BufferPool, RingSpec, SyncError};
use vale_offload::placement::{DomainKind, PortKind};
use vale_soft::ctrl::{binding, port, Dir, PORT_ACTIVE};
use vale_soft::domain::Domain;

use crate::file::{Bound, NmFile};

/// Bindings per domain.
const MAX_SCAN: u32 = vale_soft::ctrl::MAX_BINDINGS;

fn records() -> PathBuf {
    netmap_ring::rundir::runtime_dir().join("preload-fds")
}

/// The system-wide id of the eventfd `fd`, if it is one.
pub fn eventfd_id(fd: RawFd) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("eventfd-id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Where a soft binding lives, for other processes.
pub struct Record {
    pub domain: String,
    pub kind: DomainKind,
    pub if_offset: usize,
}

/// Records the binding of eventfd `id` (after a successful registration).
pub fn publish(id: u64, record: &Record, nr_flags: u64, name: &str) {
    let kind = match record.kind {
        DomainKind::Switch => "switch",
        DomainKind::Pipes => "pipes",
    };
    let text = format!(
        "{}\n{kind}\n{}\n{nr_flags}\n{name}\n{}\n",
        record.domain,
        record.if_offset,
        std::process::id()
    );
    let dir = records();
    let _ = std::fs::create_dir_all(&dir);
    let tmp = dir.join(format!(".{id}.{}", std::process::id()));
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join(id.to_string()));
    }
}

/// Forgets the record of eventfd `id` (its registering process closed it).
pub fn withdraw(id: u64) {
    let _ = std::fs::remove_file(records().join(id.to_string()));
}

/// The binding behind `fd`, if it is a netmap descriptor another process
/// registered (and recorded). On success the descriptor joins the table.
///
/// Touches no backend unless a record exists (it runs inside `recvmsg`,
/// which a device backend calls while it connects, holding its own locks);
/// records are made by software-engine bindings only.
pub fn adopt(fd: RawFd) -> Option<Arc<NmFile>> {
    let id = eventfd_id(fd)?;
    let text = std::fs::read_to_string(records().join(id.to_string())).ok()?;
    let mut lines = text.lines();
    let domain_name = lines.next()?.to_owned();
    let kind = match lines.next()? {
        "switch" => DomainKind::Switch,
        _ => DomainKind::Pipes,
    };
    let if_offset: usize = lines.next()?.parse().ok()?;
    let nr_flags: u64 = lines.next()?.parse().ok()?;
    let name = lines.next()?.to_owned();
    // The registering process: its binding, and alive (ids are recycled,
    // and a dead process's record may be left behind).
    let owner: u32 = lines.next()?.parse().ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    if owner == 0 || unsafe { libc::kill(owner as libc::pid_t, 0) } != 0 {
        return None;
    }
    let domain = match kind {
        DomainKind::Switch | DomainKind::Pipes => {
            vale_soft::admin::open_existing(&domain_name).ok()?
        }
    };
    let handle = AdoptedBinding::find(domain, if_offset, nr_flags, owner)?;
    let bound = Bound::adopted(Box::new(handle), nr_flags, name).ok()?;
    let file = Arc::new(NmFile::with_bound(bound, Some(id)));
    crate::table::insert(fd, Arc::clone(&file));
    Some(file)
}

/// A handle to a binding another process made.
struct AdoptedBinding {
    domain: Arc<Domain>,
    index: u32,
    slot: u32,
    generation: u32,
    kind: PortKind,
    tx_mask: u32,
    rx_mask: u32,
    layout: BindingLayout,
    fifo: File,
}

impl AdoptedBinding {
    /// The active binding of `domain` that process `owner` made, with its
    /// netmap_if at `if_offset`.
    fn find(domain: Arc<Domain>, if_offset: usize, nr_flags: u64, owner: u32) -> Option<Self> {
        let ctrl = domain.ctrl();
        let slot = (0..MAX_SCAN).find(|&b| {
            let e = ctrl.binding(b);
            e.is_active() && e.if_off() == if_offset && e.get(binding::PID) == owner
        })?;
        let b = ctrl.binding(slot);
        let index = b.get(binding::PORT);
        let entry = ctrl.port(index);
        if entry.state() != PORT_ACTIVE {
            return None;
        }
        let kind = entry.kind()?;
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
        })
    }

    fn check_alive(&self) -> Result<(), SyncError> {
        let ctrl = self.domain.ctrl();
        let b = ctrl.binding(self.slot);
        if ctrl.port(self.index).state() != PORT_ACTIVE
            || !b.is_active()
            || b.get(binding::GENERATION) != self.generation
        {
            return Err(SyncError::Gone(
                "the registering process closed the binding".into(),
            ));
        }
        Ok(())
    }

    /// Wakes whoever waits for room in the peer's TX ring `ring` (what the
    /// engine does after an rxsync of a pipe end releases slots).
    fn kick_peer_tx(&self, ring: u32) {
        let ctrl = self.domain.ctrl();
        let peer = ctrl.port(self.index).get(port::PEER);
        if peer >= vale_soft::ctrl::MAX_ENTRIES {
            return;
        }
        vale_soft::forward::kick_ring(&self.domain, peer, Dir::Tx, ring);
    }
}

impl Binding for AdoptedBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        if ring >= 32 || self.tx_mask >> ring & 1 == 0 {
            return Err(SyncError::NoSuchRing { ring });
        }
        self.check_alive()?;
        match self.kind {
            PortKind::Vale => vale_soft::forward::vale_txsync(&self.domain, self.index, ring),
            PortKind::PipeMaster | PortKind::PipeSlave => {
                vale_soft::pipe::pipe_txsync(&self.domain, self.index, ring)
            }
        }
    }

    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        if ring >= 32 || self.rx_mask >> ring & 1 == 0 {
            return Err(SyncError::NoSuchRing { ring });
        }
        self.check_alive()?;
        let released = vale_soft::forward::rxsync(&self.domain, self.index, ring)?;
        if released && self.kind != PortKind::Vale {
            self.kick_peer_tx(ring);
        }
        Ok(())
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.fifo.as_fd()
    }

    fn arm(&self) {
        let b = self.domain.ctrl().binding(self.slot);
        // SeqCst store + fence, as the engine's own bindings (the kicker's
        // fence is the partner); the caller re-reads the rings after this.
        b.field(binding::WAKE_WANTED).store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    fn disarm(&self) {
        let b = self.domain.ctrl().binding(self.slot);
        if b.field(binding::WAKE_WANTED).swap(0, Ordering::SeqCst) == 0 {
            let mut sink = [0u8; 64];
            while matches!((&self.fifo).read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}
