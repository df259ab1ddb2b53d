//! Memory domains: one shared region per VALE switch (or per pipe parent),
//! found by name by every process of the user.
//!
//! A domain is a file `<dir>/<name>.mem` (dir = `$NETMAP_RS_DIR`, default
//! `/dev/shm/netmap-rs-<uid>`, mode 0700) holding netmap's three pools and
//! the engine's control area. The first opener builds it whole (memory
//! reserved, formatted) in a hidden file of its own and links it into
//! place; later openers map it. A joiner never sees a half-built domain,
//! and of two racing creators the second to link joins the first's.
//! When the last port closes, the domain is marked dead and its files
//! unlinked: a switch exists exactly while it has ports, as in netmap.
//! Ports of processes that died are reclaimed by the next process that
//! takes the domain lock (see [`Domain::reclaim_dead`]).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use netmap_ring::lock::{Acquired, ShmLock, ShmLockGuard};
use netmap_ring::region::{NetmapMemory, RegionConfig};
use netmap_ring::rundir::{ensure_dir, file_stem, runtime_dir, RunDirError};
use netmap_ring::shm::{AtomicU64Window, SharedRegion};

use vale_offload::placement::DomainKind;

use crate::ctrl::{self, Ctrl, DOMAIN_DEAD, DOMAIN_LIVE};
use vale_offload::table::{EntryStore, Geometry, LearningTable};

/// Why a domain could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error("{path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("{path}: cannot reserve {} MiB for the switch's memory: {source} (see df -h on its directory; NETMAP_RS_BUFS sets fewer buffers)", bytes >> 20)]
    Reserve {
        path: PathBuf,
        bytes: u64,
        source: io::Error,
    },
    #[error("{path}: not a usable netmap memory: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error("{path}: could not join the domain after {tries} tries (it keeps being created and destroyed)")]
    Contended { path: PathBuf, tries: u32 },
}

impl DomainError {
    /// The runtime directory or the domain's file refuses us.
    pub fn is_permission(&self) -> bool {
        match self {
            DomainError::RunDir(e) => e.is_permission(),
            DomainError::File { source, .. } => source.kind() == io::ErrorKind::PermissionDenied,
            _ => false,
        }
    }
}

/// The MAC table words of a domain, in its region.
#[derive(Clone)]
pub struct RegionTable {
    /// The table's words, bounds-checked once when the domain is mapped.
    words: AtomicU64Window,
}

impl EntryStore for RegionTable {
    fn len(&self) -> usize {
        self.words.len()
    }
    #[inline]
    fn load(&self, index: usize) -> u64 {
        self.words.get(index).load(Ordering::Relaxed)
    }
    #[inline]
    fn store(&self, index: usize, entry: u64) {
        self.words.get(index).store(entry, Ordering::Relaxed)
    }
    #[inline]
    fn prefetch(&self, index: usize) {
        self.words.prefetch(index)
    }
}

/// One mapped domain, shared by every port of this process in it.
pub struct Domain {
    name: String,
    path: PathBuf,
    /// (device, inode) of the region file this domain mapped: `path` may
    /// name a newer domain's file once this one is gone.
    file_id: (u64, u64),
    kind: DomainKind,
    memory: NetmapMemory,
    /// The control area as checked once at open ([`Ctrl::new`]): `ctrl`
    /// copies it instead of checking the region again at every call.
    ctrl_fixed: usize,
    table: LearningTable<RegionTable>,
    /// Wake-up FIFOs of other ports, opened for writing on first use:
    /// entry index -> (entry generation, fifo).
    pub(crate) wakers: Mutex<HashMap<u32, (u32, File)>>,
    /// The forwarding policy this process applies (netmap's bdg_ops).
    pub(crate) lookup: Mutex<Arc<dyn crate::forward::Lookup>>,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish()
    }
}

/// (device, inode) of an open file.
fn file_id(file: &File) -> io::Result<(u64, u64)> {
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// Removes a dead domain's files: the wake-up FIFOs of its bindings
/// (`<stem>.b<slot>.wake`, left behind when their owner was killed or the
/// domain was found unformatted) and then its region file. Only while
/// `path` still names the file `file_id` identifies (the caller holds that
/// file open or mapped, so its inode number is not reused): once it is
/// unlinked a new domain may take the name, and its files are not ours.
/// (Nobody binds into a dead domain, so no FIFO of ours appears meanwhile.)
/// Where process `pid` builds the domain of `path` before linking it in:
/// hidden, and not a `.mem` file, so listings never see it.
fn creator_path(path: &Path, pid: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("domain");
    path.with_file_name(format!(".{stem}.{pid}.new"))
}

/// Removes the hidden files that creators of any domain in `dir` left when
/// they were killed mid-build (`.<stem>.<pid>.new`, pid dead): each holds
/// a whole switch's memory.
fn sweep_dead_creators(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".new"))
            .and_then(|n| n.rsplit_once('.'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !netmap_ring::lock::task_alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn remove_domain_files(path: &Path, file_id: (u64, u64)) {
    let still_ours = std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == file_id);
    if !still_ours {
        return;
    }
    if let (Some(dir), Some(stem)) = (path.parent(), path.file_stem().and_then(|s| s.to_str())) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let is_our_fifo = name
                .to_str()
                .and_then(|n| n.strip_prefix(stem))
                .and_then(|n| n.strip_prefix(".b"))
                .and_then(|n| n.strip_suffix(".wake"))
                .is_some_and(|slot| !slot.is_empty() && slot.bytes().all(|b| b.is_ascii_digit()));
            if is_our_fifo {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let _ = std::fs::remove_file(path);
    // A creator killed after linking its file in left its hidden name.
    if let Some(dir) = path.parent() {
        sweep_dead_creators(dir);
    }
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Domain>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Domain>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Region sizing of new domains: the default, or `NETMAP_RS_BUFS` buffers.
fn region_config(table_entries: usize) -> RegionConfig {
    let mut config = RegionConfig {
        ctrl_size: ctrl::ctrl_size(table_entries),
        ..RegionConfig::default()
    };
    if let Some(bufs) = std::env::var("NETMAP_RS_BUFS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.num_bufs = bufs;
    }
    config
}

impl Domain {
    /// Opens (creating if needed) the domain `name` of this user.
    pub fn open(name: &str, kind: DomainKind) -> Result<Arc<Domain>, DomainError> {
        // Before any sync of this process: its kicks may then skip the
        // fence (`wake`).
        crate::wake::register();
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(domain) = reg.get(name).and_then(Weak::upgrade) {
            if domain.is_live() {
                return Ok(domain);
            }
        }
        let dir = runtime_dir();
        ensure_dir(&dir)?;
        let path = dir.join(format!("{}.mem", file_stem(name)));
        const TRIES: u32 = 50;
        for _ in 0..TRIES {
            if let Some(domain) = Self::try_open(name, &path, kind)? {
                let domain = Arc::new(domain);
                reg.insert(name.to_owned(), Arc::downgrade(&domain));
                return Ok(domain);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Err(DomainError::Contended { path, tries: TRIES })
    }

    /// One attempt: create, or join a live domain. `None` means "try again"
    /// (lost a race with a creator or a destroyer).
    /// Builds the domain in a file of its own and links it into place, so
    /// that a joiner never sees a half-built domain and a creator killed
    /// half way leaves only its temporary file (swept by the next
    /// creator). `None`: another creator linked first; join theirs.
    fn create(name: &str, path: &Path, kind: DomainKind) -> Result<Option<Domain>, DomainError> {
        let file_err = |source| DomainError::File {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            sweep_dead_creators(dir);
        }
        let tmp = creator_path(path, std::process::id());
        let _ = std::fs::remove_file(&tmp); // ours, from a thread that failed
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(file_err)?;
        netmap_ring::crash_point!("domain::create:file_made");
        let built = Self::build(name, path, kind, &file).and_then(|domain| {
            netmap_ring::crash_point!("domain::create:formatted");
            match std::fs::hard_link(&tmp, path) {
                Ok(()) => {
                    netmap_ring::crash_point!("domain::create:linked");
                    Ok(Some(domain))
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(file_err(e)),
            }
        });
        let _ = std::fs::remove_file(&tmp);
        built
    }

    /// Sizes, reserves and formats a new domain's file.
    fn build(
        name: &str,
        path: &Path,
        kind: DomainKind,
        file: &File,
    ) -> Result<Domain, DomainError> {
        let file_err = |source| DomainError::File {
            path: path.to_owned(),
            source,
        };
        let corrupt = |why: String| DomainError::Corrupt {
            path: path.to_owned(),
            why,
        };
        let geometry = Geometry::default();
        let config = region_config(geometry.entries());
        let layout =
            netmap_ring::region::RegionLayout::new(config).map_err(|e| corrupt(e.to_string()))?;
        // Reserve the header, control area and netmap_if pool now (a sparse
        // file on a full tmpfs maps, then kills the first process to touch
        // a missing page with SIGBUS); rings and buffers are reserved as
        // they are allocated (`NetmapMemory::alloc_rings`, `alloc_buffers`):
        // most of their pools is never used, and reserving all 208 MB made
        // creating a switch 100 ms slower.
        file.set_len(layout.total_len as u64).map_err(file_err)?;
        let bytes = layout.ring_off as u64;
        rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, bytes).map_err(
            |e| DomainError::Reserve {
                path: path.to_owned(),
                bytes,
                source: e.into(),
            },
        )?;
        netmap_ring::crash_point!("domain::create:reserved");
        let fd = file.try_clone().map_err(file_err)?;
        let region =
            Arc::new(SharedRegion::from_fd(fd.into()).map_err(|e| corrupt(e.to_string()))?);
        let memory = NetmapMemory::format(region, config).map_err(|e| corrupt(e.to_string()))?;
        let ctrl = Ctrl::new(memory.region(), memory.layout().ctrl_off);
        ctrl.format(kind, name, geometry.rows, geometry.ways);
        Self::from_memory(name, path, file_id(file).map_err(file_err)?, memory)
    }

    /// Joins the domain whose file is `file` (found at `path`). `None`: it
    /// is dead, or not a domain this build can use (then it is removed).
    fn join(
        name: &str,
        path: &Path,
        kind: DomainKind,
        file: File,
    ) -> Result<Option<Domain>, DomainError> {
        let file_err = |source| DomainError::File {
            path: path.to_owned(),
            source,
        };
        let id = file_id(&file).map_err(file_err)?;
        let region = SharedRegion::from_fd(file.into()).ok();
        let memory = region.and_then(|r| NetmapMemory::attach(Arc::new(r)).ok());
        let formatted = memory
            .as_ref()
            .is_some_and(|m| Ctrl::new(m.region(), m.layout().ctrl_off).is_formatted());
        let Some(memory) = memory.filter(|_| formatted) else {
            // Files are linked in whole, so this is an older build's layout
            // or a foreign file: remove it and retry.
            remove_domain_files(path, id);
            return Ok(None);
        };
        let domain = Self::from_memory(name, path, id, memory)?;
        if domain.kind != kind {
            return Err(DomainError::Corrupt {
                path: path.to_owned(),
                why: format!("exists as a {:?} domain, wanted {kind:?}", domain.kind),
            });
        }
        if !domain.is_live() {
            // Its destroyer marks it dead, then removes its files: one
            // killed in between leaves them, and nobody else would.
            remove_domain_files(path, id);
            return Ok(None);
        }
        Ok(Some(domain))
    }

    fn try_open(name: &str, path: &Path, kind: DomainKind) -> Result<Option<Domain>, DomainError> {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
        {
            Ok(file) => Self::join(name, path, kind, file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(name, path, kind),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                Err(DomainError::RunDir(RunDirError::Permission {
                    path: path.to_owned(),
                    owner: 0,
                    uid: rustix::process::getuid().as_raw(),
                    mode: 0,
                }))
            }
            Err(source) => Err(DomainError::File {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn from_memory(
        name: &str,
        path: &Path,
        file_id: (u64, u64),
        memory: NetmapMemory,
    ) -> Result<Domain, DomainError> {
        let corrupt = |why: String| DomainError::Corrupt {
            path: path.to_owned(),
            why,
        };
        let ctrl = Ctrl::new(memory.region(), memory.layout().ctrl_off);
        let rows = ctrl.u32_at(ctrl::dom::ROWS).load(Ordering::Acquire);
        let ways = ctrl.u32_at(ctrl::dom::WAYS).load(Ordering::Acquire);
        let geometry = Geometry::new(rows, ways).map_err(|e| corrupt(e.to_string()))?;
        let kind = match ctrl.u32_at(ctrl::dom::KIND).load(Ordering::Acquire) {
            1 => DomainKind::Switch,
            2 => DomainKind::Pipes,
            other => return Err(corrupt(format!("unknown domain kind {other}"))),
        };
        let table_off = memory.layout().ctrl_off + ctrl::TABLE_OFF;
        if table_off + 8 * geometry.entries() > memory.layout().ctrl_off + memory.layout().ctrl_size
        {
            return Err(corrupt("MAC table does not fit the control area".into()));
        }
        let store = RegionTable {
            words: AtomicU64Window::new(Arc::clone(memory.region()), table_off, geometry.entries())
                .map_err(|e| corrupt(e.to_string()))?,
        };
        let table = LearningTable::new(geometry, store).map_err(|e| corrupt(e.to_string()))?;
        let ctrl_fixed = Ctrl::new(memory.region(), memory.layout().ctrl_off).fixed();
        Ok(Domain {
            name: name.to_owned(),
            path: path.to_owned(),
            file_id,
            kind,
            memory,
            ctrl_fixed,
            table,
            wakers: Mutex::new(HashMap::new()),
            lookup: Mutex::new(Arc::new(crate::forward::LearningBridge)),
        })
    }

    /// The domain's name (`vale0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Switch or pipe parent.
    pub fn kind(&self) -> DomainKind {
        self.kind
    }

    /// The file backing the region.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The memory region and its allocator.
    pub fn memory(&self) -> &NetmapMemory {
        &self.memory
    }

    /// The control area.
    #[inline]
    pub fn ctrl(&self) -> Ctrl<'_> {
        Ctrl::checked(
            self.memory.region(),
            self.memory.layout().ctrl_off,
            self.ctrl_fixed,
        )
    }

    /// The MAC table.
    pub fn table(&self) -> &LearningTable<RegionTable> {
        &self.table
    }

    /// Replaces this process's forwarding policy for the switch (netmap's
    /// `bdg_ops.lookup`).
    pub fn set_lookup(&self, lookup: Arc<dyn crate::forward::Lookup>) {
        *self.lookup.lock().unwrap_or_else(|e| e.into_inner()) = lookup;
    }

    /// True until the last port closed.
    pub fn is_live(&self) -> bool {
        self.ctrl().u32_at(ctrl::dom::STATE).load(Ordering::Acquire) == DOMAIN_LIVE
    }

    /// Takes the domain lock (port table and membership changes).
    /// Taken over from a dead holder, it flags the domain for repair
    /// (`ctrl::dom::REPAIR`): the holder may have died in any step.
    pub fn lock(&self) -> ShmLockGuard<'_> {
        let (guard, how) = ShmLock::new(self.ctrl().u32_at(ctrl::dom::LOCK)).lock();
        if let Acquired::FromDeadHolder { .. } = how {
            self.ctrl()
                .u32_at(ctrl::dom::REPAIR)
                .store(1, Ordering::Release);
        }
        guard
    }

    /// Path of the wake-up FIFO of binding `slot`.
    pub fn wake_path(&self, slot: u32) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.path.with_file_name(format!("{stem}.b{slot}.wake"))
    }

    /// Marks the domain dead and removes its files; called with the lock
    /// held when its last entry was freed.
    pub(crate) fn destroy_locked(&self) {
        self.ctrl()
            .u32_at(ctrl::dom::STATE)
            .store(DOMAIN_DEAD, Ordering::Release);
        netmap_ring::crash_point!("domain::destroy:marked_dead");
        remove_domain_files(&self.path, self.file_id);
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        if reg
            .get(&self.name)
            .is_some_and(|weak| std::ptr::eq(weak.as_ptr(), self))
        {
            reg.remove(&self.name);
        }
    }

    /// Names of this user's live domains (from the runtime directory).
    /// Files of creators that were killed mid-build are removed on the way.
    pub fn list() -> Vec<String> {
        sweep_dead_creators(&runtime_dir());
        let mut names: Vec<String> = std::fs::read_dir(runtime_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".mem"))
                    .map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        File::create(path).unwrap();
    }

    #[test]
    fn a_dead_domain_takes_its_fifos_and_leaves_other_domains_files() {
        let dir = std::env::temp_dir().join(format!("nmrs-domfiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mem = dir.join("if-eth0.100.mem");
        touch(&mem);
        // Held open as a domain holds its mapping: while it is, the inode
        // number cannot go to a new file.
        let old = File::open(&mem).unwrap();
        let id = file_id(&old).unwrap();
        let ours = ["if-eth0.100.b0.wake", "if-eth0.100.b17.wake"];
        // Another domain's FIFOs whose names start alike.
        let theirs = [
            "if-eth0.100.5.b0.wake",
            "if-eth0.1000.b0.wake",
            "if-eth0.100.b.wake",
            "if-eth0.100.bx.wake",
        ];
        for name in ours.iter().chain(&theirs) {
            touch(&dir.join(name));
        }

        // The name now belongs to a newer domain's file: nothing is ours.
        std::fs::remove_file(&mem).unwrap();
        touch(&mem);
        remove_domain_files(&mem, id);
        assert!(mem.exists(), "a newer domain's file was removed");
        assert!(ours.iter().all(|n| dir.join(n).exists()));

        // Still the same file: its FIFOs and the file go, the others stay.
        drop(old);
        let new = File::open(&mem).unwrap();
        let id = file_id(&new).unwrap();
        remove_domain_files(&mem, id);
        assert!(!mem.exists());
        assert!(ours.iter().all(|n| !dir.join(n).exists()));
        assert!(theirs.iter().all(|n| dir.join(n).exists()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
