//! Testbench of `dp_deliver`: one frame into one RX ring, against the
//! bytes the software engine would leave in host memory. Frames of one
//! beat (copied from the first beat) and chains (streamed by DMA, slots
//! past the prefetch read one by one), buffer-size clamping, a full ring
//! (with and without room after the head is re-read), a bad RX buffer,
//! all under DMA back-pressure. Streams of one-fragment frames from the
//! packet buffer: back to back into one ring (one write beat per frame,
//! the RX slots gathered four per line), across the ring's end, around a
//! slot whose `ptr` is not 0, alternating between rings, held until the
//! job ends (`flush`). The bench plays `dp_rx_rings` and the packet
//! buffer.
#![forbid(unsafe_code)]

mod stage_bench;

use std::collections::VecDeque;

use sim::models::DeliverPorts;
use stage_bench::{beat_of, entry, ring_bytes, slot_word, Bar2, Host, PortCfg, CFG_WORDS};
use vale_offload::regmap::contract::*;
use vale_offload::regmap::*;

const POOL: u64 = 0x1_0000;
const RX_RING: u64 = 0x8000;
const STATUS: u64 = 0x4000;
const SRC_BASE: u32 = 0x800;
const N: u32 = 64; // TX slots
const RN: u32 = 16; // RX slots of the destination
const DST: usize = 2;

/// The bench's copy of one RX ring's device state (dp_rx_rings).
#[derive(Clone, Default)]
struct RxState {
    hwtail: u16,
    hwcur: u16,
    /// Prefetched slots: buffer index, ptr was 0.
    pf: VecDeque<(u32, bool)>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    counts: Vec<(u64, u32, u64)>,
    forwarded: u32,
    refreshed: Option<u16>,
}

struct Bench {
    p: DeliverPorts,
    host: Host,
    bar2: Bar2,
    rx: Vec<RxState>,
    /// RX slots of the destination's rings.
    rn: u32,
    /// The most reads of RX slots (prefetch fills) in flight at once in
    /// `stream`.
    max_fills: usize,
    /// Reads in flight across `stream` calls: (tag, beats to come, a
    /// read of RX slots), and the next tag.
    tags: VecDeque<(u64, usize, bool)>,
    next_tag: u64,
}

impl Bench {
    /// Port 0: the source (2048-byte buffers); port DST: the destination
    /// (`dst_buf` bytes per buffer), RX ring 1 used.
    fn new(dst_buf: u32, stall: f64) -> Self {
        Self::with_ring(dst_buf, stall, RN)
    }

    /// As `new`, with RX rings of `rn` slots (buffers 100 + i).
    fn with_ring(dst_buf: u32, stall: f64, rn: u32) -> Self {
        let mut cfg = PortCfg::default();
        cfg.port(
            0,
            PORT_KIND_VALE,
            (2, 2),
            (N, N),
            2048,
            200,
            POOL,
            0,
            0,
            SRC_BASE,
        );
        cfg.port(
            DST,
            PORT_KIND_VALE,
            (2, 2),
            (RN, rn),
            dst_buf,
            200 + rn,
            POOL,
            RX_RING,
            STATUS,
            0,
        );
        let mut p = DeliverPorts::new(sim::vcd_path_from_env().as_deref());
        let words: [u32; CFG_WORDS] = cfg.words;
        p.set_port_cfg(&words);
        p.set_rst(1);
        let mut host = Host::new(0x80_0000, 4);
        host.stall = stall;
        let mut bench = Bench {
            p,
            host,
            bar2: Bar2::default(),
            rx: vec![RxState::default(); 8],
            rn,
            max_fills: 0,
            tags: VecDeque::new(),
            next_tag: 0,
        };
        bench.tick(); // (the first evaluation settles the model: no edge)
        bench.tick();
        bench.p.set_rst(0);
        // The counter event queues always have room here.
        bench.p.set_ev_room(1);
        // Released RX slots hold buffers 100 + i.
        for i in 0..rn {
            bench.host.put_u32(bench.rx_slot(i), 100 + i);
        }
        // Source buffers 2..60: a recognisable pattern.
        for b in 2..60u64 {
            for i in 0..2048u64 {
                bench.host.mem[(POOL + b * 2048 + i) as usize] = (b * 7 + i * 13) as u8;
            }
        }
        bench
    }

    fn rx_slot(&self, i: u32) -> u64 {
        RX_RING + ring_bytes(self.rn) + u64::from(RING_HEADER_BYTES) + u64::from(i) * 16
    }

    fn tick(&mut self) {
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        self.p.eval();
    }

    /// Presents the ring state of the entry the stage names.
    fn drive_rx(&mut self) {
        self.p.eval();
        let state = &self.rx[self.p.d_entry() as usize];
        self.p.set_d_hwtail(u64::from(state.hwtail));
        self.p.set_d_hwcur(u64::from(state.hwcur));
        self.p.set_d_pf_cnt(state.pf.len() as u64);
        // The prefetched slot the stage names (dp_rx_rings reads one).
        let lane = self.p.d_pf_lane() as usize;
        let (buf, p0) = state.pf.get(lane).copied().unwrap_or((0, false));
        self.p.set_d_pf_buf(u64::from(buf));
        self.p.set_d_pf_p0(u64::from(p0));
        self.p.eval();
    }

    /// Delivers the frame of TX slots `start..start + slots.len()` (buffer,
    /// length, flags) to RX ring 1 of port DST.
    fn deliver(&mut self, start: u32, slots: &[(u32, u16, u16)]) -> Outcome {
        let mut bytes = 0u64;
        for (i, (buf, len, flags)) in slots.iter().enumerate() {
            self.bar2.set_slot(
                SRC_BASE,
                (start + i as u32) % N,
                slot_word(*buf, *len, *flags),
            );
            bytes += u64::from(*len);
        }
        let (buf0, len0, flags0) = slots[0];
        let at = (POOL + u64::from(buf0) * 2048) as usize;
        let first_beat = beat_of(&self.host.mem[at..at + usize::from(len0).min(64)]);
        self.p.set_src_port(0);
        self.p.set_src_base(u64::from(SRC_BASE));
        self.p.set_src_n(u64::from(N));
        self.p.set_frm_start(u64::from(start));
        self.p.set_frm_slots(slots.len() as u64);
        self.p.set_frm_bytes(bytes);
        self.p.set_first_beat(&first_beat);
        self.p.set_frm_first_slot(slot_word(buf0, len0, flags0));
        self.p.set_dst_port(DST as u64);
        self.p.set_dst_ring(1);
        self.p.set_dst_valid(1);
        let mut out = Outcome::default();
        let mut done = false;
        for _ in 0..2000 {
            if done && self.p.dma_wr_req_valid() == 0 && self.p.busy() == 0 {
                // The last write has left, and the rest of a prefetch
                // fill (it may read up to the ring's end) has landed.
                return out;
            }
            self.p.set_desc_rd_data(self.bar2.rdata);
            drive_dma!(self.p, self.host, wr = true, last = true);
            self.drive_rx();
            let beat = self.host.beat();
            let e = self.p.d_entry() as usize;
            if self.p.fill_we() != 0 {
                let data = beat.expect("a fill without a beat").data;
                let (k, n) = (self.p.fill_k() as usize, self.p.fill_n() as usize);
                let pf = &mut self.rx[e].pf;
                pf.truncate(k);
                pf.extend((0..n).map(|l| (data[l * 4], data[l * 4 + 2] | data[l * 4 + 3] == 0)));
            }
            let read = (self.p.desc_rd_en() != 0).then(|| self.p.desc_rd_word() as usize);
            sample_dma!(self.p, self.host, wr = true);
            self.tick();
            self.p.set_dst_valid(0);
            if let Some(word) = read {
                self.bar2.rdata = self.bar2.words[word];
            }
            if self.p.hc_we() != 0 {
                self.rx[e].hwcur = self.p.hc_value() as u16;
                out.refreshed = Some(self.p.hc_value() as u16);
            }
            if self.p.ht_we() != 0 {
                let used = self.p.ht_used() as usize;
                let state = &mut self.rx[e];
                state.hwtail = self.p.ht_value() as u16;
                state.pf.drain(..used.min(state.pf.len()));
            }
            if self.p.ca_valid() != 0 {
                out.counts
                    .push((self.p.ca_port(), self.p.ca_counter() as u32, 1));
            }
            if self.p.cb_valid() != 0 {
                out.counts.push((
                    self.p.cb_port(),
                    self.p.cb_counter() as u32,
                    self.p.cb_amount(),
                ));
            }
            out.forwarded += self.p.ev_forwarded() as u32;
            if self.p.dst_done() != 0 {
                done = true;
            }
        }
        panic!("delivery never finished");
    }

    /// Ring `ring` of port DST: hwtail `hwtail`, the host released up to
    /// `hwcur` (free: hwtail .. hwcur - 1), all of them prefetched.
    fn ring_at(&mut self, ring: usize, hwtail: u16, hwcur: u16) {
        let e = entry(DST, ring) as usize;
        let mut pf = VecDeque::new();
        let mut j = u32::from(hwtail);
        while (j + 1) % self.rn != u32::from(hwcur) {
            let slot = self.rx_slot_of(ring, j);
            let ptr = self.host.u32_at(slot + 8) | self.host.u32_at(slot + 12);
            pf.push_back((self.host.u32_at(slot), ptr == 0));
            j = (j + 1) % self.rn;
        }
        self.rx[e] = RxState { hwtail, hwcur, pf };
    }

    fn rx_slot_of(&self, ring: usize, i: u32) -> u64 {
        RX_RING
            + ring as u64 * ring_bytes(self.rn)
            + u64::from(RING_HEADER_BYTES)
            + u64::from(i) * 16
    }

    /// Streams one-fragment frames (TX slot, buffer, length, RX ring of
    /// port DST) from the packet buffer, each destination offered as soon
    /// as the last was taken (dp_vale_fwd's output register); `flush` is
    /// raised once all are taken, or never. Returns the cycles until the
    /// last destination was done, and the write requests (address,
    /// length) issued until the stage let the job end.
    fn stream(&mut self, frames: &[(u32, u32, u16, usize)], flush: bool) -> (u64, Vec<(u64, u32)>) {
        for &(slot, buf, len, _) in frames {
            self.bar2.set_slot(SRC_BASE, slot, slot_word(buf, len, 0));
        }
        let before = self.host.writes.len();
        let mut next = 0;
        let mut pb_data = [0u32; 16];
        let mut cycles = 0;
        // Read tags as the engine numbers them: each request's beats
        // carry its tag (the host answers in order).
        let mut tags = std::mem::take(&mut self.tags);
        let mut next_tag = self.next_tag;
        let rx_rings = RX_RING..RX_RING + 2 * ring_bytes(self.rn);
        for cycle in 0..2000u64 {
            let taken_all = next == frames.len();
            self.p.set_flush(u64::from(taken_all && flush));
            self.p.eval();
            if taken_all && self.p.frame_busy() == 0 && self.p.dma_wr_req_valid() == 0 {
                self.tags = tags;
                self.next_tag = next_tag;
                let writes = self.host.writes[before..]
                    .iter()
                    .map(|(a, d)| (*a, d.len() as u32))
                    .collect();
                return (cycles, writes);
            }
            if let Some(&(slot, buf, len, ring)) = frames.get(next) {
                let at = (POOL + u64::from(buf) * 2048) as usize;
                self.p.set_src_port(0);
                self.p.set_src_base(u64::from(SRC_BASE));
                self.p.set_src_n(u64::from(N));
                self.p.set_frm_start(u64::from(slot));
                self.p.set_frm_slots(1);
                self.p.set_frm_bytes(u64::from(len));
                self.p
                    .set_first_beat(&beat_of(&self.host.mem[at..at + usize::from(len).min(64)]));
                self.p.set_frm_first_slot(slot_word(buf, len, 0));
                self.p.set_dst_port(DST as u64);
                self.p.set_dst_ring(ring as u64);
                self.p.set_dst_valid(1);
            } else {
                self.p.set_dst_valid(0);
            }
            // The packet buffer holds every frame, whole.
            self.p.set_pb_alloc(1);
            self.p.set_pb_done(1);
            self.p.set_pb_data(&pb_data);
            self.p.set_desc_rd_data(self.bar2.rdata);
            self.p.set_dma_rd_req_tag(next_tag);
            drive_dma!(self.p, self.host, wr = true, last = true);
            self.p.set_dma_rd_rsp_tag(tags.front().map_or(0, |t| t.0));
            self.drive_rx();
            let beat = self.host.beat();
            let e = self.p.d_entry() as usize;
            if self.p.fill_we() != 0 {
                let data = beat.expect("a fill without a beat").data;
                let (k, n) = (self.p.fill_k() as usize, self.p.fill_n() as usize);
                let pf = &mut self.rx[self.p.fill_entry() as usize].pf;
                pf.truncate(k);
                pf.extend((0..n).map(|l| (data[l * 4], data[l * 4 + 2] | data[l * 4 + 3] == 0)));
            }
            // The beat asked for, on pb_data in the next cycle.
            let pb_buf =
                self.bar2.words[Bar2::slot_index(SRC_BASE, self.p.pb_slot() as u32)] as u32;
            let pb_at =
                (POOL + u64::from(pb_buf) * 2048) as usize + 64 * self.p.pb_rd_beat() as usize;
            let taken = self.p.dst_valid() != 0 && self.p.dst_ready() != 0;
            let read = (self.p.desc_rd_en() != 0).then(|| self.p.desc_rd_word() as usize);
            // dp_rx_rings' writes of this edge (some strobes are
            // combinational: sampled before it).
            let hc = (self.p.hc_we() != 0).then(|| self.p.hc_value() as u16);
            let ht = (self.p.ht_we() != 0)
                .then(|| (self.p.ht_value() as u16, self.p.ht_used() as usize));
            let reads = self.host.reads.len();
            let took = self.p.dma_rd_rsp_valid() != 0 && self.p.dma_rd_rsp_ready() != 0;
            sample_dma!(self.p, self.host, wr = true);
            if took {
                let front = tags.front_mut().expect("a beat of a read");
                front.1 -= 1;
                if front.1 == 0 {
                    tags.pop_front();
                }
            }
            if self.host.reads.len() > reads {
                let (addr, len) = *self.host.reads.last().expect("a read");
                let len = len as usize;
                tags.push_back((next_tag, len.div_ceil(64).max(1), rx_rings.contains(&addr)));
                self.max_fills = self.max_fills.max(tags.iter().filter(|t| t.2).count());
                next_tag = (next_tag + 1) % 128;
            }
            self.tick();
            pb_data = beat_of(&self.host.mem[pb_at..pb_at + 64]);
            if let Some(word) = read {
                self.bar2.rdata = self.bar2.words[word];
            }
            if taken {
                next += 1;
            }
            if let Some(hwcur) = hc {
                self.rx[e].hwcur = hwcur;
            }
            if let Some((hwtail, used)) = ht {
                let state = &mut self.rx[e];
                state.hwtail = hwtail;
                state.pf.drain(..used.min(state.pf.len()));
            }
            if self.p.dst_done() != 0 {
                cycles = cycle + 1;
            }
        }
        panic!("the stream never finished");
    }

    /// The whole RX slot `j` of ring `ring`: buffer, len, flags, ptr.
    fn rx_slot_full(&self, ring: usize, j: u32) -> (u32, u32, u64) {
        let a = self.rx_slot_of(ring, j);
        let ptr = u64::from(self.host.u32_at(a + 8)) | u64::from(self.host.u32_at(a + 12)) << 32;
        (self.host.u32_at(a), self.host.u32_at(a + 4), ptr)
    }

    /// Checks RX slots from `hwtail` hold the frame, and the buffers its bytes.
    fn check_delivered(&self, hwtail: u32, slots: &[(u32, u16, u16)], dst_buf: u32) {
        for (k, (buf, len, _)) in slots.iter().enumerate() {
            let j = (hwtail + k as u32) % self.rn;
            let slot = self.rx_slot(j);
            let rx_buf = self.host.u32_at(slot);
            let want_len = u32::from(*len).min(dst_buf);
            let more = if k + 1 < slots.len() { NS_MOREFRAG } else { 0 };
            let flags = (slots.len() as u32).min(255) << NS_RFRAGS_SHIFT | more;
            assert_eq!(
                self.host.u32_at(slot + 4),
                want_len | flags << 16,
                "RX slot {j}"
            );
            let src = (POOL + u64::from(*buf) * 2048) as usize;
            let dst = (POOL + u64::from(rx_buf) * u64::from(dst_buf)) as usize;
            let n = want_len as usize;
            assert_eq!(
                self.host.mem[dst..dst + n],
                self.host.mem[src..src + n],
                "RX slot {j}"
            );
        }
    }
}

fn delivered(bytes: u64) -> Vec<(u64, u32, u64)> {
    vec![
        (DST as u64, CNT_RX_PACKETS, 1),
        (DST as u64, CNT_RX_BYTES, bytes),
    ]
}

#[test]
fn frames_and_chains_are_copied() {
    for stall in [0.0, 0.4] {
        let mut b = Bench::new(2048, stall);
        let e = entry(DST, 1) as usize;
        b.rx[e].hwcur = 0;
        let frames: [&[(u32, u16, u16)]; 4] = [
            &[(5, 60, 0)],
            &[
                (6, 1000, NS_MOREFRAG as u16),
                (7, 1514, NS_MOREFRAG as u16),
                (8, 14, 0),
            ],
            &[(9, 64, 0)],
            // Past the prefetch: slots 5.. of the chain are read one by one.
            &[
                (10, 100, NS_MOREFRAG as u16),
                (11, 0, NS_MOREFRAG as u16),
                (12, 300, NS_MOREFRAG as u16),
                (13, 65, NS_MOREFRAG as u16),
                (14, 2048, NS_MOREFRAG as u16),
                (15, 7, 0),
            ],
        ];
        let mut start = 60; // the TX ring wraps inside the chain
        for frame in frames {
            let hwtail = u32::from(b.rx[e].hwtail);
            let bytes = frame.iter().map(|s| u64::from(s.1)).sum();
            let out = b.deliver(start, frame);
            assert_eq!(out.counts, delivered(bytes), "stall {stall}");
            assert_eq!(out.forwarded, 1);
            b.check_delivered(hwtail, frame, 2048);
            assert_eq!(
                u32::from(b.rx[e].hwtail),
                (hwtail + frame.len() as u32) % RN
            );
            start = (start + frame.len() as u32) % N;
        }
    }
}

#[test]
fn lengths_are_clamped_to_the_destination_buffer() {
    let mut b = Bench::new(1024, 0.0);
    let frame = [(20, 1500, NS_MOREFRAG as u16), (21, 40, 0)];
    let out = b.deliver(0, &frame);
    assert_eq!(out.counts, delivered(1540));
    b.check_delivered(0, &frame, 1024);
}

#[test]
fn a_full_ring_rereads_the_head_then_drops() {
    let mut b = Bench::new(2048, 0.0);
    let e = entry(DST, 1) as usize;
    // hwtail 10, cached hwcur 12: one free slot; the host released more.
    b.rx[e].hwtail = 10;
    b.rx[e].hwcur = 12;
    let head_at = STATUS + u64::from((ST_RX_FIRST + 1) * ST_SIZE + ST_HEAD);
    b.host.put_u32(head_at, 15);
    let frame = [(30, 200, NS_MOREFRAG as u16), (31, 200, 0)];
    let out = b.deliver(3, &frame);
    assert_eq!(out.refreshed, Some(15));
    assert_eq!(out.counts, delivered(400));
    b.check_delivered(10, &frame, 2048);
    // Now hwtail 12, hwcur 15: two free; a 3-slot chain does not fit even
    // after the re-read (the head did not move).
    let frame = [
        (32, 10, NS_MOREFRAG as u16),
        (33, 10, NS_MOREFRAG as u16),
        (34, 10, 0),
    ];
    let out = b.deliver(5, &frame);
    assert_eq!(
        out.counts,
        vec![(DST as u64, CNT_RX_DROP_FULL, 1), (0, CNT_TX_DROP_FULL, 1)]
    );
    assert_eq!(b.rx[e].hwtail, 12);
    // A head outside [hwcur, hwtail] is not taken.
    b.host.put_u32(head_at, 13);
    let out = b.deliver(5, &frame);
    assert_eq!(out.refreshed, None);
}

#[test]
fn a_bad_rx_buffer_drops_the_frame_untouched() {
    let mut b = Bench::new(2048, 0.0);
    let e = entry(DST, 1) as usize;
    let slot = b.rx_slot(1);
    b.host.put_u32(slot, 1); // a reserved buffer index
    let before = b.host.writes.len();
    let frame = [(40, 100, NS_MOREFRAG as u16), (41, 100, 0)];
    let out = b.deliver(0, &frame);
    assert_eq!(out.counts, vec![(DST as u64, CNT_RX_DROP_BAD_BUF, 1)]);
    assert_eq!(b.host.writes.len(), before);
    assert_eq!(b.rx[e].hwtail, 0);
}

/// One-fragment frames of `len` bytes from TX slots `first..`, buffers
/// 2.., into ring `ring`.
fn frames(first: u32, count: u32, len: u16, ring: usize) -> Vec<(u32, u32, u16, usize)> {
    (0..count)
        .map(|i| ((first + i) % N, 2 + (first + i) % 50, len, ring))
        .collect()
}

/// RX slot `j` of ring `ring` holds frame `f` (length `len`, one
/// fragment): buffer 100 + j kept, len, NS_RFRAGS 1, ptr `ptr` kept; the
/// buffer holds the bytes.
fn check_streamed(b: &Bench, ring: usize, j: u32, f: (u32, u32, u16, usize), ptr: u64) {
    let rfrags = 1 << NS_RFRAGS_SHIFT;
    assert_eq!(
        b.rx_slot_full(ring, j),
        (100 + j, u32::from(f.2) | rfrags << 16, ptr),
        "RX slot {j} of ring {ring}"
    );
    let src = (POOL + u64::from(f.1) * 2048) as usize;
    let dst = (POOL + u64::from(100 + j) * 2048) as usize;
    let n = usize::from(f.2);
    assert_eq!(
        b.host.mem[dst..dst + n],
        b.host.mem[src..src + n],
        "RX slot {j}"
    );
}

#[test]
fn a_stream_into_one_ring_writes_one_beat_per_frame_and_gathers_slots() {
    for stall in [0.0, 0.4] {
        let mut b = Bench::new(2048, stall);
        b.ring_at(1, 0, 0); // hwcur 0: 15 free slots
        let f = frames(3, 8, 60, 1);
        let (cycles, writes) = b.stream(&f, true);
        for (j, frame) in f.iter().enumerate() {
            check_streamed(&b, 1, j as u32, *frame, 0);
        }
        // Eight payload beats and two lines of four slots.
        let lines: Vec<_> = writes.iter().filter(|w| w.0 < POOL).copied().collect();
        assert_eq!(
            lines,
            vec![(b.rx_slot_of(1, 0), 64), (b.rx_slot_of(1, 4), 64)],
            "stall {stall}"
        );
        assert_eq!(writes.len(), 10, "stall {stall}");
        assert_eq!(b.rx[entry(DST, 1) as usize].hwtail, 8);
        if stall == 0.0 {
            // One D_START, then a frame per cycle, and one cycle for the
            // first line between the fourth and the fifth frame.
            assert!(cycles <= 11, "{cycles} cycles for 8 frames");
        }
    }
}

#[test]
fn a_stream_across_the_rings_end_and_a_slot_with_a_ptr() {
    for stall in [0.0, 0.4] {
        let mut b = Bench::new(2048, stall);
        // RX slot 2 has a ptr the host set: that slot's len/flags are
        // written alone, the ptr kept.
        let ptr_slot = b.rx_slot_of(1, 2);
        b.host.put_u32(ptr_slot + 8, 0xdead_beef);
        b.ring_at(1, 13, 10); // slots 13, 14, 15, 0 .. 8 free
        let f = frames(60, 12, 60, 1); // (the TX ring wraps too)
        let (_, writes) = b.stream(&f, true);
        for (i, frame) in f.iter().enumerate() {
            let j = (13 + i as u32) % RN;
            let ptr = if j == 2 { 0xdead_beef } else { 0 };
            check_streamed(&b, 1, j, *frame, ptr);
        }
        let slots: Vec<_> = writes.iter().filter(|w| w.0 < POOL).copied().collect();
        assert_eq!(
            slots,
            vec![
                (b.rx_slot_of(1, 13), 48), // 13..15: the ring's end
                (ptr_slot + 4, 4),         // slot 2: len/flags alone
                (b.rx_slot_of(1, 0), 32),  // 0, 1: slot 3 does not join
                (b.rx_slot_of(1, 3), 16),  // 3: its line's end
                (b.rx_slot_of(1, 4), 64),  // 4..7
                (b.rx_slot_of(1, 8), 16),  // 8: the job's end
            ],
            "stall {stall}"
        );
    }
}

#[test]
fn a_stream_alternating_rings_writes_each_rings_slots() {
    let mut b = Bench::new(2048, 0.0);
    for i in 0..RN {
        let slot = b.rx_slot_of(0, i);
        b.host.put_u32(slot, 100 + i);
    }
    b.ring_at(0, 0, 0);
    b.ring_at(1, 5, 5);
    let mut f = frames(0, 6, 100, 0);
    for (i, frame) in f.iter_mut().enumerate() {
        frame.3 = i % 2;
    }
    let (_, writes) = b.stream(&f, true);
    for (i, frame) in f.iter().enumerate() {
        let j = if i % 2 == 0 {
            i as u32 / 2
        } else {
            5 + i as u32 / 2
        };
        check_streamed(&b, i % 2, j, *frame, 0);
    }
    // Two beats per frame, and one slot write each: another ring's slot
    // never joins a run.
    assert_eq!(writes.len(), 18);
}

#[test]
fn gathered_slots_wait_for_the_jobs_end() {
    let mut b = Bench::new(2048, 0.0);
    b.ring_at(1, 0, 0);
    let f = frames(0, 6, 60, 1);
    let (_, writes) = b.stream(&f, false);
    // Slots 0..3 left as a line; 4 and 5 wait, and the stage lets the
    // job end only once they are out.
    assert_eq!(writes.iter().filter(|w| w.0 < POOL).count(), 1);
    assert_eq!(b.rx_slot_full(1, 4), (104, 0, 0));
    let (_, writes) = b.stream(&[], true);
    assert_eq!(writes, vec![(b.rx_slot_of(1, 4), 32)]);
    for (j, frame) in f.iter().enumerate() {
        check_streamed(&b, 1, j as u32, *frame, 0);
    }
}

/// Streams twelve 60-byte frames into ring 1 at hwtail 0 with a cached
/// hwcur of 8 (seven free slots, under half the ring) while the host has
/// released up to 15; checks the frames and the ring's final hwcur and
/// hwtail, and returns the sizes of the reads of the ring's head.
fn stream_twelve_short_of_room(b: &mut Bench, stall: f64) -> Vec<u32> {
    let e = entry(DST, 1) as usize;
    b.ring_at(1, 0, 8);
    let head_at = STATUS + u64::from((ST_RX_FIRST + 1) * ST_SIZE + ST_HEAD);
    b.host.put_u32(head_at, 15);
    let f = frames(0, 12, 60, 1);
    b.stream(&f, true);
    for (j, frame) in f.iter().enumerate() {
        check_streamed(b, 1, j as u32, *frame, 0);
    }
    assert_eq!(b.rx[e].hwcur, 15, "stall {stall}");
    assert_eq!(b.rx[e].hwtail, 12, "stall {stall}");
    b.host
        .reads
        .iter()
        .filter(|r| r.0 == head_at)
        .map(|r| r.1)
        .collect()
}

#[test]
fn a_ring_short_of_room_rereads_its_head_in_the_background() {
    for stall in [0.0, 0.4] {
        let mut b = Bench::new(2048, stall);
        let head_reads = stream_twelve_short_of_room(&mut b, stall);
        // The head came from a background read (4 bytes); without stalls
        // its answer came before the seven slots were used, so no frame
        // waited for D_REFRESH's (8 bytes).
        assert!(
            head_reads.first() == Some(&4) && (stall > 0.0 || !head_reads.contains(&8)),
            "stall {stall}: {head_reads:?}"
        );
    }
}

#[test]
fn a_background_head_outside_the_ring_is_not_taken() {
    let mut b = Bench::new(2048, 0.0);
    let e = entry(DST, 1) as usize;
    b.ring_at(1, 0, 6);
    let head_at = STATUS + u64::from((ST_RX_FIRST + 1) * ST_SIZE + ST_HEAD);
    // Behind the cached hwcur (an older head, or one past hwtail): refused.
    b.host.put_u32(head_at, 5);
    let f = frames(0, 4, 60, 1);
    b.stream(&f, true);
    assert!(b.host.reads.iter().any(|r| r.0 == head_at && r.1 == 4));
    assert_eq!(b.rx[e].hwcur, 6);
    for (j, frame) in f.iter().enumerate() {
        check_streamed(&b, 1, j as u32, *frame, 0);
    }
}

#[test]
fn a_second_background_fill_leaves_while_the_first_is_in_flight() {
    for stall in [0.0, 0.4] {
        let rn = 256;
        let mut b = Bench::with_ring(2048, stall, rn);
        b.host.latency = 150;
        let e = entry(DST, 1) as usize;
        // hwtail 200, every other slot released (hwcur 199); 48 of them
        // prefetched. The first fill reads up to the ring's end (8
        // slots), the second, BG_GAP (100) cycles later and while the
        // first is still on its way, from slot 0 (the frames meanwhile
        // wait for the first's slots).
        b.ring_at(1, 200, 199);
        b.rx[e].pf.truncate(48);
        let head_at = STATUS + u64::from((ST_RX_FIRST + 1) * ST_SIZE + ST_HEAD);
        b.host.put_u32(head_at, 199);
        let f = frames(0, 64, 60, 1);
        b.stream(&f, true);
        for (i, frame) in f.iter().enumerate() {
            check_streamed(&b, 1, (200 + i as u32) % rn, *frame, 0);
        }
        assert_eq!(u32::from(b.rx[e].hwtail), (200 + 64) % rn, "stall {stall}");
        assert_eq!(b.max_fills, 2, "stall {stall}");
        // The fills read released slots only, each slot once, in order.
        let mut next = 200 + 48;
        let ring = b.rx_slot_of(1, 0)..b.rx_slot_of(1, rn);
        for &(addr, len) in b.host.reads.iter().filter(|r| ring.contains(&r.0)) {
            let first = ((addr - ring.start) / 16) as u32;
            let n = len.div_ceil(16);
            assert_eq!(first, next % rn, "stall {stall}: {:?}", b.host.reads);
            assert!(n >= 1 && first + n <= rn, "stall {stall}");
            next = first + n;
            assert!((first..first + n).all(|j| j != 199), "stall {stall}");
        }
        assert!(next > 100, "stall {stall}: the fills reached slot {next}");
    }
}

#[test]
fn a_frame_short_of_room_waits_for_the_background_head_reread() {
    for stall in [0.0, 0.4] {
        let mut b = Bench::new(2048, stall);
        // A long trip: the re-read that leaves with the first frame (seven
        // free slots, under half the ring) is still out when the eighth
        // frame finds the ring full on its cached head.
        b.host.latency = 40;
        let head_reads = stream_twelve_short_of_room(&mut b, stall);
        // The eighth frame took the background answer (4 bytes) instead
        // of issuing D_REFRESH's read (8 bytes).
        assert!(
            !head_reads.is_empty() && head_reads.iter().all(|&n| n == 4),
            "stall {stall}: {head_reads:?}"
        );
    }
}
