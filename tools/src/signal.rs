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

/// A write to a closed standard output ends the tool quietly, as Unix
/// tools end (`valectl --stats | head`): killed by SIGPIPE, no message.
///
/// SIGPIPE itself stays ignored (Rust's default): a tool also writes to
/// sockets, such as the simulated NIC's vfio-user socket, whose peer may
/// die, and that must be an error the tool reports, not a silent death.
/// So only `print!`'s panic on a broken standard stream is turned into
/// the signal.
pub fn die_on_closed_output() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        let broken_stdio = (text.starts_with("failed printing to stdout")
            || text.starts_with("failed printing to stderr"))
            && text.contains("Broken pipe");
        if broken_stdio {
            // SAFETY: SIG_DFL installs no code of ours; `raise` then ends
            // the process with the signal's default action, as a write to
            // a closed pipe ends a C tool. Nothing runs after it.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
        previous(info);
    }));
}

/// True once SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Asks the loops to stop, as a signal would.
pub fn request_stop() {
    STOP.store(true, Ordering::Relaxed);
}
