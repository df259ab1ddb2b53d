//! Ping-pong round trips over a netmap port or a pair of plain rings.

use std::time::{Duration, Instant};

use netmap_ring::port::Port;
use serde_json::json;

use super::netmap::{consume, open_port, prefill, queue, send_one};
use super::{
    open_control, Common, FinishOnDrop, Idle, RoleResult, SendUntil, Target, FIRST_PACKET_TIMEOUT,
};
use crate::ctl;
use crate::frame::{self, parse_mac};
use crate::spsc::SpscRing;

/// One side of a ping-pong: sends one frame, or takes what arrived.
enum Endpoint {
    Port { port: Box<Port>, len: u16 },
    Rings { out: SpscRing, inbound: SpscRing },
}

impl Endpoint {
    fn open(target: &Target, dst: &str, src: &str) -> Result<Self, String> {
        match (&target.port, target.rings.as_slice()) {
            (Some(name), []) => {
                let port = open_port(name)?;
                let len = frame::MIN_FRAME as u16;
                prefill(
                    &port,
                    &frame::frame(parse_mac(dst)?, parse_mac(src)?, len.into()),
                )?;
                Ok(Endpoint::Port {
                    port: Box::new(port),
                    len,
                })
            }
            (None, [out, inbound]) => Ok(Endpoint::Rings {
                out: SpscRing::open(out).map_err(|e| e.to_string())?,
                inbound: SpscRing::open(inbound).map_err(|e| e.to_string())?,
            }),
            _ => Err("give --port, or --rings OUT,IN".into()),
        }
    }
}

pub(super) fn ping(
    common: &Common,
    target: &Target,
    dst: &str,
    src: &str,
    warmup: u64,
) -> RoleResult {
    let ctl = open_control(common)?;
    let endpoint = Endpoint::open(target, dst, src)?;
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let window = Duration::from_secs_f64(common.secs);
    let cap = common.max_packets.min(4_000_000);
    let mut samples: Vec<u32> = Vec::with_capacity(cap.min(1 << 20) as usize);
    let mut trips = 0u64;
    let mut started: Option<Instant> = None;
    let mut round_trip = |send: &mut dyn FnMut() -> Result<(), String>,
                          recv: &mut dyn FnMut() -> Result<bool, String>|
     -> Result<bool, String> {
        let t0 = Instant::now();
        send()?;
        let mut spins = 0u32;
        let mut idle = Idle::default();
        while !recv()? {
            idle.progress(false);
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && t0.elapsed() >= FIRST_PACKET_TIMEOUT {
                return Err(format!("no reply within {FIRST_PACKET_TIMEOUT:?}"));
            }
        }
        let rtt = t0.elapsed();
        trips += 1;
        if trips > warmup {
            samples.push(rtt.as_nanos().min(u128::from(u32::MAX)) as u32);
            let start = *started.get_or_insert(t0);
            return Ok((samples.len() as u64) < cap && start.elapsed() < window);
        }
        Ok(true)
    };
    match endpoint {
        Endpoint::Port { port, len } => {
            let rx = port.rx_ring(0);
            let mut send = || send_one(&port, len);
            let mut recv = || -> Result<bool, String> {
                port.rxsync_ring(0).map_err(|e| e.to_string())?;
                Ok(consume(&rx, u32::MAX).0 > 0)
            };
            while round_trip(&mut send, &mut recv)? {}
        }
        Endpoint::Rings { out, inbound } => {
            let mut producer = out.producer();
            let mut consumer = inbound.consumer();
            let mut send = || {
                if producer.push(1, 60, false) == 1 {
                    Ok(())
                } else {
                    Err("ring full".into())
                }
            };
            let mut recv = || Ok(consumer.pop(usize::MAX).0 > 0);
            while round_trip(&mut send, &mut recv)? {}
        }
    }
    samples.sort_unstable();
    let pick = |q: f64| -> u32 {
        if samples.is_empty() {
            0
        } else {
            samples[((samples.len() - 1) as f64 * q).round() as usize]
        }
    };
    Ok(json!({
        "samples": samples.len(),
        "min_ns": pick(0.0),
        "median_ns": pick(0.5),
        "p99_ns": pick(0.99),
        "max_ns": pick(1.0),
    }))
}

pub(super) fn pong(common: &Common, target: &Target, dst: &str, src: &str) -> RoleResult {
    let ctl = open_control(common)?;
    let endpoint = Endpoint::open(target, dst, src)?;
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let mut until = SendUntil::new(&ctl, common, 1);
    let mut echoed = 0u64;
    match endpoint {
        Endpoint::Port { port, len } => {
            let rx = port.rx_ring(0);
            let tx = port.tx_ring(0);
            let mut idle = Idle::default();
            while until.go_on() {
                if port.rxsync_ring(0).is_err() {
                    break; // the pinger closed its end
                }
                let (k, _) = consume(&rx, u32::MAX);
                idle.progress(k > 0);
                if k > 0 {
                    queue(&tx, k as u32, len);
                    if port.txsync_ring(0).is_err() {
                        break;
                    }
                    echoed += k;
                }
            }
        }
        Endpoint::Rings { out, inbound } => {
            let mut producer = out.producer();
            let mut consumer = inbound.consumer();
            let mut idle = Idle::default();
            while until.go_on() {
                let (k, _) = consumer.pop(usize::MAX);
                idle.progress(k > 0);
                if k > 0 {
                    producer.push(k, 60, false);
                    echoed += k as u64;
                }
            }
        }
    }
    Ok(json!({ "packets": echoed }))
}
