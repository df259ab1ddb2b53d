//! The shared memory of one pipe pair on a device backend.
//!
//! The RTL's pipe crossover swaps buffer indexes between the two ends'
//! rings, so both ends must resolve an index to the same buffer: a pair
//! has its own region, found by name by every process of the user (the
//! software engine's domain files: `<dir>/dev-<device>-<domain>-<pipe>.pair`, dir
//! `$NETMAP_RS_DIR` or `/dev/shm/netmap-rs-<uid>`), formatted by the
//! first opener under a temporary name and linked into place (a pair file
//! is always whole). Each process that binds an end maps the region for
//! DMA at its own device address, and holds a shared `flock` on its file
//! while it does: a file nobody locks belongs to dead processes only, and
//! the next pair open removes it ([`sweep_unused`]).
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
use netmap_ring::rundir::{ensure_dir, file_stem, runtime_dir};
use netmap_ring::shm::SharedRegion;
use vale_offload::geometry::PortGeometry;

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
    Domain(#[from] netmap_ring::rundir::RunDirError),
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
            file_stem(scope),
            file_stem(domain),
            file_stem(master_entry)
        ))
    }

    /// Opens (creating with the master geometry `master` if needed) the
    /// pair region at `path`. Pair files nobody maps any more (ends of
    /// killed processes, `sim:private` processes killed with their pipes)
    /// are removed from its directory first ([`sweep_unused`]).
    pub fn open(path: &Path, master: PortGeometry) -> Result<PairRegion, PairError> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        ensure_dir(dir)?;
        sweep_unused(dir);
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

    /// Joins the pair at `path`, or creates it; `None`: try again (it was
    /// destroyed meanwhile, or another process created it first).
    fn try_open(path: &Path, master: PortGeometry) -> Result<Option<PairRegion>, PairError> {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
        {
            Ok(file) => Self::join(path, file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(path, master),
            Err(source) => Err(PairError::File {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Creates the pair: formatted under a temporary name, then linked to
    /// `path`, so that a file at `path` is always whole.
    fn create(path: &Path, master: PortGeometry) -> Result<Option<PairRegion>, PairError> {
        let temp = temp_path(path);
        let file_err = |source| PairError::File {
            path: temp.clone(),
            source,
        };
        // Ours by name: a leftover of a dead process whose pid we reuse.
        let _ = std::fs::remove_file(&temp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&temp)
            .map_err(file_err)?;
        let formatted = (|| {
            hold_shared(&file).map_err(file_err)?;
            let num_bufs = pool_buffers(master);
            let (layout, header_off, len) = layout_for(num_bufs);
            file.set_len(len as u64).map_err(file_err)?;
            let region = SharedRegion::from_fd(file.into()).map_err(|e| PairError::Corrupt {
                path: temp.clone(),
                why: e.to_string(),
            })?;
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
            pair.word(hdr::MAGIC).store(MAGIC, Ordering::Release);
            Ok(pair)
        })();
        let linked = formatted.and_then(|pair| match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(Some(pair)),
            // Another process created it first: join theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(source) => Err(PairError::File {
                path: path.to_owned(),
                source,
            }),
        });
        let _ = std::fs::remove_file(&temp);
        linked
    }

    /// Maps the existing pair whose file is `file` (opened at `path`).
    fn join(path: &Path, file: std::fs::File) -> Result<Option<PairRegion>, PairError> {
        let file_err = |source| PairError::File {
            path: path.to_owned(),
            source,
        };
        // Blocks only while a sweep looks at the file (a moment); then the
        // file is either still live or was marked dead before its removal.
        hold_shared(&file).map_err(file_err)?;
        let size = file.metadata().map_err(file_err)?.len() as usize;
        let region = if size < PAGE_SIZE {
            None
        } else {
            SharedRegion::from_fd(file.into()).ok()
        };
        let Some(region) = region.filter(|r| {
            r.atomic_u32(size - PAGE_SIZE)
                .is_ok_and(|w| w.load(Ordering::Acquire) == MAGIC)
        }) else {
            // Not a pair region (files appear formatted): remove and retry.
            let _ = std::fs::remove_file(path);
            return Ok(None);
        };
        let num_bufs = region
            .atomic_u32(size - PAGE_SIZE + 4 * hdr::NUM_BUFS)
            .map_err(|e| PairError::Corrupt {
                path: path.to_owned(),
                why: e.to_string(),
            })?
            .load(Ordering::Relaxed);
        let (layout, header_off, len) = layout_for(num_bufs);
        if len != size {
            return Err(PairError::Corrupt {
                path: path.to_owned(),
                why: format!("{size} bytes, {len} expected for {num_bufs} buffers"),
            });
        }
        let pair = PairRegion {
            path: path.to_owned(),
            region: Arc::new(region),
            layout,
            header_off,
        };
        Ok(pair.is_live().then_some(pair))
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

/// Where a pair is formatted before it is linked to `path`: next to it,
/// named after this process (`<path>.<pid>.tmp`).
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// A shared `flock` on the pair's file, kept as long as the file is open
/// (the mapping keeps it): "some process maps this pair".
fn hold_shared(file: &std::fs::File) -> io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockShared).map_err(io::Error::from)
}

/// Removes from `dir` the pair files no process maps (their every end's
/// process is dead: each mapping holds a shared `flock`, which the kernel
/// drops when its process dies) and the temporary files of creators that
/// died. A device's entries of dead processes are released by the device
/// (a `sim:private` device died with its process), so nothing refers to
/// such a pair. Returns how many pair files went.
pub fn sweep_unused(dir: &Path) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| n.starts_with("dev-")) else {
            continue;
        };
        let path = entry.path();
        if name.ends_with(".pair") {
            removed += u32::from(remove_if_unused(&path));
        } else if let Some(pid) = name
            .strip_suffix(".tmp")
            .and_then(|rest| rest.rsplit_once('.'))
            .filter(|(pair, _)| pair.ends_with(".pair"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        {
            if pid != std::process::id() && !netmap_ring::lock::task_alive(pid) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    removed
}

/// Removes the pair file at `path` if no process maps it; true if it did.
fn remove_if_unused(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
    else {
        return false;
    };
    // Someone maps it (or is joining it): keep it.
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return false;
    }
    // With the lock held nobody else can remove or replace the file, but
    // it may have been replaced between our open and our lock.
    let same_file = match (file.metadata(), std::fs::metadata(path)) {
        (Ok(ours), Ok(now)) => ours.dev() == now.dev() && ours.ino() == now.ino(),
        _ => false,
    };
    if !same_file {
        return false;
    }
    let size = file.metadata().map_or(0, |m| m.len() as usize);
    if size >= PAGE_SIZE {
        // A second descriptor of the locked file: `file` keeps the lock
        // until the end, whatever the mapping does.
        let mapped = file
            .try_clone()
            .ok()
            .and_then(|fd| SharedRegion::from_fd(fd.into()).ok());
        if let Some(region) = mapped {
            let header = size - PAGE_SIZE;
            let word = |i: usize| region.atomic_u32(header + 4 * i).ok();
            if word(hdr::MAGIC).is_some_and(|w| w.load(Ordering::Acquire) == MAGIC) {
                // Belt and braces: an end open by a live process (pid
                // reuse can only make us keep a file).
                let owner_alive = (0..2).any(|end| {
                    let field = |f| word(hdr::END + end * hdr::END_WORDS + f);
                    field(hdr::OPEN).is_some_and(|w| w.load(Ordering::Acquire) != 0)
                        && field(hdr::OWNER).is_some_and(|w| {
                            netmap_ring::lock::task_alive(w.load(Ordering::Acquire))
                        })
                });
                if owner_alive {
                    return false;
                }
                // A joiner that opened the file before its removal sees
                // it dead once it gets its lock, and starts again.
                if let Some(state) = word(hdr::STATE) {
                    state.store(STATE_DEAD, Ordering::Release);
                }
            }
        }
    }
    std::fs::remove_file(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry() -> PortGeometry {
        PortGeometry {
            tx_rings: 1,
            rx_rings: 1,
            tx_slots: 8,
            rx_slots: 8,
        }
    }

    fn scratch_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nm-pair-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The runtime directory's rule: private to the user.
        ensure_dir(&dir).unwrap();
        dir
    }

    #[test]
    fn a_mapped_pair_is_kept_and_an_unmapped_one_swept() {
        let dir = scratch_dir("sweep");
        let kept = dir.join("dev-p1-x-kept.pair");
        let left = dir.join("dev-p1-x-left.pair");
        let pair = PairRegion::open(&kept, geometry()).unwrap();
        // Mapped then dropped with its end "open" by a dead pid: what a
        // killed process leaves.
        let dropped = PairRegion::open(&left, geometry()).unwrap();
        dropped.end_word(0, hdr::OWNER).store(0, Ordering::Release);
        dropped.end_word(0, hdr::OPEN).store(1, Ordering::Release);
        drop(dropped);
        assert!(left.exists());
        assert_eq!(sweep_unused(&dir), 1);
        assert!(!left.exists(), "the unmapped pair stayed");
        assert!(kept.exists(), "the mapped pair was removed");
        assert!(pair.is_live());
        // Opening another pair sweeps too, and keeps the mapped one.
        drop(PairRegion::open(&left, geometry()).unwrap());
        let _again = PairRegion::open(&dir.join("dev-p1-x-other.pair"), geometry()).unwrap();
        assert!(!left.exists());
        assert!(kept.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_joiner_of_a_swept_pair_starts_a_new_one() {
        let dir = scratch_dir("join");
        let path = dir.join("dev-p1-x-j.pair");
        drop(PairRegion::open(&path, geometry()).unwrap());
        // Opened before the sweep, locked after it: sees it dead.
        let early = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        assert!(remove_if_unused(&path));
        assert!(PairRegion::join(&path, early).unwrap().is_none());
        let fresh = PairRegion::open(&path, geometry()).unwrap();
        assert!(fresh.is_live() && path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_files_of_dead_creators_go() {
        let dir = scratch_dir("temp");
        // A pid that cannot be alive (above pid_max's largest value).
        let dead = dir.join("dev-p1-x-y.pair.4194305.tmp");
        let mine = temp_path(&dir.join("dev-p1-x-z.pair"));
        let other = dir.join("notes.4194305.tmp");
        for file in [&dead, &mine, &other] {
            std::fs::write(file, b"").unwrap();
        }
        sweep_unused(&dir);
        assert!(!dead.exists());
        assert!(mine.exists(), "our own temporary file is ours to remove");
        assert!(other.exists(), "not a pair's file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
