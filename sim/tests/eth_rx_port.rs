//! Testbench of `eth_rx_port` (a 32-beat FIFO, 1518-byte frames at most):
//! whole frames out with their length from the first beat on; frames with
//! an FCS error, runts and oversize frames dropped whole and counted each
//! under its reason; a full FIFO drops whole frames (counted) and never
//! stalls the wire; one-beat frames at one per cycle pass without loss;
//! random traffic, gaps and a random reader keep every counter and frame
//! right.
#![forbid(unsafe_code)]

use rand::{Rng, SeedableRng};
use sim::models::EthRxPorts;
use sim::wire::{beats, Beat};

const DEPTH: usize = 32;
const MAX_LEN: usize = 1518;
const MIN_LEN: usize = 60;

/// A frame whose bytes say which frame it is (`id`) and where they are.
fn frame(id: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i {
            0..=3 => id.to_le_bytes()[i],
            _ => (i as u32).wrapping_mul(31).wrapping_add(id) as u8,
        })
        .collect()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counters {
    packets: u64,
    bytes: u64,
    dropped_full: u64,
    errors: u64,
    runts: u64,
    oversize: u64,
}

struct Bench {
    p: EthRxPorts,
    /// Frames that came out, whole.
    out: Vec<Vec<u8>>,
    /// The frame coming out: its length (from its first beat) and bytes.
    cur: Option<(usize, Vec<u8>)>,
    cycles: u64,
}

impl Bench {
    fn new() -> Self {
        let mut p = EthRxPorts::new(sim::vcd_path_from_env().as_deref());
        p.set_rst(1);
        p.set_s_axis_tvalid(0);
        p.set_m_ready(0);
        let mut bench = Bench {
            p,
            out: Vec::new(),
            cur: None,
            cycles: 0,
        };
        for _ in 0..4 {
            bench.edge();
        }
        bench.p.set_rst(0);
        bench
    }

    fn edge(&mut self) {
        self.p.set_clk(1);
        self.p.eval();
        self.p.set_clk(0);
        self.p.eval();
        self.cycles += 1;
    }

    /// One cycle: `beat` on the MAC side, `ready` on the output.
    fn cycle(&mut self, beat: Option<&Beat>, ready: bool) {
        match beat {
            Some(b) => {
                self.p.set_s_axis_tvalid(1);
                self.p.set_s_axis_tdata(&b.words());
                self.p.set_s_axis_tkeep(b.keep);
                self.p.set_s_axis_tlast(u64::from(b.last));
                self.p.set_s_axis_tuser(u64::from(b.user));
            }
            None => self.p.set_s_axis_tvalid(0),
        }
        self.p.set_m_ready(u64::from(ready));
        self.p.eval();
        if ready && self.p.m_valid() != 0 {
            self.take_beat();
        }
        self.edge();
    }

    fn take_beat(&mut self) {
        let len = self.p.m_len() as usize;
        let first = self.p.m_first() != 0;
        let last = self.p.m_last() != 0;
        let data = Beat::from_words(&self.p.m_data(), u64::MAX, last, false).data;
        match &mut self.cur {
            None => {
                assert!(first, "a frame's first beat without m_first");
                assert!((MIN_LEN..=MAX_LEN).contains(&len), "length {len} out");
                self.cur = Some((len, Vec::new()));
            }
            Some((cur_len, _)) => {
                assert!(!first, "m_first inside a frame");
                assert_eq!(len, *cur_len, "m_len changed inside a frame");
            }
        }
        let (len, bytes) = self.cur.as_mut().unwrap();
        let take = (*len - bytes.len()).min(64);
        bytes.extend_from_slice(&data[..take]);
        assert_eq!(
            last,
            bytes.len() == *len,
            "m_last at {} of {len} bytes",
            bytes.len()
        );
        if last {
            let (_, bytes) = self.cur.take().unwrap();
            self.out.push(bytes);
        }
    }

    /// Sends each frame's beats back to back (no gap), reader `ready`.
    fn send(&mut self, frames: &[(Vec<u8>, bool)], ready: bool) {
        for (frame, bad) in frames {
            for beat in beats(frame, *bad) {
                self.cycle(Some(&beat), ready);
            }
        }
    }

    /// Reads until nothing is inside (bounded).
    fn drain(&mut self) {
        for _ in 0..10_000 {
            if self.p.busy() == 0 {
                return;
            }
            self.cycle(None, true);
        }
        panic!("still busy after 10000 cycles");
    }

    fn counters(&self) -> Counters {
        Counters {
            packets: self.p.rx_packets(),
            bytes: self.p.rx_bytes(),
            dropped_full: self.p.rx_dropped_full(),
            errors: self.p.rx_errors(),
            runts: self.p.rx_runts(),
            oversize: self.p.rx_oversize(),
        }
    }
}

#[test]
fn good_frames_pass_whole_with_their_length_at_the_first_beat() {
    let mut bench = Bench::new();
    let sizes = [60, 61, 63, 64, 65, 127, 128, 129, 1000, 1514, 1518];
    let frames: Vec<(Vec<u8>, bool)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| (frame(i as u32, len), false))
        .collect();
    bench.send(&frames, true);
    bench.drain();
    let sent: Vec<Vec<u8>> = frames.into_iter().map(|(f, _)| f).collect();
    assert_eq!(bench.out, sent);
    assert_eq!(
        bench.counters(),
        Counters {
            packets: sizes.len() as u64,
            bytes: sizes.iter().sum::<usize>() as u64,
            ..Counters::default()
        }
    );
}

#[test]
fn bad_frames_are_dropped_whole_and_counted_by_reason() {
    let mut bench = Bench::new();
    let plan: &[(usize, bool, bool)] = &[
        // (length, tuser, kept)
        (100, false, true),
        (100, true, false), // FCS error
        (60, false, true),
        (59, false, false), // runt
        (1, false, false),  // runt
        (64, false, true),
        (1519, false, false), // oversize
        (3000, false, false), // oversize, longer than the FIFO
        (1518, false, true),
        (30, true, false),   // an FCS error and a runt: counted as the error
        (2000, true, false), // an FCS error and oversize: the error
        (61, false, true),
    ];
    let frames: Vec<(Vec<u8>, bool)> = plan
        .iter()
        .enumerate()
        .map(|(i, &(len, bad, _))| (frame(i as u32, len), bad))
        .collect();
    bench.send(&frames, true);
    bench.drain();
    let kept: Vec<Vec<u8>> = frames
        .iter()
        .zip(plan)
        .filter(|(_, p)| p.2)
        .map(|((f, _), _)| f.clone())
        .collect();
    assert_eq!(bench.out, kept);
    assert_eq!(
        bench.counters(),
        Counters {
            packets: 5,
            bytes: 100 + 60 + 64 + 1518 + 61,
            dropped_full: 0,
            errors: 3,
            runts: 2,
            oversize: 2,
        }
    );
}

#[test]
fn a_full_fifo_drops_whole_frames_and_never_stalls_the_wire() {
    let mut bench = Bench::new();
    // Nobody reads: the memory's 32 beats fill, and the output queue
    // takes 2 beats of the first frame, so 34 beats are held in all.
    let big: Vec<(Vec<u8>, bool)> = (0..8).map(|i| (frame(i, 300), false)).collect();
    bench.send(&big, false); // 5 beats each: 6 fit (30), the 7th and 8th do not
    let small: Vec<(Vec<u8>, bool)> = (8..13).map(|i| (frame(i, 60), false)).collect();
    bench.send(&small, false); // 4 fit (34), the 5th does not
    for _ in 0..20 {
        bench.cycle(None, false);
    }
    assert!(bench.out.is_empty(), "a frame left with m_ready low");
    let c = bench.counters();
    assert_eq!(6 * 5 + 4, DEPTH + 2);
    assert_eq!((c.packets, c.dropped_full), (10, 3), "{c:?}");
    assert_eq!(c.bytes, 6 * 300 + 4 * 60);
    bench.drain();
    let expected: Vec<Vec<u8>> = big[..6]
        .iter()
        .chain(&small[..4])
        .map(|(f, _)| f.clone())
        .collect();
    assert_eq!(bench.out, expected, "the kept frames, whole and in order");
    // Room again: the next frame passes.
    bench.send(&[(frame(99, 1514), false)], true);
    bench.drain();
    assert_eq!(bench.out.last(), Some(&frame(99, 1514)));
    assert_eq!(bench.counters().packets, 11);
}

#[test]
fn one_beat_frames_at_one_per_cycle_pass_without_loss() {
    let mut bench = Bench::new();
    let frames: Vec<(Vec<u8>, bool)> = (0..2000).map(|i| (frame(i, 64), false)).collect();
    let start = bench.cycles;
    bench.send(&frames, true);
    bench.drain();
    let sent: Vec<Vec<u8>> = frames.into_iter().map(|(f, _)| f).collect();
    assert_eq!(bench.out.len(), 2000);
    assert!(bench.out == sent);
    assert_eq!(bench.counters().dropped_full, 0);
    // In, two register stages, the FIFO and its output queue: a few
    // cycles of latency, no more.
    assert!(
        bench.cycles - start <= 2000 + 8,
        "{} cycles",
        bench.cycles - start
    );
}

#[test]
fn random_traffic_gaps_and_reader() {
    let seed: u64 = std::env::var("ETH_RX_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("ETH_RX_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for round in 0..4 {
        let mut bench = Bench::new();
        let ready_rate = [1.0, 0.7, 0.3, 0.05][round];
        let mut expect = Counters::default();
        let mut good = Vec::new();
        for id in 0..300u32 {
            let len = match rng.gen_range(0..10) {
                0 => rng.gen_range(1..MIN_LEN),
                1 => rng.gen_range(MAX_LEN + 1..2500),
                2..=5 => rng.gen_range(MIN_LEN..=128),
                _ => rng.gen_range(MIN_LEN..=MAX_LEN),
            };
            let bad = rng.gen_bool(0.1);
            let f = frame(id, len);
            if bad {
                expect.errors += 1;
            } else if len < MIN_LEN {
                expect.runts += 1;
            } else if len > MAX_LEN {
                expect.oversize += 1;
            } else {
                good.push(f.clone());
            }
            for beat in beats(&f, bad) {
                // The MAC may leave gaps inside a frame and between frames.
                while rng.gen_bool(0.1) {
                    let ready = rng.gen_bool(ready_rate);
                    bench.cycle(None, ready);
                }
                let ready = rng.gen_bool(ready_rate);
                bench.cycle(Some(&beat), ready);
            }
        }
        bench.drain();
        let c = bench.counters();
        assert_eq!(
            (c.errors, c.runts, c.oversize),
            (expect.errors, expect.runts, expect.oversize),
            "seed {seed} round {round}"
        );
        assert_eq!(c.packets + c.dropped_full, good.len() as u64);
        assert_eq!(c.packets, bench.out.len() as u64);
        assert_eq!(
            c.bytes,
            bench.out.iter().map(|f| f.len() as u64).sum::<u64>()
        );
        // What came out is the good frames, in order, some missing.
        let mut it = good.iter();
        for f in &bench.out {
            assert!(
                it.any(|g| g == f),
                "seed {seed}: a frame out of order or changed"
            );
        }
        if ready_rate == 1.0 {
            assert_eq!(
                c.dropped_full, 0,
                "seed {seed}: drops with the reader always ready"
            );
        }
        if ready_rate < 0.1 {
            assert!(
                c.dropped_full > 0,
                "seed {seed}: a slow reader should fill the FIFO"
            );
        }
    }
}
