//! Names no other test uses. Switches and pipe parents are shared by name
//! between threads and processes (the software engine's domains live in
//! shared memory), so tests running in parallel must never pick the same.

use std::sync::atomic::{AtomicU32, Ordering};

/// `<prefix>_<pid>_<n>`: unique to this process and this call.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

/// A VALE switch name no other test uses: `vale<tag>_<pid>_<n>`.
pub fn unique_switch(tag: &str) -> String {
    unique_name(&format!("vale{tag}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_and_are_valid_switch_names() {
        let a = unique_switch("x");
        let b = unique_switch("x");
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.starts_with("valex_"));
            assert!(name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
        }
    }
}
