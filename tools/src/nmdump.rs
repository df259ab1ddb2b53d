//! nmdump: tcpdump for netmap ports. Opens a copy monitor of the port
//! (`PORT/rt`, `/r` with `--rx`, `/t` with `--tx`) and prints one line per
//! frame, or writes pcapng (`-w`); stops after `-c` frames or on SIGINT
//! with a summary of the frames seen and the copies the monitor dropped.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use netmap_ring::abi::NS_TXMON;
use netmap_ring::port::{Interest, Port, SyncError};

use crate::backend::BackendChoice;
use crate::error::ToolError;
use crate::pcap::{Direction, PcapNgCapture};
use crate::signal;
use crate::wire::{EthernetFrame, Ipv4Packet, UdpPacket, ETHERTYPE_IPV4, IP_PROTO_UDP};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "nmdump",
    about = "Prints or captures the frames a netmap port receives and transmits, through a monitor port"
)]
pub struct Args {
    /// The port to watch (vale0:b, vale0:p{1, netmap:eth0).
    #[arg(short = 'i', value_name = "PORT")]
    pub port: String,
    /// Write the frames to this pcapng file instead of printing them.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Stop after this many frames (0: until interrupted).
    #[arg(short = 'c', value_name = "COUNT", default_value_t = 0)]
    pub count: u64,
    /// Only what the port receives.
    #[arg(long, conflicts_with = "tx")]
    pub rx: bool,
    /// Only what the port transmits.
    #[arg(long)]
    pub tx: bool,
    /// Which netmap backend opens the monitor.
    #[arg(long, env = netmap_backend::BACKEND_ENV, default_value = "soft")]
    pub backend: BackendChoice,
}

/// The monitor name for `port` and the directions asked for.
pub fn monitor_name(port: &str, rx: bool, tx: bool) -> Result<String, ToolError> {
    if port.contains('/') {
        return Err(ToolError::Usage(format!(
            "-i {port}: give the port without /flags; --rx and --tx choose the directions"
        )));
    }
    let suffix = match (rx, tx) {
        (true, false) => "r",
        (false, true) => "t",
        _ => "rt",
    };
    Ok(format!("{port}/{suffix}"))
}

/// The interfaces of the pcapng file: one per monitored direction.
fn interfaces(port: &str, rx: bool, tx: bool) -> Vec<(String, Direction)> {
    let mut out = Vec::new();
    if !tx {
        out.push((format!("{port} rx"), Direction::Inbound));
    }
    if !rx {
        out.push((format!("{port} tx"), Direction::Outbound));
    }
    out
}

/// `HH:MM:SS.nnnnnnnnn` (UTC) of `at`.
fn clock(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let day = since.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        day / 3600,
        day / 60 % 60,
        day % 60,
        since.subsec_nanos()
    )
}

/// One tcpdump-like line: time, direction, MACs, EtherType, and for IPv4
/// the addresses (and UDP ports and payload length).
pub fn describe(at: SystemTime, direction: Direction, frame: &[u8]) -> String {
    let dir = match direction {
        Direction::Inbound => "rx",
        Direction::Outbound => "tx",
    };
    let mut line = format!("{} {dir} ", clock(at));
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        let _ = write!(line, "truncated frame, length {}", frame.len());
        return line;
    };
    let ethertype = eth.ethertype();
    let name = match ethertype {
        ETHERTYPE_IPV4 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x8100 => "802.1Q",
        _ => "unknown",
    };
    let _ = write!(
        line,
        "{} > {}, ethertype {name} (0x{ethertype:04x}), length {}",
        eth.src_addr(),
        eth.dst_addr(),
        frame.len()
    );
    if ethertype != ETHERTYPE_IPV4 {
        return line;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        line.push_str(": bad IPv4 header");
        return line;
    };
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if ip.protocol() == IP_PROTO_UDP {
        if let Ok(udp) = UdpPacket::new_checked(ip.payload()) {
            let payload = usize::from(udp.len()).saturating_sub(UdpPacket::<&[u8]>::HEADER_LEN);
            let _ = write!(
                line,
                ": {src}.{} > {dst}.{}: UDP, length {payload}",
                udp.src_port(),
                udp.dst_port()
            );
            return line;
        }
    }
    let _ = write!(line, ": {src} > {dst}: ip-proto-{}", ip.protocol());
    line
}

/// What a run saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub seen: u64,
    /// Copies the monitor dropped (its ring was full), if the backend
    /// counts them.
    pub dropped: Option<u64>,
}

/// Where frames go.
enum Sink {
    Print(BufWriter<std::io::Stdout>),
    File(PcapNgCapture<BufWriter<std::fs::File>>),
}

/// Reads the monitor until `count` frames (0: no limit) or a stop request.
fn capture(monitor: &mut Port, name: &str, count: u64, sink: &mut Sink) -> Result<u64, ToolError> {
    let mut seen = 0u64;
    let mut frames = Vec::new();
    while !signal::stop_requested() && (count == 0 || seen < count) {
        match monitor.poll(Interest::RX, Some(Duration::from_millis(100))) {
            Ok(_) => {}
            // The monitored port closed: what was copied has been read.
            Err(SyncError::Gone(why)) => {
                eprintln!("nmdump: {why}");
                break;
            }
            Err(e) => return Err(ToolError::sync(name, e)),
        }
        let at = SystemTime::now();
        frames.clear();
        let want = if count == 0 {
            0
        } else {
            (count - seen) as usize
        };
        monitor.dispatch(want, |p| {
            let direction = if p.slot.flags & NS_TXMON != 0 {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            frames.push((direction, p.data.clone()));
        });
        for (direction, frame) in &frames {
            let io = |source| ToolError::Io {
                what: "output".into(),
                source,
            };
            match sink {
                Sink::Print(out) => {
                    writeln!(out, "{}", describe(at, *direction, frame)).map_err(io)?
                }
                Sink::File(file) => file.write(*direction, frame, at).map_err(io)?,
            }
        }
        seen += frames.len() as u64;
        if let Sink::Print(out) = sink {
            out.flush().map_err(|source| ToolError::Io {
                what: "output".into(),
                source,
            })?;
        }
    }
    Ok(seen)
}

/// Runs nmdump with `args`.
pub fn run(args: Args) -> Result<Summary, ToolError> {
    let name = monitor_name(&args.port, args.rx, args.tx)?;
    let mut monitor = args
        .backend
        .open(&name)
        .map_err(|e| ToolError::port(&name, e))?;
    signal::install();
    eprintln!("nmdump: listening on {name}");
    let mut sink = match &args.write {
        None => Sink::Print(BufWriter::new(std::io::stdout())),
        Some(path) => {
            let io = |source| ToolError::Io {
                what: path.display().to_string(),
                source,
            };
            let file = std::fs::File::create(path).map_err(io)?;
            let interfaces = interfaces(&args.port, args.rx, args.tx);
            Sink::File(PcapNgCapture::new(BufWriter::new(file), &interfaces).map_err(io)?)
        }
    };
    let seen = capture(&mut monitor, &name, args.count, &mut sink)?;
    // The last sync gave back the last slots; the count is final.
    let _ = monitor.rxsync();
    let dropped = monitor.rx_dropped();
    if let Sink::File(file) = sink {
        let path = args.write.as_ref().expect("a file sink has a path");
        file.finish(seen, dropped.unwrap_or(0), SystemTime::now())
            .map_err(|source| ToolError::Io {
                what: path.display().to_string(),
                source,
            })?;
    }
    Ok(Summary { seen, dropped })
}

/// nmdump's entry point.
pub fn main() -> std::process::ExitCode {
    let args = Args::parse();
    crate::error::run("nmdump", || {
        let summary = run(args)?;
        let dropped = summary
            .dropped
            .map_or("not counted by this backend".to_owned(), |d| d.to_string());
        eprintln!(
            "nmdump: {} frames seen, {dropped} dropped by the monitor",
            summary.seen
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EthernetAddress, EthernetRepr, UdpFrame};

    #[test]
    fn monitor_names_follow_the_directions() {
        assert_eq!(monitor_name("vale0:b", false, false).unwrap(), "vale0:b/rt");
        assert_eq!(monitor_name("vale0:b", true, false).unwrap(), "vale0:b/r");
        assert_eq!(monitor_name("vale0:b", false, true).unwrap(), "vale0:b/t");
        assert!(monitor_name("vale0:b/r", false, false).is_err());
    }

    #[test]
    fn a_udp_frame_reads_as_tcpdump_would_say_it() {
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: ETHERTYPE_IPV4,
        };
        let mut frame = vec![0; 60];
        UdpFrame::emit(
            &eth,
            ("10.0.0.1".parse().unwrap(), 1234),
            ("10.1.0.1".parse().unwrap(), 4321),
            &mut frame,
            |_| {},
        );
        let at = UNIX_EPOCH + Duration::new(3600 + 61, 5);
        assert_eq!(
            describe(at, Direction::Inbound, &frame),
            "01:01:01.000000005 rx 02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800), length 60: 10.0.0.1.1234 > 10.1.0.1.4321: UDP, length 18"
        );
        assert!(
            describe(at, Direction::Outbound, &[1, 2, 3]).ends_with("tx truncated frame, length 3")
        );
    }
}
