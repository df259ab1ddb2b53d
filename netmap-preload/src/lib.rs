//! `/dev/netmap` in user space: loaded with `LD_PRELOAD`, this library lets
//! unmodified netmap C programs (built against netmap's headers and
//! libnetmap) run on this project's backends: the software engine, the
//! simulated NIC, the board (`NETMAP_BACKEND`, default `soft`).
//!
//! - [`interpose`]: the C library functions replaced (`open` of
//!   `/dev/netmap`, `ioctl`, `mmap`/`munmap`, `poll`/`ppoll`, `close`, the
//!   `dup` family); everything else passes through to libc ([`sys`]).
//! - [`table`]: which descriptors are netmap ones; [`file`]: one open of
//!   `/dev/netmap` and its binding (a `netmap_ring::port::Binding`).
//! - [`ctrl`]: `NIOCCTRL` requests and options; [`legacy`]: `NIOCREGIF`,
//!   `NIOCGINFO`; [`umem`]: copy-in/copy-out of request structures.
//! - [`mem`]: `nr_mem_id` and the mappings; [`poll`]: netmap's poll;
//!   [`epoll`]: netmap descriptors in epoll sets.
//! - [`adopt`]: descriptors received from another process (software
//!   engine).
//! - [`vale`]: the VALE control requests of `vale-ctl` (software engine).
//!
//! See `docs/c-api.md` for what is supported and what is refused.

pub mod adopt;
pub mod ctrl;
pub mod epoll;
pub mod error;
pub mod file;
#[cfg(test)]
mod fuzz_nmreq;
#[cfg(not(test))]
pub mod interpose;
pub mod legacy;
pub mod mem;
pub mod null;
pub mod pipes;
pub mod poll;
pub mod sys;
pub mod table;
pub mod umem;
pub mod vale;
