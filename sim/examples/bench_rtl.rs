//! Benchmark of the RTL switch core in Verilator: lookups per cycle with
//! learning running back to back, lookup latency in cycles, and the
//! simulator's speed, beside the software table on the same frames.
//!
//! `cargo run -p sim --example bench_rtl -- [--quick] [--json]`
//! (or `scripts/bench-rtl`). Rounds alternate RTL and software; the report
//! gives medians.
#![forbid(unsafe_code)]

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::nic::{LookupRequest, Nic, NicVariant};
use vale_offload::table::{Geometry, LearningTable};

/// The design clock of DESIGN.md section 3.
const CLOCK_MHZ: f64 = 250.0;
/// Bytes per cycle of the 512-bit data path.
const DATAPATH_BYTES: u64 = 64;

struct Options {
    quick: bool,
    json: bool,
}

/// Frames whose sources keep changing: every frame learns something
/// (insert, move or evict), destinations hit and miss.
fn frames(count: usize, seed: u64) -> Vec<LookupRequest> {
    let mut rng = StdRng::seed_from_u64(seed);
    let pool: Vec<[u8; 6]> = (0..4096)
        .map(|_| {
            let mut mac = [0u8; 6];
            rng.fill(&mut mac[..]);
            mac[0] &= 0xfe;
            mac
        })
        .collect();
    (0..count)
        .map(|n| LookupRequest {
            src: pool[rng.gen_range(0..pool.len())],
            dst: pool[rng.gen_range(0..pool.len())],
            src_port: rng.gen_range(0..8),
            learn: true,
            tag: n as u16,
        })
        .collect()
}

struct RtlRound {
    lookups_per_cycle: f64,
    cycles_per_second: f64,
    learned: u32,
    overflow: u32,
}

fn rtl_round(nic: &mut Nic, requests: &[LookupRequest]) -> RtlRound {
    nic.flush();
    let before = nic.counters();
    let start_cycle = nic.cycles();
    let start = Instant::now();
    let mut results = 0usize;
    let mut first_result_cycle = None;
    for request in requests {
        if nic.lookup_cycle(Some(*request)).is_some() {
            results += 1;
            first_result_cycle.get_or_insert(nic.cycles());
        }
    }
    while results < requests.len() {
        if nic.lookup_cycle(None).is_some() {
            results += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cycles = nic.cycles() - start_cycle;
    // Results stream out one per clock from the first to the last.
    let first = first_result_cycle.expect("results") - 1;
    let streaming_cycles = nic.cycles() - first;
    let after = nic.counters();
    RtlRound {
        lookups_per_cycle: requests.len() as f64 / streaming_cycles as f64,
        cycles_per_second: cycles as f64 / elapsed,
        learned: after.learn - before.learn,
        overflow: after.overflow - before.overflow,
    }
}

/// The software table deciding the same frames: lookups per second.
fn software_round(requests: &[LookupRequest]) -> f64 {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let start = Instant::now();
    let mut checksum = 0u64;
    for request in requests {
        let decision = table.forward(&request.src, &request.dst, request.src_port, request.learn);
        checksum = checksum.wrapping_add(u64::from(decision.port));
    }
    let elapsed = start.elapsed().as_secs_f64();
    std::hint::black_box(checksum);
    requests.len() as f64 / elapsed
}

fn latency(nic: &mut Nic) -> u64 {
    let request = frames(1, 7)[0];
    let start = nic.cycles();
    let mut result = nic.lookup_cycle(Some(request));
    while result.is_none() {
        result = nic.lookup_cycle(None);
    }
    nic.cycles() - start
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
        json: args.iter().any(|a| a == "--json"),
    };
    if let Some(bad) = args.iter().find(|a| *a != "--quick" && *a != "--json") {
        eprintln!("usage: bench_rtl [--quick] [--json] (unknown {bad})");
        std::process::exit(2);
    }
    let (count, rounds) = if options.quick {
        (100_000, 3)
    } else {
        (1_000_000, 5)
    };
    let requests = frames(count, 0xbe4c);

    let mut nic = Nic::new(NicVariant::Netmap);
    let latency_cycles = latency(&mut nic);
    let mut lookups_per_cycle = Vec::new();
    let mut sim_speed = Vec::new();
    let mut software_speed = Vec::new();
    let mut ratios = Vec::new();
    let mut learned = 0;
    let mut overflow = 0;
    for _ in 0..rounds {
        let rtl = rtl_round(&mut nic, &requests);
        let software = software_round(&requests);
        lookups_per_cycle.push(rtl.lookups_per_cycle);
        sim_speed.push(rtl.cycles_per_second);
        software_speed.push(software);
        ratios.push(rtl.cycles_per_second * rtl.lookups_per_cycle / software);
        learned = rtl.learned;
        overflow += rtl.overflow;
    }
    let lookups_per_cycle = median(&mut lookups_per_cycle);
    let sim_speed = median(&mut sim_speed);
    let software_speed = median(&mut software_speed);
    let ratio = median(&mut ratios);
    let frame_sizes = [64u64, 128, 256, 512, 1024, 1518];
    // One lookup per frame; a frame holds the data path ceil(len / 64) cycles.
    let at_clock: Vec<(u64, f64, f64)> = frame_sizes
        .iter()
        .map(|&len| {
            let cycles = len.div_ceil(DATAPATH_BYTES) as f64;
            let mpps = CLOCK_MHZ * lookups_per_cycle.min(1.0 / cycles);
            (len, mpps, mpps * len as f64 * 8.0 / 1000.0)
        })
        .collect();

    if options.json {
        let sizes: Vec<String> = at_clock
            .iter()
            .map(|(len, mpps, gbps)| {
                format!("{{\"frame_bytes\":{len},\"mpps\":{mpps:.1},\"gbps\":{gbps:.1}}}")
            })
            .collect();
        println!(
            "{{\"frames_per_round\":{count},\"rounds\":{rounds},\"lookups_per_cycle\":{lookups_per_cycle:.4},\
             \"latency_cycles\":{latency_cycles},\"learns_last_round\":{learned},\"overflow\":{overflow},\
             \"sim_cycles_per_second\":{sim_speed:.0},\"software_lookups_per_second\":{software_speed:.0},\
             \"sim_over_software\":{ratio:.4},\"clock_mhz\":{CLOCK_MHZ},\"at_clock\":[{}]}}",
            sizes.join(",")
        );
    } else {
        println!("RTL switch core, {count} frames x {rounds} rounds, learning on every frame");
        println!("  lookups per cycle (back to back):   {lookups_per_cycle:.4}");
        println!("  lookup latency:                     {latency_cycles} cycles");
        println!("  learns written (last round):        {learned}, lost to overflow: {overflow}");
        println!(
            "  simulator speed:                    {:.2} M cycles/s",
            sim_speed / 1e6
        );
        println!(
            "  baseline, software table:           {:.2} M lookups/s",
            software_speed / 1e6
        );
        println!("  simulated / software lookups:       {ratio:.4}");
        println!("  at {CLOCK_MHZ} MHz (table limit per frame size):");
        for (len, mpps, gbps) in at_clock {
            println!("    {len:5} B: {mpps:7.1} Mpps {gbps:7.1} Gbps");
        }
    }
}
