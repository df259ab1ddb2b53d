//! Running a target: replaying the committed corpus, and fuzzing for a
//! while by mutating it. A panic or a broken property is a failure; its
//! input is written into the corpus (`crash-<hash>`), where the replay
//! keeps it as a regression test once the fault is fixed.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::mutate::mutate;
use crate::rng::Rng;

/// A fuzz target.
pub trait Target {
    /// Its name (and its corpus directory's).
    fn name(&self) -> &'static str;
    /// The longest input worth trying.
    fn max_len(&self) -> usize;
    /// Byte strings the mutator inserts (grammar tokens, say).
    fn dictionary(&self) -> &[&'static [u8]] {
        &[]
    }
    /// Runs one input. `Err` is a broken property; panics are caught.
    fn run(&mut self, data: &[u8]) -> Result<(), String>;
}

/// An input that made a target fail, and why.
#[derive(Debug)]
pub struct Failure {
    pub input: Vec<u8>,
    pub why: String,
}

/// What a fuzzing run did.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    pub execs: u64,
    pub elapsed: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The committed corpus of `target`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Every corpus file of `target`, by name.
pub fn load_corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| std::fs::read(e.path()).ok().map(|d| (e.path(), d)))
        .collect();
    files.sort();
    files
}

thread_local! {
    /// Set while this thread runs a target: its panics are recorded, not
    /// printed.
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

fn quiet_panics_while_fuzzing() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = info.to_string());
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one input, a panic turned into an error.
pub fn run_one(target: &mut dyn Target, data: &[u8]) -> Result<(), String> {
    quiet_panics_while_fuzzing();
    FUZZING.with(|f| f.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| target.run(data)));
    FUZZING.with(|f| f.set(false));
    match result {
        Ok(result) => result,
        Err(_) => Err(format!(
            "panic: {}",
            LAST_PANIC.with(|p| std::mem::take(&mut *p.borrow_mut()))
        )),
    }
}

/// Replays every corpus file; returns how many.
pub fn replay(target: &mut dyn Target) -> Result<usize, (PathBuf, String)> {
    let corpus = load_corpus(target.name());
    for (path, data) in &corpus {
        run_one(target, data).map_err(|why| (path.clone(), why))?;
    }
    Ok(corpus.len())
}

/// Fuzzes `target` for `duration` from its corpus, with mutations drawn
/// from `seed`.
pub fn fuzz(target: &mut dyn Target, duration: Duration, seed: u64) -> Result<Report, Failure> {
    let corpus: Vec<Vec<u8>> = load_corpus(target.name())
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let mut rng = Rng::new(seed);
    let dictionary = target.dictionary().to_vec();
    let max_len = target.max_len();
    let start = Instant::now();
    let mut execs = 0u64;
    let mut input = Vec::with_capacity(max_len);
    while start.elapsed() < duration {
        input.clear();
        if !corpus.is_empty() && rng.below(8) != 0 {
            input.extend_from_slice(&corpus[rng.below(corpus.len())]);
        }
        let other = if corpus.is_empty() {
            &[][..]
        } else {
            &corpus[rng.below(corpus.len())][..]
        };
        mutate(&mut rng, &mut input, other, &dictionary, max_len);
        execs += 1;
        if let Err(why) = run_one(target, &input) {
            return Err(Failure {
                input: input.clone(),
                why,
            });
        }
    }
    Ok(Report {
        execs,
        elapsed: start.elapsed(),
    })
}

/// Writes a failing input into the target's corpus; returns its path.
pub fn save_failure(target: &str, input: &[u8]) -> std::io::Result<PathBuf> {
    // FNV-1a: a stable name, so the same input is saved once.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input)?;
    Ok(path)
}

/// What the test suite does with a target: replays its corpus, then fuzzes
/// it for `NETMAP_FUZZ_SECONDS` (default 3) from a time-based seed;
/// panics (saving the input into the corpus) on a failure.
pub fn check(target: &mut dyn Target) {
    let seconds: f64 = std::env::var("NETMAP_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let name = target.name();
    let replayed =
        replay(target).unwrap_or_else(|(path, why)| panic!("{} fails: {why}", path.display()));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    match fuzz(target, Duration::from_secs_f64(seconds), seed) {
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
