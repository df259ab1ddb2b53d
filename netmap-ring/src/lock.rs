//! A lock that lives in shared memory and survives the death of its holder.
//!
//! The lock word holds the Linux thread id of the holder (0 when free).
//! Waiters spin briefly, then yield; a waiter that has waited a while checks
//! whether the holder still exists and, if it was killed (SIGKILL leaves no
//! chance to unlock), takes the lock over and is told so, so that it can
//! repair whatever the dead holder left half done. This is what a robust
//! pthread mutex gives, without putting a glibc object in the region.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How a lock was acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// The lock was free or released normally.
    Clean,
    /// The previous holder died holding it; protected state may be torn.
    FromDeadHolder { dead_tid: u32 },
}

/// Spins before the first liveness check of the holder.
const SPINS_BEFORE_YIELD: u32 = 200;
/// How long to wait before asking whether the holder is still alive.
const LIVENESS_CHECK_AFTER: Duration = Duration::from_millis(20);

fn current_tid() -> u32 {
    // gettid is a system call: ask once per thread.
    thread_local! {
        static TID: u32 = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    }
    TID.with(|tid| *tid)
}

/// True if the thread or process `id` exists and is not a zombie.
///
/// `/proc/<id>` exists for every live thread of every process (thread ids
/// are reachable there even though only process ids are listed), and a
/// zombie (killed, not yet reaped) has dropped its locks in the sense that
/// matters: it will never run again.
pub fn task_alive(id: u32) -> bool {
    if id == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{id}/stat")) {
        Ok(stat) => {
            // Field 3 (after the parenthesised command) is the state.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// A lock over one aligned u32 in shared memory.
pub struct ShmLock<'a> {
    word: &'a AtomicU32,
}

impl<'a> ShmLock<'a> {
    /// Wraps the lock word (0 = unlocked, as a zero-filled region starts).
    pub fn new(word: &'a AtomicU32) -> Self {
        Self { word }
    }

    /// Takes the lock, waiting as long as the holder lives.
    pub fn lock(&self) -> (ShmLockGuard<'a>, Acquired) {
        let me = current_tid();
        let mut spins = 0u32;
        let mut since: Option<Instant> = None;
        loop {
            // Acquire: pairs with the Release store in `ShmLockGuard::drop`,
            // so the previous holder's writes are visible to us.
            match self
                .word
                .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return (ShmLockGuard { word: self.word }, Acquired::Clean),
                Err(holder) if holder != 0 => {
                    spins += 1;
                    if spins < SPINS_BEFORE_YIELD {
                        std::hint::spin_loop();
                        continue;
                    }
                    std::thread::yield_now();
                    let started = *since.get_or_insert_with(Instant::now);
                    if started.elapsed() >= LIVENESS_CHECK_AFTER {
                        if !task_alive(holder) {
                            // Acquire: as above; the dead holder's writes
                            // up to its death are what we repair from.
                            if self
                                .word
                                .compare_exchange(holder, me, Ordering::Acquire, Ordering::Relaxed)
                                .is_ok()
                            {
                                return (
                                    ShmLockGuard { word: self.word },
                                    Acquired::FromDeadHolder { dead_tid: holder },
                                );
                            }
                        }
                        since = Some(Instant::now());
                    }
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
    }

    /// Takes the lock only if it is free.
    pub fn try_lock(&self) -> Option<ShmLockGuard<'a>> {
        self.word
            .compare_exchange(0, current_tid(), Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| ShmLockGuard { word: self.word })
    }
}

/// Holds a [`ShmLock`]; dropping it unlocks.
pub struct ShmLockGuard<'a> {
    word: &'a AtomicU32,
}

impl Drop for ShmLockGuard<'_> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire in `lock`, publishing every write
        // made under the lock before it is seen free.
        self.word.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_threads() {
        let word = Arc::new(AtomicU32::new(0));
        let counter = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let word = Arc::clone(&word);
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let lock = ShmLock::new(&word);
                    for _ in 0..2000 {
                        let (_guard, how) = lock.lock();
                        assert_eq!(how, Acquired::Clean);
                        // A non-atomic read-modify-write made safe by the lock.
                        let value = counter.load(Ordering::Relaxed);
                        counter.store(value + 1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 8000);
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_dead_holder_is_detected_and_replaced() {
        // A thread id that cannot exist (above pid_max's ceiling of 2^22).
        let word = AtomicU32::new(u32::MAX - 7);
        let lock = ShmLock::new(&word);
        assert!(lock.try_lock().is_none());
        let (guard, how) = lock.lock();
        assert_eq!(
            how,
            Acquired::FromDeadHolder {
                dead_tid: u32::MAX - 7
            }
        );
        drop(guard);
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }
}
