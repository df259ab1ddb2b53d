//! `netmap-fuzz TARGET SECONDS [SEED]`: replays TARGET's corpus, then
//! fuzzes it for SECONDS. A failing input is saved into the corpus and the
//! exit status is 1.

use std::process::ExitCode;
use std::time::Duration;

use netmap_fuzz::runner::{fuzz, replay, save_failure};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(seconds)) = (args.first(), args.get(1).and_then(|s| s.parse().ok()))
    else {
        eprintln!(
            "usage: netmap-fuzz TARGET SECONDS [SEED]   (targets: {})",
            netmap_fuzz::TARGETS.join(", ")
        );
        return ExitCode::from(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let Some(mut target) = netmap_fuzz::target(name) else {
        eprintln!(
            "no target {name} (targets: {})",
            netmap_fuzz::TARGETS.join(", ")
        );
        return ExitCode::from(2);
    };
    match replay(target.as_mut()) {
        Ok(n) => println!("{name}: corpus of {n} inputs replayed"),
        Err((path, why)) => {
            eprintln!("{name}: {} fails: {why}", path.display());
            return ExitCode::FAILURE;
        }
    }
    match fuzz(target.as_mut(), Duration::from_secs_f64(seconds), seed) {
        Ok(report) => {
            println!(
                "{name}: {} executions in {:.1} s ({:.0}/s), seed {seed}, no failure",
                report.execs,
                report.elapsed.as_secs_f64(),
                report.per_second()
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let saved = save_failure(name, &failure.input);
            eprintln!("{name}: failure (seed {seed}): {}", failure.why);
            match saved {
                Ok(path) => eprintln!("input saved as {}", path.display()),
                Err(e) => eprintln!("input not saved: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}
