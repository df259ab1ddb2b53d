//! Memory allocators (`nr_mem_id`) and the application's mappings.
//!
//! A backend hands each binding a region (a memfd or file) with the
//! binding's netmap_if at `if_offset`, its rings and the buffer pool, laid
//! out as netmap's macros expect: `ring_ofs[]` relative to the netmap_if,
//! `buf_ofs` relative to each ring. So `mmap` of the netmap descriptor is
//! an `mmap` of that region's file at the same offset, and `NETMAP_IF(mem,
//! nr_offset)` lands on the binding's netmap_if.
//!
//! libnetmap maps each `nr_mem_id` once per process and applies later
//! bindings' `nr_offset` to that first mapping. So ids follow regions: one
//! id per distinct file (device and inode), the same for every binding
//! whose memory is that file (all ports of a switch, both ends of a pipe).
//! Id 1 is netmap's global allocator, which we do not have; ids start at 2.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use crate::file::NmFile;

struct Ids {
    next: u16,
    known: Vec<((u64, u64), u16)>,
}

static IDS: Mutex<Ids> = Mutex::new(Ids {
    next: 2,
    known: Vec::new(),
});

fn file_key(fd: RawFd) -> (u64, u64) {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable stat buffer; fstat fills it on success.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return (u64::MAX, fd as u64);
    }
    // SAFETY: fstat succeeded and initialised the buffer.
    let st = unsafe { st.assume_init() };
    (st.st_dev, st.st_ino)
}

/// The `nr_mem_id` of the region behind `fd`.
pub fn id_of(fd: RawFd) -> u16 {
    let key = file_key(fd);
    let mut ids = IDS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, id)) = ids.known.iter().find(|(k, _)| *k == key) {
        return *id;
    }
    let id = ids.next;
    ids.next = ids.next.checked_add(1).unwrap_or(2);
    ids.known.push((key, id));
    id
}

static SWITCHES: Mutex<Vec<(u16, String)>> = Mutex::new(Vec::new());

/// Notes that memory `id` is the memory of VALE switch `switch`.
pub fn note_switch(id: u16, switch: &str) {
    let mut switches = SWITCHES.lock().unwrap_or_else(|p| p.into_inner());
    if !switches.iter().any(|(i, _)| *i == id) {
        switches.push((id, switch.to_owned()));
    }
}

/// The VALE switch whose memory is `id`, if this process has bound a
/// port of it.
pub fn switch_of(id: u16) -> Option<String> {
    if id == 0 {
        return None;
    }
    let switches = SWITCHES.lock().unwrap_or_else(|p| p.into_inner());
    switches
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, s)| s.clone())
}

/// Gives the region behind `fd` the id `id` (the global allocator's 1).
pub fn assign(fd: RawFd, id: u16) {
    let key = file_key(fd);
    let mut ids = IDS.lock().unwrap_or_else(|p| p.into_inner());
    ids.known.retain(|(k, i)| *k != key && *i != id);
    ids.known.push((key, id));
}

/// True if `id` names an allocator this process has seen (or is netmap's
/// global one, id 1).
pub fn exists(id: u16) -> bool {
    id == 1
        || IDS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .known
            .iter()
            .any(|(_, known)| *known == id)
}

/// A mapping of a netmap descriptor: it keeps the binding alive until
/// `munmap`, as netmap's kernel does.
struct Mapping {
    addr: usize,
    len: usize,
    file: Arc<NmFile>,
    /// The backend's own mapping, lent to the application (not unmapped).
    shared: bool,
}

/// Mappings recorded, so that `munmap` of anything else skips the lock.
static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether `mmap` of a whole region lends the backend's mapping
/// (`NETMAP_PRELOAD_SHARE_MAPPING=1`) or makes a new one, as the kernel
/// does (default: an application's stray `munmap` can then never reach
/// the backend's own mapping).
pub fn share_backend_mapping() -> bool {
    static SHARE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHARE.get_or_init(|| std::env::var("NETMAP_PRELOAD_SHARE_MAPPING").is_ok_and(|v| v == "1"))
}

/// Records the backend's mapping at `addr` as lent to the application.
pub fn record_shared(addr: usize, len: usize, file: Arc<NmFile>) {
    push(Mapping {
        addr,
        len,
        file,
        shared: true,
    });
}

/// For `munmap(addr, len)`: forgets the loans that range touches (their
/// files are returned for the caller to drop outside the lock) and returns
/// the parts of the range outside every loan, which alone may be really
/// unmapped: the backend's own mapping must survive any `munmap` an
/// application makes of a lent one, even with a wrong length.
pub fn take_shared(addr: usize, len: usize) -> (Vec<Arc<NmFile>>, Vec<(usize, usize)>) {
    use std::sync::atomic::Ordering;
    let whole = vec![(addr, len)];
    if COUNT.load(Ordering::Relaxed) == 0 {
        return (Vec::new(), whole);
    }
    let mut maps = MAPPINGS.lock().unwrap_or_else(|p| p.into_inner());
    let end = addr.saturating_add(len);
    let mut loans = Vec::new();
    let mut pieces = whole;
    let mut k = 0;
    while k < maps.len() {
        let m = &maps[k];
        let (start, stop) = (m.addr, m.addr.saturating_add(m.len));
        if !m.shared || stop <= addr || start >= end {
            k += 1;
            continue;
        }
        pieces = pieces
            .into_iter()
            .flat_map(|(a, l)| {
                let b = a + l;
                [
                    (a, start.min(b).saturating_sub(a)),
                    (stop.max(a), b.saturating_sub(stop.max(a))),
                ]
            })
            .filter(|&(_, l)| l > 0)
            .collect();
        COUNT.fetch_sub(1, Ordering::Relaxed);
        loans.push(maps.swap_remove(k).file);
    }
    (loans, pieces)
}

fn push(mapping: Mapping) {
    let mut maps = MAPPINGS.lock().unwrap_or_else(|p| p.into_inner());
    maps.push(mapping);
    COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

static MAPPINGS: Mutex<Vec<Mapping>> = Mutex::new(Vec::new());

/// Records a mapping made with [`crate::interpose`]'s `mmap`.
pub fn record(addr: usize, len: usize, file: Arc<NmFile>) {
    push(Mapping {
        addr,
        len,
        file,
        shared: false,
    });
}

/// Forgets the mappings inside `[addr, addr + len)` (after a successful
/// `munmap`); the bindings they held go when the caller drops the result.
pub fn forget(addr: usize, len: usize) -> Vec<Arc<NmFile>> {
    if COUNT.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        return Vec::new();
    }
    let mut maps = MAPPINGS.lock().unwrap_or_else(|p| p.into_inner());
    let end = addr.saturating_add(len);
    let (gone, kept): (Vec<Mapping>, Vec<Mapping>) = std::mem::take(&mut *maps)
        .into_iter()
        .partition(|m| !m.shared && m.addr >= addr && m.addr.saturating_add(m.len) <= end);
    *maps = kept;
    COUNT.fetch_sub(gone.len(), std::sync::atomic::Ordering::Relaxed);
    // Returned, not dropped here: dropping a binding unmaps the backend's
    // own view of the region, which comes back to `munmap` and this lock.
    gone.into_iter().map(|m| m.file).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_munmap_never_reaches_a_lent_mapping() {
        let file = Arc::new(NmFile::new(None));
        record_shared(0x10_000, 0x4000, Arc::clone(&file));
        // Overlapping at both ends: only the outer parts are unmapped.
        let (loans, pieces) = take_shared(0xf_000, 0x6000);
        assert_eq!(loans.len(), 1);
        assert_eq!(pieces, vec![(0xf_000, 0x1000), (0x14_000, 0x1000)]);
        // The loan is gone: the same range now goes to the kernel whole.
        let (loans, pieces) = take_shared(0xf_000, 0x6000);
        assert!(loans.is_empty());
        assert_eq!(pieces, vec![(0xf_000, 0x6000)]);
    }
}
