//! The real C library: the functions this library interposes, found with
//! `dlsym(RTLD_NEXT)`, so that every descriptor that is not a netmap one
//! reaches the kernel exactly as without the preload.
//!
//! This is the one seam to the system. Variadic C functions (`open`,
//! `openat`, `fcntl`, `ioctl`) are declared with their optional argument
//! always present: on x86-64 (System V ABI) a variadic argument travels in
//! the same register as a fixed one, so passing it on is exact.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::sync::OnceLock;

pub type OpenFn = unsafe extern "C" fn(*const c_char, c_int, libc::mode_t) -> c_int;
pub type OpenatFn = unsafe extern "C" fn(c_int, *const c_char, c_int, libc::mode_t) -> c_int;
pub type Open2Fn = unsafe extern "C" fn(*const c_char, c_int) -> c_int;
pub type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
pub type DupFn = unsafe extern "C" fn(c_int) -> c_int;
pub type Dup2Fn = unsafe extern "C" fn(c_int, c_int) -> c_int;
pub type Dup3Fn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
pub type FcntlFn = unsafe extern "C" fn(c_int, c_int, c_ulong) -> c_int;
pub type IoctlFn = unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int;
pub type MmapFn = unsafe extern "C" fn(
    *mut c_void,
    libc::size_t,
    c_int,
    c_int,
    c_int,
    libc::off_t,
) -> *mut c_void;
pub type MunmapFn = unsafe extern "C" fn(*mut c_void, libc::size_t) -> c_int;
pub type PollFn = unsafe extern "C" fn(*mut libc::pollfd, libc::nfds_t, c_int) -> c_int;
pub type PpollFn = unsafe extern "C" fn(
    *mut libc::pollfd,
    libc::nfds_t,
    *const libc::timespec,
    *const libc::sigset_t,
) -> c_int;

pub type SelectFn = unsafe extern "C" fn(
    c_int,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *mut libc::timeval,
) -> c_int;
pub type PselectFn = unsafe extern "C" fn(
    c_int,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *mut libc::fd_set,
    *const libc::timespec,
    *const libc::sigset_t,
) -> c_int;

pub type EpollCtlFn = unsafe extern "C" fn(c_int, c_int, c_int, *mut libc::epoll_event) -> c_int;
pub type EpollWaitFn = unsafe extern "C" fn(c_int, *mut libc::epoll_event, c_int, c_int) -> c_int;
pub type EpollPwaitFn = unsafe extern "C" fn(
    c_int,
    *mut libc::epoll_event,
    c_int,
    c_int,
    *const libc::sigset_t,
) -> c_int;

pub type EpollPwait2Fn = unsafe extern "C" fn(
    c_int,
    *mut libc::epoll_event,
    c_int,
    *const libc::timespec,
    *const libc::sigset_t,
) -> c_int;

pub type RecvmsgFn = unsafe extern "C" fn(c_int, *mut libc::msghdr, c_int) -> isize;

/// The next definition of each interposed function (libc's).
pub struct Real {
    pub open: OpenFn,
    pub open64: OpenFn,
    pub openat: OpenatFn,
    pub openat64: OpenatFn,
    pub open_2: Option<Open2Fn>,
    pub open64_2: Option<Open2Fn>,
    pub close: CloseFn,
    pub dup: DupFn,
    pub dup2: Dup2Fn,
    pub dup3: Dup3Fn,
    pub fcntl: FcntlFn,
    pub fcntl64: FcntlFn,
    pub ioctl: IoctlFn,
    pub mmap: MmapFn,
    pub mmap64: MmapFn,
    pub munmap: MunmapFn,
    pub poll: PollFn,
    pub ppoll: PpollFn,
    pub select: SelectFn,
    pub pselect: PselectFn,
    pub epoll_ctl: EpollCtlFn,
    pub epoll_wait: EpollWaitFn,
    pub epoll_pwait: EpollPwaitFn,
    /// glibc 2.35 and later.
    pub epoll_pwait2: Option<EpollPwait2Fn>,
    pub recvmsg: RecvmsgFn,
}

/// Looks `name` up after this library; `None` if no later object has it.
fn next<T: Copy>(name: &CStr) -> Option<T> {
    const { assert!(size_of::<T>() == size_of::<*mut c_void>()) };
    // SAFETY: `name` is NUL-terminated; RTLD_NEXT is a valid pseudo-handle
    // inside a shared object loaded by the dynamic linker.
    let ptr = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `T` is a function pointer type of pointer size (asserted
    // above) whose C prototype matches the symbol `name` (see the types
    // above, and the module note on variadic functions).
    Some(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&ptr) })
}

fn must<T: Copy>(name: &CStr) -> T {
    match next(name) {
        Some(f) => f,
        None => {
            // No C library after us: nothing sensible can run.
            let msg = b"netmap-preload: a libc function is missing\n";
            // SAFETY: writes a static buffer to stderr.
            unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
            std::process::abort();
        }
    }
}

/// The real functions, resolved on first use.
pub fn real() -> &'static Real {
    static REAL: OnceLock<Real> = OnceLock::new();
    REAL.get_or_init(|| Real {
        open: must(c"open"),
        open64: next(c"open64").unwrap_or_else(|| must(c"open")),
        openat: must(c"openat"),
        openat64: next(c"openat64").unwrap_or_else(|| must(c"openat")),
        open_2: next(c"__open_2"),
        open64_2: next(c"__open64_2"),
        close: must(c"close"),
        dup: must(c"dup"),
        dup2: must(c"dup2"),
        dup3: must(c"dup3"),
        fcntl: must(c"fcntl"),
        fcntl64: next(c"fcntl64").unwrap_or_else(|| must(c"fcntl")),
        ioctl: must(c"ioctl"),
        mmap: must(c"mmap"),
        mmap64: next(c"mmap64").unwrap_or_else(|| must(c"mmap")),
        munmap: must(c"munmap"),
        poll: must(c"poll"),
        ppoll: must(c"ppoll"),
        select: must(c"select"),
        pselect: must(c"pselect"),
        epoll_ctl: must(c"epoll_ctl"),
        epoll_wait: must(c"epoll_wait"),
        epoll_pwait: must(c"epoll_pwait"),
        epoll_pwait2: next(c"epoll_pwait2"),
        recvmsg: must(c"recvmsg"),
    })
}

/// The calling thread's `errno`.
pub fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Sets the calling thread's `errno`.
pub fn set_errno(value: c_int) {
    // SAFETY: `__errno_location` returns this thread's errno slot, valid
    // for the life of the thread.
    unsafe { *libc::__errno_location() = value };
}

/// Closes `fd` with the real `close`, ignoring the result (a cleanup).
pub fn close_quietly(fd: c_int) {
    // SAFETY: closing a descriptor this library created and owns.
    unsafe { (real().close)(fd) };
}

/// A new eventfd: the kernel descriptor standing for one open of
/// `/dev/netmap`.
pub fn new_eventfd(cloexec: bool) -> Result<c_int, c_int> {
    let flags = if cloexec { libc::EFD_CLOEXEC } else { 0 };
    // SAFETY: eventfd takes no pointers.
    let fd = unsafe { libc::eventfd(0, flags) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}
