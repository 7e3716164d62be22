//! The close run by the service itself at a configured time of day (UTC): each time the clock
//! passes it, every business day up to and including the clock's date is closed, so a missed
//! day is caught up at the next run.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;

use super::run::{CloseOptions, Quiet};
use crate::App;

/// How long to wait after a close that failed before trying again.
const RETRY: Duration = Duration::from_secs(60);

/// Parse `HH:MM` (24-hour, UTC).
pub fn parse_time_of_day(text: &str) -> Result<Time, String> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: the time of day is HH:MM (24-hour, UTC)"))?;
    let hour: i8 = h
        .parse()
        .ok()
        .filter(|h| (0..24).contains(h))
        .ok_or_else(|| format!("`{text}`: the hour must be from 00 to 23"))?;
    let minute: i8 = m
        .parse()
        .ok()
        .filter(|m| (0..60).contains(m))
        .ok_or_else(|| format!("`{text}`: the minute must be from 00 to 59"))?;
    Time::new(hour, minute, 0, 0).map_err(|e| format!("`{text}`: {e}"))
}

/// The time from `now` to the next `at` (UTC), today's when it is still ahead, else tomorrow's.
fn until_next(now: jiff::Timestamp, at: Time) -> Duration {
    let zoned = now.to_zoned(TimeZone::UTC);
    let today = zoned.date().to_datetime(at);
    let next = match today.to_zoned(TimeZone::UTC) {
        Ok(t) if t.timestamp() > now => t.timestamp(),
        _ => today
            .checked_add(jiff::Span::new().days(1))
            .ok()
            .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
            .map_or(now, |z| z.timestamp()),
    };
    Duration::try_from(next.duration_since(now)).unwrap_or(RETRY)
}

/// Close business days at `at` every day until `stop` completes.
pub async fn run_daily(app: Arc<App>, at: Time, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let wait = until_next(app.clock().now(), at);
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(wait) => {}
        }
        let options = CloseOptions {
            until: Some(app.clock().today()),
            ..CloseOptions::default()
        };
        match app.close_business(None, &options, &Quiet).await {
            Ok(days) => {
                for d in days {
                    tracing::info!(date = %d.date, seconds = d.seconds, failures = d.failures.len(), "closed");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the scheduled close failed; it will be tried again");
                tokio::select! {
                    () = &mut stop => return,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_parse_or_say_why_not() {
        assert_eq!(
            parse_time_of_day("23:30").unwrap(),
            Time::new(23, 30, 0, 0).unwrap()
        );
        assert!(parse_time_of_day("24:00").unwrap_err().contains("hour"));
        assert!(parse_time_of_day("12:60").unwrap_err().contains("minute"));
        assert!(parse_time_of_day("1230").unwrap_err().contains("HH:MM"));
    }

    #[test]
    fn the_next_run_is_today_when_ahead_else_tomorrow() {
        let now: jiff::Timestamp = "2024-03-31T22:00:00Z".parse().unwrap();
        let at = Time::new(23, 30, 0, 0).unwrap();
        assert_eq!(until_next(now, at), Duration::from_secs(90 * 60));
        let later: jiff::Timestamp = "2024-03-31T23:45:00Z".parse().unwrap();
        assert_eq!(
            until_next(later, at),
            Duration::from_secs(23 * 3600 + 45 * 60)
        );
    }
}
