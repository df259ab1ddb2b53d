//! Testbench of `dp_pipe`: pairing checks at open, the peer's head
//! re-read (the job starting on the cached room), the window of the
//! receiver's buffers (kept for the next job of the ring), descriptor
//! moves (RX slot from the TX slot, the receiver's buffer back into BAR2
//! and into the host's copy of the TX ring, gathered in runs), skipped
//! bad packets, back-pressure, runs of one-slot packets moved a BAR2 line
//! at a time (stopping at a chain, a bad slot, head, the room's end), and
//! the hwtail published at close, under DMA back-pressure. The bench
//! plays `dp_rx_rings` and BAR2's two ports.
#![forbid(unsafe_code)]

mod stage_bench;

use std::collections::VecDeque;

use sim::models::PipePorts;
use stage_bench::{entry, slot_word, Bar2, Host, PortCfg, CFG_WORDS};
use vale_offload::regmap::contract::*;
use vale_offload::regmap::*;

const N: u32 = 16; // slots of both rings
const SRC_BASE: u32 = 0x800;
const STATUS0: u64 = 0x4000;
const STATUS1: u64 = 0x6000;
const TXH: u32 = 0x1000; // host TX ring 0 of port 0, from its status blocks
const RX_RING: u64 = 0x8000;

#[derive(Clone, Default)]
struct RxState {
    hwtail: u16,
    hwcur: u16,
    pf: VecDeque<u32>,
}

#[derive(Debug, Default)]
struct Answer {
    ok: bool,
    wait: bool,
    pub_tail: u64,
    span: u64,
    counts: Vec<(u64, u32, u64)>,
    dirty: bool,
    /// A run: the slot it stopped at.
    next: u64,
    /// `wake` pulses (a head's answer that added room after the close).
    wakes: u32,
}

struct Bench {
    p: PipePorts,
    host: Host,
    bar2: Bar2,
    rx: Vec<RxState>,
    cfg: PortCfg,
    /// The host answers a read issued while another is due first (the
    /// completions of the open's two reads reordered).
    newest_first: bool,
    /// BAR2's line port: the last line read.
    line_rdata: [u32; 16],
    /// The tag of each response beat due (reads are numbered in order;
    /// the window's outlive a request).
    beat_tags: VecDeque<u64>,
}

impl Bench {
    fn new(stall: f64) -> Self {
        let mut cfg = PortCfg::default();
        cfg.port(
            0,
            PORT_KIND_PIPE_MASTER,
            (1, 1),
            (N, N),
            2048,
            64,
            0x1_0000,
            0,
            STATUS0,
            SRC_BASE,
        );
        cfg.set(0, PORT_PIPE_PEER, 1)
            .set(0, PORT_TX_HOST_RING_OFF, TXH);
        cfg.port(
            1,
            PORT_KIND_PIPE_SLAVE,
            (1, 1),
            (N, N),
            2048,
            64,
            0x1_0000,
            RX_RING,
            STATUS1,
            0,
        );
        cfg.set(1, PORT_PIPE_PEER, 0);
        let mut p = PipePorts::new(sim::vcd_path_from_env().as_deref());
        p.set_port_enable(0x3);
        p.set_rst(1);
        let mut host = Host::new(0x2_0000, 5);
        host.stall = stall;
        let mut bench = Bench {
            p,
            host,
            bar2: Bar2::default(),
            rx: vec![RxState::default(); 8],
            cfg,
            newest_first: false,
            line_rdata: [0; 16],
            beat_tags: VecDeque::new(),
        };
        bench.apply_cfg();
        bench.tick(); // (the first evaluation settles the model: no edge)
        bench.tick();
        bench.p.set_rst(0);
        bench.p.set_src_port(0);
        bench.p.set_src_ring(0);
        bench.p.set_src_base(u64::from(SRC_BASE));
        bench.p.set_src_n(u64::from(N));
        // The receiver's released slots hold buffers 40 + i.
        for i in 0..N {
            bench.host.put_u32(Self::rx_slot(i), 40 + i);
        }
        bench
    }

    fn apply_cfg(&mut self) {
        let words: [u32; CFG_WORDS] = self.cfg.words;
        self.p.set_port_cfg(&words);
    }

    fn rx_slot(i: u32) -> u64 {
        RX_RING + u64::from(RING_HEADER_BYTES) + u64::from(i * SLOT_BYTES)
    }

    fn txh_slot(i: u32) -> u64 {
        STATUS0 + u64::from(TXH) + u64::from(RING_HEADER_BYTES) + u64::from(i * SLOT_BYTES)
    }

    fn set_rx_head(&mut self, head: u32) {
        let at = STATUS1 + u64::from(ST_RX_FIRST * ST_SIZE + ST_HEAD);
        self.host.put_u32(at, head);
    }

    fn tick(&mut self) {
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        self.p.eval();
    }

    /// Runs one request until `done`.
    fn request(&mut self, set: impl Fn(&mut PipePorts)) -> Answer {
        self.drive(set, None)
    }

    /// Runs `cycles` cycles with no request (answers still land).
    fn idle(&mut self, cycles: usize) -> Answer {
        self.drive(|_| {}, Some(cycles))
    }

    fn drive(&mut self, set: impl Fn(&mut PipePorts), cycles: Option<usize>) -> Answer {
        set(&mut self.p);
        let mut answer = Answer::default();
        let mut done = false;
        // Cycles seen since `done`: a moved packet's receiver counters
        // follow it by one.
        let mut after_done = 0;
        for cycle in 0..2000 {
            if cycles == Some(cycle) {
                return answer;
            }
            if done && after_done >= 2 && self.p.dma_wr_req_valid() == 0 {
                return answer; // the last write has left, the counters are out
            }
            self.p.set_desc_rd_data(self.bar2.rdata);
            self.p.set_desc_line_rdata(&self.line_rdata);
            drive_dma!(self.p, self.host, wr = true, last = false);
            let read_tag = self.host.reads.len() as u64 & 0x7f;
            self.p.set_dma_rd_req_tag(read_tag);
            self.p
                .set_dma_rd_rsp_tag(self.beat_tags.front().copied().unwrap_or(0xff));
            self.p.eval();
            let e = self.p.d_entry() as usize;
            let state = &self.rx[e];
            self.p.set_d_hwtail(u64::from(state.hwtail));
            self.p.set_d_hwcur(u64::from(state.hwcur));
            self.p.set_d_pf_cnt(state.pf.len() as u64);
            // The prefetched slot the stage names (dp_rx_rings reads one).
            let lane = self.p.d_pf_lane() as usize;
            self.p
                .set_d_pf_buf(u64::from(state.pf.get(lane).copied().unwrap_or(0)));
            self.p.eval();
            if self.p.fill_we() != 0 {
                let data = self.host.beat().expect("a fill without a beat").data;
                let (k, n) = (self.p.fill_k() as usize, self.p.fill_n() as usize);
                let pf = &mut self.rx[e].pf;
                pf.truncate(k);
                pf.extend((0..n).map(|l| data[l * 4]));
            }
            let read = (self.p.desc_rd_en() != 0).then(|| self.p.desc_rd_word() as usize);
            let write = (self.p.desc_wr_en() != 0)
                .then(|| (self.p.desc_wr_word() as usize, self.p.desc_wr_data()));
            let line = (self.p.desc_line_en() != 0).then(|| {
                (
                    self.p.desc_line_row() as usize * 8,
                    self.p.desc_line_we() != 0,
                    self.p.desc_line_mask(),
                    self.p.desc_line_wdata(),
                )
            });
            assert!(
                line.is_none() || (read.is_none() && write.is_none()),
                "one BAR2 access a cycle"
            );
            if self.p.dma_rd_rsp_valid() != 0 && self.p.dma_rd_rsp_ready() != 0 {
                self.beat_tags.pop_front();
            }
            let reads = self.host.reads.len();
            sample_dma!(self.p, self.host, wr = true);
            if let Some(&(_, len)) = self.host.reads.get(reads) {
                let beats = (len as usize).div_ceil(64).max(1);
                self.beat_tags.extend(std::iter::repeat_n(read_tag, beats));
                if self.newest_first && self.beat_tags.len() > beats {
                    // Its beats (in order among themselves) go first, due
                    // when the older read's first beat is.
                    let due = self.host.beats[0].at;
                    self.beat_tags.rotate_right(beats);
                    self.host.beats.rotate_right(beats);
                    for beat in self.host.beats.iter_mut().take(beats) {
                        beat.at = due;
                    }
                }
            }
            self.tick();
            self.p.set_open_valid(0);
            self.p.set_frm_valid(0);
            self.p.set_close_valid(0);
            self.p.set_run_valid(0);
            if let Some((at, we, mask, data)) = line {
                for w in 0..8 {
                    if !we {
                        self.line_rdata[2 * w] = self.bar2.words[at + w] as u32;
                        self.line_rdata[2 * w + 1] = (self.bar2.words[at + w] >> 32) as u32;
                    } else if mask >> (w / 2) & 1 == 1 {
                        self.bar2.words[at + w] =
                            u64::from(data[2 * w]) | u64::from(data[2 * w + 1]) << 32;
                    }
                }
            }
            if let Some(word) = read {
                self.bar2.rdata = self.bar2.words[word];
            }
            if let Some((word, data)) = write {
                self.bar2.words[word] = data;
            }
            if self.p.hc_we() != 0 {
                self.rx[e].hwcur = self.p.hc_value() as u16;
            }
            if self.p.ht_we() != 0 {
                let used = self.p.ht_used() as usize;
                let state = &mut self.rx[e];
                state.hwtail = self.p.ht_value() as u16;
                state.pf.drain(..used.min(state.pf.len()));
            }
            answer.dirty |= self.p.dirty_set() != 0;
            answer.wakes += self.p.wake() as u32;
            if self.p.ca_valid() != 0 {
                answer
                    .counts
                    .push((self.p.ca_port(), self.p.ca_counter() as u32, 1));
            }
            if self.p.cb_valid() != 0 {
                answer.counts.push((
                    self.p.cb_port(),
                    self.p.cb_counter() as u32,
                    self.p.cb_amount(),
                ));
            }
            if self.p.done() != 0 {
                answer.ok = self.p.ok() != 0;
                answer.wait = self.p.wait_room() != 0;
                answer.pub_tail = self.p.pub_tail();
                answer.span = self.p.span();
                answer.next = self.p.run_next();
                done = true;
            }
            if done {
                after_done += 1;
            }
        }
        panic!("the request never finished");
    }

    /// Opens a job of up to n - 1 TX slots from slot 0 (the window reads
    /// ahead for that many).
    fn open(&mut self) -> Answer {
        self.request(|p| {
            p.set_run_ci(0);
            p.set_run_head(u64::from(N - 1));
            p.set_open_valid(1);
        })
    }

    /// Moves the packet of `slots` TX slots from `start` (buffers 2 + i).
    fn frame(&mut self, start: u32, slots: u32, ok: bool) -> Answer {
        for k in 0..slots {
            let more = if k + 1 < slots { NS_MOREFRAG as u16 } else { 0 };
            let i = (start + k) % N;
            self.bar2
                .set_slot(SRC_BASE, i, slot_word(2 + i, 60 + k as u16, more));
            self.bar2.words[Bar2::slot_index(SRC_BASE, i) + 1] = 0xdead; // ptr
        }
        self.request(|p| {
            p.set_frm_start(u64::from(start));
            p.set_frm_slots(u64::from(slots));
            p.set_frm_bytes(u64::from(slots * 60));
            p.set_frm_ok(u64::from(ok));
            p.set_frm_first_buf(u64::from(2 + start % N));
            p.set_frm_first_len(60);
            p.set_frm_first_flags(u64::from(if slots > 1 { NS_MOREFRAG } else { 0 }));
            p.set_frm_valid(1);
        })
    }

    /// Runs one-slot packets from `ci` up to `head`.
    fn run(&mut self, ci: u32, head: u32) -> Answer {
        self.request(|p| {
            p.set_run_ci(u64::from(ci));
            p.set_run_head(u64::from(head));
            p.set_run_valid(1);
        })
    }

    /// TX slot `i` holds a one-slot packet (buffer 2 + i, 60 bytes, a
    /// stale ptr), or a bad one (buffer 0).
    fn put_plain(&mut self, i: u32, good: bool) {
        let buf = if good { 2 + i } else { 0 };
        self.bar2.set_slot(SRC_BASE, i, slot_word(buf, 60, 0));
        self.bar2.words[Bar2::slot_index(SRC_BASE, i) + 1] = 0xdead; // ptr
    }

    fn close(&mut self, hwcur: u32) -> Answer {
        self.request(|p| {
            p.set_hwcur(u64::from(hwcur));
            p.set_close_valid(1);
        })
    }

    /// TX slot `i` moved into RX slot `j`: every copy as the engine leaves it.
    /// (`k`: the slot's place in its packet, `last`: the packet's last.)
    fn check_moved(&self, i: u32, j: u32, k: u32, last: bool) {
        let more = if last { 0 } else { NS_MOREFRAG as u16 };
        let rx = self.host.u32_at(Self::rx_slot(j));
        let rx_lo = u64::from(rx) | u64::from(self.host.u32_at(Self::rx_slot(j) + 4)) << 32;
        let want = slot_word(2 + i, 60 + k as u16, more | NS_BUF_CHANGED as u16);
        assert_eq!(rx_lo, want, "RX slot {j}");
        assert_eq!(self.host.u32_at(Self::rx_slot(j) + 8), 0, "RX slot {j} ptr");
        let tx = slot_word(40 + j, 0, NS_BUF_CHANGED as u16);
        assert_eq!(self.bar2.slot(SRC_BASE, i), tx, "BAR2 TX slot {i}");
        assert_eq!(
            self.bar2.words[Bar2::slot_index(SRC_BASE, i) + 1],
            0,
            "BAR2 ptr {i}"
        );
    }

    /// The host's copy of TX slot `i` after it moved into RX slot `j`.
    fn check_host_copy(&self, i: u32, j: u32) {
        let tx = slot_word(40 + j, 0, NS_BUF_CHANGED as u16);
        let host = u64::from(self.host.u32_at(Self::txh_slot(i)))
            | u64::from(self.host.u32_at(Self::txh_slot(i) + 4)) << 32;
        assert_eq!(host, tx, "host TX slot {i}");
    }
}

/// The counters of a run of `packets` one-slot packets of 60 bytes.
fn run_moved(packets: u64) -> Vec<(u64, u32, u64)> {
    vec![
        (0, CNT_TX_PACKETS, packets),
        (0, CNT_TX_BYTES, packets * 60),
        (1, CNT_RX_PACKETS, packets),
        (1, CNT_RX_BYTES, packets * 60),
    ]
}

fn moved(slots: u64) -> Vec<(u64, u32, u64)> {
    vec![
        (0, CNT_TX_PACKETS, 1),
        (0, CNT_TX_BYTES, slots * 60),
        (1, CNT_RX_PACKETS, 1),
        (1, CNT_RX_BYTES, slots * 60),
    ]
}

#[test]
fn an_end_that_is_not_paired_both_ways_holds_its_frames() {
    let mut b = Bench::new(0.0);
    b.cfg.set(1, PORT_PIPE_PEER, 2);
    b.apply_cfg();
    assert!(!b.open().ok);
    b.cfg.set(1, PORT_PIPE_PEER, 0);
    b.apply_cfg();
    b.p.set_port_enable(0x1);
    assert!(!b.open().ok);
    b.p.set_port_enable(0x3);
    assert!(b.open().ok);
}

#[test]
fn descriptors_cross_and_the_host_copy_follows() {
    for stall in [0.0, 0.5] {
        let mut b = Bench::new(stall);
        // The receiver released everything up to slot 15: 15 slots free.
        b.set_rx_head(0);
        assert!(b.open().ok);
        let mut start = 0;
        let mut j = 0;
        for slots in [1, 3, 2, 4, 1] {
            let answer = b.frame(start, slots, true);
            assert!(!answer.wait);
            assert_eq!(answer.counts, moved(u64::from(slots)), "stall {stall}");
            start += slots;
            j += slots;
            assert_eq!(u32::from(b.rx[entry(1, 0) as usize].hwtail), j);
        }
        // A bad packet is skipped, and breaks the gathered run.
        let answer = b.frame(start, 1, false);
        assert_eq!(answer.counts, vec![(0, CNT_TX_DROP_BAD_SLOT, 1)]);
        start += 1;
        let mut j = 0;
        for slots in [1, 3, 2, 4, 1] {
            for k in 0..slots {
                b.check_moved(j + k, j + k, k, k + 1 == slots);
            }
            j += slots;
        }
        // 11 of 15 free slots used: a 5-slot packet waits.
        let answer = b.frame(start, 5, true);
        assert!(answer.wait && answer.counts.is_empty());
        let answer = b.close(start);
        assert!(answer.dirty);
        // hwtail = hwcur + min(room 4, n - 1).
        assert_eq!(
            (answer.pub_tail, answer.span),
            (u64::from((start + 4) % N), 4)
        );
        for i in 0..11 {
            b.check_host_copy(i, i);
        }
        // The write-back left in runs within 64-byte lines, before close ended.
        for (addr, bytes) in &b.host.writes {
            if *addr >= STATUS0 + u64::from(TXH) && *addr < RX_RING {
                assert!(bytes.len() <= 64 && addr % 64 + bytes.len() as u64 <= 64);
            }
        }
    }
}

#[test]
fn the_head_reread_at_open_sets_the_room() {
    let mut b = Bench::new(0.0);
    // A head the device has not published (hwtail 0, hwcur 0 cached):
    // outside [hwcur, hwtail], ignored: the cached room (n - 1) stays.
    b.set_rx_head(5);
    assert!(b.open().ok);
    assert_eq!(b.rx[entry(1, 0) as usize].hwcur, 0);
    let answer = b.close(0);
    assert_eq!(
        (answer.pub_tail, answer.span, answer.dirty),
        (15, 15, false)
    );
}

#[test]
fn a_close_publishes_the_room_it_has_and_a_later_head_wakes_the_sender() {
    let e = entry(1, 0) as usize;
    let head_reads = |b: &Bench| {
        let at = STATUS1 + u64::from(ST_RX_FIRST * ST_SIZE + ST_HEAD);
        b.host.reads.iter().filter(|(addr, _)| *addr == at).count()
    };
    // Cached: hwcur 4, hwtail 8 (11 free); the host's head is 6. The
    // answer lands after the close: it writes the cached head and wakes
    // the sender (the close published on head 4). When an RX doorbell
    // moved the cached head past it meanwhile, the stale answer does not
    // move it back, and the sender is woken for the doorbell's head.
    for newer in [None, Some(7)] {
        let mut b = Bench::new(0.0);
        b.host.latency = 80;
        b.rx[e].hwtail = 8;
        b.rx[e].hwcur = 4;
        b.set_rx_head(6);
        assert!(b.open().ok);
        assert_eq!(b.p.reread_due(), 1);
        let answer = b.close(0);
        assert_eq!((answer.pub_tail, answer.span, answer.wakes), (11, 11, 0));
        assert_eq!(b.p.reread_due(), 1, "the close did not wait for it");
        if let Some(head) = newer {
            b.rx[e].hwcur = head;
        }
        let answer = b.idle(200);
        assert_eq!(b.p.reread_due(), 0);
        let expect = match newer {
            None => (6, 1),
            Some(head) => (head, 1),
        };
        assert_eq!((b.rx[e].hwcur, answer.wakes), expect, "newer {newer:?}");
        assert_eq!(head_reads(&b), 1);
    }
    // The next job of the ring opens while the answer is due: it reads no
    // head again, starts on the cached room, and takes the answer's room
    // (no wake: its own close publishes it).
    let mut b = Bench::new(0.0);
    b.host.latency = 80;
    b.rx[e].hwtail = 8;
    b.rx[e].hwcur = 4;
    b.set_rx_head(6);
    assert!(b.open().ok);
    b.close(0);
    assert!(b.open().ok);
    assert_eq!(head_reads(&b), 1);
    let answer = b.idle(200);
    assert_eq!((b.rx[e].hwcur, answer.wakes, b.p.reread_due()), (6, 0, 0));
    let answer = b.close(0);
    assert_eq!((answer.pub_tail, answer.span), (13, 13));
}

/// Reads of the receiver's RX slots' buffer indexes (the window's):
/// (first slot, slots).
fn window_reads(b: &Bench, from: usize) -> Vec<(u32, u32)> {
    let first = RX_RING + u64::from(RING_HEADER_BYTES) + u64::from(SLOT_BUF_IDX);
    b.host.reads[from..]
        .iter()
        .filter(|(addr, _)| *addr >= first && *addr < first + u64::from(N * SLOT_BYTES))
        .map(|&(addr, len)| {
            let slot = ((addr - first) / u64::from(SLOT_BYTES)) as u32;
            (slot, len.div_ceil(SLOT_BYTES))
        })
        .collect()
}

#[test]
fn the_job_starts_on_the_cached_room_and_waits_for_the_head_at_its_end() {
    for newest_first in [false, true] {
        let mut b = Bench::new(0.0);
        b.newest_first = newest_first;
        // Cached: hwtail 8, hwcur 9 (no room); the host released every
        // slot (head 8 = hwtail): the head re-read adds 15.
        b.rx[entry(1, 0) as usize].hwtail = 8;
        b.rx[entry(1, 0) as usize].hwcur = 9;
        b.set_rx_head(8);
        assert!(b.open().ok);
        for i in 0..N {
            b.put_plain(i, true);
        }
        // The run waits for the head's answer at the cached room's end,
        // then moves 12 slots into RX slots 8..15 and 0..3.
        let answer = b.run(0, 12);
        assert_eq!(
            (answer.next, answer.counts),
            (12, run_moved(12)),
            "newest first {newest_first}"
        );
        for i in 0..12 {
            b.check_moved(i, (8 + i) % N, 0, true);
        }
        assert_eq!(b.rx[entry(1, 0) as usize].hwcur, 8);
        let answer = b.close(12);
        assert_eq!((answer.pub_tail, answer.span), (15, 3));
    }
    // A frame that needs more than the cached room waits for the head's
    // answer: it moves if the head made room, else waits for the receiver.
    for (head, waits) in [(8, false), (9, true)] {
        let mut b = Bench::new(0.0);
        b.rx[entry(1, 0) as usize].hwtail = 8;
        b.rx[entry(1, 0) as usize].hwcur = 9;
        b.set_rx_head(head);
        assert!(b.open().ok);
        let answer = b.frame(0, 3, true);
        assert_eq!(answer.wait, waits, "head {head}");
        if !waits {
            assert_eq!(answer.counts, moved(3));
            for k in 0..3 {
                b.check_moved(k, 8 + k, k, k == 2);
            }
        }
        let answer = b.close(if waits { 0 } else { 3 });
        let room = if waits { 0 } else { 12 };
        assert_eq!(answer.span, room, "head {head}");
    }
}

#[test]
fn the_window_feeds_the_frame_path_and_is_kept_for_the_next_job() {
    for stall in [0.0, 0.5] {
        let mut b = Bench::new(stall);
        // Cached: hwcur 0, hwtail 0 (15 slots free); the host's head is 0.
        b.set_rx_head(0);
        assert!(b.open().ok);
        // One-slot packets move with the buffers the window read (all 15
        // free slots in one read).
        for i in 0..4 {
            let answer = b.frame(i, 1, true);
            assert_eq!(answer.counts, moved(1), "stall {stall}");
            b.check_moved(i, i, 0, true);
        }
        // (No head re-read: the cached head is the hwtail, every slot
        // is released.)
        assert_eq!(window_reads(&b, 0), vec![(0, 15)]);
        assert_eq!(b.host.reads.len(), 1, "stall {stall}");
        b.close(4);
        // The next job of the same ring starts on the slots read before:
        // no read of slots 4..14 again; the host released 0..3 meanwhile,
        // which the window reads once the head's answer adds them.
        let before = b.host.reads.len();
        b.set_rx_head(4);
        assert!(b.open().ok);
        for i in 4..N {
            b.put_plain(i, true);
        }
        let answer = b.run(4, 15);
        assert_eq!((answer.next, answer.counts), (15, run_moved(11)));
        for i in 4..15 {
            b.check_moved(i, i, 0, true);
        }
        let answer = b.close(15);
        assert_eq!((answer.pub_tail, answer.span), (3, 4));
        let reads = window_reads(&b, before);
        assert!(
            reads.iter().all(|&(slot, n)| slot + n <= 4 || slot >= 15),
            "stall {stall}: {reads:?}"
        );
        // A disabled receiver's rings start over, and so does the window.
        b.p.set_port_enable(0x1);
        assert!(!b.open().ok);
        b.p.set_port_enable(0x3);
        b.rx[entry(1, 0) as usize] = RxState::default();
        b.set_rx_head(0);
        for j in 0..N {
            b.host.put_u32(Bench::rx_slot(j), 40 + j);
        }
        let before = b.host.reads.len();
        assert!(b.open().ok);
        let answer = b.frame(0, 1, true);
        assert_eq!(answer.counts, moved(1));
        b.check_moved(0, 0, 0, true);
        assert_eq!(window_reads(&b, before)[0], (0, 15), "stall {stall}");
        b.close(1);
    }
}

#[test]
fn a_run_moves_lines_of_one_slot_packets_and_stops_where_the_frame_path_takes_over() {
    for stall in [0.0, 0.5] {
        let mut b = Bench::new(stall);
        // 15 free RX slots, all read by the window.
        b.set_rx_head(0);
        assert!(b.open().ok);
        for i in 0..N {
            b.put_plain(i, true);
        }
        // A chain at 6..7: slots 1..5 move (from the middle of a line),
        // into RX slots 0..4.
        b.bar2
            .set_slot(SRC_BASE, 6, slot_word(8, 60, NS_MOREFRAG as u16));
        let answer = b.run(1, 12);
        assert_eq!(
            (answer.next, answer.counts),
            (6, run_moved(5)),
            "stall {stall}"
        );
        let moves: Vec<(u32, u32)> = (1..6).zip(0..5).collect();
        for &(i, j) in &moves {
            b.check_moved(i, j, 0, true);
        }
        assert_eq!(b.rx[entry(1, 0) as usize].hwtail, 5);
        // The frame path moves the chain; a run stops at a bad slot.
        assert!(!b.frame(6, 2, true).wait);
        b.put_plain(9, false);
        let answer = b.run(8, 12);
        assert_eq!((answer.next, answer.counts), (9, run_moved(1)));
        assert_eq!(
            b.frame(9, 1, false).counts,
            vec![(0, CNT_TX_DROP_BAD_SLOT, 1)]
        );
        // Up to head, across the TX ring's end (RX slots 8..13).
        let answer = b.run(10, 0);
        assert_eq!((answer.next, answer.counts), (0, run_moved(6)));
        let moves: Vec<(u32, u32)> = [(8, 7)].into_iter().chain((10..16).zip(8..14)).collect();
        for &(i, j) in &moves {
            b.check_moved(i, j, 0, true);
            b.check_host_copy(i, j);
        }
        // One free slot left: one moves, then the run stops for room.
        for i in 0..4 {
            b.put_plain(i, true);
        }
        let answer = b.run(0, 4);
        assert_eq!((answer.next, answer.counts), (1, run_moved(1)));
        b.check_moved(0, 14, 0, true);
        assert!(b.frame(1, 1, true).wait, "the ring is full");
        let answer = b.close(1);
        assert!(answer.dirty);
        assert_eq!((answer.pub_tail, answer.span), (1, 0));
        // The run's line writes left the ptr words 0 (a stale one was there).
        assert_eq!(b.bar2.words[Bar2::slot_index(SRC_BASE, 12) + 1], 0);
    }
}
