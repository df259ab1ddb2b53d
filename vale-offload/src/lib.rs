//! What the FPGA offloads, as pure code both engines are held to.
//!
//! The learning table (rows x ways, netmap's hash, the forwarding
//! decision), the MOREFRAG chain rule, the port counters, port kinds,
//! geometry and placement, and the device contract (the register map and
//! the constants the RTL shares, generated from `hw/README.md`). The
//! software engine (`vale-soft`) and the RTL in `hw/` must agree with it
//! bit for bit; nothing here touches shared memory or a device.
#![forbid(unsafe_code)]

pub mod chain;
pub mod counters;
pub mod geometry;
pub mod hash;
pub mod placement;
pub mod regmap;
pub mod table;
