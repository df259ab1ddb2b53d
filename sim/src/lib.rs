//! The RTL of `hw/`, compiled with Verilator and driven from Rust.
//!
//! `build.rs` verilates `hw/` into several models (the device top at two
//! geometries and per-module testbench tops) and generates port-level
//! wrappers for them ([`models`]). [`nic::Nic`] drives the device: clock and
//! reset, BAR0 and BAR2 accesses, doorbells, host memory served to the DMA
//! port ([`host`]), notifications, link counters, the lookup test port.
//! Each instance has its own Verilator context, so tests run in parallel.
//! [`wire`] joins a model's Ethernet ports to Linux interfaces (AF_PACKET).
//!
//! Set `NETMAP_SIM_VCD=path` to trace every model to a VCD file (the second
//! and later instances in a process append `.N` to the name).

/// Fingerprint of the `hw/` sources this model was built from (16 hex
/// digits): `nmsim-server --rtl-hash` prints its own, so a test can tell a
/// server built from older RTL.
pub const RTL_HASH: &str = env!("NETMAP_RTL_HASH");

pub mod host;
mod model;
pub mod nic;
pub mod rig;
pub mod wire;

/// Generated port-level wrappers, one type per model.
pub mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The VCD path for a new model instance, from `NETMAP_SIM_VCD`.
pub fn vcd_path_from_env() -> Option<PathBuf> {
    static INSTANCES: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::var_os("NETMAP_SIM_VCD")?;
    let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
    let mut path = PathBuf::from(base);
    if instance > 0 {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".{instance}"));
        path.set_file_name(name);
    }
    Some(path)
}
