//! The RTL of `hw/`, compiled with Verilator and driven from Rust.
//!
//! `build.rs` will run Verilator on `hw/`, build the generated C++ with a
//! small `extern "C"` shim, and this crate will wrap it safely: clock and
//! reset, BAR0 reads and writes, the lookup/learn interface, DMA and
//! notification callbacks, and VCD tracing on demand.
