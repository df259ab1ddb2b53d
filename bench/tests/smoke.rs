//! Runs the benchmark program in its smoke mode (a few thousand packets
//! per measurement) and checks that its JSON report parses and holds every
//! figure, so that a change breaking a measurement is noticed. No timing
//! is asserted: the figures of a smoke run mean nothing.

use std::process::Command;

use serde_json::Value;

fn at<'a>(report: &'a Value, path: &str) -> &'a Value {
    let mut v = report;
    for key in path.split('.') {
        v = match key.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[key],
        };
        assert!(
            !v.is_null()
                || path.starts_with("vale_unicast.linux_bridge")
                || path.starts_with("vale_unicast.ratio_vs_bridge"),
            "{path}: missing or null at {key}"
        );
    }
    v
}

fn number(report: &Value, path: &str) -> f64 {
    at(report, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {}", at(report, path)))
}

#[test]
fn smoke_run_reports_every_figure() {
    let prefix = format!("nmbt{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_netmap-bench"))
        .args(["--smoke", "--json", "--netns-prefix", &prefix])
        .output()
        .expect("run netmap-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "netmap-bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Exactly one JSON object on stdout.
    let report: Value = serde_json::from_str(stdout.trim()).expect("stdout is one JSON value");
    assert_eq!(report["mode"], "smoke");

    for path in [
        "pipe.ours_mpps.median",
        "pipe.plain_ring_mpps.median",
        "pipe.ratio.median",
        "vale_unicast.ours_mpps.median",
        "vale_unicast.ours_sender_mpps.median",
        "vale_unicast.one_copy_ring_mpps.median",
        "vale_unicast.ratio_vs_one_copy.median",
        "vale_broadcast.ours_mpps_per_receiver.median",
        "vale_broadcast.ours_sender_mpps.median",
        "vale_broadcast.one_copy_fanout_mpps_per_receiver.median",
        "vale_broadcast.ratio.median",
        "vale_scaling.ours_mpps_total.median",
        "vale_scaling.one_copy_rings_mpps_total.median",
        "vale_scaling.ratio.median",
        "curve.size.0.ours_mpps",
        "curve.size.0.one_copy_ring_mpps",
        "curve.batch.0.vale_mpps",
        "curve.batch.0.pipe_mpps",
        "curve.batch.0.plain_ring_mpps",
        "curve.ports.0.ours_deliveries_mpps",
        "curve.ports.0.one_copy_fanout_deliveries_mpps",
        "latency.pipe.median_ns",
        "latency.pipe.p99_ns",
        "latency.vale.median_ns",
        "latency.vale.p99_ns",
        "latency.plain_ring.median_ns",
        "latency.ratio_pipe_vs_ring.median",
        "latency.ratio_vale_vs_ring.median",
        "buffer_stride.stride_2048_mpps.median",
        "buffer_stride.stride_2112_mpps.median",
        "buffer_stride.ratio_2112_vs_2048.median",
        "single_process.pipe_mpps.median",
        "single_process.vale_mpps.median",
        "single_process.pipe_ns_per_packet",
        "single_process.vale_ns_per_packet",
    ] {
        assert!(number(&report, path) > 0.0, "{path} is not positive");
    }
    // The bridge baseline either ran or says why not.
    let unicast = &report["vale_unicast"];
    match unicast["bridge_skipped"].as_str() {
        Some(why) => {
            assert!(!why.is_empty());
            assert!(unicast["linux_bridge_mpps"].is_null());
        }
        None => assert!(number(&report, "vale_unicast.linux_bridge_mpps.median") > 0.0),
    }
    for target in [
        "pipe_mpps_at_least_100",
        "pipe_ratio_at_least_0_8",
        "vale_mpps_at_least_20",
        "vale_ratio_vs_one_copy_at_least_0_5",
        "vale_ratio_vs_bridge_at_least_30",
        "pipe_rtt_median_at_most_2000_ns",
        "vale_rtt_median_at_most_2000_ns",
    ] {
        let t = &report["targets"][target];
        assert!(
            t.get("met").is_some() && t["target"].is_number(),
            "target {target}: {t}"
        );
    }
    // No namespace of this run is left behind.
    if let Ok(list) = Command::new("ip").args(["netns", "list"]).output() {
        let list = String::from_utf8_lossy(&list.stdout);
        assert!(!list.contains(&prefix), "namespaces left: {list}");
    }
}

/// `--backend sim`: the pipe and VALE figures over the shared simulated
/// NIC, with the device's cost per packet. Its server is this test's own
/// (a private runtime directory) and leaves one second after the run.
#[test]
fn device_backend_smoke_run_reports_cost_per_packet() {
    let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_netmap-bench"));
    let server = bench.with_file_name("nmsim-server");
    assert!(
        server.exists(),
        "{} is missing: run `cargo build -p host-driver --bin nmsim-server` (cargo test --workspace builds it)",
        server.display()
    );
    let dir = std::env::temp_dir().join(format!("nmb-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(&bench)
        .args(["--backend", "sim", "--smoke", "--json"])
        .env("NETMAP_RS_DIR", &dir)
        .env("NMSIM_IDLE_EXIT", "1")
        .output()
        .expect("run netmap-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The server leaves by itself; wait for it (bounded) before cleaning.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while dir.join("nmsim.pid").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let server_left = !dir.join("nmsim.pid").exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "netmap-bench failed: {stderr}\n{stdout}"
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("stdout is one JSON value");
    assert_eq!(report["backend"], "sim");
    for suite in ["pipe", "vale_unicast"] {
        assert!(number(&report, &format!("{suite}.ours_mpps.median")) > 0.0);
        for figure in ["cycles", "mmio_writes", "bar2_write_bytes", "board_mpps"] {
            let path = format!("{suite}.per_packet.{figure}");
            assert!(number(&report, &path) > 0.0, "{path} is not positive");
        }
        // The data path makes no MMIO read.
        assert_eq!(
            number(&report, &format!("{suite}.per_packet.mmio_reads")),
            0.0
        );
        // Frames cross memory: VALE copies them (DMA reads and writes),
        // the pipe at least writes the receiver's slots.
        assert!(number(&report, &format!("{suite}.per_packet.dma_write_bytes")) >= 16.0);
    }
    assert!(number(&report, "vale_unicast.per_packet.dma_read_bytes") >= 60.0);
    assert!(server_left, "the auto-started server did not leave");
}

/// `scripts/profile`'s one-thread loops run for ours and the baselines
/// and report the packets they were asked for.
#[test]
fn the_profiling_loops_move_what_they_are_asked_for() {
    for kind in ["pipe", "ring", "one-copy", "fan-out"] {
        let name = format!("smk{}{}", std::process::id(), kind.len());
        let out = Command::new(env!("CARGO_BIN_EXE_netmap-bench"))
            .args(["child", "loop", "--kind", kind, "--name", &name])
            .args([
                "--ctl",
                "/nonexistent",
                "--max-packets",
                "5000",
                "--batch",
                "256",
            ])
            .output()
            .expect("run netmap-bench child loop");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kind}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout.lines().last().expect("one JSON line");
        let report: Value = serde_json::from_str(line).expect("a JSON line");
        assert!(number(&report, "packets") >= 5000.0, "{kind}: {report}");
    }
}
