//! NICs attached to software VALE switches (`valectl -a`, `-h`, `-d`) and
//! the inline path between a NIC and its host stack (`bridge -i
//! netmap:IF -i netmap:IF^`), on veth pairs in namespaces the tests make
//! and remove. The switch lives in the runtime directory this process
//! inherits (NETMAP_RS_DIR), which the tools started here inherit too;
//! switch names are unique per test. Needs root; else skipped with the
//! reason.

mod common;

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use netmap_ring::port::{Interest, Port};
use netmap_testkit::netns::{ip, run_bounded, run_in, VethPair};
use netmap_testkit::ping::{arp_reply_sender, arp_request, icmp_echo, is_echo_reply, udp_echo};
use netmap_testkit::{names::unique_switch, ok_or_skip};

const VALECTL: &str = env!("CARGO_BIN_EXE_valectl");
const BRIDGE: &str = env!("CARGO_BIN_EXE_bridge");
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x07];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0x0b, 0x07];
const MAC_P: [u8; 6] = [0x02, 0, 0, 0, 0x0c, 0x07];
const MAC_Q: [u8; 6] = [0x02, 0, 0, 0, 0x0d, 0x07];
const LIMIT: Duration = Duration::from_secs(60);

/// A veth pair for the test, or a skip saying why there is none (host
/// rings also need /dev/net/tun).
macro_rules! veth {
    () => {{
        if !std::path::Path::new("/dev/net/tun").exists() {
            netmap_testkit::skip!("no /dev/net/tun: host rings need TAP interfaces");
        }
        ok_or_skip!(VethPair::create(MAC_A, MAC_B))
    }};
}

/// Runs a program in namespace `ns` (bounded), returning its output.
fn run_in_ns(ns: &str, program: &str, args: &[&str]) -> Output {
    run_bounded(
        Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args),
        LIMIT,
    )
    .expect("runs")
}

fn valectl(ns: &str, args: &[&str]) -> String {
    let out = run_in_ns(ns, VALECTL, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "valectl {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn ip_out(args: &[&str]) -> String {
    let out = run_bounded(Command::new("ip").args(args), LIMIT).expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `check` holds (bounded).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < LIMIT, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `frame` from `port` until `answer` matches a received frame,
/// resending every 300 ms (the first may be lost while a kernel
/// resolves or an agent starts).
fn ask(port: &mut Port, frame: &[u8], mut answer: impl FnMut(&[u8]) -> bool) {
    let started = Instant::now();
    let mut last_sent: Option<Instant> = None;
    loop {
        assert!(started.elapsed() < LIMIT, "no answer");
        if last_sent.is_none_or(|t| t.elapsed() > Duration::from_millis(300)) {
            while !port.inject(frame) {
                port.txsync().unwrap();
            }
            port.txsync().unwrap();
            last_sent = Some(Instant::now());
        }
        let _ = port.poll(Interest::RX, Some(Duration::from_millis(50)));
        while let Some(p) = port.next_packet() {
            if answer(&p.data) {
                return;
            }
        }
    }
}

/// ARP for `target` from `port` (as `MAC_P`/`me`), then an ICMP echo:
/// the kernel that owns `target` answers both through the switch.
fn ping_from_port(port: &mut Port, me: Ipv4Addr, target: Ipv4Addr) -> [u8; 6] {
    let mut mac = None;
    ask(port, &arp_request(MAC_P, me, target), |f| {
        mac = arp_reply_sender(f, me)
            .filter(|(_, ip)| *ip == target)
            .map(|(m, _)| m);
        mac.is_some()
    });
    let mac = mac.unwrap();
    ask(port, &icmp_echo(mac, MAC_P, me, target, 77, 1), |f| {
        is_echo_reply(f, target, 77, 1)
    });
    mac
}

fn has_xdp(ns: &str, ifname: &str) -> bool {
    ip_out(&["-n", ns, "link", "show", "dev", ifname]).contains("xdp")
}

fn agent_pid(listing: &str, ifname: &str) -> Option<u32> {
    let line = listing
        .lines()
        .find(|l| l.contains("agent") && l.contains(&format!(":{ifname}")))?;
    let after = line.split("pid ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

#[test]
fn an_attached_nic_forwards_both_ways_and_is_learned() {
    let pair = veth!();
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.7.0.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let switch = unique_switch("at");
    let target = format!("{switch}:{}", pair.a);
    let said = valectl(&pair.ns_a, &["-a", &target]);
    assert!(said.contains("attached"), "{said}");
    assert!(has_xdp(&pair.ns_a, &pair.a) || said.contains("AF_PACKET"));

    let mut p = vale_soft::open(&format!("{switch}:p")).unwrap();
    let me = Ipv4Addr::new(10, 7, 0, 1);
    let mac = ping_from_port(&mut p, me, Ipv4Addr::new(10, 7, 0, 2));
    assert_eq!(mac, MAC_B);

    let macs = valectl(&pair.ns_a, &["--macs", &switch]);
    let port_of = |mac: &str| {
        macs.lines()
            .find(|l| l.contains(mac))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_owned)
    };
    assert_eq!(port_of("02:00:00:00:0c:07").as_deref(), Some("p"), "{macs}");
    assert_eq!(
        port_of("02:00:00:00:0b:07").as_deref(),
        Some(pair.a.as_str()),
        "{macs}"
    );
    let listing = valectl(&pair.ns_a, &["-l"]);
    assert!(agent_pid(&listing, &pair.a).is_some(), "{listing}");
    let json = valectl(&pair.ns_a, &["-l", "--json"]);
    assert!(json.contains("\"agents\""), "{json}");
    assert!(json.contains("\"running\":true"), "{json}");

    let said = valectl(&pair.ns_a, &["-d", &target]);
    assert!(said.contains("detached"), "{said}");
    eventually("XDP program detached", || !has_xdp(&pair.ns_a, &pair.a));
    let listing = valectl(&pair.ns_a, &["-l"]);
    assert!(agent_pid(&listing, &pair.a).is_none(), "{listing}");
    // A second attach of the same NIC works after the detach.
    valectl(&pair.ns_a, &["-a", &target]);
    valectl(&pair.ns_a, &["-d", &target]);
}

#[test]
fn a_killed_agent_gives_the_nic_back_and_the_switch_goes_on() {
    let pair = veth!();
    ip(&[
        "-n",
        &pair.ns_a,
        "addr",
        "add",
        "10.7.3.1/24",
        "dev",
        &pair.a,
    ])
    .unwrap();
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.7.3.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let switch = unique_switch("ak");
    let target = format!("{switch}:{}", pair.a);
    valectl(&pair.ns_a, &["-a", &target]);
    let mut p = vale_soft::open(&format!("{switch}:p")).unwrap();
    let mut q = vale_soft::open(&format!("{switch}:q")).unwrap();
    ping_from_port(
        &mut p,
        Ipv4Addr::new(10, 7, 3, 9),
        Ipv4Addr::new(10, 7, 3, 2),
    );
    let pid = agent_pid(&valectl(&pair.ns_a, &["-l"]), &pair.a).expect("agent listed");
    // Traffic towards the NIC while the agent dies.
    let frame = icmp_echo(
        MAC_B,
        MAC_P,
        Ipv4Addr::new(10, 7, 3, 9),
        Ipv4Addr::new(10, 7, 3, 2),
        5,
        5,
    );
    for _ in 0..200 {
        p.inject(&frame);
    }
    p.txsync().unwrap();
    run_bounded(Command::new("kill").args(["-9", &pid.to_string()]), LIMIT).unwrap();
    for _ in 0..200 {
        p.inject(&frame);
    }
    p.txsync().unwrap();
    eventually("XDP program gone with the agent", || {
        !has_xdp(&pair.ns_a, &pair.a)
    });
    // The NIC is the stack's again.
    let back = udp_echo(
        &pair.ns_a,
        &pair.ns_b,
        Ipv4Addr::new(10, 7, 3, 2),
        7003,
        3,
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(back, 3);
    // The switch goes on: p reaches q.
    let hello = icmp_echo(MAC_Q, MAC_P, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 1, 1);
    let started = Instant::now();
    let mut seen = false;
    while !seen && started.elapsed() < LIMIT {
        let _ = q.poll(Interest::RX, Some(Duration::from_millis(50)));
        while let Some(f) = q.next_packet() {
            seen |= f.data == hello;
        }
        p.inject(&hello);
        p.txsync().unwrap();
    }
    assert!(seen, "q never got p's frame");
    let listing = valectl(&pair.ns_a, &["-l"]);
    assert!(listing.contains("dead, cleaned up"), "{listing}");
    let listing = valectl(&pair.ns_a, &["-l"]);
    assert!(agent_pid(&listing, &pair.a).is_none(), "{listing}");
}

#[test]
fn a_nic_attached_with_its_host_stack_reaches_both() {
    let pair = veth!();
    ip(&[
        "-n",
        &pair.ns_a,
        "addr",
        "add",
        "10.7.1.1/24",
        "dev",
        &pair.a,
    ])
    .unwrap();
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.7.1.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let switch = unique_switch("ah");
    let target = format!("{switch}:{}", pair.a);
    let said = valectl(&pair.ns_a, &["-h", &target]);
    assert!(said.contains("_host"), "{said}");
    let tap = format!("{}^", pair.a);
    let on_tap = ip_out(&["-n", &pair.ns_a, "addr", "show", "dev", &tap]);
    assert!(on_tap.contains("10.7.1.1/24"), "{on_tap}");

    let mut p = vale_soft::open(&format!("{switch}:p")).unwrap();
    let me = Ipv4Addr::new(10, 7, 1, 9);
    // The host stack of ns_a, through the TAP and port a_host.
    assert_eq!(
        ping_from_port(&mut p, me, Ipv4Addr::new(10, 7, 1, 1)),
        MAC_A
    );
    // The far end, through the NIC and port a.
    assert_eq!(
        ping_from_port(&mut p, me, Ipv4Addr::new(10, 7, 1, 2)),
        MAC_B
    );
    // ns_a's stack reaches ns_b through the switch.
    let back = udp_echo(
        &pair.ns_a,
        &pair.ns_b,
        Ipv4Addr::new(10, 7, 1, 2),
        7001,
        3,
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(back, 3);

    valectl(&pair.ns_a, &["-d", &target]);
    let on_nic = ip_out(&["-n", &pair.ns_a, "addr", "show", "dev", &pair.a]);
    assert!(on_nic.contains("10.7.1.1/24"), "{on_nic}");
    eventually("TAP removed", || {
        !ip_out(&["-n", &pair.ns_a, "link", "show"]).contains(&tap)
    });
}

/// `bridge` between a NIC and its host stack (both forms) keeps the
/// namespace's traffic flowing; killing it hard loses the addresses
/// only until the next `valectl` (or host-ring open) puts them back.
#[test]
fn a_bridge_to_the_host_stack_keeps_traffic_flowing() {
    let pair = veth!();
    ip(&[
        "-n",
        &pair.ns_a,
        "addr",
        "add",
        "10.7.2.1/24",
        "dev",
        &pair.a,
    ])
    .unwrap();
    ip(&[
        "-n",
        &pair.ns_b,
        "addr",
        "add",
        "10.7.2.2/24",
        "dev",
        &pair.b,
    ])
    .unwrap();
    let nic = format!("netmap:{}", pair.a);
    let host = format!("netmap:{}^", pair.a);
    let tap = format!("{}^", pair.a);
    let ns_a = pair.ns_a.clone();
    let spawn_bridge = |args: &[&str]| {
        common::Running::spawn({
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns_a, BRIDGE]).args(args);
            c
        })
    };
    for (round, args) in [
        vec!["-i", nic.as_str(), "-i", host.as_str()],
        vec!["-i", nic.as_str()],
    ]
    .into_iter()
    .enumerate()
    {
        let mut bridge = spawn_bridge(&args);
        eventually("addresses on the TAP", || {
            ip_out(&["-n", &pair.ns_a, "addr", "show", "dev", &tap]).contains("10.7.2.1/24")
        });
        let back = udp_echo(
            &pair.ns_a,
            &pair.ns_b,
            Ipv4Addr::new(10, 7, 2, 2),
            7100 + round as u16,
            5,
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(back, 5, "round {round}");
        if round == 0 {
            bridge.interrupt();
            bridge.wait(LIMIT);
        } else {
            run_bounded(
                Command::new("kill").args(["-9", &bridge.pid().to_string()]),
                LIMIT,
            )
            .unwrap();
            bridge.wait(LIMIT);
            // The TAP went with the process, and the addresses with it;
            // the port's guardian puts them back with nobody's help.
            eventually("addresses back on the NIC after kill -9", || {
                ip_out(&["-n", &pair.ns_a, "addr", "show", "dev", &pair.a]).contains("10.7.2.1/24")
            });
        }
        let on_nic = ip_out(&["-n", &pair.ns_a, "addr", "show", "dev", &pair.a]);
        assert!(on_nic.contains("10.7.2.1/24"), "round {round}: {on_nic}");
    }
    // The namespace's own path works again.
    let back = run_in(&pair.ns_a.clone(), {
        let (ns_a, ns_b) = (pair.ns_a.clone(), pair.ns_b.clone());
        move || {
            udp_echo(
                &ns_a,
                &ns_b,
                Ipv4Addr::new(10, 7, 2, 2),
                7110,
                2,
                Duration::from_secs(2),
            )
        }
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(back, 2);
}

#[test]
fn an_agent_stops_when_its_interface_is_deleted() {
    let pair = veth!();
    let switch = unique_switch("ad");
    let target = format!("{switch}:{}", pair.a);
    valectl(&pair.ns_a, &["-a", &target]);
    let pid = agent_pid(&valectl(&pair.ns_a, &["-l"]), &pair.a).expect("agent listed");
    ip(&["-n", &pair.ns_a, "link", "del", &pair.a]).unwrap();
    eventually("the agent stopped", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    let listing = valectl(&pair.ns_a, &["-l"]);
    assert!(agent_pid(&listing, &pair.a).is_none(), "{listing}");
}

#[test]
fn attaching_a_down_interface_fails_and_says_why() {
    let pair = veth!();
    ip(&["-n", &pair.ns_a, "link", "set", &pair.a, "down"]).unwrap();
    let switch = unique_switch("af");
    let out = run_in_ns(
        &pair.ns_a,
        VALECTL,
        &["-a", &format!("{switch}:{}", pair.a)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is down"), "{err}");
    let listing = valectl(&pair.ns_a, &["-l"]);
    assert!(agent_pid(&listing, &pair.a).is_none(), "{listing}");
}

/// Interface names the port grammar would split (`-N` is a ring, `.` is
/// not a VALE port character) are attached whole, as port `nm_x_1`.
#[test]
fn interfaces_with_dots_and_dashes_attach_whole() {
    let pair = veth!();
    let ns = &pair.ns_a;
    ip(&[
        "-n", ns, "link", "add", "nm-x.1", "type", "veth", "peer", "name", "nm-y.1",
    ])
    .unwrap();
    ip(&["-n", ns, "link", "set", "nm-x.1", "up"]).unwrap();
    ip(&["-n", ns, "link", "set", "nm-y.1", "up"]).unwrap();
    let switch = unique_switch("dd");
    let target = format!("{switch}:nm-x.1");
    let said = valectl(ns, &["-a", &target]);
    assert!(
        said.contains(&format!("attached as {switch}:nm_x_1")),
        "{said}"
    );
    let listing = valectl(ns, &["-l", &switch]);
    assert!(listing.contains(&format!("{switch}:nm_x_1")), "{listing}");
    assert!(agent_pid(&listing, "nm-x.1").is_some(), "{listing}");
    valectl(ns, &["-d", &target]);
    let listing = valectl(ns, &["-l"]);
    assert!(agent_pid(&listing, "nm-x.1").is_none(), "{listing}");
}
