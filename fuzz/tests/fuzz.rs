//! Every fuzz target: its committed corpus replayed (the regression
//! tests), then a bounded fuzzing run (`NETMAP_FUZZ_SECONDS`, default 3
//! per target). A failing input is saved into the corpus.

use std::time::Duration;

use netmap_fuzz::runner::{fuzz, replay, save_failure};

fn seconds() -> f64 {
    std::env::var("NETMAP_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

fn run(name: &str) {
    let mut target = netmap_fuzz::target(name).unwrap();
    let replayed = replay(target.as_mut())
        .unwrap_or_else(|(path, why)| panic!("{} fails: {why}", path.display()));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    match fuzz(target.as_mut(), Duration::from_secs_f64(seconds()), seed) {
        Ok(report) => println!(
            "fuzz {name}: corpus {replayed}, {} executions in {:.1} s ({:.0}/s), seed {seed}",
            report.execs,
            report.elapsed.as_secs_f64(),
            report.per_second()
        ),
        Err(failure) => {
            let saved = save_failure(name, &failure.input);
            panic!(
                "fuzz {name} (seed {seed}): {}\ninput saved: {saved:?}",
                failure.why
            );
        }
    }
}

#[test]
fn fuzz_names() {
    run("names");
}

#[test]
fn fuzz_rings() {
    run("rings");
}

#[test]
fn fuzz_regs() {
    run("regs");
}
