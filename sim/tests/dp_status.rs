//! Testbench of `dp_status`: every dirty RX ring published (lowest entry
//! first, its dirty bit cleared), then the TX ring; each status write
//! followed by the read of head and need_kick; a valid RX head refreshes
//! the cached hwcur, a nonzero need_kick raises the port's line. The
//! bench plays `dp_rx_rings`, under DMA back-pressure. Beats with other
//! tags (the next job's stages read while the answers come back) are
//! left alone, and `issued` rises once everything has left, before the
//! answers are in. Publications overlap: the next is taken once the last
//! has issued, the answers of both come back in any order, and an answer
//! refreshes a cached head only if nothing wrote it since its read left
//! (a newer read-back of the ring, another stage's write).
#![forbid(unsafe_code)]

mod stage_bench;

use std::collections::VecDeque;

use sim::models::StatusPorts;
use stage_bench::{entry, Host, PortCfg, CFG_WORDS, NUM_PORTS, RINGS};
use vale_offload::regmap::*;

const STATUS: u64 = 0x4000;
const BLOCKS: u64 = 0x800;
const N: u32 = 16;

#[derive(Clone, Copy, Default)]
struct RxState {
    hwtail: u16,
    hwcur: u16,
    dirty: bool,
}

/// What crossed the DMA ports, in order.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Write(u64, u32, u32), // address, hwcur, hwtail
    Read(u64),
}

struct Bench {
    p: StatusPorts,
    host: Host,
    rx: Vec<RxState>,
    /// The tag the next read leaves with (the engine's running count),
    /// and the tags of the reads in flight (answered in order here).
    next_tag: u64,
    tags: VecDeque<u64>,
}

fn status_entry(port: usize, ring: u32, rx: bool) -> u64 {
    let index = if rx { ST_RX_FIRST + ring } else { ring };
    STATUS + port as u64 * BLOCKS + u64::from(index * ST_SIZE)
}

impl Bench {
    fn new(stall: f64) -> Self {
        let mut cfg = PortCfg::default();
        for port in 0..NUM_PORTS {
            let status = STATUS + port as u64 * BLOCKS;
            cfg.port(
                port,
                PORT_KIND_VALE,
                (2, 2),
                (N, N),
                2048,
                64,
                0,
                0,
                status,
                0,
            );
        }
        let mut p = StatusPorts::new(sim::vcd_path_from_env().as_deref());
        let words: [u32; CFG_WORDS] = cfg.words;
        p.set_port_cfg(&words);
        p.set_port_enable((1 << NUM_PORTS) - 1);
        p.set_rst(1);
        let mut host = Host::new(0x8000, 6);
        host.stall = stall;
        let mut bench = Bench {
            p,
            host,
            rx: vec![RxState::default(); NUM_PORTS * RINGS],
            next_tag: 0,
            tags: VecDeque::new(),
        };
        bench.tick(); // (the first evaluation settles the model: no edge)
        bench.tick();
        bench.p.set_rst(0);
        bench
    }

    fn tick(&mut self) {
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        self.p.eval();
    }

    /// Publishes TX ring (port, ring) at hwcur/hwtail; returns the DMA
    /// events and the notification lines raised.
    fn publish(&mut self, port: u64, ring: u64, hwcur: u64, hwtail: u64) -> (Vec<Event>, Vec<u64>) {
        self.p.set_tx_port(port);
        self.p.set_tx_ring(ring);
        self.p.set_tx_hwcur(hwcur);
        self.p.set_tx_hwtail(hwtail);
        self.p.set_req_valid(1);
        let (mut events, mut notified) = (Vec::new(), Vec::new());
        let mut issued = false;
        for _ in 0..2000 {
            // A beat of another stage's read is not this stage's.
            self.p.set_dma_rd_rsp_valid(1);
            self.p.set_dma_rd_rsp_tag((self.next_tag + 64) % 128);
            self.p.eval();
            assert_eq!(
                (self.p.dma_rd_rsp_ready(), self.p.rsp_own()),
                (0, 0),
                "a foreign beat taken"
            );
            let lowest = self.rx.iter().position(|r| r.dirty);
            self.p.set_dirty_found(u64::from(lowest.is_some()));
            self.p.set_dirty_pick(lowest.unwrap_or(0) as u64);
            self.p.set_dma_rd_req_tag(self.next_tag);
            self.p
                .set_dma_rd_rsp_tag(self.tags.front().copied().unwrap_or(0));
            drive_dma!(self.p, self.host, wr = true, last = false);
            self.p.eval();
            let q = self.p.q_entry() as usize;
            self.p.set_q_hwtail(u64::from(self.rx[q].hwtail));
            self.p.set_q_hwcur(u64::from(self.rx[q].hwcur));
            self.p.eval();
            if self.p.dma_wr_req_valid() != 0 && self.host.wr_ready {
                let data = self.p.dma_wr_req_data();
                assert_eq!(self.p.dma_wr_req_len(), 8);
                events.push(Event::Write(self.p.dma_wr_req_addr(), data[0], data[1]));
            }
            if self.p.issued() != 0 {
                issued = true;
            }
            assert!(
                !(issued && (self.p.dma_rd_req_valid() != 0 || self.p.dma_wr_req_valid() != 0)),
                "a request after `issued`"
            );
            if self.p.dma_rd_req_valid() != 0 && self.host.rd_ready {
                assert_eq!(self.p.dma_rd_req_len(), 8);
                events.push(Event::Read(self.p.dma_rd_req_addr()));
                self.tags.push_back(self.next_tag);
                self.next_tag = (self.next_tag + 1) % 128;
            }
            if self.p.dma_rd_rsp_valid() != 0 && self.p.dma_rd_rsp_ready() != 0 {
                self.tags.pop_front();
            }
            sample_dma!(self.p, self.host, wr = true);
            self.tick();
            self.p.set_req_valid(0);
            // (the engine shows dp_rx_rings' write strobe back to it)
            self.p.set_hc_seen(self.p.hc_we());
            self.p.set_hc_seen_entry(self.p.hc_entry());
            if self.p.dirty_clr() != 0 {
                self.rx[self.p.q_entry() as usize].dirty = false;
            }
            if self.p.hc_we() != 0 {
                self.rx[self.p.hc_entry() as usize].hwcur = self.p.hc_value() as u16;
            }
            for port in 0..NUM_PORTS as u64 {
                if self.p.notify() >> port & 1 != 0 {
                    notified.push(port);
                }
            }
            if self.p.done() != 0 {
                assert!(issued, "done before `issued`");
                assert_eq!(self.p.busy(), 0);
                return (events, notified);
            }
        }
        panic!("publishing never finished");
    }
}

#[test]
fn dirty_rx_rings_then_the_tx_ring() {
    for stall in [0.0, 0.5] {
        let mut b = Bench::new(stall);
        let rx1 = entry(0, 1) as usize;
        let rx4 = entry(2, 0) as usize;
        b.rx[rx1] = RxState {
            hwtail: 9,
            hwcur: 3,
            dirty: true,
        };
        b.rx[rx4] = RxState {
            hwtail: 2,
            hwcur: 14,
            dirty: true,
        };
        // RX ring (0, 1): the host released up to 6; (2, 0): a head outside
        // [hwcur, hwtail] (ignored), and it wants a kick; TX ring (1, 1)
        // wants one too.
        b.host
            .put_u32(status_entry(0, 1, true) + u64::from(ST_HEAD), 6);
        b.host
            .put_u32(status_entry(2, 0, true) + u64::from(ST_HEAD), 5);
        b.host
            .put_u32(status_entry(2, 0, true) + u64::from(ST_NEED_KICK), 1);
        b.host
            .put_u32(status_entry(1, 1, false) + u64::from(ST_NEED_KICK), 1);
        let (events, notified) = b.publish(1, 1, 7, 6);
        let head = |port, ring, rx| status_entry(port, ring, rx) + u64::from(ST_HEAD);
        assert_eq!(
            events,
            vec![
                Event::Write(status_entry(0, 1, true), 3, 9),
                Event::Read(head(0, 1, true)),
                Event::Write(status_entry(2, 0, true), 14, 2),
                Event::Read(head(2, 0, true)),
                Event::Write(status_entry(1, 1, false), 7, 6),
                Event::Read(head(1, 1, false)),
            ],
            "stall {stall}"
        );
        assert_eq!(notified, vec![2, 1]);
        assert_eq!((b.rx[rx1].hwcur, b.rx[rx1].dirty), (6, false));
        assert_eq!((b.rx[rx4].hwcur, b.rx[rx4].dirty), (14, false));
        // Nothing dirty: only the TX ring; need_kick is the host's to clear.
        let (events, notified) = b.publish(3, 0, 1, 0);
        assert_eq!(
            events,
            vec![
                Event::Write(status_entry(3, 0, false), 1, 0),
                Event::Read(head(3, 0, false)),
            ]
        );
        assert!(notified.is_empty());
    }
}

/// A read-back the host accepted: its tag and the beat it read then.
struct Held {
    tag: u64,
    addr: u64,
    data: [u32; 16],
}

/// What a hand-driven run saw: DMA requests, the read-backs not yet
/// answered, this stage's cached-hwcur writes that took effect, the
/// notifications.
#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    held: Vec<Held>,
    hc: Vec<(usize, u16)>,
    notified: Vec<u64>,
}

fn head_addr(port: usize, ring: u32, rx: bool) -> u64 {
    status_entry(port, ring, rx) + u64::from(ST_HEAD)
}

impl Bench {
    /// One cycle driven by hand (no back-pressure): `req` offers a
    /// publication (taken when `req_ready`, as the engine's pub_go),
    /// `answer` answers the held read-back with that tag, `other` is
    /// another stage's write of a cached hwcur (entry, value) this cycle,
    /// which wins over this stage's as in dp_engine. Returns whether the
    /// request was taken.
    fn step(
        &mut self,
        s: &mut Seen,
        req: Option<[u64; 4]>,
        answer: Option<u64>,
        other: Option<(usize, u16)>,
    ) -> bool {
        let take = req.is_some() && self.p.req_ready() != 0;
        if let Some([port, ring, hwcur, hwtail]) = req {
            self.p.set_tx_port(port);
            self.p.set_tx_ring(ring);
            self.p.set_tx_hwcur(hwcur);
            self.p.set_tx_hwtail(hwtail);
        }
        self.p.set_req_valid(u64::from(take));
        let lowest = self.rx.iter().position(|r| r.dirty);
        self.p.set_dirty_found(u64::from(lowest.is_some()));
        self.p.set_dirty_pick(lowest.unwrap_or(0) as u64);
        // This cycle's write strobe into dp_rx_rings, as the engine muxes it.
        let own =
            (self.p.hc_we() != 0).then(|| (self.p.hc_entry() as usize, self.p.hc_value() as u16));
        let strobe = other.or(own);
        self.p.set_hc_seen(u64::from(strobe.is_some()));
        self.p
            .set_hc_seen_entry(strobe.map_or(0, |(e, _)| e as u64));
        let beat = answer.map(|tag| {
            let i = s.held.iter().position(|h| h.tag == tag).expect("held tag");
            s.held.remove(i)
        });
        self.p.set_dma_rd_rsp_valid(u64::from(beat.is_some()));
        self.p
            .set_dma_rd_rsp_tag(beat.as_ref().map_or(0, |h| h.tag));
        self.p
            .set_dma_rd_rsp_data(&beat.as_ref().map_or([0; 16], |h| h.data));
        self.p.set_dma_rd_req_tag(self.next_tag);
        self.p.set_dma_rd_req_ready(1);
        self.p.set_dma_wr_req_ready(1);
        self.p.set_dma_wr_free(1);
        let wr_valid = self.p.dma_wr_req_valid() != 0;
        self.p.set_dma_rd_can(u64::from(!wr_valid));
        self.p.eval();
        let q = self.p.q_entry() as usize;
        self.p.set_q_hwtail(u64::from(self.rx[q].hwtail));
        self.p.set_q_hwcur(u64::from(self.rx[q].hwcur));
        self.p.eval();
        if let Some(h) = &beat {
            assert_eq!(
                (self.p.dma_rd_rsp_ready(), self.p.rsp_own()),
                (1, 1),
                "answer {:#x} not taken",
                h.addr
            );
        }
        if wr_valid {
            let data = self.p.dma_wr_req_data();
            let (addr, len) = (self.p.dma_wr_req_addr(), self.p.dma_wr_req_len() as u32);
            s.events.push(Event::Write(addr, data[0], data[1]));
            self.host.write_request(addr, len, data);
        }
        if self.p.dma_rd_req_valid() != 0 {
            let addr = self.p.dma_rd_req_addr();
            s.events.push(Event::Read(addr));
            let mut data = [0u32; 16];
            data[0] = self.host.u32_at(addr);
            data[1] = self.host.u32_at(addr + 4);
            s.held.push(Held {
                tag: self.next_tag,
                addr,
                data,
            });
            self.next_tag = (self.next_tag + 1) % 128;
        }
        self.tick();
        if self.p.dirty_clr() != 0 {
            self.rx[self.p.q_entry() as usize].dirty = false;
        }
        match (other, own) {
            (Some((e, v)), _) => self.rx[e].hwcur = v,
            (None, Some((e, v))) => {
                self.rx[e].hwcur = v;
                s.hc.push((e, v));
            }
            (None, None) => {}
        }
        for port in 0..NUM_PORTS as u64 {
            if self.p.notify() >> port & 1 != 0 {
                s.notified.push(port);
            }
        }
        take
    }

    /// Offers a publication until it is taken, then runs (no answers)
    /// until it has issued; returns the cycles it waited to be taken.
    fn overlap(&mut self, s: &mut Seen, req: [u64; 4]) -> u32 {
        let mut waited = 0;
        while !self.step(s, Some(req), None, None) {
            waited += 1;
            assert!(waited < 100, "the publication was never taken");
        }
        for _ in 0..100 {
            if self.p.issued() != 0 {
                return waited;
            }
            self.step(s, None, None, None);
        }
        panic!("the publication never issued");
    }

    /// Answers the held read-backs with these tags, one every other
    /// cycle, then runs until the stage is idle.
    fn answer(&mut self, s: &mut Seen, tags: &[u64], other: Option<(usize, u16)>) {
        for &tag in tags {
            self.step(s, None, Some(tag), None);
            self.step(s, None, None, other);
        }
        for _ in 0..20 {
            self.step(s, None, None, None);
        }
        assert!(s.held.is_empty(), "read-backs left unanswered");
        assert_eq!(self.p.busy(), 0, "busy once every answer is in");
    }
}

#[test]
fn overlapping_publications_answered_out_of_order() {
    for newer_first in [true, false] {
        let mut b = Bench::new(0.0);
        let mut s = Seen::default();
        let a = entry(0, 1) as usize;
        b.rx[a] = RxState {
            hwtail: 9,
            hwcur: 3,
            dirty: true,
        };
        b.host.put_u32(head_addr(0, 1, true), 6);
        b.host
            .put_u32(status_entry(1, 1, false) + u64::from(ST_NEED_KICK), 1);
        // The first publication issues; its two answers are held back.
        assert_eq!(b.overlap(&mut s, [1, 1, 7, 6]), 0);
        assert_eq!((b.p.req_ready(), b.p.busy()), (1, 1));
        assert_eq!(s.held.len(), 2);
        // The next job filled three more slots of ring a, the host
        // released up to 8: the next publication is taken at once and
        // its read-backs leave beside the first one's.
        b.rx[a].hwtail = 12;
        b.rx[a].dirty = true;
        b.host.put_u32(head_addr(0, 1, true), 8);
        assert_eq!(b.overlap(&mut s, [1, 1, 9, 8]), 0);
        assert_eq!(
            s.events,
            vec![
                Event::Write(status_entry(0, 1, true), 3, 9),
                Event::Read(head_addr(0, 1, true)),
                Event::Write(status_entry(1, 1, false), 7, 6),
                Event::Read(head_addr(1, 1, false)),
                Event::Write(status_entry(0, 1, true), 3, 12),
                Event::Read(head_addr(0, 1, true)),
                Event::Write(status_entry(1, 1, false), 9, 8),
                Event::Read(head_addr(1, 1, false)),
            ]
        );
        let tags: Vec<u64> = s.held.iter().map(|h| h.tag).collect();
        let (a1, t1, a2, t2) = (tags[0], tags[1], tags[2], tags[3]);
        // The newer head (8) is taken whichever answer comes first; the
        // older read-back of ring a (head 6) is superseded and never
        // writes, even after the newer one's answer.
        let order = if newer_first {
            [a2, t2, a1, t1]
        } else {
            [a1, t1, a2, t2]
        };
        b.answer(&mut s, &order, None);
        assert_eq!(s.hc, vec![(a, 8)], "newer first: {newer_first}");
        assert_eq!((b.rx[a].hwcur, b.rx[a].dirty), (8, false));
        // Both publications of the TX ring read a need_kick.
        assert_eq!(s.notified, vec![1, 1]);
    }
}

#[test]
fn a_stale_answer_leaves_a_newer_cached_head() {
    // Another stage (an RX doorbell: head 7) writes ring a's cached
    // hwcur in the cycle its read-back leaves, or while it is in flight:
    // the read-back's head (6) must not overwrite it. Ring c's answer is
    // not affected.
    for at_leave in [true, false] {
        let mut b = Bench::new(0.0);
        let mut s = Seen::default();
        let a = entry(0, 1) as usize;
        let c = entry(2, 0) as usize;
        b.rx[a] = RxState {
            hwtail: 9,
            hwcur: 3,
            dirty: true,
        };
        b.rx[c] = RxState {
            hwtail: 7,
            hwcur: 1,
            dirty: true,
        };
        b.host.put_u32(head_addr(0, 1, true), 6);
        b.host.put_u32(head_addr(2, 0, true), 4);
        let req = [3, 0, 1, 0];
        while !b.step(&mut s, Some(req), None, None) {}
        let mut wrote = false;
        for _ in 0..100 {
            if b.p.issued() != 0 {
                break;
            }
            // (the read register shows ring a's read-back: it leaves now)
            let leaving =
                b.p.dma_rd_req_valid() != 0 && b.p.dma_rd_req_addr() == head_addr(0, 1, true);
            let other = (!wrote && (leaving == at_leave) && (at_leave || s.held.len() == 1))
                .then_some((a, 7));
            wrote |= other.is_some();
            b.step(&mut s, None, None, other);
        }
        assert!(wrote);
        assert_eq!(s.held.len(), 3);
        let tags: Vec<u64> = s.held.iter().rev().map(|h| h.tag).collect();
        b.answer(&mut s, &tags, None);
        assert_eq!(s.hc, vec![(c, 4)], "at leave: {at_leave}");
        assert_eq!((b.rx[a].hwcur, b.rx[c].hwcur), (7, 4));
    }
}
