//! The `process` fixture: every port in a process of its own.
//!
//! `register` starts `conformance-port` (tests/src/bin), which opens the
//! port on the software engine and reports where its rings are; this side
//! maps the same domain file and builds the `BindingLayout` from those
//! offsets, so the test's ring reads and writes are plain shared-memory
//! accesses while every sync (forwarding, learning, crossover) and every
//! arm/disarm runs in the port's own process, over a socketpair. The
//! wake-up FIFO is opened through `/proc/PID/fd/N`, so `poll()` here is
//! woken by the engine in whichever process moves the packets.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use netmap_ring::name::PortName;
use netmap_ring::port::{
    Backend, Binding, BindingLayout, BufferPool, Port, PortError, RingSpec, SyncError,
};
use netmap_ring::ring::{RingError, RingIndex};
use netmap_ring::shm::SharedRegion;

/// How long one request to a port process may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Pid of the process holding each open port, by canonical port name.
static OWNERS: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

/// The engine with each port in a child process.
#[derive(Default)]
pub struct ProcessBackend {
    /// Domain files already mapped, by (device, inode): every port of a
    /// switch shares one mapping here, as it would in one process.
    regions: Mutex<HashMap<(u64, u64), Weak<SharedRegion>>>,
}

impl ProcessBackend {
    /// The pid of the process that bound `port`.
    pub fn owner_of(port: &Port) -> u32 {
        let name = port.name().to_string();
        let owners = OWNERS.lock().unwrap_or_else(|p| p.into_inner());
        owners
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, pid)| *pid)
            .unwrap_or_else(|| panic!("no process holds {name}"))
    }

    fn region(&self, path: &str) -> std::io::Result<Arc<SharedRegion>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let meta = file.metadata()?;
        let key = (meta.dev(), meta.ino());
        let mut regions = self.regions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(region) = regions.get(&key).and_then(Weak::upgrade) {
            return Ok(region);
        }
        let region =
            Arc::new(SharedRegion::from_fd(OwnedFd::from(file)).map_err(std::io::Error::other)?);
        regions.insert(key, Arc::downgrade(&region));
        Ok(region)
    }
}

/// A port process; killed and reaped on drop if still running.
struct PortProcess {
    child: Child,
}

impl PortProcess {
    /// Waits (bounded) for the process to exit, killing it at the limit.
    fn finish(&mut self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PortProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Channel {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Channel {
    fn request(&mut self, line: &str) -> std::io::Result<String> {
        writeln!(self.writer, "{line}")?;
        let mut reply = String::new();
        if self.reader.read_line(&mut reply)? == 0 {
            return Err(std::io::Error::other("port process ended"));
        }
        Ok(reply.trim_end().to_owned())
    }
}

impl Backend for ProcessBackend {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn register(&self, name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError> {
        let text = name.to_string();
        let io = |source: std::io::Error| PortError::Io {
            name: text.clone(),
            source,
        };
        let (ours, theirs) = UnixStream::pair().map_err(io)?;
        let theirs_out = theirs.try_clone().map_err(io)?;
        let child = Command::new(env!("CARGO_BIN_EXE_conformance-port"))
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs_out)))
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(io)?;
        let mut process = PortProcess { child };
        ours.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
        let mut channel = Channel {
            reader: BufReader::new(ours.try_clone().map_err(io)?),
            writer: ours,
        };
        let reply = channel
            .request(&format!("open {extra_bufs} {text}"))
            .map_err(io)?;
        let Some(fields) = reply.strip_prefix("ok ") else {
            process.finish(REPLY_TIMEOUT);
            return Err(decode_port_error(&text, &reply));
        };
        let bad = |what: &str| io(std::io::Error::other(format!("{what} in {reply:?}")));
        let mut words = fields.split(' ');
        let mut next = |what: &str| -> Result<u64, PortError> {
            words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| bad(what))
        };
        let pid = next("pid")? as u32;
        let fifo_fd = next("fifo fd")?;
        let if_offset = next("if offset")? as usize;
        let buffers = BufferPool {
            base: next("buffer base")? as usize,
            buf_size: next("buffer size")? as u32,
            num_bufs: next("buffer count")? as u32,
        };
        let nr_flags = next("flags")?;
        let tx_count = next("tx ring count")?;
        let tx_rings = parse_rings(&mut words, tx_count).ok_or_else(|| bad("tx rings"))?;
        let rx_count = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| bad("rx ring count"))?;
        let rx_rings = parse_rings(&mut words, rx_count).ok_or_else(|| bad("rx rings"))?;
        let path: Vec<&str> = words.collect();
        let region = self.region(&path.join(" ")).map_err(io)?;
        // The port's own FIFO, reopened: what the engine writes when it
        // kicks this port wakes this side's poll().
        let wake = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(format!("/proc/{pid}/fd/{fifo_fd}"))
            .map_err(io)?;
        OWNERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((text.clone(), pid));
        Ok(Box::new(ProcessBinding {
            layout: BindingLayout {
                region,
                if_offset,
                tx_rings,
                rx_rings,
                buffers,
                nr_flags,
            },
            channel: Mutex::new(channel),
            process: Mutex::new(process),
            wake,
            name: text,
            pid,
        }))
    }
}

struct ProcessBinding {
    layout: BindingLayout,
    channel: Mutex<Channel>,
    process: Mutex<PortProcess>,
    wake: File,
    name: String,
    pid: u32,
}

impl ProcessBinding {
    fn call(&self, line: &str) -> Result<(), SyncError> {
        let mut channel = self.channel.lock().unwrap_or_else(|p| p.into_inner());
        let reply = channel
            .request(line)
            .map_err(|e| SyncError::Gone(format!("{}: {e}", self.name)))?;
        decode_sync_result(&reply)
    }
}

impl Binding for ProcessBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        self.call(&format!("tx {ring}"))
    }

    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        self.call(&format!("rx {ring}"))
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    fn arm(&self) {
        self.call("arm").expect("arm");
    }

    fn disarm(&self) {
        self.call("disarm").expect("disarm");
    }
}

impl Drop for ProcessBinding {
    /// Closes the port in its process and waits for the process to end,
    /// so the port is gone when `Port`'s drop returns, as on one process.
    fn drop(&mut self) {
        let closed = self
            .channel
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .request("close");
        let mut process = self.process.lock().unwrap_or_else(|p| p.into_inner());
        process.finish(if matches!(closed.as_deref(), Ok("closed")) {
            REPLY_TIMEOUT
        } else {
            Duration::ZERO
        });
        let mut owners = OWNERS.lock().unwrap_or_else(|p| p.into_inner());
        owners.retain(|(n, pid)| !(*n == self.name && *pid == self.pid));
    }
}

/// `count` words `ID:OFFSET:SLOTS`.
fn parse_rings<'a>(words: &mut impl Iterator<Item = &'a str>, count: u64) -> Option<Vec<RingSpec>> {
    (0..count)
        .map(|_| {
            let parts: Vec<u64> = words
                .next()?
                .split(':')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            match parts[..] {
                [id, offset, num_slots] => Some(RingSpec {
                    id: id as u32,
                    offset: offset as usize,
                    num_slots: num_slots as u32,
                }),
                _ => None,
            }
        })
        .collect()
}

fn decode_port_error(name: &str, reply: &str) -> PortError {
    let name = name.to_owned();
    let rest = reply.strip_prefix("err ").unwrap_or(reply);
    let (kind, details) = rest.split_once(' ').unwrap_or((rest, ""));
    let details = details.to_owned();
    match kind {
        "config" => PortError::Config { name, why: details },
        "busy" => PortError::Busy {
            name,
            owner: details.parse().unwrap_or(0),
        },
        "full" => {
            let (max, switch) = details.split_once(' ').unwrap_or(("0", ""));
            PortError::SwitchFull {
                name,
                switch: switch.to_owned(),
                max: max.parse().unwrap_or(0),
            }
        }
        "unsupported" => PortError::Unsupported {
            name,
            backend: "soft",
            what: details,
        },
        "nomem" => PortError::NoMemory { name, why: details },
        "perm" => PortError::Permission { name, why: details },
        _ => PortError::Io {
            name,
            source: std::io::Error::other(rest.to_owned()),
        },
    }
}

fn decode_sync_result(reply: &str) -> Result<(), SyncError> {
    let words: Vec<&str> = reply.split(' ').collect();
    let n = |i: usize| {
        words
            .get(i)
            .and_then(|w| w.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    match words[0] {
        "ok" => Ok(()),
        "nosuch" => Err(SyncError::NoSuchRing { ring: n(1) }),
        "bad" => {
            let source = match words.get(2).copied() {
                Some("range") => RingError::OutOfRange {
                    index: match words.get(3).copied() {
                        Some("head") => RingIndex::Head,
                        Some("cur") => RingIndex::Cur,
                        Some("hwcur") => RingIndex::Hwcur,
                        _ => RingIndex::Hwtail,
                    },
                    value: n(4),
                    num_slots: n(5),
                },
                Some("headwin") => RingError::HeadOutsideWindow {
                    head: n(3),
                    hwcur: n(4),
                    hwtail: n(5),
                    num_slots: n(6),
                },
                Some("curwin") => RingError::CurOutsideWindow {
                    cur: n(3),
                    head: n(4),
                    hwtail: n(5),
                    num_slots: n(6),
                },
                _ => RingError::NoSlots,
            };
            Err(SyncError::BadRing { ring: n(1), source })
        }
        _ => Err(SyncError::Gone(reply.to_owned())),
    }
}
