//! netmap-bench: the software engine's pipes and VALE switches measured
//! beside baselines (a plain shared-memory ring, with and without one
//! copy per packet, and the Linux bridge driven by AF_PACKET), each
//! measurement in separate processes, ours and the baseline alternating
//! in short rounds. `scripts/bench` is the entry point; see
//! docs/performance.md.

mod child;
mod ctl;
mod device;
mod frame;
mod netns;
mod procs;
mod rawsock;
mod spsc;
mod stats;
mod suites;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use suites::{Bench, Plan};

#[derive(Parser, Debug)]
#[command(
    name = "netmap-bench",
    about = "Benchmarks netmap pipes and VALE switches of the software engine against baselines"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Short rounds and few curve points: finishes within a minute.
    #[arg(long, conflicts_with = "smoke")]
    quick: bool,
    /// A few thousand packets per measurement: checks that everything
    /// runs; the figures mean nothing.
    #[arg(long)]
    smoke: bool,
    /// Print one JSON object with every figure and ratio (and nothing
    /// else) on stdout.
    #[arg(long)]
    json: bool,
    /// Run only these benchmarks.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Suite>,
    /// Rounds per benchmark (each round runs ours and every baseline once).
    #[arg(long)]
    rounds: Option<usize>,
    /// Seconds per measurement.
    #[arg(long)]
    secs: Option<f64>,
    /// Slots per sync for the headline figures.
    #[arg(long, default_value_t = 256)]
    batch: u32,
    /// Do not pin the two processes of a measurement to CPUs 0 and 1.
    #[arg(long)]
    no_pin: bool,
    /// Name prefix of the network namespaces the bridge baseline creates.
    #[arg(long)]
    netns_prefix: Option<String>,
    /// Where the ports live: soft (the software engine, the default, with
    /// every suite and baseline), or a device (sim, sim:private,
    /// vfio-user:<socket>, vfio:<pci>): then only the pipe and VALE
    /// throughput, with the device's cost per packet.
    #[arg(long, default_value = "soft")]
    backend: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Internal: one process of a measurement.
    #[command(hide = true)]
    Child {
        #[command(subcommand)]
        role: child::Role,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Suite {
    Pipe,
    Vale,
    Broadcast,
    Curve,
    Latency,
    Stride,
    Single,
    Scaling,
}

fn plan(cli: &Cli) -> Plan {
    let stride = netmap_ring::region::RegionConfig::default().buf_size as usize;
    let netns_prefix = cli
        .netns_prefix
        .clone()
        .unwrap_or_else(|| format!("nmb{}", std::process::id()));
    let base = Plan {
        mode: "full",
        rounds: 10,
        curve_rounds: 3,
        secs: 0.5,
        max_packets: u64::MAX,
        batch: cli.batch,
        sizes: vec![60, 128, 256, 512, 1024, 1514],
        batches: vec![1, 4, 16, 64, 256, 1024],
        ports: vec![2, 4, 8, 16, 32, 64],
        netns_prefix,
        stride,
        text: !cli.json,
        pin: !cli.no_pin && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2),
    };
    let mut plan = if cli.smoke {
        Plan {
            mode: "smoke",
            rounds: 1,
            curve_rounds: 1,
            secs: 0.02,
            max_packets: 5000,
            sizes: vec![60, 1514],
            batches: vec![1, 1024],
            ports: vec![2, 8],
            ..base
        }
    } else if cli.quick {
        Plan {
            mode: "quick",
            rounds: 5,
            curve_rounds: 2,
            secs: 0.2,
            sizes: vec![60, 512, 1514],
            batches: vec![1, 32, 1024],
            ports: vec![2, 8, 64],
            ..base
        }
    } else {
        base
    };
    if let Some(rounds) = cli.rounds {
        plan.rounds = rounds.max(1);
    }
    if let Some(secs) = cli.secs {
        plan.secs = secs.clamp(0.001, 10.0);
    }
    plan
}

fn main() {
    let cli = Cli::parse();
    if let Some(Command::Child { role }) = cli.command {
        std::process::exit(child::run(role));
    }
    let plan = plan(&cli);
    let wanted = |s: Suite| cli.only.is_empty() || cli.only.contains(&s);
    let mut report = Map::new();
    report.insert("mode".into(), plan.mode.into());
    report.insert(
        "settings".into(),
        serde_json::json!({
            "rounds": plan.rounds,
            "curve_rounds": plan.curve_rounds,
            "round_secs": plan.secs,
            "max_packets": if plan.max_packets == u64::MAX { Value::Null } else { plan.max_packets.into() },
            "batch": plan.batch,
            "ring_slots": 1024,
            "buf_stride": plan.stride,
            "pinned": plan.pin,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        }),
    );
    report.insert("backend".into(), cli.backend.clone().into());
    if cli.backend != "soft" {
        let (pipe, vale) = match device::run(
            &cli.backend,
            &plan,
            wanted(Suite::Pipe),
            wanted(Suite::Vale),
        ) {
            Ok(figures) => figures,
            Err(why) => {
                eprintln!("netmap-bench: {why}");
                std::process::exit(2);
            }
        };
        report.insert("pipe".into(), pipe);
        report.insert("vale_unicast".into(), vale);
        if cli.json {
            println!("{}", Value::Object(report));
        }
        return;
    }
    let mut bench = Bench::new(plan);
    let run =
        |report: &mut Map<String, Value>, key: &str, on: bool, f: &mut dyn FnMut() -> Value| {
            report.insert(key.into(), if on { f() } else { Value::Null });
        };
    run(&mut report, "pipe", wanted(Suite::Pipe), &mut || {
        bench.pipe()
    });
    run(
        &mut report,
        "vale_unicast",
        wanted(Suite::Vale),
        &mut || bench.vale_unicast(),
    );
    run(
        &mut report,
        "vale_broadcast",
        wanted(Suite::Broadcast),
        &mut || bench.vale_broadcast(),
    );
    run(
        &mut report,
        "vale_scaling",
        wanted(Suite::Scaling),
        &mut || bench.vale_scaling(),
    );
    run(&mut report, "curve", wanted(Suite::Curve), &mut || {
        bench.curve()
    });
    run(&mut report, "latency", wanted(Suite::Latency), &mut || {
        bench.latency()
    });
    run(
        &mut report,
        "buffer_stride",
        wanted(Suite::Stride),
        &mut || bench.buffer_stride(),
    );
    run(
        &mut report,
        "single_process",
        wanted(Suite::Single),
        &mut || bench.single_process(),
    );
    let targets = suites::targets(&report);
    if cli.json {
        report.insert("targets".into(), targets);
        println!("{}", Value::Object(report));
    } else {
        println!("targets:");
        if let Value::Object(t) = &targets {
            for (name, v) in t {
                let met = match v["met"].as_bool() {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "not measured",
                };
                println!("  {name}: {} ({met})", stats::show(v["value"].as_f64()));
            }
        }
    }
}
