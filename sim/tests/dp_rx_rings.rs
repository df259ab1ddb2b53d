//! Testbench of `dp_rx_rings` (4 ports x 2 rings) against a reference
//! model under random traffic: cached hwcur and hwtail writes, the
//! prefetch of released slots (fills at an offset, consumption across the
//! four banks, each slot's buffer index with its `ptr == 0` bit), dirty
//! rings (lowest first), and disabled ports.
#![forbid(unsafe_code)]

mod stage_bench;

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::models::RxRingsPorts;
use stage_bench::{NUM_PORTS, RINGS};

const NQ: usize = NUM_PORTS * RINGS;
/// Prefetched slots per ring (the module's PF).
const PF: usize = 256;

#[derive(Clone, Default)]
struct Ring {
    hwtail: u16,
    hwcur: u16,
    dirty: bool,
    /// Prefetched slots: buffer index, ptr was 0.
    pf: VecDeque<(u32, bool)>,
}

struct Bench {
    p: RxRingsPorts,
}

impl Bench {
    fn new() -> Self {
        let mut p = RxRingsPorts::new(sim::vcd_path_from_env().as_deref());
        p.set_port_enable(0xf);
        p.set_rst(1);
        let mut bench = Bench { p };
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

    fn idle_inputs(&mut self) {
        self.p.set_hc_we(0);
        self.p.set_ht_we(0);
        self.p.set_dirty_set(0);
        self.p.set_dirty_clr(0);
        self.p.set_fill_we(0);
    }

    fn check(&mut self, model: &[Ring], step: usize) {
        for (q, ring) in model.iter().enumerate() {
            self.p.set_q_entry(q as u64);
            self.p.set_d_entry(q as u64);
            self.p.eval();
            let got = (self.p.q_hwtail() as u16, self.p.q_hwcur() as u16);
            assert_eq!(got, (ring.hwtail, ring.hwcur), "step {step} entry {q}");
            assert_eq!(
                (self.p.d_hwtail() as u16, self.p.d_hwcur() as u16),
                got,
                "step {step} entry {q}: the d port"
            );
            assert_eq!(
                self.p.d_pf_cnt() as usize,
                ring.pf.len(),
                "step {step} entry {q}"
            );
            for (t, slot) in ring.pf.iter().enumerate() {
                self.p.set_d_pf_lane(t as u64);
                self.p.eval();
                let got = (self.p.d_pf_buf() as u32, self.p.d_pf_p0() != 0);
                assert_eq!(got, *slot, "step {step} entry {q} prefetch {t}");
            }
        }
        let lowest = model.iter().position(|ring| ring.dirty);
        assert_eq!(self.p.dirty_found() != 0, lowest.is_some(), "step {step}");
        if let Some(q) = lowest {
            assert_eq!(self.p.dirty_pick() as usize, q, "step {step}");
        }
        assert_eq!(self.p.any_dirty() != 0, lowest.is_some(), "step {step}");
    }
}

#[test]
fn matches_reference_under_random_traffic() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut b = Bench::new();
    let mut model = vec![Ring::default(); NQ];
    let mut next_buf = 100u32;
    for step in 0..8000 {
        b.idle_inputs();
        let d = rng.gen_range(0..NQ);
        b.p.set_d_entry(d as u64);
        b.p.set_fill_entry(d as u64);
        let mut enable = 0xfu64;
        match rng.gen_range(0..7) {
            0 => {
                let q = rng.gen_range(0..NQ);
                let value = rng.gen_range(0..64u16);
                b.p.set_hc_we(1);
                b.p.set_hc_entry(q as u64);
                b.p.set_hc_value(u64::from(value));
                model[q].hwcur = value;
            }
            1 => {
                let used = rng.gen_range(1..20u16);
                let value = rng.gen_range(0..64u16);
                let dirty = rng.gen_bool(0.5);
                b.p.set_ht_we(1);
                b.p.set_ht_value(u64::from(value));
                b.p.set_ht_used(u64::from(used));
                b.p.set_ht_dirty(u64::from(dirty));
                let ring = &mut model[d];
                ring.hwtail = value;
                ring.dirty |= dirty;
                if usize::from(used) >= ring.pf.len() {
                    ring.pf.clear();
                } else {
                    ring.pf.drain(..usize::from(used));
                }
            }
            2 | 3 => {
                // A beat of a fill: up to four slots from slot k (< PF) of
                // the PF.
                let k = rng.gen_range(0..=model[d].pf.len().min(PF - 1));
                let n = rng.gen_range(1..=(PF - k).min(4));
                let mut lanes = [0u32; 4];
                let p0: [bool; 4] = std::array::from_fn(|_| rng.gen_bool(0.7));
                for lane in lanes.iter_mut() {
                    *lane = next_buf;
                    next_buf += 1;
                }
                b.p.set_fill_we(1);
                b.p.set_fill_k(k as u64);
                b.p.set_fill_n(n as u64);
                b.p.set_fill_bufs(&lanes);
                b.p.set_fill_p0(p0.iter().rev().fold(0, |m, &z| m << 1 | u64::from(z)));
                let ring = &mut model[d];
                ring.pf.truncate(k);
                ring.pf.extend(lanes.iter().copied().zip(p0).take(n));
            }
            4 => {
                b.p.set_dirty_set(1);
                model[d].dirty = true;
            }
            5 => {
                let q = rng.gen_range(0..NQ);
                b.p.set_dirty_clr(1);
                b.p.set_dirty_clr_entry(q as u64);
                model[q].dirty = false;
            }
            _ => {
                if rng.gen_bool(0.2) {
                    let port = rng.gen_range(0..NUM_PORTS);
                    enable &= !(1 << port);
                    for ring in &mut model[port * RINGS..(port + 1) * RINGS] {
                        ring.hwtail = 0;
                        ring.hwcur = 0;
                        ring.dirty = false;
                        ring.pf.clear();
                    }
                }
            }
        }
        b.p.set_port_enable(enable);
        b.tick();
        b.idle_inputs();
        b.p.set_port_enable(0xf);
        b.check(&model, step);
    }
}
