//! Benchmark of the RTL data path in Verilator, in steady state: the host
//! keeps port 0's TX ring full (the next batch posted with one doorbell as
//! soon as the ring has room, while the device works) and the receivers
//! release their RX slots as they fill; after a warm-up, the cycles per
//! frame over a window of frames (throughput, not the latency of a batch)
//! for VALE unicast, VALE broadcast to 3 ports and pipe crossover at frame
//! sizes from 60 to 1514 bytes, converted to Mpps and Gbps at 250 MHz,
//! with DMA bytes and requests and MMIO accesses per frame; beside it, the
//! software engine moving the same frames in this process (the baseline),
//! and the simulator's speed. The DMA port is served by the PCIe Gen4 x16
//! host model (`sim::host::HostConfig::default`) at the round trip of
//! `--latency` (default 4 cycles; 150 is a PCIe round trip).
//!
//! `cargo run --release -p netmap-bench --example bench_datapath --
//! [--quick] [--json] [--latency CYCLES] [--trace]` (or
//! `scripts/bench-datapath`; `--trace` prints every publication the host
//! sees, with its cycle, on stderr).
#![forbid(unsafe_code)]

use std::time::Instant;

use sim::host::{HostConfig, LinkCounters};
use sim::nic::NicVariant;
use sim::rig::{PortSpec, Rig, Slot};

/// The design clock of DESIGN.md section 3.
const CLOCK_MHZ: f64 = 250.0;
const SIZES: &[usize] = &[60, 64, 128, 256, 512, 1024, 1514];

struct Options {
    quick: bool,
    json: bool,
    latency: u64,
    /// Print each publication the host sees (cycle, TX status, first
    /// receiver's hwtail, frames posted): where a row's cycles go.
    trace: bool,
}

#[derive(Clone, Copy)]
enum Mode {
    Unicast,
    Broadcast,
    Pipe,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Unicast => "vale-unicast",
            Mode::Broadcast => "vale-broadcast",
            Mode::Pipe => "pipe",
        }
    }
}

struct Figure {
    mode: Mode,
    size: usize,
    cycles_per_packet: f64,
    dma_read_bytes: f64,
    dma_write_bytes: f64,
    dma_requests: f64,
    mmio_per_packet: f64,
    sim_cycles_per_second: f64,
    software_mpps: f64,
}

fn frame(dst: [u8; 6], src: [u8; 6], size: usize) -> Vec<u8> {
    let mut bytes = vec![0x5a; size];
    bytes[0..6].copy_from_slice(&dst);
    bytes[6..12].copy_from_slice(&src);
    bytes
}

const SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DST: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Cycles the host lets the device run between two looks at the rings.
const POLL_CYCLES: u64 = 16;

/// Steady state: the host keeps the TX ring full (it posts the next batch
/// with one doorbell as soon as the ring has room for it, while the device
/// works) and releases RX slots as they fill; `warmup` frames are moved
/// before the measurement starts, then `frames` are timed. The figures
/// are throughput (cycles per frame over the measured window), not the
/// latency of a batch.
fn measure(mode: Mode, size: usize, shape: Shape, options: &Options) -> Figure {
    let slots = 1024;
    let batch = shape.batch;
    let specs: Vec<PortSpec> = match mode {
        Mode::Unicast => vec![PortSpec::vale(1, slots); 2],
        Mode::Broadcast => vec![PortSpec::vale(1, slots); 4],
        Mode::Pipe => vec![
            PortSpec::pipe(true, 1, 1, slots),
            PortSpec::pipe(false, 0, 1, slots),
        ],
    };
    let pipe = matches!(mode, Mode::Pipe);
    let mut rig = Rig::new(NicVariant::Netmap, &specs, 0);
    rig.nic
        .set_host_config(HostConfig::default().with_latency(options.latency));
    let receivers: Vec<u32> = (1..specs.len() as u32).collect();
    if let Mode::Unicast = mode {
        // Port 1 announces DST so port 0's frames are unicast.
        rig.write_tx(1, 0, 0, &frame([0xff; 6], DST, 60), 0);
        rig.tx_doorbell(1, 0, 1);
        rig.rx_release(0, 0, 1, false);
    }
    let dst = match mode {
        Mode::Unicast => DST,
        _ => [0xff; 6],
    };
    let payload = frame(dst, SRC, size);
    for i in 0..slots {
        rig.write_tx(0, 0, i, &payload, 0);
    }
    let mut head = 0u32;
    let mut published = false;
    let mut rx_head = vec![0u32; specs.len()];
    // Frames the first receiver has seen (every mode delivers each frame
    // once to it).
    let mut delivered = 0u64;
    // Frames handed to the device.
    let mut posted = 0u64;
    // (frames delivered, cycle, link counters) when the window opened.
    let mut window: Option<(u64, u64, LinkCounters)> = None;
    let mut end = None;
    let mut last_status = None;
    let wall = Instant::now();
    let start_cycles = rig.nic.cycles();
    let limit = (shape.warmup + shape.frames) * 4000 + 1_000_000;
    while end.is_none() {
        // Post: while the host owns a batch of slots (head .. hwtail),
        // hand it to the device.
        let status = rig.status(0, false, 0);
        published |= status != (0, 0);
        if options.trace && Some(status) != last_status {
            last_status = Some(status);
            let (_, rx_tail) = rig.status(receivers[0], true, 0);
            eprintln!(
                "trace {} {size}: cycle {} tx hwcur {} hwtail {} rx hwtail {rx_tail} posted {posted}",
                mode.name(),
                rig.nic.cycles() - start_cycles,
                status.0,
                status.1
            );
        }
        // Nothing published yet: a fresh ring's tail.
        let tail = if published { status.1 } else { slots - 1 };
        if (tail + slots - head) % slots >= batch {
            if pipe {
                // Crossover left the receiver's returned buffers in the TX
                // slots: the application fills them again and pushes each
                // run of changed slots in one write-combined burst (only
                // what changed reaches BAR2).
                let mut run: Vec<Slot> = Vec::new();
                let mut run_at = head;
                for k in 0..=batch {
                    let i = (head + k) % slots;
                    let slot = (k < batch).then(|| rig.tx_slot(0, 0, i));
                    let changed = slot.filter(|s| s.len != size as u16 || s.flags != 0);
                    if !run.is_empty() && (changed.is_none() || i == 0) {
                        rig.set_tx_slots(0, 0, run_at, &run);
                        run.clear();
                    }
                    if let Some(slot) = changed {
                        if run.is_empty() {
                            run_at = i;
                        }
                        run.push(Slot {
                            len: size as u16,
                            flags: 0,
                            ..slot
                        });
                    }
                }
            }
            head = (head + batch) % slots;
            rig.nic.tx_doorbell(0, 0, head);
            posted += u64::from(batch);
        }
        for _ in 0..POLL_CYCLES {
            rig.nic.tick();
        }
        if options.trace && rig.nic.cycles() % 256 < POLL_CYCLES {
            let link = rig.nic.link_counters();
            eprintln!(
                "trace {} {size}: cycle {} delivered (counter) {} dma reads {} in flight {}",
                mode.name(),
                rig.nic.cycles() - start_cycles,
                rig.nic
                    .port_counter(receivers[0], vale_offload::counters::PortCounter::RxPackets),
                link.dma_read_requests,
                rig.nic.dma_reads_in_flight()
            );
        }
        // Receive: take what was delivered, release it at once.
        for &port in &receivers {
            let (_, tail) = rig.status(port, true, 0);
            let fresh = (tail + slots - rx_head[port as usize]) % slots;
            if fresh == 0 {
                continue;
            }
            if port == receivers[0] {
                delivered += u64::from(fresh);
            }
            rx_head[port as usize] = tail;
            rig.rx_release(port, 0, tail, false);
            if pipe {
                // A pipe end tells the device at once (the sender's room).
                rig.nic.rx_doorbell(port, 0, tail);
            }
        }
        match window {
            None if delivered >= shape.warmup => {
                window = Some((delivered, rig.nic.cycles(), rig.nic.link_counters()));
            }
            Some((from, _, _)) if delivered >= from + shape.frames => {
                end = Some(rig.nic.cycles());
            }
            _ => {}
        }
        assert!(
            rig.nic.cycles() - start_cycles < limit,
            "{} {size} B: the device stopped moving frames ({delivered} delivered)",
            mode.name()
        );
    }
    let elapsed = wall.elapsed().as_secs_f64();
    let (from, start, start_link) = window.expect("measured");
    let packets = delivered - from;
    let cycles = end.expect("ended") - start;
    let link = rig.nic.link_counters().since(&start_link);
    let per = |value: u64| value as f64 / packets as f64;
    Figure {
        mode,
        size,
        cycles_per_packet: cycles as f64 / packets as f64,
        dma_read_bytes: per(link.dma_read_bytes),
        dma_write_bytes: per(link.dma_write_bytes),
        dma_requests: per(link.dma_read_requests + link.dma_write_requests),
        // Doorbells (TX, and the pipe receiver's RX ones) per frame, over
        // the frames delivered in the window like every other column: a
        // short window can lie inside one job with nothing posted, and a
        // divisor of the frames posted then reads one doorbell as 1.0 per
        // frame. BAR2 writes by the pipe's refill are counted separately
        // (they are the application's slot writes).
        mmio_per_packet: per(link.mmio_reads + link.mmio_writes),
        sim_cycles_per_second: (rig.nic.cycles() - start_cycles) as f64 / elapsed.max(1e-9),
        software_mpps: software_mpps(mode, size, batch, shape.software_batches),
    }
}

/// How much a row moves.
#[derive(Clone, Copy)]
struct Shape {
    /// Frames per doorbell.
    batch: u32,
    /// Frames moved before the measurement.
    warmup: u64,
    /// Frames measured.
    frames: u64,
    /// Batches the software baseline moves.
    software_batches: u32,
}

/// The software engine moving the same batches in this process.
fn software_mpps(mode: Mode, size: usize, batch: u32, batches: u32) -> f64 {
    let switch = format!("valebench{}", std::process::id());
    let names: Vec<String> = match mode {
        Mode::Unicast => (0..2).map(|i| format!("{switch}:b{i}")).collect(),
        Mode::Broadcast => (0..4).map(|i| format!("{switch}:b{i}")).collect(),
        Mode::Pipe => vec![format!("{switch}:x{{7"), format!("{switch}:x}}7")],
    };
    let ports: Vec<_> = names
        .iter()
        .map(|name| vale_soft::open(name).expect("software port"))
        .collect();
    let dst = match mode {
        Mode::Unicast => DST,
        _ => [0xff; 6],
    };
    if let Mode::Unicast = mode {
        let p = &ports[1];
        let tx = p.tx_ring(0);
        let slot = tx.slot(0);
        p.write_buf(slot.buf_idx, &frame([0xff; 6], DST, 60))
            .unwrap();
        tx.set_len_flags(0, 60, 0);
        tx.set_head(1);
        tx.set_cur(1);
        p.txsync().unwrap();
    }
    let payload = frame(dst, SRC, size);
    let sender = &ports[0];
    let tx = sender.tx_ring(0);
    let n = tx.num_slots();
    let start = Instant::now();
    let mut moved = 0u64;
    for _ in 0..batches {
        let mut head = tx.head();
        for _ in 0..batch {
            let slot = tx.slot(head);
            sender.write_buf(slot.buf_idx, &payload).unwrap();
            tx.set_len_flags(head, size as u16, 0);
            head = (head + 1) % n;
        }
        tx.set_head(head);
        tx.set_cur(head);
        sender.txsync().unwrap();
        moved += u64::from(batch);
        for p in &ports[1..] {
            p.rxsync().unwrap();
            let rx = p.rx_ring(0);
            rx.set_head(rx.tail());
            rx.set_cur(rx.tail());
            p.rxsync().unwrap();
        }
    }
    moved as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let mut options = Options {
        quick: false,
        json: false,
        latency: sim::nic::DEFAULT_DMA_READ_LATENCY,
        trace: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => options.json = true,
            "--trace" => options.trace = true,
            "--latency" => {
                options.latency = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--latency CYCLES")
            }
            _ => {
                eprintln!("usage: bench_datapath [--quick] [--json] [--latency CYCLES] [--trace]");
                std::process::exit(2);
            }
        }
    }
    let shape = if options.quick {
        Shape {
            batch: 64,
            warmup: 256,
            frames: 512,
            software_batches: 4,
        }
    } else {
        Shape {
            batch: 64,
            warmup: 1024,
            frames: 2048,
            software_batches: 16,
        }
    };
    let batch = shape.batch;
    let sizes: &[usize] = if options.quick { &[60, 1514] } else { SIZES };
    let mut figures = Vec::new();
    for mode in [Mode::Unicast, Mode::Broadcast, Mode::Pipe] {
        for &size in sizes {
            figures.push(measure(mode, size, shape, &options));
        }
    }
    if options.json {
        let rows: Vec<String> = figures
            .iter()
            .map(|f| {
                format!(
                    "{{\"mode\":\"{}\",\"size\":{},\"cycles_per_packet\":{:.3},\"mpps\":{:.3},\"gbps\":{:.3},\"dma_read_bytes\":{:.1},\"dma_write_bytes\":{:.1},\"dma_requests\":{:.2},\"mmio_per_packet\":{:.4},\"software_mpps\":{:.3},\"sim_cycles_per_second\":{:.0}}}",
                    f.mode.name(),
                    f.size,
                    f.cycles_per_packet,
                    CLOCK_MHZ / f.cycles_per_packet,
                    CLOCK_MHZ / f.cycles_per_packet * f.size as f64 * 8.0 / 1000.0,
                    f.dma_read_bytes,
                    f.dma_write_bytes,
                    f.dma_requests,
                    f.mmio_per_packet,
                    f.software_mpps,
                    f.sim_cycles_per_second
                )
            })
            .collect();
        println!(
            "{{\"clock_mhz\":{CLOCK_MHZ},\"steady_state\":true,\"batch\":{batch},\"warmup_frames\":{},\"measured_frames\":{},\"dma_read_latency\":{},\"figures\":[{}]}}",
            shape.warmup,
            shape.frames,
            options.latency,
            rows.join(",")
        );
        return;
    }
    println!(
        "data path at {CLOCK_MHZ} MHz, steady state: batch {batch} posted ahead, {} frames measured after {} of warm-up; PCIe Gen4 x16 host, DMA read latency {} cycles",
        shape.frames,
        shape.warmup,
        options.latency
    );
    println!(
        "{:<15} {:>5} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9}",
        "mode",
        "bytes",
        "cyc/pkt",
        "Mpps",
        "Gbps",
        "DMA rd/p",
        "DMA wr/p",
        "req/p",
        "MMIO/p",
        "sw Mpps",
        "sim kc/s"
    );
    for f in &figures {
        let mpps = CLOCK_MHZ / f.cycles_per_packet;
        println!(
            "{:<15} {:>5} {:>9.2} {:>8.2} {:>8.2} {:>9.1} {:>9.1} {:>8.2} {:>8.4} {:>9.2} {:>9.0}",
            f.mode.name(),
            f.size,
            f.cycles_per_packet,
            mpps,
            mpps * f.size as f64 * 8.0 / 1000.0,
            f.dma_read_bytes,
            f.dma_write_bytes,
            f.dma_requests,
            f.mmio_per_packet,
            f.software_mpps,
            f.sim_cycles_per_second / 1000.0
        );
    }
}
