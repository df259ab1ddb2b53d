//! Testbench of `learn_queue` (built with 4 slots, 4-bit rows, 1-bit ways,
//! 16-bit entries) against a reference model: FIFO order, merging of
//! writes to a queued (row, way), overflow when full, clear, history.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::models::QueuePorts;

const DEPTH: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Write {
    row: u64,
    way: u64,
    entry: u64,
}

/// What the queue should do, cycle by cycle.
#[derive(Default)]
struct Reference {
    slots: VecDeque<Write>,
    overflow: bool,
    history: Option<Write>,
}

impl Reference {
    fn clock(&mut self, enq: Option<Write>, ready: bool, clear: bool) {
        if clear {
            *self = Reference::default();
            return;
        }
        let popped = if ready { self.slots.pop_front() } else { None };
        self.overflow = false;
        if let Some(write) = enq {
            let full = self.slots.len() == DEPTH;
            let queued = self
                .slots
                .iter_mut()
                .find(|slot| slot.row == write.row && slot.way == write.way);
            match queued {
                Some(slot) => slot.entry = write.entry,
                None if full => self.overflow = true,
                None => self.slots.push_back(write),
            }
        }
        self.history = popped;
    }
}

struct QueueBench {
    ports: QueuePorts,
}

impl QueueBench {
    fn new() -> Self {
        let mut ports = QueuePorts::new(sim::vcd_path_from_env().as_deref());
        ports.set_rst(1);
        let mut bench = QueueBench { ports };
        bench.tick();
        bench.ports.set_rst(0);
        bench
    }

    fn tick(&mut self) {
        self.ports.set_clk(1);
        self.ports.eval();
        self.ports.set_clk(0);
        self.ports.eval();
    }

    fn clock(&mut self, enq: Option<Write>, ready: bool, clear: bool) {
        let write = enq.unwrap_or(Write {
            row: 0,
            way: 0,
            entry: 0,
        });
        self.ports.set_enq_valid(u64::from(enq.is_some()));
        self.ports.set_enq_row(write.row);
        self.ports.set_enq_way(write.way);
        self.ports.set_enq_entry(write.entry);
        self.ports.set_wr_ready(u64::from(ready));
        self.ports.set_clear(u64::from(clear));
        self.tick();
    }

    fn check(&self, reference: &Reference, cycle: usize) {
        let ports = &self.ports;
        assert_eq!(
            ports.count(),
            reference.slots.len() as u64,
            "count, cycle {cycle}"
        );
        assert_eq!(
            ports.wr_valid() == 1,
            !reference.slots.is_empty(),
            "cycle {cycle}"
        );
        if let Some(head) = reference.slots.front() {
            let got = Write {
                row: ports.wr_row(),
                way: ports.wr_way(),
                entry: ports.wr_entry(),
            };
            assert_eq!(got, *head, "head, cycle {cycle}");
        }
        assert_eq!(
            ports.overflow() == 1,
            reference.overflow,
            "overflow, cycle {cycle}"
        );
        assert_eq!(
            ports.hist_valid() == 1,
            reference.history.is_some(),
            "cycle {cycle}"
        );
        if let Some(history) = reference.history {
            let got = Write {
                row: ports.hist_row(),
                way: ports.hist_way(),
                entry: ports.hist_entry(),
            };
            assert_eq!(got, history, "history, cycle {cycle}");
        }
        // The bypass view holds exactly the queued writes.
        let mut visible = Vec::new();
        for slot in 0..DEPTH {
            if ports.slot_valid() >> slot & 1 == 1 {
                visible.push(Write {
                    row: ports.slot_row() >> (4 * slot) & 0xf,
                    way: ports.slot_way() >> slot & 1,
                    entry: ports.slot_entry() >> (16 * slot) & 0xffff,
                });
            }
        }
        let mut expected: Vec<Write> = reference.slots.iter().copied().collect();
        visible.sort_by_key(|w| (w.row, w.way));
        expected.sort_by_key(|w| (w.row, w.way));
        assert_eq!(visible, expected, "bypass view, cycle {cycle}");
    }
}

#[test]
fn matches_reference_under_random_traffic() {
    let mut bench = QueueBench::new();
    let mut reference = Reference::default();
    let mut rng = StdRng::seed_from_u64(0x9ee);
    let mut overflows = 0;
    let mut merges_possible = 0;
    for cycle in 0..50_000 {
        // Few (row, way) pairs so merges are frequent; bursts of not-ready
        // so the queue fills.
        let enq = rng.gen_ratio(3, 4).then(|| Write {
            row: rng.gen_range(0..6),
            way: rng.gen_range(0..2),
            entry: rng.gen_range(0..0x10000),
        });
        let ready = (cycle / 64) % 2 == 0 || rng.gen_ratio(1, 6);
        let clear = rng.gen_ratio(1, 500);
        if let Some(write) = enq {
            if reference
                .slots
                .iter()
                .any(|s| s.row == write.row && s.way == write.way)
            {
                merges_possible += 1;
            }
        }
        bench.clock(enq, ready, clear);
        reference.clock(enq, ready, clear);
        bench.check(&reference, cycle);
        overflows += usize::from(reference.overflow);
    }
    assert!(overflows > 100, "the run should overflow the queue often");
    assert!(merges_possible > 1000, "the run should merge often");
}

#[test]
fn head_leaving_is_not_merged_into() {
    let mut bench = QueueBench::new();
    let mut reference = Reference::default();
    let a = Write {
        row: 3,
        way: 1,
        entry: 0x1111,
    };
    let b = Write {
        row: 3,
        way: 1,
        entry: 0x2222,
    };
    bench.clock(Some(a), false, false);
    reference.clock(Some(a), false, false);
    // Same (row, way) while the head holding `a` is written: `b` queues
    // behind it instead of changing the data being written.
    bench.clock(Some(b), true, false);
    reference.clock(Some(b), true, false);
    bench.check(&reference, 1);
    assert_eq!(reference.history, Some(a));
    assert_eq!(reference.slots.front(), Some(&b));
}
