//! What the engine's own tests share beyond the test kit: a domain's
//! counters and its buffer-conservation check, read in this process.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::atomic::Ordering;
use std::sync::Arc;

use vale_offload::counters::PortCounter;
use vale_offload::counters::SwitchCounter;
use vale_offload::placement::DomainKind;
use vale_soft::domain::Domain;
use vale_soft::ports;

/// The domain of switch `switch` (`valeX`). Call it only while a port of
/// the switch is open: opening a domain creates it when absent.
pub fn switch_domain(switch: &str) -> Arc<Domain> {
    Domain::open(switch, DomainKind::Switch).expect("domain of an open switch")
}

/// Entry index of port `name` (`a`, `p{1`) in `domain`.
pub fn entry(domain: &Domain, name: &str) -> u32 {
    ports::find(domain, name).unwrap_or_else(|| panic!("no port {name} in {}", domain.name()))
}

/// Counter `c` of port `name`.
pub fn port_counter(domain: &Domain, name: &str, c: PortCounter) -> u64 {
    domain.ctrl().port(entry(domain, name)).read(c)
}

/// Switch counter `c`.
pub fn switch_counter(domain: &Domain, c: SwitchCounter) -> u64 {
    domain.ctrl().switch_counter(c).load(Ordering::Relaxed)
}

/// Asserts buffer conservation: every buffer free, in one slot, or in one
/// extra-buffer list.
pub fn assert_conserved(domain: &Domain) {
    if let Err(e) = ports::check_conservation(domain) {
        panic!("buffer conservation broken in {}: {e}", domain.name());
    }
}
