//! Round-trip latency samples and their percentiles (nearest rank).
#![forbid(unsafe_code)]

use std::time::Duration;

/// The summary ping prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentiles {
    pub min: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// The nearest-rank `p`th percentile of sorted samples (`p` in 0..=100).
fn rank(sorted: &[Duration], p: u32) -> Duration {
    let n = sorted.len();
    let r = (u64::from(p) * n as u64).div_ceil(100).max(1) as usize;
    sorted[r.min(n) - 1]
}

/// Percentiles of `samples`, `None` when there are none.
pub fn percentiles(samples: &[Duration]) -> Option<Percentiles> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    Some(Percentiles {
        min: sorted[0],
        p50: rank(&sorted, 50),
        p90: rank(&sorted, 90),
        p99: rank(&sorted, 99),
        max: sorted[sorted.len() - 1],
    })
}

impl std::fmt::Display for Percentiles {
    /// `round-trip usec: min 1.234 p50 ... max ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_nanos() as f64 / 1000.0;
        write!(
            f,
            "round-trip usec: min {:.3} p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
            us(self.min),
            us(self.p50),
            us(self.p90),
            us(self.p99),
            us(self.max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_over_one_to_hundred() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let p = percentiles(&samples).unwrap();
        assert_eq!(p.min, Duration::from_micros(1));
        assert_eq!(p.p50, Duration::from_micros(50));
        assert_eq!(p.p90, Duration::from_micros(90));
        assert_eq!(p.p99, Duration::from_micros(99));
        assert_eq!(p.max, Duration::from_micros(100));
        assert_eq!(
            p.to_string(),
            "round-trip usec: min 1.000 p50 50.000 p90 90.000 p99 99.000 max 100.000"
        );
    }

    #[test]
    fn one_sample_and_none() {
        let p = percentiles(&[Duration::from_nanos(1500)]).unwrap();
        assert_eq!((p.min, p.p50, p.p99, p.max), (p.max, p.max, p.max, p.max));
        assert!(percentiles(&[]).is_none());
    }
}
