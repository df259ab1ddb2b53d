//! The NIC port's txsync and rxsync over AF_XDP (copy mode or zero copy):
//! the port's buffer pool is the socket's UMEM, so frames move between
//! the netmap rings and the kernel as buffer addresses, never copied by
//! us.
//!
//! RX: the kernel gets buffers of its own (spares beyond the ring's,
//! posted to the fill ring), so that frames can wait in the socket's RX
//! ring while the application holds every slot, as in a socket queue.
//! Each RX descriptor fills the next free slot at `hwtail` with the buffer
//! it names, and the slot's old buffer becomes a spare. The kernel writes
//! a frame [`XDP_HEADROOM`] bytes after the address it took from the fill
//! ring, so a buffer is posted at its start minus that headroom (the
//! chunk overlaps the previous buffer's last 256 bytes, which the kernel
//! never writes: it copies, or the NIC DMAs, the frame only) and the
//! frame lands at the buffer's start, where netmap applications read it.
//! A frame that still lands elsewhere in a buffer is moved to its start.
//! TX: slots `hwcur..head` become TX descriptors (chains as multi-buffer
//! frames); they complete, in order, when the completion ring says so, and
//! only then does `tail` pass them.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use netmap_ring::abi::{NS_INDIRECT, NS_MOREFRAG};
use netmap_ring::port::SyncError;
use netmap_ring::ring::{self, check_head_cur};
use netmap_ring::view::RingView;

use super::counters::NicCounter;
use super::datapath::{nic_drop, Span, SyncContext};
use super::xdp_sys::{desc_data_offset, XskSocket};
use vale_offload::chain::{Chain, ETH_HEADER_LEN, MAX_FRAGS};

/// How many times a txsync asks the kernel to send before leaving the
/// rest for the next sync.
const MAX_KICKS: u32 = 64;

/// The kernel side of the port's TX ring.
#[derive(Debug)]
pub struct XdpTxState {
    pub hwcur: u32,
    /// First slot not yet completed.
    done: u32,
    /// Slots from `done` on, in groups, with the completions each group
    /// still waits for (0 for a dropped frame).
    pending: VecDeque<(u32, u32)>,
    /// Largest frame the interface takes.
    max_frame: usize,
}

impl XdpRxState {
    /// A state whose kernel side starts with `spare` buffers.
    pub fn new(spare: Vec<u32>) -> Self {
        Self {
            spare,
            ..Self::default()
        }
    }
}

impl XdpTxState {
    pub fn new(max_frame: usize) -> Self {
        Self {
            hwcur: 0,
            done: 0,
            pending: VecDeque::new(),
            max_frame,
        }
    }
}

/// The kernel side of the port's RX ring.
#[derive(Debug, Default)]
pub struct XdpRxState {
    pub hwcur: u32,
    pub hwtail: u32,
    /// Buffers of the pool outside the rings, waiting to be posted to the
    /// fill ring.
    spare: Vec<u32>,
    /// `XDP_STATISTICS` drops already counted.
    drops_seen: u64,
    /// Syncs since the statistics were last read.
    syncs_since_stats: u32,
    /// Received frames may carry a veth peer's partial checksum: complete
    /// them (`csum.rs`).
    pub complete_csums: bool,
    /// The last descriptor taken continues into the next one.
    mid_chain: bool,
}

/// Syncs between two reads of the kernel's drop count when nothing says
/// the kernel may have dropped (each read is a system call, and a busy
/// poller syncs millions of times a second).
const SYNCS_PER_STATS: u32 = 1024;

fn bad_ring(
    view: &RingView<'_>,
    ctx: &SyncContext<'_>,
    ring_id: u32,
    hwcur: u32,
    tail: u32,
    source: ring::RingError,
) -> SyncError {
    view.set_head(hwcur);
    view.set_cur(hwcur);
    view.set_tail(tail);
    ctx.counters.add(NicCounter::BadRingSyncs, 1);
    SyncError::BadRing {
        ring: ring_id,
        source,
    }
}

/// Slots one completion group may hold: groups complete whole, so a
/// bound keeps `tail` moving in steps of at most this many.
const GROUP_SLOTS: u32 = 64;

/// Adds a frame of `slots` slots waiting for `completions` to the last
/// group, or starts a new one (completions arrive in order, so frames
/// may share a group).
fn add_group(pending: &mut VecDeque<(u32, u32)>, slots: u32, completions: u32) {
    match pending.back_mut() {
        Some(last) if last.0 + slots <= GROUP_SLOTS => {
            last.0 += slots;
            last.1 += completions;
        }
        _ => pending.push_back((slots, completions)),
    }
}

/// Adds `frames` one-slot frames, each waiting for one completion, to
/// the groups (as [`add_group`] would one by one).
fn add_single_frames(pending: &mut VecDeque<(u32, u32)>, mut frames: u32) {
    while frames > 0 {
        let take = match pending.back_mut() {
            Some(last) if last.0 < GROUP_SLOTS => {
                let take = frames.min(GROUP_SLOTS - last.0);
                last.0 += take;
                last.1 += take;
                take
            }
            _ => {
                let take = frames.min(GROUP_SLOTS);
                pending.push_back((take, take));
                take
            }
        };
        frames -= take;
    }
}

/// Takes completions and moves `done` over the groups they finish.
fn reap(state: &mut XdpTxState, socket: &XskSocket, n: u32) {
    let mut completed = socket.completion.available();
    socket.completion.release(completed);
    while let Some(front) = state.pending.front_mut() {
        let take = front.1.min(completed);
        front.1 -= take;
        completed -= take;
        if front.1 > 0 {
            break;
        }
        state.done = (state.done + front.0) % n;
        state.pending.pop_front();
    }
}

/// `NIOCTXSYNC` of the port's TX ring. Returns whether the kernel could
/// not take everything (wait for the socket to be writable).
pub fn txsync(
    view: &RingView<'_>,
    state: &mut XdpTxState,
    ctx: &SyncContext<'_>,
    ring_id: u32,
    socket: &XskSocket,
) -> Result<bool, SyncError> {
    let n = view.num_slots();
    let hwtail = ring::prev(state.done, n);
    let head = view.head();
    if let Err(source) = check_head_cur(n, state.hwcur, hwtail, head, view.cur()) {
        return Err(bad_ring(view, ctx, ring_id, state.hwcur, hwtail, source));
    }
    reap(state, socket, n);
    let memory = ctx.memory;
    let buf_size = memory.buf_size() as usize;
    // Queue the frames of hwcur..head while the TX ring has room.
    let mut queued = 0u32;
    // Read once: the kernel's consumer index is on a line it writes, and
    // the room only grows meanwhile.
    let room = socket.tx.free();
    let (mut sent_frames, mut sent_bytes) = (0u64, 0u64);
    let mut frame: Vec<(u64, u32)> = Vec::new();
    // A one-slot frame the link takes: longest length.
    let one_slot_max = buf_size.min(state.max_frame);
    // One-slot frames queued since the last group update.
    let mut singles = 0u32;
    'frames: while state.hwcur != head {
        // The common frame, one slot with a pool buffer and a length the
        // link takes, goes straight to a descriptor (the same checks as
        // the chain walk below, read from the slot's first word).
        let word = view.slot_word(state.hwcur);
        let (buf_idx, len, flags) = (word as u32, (word >> 32) as u16, (word >> 48) as u16);
        if flags & (NS_MOREFRAG | NS_INDIRECT) == 0
            && (ETH_HEADER_LEN..=one_slot_max).contains(&usize::from(len))
            && memory.buf_offset(buf_idx).is_some()
        {
            if queued == room {
                break;
            }
            let umem = u64::from(buf_idx) * buf_size as u64;
            socket.tx.put_desc(queued, umem, u32::from(len), 0);
            queued += 1;
            sent_frames += 1;
            sent_bytes += u64::from(len);
            singles += 1;
            state.hwcur = ring::next(state.hwcur, n);
            continue;
        }
        add_single_frames(&mut state.pending, singles);
        singles = 0;
        frame.clear();
        let (mut bytes, mut valid) = (0usize, true);
        let chain = Chain::walk(state.hwcur, head, n, |at| {
            let slot = view.slot(at);
            let len = usize::from(slot.len);
            match memory.buf_offset(slot.buf_idx) {
                Some(_) if slot.flags & NS_INDIRECT == 0 && len <= buf_size => {
                    let umem = u64::from(slot.buf_idx) * buf_size as u64;
                    frame.push((umem, len as u32));
                    bytes += len;
                }
                // Indirect payloads live outside the UMEM's chunks.
                _ => valid = false,
            }
            slot.flags & NS_MOREFRAG != 0
        });
        if chain.waits() {
            break 'frames; // an open chain: wait for the rest
        }
        let (slots, at) = (chain.slots, chain.end);
        let why = match chain.verdict(valid, bytes) {
            Err(why) => Some(nic_drop(why)),
            Ok(()) if bytes > state.max_frame => Some(NicCounter::TxDropError),
            Ok(()) => None,
        };
        if let Some(why) = why {
            ctx.counters.add(why, 1);
            add_group(&mut state.pending, slots, 0);
        } else {
            if room - queued < frame.len() as u32 {
                break;
            }
            let last = frame.len() - 1;
            for (i, &(addr, len)) in frame.iter().enumerate() {
                let options = if i < last { libc::XDP_PKT_CONTD } else { 0 };
                socket.tx.put_desc(queued, addr, len, options);
                queued += 1;
            }
            sent_frames += 1;
            sent_bytes += bytes as u64;
            add_group(&mut state.pending, slots, frame.len() as u32);
        }
        state.hwcur = at;
    }
    add_single_frames(&mut state.pending, singles);
    socket.tx.submit(queued);
    // Counted once per sync: the counters live in shared memory.
    if sent_frames > 0 {
        ctx.counters.add(NicCounter::TxPackets, sent_frames);
        ctx.counters.add(NicCounter::TxBytes, sent_bytes);
    }
    let mut blocked = false;
    let mut kicks = 0;
    // Copy mode sends a bounded batch per call and says EAGAIN when the
    // budget ran out as when the device is busy: go on while the kernel
    // takes descriptors.
    // need-wakeup: a zero-copy driver that is still sending clears the
    // flag, and then no system call is made for this batch.
    while socket.tx.in_flight() > 0 && socket.tx.needs_wakeup() && kicks < MAX_KICKS {
        kicks += 1;
        let before = socket.tx.in_flight();
        match socket.kick_tx() {
            Ok(()) => {}
            // Link down (a cable pulled, `ip link set down`): the kernel
            // takes nothing, and the frames wait in its TX ring for the
            // link, as on a NIC whose ring stops moving.
            Err(e) if e.raw_os_error() == Some(libc::ENETDOWN) => {
                blocked = true;
                break;
            }
            Err(e) => return Err(SyncError::Gone(format!("AF_XDP send: {e}"))),
        }
        if socket.tx.in_flight() >= before {
            blocked = true;
            break;
        }
    }
    reap(state, socket, n);
    blocked |= state.hwcur != head || socket.tx.in_flight() > 0;
    view.set_tail(ring::prev(state.done, n));
    Ok(blocked)
}

/// The kernel's `XDP_PACKET_HEADROOM`: a received frame starts this far
/// after the fill address.
pub const XDP_HEADROOM: u64 = 256;

/// Hands the spare buffers to the kernel through the fill ring, each at
/// its start minus the headroom (buffer 0 and 1 are reserved and never
/// spare, so the address is never negative).
pub fn post_spare(state: &mut XdpRxState, ctx: &SyncContext<'_>, socket: &XskSocket) {
    let count = (state.spare.len() as u32).min(socket.fill.free());
    let buf_size = u64::from(ctx.memory.buf_size());
    for n in 0..count {
        let buf_idx = state.spare.pop().expect("counted above");
        socket.fill.put_addr(
            n,
            (u64::from(buf_idx) * buf_size).saturating_sub(XDP_HEADROOM),
        );
    }
    socket.fill.submit(count);
}

/// Moves `len` bytes from `src` down to `dst < src` in `region`, in
/// chunks no longer than the distance, so that no chunk overlaps itself.
fn move_down(region: &netmap_ring::shm::SharedRegion, src: usize, dst: usize, len: usize) {
    let step = src - dst;
    let mut done = 0;
    while done < len {
        let n = step.min(len - done);
        let _ = region.copy_within(src + done, dst + done, n);
        done += n;
    }
}

/// `NIOCRXSYNC` of the port's RX ring.
pub fn rxsync(
    view: &RingView<'_>,
    state: &mut XdpRxState,
    ctx: &SyncContext<'_>,
    ring_id: u32,
    socket: &XskSocket,
) -> Result<(), SyncError> {
    let n = view.num_slots();
    let (head, cur) = (view.head(), view.cur());
    if let Err(source) = check_head_cur(n, state.hwcur, state.hwtail, head, cur) {
        return Err(bad_ring(
            view,
            ctx,
            ring_id,
            state.hwcur,
            state.hwtail,
            source,
        ));
    }
    state.hwcur = head;
    let memory = ctx.memory;
    let buf_size = u64::from(memory.buf_size());
    // Frames wait in the socket's RX ring until the application frees
    // slots, as they would in a socket queue.
    let free = (state.hwcur + n - 1 - state.hwtail) % n;
    let pending = socket.rx.available();
    let available = pending.min(free);
    let (mut rx_frames, mut rx_bytes) = (0u64, 0u64);
    for i in 0..available {
        let desc = socket.rx.get_desc(i);
        let data = desc_data_offset(desc.addr);
        let (buf_idx, start) = (data / buf_size, data % buf_size);
        let len = u64::from(desc.len);
        let buf_off = u32::try_from(buf_idx)
            .ok()
            .and_then(|idx| memory.buf_offset(idx));
        let slot = state.hwtail;
        let Some(buf_off) = buf_off.filter(|_| start + len <= buf_size) else {
            // Not a buffer of the pool: the kernel broke the protocol.
            // Skip it; the slot waits for a good one.
            ctx.counters.add(NicCounter::RxDropTruncated, 1);
            continue;
        };
        if start != 0 {
            // The kernel keeps headroom before the frame; netmap
            // applications read frames from the start of the buffer.
            move_down(
                memory.region(),
                buf_off + start as usize,
                buf_off,
                len as usize,
            );
        }
        let flags = if desc.options & libc::XDP_PKT_CONTD != 0 {
            NS_MOREFRAG
        } else {
            0
        };
        // The slot's own buffer becomes a spare for the kernel; one the
        // application broke is replaced by the received one all the same.
        let old = view.slot(slot).buf_idx;
        if memory.buf_offset(old).is_some() {
            state.spare.push(old);
        } else {
            ctx.counters.add(NicCounter::RxBufRepaired, 1);
        }
        view.set_buf_idx(slot, buf_idx as u32);
        view.set_len_flags(slot, desc.len as u16, flags);
        let whole_frame = flags == 0 && !state.mid_chain;
        state.mid_chain = flags != 0;
        if state.complete_csums && whole_frame {
            let span = Span {
                offset: buf_off,
                len: desc.len as usize,
            };
            super::csum::complete_received(memory.region(), span);
        }
        rx_frames += u64::from(flags == 0);
        rx_bytes += u64::from(desc.len);
        state.hwtail = ring::next(slot, n);
    }
    socket.rx.release(available);
    if rx_bytes > 0 {
        ctx.counters.add(NicCounter::RxPackets, rx_frames);
        ctx.counters.add(NicCounter::RxBytes, rx_bytes);
    }
    // Before the spares go back: did the kernel take every fill entry?
    let starved = socket.fill.in_flight() == 0;
    post_spare(state, ctx, socket);
    if socket.fill.needs_wakeup() {
        socket.wake_rx();
    }
    // The kernel drops a frame only when its RX ring has no room for it
    // or the fill ring no buffer (in copy mode the two go together: the
    // kernel holds a buffer for every free RX entry). Either is seen
    // here without a system call; the drop count is read then, and every
    // SYNCS_PER_STATS syncs for the rest (a zero-copy driver holding
    // buffers of its own, invalid frames).
    state.syncs_since_stats += 1;
    let full = pending + MAX_FRAGS >= socket.rx.size();
    if full || starved || state.syncs_since_stats >= SYNCS_PER_STATS {
        state.syncs_since_stats = 0;
        let drops = socket.rx_drops();
        ctx.counters.add(
            NicCounter::RxDropKernel,
            drops.saturating_sub(state.drops_seen),
        );
        state.drops_seen = drops;
    }
    view.set_tail(state.hwtail);
    Ok(())
}
