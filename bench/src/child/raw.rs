//! Sender and receiver of the Linux-bridge baseline (AF_PACKET sockets).

use std::time::Instant;

use serde_json::json;

use super::{
    open_control, Common, FinishOnDrop, Idle, RoleResult, SendUntil, Window, FIRST_PACKET_TIMEOUT,
};
use crate::ctl;
use crate::frame::{self, parse_mac};
use crate::rawsock::{RawSocket, RecvBuffers, MMSG_BATCH};

pub(super) fn raw_tx(
    common: &Common,
    ifname: &str,
    dst: &str,
    src: &str,
    len: usize,
    receivers: u32,
) -> RoleResult {
    let ctl = open_control(common)?;
    let socket = RawSocket::bind(ifname, frame::ETHERTYPE).map_err(|e| e.to_string())?;
    let frame = frame::frame(parse_mac(dst)?, parse_mac(src)?, len.max(frame::MIN_FRAME));
    // Let the bridge learn us.
    socket.send(&frame).map_err(|e| e.to_string())?;
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    // Wait for the receiver's frame: the bridge then knows both ends.
    let mut bufs = RecvBuffers::default();
    let until = Instant::now() + FIRST_PACKET_TIMEOUT;
    while socket.recv_batch(&mut bufs).map_err(|e| e.to_string())?.0 == 0 {
        if Instant::now() >= until {
            return Err("learning reply did not arrive through the bridge".into());
        }
    }
    let batch = (common.batch as usize).clamp(1, MMSG_BATCH);
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let (mut sent, mut errors) = (0u64, 0u64);
    while until.go_on() {
        match socket.send_batch(&frame, batch) {
            Ok(k) => sent += k as u64,
            // ENOBUFS and the like: the queue is full, try again.
            Err(_) => errors += 1,
        }
    }
    Ok(json!({ "packets": sent, "errors": errors, "secs": started.elapsed().as_secs_f64() }))
}

pub(super) fn raw_rx(common: &Common, ifname: &str, reply_to: &str, src: &str) -> RoleResult {
    let ctl = open_control(common)?;
    let socket = RawSocket::bind(ifname, frame::ETHERTYPE).map_err(|e| e.to_string())?;
    let reply = frame::frame(parse_mac(reply_to)?, parse_mac(src)?, frame::MIN_FRAME);
    let mut bufs = RecvBuffers::default();
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    // Drop the sender's learning frame, then let the bridge learn us.
    while socket.recv_batch(&mut bufs).map_err(|e| e.to_string())?.0 > 0 {}
    socket.send(&reply).map_err(|e| e.to_string())?;
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (k, bytes) = socket.recv_batch(&mut bufs).map_err(|e| e.to_string())?;
        idle.progress(k > 0);
        if !window.add(k as u64, bytes)? {
            break;
        }
    }
    Ok(window.result())
}
