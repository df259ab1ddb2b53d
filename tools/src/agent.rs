//! The forwarding agent of an attached NIC (`valectl --agent valeS:IF`,
//! started by `valectl -a`; see `attach.rs`).
//!
//! One thread serves both directions of every pair it holds (NIC and
//! switch port; host stack and switch port with `-h`): sync, move what
//! the rings hold in batches of up to a ring, sync again, and when
//! nothing moved sleep in poll() on all the ports' descriptors (the NIC's
//! epoll set, the switch port's wake-up FIFO). So an idle agent, or one
//! whose peer is the bottleneck, costs no CPU; a round that moved only a
//! trickle is followed by a 50 us sleep, so frames gather into batches
//! (interrupt coalescing). Each frame is copied once
//! by the agent, NIC buffer to switch buffer (or back); the switch's own
//! forwarding then copies it into the destination port as for any sender.
//!
//! It stops on SIGTERM/SIGINT (the detach), when its state file no longer
//! names it, or when the interface is gone; it closes its ports, which
//! gives the NIC back to the host stack (the XDP program goes with the
//! socket) and the switch port back to the switch.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use netmap_ring::name::{PortName, RingMode};
use netmap_ring::port::Port;

use crate::attach::{self, AgentState, NicTarget};
use crate::bridge::{forward, wait_any, DirectionCounters};
use crate::error::ToolError;
use crate::signal;

/// Frames moved per direction per round: a whole ring.
const BATCH: u64 = 1024;
/// Longest sleep between two looks at the stop conditions.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// Shortest time between two rewrites of the state file's counters.
const STATE_EVERY: Duration = Duration::from_millis(500);
/// A round that moved fewer frames than this is a trickle: the agent lets
/// frames gather before the next one (as a NIC coalesces interrupts).
const SMALL_ROUND: u64 = 32;
/// How long a trickle gathers, unless `NETMAP_RS_AGENT_COALESCE_US` says.
const COALESCE: Duration = Duration::from_micros(50);

/// A NIC-side port and the switch port it is bridged to.
struct Pair {
    nic: Port,
    nic_name: String,
    vale: Port,
    vale_name: String,
    up: DirectionCounters,
    down: DirectionCounters,
}

impl Pair {
    fn open(nic_name: PortName, switch: &str, port: &str) -> Result<Self, ToolError> {
        let shown = nic_name.to_string();
        let nic = Port::open_parsed(&netmap_nic::NicBackend::default(), nic_name, 0)
            .map_err(|e| ToolError::port(&shown, e))?;
        let vale_name = format!("{switch}:{port}");
        let vale = vale_soft::open(&vale_name).map_err(|e| ToolError::port(&vale_name, e))?;
        Ok(Self {
            nic,
            nic_name: shown,
            vale,
            vale_name,
            up: DirectionCounters::default(),
            down: DirectionCounters::default(),
        })
    }

    /// One round both ways; returns the frames moved.
    fn round(&mut self, scratch: &mut [u8]) -> Result<u64, ToolError> {
        let sync = |p: &Port, name: &str| -> Result<(), ToolError> {
            p.rxsync().map_err(|e| ToolError::sync(name, e))?;
            p.txsync().map_err(|e| ToolError::sync(name, e))
        };
        sync(&self.nic, &self.nic_name)?;
        sync(&self.vale, &self.vale_name)?;
        let up = forward(&self.nic, &self.vale, false, BATCH, scratch, &mut self.up);
        let down = forward(&self.vale, &self.nic, false, BATCH, scratch, &mut self.down);
        if up > 0 {
            self.vale
                .txsync()
                .map_err(|e| ToolError::sync(&self.vale_name, e))?;
        }
        if down > 0 {
            self.nic
                .txsync()
                .map_err(|e| ToolError::sync(&self.nic_name, e))?;
        }
        Ok(up + down)
    }
}

/// The engine a NIC port got, as the state file names it.
fn engine_of(port: &Port) -> String {
    match netmap_nic::counters(port) {
        Some(c) if c.engine() == netmap_nic::NicEngine::Xdp && c.zero_copy() => "xdp-zc".into(),
        Some(c) if c.engine() == netmap_nic::NicEngine::Xdp => "xdp".into(),
        Some(c) if c.engine() == netmap_nic::NicEngine::Packet => "packet".into(),
        _ => "unknown".into(),
    }
}

/// Runs the agent for `arg` (`valeS:IF`) until told to stop.
pub fn run(arg: &str, host: bool) -> Result<(), ToolError> {
    signal::install();
    let target = NicTarget::parse(arg).ok_or_else(|| {
        ToolError::Usage(format!("{arg}: not valeS:IF with IF an interface here"))
    })?;
    let ifindex = netmap_nic::interface_index(&target.ifname).map_err(|e| ToolError::Io {
        what: target.ifname.clone(),
        source: e,
    })?;
    let mut pairs = vec![Pair::open(
        PortName::netmap(&target.ifname),
        &target.switch,
        &target.port(),
    )?];
    if host {
        let mut name = PortName::netmap(&target.ifname);
        name.mode = RingMode::Sw;
        pairs.push(Pair::open(name, &target.switch, &target.host_port())?);
    }
    let mut state = AgentState {
        pid: std::process::id(),
        switch: target.switch.clone(),
        ifname: target.ifname.clone(),
        host,
        engine: engine_of(&pairs[0].nic),
        ..AgentState::default()
    };
    state.store(&target).map_err(|e| ToolError::Io {
        what: "writing the agent's state".into(),
        source: e,
    })?;
    let mut scratch = vec![0u8; 65536];
    let coalesce = std::env::var("NETMAP_RS_AGENT_COALESCE_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(COALESCE, Duration::from_micros);
    let mut last_check = Instant::now();
    let mut last_store = Instant::now();
    let outcome = loop {
        if signal::stop_requested() {
            break Ok(());
        }
        let mut moved = 0;
        for pair in &mut pairs {
            match pair.round(&mut scratch) {
                Ok(n) => moved += n,
                Err(e) => return finish(&target, &state, Err(e)),
            }
        }
        if last_check.elapsed() >= IDLE_WAIT {
            last_check = Instant::now();
            if attach::read_state(&target).is_none_or(|s| s.pid != state.pid) {
                break Ok(()); // detached (the state file went)
            }
            if netmap_nic::interface_index(&target.ifname).ok() != Some(ifindex) {
                break Ok(()); // the interface was deleted
            }
        }
        if last_store.elapsed() >= STATE_EVERY {
            last_store = Instant::now();
            update(&mut state, &pairs);
            let _ = state.store(&target);
        }
        if moved > 0 && moved < SMALL_ROUND && !coalesce.is_zero() {
            // A sleep, not a spin: the sender and receiver need the CPU
            // more than the agent does.
            std::thread::sleep(coalesce);
        } else if moved == 0 {
            let ports: Vec<&Port> = pairs.iter().flat_map(|p| [&p.nic, &p.vale]).collect();
            if let Err(e) = wait_any(&ports, IDLE_WAIT, "agent") {
                break Err(e);
            }
        }
    };
    update(&mut state, &pairs);
    finish(&target, &state, outcome)
}

fn update(state: &mut AgentState, pairs: &[Pair]) {
    state.nic_to_switch = pairs[0].up.pkts;
    state.switch_to_nic = pairs[0].down.pkts;
    if let Some(host) = pairs.get(1) {
        state.host_to_switch = host.up.pkts;
        state.switch_to_host = host.down.pkts;
    }
    state.dropped = pairs.iter().map(|p| p.up.dropped + p.down.dropped).sum();
    state.nic_rx_dropped = netmap_nic::counters(&pairs[0].nic)
        .map_or(0, |c| c.get(netmap_nic::NicCounter::RxDropKernel));
}

fn finish(
    target: &NicTarget,
    state: &AgentState,
    outcome: Result<(), ToolError>,
) -> Result<(), ToolError> {
    attach::remove_state(target, state.pid);
    outcome
}
