//! Packet time: [`Timestamp`], and how times and durations are written for people and JSON.

/// A point in packet time: nanoseconds since the Unix epoch.
///
/// Packet time, never wall-clock time, drives every later stage, so the same
/// input always gives the same output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From seconds and a sub-second part counted in `units_per_sec` units.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Timestamp {
        let nanos = if units_per_sec == 0 {
            0
        } else if units_per_sec <= 1_000_000_000 {
            frac.saturating_mul(1_000_000_000 / units_per_sec)
        } else {
            frac / (units_per_sec / 1_000_000_000)
        };
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos.min(i64::MAX as u64) as i64),
        )
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Nanoseconds within the second, 0..1e9.
    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Signed duration `self - earlier` in nanoseconds.
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Formats nanoseconds for people: `850 µs`, `12.3 ms`, `2.31 s`.
pub fn human_duration(nanos: i64) -> String {
    let n = nanos.max(0) as f64;
    if n < 1e6 {
        format!("{:.0} µs", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} ms", n / 1e6)
    } else {
        format!("{:.2} s", n / 1e9)
    }
}

/// RFC 3339 in UTC with nanoseconds, from packet time.
pub fn rfc3339(ts: Timestamp) -> String {
    let secs = ts.secs();
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    if !(1..=9999).contains(&year) {
        // Outside four-digit years: jiff's own rendering (or seconds).
        return match jiff::Timestamp::from_nanosecond(i128::from(ts.0)) {
            Ok(t) => format!("{t:.9}"),
            Err(_) => format!("{secs}s"),
        };
    }
    // By hand, not through jiff's formatter: JSON output writes several
    // per record (a proptest holds it to jiff's output).
    let in_day = secs.rem_euclid(86_400);
    let mut out = String::with_capacity(30);
    for (n, width, after) in [
        (year as u64, 4, '-'),
        (u64::from(month), 2, '-'),
        (u64::from(day), 2, 'T'),
        ((in_day / 3600) as u64, 2, ':'),
        ((in_day / 60 % 60) as u64, 2, ':'),
        ((in_day % 60) as u64, 2, '.'),
        (u64::from(ts.subsec_nanos()), 9, 'Z'),
    ] {
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(n);
        out.extend(std::iter::repeat_n('0', width - digits.len().min(width)));
        out.push_str(digits);
        out.push(after);
    }
    out
}

/// (year, month, day) of days since 1970-01-01, proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn rfc3339_is_what_jiff_writes(nanos in proptest::prelude::any::<i64>()) {
            let expected = match jiff::Timestamp::from_nanosecond(i128::from(nanos)) {
                Ok(t) => format!("{t:.9}"),
                Err(_) => format!("{}s", Timestamp(nanos).secs()),
            };
            proptest::prop_assert_eq!(rfc3339(Timestamp(nanos)), expected);
        }
    }

    #[test]
    fn rfc3339_by_hand_around_the_edges() {
        for ts in [
            0,
            -1,
            951_782_400_000_000_000,
            4_107_542_399_999_999_999,
            i64::MIN,
            i64::MAX,
        ] {
            let t = jiff::Timestamp::from_nanosecond(i128::from(ts)).unwrap();
            assert_eq!(rfc3339(Timestamp(ts)), format!("{t:.9}"), "{ts}");
        }
    }

    #[test]
    fn rfc3339_keeps_nanoseconds() {
        assert_eq!(
            rfc3339(Timestamp(1_700_000_000_123_456_789)),
            "2023-11-14T22:13:20.123456789Z"
        );
    }
}
