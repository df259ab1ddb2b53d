//! Testbench of `dp_vale_fwd`: the drop checks in the engine's order, the
//! header read and the lookup request, and the destination list for each
//! lookup result (drop, unicast to a port that can or cannot take it,
//! flood with and without other ports). The bench plays the MAC table and
//! the delivery stage.
#![forbid(unsafe_code)]

mod stage_bench;

use sim::models::ValeFwdPorts;
use stage_bench::{beat_of, Host, PortCfg, CFG_WORDS};
use vale_offload::regmap::contract::*;
use vale_offload::regmap::*;

const POOL: u64 = 0x1_0000;
const BUF_SIZE: u32 = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frame {
    slots: u64,
    bytes: u64,
    ok: bool,
    buf: u64,
    len: u64,
    flags: u64,
}

impl Frame {
    fn good(len: u64) -> Self {
        Frame {
            slots: 1,
            bytes: len,
            ok: true,
            buf: 5,
            len,
            flags: 0,
        }
    }
}

/// What the stage did with one frame.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    counts: Vec<(u64, u32, u64)>,        // (port, counter index, amount)
    lookups: Vec<(u64, u64, u64, bool)>, // (dst mac, src mac, src port, learn)
    dsts: Vec<(u64, u64)>,
    reads: Vec<(u64, u32)>,
}

struct Bench {
    p: ValeFwdPorts,
    host: Host,
}

impl Bench {
    /// Ports 0-2 VALE (port 1: one RX ring, port 2: two), port 3 a pipe end.
    fn new(enable: u64) -> Self {
        let mut cfg = PortCfg::default();
        for port in 0..3 {
            let rx_rings = if port == 1 { 1 } else { 2 };
            cfg.port(
                port,
                PORT_KIND_VALE,
                (2, rx_rings),
                (64, 64),
                BUF_SIZE,
                64,
                POOL,
                0,
                0,
                0,
            );
        }
        cfg.port(
            3,
            PORT_KIND_PIPE_MASTER,
            (2, 2),
            (64, 64),
            BUF_SIZE,
            64,
            POOL,
            0,
            0,
            0,
        );
        let mut p = ValeFwdPorts::new(sim::vcd_path_from_env().as_deref());
        let words: [u32; CFG_WORDS] = cfg.words;
        p.set_port_cfg(&words);
        p.set_port_enable(enable);
        p.set_rst(1);
        let mut bench = Bench {
            p,
            host: Host::new(0x4_0000, 3),
        };
        bench.tick(); // (the first evaluation settles the model: no edge)
        bench.tick();
        bench.p.set_rst(0);
        // Buffer 5: dst 02:00:00:00:00:09, src 02:00:00:00:00:01.
        let mut header = vec![2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 1, 8, 0];
        header.resize(100, 0xab);
        let at = POOL as usize + 5 * BUF_SIZE as usize;
        bench.host.mem[at..at + 100].copy_from_slice(&header);
        bench
    }

    fn tick(&mut self) {
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        self.p.eval();
    }

    /// Runs one frame from `src_port` ring `src_ring`; the table answers
    /// `result` 6 cycles after the request, delivery takes 5 cycles per
    /// destination (it is not ready meanwhile). The frame is offered until
    /// the stage takes it (`frm_ready`), a destination is handed over when
    /// `dst_valid` and `dst_ready` meet before an edge.
    fn run(&mut self, frame: Frame, src_port: u64, src_ring: u64, result: u64) -> Outcome {
        let mut out = Outcome::default();
        self.p.set_frm_slots(frame.slots);
        self.p.set_frm_bytes(frame.bytes);
        self.p.set_frm_ok(u64::from(frame.ok));
        self.p.set_frm_first_buf(frame.buf);
        self.p.set_frm_first_len(frame.len);
        self.p.set_frm_first_flags(frame.flags);
        self.p.set_src_port(src_port);
        self.p.set_src_ring(src_ring);
        self.p.set_frm_valid(1);
        let mut lookup_at = None;
        let mut deliver_at = None;
        let reads_before = self.host.reads.len();
        let mut offered = true;
        for cycle in 0..400u64 {
            self.p.set_lk_res_valid(u64::from(lookup_at == Some(cycle)));
            self.p.set_lk_res_port(result);
            let ready = deliver_at.is_none_or(|at| cycle >= at);
            self.p.set_dst_ready(u64::from(ready));
            drive_dma!(self.p, self.host, wr = false, last = false);
            self.p.eval();
            sample_dma!(self.p, self.host, wr = false);
            let taken = offered && self.p.frm_ready() != 0;
            if self.p.dst_valid() != 0 && ready {
                out.dsts.push((self.p.dst_port(), self.p.dst_ring()));
                deliver_at = Some(cycle + 5);
            }
            self.tick();
            if taken {
                offered = false;
                self.p.set_frm_valid(0);
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
            if self.p.lk_valid() != 0 {
                out.lookups.push((
                    self.p.lk_dst_mac(),
                    self.p.lk_src_mac(),
                    self.p.lk_src_port(),
                    self.p.lk_learn() != 0,
                ));
                lookup_at = Some(cycle + 6);
            }
            if self.p.done() != 0 {
                assert_eq!(self.p.busy(), 0);
                out.reads = self.host.reads[reads_before..].to_vec();
                return out;
            }
        }
        panic!("the frame never finished");
    }
}

fn count(port: u64, counter: u32) -> (u64, u32, u64) {
    (port, counter, 1)
}

#[test]
fn bad_frames_are_dropped_in_the_engines_order() {
    let mut b = Bench::new(0xf);
    let too_long = Frame {
        slots: u64::from(MAX_FRAGS) + 1,
        ok: false,
        len: 4,
        ..Frame::good(60)
    };
    let out = b.run(too_long, 1, 0, 0);
    assert_eq!(out.counts, vec![count(1, CNT_TX_DROP_CHAIN)]);
    let bad = Frame {
        ok: false,
        len: 4,
        ..Frame::good(60)
    };
    assert_eq!(
        b.run(bad, 1, 0, 0).counts,
        vec![count(1, CNT_TX_DROP_BAD_SLOT)]
    );
    let short = Frame::good(u64::from(ETH_HEADER_LEN) - 1);
    let out = b.run(short, 2, 0, 0);
    assert_eq!(out.counts, vec![count(2, CNT_TX_DROP_SHORT)]);
    assert!(out.reads.is_empty() && out.lookups.is_empty() && out.dsts.is_empty());
}

#[test]
fn the_header_is_read_and_looked_up() {
    let mut b = Bench::new(0xf);
    let out = b.run(Frame::good(100), 0, 1, 1);
    assert_eq!(out.reads, vec![(POOL + 5 * u64::from(BUF_SIZE), 64)]);
    assert_eq!(
        out.lookups,
        vec![(0x0900_0000_0002, 0x0100_0000_0002, 0, true)]
    );
    assert_eq!(b.p.first_beat()[0], 0x0000_0002);
    let no_learn = Frame {
        flags: u64::from(NS_NO_LEARN),
        ..Frame::good(40)
    };
    let out = b.run(no_learn, 0, 1, 1);
    assert_eq!(out.reads, vec![(POOL + 5 * u64::from(BUF_SIZE), 40)]);
    assert!(!out.lookups[0].3);
    let mut want = vec![2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 1, 8, 0];
    want.resize(64, 0xab);
    assert_eq!(b.p.first_beat(), beat_of(&want));
}

#[test]
fn unicast_goes_to_one_ring_or_nowhere() {
    let mut b = Bench::new(0xf);
    let frame = Frame::good(100);
    let sent = vec![count(0, CNT_TX_PACKETS), (0, CNT_TX_BYTES, 100)];
    // Source ring 1 mod the destination's RX rings.
    let out = b.run(frame, 0, 1, 2);
    assert_eq!((out.counts.clone(), out.dsts), (sent.clone(), vec![(2, 1)]));
    assert_eq!(b.run(frame, 0, 1, 1).dsts, vec![(1, 0)]);
    // The source itself, a pipe end, no such port: counted as sent, no copy.
    for result in [0, 3, 7] {
        let out = b.run(frame, 0, 1, result);
        assert_eq!(
            (out.counts, out.dsts),
            (sent.clone(), vec![]),
            "result {result}"
        );
    }
    // Drop (the destination is the source's own port).
    let out = b.run(frame, 0, 1, u64::from(PORT_DROP));
    assert_eq!(out.counts, vec![count(0, CNT_TX_DROP_SAME_PORT)]);
    // A disabled port takes nothing.
    let mut b = Bench::new(0xb);
    assert!(b.run(frame, 0, 1, 2).dsts.is_empty());
}

#[test]
fn flood_visits_every_other_enabled_vale_port() {
    let mut b = Bench::new(0xf);
    let frame = Frame::good(100);
    let out = b.run(frame, 1, 1, u64::from(PORT_FLOOD));
    assert_eq!(out.dsts, vec![(0, 0), (2, 0)]);
    assert_eq!(
        out.counts,
        vec![count(1, CNT_TX_PACKETS), (1, CNT_TX_BYTES, 100)]
    );
    // Alone on the switch: sent, then dropped for want of a destination.
    let mut b = Bench::new(0x9);
    let out = b.run(frame, 0, 0, u64::from(PORT_FLOOD));
    assert!(out.dsts.is_empty());
    assert_eq!(
        out.counts,
        vec![
            count(0, CNT_TX_PACKETS),
            (0, CNT_TX_BYTES, 100),
            count(0, CNT_TX_DROP_NO_DEST)
        ]
    );
}
