//! The receiver: counts frames (and captures them), waiting in poll() or
//! spinning on rxsync with `--busy`.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use netmap_ring::port::{Interest, Port};
use netmap_ring::ring;

use super::run::Worker;
use crate::error::ToolError;
use crate::signal;

/// How long one poll() waits before the loop looks at the stop flag.
const POLL_SLICE: Duration = Duration::from_millis(100);
/// The same with several threads: they share the port's one wake-up fd,
/// and one thread's disarm can swallow another's wake-up, so each wait is
/// kept well under the time a ring takes to fill.
const SHARED_POLL_SLICE: Duration = Duration::from_millis(1);

/// Takes up to `want` of the packets still to receive.
fn claim(remaining: Option<&AtomicU64>, want: u32) -> u64 {
    let want = u64::from(want);
    match remaining {
        None => want,
        Some(left) => match left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| {
            Some(l - l.min(want))
        }) {
            Ok(before) | Err(before) => before.min(want),
        },
    }
}

/// Receives until the shared count is reached or stopped.
pub fn rx_worker(port: &Port, w: &Worker<'_>) -> Result<(), ToolError> {
    let cfg = w.cfg;
    let sync_err = |e| ToolError::sync(&cfg.port, e);
    let mut scratch = vec![0u8; port.buf_size() as usize];
    let slice = if cfg.threads > 1 {
        SHARED_POLL_SLICE
    } else {
        POLL_SLICE
    };
    loop {
        if signal::stop_requested() || w.remaining.is_some_and(|l| l.load(Ordering::Acquire) == 0) {
            break;
        }
        if cfg.busy {
            for &r in &w.rings {
                port.rxsync_ring(r).map_err(sync_err)?;
            }
        } else {
            port.poll(Interest::RX, Some(slice)).map_err(sync_err)?;
        }
        for &r in &w.rings {
            let rx = port.rx_ring(r);
            let n = rx.num_slots();
            let mut cur = rx.cur();
            if cur >= n {
                return Err(ToolError::Usage(format!(
                    "{}: rx ring {r} has cur {cur} out of range",
                    cfg.port
                )));
            }
            let avail = ring::distance(cur, rx.tail(), n);
            if avail == 0 {
                continue;
            }
            let take = claim(w.remaining, avail);
            let mut bytes = 0u64;
            for _ in 0..take {
                let slot = rx.slot(cur);
                let len = usize::from(slot.len).min(scratch.len());
                bytes += len as u64;
                if let Some(pcap) = w.pcap {
                    if port.read_buf(slot.buf_idx, &mut scratch[..len]).is_ok() {
                        let mut sink = pcap.lock().unwrap_or_else(|e| e.into_inner());
                        sink.write(&scratch[..len])
                            .map_err(|source| ToolError::Io {
                                what: "pcap file".into(),
                                source,
                            })?;
                    }
                }
                cur = ring::next(cur, n);
            }
            rx.set_head(cur);
            rx.set_cur(cur);
            if take > 0 {
                w.stats.stamp(w.start.elapsed());
                w.stats.add(take, bytes);
            }
        }
    }
    // Hand the consumed slots back (a pipe's sender waits for them).
    for &r in &w.rings {
        port.rxsync_ring(r).map_err(sync_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_never_exceeds_what_is_left() {
        let left = AtomicU64::new(5);
        assert_eq!(claim(Some(&left), 3), 3);
        assert_eq!(claim(Some(&left), 3), 2);
        assert_eq!(claim(Some(&left), 3), 0);
        assert_eq!(claim(None, 7), 7);
    }
}
