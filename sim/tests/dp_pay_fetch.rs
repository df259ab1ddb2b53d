//! Testbench of `dp_pay_fetch` (built with an eight-entry window, six
//! tags and a packet buffer of 64 beats, so the tag limit, the buffer's
//! room and its wrap are reached by short rings):
//! random TX rings in BAR2 (chains, bad buffer indexes, runts, payloads
//! over the entry), a host that answers reads after a random delay and
//! interleaves the beats of different tags, a BAR2 port the stages keep
//! busy in a random part of the cycles, and a consumer that walks the
//! frames in order, sometimes waiting for the packet buffer and sometimes
//! passing a frame at once (as the stages do when they read it
//! themselves). Checked: only the first slot of a frame worth reading is
//! read, within the window, with a tag not in flight; every entry the
//! stage announces holds exactly that slot's payload (bytes past the
//! length zero) and its first 12 bytes on the header port once the first
//! beat is in; nothing is left in flight after the job.
#![forbid(unsafe_code)]

mod stage_bench;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::models::PayFetchPorts;
use stage_bench::{slot_word, Bar2};
use vale_offload::regmap::contract::{BUF_FIRST_VALID, ETH_HEADER_LEN, NS_MOREFRAG};

/// Entries (the window), tags and packet buffer beats of the model
/// (`sim/build.rs`), and its first tag.
const NE: u32 = 8;
const NT: usize = 6;
const TAG_BASE: u8 = 32;
const NB: u32 = 64;
const ENTRY_BYTES: u32 = 2048;
const POOL: u64 = 0x4000;
const BASE: u32 = 0x400;

struct Read {
    tag: u8,
    addr: u64,
    len: u32,
    sent: u32,
    due: u64,
}

struct Bench {
    p: PayFetchPorts,
    bar2: Bar2,
    mem: Vec<u8>,
    rng: StdRng,
    now: u64,
    reads: Vec<Read>,
    /// Reads the stage issued: (addr, len).
    issued: Vec<(u64, u32)>,
    /// The read ahead may use BAR2 in this fraction of the cycles.
    grant: f64,
    max_delay: u64,
    /// Most reads in flight at once.
    max_in_flight: usize,
}

/// The ring under test and what the consumer knows of it.
struct Job {
    n: u32,
    ci: u32,
    head: u32,
    buf_size: u32,
    num_bufs: u32,
}

impl Job {
    fn dist(&self, a: u32, b: u32) -> u32 {
        (a + self.n - b) % self.n
    }
}

impl Bench {
    fn new(seed: u64) -> Self {
        let mut p = PayFetchPorts::new(sim::vcd_path_from_env().as_deref());
        p.set_rst(1);
        let mut bench = Bench {
            p,
            bar2: Bar2::default(),
            mem: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            reads: Vec::new(),
            issued: Vec::new(),
            grant: 1.0,
            max_delay: 1,
            max_in_flight: 0,
        };
        bench.p.set_port_enable(0xf);
        bench.p.eval();
        bench.tick_raw();
        bench.tick_raw();
        bench.p.set_rst(0);
        bench
    }

    fn tick_raw(&mut self) {
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        self.p.eval();
    }

    /// One clock: the host offers one due beat (of a random due read),
    /// BAR2 answers a granted read in the next cycle (else the stages'
    /// reads leave other data there): a line, four slots.
    fn tick(&mut self, job: &Job, cons: u32) {
        self.p.set_cons(u64::from(cons));
        let granted = self.rng.gen_bool(self.grant);
        self.p.set_line_grant(u64::from(granted));
        let due: Vec<usize> = (0..self.reads.len())
            .filter(|&i| self.reads[i].due <= self.now)
            .collect();
        let beat = (!due.is_empty()).then(|| due[self.rng.gen_range(0..due.len())]);
        match beat {
            Some(i) => {
                let r = &self.reads[i];
                let mut data = [0u32; 16];
                for (w, word) in data.iter_mut().enumerate() {
                    for b in 0..4 {
                        let off = r.sent * 64 + (w * 4 + b) as u32;
                        if off < r.len {
                            *word |=
                                u32::from(self.mem[(r.addr + u64::from(off)) as usize]) << (8 * b);
                        }
                    }
                }
                self.p.set_rsp_valid(1);
                self.p.set_rsp_data(&data);
                self.p.set_rsp_tag(u64::from(r.tag));
                self.p.set_rsp_last(u64::from((r.sent + 1) * 64 >= r.len));
            }
            None => self.p.set_rsp_valid(0),
        }
        self.p.set_rd_req_ready(u64::from(self.rng.gen_bool(0.8)));
        self.p.eval();

        let desc = (self.p.line_want() != 0 && granted).then(|| self.p.line_row() as usize);
        if self.p.rd_req_valid() != 0 && self.p.rd_req_ready() != 0 {
            let (addr, len, tag) = (
                self.p.rd_req_addr(),
                self.p.rd_req_len() as u32,
                self.p.rd_req_tag() as u8,
            );
            assert!(
                (TAG_BASE..TAG_BASE + NT as u8).contains(&tag),
                "tag {tag:#x} not one of the stage's"
            );
            assert!(
                self.reads.iter().all(|r| r.tag != tag),
                "tag {tag:#x} reused while in flight"
            );
            assert!(self.reads.len() < NT);
            self.check_read(job, cons, addr, len);
            let delay = self.rng.gen_range(1..=self.max_delay);
            self.reads.push(Read {
                tag,
                addr,
                len,
                sent: 0,
                due: self.now + delay,
            });
            self.issued.push((addr, len));
            let beats: u32 = self.reads.iter().map(|r| r.len.div_ceil(64)).sum();
            assert!(beats <= NB, "{beats} beats in flight: more than the buffer");
            self.max_in_flight = self.max_in_flight.max(self.reads.len());
        }
        self.tick_raw();
        if let Some(i) = beat {
            self.reads[i].sent += 1;
            if self.reads[i].sent * 64 >= self.reads[i].len {
                self.reads.remove(i);
            }
        }
        let line = match desc {
            Some(row) => self.bar2.line(row),
            None => self.rng.gen(),
        };
        self.p.set_line_rdata(&line);
        self.p.eval();
        self.now += 1;
    }

    /// A read must be the first slot of a frame worth reading, at or
    /// after the consumer and within NE positions of it.
    fn check_read(&self, job: &Job, cons: u32, addr: u64, len: u32) {
        let found = frames(&self.bar2, job).into_iter().any(|(s, fetch)| {
            let word = self.bar2.slot(BASE, s);
            fetch
                && job.dist(s, job.ci) >= job.dist(cons, job.ci)
                && job.dist(s, cons) < NE
                && addr == POOL + (word & 0xffff_ffff) * u64::from(job.buf_size)
                && u64::from(len) == word >> 32 & 0xffff
        });
        assert!(
            found,
            "read {addr:#x}+{len} is no frame in the window at {cons}"
        );
    }
}

/// Frame starts from hwcur to head, and whether each is worth reading
/// ahead (valid buffer, a header's length, within the buffer and entry).
fn frames(bar2: &Bar2, job: &Job) -> Vec<(u32, bool)> {
    let mut out = Vec::new();
    let mut at_start = true;
    let mut s = job.ci;
    while s != job.head {
        let word = bar2.slot(BASE, s);
        let (buf, len, flags) = (word & 0xffff_ffff, (word >> 32 & 0xffff) as u32, word >> 48);
        if at_start {
            let ok = buf >= u64::from(BUF_FIRST_VALID)
                && buf < u64::from(job.num_bufs)
                && (ETH_HEADER_LEN..=ENTRY_BYTES.min(job.buf_size)).contains(&len);
            out.push((s, ok));
        }
        at_start = flags & u64::from(NS_MOREFRAG) == 0;
        s = (s + 1) % job.n;
    }
    out
}

fn run_job(b: &mut Bench, job: &Job) {
    start_job(b, job);
    consume(b, job, job.head);
    finish(b, job);
}

fn start_job(b: &mut Bench, job: &Job) {
    b.p.set_start(1);
    b.p.set_start_port(1);
    b.p.set_start_ring(1);
    b.p.set_start_base(u64::from(BASE));
    b.p.set_start_n(u64::from(job.n));
    b.p.set_start_ci(u64::from(job.ci));
    b.p.set_start_head(u64::from(job.head));
    b.p.set_start_pool(POOL);
    b.p.set_start_buf_size(u64::from(job.buf_size));
    b.p.set_start_num_bufs(u64::from(job.num_bufs));
    b.tick(job, job.ci);
    b.p.set_start(0);
}

/// The stages walk the frames of `job` up to `end`, checking what the
/// stage read ahead.
fn consume(b: &mut Bench, job: &Job, end: u32) {
    for (s, fetch) in frames(&b.bar2, job) {
        if job.dist(s, job.ci) >= job.dist(end, job.ci) {
            break;
        }
        b.p.set_look_slot(u64::from(s));
        b.p.set_dlv_slot(u64::from(s));
        b.p.eval();
        let wait = fetch && b.rng.gen_bool(0.8);
        if wait {
            let mut cycles = 0;
            while !(b.p.dlv_alloc() != 0 && b.p.dlv_done() != 0) {
                b.tick(job, s);
                cycles += 1;
                assert!(cycles < 5000, "slot {s} never read ahead");
            }
            // Every beat of the entry: the slot's payload, zeros past it.
            let word = b.bar2.slot(BASE, s);
            let (buf, len) = (word & 0xffff_ffff, (word >> 32 & 0xffff) as u32);
            let addr = (POOL + buf * u64::from(job.buf_size)) as usize;
            assert!(b.p.look_alloc() != 0 && b.p.look_b0() != 0);
            // (A frame worth reading has at least a header's 14 bytes.)
            for (w, word) in b.p.look_hdr().iter().enumerate() {
                let at = addr + 4 * w;
                let want = u32::from_le_bytes(b.mem[at..at + 4].try_into().unwrap());
                assert_eq!(*word, want, "slot {s} header word {w}");
            }
            for beat in 0..len.div_ceil(64) {
                b.p.set_rd_beat(u64::from(beat));
                b.tick(job, s);
                let got = b.p.rd_data();
                for (w, word) in got.iter().enumerate() {
                    let mut want = 0u32;
                    for byte in 0..4 {
                        let off = beat * 64 + (w * 4 + byte) as u32;
                        if off < len {
                            want |= u32::from(b.mem[addr + off as usize]) << (8 * byte);
                        }
                    }
                    assert_eq!(*word, want, "slot {s} beat {beat} word {w}");
                }
            }
            b.p.set_rd_beat(0);
        } else {
            for _ in 0..b.rng.gen_range(0..4) {
                b.tick(job, s);
                assert!(
                    fetch || b.p.look_alloc() == 0,
                    "slot {s} is not worth reading ahead"
                );
            }
        }
    }
}

/// The stages reach head; the job publishes; the reads drain.
fn finish(b: &mut Bench, job: &Job) {
    b.tick(job, job.head);
    b.p.set_stop(1);
    b.tick(job, job.head);
    b.p.set_stop(0);
    let mut cycles = 0;
    while b.p.busy() != 0 {
        b.tick(job, job.head);
        cycles += 1;
        assert!(cycles < 5000, "reads never drained");
    }
    assert!(b.reads.is_empty());
}

/// A random ring: chains of 1-3 slots, runts, bad buffers, frames over
/// the entry; hwcur anywhere, head up to a whole ring ahead.
fn random_job(b: &mut Bench) -> Job {
    let rng = &mut b.rng;
    let n = rng.gen_range(2..48u32);
    let buf_size = [256u32, 2048, 4096][rng.gen_range(0..3)];
    let num_bufs = 24u32;
    let ci = rng.gen_range(0..n);
    let head = (ci + rng.gen_range(0..n)) % n;
    let mut chain_left = 0;
    for s in 0..n {
        let buf = match rng.gen_range(0..20) {
            0 => rng.gen_range(0..BUF_FIRST_VALID),
            1 => num_bufs + rng.gen_range(0..4),
            _ => rng.gen_range(BUF_FIRST_VALID..num_bufs),
        };
        let len = match rng.gen_range(0..10) {
            0 => rng.gen_range(0..14),
            1 => buf_size + 1,
            2..=5 => rng.gen_range(14..=64),
            _ => rng.gen_range(14..=buf_size),
        } as u16;
        if chain_left == 0 && rng.gen_bool(0.2) {
            chain_left = rng.gen_range(1..3);
        }
        let flags = if chain_left > 0 {
            chain_left -= 1;
            NS_MOREFRAG as u16
        } else {
            0
        };
        b.bar2.set_slot(BASE, s, slot_word(buf, len, flags));
    }
    let size = POOL as usize + num_bufs as usize * buf_size as usize + 4096;
    b.mem = (0..size).map(|_| b.rng.gen()).collect();
    Job {
        n,
        ci,
        head,
        buf_size,
        num_bufs,
    }
}

#[test]
fn reads_ahead_in_window_and_fills_entries() {
    let mut b = Bench::new(1);
    for trial in 0..150 {
        b.grant = [1.0, 0.5, 0.1][trial % 3];
        b.max_delay = [1, 40, 200][trial / 3 % 3];
        let job = random_job(&mut b);
        run_job(&mut b, &job);
    }
    assert!(b.issued.len() > 300, "only {} reads ahead", b.issued.len());
}

#[test]
fn a_long_round_trip_keeps_the_window_in_flight() {
    // 40 one-slot frames, every one worth reading; the consumer waits for
    // each: with a 300-cycle round trip the stage must have the whole
    // window in flight at once.
    let mut b = Bench::new(2);
    b.max_delay = 300;
    let n = 40;
    for s in 0..n {
        b.bar2.set_slot(BASE, s, slot_word(2 + s % 20, 60, 0));
    }
    b.mem = vec![0x5a; POOL as usize + 24 * 2048];
    let job = Job {
        n,
        ci: 0,
        head: n - 1,
        buf_size: 2048,
        num_bufs: 24,
    };
    run_job(&mut b, &job);
    assert_eq!(b.max_in_flight, NT, "the tags were not in flight at once");
    // Each of the 39 frames once at most: a request still queued when the
    // consumer skipped its frame (it does for a fifth of them) is dropped.
    assert!(
        b.issued.len() <= 39 && b.issued.len() >= 30,
        "{} reads",
        b.issued.len()
    );
}

/// A TX doorbell of port 1 ring 1 (the bench's jobs' ring) this cycle.
fn doorbell(b: &mut Bench, job: &Job, cons: u32, head: u32) {
    b.p.set_db_valid(1);
    b.p.set_db_port(1);
    b.p.set_db_ring(1);
    b.p.set_db_head(u64::from(head));
    b.tick(job, cons);
    b.p.set_db_valid(0);
}

fn one_slot_ring(b: &mut Bench, n: u32, seed: u8) {
    for s in 0..n {
        b.bar2
            .set_slot(BASE, s, slot_word(2 + s % 20, 60 + seed as u16, 0));
    }
    b.mem = (0..POOL as usize + 24 * 2048)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect();
}

#[test]
fn the_read_ahead_goes_on_across_jobs_of_a_ring() {
    // Job 1 takes 0..20; a doorbell (head 40) comes while it runs; after
    // its end the stage reads the next window (slots 20..27) ahead, and
    // job 2 (20..40) finds them in the packet buffer at its start.
    let mut b = Bench::new(3);
    b.max_delay = 30;
    let n = 64;
    one_slot_ring(&mut b, n, 3);
    let view = |ci, head| Job {
        n,
        ci,
        head,
        buf_size: 2048,
        num_bufs: 24,
    };
    let job1 = view(0, 20);
    start_job(&mut b, &job1);
    // (the checks of the reads see the ring up to the newest head)
    doorbell(&mut b, &view(0, 40), 0, 40);
    consume(&mut b, &view(0, 40), 20);
    b.tick(&view(0, 40), 20);
    b.p.set_stop(1);
    b.tick(&view(0, 40), 20);
    b.p.set_stop(0);
    for _ in 0..200 {
        b.tick(&view(20, 40), 20);
    }
    let job2 = view(20, 40);
    start_job(&mut b, &job2);
    for s in 20..20 + NE {
        b.p.set_dlv_slot(u64::from(s));
        b.p.eval();
        assert!(
            b.p.dlv_alloc() != 0 && b.p.dlv_done() != 0,
            "slot {s} not kept for the next job"
        );
    }
    // (consume checks every entry's bytes)
    let issued = b.issued.len();
    consume(&mut b, &job2, 40);
    finish(&mut b, &job2);
    assert!(b.issued.len() - issued <= 20 - NE as usize);
    let _ = job1;
}

#[test]
fn a_refused_head_or_another_ring_starts_over() {
    // As above, but the host rings a head outside the ring after job 1
    // and, taking its ring back, rewrites slots and buffers: job 2 must
    // see the new payloads, not what was read ahead. Then the same with
    // job 2 on another ring and with the port disabled in between.
    for case in 0..3 {
        let mut b = Bench::new(4 + case);
        b.max_delay = 30;
        let n = 64;
        one_slot_ring(&mut b, n, 3);
        let view = |ci, head| Job {
            n,
            ci,
            head,
            buf_size: 2048,
            num_bufs: 24,
        };
        start_job(&mut b, &view(0, 20));
        doorbell(&mut b, &view(0, 40), 0, 40);
        consume(&mut b, &view(0, 40), 20);
        b.tick(&view(0, 40), 20);
        b.p.set_stop(1);
        b.tick(&view(0, 40), 20);
        b.p.set_stop(0);
        for _ in 0..100 {
            b.tick(&view(20, 40), 20);
        }
        match case {
            0 => doorbell(&mut b, &view(20, 40), 20, n + 3),
            1 => {
                b.p.set_port_enable(0xd);
                b.tick(&view(20, 40), 20);
                b.p.set_port_enable(0xf);
            }
            _ => {}
        }
        for _ in 0..100 {
            b.tick(&view(20, 40), 20);
        }
        assert!(b.reads.is_empty());
        one_slot_ring(&mut b, n, 7);
        if case == 2 {
            b.p.set_start_ring(0);
            b.p.set_start(1);
            b.p.set_start_base(u64::from(BASE));
            b.p.set_start_n(u64::from(n));
            b.p.set_start_ci(20);
            b.p.set_start_head(40);
            b.p.set_start_pool(POOL);
            b.p.set_start_buf_size(2048);
            b.p.set_start_num_bufs(24);
            b.tick(&view(20, 40), 20);
            b.p.set_start(0);
            consume(&mut b, &view(20, 40), 40);
            finish(&mut b, &view(20, 40));
        } else {
            run_job(&mut b, &view(20, 40));
        }
    }
}

#[test]
fn large_frames_share_the_packet_buffer_by_their_beats() {
    // 1514-byte frames take 24 beats each: the 64-beat buffer holds two
    // at once (its allocations wrap around it), so the window is held to
    // what fits; 60-byte frames take one beat each, so the tags are the
    // limit. Every entry holds its frame's bytes (consume checks them).
    let mut b = Bench::new(6);
    b.max_delay = 100;
    let n = 40;
    for s in 0..n {
        let len = if s % 3 == 0 { 60 } else { 1514 };
        b.bar2.set_slot(BASE, s, slot_word(2 + s % 20, len, 0));
    }
    b.mem = (0..POOL as usize + 24 * 2048)
        .map(|i| (i * 7) as u8)
        .collect();
    let job = Job {
        n,
        ci: 0,
        head: n - 1,
        buf_size: 2048,
        num_bufs: 24,
    };
    run_job(&mut b, &job);
    assert!(b.issued.len() >= 30, "{} reads", b.issued.len());
    assert!(b.max_in_flight >= 2);
}
