//! Benchmark: a C sender and receiver over `libnetmap_preload.so` against
//! the project's Rust `pkt-gen` on the same kind of ports, in one run.
//!
//! Each round moves COUNT 60-byte frames over a fresh netmap pipe between
//! two processes on the software engine, once with the C programs
//! `tests/c/bench_tx.c` and `bench_rx.c` (raw netmap calls: NIOCTXSYNC,
//! poll; every frame copied) under `LD_PRELOAD`, once with `pkt-gen -f tx`
//! and `pkt-gen -f rx` (which also copies every frame on a pipe). The rate
//! is the receiver's, first packet to last. Rounds alternate C and Rust
//! (DESIGN.md section 6: this VM's cross-core cost swings 3-4x within
//! seconds); the ratio is taken per pair and the median reported.
//!
//! ```text
//! cargo build --release -p netmap-tools            # target/release/pkt-gen
//! cargo bench -p netmap-preload                    # ROUNDS=5 COUNT=2000000
//! ```
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

fn preload_lib() -> PathBuf {
    let t = target_dir();
    [
        t.join("deps/libnetmap_preload.so"),
        t.join("libnetmap_preload.so"),
    ]
    .into_iter()
    .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
    .max()
    .map(|(_, p)| p)
    .expect("libnetmap_preload.so: cargo bench builds it")
}

fn compile(out: &Path) -> Result<(), String> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    for name in ["bench_tx", "bench_rx"] {
        let built = Command::new(&cc)
            .args(["-std=gnu11", "-O2", "-Wall", "-Werror"])
            .arg("-I")
            .arg(crate_dir.join("../netmap-ring/include"))
            .arg(crate_dir.join(format!("tests/c/{name}.c")))
            .arg("-o")
            .arg(out.join(name))
            .output()
            .map_err(|e| format!("no C compiler `{cc}`: {e}"))?;
        if !built.status.success() {
            return Err(String::from_utf8_lossy(&built.stderr).into_owned());
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// The C programs over the preload library.
    C,
    /// The project's pkt-gen.
    Rust,
}

struct Bench {
    dir: PathBuf,
    programs: PathBuf,
    pkt_gen: PathBuf,
    lib: PathBuf,
    count: u64,
}

impl Bench {
    fn command(&self, side: Side, tx: bool, pipe: &str) -> Command {
        let end = if tx { '{' } else { '}' };
        let count = self.count.to_string();
        let mut command = match side {
            Side::C => {
                let program = if tx { "bench_tx" } else { "bench_rx" };
                let mut c = Command::new(self.programs.join(program));
                c.arg(format!("{pipe}{end}1"))
                    .arg(&count)
                    .env("LD_PRELOAD", &self.lib);
                c
            }
            Side::Rust => {
                let mut c = Command::new(&self.pkt_gen);
                c.args(["-i", &format!("netmap:{pipe}{end}1")])
                    .args(["-f", if tx { "tx" } else { "rx" }])
                    .args(["-n", &count, "-T", "100000"]);
                c
            }
        };
        command
            .env("NETMAP_RS_DIR", &self.dir)
            .env("NETMAP_BACKEND", "soft")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// One transfer; the receiver's Mpps.
    fn round(&self, side: Side, pipe: &str) -> f64 {
        let mut rx = self.command(side, false, pipe).spawn().expect("receiver");
        // Both tools say "ready" once the port exists (C on stdout,
        // pkt-gen on stderr); the full output is kept for the summary.
        let (lines_tx, lines) = mpsc::channel::<String>();
        let mut readers = Vec::new();
        let out: Box<dyn Read + Send> = Box::new(rx.stdout.take().expect("stdout"));
        let err: Box<dyn Read + Send> = Box::new(rx.stderr.take().expect("stderr"));
        for stream in [out, err] {
            let lines_tx = lines_tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = lines_tx.send(line);
                }
            }));
        }
        drop(lines_tx);
        let mut seen = Vec::new();
        loop {
            match lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let ready = line.contains("ready");
                    seen.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) => panic!("{side:?} receiver never got ready: {seen:?}"),
            }
        }
        let tx = self
            .command(side, true, pipe)
            .output()
            .expect("sender runs");
        assert!(
            tx.status.success(),
            "{side:?} sender: {}",
            String::from_utf8_lossy(&tx.stderr)
        );
        let status = rx.wait().expect("receiver");
        for r in readers {
            let _ = r.join();
        }
        seen.extend(lines.try_iter());
        assert!(status.success(), "{side:?} receiver: {seen:?}");
        let summary = seen
            .iter()
            .find(|l| l.starts_with("Received "))
            .unwrap_or_else(|| panic!("{side:?}: no summary in {seen:?}"));
        parse_rate(summary).unwrap_or_else(|| panic!("cannot read {summary:?}"))
    }
}

/// `Received N packets ... in T seconds.` -> N / T in Mpps.
fn parse_rate(line: &str) -> Option<f64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let packets: f64 = words.get(1)?.parse().ok()?;
    let at = words.iter().position(|w| *w == "in")?;
    let seconds: f64 = words.get(at + 1)?.parse().ok()?;
    (seconds > 0.0).then(|| packets / seconds / 1e6)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // special: run a short smoke round then.
    let benching = std::env::args().any(|a| a == "--bench");
    let target = target_dir();
    let pkt_gen = target.join("pkt-gen");
    if !pkt_gen.exists() {
        println!(
            "SKIP preload_vs_rust: {} is not built (cargo build --release -p netmap-tools)",
            pkt_gen.display()
        );
        return;
    }
    let env_num = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env_num("ROUNDS", if benching { 5 } else { 1 });
    let count = env_num("COUNT", if benching { 2_000_000 } else { 20_000 });
    let dir = std::env::temp_dir().join(format!("nmpreload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("runtime directory");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let programs = dir.join("bin");
    std::fs::create_dir_all(&programs).expect("bin directory");
    if let Err(why) = compile(&programs) {
        println!("SKIP preload_vs_rust: {why}");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let bench = Bench {
        dir: dir.clone(),
        programs,
        pkt_gen,
        lib: preload_lib(),
        count,
    };
    println!("pipe between two processes, software engine, 60-byte frames, {count} per round");
    let (mut c_rates, mut rust_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let c = bench.round(Side::C, &format!("bc{round}"));
        let rust = bench.round(Side::Rust, &format!("br{round}"));
        println!(
            "round {round}: C over preload {c:7.2} Mpps   Rust pkt-gen {rust:7.2} Mpps   ratio {:.2}",
            c / rust
        );
        c_rates.push(c);
        rust_rates.push(rust);
        ratios.push(c / rust);
    }
    println!(
        "| pipe, 2 processes, 60 B | C over libnetmap_preload: {:.2} Mpps | Rust pkt-gen: {:.2} Mpps | ratio (median of pairs) {:.2} |",
        median(&mut c_rates),
        median(&mut rust_rates),
        median(&mut ratios)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
