//! The measured loops, each run in a child process of its own so that
//! "two processes" is real: senders and receivers of netmap ports, of the
//! plain ring, and of AF_PACKET sockets, and the ping-pong pairs.
//!
//! Every child follows the same script: set up (open ports, map rings),
//! print `ready`, wait for `go`, run, print one JSON line. A receiver
//! counts from its first packet for `--secs` (or `--max-packets`), then
//! bumps the control file's finished count; a sender stops when all its
//! receivers have finished. Every loop is also bounded by a hard deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use netmap_ring::port::Port;
use netmap_ring::ring;
use netmap_ring::view::RingView;
use serde_json::{json, Value};

use crate::ctl::{self, Control};
use crate::frame::{self, parse_mac};
use crate::rawsock::{RawSocket, RecvBuffers, MMSG_BATCH};
use crate::spsc::SpscRing;

/// How long a receiver waits for its first packet, and a pinger for a
/// reply, before giving up.
const FIRST_PACKET_TIMEOUT: Duration = Duration::from_secs(2);
/// Loop iterations between two looks at the clock.
const CLOCK_EVERY: u32 = 16;

/// Idle loop iterations (nothing sent or received) before yielding the
/// CPU: busy-polling stays busy while the peer runs on the other core, but
/// a peer that shares our core (the machine is shared) gets to run.
const SPINS_BEFORE_YIELD: u32 = 4096;

/// Counts idle iterations of a busy-polling loop and yields now and then.
#[derive(Default)]
struct Idle {
    spins: u32,
}

impl Idle {
    /// Records whether the last iteration made progress.
    #[inline]
    fn progress(&mut self, moved: bool) {
        if moved {
            self.spins = 0;
        } else {
            self.spins += 1;
            if self.spins >= SPINS_BEFORE_YIELD {
                self.spins = 0;
                std::thread::yield_now();
            }
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
    /// frames through a pipe or a VALE switch, alternating a TX batch and
    /// an RX drain (run it under `valgrind --tool=callgrind`).
    Loop {
        #[command(flatten)]
        common: Common,
        /// `pipe` or `vale`.
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
        } => port_tx(&common, &port, &dst, &src, len, receivers, learn),
        Role::PortRx {
            common,
            ports,
            reply_to,
            src,
        } => port_rx(&common, &ports, reply_to.as_deref(), &src),
        Role::RingTx {
            common,
            shm,
            len,
            copy,
            receivers,
        } => ring_tx(&common, &shm, len, copy, receivers),
        Role::RingRx { common, shm } => ring_rx(&common, &shm),
        Role::RawTx {
            common,
            ifname,
            dst,
            src,
            len,
            receivers,
        } => raw_tx(&common, &ifname, &dst, &src, len, receivers),
        Role::RawRx {
            common,
            ifname,
            reply_to,
            src,
        } => raw_rx(&common, &ifname, &reply_to, &src),
        Role::Ping {
            common,
            target,
            dst,
            src,
            warmup,
        } => ping(&common, &target, &dst, &src, warmup),
        Role::Pong {
            common,
            target,
            dst,
            src,
        } => pong(&common, &target, &dst, &src),
        Role::Loop { common, kind, name } => in_process_loop(&common, &kind, &name),
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

fn open_port(name: &str) -> Result<Port, String> {
    vale_offload::open(name).map_err(|e| format!("open {name}: {e}"))
}

/// Writes `frame` into the buffer of every slot of TX ring 0 (VALE keeps
/// its TX buffers, so this is done once, as pkt-gen does).
fn prefill(port: &Port, frame: &[u8]) -> Result<(), String> {
    let ring = port.tx_ring(0);
    for s in 0..ring.num_slots() {
        port.write_buf(ring.slot(s).buf_idx, frame)
            .map_err(|e| format!("prefill: {e}"))?;
    }
    Ok(())
}

/// Queues up to `count` frames of `len` bytes on `ring` (buffers already
/// filled); returns how many. Does not sync.
#[inline]
fn queue(ring: &RingView<'_>, count: u32, len: u16) -> u32 {
    let n = ring.num_slots();
    let mut cur = ring.cur();
    let k = ring::distance(cur, ring.tail(), n).min(count);
    for _ in 0..k {
        ring.set_len_flags(cur, len, 0);
        cur = ring::next(cur, n);
    }
    if k > 0 {
        ring.set_head(cur);
        ring.set_cur(cur);
    }
    k
}

/// Releases up to `count` received slots of `ring`; returns how many and
/// their bytes. Does not sync.
#[inline]
fn consume(ring: &RingView<'_>, count: u32) -> (u64, u64) {
    let n = ring.num_slots();
    let mut cur = ring.cur();
    let k = ring::distance(cur, ring.tail(), n).min(count);
    let mut bytes = 0u64;
    for _ in 0..k {
        bytes += u64::from(ring.slot(cur).len);
        cur = ring::next(cur, n);
    }
    if k > 0 {
        ring.set_head(cur);
        ring.set_cur(cur);
    }
    (u64::from(k), bytes)
}

/// Sends one frame (already in the buffers) and syncs.
fn send_one(port: &Port, len: u16) -> Result<(), String> {
    if queue(&port.tx_ring(0), 1, len) != 1 {
        return Err("TX ring full".into());
    }
    port.txsync_ring(0).map_err(|e| e.to_string())
}

/// Waits (busy) for at least one frame on RX ring 0 and releases all.
fn wait_one(port: &Port, timeout: Duration) -> Result<u64, String> {
    let until = Instant::now() + timeout;
    loop {
        port.rxsync_ring(0).map_err(|e| e.to_string())?;
        let (k, _) = consume(&port.rx_ring(0), u32::MAX);
        if k > 0 {
            return Ok(k);
        }
        if Instant::now() >= until {
            return Err(format!("nothing received within {timeout:?}"));
        }
    }
}

fn frame_len(len: usize) -> u16 {
    len.clamp(frame::MIN_FRAME, frame::MAX_FRAME) as u16
}

fn port_tx(
    common: &Common,
    name: &str,
    dst: &str,
    src: &str,
    len: usize,
    receivers: u32,
    learn: bool,
) -> RoleResult {
    let ctl = open_control(common)?;
    let port = open_port(name)?;
    let len = frame_len(len);
    prefill(
        &port,
        &frame::frame(parse_mac(dst)?, parse_mac(src)?, len.into()),
    )?;
    if learn {
        send_one(&port, len)?;
    }
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    if learn {
        wait_one(&port, FIRST_PACKET_TIMEOUT).map_err(|e| format!("learning reply: {e}"))?;
    }
    let ring = port.tx_ring(0);
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut idle = Idle::default();
    while until.go_on() {
        let k = queue(&ring, common.batch, len);
        sent += u64::from(k);
        idle.progress(k > 0);
        if let Err(e) = port.txsync_ring(0) {
            // The receiver closing its end of a pipe ends the run.
            if ctl.finished() >= receivers {
                break;
            }
            return Err(format!("txsync: {e}"));
        }
    }
    Ok(json!({ "packets": sent, "secs": started.elapsed().as_secs_f64() }))
}

fn port_rx(common: &Common, names: &[String], reply_to: Option<&str>, src: &str) -> RoleResult {
    let ctl = open_control(common)?;
    let ports = names
        .iter()
        .map(|name| open_port(name))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(dst) = reply_to {
        prefill(
            &ports[0],
            &frame::frame(parse_mac(dst)?, parse_mac(src)?, 60),
        )?;
    }
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    if reply_to.is_some() {
        // Drop the sender's learning frame, then let the switch learn us.
        for port in &ports {
            port.rxsync_ring(0).map_err(|e| e.to_string())?;
            consume(&port.rx_ring(0), u32::MAX);
        }
        send_one(&ports[0], 60)?;
    }
    let rings: Vec<RingView<'_>> = ports.iter().map(|p| p.rx_ring(0)).collect();
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (mut packets, mut bytes) = (0, 0);
        for (port, ring) in ports.iter().zip(&rings) {
            port.rxsync_ring(0).map_err(|e| format!("rxsync: {e}"))?;
            let (k, b) = consume(ring, common.batch);
            packets += k;
            bytes += b;
        }
        idle.progress(packets > 0);
        if !window.add(packets, bytes)? {
            break;
        }
    }
    Ok(window.result())
}

fn open_rings(paths: &[PathBuf]) -> Result<Vec<SpscRing>, String> {
    paths
        .iter()
        .map(|p| SpscRing::open(p).map_err(|e| e.to_string()))
        .collect()
}

fn ring_tx(common: &Common, paths: &[PathBuf], len: u16, copy: bool, receivers: u32) -> RoleResult {
    let ctl = open_control(common)?;
    let rings = open_rings(paths)?;
    let frame = frame::frame(frame::BROADCAST, frame::mac(1), len.into());
    for ring in &rings {
        ring.fill_tx_pool(&frame);
    }
    let mut producers: Vec<_> = rings.iter().map(|r| r.producer()).collect();
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let batch = common.batch as usize;
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut idle = Idle::default();
    if let [producer] = producers.as_mut_slice() {
        // One ring: the common case, without the fan-out loop.
        while until.go_on() {
            let k = if copy {
                producer.push(batch, len, true)
            } else {
                producer.push(batch, len, false)
            };
            sent += k as u64;
            idle.progress(k > 0);
        }
    } else {
        // Fan-out: the batch goes to every ring, as a broadcast does; a
        // full ring loses what does not fit (VALE is not lossless either).
        while until.go_on() {
            let mut most = 0;
            for producer in &mut producers {
                most = most.max(producer.push(batch, len, copy));
            }
            sent += most as u64;
            idle.progress(most > 0);
        }
    }
    Ok(json!({ "packets": sent, "secs": started.elapsed().as_secs_f64() }))
}

fn ring_rx(common: &Common, paths: &[PathBuf]) -> RoleResult {
    let ctl = open_control(common)?;
    let rings = open_rings(paths)?;
    let mut consumers: Vec<_> = rings.iter().map(|r| r.consumer()).collect();
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let batch = common.batch as usize;
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (mut packets, mut bytes) = (0, 0);
        for consumer in &mut consumers {
            let (k, b) = consumer.pop(batch);
            packets += k as u64;
            bytes += b;
        }
        idle.progress(packets > 0);
        if !window.add(packets, bytes)? {
            break;
        }
    }
    Ok(window.result())
}

fn raw_tx(
    common: &Common,
    ifname: &str,
    dst: &str,
    src: &str,
    len: usize,
    receivers: u32,
) -> RoleResult {
    let ctl = open_control(common)?;
    let socket = RawSocket::bind(ifname, frame::ETHERTYPE).map_err(|e| e.to_string())?;
    let frame = frame::frame(parse_mac(dst)?, parse_mac(src)?, len.max(frame::MIN_FRAME));
    // Let the bridge learn us.
    socket.send(&frame).map_err(|e| e.to_string())?;
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    // Wait for the receiver's frame: the bridge then knows both ends.
    let mut bufs = RecvBuffers::default();
    let until = Instant::now() + FIRST_PACKET_TIMEOUT;
    while socket.recv_batch(&mut bufs).map_err(|e| e.to_string())?.0 == 0 {
        if Instant::now() >= until {
            return Err("learning reply did not arrive through the bridge".into());
        }
    }
    let batch = (common.batch as usize).clamp(1, MMSG_BATCH);
    let mut until = SendUntil::new(&ctl, common, receivers);
    let started = Instant::now();
    let (mut sent, mut errors) = (0u64, 0u64);
    while until.go_on() {
        match socket.send_batch(&frame, batch) {
            Ok(k) => sent += k as u64,
            // ENOBUFS and the like: the queue is full, try again.
            Err(_) => errors += 1,
        }
    }
    Ok(json!({ "packets": sent, "errors": errors, "secs": started.elapsed().as_secs_f64() }))
}

fn raw_rx(common: &Common, ifname: &str, reply_to: &str, src: &str) -> RoleResult {
    let ctl = open_control(common)?;
    let socket = RawSocket::bind(ifname, frame::ETHERTYPE).map_err(|e| e.to_string())?;
    let reply = frame::frame(parse_mac(reply_to)?, parse_mac(src)?, frame::MIN_FRAME);
    let mut bufs = RecvBuffers::default();
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    // Drop the sender's learning frame, then let the bridge learn us.
    while socket.recv_batch(&mut bufs).map_err(|e| e.to_string())?.0 > 0 {}
    socket.send(&reply).map_err(|e| e.to_string())?;
    let mut window = Window::new(common);
    let mut idle = Idle::default();
    loop {
        let (k, bytes) = socket.recv_batch(&mut bufs).map_err(|e| e.to_string())?;
        idle.progress(k > 0);
        if !window.add(k as u64, bytes)? {
            break;
        }
    }
    Ok(window.result())
}

/// One side of a ping-pong: sends one frame, or takes what arrived.
enum Endpoint {
    Port { port: Box<Port>, len: u16 },
    Rings { out: SpscRing, inbound: SpscRing },
}

impl Endpoint {
    fn open(target: &Target, dst: &str, src: &str) -> Result<Self, String> {
        match (&target.port, target.rings.as_slice()) {
            (Some(name), []) => {
                let port = open_port(name)?;
                let len = frame::MIN_FRAME as u16;
                prefill(
                    &port,
                    &frame::frame(parse_mac(dst)?, parse_mac(src)?, len.into()),
                )?;
                Ok(Endpoint::Port {
                    port: Box::new(port),
                    len,
                })
            }
            (None, [out, inbound]) => Ok(Endpoint::Rings {
                out: SpscRing::open(out).map_err(|e| e.to_string())?,
                inbound: SpscRing::open(inbound).map_err(|e| e.to_string())?,
            }),
            _ => Err("give --port, or --rings OUT,IN".into()),
        }
    }
}

fn ping(common: &Common, target: &Target, dst: &str, src: &str, warmup: u64) -> RoleResult {
    let ctl = open_control(common)?;
    let endpoint = Endpoint::open(target, dst, src)?;
    ctl::say_ready();
    let _finish = FinishOnDrop(&ctl);
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let window = Duration::from_secs_f64(common.secs);
    let cap = common.max_packets.min(4_000_000);
    let mut samples: Vec<u32> = Vec::with_capacity(cap.min(1 << 20) as usize);
    let mut trips = 0u64;
    let mut started: Option<Instant> = None;
    let mut round_trip = |send: &mut dyn FnMut() -> Result<(), String>,
                          recv: &mut dyn FnMut() -> Result<bool, String>|
     -> Result<bool, String> {
        let t0 = Instant::now();
        send()?;
        let mut spins = 0u32;
        let mut idle = Idle::default();
        while !recv()? {
            idle.progress(false);
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && t0.elapsed() >= FIRST_PACKET_TIMEOUT {
                return Err(format!("no reply within {FIRST_PACKET_TIMEOUT:?}"));
            }
        }
        let rtt = t0.elapsed();
        trips += 1;
        if trips > warmup {
            samples.push(rtt.as_nanos().min(u128::from(u32::MAX)) as u32);
            let start = *started.get_or_insert(t0);
            return Ok((samples.len() as u64) < cap && start.elapsed() < window);
        }
        Ok(true)
    };
    match endpoint {
        Endpoint::Port { port, len } => {
            let rx = port.rx_ring(0);
            let mut send = || send_one(&port, len);
            let mut recv = || -> Result<bool, String> {
                port.rxsync_ring(0).map_err(|e| e.to_string())?;
                Ok(consume(&rx, u32::MAX).0 > 0)
            };
            while round_trip(&mut send, &mut recv)? {}
        }
        Endpoint::Rings { out, inbound } => {
            let mut producer = out.producer();
            let mut consumer = inbound.consumer();
            let mut send = || {
                if producer.push(1, 60, false) == 1 {
                    Ok(())
                } else {
                    Err("ring full".into())
                }
            };
            let mut recv = || Ok(consumer.pop(usize::MAX).0 > 0);
            while round_trip(&mut send, &mut recv)? {}
        }
    }
    samples.sort_unstable();
    let pick = |q: f64| -> u32 {
        if samples.is_empty() {
            0
        } else {
            samples[((samples.len() - 1) as f64 * q).round() as usize]
        }
    };
    Ok(json!({
        "samples": samples.len(),
        "min_ns": pick(0.0),
        "median_ns": pick(0.5),
        "p99_ns": pick(0.99),
        "max_ns": pick(1.0),
    }))
}

fn pong(common: &Common, target: &Target, dst: &str, src: &str) -> RoleResult {
    let ctl = open_control(common)?;
    let endpoint = Endpoint::open(target, dst, src)?;
    ctl::say_ready();
    if !ctl::wait_go() {
        return Err("no go".into());
    }
    let mut until = SendUntil::new(&ctl, common, 1);
    let mut echoed = 0u64;
    match endpoint {
        Endpoint::Port { port, len } => {
            let rx = port.rx_ring(0);
            let tx = port.tx_ring(0);
            let mut idle = Idle::default();
            while until.go_on() {
                if port.rxsync_ring(0).is_err() {
                    break; // the pinger closed its end
                }
                let (k, _) = consume(&rx, u32::MAX);
                idle.progress(k > 0);
                if k > 0 {
                    queue(&tx, k as u32, len);
                    if port.txsync_ring(0).is_err() {
                        break;
                    }
                    echoed += k;
                }
            }
        }
        Endpoint::Rings { out, inbound } => {
            let mut producer = out.producer();
            let mut consumer = inbound.consumer();
            let mut idle = Idle::default();
            while until.go_on() {
                let (k, _) = consumer.pop(usize::MAX);
                idle.progress(k > 0);
                if k > 0 {
                    producer.push(k, 60, false);
                    echoed += k as u64;
                }
            }
        }
    }
    Ok(json!({ "packets": echoed }))
}

fn in_process_loop(common: &Common, kind: &str, name: &str) -> RoleResult {
    let (tx_name, rx_name) = match kind {
        "pipe" => (format!("netmap:{name}{{0"), format!("netmap:{name}}}0")),
        "vale" => (format!("vale{name}:a"), format!("vale{name}:b")),
        other => return Err(format!("unknown kind {other:?}: use pipe or vale")),
    };
    let rx = open_port(&rx_name)?;
    let tx = open_port(&tx_name)?;
    let len = frame::MIN_FRAME as u16;
    prefill(&tx, &frame::frame(frame::mac(2), frame::mac(1), len.into()))?;
    let total = common.max_packets.min(100_000_000);
    let (tx_ring, rx_ring) = (tx.tx_ring(0), rx.rx_ring(0));
    if common.ctl.exists() {
        ctl::say_ready();
        if !ctl::wait_go() {
            return Err("no go".into());
        }
    }
    let started = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    while received < total {
        sent += u64::from(queue(&tx_ring, common.batch, len));
        tx.txsync_ring(0).map_err(|e| e.to_string())?;
        rx.rxsync_ring(0).map_err(|e| e.to_string())?;
        let (k, _) = consume(&rx_ring, u32::MAX);
        if k == 0 && started.elapsed() > Duration::from_secs(60) {
            return Err("stalled".into());
        }
        received += k;
    }
    Ok(json!({ "packets": received, "sent": sent, "secs": started.elapsed().as_secs_f64() }))
}
