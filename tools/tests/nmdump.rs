//! nmdump over monitor ports, in separate processes: the capture tshark
//! reads back with good checksums, its replay by `pkt-gen --pcap`, the
//! printed lines, the summary on SIGINT and the end when the port closes.

mod common;

use std::path::PathBuf;

use common::{tshark_fields, Sandbox, GOOD, NMDUMP, PKT_GEN, TIMEOUT};
use netmap_tools::pcap::read_frames;

fn temp_file(sb: &Sandbox, what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("netmap-nmdump-{}-{what}", sb.tag))
}

/// The done-when: `nmdump -i SW:b -w f.pcapng -c 1000` while
/// pkt-gen sends to `SW:b` gives 1000 frames tshark reads with good
/// checksums; replaying the file into another port delivers the same
/// frames.
#[test]
fn capture_of_1000_frames_reads_clean_in_tshark_and_replays_identically() {
    let sb = Sandbox::new();
    let sw = sb.switch("d");
    let capture = temp_file(&sb, "f.pcapng");
    let mut sink = sb.receiver(&format!("{sw}:b"), &[]);
    let mut dump = sb.spawn(
        NMDUMP,
        &[
            "-i",
            &format!("{sw}:b"),
            "-w",
            capture.to_str().unwrap(),
            "-c",
            "1000",
        ],
    );
    dump.wait_for_stderr_line("listening", TIMEOUT);
    // Paced so the sink keeps up: the monitor copies what b receives.
    let mut source = sb.spawn(
        PKT_GEN,
        &[
            "-i",
            &format!("{sw}:a"),
            "-f",
            "tx",
            "-R",
            "20000",
            "-l",
            "60",
            "-l",
            "300",
            "-D",
            "02:00:00:00:00:0b",
        ],
    );
    assert!(dump.wait(TIMEOUT).success(), "{}", dump.stderr());
    source.interrupt();
    assert!(source.wait(TIMEOUT).success(), "{}", source.stderr());
    sink.interrupt();
    assert!(sink.wait(TIMEOUT).success());
    assert!(
        dump.stderr().contains("1000 frames seen, 0 dropped"),
        "{}",
        dump.stderr()
    );

    let rows = tshark_fields(
        &capture,
        &[
            "frame.protocols",
            "ip.checksum.status",
            "udp.checksum.status",
            "frame.interface_name",
        ],
        None,
    );
    assert_eq!(rows.len(), 1000, "frames tshark finds");
    for (i, row) in rows.iter().enumerate() {
        assert!(
            row[0].starts_with("eth:ethertype:ip:udp"),
            "frame {i}: {row:?}"
        );
        assert_eq!(row[1], GOOD, "frame {i}: IP checksum: {row:?}");
        assert_eq!(row[2], GOOD, "frame {i}: UDP checksum: {row:?}");
        assert_eq!(row[3], format!("{sw}:b rx"), "frame {i}: {row:?}");
    }

    // Replay into another switch: the receiver gets the same frames.
    let replayed = temp_file(&sb, "g.pcap");
    let other = sb.switch("e");
    let mut rx = sb.receiver(
        &format!("{other}:y"),
        &["-n", "1000", "--pcap", replayed.to_str().unwrap()],
    );
    let (status, out, err) = sb.run(
        PKT_GEN,
        &[
            "-i",
            &format!("{other}:x"),
            "-f",
            "tx",
            "--pcap",
            capture.to_str().unwrap(),
        ],
    );
    assert!(status.success(), "{out}\n{err}");
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    let sent = read_frames(&capture).unwrap();
    let got = read_frames(&replayed).unwrap();
    let _ = std::fs::remove_file(&capture);
    let _ = std::fs::remove_file(&replayed);
    assert_eq!(got.len(), 1000);
    assert!(got == sent, "the replayed frames differ from the capture");
}

#[test]
fn replay_loops_with_n_and_refuses_a_bad_file() {
    let sb = Sandbox::new();
    let sw = sb.switch("l");
    let file = temp_file(&sb, "three.pcap");
    let frames: Vec<Vec<u8>> = (0..3u8)
        .map(|n| {
            let mut f = vec![0xff; 6];
            f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x88, 0xb5]);
            f.resize(60 + usize::from(n), n);
            f
        })
        .collect();
    let mut w = netmap_tools::pcap::PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in &frames {
        w.write(f).unwrap();
    }
    w.finish().unwrap();
    let got = temp_file(&sb, "got.pcap");
    let mut rx = sb.receiver(
        &format!("{sw}:y"),
        &["-n", "6", "--pcap", got.to_str().unwrap()],
    );
    let (status, out, err) = sb.run(
        PKT_GEN,
        &[
            "-i",
            &format!("{sw}:x"),
            "-f",
            "tx",
            "--pcap",
            file.to_str().unwrap(),
            "-n",
            "2",
        ],
    );
    assert!(status.success(), "{out}\n{err}");
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    let received = read_frames(&got).unwrap();
    let twice: Vec<Vec<u8>> = frames.iter().chain(frames.iter()).cloned().collect();
    assert_eq!(received, twice);

    std::fs::write(&file, b"not a capture at all, just some bytes").unwrap();
    let (status, _, err) = sb.run(
        PKT_GEN,
        &[
            "-i",
            &format!("{sw}:x"),
            "-f",
            "tx",
            "--pcap",
            file.to_str().unwrap(),
        ],
    );
    assert!(!status.success());
    assert!(err.contains("not a pcap or pcapng file"), "{err}");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&got);
}

#[test]
fn printed_lines_say_direction_addresses_and_udp() {
    let sb = Sandbox::new();
    let sw = sb.switch("p");
    let mut source = sb.spawn(
        PKT_GEN,
        &["-i", &format!("{sw}:a"), "-f", "tx", "-R", "1000"],
    );
    source.wait_for_line("ready", TIMEOUT);
    let (status, out, err) = sb.run(NMDUMP, &["-i", &format!("{sw}:a"), "--tx", "-c", "5"]);
    source.interrupt();
    source.wait(TIMEOUT);
    assert!(status.success(), "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    for line in lines {
        assert!(
            line.contains(
                " tx 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype IPv4 (0x0800), length 60: 10.0.0.1.1234 > 10.1.0.1.1234: UDP, length 18"
            ),
            "{line}"
        );
    }
    assert!(err.contains("5 frames seen, 0 dropped"), "{err}");
}

#[test]
fn sigint_prints_the_summary_and_a_closing_port_ends_the_dump() {
    let sb = Sandbox::new();
    let sw = sb.switch("s");
    let mut port = sb.receiver(&format!("{sw}:b"), &[]);
    let mut dump = sb.spawn(NMDUMP, &["-i", &format!("{sw}:b")]);
    dump.wait_for_stderr_line("listening", TIMEOUT);
    // valectl lists the monitor with the port it watches.
    let (status, out, _) = sb.run(common::VALECTL, &["-l", &sw]);
    assert!(status.success());
    assert!(out.contains(&format!("monitor of {sw}:b")), "{out}");
    let (_, json, _) = sb.run(common::VALECTL, &["-l", &sw, "--json"]);
    assert!(json.contains(&format!("\"watching\":\"{sw}:b\"")), "{json}");
    dump.interrupt();
    assert!(dump.wait(TIMEOUT).success(), "{}", dump.stderr());
    assert!(
        dump.stderr().contains("0 frames seen, 0 dropped"),
        "{}",
        dump.stderr()
    );

    let mut dump = sb.spawn(NMDUMP, &["-i", &format!("{sw}:b")]);
    dump.wait_for_stderr_line("listening", TIMEOUT);
    port.interrupt();
    assert!(port.wait(TIMEOUT).success());
    assert!(dump.wait(TIMEOUT).success(), "{}", dump.stderr());
    assert!(dump.stderr().contains("was closed"), "{}", dump.stderr());

    let (status, _, err) = sb.run(NMDUMP, &["-i", &format!("{sw}:nobody")]);
    assert!(!status.success());
    assert!(err.contains("no port nobody"), "{err}");
}
