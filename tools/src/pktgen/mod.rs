//! pkt-gen: netmap's traffic generator and sink, with netmap's option
//! letters and report formats.
//!
//! - `tx`: sends frames as fast as the ring allows (or at `-R` pps),
//!   busy-polling with txsync; with `--pcap FILE`, the frames of a pcap or
//!   pcapng file (replay), `-n` times over;
//! - `rx`: counts received frames, waiting in poll() (or spinning with
//!   `--busy`), optionally writing them to a pcap file;
//! - `ping`: sends timestamped frames one at a time and prints round-trip
//!   percentiles; `pong`: echoes them back.
#![forbid(unsafe_code)]

pub mod frames;
mod ping;
mod run;
mod rx;
mod tx;

use std::time::Duration;

use clap::Parser;

use crate::addr::AddrRange;
use crate::backend::BackendChoice;
use crate::error::ToolError;
use crate::wire::EthernetAddress;
use frames::{FrameSpec, MAX_FRAME, MIN_FRAME};

/// What pkt-gen does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Function {
    Tx,
    Rx,
    Ping,
    Pong,
}

/// Command line (netmap's letters).
#[derive(Debug, Parser)]
#[command(
    name = "pkt-gen",
    about = "netmap's packet generator and sink, on netmap-rs ports",
    disable_help_flag = true
)]
pub struct Args {
    /// Port name (vale0:a, vale0:a{1, netmap:eth0{2, ...).
    #[arg(short = 'i', value_name = "PORT")]
    pub port: String,
    /// Function.
    #[arg(short = 'f', value_enum, default_value = "tx")]
    pub function: Function,
    /// Frame size in bytes without FCS (60..=1514); twice for a range the
    /// sizes cycle through.
    #[arg(short = 'l', value_name = "BYTES")]
    pub size: Vec<usize>,
    /// Packets per sync.
    #[arg(short = 'b', default_value_t = 512)]
    pub batch: u32,
    /// Packets to send or receive (0: until interrupted); for ping the
    /// pings sent, for pong the frames echoed.
    #[arg(short = 'n', default_value_t = 0)]
    pub count: u64,
    /// Send rate in packets per second (0: as fast as possible).
    #[arg(short = 'R', default_value_t = 0)]
    pub rate: u64,
    /// Threads, each on its own ring of the port.
    #[arg(short = 'p', default_value_t = 1)]
    pub threads: u32,
    /// Milliseconds between reports.
    #[arg(short = 'T', default_value_t = 1000)]
    pub report_ms: u64,
    /// Source MAC address.
    #[arg(short = 'S')]
    pub src_mac: Option<EthernetAddress>,
    /// Destination MAC address (default broadcast).
    #[arg(short = 'D')]
    pub dst_mac: Option<EthernetAddress>,
    /// Source IP[:PORT][-IP[:PORT]] (default 10.0.0.1:1234).
    #[arg(short = 's')]
    pub src: Option<String>,
    /// Destination IP[:PORT][-IP[:PORT]] (default 10.1.0.1:1234).
    #[arg(short = 'd')]
    pub dst: Option<String>,
    /// Seconds to wait before starting, for the link (and the peer).
    #[arg(short = 'w', default_value_t = 0)]
    pub wait_secs: u64,
    /// Which netmap backend opens the port.
    #[arg(long, env = netmap_backend::BACKEND_ENV, default_value = "soft")]
    pub backend: BackendChoice,
    /// Spin on syncs instead of sleeping in poll() (rx, ping, pong).
    #[arg(long)]
    pub busy: bool,
    /// rx: write received frames to this pcap file. tx: send the frames
    /// of this pcap or pcapng file, in order (replay); `-n` then counts
    /// passes over the file (default one).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    /// ping: milliseconds to wait for each reply before counting it lost.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Print help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// Default source MAC: locally administered, different for the two ends
/// of a ping/pong pair so the switch learns both.
fn default_src_mac(function: Function) -> EthernetAddress {
    let last = match function {
        Function::Tx | Function::Ping => 1,
        Function::Rx | Function::Pong => 2,
    };
    EthernetAddress([0x02, 0, 0, 0, 0, last])
}

/// Validated settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: String,
    pub function: Function,
    pub frames: FrameSpec,
    pub batch: u32,
    pub count: u64,
    pub rate: u64,
    pub threads: u32,
    pub report: Duration,
    pub wait: Duration,
    pub backend: BackendChoice,
    pub busy: bool,
    pub pcap: Option<std::path::PathBuf>,
    /// tx with `--pcap`: the file's frames, sent in order.
    pub replay: Option<std::sync::Arc<Vec<Vec<u8>>>>,
    pub timeout: Duration,
}

impl Config {
    pub fn from_args(a: Args) -> Result<Self, ToolError> {
        let usage = |s: String| Err(ToolError::Usage(s));
        let (size_min, size_max) = match a.size.as_slice() {
            [] => (MIN_FRAME, MIN_FRAME),
            [one] => (*one, *one),
            [x, y] => ((*x).min(*y), (*x).max(*y)),
            _ => return usage("-l is given at most twice (a size range)".into()),
        };
        if size_min < MIN_FRAME || size_max > MAX_FRAME {
            return usage(format!(
                "-l {size_min}..{size_max}: sizes are {MIN_FRAME}..={MAX_FRAME} bytes"
            ));
        }
        if a.function == Function::Ping && size_min < MIN_FRAME {
            return usage("ping frames need 60 bytes".into());
        }
        if a.batch == 0 {
            return usage("-b: the batch is at least 1".into());
        }
        if a.threads == 0 {
            return usage("-p: at least one thread".into());
        }
        if a.threads > 1 && matches!(a.function, Function::Ping | Function::Pong) {
            return usage("-p: ping and pong run one thread".into());
        }
        if a.pcap.is_some() && !matches!(a.function, Function::Rx | Function::Tx) {
            return usage("--pcap is for -f rx (capture) and -f tx (replay)".into());
        }
        let mut count = a.count;
        let replay = match (&a.pcap, a.function) {
            (Some(path), Function::Tx) => {
                if a.threads > 1 {
                    return usage(
                        "--pcap replay runs one thread (-p 1): frames go in order".into(),
                    );
                }
                let frames = crate::pcap::read_frames(path)
                    .map_err(|e| ToolError::Usage(format!("--pcap {}: {e}", path.display())))?;
                if frames.is_empty() {
                    return usage(format!(
                        "--pcap {}: the file holds no frame",
                        path.display()
                    ));
                }
                // -n counts passes over the file.
                count = a.count.max(1) * frames.len() as u64;
                Some(std::sync::Arc::new(frames))
            }
            _ => None,
        };
        let addr = |text: &Option<String>, default: &str| {
            AddrRange::parse(text.as_deref().unwrap_or(default), 1234)
                .map_err(|e| ToolError::Usage(e.to_string()))
        };
        Ok(Config {
            frames: FrameSpec {
                src_mac: a.src_mac.unwrap_or(default_src_mac(a.function)),
                dst_mac: a.dst_mac.unwrap_or(EthernetAddress::BROADCAST),
                src: addr(&a.src, "10.0.0.1:1234")?,
                dst: addr(&a.dst, "10.1.0.1:1234")?,
                size_min,
                size_max,
            },
            port: a.port,
            function: a.function,
            batch: a.batch,
            count,
            rate: a.rate,
            threads: a.threads,
            report: Duration::from_millis(a.report_ms.max(1)),
            wait: Duration::from_secs(a.wait_secs),
            backend: a.backend,
            busy: a.busy,
            pcap: if replay.is_some() { None } else { a.pcap },
            replay,
            timeout: Duration::from_millis(a.timeout_ms.max(1)),
        })
    }
}

/// pkt-gen's entry point.
pub fn main() -> std::process::ExitCode {
    let args = Args::parse();
    crate::error::run("pkt-gen", || run::run(Config::from_args(args)?))
}
