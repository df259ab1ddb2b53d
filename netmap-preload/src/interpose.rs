//! The C library functions this library replaces. Each one checks whether
//! its descriptor (or path) is a netmap one and otherwise calls the real
//! function with the same arguments.
//!
//! Rules that keep this re-entrant: the code below, the backends and Rust's
//! standard library call these same functions (a binding's drop closes
//! descriptors and unmaps memory), so no lock of this crate is held across
//! a call into a backend or into another interposed function.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::sync::Arc;
use std::time::Duration;

use netmap_ring::abi::{NIOCCTRL, NIOCGINFO, NIOCREGIF, NIOCRXSYNC, NIOCTXSYNC};

use crate::error::NmError;
use crate::file::NmFile;
use crate::sys::{self, real};
use crate::{ctrl, legacy, mem, poll, table};

const DEV_NETMAP: &[u8] = b"/dev/netmap";

fn debug_enabled() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("NETMAP_PRELOAD_DEBUG").is_some())
}

/// Returns -1 with errno set from `e` (and says why, when debugging).
fn fail(what: &str, e: &NmError) -> c_int {
    if debug_enabled() {
        eprintln!("netmap-preload: {what}: {e}");
    }
    sys::set_errno(e.errno());
    -1
}

/// True if `path` names `/dev/netmap`.
fn is_netmap_path(path: *const c_char) -> bool {
    if path.is_null() {
        return false;
    }
    // SAFETY: the application passes a NUL-terminated path (as open(2)
    // requires); non-null checked above.
    let path = unsafe { CStr::from_ptr(path) };
    path.to_bytes() == DEV_NETMAP
}

/// Opens `/dev/netmap`: a fresh eventfd recorded as a netmap descriptor.
fn open_netmap(flags: c_int) -> c_int {
    match sys::new_eventfd(flags & libc::O_CLOEXEC != 0) {
        Ok(fd) => {
            let id = crate::adopt::eventfd_id(fd);
            table::insert(fd, Arc::new(NmFile::new(id)));
            fd
        }
        Err(errno) => {
            sys::set_errno(errno);
            -1
        }
    }
}

/// # Safety
/// As open(2).
#[no_mangle]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    if is_netmap_path(path) {
        return open_netmap(flags);
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().open)(path, flags, mode) }
}

/// # Safety
/// As open(2).
#[no_mangle]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    if is_netmap_path(path) {
        return open_netmap(flags);
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().open64)(path, flags, mode) }
}

/// # Safety
/// As openat(2).
#[no_mangle]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> c_int {
    if is_netmap_path(path) {
        return open_netmap(flags);
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().openat)(dirfd, path, flags, mode) }
}

/// # Safety
/// As openat(2).
#[no_mangle]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
) -> c_int {
    if is_netmap_path(path) {
        return open_netmap(flags);
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().openat64)(dirfd, path, flags, mode) }
}

/// `_FORTIFY_SOURCE`'s open without a mode.
///
/// # Safety
/// As open(2).
#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    if is_netmap_path(path) {
        return open_netmap(flags);
    }
    match real().open_2 {
        // SAFETY: the caller's arguments, passed on unchanged.
        Some(f) => unsafe { f(path, flags) },
        // SAFETY: as above; without O_CREAT the mode is ignored.
        None => unsafe { (real().open)(path, flags, 0) },
    }
}

/// # Safety
/// As open(2).
#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    if is_netmap_path(path) {
        return open_netmap(flags);
    }
    match real().open64_2 {
        // SAFETY: the caller's arguments, passed on unchanged.
        Some(f) => unsafe { f(path, flags) },
        // SAFETY: as above; without O_CREAT the mode is ignored.
        None => unsafe { (real().open64)(path, flags, 0) },
    }
}

/// # Safety
/// As close(2).
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    // Forget first: once closed, the number may be reused at once.
    let file = table::remove(fd);
    // SAFETY: the caller's descriptor.
    let rc = unsafe { (real().close)(fd) };
    let saved = sys::errno();
    if file.is_some() {
        crate::epoll::forget_fd(fd);
    }
    // The last descriptor of a file releases its binding (here, outside
    // every lock; the release closes descriptors of its own).
    drop(file);
    sys::set_errno(saved);
    rc
}

/// Records `new` as another descriptor of `old`'s file after a dup.
fn dup_done(old: c_int, new: c_int) {
    if new < 0 {
        return;
    }
    let replaced = match table::get(old) {
        Some(file) => table::insert(new, file),
        None => table::remove(new),
    };
    let saved = sys::errno();
    drop(replaced);
    sys::set_errno(saved);
}

/// # Safety
/// As dup(2).
#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: the caller's descriptor.
    let new = unsafe { (real().dup)(fd) };
    dup_done(fd, new);
    new
}

/// # Safety
/// As dup2(2).
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: the caller's descriptors.
    let rc = unsafe { (real().dup2)(old, new) };
    if rc >= 0 && old != new {
        dup_done(old, rc);
    }
    rc
}

/// # Safety
/// As dup3(2).
#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's descriptors.
    let rc = unsafe { (real().dup3)(old, new, flags) };
    if rc >= 0 {
        dup_done(old, rc);
    }
    rc
}

fn fcntl_common(f: sys::FcntlFn, fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: the caller's arguments, passed on unchanged.
    let rc = unsafe { f(fd, cmd, arg) };
    if rc >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        dup_done(fd, rc);
    }
    rc
}

/// # Safety
/// As fcntl(2); the optional argument is passed on as it came.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    fcntl_common(real().fcntl, fd, cmd, arg)
}

/// # Safety
/// As fcntl(2).
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    fcntl_common(real().fcntl64, fd, cmd, arg)
}

/// One netmap ioctl on `file`.
fn netmap_ioctl(file: &NmFile, request: u32, arg: *mut c_void) -> Result<(), NmError> {
    let addr = arg as usize as u64;
    match request {
        NIOCTXSYNC => file.bound().ok_or(NmError::NotBound)?.txsync(),
        NIOCRXSYNC => file.bound().ok_or(NmError::NotBound)?.rxsync(),
        NIOCCTRL => ctrl::ioctl(file, addr),
        NIOCREGIF => legacy::regif(file, addr),
        NIOCGINFO => legacy::ginfo(file, addr),
        other => Err(NmError::Errno {
            errno: libc::ENOTTY,
            why: format!("ioctl {other:#x} is not a netmap request"),
        }),
    }
}

/// # Safety
/// As ioctl(2).
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    let netmap_request =
        [NIOCCTRL, NIOCREGIF, NIOCGINFO, NIOCTXSYNC, NIOCRXSYNC].contains(&(request as u32));
    // A descriptor this process never opened may come from another one
    // (SCM_RIGHTS, exec): looked up only for netmap's own requests.
    let file = table::get(fd).or_else(|| {
        if netmap_request {
            crate::adopt::adopt(fd)
        } else {
            None
        }
    });
    if let Some(file) = file {
        // The kernel takes the request as 32 bits (callers that pass an
        // `int` sign-extend it).
        let request = request as u32;
        let generic = [libc::FIONBIO, libc::FIOASYNC, libc::FIOCLEX, libc::FIONCLEX];
        if !generic.contains(&(request as _)) {
            return match netmap_ioctl(&file, request, arg) {
                Ok(()) => 0,
                Err(e) => fail("ioctl", &e),
            };
        }
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().ioctl)(fd, request, arg) }
}

fn netmap_mmap(
    file: Arc<NmFile>,
    addr: *mut c_void,
    len: libc::size_t,
    prot: c_int,
    flags: c_int,
    offset: libc::off_t,
) -> Result<*mut c_void, NmError> {
    let bound = file.bound().ok_or_else(|| NmError::Errno {
        errno: libc::EINVAL,
        why: "mmap of an unbound netmap descriptor".into(),
    })?;
    let memsize = bound.geometry.memsize;
    let end = u64::try_from(offset)
        .ok()
        .and_then(|off| off.checked_add(len as u64));
    if end.is_none_or(|end| end > memsize) || len == 0 {
        return Err(NmError::Errno {
            errno: libc::EINVAL,
            why: format!("mmap of {len} bytes at {offset} exceeds the {memsize}-byte region"),
        });
    }
    // The common call (libnetmap's): the whole region, shared, anywhere.
    // The application then gets the backend's own mapping of it in this
    // process: one set of page tables and TLB entries for both, as with
    // netmap, where kernel and application see the same pages. `munmap`
    // of it only drops the reference ([`mem::take_shared`]). Opt-in
    // ([`mem::share_backend_mapping`]).
    let whole = addr.is_null()
        && offset == 0
        && len as u64 == memsize
        && flags & (libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_PRIVATE) == libc::MAP_SHARED
        && prot == libc::PROT_READ | libc::PROT_WRITE;
    if whole && mem::share_backend_mapping() {
        let ptr = bound.layout.region.base_addr() as *mut c_void;
        mem::record_shared(ptr as usize, len, file);
        return Ok(ptr);
    }
    // SAFETY: maps the backend's region file with the application's
    // address hint, protection and flags; the kernel checks them all.
    let ptr = unsafe { (real().mmap)(addr, len, prot, flags, bound.region_fd(), offset) };
    if ptr == libc::MAP_FAILED {
        return Err(NmError::Errno {
            errno: sys::errno(),
            why: "mmap of the region failed".into(),
        });
    }
    mem::record(ptr as usize, len, file);
    Ok(ptr)
}

/// `mmap`/`mmap64`: a netmap descriptor's memory, anything else passed
/// to `real`.
///
/// # Safety
/// As mmap(2).
unsafe fn mmap_common(
    real: sys::MmapFn,
    addr: *mut c_void,
    len: libc::size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: libc::off_t,
) -> *mut c_void {
    let netmap = |file| {
        netmap_mmap(file, addr, len, prot, flags, offset).unwrap_or_else(|e| {
            fail("mmap", &e);
            libc::MAP_FAILED
        })
    };
    if let Some(file) = table::get(fd) {
        return netmap(file);
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    let ptr = unsafe { real(addr, len, prot, flags, fd, offset) };
    if ptr == libc::MAP_FAILED && sys::errno() == libc::ENODEV {
        // An eventfd cannot be mapped: maybe a netmap descriptor another
        // process sent.
        if let Some(file) = crate::adopt::adopt(fd) {
            return netmap(file);
        }
        sys::set_errno(libc::ENODEV);
    }
    ptr
}

/// # Safety
/// As mmap(2).
#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: libc::size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: libc::off_t,
) -> *mut c_void {
    // SAFETY: the caller's arguments (mmap(2)).
    unsafe { mmap_common(real().mmap, addr, len, prot, flags, fd, offset) }
}

/// # Safety
/// As mmap(2).
#[no_mangle]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: libc::size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: libc::off_t,
) -> *mut c_void {
    // SAFETY: the caller's arguments (mmap(2)).
    unsafe { mmap_common(real().mmap64, addr, len, prot, flags, fd, offset) }
}

/// # Safety
/// As munmap(2).
#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: libc::size_t) -> c_int {
    let (loans, pieces) = mem::take_shared(addr as usize, len);
    let rc = if loans.is_empty() {
        // SAFETY: the caller's arguments, passed on unchanged.
        unsafe { (real().munmap)(addr, len) }
    } else {
        // The backend's own mapping, lent by `mmap`, is not unmapped; the
        // rest of the range is.
        drop(loans);
        let mut rc = 0;
        for (start, size) in pieces {
            // SAFETY: part of the caller's range, outside every lent mapping.
            if unsafe { (real().munmap)(start as *mut c_void, size) } != 0 {
                rc = -1;
            }
        }
        rc
    };
    if rc == 0 {
        let saved = sys::errno();
        drop(mem::forget(addr as usize, len));
        sys::set_errno(saved);
    }
    rc
}

/// The netmap files of `fds`, or `None` if there is none.
fn netmap_files(fds: &[libc::pollfd]) -> Option<Vec<Option<Arc<NmFile>>>> {
    let files: Vec<Option<Arc<NmFile>>> = fds.iter().map(|p| table::get(p.fd)).collect();
    files.iter().any(Option::is_some).then_some(files)
}

/// # Safety
/// As poll(2).
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int) -> c_int {
    if !fds.is_null() && nfds > 0 && nfds < 1 << 20 {
        // SAFETY: the caller passes `nfds` valid pollfds at `fds` (poll(2)).
        let slice = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
        if let Some(files) = netmap_files(slice) {
            let timeout = (timeout >= 0).then(|| Duration::from_millis(timeout as u64));
            return poll::poll(slice, &files, timeout, None);
        }
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().poll)(fds, nfds, timeout) }
}

/// `_FORTIFY_SOURCE`'s poll.
///
/// # Safety
/// As poll(2).
#[no_mangle]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: c_int,
    _fdslen: libc::size_t,
) -> c_int {
    // SAFETY: as poll(2).
    unsafe { poll(fds, nfds, timeout) }
}

/// # Safety
/// As ppoll(2).
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    if !fds.is_null() && nfds > 0 && nfds < 1 << 20 {
        // SAFETY: the caller passes `nfds` valid pollfds at `fds` (ppoll(2)).
        let slice = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
        if let Some(files) = netmap_files(slice) {
            let timeout = if timeout.is_null() {
                None
            } else {
                // SAFETY: non-null, and ppoll(2) requires a valid timespec.
                let ts = unsafe { *timeout };
                if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                    sys::set_errno(libc::EINVAL);
                    return -1;
                }
                Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
            };
            return poll::poll(slice, &files, timeout, Some(sigmask));
        }
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().ppoll)(fds, nfds, timeout, sigmask) }
}

/// `select`/`pselect` over sets holding a netmap descriptor: the sets
/// become a poll set (read: POLLIN, write: POLLOUT, except: POLLPRI),
/// served by netmap's poll, and are rewritten from its answers.
///
/// # Safety
/// The sets are null or valid `fd_set`s covering `nfds` descriptors.
unsafe fn select_netmap(
    nfds: c_int,
    sets: [*mut libc::fd_set; 3],
    timeout: Option<Duration>,
    sigmask: Option<*const libc::sigset_t>,
) -> Option<c_int> {
    if !(1..=libc::FD_SETSIZE as c_int).contains(&nfds) {
        return None;
    }
    let is_set = |set: *mut libc::fd_set, fd: c_int| {
        // SAFETY: `set` is null or a valid fd_set (caller), `fd` < nfds.
        !set.is_null() && unsafe { libc::FD_ISSET(fd, set) }
    };
    let mut fds = Vec::new();
    let mut any_netmap = false;
    for fd in 0..nfds {
        let mut events = 0;
        if is_set(sets[0], fd) {
            events |= libc::POLLIN;
        }
        if is_set(sets[1], fd) {
            events |= libc::POLLOUT;
        }
        if is_set(sets[2], fd) {
            events |= libc::POLLPRI;
        }
        if events != 0 {
            any_netmap |= table::get(fd).is_some();
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
        }
    }
    if !any_netmap {
        return None;
    }
    let files: Vec<Option<Arc<NmFile>>> = fds.iter().map(|p| table::get(p.fd)).collect();
    let rc = poll::poll(&mut fds, &files, timeout, sigmask);
    if rc < 0 {
        return Some(rc);
    }
    let mut count = 0;
    for set in sets.iter().filter(|s| !s.is_null()) {
        // SAFETY: a valid fd_set of the caller.
        unsafe { libc::FD_ZERO(*set) };
    }
    for p in &fds {
        let ready = [
            p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            p.revents & (libc::POLLOUT | libc::POLLERR) != 0,
            p.revents & libc::POLLPRI != 0,
        ];
        for (k, set) in sets.iter().enumerate() {
            if ready[k]
                && !set.is_null()
                && p.events & [libc::POLLIN, libc::POLLOUT, libc::POLLPRI][k] != 0
            {
                // SAFETY: a valid fd_set of the caller; fd < nfds.
                unsafe { libc::FD_SET(p.fd, *set) };
                count += 1;
            }
        }
    }
    Some(count)
}

/// # Safety
/// As select(2).
#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    let limit = if timeout.is_null() {
        None
    } else {
        // SAFETY: non-null, and select(2) requires a valid timeval.
        let tv = unsafe { *timeout };
        if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
            sys::set_errno(libc::EINVAL);
            return -1;
        }
        Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
    };
    let started = std::time::Instant::now();
    // SAFETY: the caller's sets, valid for nfds descriptors (select(2)).
    let answer = unsafe { select_netmap(nfds, [readfds, writefds, exceptfds], limit, None) };
    match answer {
        Some(rc) => {
            if let Some(limit) = limit {
                // Linux writes the time left back.
                let left = limit.saturating_sub(started.elapsed());
                // SAFETY: non-null (limit is Some), the caller's timeval.
                unsafe {
                    (*timeout).tv_sec = left.as_secs() as libc::time_t;
                    (*timeout).tv_usec = left.subsec_micros() as libc::suseconds_t;
                }
            }
            rc
        }
        // SAFETY: the caller's arguments, passed on unchanged.
        None => unsafe { (real().select)(nfds, readfds, writefds, exceptfds, timeout) },
    }
}

/// # Safety
/// As pselect(2).
#[no_mangle]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    readfds: *mut libc::fd_set,
    writefds: *mut libc::fd_set,
    exceptfds: *mut libc::fd_set,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let limit = if timeout.is_null() {
        None
    } else {
        // SAFETY: non-null, and pselect(2) requires a valid timespec.
        let ts = unsafe { *timeout };
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            sys::set_errno(libc::EINVAL);
            return -1;
        }
        Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    };
    let sets = [readfds, writefds, exceptfds];
    // SAFETY: the caller's sets, valid for nfds descriptors (pselect(2)).
    match unsafe { select_netmap(nfds, sets, limit, Some(sigmask)) } {
        Some(rc) => rc,
        // SAFETY: the caller's arguments, passed on unchanged.
        None => unsafe { (real().pselect)(nfds, readfds, writefds, exceptfds, timeout, sigmask) },
    }
}

/// # Safety
/// As epoll_ctl(2).
#[no_mangle]
pub unsafe extern "C" fn epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: *mut libc::epoll_event,
) -> c_int {
    if let Some(file) = table::get(fd) {
        // SAFETY: null or a valid epoll_event (epoll_ctl(2)).
        let ev = (!event.is_null()).then(|| unsafe { *event });
        return crate::epoll::ctl(epfd, op, fd, ev, file);
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().epoll_ctl)(epfd, op, fd, event) }
}

/// The caller's event array as a slice, if it is usable.
///
/// # Safety
/// `events` is null or valid for `maxevents` entries (epoll_wait(2)).
unsafe fn event_slice<'a>(
    events: *mut libc::epoll_event,
    maxevents: c_int,
) -> Option<&'a mut [libc::epoll_event]> {
    if events.is_null() || maxevents <= 0 || maxevents > 1 << 20 {
        return None;
    }
    // SAFETY: as the function's contract.
    Some(unsafe { std::slice::from_raw_parts_mut(events, maxevents as usize) })
}

fn epoll_timeout(ms: c_int) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

/// # Safety
/// As epoll_wait(2).
#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: the caller's array (epoll_wait(2)).
    if let Some(out) = unsafe { event_slice(events, maxevents) } {
        let limit = epoll_timeout(timeout);
        if let Some(rc) = crate::epoll::wait(epfd, out, limit, std::ptr::null()) {
            return rc;
        }
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().epoll_wait)(epfd, events, maxevents, timeout) }
}

/// # Safety
/// As epoll_pwait(2).
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: c_int,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's array (epoll_pwait(2)).
    if let Some(out) = unsafe { event_slice(events, maxevents) } {
        let limit = epoll_timeout(timeout);
        if let Some(rc) = crate::epoll::wait(epfd, out, limit, sigmask) {
            return rc;
        }
    }
    // SAFETY: the caller's arguments, passed on unchanged.
    unsafe { (real().epoll_pwait)(epfd, events, maxevents, timeout, sigmask) }
}

/// # Safety
/// As epoll_pwait2(2).
#[no_mangle]
pub unsafe extern "C" fn epoll_pwait2(
    epfd: c_int,
    events: *mut libc::epoll_event,
    maxevents: c_int,
    timeout: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the caller's array (epoll_pwait2(2)).
    if let Some(out) = unsafe { event_slice(events, maxevents) } {
        // SAFETY: null (no timeout) or a valid timespec (epoll_pwait2(2)).
        let limit = match unsafe { timeout.as_ref() } {
            None => Some(None),
            Some(t) if t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec) => {
                Some(Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32)))
            }
            Some(_) => None,
        };
        if let Some(limit) = limit {
            if let Some(rc) = crate::epoll::wait(epfd, out, limit, sigmask) {
                return rc;
            }
        }
    }
    match real().epoll_pwait2 {
        // SAFETY: the caller's arguments, passed on unchanged.
        Some(f) => unsafe { f(epfd, events, maxevents, timeout, sigmask) },
        None => {
            sys::set_errno(libc::ENOSYS);
            -1
        }
    }
}

/// Descriptors received with SCM_RIGHTS are looked up at once (a netmap
/// one another process registered joins the table, so that even a first
/// `poll` on it works).
///
/// # Safety
/// As recvmsg(2).
#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> isize {
    // SAFETY: the caller's arguments, passed on unchanged.
    let n = unsafe { (real().recvmsg)(fd, msg, flags) };
    if n >= 0 && !msg.is_null() {
        let saved = sys::errno();
        // SAFETY: recvmsg succeeded, so `msg` and its control buffer are
        // valid and the CMSG macros walk only what the kernel wrote.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c).cast::<c_int>();
                    let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    for k in 0..bytes / size_of::<c_int>() {
                        let received = std::ptr::read_unaligned(data.add(k));
                        if table::get(received).is_none() {
                            let _ = crate::adopt::adopt(received);
                        }
                    }
                }
                c = libc::CMSG_NXTHDR(msg, c);
            }
        }
        sys::set_errno(saved);
    }
    n
}
