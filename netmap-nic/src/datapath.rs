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
use vale_offload::chain::{Chain, TxDrop, MAX_FRAGS};

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
    /// Received frames may carry a veth peer's partial checksum: complete
    /// them (`csum.rs`).
    pub complete_csums: bool,
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
pub(crate) enum TxFrame {
    /// Sendable: its slots end before `end`.
    Good { end: u32, bytes: u64 },
    /// To be dropped and counted.
    Bad { end: u32, why: NicCounter },
    /// A MOREFRAG chain still open at `head`: wait for the rest.
    Incomplete,
}

/// Reads the frame starting at `start`, pushing its spans when it is good.
/// The chain rule is `vale_offload::chain`'s; a NIC sends a frame from
/// all its bytes, so the header may span fragments.
pub(crate) fn read_tx_frame(
    view: &RingView<'_>,
    memory: &NetmapMemory,
    start: u32,
    head: u32,
    spans: &mut Vec<Span>,
) -> TxFrame {
    let first_span = spans.len();
    let (mut bytes, mut valid) = (0u64, true);
    let chain = Chain::walk(start, head, view.num_slots(), |at| {
        let slot = view.slot(at);
        match tx_payload(memory, &slot) {
            // Past MAX_FRAGS the frame is dropped: stop gathering.
            Some(span) if valid && spans.len() - first_span < MAX_FRAGS as usize => {
                bytes += span.len as u64;
                spans.push(span);
            }
            Some(_) => {}
            None => valid = false,
        }
        slot.flags & NS_MOREFRAG != 0
    });
    if chain.waits() {
        spans.truncate(first_span);
        return TxFrame::Incomplete;
    }
    match chain.verdict(valid, bytes as usize) {
        Ok(()) => TxFrame::Good {
            end: chain.end,
            bytes,
        },
        Err(why) => {
            spans.truncate(first_span);
            TxFrame::Bad {
                end: chain.end,
                why: nic_drop(why),
            }
        }
    }
}

/// The NIC counter of a frame dropped by the chain rule.
pub(crate) fn nic_drop(why: TxDrop) -> NicCounter {
    match why {
        TxDrop::Chain => NicCounter::TxDropChain,
        TxDrop::BadSlot => NicCounter::TxDropBadSlot,
        TxDrop::Short => NicCounter::TxDropShort,
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
        // The kernel reports a link that went down once more, to the
        // first send after it came back: that report is not this frame's.
        let mut retried_down = false;
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
                Err(e) if e.raw_os_error() == Some(libc::ENETDOWN) && !retried_down => {
                    retried_down = true;
                }
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
            if state.complete_csums {
                if let Some(offset) = ctx.memory.buf_offset(view.slot(to).buf_idx) {
                    let span = Span {
                        offset,
                        len: frame.len,
                    };
                    super::csum::complete_received(ctx.memory.region(), span);
                }
            }
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use netmap_ring::region::RegionConfig;
    use netmap_ring::view::Direction;

    use super::*;

    const SLOTS: u32 = 8;

    /// A packet interface in memory: records what is sent, serves a queue
    /// of frames to receive.
    #[derive(Default)]
    struct FakeIo {
        sent: Mutex<Vec<Vec<u8>>>,
        /// Frames the next sends may take before the "socket" is full.
        budget: Mutex<usize>,
        /// Sent frames of exactly this length are refused (EMSGSIZE).
        refuse_len: Option<usize>,
        /// Frames to receive: bytes and whether this host sent them.
        queue: Mutex<VecDeque<(Vec<u8>, bool)>>,
    }

    impl PacketIo for FakeIo {
        fn send(
            &self,
            region: &SharedRegion,
            spans: &[Span],
            frame_spans: &[usize],
        ) -> io::Result<usize> {
            let mut budget = self.budget.lock().unwrap();
            let mut taken = 0;
            let mut at = 0;
            for &count in frame_spans.iter().take(MAX_BATCH) {
                if *budget == 0 {
                    break;
                }
                let mut frame = Vec::new();
                for span in &spans[at..at + count] {
                    let mut bytes = vec![0; span.len];
                    region.read_bytes(span.offset, &mut bytes).unwrap();
                    frame.extend_from_slice(&bytes);
                }
                if Some(frame.len()) == self.refuse_len {
                    if taken == 0 {
                        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
                    }
                    break;
                }
                at += count;
                *budget -= 1;
                taken += 1;
                self.sent.lock().unwrap().push(frame);
            }
            if taken == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(taken)
        }

        fn recv(
            &self,
            region: &SharedRegion,
            buffers: &[Span],
            out: &mut Vec<Received>,
        ) -> io::Result<()> {
            out.clear();
            let mut queue = self.queue.lock().unwrap();
            for span in buffers {
                let Some((frame, outgoing)) = queue.pop_front() else {
                    break;
                };
                let len = frame.len().min(span.len);
                region.write_bytes(span.offset, &frame[..len]).unwrap();
                out.push(Received {
                    len,
                    truncated: frame.len() > span.len,
                    outgoing,
                });
            }
            Ok(())
        }
    }

    struct Fixture {
        memory: NetmapMemory,
        counters: Counters,
        ring_off: usize,
    }

    impl Fixture {
        fn new(dir: Direction) -> Self {
            let memory = NetmapMemory::create(
                "nic-datapath-test",
                RegionConfig {
                    if_objects: 1,
                    ring_objects: 1,
                    max_ring_slots: SLOTS,
                    num_bufs: 32,
                    ..RegionConfig::default()
                },
            )
            .unwrap();
            let ring_off = memory.alloc_rings(1, SLOTS).unwrap()[0];
            let mut bufs = Vec::new();
            memory.alloc_buffers(SLOTS, &mut bufs).unwrap();
            let tail = if dir == Direction::Tx { SLOTS - 1 } else { 0 };
            let buf_ofs = memory.layout().buf_off as i64 - ring_off as i64;
            RingView::format(
                memory.region(),
                ring_off,
                &bufs,
                0,
                dir,
                memory.buf_size(),
                buf_ofs,
                tail,
            )
            .unwrap();
            let counters = Counters::format(Arc::clone(memory.region()), memory.layout().ctrl_off);
            Self {
                memory,
                counters,
                ring_off,
            }
        }

        fn view(&self) -> RingView<'_> {
            RingView::new(self.memory.region(), self.ring_off, SLOTS).unwrap()
        }

        fn ctx(&self) -> SyncContext<'_> {
            SyncContext {
                memory: &self.memory,
                counters: &self.counters,
            }
        }

        fn count(&self, c: NicCounter) -> u64 {
            self.counters.snapshot().get(c)
        }

        /// Writes `frame` into slot `index` with `flags`.
        fn put(&self, index: u32, frame: &[u8], flags: u16) {
            let view = self.view();
            let off = self.memory.buf_offset(view.slot(index).buf_idx).unwrap();
            self.memory.region().write_bytes(off, frame).unwrap();
            view.set_len_flags(index, frame.len() as u16, flags);
        }

        fn read(&self, index: u32) -> Vec<u8> {
            let slot = self.view().slot(index);
            let mut out = vec![0; usize::from(slot.len)];
            let off = self.memory.buf_offset(slot.buf_idx).unwrap();
            self.memory.region().read_bytes(off, &mut out).unwrap();
            out
        }

        fn advance(&self, to: u32) {
            self.view().set_head(to);
            self.view().set_cur(to);
        }
    }

    fn frame(tag: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
    }

    fn io_with_budget(budget: usize) -> FakeIo {
        FakeIo {
            budget: Mutex::new(budget),
            ..FakeIo::default()
        }
    }

    #[test]
    fn txsync_sends_released_slots_in_order_and_completes_them() {
        let f = Fixture::new(Direction::Tx);
        let io = io_with_budget(100);
        let mut state = RingState::new_tx(SLOTS);
        for i in 0..3 {
            f.put(i, &frame(i as u8, 60 + i as usize), 0);
        }
        f.advance(3);
        let outcome = txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert!(!outcome.blocked);
        let sent = io.sent.lock().unwrap().clone();
        assert_eq!(
            sent,
            (0..3)
                .map(|i| frame(i, 60 + usize::from(i)))
                .collect::<Vec<_>>()
        );
        assert_eq!((state.hwcur, state.hwtail, f.view().tail()), (3, 2, 2));
        assert_eq!(f.count(NicCounter::TxPackets), 3);
        assert_eq!(f.count(NicCounter::TxBytes), 183);
        // Nothing new: a second sync sends nothing more.
        txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(io.sent.lock().unwrap().len(), 3);
    }

    #[test]
    fn txsync_drops_bad_slots_and_short_frames_and_counts_them() {
        let f = Fixture::new(Direction::Tx);
        let io = io_with_budget(100);
        let mut state = RingState::new_tx(SLOTS);
        f.put(0, &frame(0, 60), 0);
        f.put(1, &frame(1, 60), 0);
        f.view().set_buf_idx(1, 9999); // not a buffer
        f.put(2, &frame(2, 10), 0); // shorter than an Ethernet header
        f.put(3, &frame(3, 60), 0);
        f.view().set_len_flags(3, 3000, 0); // longer than a buffer
        f.put(4, &frame(4, 64), 0);
        f.advance(5);
        txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(*io.sent.lock().unwrap(), vec![frame(0, 60), frame(4, 64)]);
        assert_eq!(f.count(NicCounter::TxDropBadSlot), 2);
        assert_eq!(f.count(NicCounter::TxDropShort), 1);
        assert_eq!(f.count(NicCounter::TxPackets), 2);
        assert_eq!(state.hwcur, 5, "dropped slots are consumed too");
    }

    #[test]
    fn txsync_joins_chains_and_waits_for_an_open_one() {
        let f = Fixture::new(Direction::Tx);
        let io = io_with_budget(100);
        let mut state = RingState::new_tx(SLOTS);
        f.put(0, &frame(0, 20), NS_MOREFRAG);
        f.put(1, &frame(1, 30), NS_MOREFRAG);
        f.put(2, &frame(2, 10), 0);
        f.put(3, &frame(3, 40), NS_MOREFRAG); // its end is not released yet
        f.advance(4);
        txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        let whole = [frame(0, 20), frame(1, 30), frame(2, 10)].concat();
        assert_eq!(*io.sent.lock().unwrap(), vec![whole]);
        assert_eq!((state.hwcur, f.view().tail()), (3, 2));
        f.put(4, &frame(4, 24), 0);
        f.advance(5);
        txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(
            io.sent.lock().unwrap()[1],
            [frame(3, 40), frame(4, 24)].concat()
        );
        assert_eq!(state.hwcur, 5);
    }

    #[test]
    fn a_full_socket_leaves_slots_pending_until_the_next_sync() {
        let f = Fixture::new(Direction::Tx);
        let io = io_with_budget(2);
        let mut state = RingState::new_tx(SLOTS);
        for i in 0..5 {
            f.put(i, &frame(i as u8, 60), 0);
        }
        f.advance(5);
        let outcome = txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert!(outcome.blocked);
        assert_eq!((state.hwcur, f.view().tail()), (2, 1));
        *io.budget.lock().unwrap() = 10;
        let outcome = txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert!(!outcome.blocked);
        assert_eq!(state.hwcur, 5);
        assert_eq!(
            *io.sent.lock().unwrap(),
            (0..5).map(|i| frame(i, 60)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_frame_the_kernel_refuses_is_dropped_and_the_rest_sent() {
        let f = Fixture::new(Direction::Tx);
        let io = FakeIo {
            budget: Mutex::new(100),
            refuse_len: Some(99),
            ..FakeIo::default()
        };
        let mut state = RingState::new_tx(SLOTS);
        f.put(0, &frame(0, 60), 0);
        f.put(1, &frame(1, 99), 0);
        f.put(2, &frame(2, 61), 0);
        f.advance(3);
        txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(*io.sent.lock().unwrap(), vec![frame(0, 60), frame(2, 61)]);
        assert_eq!(f.count(NicCounter::TxDropError), 1);
        assert_eq!(state.hwcur, 3);
    }

    #[test]
    fn a_bad_head_reinitialises_the_ring() {
        let f = Fixture::new(Direction::Tx);
        let io = io_with_budget(100);
        let mut state = RingState::new_tx(SLOTS);
        f.advance(SLOTS); // out of range
        let err = txsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap_err();
        assert!(matches!(err, SyncError::BadRing { ring: 0, .. }), "{err}");
        let view = f.view();
        assert_eq!((view.head(), view.cur(), view.tail()), (0, 0, SLOTS - 1));
        assert_eq!(f.count(NicCounter::BadRingSyncs), 1);
        assert!(io.sent.lock().unwrap().is_empty());
    }

    #[test]
    fn rxsync_fills_all_slots_but_one_in_order_and_refills_released_ones() {
        let f = Fixture::new(Direction::Rx);
        let io = FakeIo::default();
        io.queue
            .lock()
            .unwrap()
            .extend((0..12).map(|i| (frame(i, 60 + usize::from(i)), false)));
        let mut state = RingState::new_rx();
        rxsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(f.view().tail(), SLOTS - 1);
        for i in 0..SLOTS - 1 {
            assert_eq!(f.read(i), frame(i as u8, 60 + i as usize));
        }
        // Release three: they are filled with the next frames.
        f.advance(3);
        rxsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(f.view().tail(), 2);
        for (slot, seq) in [(7u32, 7u8), (0, 8), (1, 9)] {
            assert_eq!(f.read(slot), frame(seq, 60 + usize::from(seq)));
        }
        assert_eq!(f.count(NicCounter::RxPackets), 10);
        assert_eq!(io.queue.lock().unwrap().len(), 2);
    }

    #[test]
    fn rxsync_skips_outgoing_and_truncated_frames_without_leaving_gaps() {
        let f = Fixture::new(Direction::Rx);
        let io = FakeIo::default();
        io.queue.lock().unwrap().extend([
            (frame(0, 60), false),
            (frame(1, 60), true),
            (frame(2, 5000), false),
            (frame(3, 70), false),
        ]);
        let mut state = RingState::new_rx();
        rxsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(f.view().tail(), 2);
        assert_eq!(f.read(0), frame(0, 60));
        assert_eq!(f.read(1), frame(3, 70));
        assert_eq!(f.count(NicCounter::RxDropTruncated), 1);
        assert_eq!(f.count(NicCounter::RxPackets), 2);
        assert_eq!(f.count(NicCounter::RxBytes), 130);
        // Every slot still holds a distinct buffer.
        let mut bufs: Vec<u32> = (0..SLOTS).map(|i| f.view().slot(i).buf_idx).collect();
        bufs.sort_unstable();
        bufs.dedup();
        assert_eq!(bufs.len(), SLOTS as usize);
    }

    #[test]
    fn rxsync_repairs_a_slot_left_with_a_bad_buffer() {
        let f = Fixture::new(Direction::Rx);
        let io = FakeIo::default();
        io.queue.lock().unwrap().push_back((frame(5, 60), false));
        f.view().set_buf_idx(0, 1); // a reserved buffer
        let mut state = RingState::new_rx();
        rxsync(&f.view(), &mut state, &f.ctx(), 0, &io).unwrap();
        assert_eq!(f.count(NicCounter::RxBufRepaired), 1);
        assert!(f.memory.buf_offset(f.view().slot(0).buf_idx).is_some());
        assert_eq!(f.read(0), frame(5, 60));
    }
}
