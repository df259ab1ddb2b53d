//! Testbench of `dp_deliver`: one frame into one RX ring, against the
//! bytes the software engine would leave in host memory. Frames of one
//! beat (copied from the first beat) and chains (streamed by DMA, slots
//! past the prefetch read one by one), buffer-size clamping, a full ring
//! (with and without room after the head is re-read), a bad RX buffer,
//! all under DMA back-pressure. The bench plays `dp_rx_rings`.
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
    pf: VecDeque<u32>,
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
}

impl Bench {
    /// Port 0: the source (2048-byte buffers); port DST: the destination
    /// (`dst_buf` bytes per buffer), RX ring 1 used.
    fn new(dst_buf: u32, stall: f64) -> Self {
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
            (RN, RN),
            dst_buf,
            200,
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
        };
        bench.tick(); // (the first evaluation settles the model: no edge)
        bench.tick();
        bench.p.set_rst(0);
        // The counter event queues always have room here.
        bench.p.set_ev_room(1);
        // Released RX slots hold buffers 100 + i.
        for i in 0..RN {
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
        RX_RING + ring_bytes(RN) + u64::from(RING_HEADER_BYTES) + u64::from(i) * 16
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
        self.p
            .set_d_pf_buf(u64::from(state.pf.get(lane).copied().unwrap_or(0)));
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
            if done && self.p.dma_wr_req_valid() == 0 {
                return out; // the last write has left
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
                pf.extend((0..n).map(|l| data[l * 4]));
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
                assert_eq!(self.p.busy(), 0);
                done = true;
            }
        }
        panic!("delivery never finished");
    }

    /// Checks RX slots from `hwtail` hold the frame, and the buffers its bytes.
    fn check_delivered(&self, hwtail: u32, slots: &[(u32, u16, u16)], dst_buf: u32) {
        for (k, (buf, len, _)) in slots.iter().enumerate() {
            let j = (hwtail + k as u32) % RN;
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
