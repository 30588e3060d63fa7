//! Counts over packet time in at most [`BUCKETS`] buckets, whatever the
//! capture's length: the buckets start 1 ms wide and double (merging pairs)
//! whenever a new time would need more of them. Bucket `k` covers
//! `[k * width, (k + 1) * width)` in absolute packet time, so merging is
//! exact and times may come in any order (a transaction is told when it
//! ends, timed from when it began).

use std::collections::VecDeque;

use crate::base::Timestamp;

/// At most this many buckets.
pub const BUCKETS: usize = 96;
/// The first width, in nanoseconds.
const FIRST_WIDTH_NS: i64 = 1_000_000;

/// What happened in one bucket of time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bucket {
    /// HTTP transactions that began in it.
    pub http: u64,
    /// Of those, the failed ones (no response, or a 5xx).
    pub http_failed: u64,
    /// Sum and maximum of their response times, ms.
    pub http_sum_ms: f64,
    /// The slowest.
    pub http_max_ms: f64,
    /// DNS lookups sent in it.
    pub dns: u64,
    /// Of those, the ones with no answer or an error code.
    pub dns_failed: u64,
    /// Sum of the answered lookups' latencies, ms.
    pub dns_sum_ms: f64,
    /// The slowest answered lookup.
    pub dns_max_ms: f64,
    /// Answered lookups (the mean's divisor).
    pub dns_answered: u64,
    /// TCP segments sent again.
    pub retransmissions: u64,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) {
        self.http += o.http;
        self.http_failed += o.http_failed;
        self.http_sum_ms += o.http_sum_ms;
        self.http_max_ms = self.http_max_ms.max(o.http_max_ms);
        self.dns += o.dns;
        self.dns_failed += o.dns_failed;
        self.dns_sum_ms += o.dns_sum_ms;
        self.dns_max_ms = self.dns_max_ms.max(o.dns_max_ms);
        self.dns_answered += o.dns_answered;
        self.retransmissions += o.retransmissions;
    }
}

/// Buckets over packet time.
#[derive(Debug, Clone)]
pub struct Timeline {
    width_ns: i64,
    /// The absolute index of `buckets[0]`.
    first: i64,
    buckets: VecDeque<Bucket>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_ns: FIRST_WIDTH_NS,
            first: 0,
            buckets: VecDeque::new(),
        }
    }
}

impl Timeline {
    /// The bucket holding `ts`, made (and the rest coarsened) if needed.
    fn at(&mut self, ts: Timestamp) -> &mut Bucket {
        loop {
            let k = ts.0.div_euclid(self.width_ns);
            if self.buckets.is_empty() {
                self.first = k;
                self.buckets.push_back(Bucket::default());
            }
            let last = self.first + self.buckets.len() as i64 - 1;
            let lo = self.first.min(k);
            let hi = last.max(k);
            if hi - lo < BUCKETS as i64 {
                for _ in k..self.first {
                    self.buckets.push_front(Bucket::default());
                }
                self.first = lo;
                while self.first + (self.buckets.len() as i64) <= k {
                    self.buckets.push_back(Bucket::default());
                }
                let i = (k - self.first) as usize;
                // In range: `first <= k < first + len` holds here.
                return &mut self.buckets[i];
            }
            self.coarsen();
        }
    }

    /// Doubles the width, merging each pair of buckets.
    fn coarsen(&mut self) {
        let first = self.first.div_euclid(2);
        let mut merged: VecDeque<Bucket> = VecDeque::with_capacity(BUCKETS / 2 + 1);
        for (i, b) in self.buckets.iter().enumerate() {
            let j = ((self.first + i as i64).div_euclid(2) - first) as usize;
            if merged.len() <= j {
                merged.resize(j + 1, Bucket::default());
            }
            merged[j].merge(b);
        }
        self.width_ns = self.width_ns.saturating_mul(2);
        self.first = first;
        self.buckets = merged;
    }

    /// An HTTP transaction that began at `ts`.
    pub fn http(&mut self, ts: Timestamp, total_ms: Option<f64>, failed: bool) {
        let b = self.at(ts);
        b.http += 1;
        b.http_failed += u64::from(failed);
        if let Some(ms) = total_ms.filter(|m| m.is_finite()) {
            b.http_sum_ms += ms;
            b.http_max_ms = b.http_max_ms.max(ms);
        }
    }

    /// A DNS lookup sent at `ts`.
    pub fn dns(&mut self, ts: Timestamp, latency_ms: Option<f64>, failed: bool) {
        let b = self.at(ts);
        b.dns += 1;
        b.dns_failed += u64::from(failed);
        if let Some(ms) = latency_ms.filter(|m| m.is_finite()) {
            b.dns_sum_ms += ms;
            b.dns_max_ms = b.dns_max_ms.max(ms);
            b.dns_answered += 1;
        }
    }

    /// A TCP segment sent again at `ts`.
    pub fn retransmission(&mut self, ts: Timestamp) {
        self.at(ts).retransmissions += 1;
    }

    /// The buckets in time order, with the start of the first and the
    /// width, in nanoseconds of packet time.
    pub fn buckets(&self) -> (Timestamp, i64, Vec<Bucket>) {
        (
            Timestamp(self.first.saturating_mul(self.width_ns)),
            self.width_ns,
            self.buckets.iter().copied().collect(),
        )
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn an_hour_fits_in_the_buckets_and_keeps_every_count() {
        let mut t = Timeline::default();
        for i in 0..3600 {
            t.retransmission(Timestamp(i * S));
        }
        let (start, width, b) = t.buckets();
        assert!(b.len() <= BUCKETS);
        assert_eq!(b.iter().map(|b| b.retransmissions).sum::<u64>(), 3600);
        assert!(start.0 <= 0 && start.0 + width * b.len() as i64 > 3599 * S);
    }

    #[test]
    fn an_earlier_time_is_put_before_the_first_bucket() {
        let mut t = Timeline::default();
        t.http(Timestamp(10 * S), Some(5.0), false);
        t.http(Timestamp(2 * S), Some(50.0), true);
        let (start, width, b) = t.buckets();
        assert!(start.0 <= 2 * S);
        let first = b.iter().position(|b| b.http > 0).unwrap();
        assert_eq!(b[first].http_failed, 1, "the earlier call comes first");
        assert_eq!(b[first].http_max_ms, 50.0);
        assert!(width >= (8 * S) / BUCKETS as i64);
    }

    proptest! {
        #[test]
        fn counts_survive_any_order_and_the_bound_holds(times in proptest::collection::vec(-1_000_000i64..1_000_000, 1..200)) {
            let mut t = Timeline::default();
            for &ms in &times {
                t.dns(Timestamp(ms * 1_000_000), Some(1.0), ms % 2 == 0);
            }
            let (start, width, b) = t.buckets();
            prop_assert!(b.len() <= BUCKETS);
            prop_assert_eq!(b.iter().map(|b| b.dns).sum::<u64>(), times.len() as u64);
            for &ms in &times {
                let k = (ms * 1_000_000 - start.0).div_euclid(width);
                prop_assert!(k >= 0 && (k as usize) < b.len());
            }
        }
    }
}
