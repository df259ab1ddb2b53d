//! `poll`/`ppoll` over a set that holds netmap descriptors.
//!
//! netmap's `netmap_poll`: POLLOUT txsyncs the bound TX rings and is ready
//! when one has room; TX rings are txsynced on every poll unless
//! `NR_NO_TX_POLL`; POLLIN rxsyncs and is ready when an RX ring has
//! packets; an unbound descriptor is POLLERR. To block, each binding is
//! armed (the backend then signals its wake-up descriptor at the next
//! change), the rings are checked once more, and the real `poll` waits on
//! the wake-up descriptors together with the application's other
//! descriptors. Signals interrupt the wait (`EINTR`), as in the kernel.

use std::ffi::c_int;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libc::{pollfd, POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use netmap_ring::abi::NR_NO_TX_POLL;

use crate::file::NmFile;
use crate::sys;

const IN: i16 = POLLIN | POLLRDNORM;
const OUT: i16 = POLLOUT | POLLWRNORM;

/// Syncs one netmap descriptor for `events`; returns its `revents`.
pub fn check(file: &NmFile, events: i16) -> i16 {
    let Some(bound) = file.bound() else {
        return POLLERR;
    };
    let want_tx = events & OUT != 0;
    let want_rx = events & IN != 0;
    if (want_tx || bound.nr_flags & NR_NO_TX_POLL == 0) && bound.txsync().is_err() {
        return POLLERR;
    }
    if want_rx && bound.rxsync().is_err() {
        return POLLERR;
    }
    let mut revents = 0;
    if want_tx && bound.tx_ready() {
        revents |= events & OUT;
    }
    if want_rx && bound.rx_ready() {
        revents |= events & IN;
    }
    revents
}

/// How long to keep re-syncing before sleeping (`NETMAP_RS_POLL_SPIN_US`,
/// default 50 us, as the `Port` API): a peer on another core usually
/// answers within microseconds.
fn spin_budget() -> Duration {
    static SPIN: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        let micros = std::env::var("NETMAP_RS_POLL_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50);
        Duration::from_micros(micros)
    })
}

/// The real poll (or ppoll with `sigmask`) for at most `timeout`.
fn real_wait(
    fds: &mut [pollfd],
    timeout: Option<Duration>,
    sigmask: Option<*const libc::sigset_t>,
) -> c_int {
    let real = sys::real();
    match sigmask {
        None => {
            let ms = match timeout {
                None => -1,
                Some(t) if t.is_zero() => 0,
                Some(t) => t.as_millis().clamp(1, i32::MAX as u128) as c_int,
            };
            // SAFETY: `fds` is a valid, writable array of `fds.len()` pollfds.
            unsafe { (real.poll)(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) }
        }
        Some(mask) => {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            // SAFETY: `fds` is valid for `fds.len()` entries; `ts_ptr` is null
            // or points to `ts`, alive for the call; `mask` is the caller's
            // (null or a valid sigset, as ppoll requires).
            unsafe { (real.ppoll)(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ts_ptr, mask) }
        }
    }
}

/// `poll`/`ppoll` on `fds`, some of which are netmap descriptors
/// (`netmap[i]` is the file of `fds[i]`, if any).
pub fn poll(
    fds: &mut [pollfd],
    netmap: &[Option<Arc<NmFile>>],
    timeout: Option<Duration>,
    sigmask: Option<*const libc::sigset_t>,
) -> c_int {
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let others: Vec<usize> = (0..fds.len()).filter(|&i| netmap[i].is_none()).collect();
    let spin_until = if others.is_empty() && sigmask.is_none() {
        started + spin_budget().min(timeout.unwrap_or(Duration::MAX))
    } else {
        started
    };
    for fd in fds.iter_mut() {
        fd.revents = 0;
    }
    loop {
        if let Some(n) = netmap_ready(fds, netmap) {
            return finish_with_others(fds, &others, n);
        }
        if Instant::now() < spin_until {
            // Yield rather than spin: on a busy machine the peer that will
            // make us ready may be waiting for this very core.
            std::thread::yield_now();
            continue;
        }
        // Arm, then look again: a change between the check above and the
        // arm would be missed (backends kick armed bindings only).
        let armed: Vec<&NmFile> = netmap
            .iter()
            .flatten()
            .filter(|f| f.bound().is_some())
            .map(|f| f.as_ref())
            .collect();
        for file in &armed {
            if let Some(bound) = file.bound() {
                bound.arm();
            }
        }
        if let Some(n) = netmap_ready(fds, netmap) {
            disarm(&armed);
            return finish_with_others(fds, &others, n);
        }
        let left = match deadline {
            None => None,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    disarm(&armed);
                    return finish_with_others(fds, &others, 0);
                }
                Some(left)
            }
        };
        let mut wait: Vec<pollfd> = others.iter().map(|&i| fds[i]).collect();
        for file in &armed {
            if let Some(bound) = file.bound() {
                wait.push(pollfd {
                    fd: bound.wake_fd(),
                    events: POLLIN,
                    revents: 0,
                });
            }
        }
        let rc = real_wait(&mut wait, left, sigmask);
        let saved = sys::errno();
        disarm(&armed);
        if rc < 0 {
            sys::set_errno(saved);
            return rc;
        }
        let mut other_ready = 0;
        for (k, &i) in others.iter().enumerate() {
            fds[i].revents = wait[k].revents;
            if wait[k].revents != 0 {
                other_ready += 1;
            }
        }
        if other_ready > 0 {
            // Report the netmap side as it is now, without waiting.
            let n = netmap_ready(fds, netmap).unwrap_or(0);
            return (n + other_ready) as c_int;
        }
    }
}

fn disarm(armed: &[&NmFile]) {
    for file in armed {
        if let Some(bound) = file.bound() {
            bound.disarm();
        }
    }
}

/// Checks every netmap descriptor; `Some(count)` if any is ready.
fn netmap_ready(fds: &mut [pollfd], netmap: &[Option<Arc<NmFile>>]) -> Option<usize> {
    let mut ready = 0;
    for (fd, file) in fds.iter_mut().zip(netmap) {
        if let Some(file) = file {
            fd.revents = check(file, fd.events);
            if fd.revents != 0 {
                ready += 1;
            }
        }
    }
    (ready > 0).then_some(ready)
}

/// Adds the other descriptors' state (without waiting) to `netmap_count`.
fn finish_with_others(fds: &mut [pollfd], others: &[usize], netmap_count: usize) -> c_int {
    if others.is_empty() {
        return netmap_count as c_int;
    }
    let mut probe: Vec<pollfd> = others.iter().map(|&i| fds[i]).collect();
    let rc = real_wait(&mut probe, Some(Duration::ZERO), None);
    if rc < 0 {
        return netmap_count as c_int;
    }
    let mut count = netmap_count;
    for (k, &i) in others.iter().enumerate() {
        fds[i].revents = probe[k].revents;
        if probe[k].revents != 0 {
            count += 1;
        }
    }
    count as c_int
}
