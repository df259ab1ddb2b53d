//! The sender: fills TX slots with frames and busy-polls with txsync.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use netmap_ring::abi::NS_BUF_CHANGED;
use netmap_ring::port::Port;
use netmap_ring::ring;

use super::frames::MAX_FRAME;
use super::run::Worker;
use crate::error::ToolError;
use crate::signal;

/// How many packets the rate allows now, and how long until the next one
/// when none is allowed.
fn rate_budget(rate: f64, start: Instant, sent: u64) -> (u64, Duration) {
    let due = (start.elapsed().as_secs_f64() * rate) as u64;
    if due > sent {
        (due - sent, Duration::ZERO)
    } else {
        let next_at = (sent + 1) as f64 / rate;
        let wait = next_at - start.elapsed().as_secs_f64();
        (0, Duration::from_secs_f64(wait.max(0.0)))
    }
}

/// Sends `w.quota` packets (or until stopped) on the worker's rings.
pub fn tx_worker(port: &Port, w: &Worker<'_>) -> Result<(), ToolError> {
    let cfg = w.cfg;
    let spec = &cfg.frames;
    let replay = cfg.replay.as_deref();
    let fixed = spec.is_fixed() && replay.is_none();
    let mut frame = Vec::with_capacity(MAX_FRAME);
    if fixed {
        spec.build(0, &mut frame);
    }
    // On a VALE port a TX buffer never leaves the ring (the switch copies
    // out of it) and only this process writes it, so a fixed frame is
    // written into each buffer once, as netmap's pkt-gen does without
    // OPT_COPY; a slot marked NS_BUF_CHANGED gets it again. Pipe buffers
    // travel to the peer and come back, so there every frame is copied.
    let write_once = fixed && port.name().pipe.is_none();
    let tracked = if write_once {
        port.layout().buffers.num_bufs as usize
    } else {
        0
    };
    let mut holds_frame = vec![false; tracked];
    let mut k: u64 = 0;
    let mut sent: u64 = 0;
    let start = Instant::now();
    'run: loop {
        for &r in &w.rings {
            if signal::stop_requested() || (w.quota > 0 && sent >= w.quota) {
                break 'run;
            }
            let tx = port.tx_ring(r);
            let n = tx.num_slots();
            let mut cur = tx.cur();
            if cur >= n {
                return Err(ToolError::Usage(format!(
                    "{}: tx ring {r} has cur {cur} out of range",
                    cfg.port
                )));
            }
            let space = ring::distance(cur, tx.tail(), n);
            w.stats.note_space(space);
            let mut budget = u64::from(space.min(cfg.batch));
            if w.quota > 0 {
                budget = budget.min(w.quota - sent);
            }
            if w.rate > 0.0 {
                let (allowed, wait) = rate_budget(w.rate, start, sent);
                if allowed == 0 {
                    // Sleep through long gaps; spin through short ones.
                    if wait > Duration::from_micros(200) {
                        std::thread::sleep(wait - Duration::from_micros(100));
                    }
                    continue;
                }
                budget = budget.min(allowed);
            }
            if budget == 0 {
                // Ring full: sync to reclaim slots (busy-poll).
                port.txsync_ring(r)
                    .map_err(|e| ToolError::sync(&cfg.port, e))?;
                std::thread::yield_now();
                continue;
            }
            let mut bytes = 0u64;
            for _ in 0..budget {
                let frame: &[u8] = match replay {
                    Some(frames) => &frames[(k % frames.len() as u64) as usize],
                    None => {
                        if !fixed {
                            spec.build(k, &mut frame);
                        }
                        &frame
                    }
                };
                k += 1;
                let slot = tx.slot(cur);
                let buf_idx = slot.buf_idx;
                let known = holds_frame.get_mut(buf_idx as usize);
                let skip = slot.flags & NS_BUF_CHANGED == 0 && known.as_deref() == Some(&true);
                if let Some(known) = known {
                    *known = true;
                }
                if !skip {
                    if frame.len() > port.buf_size() as usize {
                        return Err(ToolError::Usage(format!(
                            "{}: frame {} of the file is {} bytes, more than a {}-byte buffer",
                            cfg.port,
                            k - 1,
                            frame.len(),
                            port.buf_size()
                        )));
                    }
                    port.write_buf(buf_idx, frame).map_err(|e| {
                        ToolError::Usage(format!(
                            "{}: tx slot {cur} holds a bad buffer: {e}",
                            cfg.port
                        ))
                    })?;
                }
                tx.set_len_flags(cur, frame.len() as u16, 0);
                bytes += frame.len() as u64;
                cur = ring::next(cur, n);
            }
            tx.set_head(cur);
            tx.set_cur(cur);
            port.txsync_ring(r)
                .map_err(|e| ToolError::sync(&cfg.port, e))?;
            sent += budget;
            w.stats.add(budget, bytes);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_budget_allows_what_is_due() {
        let start = Instant::now() - Duration::from_millis(100);
        let (allowed, wait) = rate_budget(1000.0, start, 0);
        assert!((99..=110).contains(&allowed), "{allowed}");
        assert_eq!(wait, Duration::ZERO);
        let (allowed, wait) = rate_budget(1000.0, start, 200);
        assert_eq!(allowed, 0);
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(101),
            "{wait:?}"
        );
    }
}
