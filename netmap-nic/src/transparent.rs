//! Transparent mode: on an RX ring whose flags hold `NR_FORWARD`, the
//! frames the application releases with `NS_FORWARD` set go on to the
//! other side at that rxsync (NIC RX to the host stack, host RX to the
//! NIC), without the application copying them, as netmap does.
#![forbid(unsafe_code)]

use netmap_ring::abi::{NR_FORWARD, NS_FORWARD};
use netmap_ring::ring::check_head_cur;
use netmap_ring::view::RingView;

use super::counters::NicCounter;
use super::datapath::{read_tx_frame, PacketIo, Span, SyncContext, TxFrame, MAX_BATCH};

/// Sends the `NS_FORWARD` frames of the slots the application released
/// (`hwcur..head`) through `to`; call before the rxsync that takes the
/// slots back. A bad `head` forwards nothing (the rxsync then reports
/// it). Frames `to` cannot take now are dropped and counted, as netmap
/// drops what does not fit in the host ring. Returns the frames sent.
pub fn forward_released(
    view: &RingView<'_>,
    hwcur: u32,
    hwtail: u32,
    ctx: &SyncContext<'_>,
    to: &dyn PacketIo,
) -> usize {
    if view.flags() & NR_FORWARD == 0 {
        return 0;
    }
    let n = view.num_slots();
    let head = view.head();
    if check_head_cur(n, hwcur, hwtail, head, view.cur()).is_err() {
        return 0;
    }
    let (mut spans, mut frame_spans) = (Vec::new(), Vec::new());
    let mut sent = 0;
    let mut pos = hwcur;
    while pos != head {
        let forward = view.slot(pos).flags & NS_FORWARD != 0;
        let before = spans.len();
        match read_tx_frame(view, ctx.memory, pos, head, &mut spans) {
            TxFrame::Good { end, .. } => {
                if forward {
                    frame_spans.push(spans.len() - before);
                } else {
                    spans.truncate(before);
                }
                pos = end;
            }
            TxFrame::Bad { end, .. } => pos = end,
            TxFrame::Incomplete => break,
        }
        if frame_spans.len() == MAX_BATCH || pos == head {
            sent += flush(ctx, to, &spans, &frame_spans);
            spans.clear();
            frame_spans.clear();
        }
    }
    sent + flush(ctx, to, &spans, &frame_spans)
}

/// Sends a batch; what the other side refuses is dropped and counted.
fn flush(ctx: &SyncContext<'_>, to: &dyn PacketIo, spans: &[Span], frame_spans: &[usize]) -> usize {
    let (mut done, mut first, mut sent) = (0, 0, 0);
    while done < frame_spans.len() {
        match to.send(ctx.memory.region(), &spans[first..], &frame_spans[done..]) {
            Ok(k) if k > 0 => {
                first += frame_spans[done..done + k].iter().sum::<usize>();
                done += k;
                sent += k;
            }
            _ => {
                ctx.counters.add(NicCounter::TxDropError, 1);
                first += frame_spans[done];
                done += 1;
            }
        }
    }
    sent
}
