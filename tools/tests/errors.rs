//! Every tool prints a clear error and exits non-zero for a bad port
//! name, a missing switch, a full switch, a permission problem and a name
//! the backend does not serve.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Sandbox, BRIDGE, PKT_GEN, VALECTL};

fn fails(sb: &Sandbox, bin: &str, args: &[&str]) -> String {
    let (status, out, err) = sb.run(bin, args);
    assert_eq!(status.code(), Some(1), "{bin} {args:?}: {out}\n{err}");
    err
}

#[test]
fn bad_port_names_show_the_position() {
    let sb = Sandbox::new();
    let pkt_gen: &[&str] = &["-i", "vale0:a{"];
    let bridge: &[&str] = &["-i", "vale0:a{", "-i", "vale0:b"];
    for (bin, args) in [(PKT_GEN, pkt_gen), (BRIDGE, bridge)] {
        let err = fails(&sb, bin, args);
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines[0]
                .ends_with("bad port name 'vale0:a{': at 8: the pipe id after '{' or '}' is empty"),
            "{err}"
        );
        assert_eq!(lines[1], "  vale0:a{");
        assert_eq!(lines[2], "          ^");
    }
    let err = fails(&sb, VALECTL, &["-n", "vale0:a b"]);
    assert!(
        err.starts_with("valectl: bad port name 'vale0:a b': at 7"),
        "{err}"
    );
}

#[test]
fn nic_names_need_an_existing_interface() {
    let sb = Sandbox::new();
    let err = fails(&sb, PKT_GEN, &["-i", "netmap:nosuchif0", "-f", "rx"]);
    assert!(
        err.contains("netmap:nosuchif0") && err.contains("no such interface"),
        "{err}"
    );
    let err = fails(&sb, VALECTL, &["-a", "netmap:eth0"]);
    assert!(err.contains("not a VALE port"), "{err}");
}

#[test]
fn missing_switch() {
    let sb = Sandbox::new();
    let err = fails(&sb, VALECTL, &["--macs", "vale9"]);
    assert_eq!(err.trim(), "valectl: no such switch vale9");
    let err = fails(&sb, VALECTL, &["-r", "vale9:x"]);
    assert_eq!(err.trim(), "valectl: no such switch vale9");
}

#[test]
fn full_switch() {
    let sb = Sandbox::new();
    let sw = sb.switch("f");
    for i in 0..254 {
        let (status, out, err) = sb.run(VALECTL, &["-n", &format!("{sw}:p{i}@conf:slots=2")]);
        assert!(status.success(), "port {i}: {out}\n{err}");
    }
    let err = fails(&sb, PKT_GEN, &["-i", &format!("{sw}:one_more"), "-f", "rx"]);
    assert!(
        err.contains(&format!("switch {sw} is full (254 ports)")),
        "{err}"
    );
    let err = fails(&sb, VALECTL, &["-n", &format!("{sw}:one_more")]);
    assert!(err.contains("is full (254 ports)"), "{err}");
    let err = fails(
        &sb,
        BRIDGE,
        &["-i", &format!("{sw}:x"), "-i", &format!("{sw}:y")],
    );
    assert!(err.contains("is full"), "{err}");
}

#[test]
fn permission_problems() {
    let sb = Sandbox::new();
    // A runtime directory open to others is refused, not used.
    std::fs::create_dir_all(&sb.dir).unwrap();
    std::fs::set_permissions(&sb.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sw = sb.switch("x");
    let err = fails(&sb, PKT_GEN, &["-i", &format!("{sw}:a"), "-f", "rx"]);
    assert!(err.contains("permission denied"), "{err}");
    let err = fails(&sb, VALECTL, &["-n", &format!("{sw}:a")]);
    assert!(err.contains("permission denied"), "{err}");
    let err = fails(
        &sb,
        BRIDGE,
        &["-i", &format!("{sw}:a"), "-i", &format!("{sw}:b")],
    );
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn usage_errors() {
    let sb = Sandbox::new();
    let err = fails(&sb, BRIDGE, &["-i", "vale0:a"]);
    assert!(err.contains("give two ports"), "{err}");
    let err = fails(&sb, PKT_GEN, &["-i", "vale0:a", "-l", "59"]);
    assert!(err.contains("sizes are 60..=1514"), "{err}");
    let (status, _, _) = sb.run(PKT_GEN, &["-f", "tx"]);
    assert_eq!(status.code(), Some(2), "clap usage error");
}
