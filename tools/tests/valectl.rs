//! valectl as an administrator uses it: listing (text and JSON),
//! persistent ports, attach/detach, the MAC table and counters.

mod common;

use common::{number_after, Sandbox, PKT_GEN, TIMEOUT, VALECTL};

fn ok(sb: &Sandbox, args: &[&str]) -> String {
    let (status, out, err) = sb.run(VALECTL, args);
    assert!(status.success(), "valectl {args:?} failed: {out}\n{err}");
    out
}

#[test]
fn lists_creates_and_removes_persistent_ports() {
    let sb = Sandbox::new();
    let sw = sb.switch("s");
    assert_eq!(ok(&sb, &[]).trim(), "no switches");
    assert_eq!(ok(&sb, &["--json"]).trim(), r#"{"switches":[]}"#);
    let p = format!("{sw}:p");
    assert!(ok(&sb, &["-n", &format!("{p}@conf:rings=2,slots=64")]).contains("created as port 0"));
    let list = ok(&sb, &["-l"]);
    assert!(
        list.starts_with(&format!("{sw}: switch, 1 port(s)")),
        "{list}"
    );
    let row = list.lines().find(|l| l.contains(&p)).expect("port row");
    assert!(
        row.contains("tx 2x64 rx 2x64") && row.contains("persistent, unused"),
        "{row}"
    );
    let json = ok(&sb, &["-l", &sw, "--json"]);
    assert!(
        json.contains(&format!(r#""name":"{sw}","kind":"switch""#)),
        "{json}"
    );
    assert!(
        json.contains(&format!(
            r#""index":0,"name":"p","port":"{p}","kind":"vale","owner_pid":null,"persistent":true,"tx_rings":2"#
        )),
        "{json}"
    );
    // A process using the port shows as its owner; it stays after.
    let mut rx = sb.receiver(&p, &[]);
    let list = ok(&sb, &["-l"]);
    assert!(
        list.contains(&format!("persistent, pid {}", rx.pid())),
        "{list}"
    );
    let (status, _, err) = sb.run(VALECTL, &["-r", &p]);
    assert!(
        !status.success() && err.contains("in use by process"),
        "{err}"
    );
    rx.interrupt();
    assert!(rx.wait(TIMEOUT).success());
    assert!(ok(&sb, &["-l"]).contains("persistent, unused"));
    assert!(ok(&sb, &["-r", &p]).contains("removed"));
    assert_eq!(ok(&sb, &["-l"]).trim(), "no switches");
}

#[test]
fn attach_and_detach() {
    let sb = Sandbox::new();
    let sw = sb.switch("a");
    let p = format!("{sw}:nic");
    let out = ok(&sb, &["-a", &p, "--json"]);
    assert_eq!(
        out.trim(),
        format!(r#"{{"action":"attach","port":"{p}","ok":true,"index":0,"created":true}}"#)
    );
    assert!(ok(&sb, &["-a", &p]).contains("attached (port 0 now persistent)"));
    assert!(ok(&sb, &["-d", &p]).contains("detached and removed"));
    let (status, _, err) = sb.run(VALECTL, &["-d", &p]);
    assert!(!status.success());
    assert!(err.contains(&format!("no such switch {sw}")), "{err}");
}

#[test]
fn mac_table_and_counters_show_and_reset() {
    let sb = Sandbox::new();
    let sw = sb.switch("m");
    let (a, b) = (format!("{sw}:a"), format!("{sw}:b"));
    ok(&sb, &["-n", &a]);
    ok(&sb, &["-n", &b]);
    let (status, out, err) = sb.run(
        PKT_GEN,
        &[
            "-i",
            &a,
            "-f",
            "tx",
            "-n",
            "5",
            "-S",
            "02:aa:bb:cc:dd:01",
            "-D",
            "02:00:00:00:00:99",
        ],
    );
    assert!(status.success(), "{out}\n{err}");
    let macs = ok(&sb, &["--macs", &sw]);
    let mut lines = macs.lines();
    assert_eq!(
        lines.next().unwrap(),
        "port no.\tmac addr\t\tis local?\tageing timer\tport name"
    );
    let row: Vec<&str> = lines
        .next()
        .expect("one entry")
        .split_whitespace()
        .collect();
    assert_eq!(row, ["0", "02:aa:bb:cc:dd:01", "no", "-", "a"]);
    assert!(lines.next().is_none(), "{macs}");
    let json = ok(&sb, &["--macs", &sw, "--json"]);
    assert!(json.contains(r#"{"port":0,"port_name":"a","mac":"02:aa:bb:cc:dd:01","is_local":false,"ageing_timer":null}"#), "{json}");
    // The unknown destination floods to b: 5 frames of 60 bytes.
    let stats = ok(&sb, &["--stats", &sw]);
    let port_b = &stats[stats.find(&format!("port 1 {b}:")).expect("port b")..];
    assert_eq!(number_after(port_b, "rx_packets"), Some(5), "{stats}");
    assert_eq!(number_after(port_b, "rx_bytes"), Some(300), "{stats}");
    assert_eq!(number_after(&stats, "learns"), Some(1), "{stats}");
    let json = ok(&sb, &["--stats", "--json"]);
    assert!(json.contains(r#""tx_packets":5,"tx_bytes":300"#), "{json}");
    ok(&sb, &["--reset", &sw]);
    let stats = ok(&sb, &["--stats", &sw]);
    assert!(
        stats
            .lines()
            .filter(|l| l.starts_with("    "))
            .all(|l| l.ends_with(" 0")),
        "{stats}"
    );
    ok(&sb, &["-r", &a]);
    ok(&sb, &["-r", &b]);
}

#[test]
fn read_only_commands_do_not_create_a_switch() {
    let sb = Sandbox::new();
    let sw = sb.switch("ro");
    for args in [
        vec!["--macs", sw.as_str()],
        vec!["--stats", sw.as_str()],
        vec!["--reset", sw.as_str()],
        vec!["-l", sw.as_str()],
    ] {
        let (status, out, err) = sb.run(VALECTL, &args);
        assert_eq!(status.code(), Some(1), "{args:?}: {out}");
        assert_eq!(
            err.trim(),
            format!("valectl: no such switch {sw}"),
            "{args:?}"
        );
    }
    assert_eq!(ok(&sb, &[]).trim(), "no switches");
}

#[test]
fn watch_prints_per_port_rates_each_interval() {
    let sb = Sandbox::new();
    let sw = sb.switch("w");
    let mut rx = sb.receiver(&format!("{sw}:b"), &[]);
    let mut tx = sb.spawn(
        PKT_GEN,
        &["-i", &format!("{sw}:a"), "-f", "tx", "-R", "2000"],
    );
    tx.wait_for_line("ready", TIMEOUT);
    let out = ok(&sb, &["--watch", &sw, "--count", "3", "--interval", "0.3"]);
    tx.interrupt();
    tx.wait(TIMEOUT);
    rx.interrupt();
    rx.wait(TIMEOUT);
    let headers = out.lines().filter(|l| l.contains("rx pps")).count();
    assert_eq!(headers, 3, "{out}");
    // Columns: port, rx pps, tx pps, drops/s. The last refresh is taken
    // while both run: a sends, b receives, nothing drops.
    let last_of = |port: &str| -> Vec<f64> {
        let line = out
            .lines()
            .rev()
            .find(|l| l.split_whitespace().next() == Some(port))
            .unwrap_or_else(|| panic!("no line for {port}: {out}"));
        line.split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let a = last_of(&format!("{sw}:a"));
    let b = last_of(&format!("{sw}:b"));
    assert!(a[1] > 0.0, "a transmits: {out}");
    assert!(b[0] > 0.0, "b receives: {out}");
    assert_eq!(b[2], 0.0, "{out}");
    let (status, _, err) = sb.run(VALECTL, &["--watch", &sw, "--interval", "0"]);
    assert!(!status.success());
    assert!(err.contains("--interval"), "{err}");
}
