//! The software engine: netmap's kernel side for VALE switches and netmap
//! pipes, run inside the applications' own processes over shared memory.
//!
//! It is the golden model of the FPGA offload: the decisions come from
//! `vale-offload` (table, hash, MOREFRAG rule, counters, placement), and
//! this crate applies them to rings in a memory domain every process of a
//! switch maps. `netmap:IFNAME` ports go to `netmap-nic`.
//!
//! One packet, in order: [`soft`] (the `Backend`, registration),
//! [`forward`] (VALE txsync in stages: collect and decide, group
//! ([`batch`]), deliver; rxsync), [`pipe`] (pipe crossover), [`monitor`]
//! (copies for monitor ports), over [`domain`] (the mapped memory) and [`ctrl`] (its
//! control-area layout).
pub mod admin;
pub mod batch;
mod collect;
mod cpu;
pub mod ctrl;
mod decide;
mod deliver;
pub mod domain;
pub mod forward;
pub mod monitor;
pub mod pipe;
mod pipe_swap;
pub mod ports;
pub mod soft;
pub mod wake;
pub mod zmon;

pub use soft::{open, open_with_extra_bufs, SoftBackend};
