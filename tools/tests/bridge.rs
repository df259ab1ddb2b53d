//! bridge between two ports: zero-copy between pipe ends of one region,
//! copying between two switches.

mod common;

use common::{number_after, Sandbox, BRIDGE, PKT_GEN, TIMEOUT};

#[test]
fn zero_copy_between_two_pipes_is_lossless() {
    let sb = Sandbox::new();
    let sw = sb.switch("z");
    let mut bridge = sb.spawn(
        BRIDGE,
        &[
            "-i",
            &format!("{sw}:x}}1"),
            "-i",
            &format!("{sw}:y}}1"),
            "-n",
            "30000",
        ],
    );
    let banner = bridge.wait_for_line("bridge:", TIMEOUT);
    assert!(banner.contains("zero-copy"), "{banner}");
    let mut rx = sb.receiver(&format!("{sw}:y{{1"), &["-n", "30000"]);
    let (status, out, err) = sb.run(
        PKT_GEN,
        &["-i", &format!("{sw}:x{{1"), "-f", "tx", "-n", "30000"],
    );
    assert!(status.success(), "{out}\n{err}");
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    assert_eq!(
        number_after(&rx.stdout(), "Received"),
        Some(30000),
        "{}",
        rx.stdout()
    );
    assert!(bridge.wait(TIMEOUT).success(), "{}", bridge.stderr());
    let summary = bridge.stdout();
    assert!(
        summary.contains(&format!(
            "{sw}:x}}1 -> {sw}:y}}1: 30000 packets 1800000 bytes 0 dropped"
        )),
        "{summary}"
    );
}

#[test]
fn copies_between_two_switches_until_interrupted() {
    let sb = Sandbox::new();
    let (s1, s2) = (sb.switch("c1"), sb.switch("c2"));
    let mut bridge = sb.spawn(
        BRIDGE,
        &["-i", &format!("{s1}:up"), "-i", &format!("{s2}:up")],
    );
    let banner = bridge.wait_for_line("bridge:", TIMEOUT);
    assert!(banner.ends_with("(copy)"), "{banner}");
    let mut rx = sb.receiver(&format!("{s2}:rx"), &["-n", "5000"]);
    let mut tx = sb.spawn(
        PKT_GEN,
        &["-i", &format!("{s1}:tx"), "-f", "tx", "-R", "50000"],
    );
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    assert!(
        rx.stdout().contains("Received 5000 packets 300000 bytes"),
        "{}",
        rx.stdout()
    );
    tx.interrupt();
    assert!(tx.wait(TIMEOUT).success());
    bridge.interrupt();
    assert!(bridge.wait(TIMEOUT).success(), "{}", bridge.stderr());
    let forwarded = number_after(&bridge.stdout(), &format!("{s1}:up -> {s2}:up:"));
    assert!(forwarded.is_some_and(|n| n >= 5000), "{}", bridge.stdout());
}
