//! pkt-gen as netmap users run it: sender and receiver in two processes,
//! over a pipe and over a VALE switch, and ping/pong.

mod common;

use common::{number_after, Sandbox, PKT_GEN, TIMEOUT};

#[test]
fn tx_and_rx_over_a_pipe_in_two_processes_move_every_packet() {
    let sb = Sandbox::new();
    let sw = sb.switch("p");
    let (master, slave) = (format!("{sw}:p{{1"), format!("{sw}:p}}1"));
    let count = "50000";
    let mut rx = sb.receiver(&slave, &["-n", count]);
    let (status, out, err) = sb.run(PKT_GEN, &["-i", &master, "-f", "tx", "-n", count]);
    assert!(status.success(), "tx failed: {out}\n{err}");
    assert_eq!(number_after(&out, "Sent"), Some(50000), "{out}");
    assert!(
        out.contains("Speed: ") && out.contains("Average batch: "),
        "{out}"
    );
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    let rx_out = rx.stdout();
    // A pipe is lossless: every packet arrives, 60 bytes each.
    assert_eq!(number_after(&rx_out, "Received"), Some(50000), "{rx_out}");
    assert!(
        rx_out.contains("Received 50000 packets 3000000 bytes"),
        "{rx_out}"
    );
}

#[test]
fn tx_and_rx_over_a_vale_switch_in_two_processes() {
    let sb = Sandbox::new();
    let sw = sb.switch("v");
    let mut rx = sb.receiver(&format!("{sw}:b"), &["-n", "20000"]);
    // VALE drops what does not fit: send at a bounded rate until the
    // receiver has its count, then interrupt the sender.
    let mut tx = sb.spawn(
        PKT_GEN,
        &[
            "-i",
            &format!("{sw}:a"),
            "-f",
            "tx",
            "-R",
            "50000",
            "-T",
            "100",
        ],
    );
    tx.wait_for_line("ready", TIMEOUT);
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    let rx_out = rx.stdout();
    assert!(
        rx_out.contains("Received 20000 packets 1200000 bytes"),
        "{rx_out}"
    );
    tx.interrupt();
    assert!(tx.wait(TIMEOUT).success(), "{}", tx.stderr());
    let tx_out = tx.stdout();
    let sent = number_after(&tx_out, "Sent").expect("a Sent line");
    assert!(sent >= 20000, "{tx_out}");
    // The per-interval lines have netmap's shape.
    let interval = tx_out
        .lines()
        .find(|l| l.contains("avg_batch"))
        .unwrap_or_else(|| panic!("no interval line: {tx_out}"));
    assert!(
        interval.contains("pps (") && interval.contains("usec)") && interval.ends_with("min_space"),
        "{interval}"
    );
}

fn percentiles(line: &str) -> Vec<f64> {
    ["min", "p50", "p90", "p99", "max"]
        .iter()
        .map(|k| {
            let at = line
                .find(&format!(" {k} "))
                .unwrap_or_else(|| panic!("no {k}: {line}"));
            line[at + k.len() + 2..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

fn ping_pong(sb: &Sandbox, ping_port: &str, pong_port: &str, extra: &[&str]) {
    // pong runs until interrupted: a reply later than ping's timeout would
    // otherwise leave the two counts out of step.
    let mut pong_args = vec!["-i", pong_port, "-f", "pong"];
    pong_args.extend_from_slice(extra);
    let mut pong = sb.spawn(PKT_GEN, &pong_args);
    pong.wait_for_line("ready", TIMEOUT);
    let mut ping_args = vec!["-i", ping_port, "-f", "ping", "-n", "200"];
    ping_args.extend_from_slice(extra);
    let (status, out, err) = sb.run(PKT_GEN, &ping_args);
    assert!(status.success(), "ping failed: {out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("round-trip usec:"))
        .unwrap_or_else(|| panic!("no percentile line: {out}"));
    let replies = number_after(line, "(").expect("reply count");
    let lost = number_after(line, "replies,").expect("lost count");
    assert_eq!(replies + lost, 200, "{line}");
    // Both sides are up before the first ping: a loss needs a reply later
    // than a second, which only a stalled machine produces.
    assert!(replies >= 190, "{line}");
    let p = percentiles(line);
    assert!(p[0] > 0.0, "{line}");
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]),
        "percentiles out of order: {line}"
    );
    pong.interrupt();
    assert!(pong.wait(TIMEOUT).success(), "{}", pong.stderr());
    let echoed = number_after(&pong.stdout(), "Sent").expect("pong summary");
    assert!(echoed >= replies && echoed <= 200, "{}", pong.stdout());
}

#[test]
fn ping_pong_over_vale_prints_round_trip_percentiles() {
    let sb = Sandbox::new();
    let sw = sb.switch("l");
    ping_pong(&sb, &format!("{sw}:ping"), &format!("{sw}:pong"), &[]);
}

#[test]
fn ping_pong_over_a_pipe_busy_polling() {
    let sb = Sandbox::new();
    let sw = sb.switch("q");
    ping_pong(
        &sb,
        &format!("{sw}:q{{1"),
        &format!("{sw}:q}}1"),
        &["--busy"],
    );
}

#[test]
fn threads_each_on_their_own_ring_of_a_pipe() {
    let sb = Sandbox::new();
    let sw = sb.switch("t");
    let master = format!("{sw}:m{{1@conf:rings=2");
    let slave = format!("{sw}:m}}1");
    // The master creates the pipe with two rings a side; the receiver
    // opens the slave end once it exists.
    let mut tx = sb.spawn(
        PKT_GEN,
        &[
            "-i", &master, "-f", "tx", "-p", "2", "-n", "40000", "-w", "1",
        ],
    );
    tx.wait_for_line("ready", TIMEOUT);
    let mut rx = sb.spawn(
        PKT_GEN,
        &["-i", &slave, "-f", "rx", "-p", "2", "-n", "40000"],
    );
    let ready = rx.wait_for_line("ready", TIMEOUT);
    assert!(
        ready.contains("2 rx ring(s)") && ready.contains("2 thread(s)"),
        "{ready}"
    );
    assert!(tx.wait(TIMEOUT).success(), "{}", tx.stderr());
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    assert_eq!(
        number_after(&tx.stdout(), "Sent"),
        Some(40000),
        "{}",
        tx.stdout()
    );
    assert_eq!(
        number_after(&rx.stdout(), "Received"),
        Some(40000),
        "{}",
        rx.stdout()
    );
}
