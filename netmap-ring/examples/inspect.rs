//! Parses netmap port names and prints the registration request each one
//! stands for.
//!
//! ```text
//! cargo run -p netmap-ring --example inspect -- 'vale0:1{p/x@conf:rings=2'
//! cargo run -p netmap-ring --example inspect -- --legacy 'netmap:eth0{3'
//! ```
//!
//! `--legacy` switches the names after it to the older `nm_open` grammar.
//! A bad name prints the error with a caret under its position and makes
//! the exit status 1. Without names, a few examples are shown.

use std::process::ExitCode;

use netmap_ring::name::{parse_legacy, NameError, PipeRole, PortName, RingMode, Subsystem};

/// Shown when no name is given: one of each feature, and two bad names.
const DEMO: &[&str] = &[
    "netmap:eth0",
    "netmap:eth0-1/x@2",
    "netmap:eth0^",
    "vale0:1{pipe/T",
    "vale:0}pipe^3@conf:rings=4,tx-rings=2,slots=1024",
    "netmap:eth0*@share=vale0:1@offset:initial=64,bits=8",
    "vale1:a@extmem:file=/dev/shm/pool,buf-num=4096",
    "netmap:eth0@2/R@3",
    "netmap:vale0:0",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        println!("No names given; some examples (the last two are invalid):\n");
        for name in DEMO {
            report(name, name.parse());
        }
        return ExitCode::SUCCESS;
    }
    let mut legacy = false;
    let mut all_valid = true;
    for arg in &args {
        if arg == "--legacy" {
            legacy = true;
            continue;
        }
        let parsed = if legacy {
            parse_legacy(arg)
        } else {
            arg.parse()
        };
        all_valid &= parsed.is_ok();
        report(arg, parsed);
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(text: &str, parsed: Result<PortName, NameError>) {
    match parsed {
        Ok(name) => describe(text, &name),
        Err(error) => show_error(text, &error),
    }
    println!();
}

fn show_error(text: &str, error: &NameError) {
    // Count characters, not bytes, so the caret lines up under non-ASCII.
    let column = text
        .get(..error.pos)
        .map_or(error.pos, |before| before.chars().count());
    eprintln!("error: invalid port name");
    eprintln!("  {text}");
    eprintln!("  {:column$}^ {error}", "");
}

fn describe(text: &str, name: &PortName) {
    println!("{text}");
    let subsystem = match &name.subsystem {
        Subsystem::Netmap { ifname } => format!("NIC {ifname}"),
        Subsystem::Vale { port, .. } => format!(
            "port {port} of VALE switch {}",
            name.subsystem.switch_name().unwrap_or_default()
        ),
    };
    println!("  subsystem  {subsystem}");
    println!("  nr_name    {:?}", name.nr_name());
    let rings = match name.mode {
        RingMode::AllNic => "all NIC rings".to_owned(),
        RingMode::Sw => "host rings".to_owned(),
        RingMode::OneSw(ring) => format!("host ring pair {ring}"),
        RingMode::NicSw => "NIC and host rings".to_owned(),
        RingMode::OneNic(ring) => format!("NIC ring pair {ring}"),
    };
    println!(
        "  rings      {rings} (nr_mode {}, nr_ringid {})",
        name.mode.nr_reg(),
        name.mode.ring_id()
    );
    if let Some(pipe) = &name.pipe {
        let role = match pipe.role {
            PipeRole::Master => "master",
            PipeRole::Slave => "slave",
        };
        println!("  pipe       {role} end of pipe {:?}", pipe.id);
    }
    let flags: Vec<&str> = [
        (name.flags.exclusive, "exclusive"),
        (name.flags.zero_copy_monitor, "zero-copy monitor"),
        (name.flags.monitor_tx, "monitor tx"),
        (name.flags.monitor_rx, "monitor rx"),
        (name.flags.rx_rings_only, "rx rings only"),
        (name.flags.tx_rings_only, "tx rings only"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, label)| *label)
    .collect();
    if !flags.is_empty() {
        println!(
            "  flags      {} (nr_flags {:#x})",
            flags.join(", "),
            name.flags.nr_flags()
        );
    }
    if let Some(mem_id) = name.mem_id {
        println!("  mem_id     {mem_id}");
    }
    let conf = &name.options.conf;
    if !conf.is_empty() {
        let show = |value: Option<u32>| value.map_or("default".to_owned(), |v| v.to_string());
        println!(
            "  conf       tx rings {}, rx rings {}, host tx rings {}, host rx rings {}, \
             tx slots {}, rx slots {}",
            show(conf.tx_rings().map(u32::from)),
            show(conf.rx_rings().map(u32::from)),
            show(conf.host_tx_rings().map(u32::from)),
            show(conf.host_rx_rings().map(u32::from)),
            show(conf.tx_slots()),
            show(conf.rx_slots()),
        );
    }
    if let Some(port) = &name.options.share {
        println!("  share      memory of {port}");
    }
    if let Some(extmem) = &name.options.extmem {
        let pools: Vec<String> = [
            ("if-num", extmem.if_num),
            ("if-size", extmem.if_size),
            ("ring-num", extmem.ring_num),
            ("ring-size", extmem.ring_size),
            ("buf-num", extmem.buf_num),
            ("buf-size", extmem.buf_size),
        ]
        .iter()
        .filter_map(|(key, value)| value.map(|v| format!(", {key} {v}")))
        .collect();
        println!("  extmem     file {}{}", extmem.file, pools.concat());
    }
    if let Some(offset) = &name.options.offset {
        println!(
            "  offset     initial {}, bits {}",
            offset.initial,
            offset.bits.unwrap_or(0)
        );
    }
    println!("  canonical  {name}");
}
