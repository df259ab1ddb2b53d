//! Named crash points: where a process killed between two steps of a
//! change to shared state would leave something half done.
//!
//! `crash_point!("ports::destroy:ring_forgotten")` does nothing unless the
//! environment variable [`ENV`] (`NETMAP_CRASH_AT=<name>[:<nth>]`) names
//! that point; then the process sends itself SIGKILL the `nth` time
//! (default 1) it gets there: no unwinding, no destructors, no unlock, as
//! a real kill. The crash-point harness (`tests/tests/crashpoints.rs`) runs
//! each operation in a child killed at each point in turn and checks from
//! a fresh process that nothing was lost.
//!
//! Cost: the points sit in control paths only (switch and port creation
//! and destruction, pool allocation), never in a sync, and an unarmed point
//! is one relaxed load of a static and a predicted branch. So they are
//! compiled into every build, the release tools included: the harness
//! kills the very code that ships, and no feature can be forgotten.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::OnceLock;

/// The variable naming the point to die at: `<name>` or `<name>:<nth>`.
pub const ENV: &str = "NETMAP_CRASH_AT";

/// [`STATE`] before the variable was read.
const UNREAD: u8 = 0;
/// No point is armed in this process.
const OFF: u8 = 1;
/// A point is armed: [`TARGET`] names it.
const ARMED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNREAD);
static TARGET: OnceLock<Option<Target>> = OnceLock::new();

struct Target {
    name: String,
    nth: u32,
    seen: AtomicU32,
}

/// Parses `<name>[:<nth>]` (a bad or zero `nth` means the first time).
fn parse(value: &str) -> Option<Target> {
    let (name, nth) = match value.rsplit_once(':') {
        Some((name, nth)) if nth.bytes().all(|b| b.is_ascii_digit()) && !nth.is_empty() => {
            (name, nth.parse::<u32>().unwrap_or(1).max(1))
        }
        _ => (value, 1),
    };
    (!name.is_empty()).then(|| Target {
        name: name.to_owned(),
        nth,
        seen: AtomicU32::new(0),
    })
}

/// Marks crash point `name`: use [`crash_point!`](crate::crash_point).
#[inline]
pub fn reached(name: &'static str) {
    // Relaxed: a point read as unread or armed goes the slow way, which
    // synchronises through the OnceLock.
    if STATE.load(Ordering::Relaxed) == OFF {
        return;
    }
    reached_slow(name);
}

#[cold]
#[inline(never)]
fn reached_slow(name: &'static str) {
    let target = TARGET.get_or_init(|| std::env::var(ENV).ok().as_deref().and_then(parse));
    STATE.store(
        if target.is_some() { ARMED } else { OFF },
        Ordering::Relaxed,
    );
    let Some(target) = target else { return };
    if target.name == name && target.seen.fetch_add(1, Ordering::Relaxed) + 1 == target.nth {
        die();
    }
}

/// Dies as `kill -9` would.
fn die() -> ! {
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    // SIGKILL cannot be caught or blocked: the kernel never returns here.
    std::process::abort()
}

/// A named crash point: see [the module](crate::crash).
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        $crate::crash::reached($name)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_counts_parse() {
        let t = parse("ports::destroy:ring_forgotten").unwrap();
        assert_eq!(
            (t.name.as_str(), t.nth),
            ("ports::destroy:ring_forgotten", 1)
        );
        let t = parse("ports::destroy:ring_forgotten:3").unwrap();
        assert_eq!(
            (t.name.as_str(), t.nth),
            ("ports::destroy:ring_forgotten", 3)
        );
        let t = parse("a:0").unwrap();
        assert_eq!((t.name.as_str(), t.nth), ("a", 1));
        assert!(parse("").is_none());
    }

    #[test]
    fn an_unarmed_point_does_nothing() {
        // The test process has no NETMAP_CRASH_AT naming this point.
        for _ in 0..3 {
            crate::crash_point!("crash::tests:never_armed");
        }
    }
}
