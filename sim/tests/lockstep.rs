//! Lockstep: random frame streams fed to the RTL table and to the software
//! table (the golden model); every decision and the final contents agree.
//! Streams forget ports now and then (`SW_FORGET_PORT` against the
//! software's `forget_port`), while frames are in flight.
//!
//! `LOCKSTEP_SEED` fixes the first stream's seed (stream i uses seed + i;
//! default: from the clock, printed), `LOCKSTEP_STREAMS` the number of
//! streams per geometry. A failure prints the command that replays it.
#![forbid(unsafe_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::nic::{LookupRequest, Nic, NicVariant, COMMAND_LEAD};
use vale_offload::hash::netmap_mac_hash;
use vale_offload::regmap;
use vale_offload::table::LearningTable;

const DEFAULT_STREAMS: u64 = 4000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{name} must be an integer"))
    })
}

fn base_seed() -> u64 {
    env_u64("LOCKSTEP_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_nanos() as u64)
    })
}

/// A pool of MACs built to collide: random addresses, some sharing the row
/// of another, some group addresses, the broadcast address.
fn mac_pool(rng: &mut StdRng, rows: u32) -> Vec<[u8; 6]> {
    let size = rng.gen_range(2..48);
    let mut pool: Vec<[u8; 6]> = Vec::with_capacity(size + 4);
    while pool.len() < size {
        let mut mac = [0u8; 6];
        rng.fill(&mut mac[..]);
        mac[0] &= if rng.gen_ratio(1, 8) { 0xff } else { 0xfe };
        if rng.gen_ratio(1, 3) && !pool.is_empty() {
            // Search a few candidates for one in an existing MAC's row.
            let anchor = pool[rng.gen_range(0..pool.len())];
            let row = netmap_mac_hash(&anchor) & (rows - 1);
            for _ in 0..4 * rows {
                rng.fill(&mut mac[2..]);
                if netmap_mac_hash(&mac) & (rows - 1) == row {
                    break;
                }
            }
        }
        pool.push(mac);
    }
    if rng.gen_ratio(1, 4) {
        pool.push([0xff; 6]);
    }
    pool
}

/// What the golden model replays, in the order the RTL's learn stage saw it.
enum Event {
    /// Index into the stream's requests.
    Frame(usize),
    Forget(u8),
    /// A forget that wrapped its port's generation: the RTL flushes.
    ForgetFlush,
}

/// Forgets each port has seen since the model's reset: a port's generation
/// wraps on every 256th.
struct Generations([u32; 256]);

fn run_stream(nic: &mut Nic, generations: &mut Generations, base_seed: u64, stream: u64) {
    let seed = base_seed.wrapping_add(stream);
    let mut rng = StdRng::seed_from_u64(seed);
    let geometry = nic.geometry();
    let golden = LearningTable::in_memory(geometry);
    let pool = mac_pool(&mut rng, geometry.rows);
    let ports = rng.gen_range(1..6u8);
    let frames = rng.gen_range(1..160usize);
    let gap_chance = rng.gen_range(0..4u32);
    let forget_chance = rng.gen_range(0..3u32);
    // The earlier streams too: their forgets set the generations.
    let replay = format!(
        "stream seed {seed}; replay: LOCKSTEP_SEED={base_seed} LOCKSTEP_STREAMS={}",
        stream + 1
    );

    let mut requests = Vec::with_capacity(frames);
    let mut results = Vec::with_capacity(frames);
    // (cycle the learn stage saw it, event); a frame reaches it
    // COMMAND_LEAD cycles after a command offered in the same cycle.
    let mut events = Vec::new();
    for tag in 0..frames {
        let request = LookupRequest {
            src: pool[rng.gen_range(0..pool.len())],
            dst: pool[rng.gen_range(0..pool.len())],
            src_port: rng.gen_range(0..ports),
            learn: !rng.gen_ratio(1, 16),
            tag: tag as u16,
        };
        requests.push(request);
        events.push((nic.cycles() + COMMAND_LEAD, Event::Frame(tag)));
        results.extend(nic.lookup_cycle(Some(request)));
        // Idle cycles now and then, so learns drain at varied offsets.
        while rng.gen_ratio(gap_chance, 8) {
            results.extend(nic.lookup_cycle(None));
        }
        // A forget now and then, with the last frames still in flight.
        while rng.gen_ratio(forget_chance, 16) {
            let port = rng.gen_range(0..ports);
            let count = &mut generations.0[usize::from(port)];
            *count += 1;
            if count.is_multiple_of(256) {
                // The wrap flushes: let the frames in flight finish and
                // the sweep end first, or learns meanwhile may overflow.
                while results.len() < requests.len() {
                    results.extend(nic.lookup_cycle(None));
                }
                events.push((nic.cycles(), Event::ForgetFlush));
                nic.forget_port(u32::from(port));
                nic.wait_idle();
            } else {
                events.push((nic.cycles(), Event::Forget(port)));
                results.extend(nic.bar0_write_cycle(regmap::SW_FORGET_PORT, u32::from(port)));
            }
        }
    }
    while results.len() < frames {
        results.extend(nic.lookup_cycle(None));
    }
    assert_eq!(results.len(), frames, "{replay}");

    // A frame and a command in the same learn-stage cycle: the frame first.
    events.sort_by_key(|(cycle, event)| (*cycle, !matches!(event, Event::Frame(_))));
    for (_, event) in &events {
        let tag = match event {
            Event::Frame(tag) => *tag,
            Event::Forget(port) => {
                golden.forget_port(*port);
                continue;
            }
            Event::ForgetFlush => {
                golden.flush();
                continue;
            }
        };
        let (request, result) = (&requests[tag], &results[tag]);
        let expected = golden.forward(&request.src, &request.dst, request.src_port, request.learn);
        let ours = (result.port, result.hit, result.learned);
        let theirs = (expected.port, expected.hit, Some(expected.learned));
        assert_eq!(
            ours, theirs,
            "frame {} {request:02x?}; {replay}",
            request.tag
        );
    }

    // Contents: only rows of pool MACs can hold entries after the flush.
    nic.wait_idle();
    let mut rows: Vec<u32> = pool
        .iter()
        .map(|mac| geometry.row_of(netmap_mac_hash(mac)))
        .collect();
    rows.sort_unstable();
    rows.dedup();
    for row in rows {
        for way in 0..geometry.ways {
            let index = geometry.index(row, way) as u32;
            assert_eq!(
                nic.read_entry(index),
                golden.raw(row, way),
                "entry row {row} way {way}; {replay}"
            );
        }
    }
    let counters = nic.counters();
    assert_eq!(counters.overflow, 0, "{replay}");
    nic.flush();
}

fn lockstep(variant: NicVariant) {
    let seed = base_seed();
    let streams = env_u64("LOCKSTEP_STREAMS").unwrap_or(DEFAULT_STREAMS);
    println!("lockstep {variant:?}: LOCKSTEP_SEED={seed} LOCKSTEP_STREAMS={streams}");
    let mut nic = Nic::new(variant);
    let mut generations = Generations([0; 256]);
    for stream in 0..streams {
        run_stream(&mut nic, &mut generations, seed, stream);
    }
    let forgets: u32 = generations.0.iter().sum();
    let wraps: u32 = generations.0.iter().map(|count| count / 256).sum();
    println!(
        "lockstep {variant:?}: {streams} streams, {forgets} forgets ({wraps} wrapped), {} cycles",
        nic.cycles()
    );
}

#[test]
fn lockstep_netmap_geometry() {
    lockstep(NicVariant::Netmap);
}

#[test]
fn lockstep_set_associative() {
    lockstep(NicVariant::SmallWays);
}
