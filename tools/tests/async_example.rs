//! The async reflector example (`tools/examples/async_reflector.rs`)
//! answers pkt-gen's pings from another process, over a VALE port and
//! over a pipe, on one tokio thread.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{number_after, Running, Sandbox, PKT_GEN, TIMEOUT};

/// The example's binary: `cargo test` builds examples next to the test
/// binaries' directory (`target/<profile>/examples`).
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile.join("examples/async_reflector")
}

fn reflect_pings(sb: &Sandbox, reflector_port: &str, ping_port: &str) {
    let bin = example();
    assert!(
        bin.exists(),
        "{} is missing: `cargo test -p netmap-tools` builds it",
        bin.display()
    );
    let mut cmd = Command::new(&bin);
    cmd.args([reflector_port, "200"])
        .env("NETMAP_RS_DIR", &sb.dir)
        .env("NETMAP_BACKEND", "soft");
    let mut reflector = Running::spawn(cmd);
    reflector.wait_for_line("ready", TIMEOUT);
    let (status, out, err) = sb.run(PKT_GEN, &["-i", ping_port, "-f", "ping", "-n", "200"]);
    assert!(status.success(), "ping failed: {out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("round-trip usec:"))
        .unwrap_or_else(|| panic!("no percentile line: {out}"));
    let replies = number_after(line, "(").expect("reply count");
    // A reply later than ping's one-second timeout counts as lost; only a
    // stalled machine makes one.
    assert!(replies >= 190, "{line}");
    assert!(reflector.wait(TIMEOUT).success(), "{}", reflector.stderr());
    assert!(
        reflector.stdout().contains("reflected 200 frames"),
        "{}",
        reflector.stdout()
    );
}

#[test]
fn async_reflector_answers_pings_over_a_vale_port() {
    let sb = Sandbox::new();
    let sw = sb.switch("av");
    reflect_pings(&sb, &format!("{sw}:r"), &format!("{sw}:p"));
}

#[test]
fn async_reflector_answers_pings_over_a_pipe() {
    let sb = Sandbox::new();
    let sw = sb.switch("ap");
    reflect_pings(&sb, &format!("{sw}:q{{1"), &format!("{sw}:q}}1"));
}
