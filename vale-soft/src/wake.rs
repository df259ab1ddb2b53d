//! The two barriers of the wake-up handshake, made asymmetric with
//! `membarrier(2)`.
//!
//! The handshake is Dekker's: a side that publishes progress (a sync
//! storing `hwtail` or `hwcur`) then loads the peer's wake flag; a side
//! about to sleep in `poll` stores its wake flag, then re-reads the ring.
//! Each needs its store ordered before its load against the other's
//! (otherwise both load the old values: the store-buffering outcome, a
//! lost wake-up). Fences on both sides do it, but the publishing side is
//! the data path: its SeqCst fence (`mfence`, or the `lock`ed instruction
//! a compiler emits for it) cannot complete before its Release store of
//! `hwtail` has taken the line back from the polling peer, one cross-core
//! round trip per batch that the plain ring's producer never waits for.
//!
//! So the publishing side runs [`light`]: only a compiler fence, when this
//! process registered for `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (done once at
//! [`register`], from `Domain::open`). The side about to sleep runs
//! [`heavy`]: its SeqCst fence, then `membarrier(GLOBAL_EXPEDITED)`, which
//! returns only after every CPU running a thread of a registered process
//! executed a full memory barrier (an IPI; a CPU not running one passed a
//! context switch, itself a full barrier). The two ends of a pipe are
//! separate processes: `MEMBARRIER_CMD_PRIVATE_EXPEDITED` covers only the
//! caller's own threads, so the global command is the one that reaches
//! the peer. Why no wake-up is lost: take the point at which the barrier
//! runs on the publisher's CPU. If it is after the publisher's store of
//! `hwtail`, that store is visible to the sleeper's re-read, which comes
//! after `membarrier` returns; if it is before the publisher's load of the
//! flag, the sleeper's store of the flag (made globally visible by its
//! fence before the system call) is seen by that load. Every point is one
//! or the other (a point between the two gives both), so at least one side
//! sees the other: the publisher kicks, or the sleeper does not sleep.
//!
//! A process whose registration failed (a kernel without membarrier, or a
//! seccomp filter) keeps the SeqCst fence in [`light`]; the sleeper's
//! fence pairs with it as before. The rule is per publishing process, so
//! processes of either kind mix. A child created by `fork` is not
//! registered (the registration belongs to the parent's address space):
//! a fork handler clears the flag so the child fences until it registers.
//! `NETMAP_RS_NO_MEMBARRIER=1` keeps the fences (for comparisons).

use std::sync::atomic::{compiler_fence, fence, AtomicU8, Ordering};

/// Registration state of this process: not tried, registered, refused.
const UNTRIED: u8 = 0;
const REGISTERED: u8 = 1;
const REFUSED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNTRIED);

/// `membarrier(2)` commands (linux/membarrier.h).
const MEMBARRIER_CMD_GLOBAL_EXPEDITED: libc::c_long = 1 << 1;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_long = 1 << 2;

fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes two integers (command, flags) and a CPU id
    // that these commands ignore; it touches no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_long,
            0 as libc::c_long,
        ) == 0
    }
}

extern "C" fn forget_in_child() {
    STATE.store(UNTRIED, Ordering::Relaxed);
}

/// Registers this process for `membarrier(GLOBAL_EXPEDITED)`, once (again
/// in a forked child); afterwards its syncs kick with [`light`] barriers.
pub fn register() {
    if STATE.load(Ordering::Relaxed) != UNTRIED {
        return;
    }
    static ATFORK: std::sync::Once = std::sync::Once::new();
    ATFORK.call_once(|| {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, as a fork child handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
    });
    let disabled = std::env::var_os("NETMAP_RS_NO_MEMBARRIER").is_some_and(|v| v == "1");
    let ok = !disabled && membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
    // Two threads registering at once both succeed (the command is
    // idempotent) or both fail: the same value is stored.
    STATE.store(if ok { REGISTERED } else { REFUSED }, Ordering::Relaxed);
}

/// True when this process's syncs use the light barrier.
pub fn registered() -> bool {
    STATE.load(Ordering::Relaxed) == REGISTERED
}

/// The publishing side's barrier, between its stores of `hwtail`/`hwcur`
/// and its load of the peer's wake flag.
#[inline]
pub fn light() {
    if registered() {
        // The sleeper's membarrier orders us; the compiler must still
        // keep the load after the stores.
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The sleeping side's barrier, between its store of the wake flag and
/// its re-read of the rings: a SeqCst fence (pairs with publishers that
/// fence), then the system call that puts a full barrier on every CPU
/// running a registered publisher. Costs an IPI per such CPU: paid only
/// by a side about to sleep in `poll`.
pub fn heavy() {
    fence(Ordering::SeqCst);
    // Refused (no such command): no process could register either, and
    // every publisher fences.
    let _ = membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_registers_and_the_global_barrier_returns() {
        register();
        // A kernel without the command (or a filter refusing it) is
        // allowed; then the light barrier is a fence.
        if registered() {
            assert!(membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED));
        }
        heavy();
        light();
    }
}
