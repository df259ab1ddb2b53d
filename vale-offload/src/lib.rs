//! VALE switch and netmap pipe semantics.
//!
//! This crate is the golden model: the learning table (rows x ways, the
//! netmap-compatible hash), the forwarding decision, pipe crossover and the
//! counters, plus the software engine that runs them over shared memory.
//! The RTL in `hw/` must agree with it bit for bit. The device register map
//! (generated from `hw/README.md`) also lives here as Rust constants.
pub mod admin;
pub mod ctrl;
pub mod domain;
pub mod forward;
pub mod hash;
pub mod nic;
pub mod pipe;
pub mod ports;
pub mod regmap;
pub mod soft;
pub mod table;

pub use soft::{open, open_with_extra_bufs, SoftBackend};
