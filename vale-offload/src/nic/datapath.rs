//! The NIC port's txsync and rxsync: netmap's ring protocol on one side,
//! a batch packet interface ([`PacketIo`], an AF_PACKET socket in
//! production) on the other.
//!
//! Each ring keeps the kernel-side indexes (`hwcur`, `hwtail`) in private
//! memory; the ring in shared memory is only read at a sync, checked with
//! [`check_head_cur`], and its `tail` written at the end of the sync.
//! TX: the slots `hwcur..head` are sent in order; the kernel copies them
//! during `sendmmsg`, so they complete at once and `tail` moves to just
//! before the new `hwcur`. RX: the free slots (`hwtail` up to one before
//! `hwcur`) are filled by `recvmmsg` straight into their buffers.
#![forbid(unsafe_code)]

use std::io;

use netmap_ring::abi::{NetmapSlot, NS_INDIRECT, NS_MOREFRAG};
use netmap_ring::port::SyncError;
use netmap_ring::region::{NetmapMemory, RESERVED_BUFFERS};
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::shm::SharedRegion;
use netmap_ring::view::RingView;

use super::counters::{Counters, NicCounter};
use crate::ctrl::MAX_FRAGS;
use crate::forward::ETH_HEADER_LEN;

/// Frames per system call.
pub const MAX_BATCH: usize = 64;
/// Buffer spans per `sendmmsg` (a batch of chains is cut to fit).
pub const MAX_SPANS: usize = 256;

/// Bytes in the port's region, by offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

/// What the kernel said about one received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the buffer.
    pub len: usize,
    /// The frame was larger than the buffer.
    pub truncated: bool,
    /// A frame this host sent (seen on kernels without
    /// `PACKET_IGNORE_OUTGOING`).
    pub outgoing: bool,
}

/// A batch packet interface. Both calls never block.
pub trait PacketIo: Send + Sync {
    /// Sends up to [`MAX_BATCH`] frames, frame `i` being the next
    /// `frame_spans[i]` spans of `spans`. Returns how many frames were
    /// taken (in order), or the error of the first one.
    fn send(
        &self,
        region: &SharedRegion,
        spans: &[Span],
        frame_spans: &[usize],
    ) -> io::Result<usize>;
    /// Receives up to one frame into each of `buffers` (at most
    /// [`MAX_BATCH`]), in order; `out` gets one entry per frame received.
    fn recv(
        &self,
        region: &SharedRegion,
        buffers: &[Span],
        out: &mut Vec<Received>,
    ) -> io::Result<()>;
    /// Frames the kernel dropped for lack of queue room since last asked.
    fn take_kernel_drops(&self) -> u64 {
        0
    }
}

/// What a ring's sync works with.
pub struct SyncContext<'a> {
    pub memory: &'a NetmapMemory,
    pub counters: &'a Counters,
}

/// The kernel side of one ring, with the scratch space of its syncs.
#[derive(Debug, Default)]
pub struct RingState {
    pub hwcur: u32,
    pub hwtail: u32,
    spans: Vec<Span>,
    frame_spans: Vec<usize>,
    frame_bytes: Vec<u64>,
    frame_ends: Vec<u32>,
    received: Vec<Received>,
}

impl RingState {
    /// The state of a freshly formatted ring of `num_slots` slots.
    pub fn new_tx(num_slots: u32) -> Self {
        Self {
            hwtail: num_slots - 1,
            ..Self::default()
        }
    }

    pub fn new_rx() -> Self {
        Self::default()
    }
}

/// How a txsync ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// The socket could take no more: wait for it to be writable.
    pub blocked: bool,
}

fn reinit(
    view: &RingView<'_>,
    state: &RingState,
    ctx: &SyncContext<'_>,
    ring_id: u32,
    source: ring::RingError,
) -> SyncError {
    view.set_head(state.hwcur);
    view.set_cur(state.hwcur);
    view.set_tail(state.hwtail);
    ctx.counters.add(NicCounter::BadRingSyncs, 1);
    SyncError::BadRing {
        ring: ring_id,
        source,
    }
}

/// Where a TX slot's payload is, if the slot is valid: its buffer (length
/// within the buffer) or, with `NS_INDIRECT`, bytes inside the region.
fn tx_payload(memory: &NetmapMemory, slot: &NetmapSlot) -> Option<Span> {
    let len = usize::from(slot.len);
    let offset = if slot.flags & NS_INDIRECT != 0 {
        let region = memory.region();
        let off = (slot.ptr as usize).checked_sub(region.base_addr())?;
        (off.checked_add(len)? <= region.len()).then_some(off)?
    } else {
        let off = memory.buf_offset(slot.buf_idx)?;
        (len <= memory.buf_size() as usize).then_some(off)?
    };
    Some(Span { offset, len })
}

/// One frame read from the TX ring.
enum TxFrame {
    /// Sendable: its slots end before `end`.
    Good { end: u32, bytes: u64 },
    /// To be dropped and counted.
    Bad { end: u32, why: NicCounter },
    /// A MOREFRAG chain still open at `head`: wait for the rest.
    Incomplete,
}

/// Reads the frame starting at `start`, pushing its spans when it is good.
fn read_tx_frame(
    view: &RingView<'_>,
    memory: &NetmapMemory,
    start: u32,
    head: u32,
    spans: &mut Vec<Span>,
) -> TxFrame {
    let n = view.num_slots();
    let first_span = spans.len();
    let (mut at, mut slots, mut bytes, mut bad) = (start, 0u32, 0u64, false);
    loop {
        if at == head {
            spans.truncate(first_span);
            return TxFrame::Incomplete;
        }
        let slot = view.slot(at);
        at = ring::next(at, n);
        slots += 1;
        match tx_payload(memory, &slot) {
            Some(span) if !bad && slots <= MAX_FRAGS => {
                bytes += span.len as u64;
                spans.push(span);
            }
            Some(_) => {}
            None => bad = true,
        }
        if slot.flags & NS_MOREFRAG == 0 {
            break;
        }
    }
    let why = if slots > MAX_FRAGS {
        Some(NicCounter::TxDropChain)
    } else if bad {
        Some(NicCounter::TxDropBadSlot)
    } else if bytes < ETH_HEADER_LEN as u64 {
        Some(NicCounter::TxDropShort)
    } else {
        None
    };
    match why {
        Some(why) => {
            spans.truncate(first_span);
            TxFrame::Bad { end: at, why }
        }
        None => TxFrame::Good { end: at, bytes },
    }
}

/// `NIOCTXSYNC` of one TX ring.
pub fn txsync(
    view: &RingView<'_>,
    state: &mut RingState,
    ctx: &SyncContext<'_>,
    ring_id: u32,
    io: &dyn PacketIo,
) -> Result<TxOutcome, SyncError> {
    let n = view.num_slots();
    let head = view.head();
    let cur = view.cur();
    if let Err(source) = check_head_cur(n, state.hwcur, state.hwtail, head, cur) {
        return Err(reinit(view, state, ctx, ring_id, source));
    }
    let mut pos = state.hwcur;
    let mut blocked = false;
    'batches: while pos != head {
        let RingState {
            spans,
            frame_spans,
            frame_bytes,
            frame_ends,
            ..
        } = state;
        spans.clear();
        frame_spans.clear();
        frame_bytes.clear();
        frame_ends.clear();
        // Gather a batch of good frames; a bad frame is dropped when it
        // comes first, else it ends the batch (so that a partial send never
        // leaves a counted drop behind to be counted again).
        let mut scan = pos;
        let mut incomplete = false;
        while scan != head && frame_spans.len() < MAX_BATCH {
            let before = spans.len();
            match read_tx_frame(view, ctx.memory, scan, head, spans) {
                TxFrame::Good { end, bytes } => {
                    if spans.len() > MAX_SPANS {
                        spans.truncate(before);
                        break;
                    }
                    frame_spans.push(spans.len() - before);
                    frame_bytes.push(bytes);
                    frame_ends.push(end);
                    scan = end;
                }
                TxFrame::Bad { end, why } => {
                    if frame_spans.is_empty() {
                        ctx.counters.add(why, 1);
                        pos = end;
                        scan = end;
                    } else {
                        break;
                    }
                }
                TxFrame::Incomplete => {
                    incomplete = true;
                    break;
                }
            }
        }
        let mut sent = 0;
        let mut first_span = 0;
        while sent < frame_spans.len() {
            match io.send(
                ctx.memory.region(),
                &spans[first_span..],
                &frame_spans[sent..],
            ) {
                Ok(0) => {
                    blocked = true;
                    break;
                }
                Ok(k) => {
                    let bytes: u64 = frame_bytes[sent..sent + k].iter().sum();
                    ctx.counters.add(NicCounter::TxPackets, k as u64);
                    ctx.counters.add(NicCounter::TxBytes, bytes);
                    first_span += frame_spans[sent..sent + k].iter().sum::<usize>();
                    sent += k;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // The kernel refused this frame (too large for the MTU,
                    // queue discipline full, link down): drop it, as a NIC
                    // that cannot send would.
                    ctx.counters.add(NicCounter::TxDropError, 1);
                    first_span += frame_spans[sent];
                    sent += 1;
                }
            }
        }
        if sent > 0 {
            pos = frame_ends[sent - 1];
        }
        if blocked || incomplete {
            break 'batches;
        }
    }
    state.hwcur = pos;
    // sendmmsg copied every frame it took: they are complete.
    state.hwtail = ring::prev(pos, n);
    view.set_tail(state.hwtail);
    Ok(TxOutcome { blocked })
}

/// Gives slot `index` a fresh buffer when the application left a bad
/// index there; returns the buffer's span, or `None` when the pool is out.
fn rx_buffer(view: &RingView<'_>, ctx: &SyncContext<'_>, index: u32) -> Option<Span> {
    let memory = ctx.memory;
    let buf_idx = view.slot(index).buf_idx;
    let offset = match memory.buf_offset(buf_idx) {
        Some(off) if buf_idx >= RESERVED_BUFFERS => off,
        _ => {
            let mut fresh = Vec::with_capacity(1);
            memory.alloc_buffers(1, &mut fresh).ok()?;
            view.set_buf_idx(index, fresh[0]);
            ctx.counters.add(NicCounter::RxBufRepaired, 1);
            memory.buf_offset(fresh[0])?
        }
    };
    Some(Span {
        offset,
        len: memory.buf_size() as usize,
    })
}

/// `NIOCRXSYNC` of one RX ring.
pub fn rxsync(
    view: &RingView<'_>,
    state: &mut RingState,
    ctx: &SyncContext<'_>,
    ring_id: u32,
    io: &dyn PacketIo,
) -> Result<(), SyncError> {
    let n = view.num_slots();
    let head = view.head();
    let cur = view.cur();
    if let Err(source) = check_head_cur(n, state.hwcur, state.hwtail, head, cur) {
        return Err(reinit(view, state, ctx, ring_id, source));
    }
    // The application is done with hwcur..head.
    state.hwcur = head;
    // Free for the kernel: hwtail up to, not including, the slot before
    // hwcur (one slot stays empty: a full ring is not an empty one).
    let mut free = (state.hwcur + n - 1 - state.hwtail) % n;
    let mut drained = false;
    while free > 0 {
        let want = (free as usize).min(MAX_BATCH);
        let mut buffers = [Span { offset: 0, len: 0 }; MAX_BATCH];
        let mut ready = 0;
        for (i, buffer) in buffers.iter_mut().enumerate().take(want) {
            match rx_buffer(view, ctx, (state.hwtail + i as u32) % n) {
                Some(span) => {
                    *buffer = span;
                    ready += 1;
                }
                None => break,
            }
        }
        if ready == 0 {
            break;
        }
        if io
            .recv(ctx.memory.region(), &buffers[..ready], &mut state.received)
            .is_err()
        {
            // A socket error (the link went down) ends this sync's filling;
            // the frames already placed are published below.
            break;
        }
        let got = state.received.len();
        let mut placed = 0u32;
        for (i, frame) in state.received.iter().enumerate() {
            if frame.outgoing {
                continue;
            }
            if frame.truncated {
                ctx.counters.add(NicCounter::RxDropTruncated, 1);
                continue;
            }
            let from = (state.hwtail + i as u32) % n;
            let to = (state.hwtail + placed) % n;
            if from != to {
                // Close the gap a skipped frame left: the buffers of free
                // slots are interchangeable.
                let a = view.slot(from).buf_idx;
                let b = view.slot(to).buf_idx;
                view.set_buf_idx(to, a);
                view.set_buf_idx(from, b);
            }
            view.set_len_flags(to, frame.len as u16, 0);
            ctx.counters.add(NicCounter::RxPackets, 1);
            ctx.counters.add(NicCounter::RxBytes, frame.len as u64);
            placed += 1;
        }
        state.hwtail = (state.hwtail + placed) % n;
        free -= placed;
        if got < ready {
            drained = true;
            break;
        }
    }
    if drained {
        ctx.counters
            .add(NicCounter::RxDropKernel, io.take_kernel_drops());
    }
    view.set_tail(state.hwtail);
    Ok(())
}
