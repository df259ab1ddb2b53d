//! How the tools meet their environment: a backend named in
//! `NETMAP_BACKEND` is checked as on the command line, and output closed
//! early (`valectl --stats | head`) ends a tool quietly.

use std::io::Read;
use std::process::{Command, Stdio};

const PKT_GEN: &str = env!("CARGO_BIN_EXE_pkt-gen");
const BRIDGE: &str = env!("CARGO_BIN_EXE_bridge");
const VALECTL: &str = env!("CARGO_BIN_EXE_valectl");

#[test]
fn an_unknown_backend_in_the_environment_is_refused() {
    for (tool, args) in [
        (PKT_GEN, &["-i", "vale0:envtest", "-f", "tx", "-n", "1"][..]),
        (
            BRIDGE,
            &["-i", "vale0:envtest1", "-i", "vale0:envtest2"][..],
        ),
    ] {
        let out = Command::new(tool)
            .args(args)
            .env("NETMAP_BACKEND", "garbage")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tool}: {stderr}");
        assert!(
            stderr.contains("unknown backend \"garbage\""),
            "{tool}: {stderr}"
        );
    }
}

#[test]
fn an_empty_backend_variable_means_the_default() {
    let switch = format!("vale_env{}", std::process::id());
    let out = Command::new(PKT_GEN)
        .args(["-i", &format!("{switch}:a"), "-f", "tx", "-n", "1"])
        .env("NETMAP_BACKEND", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Children killed however the test ends.
struct KillOnDrop(Vec<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_closed_output_ends_valectl_quietly() {
    // Keep a switch with ports so --stats has many lines to print.
    let switch = format!("valepipe{}", std::process::id());
    let holders = KillOnDrop(
        (0..8)
            .map(|i| {
                Command::new(PKT_GEN)
                    .args(["-i", &format!("{switch}:p{i}"), "-f", "rx", "-n", "1000000"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    // Wait (bounded) until the switch lists its ports.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = Command::new(VALECTL)
            .args(["--stats", &switch])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout)
            .matches("rx_packets")
            .count()
            >= 8
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the receivers never opened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A pipe whose reading end is already closed: valectl's first write
    // meets EPIPE, as `valectl --stats | head -c0` would.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(VALECTL)
        .args(["--stats", &switch])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    drop(holders);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}: {stderr}");
}

#[test]
fn a_full_shm_is_a_clear_error_and_leaves_nothing() {
    if !netmap_testkit::root::is_root() {
        netmap_testkit::skip!("needs root to mount a small tmpfs in a mount namespace");
    }
    // A 2 MiB tmpfs in a mount namespace of the shell's own: far less than
    // a switch needs.
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs /mnt && mkdir -m 700 /mnt/nm && \
         for i in 1 2; do NETMAP_RS_DIR=/mnt/nm {PKT_GEN} -i vale9:a -f rx -n 1; echo \"rc=$?\"; done; \
         ls -A /mnt/nm"
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Both attempts fail the same clear way (no SIGBUS: rc would be 135)...
    let codes: Vec<&str> = stdout.lines().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(codes, ["rc=1", "rc=1"], "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("cannot reserve").count(), 2, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // ...and no half-built switch file stays.
    let left: Vec<&str> = stdout.lines().filter(|l| !l.starts_with("rc=")).collect();
    assert!(
        left.iter().all(|l| !l.ends_with(".mem")),
        "left behind: {left:?}"
    );
}
