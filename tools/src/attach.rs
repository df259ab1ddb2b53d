//! `valectl -a valeS:IF` (and `-h`, `-d`): a NIC attached to a software
//! VALE switch, as netmap's `vale-ctl -a` attaches one.
//!
//! The software engine forwards inside the sender's sync, so frames that
//! arrive on a NIC need someone to sync for them: a forwarding agent, one
//! process per attached NIC (`valectl --agent`, started by the attach in
//! its own process group, stopped by the detach). It holds two ports, the
//! NIC (`netmap:IF`, AF_XDP or AF_PACKET) and the switch port `valeS:IF`,
//! and moves frames both ways (`agent.rs`); with `-h` also the host stack
//! (`netmap:IF^`, a TAP) and the switch port `valeS:IF_host`. Its state
//! file `<rundir>/<switch>@<IF>.agent` names its pid, what it holds and
//! its counters, for `valectl -l` / `--stats`.
#![forbid(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::ToolError;

/// How long an attach waits for its agent to hold both ports.
const START_LIMIT: Duration = Duration::from_secs(15);
/// How long a detach waits for the agent to stop before killing it.
const STOP_LIMIT: Duration = Duration::from_secs(5);

/// `valeS:IF` where IF is an interface of this network namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicTarget {
    pub switch: String,
    pub ifname: String,
}

impl NicTarget {
    /// Reads `valeS:IF`; `None` when it is not a switch name followed by
    /// an interface that exists here (then it is a VALE port name).
    /// Interface names are taken whole: `eth0.10` or `veth-1` are
    /// interfaces, not ring suffixes.
    pub fn parse(arg: &str) -> Option<Self> {
        let (switch, ifname) = arg.split_once(':')?;
        let switch_ok = switch.starts_with("vale")
            && switch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !switch_ok || ifname.is_empty() || netmap_nic::interface_index(ifname).is_err() {
            return None;
        }
        Some(Self {
            switch: switch.to_owned(),
            ifname: ifname.to_owned(),
        })
    }

    /// The switch port that stands for the NIC: the interface's name, with
    /// what VALE port names do not take (`.`, `-`) made `_`.
    pub fn port(&self) -> String {
        self.ifname
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }

    /// The switch port of the host stack (`-h`).
    pub fn host_port(&self) -> String {
        format!("{}_host", self.port())
    }

    /// The agent's standard error: read by a failed attach, removed with
    /// the state.
    fn log_path(&self) -> PathBuf {
        self.state_path().with_extension("log")
    }

    fn state_path(&self) -> PathBuf {
        netmap_ring::rundir::runtime_dir().join(format!(
            "{}@{}.agent",
            self.switch,
            netmap_ring::rundir::file_stem(&self.ifname)
        ))
    }
}

/// What an agent's state file says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentState {
    pub pid: u32,
    pub switch: String,
    pub ifname: String,
    /// The host stack is attached too (`-h`).
    pub host: bool,
    /// How the NIC is reached: `xdp` (AF_XDP copy mode) or `packet`.
    pub engine: String,
    pub nic_to_switch: u64,
    pub switch_to_nic: u64,
    pub host_to_switch: u64,
    pub switch_to_host: u64,
    /// Frames the agent could not move (bad slots).
    pub dropped: u64,
    /// Frames the kernel dropped before the NIC port took them (its RX
    /// queue full: the agent did not keep up).
    pub nic_rx_dropped: u64,
}

impl AgentState {
    fn render(&self) -> String {
        format!(
            "pid {}\nswitch {}\nifname {}\nhost {}\nengine {}\nnic_to_switch {}\n\
             switch_to_nic {}\nhost_to_switch {}\nswitch_to_host {}\ndropped {}\n\
             nic_rx_dropped {}\n",
            self.pid,
            self.switch,
            self.ifname,
            u8::from(self.host),
            self.engine,
            self.nic_to_switch,
            self.switch_to_nic,
            self.host_to_switch,
            self.switch_to_host,
            self.dropped,
            self.nic_rx_dropped
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let mut s = Self::default();
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            let num = || value.parse::<u64>().ok();
            match key {
                "pid" => s.pid = value.parse().ok()?,
                "switch" => s.switch = value.to_owned(),
                "ifname" => s.ifname = value.to_owned(),
                "host" => s.host = value == "1",
                "engine" => s.engine = value.to_owned(),
                "nic_to_switch" => s.nic_to_switch = num()?,
                "switch_to_nic" => s.switch_to_nic = num()?,
                "host_to_switch" => s.host_to_switch = num()?,
                "switch_to_host" => s.switch_to_host = num()?,
                "dropped" => s.dropped = num()?,
                "nic_rx_dropped" => s.nic_rx_dropped = num()?,
                _ => {}
            }
        }
        (s.pid != 0).then_some(s)
    }

    /// Writes the state file whole (a reader never sees half of it).
    pub(crate) fn store(&self, target: &NicTarget) -> std::io::Result<()> {
        let path = target.state_path();
        let temp = path.with_extension(format!("tmp{}", self.pid));
        std::fs::write(&temp, self.render())?;
        std::fs::rename(&temp, &path)
    }

    fn is_alive(&self) -> bool {
        // The pid is ours only while its command line is an agent's.
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == b"--agent"))
    }
}

/// The agent's state as its file says, if the file is there.
pub(crate) fn read_state(target: &NicTarget) -> Option<AgentState> {
    AgentState::parse(&std::fs::read_to_string(target.state_path()).ok()?)
}

/// Removes the state file if it still names `pid`.
pub(crate) fn remove_state(target: &NicTarget, pid: u32) {
    if read_state(target).is_some_and(|s| s.pid == pid) {
        let _ = std::fs::remove_file(target.state_path());
        let _ = std::fs::remove_file(target.log_path());
    }
}

fn io(what: String, source: std::io::Error) -> ToolError {
    ToolError::Io { what, source }
}

/// Starts the agent for `target` (with the host stack when `host`) and
/// waits until it holds its ports; its error, if it could not, is the
/// attach's error.
pub fn attach(target: &NicTarget, host: bool) -> Result<AgentState, ToolError> {
    if let Some(state) = read_state(target).filter(AgentState::is_alive) {
        return Err(ToolError::Usage(format!(
            "{}:{} is already attached (agent pid {})",
            target.switch, target.ifname, state.pid
        )));
    }
    let _ = std::fs::remove_file(target.state_path());
    let dir = netmap_ring::rundir::runtime_dir();
    netmap_ring::rundir::ensure_dir(&dir)
        .map_err(|e| io(format!("{}", dir.display()), std::io::Error::other(e)))?;
    let log_path = target.log_path();
    let log =
        std::fs::File::create(&log_path).map_err(|e| io(format!("{}", log_path.display()), e))?;
    let exe = std::env::current_exe().map_err(|e| io("finding valectl".into(), e))?;
    let mut command = Command::new(exe);
    command
        .arg("--agent")
        .arg(format!("{}:{}", target.switch, target.ifname));
    if host {
        command.arg("--agent-host");
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own process group: a Ctrl-C in the attaching shell does not
        // reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| io("starting the agent".into(), e))?;
    let started = Instant::now();
    loop {
        if let Some(state) = read_state(target).filter(|s| s.pid == child.id()) {
            return Ok(state);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let why = std::fs::read_to_string(&log_path).unwrap_or_default();
            let _ = std::fs::remove_file(&log_path);
            return Err(ToolError::Usage(format!(
                "attaching {}:{}: the agent stopped ({status}): {}",
                target.switch,
                target.ifname,
                why.trim()
            )));
        }
        if started.elapsed() > START_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ToolError::Usage(format!(
                "attaching {}:{}: the agent did not start within {START_LIMIT:?}",
                target.switch, target.ifname
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops the agent of `target` (SIGTERM, then SIGKILL after a while) and
/// removes its state; `None` when no agent was attached.
pub fn detach(target: &NicTarget) -> Result<Option<AgentState>, ToolError> {
    let Some(state) = read_state(target) else {
        return Ok(None);
    };
    if state.is_alive() {
        let pid = rustix::process::Pid::from_raw(state.pid as i32)
            .ok_or_else(|| ToolError::Usage("bad pid in the agent's state".into()))?;
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let started = Instant::now();
        while state.is_alive() && started.elapsed() < STOP_LIMIT {
            std::thread::sleep(Duration::from_millis(10));
        }
        if state.is_alive() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    let _ = std::fs::remove_file(target.state_path());
    let _ = std::fs::remove_file(target.log_path());
    Ok(Some(state))
}

/// Every agent with a state file, and whether it runs; the files of
/// agents that died are removed (the NIC went back to the stack when its
/// sockets closed; the switch reclaims its port at the next open).
pub fn agents() -> Vec<(AgentState, bool)> {
    let Ok(dir) = std::fs::read_dir(netmap_ring::rundir::runtime_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "agent") {
            continue;
        }
        let Some(state) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| AgentState::parse(&t))
        else {
            continue;
        };
        let alive = state.is_alive();
        if !alive {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("log"));
        }
        out.push((state, alive));
    }
    out.sort_by(|a, b| (&a.0.switch, &a.0.ifname).cmp(&(&b.0.switch, &b.0.ifname)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back() {
        let state = AgentState {
            pid: 42,
            switch: "vale0".into(),
            ifname: "eth0.10".into(),
            host: true,
            engine: "xdp".into(),
            nic_to_switch: 5,
            switch_to_nic: 6,
            host_to_switch: 7,
            switch_to_host: 8,
            dropped: 1,
            nic_rx_dropped: 2,
        };
        assert_eq!(AgentState::parse(&state.render()), Some(state));
    }

    #[test]
    fn switch_port_names_take_only_what_vale_takes() {
        let t = NicTarget {
            switch: "vale0".into(),
            ifname: "eth0.10-x".into(),
        };
        assert_eq!(t.port(), "eth0_10_x");
        assert_eq!(t.host_port(), "eth0_10_x_host");
    }

    #[test]
    fn a_vale_port_is_not_a_nic_target() {
        assert_eq!(NicTarget::parse("vale0:no_such_interface_x"), None);
        assert_eq!(NicTarget::parse("foo:lo"), None);
    }
}
