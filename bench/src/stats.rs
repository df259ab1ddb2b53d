//! Medians and per-round ratios: on a noisy two-core VM a single figure
//! means little, a median of A/B ratios taken in alternating rounds does.
#![forbid(unsafe_code)]

use serde_json::{json, Value};

/// The median of the values present (`None` when there is none).
pub fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// Per-round ratios `a[i] / b[i]` (missing where either is missing or `b`
/// is zero).
pub fn ratios(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<Option<f64>> {
    a.iter()
        .zip(b)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if *b > 0.0 => Some(a / b),
            _ => None,
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `{"rounds": [...], "median": m}` with three decimals.
pub fn series(values: &[Option<f64>]) -> Value {
    json!({
        "rounds": values.iter().map(|v| v.map(round3)).collect::<Vec<_>>(),
        "median": median(values).map(round3),
    })
}

/// A figure for text output: three significant decimals or `-`.
pub fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_ignores_missing_rounds() {
        assert_eq!(median(&[Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(median(&[Some(4.0), Some(1.0)]), Some(2.5));
        assert_eq!(median(&[None]), None);
    }

    #[test]
    fn ratios_pair_rounds_and_skip_gaps() {
        let r = ratios(
            &[Some(4.0), Some(3.0), None],
            &[Some(2.0), Some(0.0), Some(1.0)],
        );
        assert_eq!(r, vec![Some(2.0), None, None]);
        let s = series(&[Some(1.23456), None]);
        assert_eq!(s["rounds"][0], 1.235);
        assert!(s["rounds"][1].is_null());
        assert_eq!(s["median"], 1.235);
    }
}
