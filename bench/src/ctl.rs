//! What the processes of one measurement share besides the data path: a
//! small control file (how many receivers have finished, so that senders
//! stop with them), and the line protocol on the children's stdin/stdout
//! (`ready`, then `go`, then one JSON result line).
#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use netmap_ring::shm::SharedRegion;

/// Offset of the count of receivers that have finished their window.
const FINISHED: usize = 0;
const CTL_LEN: u64 = 4096;

/// The control file of one measurement, mapped.
pub struct Control {
    region: SharedRegion,
}

impl Control {
    /// Creates a zeroed control file at `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        file.set_len(CTL_LEN)?;
        Self::from_file(file)
    }

    /// Maps the control file a parent created.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Self::from_file(file)
    }

    fn from_file(file: std::fs::File) -> std::io::Result<Self> {
        let region = SharedRegion::from_fd(file.into()).map_err(std::io::Error::other)?;
        if region.len() < CTL_LEN as usize {
            return Err(std::io::Error::other("control file too short"));
        }
        Ok(Self { region })
    }

    fn finished_word(&self) -> &AtomicU32 {
        self.region
            .atomic_u32(FINISHED)
            .expect("length checked at open")
    }

    /// A receiver says it is done.
    pub fn finish(&self) {
        // Release: nothing depends on it but the count; keeps it ordered
        // after the receiver's own work.
        self.finished_word().fetch_add(1, Ordering::Release);
    }

    /// How many receivers are done.
    #[inline]
    pub fn finished(&self) -> u32 {
        // Relaxed: a stop hint polled in a loop; nothing is read through it.
        self.finished_word().load(Ordering::Relaxed)
    }
}

/// A file in /dev/shm (or `$TMPDIR` where there is none) removed on drop.
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A fresh unique path (not created).
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::AtomicU64;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        Self {
            path: dir.join(format!("netmap-bench-{}-{seq}-{tag}", std::process::id())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Child side: says the set-up is done.
pub fn say_ready() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

/// Child side: waits for the parent's `go`. False when the parent went
/// away or said something else (the child then exits).
pub fn wait_go() -> bool {
    let mut line = String::new();
    matches!(std::io::stdin().lock().read_line(&mut line), Ok(n) if n > 0) && line.trim() == "go"
}

/// Child side: prints the one result line.
pub fn report(result: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{result}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_share_the_finished_count_and_the_file_goes_away() {
        let file = TempFile::new("ctl-test");
        let path = file.path().to_owned();
        let a = Control::create(&path).unwrap();
        let b = Control::open(&path).unwrap();
        assert_eq!(b.finished(), 0);
        a.finish();
        a.finish();
        assert_eq!(b.finished(), 2);
        drop(file);
        assert!(!path.exists());
    }
}
