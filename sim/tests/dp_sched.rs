//! Testbench of `dp_sched` (4 ports, 2 rings): doorbells become jobs, RX
//! doorbells first, TX rings round robin, heads checked against hwcur and
//! the published span, refused doorbells counted, disabled ports dropped.
#![forbid(unsafe_code)]

mod stage_bench;

use sim::models::SchedPorts;
use stage_bench::{entry, PortCfg, CFG_WORDS};
use vale_offload::regmap::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Job {
    rx: bool,
    entry: u64,
    head: u64,
    hwcur: u64,
    n: u64,
}

struct Bench {
    p: SchedPorts,
    bad: Vec<u64>,
}

impl Bench {
    /// Ports 0-3: VALE, 2 TX rings of 8 slots (port 3: one TX ring).
    fn new() -> Self {
        let mut cfg = PortCfg::default();
        for port in 0..4 {
            let tx_rings = if port == 3 { 1 } else { 2 };
            cfg.port(
                port,
                PORT_KIND_VALE,
                (tx_rings, 2),
                (8, 8),
                2048,
                64,
                0,
                0,
                0,
                0,
            );
        }
        let mut p = SchedPorts::new(sim::vcd_path_from_env().as_deref());
        let words: [u32; CFG_WORDS] = cfg.words;
        p.set_port_cfg(&words);
        p.set_port_enable(0xf);
        p.set_rst(1);
        let mut bench = Bench { p, bad: Vec::new() };
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

    fn doorbell(&mut self, rx: bool, port: u64, ring: u64, head: u64) {
        self.p.set_db_valid(1);
        self.p.set_db_rx(u64::from(rx));
        self.p.set_db_port(port);
        self.p.set_db_ring(ring);
        self.p.set_db_head(head);
        self.cycle(false);
        self.p.set_db_valid(0);
    }

    /// One clock; with `take`, the job offered is taken and returned.
    fn cycle(&mut self, take: bool) -> Option<Job> {
        self.p.set_job_ready(u64::from(take));
        self.p.eval();
        let job = (take && self.p.job_valid() != 0).then(|| Job {
            rx: self.p.job_rx() != 0,
            entry: self.p.job_entry(),
            head: self.p.job_head(),
            hwcur: self.p.job_hwcur(),
            n: self.p.job_n(),
        });
        self.tick();
        if self.p.bad_valid() != 0 {
            self.bad.push(self.p.bad_port());
        }
        job
    }

    /// Takes jobs until none is pending (a doorbell is offered two cycles
    /// after it arrived: the pick and the head check are registered).
    fn drain(&mut self) -> Vec<Job> {
        let mut jobs = Vec::new();
        self.cycle(false);
        self.cycle(false);
        for _ in 0..64 {
            if self.p.pending() == 0 {
                break;
            }
            jobs.extend(self.cycle(true));
        }
        jobs
    }

    fn done(&mut self, entry: u64, hwcur: u64, pipe: bool, span: u64) {
        self.p.set_done_valid(1);
        self.p.set_done_entry(entry);
        self.p.set_done_hwcur(hwcur);
        self.p.set_done_pipe(u64::from(pipe));
        self.p.set_done_span(span);
        self.cycle(false);
        self.p.set_done_valid(0);
    }
}

fn entries(jobs: &[Job]) -> Vec<u64> {
    jobs.iter().map(|job| job.entry).collect()
}

#[test]
fn tx_rings_round_robin() {
    let mut b = Bench::new();
    for (port, ring) in [(2, 1), (0, 1), (1, 1)] {
        b.doorbell(false, port, ring, 3);
    }
    let jobs = b.drain();
    assert_eq!(entries(&jobs), vec![1, 3, 5]);
    assert!(jobs
        .iter()
        .all(|j| !j.rx && j.head == 3 && j.hwcur == 0 && j.n == 8));
    // The pointer is past entry 5: entry 0 and 6 pend, 6 goes first.
    b.doorbell(false, 0, 0, 2);
    b.doorbell(false, 3, 0, 2);
    assert_eq!(entries(&b.drain()), vec![6, 0]);
    assert!(b.bad.is_empty());
}

#[test]
fn rx_doorbells_go_first() {
    let mut b = Bench::new();
    b.doorbell(false, 0, 0, 1);
    b.doorbell(true, 2, 1, 4);
    b.doorbell(true, 1, 0, 5);
    let jobs = b.drain();
    assert_eq!(jobs.len(), 3);
    assert_eq!((jobs[0].rx, jobs[0].entry, jobs[0].head), (true, 2, 5));
    assert_eq!((jobs[1].rx, jobs[1].entry, jobs[1].head), (true, 5, 4));
    assert_eq!((jobs[2].rx, jobs[2].entry), (false, 0));
}

#[test]
fn heads_are_checked_against_hwcur_and_span() {
    let mut b = Bench::new();
    // Beyond the ring: refused and counted.
    b.doorbell(false, 1, 0, 8);
    assert!(b.drain().is_empty());
    assert_eq!(b.bad, vec![1]);
    // A VALE ring at hwcur 5: any head but one wrapping past hwcur - 1.
    b.done(entry(1, 0), 5, false, 0);
    b.doorbell(false, 1, 0, 4);
    let jobs = b.drain();
    assert_eq!((jobs[0].head, jobs[0].hwcur), (4, 5));
    // A pipe ring that published span 2 at hwcur 5: heads 5..=7 only.
    b.done(entry(1, 0), 5, true, 2);
    b.doorbell(false, 1, 0, 0);
    assert!(b.drain().is_empty());
    assert_eq!(b.bad, vec![1, 1]);
    b.doorbell(false, 1, 0, 7);
    assert_eq!(b.drain().len(), 1);
}

#[test]
fn rings_the_port_lacks_and_disabled_ports_are_dropped() {
    let mut b = Bench::new();
    b.doorbell(false, 3, 1, 1); // port 3 has one TX ring
    assert!(b.drain().is_empty());
    b.p.set_port_enable(0xd); // port 1 off
    b.doorbell(false, 1, 0, 1);
    assert_eq!(b.p.pending(), 0, "a disabled port's doorbells do not pend");
    b.p.set_port_enable(0xf);
    b.doorbell(false, 1, 0, 1);
    assert_eq!(entries(&b.drain()), vec![2]);
    assert!(b.bad.is_empty());
}

#[test]
fn a_wake_serves_the_ring_again_with_its_last_head() {
    let mut b = Bench::new();
    b.doorbell(false, 2, 0, 6);
    assert_eq!(b.drain().len(), 1);
    b.done(entry(2, 0), 6, false, 0);
    b.p.set_wake_valid(1);
    b.p.set_wake_entry(entry(2, 0));
    b.cycle(false);
    b.p.set_wake_valid(0);
    let jobs = b.drain();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].entry, jobs[0].head, jobs[0].hwcur), (4, 6, 6));
}
