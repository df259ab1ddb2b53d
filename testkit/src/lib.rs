//! What the test crates share, one module per concern:
//!
//! - [`frames`]: test MACs, a frame builder carrying a sequence number and
//!   reading it back;
//! - [`names`]: switch and object names no other test uses;
//! - [`slots`]: slot-level send and receive over the `Port` API;
//! - [`netns`]: network namespaces and veth pairs, always removed, with
//!   every command bounded in time;
//! - [`nmsim`]: locating workspace binaries and starting a test's own
//!   `nmsim-server`;
//! - [`ping`]: a UDP echo between namespaces, ARP and ICMP frames that
//!   make a kernel answer a port;
//! - [`root`]: whether the test runs as root;
//! - [`skip`]: a test that cannot run here says why and is counted as
//!   skipped, not passed ([`skip!`]).
//!
//! The kit depends on nothing of ours but `netmap-ring`, so any crate can
//! take it as a dev-dependency without changing its dependency graph.
#![forbid(unsafe_code)]

pub mod frames;
pub mod names;
pub mod netns;
pub mod nmsim;
pub mod ping;
pub mod root;
pub mod skip;
pub mod slots;

pub use root::is_root;
pub use skip::skip;
