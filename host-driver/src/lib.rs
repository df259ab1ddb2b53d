//! Host driver for the netmap FPGA NIC.
//!
//! The driver talks to the NIC through one interface, [`device::Device`]
//! (BAR access, DMA memory, doorbells, notifications as eventfds, reset),
//! which has several bodies: the real board through Linux VFIO
//! ([`vfio`]), the Verilator model of `hw/` in-process ([`sim`]), and
//! the same model served by another process over vfio-user (the model
//! itself, in-process or in `nmsim-server`, only with the `sim` feature,
//! which links the Verilator build of `hw/`). Register
//! access walks the BAR0 block list of hw/README.md ([`regs`]). On top of
//! a `Device`, [`port::DeviceBackend`] is a `netmap_ring::port::Backend`:
//! applications open netmap ports on the device with the usual `Port` API.
//! [`spec`] names a device (`sim`, `vfio:...`; the `netmap-backend` crate
//! adds the software engine and `NETMAP_BACKEND`);
//! [`shared_sim`] gives `--backend sim` its one per-user simulator process. See
//! DESIGN.md section 3 for the device model and `host-driver/README.md`.
//!
//! Only [`vfio::sys`] holds `unsafe` code (the system calls and the MMIO
//! accesses of a mapped BAR); every other module forbids it.

pub mod cost;
pub mod device;
pub mod eventfd;
pub mod port;
pub mod regs;
pub mod report;
pub mod shared_sim;
#[cfg(feature = "sim")]
pub mod sim;
pub mod spec;
pub mod vfio;
pub mod vfio_user;

#[cfg(test)]
mod testing;

pub use device::{Device, DeviceCounters, DeviceError, DmaRegion};
pub use port::DeviceBackend;
pub use spec::{device_backend, shared_device_backend, DeviceSpec};
