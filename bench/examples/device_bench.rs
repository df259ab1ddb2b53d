//! Per-backend packet rates for a pipe and a VALE switch, with what each
//! packet costs on the (simulated) PCIe link and the board's predicted rate
//! from the PCIe cost model (`docs/performance.md`, "PCIe cost model").
//!
//! ```text
//! cargo run -p host-driver --example device_bench -- [--quick] [--json]
//! ```
//! One process plays sender and receiver (the `sim` device runs inside the
//! sender's txsync). `soft` is the baseline, measured in the same run.
//! Simulated figures: device cycles per packet (Mpps at 250 MHz), MMIO and
//! DMA per packet; the wall-clock rate of `sim` is the simulator's speed.

use std::time::Instant;

use host_driver::cost::{LinkModel, PerPacket};
use host_driver::port::DeviceBackend;
use host_driver::sim::SimDevice;
use netmap_ring::port::{Backend, Port};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topology {
    Vale,
    Pipe,
}

struct Run {
    backend: &'static str,
    topology: &'static str,
    len: usize,
    packets: u64,
    seconds: f64,
    per_packet: Option<PerPacket>,
}

fn frame(len: usize, dst: u8, src: u8) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, dst]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f
}

/// Moves `packets` frames of `len` bytes from a sender port to a receiver
/// port in batches of up to `batch`; returns the frames received.
fn pump(tx: &mut Port, rx: &mut Port, packets: u64, len: usize, batch: usize) -> u64 {
    let data = frame(len, 0xb, 0xa);
    let (mut sent, mut received) = (0u64, 0u64);
    let mut idle_rounds = 0;
    while received < packets && idle_rounds < 1000 {
        let mut n = 0;
        while n < batch && sent < packets && tx.inject(&data) {
            n += 1;
            sent += 1;
        }
        tx.txsync().expect("txsync");
        rx.rxsync().expect("rxsync");
        let got = rx.dispatch(0, |_| {}) as u64;
        rx.rxsync().expect("rxsync");
        received += got;
        idle_rounds = if got == 0 { idle_rounds + 1 } else { 0 };
        // VALE drops what does not fit: count what was offered once the
        // sender is done.
        if sent == packets && got == 0 {
            break;
        }
    }
    received
}

fn run(backend_name: &'static str, topology: Topology, len: usize, packets: u64) -> Run {
    let soft = vale_soft::SoftBackend;
    let device = (backend_name == "sim").then(|| {
        DeviceBackend::new(Box::new(SimDevice::new().expect("sim device"))).expect("device backend")
    });
    let backend: &dyn Backend = match &device {
        Some(device) => device,
        None => &soft,
    };
    let unique = format!("{}x{len}", std::process::id());
    let (mut tx, mut rx) = match topology {
        Topology::Vale => (
            Port::open_on(backend, &format!("vale{unique}:a")).expect("port a"),
            Port::open_on(backend, &format!("vale{unique}:b")).expect("port b"),
        ),
        Topology::Pipe => (
            Port::open_on(backend, &format!("netmap:p{unique}{{1")).expect("master"),
            Port::open_on(backend, &format!("netmap:p{unique}}}1")).expect("slave"),
        ),
    };
    if topology == Topology::Vale {
        // Learn b, so that the measured frames are unicast.
        rx.inject(&frame(60, 0xff, 0xb));
        rx.txsync().expect("txsync");
        tx.rxsync().expect("rxsync");
        tx.dispatch(0, |_| {});
        tx.rxsync().expect("rxsync");
    }
    let before = device.as_ref().map(DeviceBackend::counters);
    let start = Instant::now();
    let moved = pump(&mut tx, &mut rx, packets, len, 256);
    let seconds = start.elapsed().as_secs_f64();
    let per_packet = device
        .as_ref()
        .zip(before)
        .map(|(device, before)| PerPacket::from_counters(&device.counters().since(&before), moved));
    drop((tx, rx));
    Run {
        backend: backend_name,
        topology: match topology {
            Topology::Vale => "vale",
            Topology::Pipe => "pipe",
        },
        len,
        packets: moved,
        seconds,
        per_packet,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    let (sim_packets, soft_packets) = if quick {
        (2_000, 20_000)
    } else {
        (20_000, 1_000_000)
    };
    let model = LinkModel::default();
    let mut runs = Vec::new();
    for topology in [Topology::Pipe, Topology::Vale] {
        for len in [60usize, 1514] {
            runs.push(run("soft", topology, len, soft_packets));
            runs.push(run("sim", topology, len, sim_packets));
        }
    }
    if json {
        let rows: Vec<String> = runs
            .iter()
            .map(|r| {
                let mut row = format!(
                    "{{\"backend\":\"{}\",\"topology\":\"{}\",\"len\":{},\"packets\":{},\"wall_mpps\":{:.4}",
                    r.backend,
                    r.topology,
                    r.len,
                    r.packets,
                    r.packets as f64 / r.seconds / 1e6
                );
                if let Some(p) = r.per_packet {
                    let pred = model.predict(&p);
                    row += &format!(
                        ",\"cycles_per_packet\":{:.3},\"mpps_at_250mhz\":{:.2},\"mmio_reads\":{:.4},\"mmio_writes\":{:.4},\"bar2_write_bytes\":{:.2},\"bar2_read_bytes\":{:.2},\"dma_read_bytes\":{:.2},\"dma_read_requests\":{:.3},\"dma_write_bytes\":{:.2},\"dma_write_requests\":{:.3},\"board_mpps\":{:.2},\"board_limit\":\"{}\"",
                        p.cycles,
                        250.0 / p.cycles,
                        p.mmio_reads,
                        p.mmio_writes,
                        p.bar2_write_bytes,
                        p.bar2_read_bytes,
                        p.dma_read_bytes,
                        p.dma_read_requests,
                        p.dma_write_bytes,
                        p.dma_write_requests,
                        pred.mpps,
                        pred.limit
                    );
                }
                row + "}"
            })
            .collect();
        println!("[{}]", rows.join(",\n "));
        return;
    }
    println!(
        "{:<5} {:<5} {:>5} {:>9} {:>10} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>10}",
        "",
        "",
        "len",
        "packets",
        "wall Mpps",
        "cyc/pkt",
        "Mpps@250",
        "MMIO r",
        "MMIO w",
        "BAR2 w B",
        "DMA rd B",
        "DMA wr B",
        "board Mpps"
    );
    for pair in runs.chunks(2) {
        for r in pair {
            let wall = r.packets as f64 / r.seconds / 1e6;
            match r.per_packet {
                None => println!(
                    "{:<5} {:<5} {:>5} {:>9} {:>10.3}",
                    r.backend, r.topology, r.len, r.packets, wall
                ),
                Some(p) => {
                    let pred = model.predict(&p);
                    println!(
                        "{:<5} {:<5} {:>5} {:>9} {:>10.4} {:>8.2} {:>9.1} {:>8.3} {:>8.3} {:>9.1} {:>9.1} {:>9.1} {:>10.1} ({})",
                        r.backend,
                        r.topology,
                        r.len,
                        r.packets,
                        wall,
                        p.cycles,
                        250.0 / p.cycles,
                        p.mmio_reads + p.bar2_read_bytes / 8.0,
                        p.mmio_writes,
                        p.bar2_write_bytes,
                        p.dma_read_bytes,
                        p.dma_write_bytes,
                        pred.mpps,
                        pred.limit
                    );
                }
            }
        }
        let ratio =
            (pair[1].packets as f64 / pair[1].seconds) / (pair[0].packets as f64 / pair[0].seconds);
        println!("      sim/soft wall-clock ratio: {ratio:.5}");
    }
}
