//! Which descriptors are netmap ones: descriptor number -> open file.
//!
//! Descriptors made by `dup`/`dup2`/`dup3`/`fcntl(F_DUPFD)` share the entry
//! of their source, as they share its open file in the kernel; the binding
//! ends when the last of them is closed (and the last mapping is gone).
//! Lookups take a read lock and no system call; a process that never
//! opened `/dev/netmap` skips even that.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::file::NmFile;

static ENTRIES: AtomicUsize = AtomicUsize::new(0);
static TABLE: RwLock<Option<HashMap<RawFd, Arc<NmFile>>>> = RwLock::new(None);

fn read() -> RwLockReadGuard<'static, Option<HashMap<RawFd, Arc<NmFile>>>> {
    TABLE.read().unwrap_or_else(|p| p.into_inner())
}

fn write() -> RwLockWriteGuard<'static, Option<HashMap<RawFd, Arc<NmFile>>>> {
    TABLE.write().unwrap_or_else(|p| p.into_inner())
}

/// The open file behind `fd`, if `fd` is a netmap descriptor.
#[inline]
pub fn get(fd: RawFd) -> Option<Arc<NmFile>> {
    // Relaxed: a descriptor is inserted before the call that returns it to
    // the application, on the same thread or published by that return.
    if ENTRIES.load(Ordering::Relaxed) == 0 {
        return None;
    }
    read().as_ref()?.get(&fd).cloned()
}

/// Records `fd` as a descriptor of `file`; returns what it replaces.
pub fn insert(fd: RawFd, file: Arc<NmFile>) -> Option<Arc<NmFile>> {
    let mut table = write();
    let old = table.get_or_insert_with(HashMap::new).insert(fd, file);
    if old.is_none() {
        ENTRIES.fetch_add(1, Ordering::Relaxed);
    }
    old
}

/// Forgets `fd`; the caller drops the result after releasing nothing else
/// (dropping the last reference releases the binding, which may close
/// descriptors of its own: never do that under the table lock).
pub fn remove(fd: RawFd) -> Option<Arc<NmFile>> {
    if ENTRIES.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let old = write().as_mut()?.remove(&fd);
    if old.is_some() {
        ENTRIES.fetch_sub(1, Ordering::Relaxed);
    }
    old
}
