//! The measured loops, each run in a child process of its own so that
//! "two processes" is real: senders and receivers of netmap ports, of the
//! plain ring, and of AF_PACKET sockets, and the ping-pong pairs.
//!
//! Every child follows the same script: set up (open ports, map rings),
//! print `ready`, wait for `go`, run, print one JSON line. A receiver
//! counts from its first packet for `--secs` (or `--max-packets`), then
//! bumps the control file's finished count; a sender stops when all its
//! receivers have finished. Every loop is also bounded by a hard deadline.

mod netmap;
mod pingpong;
mod plain;
mod raw;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::ctl::{self, Control};

/// How long a receiver waits for its first packet, and a pinger for a
/// reply, before giving up.
const FIRST_PACKET_TIMEOUT: Duration = Duration::from_secs(2);
/// Loop iterations between two looks at the clock.
const CLOCK_EVERY: u32 = 16;

/// Idle loop iterations (nothing sent or received) before yielding the
/// CPU: busy-polling stays busy while the peer runs on the other core, but
/// a peer that shares our core (the machine is shared) gets to run.
const SPINS_BEFORE_YIELD: u32 = 4096;

/// Counts idle iterations of a busy-polling loop and yields now and then;
/// also keeps the loop's totals (iterations, idle ones, yields), which the
/// children report so that a slow figure can be told apart: small batches
/// (many iterations per packet), a side waiting on the other (idle
/// iterations), or a side losing its core (yields).
#[derive(Default)]
struct Idle {
    spins: u32,
    loops: u64,
    idle_loops: u64,
    yields: u64,
}

impl Idle {
    /// Records whether the last iteration made progress.
    #[inline]
    fn progress(&mut self, moved: bool) {
        self.loops += 1;
        if moved {
            self.spins = 0;
        } else {
            self.idle_loops += 1;
            self.spins += 1;
            if self.spins >= SPINS_BEFORE_YIELD {
                self.spins = 0;
                self.yields += 1;
                std::thread::yield_now();
            }
        }
    }

    /// The totals as JSON fields of a child's result.
    fn report(&self, result: &mut Value) {
        if let Value::Object(map) = result {
            map.insert("loops".into(), json!(self.loops));
            map.insert("idle_loops".into(), json!(self.idle_loops));
            map.insert("yields".into(), json!(self.yields));
        }
    }
}

/// Options every role takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Control file of the measurement.
    #[arg(long)]
    pub ctl: PathBuf,
    /// Measuring window in seconds.
    #[arg(long, default_value_t = 0.2)]
    pub secs: f64,
    /// Stop after this many packets (or round trips) even within the window.
    #[arg(long, default_value_t = u64::MAX)]
    pub max_packets: u64,
    /// Slots handled per sync (or per index publication).
    #[arg(long, default_value_t = 256)]
    pub batch: u32,
    /// Run on this CPU only (two busy-polling processes stacked on one
    /// core measure the scheduler, not the data path).
    #[arg(long)]
    pub cpu: Option<usize>,
}

/// One child process's job.
#[derive(Subcommand, Debug)]
pub enum Role {
    /// Sends `--len`-byte frames through TX ring 0 of a netmap port.
    PortTx {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        port: String,
        #[arg(long, default_value = "02:00:00:00:00:02")]
        dst: String,
        #[arg(long, default_value = "02:00:00:00:00:01")]
        src: String,
        #[arg(long, default_value_t = 60)]
        len: usize,
        /// Receivers to wait for before stopping.
        #[arg(long, default_value_t = 1)]
        receivers: u32,
        /// Send one frame at set-up and wait for the receiver's reply
        /// before sending (so the switch has learned both addresses).
        #[arg(long)]
        learn: bool,
    },
    /// Counts frames arriving on RX ring 0 of one or more netmap ports.
    PortRx {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', required = true)]
        ports: Vec<String>,
        /// At `go`, send one frame to this MAC from the first port.
        #[arg(long)]
        reply_to: Option<String>,
        #[arg(long, default_value = "02:00:00:00:00:02")]
        src: String,
    },
    /// Pushes descriptors into one or more plain rings.
    RingTx {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', required = true)]
        shm: Vec<PathBuf>,
        #[arg(long, default_value_t = 60)]
        len: u16,
        /// Copy each packet's bytes into the ring's buffer pool.
        #[arg(long)]
        copy: bool,
        #[arg(long, default_value_t = 1)]
        receivers: u32,
    },
    /// Pops descriptors from one or more plain rings.
    RingRx {
        #[command(flatten)]
        common: Common,
        #[arg(long, value_delimiter = ',', required = true)]
        shm: Vec<PathBuf>,
    },
    /// Sends frames on an AF_PACKET socket.
    RawTx {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        ifname: String,
        #[arg(long)]
        dst: String,
        #[arg(long)]
        src: String,
        #[arg(long, default_value_t = 60)]
        len: usize,
        #[arg(long, default_value_t = 1)]
        receivers: u32,
    },
    /// Counts frames on an AF_PACKET socket.
    RawRx {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        ifname: String,
        /// At `go`, send one frame to this MAC (the bridge learns us).
        #[arg(long)]
        reply_to: String,
        #[arg(long)]
        src: String,
    },
    /// Sends one frame, waits for it to come back, repeats; reports the
    /// round-trip times.
    Ping {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "02:00:00:00:00:02")]
        dst: String,
        #[arg(long, default_value = "02:00:00:00:00:01")]
        src: String,
        /// Round trips not counted at the start.
        #[arg(long, default_value_t = 100)]
        warmup: u64,
    },
    /// Profiling aid: one process, one thread, moves `--max-packets`
    /// frames through a pipe, a VALE switch or a baseline ring,
    /// alternating a TX batch and an RX drain (run it under `valgrind
    /// --tool=callgrind`).
    Loop {
        #[command(flatten)]
        common: Common,
        /// `pipe`, `vale`, `broadcast` (one sender, four receivers) or
        /// `broadcast-full` (only the first receiver drains); the
        /// baselines `ring` (plain ring), `one-copy` (one-copy ring),
        /// `fan-out` (one-copy fan-out to four rings) or `fan-out-full`
        /// (only the first ring drained).
        #[arg(long, default_value = "pipe")]
        kind: String,
        /// Name suffix of the pipe or switch.
        #[arg(long, default_value = "prof")]
        name: String,
    },
    /// Sends back every frame it receives.
    Pong {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "02:00:00:00:00:01")]
        dst: String,
        #[arg(long, default_value = "02:00:00:00:00:02")]
        src: String,
    },
}

/// What a ping or pong talks through: a netmap port, or a pair of plain
/// rings (out, in).
#[derive(Args, Debug, Clone)]
pub struct Target {
    #[arg(long, conflicts_with = "rings")]
    pub port: Option<String>,
    #[arg(long, value_delimiter = ',')]
    pub rings: Vec<PathBuf>,
}

/// Runs a child role and prints its result line.
pub fn run(role: Role) -> i32 {
    die_with_parent();
    let common = match &role {
        Role::PortTx { common, .. }
        | Role::PortRx { common, .. }
        | Role::RingTx { common, .. }
        | Role::RingRx { common, .. }
        | Role::RawTx { common, .. }
        | Role::RawRx { common, .. }
        | Role::Ping { common, .. }
        | Role::Pong { common, .. }
        | Role::Loop { common, .. } => common,
    };
    if let Some(cpu) = common.cpu {
        pin_to(cpu);
    }
    let result = match role {
        Role::PortTx {
            common,
            port,
            dst,
            src,
            len,
            receivers,
            learn,
        } => netmap::port_tx(&common, &port, &dst, &src, len, receivers, learn),
        Role::PortRx {
            common,
            ports,
            reply_to,
            src,
        } => netmap::port_rx(&common, &ports, reply_to.as_deref(), &src),
        Role::RingTx {
            common,
            shm,
            len,
            copy,
            receivers,
        } => plain::ring_tx(&common, &shm, len, copy, receivers),
        Role::RingRx { common, shm } => plain::ring_rx(&common, &shm),
        Role::RawTx {
            common,
            ifname,
            dst,
            src,
            len,
            receivers,
        } => raw::raw_tx(&common, &ifname, &dst, &src, len, receivers),
        Role::RawRx {
            common,
            ifname,
            reply_to,
            src,
        } => raw::raw_rx(&common, &ifname, &reply_to, &src),
        Role::Ping {
            common,
            target,
            dst,
            src,
            warmup,
        } => pingpong::ping(&common, &target, &dst, &src, warmup),
        Role::Pong {
            common,
            target,
            dst,
            src,
        } => pingpong::pong(&common, &target, &dst, &src),
        Role::Loop { common, kind, name } => match kind.as_str() {
            "ring" | "one-copy" | "fan-out" | "fan-out-full" => {
                plain::in_process_loop(&common, &kind)
            }
            _ => netmap::in_process_loop(&common, &kind, &name),
        },
    };
    match result {
        Ok(value) => {
            ctl::report(&value);
            0
        }
        Err(why) => {
            ctl::report(&json!({ "error": why }));
            1
        }
    }
}

/// Children must not outlive a benchmark killed mid-way.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and touches no
    // memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
}

/// Binds this process to `cpu`; a failure (CPU offline, not allowed)
/// leaves it free to run anywhere, which only costs precision.
fn pin_to(cpu: usize) {
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return;
    }
    // SAFETY: cpu_set_t is plain data, valid all-zero; CPU_SET sets bit
    // `cpu` inside it, in range (checked above).
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    // SAFETY: `set` is a valid cpu_set_t and its size is passed; pid 0 is
    // this thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        eprintln!(
            "netmap-bench: cannot pin to CPU {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
}

type RoleResult = Result<Value, String>;

fn open_control(common: &Common) -> Result<Control, String> {
    Control::open(&common.ctl).map_err(|e| format!("{}: {e}", common.ctl.display()))
}

/// Says the receiver is done when dropped, also on an early error, so
/// that senders do not wait for it until their deadline.
struct FinishOnDrop<'a>(&'a Control);

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The window of a receiver: from its first packet, `secs` long or
/// `max_packets` packets.
struct Window {
    start: Option<Instant>,
    armed_at: Instant,
    secs: Duration,
    max_packets: u64,
    packets: u64,
    bytes: u64,
    iterations: u32,
    done_at: Option<Instant>,
}

impl Window {
    fn new(common: &Common) -> Self {
        Self {
            start: None,
            armed_at: Instant::now(),
            secs: Duration::from_secs_f64(common.secs),
            max_packets: common.max_packets,
            packets: 0,
            bytes: 0,
            iterations: 0,
            done_at: None,
        }
    }

    /// Adds what one loop iteration received; true while the window runs.
    #[inline]
    fn add(&mut self, packets: u64, bytes: u64) -> Result<bool, String> {
        if packets > 0 && self.start.is_none() {
            self.start = Some(Instant::now());
        }
        self.packets += packets;
        self.bytes += bytes;
        if self.packets >= self.max_packets {
            self.done_at = Some(Instant::now());
            return Ok(false);
        }
        self.iterations = self.iterations.wrapping_add(1);
        if self.iterations.is_multiple_of(CLOCK_EVERY) {
            let now = Instant::now();
            match self.start {
                Some(start) if now - start >= self.secs => {
                    self.done_at = Some(now);
                    return Ok(false);
                }
                None if now - self.armed_at >= FIRST_PACKET_TIMEOUT => {
                    return Err(format!("no packet arrived within {FIRST_PACKET_TIMEOUT:?}"));
                }
                _ => {}
            }
        }
        Ok(true)
    }

    fn result(&self) -> Value {
        let secs = match (self.start, self.done_at) {
            (Some(start), Some(end)) => (end - start).as_secs_f64(),
            _ => 0.0,
        };
        json!({ "packets": self.packets, "bytes": self.bytes, "secs": secs })
    }
}

/// A sender's stop condition: all receivers finished, or the deadline.
struct SendUntil<'a> {
    ctl: &'a Control,
    receivers: u32,
    deadline: Instant,
    iterations: u32,
}

impl<'a> SendUntil<'a> {
    fn new(ctl: &'a Control, common: &Common, receivers: u32) -> Self {
        Self {
            ctl,
            receivers,
            deadline: Instant::now()
                + FIRST_PACKET_TIMEOUT
                + Duration::from_secs_f64(common.secs)
                + Duration::from_secs(1),
            iterations: 0,
        }
    }

    #[inline]
    fn go_on(&mut self) -> bool {
        if self.ctl.finished() >= self.receivers {
            return false;
        }
        self.iterations = self.iterations.wrapping_add(1);
        !(self.iterations.is_multiple_of(CLOCK_EVERY) && Instant::now() >= self.deadline)
    }
}
