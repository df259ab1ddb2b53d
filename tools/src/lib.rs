//! The tools netmap users know, over the netmap-rs [`Port`] API:
//! `pkt-gen` (traffic generator and sink, ping/pong, pcap replay),
//! `valectl` (switch administration, live statistics), `bridge`
//! (forwarding between two ports) and `nmdump` (monitor ports to text or
//! pcapng).
//!
//! The binaries are thin; what they share lives here: wire formats, capture
//! files (pcap-file), netmap's report formats, address ranges, latency
//! percentiles, error reporting and the choice of backend.
//!
//! [`Port`]: netmap_ring::port::Port
pub mod addr;
pub mod agent;
pub mod attach;
pub mod backend;
pub mod bridge;
pub mod error;
pub mod json;
pub mod latency;
pub mod nmdump;
pub mod pcap;
pub mod pktgen;
pub mod report;
pub mod signal;
pub mod valectl;
pub mod valectl_nic;
pub mod watch;
pub mod wire;
