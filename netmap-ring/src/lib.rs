//! The netmap API, in Rust, for user space.
//!
//! - [`abi`]: the structures and constants of netmap API version 14, with
//!   the exact C layout (checked at compile time here and from C in a test).
//! - [`ring`]: ring arithmetic and the `hwcur <= head <= cur <= hwtail`
//!   invariant every sync checks.
//! - [`name`]: the port-name grammar of libnetmap and legacy `nm_open`.
//! - [`shm`]: a memfd-backed region, reached only through volatile and
//!   atomic accessors (DESIGN.md section 5).
//! - [`region`]: netmap's three pools (interfaces, rings, buffers) laid out
//!   in one region, with their allocator.
pub mod abi;
#[cfg(feature = "tokio")]
pub mod async_port;
pub mod crash;
pub mod fresh_ring;
pub mod lock;
pub mod monitor_memory;
pub mod name;
pub mod port;
pub mod region;
pub mod ring;
pub mod rundir;
pub mod shm;
pub mod view;
