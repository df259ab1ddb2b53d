//! Slot-level sending and receiving over the `Port` API, for tests that
//! place frames (and flags) in TX slots themselves.

use netmap_ring::abi::NetmapSlot;
use netmap_ring::port::Port;
use netmap_ring::ring;

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
    let len = u16::try_from(data.len()).expect("frame fits a slot");
    ring.set_len_flags(cur, len, flags);
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
