//! Helpers shared by this crate's tests and the conformance suite
//! (`tests/tests/conformance`, which includes this file): unique
//! switch names, frame builders, slot-level send helpers over the Port API,
//! and access to a domain's counters and buffer-conservation check.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use netmap_ring::abi::NetmapSlot;
use netmap_ring::port::Port;
use netmap_ring::ring;
use vale_offload::counters::PortCounter;
use vale_offload::counters::SwitchCounter;
use vale_offload::placement::DomainKind;
use vale_soft::domain::Domain;
use vale_soft::ports;

/// A switch name no other test (of this or another process) uses:
/// `vale<tag>_<pid>_<n>`. Domains are per name, so tests running in
/// parallel never share a switch.
pub fn unique_switch(tag: &str) -> String {
    unique_name(&format!("vale{tag}"))
}

/// `<prefix><pid>_<n>`: a name (a NIC pipe parent, a switch) no other test
/// of this or another process uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

/// A locally administered unicast MAC ending in `id`.
pub fn mac(id: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, id]
}

pub const BROADCAST: [u8; 6] = [0xff; 6];
/// An IPv4 multicast MAC (group bit set, not broadcast).
pub const MULTICAST: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

/// An Ethernet frame of `len` bytes (len >= 14 for a real header; shorter
/// ones are cut) whose payload encodes `seq`, so each frame is distinct.
pub fn frame(dst: [u8; 6], src: [u8; 6], len: usize, seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; len.max(14)];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12] = 0x88;
    f[13] = 0xb5; // local experimental ethertype
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    if len >= 18 {
        f[14..18].copy_from_slice(&seq.to_le_bytes());
    }
    f.truncate(len);
    f
}

/// The sequence number [`frame`] put in a frame of at least 18 bytes.
pub fn seq_of(frame: &[u8]) -> u32 {
    u32::from_le_bytes(frame[14..18].try_into().expect("4 bytes"))
}

/// The domain of switch `switch` (`valeX`). Call it only while a port of
/// the switch is open: opening a domain creates it when absent.
pub fn switch_domain(switch: &str) -> Arc<Domain> {
    Domain::open(switch, DomainKind::Switch).expect("domain of an open switch")
}

/// The pipe domain of NIC parent `ifname` (`netmap:ifname{N`).
pub fn nic_pipe_domain(ifname: &str) -> Arc<Domain> {
    Domain::open(&format!("if-{ifname}"), DomainKind::Pipes).expect("domain of an open parent")
}

/// Entry index of port `name` (`a`, `p{1`) in `domain`.
pub fn entry(domain: &Domain, name: &str) -> u32 {
    ports::find(domain, name).unwrap_or_else(|| panic!("no port {name} in {}", domain.name()))
}

/// Counter `c` of port `name`.
pub fn port_counter(domain: &Domain, name: &str, c: PortCounter) -> u64 {
    domain
        .ctrl()
        .port(entry(domain, name))
        .counter(c)
        .load(Ordering::Relaxed)
}

/// Switch counter `c`.
pub fn switch_counter(domain: &Domain, c: SwitchCounter) -> u64 {
    domain.ctrl().switch_counter(c).load(Ordering::Relaxed)
}

/// Asserts buffer conservation: every buffer free, in one slot, or in one
/// extra-buffer list.
pub fn assert_conserved(domain: &Domain) {
    if let Err(e) = ports::check_conservation(domain) {
        panic!("buffer conservation broken in {}: {e}", domain.name());
    }
}

/// Writes `data` into the TX slot at `cur` of the first TX ring with the
/// given flags, and advances head and cur past it. Returns the slot index.
/// Panics when the ring has no room (tests size their rings).
pub fn put(port: &Port, data: &[u8], flags: u16) -> u32 {
    put_on(port, 0, data, flags)
}

/// As [`put`], on the `n`th bound TX ring.
pub fn put_on(port: &Port, n: usize, data: &[u8], flags: u16) -> u32 {
    let ring = port.tx_ring(n);
    let cur = ring.cur();
    assert!(!ring::empty(cur, ring.tail()), "TX ring {n} is full");
    let slot = ring.slot(cur);
    port.write_buf(slot.buf_idx, data)
        .expect("frame fits a buffer");
    ring.set_len_flags(cur, data.len() as u16, flags);
    let next = ring::next(cur, ring.num_slots());
    ring.set_head(next);
    ring.set_cur(next);
    cur
}

/// Replaces the slot at `cur` of the first TX ring with `slot` as it is
/// (buffer index, length, flags, ptr: possibly invalid) and advances head
/// and cur. Returns the slot the ring held, so the test can restore its
/// buffer.
pub fn put_raw(port: &Port, slot: NetmapSlot) -> (u32, NetmapSlot) {
    let ring = port.tx_ring(0);
    let cur = ring.cur();
    assert!(!ring::empty(cur, ring.tail()), "TX ring is full");
    let old = ring.slot(cur);
    ring.set_slot(cur, slot);
    let next = ring::next(cur, ring.num_slots());
    ring.set_head(next);
    ring.set_cur(next);
    (cur, old)
}

/// Every frame waiting in the bound RX rings, after an rxsync, in ring
/// order (MOREFRAG chains joined), with their slots released.
pub fn drain(port: &mut Port) -> Vec<Vec<u8>> {
    port.rxsync().expect("rxsync");
    let mut out = Vec::new();
    port.dispatch(0, |p| out.push(p.data.clone()));
    // Hand the slots back now, as a receiver's next sync would.
    port.rxsync().expect("rxsync");
    out
}
