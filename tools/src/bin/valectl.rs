//! valectl: netmap's switch administration tool, for the software engine.
//!
//! `valectl` / `valectl -l [SWITCH]` lists switches and ports; `-n`/`-r`
//! create and delete persistent ports; `-a`/`-d` attach and detach (a
//! NIC, `valeS:IF`, through a forwarding agent); `-h valeS:IF` attaches a
//! NIC with its host stack, as vale-ctl's `-h` (help is `--help`);
//! `--macs SWITCH` dumps the MAC table (`brctl showmacs` style);
//! `--stats [SWITCH]` and `--reset SWITCH` show and zero counters;
//! `--json` prints one JSON object instead of text; `--watch [SWITCH]`
//! prints per-port packet and drop rates every `--interval` seconds,
//! `--count` times (on a device too, with `--backend`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use netmap_tools::error::{self, ToolError};
use netmap_tools::json::Json;
use netmap_tools::valectl::{self, Action};
use netmap_tools::watch;

#[derive(Debug, Parser)]
#[command(
    name = "valectl",
    about = "List and manage VALE switches of the netmap-rs software engine",
    disable_help_flag = true
)]
struct Args {
    /// List switches and their ports (optionally one switch).
    #[arg(short = 'l', value_name = "SWITCH", num_args = 0..=1, default_missing_value = "")]
    list: Option<String>,
    /// Create a persistent port (valeS:P[@conf:...]).
    #[arg(short = 'n', value_name = "PORT")]
    create: Option<String>,
    /// Remove a persistent port nobody holds.
    #[arg(short = 'r', value_name = "PORT")]
    remove: Option<String>,
    /// Attach: a NIC (valeS:IF, IF an interface here) through a forwarding
    /// agent; else make a port persistent, creating it if absent.
    #[arg(short = 'a', value_name = "PORT")]
    attach: Option<String>,
    /// Attach NIC IF and its host stack to switch S (valeS:IF), as ports
    /// IF and IF_host.
    #[arg(short = 'h', value_name = "valeS:IF")]
    attach_host: Option<String>,
    /// Run as the forwarding agent of an attached NIC (started by -a/-h).
    #[arg(long, value_name = "valeS:IF", hide = true)]
    agent: Option<String>,
    /// The agent also serves the host stack.
    #[arg(long, hide = true)]
    agent_host: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Detach: make a port non-persistent (it goes when unused); for a
    /// NIC (valeS:IF), stop its agent.
    #[arg(short = 'd', value_name = "PORT")]
    detach: Option<String>,
    /// Show the MAC table of a switch.
    #[arg(long, value_name = "SWITCH")]
    macs: Option<String>,
    /// Show counters (of every switch, or one).
    #[arg(long, value_name = "SWITCH", num_args = 0..=1, default_missing_value = "")]
    stats: Option<String>,
    /// Zero the counters of a switch.
    #[arg(long, value_name = "SWITCH")]
    reset: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Print per-port packet and drop rates every interval (of every
    /// switch, or one; of the device with --backend).
    #[arg(long, value_name = "SWITCH", num_args = 0..=1, default_missing_value = "")]
    watch: Option<String>,
    /// --watch: seconds between refreshes.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1.0,
        requires = "watch"
    )]
    interval: f64,
    /// --watch: refreshes to print (0: until interrupted).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "watch")]
    count: u64,
    /// Look at a device instead of the software engine (sim: the user's
    /// shared simulated NIC, sim:private, vfio-user:<socket>, vfio:<pci>):
    /// -l and --stats show its port table and counters.
    #[arg(long)]
    backend: Option<String>,
}

fn action(a: Args) -> Result<(Action, bool), ToolError> {
    let some = |s: String| (!s.is_empty()).then_some(s);
    let mut actions = Vec::new();
    if let Some(s) = a.list {
        actions.push(Action::List(some(s)));
    }
    if let Some(p) = a.create {
        actions.push(Action::Create(p));
    }
    if let Some(p) = a.remove {
        actions.push(Action::Remove(p));
    }
    if let Some(p) = a.attach {
        actions.push(Action::Attach(p));
    }
    if let Some(p) = a.attach_host {
        actions.push(Action::AttachHost(p));
    }
    if let Some(p) = a.detach {
        actions.push(Action::Detach(p));
    }
    if let Some(s) = a.macs {
        actions.push(Action::Macs(s));
    }
    if let Some(s) = a.stats {
        actions.push(Action::Stats(some(s)));
    }
    if let Some(s) = a.reset {
        actions.push(Action::Reset(s));
    }
    match actions.len() {
        0 => Ok((Action::List(None), a.json)),
        1 => Ok((actions.remove(0), a.json)),
        _ => Err(ToolError::Usage(
            "give one of -l -n -r -a -h -d --macs --stats --reset".into(),
        )),
    }
}

/// `-l`/`--stats` on a device: its port table and counters from BAR0.
fn device(spec: &str, action: &Action, json: bool) -> Result<(), ToolError> {
    if !matches!(action, Action::List(_) | Action::Stats(_)) {
        return Err(ToolError::Usage(
            "--backend: only -l and --stats look at a device".into(),
        ));
    }
    let spec: netmap_backend::BackendSpec = spec
        .parse()
        .map_err(|e: host_driver::spec::SpecError| ToolError::Usage(e.to_string()))?;
    let io = |what: &str, e: String| ToolError::Io {
        what: what.to_owned(),
        source: std::io::Error::other(e),
    };
    let Some(mut dev) = spec
        .open_device()
        .map_err(|e| io("opening the device", e.to_string()))?
    else {
        return Err(ToolError::Usage(
            "--backend soft: use valectl without --backend".into(),
        ));
    };
    let report = host_driver::report::device_report(dev.as_mut())
        .map_err(|e| io("reading the device", e.to_string()))?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(())
}

/// `--watch`: rates from the software engine or the device.
fn watch(args: &Args, switch: &str) -> Result<(), ToolError> {
    if !(args.interval.is_finite() && args.interval >= 0.01) {
        return Err(ToolError::Usage("--interval: at least 0.01 seconds".into()));
    }
    let interval = std::time::Duration::from_secs_f64(args.interval);
    let mut source: Box<dyn watch::Source> = match args.backend.as_deref().filter(|s| *s != "soft")
    {
        None => Box::new(watch::SoftSource {
            switch: (!switch.is_empty()).then(|| switch.to_owned()),
        }),
        Some(spec) => {
            let spec: netmap_backend::BackendSpec = spec
                .parse()
                .map_err(|e: host_driver::spec::SpecError| ToolError::Usage(e.to_string()))?;
            let device = spec
                .open_device()
                .map_err(|e| ToolError::Io {
                    what: "opening the device".into(),
                    source: std::io::Error::other(e.to_string()),
                })?
                .expect("a device spec opens a device");
            Box::new(watch::DeviceSource { device })
        }
    };
    watch::watch(
        source.as_mut(),
        interval,
        args.count,
        &mut std::io::stdout(),
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(target) = args.agent.clone() {
        return error::run("valectl --agent", || {
            netmap_tools::agent::run(&target, args.agent_host)
        });
    }
    let backend = args.backend.clone();
    error::run("valectl", || {
        if let Some(switch) = &args.watch {
            return watch(&args, switch);
        }
        let (action, json) = action(args)?;
        if let Some(spec) = backend.as_deref().filter(|s| *s != "soft") {
            return device(spec, &action, json);
        }
        let (text, value): (String, Json) = valectl::perform(&action)?;
        if json {
            println!("{value}");
        } else {
            print!("{text}");
        }
        Ok(())
    })
}
