//! Frames pkt-gen sends decode clean in tshark: every captured frame is
//! Ethernet/IPv4/UDP with good IP and UDP checksums (an independent
//! decoder; scripts/setup installs tshark).

mod common;

use common::{tshark_fields, Sandbox, GOOD, PKT_GEN, TIMEOUT};
use netmap_tools::pcap::PcapWriter;

const FIELDS: [&str; 5] = [
    "frame.len",
    "frame.protocols",
    "ip.checksum.status",
    "udp.checksum.status",
    "ip.src",
];

#[test]
fn captured_frames_decode_as_udp_with_good_checksums() {
    let sb = Sandbox::new();
    let sw = sb.switch("c");
    let file = std::env::temp_dir().join(format!("netmap-tools-capture-{}.pcap", sb.tag));
    let file_arg = file.to_str().unwrap();
    let mut rx = sb.receiver(&format!("{sw}:c}}1"), &["-n", "300", "--pcap", file_arg]);
    let (status, out, err) = sb.run(
        PKT_GEN,
        &[
            "-i",
            &format!("{sw}:c{{1"),
            "-f",
            "tx",
            "-n",
            "300",
            "-l",
            "60",
            "-l",
            "1514",
            "-s",
            "10.0.0.1:1234-10.0.0.3:1236",
            "-d",
            "10.9.0.1:5000",
        ],
    );
    assert!(status.success(), "{out}\n{err}");
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    let rows = tshark_fields(&file, &FIELDS, None);
    let _ = std::fs::remove_file(&file);
    assert_eq!(rows.len(), 300, "frames in the capture");
    for (i, row) in rows.iter().enumerate() {
        assert!(
            row[1].starts_with("eth:ethertype:ip:udp"),
            "frame {i}: {row:?}"
        );
        assert_eq!(row[2], GOOD, "frame {i}: IP checksum: {row:?}");
        assert_eq!(row[3], GOOD, "frame {i}: UDP checksum: {row:?}");
        // Sizes cycle from 60 up, addresses through the range.
        assert_eq!(row[0], (60 + i).to_string(), "frame {i}: {row:?}");
    }
    let sources: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    assert_eq!(sources.len(), 3, "{sources:?}");
}

#[test]
fn the_check_catches_a_bad_checksum() {
    // The same check over a frame with a corrupted UDP checksum must fail:
    // shows the test above can fail.
    let sb = Sandbox::new();
    let sw = sb.switch("k");
    let file = std::env::temp_dir().join(format!("netmap-tools-bad-{}.pcap", sb.tag));
    let mut rx = sb.receiver(
        &format!("{sw}:k}}1"),
        &["-n", "1", "--pcap", file.to_str().unwrap()],
    );
    let (status, _, _) = sb.run(
        PKT_GEN,
        &["-i", &format!("{sw}:k{{1"), "-f", "tx", "-n", "1"],
    );
    assert!(status.success());
    assert!(rx.wait(TIMEOUT).success());
    let bytes = std::fs::read(&file).unwrap();
    let mut frame = bytes[24 + 16..].to_vec();
    frame[40] ^= 0x55; // UDP checksum
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    w.write(&frame).unwrap();
    w.finish().unwrap();
    let rows = tshark_fields(&file, &FIELDS, None);
    let _ = std::fs::remove_file(&file);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], GOOD);
    assert_ne!(rows[0][3], GOOD, "{:?}", rows[0]);
}

#[test]
fn frames_through_a_vale_switch_decode_clean() {
    // A fixed frame on a VALE port is written once per buffer and then
    // only re-sent: the frames that arrive must still be whole and valid.
    let sb = Sandbox::new();
    let sw = sb.switch("w");
    let file = std::env::temp_dir().join(format!("netmap-tools-vale-{}.pcap", sb.tag));
    let mut rx = sb.receiver(
        &format!("{sw}:r"),
        &["-n", "3000", "--pcap", file.to_str().unwrap()],
    );
    let mut tx = sb.spawn(
        PKT_GEN,
        &[
            "-i",
            &format!("{sw}:t"),
            "-f",
            "tx",
            "-l",
            "128",
            "-R",
            "100000",
        ],
    );
    assert!(rx.wait(TIMEOUT).success(), "{}", rx.stderr());
    tx.interrupt();
    assert!(tx.wait(TIMEOUT).success());
    let rows = tshark_fields(&file, &FIELDS, None);
    let _ = std::fs::remove_file(&file);
    assert_eq!(rows.len(), 3000);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], "128", "frame {i}: {row:?}");
        assert!(
            row[1].starts_with("eth:ethertype:ip:udp"),
            "frame {i}: {row:?}"
        );
        assert_eq!(
            (row[2].as_str(), row[3].as_str()),
            (GOOD, GOOD),
            "frame {i}: {row:?}"
        );
    }
}
