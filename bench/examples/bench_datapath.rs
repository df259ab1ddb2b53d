//! Benchmark of the RTL data path in Verilator: cycles per packet for VALE
//! unicast, VALE broadcast and pipe crossover at frame sizes from 60 to
//! 1514 bytes, converted to Mpps and Gbps at 250 MHz, with DMA bytes and
//! MMIO accesses per packet; beside it, the software engine moving the
//! same frames in this process (the baseline), and the simulator's speed.
//!
//! `cargo run --release -p sim --example bench_datapath -- [--quick]
//! [--json] [--latency CYCLES]` (or `scripts/bench-datapath`).
#![forbid(unsafe_code)]

use std::time::Instant;

use sim::nic::NicVariant;
use sim::rig::{PortSpec, Rig, Slot};

/// The design clock of DESIGN.md section 3.
const CLOCK_MHZ: f64 = 250.0;
const SIZES: &[usize] = &[60, 64, 128, 256, 512, 1024, 1514];

struct Options {
    quick: bool,
    json: bool,
    latency: u64,
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

fn measure(mode: Mode, size: usize, batch: u32, batches: u32, options: &Options) -> Figure {
    let slots = 1024;
    let specs: Vec<PortSpec> = match mode {
        Mode::Unicast => vec![PortSpec::vale(1, slots); 2],
        Mode::Broadcast => vec![PortSpec::vale(1, slots); 4],
        Mode::Pipe => vec![
            PortSpec::pipe(true, 1, 1, slots),
            PortSpec::pipe(false, 0, 1, slots),
        ],
    };
    let mut rig = Rig::new(NicVariant::Netmap, &specs, 0);
    rig.nic.set_dma_read_latency(options.latency);
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
    let mut rx_head = vec![0u32; specs.len()];
    let (mut cycles, mut packets) = (0u64, 0u64);
    let start_link = rig.nic.link_counters();
    let wall = Instant::now();
    for _ in 0..batches {
        if let Mode::Pipe = mode {
            // Crossover left the receiver's old buffers in the TX slots.
            for k in 0..batch {
                let i = (head + k) % slots;
                let slot = rig.tx_slot(0, 0, i);
                rig.set_tx_slot(
                    0,
                    0,
                    i,
                    Slot {
                        len: size as u16,
                        flags: 0,
                        ..slot
                    },
                );
            }
        }
        head = (head + batch) % slots;
        rig.nic.tx_doorbell(0, 0, head);
        cycles += rig.settle();
        packets += u64::from(batch);
        for &port in &receivers {
            let (_, tail) = rig.status(port, true, 0);
            assert_eq!(
                (tail + slots - rx_head[port as usize]) % slots,
                batch,
                "every frame delivered"
            );
            rx_head[port as usize] = tail;
            rig.rx_release(port, 0, tail, false);
        }
    }
    let elapsed = wall.elapsed().as_secs_f64();
    let link = rig.nic.link_counters().since(&start_link);
    let per = |value: u64| value as f64 / packets as f64;
    Figure {
        mode,
        size,
        cycles_per_packet: cycles as f64 / packets as f64,
        dma_read_bytes: per(link.dma_read_bytes),
        dma_write_bytes: per(link.dma_write_bytes),
        dma_requests: per(link.dma_read_requests + link.dma_write_requests),
        // One doorbell per batch; BAR2 writes by the pipe's refill counted
        // separately (they are the application's slot writes).
        mmio_per_packet: per(link.mmio_reads + link.mmio_writes),
        sim_cycles_per_second: rig.nic.cycles() as f64 / elapsed.max(1e-9),
        software_mpps: software_mpps(mode, size, batch, batches),
    }
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
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => options.json = true,
            "--latency" => {
                options.latency = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--latency CYCLES")
            }
            _ => {
                eprintln!("usage: bench_datapath [--quick] [--json] [--latency CYCLES]");
                std::process::exit(2);
            }
        }
    }
    let (batch, batches) = if options.quick { (64, 4) } else { (256, 16) };
    let sizes: &[usize] = if options.quick { &[60, 1514] } else { SIZES };
    let mut figures = Vec::new();
    for mode in [Mode::Unicast, Mode::Broadcast, Mode::Pipe] {
        for &size in sizes {
            figures.push(measure(mode, size, batch, batches, &options));
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
            "{{\"clock_mhz\":{CLOCK_MHZ},\"batch\":{batch},\"dma_read_latency\":{},\"figures\":[{}]}}",
            options.latency,
            rows.join(",")
        );
        return;
    }
    println!(
        "data path at {CLOCK_MHZ} MHz, batch {batch}, DMA read latency {} cycles",
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
