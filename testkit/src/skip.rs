//! Skips that are reported as skips.
//!
//! libtest has no way for a running test to say "skipped": a test that
//! returns early passes. So a test that cannot run here (no root, no
//! veth, a missing program) calls [`skip!`], which prints
//! `SKIPPED: <reason>` and, when the environment variable
//! [`SKIP_LOG_VAR`] names a file, appends one line to it:
//!
//! ```text
//! <test binary>\t<test name>\t<reason>
//! ```
//!
//! then returns from the test. `scripts/test` sets the variable for
//! `cargo test --workspace` and moves the logged tests from "passed" to
//! "skipped" in its closing line, listing each with its reason.

use std::io::Write;
use std::path::Path;

/// The environment variable naming the skip log.
pub const SKIP_LOG_VAR: &str = "NETMAP_SKIP_LOG";

/// Returns from the current test as skipped, with a reason written as
/// `format!` arguments: `skip!("tshark is not installed")`.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::skip::skip(&::std::format!($($reason)+));
        return;
    }};
}

/// The value of `Ok`, or a skip with the error as its reason:
/// `let pair = ok_or_skip!(VethPair::create(a, b));`.
#[macro_export]
macro_rules! ok_or_skip {
    ($result:expr) => {
        match $result {
            ::std::result::Result::Ok(value) => value,
            ::std::result::Result::Err(why) => $crate::skip!("{why}"),
        }
    };
}

/// Reports the current test as skipped for `reason` (see the module
/// documentation); the caller then returns. [`skip!`] does both.
pub fn skip(reason: &str) {
    // One line, whatever the reason holds: the log has one skip a line.
    let reason = reason.replace(['\n', '\t'], " ");
    eprintln!("SKIPPED: {reason}");
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR) {
        let line = log_line(&test_binary(), &test_name(), &reason);
        if let Err(e) = append(Path::new(&log), &line) {
            // The skip is still printed; the count will call it a pass.
            eprintln!(
                "cannot record the skip in {}: {e}",
                Path::new(&log).display()
            );
        }
    }
}

/// `<binary>\t<test>\t<reason>\n`.
fn log_line(binary: &str, test: &str, reason: &str) -> String {
    format!("{binary}\t{test}\t{reason}\n")
}

/// Appends `line` with one write: lines from tests running in parallel
/// (threads or processes) do not interleave in an `O_APPEND` file.
fn append(log: &Path, line: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)?;
    file.write_all(line.as_bytes())
}

/// The test binary's name as cargo prints it (`nic_veth`, without the
/// `-<hash>` cargo appends to the file).
fn test_binary() -> String {
    let exe = std::env::current_exe().ok();
    let file = exe
        .as_deref()
        .and_then(Path::file_name)
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "?".to_owned());
    strip_hash(&file).to_owned()
}

/// `name-0123456789abcdef` -> `name`; other names unchanged.
fn strip_hash(file: &str) -> &str {
    match file.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name
        }
        _ => file,
    }
}

/// The running test's name: libtest runs each test on a thread named
/// after it (`module::test`).
fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mechanism end to end: a test that skips writes one line naming
    /// its binary and itself, with the reason. Run in a child process of
    /// this binary so that the environment variable is the child's alone.
    #[test]
    fn a_skip_appends_one_line_to_the_log() {
        const ROLE: &str = "NETMAP_TESTKIT_SKIP_CHILD";
        const ME: &str = "skip::tests::a_skip_appends_one_line_to_the_log";
        if std::env::var_os(ROLE).is_some() {
            crate::skip!("no {} here\tat all", "frobnicator");
        }
        let log = std::env::temp_dir().join(format!("testkit-skip-{}.log", std::process::id()));
        std::fs::write(&log, "earlier\tline\tkept\n").unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([ME, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, "1")
            .env(SKIP_LOG_VAR, &log)
            .output()
            .expect("run this test in a child");
        let text = std::fs::read_to_string(&log).unwrap();
        let _ = std::fs::remove_file(&log);
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("SKIPPED: no frobnicator here at all")
        );
        let binary = test_binary();
        assert!(binary.starts_with("netmap_testkit"), "{binary}");
        assert_eq!(
            text,
            format!("earlier\tline\tkept\n{binary}\t{ME}\tno frobnicator here at all\n")
        );
    }

    #[test]
    fn the_hash_cargo_appends_is_dropped() {
        assert_eq!(strip_hash("nic_veth-0123456789abcdef"), "nic_veth");
        assert_eq!(strip_hash("pkt-gen"), "pkt-gen");
        assert_eq!(strip_hash("netmap_testkit"), "netmap_testkit");
    }

    #[test]
    fn a_test_knows_its_own_name() {
        assert_eq!(test_name(), "skip::tests::a_test_knows_its_own_name");
    }
}
