//! Zero-copy monitors (`PORT/zt`, `/zr`, `/zrt`) of VALE ports, as
//! netmap's: the monitor gets the frames' own buffers instead of copies.
//!
//! - `/zt`: after a txsync transmitted slots (VALE delivers inside the
//!   sync, so they are done), each slot's buffer moves into the monitor's
//!   RX ring (flagged `NS_TXMON`) and the monitor's free buffer comes back
//!   into the TX slot, marked `NS_BUF_CHANGED`.
//! - `/zr`: when the application releases RX slots (its rxsync), their
//!   buffers move into the monitor the same way, before the slots go back
//!   to the senders: the monitor sees what the application consumed.
//!
//! As in netmap, the monitor never holds the port back: when it has fewer
//! free slots than there are frames, the oldest frames are skipped (they
//! stay with the port) and counted as the monitor's `rx_drop_full`. A
//! port has at most one zero-copy monitor (netmap chains them instead);
//! copy monitors may watch it besides. Pipe ends are refused: their
//! frames leave with their buffers, a transmitted slot holds none to hand
//! over.

use netmap_ring::abi::{NetmapSlot, NS_BUF_CHANGED, NS_INDIRECT, NS_TXMON};
use netmap_ring::name::PortName;
use netmap_ring::port::PortError;
use netmap_ring::ring;
use netmap_ring::view::RingView;

use vale_offload::placement::PortKind;

use crate::ctrl::{port, Dir, PortEntry};
use crate::domain::Domain;
use crate::forward::kick_ring;
use crate::monitor::{lock_rx, monitors_of, takers, TakeCounts, ZERO_COPY};

/// Refuses a zero-copy monitor of `watched` that cannot be: a pipe end, or
/// a port that has one already.
pub fn check_request(
    domain: &Domain,
    watched: &PortEntry<'_>,
    name: &PortName,
) -> Result<(), PortError> {
    if watched.kind() != Some(PortKind::Vale) {
        return Err(PortError::Unsupported {
            name: name.to_string(),
            backend: "soft",
            what: "zero-copy monitors of pipe ends (their frames leave with their buffers): \
                   use a copy monitor, /t /r /rt"
                .into(),
        });
    }
    let ctrl = domain.ctrl();
    if let Some(m) = monitors_of(watched).find(|&m| ctrl.port(m).get(port::FLAGS) & ZERO_COPY != 0)
    {
        return Err(PortError::Busy {
            name: name.to_string(),
            owner: ctrl.port(m).get(port::OWNER_PID),
        });
    }
    Ok(())
}

/// Hands the buffers of slots `from..to` of `ring` (ring `ring_id` of
/// direction `dir` of port `e`) to its zero-copy monitor.
#[inline(never)]
pub fn hand_over(
    domain: &Domain,
    e: &PortEntry<'_>,
    dir: Dir,
    ring_id: u32,
    ring: &RingView<'_>,
    from: u32,
    to: u32,
) {
    let Some(m) = takers(domain, e, dir, ring_id, true).next() else {
        return;
    };
    if swap_into(
        domain,
        &domain.ctrl().port(m),
        e.index,
        dir,
        ring_id,
        ring,
        from,
        to,
    ) {
        kick_ring(domain, m, Dir::Rx, ring_id);
    }
}

/// Swaps slots `from..to` of `src` with free slots of monitor `me`'s RX
/// ring `ring_id`; returns whether anything was published.
#[allow(clippy::too_many_arguments)]
fn swap_into(
    domain: &Domain,
    me: &PortEntry<'_>,
    watched: u32,
    dir: Dir,
    ring_id: u32,
    src: &RingView<'_>,
    from: u32,
    to: u32,
) -> bool {
    let memory = domain.memory();
    let Some(locked) = lock_rx(domain, me, watched, ring_id) else {
        return false;
    };
    let rx = &locked.view;
    let n = rx.num_slots();
    let mut hwtail = locked.hwtail;
    let free = locked.free();
    let sn = src.num_slots();
    let frames = ring::distance(from, to, sn);
    // The newest frames fit; the oldest stay with the port, counted.
    let skipped = frames.saturating_sub(free);
    let mut i = (from + skipped) % sn;
    let mark = if dir == Dir::Tx { NS_TXMON } else { 0 };
    let buf_size = memory.buf_size();
    let (mut moved, mut bytes, mut bad) = (0u64, 0u64, 0u64);
    while i != to {
        let s = src.slot(i);
        let m = rx.slot(hwtail);
        // Only whole buffers of the pool move: an indirect payload is not
        // in its buffer, and a bad index on either side is never passed.
        let movable = s.flags & NS_INDIRECT == 0
            && memory.buf_offset(s.buf_idx).is_some()
            && u32::from(s.len) <= buf_size
            && memory.buf_offset(m.buf_idx).is_some();
        if movable {
            rx.set_slot(
                hwtail,
                NetmapSlot {
                    buf_idx: s.buf_idx,
                    len: s.len,
                    flags: (s.flags & !NS_TXMON) | mark | NS_BUF_CHANGED,
                    ptr: 0,
                },
            );
            src.set_slot(
                i,
                NetmapSlot {
                    buf_idx: m.buf_idx,
                    len: 0,
                    flags: s.flags | NS_BUF_CHANGED,
                    ptr: s.ptr,
                },
            );
            hwtail = ring::next(hwtail, n);
            moved += 1;
            bytes += u64::from(s.len);
        } else {
            bad += 1;
        }
        i = ring::next(i, sn);
    }
    locked.publish(
        me,
        hwtail,
        TakeCounts {
            packets: moved,
            bytes,
            full: u64::from(skipped),
            bad,
        },
    );
    moved > 0
}
