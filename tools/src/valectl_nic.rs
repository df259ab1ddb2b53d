//! valectl's NIC requests: `-a valeS:IF` / `-h valeS:IF` attach a NIC
//! (and its host stack) through a forwarding agent, `-d valeS:IF` stops
//! it; `-l` and `--stats` list the agents. See `attach.rs`.
#![forbid(unsafe_code)]

use std::fmt::Write;

use crate::attach::{self, AgentState, NicTarget};
use crate::error::ToolError;
use crate::json::Json;
use crate::valectl::Action;

fn agent_json(state: &AgentState, alive: bool) -> Json {
    Json::object([
        ("switch", Json::str(&state.switch)),
        ("interface", Json::str(&state.ifname)),
        ("pid", Json::UInt(u64::from(state.pid))),
        ("running", Json::Bool(alive)),
        ("host", Json::Bool(state.host)),
        ("engine", Json::str(&state.engine)),
        ("nic_to_switch", Json::UInt(state.nic_to_switch)),
        ("switch_to_nic", Json::UInt(state.switch_to_nic)),
        ("host_to_switch", Json::UInt(state.host_to_switch)),
        ("switch_to_host", Json::UInt(state.switch_to_host)),
        ("dropped", Json::UInt(state.dropped)),
        ("nic_rx_dropped", Json::UInt(state.nic_rx_dropped)),
    ])
}

fn agent_text(out: &mut String, state: &AgentState, alive: bool) {
    let engine = engine_name(&state.engine);
    let _ = writeln!(
        out,
        "  agent {}:{}{} pid {} ({}, {engine}): nic->switch {} switch->nic {}{} dropped {} \
         (kernel, NIC RX queue full: {})",
        state.switch,
        state.ifname,
        if state.host { " +host" } else { "" },
        state.pid,
        if alive { "running" } else { "dead, cleaned up" },
        state.nic_to_switch,
        state.switch_to_nic,
        if state.host {
            format!(
                " host->switch {} switch->host {}",
                state.host_to_switch, state.switch_to_host
            )
        } else {
            String::new()
        },
        state.dropped,
        state.nic_rx_dropped
    );
}

/// The state file's engine as people read it.
fn engine_name(engine: &str) -> &str {
    match engine {
        "xdp-zc" => "AF_XDP zero copy",
        "xdp" => "AF_XDP copy mode",
        "packet" => "AF_PACKET",
        other => other,
    }
}

/// Performs the NIC side of `action`, if it has one (`-a`/`-h`/`-d` on
/// an interface of this namespace).
pub fn perform(action: &Action) -> Result<Option<(String, Json)>, ToolError> {
    // What dead holders of host rings left moved goes back first.
    netmap_nic::restore_host_addresses();
    let (port, host) = match action {
        Action::Attach(p) => (p, false),
        Action::AttachHost(p) => (p, true),
        Action::Detach(p) => {
            let Some(target) = NicTarget::parse(p) else {
                return Ok(None);
            };
            let Some(state) = attach::detach(&target)? else {
                return Ok(None);
            };
            let text = format!(
                "{p}: detached (agent pid {} stopped; {} returned to the host stack)\n",
                state.pid, target.ifname
            );
            let json = Json::object([
                ("action", Json::str("detach")),
                ("port", Json::str(p)),
                ("ok", Json::Bool(true)),
                ("agent", agent_json(&state, false)),
            ]);
            return Ok(Some((text, json)));
        }
        _ => return Ok(None),
    };
    let Some(target) = NicTarget::parse(port) else {
        if host {
            return Err(ToolError::Usage(format!(
                "-h {port}: no interface {:?} here (-h attaches a NIC with its host stack)",
                port.split_once(':').map_or("", |(_, i)| i)
            )));
        }
        return Ok(None);
    };
    let state = attach::attach(&target, host)?;
    let mut text = format!(
        "{port}: attached as {}:{}{} (agent pid {}, {})\n",
        target.switch,
        target.port(),
        if host {
            format!(" and {}:{}", target.switch, target.host_port())
        } else {
            String::new()
        },
        state.pid,
        engine_name(&state.engine)
    );
    if host {
        text.push_str("  the host stack's addresses are on the TAP while attached\n");
    }
    let json = Json::object([
        (
            "action",
            Json::str(if host { "attach-host" } else { "attach" }),
        ),
        ("port", Json::str(port)),
        ("ok", Json::Bool(true)),
        ("agent", agent_json(&state, true)),
    ]);
    Ok(Some((text, json)))
}

/// Adds the agents to a `-l` or `--stats` answer.
pub fn with_agents(action: &Action, mut text: String, json: Json) -> (String, Json) {
    if !matches!(action, Action::List(_) | Action::Stats(_)) {
        return (text, json);
    }
    let agents = attach::agents();
    if !agents.is_empty() {
        text.push_str("NICs attached:\n");
    }
    for (state, alive) in &agents {
        agent_text(&mut text, state, *alive);
    }
    // No agents, no key: the answer of a host without NICs attached keeps
    // its shape.
    let json = match json {
        Json::Object(mut fields) if !agents.is_empty() => {
            fields.push((
                "agents".into(),
                Json::Array(agents.iter().map(|(s, a)| agent_json(s, *a)).collect()),
            ));
            Json::Object(fields)
        }
        other => other,
    };
    (text, json)
}
