//! What the test crates share.
#![forbid(unsafe_code)]
