//! Producer and consumer of the plain shared-memory ring baseline.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use super::{open_control, Common, FinishOnDrop, Idle, RoleResult, SendUntil, Window};
use crate::ctl;
use crate::frame;
use crate::spsc::SpscRing;

fn open_rings(paths: &[PathBuf]) -> Result<Vec<SpscRing>, String> {
    paths
        .iter()
        .map(|p| SpscRing::open(p).map_err(|e| e.to_string()))
        .collect()
}

pub(super) fn ring_tx(
    common: &Common,
    paths: &[PathBuf],
    len: u16,
    copy: bool,
    receivers: u32,
) -> RoleResult {
    let ctl = open_control(common)?;
    let rings = open_rings(paths)?;
    let frame = frame::frame(frame::BROADCAST, frame::mac(1), len.into());
    for ring in &rings {
        ring.fill_tx_pool(&frame);
    }
    let mut producers: Vec<_> = rings.iter().map(|r| r.producer()).collect();
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let batch = common.batch as usize;
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut idle = Idle::default();
    if let [producer] = producers.as_mut_slice() {
        // One ring: the common case, without the fan-out loop.
        while until.go_on() {
            let k = if copy {
                producer.push(batch, len, true)
            } else {
                producer.push(batch, len, false)
            };
            sent += k as u64;
            idle.progress(k > 0);
        }
    } else {
        // Fan-out: the batch goes to every ring, as a broadcast does; a
        // full ring loses what does not fit (VALE is not lossless either).
        while until.go_on() {
            let mut most = 0;
            for producer in &mut producers {
                most = most.max(producer.push(batch, len, copy));
            }
            sent += most as u64;
            idle.progress(most > 0);
        }
    }
    let mut result = json!({ "packets": sent, "secs": started.elapsed().as_secs_f64() });
    idle.report(&mut result);
    Ok(result)
}

pub(super) fn ring_rx(common: &Common, paths: &[PathBuf]) -> RoleResult {
    let ctl = open_control(common)?;
    let rings = open_rings(paths)?;
    let mut consumers: Vec<_> = rings.iter().map(|r| r.consumer()).collect();
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let batch = common.batch as usize;
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (mut packets, mut bytes) = (0, 0);
        for consumer in &mut consumers {
            let (k, b) = consumer.pop(batch);
            packets += k as u64;
            bytes += b;
        }
        idle.progress(packets > 0);
        if !window.add(packets, bytes)? {
            break;
        }
    }
    let mut result = window.result();
    idle.report(&mut result);
    Ok(result)
}
