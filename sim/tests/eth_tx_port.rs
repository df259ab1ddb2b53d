//! Testbench of `eth_tx_port` (three sources, a 64-beat FIFO): frames
//! reach the MAC whole and never interleaved, short ones padded to 60
//! bytes with zeros; sources are served round robin by frame; a MAC that
//! drops `tready` fills the FIFO and back-pressures the sources at frame
//! starts only, with nothing lost; frames that can never be sent (over
//! MAX_LEN, empty) are dropped and counted; one-beat frames leave at one
//! per cycle; random sources and a random MAC keep every frame and counter.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use sim::models::EthTxPorts;
use sim::wire::{Assembler, Beat};

const NSRC: usize = 3;
const MAX_LEN: usize = 1518;

/// A frame whose first bytes name its source and number.
fn frame(src: usize, id: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| match i {
            0 => src as u8,
            1..=4 => id.to_le_bytes()[i - 1],
            _ => (i as u32).wrapping_mul(13).wrapping_add(id) as u8,
        })
        .collect()
}

/// A queued frame: its bytes and the length its beats declare.
struct Queued {
    bytes: Vec<u8>,
    len: usize,
}

struct Bench {
    p: EthTxPorts,
    queues: [VecDeque<Queued>; NSRC],
    /// Beats of the head frame each source has had taken.
    taken: [usize; NSRC],
    /// What the MAC received: frames and the sources they came from.
    asm: Assembler,
    out: Vec<Vec<u8>>,
    /// Sources in the order their frames started.
    starts: Vec<usize>,
    /// A source offered a frame's first beat and was refused (back-pressure).
    refused: u64,
}

impl Bench {
    fn new() -> Self {
        let mut p = EthTxPorts::new(sim::vcd_path_from_env().as_deref());
        p.set_rst(1);
        p.set_s_valid(0);
        p.set_m_axis_tready(0);
        let mut bench = Bench {
            p,
            queues: Default::default(),
            taken: [0; NSRC],
            asm: Assembler::default(),
            out: Vec::new(),
            starts: Vec::new(),
            refused: 0,
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
    }

    fn push(&mut self, src: usize, bytes: Vec<u8>) {
        let len = bytes.len();
        self.queues[src].push_back(Queued { bytes, len });
    }

    /// One cycle: source `s` offers its next beat where `offer[s]`, the
    /// MAC's tready is `ready`.
    fn cycle(&mut self, offer: [bool; NSRC], ready: bool) {
        let mut valid = 0u64;
        let mut words = [0u32; 16 * NSRC];
        let mut lens = 0u64;
        let mut last = 0u64;
        for s in 0..NSRC {
            let Some(q) = self.queues[s].front() else {
                continue;
            };
            if !offer[s] {
                continue;
            }
            let beats = q.bytes.len().div_ceil(64).max(1);
            let k = self.taken[s];
            let mut data = [0u8; 64];
            let chunk = &q.bytes[(64 * k).min(q.bytes.len())..(64 * k + 64).min(q.bytes.len())];
            data[..chunk.len()].copy_from_slice(chunk);
            let beat = Beat {
                data,
                keep: u64::MAX,
                last: false,
                user: false,
            };
            words[16 * s..16 * s + 16].copy_from_slice(&beat.words());
            valid |= 1 << s;
            lens |= (q.len as u64) << (16 * s);
            if k + 1 == beats {
                last |= 1 << s;
            }
        }
        self.p.set_s_valid(valid);
        self.p.set_s_data(&words);
        self.p.set_s_len(lens);
        self.p.set_s_last(last);
        self.p.set_m_axis_tready(u64::from(ready));
        self.p.eval();
        let s_ready = self.p.s_ready();
        assert!(s_ready.count_ones() <= 1, "two sources granted at once");
        for s in 0..NSRC {
            let offered = valid >> s & 1 == 1;
            let granted = s_ready >> s & 1 == 1;
            if self.taken[s] > 0 && offered {
                assert!(granted, "source {s} stalled inside a frame");
            }
            if offered && !granted && self.taken[s] == 0 {
                self.refused += 1;
            }
            if offered && granted {
                if self.taken[s] == 0 {
                    self.starts.push(s);
                }
                self.taken[s] += 1;
                if last >> s & 1 == 1 {
                    self.queues[s].pop_front();
                    self.taken[s] = 0;
                }
            }
        }
        if ready && self.p.m_axis_tvalid() != 0 {
            let beat = Beat::from_words(
                &self.p.m_axis_tdata(),
                self.p.m_axis_tkeep(),
                self.p.m_axis_tlast() != 0,
                self.p.m_axis_tuser() != 0,
            );
            assert_eq!(
                beat.keep.count_ones(),
                beat.keep.trailing_ones(),
                "tkeep not contiguous"
            );
            if !beat.last {
                assert_eq!(beat.keep, u64::MAX, "a partial beat inside a frame");
            }
            if let Some((f, bad)) = self.asm.push(&beat) {
                assert!(!bad, "tuser set");
                self.out.push(f);
            }
        }
        self.edge();
    }

    fn pending(&self) -> bool {
        self.queues.iter().any(|q| !q.is_empty()) || self.p.busy() != 0
    }

    /// Runs with every source offering and the MAC ready until all is out.
    fn run(&mut self) {
        for _ in 0..100_000 {
            if !self.pending() {
                return;
            }
            self.cycle([true; NSRC], true);
        }
        panic!("not drained in 100000 cycles");
    }
}

/// What the MAC should get for a frame: padded to 60 bytes with zeros.
fn on_wire(f: &[u8]) -> Vec<u8> {
    let mut v = f.to_vec();
    if v.len() < 60 {
        v.resize(60, 0);
    }
    v
}

#[test]
fn frames_leave_whole_and_short_ones_padded() {
    let mut bench = Bench::new();
    let sizes = [14, 42, 59, 60, 61, 64, 65, 128, 1514, 1518];
    for (i, &len) in sizes.iter().enumerate() {
        bench.push(0, frame(0, i as u32, len));
    }
    bench.run();
    let expected: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| on_wire(&frame(0, i as u32, len)))
        .collect();
    assert_eq!(bench.out, expected);
    assert_eq!(bench.p.tx_packets(), sizes.len() as u64);
    // Bytes as the sources gave them, before padding.
    assert_eq!(bench.p.tx_bytes(), sizes.iter().sum::<usize>() as u64);
    assert_eq!(bench.p.tx_dropped(), 0);
}

#[test]
fn sources_are_served_round_robin_by_whole_frames() {
    let mut bench = Bench::new();
    for id in 0..20 {
        for s in 0..NSRC {
            // Lengths differ per source so an interleaved frame would show.
            bench.push(s, frame(s, id, [60, 200, 1000][s]));
        }
    }
    bench.run();
    let expected_starts: Vec<usize> = (0..20 * NSRC).map(|i| i % NSRC).collect();
    assert_eq!(bench.starts, expected_starts);
    let expected: Vec<Vec<u8>> = (0..20)
        .flat_map(|id| (0..NSRC).map(move |s| frame(s, id, [60, 200, 1000][s])))
        .collect();
    assert_eq!(bench.out, expected);
    // A source with nothing to send gives its turn away.
    let mut bench = Bench::new();
    for id in 0..6 {
        bench.push(0, frame(0, id, 100));
        bench.push(2, frame(2, id, 100));
    }
    bench.run();
    assert_eq!(bench.starts, [0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2]);
}

#[test]
fn a_slow_mac_back_pressures_the_sources_at_frame_starts() {
    let mut bench = Bench::new();
    for id in 0..30 {
        for s in 0..NSRC {
            bench.push(s, frame(s, id, 300));
        }
    }
    // The MAC takes nothing for a while: the FIFO (64 beats) fills.
    for _ in 0..500 {
        bench.cycle([true; NSRC], false);
    }
    assert!(bench.out.is_empty());
    assert!(bench.refused > 0, "no source was ever held back");
    // Held inside: the FIFO's 64 beats, the memory's output register and
    // the FIFO's output register, and the MAC output register: 67 beats,
    // whole frames of 5 beats: 13 (65 beats). `free_beats` is one less
    // than the memory's free beats (it lags a cycle).
    let started = bench.starts.len();
    assert_eq!(started, 13, "frames taken while the MAC was stalled");
    assert_eq!(bench.p.free_beats(), 64 - (13 * 5 - 3) - 1);
    // Then a MAC that takes a beat now and then.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..20_000 {
        if !bench.pending() {
            break;
        }
        let ready = rng.gen_bool(0.2);
        bench.cycle([true; NSRC], ready);
    }
    assert!(!bench.pending());
    assert_eq!(bench.out.len(), 90);
    assert_eq!(bench.p.tx_packets(), 90);
    assert_eq!(bench.p.tx_dropped(), 0);
    for s in 0..NSRC {
        let mine: Vec<&Vec<u8>> = bench.out.iter().filter(|f| f[0] == s as u8).collect();
        let expected: Vec<Vec<u8>> = (0..30).map(|id| frame(s, id, 300)).collect();
        assert_eq!(mine.len(), 30);
        assert!(
            mine.iter().zip(&expected).all(|(a, b)| *a == b),
            "source {s}"
        );
    }
}

#[test]
fn frames_that_can_never_be_sent_are_dropped_and_counted() {
    let mut bench = Bench::new();
    bench.push(0, frame(0, 0, 100));
    bench.push(0, frame(0, 1, MAX_LEN + 1));
    bench.push(0, frame(0, 2, 100));
    bench.push(1, frame(1, 0, 9000));
    bench.push(1, frame(1, 1, 64));
    // A frame whose beats say length 0.
    bench.queues[2].push_back(Queued {
        bytes: frame(2, 0, 64),
        len: 0,
    });
    bench.push(2, frame(2, 1, 70));
    bench.run();
    assert_eq!(bench.p.tx_dropped(), 3);
    assert_eq!(bench.p.tx_packets(), 4);
    assert_eq!(bench.p.tx_bytes(), 100 + 100 + 64 + 70);
    let mut out = bench.out.clone();
    out.sort();
    let mut expected = vec![
        frame(0, 0, 100),
        frame(0, 2, 100),
        frame(1, 1, 64),
        frame(2, 1, 70),
    ];
    expected.sort();
    assert_eq!(out, expected);
}

#[test]
fn one_beat_frames_leave_at_one_per_cycle() {
    let mut bench = Bench::new();
    for id in 0..1000 {
        bench.push(1, frame(1, id, 64));
    }
    let mut cycles = 0;
    while bench.pending() {
        bench.cycle([true; NSRC], true);
        cycles += 1;
        assert!(cycles < 2000);
    }
    assert_eq!(bench.out.len(), 1000);
    assert!(
        cycles <= 1000 + 6,
        "{cycles} cycles for 1000 one-beat frames"
    );
}

#[test]
fn random_sources_and_mac() {
    let seed: u64 = std::env::var("ETH_TX_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("ETH_TX_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for round in 0..3 {
        let mut bench = Bench::new();
        let mut expected: [Vec<Vec<u8>>; NSRC] = Default::default();
        let mut dropped = 0;
        for id in 0..150 {
            let s = rng.gen_range(0..NSRC);
            let len = if rng.gen_bool(0.03) {
                rng.gen_range(MAX_LEN + 1..3000)
            } else if rng.gen_bool(0.5) {
                rng.gen_range(14..=128)
            } else {
                rng.gen_range(14..=MAX_LEN)
            };
            let f = frame(s, id, len);
            if len > MAX_LEN {
                dropped += 1;
            } else {
                expected[s].push(on_wire(&f));
            }
            bench.push(s, f);
        }
        let (offer_rate, ready_rate) = [(1.0, 1.0), (0.6, 0.5), (0.9, 0.1)][round];
        for _ in 0..200_000 {
            if !bench.pending() {
                break;
            }
            let offer = [(); NSRC].map(|_| rng.gen_bool(offer_rate));
            let ready = rng.gen_bool(ready_rate);
            bench.cycle(offer, ready);
        }
        assert!(!bench.pending(), "seed {seed} round {round}: not drained");
        assert_eq!(bench.p.tx_dropped(), dropped, "seed {seed}");
        for (s, expected) in expected.iter().enumerate() {
            let mine: Vec<Vec<u8>> = bench
                .out
                .iter()
                .filter(|f| f[0] == s as u8)
                .cloned()
                .collect();
            assert_eq!(&mine, expected, "seed {seed} round {round} source {s}");
        }
        let total: usize = expected.iter().map(Vec::len).sum();
        assert_eq!(bench.p.tx_packets(), total as u64);
    }
}
