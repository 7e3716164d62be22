//! Time, injected: the service reads the wall clock only through a [`Clock`], so tests and the
//! simulator can fix it or move it.

use std::sync::Mutex;

use jiff::Timestamp;
use loanbook_domain::calendar::Date;

/// Where the service reads the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// The UTC date of [`Clock::now`].
    fn today(&self) -> Date {
        self.now().to_zoned(jiff::tz::TimeZone::UTC).date()
    }
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that says what it is told: fixed until set or advanced.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn new(at: Timestamp) -> FixedClock {
        FixedClock(Mutex::new(at))
    }

    /// Fixed at the start (midnight UTC) of `day`.
    pub fn on(day: Date) -> FixedClock {
        let at = day
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        FixedClock::new(at)
    }

    pub fn set(&self, at: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut at = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *at = at.checked_add(by).unwrap_or(*at);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let day: Date = "2024-03-01".parse().unwrap();
        let c = FixedClock::on(day);
        assert_eq!(c.today(), day);
        assert_eq!(c.now(), c.now());
        c.advance(jiff::SignedDuration::from_hours(25));
        assert_eq!(c.today().to_string(), "2024-03-02");
    }
}
