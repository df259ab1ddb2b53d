//! ping sends one timestamped frame at a time and waits for its echo;
//! pong echoes every frame back with addresses swapped.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use netmap_ring::port::{Interest, Port};

use super::frames::{fill_ping, make_echo, parse_ping};
use super::run::{PingOutcome, Worker};
use crate::error::ToolError;
use crate::signal;
use crate::wire::UdpFrame;

/// How long one poll() waits before the loop looks at the stop flag.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// Waits for received frames: spins on rxsync with `busy`, else poll().
fn wait_rx(port: &Port, busy: bool, limit: Duration) -> Result<(), netmap_ring::port::SyncError> {
    if busy {
        port.rxsync()
    } else {
        port.poll(Interest::RX, Some(limit.min(POLL_SLICE)))
            .map(|_| ())
    }
}

/// Puts `frame` in a TX slot, syncing until one is free.
fn send(port: &mut Port, frame: &[u8], name: &str) -> Result<bool, ToolError> {
    while !port.inject(frame) {
        if signal::stop_requested() {
            return Ok(false);
        }
        port.txsync().map_err(|e| ToolError::sync(name, e))?;
        std::thread::yield_now();
    }
    Ok(true)
}

/// Sends `count` pings (0: until stopped), one at a time; a ping without a
/// reply within the timeout is counted lost and the next one goes, so the
/// run ends even when the other side went away.
pub fn ping(port: &mut Port, w: &Worker<'_>) -> Result<PingOutcome, ToolError> {
    let cfg = w.cfg;
    let name = cfg.port.as_str();
    let epoch = Instant::now();
    let mut outcome = PingOutcome::default();
    let mut frame = Vec::new();
    let mut seq: u32 = 0;
    while (cfg.count == 0 || u64::from(seq) < cfg.count) && !signal::stop_requested() {
        let size = cfg.frames.size_min;
        let sent_ns = epoch.elapsed().as_nanos() as u64;
        cfg.frames
            .build_with(u64::from(seq), size, &mut frame, |p| {
                fill_ping(p, seq, sent_ns)
            });
        if !send(port, &frame, name)? {
            break;
        }
        port.txsync().map_err(|e| ToolError::sync(name, e))?;
        w.stats.add(1, frame.len() as u64);
        let deadline = Instant::now() + cfg.timeout;
        let mut answered = false;
        while !answered && !signal::stop_requested() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                outcome.lost += 1;
                break;
            }
            wait_rx(port, cfg.busy, left).map_err(|e| ToolError::sync(name, e))?;
            while let Some(packet) = port.next_packet() {
                let Ok(reply) = UdpFrame::parse(&packet.data) else {
                    continue;
                };
                if let Some((s, t)) = parse_ping(reply.payload) {
                    if s == seq {
                        let now = epoch.elapsed().as_nanos() as u64;
                        outcome
                            .rtts
                            .push(Duration::from_nanos(now.saturating_sub(t)));
                        outcome.replies.pkts += 1;
                        outcome.replies.bytes += packet.data.len() as u64;
                        outcome.replies.events += 1;
                        answered = true;
                    }
                }
            }
        }
        seq = seq.wrapping_add(1);
    }
    Ok(outcome)
}

/// Echoes frames until `count` were echoed (or stopped).
pub fn pong(port: &mut Port, w: &Worker<'_>) -> Result<(), ToolError> {
    let cfg = w.cfg;
    let name = cfg.port.as_str();
    let own_mac = cfg.frames.src_mac;
    let mut echoed: u64 = 0;
    while (cfg.count == 0 || echoed < cfg.count) && !signal::stop_requested() {
        wait_rx(port, cfg.busy, POLL_SLICE).map_err(|e| ToolError::sync(name, e))?;
        let mut batch = 0u64;
        let mut bytes = 0u64;
        while cfg.count == 0 || echoed + batch < cfg.count {
            let Some(mut packet) = port.next_packet() else {
                break;
            };
            // A joined MOREFRAG chain may not fit one TX buffer: not echoed.
            if packet.data.len() > port.buf_size() as usize || !make_echo(&mut packet.data, own_mac)
            {
                continue;
            }
            if !send(port, &packet.data, name)? {
                break;
            }
            batch += 1;
            bytes += packet.data.len() as u64;
        }
        if batch > 0 {
            port.txsync().map_err(|e| ToolError::sync(name, e))?;
            echoed += batch;
            w.stats.add(batch, bytes);
        }
    }
    // Release the last received slots.
    port.rxsync().map_err(|e| ToolError::sync(name, e))?;
    Ok(())
}
