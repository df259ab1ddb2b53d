//! One port of the conformance suite's `process` fixture, in its own
//! process: it opens the port named on its first input line on the
//! software engine, tells the parent where the port's memory and wake-up
//! FIFO are, and then runs the syncs the parent asks for. The parent reads
//! and writes the rings directly in the shared domain file; only the
//! netmap "kernel" work (txsync, rxsync, arm, disarm) happens here, so
//! every port of a test lives in a process of its own.
//!
//! Protocol (stdin and stdout are one end of a socketpair, one line per
//! message; see `tests/tests/conformance/process.rs` for the other side):
//!
//! ```text
//! parent: open EXTRA_BUFS NAME
//! child:  ok PID FIFO_FD IF_OFFSET BUF_BASE BUF_SIZE NUM_BUFS NR_FLAGS
//!            TX_COUNT [ID:OFFSET:SLOTS]... RX_COUNT [ID:OFFSET:SLOTS]... PATH
//!      or err KIND DETAILS            (a refused registration; then exits)
//! parent: tx RING | rx RING | arm | disarm | close
//! child:  ok | closed | bad RING RINGERROR... | nosuch RING | gone WHY
//! ```
#![forbid(unsafe_code)]

use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;

use netmap_ring::name::PortName;
use netmap_ring::port::{Port, PortError, RingSpec, SyncError};
use netmap_ring::ring::RingError;
use vale_soft::domain::Domain;
use vale_soft::SoftBackend;

fn main() {
    // Die with the parent even if it is SIGKILLed (its end of the socket
    // closing would also end the loop below).
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = std::io::stdout().lock();
    let Some(Ok(first)) = lines.next() else {
        return;
    };
    let mut words = first.splitn(3, ' ');
    let (Some("open"), Some(extra), Some(name)) = (words.next(), words.next(), words.next()) else {
        let _ = writeln!(out, "err io bad first line {first:?}");
        return;
    };
    let extra: u32 = extra.parse().unwrap_or(0);
    let port = match Port::open_with_extra_bufs(&SoftBackend, name, extra) {
        Ok(port) => port,
        Err(e) => {
            let _ = writeln!(out, "err {}", encode_port_error(&e));
            return;
        }
    };
    let path = match domain_path(port.name()) {
        Ok(path) => path,
        Err(why) => {
            let _ = writeln!(out, "err io {why}");
            return;
        }
    };
    let layout = port.layout();
    let rings = |specs: &[RingSpec]| {
        let mut text = specs.len().to_string();
        for s in specs {
            text.push_str(&format!(" {}:{}:{}", s.id, s.offset, s.num_slots));
        }
        text
    };
    let _ = writeln!(
        out,
        "ok {} {} {} {} {} {} {} {} {} {}",
        std::process::id(),
        port.as_raw_fd(),
        layout.if_offset,
        layout.buffers.base,
        layout.buffers.buf_size,
        layout.buffers.num_bufs,
        layout.nr_flags,
        rings(&layout.tx_rings),
        rings(&layout.rx_rings),
        path
    );
    let position = |specs: &[RingSpec], id: u32| specs.iter().position(|s| s.id == id);
    for line in lines {
        let Ok(line) = line else { break };
        let mut words = line.split(' ');
        let command = words.next().unwrap_or("");
        let ring: Option<u32> = words.next().and_then(|w| w.parse().ok());
        let result = match (command, ring) {
            ("tx", Some(ring)) => match position(&port.layout().tx_rings, ring) {
                Some(n) => port.txsync_ring(n),
                None => Err(SyncError::NoSuchRing { ring }),
            },
            ("rx", Some(ring)) => match position(&port.layout().rx_rings, ring) {
                Some(n) => port.rxsync_ring(n),
                None => Err(SyncError::NoSuchRing { ring }),
            },
            ("arm", None) => {
                port.arm();
                Ok(())
            }
            ("disarm", None) => {
                port.disarm();
                Ok(())
            }
            ("close", None) => {
                drop(port);
                let _ = writeln!(out, "closed");
                return;
            }
            _ => Err(SyncError::Gone(format!("unknown command {line:?}"))),
        };
        let reply = match result {
            Ok(()) => "ok".to_owned(),
            Err(e) => encode_sync_error(&e),
        };
        if writeln!(out, "{reply}").is_err() {
            break;
        }
    }
}

/// The domain file holding the port's memory (what the parent maps).
fn domain_path(name: &PortName) -> Result<String, String> {
    let place = vale_offload::placement::placement(name).map_err(|e| e.to_string())?;
    let domain = Domain::open(&place.domain, place.domain_kind).map_err(|e| e.to_string())?;
    Ok(domain.path().display().to_string())
}

fn encode_port_error(e: &PortError) -> String {
    match e {
        PortError::Config { why, .. } => format!("config {why}"),
        PortError::Busy { owner, .. } => format!("busy {owner}"),
        PortError::SwitchFull { switch, max, .. } => format!("full {max} {switch}"),
        PortError::Unsupported { what, .. } => format!("unsupported {what}"),
        PortError::NoMemory { why, .. } => format!("nomem {why}"),
        PortError::Permission { why, .. } => format!("perm {why}"),
        other => format!("io {other}"),
    }
}

fn encode_sync_error(e: &SyncError) -> String {
    match e {
        SyncError::BadRing { ring, source } => format!("bad {ring} {}", encode_ring_error(source)),
        SyncError::NoSuchRing { ring } => format!("nosuch {ring}"),
        SyncError::Gone(why) => format!("gone {why}"),
    }
}

fn encode_ring_error(e: &RingError) -> String {
    match *e {
        RingError::NoSlots => "noslots".to_owned(),
        RingError::OutOfRange {
            index,
            value,
            num_slots,
        } => format!("range {index} {value} {num_slots}"),
        RingError::HeadOutsideWindow {
            head,
            hwcur,
            hwtail,
            num_slots,
        } => format!("headwin {head} {hwcur} {hwtail} {num_slots}"),
        RingError::CurOutsideWindow {
            cur,
            head,
            hwtail,
            num_slots,
        } => format!("curwin {cur} {head} {hwtail} {num_slots}"),
    }
}
