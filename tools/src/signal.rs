//! SIGINT/SIGTERM as a flag the tools' loops poll, so an interrupted run
//! still prints its summary (as netmap's tools do on Ctrl-C).

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only
        // performs an atomic store, which is async-signal-safe; installing
        // it replaces no handler Rust's runtime relies on.
        unsafe {
            libc::signal(
                signal,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

/// A write to a closed pipe ends the tool quietly, as Unix tools do
/// (`valectl --stats | head`): SIGPIPE back to its default action. Rust
/// ignores it at start-up, which turns the write into EPIPE and
/// `println!` into a panic.
pub fn die_on_closed_output() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no code
    // of ours; Rust's runtime only needs SIGPIPE ignored for its own
    // socket writes, which the tools do not rely on (their sockets are
    // netmap ports and datagram sockets, never a peer that can close).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// True once SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Asks the loops to stop, as a signal would.
pub fn request_stop() {
    STOP.store(true, Ordering::Relaxed);
}
