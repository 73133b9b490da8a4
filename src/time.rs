//! Time as the core sees it: a crate-owned [`Instant`] and [`Duration`] in microseconds.
//!
//! The core never reads a clock. The mio driver maps the real monotonic clock onto
//! [`Instant`] (microseconds since the driver started); the simulator uses a virtual clock
//! that starts at zero. Both are the same type, so handler code cannot tell them apart.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in time, in microseconds since an epoch chosen by whoever drives the node.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    micros: u64,
}

/// A span of time in microseconds.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    micros: u64,
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant { micros: 0 };

    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant { micros }
    }

    /// The instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// Milliseconds since the epoch, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.micros / 1_000
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration {
            micros: self.micros.saturating_sub(earlier.micros),
        }
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { micros: 0 };

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Duration {
        Duration { micros }
    }

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Duration {
        Duration {
            micros: millis.saturating_mul(1_000),
        }
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Duration {
        Duration {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// The length in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// The length in milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.micros / 1_000
    }

    /// The length in seconds, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// Scales the duration by `factor`, saturating.
    pub const fn saturating_mul(self, factor: u64) -> Duration {
        Duration {
            micros: self.micros.saturating_mul(factor),
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the far end of time rather than wrapping.
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero: a deadline in the past is "due now", never negative.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> std::time::Duration {
        std::time::Duration::from_micros(d.micros)
    }
}

impl From<std::time::Duration> for Duration {
    /// Truncates to whole microseconds and saturates above `u64::MAX` of them.
    fn from(d: std::time::Duration) -> Duration {
        Duration {
            micros: u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t+{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros < 1_000 {
            write!(f, "{}us", self.micros)
        } else if self.micros < 1_000_000 {
            write!(f, "{}.{:03}ms", self.micros / 1_000, self.micros % 1_000)
        } else {
            write!(
                f,
                "{}.{:06}s",
                self.micros / 1_000_000,
                self.micros % 1_000_000
            )
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Instant::from_micros(5);
        assert_eq!(t - Instant::from_micros(9), Duration::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX - 1) + Duration::from_secs(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(Duration::from_millis(3).as_micros(), 3_000);
        assert_eq!(format!("{:?}", Duration::from_micros(1_500)), "1.500ms");
    }
}
