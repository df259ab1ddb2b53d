//! valectl's requests and their text and JSON renderings, over
//! `vale_soft::admin`.
#![forbid(unsafe_code)]

use std::fmt::Write;

use vale_offload::placement::{DomainKind, PortKind};
use vale_soft::admin::{self, AdminError, MacEntry, PortInfo, SwitchInfo};

use crate::error::ToolError;
use crate::json::Json;
use crate::wire::EthernetAddress;

/// One valectl request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `-l [SWITCH]`.
    List(Option<String>),
    /// `-n PORT`.
    Create(String),
    /// `-r PORT`.
    Remove(String),
    /// `-a PORT` (a NIC when PORT is `valeS:IF`, IF an interface here).
    Attach(String),
    /// `-h valeS:IF`: a NIC and its host stack.
    AttachHost(String),
    /// `-d PORT`.
    Detach(String),
    /// `--macs SWITCH`.
    Macs(String),
    /// `--stats [SWITCH]`.
    Stats(Option<String>),
    /// `--reset SWITCH`.
    Reset(String),
}

/// The name an application opens for a port of a domain.
pub fn full_name(domain: &str, port: &str) -> String {
    match domain.strip_prefix("if-") {
        Some(ifname) => format!("netmap:{ifname}{port}"),
        None => format!("{domain}:{port}"),
    }
}

fn kind_name(kind: PortKind) -> &'static str {
    match kind {
        PortKind::Vale => "vale",
        PortKind::PipeMaster => "pipe-master",
        PortKind::PipeSlave => "pipe-slave",
    }
}

/// Switches named by the request: one (which must exist) or all.
fn switches(which: &Option<String>) -> Result<Vec<SwitchInfo>, ToolError> {
    let names = match which {
        Some(name) => vec![name.clone()],
        None => admin::domain_names(),
    };
    let mut out = Vec::new();
    for name in names {
        let found = admin::open_existing(&name).and_then(|d| admin::describe(&d));
        match found {
            Ok(info) => out.push(info),
            // Listing everything: one that vanished meanwhile is skipped.
            Err(AdminError::NoSuchSwitch(_)) if which.is_none() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn port_json(switch: &str, p: &PortInfo, with_counters: bool) -> Json {
    let mut fields = vec![
        ("index", Json::UInt(u64::from(p.index))),
        ("name", Json::str(&p.name)),
        ("port", Json::str(full_name(switch, &p.name))),
        ("kind", Json::str(kind_name(p.kind))),
        (
            "owner_pid",
            if p.owner_pid == 0 {
                Json::Null
            } else {
                Json::UInt(u64::from(p.owner_pid))
            },
        ),
        ("persistent", Json::Bool(p.persistent)),
        ("tx_rings", Json::UInt(u64::from(p.geometry.tx_rings))),
        ("rx_rings", Json::UInt(u64::from(p.geometry.rx_rings))),
        ("tx_slots", Json::UInt(u64::from(p.geometry.tx_slots))),
        ("rx_slots", Json::UInt(u64::from(p.geometry.rx_slots))),
        ("peer", p.peer.as_ref().map_or(Json::Null, Json::str)),
    ];
    if with_counters {
        fields.push(("counters", counters_json(&p.counters)));
    }
    Json::object(fields)
}

fn counters_json(counters: &[(&'static str, u64)]) -> Json {
    Json::object(counters.iter().map(|&(n, v)| (n, Json::UInt(v))))
}

fn switch_json(s: &SwitchInfo, with_counters: bool) -> Json {
    let mut fields = vec![
        ("name", Json::str(&s.name)),
        (
            "kind",
            Json::str(match s.kind {
                DomainKind::Switch => "switch",
                DomainKind::Pipes => "pipes",
            }),
        ),
        (
            "mac_table",
            Json::object([
                ("rows", Json::UInt(u64::from(s.table_rows))),
                ("ways", Json::UInt(u64::from(s.table_ways))),
            ]),
        ),
        (
            "ports",
            Json::Array(
                s.ports
                    .iter()
                    .map(|p| port_json(&s.name, p, with_counters))
                    .collect(),
            ),
        ),
    ];
    fields.push((
        "monitors",
        Json::Array(
            s.monitors
                .iter()
                .map(|m| {
                    let mut f = vec![
                        ("index", Json::UInt(u64::from(m.index))),
                        ("port", Json::str(full_name(&s.name, &m.name))),
                        (
                            "watching",
                            m.watching
                                .as_ref()
                                .map_or(Json::Null, |w| Json::str(full_name(&s.name, w))),
                        ),
                        (
                            "owner_pid",
                            match m.owner_pid {
                                0 => Json::Null,
                                pid => Json::UInt(u64::from(pid)),
                            },
                        ),
                    ];
                    if with_counters {
                        f.push(("counters", counters_json(&m.counters)));
                    }
                    Json::object(f)
                })
                .collect(),
        ),
    ));
    if with_counters {
        fields.push(("counters", counters_json(&s.counters)));
    }
    Json::object(fields)
}

fn owner_text(p: &PortInfo) -> String {
    match (p.owner_pid, p.persistent) {
        (0, true) => "persistent, unused".into(),
        (0, false) => "unused".into(),
        (pid, true) => format!("persistent, pid {pid}"),
        (pid, false) => format!("pid {pid}"),
    }
}

fn list_text(infos: &[SwitchInfo]) -> String {
    let mut out = String::new();
    if infos.is_empty() {
        out.push_str("no switches\n");
    }
    for s in infos {
        let what = match s.kind {
            DomainKind::Switch => "switch",
            DomainKind::Pipes => "pipes of a NIC name",
        };
        let _ = writeln!(
            out,
            "{}: {what}, {} port(s), MAC table {} rows x {} way(s)",
            s.name,
            s.ports.len(),
            s.table_rows,
            s.table_ways
        );
        for p in &s.ports {
            let _ = writeln!(
                out,
                "  {:>3}  {:<24} {:<11} tx {}x{} rx {}x{}  {}",
                p.index,
                full_name(&s.name, &p.name),
                kind_name(p.kind),
                p.geometry.tx_rings,
                p.geometry.tx_slots,
                p.geometry.rx_rings,
                p.geometry.rx_slots,
                owner_text(p)
            );
        }
        for m in &s.monitors {
            let watching = m
                .watching
                .as_deref()
                .map_or("a closed port".to_owned(), |w| full_name(&s.name, w));
            let owner = match m.owner_pid {
                0 => "unused".to_owned(),
                pid => format!("pid {pid}"),
            };
            let _ = writeln!(
                out,
                "  mon  {:<24} monitor of {watching}  {owner}",
                full_name(&s.name, &m.name)
            );
        }
    }
    out
}

fn stats_text(infos: &[SwitchInfo]) -> String {
    let mut out = String::new();
    if infos.is_empty() {
        out.push_str("no switches\n");
    }
    for s in infos {
        let _ = writeln!(out, "{}:", s.name);
        for (name, value) in &s.counters {
            let _ = writeln!(out, "  {name:<18} {value}");
        }
        for p in &s.ports {
            let _ = writeln!(out, "  port {} {}:", p.index, full_name(&s.name, &p.name));
            for (name, value) in &p.counters {
                let _ = writeln!(out, "    {name:<18} {value}");
            }
        }
        for m in &s.monitors {
            let _ = writeln!(out, "  monitor {}:", full_name(&s.name, &m.name));
            // A monitor only receives: its rx counters say it all.
            for (name, value) in m.counters.iter().filter(|(n, _)| n.starts_with("rx_")) {
                let _ = writeln!(out, "    {name:<18} {value}");
            }
        }
    }
    out
}

/// `brctl showmacs` layout; the ageing timer is "-" since the table never
/// ages (netmap's does not either).
fn macs_text(entries: &[MacEntry]) -> String {
    let mut out = String::from("port no.\tmac addr\t\tis local?\tageing timer\tport name\n");
    for e in entries {
        let _ = writeln!(
            out,
            "{:>3}\t\t{}\tno\t\t{:>6}\t\t{}",
            e.port,
            EthernetAddress(e.mac),
            "-",
            e.port_name
        );
    }
    out
}

fn macs_json(switch: &str, entries: &[MacEntry]) -> Json {
    Json::object([
        ("switch", Json::str(switch)),
        (
            "entries",
            Json::Array(
                entries
                    .iter()
                    .map(|e| {
                        Json::object([
                            ("port", Json::UInt(u64::from(e.port))),
                            ("port_name", Json::str(&e.port_name)),
                            ("mac", Json::str(EthernetAddress(e.mac).to_string())),
                            ("is_local", Json::Bool(false)),
                            ("ageing_timer", Json::Null),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn done(
    action: &str,
    port: &str,
    text: String,
    extra: Vec<(&'static str, Json)>,
) -> (String, Json) {
    let mut fields = vec![
        ("action", Json::str(action)),
        ("port", Json::str(port)),
        ("ok", Json::Bool(true)),
    ];
    fields.extend(extra);
    (text, Json::object(fields))
}

/// Performs `action`; returns its text and JSON renderings.
pub fn perform(action: &Action) -> Result<(String, Json), ToolError> {
    if let Some(done) = crate::valectl_nic::perform(action)? {
        return Ok(done);
    }
    let (text, json) = perform_switch(action)?;
    Ok(crate::valectl_nic::with_agents(action, text, json))
}

/// Performs a request on switches and their ports.
fn perform_switch(action: &Action) -> Result<(String, Json), ToolError> {
    Ok(match action {
        Action::List(which) => {
            let infos = switches(which)?;
            (
                list_text(&infos),
                Json::object([(
                    "switches",
                    Json::Array(infos.iter().map(|s| switch_json(s, false)).collect()),
                )]),
            )
        }
        Action::Stats(which) => {
            let infos = switches(which)?;
            (
                stats_text(&infos),
                Json::object([(
                    "switches",
                    Json::Array(infos.iter().map(|s| switch_json(s, true)).collect()),
                )]),
            )
        }
        Action::Macs(switch) => {
            let domain = admin::open_existing(switch)?;
            let entries = admin::mac_table(&domain);
            (macs_text(&entries), macs_json(switch, &entries))
        }
        Action::Reset(switch) => {
            let domain = admin::open_existing(switch)?;
            admin::reset_counters(&domain);
            (
                format!("{switch}: counters reset\n"),
                Json::object([
                    ("action", Json::str("reset")),
                    ("switch", Json::str(switch)),
                    ("ok", Json::Bool(true)),
                ]),
            )
        }
        Action::Create(port) => {
            let index = admin::create_persistent(port)?;
            done(
                "create",
                port,
                format!("{port}: created as port {index}\n"),
                vec![("index", Json::UInt(u64::from(index)))],
            )
        }
        Action::Remove(port) => {
            admin::delete_persistent(port)?;
            done("remove", port, format!("{port}: removed\n"), vec![])
        }
        Action::AttachHost(port) => {
            return Err(ToolError::Usage(format!("-h {port}: not a NIC")));
        }
        Action::Attach(port) => {
            let (index, created) = admin::attach(port)?;
            let text = if created {
                format!("{port}: created and attached as port {index}\n")
            } else {
                format!("{port}: attached (port {index} now persistent)\n")
            };
            done(
                "attach",
                port,
                text,
                vec![
                    ("index", Json::UInt(u64::from(index))),
                    ("created", Json::Bool(created)),
                ],
            )
        }
        Action::Detach(port) => {
            let removed = admin::detach(port)?;
            let text = if removed {
                format!("{port}: detached and removed\n")
            } else {
                format!("{port}: detached; removed when its process closes it\n")
            };
            done(
                "detach",
                port,
                text,
                vec![("removed_now", Json::Bool(removed))],
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_of_switch_ports_and_nic_pipes() {
        assert_eq!(full_name("vale0", "a"), "vale0:a");
        assert_eq!(full_name("vale0", "x{1"), "vale0:x{1");
        assert_eq!(full_name("if-eth0", "{2"), "netmap:eth0{2");
    }

    #[test]
    fn macs_text_has_the_showmacs_columns() {
        let text = macs_text(&[MacEntry {
            port: 3,
            port_name: "b".into(),
            mac: [2, 0, 0, 0, 0, 9],
        }]);
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("port no.\tmac addr\t\tis local?\tageing timer"));
        let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(row, ["3", "02:00:00:00:00:09", "no", "-", "b"]);
    }
}
