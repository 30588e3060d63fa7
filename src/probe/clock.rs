//! Wall-clock time for probe records. The probe is the one place besides live
//! capture that reads the clock: its records carry the time of what it did, in
//! the same [`Timestamp`] type that packet times use.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::base::Timestamp;

/// Maps a monotonic instant to a wall-clock timestamp fixed at creation, so
/// durations computed from two timestamps never go backwards.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    origin_wall_ns: i64,
}

impl Clock {
    /// A clock anchored at the current time.
    pub fn start() -> Clock {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        Clock {
            origin: Instant::now(),
            origin_wall_ns: wall,
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }

    /// The wall-clock time of `instant`.
    pub fn at(&self, instant: Instant) -> Timestamp {
        let since = instant.saturating_duration_since(self.origin).as_nanos();
        Timestamp(
            self.origin_wall_ns
                .saturating_add(i64::try_from(since).unwrap_or(i64::MAX)),
        )
    }
}
