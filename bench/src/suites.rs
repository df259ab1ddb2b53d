//! The benchmarks: each alternates ours and its baselines in short rounds
//! (A B A B ...), and reports every round, the per-round ratios and their
//! medians as one JSON value.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::ctl::{Control, TempFile};
use crate::frame::{format_mac, mac, BROADCAST};
use crate::netns::{self, BridgeNet};
use crate::procs::{run_measurement, BenchError, ChildSpec};
use crate::spsc::{Geometry, SpscRing};
use crate::stats::{median, ratios, series, show};

mod scaling;

/// Slots per ring: netmap's default for VALE ports and pipes, and the
/// plain ring's size.
const RING_SLOTS: usize = 1024;
/// Receivers of the broadcast benchmark.
const BROADCAST_RECEIVERS: usize = 4;

/// What to run and how long.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mode: &'static str,
    /// Rounds of the headline benchmarks.
    pub rounds: usize,
    /// Rounds of each curve point.
    pub curve_rounds: usize,
    /// Measuring window of one round, seconds.
    pub secs: f64,
    /// Packet bound of one measurement.
    pub max_packets: u64,
    /// Default batch.
    pub batch: u32,
    pub sizes: Vec<usize>,
    pub batches: Vec<u32>,
    pub ports: Vec<u32>,
    /// Prefix of the network namespaces of the bridge baseline.
    pub netns_prefix: String,
    /// Buffer stride of the plain ring: the engine's `nr_buf_size`.
    pub stride: usize,
    /// Print human-readable tables on stdout.
    pub text: bool,
    /// Pin the two processes of a pair to CPUs 0 and 1.
    pub pin: bool,
}

/// A measured throughput: what the receivers got, in Mpps.
#[derive(Clone, Debug, Default)]
struct Rates {
    /// Per receiver process.
    per_receiver: Vec<f64>,
    /// What the sender handed to its syncs (or sockets), Mpps: above the
    /// receivers' figure when frames are dropped on the way.
    sender: f64,
}

impl Rates {
    fn mean(&self) -> f64 {
        if self.per_receiver.is_empty() {
            0.0
        } else {
            self.per_receiver.iter().sum::<f64>() / self.per_receiver.len() as f64
        }
    }

    fn total(&self) -> f64 {
        self.per_receiver.iter().sum()
    }
}

/// Removes a domain's files if the children left any (a child that
/// crashed never closed its port).
struct DomainFiles {
    stem: String,
}

impl DomainFiles {
    fn new(domain: &str) -> Self {
        Self {
            stem: netmap_ring::rundir::file_stem(domain),
        }
    }
}

impl Drop for DomainFiles {
    fn drop(&mut self) {
        let dir = netmap_ring::rundir::runtime_dir();
        let _ = std::fs::remove_file(dir.join(format!("{}.mem", self.stem)));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let prefix = format!("{}.", self.stem);
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) && name.ends_with(".wake") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// One contender of a round: measures once, in Mpps.
type Measure<'a> = dyn FnMut(&mut Bench) -> Result<f64, BenchError> + 'a;

/// Runs the benchmarks of a [`Plan`].
pub struct Bench {
    plan: Plan,
    seq: u32,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
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

impl Bench {
    pub fn new(plan: Plan) -> Self {
        Self { plan, seq: 0 }
    }

    fn say(&self, line: &str) {
        if self.plan.text {
            println!("{line}");
        }
    }

    fn progress(&self, line: &str) {
        eprintln!("netmap-bench: {line}");
    }

    /// A fresh name for a switch (`vale<name>`) or pipe parent
    /// (`netmap:<name>`): `nmb<pid>_<n>`, unique among concurrent runs, and
    /// what `scripts/bench` looks for to clean up after a killed run.
    fn unique(&mut self) -> String {
        self.seq += 1;
        format!("nmb{}_{}", std::process::id(), self.seq)
    }

    fn common(&self, ctl_file: &TempFile, batch: u32) -> Vec<String> {
        strings(&[
            "--ctl",
            &ctl_file.path().display().to_string(),
            "--secs",
            &self.plan.secs.to_string(),
            "--max-packets",
            &self.plan.max_packets.to_string(),
            "--batch",
            &batch.to_string(),
        ])
    }

    /// `--cpu N` for a sender (`sender == true`: CPU 0, a core of its own)
    /// or a receiver (CPU 1, shared by the receivers of a fan-out), when
    /// pinning is on.
    fn cpu(&self, sender: bool) -> Vec<String> {
        if self.plan.pin {
            strings(&["--cpu", if sender { "0" } else { "1" }])
        } else {
            Vec::new()
        }
    }

    fn control(&self) -> Result<(TempFile, Control), BenchError> {
        let file = TempFile::new("ctl");
        let ctl = Control::create(file.path())
            .map_err(|e| BenchError::Setup(format!("control file: {e}")))?;
        Ok((file, ctl))
    }

    // ---- one measurement of each kind --------------------------------

    /// Pipe master -> slave, 60-byte (or `len`) packets.
    fn pipe_once(&mut self, batch: u32, len: usize) -> Result<Rates, BenchError> {
        let name = self.unique();
        let _files = DomainFiles::new(&format!("if-{name}"));
        let (file, _ctl) = self.control()?;
        let mut rx = self.common(&file, batch);
        rx.splice(
            0..0,
            strings(&["port-rx", "--ports", &format!("netmap:{name}}}0")]),
        );
        rx.extend(self.cpu(false));
        let mut tx = self.common(&file, batch);
        tx.splice(
            0..0,
            strings(&[
                "port-tx",
                "--port",
                &format!("netmap:{name}{{0"),
                "--len",
                &len.to_string(),
            ]),
        );
        tx.extend(self.cpu(true));
        let (r, t) = run_measurement(
            &[ChildSpec::new("pipe rx", rx)],
            &[ChildSpec::new("pipe tx", tx)],
        )?;
        Ok(Rates {
            per_receiver: r.iter().map(mpps).collect(),
            sender: t.first().map(mpps).unwrap_or(0.0),
        })
    }

    /// VALE: one sender on port `a`; `groups[i]` receiving ports in
    /// receiver process `i`. Unicast (learned) when there is one receiving
    /// port, broadcast otherwise.
    fn vale_once(&mut self, batch: u32, len: usize, groups: &[usize]) -> Result<Rates, BenchError> {
        let switch = format!("vale{}", self.unique());
        let _files = DomainFiles::new(&switch);
        let (file, _ctl) = self.control()?;
        let total: usize = groups.iter().sum();
        let unicast = total == 1;
        // Enough buffers for every port's two rings.
        let bufs = ((total + 1) * 2 * RING_SLOTS + 4096).max(65536);
        let env = vec![("NETMAP_RS_BUFS".to_owned(), bufs.to_string())];
        let mut receivers = Vec::new();
        let mut next_port = 0;
        for (i, &count) in groups.iter().enumerate() {
            let ports: Vec<String> = (0..count)
                .map(|p| format!("{switch}:r{}", next_port + p))
                .collect();
            next_port += count;
            let mut args = strings(&["port-rx", "--ports", &ports.join(",")]);
            if unicast {
                args.extend(strings(&[
                    "--reply-to",
                    &format_mac(mac(1)),
                    "--src",
                    &format_mac(mac(2)),
                ]));
            }
            args.extend(self.common(&file, batch));
            args.extend(self.cpu(false));
            let mut spec = ChildSpec::new(&format!("vale rx {i}"), args);
            spec.env = env.clone();
            receivers.push(spec);
        }
        let dst = if unicast { mac(2) } else { BROADCAST };
        let mut args = strings(&[
            "port-tx",
            "--port",
            &format!("{switch}:a"),
            "--dst",
            &format_mac(dst),
            "--src",
            &format_mac(mac(1)),
            "--len",
            &len.to_string(),
            "--receivers",
            &groups.len().to_string(),
        ]);
        if unicast {
            args.push("--learn".into());
        }
        args.extend(self.common(&file, batch));
        args.extend(self.cpu(true));
        let mut sender = ChildSpec::new("vale tx", args);
        sender.env = env;
        let (r, t) = run_measurement(&receivers, &[sender])?;
        Ok(Rates {
            per_receiver: r.iter().map(mpps).collect(),
            sender: t.first().map(mpps).unwrap_or(0.0),
        })
    }

    /// The plain ring: one producer process; consumer process `i` drains
    /// `groups[i]` rings; with several rings the producer writes every
    /// packet to each.
    fn ring_once(
        &mut self,
        batch: u32,
        len: usize,
        copy: bool,
        groups: &[usize],
    ) -> Result<Rates, BenchError> {
        let stride = self.plan.stride;
        self.ring_with_stride(batch, len, copy, groups, stride)
    }

    /// [`Bench::ring_once`] with buffers `stride` bytes apart.
    fn ring_with_stride(
        &mut self,
        batch: u32,
        len: usize,
        copy: bool,
        groups: &[usize],
        stride: usize,
    ) -> Result<Rates, BenchError> {
        let (file, _ctl) = self.control()?;
        let geometry = Geometry {
            slots: RING_SLOTS,
            stride,
        };
        let mut files = Vec::new();
        let mut receivers = Vec::new();
        let mut all: Vec<PathBuf> = Vec::new();
        for (i, &count) in groups.iter().enumerate() {
            let mut mine = Vec::new();
            for _ in 0..count {
                let f = TempFile::new("ring");
                SpscRing::create(f.path(), geometry)
                    .map_err(|e| BenchError::Setup(e.to_string()))?;
                mine.push(f.path().display().to_string());
                all.push(f.path().to_owned());
                files.push(f);
            }
            let mut args = strings(&["ring-rx", "--shm", &mine.join(",")]);
            args.extend(self.common(&file, batch));
            args.extend(self.cpu(false));
            receivers.push(ChildSpec::new(&format!("ring rx {i}"), args));
        }
        let shm: Vec<String> = all.iter().map(|p| p.display().to_string()).collect();
        let mut args = strings(&[
            "ring-tx",
            "--shm",
            &shm.join(","),
            "--len",
            &len.to_string(),
            "--receivers",
            &groups.len().to_string(),
        ]);
        if copy {
            args.push("--copy".into());
        }
        args.extend(self.common(&file, batch));
        args.extend(self.cpu(true));
        let (r, t) = run_measurement(&receivers, &[ChildSpec::new("ring tx", args)])?;
        Ok(Rates {
            per_receiver: r.iter().map(mpps).collect(),
            sender: t.first().map(mpps).unwrap_or(0.0),
        })
    }

    /// AF_PACKET through the Linux bridge.
    fn bridge_once(&mut self, net: &BridgeNet, len: usize) -> Result<Rates, BenchError> {
        let (file, _ctl) = self.control()?;
        let mut rx = strings(&[
            "raw-rx",
            "--ifname",
            netns::RX_IF,
            "--reply-to",
            &format_mac(netns::TX_MAC),
            "--src",
            &format_mac(netns::RX_MAC),
        ]);
        rx.extend(self.common(&file, 64));
        rx.extend(self.cpu(false));
        let mut tx = strings(&[
            "raw-tx",
            "--ifname",
            netns::TX_IF,
            "--dst",
            &format_mac(netns::RX_MAC),
            "--src",
            &format_mac(netns::TX_MAC),
            "--len",
            &len.to_string(),
        ]);
        tx.extend(self.common(&file, 64));
        tx.extend(self.cpu(true));
        let mut rx = ChildSpec::new("bridge rx", rx);
        rx.wrapper = BridgeNet::exec_prefix(&net.rx_ns);
        let mut tx = ChildSpec::new("bridge tx", tx);
        tx.wrapper = BridgeNet::exec_prefix(&net.tx_ns);
        let (r, t) = run_measurement(&[rx], &[tx])?;
        Ok(Rates {
            per_receiver: r.iter().map(mpps).collect(),
            sender: t.first().map(mpps).unwrap_or(0.0),
        })
    }

    /// One ping-pong round: `kind` is `pipe`, `vale` or `ring`.
    fn latency_once(&mut self, kind: &str) -> Result<Value, BenchError> {
        let (file, _ctl) = self.control()?;
        // Kept until the children are done: removed on drop.
        let mut domain_files: Option<DomainFiles> = None;
        let mut ring_files: Vec<TempFile> = Vec::new();
        let (ping_target, pong_target) = match kind {
            "pipe" => {
                let name = self.unique();
                domain_files = Some(DomainFiles::new(&format!("if-{name}")));
                (
                    strings(&["--port", &format!("netmap:{name}{{0")]),
                    strings(&["--port", &format!("netmap:{name}}}0")]),
                )
            }
            "vale" => {
                let switch = format!("vale{}", self.unique());
                domain_files = Some(DomainFiles::new(&switch));
                (
                    strings(&["--port", &format!("{switch}:a")]),
                    strings(&["--port", &format!("{switch}:b")]),
                )
            }
            _ => {
                let geometry = Geometry {
                    slots: RING_SLOTS,
                    stride: self.plan.stride,
                };
                let there = TempFile::new("ping");
                let back = TempFile::new("pong");
                for f in [&there, &back] {
                    SpscRing::create(f.path(), geometry)
                        .map_err(|e| BenchError::Setup(e.to_string()))?;
                }
                let (t, b) = (
                    there.path().display().to_string(),
                    back.path().display().to_string(),
                );
                ring_files = vec![there, back];
                (
                    strings(&["--rings", &format!("{t},{b}")]),
                    strings(&["--rings", &format!("{b},{t}")]),
                )
            }
        };
        let mut pong = strings(&["pong"]);
        pong.extend(pong_target);
        pong.extend(strings(&[
            "--dst",
            &format_mac(mac(1)),
            "--src",
            &format_mac(mac(2)),
        ]));
        pong.extend(self.common(&file, 1));
        pong.extend(self.cpu(false));
        let mut ping = strings(&["ping"]);
        ping.extend(ping_target);
        ping.extend(strings(&[
            "--dst",
            &format_mac(mac(2)),
            "--src",
            &format_mac(mac(1)),
        ]));
        if self.plan.max_packets < 10_000 {
            ping.extend(strings(&["--warmup", "10"]));
        }
        ping.extend(self.common(&file, 1));
        ping.extend(self.cpu(true));
        let (_, results) = run_measurement(
            &[ChildSpec::new(&format!("{kind} pong"), pong)],
            &[ChildSpec::new(&format!("{kind} ping"), ping)],
        )?;
        drop((domain_files, ring_files));
        Ok(results.into_iter().next().unwrap_or(Value::Null))
    }

    // ---- rounds -------------------------------------------------------

    /// Runs `rounds` rounds of the contenders in turn (A B C A B C ...);
    /// returns each contender's per-round figure (`None` for a failed one).
    fn alternate(
        &mut self,
        what: &str,
        rounds: usize,
        contenders: &mut [&mut Measure<'_>],
    ) -> Vec<Vec<Option<f64>>> {
        let mut out = vec![Vec::new(); contenders.len()];
        for round in 0..rounds {
            for (i, measure) in contenders.iter_mut().enumerate() {
                let value = match measure(self) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.progress(&format!("{what}: round {}: {e}", round + 1));
                        None
                    }
                };
                out[i].push(value);
            }
        }
        out
    }

    // ---- the benchmarks ----------------------------------------------

    /// Pipe vs the plain descriptor ring.
    pub fn pipe(&mut self) -> Value {
        let batch = self.plan.batch;
        let rounds = self.plan.rounds;
        self.progress(&format!(
            "pipe: {rounds} rounds of pipe / plain ring, batch {batch}"
        ));
        let r = self.alternate(
            "pipe",
            rounds,
            &mut [
                &mut |b: &mut Self| b.pipe_once(batch, 60).map(|r| r.mean()),
                &mut |b: &mut Self| b.ring_once(batch, 60, false, &[1]).map(|r| r.mean()),
            ],
        );
        let ratio = ratios(&r[0], &r[1]);
        self.say(&format!(
            "pipe, 60-byte packets, batch {batch}: ours {} Mpps, plain ring {} Mpps, ratio {} (medians of {rounds} rounds)",
            show(median(&r[0])),
            show(median(&r[1])),
            show(median(&ratio))
        ));
        json!({
            "batch": batch,
            "frame_len": 60,
            "ours_mpps": series(&r[0]),
            "plain_ring_mpps": series(&r[1]),
            "ratio": series(&ratio),
        })
    }

    /// VALE unicast vs the one-copy ring and the Linux bridge.
    pub fn vale_unicast(&mut self) -> Value {
        let batch = self.plan.batch;
        let rounds = self.plan.rounds;
        netns::remove_leftovers(&self.plan.netns_prefix);
        let net = BridgeNet::create(&self.plan.netns_prefix);
        if let Err(why) = &net {
            self.progress(&format!("vale: Linux bridge baseline skipped: {why}"));
        }
        self.progress(&format!(
            "vale unicast: {rounds} rounds of VALE / one-copy ring{}, batch {batch}",
            if net.is_ok() { " / Linux bridge" } else { "" }
        ));
        let mut offered = Vec::new();
        let mut vale = |b: &mut Self| -> Result<f64, BenchError> {
            let rates = b.vale_once(batch, 60, &[1]);
            offered.push(rates.as_ref().ok().map(|r| r.sender));
            rates.map(|r| r.mean())
        };
        let r = match &net {
            Ok(net) => self.alternate(
                "vale unicast",
                rounds,
                &mut [
                    &mut vale,
                    &mut |b: &mut Self| b.ring_once(batch, 60, true, &[1]).map(|r| r.mean()),
                    &mut |b: &mut Self| b.bridge_once(net, 60).map(|r| r.mean()),
                ],
            ),
            Err(_) => {
                let mut r = self.alternate(
                    "vale unicast",
                    rounds,
                    &mut [&mut vale, &mut |b: &mut Self| {
                        b.ring_once(batch, 60, true, &[1]).map(|r| r.mean())
                    }],
                );
                r.push(vec![None; rounds]);
                r
            }
        };
        let bridge_skipped = net.as_ref().err().cloned();
        drop(net);
        let vs_copy = ratios(&r[0], &r[1]);
        let vs_bridge = ratios(&r[0], &r[2]);
        self.say(&format!(
            "VALE unicast, 60-byte frames, batch {batch}: ours {} Mpps (sender offered {}), one-copy ring {} Mpps (ratio {}), Linux bridge {} Mpps (ratio {})",
            show(median(&r[0])),
            show(median(&offered)),
            show(median(&r[1])),
            show(median(&vs_copy)),
            show(median(&r[2])),
            show(median(&vs_bridge)),
        ));
        if let Some(why) = &bridge_skipped {
            self.say(&format!("  (Linux bridge skipped: {why})"));
        }
        let bridge = if bridge_skipped.is_some() {
            Value::Null
        } else {
            series(&r[2])
        };
        let bridge_ratio = if bridge_skipped.is_some() {
            Value::Null
        } else {
            series(&vs_bridge)
        };
        json!({
            "batch": batch,
            "frame_len": 60,
            "ours_mpps": series(&r[0]),
            "ours_sender_mpps": series(&offered),
            "one_copy_ring_mpps": series(&r[1]),
            "linux_bridge_mpps": bridge,
            "ratio_vs_one_copy": series(&vs_copy),
            "ratio_vs_bridge": bridge_ratio,
            "bridge_skipped": bridge_skipped,
        })
    }

    /// VALE broadcast to four receiver processes vs a one-copy fan-out.
    pub fn vale_broadcast(&mut self) -> Value {
        let batch = self.plan.batch;
        let rounds = self.plan.rounds;
        let groups = [1; BROADCAST_RECEIVERS];
        self.progress(&format!(
            "vale broadcast: {rounds} rounds of 1 -> {BROADCAST_RECEIVERS} VALE / one-copy fan-out ring"
        ));
        let mut offered = Vec::new();
        let mut vale = |b: &mut Self| -> Result<f64, BenchError> {
            let rates = b.vale_once(batch, 60, &groups);
            offered.push(rates.as_ref().ok().map(|r| r.sender));
            rates.map(|r| r.mean())
        };
        let r = self.alternate(
            "vale broadcast",
            rounds,
            &mut [&mut vale, &mut |b: &mut Self| {
                b.ring_once(batch, 60, true, &groups).map(|r| r.mean())
            }],
        );
        let ratio = ratios(&r[0], &r[1]);
        self.say(&format!(
            "VALE broadcast 1 -> {BROADCAST_RECEIVERS}, 60-byte frames: ours {} Mpps per receiver (sender offered {}), one-copy fan-out {} Mpps, ratio {}",
            show(median(&r[0])),
            show(median(&offered)),
            show(median(&r[1])),
            show(median(&ratio)),
        ));
        json!({
            "receivers": BROADCAST_RECEIVERS,
            "batch": batch,
            "frame_len": 60,
            "ours_mpps_per_receiver": series(&r[0]),
            "ours_sender_mpps": series(&offered),
            "one_copy_fanout_mpps_per_receiver": series(&r[1]),
            "ratio": series(&ratio),
        })
    }

    /// One point of a curve: ours vs baseline over `curve_rounds` rounds.
    fn point(
        &mut self,
        what: &str,
        ours: &mut Measure<'_>,
        base: &mut Measure<'_>,
    ) -> (Option<f64>, Option<f64>, Option<f64>) {
        let rounds = self.plan.curve_rounds;
        let r = self.alternate(what, rounds, &mut [ours, base]);
        let ratio = ratios(&r[0], &r[1]);
        (median(&r[0]), median(&r[1]), median(&ratio))
    }

    /// Frame size, batch and port-count curves.
    pub fn curve(&mut self) -> Value {
        let batch = self.plan.batch;
        let mut sizes = Vec::new();
        self.progress("curve: frame sizes (VALE unicast / one-copy ring)");
        self.say(&format!(
            "curve, VALE unicast by frame size (batch {batch}):"
        ));
        for len in self.plan.sizes.clone() {
            let (ours, base, ratio) = self.point(
                &format!("size {len}"),
                &mut |b: &mut Self| b.vale_once(batch, len, &[1]).map(|r| r.mean()),
                &mut |b: &mut Self| b.ring_once(batch, len, true, &[1]).map(|r| r.mean()),
            );
            // Gbps on the wire: frame plus FCS, preamble and gap (24 bytes).
            let gbps = ours.map(|m| m * ((len + 24) * 8) as f64 / 1000.0);
            self.say(&format!(
                "  {len:>5} bytes: ours {} Mpps ({} Gbps), one-copy ring {} Mpps, ratio {}",
                show(ours),
                show(gbps),
                show(base),
                show(ratio)
            ));
            sizes.push(json!({
                "frame_len": len, "ours_mpps": ours, "ours_gbps": gbps,
                "one_copy_ring_mpps": base, "ratio": ratio,
            }));
        }
        let mut batches = Vec::new();
        self.progress("curve: batch sizes (VALE unicast / one-copy ring, pipe / plain ring)");
        self.say("curve, by batch (60-byte frames):");
        for b in self.plan.batches.clone() {
            let (vale, vale_base, vale_ratio) = self.point(
                &format!("vale batch {b}"),
                &mut |x: &mut Self| x.vale_once(b, 60, &[1]).map(|r| r.mean()),
                &mut |x: &mut Self| x.ring_once(b, 60, true, &[1]).map(|r| r.mean()),
            );
            let (pipe, pipe_base, pipe_ratio) = self.point(
                &format!("pipe batch {b}"),
                &mut |x: &mut Self| x.pipe_once(b, 60).map(|r| r.mean()),
                &mut |x: &mut Self| x.ring_once(b, 60, false, &[1]).map(|r| r.mean()),
            );
            self.say(&format!(
                "  batch {b:>4}: VALE {} Mpps (one-copy ring {}, ratio {}); pipe {} Mpps (plain ring {}, ratio {})",
                show(vale),
                show(vale_base),
                show(vale_ratio),
                show(pipe),
                show(pipe_base),
                show(pipe_ratio)
            ));
            batches.push(json!({
                "batch": b,
                "vale_mpps": vale, "one_copy_ring_mpps": vale_base, "vale_ratio": vale_ratio,
                "pipe_mpps": pipe, "plain_ring_mpps": pipe_base, "pipe_ratio": pipe_ratio,
            }));
        }
        let mut ports = Vec::new();
        self.progress("curve: port counts (VALE broadcast fan-out / one-copy fan-out ring)");
        self.say(
            "curve, VALE broadcast by switch ports (1 sender, the others in one receiver process):",
        );
        for n in self.plan.ports.clone() {
            let fanout = (n.max(2) - 1) as usize;
            let (ours, base, ratio) = self.point(
                &format!("{n} ports"),
                &mut |x: &mut Self| x.vale_once(batch, 60, &[fanout]).map(|r| r.total()),
                &mut |x: &mut Self| x.ring_once(batch, 60, true, &[fanout]).map(|r| r.total()),
            );
            let per_port = ours.map(|m| m / fanout as f64);
            self.say(&format!(
                "  {n:>3} ports: ours {} M deliveries/s ({} Mpps per port), one-copy fan-out {} M/s, ratio {}",
                show(ours),
                show(per_port),
                show(base),
                show(ratio)
            ));
            ports.push(json!({
                "ports": n, "ours_deliveries_mpps": ours, "ours_mpps_per_port": per_port,
                "one_copy_fanout_deliveries_mpps": base, "ratio": ratio,
            }));
        }
        json!({ "size": sizes, "batch": batches, "ports": ports })
    }

    /// The one-copy ring with buffers 2048 and 2112 bytes apart: the
    /// measurement behind the engine's `nr_buf_size` of 2112.
    pub fn buffer_stride(&mut self) -> Value {
        let batch = self.plan.batch;
        let rounds = self.plan.rounds;
        self.progress(&format!(
            "buffer stride: {rounds} rounds of one-copy ring, stride 2048 / 2112"
        ));
        let r = self.alternate(
            "buffer stride",
            rounds,
            &mut [
                &mut |b: &mut Self| {
                    b.ring_with_stride(batch, 60, true, &[1], 2048)
                        .map(|r| r.mean())
                },
                &mut |b: &mut Self| {
                    b.ring_with_stride(batch, 60, true, &[1], 2112)
                        .map(|r| r.mean())
                },
            ],
        );
        let ratio = ratios(&r[1], &r[0]);
        self.say(&format!(
            "one-copy ring, 60-byte copies: stride 2048 {} Mpps, stride 2112 {} Mpps, ratio 2112/2048 {}",
            show(median(&r[0])),
            show(median(&r[1])),
            show(median(&ratio))
        ));
        json!({
            "stride_2048_mpps": series(&r[0]),
            "stride_2112_mpps": series(&r[1]),
            "ratio_2112_vs_2048": series(&ratio),
        })
    }

    /// Both ends in one process and one thread (TX batch, then RX drain):
    /// the engine's own cost per packet, without any cache line crossing
    /// between cores.
    pub fn single_process(&mut self) -> Value {
        let batch = self.plan.batch;
        let rounds = self.plan.rounds.min(5);
        let packets = if self.plan.max_packets == u64::MAX {
            (self.plan.secs * 10e6) as u64
        } else {
            self.plan.max_packets
        };
        self.progress(&format!(
            "single process: {rounds} rounds of pipe / VALE in one thread"
        ));
        let once = |b: &mut Self, kind: &str| -> Result<f64, BenchError> {
            let name = b.unique();
            let domain = if kind == "pipe" {
                format!("if-{name}")
            } else {
                format!("vale{name}")
            };
            let _files = DomainFiles::new(&domain);
            let (file, _ctl) = b.control()?;
            let mut args = strings(&["loop", "--kind", kind, "--name", &name]);
            args.extend(b.common(&file, batch));
            if let Some(i) = args.iter().position(|a| a == "--max-packets") {
                args[i + 1] = packets.to_string();
            }
            let (_, r) = run_measurement(&[], &[ChildSpec::new(&format!("{kind} loop"), args)])?;
            Ok(r.first().map(mpps).unwrap_or(0.0))
        };
        let r = self.alternate(
            "single process",
            rounds,
            &mut [&mut |b: &mut Self| once(b, "pipe"), &mut |b: &mut Self| {
                once(b, "vale")
            }],
        );
        let ns = |m: Option<f64>| m.filter(|m| *m > 0.0).map(|m| 1000.0 / m);
        self.say(&format!(
            "one process, one thread, batch {batch}: pipe {} Mpps ({} ns/packet), VALE {} Mpps ({} ns/packet)",
            show(median(&r[0])),
            show(ns(median(&r[0]))),
            show(median(&r[1])),
            show(ns(median(&r[1]))),
        ));
        json!({
            "batch": batch,
            "pipe_mpps": series(&r[0]),
            "vale_mpps": series(&r[1]),
            "pipe_ns_per_packet": ns(median(&r[0])),
            "vale_ns_per_packet": ns(median(&r[1])),
        })
    }

    /// Ping-pong round trips over a pipe, VALE and the plain rings.
    pub fn latency(&mut self) -> Value {
        let rounds = self.plan.rounds;
        self.progress(&format!(
            "latency: {rounds} rounds of pipe / VALE / plain ring ping-pong"
        ));
        let mut rows: Vec<Vec<Option<Value>>> = vec![Vec::new(); 3];
        for round in 0..rounds {
            for (i, kind) in ["pipe", "vale", "ring"].into_iter().enumerate() {
                let v = match self.latency_once(kind) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.progress(&format!("latency {kind}: round {}: {e}", round + 1));
                        None
                    }
                };
                rows[i].push(v);
            }
        }
        let field = |row: &[Option<Value>], key: &str| -> Vec<Option<f64>> {
            row.iter()
                .map(|v| v.as_ref().and_then(|v| v[key].as_f64()))
                .collect()
        };
        let summary = |row: &[Option<Value>]| -> Value {
            let med = field(row, "median_ns");
            let p99 = field(row, "p99_ns");
            json!({
                "median_ns": median(&med),
                "p99_ns": median(&p99),
                "rounds": row.iter().map(|v| v.clone().unwrap_or(Value::Null)).collect::<Vec<_>>(),
            })
        };
        let ring_med = field(&rows[2], "median_ns");
        let pipe_ratio = ratios(&field(&rows[0], "median_ns"), &ring_med);
        let vale_ratio = ratios(&field(&rows[1], "median_ns"), &ring_med);
        let out = json!({
            "pipe": summary(&rows[0]),
            "vale": summary(&rows[1]),
            "plain_ring": summary(&rows[2]),
            "ratio_pipe_vs_ring": series(&pipe_ratio),
            "ratio_vale_vs_ring": series(&vale_ratio),
        });
        for (label, key) in [
            ("pipe", "pipe"),
            ("VALE", "vale"),
            ("plain ring", "plain_ring"),
        ] {
            self.say(&format!(
                "round trip over {label}: median {} ns, p99 {} ns",
                show(out[key]["median_ns"].as_f64()),
                show(out[key]["p99_ns"].as_f64()),
            ));
        }
        self.say(&format!(
            "  ratios to the plain ring: pipe {}, VALE {}",
            show(median(&pipe_ratio)),
            show(median(&vale_ratio))
        ));
        out
    }
}

/// The targets of issues 4 and 15, checked against the medians in
/// `report`.
pub fn targets(report: &Map<String, Value>) -> Value {
    let get = |path: &[&str]| -> Option<f64> {
        let mut v = report.get(path[0])?;
        for key in &path[1..] {
            v = v.get(*key)?;
        }
        v.as_f64()
    };
    let check = |value: Option<f64>, target: f64, at_least: bool| {
        json!({
            "value": value,
            "target": target,
            "met": value.map(|v| if at_least { v >= target } else { v <= target }),
        })
    };
    json!({
        "pipe_mpps_at_least_100": check(get(&["pipe", "ours_mpps", "median"]), 100.0, true),
        "pipe_ratio_at_least_0_8": check(get(&["pipe", "ratio", "median"]), 0.8, true),
        "vale_mpps_at_least_20": check(get(&["vale_unicast", "ours_mpps", "median"]), 20.0, true),
        "vale_ratio_vs_one_copy_at_least_0_5": check(get(&["vale_unicast", "ratio_vs_one_copy", "median"]), 0.5, true),
        "vale_ratio_vs_bridge_at_least_30": check(get(&["vale_unicast", "ratio_vs_bridge", "median"]), 30.0, true),
        "vale_broadcast_ratio_at_least_0_5": check(get(&["vale_broadcast", "ratio", "median"]), 0.5, true),
        "pipe_rtt_median_at_most_2000_ns": check(get(&["latency", "pipe", "median_ns"]), 2000.0, false),
        "vale_rtt_median_at_most_2000_ns": check(get(&["latency", "vale", "median_ns"]), 2000.0, false),
    })
}
