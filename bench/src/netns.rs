//! The Linux-bridge baseline's network: three namespaces the benchmark
//! creates and removes itself. A sender namespace and a receiver namespace
//! each hold one end of a veth pair; the other ends are ports of a bridge
//! in a third namespace, so the host's own namespace is never touched.
//!
//! ```text
//!  <p>-tx: veth tx0 ── tx1 ┐                ┌ rx1 ── rx0 veth :<p>-rx
//!                          └── <p>-br: br0 ─┘
//! ```
//! Deleting a namespace deletes the interfaces in it, so dropping
//! [`BridgeNet`] (also on an error or a panic) removes everything.
#![forbid(unsafe_code)]

use std::process::Command;

use crate::frame::format_mac;

/// Interface the sender uses.
pub const TX_IF: &str = "tx0";
/// Interface the receiver uses.
pub const RX_IF: &str = "rx0";
/// MAC of the sender's interface.
pub const TX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xbe, 0x01];
/// MAC of the receiver's interface.
pub const RX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0xbe, 0x02];

/// The namespaces and the bridge; removed on drop.
pub struct BridgeNet {
    /// Namespace of the sender.
    pub tx_ns: String,
    /// Namespace of the receiver.
    pub rx_ns: String,
    bridge_ns: String,
    created: Vec<String>,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl BridgeNet {
    /// Builds the network with namespace names starting with `prefix`.
    /// The error is the reason to print when the baseline is skipped.
    pub fn create(prefix: &str) -> Result<Self, String> {
        // Root: the effective uid, read from /proc without a libc call.
        let euid = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
            });
        if euid.as_deref() != Some("0") {
            return Err("not root: creating network namespaces needs root".into());
        }
        let mut net = Self {
            tx_ns: format!("{prefix}-tx"),
            rx_ns: format!("{prefix}-rx"),
            bridge_ns: format!("{prefix}-br"),
            created: Vec::new(),
        };
        for ns in [net.tx_ns.clone(), net.rx_ns.clone(), net.bridge_ns.clone()] {
            run(&["netns", "add", &ns])
                .map_err(|e| format!("network namespaces unavailable: {e}"))?;
            net.created.push(ns);
        }
        let (tx, rx, br) = (net.tx_ns.clone(), net.rx_ns.clone(), net.bridge_ns.clone());
        let steps: Vec<Vec<String>> = vec![
            cmd(&[
                "-n",
                &br,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ]),
            cmd(&[
                "-n",
                &tx,
                "link",
                "add",
                TX_IF,
                "address",
                &format_mac(TX_MAC),
                "type",
                "veth",
                "peer",
                "name",
                "tx1",
                "netns",
                &br,
            ]),
            cmd(&[
                "-n",
                &rx,
                "link",
                "add",
                RX_IF,
                "address",
                &format_mac(RX_MAC),
                "type",
                "veth",
                "peer",
                "name",
                "rx1",
                "netns",
                &br,
            ]),
            cmd(&["-n", &br, "link", "set", "tx1", "master", "br0"]),
            cmd(&["-n", &br, "link", "set", "rx1", "master", "br0"]),
            cmd(&["-n", &br, "link", "set", "tx1", "up"]),
            cmd(&["-n", &br, "link", "set", "rx1", "up"]),
            cmd(&["-n", &br, "link", "set", "br0", "up"]),
            cmd(&["-n", &tx, "link", "set", TX_IF, "up"]),
            cmd(&["-n", &rx, "link", "set", RX_IF, "up"]),
        ];
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            run(&args).map_err(|e| format!("cannot build the bridge network: {e}"))?;
        }
        Ok(net)
    }

    /// The command prefix that runs a program inside namespace `ns`.
    pub fn exec_prefix(ns: &str) -> Vec<String> {
        cmd(&["ip", "netns", "exec", ns])
    }
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

impl Drop for BridgeNet {
    fn drop(&mut self) {
        for ns in self.created.drain(..).rev() {
            if let Err(e) = run(&["netns", "del", &ns]) {
                eprintln!("netmap-bench: cleaning up: {e}");
            }
        }
    }
}

/// Removes namespaces left behind by a run with this `prefix` that was
/// killed before its clean-up ran.
pub fn remove_leftovers(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if name.starts_with(&format!("{prefix}-")) {
            let _ = run(&["netns", "del", name]);
        }
    }
}
