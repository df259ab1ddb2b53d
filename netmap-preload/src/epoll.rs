//! `epoll` with netmap descriptors in the set.
//!
//! The kernel cannot tell when a netmap descriptor is ready (its eventfd
//! never is), so `epoll_ctl` on one is kept here: the application's events
//! and data, and the binding's wake-up descriptor added to the kernel set
//! under a marker, so that traffic wakes `epoll_wait`. `epoll_wait` then
//! does what netmap's poll does for those descriptors (sync, check, arm,
//! check again, sleep), reports them with the application's data, and
//! passes every other event through. Readiness is level-triggered;
//! `EPOLLET` reports a descriptor again only once a bound ring's `tail`
//! has moved since it was last reported (new frames, or TX room given
//! back), and `EPOLLONESHOT` reports it once until `EPOLL_CTL_MOD`. A
//! descriptor added before it is registered gets its wake-up at the first
//! wait after the registration.

use std::ffi::c_int;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::file::NmFile;
use crate::sys;

/// `data.u64` of a wake-up descriptor in the kernel set: high bits a tag,
/// low 32 bits the netmap descriptor.
const MARKER: u64 = 0x6e6d_7770_0000_0000; // "nmwp"
const MARKER_MASK: u64 = 0xffff_ffff_0000_0000;

struct Interest {
    epfd: c_int,
    fd: c_int,
    events: u32,
    data: u64,
    file: Arc<NmFile>,
    /// The wake-up descriptor added to the kernel set, once bound.
    wake: Option<c_int>,
    /// `EPOLLONESHOT`: reported, and disabled until `EPOLL_CTL_MOD`.
    fired: bool,
    /// `EPOLLET`: the binding's progress when last reported.
    reported_at: Option<u64>,
}

static INTERESTS: Mutex<Vec<Interest>> = Mutex::new(Vec::new());
static ANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn interests() -> std::sync::MutexGuard<'static, Vec<Interest>> {
    INTERESTS.lock().unwrap_or_else(|p| p.into_inner())
}

fn kernel_ctl(epfd: c_int, op: c_int, fd: c_int, events: u32, data: u64) -> c_int {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a valid epoll_event for the call.
    unsafe { (sys::real().epoll_ctl)(epfd, op, fd, &mut ev) }
}

/// `epoll_ctl` on netmap descriptor `fd` of `file`.
pub fn ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: Option<libc::epoll_event>,
    file: Arc<NmFile>,
) -> c_int {
    let mut list = interests();
    let at = list.iter().position(|i| i.epfd == epfd && i.fd == fd);
    let fail = |errno| {
        sys::set_errno(errno);
        -1
    };
    match op {
        libc::EPOLL_CTL_ADD => {
            if at.is_some() {
                return fail(libc::EEXIST);
            }
            let Some(ev) = event else {
                return fail(libc::EFAULT);
            };
            let wake = file.bound().map(|b| b.wake_fd());
            if let Some(wake) = wake {
                let marker = MARKER | fd as u32 as u64;
                if kernel_ctl(
                    epfd,
                    libc::EPOLL_CTL_ADD,
                    wake,
                    libc::EPOLLIN as u32,
                    marker,
                ) != 0
                {
                    return -1;
                }
            }
            list.push(Interest {
                epfd,
                fd,
                events: ev.events,
                data: ev.u64,
                file,
                wake,
                fired: false,
                reported_at: None,
            });
            ANY.store(true, std::sync::atomic::Ordering::Relaxed);
            0
        }
        libc::EPOLL_CTL_MOD => {
            let (Some(at), Some(ev)) = (at, event) else {
                return fail(if at.is_none() {
                    libc::ENOENT
                } else {
                    libc::EFAULT
                });
            };
            list[at].events = ev.events;
            list[at].data = ev.u64;
            list[at].fired = false;
            list[at].reported_at = None;
            0
        }
        libc::EPOLL_CTL_DEL => {
            let Some(at) = at else {
                return fail(libc::ENOENT);
            };
            let gone = list.swap_remove(at);
            if let Some(wake) = gone.wake {
                kernel_ctl(epfd, libc::EPOLL_CTL_DEL, wake, 0, 0);
            }
            drop(list);
            drop(gone);
            0
        }
        _ => fail(libc::EINVAL),
    }
}

/// Forgets `fd` in every set (it was closed: the kernel drops it too).
pub fn forget_fd(fd: c_int) {
    if !ANY.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let gone: Vec<Interest> = {
        let mut list = interests();
        let (gone, kept) = std::mem::take(&mut *list)
            .into_iter()
            .partition(|i| i.fd == fd);
        *list = kept;
        gone
    };
    for i in &gone {
        if let Some(wake) = i.wake {
            kernel_ctl(i.epfd, libc::EPOLL_CTL_DEL, wake, 0, 0);
        }
    }
}

/// A netmap interest of a set, as a wait sees it.
struct Watched {
    fd: c_int,
    /// An `EPOLLONESHOT` that fired: neither checked nor armed (its
    /// wake-up stays in the kernel set, so the wait still drops it).
    fired: bool,
    events: u32,
    data: u64,
    file: Arc<NmFile>,
}

/// The netmap interests of `epfd`. A descriptor registered since it was
/// added gets its wake-up descriptor into the kernel set now.
fn of(epfd: c_int) -> Vec<Watched> {
    if !ANY.load(std::sync::atomic::Ordering::Relaxed) {
        return Vec::new();
    }
    let mut list = interests();
    for i in list
        .iter_mut()
        .filter(|i| i.epfd == epfd && i.wake.is_none())
    {
        if let Some(wake) = i.file.bound().map(|b| b.wake_fd()) {
            let marker = MARKER | i.fd as u32 as u64;
            if kernel_ctl(
                epfd,
                libc::EPOLL_CTL_ADD,
                wake,
                libc::EPOLLIN as u32,
                marker,
            ) == 0
            {
                i.wake = Some(wake);
            }
        }
    }
    list.iter()
        .filter(|i| i.epfd == epfd)
        .map(|i| Watched {
            fd: i.fd,
            fired: i.fired,
            events: i.events,
            data: i.data,
            file: Arc::clone(&i.file),
        })
        .collect()
}

/// Whether a ready interest is reported now: not if `EPOLLET` already
/// reported this state, or `EPOLLONESHOT` already fired. Records the
/// report.
fn claim(epfd: c_int, w: &Watched) -> bool {
    let mut list = interests();
    let Some(i) = list.iter_mut().find(|i| i.epfd == epfd && i.fd == w.fd) else {
        return false;
    };
    if i.fired {
        return false;
    }
    if i.events & libc::EPOLLET as u32 != 0 {
        let now = w.file.bound().map(|b| b.progress());
        if now.is_some() && now == i.reported_at {
            return false;
        }
        i.reported_at = now;
    }
    if i.events & libc::EPOLLONESHOT as u32 != 0 {
        i.fired = true;
    }
    true
}

fn ready_events(epfd: c_int, set: &[Watched], out: &mut Vec<libc::epoll_event>, max: usize) {
    for w in set.iter().filter(|w| !w.fired) {
        if out.len() >= max {
            break;
        }
        let want = (w.events & (libc::EPOLLIN | libc::EPOLLOUT) as u32) as i16;
        let revents = crate::poll::check(&w.file, want);
        if revents != 0 && claim(epfd, w) {
            out.push(libc::epoll_event {
                events: revents as u16 as u32,
                u64: w.data,
            });
        }
    }
}

/// The real wait into `buf`, dropping wake-up markers; returns the
/// application's events and whether a marker fired, or -1.
fn real_wait(
    epfd: c_int,
    buf: &mut [libc::epoll_event],
    timeout: Option<Duration>,
    sigmask: *const libc::sigset_t,
) -> Result<(Vec<libc::epoll_event>, bool), c_int> {
    let ms = match timeout {
        None => -1,
        Some(t) if t.is_zero() => 0,
        Some(t) => t.as_millis().clamp(1, i32::MAX as u128) as c_int,
    };
    // SAFETY: `buf` is a valid, writable array of `buf.len()` events;
    // `sigmask` is the caller's (null or valid).
    let n = unsafe {
        (sys::real().epoll_pwait)(epfd, buf.as_mut_ptr(), buf.len() as c_int, ms, sigmask)
    };
    if n < 0 {
        return Err(n);
    }
    let mut marker = false;
    let mut events = Vec::new();
    for ev in &buf[..n as usize] {
        let data = ev.u64;
        if data & MARKER_MASK == MARKER {
            marker = true;
        } else {
            events.push(libc::epoll_event {
                events: ev.events,
                u64: data,
            });
        }
    }
    Ok((events, marker))
}

/// `epoll_wait`/`epoll_pwait` on a set that may hold netmap descriptors;
/// `None` when it holds none (the caller passes the call through).
pub fn wait(
    epfd: c_int,
    out: &mut [libc::epoll_event],
    timeout: Option<Duration>,
    sigmask: *const libc::sigset_t,
) -> Option<c_int> {
    let set = of(epfd);
    if set.is_empty() || out.is_empty() {
        return None;
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let max = out.len();
    let mut buf = vec![libc::epoll_event { events: 0, u64: 0 }; max + set.len()];
    loop {
        let mut ready = Vec::new();
        ready_events(epfd, &set, &mut ready, max);
        if ready.is_empty() {
            for w in set.iter().filter(|w| !w.fired) {
                if let Some(b) = w.file.bound() {
                    b.arm();
                }
            }
            ready_events(epfd, &set, &mut ready, max);
        }
        let left = if ready.is_empty() {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        let waited = real_wait(epfd, &mut buf, left, sigmask);
        let saved = sys::errno();
        for w in &set {
            if let Some(b) = w.file.bound() {
                b.disarm();
            }
        }
        let (others, marker) = match waited {
            Ok(x) => x,
            Err(rc) => {
                sys::set_errno(saved);
                return Some(rc);
            }
        };
        if ready.is_empty() && marker {
            // Traffic for a netmap descriptor: look again.
            ready_events(epfd, &set, &mut ready, max);
        }
        for ev in others {
            if ready.len() < max {
                ready.push(ev);
            }
        }
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if !ready.is_empty() || timed_out {
            let n = ready.len();
            out[..n].copy_from_slice(&ready);
            return Some(n as c_int);
        }
    }
}
