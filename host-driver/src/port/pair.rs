//! The shared memory of one pipe pair on a device backend.
//!
//! The RTL's pipe crossover swaps buffer indexes between the two ends'
//! rings, so both ends must resolve an index to the same buffer: a pair
//! has its own region, found by name by every process of the user (the
//! software engine's domain files: `<dir>/dev-<domain>-<pipe>.pair`, dir
//! `$NETMAP_RS_DIR` or `/dev/shm/netmap-rs-<uid>`), created and formatted
//! under an exclusive `flock` by the first opener. Each process that binds
//! an end maps the region for DMA at its own device address.
//!
//! ```text
//! end 0 (master) area | end 1 (slave) area | buffer pool | header page
//! ```
//! An end's area is a device entry's area of [`MemoryLayout`]: netmap_if,
//! status blocks, TX rings (the application's copy), RX rings. The pool
//! holds exactly the slots of both ends (plus netmap's reserved 0 and 1):
//! there is no free list, an end that (re)opens takes every buffer the
//! other, open, end does not hold, so a crashed end's buffers come back by
//! construction. The header (robust lock, geometry, per end its device
//! entry, owner pid and open flag) uses offsets only.
#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use netmap_ring::lock::{ShmLock, ShmLockGuard};
use netmap_ring::region::PAGE_SIZE;
use netmap_ring::shm::SharedRegion;
use vale_offload::domain::{domain_file_stem, ensure_dir, runtime_dir};
use vale_offload::ports::PortGeometry;

use super::layout::{MemoryLayout, BUF_SIZE};

/// No device entry (the RTL reads a peer index >= its entry count as none).
pub const NO_ENTRY: u32 = u32::MAX;

const MAGIC: u32 = 0x6e6d_7070; // "nmpp"
const STATE_LIVE: u32 = 1;
const STATE_DEAD: u32 = 2;

/// Header words (u32 index into the header page).
mod hdr {
    pub const MAGIC: usize = 0;
    pub const STATE: usize = 1;
    pub const LOCK: usize = 2;
    pub const NUM_BUFS: usize = 3;
    /// Master end's geometry: tx_rings, rx_rings, tx_slots, rx_slots.
    pub const GEOMETRY: usize = 4;
    /// Per end `e`: words at END + e * END_WORDS.
    pub const END: usize = 8;
    pub const END_WORDS: usize = 4;
    pub const ENTRY: usize = 0;
    pub const OWNER: usize = 1;
    pub const OPEN: usize = 2;
}

/// Why a pair region could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error(transparent)]
    Domain(#[from] vale_offload::domain::DomainError),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("{path}: not a usable pipe pair region: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error("{path}: could not join the pipe pair after {tries} tries")]
    Contended { path: PathBuf, tries: u32 },
}

/// One mapped pair region.
pub struct PairRegion {
    pub path: PathBuf,
    pub region: Arc<SharedRegion>,
    /// Offsets of the two ends' areas (entry 0 = master, 1 = slave) and of
    /// the pool.
    pub layout: MemoryLayout,
    header_off: usize,
}

impl std::fmt::Debug for PairRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairRegion")
            .field("path", &self.path)
            .finish()
    }
}

/// The geometry of the end `end` (0 master, 1 slave) given the master's.
pub fn end_geometry(master: PortGeometry, end: usize) -> PortGeometry {
    if end == 0 {
        master
    } else {
        PortGeometry {
            tx_rings: master.rx_rings,
            rx_rings: master.tx_rings,
            tx_slots: master.rx_slots,
            rx_slots: master.tx_slots,
        }
    }
}

/// Buffers a pair of this master geometry needs: every slot of both ends,
/// plus netmap's reserved buffers 0 and 1.
fn pool_buffers(g: PortGeometry) -> u32 {
    2 + 2 * (g.tx_rings * g.tx_slots + g.rx_rings * g.rx_slots)
}

fn layout_for(num_bufs: u32) -> (MemoryLayout, usize, usize) {
    // No BAR2 in the pair region: BAR2 offsets come from the device's layout.
    let layout = MemoryLayout::new(2, num_bufs, 0);
    let header_off = layout.len;
    (layout, header_off, header_off + PAGE_SIZE)
}

impl PairRegion {
    /// Path of the region of pipe `master_entry` (e.g. `x{1`) in `domain`
    /// on the device named by `scope` ([`crate::device::Device::scope`]).
    pub fn path_of(scope: &str, domain: &str, master_entry: &str) -> PathBuf {
        runtime_dir().join(format!(
            "dev-{}-{}-{}.pair",
            domain_file_stem(scope),
            domain_file_stem(domain),
            domain_file_stem(master_entry)
        ))
    }

    /// Opens (creating with the master geometry `master` if needed) the
    /// pair region at `path`.
    pub fn open(path: &Path, master: PortGeometry) -> Result<PairRegion, PairError> {
        ensure_dir(path.parent().unwrap_or(Path::new("/")))?;
        const TRIES: u32 = 50;
        for _ in 0..TRIES {
            if let Some(pair) = Self::try_open(path, master)? {
                return Ok(pair);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Err(PairError::Contended {
            path: path.to_owned(),
            tries: TRIES,
        })
    }

    fn try_open(path: &Path, master: PortGeometry) -> Result<Option<PairRegion>, PairError> {
        let file_err = |source| PairError::File {
            path: path.to_owned(),
            source,
        };
        let corrupt = |why: String| PairError::Corrupt {
            path: path.to_owned(),
            why,
        };
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
        {
            Ok(file) => {
                rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
                    .map_err(|e| file_err(e.into()))?;
                let num_bufs = pool_buffers(master);
                let (layout, header_off, len) = layout_for(num_bufs);
                file.set_len(len as u64).map_err(file_err)?;
                let region = SharedRegion::from_fd(file.try_clone().map_err(file_err)?.into())
                    .map_err(|e| corrupt(e.to_string()))?;
                let pair = PairRegion {
                    path: path.to_owned(),
                    region: Arc::new(region),
                    layout,
                    header_off,
                };
                pair.word(hdr::NUM_BUFS).store(num_bufs, Ordering::Relaxed);
                for (i, v) in [
                    master.tx_rings,
                    master.rx_rings,
                    master.tx_slots,
                    master.rx_slots,
                ]
                .into_iter()
                .enumerate()
                {
                    pair.word(hdr::GEOMETRY + i).store(v, Ordering::Relaxed);
                }
                for end in 0..2 {
                    pair.end_word(end, hdr::ENTRY)
                        .store(NO_ENTRY, Ordering::Relaxed);
                }
                pair.word(hdr::STATE).store(STATE_LIVE, Ordering::Relaxed);
                // Release: joiners that see the magic see the header.
                pair.word(hdr::MAGIC).store(MAGIC, Ordering::Release);
                let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::Unlock);
                Ok(Some(pair))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let file = match OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(path)
                {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(file_err(e)),
                };
                // Waits for a creator still formatting.
                rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared)
                    .map_err(|e| file_err(e.into()))?;
                let size = file.metadata().map_err(file_err)?.len() as usize;
                let region = if size == 0 {
                    None
                } else {
                    SharedRegion::from_fd(file.try_clone().map_err(file_err)?.into()).ok()
                };
                let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::Unlock);
                let Some(region) = region else {
                    // A creator died half way: remove its file and retry.
                    let _ = std::fs::remove_file(path);
                    return Ok(None);
                };
                let magic_ok = size >= PAGE_SIZE
                    && region
                        .atomic_u32(size - PAGE_SIZE)
                        .is_ok_and(|w| w.load(Ordering::Acquire) == MAGIC);
                if !magic_ok {
                    let _ = std::fs::remove_file(path);
                    return Ok(None);
                }
                let num_bufs = region
                    .atomic_u32(size - PAGE_SIZE + 4 * hdr::NUM_BUFS)
                    .map_err(|e| corrupt(e.to_string()))?
                    .load(Ordering::Relaxed);
                let (layout, header_off, len) = layout_for(num_bufs);
                if len != size {
                    return Err(corrupt(format!(
                        "{size} bytes, {len} expected for {num_bufs} buffers"
                    )));
                }
                let pair = PairRegion {
                    path: path.to_owned(),
                    region: Arc::new(region),
                    layout,
                    header_off,
                };
                Ok(pair.is_live().then_some(pair))
            }
            Err(e) => Err(file_err(e)),
        }
    }

    fn word(&self, index: usize) -> &AtomicU32 {
        self.region
            .atomic_u32(self.header_off + 4 * index)
            .expect("header inside the region")
    }

    fn end_word(&self, end: usize, field: usize) -> &AtomicU32 {
        self.word(hdr::END + end * hdr::END_WORDS + field)
    }

    /// True until the pair was destroyed (its last end closed).
    pub fn is_live(&self) -> bool {
        self.word(hdr::STATE).load(Ordering::Acquire) == STATE_LIVE
    }

    /// Takes the pair's robust lock (header changes, ring formatting).
    pub fn lock(&self) -> ShmLockGuard<'_> {
        ShmLock::new(self.word(hdr::LOCK)).lock().0
    }

    /// The master end's geometry.
    pub fn master_geometry(&self) -> PortGeometry {
        let w = |i| self.word(hdr::GEOMETRY + i).load(Ordering::Relaxed);
        PortGeometry {
            tx_rings: w(0),
            rx_rings: w(1),
            tx_slots: w(2),
            rx_slots: w(3),
        }
    }

    /// Device entry recorded for end `end` (bound, or reserved for it).
    pub fn entry(&self, end: usize) -> u32 {
        self.end_word(end, hdr::ENTRY).load(Ordering::Acquire)
    }

    pub fn set_entry(&self, end: usize, entry: u32) {
        self.end_word(end, hdr::ENTRY)
            .store(entry, Ordering::Release);
    }

    /// The owner pid of end `end` if it is open by a live process.
    pub fn live_owner(&self, end: usize) -> Option<u32> {
        if self.end_word(end, hdr::OPEN).load(Ordering::Acquire) == 0 {
            return None;
        }
        let owner = self.end_word(end, hdr::OWNER).load(Ordering::Acquire);
        netmap_ring::lock::task_alive(owner).then_some(owner)
    }

    /// Clears the open flags this process's pid holds: called when a
    /// process maps a pair it has no binding of, so such flags are a dead
    /// process's whose pid we reuse.
    pub fn clear_stale_self(&self) {
        let _guard = self.lock();
        for end in 0..2 {
            if self.end_word(end, hdr::OWNER).load(Ordering::Acquire) == std::process::id() {
                self.set_open(end, false);
            }
        }
    }

    /// Marks end `end` open by this process, or closed.
    pub fn set_open(&self, end: usize, open: bool) {
        self.end_word(end, hdr::OWNER)
            .store(if open { std::process::id() } else { 0 }, Ordering::Release);
        self.end_word(end, hdr::OPEN)
            .store(u32::from(open), Ordering::Release);
    }

    /// Marks the pair dead and removes its file (with the lock held, after
    /// its last end closed): the next opener creates a fresh one.
    pub fn destroy_locked(&self) {
        self.word(hdr::STATE).store(STATE_DEAD, Ordering::Release);
        let _ = std::fs::remove_file(&self.path);
    }

    /// Buffer size of the pool.
    pub fn buf_size(&self) -> u32 {
        BUF_SIZE
    }
}
