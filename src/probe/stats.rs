//! Repeated probes (`-n COUNT`): per-phase min / median / p95 / max, jitter,
//! and how often each phase failed.
//!
//! Jitter is the mean absolute difference between consecutive samples of a
//! phase (the RFC 3550 idea without its smoothing): it says how much one probe
//! differs from the next, which a spread between min and max does not.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Phase, ProbeRun};

/// One phase over all runs that reached it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseStats {
    /// The phase (`total` for the whole probe).
    pub phase: &'static str,
    /// Runs that completed this phase.
    pub samples: usize,
    /// Runs that failed in this phase.
    pub failures: usize,
    /// `failures / (samples + failures)`.
    pub failure_rate: f64,
    /// Milliseconds; `None` without samples.
    pub min: Option<f64>,
    /// Median.
    pub median: Option<f64>,
    /// 95th percentile (nearest rank).
    pub p95: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Mean absolute difference of consecutive samples.
    pub jitter: Option<f64>,
}

/// The summary of repeated probes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Probes run.
    pub runs: usize,
    /// Probes with a healthy verdict.
    pub ok: usize,
    /// Per phase, then `total`.
    pub phases: Vec<PhaseStats>,
    /// How often each finding kind occurred, by kind.
    pub findings: BTreeMap<&'static str, usize>,
}

impl Summary {
    /// Summarises `runs` in order.
    pub fn of(runs: &[ProbeRun]) -> Summary {
        let mut phases: Vec<PhaseStats> = Phase::ALL
            .iter()
            .map(|&p| {
                let samples: Vec<f64> = runs.iter().filter_map(|r| r.phases_ms.get(p)).collect();
                let failures = runs.iter().filter(|r| r.verdict.phase == Some(p)).count();
                stats(p.as_str(), &samples, failures)
            })
            .collect();
        let totals: Vec<f64> = runs.iter().map(|r| r.phases_ms.total).collect();
        let failed = runs.iter().filter(|r| !r.verdict.ok).count();
        phases.push(stats("total", &totals, failed));
        let mut findings = BTreeMap::new();
        for f in runs.iter().flat_map(|r| &r.findings) {
            *findings.entry(f.kind).or_insert(0) += 1;
        }
        Summary {
            runs: runs.len(),
            ok: runs.len() - failed,
            phases,
            findings,
        }
    }
}

fn stats(phase: &'static str, samples: &[f64], failures: usize) -> PhaseStats {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |q: f64| -> Option<f64> {
        if sorted.is_empty() {
            return None;
        }
        // Nearest rank: the smallest value with at least q of the samples at or below it.
        let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted.get(idx).copied()
    };
    let jitter = (samples.len() > 1).then(|| {
        let diffs: f64 = samples.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        diffs / (samples.len() - 1) as f64
    });
    let attempts = samples.len() + failures;
    PhaseStats {
        phase,
        samples: samples.len(),
        failures,
        failure_rate: if attempts == 0 {
            0.0
        } else {
            failures as f64 / attempts as f64
        },
        min: sorted.first().copied(),
        median: rank(0.5),
        p95: rank(0.95),
        max: sorted.last().copied(),
        jitter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics_and_jitter() {
        let s = stats("ttfb", &[10.0, 30.0, 20.0, 40.0], 1);
        assert_eq!(s.min, Some(10.0));
        assert_eq!(s.median, Some(20.0));
        assert_eq!(s.p95, Some(40.0));
        assert_eq!(s.max, Some(40.0));
        // |30-10| + |20-30| + |40-20| = 50 over 3 steps.
        assert!((s.jitter.unwrap() - 50.0 / 3.0).abs() < 1e-9);
        assert!((s.failure_rate - 0.2).abs() < 1e-9);
        let empty = stats("dns", &[], 2);
        assert_eq!(
            (empty.min, empty.jitter, empty.failure_rate),
            (None, None, 1.0)
        );
        let one = stats("dns", &[5.0], 0);
        assert_eq!(
            (one.median, one.p95, one.jitter),
            (Some(5.0), Some(5.0), None)
        );
    }

    proptest::proptest! {
        #[test]
        fn quantiles_are_ordered(v in proptest::collection::vec(0.0f64..1e6, 1..50)) {
            let s = stats("x", &v, 0);
            let (min, med, p95, max) = (s.min.unwrap(), s.median.unwrap(), s.p95.unwrap(), s.max.unwrap());
            proptest::prop_assert!(min <= med && med <= p95 && p95 <= max);
        }
    }
}
