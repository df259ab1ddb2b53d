//! Testbench of `dp_status`: every dirty RX ring published (lowest entry
//! first, its dirty bit cleared), then the TX ring; each status write
//! followed by the read of head and need_kick; a valid RX head refreshes
//! the cached hwcur, a nonzero need_kick raises the port's line. The
//! bench plays `dp_rx_rings`, under DMA back-pressure. Beats with other
//! tags (the next job's stages read while the answers come back) are
//! left alone, and `issued` rises once everything has left, before the
//! answers are in.
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
