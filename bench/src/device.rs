//! `scripts/bench --backend <spec>`: the pipe and VALE throughput over a
//! device backend (`sim`: the user's shared simulated NIC; `vfio-user:`,
//! `vfio:`), with what each packet cost the device: MMIO reads and writes,
//! BAR2 and DMA bytes, device cycles (simulated bodies), and the board
//! rate the PCIe cost model predicts (host-driver's `cost`).
//!
//! The children open their ports on the backend (`NETMAP_BACKEND`). VALE
//! and the pipe each run a sender and a receiver process, as on the
//! software engine (a pipe's two ends meet in a pair region of their own,
//! `host_driver::port::pair`). The parent holds a control-path
//! connection to the device and reads its device-wide counters between
//! the children's set-up and their end; they are divided by the frames the
//! sender handed to the device.
#![forbid(unsafe_code)]

use host_driver::cost::{LinkModel, PerPacket};
use host_driver::{Device, DeviceCounters};
use netmap_backend::BackendSpec;
use serde_json::{json, Value};

use crate::ctl::TempFile;
use crate::frame::{format_mac, mac};
use crate::procs::{BenchError, ChildSpec, Running};
use crate::stats::{median, series, show};
use crate::suites::Plan;

/// Rounds at most: the simulator is slow and its figures steady.
const MAX_ROUNDS: usize = 3;

/// One measurement: the receiver's rate and the device's cost per frame.
struct Sample {
    mpps: f64,
    per_packet: PerPacket,
    frames: u64,
}

fn mpps(result: &Value) -> f64 {
    let packets = result["packets"].as_f64().unwrap_or(0.0);
    let secs = result["secs"].as_f64().unwrap_or(0.0);
    if secs > 0.0 {
        packets / secs / 1e6
    } else {
        0.0
    }
}

struct DeviceBench<'a> {
    plan: &'a Plan,
    spec: String,
    device: Box<dyn Device>,
    seq: u32,
}

impl DeviceBench<'_> {
    fn counters(&mut self) -> Result<DeviceCounters, BenchError> {
        self.device
            .device_counters()
            .map_err(|e| BenchError::Setup(format!("device counters: {e}")))
    }

    fn common(&self, ctl: &TempFile) -> Vec<String> {
        [
            "--ctl",
            &ctl.path().display().to_string(),
            "--secs",
            &self.plan.secs.to_string(),
            "--max-packets",
            &self.plan.max_packets.to_string(),
            "--batch",
            &self.plan.batch.to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn child(&self, label: &str, args: Vec<String>) -> ChildSpec {
        let mut spec = ChildSpec::new(label, args);
        spec.env = vec![(netmap_backend::BACKEND_ENV.to_owned(), self.spec.clone())];
        spec
    }

    /// Starts the receivers then the senders, reads the counters, says go,
    /// and reads them again when all are done.
    fn measure(
        &mut self,
        receivers: &[ChildSpec],
        senders: &[ChildSpec],
    ) -> Result<(Vec<Value>, Vec<Value>, DeviceCounters), BenchError> {
        let mut running = Vec::new();
        for spec in receivers.iter().chain(senders) {
            running.push(Running::start(spec)?);
        }
        let before = self.counters()?;
        for child in &mut running {
            child.go()?;
        }
        let mut results = running
            .into_iter()
            .map(Running::finish)
            .collect::<Result<Vec<_>, _>>()?;
        let after = self.counters()?;
        let tx = results.split_off(receivers.len());
        Ok((results, tx, after.since(&before)))
    }

    fn vale_once(&mut self) -> Result<Sample, BenchError> {
        self.seq += 1;
        let switch = format!("valenmb{}_{}", std::process::id(), self.seq);
        let ctl = TempFile::new("ctl");
        crate::ctl::Control::create(ctl.path())
            .map_err(|e| BenchError::Setup(format!("control file: {e}")))?;
        let mut rx = [
            "port-rx",
            "--ports",
            &format!("{switch}:b"),
            "--reply-to",
            &format_mac(mac(1)),
            "--src",
            &format_mac(mac(2)),
        ]
        .map(str::to_owned)
        .to_vec();
        rx.extend(self.common(&ctl));
        let mut tx = [
            "port-tx",
            "--port",
            &format!("{switch}:a"),
            "--dst",
            &format_mac(mac(2)),
            "--src",
            &format_mac(mac(1)),
            "--learn",
        ]
        .map(str::to_owned)
        .to_vec();
        tx.extend(self.common(&ctl));
        self.one_pair("vale", rx, tx)
    }

    fn pipe_once(&mut self) -> Result<Sample, BenchError> {
        self.seq += 1;
        let name = format!("nmb{}_{}", std::process::id(), self.seq);
        let ctl = TempFile::new("ctl");
        crate::ctl::Control::create(ctl.path())
            .map_err(|e| BenchError::Setup(format!("control file: {e}")))?;
        // Master -> slave, as on the software engine: each end in its own
        // process, meeting in the pair's region.
        let mut rx = ["port-rx", "--ports", &format!("netmap:{name}}}0")]
            .map(str::to_owned)
            .to_vec();
        rx.extend(self.common(&ctl));
        let mut tx = ["port-tx", "--port", &format!("netmap:{name}{{0")]
            .map(str::to_owned)
            .to_vec();
        tx.extend(self.common(&ctl));
        self.one_pair("pipe", rx, tx)
    }

    /// Runs one receiver and one sender child and measures the round: the
    /// receiver's rate, the device's cost per frame the sender sent.
    fn one_pair(
        &mut self,
        what: &str,
        rx: Vec<String>,
        tx: Vec<String>,
    ) -> Result<Sample, BenchError> {
        let receiver = self.child(&format!("{what} rx"), rx);
        let sender = self.child(&format!("{what} tx"), tx);
        let (r, t, used) = self.measure(&[receiver], &[sender])?;
        let frames = t.first().and_then(|t| t["packets"].as_u64()).unwrap_or(0);
        Ok(Sample {
            mpps: r.first().map(mpps).unwrap_or(0.0),
            per_packet: PerPacket::from_counters(&used, frames),
            frames,
        })
    }
}

/// Medians of the per-packet figures over the rounds that ran.
fn per_packet_json(samples: &[Sample]) -> Value {
    let pick = |f: fn(&PerPacket) -> f64| {
        median(
            &samples
                .iter()
                .map(|s| Some(f(&s.per_packet)))
                .collect::<Vec<_>>(),
        )
    };
    let cycles = pick(|p| p.cycles);
    let model = LinkModel::default();
    let board = samples
        .iter()
        .map(|s| model.predict(&s.per_packet))
        .min_by(|a, b| a.mpps.total_cmp(&b.mpps));
    json!({
        "cycles": cycles,
        "mpps_at_250mhz": cycles.filter(|c| *c > 0.0).map(|c| 250.0 / c),
        "mmio_reads": pick(|p| p.mmio_reads),
        "mmio_writes": pick(|p| p.mmio_writes),
        "bar2_write_bytes": pick(|p| p.bar2_write_bytes),
        "bar2_read_bytes": pick(|p| p.bar2_read_bytes),
        "dma_read_requests": pick(|p| p.dma_read_requests),
        "dma_read_bytes": pick(|p| p.dma_read_bytes),
        "dma_write_requests": pick(|p| p.dma_write_requests),
        "dma_write_bytes": pick(|p| p.dma_write_bytes),
        "board_mpps": board.as_ref().map(|b| b.mpps),
        "board_limit": board.as_ref().map(|b| b.limit.to_string()),
    })
}

fn suite<'p>(
    bench: &mut DeviceBench<'p>,
    label: &str,
    once: fn(&mut DeviceBench<'p>) -> Result<Sample, BenchError>,
) -> Value {
    let rounds = bench.plan.rounds.clamp(1, MAX_ROUNDS);
    eprintln!(
        "netmap-bench: {label} over --backend {}: {rounds} rounds",
        bench.spec
    );
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..rounds {
        match once(bench) {
            Ok(sample) => samples.push(sample),
            Err(e) => {
                eprintln!("netmap-bench: {label}: {e}");
                errors.push(e.to_string());
            }
        }
    }
    let rates: Vec<Option<f64>> = samples.iter().map(|s| Some(s.mpps)).collect();
    let per_packet = per_packet_json(&samples);
    if bench.plan.text {
        println!(
            "{label} on {}: {} Mpps (wall clock); per frame: {} cycles ({} Mpps at 250 MHz), MMIO {} reads {} writes, BAR2 {} B written {} B read, DMA {} B read {} B written; board {} Mpps ({})",
            bench.spec,
            show(median(&rates)),
            show(per_packet["cycles"].as_f64()),
            show(per_packet["mpps_at_250mhz"].as_f64()),
            show(per_packet["mmio_reads"].as_f64()),
            show(per_packet["mmio_writes"].as_f64()),
            show(per_packet["bar2_write_bytes"].as_f64()),
            show(per_packet["bar2_read_bytes"].as_f64()),
            show(per_packet["dma_read_bytes"].as_f64()),
            show(per_packet["dma_write_bytes"].as_f64()),
            show(per_packet["board_mpps"].as_f64()),
            per_packet["board_limit"].as_str().unwrap_or("-"),
        );
    }
    json!({
        "ours_mpps": series(&rates),
        "frames": samples.iter().map(|s| s.frames).collect::<Vec<_>>(),
        "per_packet": per_packet,
        "errors": errors,
    })
}

/// Runs the pipe and VALE measurements over the backend `spec` (a device
/// backend: the caller keeps `soft` on the usual suites). The values for
/// the report's `pipe` and `vale_unicast` keys.
pub fn run(spec: &str, plan: &Plan, pipe: bool, vale: bool) -> Result<(Value, Value), String> {
    let parsed: BackendSpec = spec.parse().map_err(|e| format!("--backend: {e}"))?;
    let device = parsed
        .open_device()
        .map_err(|e| format!("--backend {spec}: {e}"))?
        .ok_or_else(|| format!("--backend {spec}: not a device"))?;
    let mut bench = DeviceBench {
        plan,
        spec: spec.to_owned(),
        device,
        seq: 0,
    };
    let pipe = if pipe {
        suite(&mut bench, "pipe", DeviceBench::pipe_once)
    } else {
        Value::Null
    };
    let vale = if vale {
        suite(&mut bench, "VALE unicast", DeviceBench::vale_once)
    } else {
        Value::Null
    };
    Ok((pipe, vale))
}
