//! Round-trip time samples from data and the ACKs that cover it.
//!
//! A sample is the time from a data segment (or FIN) to the first ACK from the
//! other side that covers its last byte. Karn's rule: a segment that was
//! retransmitted gives no sample, since the ACK cannot say which copy it answers.
//! The handshake is timed separately (`HandshakeTiming`), not sampled here.
//!
//! Samples are kept per sender, because they measure different halves of the
//! path: client data and its ACK measure capture point → server → capture point;
//! server data measures capture point → client → capture point. Near the client
//! the first is the whole RTT and the second almost zero; mixing them would read
//! as jitter. The path RTT is the sum of the two medians.

use std::collections::VecDeque;

use crate::base::Timestamp;
use crate::decode::SeqNum;

/// Segments awaiting an ACK, per direction; older ones are dropped beyond this.
const MAX_OUTSTANDING: usize = 256;
/// Samples kept for quantiles; beyond this, a deterministic reservoir.
const MAX_SAMPLES: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    end: SeqNum,
    ts: Timestamp,
    retransmitted: bool,
}

/// Pending segments of one direction.
#[derive(Debug, Clone, Default)]
pub struct RttTracker {
    pending: [VecDeque<Outstanding>; 2],
    samples: [Samples; 2],
}

impl RttTracker {
    /// Notes a segment that consumes sequence space, sent by direction `from`.
    pub fn on_sent(
        &mut self,
        from: usize,
        seq: SeqNum,
        end: SeqNum,
        ts: Timestamp,
        retransmission: bool,
    ) {
        let queue = &mut self.pending[from.min(1)];
        if retransmission {
            // Karn: every outstanding segment this one overlaps is now ambiguous.
            for o in queue.iter_mut().filter(|o| o.end > seq) {
                o.retransmitted = true;
            }
            return;
        }
        if queue.len() == MAX_OUTSTANDING {
            queue.pop_front();
        }
        queue.push_back(Outstanding {
            end,
            ts,
            retransmitted: false,
        });
    }

    /// An ACK sent by direction `from`: it covers segments sent by the other one.
    /// `pure` is false when the ACK rode on data: the segments it covers are
    /// settled but give no sample (the ACK waited for the application).
    pub fn on_ack(&mut self, from: usize, ack: SeqNum, ts: Timestamp, pure: bool) {
        let queue = &mut self.pending[1 - from.min(1)];
        let mut newest: Option<Outstanding> = None;
        while let Some(front) = queue.front() {
            if front.end <= ack {
                newest = queue.pop_front();
            } else {
                break;
            }
        }
        if let Some(o) = newest.filter(|o| pure && !o.retransmitted) {
            self.samples[1 - from.min(1)].push(ts.since(o.ts).max(0));
        }
    }

    /// The samples of data sent by direction `sender` (0 = client, 1 = server).
    pub fn samples(&self, sender: usize) -> &Samples {
        &self.samples[sender.min(1)]
    }
}

/// A bounded set of RTT samples (nanoseconds) with exact min, max and count.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    kept: Vec<i64>,
    count: u64,
    min: Option<i64>,
    max: Option<i64>,
    rng: u64,
}

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, nanos: i64) {
        self.count += 1;
        self.min = Some(self.min.map_or(nanos, |m| m.min(nanos)));
        self.max = Some(self.max.map_or(nanos, |m| m.max(nanos)));
        if self.kept.len() < MAX_SAMPLES {
            self.kept.push(nanos);
        } else {
            // Reservoir sampling with a fixed-seed generator: same input, same output.
            self.rng = self
                .rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let slot = (self.rng >> 33) % self.count;
            if let Some(s) = self.kept.get_mut(slot as usize) {
                *s = nanos;
            }
        }
    }

    /// How many samples were taken.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Min, median, p95 and max in nanoseconds, when there is at least one sample.
    pub fn summary(&self) -> Option<RttSummary> {
        let (min, max) = (self.min?, self.max?);
        let mut sorted = self.kept.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(i).copied().unwrap_or(max)
        };
        Some(RttSummary {
            samples: self.count,
            min,
            median: at(0.5),
            p95: at(0.95),
            max,
            jitter: mean_abs_successive_difference(&self.kept),
        })
    }
}

/// Mean absolute difference between successive samples (RFC 3550-style jitter,
/// without smoothing), in nanoseconds.
fn mean_abs_successive_difference(samples: &[i64]) -> i64 {
    if samples.len() < 2 {
        return 0;
    }
    let total: i64 = samples
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0i64, |a, d| a.saturating_add(d));
    total / (samples.len() as i64 - 1)
}

/// RTT statistics of a connection, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttSummary {
    /// Samples taken.
    pub samples: u64,
    /// Smallest.
    pub min: i64,
    /// Median.
    pub median: i64,
    /// 95th percentile.
    pub p95: i64,
    /// Largest.
    pub max: i64,
    /// Mean absolute difference of successive samples.
    pub jitter: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn ack_covering_data_gives_a_sample() {
        let mut r = RttTracker::default();
        r.on_sent(0, SeqNum(1), SeqNum(101), Timestamp(0), false);
        r.on_sent(0, SeqNum(101), SeqNum(201), Timestamp(MS), false);
        r.on_ack(1, SeqNum(201), Timestamp(11 * MS), true);
        let s = r.samples(0).summary().unwrap();
        assert_eq!(
            (s.samples, s.min),
            (1, 10 * MS),
            "one sample, from the newest covered segment"
        );
        assert!(
            r.samples(1).summary().is_none(),
            "samples are kept per sender"
        );
    }

    #[test]
    fn karn_no_sample_from_retransmitted_data() {
        let mut r = RttTracker::default();
        r.on_sent(0, SeqNum(1), SeqNum(101), Timestamp(0), false);
        r.on_sent(0, SeqNum(1), SeqNum(101), Timestamp(200 * MS), true);
        r.on_ack(1, SeqNum(101), Timestamp(210 * MS), true);
        assert_eq!(r.samples(0).count(), 0);
    }

    #[test]
    fn ack_riding_on_data_is_not_a_sample() {
        let mut r = RttTracker::default();
        r.on_sent(0, SeqNum(1), SeqNum(101), Timestamp(0), false);
        r.on_ack(1, SeqNum(101), Timestamp(1500 * MS), false);
        assert_eq!(
            r.samples(0).count(),
            0,
            "a response after 1.5 s is not a 1.5 s RTT"
        );
    }

    #[test]
    fn quantiles_and_jitter() {
        let mut s = Samples::default();
        for v in [10, 20, 10, 20, 10] {
            s.push(v * MS);
        }
        let q = s.summary().unwrap();
        assert_eq!((q.min, q.median, q.max), (10 * MS, 10 * MS, 20 * MS));
        assert_eq!(q.jitter, 10 * MS);
    }

    #[test]
    fn reservoir_stays_bounded() {
        let mut s = Samples::default();
        for v in 0..10_000 {
            s.push(v);
        }
        assert_eq!(s.count(), 10_000);
        assert_eq!(s.kept.len(), MAX_SAMPLES);
        assert_eq!(s.summary().unwrap().max, 9_999);
    }
}
