//! Host driver for the netmap FPGA NIC.
//!
//! This crate will hold the `Device` interface (BAR access, DMA memory,
//! doorbells, notifications as eventfds, reset) and its three bodies: the
//! real board through Linux VFIO, the Verilator model of `hw/` in-process
//! (crate `sim`), and the same model served by another process over the
//! vfio-user protocol. On top of a `Device` sits the port layer that hands
//! applications standard netmap rings (see DESIGN.md section 3).
//!
//! Nothing is implemented yet: the data path RTL and the software engine
//! land first.
#![forbid(unsafe_code)]
