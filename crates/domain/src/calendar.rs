//! Civil dates, day-count conventions, holiday calendars, business-day adjustment and due-date
//! generation with the end-of-month rule.

use std::fmt;

pub use jiff::civil::Date;
use jiff::civil::Weekday;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("no business day found near {0}")]
    NoBusinessDay(Date),
    #[error("date out of range")]
    OutOfRange,
}

/// Read a date written exactly `YYYY-MM-DD`: a 4-digit year, `-`, a 2-digit month, `-`, a 2-digit
/// day, and a real date. Every date the domain reads from JSON goes through this; jiff alone also
/// takes the ISO basic form (`20240201`) and date-times.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let bad = || format!("must be a date YYYY-MM-DD, got `{s}`");
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(bad());
    }
    let field = |range: std::ops::Range<usize>| s.get(range).and_then(|t| t.parse::<i16>().ok());
    let (Some(year), Some(month), Some(day)) = (field(0..4), field(5..7), field(8..10)) else {
        return Err(bad());
    };
    let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
        return Err(bad());
    };
    Date::new(year, month, day).map_err(|_| format!("must be a valid date YYYY-MM-DD, got `{s}`"))
}

/// Serde readers for dates through [`parse_date`]: `#[serde(deserialize_with = "…")]`.
pub mod strict_date {
    use serde::{Deserialize, Deserializer};

    use super::{Date, parse_date};

    /// One date (its text is read in place when the input allows).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Date;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Date, E> {
                parse_date(text).map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }

    /// An optional date (`null` or absent is `None`).
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| parse_date(&t).map_err(serde::de::Error::custom))
            .transpose()
    }

    /// A list of dates.
    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Date>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| parse_date(t).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Day-count convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DayCount {
    /// 30E/360 (Eurobond basis): every month has 30 days, the year 360.
    #[serde(rename = "30/360")]
    Thirty360,
    /// Actual days over 365, leap years included.
    #[serde(rename = "act/365f")]
    Act365F,
    /// ISDA actual/actual: days in leap years over 366, the others over 365.
    #[serde(rename = "act/act")]
    ActAct,
    /// Actual days over 360.
    #[serde(rename = "act/360")]
    Act360,
}

fn is_leap(year: i16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn actual_days(start: Date, end: Date) -> i64 {
    i64::from((end - start).get_days())
}

/// 1 January of `year`, or None outside jiff's range.
fn new_year(year: i16) -> Option<Date> {
    Date::new(year, 1, 1).ok()
}

impl DayCount {
    /// Days counted by the convention in `[start, end)`.
    pub fn days(self, start: Date, end: Date) -> i64 {
        if end <= start {
            return 0;
        }
        match self {
            DayCount::Thirty360 => {
                let d1 = i64::from(start.day().min(30));
                let d2 = i64::from(end.day().min(30));
                360 * (i64::from(end.year()) - i64::from(start.year()))
                    + 30 * (i64::from(end.month()) - i64::from(start.month()))
                    + (d2 - d1)
            }
            _ => actual_days(start, end),
        }
    }

    /// Unrounded interest in minor units on `principal_minor` at `annual_rate_percent` for
    /// `[start, end)`. Multiplies first and divides last, so exact ties stay exact.
    pub fn interest(
        self,
        principal_minor: i64,
        annual_rate_percent: Decimal,
        start: Date,
        end: Date,
    ) -> Decimal {
        if end <= start || principal_minor == 0 {
            return Decimal::ZERO;
        }
        let base = Decimal::from(principal_minor) * annual_rate_percent;
        match self {
            DayCount::Thirty360 => {
                base * Decimal::from(self.days(start, end)) / Decimal::from(36_000)
            }
            DayCount::Act360 => {
                base * Decimal::from(actual_days(start, end)) / Decimal::from(36_000)
            }
            DayCount::Act365F => {
                base * Decimal::from(actual_days(start, end)) / Decimal::from(36_500)
            }
            DayCount::ActAct => {
                let (leap, plain) = split_by_leap(start, end);
                base * Decimal::from(leap) / Decimal::from(36_600)
                    + base * Decimal::from(plain) / Decimal::from(36_500)
            }
        }
    }
}

/// Days of `[start, end)` falling in leap years and in other years.
fn split_by_leap(start: Date, end: Date) -> (i64, i64) {
    let mut leap = 0;
    let mut plain = 0;
    let mut cursor = start;
    while cursor < end {
        let next_year = cursor
            .year()
            .checked_add(1)
            .and_then(new_year)
            .map_or(end, |d| d.min(end));
        let days = actual_days(cursor, next_year);
        if is_leap(cursor.year()) {
            leap += days;
        } else {
            plain += days;
        }
        if next_year <= cursor {
            break;
        }
        cursor = next_year;
    }
    (leap, plain)
}

/// Business-day adjustment of a date that falls on a holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BusinessDayConvention {
    /// The next business day.
    Following,
    /// The next business day, unless that is in the next month: then the previous one.
    ModifiedFollowing,
    /// The previous business day.
    Preceding,
    /// No adjustment.
    #[default]
    None,
}

/// A day of the week, by its short lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl WeekdayName {
    fn matches(self, w: Weekday) -> bool {
        matches!(
            (self, w),
            (WeekdayName::Mon, Weekday::Monday)
                | (WeekdayName::Tue, Weekday::Tuesday)
                | (WeekdayName::Wed, Weekday::Wednesday)
                | (WeekdayName::Thu, Weekday::Thursday)
                | (WeekdayName::Fri, Weekday::Friday)
                | (WeekdayName::Sat, Weekday::Saturday)
                | (WeekdayName::Sun, Weekday::Sunday)
        )
    }
}

/// Longest run of non-business days searched before giving up.
const MAX_SEARCH_DAYS: i32 = 3660;

/// A holiday calendar as data: weekend days, holiday dates and the adjustment rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HolidayCalendar {
    #[cfg_attr(feature = "schema", schema(value_type = std::collections::BTreeSet<WeekdayName>, max_items = 6))]
    #[serde(default)]
    pub weekend: Vec<WeekdayName>,
    /// Holidays; looked up by binary search once sorted (`normalise`), linearly otherwise.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<String>, format = Date, pattern = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"))]
    #[serde(default, deserialize_with = "strict_date::vec")]
    pub holidays: Vec<Date>,
    #[serde(default)]
    pub adjust: BusinessDayConvention,
}

impl HolidayCalendar {
    /// Sort and de-duplicate the holidays (for fast lookup) and the weekend.
    pub fn normalise(&mut self) {
        self.holidays.sort_unstable();
        self.holidays.dedup();
        self.weekend.sort_unstable();
        self.weekend.dedup();
    }

    fn is_holiday(&self, d: Date) -> bool {
        if self.holidays.is_sorted() {
            self.holidays.binary_search(&d).is_ok()
        } else {
            self.holidays.contains(&d)
        }
    }

    pub fn is_business_day(&self, d: Date) -> bool {
        let w = d.weekday();
        !self.weekend.iter().any(|n| n.matches(w)) && !self.is_holiday(d)
    }

    pub fn adjust(&self, d: Date) -> Result<Date, CalendarError> {
        self.adjust_with(d, self.adjust)
    }

    pub fn adjust_with(&self, d: Date, conv: BusinessDayConvention) -> Result<Date, CalendarError> {
        match conv {
            BusinessDayConvention::None => Ok(d),
            BusinessDayConvention::Following => self.search(d, 1),
            BusinessDayConvention::Preceding => self.search(d, -1),
            BusinessDayConvention::ModifiedFollowing => {
                let f = self.search(d, 1)?;
                if f.month() == d.month() && f.year() == d.year() {
                    Ok(f)
                } else {
                    self.search(d, -1)
                }
            }
        }
    }

    fn search(&self, d: Date, step: i32) -> Result<Date, CalendarError> {
        let mut cur = d;
        for _ in 0..=MAX_SEARCH_DAYS {
            if self.is_business_day(cur) {
                return Ok(cur);
            }
            cur = if step > 0 {
                cur.tomorrow()
            } else {
                cur.yesterday()
            }
            .map_err(|_| CalendarError::NoBusinessDay(d))?;
        }
        Err(CalendarError::NoBusinessDay(d))
    }
}

/// Repayment frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    Monthly,
    Weekly,
    Fortnightly,
    Quarterly,
    HalfYearly,
    Yearly,
    /// Every N days, 1 to 3660.
    Days(u32),
}

/// Largest `{"days": N}` accepted.
pub const MAX_FREQUENCY_DAYS: u32 = 3660;

impl Frequency {
    /// Periods per year for the nominal period rate and APR annualisation.
    pub fn periods_per_year(self) -> Decimal {
        match self {
            Frequency::Monthly => Decimal::from(12),
            Frequency::Weekly => Decimal::from(52),
            Frequency::Fortnightly => Decimal::from(26),
            Frequency::Quarterly => Decimal::from(4),
            Frequency::HalfYearly => Decimal::from(2),
            Frequency::Yearly => Decimal::ONE,
            Frequency::Days(n) => Decimal::from(365) / Decimal::from(n.max(1)),
        }
    }

    /// Months per period for month-based frequencies.
    pub fn months(self) -> Option<i32> {
        match self {
            Frequency::Monthly => Some(1),
            Frequency::Quarterly => Some(3),
            Frequency::HalfYearly => Some(6),
            Frequency::Yearly => Some(12),
            _ => None,
        }
    }

    /// Days per period for day-based frequencies.
    pub fn days(self) -> Option<i32> {
        match self {
            Frequency::Weekly => Some(7),
            Frequency::Fortnightly => Some(14),
            Frequency::Days(n) => i32::try_from(n).ok(),
            _ => None,
        }
    }

    /// The date `k` periods after `anchor` (k may be negative). Month-based steps keep the
    /// anchor's day of month, clamped to shorter months, always counted from the anchor so a loan
    /// due on the 31st returns to the 31st.
    pub fn step(self, anchor: Date, k: i32) -> Result<Date, CalendarError> {
        if let Some(m) = self.months() {
            let total = i64::from(anchor.month() - 1) + i64::from(m) * i64::from(k);
            let year = i64::from(anchor.year()) + total.div_euclid(12);
            let month = total.rem_euclid(12) + 1;
            let year = i16::try_from(year).map_err(|_| CalendarError::OutOfRange)?;
            let month = i8::try_from(month).map_err(|_| CalendarError::OutOfRange)?;
            let first = Date::new(year, month, 1).map_err(|_| CalendarError::OutOfRange)?;
            let day = anchor.day().min(first.days_in_month());
            Date::new(year, month, day).map_err(|_| CalendarError::OutOfRange)
        } else {
            let per = i64::from(self.days().unwrap_or(1));
            let days = per * i64::from(k);
            anchor
                .checked_add(
                    jiff::Span::new()
                        .try_days(days)
                        .map_err(|_| CalendarError::OutOfRange)?,
                )
                .map_err(|_| CalendarError::OutOfRange)
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frequency::Monthly => f.write_str("monthly"),
            Frequency::Weekly => f.write_str("weekly"),
            Frequency::Fortnightly => f.write_str("fortnightly"),
            Frequency::Quarterly => f.write_str("quarterly"),
            Frequency::HalfYearly => f.write_str("half_yearly"),
            Frequency::Yearly => f.write_str("yearly"),
            Frequency::Days(n) => write!(f, "every {n} days"),
        }
    }
}

impl Serialize for Frequency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Frequency::Days(n) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("days", n)?;
                m.end()
            }
            other => serializer.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Frequency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Every {
            days: i64,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Every(Every),
        }
        use serde::de::Error;
        let expected =
            "one of monthly, weekly, fortnightly, quarterly, half_yearly, yearly, or {\"days\": N}";
        match Raw::deserialize(deserializer)
            .map_err(|_| D::Error::custom(format!("must be {expected}")))?
        {
            Raw::Name(s) => match s.as_str() {
                "monthly" => Ok(Frequency::Monthly),
                "weekly" => Ok(Frequency::Weekly),
                "fortnightly" => Ok(Frequency::Fortnightly),
                "quarterly" => Ok(Frequency::Quarterly),
                "half_yearly" => Ok(Frequency::HalfYearly),
                "yearly" => Ok(Frequency::Yearly),
                other => Err(D::Error::custom(format!(
                    "unknown frequency `{other}`, expected {expected}"
                ))),
            },
            Raw::Every(Every { days }) => u32::try_from(days)
                .ok()
                .filter(|n| (1..=MAX_FREQUENCY_DAYS).contains(n))
                .map(Frequency::Days)
                .ok_or_else(|| {
                    D::Error::custom(format!("days must be between 1 and {MAX_FREQUENCY_DAYS}"))
                }),
        }
    }
}

/// Time of `date` in periods of `frequency` from `start`: whole periods on the anchored grid plus
/// the fraction of the period it falls in, by days. An integer when the date is on the grid.
pub fn periods_between(
    start: Date,
    date: Date,
    frequency: Frequency,
) -> Result<f64, CalendarError> {
    if let Some(per) = frequency.days() {
        return Ok(actual_days(start, date) as f64 / f64::from(per));
    }
    let months = frequency.months().unwrap_or(1);
    // Estimate the whole periods from the calendar months, then correct by stepping.
    let calendar_months = (i32::from(date.year()) - i32::from(start.year())) * 12
        + i32::from(date.month())
        - i32::from(start.month());
    let mut k = calendar_months.div_euclid(months);
    while frequency.step(start, k)? > date {
        k -= 1;
    }
    while frequency.step(start, k + 1)? <= date {
        k += 1;
    }
    let lo = frequency.step(start, k)?;
    let hi = frequency.step(start, k + 1)?;
    let span = actual_days(lo, hi);
    let into = actual_days(lo, date);
    Ok(f64::from(k)
        + if span > 0 {
            into as f64 / span as f64
        } else {
            0.0
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn paise(v: Decimal) -> i64 {
        use rust_decimal::prelude::ToPrimitive;
        v.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            .to_i64()
            .unwrap()
    }

    #[test]
    fn conventions_table() {
        // Interest on ₹1,00,000 at 12% for one month (conventions.md §1.2).
        let p = 10_000_000;
        let r = Decimal::from(12);
        let cases = [
            (
                date(2024, 1, 1),
                date(2024, 2, 1),
                [100_000, 101_918, 101_639, 103_333],
            ),
            (
                date(2024, 4, 1),
                date(2024, 5, 1),
                [100_000, 98_630, 98_361, 100_000],
            ),
            (
                date(2023, 2, 1),
                date(2023, 3, 1),
                [100_000, 92_055, 92_055, 93_333],
            ),
        ];
        for (s, e, [t, f, a, b]) in cases {
            assert_eq!(paise(DayCount::Thirty360.interest(p, r, s, e)), t, "{s}");
            assert_eq!(paise(DayCount::Act365F.interest(p, r, s, e)), f, "{s}");
            assert_eq!(paise(DayCount::ActAct.interest(p, r, s, e)), a, "{s}");
            assert_eq!(paise(DayCount::Act360.interest(p, r, s, e)), b, "{s}");
        }
        // February 2024 (a leap year): 29 days over 366.
        assert_eq!(
            paise(DayCount::ActAct.interest(p, r, date(2024, 2, 1), date(2024, 3, 1))),
            95_082
        );
    }

    #[test]
    fn act_act_across_the_new_year() {
        let s = date(2023, 12, 15);
        let e = date(2024, 1, 15);
        // 17 days of 2023 over 365 and 14 of 2024 over 366, on a principal that makes both exact.
        assert_eq!(
            DayCount::ActAct.interest(36_500 * 36_600, Decimal::ONE, s, e),
            Decimal::from(36_600 * 17 + 36_500 * 14)
        );
        assert_eq!(
            DayCount::ActAct.interest(100, Decimal::ZERO, s, e),
            Decimal::ZERO
        );
        assert_eq!(
            DayCount::ActAct.interest(100, Decimal::ONE, e, s),
            Decimal::ZERO
        );
    }

    #[test]
    fn thirty_e_360() {
        assert_eq!(
            DayCount::Thirty360.days(date(2024, 1, 31), date(2024, 2, 29)),
            29
        );
        assert_eq!(
            DayCount::Thirty360.days(date(2024, 1, 31), date(2024, 3, 31)),
            60
        );
        assert_eq!(
            DayCount::Thirty360.days(date(2024, 2, 29), date(2024, 3, 31)),
            31
        );
        assert_eq!(
            DayCount::Thirty360.days(date(2024, 1, 1), date(2025, 1, 1)),
            360
        );
    }

    #[test]
    fn end_of_month_rule() {
        let a = date(2024, 1, 31);
        let got: Vec<String> = (0..5)
            .map(|k| Frequency::Monthly.step(a, k).unwrap().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "2024-01-31",
                "2024-02-29",
                "2024-03-31",
                "2024-04-30",
                "2024-05-31"
            ]
        );
        assert_eq!(Frequency::Monthly.step(a, 13).unwrap(), date(2025, 2, 28));
        assert_eq!(
            Frequency::Quarterly.step(date(2024, 11, 30), 1).unwrap(),
            date(2025, 2, 28)
        );
        assert_eq!(
            Frequency::Quarterly.step(date(2024, 11, 30), 2).unwrap(),
            date(2025, 5, 30)
        );
        assert_eq!(
            Frequency::Yearly.step(date(2024, 2, 29), 1).unwrap(),
            date(2025, 2, 28)
        );
        assert_eq!(
            Frequency::Yearly.step(date(2024, 2, 29), 4).unwrap(),
            date(2028, 2, 29)
        );
        assert_eq!(
            Frequency::Monthly.step(date(2024, 3, 31), -1).unwrap(),
            date(2024, 2, 29)
        );
        assert_eq!(
            Frequency::HalfYearly.step(date(2024, 8, 31), 1).unwrap(),
            date(2025, 2, 28)
        );
        assert_eq!(
            Frequency::Weekly.step(date(2024, 1, 1), 2).unwrap(),
            date(2024, 1, 15)
        );
        assert_eq!(
            Frequency::Fortnightly.step(date(2024, 1, 1), -1).unwrap(),
            date(2023, 12, 18)
        );
        assert_eq!(
            Frequency::Days(45).step(date(2024, 1, 1), 1).unwrap(),
            date(2024, 2, 15)
        );
        assert_eq!(
            Frequency::Monthly.step(date(9999, 12, 1), 1),
            Err(CalendarError::OutOfRange)
        );
    }

    #[test]
    fn business_days() {
        let cal = HolidayCalendar {
            weekend: vec![WeekdayName::Sat, WeekdayName::Sun],
            holidays: vec![date(2024, 1, 26), date(2024, 3, 29)],
            adjust: BusinessDayConvention::Following,
        };
        // 2024-01-26 is a Friday holiday next to a weekend.
        assert_eq!(cal.adjust(date(2024, 1, 26)).unwrap(), date(2024, 1, 29));
        assert_eq!(
            cal.adjust_with(date(2024, 1, 27), BusinessDayConvention::Preceding)
                .unwrap(),
            date(2024, 1, 25)
        );
        // 2024-03-30 is a Saturday: following is 1 April, next month, so modified following goes back
        // past the Good Friday holiday to 28 March.
        assert_eq!(
            cal.adjust_with(date(2024, 3, 30), BusinessDayConvention::ModifiedFollowing)
                .unwrap(),
            date(2024, 3, 28)
        );
        assert_eq!(
            cal.adjust_with(date(2024, 3, 30), BusinessDayConvention::None)
                .unwrap(),
            date(2024, 3, 30)
        );
        let never = HolidayCalendar {
            weekend: vec![
                WeekdayName::Mon,
                WeekdayName::Tue,
                WeekdayName::Wed,
                WeekdayName::Thu,
                WeekdayName::Fri,
                WeekdayName::Sat,
                WeekdayName::Sun,
            ],
            holidays: vec![],
            adjust: BusinessDayConvention::Following,
        };
        assert!(matches!(
            never.adjust(date(2024, 1, 1)),
            Err(CalendarError::NoBusinessDay(_))
        ));
    }

    #[test]
    fn serde_forms() {
        let f: Frequency = serde_json::from_str("\"half_yearly\"").unwrap();
        assert_eq!(f, Frequency::HalfYearly);
        let f: Frequency = serde_json::from_str("{\"days\": 14}").unwrap();
        assert_eq!(f, Frequency::Days(14));
        assert_eq!(
            serde_json::to_string(&Frequency::Days(14)).unwrap(),
            "{\"days\":14}"
        );
        assert_eq!(
            serde_json::to_string(&Frequency::Monthly).unwrap(),
            "\"monthly\""
        );
        for bad in [
            "{\"days\": 0}",
            "\"daily\"",
            "{\"days\": 5000}",
            "12",
            "{\"weeks\": 2}",
        ] {
            assert!(serde_json::from_str::<Frequency>(bad).is_err(), "{bad}");
        }
        let cal: HolidayCalendar = serde_json::from_str(
            r#"{"weekend": ["sun"], "holidays": ["2024-01-26"], "adjust": "modified_following"}"#,
        )
        .unwrap();
        assert_eq!(cal.adjust, BusinessDayConvention::ModifiedFollowing);
        let back: HolidayCalendar =
            serde_json::from_str(&serde_json::to_string(&cal).unwrap()).unwrap();
        assert_eq!(back, cal);
        assert!(serde_json::from_str::<HolidayCalendar>(r#"{"weekend": ["sunday"]}"#).is_err());
        let dc: DayCount = serde_json::from_str("\"act/365f\"").unwrap();
        assert_eq!(dc, DayCount::Act365F);
    }

    #[test]
    fn period_grid() {
        let s = date(2024, 1, 31);
        assert_eq!(
            periods_between(s, date(2024, 2, 29), Frequency::Monthly).unwrap(),
            1.0
        );
        assert_eq!(
            periods_between(s, date(2024, 12, 31), Frequency::Monthly).unwrap(),
            11.0
        );
        let half =
            periods_between(date(2024, 1, 1), date(2024, 1, 16), Frequency::Monthly).unwrap();
        assert!((half - 15.0 / 31.0).abs() < 1e-12);
        assert_eq!(
            periods_between(date(2024, 1, 1), date(2024, 1, 15), Frequency::Weekly).unwrap(),
            2.0
        );
        assert_eq!(
            periods_between(date(2024, 1, 1), date(2024, 7, 1), Frequency::Quarterly).unwrap(),
            2.0
        );
    }

    proptest! {
        #[test]
        fn month_steps_clamp(y in 1990i16..2100, m in 1i8..=12, d in 1i8..=31, k in -120i32..120) {
            let first = Date::new(y, m, 1).unwrap();
            let day = d.min(first.days_in_month());
            let anchor = Date::new(y, m, day).unwrap();
            let got = Frequency::Monthly.step(anchor, k).unwrap();
            let month_start = Date::new(got.year(), got.month(), 1).unwrap();
            prop_assert_eq!(got.day(), day.min(month_start.days_in_month()));
        }

        #[test]
        fn adjusted_dates_are_business_days(offset in 0i64..3000, conv in 0usize..3) {
            let cal = HolidayCalendar {
                weekend: vec![WeekdayName::Sat, WeekdayName::Sun],
                holidays: vec![date(2024, 1, 26), date(2024, 8, 15), date(2025, 1, 1)],
                adjust: [BusinessDayConvention::Following, BusinessDayConvention::ModifiedFollowing, BusinessDayConvention::Preceding][conv],
            };
            let d = date(2020, 1, 1).checked_add(jiff::Span::new().days(offset)).unwrap();
            prop_assert!(cal.is_business_day(cal.adjust(d).unwrap()));
        }

        #[test]
        fn act_act_is_additive(a in 0i64..4000, b in 0i64..800, c in 0i64..800) {
            let start = date(2020, 1, 1).checked_add(jiff::Span::new().days(a)).unwrap();
            let mid = start.checked_add(jiff::Span::new().days(b)).unwrap();
            let end = mid.checked_add(jiff::Span::new().days(c)).unwrap();
            let r = Decimal::new(1234, 2);
            let whole = DayCount::ActAct.interest(1_000_000, r, start, end);
            let parts = DayCount::ActAct.interest(1_000_000, r, start, mid) + DayCount::ActAct.interest(1_000_000, r, mid, end);
            prop_assert!((whole - parts).abs() < Decimal::new(1, 12));
        }
    }
}
