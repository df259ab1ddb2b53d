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

use netmap_testkit::netns::{ip, Netns};

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
    // Deleted on drop, with every interface in them.
    _namespaces: [Netns; 3],
}

impl BridgeNet {
    /// Builds the network with namespace names starting with `prefix`.
    /// The error is the reason to print when the baseline is skipped.
    pub fn create(prefix: &str) -> Result<Self, String> {
        let unavailable = |e| format!("network namespaces unavailable: {e}");
        let tx_ns = Netns::create(&format!("{prefix}-tx")).map_err(unavailable)?;
        let rx_ns = Netns::create(&format!("{prefix}-rx")).map_err(unavailable)?;
        let bridge_ns = Netns::create(&format!("{prefix}-br")).map_err(unavailable)?;
        let (tx, rx, br) = (tx_ns.name(), rx_ns.name(), bridge_ns.name());
        let (tx_mac, rx_mac) = (format_mac(TX_MAC), format_mac(RX_MAC));
        let steps: [&[&str]; 10] = [
            &[
                "-n",
                br,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
            &[
                "-n", tx, "link", "add", TX_IF, "address", &tx_mac, "type", "veth", "peer", "name",
                "tx1", "netns", br,
            ],
            &[
                "-n", rx, "link", "add", RX_IF, "address", &rx_mac, "type", "veth", "peer", "name",
                "rx1", "netns", br,
            ],
            &["-n", br, "link", "set", "tx1", "master", "br0"],
            &["-n", br, "link", "set", "rx1", "master", "br0"],
            &["-n", br, "link", "set", "tx1", "up"],
            &["-n", br, "link", "set", "rx1", "up"],
            &["-n", br, "link", "set", "br0", "up"],
            &["-n", tx, "link", "set", TX_IF, "up"],
            &["-n", rx, "link", "set", RX_IF, "up"],
        ];
        for step in steps {
            ip(step).map_err(|e| format!("cannot build the bridge network: {e}"))?;
        }
        Ok(Self {
            tx_ns: tx.to_owned(),
            rx_ns: rx.to_owned(),
            _namespaces: [tx_ns, rx_ns, bridge_ns],
        })
    }

    /// The command prefix that runs a program inside namespace `ns`.
    pub fn exec_prefix(ns: &str) -> Vec<String> {
        ["ip", "netns", "exec", ns].map(str::to_owned).to_vec()
    }
}

/// Removes namespaces left behind by a run with this `prefix` that was
/// killed before its clean-up ran.
pub fn remove_leftovers(prefix: &str) {
    netmap_testkit::netns::remove_leftovers(&format!("{prefix}-"));
}
