//! Cross-crate integration tests.
//!
//! The tests in `tests/tests/` exercise several crates together: the
//! software engine against the RTL model, ports shared by real processes,
//! and traffic through veth pairs in network namespaces the tests create
//! and remove. This library holds the helpers they share.
#![forbid(unsafe_code)]
