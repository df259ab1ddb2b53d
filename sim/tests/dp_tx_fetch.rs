//! Testbench of `dp_tx_fetch` against a reference scan: random TX rings
//! in BAR2 (chains, bad buffer indexes, lengths over the buffer size),
//! random hwcur and head; plus the chain that can never be forwarded;
//! the slots read a line at a time (rings at any 8-byte alignment, the
//! port granted in a random part of the cycles) and a stream of one-slot
//! frames answered one per cycle.
#![forbid(unsafe_code)]

mod stage_bench;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::models::TxFetchPorts;
use stage_bench::{slot_word, Bar2};
use vale_offload::regmap::contract::{MAX_FRAGS, NS_MOREFRAG};

const FETCH_FRAME: u64 = 0;
const FETCH_END: u64 = 1;
const FETCH_WAIT: u64 = 2;
const FETCH_DROP: u64 = 3;

#[derive(Debug, PartialEq, Eq)]
struct Answer {
    kind: u64,
    next: u64,
    start: u64,
    slots: u64,
    bytes: u64,
    ok: bool,
    first: (u64, u64, u64),
}

struct Ring {
    base: u32,
    n: u32,
    num_bufs: u32,
    buf_size: u32,
}

/// The frame at `ci`, as the software engine scans it.
fn reference(bar2: &Bar2, ring: &Ring, ci: u32, head: u32, pipe: bool) -> Answer {
    let mut answer = Answer {
        kind: FETCH_END,
        next: u64::from(ci),
        start: u64::from(ci),
        slots: 0,
        bytes: 0,
        ok: true,
        first: (0, 0, 0),
    };
    if ci == head {
        return answer;
    }
    let mut i = ci;
    loop {
        let word = bar2.slot(ring.base, i);
        let (buf, len, flags) = (word & 0xffff_ffff, word >> 32 & 0xffff, word >> 48);
        if answer.slots == 0 {
            answer.first = (buf, len, flags);
        }
        answer.slots += 1;
        answer.bytes += len;
        answer.ok &= buf >= 2 && buf < u64::from(ring.num_bufs) && len <= u64::from(ring.buf_size);
        let next = (i + 1) % ring.n;
        answer.next = u64::from(next);
        if flags & u64::from(NS_MOREFRAG) == 0 {
            answer.kind = FETCH_FRAME;
            return answer;
        }
        if next == head {
            if !pipe && answer.slots > u64::from(MAX_FRAGS) {
                answer.kind = FETCH_DROP;
            } else {
                answer.kind = FETCH_WAIT;
                answer.next = u64::from(ci);
            }
            return answer;
        }
        i = next;
    }
}

struct Bench {
    p: TxFetchPorts,
    bar2: Bar2,
    rng: StdRng,
    /// The line port is granted in this fraction of the cycles.
    grant: f64,
    /// Line reads done.
    lines: u64,
    /// The job's stop slot (`req_stop`) of the next requests.
    stop: u32,
}

/// Whether the frame `a` holds slot `stop` (`rsp_stop`).
fn holds(a: &Answer, n: u32, stop: u32) -> bool {
    (0..a.slots).any(|k| (a.start + k) % u64::from(n) == u64::from(stop))
}

impl Bench {
    fn new() -> Self {
        let mut p = TxFetchPorts::new(sim::vcd_path_from_env().as_deref());
        p.set_rst(1);
        let mut bench = Bench {
            p,
            bar2: Bar2::default(),
            rng: StdRng::seed_from_u64(9),
            grant: 1.0,
            lines: 0,
            stop: 0xffff,
        };
        bench.tick(); // (the first evaluation settles the model: no edge)
        bench.tick();
        bench.p.set_rst(0);
        bench
    }

    /// One clock, BAR2 answering the line read of this cycle in the next
    /// (else other stages' reads leave other data on the port).
    fn tick(&mut self) {
        let granted = self.rng.gen_bool(self.grant);
        self.p.set_line_grant(u64::from(granted));
        self.p.eval();
        let read = (self.p.line_want() != 0 && granted).then(|| self.p.line_row() as usize);
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        let line = match read {
            Some(row) => {
                self.lines += 1;
                self.bar2.line(row)
            }
            None => self.rng.gen(),
        };
        self.p.set_line_rdata(&line);
        self.p.eval();
    }

    fn set_req(&mut self, ring: &Ring, ci: u32, head: u32, pipe: bool, fresh: bool) {
        self.p.set_req_valid(1);
        self.p.set_req_base(u64::from(ring.base));
        self.p.set_req_n(u64::from(ring.n));
        self.p.set_req_ci(u64::from(ci));
        self.p.set_req_head(u64::from(head));
        self.p.set_req_pipe(u64::from(pipe));
        self.p.set_req_fresh(u64::from(fresh));
        self.p.set_req_stop(u64::from(self.stop));
        self.p.set_req_num_bufs(u64::from(ring.num_bufs));
        self.p.set_req_buf_size(u64::from(ring.buf_size));
    }

    fn answer(&self) -> Answer {
        let p = &self.p;
        Answer {
            kind: p.rsp_kind(),
            next: p.rsp_next(),
            start: p.rsp_start(),
            slots: p.rsp_slots(),
            bytes: p.rsp_bytes(),
            ok: p.rsp_ok() != 0,
            first: if p.rsp_slots() == 0 {
                (0, 0, 0)
            } else {
                (p.rsp_first_buf(), p.rsp_first_len(), p.rsp_first_flags())
            },
        }
    }

    fn fetch(&mut self, ring: &Ring, ci: u32, head: u32, pipe: bool) -> Answer {
        self.fetch_from(ring, ci, head, pipe, true)
    }

    fn fetch_from(&mut self, ring: &Ring, ci: u32, head: u32, pipe: bool, fresh: bool) -> Answer {
        assert_eq!(self.p.req_ready(), 1);
        self.set_req(ring, ci, head, pipe, fresh);
        self.tick();
        self.p.set_req_valid(0);
        self.p.set_req_fresh(0);
        for _ in 0..300 {
            if self.p.rsp_valid() != 0 {
                return self.answer();
            }
            self.tick();
        }
        panic!("no answer");
    }
}

#[test]
fn matches_reference_on_random_rings() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut b = Bench::new();
    for round in 0..600 {
        // Rings at any 8-byte alignment, sizes not a multiple of four.
        let ring = Ring {
            base: 0x400 + 8 * rng.gen_range(0..8),
            n: rng.gen_range(3..20),
            num_bufs: 40,
            buf_size: 2048,
        };
        b.grant = [1.0, 0.5, 0.1][round % 3];
        for i in 0..ring.n {
            let buf = if rng.gen_bool(0.9) {
                rng.gen_range(2..40)
            } else {
                rng.gen_range(0..64)
            };
            let len = if rng.gen_bool(0.95) {
                rng.gen_range(0..1600)
            } else {
                3000
            };
            let more = if rng.gen_bool(0.4) {
                NS_MOREFRAG as u16
            } else {
                0
            };
            b.bar2
                .set_slot(ring.base, i, slot_word(buf, len, more | 0x8));
        }
        let ci = rng.gen_range(0..ring.n);
        let head = rng.gen_range(0..ring.n);
        let pipe = rng.gen_bool(0.5);
        b.stop = rng.gen_range(0..ring.n);
        let want = reference(&b.bar2, &ring, ci, head, pipe);
        let got = b.fetch(&ring, ci, head, pipe);
        if want.kind == FETCH_END {
            assert_eq!(got.kind, FETCH_END, "round {round}");
        } else {
            assert_eq!(got, want, "round {round}: ci {ci} head {head} pipe {pipe}");
        }
        if want.kind == FETCH_FRAME {
            let stop = b.p.rsp_stop() != 0;
            assert_eq!(stop, holds(&want, ring.n, b.stop), "round {round}: stop");
        }
    }
}

#[test]
fn an_unfinished_chain_over_max_frags_is_dropped_on_vale_only() {
    let mut b = Bench::new();
    let ring = Ring {
        base: 0x1000,
        n: 100,
        num_bufs: 200,
        buf_size: 2048,
    };
    for i in 0..ring.n {
        b.bar2
            .set_slot(ring.base, i, slot_word(2 + i, 60, NS_MOREFRAG as u16));
    }
    let long = MAX_FRAGS + 1;
    let got = b.fetch(&ring, 10, 10 + long, false);
    assert_eq!(
        (got.kind, got.next, got.slots),
        (FETCH_DROP, u64::from(10 + long), u64::from(long))
    );
    let got = b.fetch(&ring, 10, 10 + long, true);
    assert_eq!((got.kind, got.next), (FETCH_WAIT, 10));
    let got = b.fetch(&ring, 10, 10 + MAX_FRAGS, false);
    assert_eq!((got.kind, got.next), (FETCH_WAIT, 10));
    // One slot without MOREFRAG ends a 70-slot chain: a complete frame
    // (the forwarding stage drops it as too long).
    b.bar2.set_slot(ring.base, 79, slot_word(81, 60, 0));
    let got = b.fetch(&ring, 10, 90, false);
    assert_eq!(
        (got.kind, got.next, got.slots, got.bytes),
        (FETCH_FRAME, 80, 70, 4200)
    );
}

#[test]
fn one_slot_frames_leave_one_per_cycle() {
    // The engine's pattern: the next request in the cycle of an answer,
    // at its rsp_next, with the same head: one-slot frames are answered
    // every cycle once the stream is going; a chain takes a cycle per
    // slot; every answer is the reference's. Rings at every alignment,
    // wrapping around, sizes not a multiple of four.
    let mut rng = StdRng::seed_from_u64(5);
    let mut b = Bench::new();
    for round in 0..60 {
        let ring = Ring {
            base: 0x800 + 8 * (round % 8),
            n: [64, 61, 100][round as usize % 3],
            num_bufs: 40,
            buf_size: 2048,
        };
        let chains = round % 4 == 3;
        for i in 0..ring.n {
            let more = if chains && rng.gen_bool(0.3) {
                NS_MOREFRAG as u16
            } else {
                0
            };
            b.bar2
                .set_slot(ring.base, i, slot_word(rng.gen_range(2..40), 60, more));
        }
        let ci = rng.gen_range(0..ring.n);
        let head = (ci + ring.n - 1 - rng.gen_range(0..4)) % ring.n;
        let frames_at = |b: &Bench| {
            let mut out = Vec::new();
            let mut at = ci;
            while at != head {
                let want = reference(&b.bar2, &ring, at, head, false);
                if want.kind != FETCH_FRAME {
                    break;
                }
                at = want.next as u32;
                out.push(want);
            }
            out
        };
        let want = frames_at(&b);
        let lines_before = b.lines;
        b.stop = rng.gen_range(0..ring.n);
        b.set_req(&ring, ci, head, false, true);
        let mut got = Vec::new();
        let mut cycles = 0;
        while got.len() < want.len() {
            b.tick();
            b.p.set_req_valid(0);
            b.p.set_req_fresh(0);
            cycles += 1;
            assert!(cycles < 1000, "round {round}: stuck");
            if b.p.rsp_valid() != 0 {
                let answer = b.answer();
                let next = answer.next as u32;
                assert_eq!(answer, want[got.len()], "round {round} frame {}", got.len());
                assert_eq!(
                    b.p.rsp_stop() != 0,
                    holds(&answer, ring.n, b.stop),
                    "round {round} frame {}: stop",
                    got.len()
                );
                got.push(answer);
                if got.len() < want.len() {
                    b.set_req(&ring, next, head, false, false);
                }
            }
        }
        let slots: u64 = want.iter().map(|a| a.slots).sum();
        if !chains {
            // Three cycles to the first answer (restart, line read, line
            // in), then one a cycle (a cycle more where a short line, at
            // the ring's end or after an unaligned start, meets a read).
            assert!(
                cycles <= want.len() as u64 + 5,
                "round {round}: {} frames in {cycles} cycles",
                want.len()
            );
        } else {
            assert!(
                cycles <= slots + 3 + want.len() as u64,
                "round {round}: {cycles}"
            );
        }
        // Four slots a line read (at most one more line at each end and
        // at the ring's wrap).
        assert!(
            b.lines - lines_before <= slots / 4 + 4,
            "round {round}: {} lines for {slots} slots",
            b.lines - lines_before
        );
    }
}
