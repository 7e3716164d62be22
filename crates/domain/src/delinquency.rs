//! Days past due and RBI's SMA/NPA classification (IRACP, Nov 2021 clarifications).
//!
//! Dues are overdue in the day-end of their due date when unpaid; `DPD(d) = d − oldest unpaid due
//! date + 1`. Classification happens in the day-end of each calendar date. An NPA returns to
//! standard only when every arrear is paid, and a borrower is NPA when any of its loans is.

use serde::{Deserialize, Serialize};

use crate::calendar::Date;

/// SMA/NPA classification of a loan on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    Standard,
    Sma0,
    Sma1,
    Sma2,
    Npa,
}

impl Classification {
    /// The class that DPD alone gives: 0 standard, 1–30 SMA-0, 31–60 SMA-1, 61–90 SMA-2, over 90 NPA.
    pub const fn for_dpd(dpd: u32) -> Classification {
        match dpd {
            0 => Classification::Standard,
            1..=30 => Classification::Sma0,
            31..=60 => Classification::Sma1,
            61..=90 => Classification::Sma2,
            _ => Classification::Npa,
        }
    }

    /// Day-end classification: an NPA stays NPA until its arrears are all paid (DPD 0), however
    /// far DPD falls.
    pub const fn next(self, dpd: u32) -> Classification {
        match (self, dpd) {
            (Classification::Npa, 1..) => Classification::Npa,
            _ => Classification::for_dpd(dpd),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Classification::Standard => "standard",
            Classification::Sma0 => "sma0",
            Classification::Sma1 => "sma1",
            Classification::Sma2 => "sma2",
            Classification::Npa => "npa",
        }
    }

    /// The least DPD that gives this class (for finding the date a class is reached).
    pub const fn threshold(self) -> u32 {
        match self {
            Classification::Standard => 0,
            Classification::Sma0 => 1,
            Classification::Sma1 => 31,
            Classification::Sma2 => 61,
            Classification::Npa => 91,
        }
    }
}

/// Asset class of an NPA by its age (IRACP §1.6): sub-standard for 12 months, then doubtful
/// D1 (a year), D2 (two more years), D3. `Loss` is identified by the lender or its auditors, never
/// reached by age, so ageing never returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetClass {
    Standard,
    Substandard,
    Doubtful1,
    Doubtful2,
    Doubtful3,
    Loss,
}

impl AssetClass {
    /// The asset class on `as_of` of a loan that has been NPA since `npa_since` (None: not NPA).
    pub fn on(npa_since: Option<Date>, as_of: Date) -> AssetClass {
        let Some(since) = npa_since else {
            return AssetClass::Standard;
        };
        let months = months_between(since, as_of);
        match months {
            ..12 => AssetClass::Substandard,
            12..24 => AssetClass::Doubtful1,
            24..48 => AssetClass::Doubtful2,
            _ => AssetClass::Doubtful3,
        }
    }

    /// The dates from `npa_since` on which the asset class changes by age, up to `as_of`.
    pub fn changes(npa_since: Date, as_of: Date) -> Vec<(Date, AssetClass)> {
        let mut out = vec![(npa_since, AssetClass::Substandard)];
        for (months, class) in [
            (12, AssetClass::Doubtful1),
            (24, AssetClass::Doubtful2),
            (48, AssetClass::Doubtful3),
        ] {
            match npa_since.checked_add(jiff::Span::new().months(months)) {
                Ok(d) if d <= as_of => out.push((d, class)),
                _ => break,
            }
        }
        out
    }

    pub const fn name(self) -> &'static str {
        match self {
            AssetClass::Standard => "standard",
            AssetClass::Substandard => "substandard",
            AssetClass::Doubtful1 => "doubtful1",
            AssetClass::Doubtful2 => "doubtful2",
            AssetClass::Doubtful3 => "doubtful3",
            AssetClass::Loss => "loss",
        }
    }
}

/// Whole calendar months from `from` to `to` (0 if `to` is earlier).
fn months_between(from: Date, to: Date) -> i32 {
    if to <= from {
        return 0;
    }
    let mut months = (i32::from(to.year()) - i32::from(from.year())) * 12 + i32::from(to.month())
        - i32::from(from.month());
    // Not yet a whole month when the day of month has not come round (clamped at month end).
    match from.checked_add(jiff::Span::new().months(months)) {
        Ok(d) if d > to => months -= 1,
        _ => {}
    }
    months.max(0)
}

/// Days past due at the day-end of `as_of`, given the oldest unpaid due date.
pub fn dpd(oldest_unpaid: Option<Date>, as_of: Date) -> u32 {
    match oldest_unpaid {
        Some(due) if due <= as_of => {
            u32::try_from((as_of - due).get_days()).map_or(u32::MAX, |d| d.saturating_add(1))
        }
        _ => 0,
    }
}

/// One of a borrower's loans, as the borrower-level rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FacilityStatus {
    pub classification: Classification,
    /// Arrears (overdue principal, interest and charges) in minor units.
    pub arrears: i64,
}

/// Borrower-level classification (IRACP §1.5 and the Feb 2022 clarification): when any loan of the
/// borrower is NPA, every loan is NPA; they return to standard only when the arrears on all of
/// them are paid. Returns the class each loan is to carry, in the same order.
pub fn borrower_level(facilities: &[FacilityStatus]) -> Vec<Classification> {
    let any_npa = facilities
        .iter()
        .any(|f| f.classification == Classification::Npa);
    let all_clear = facilities.iter().all(|f| f.arrears == 0);
    facilities
        .iter()
        .map(|f| {
            if any_npa && !all_clear {
                Classification::Npa
            } else if any_npa {
                Classification::Standard
            } else {
                f.classification
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn rbi_day_end_example() {
        let due = date(2024, 3, 31);
        let cases = [
            (date(2024, 3, 30), 0, Classification::Standard),
            (date(2024, 3, 31), 1, Classification::Sma0),
            (date(2024, 4, 29), 30, Classification::Sma0),
            (date(2024, 4, 30), 31, Classification::Sma1),
            (date(2024, 5, 29), 60, Classification::Sma1),
            (date(2024, 5, 30), 61, Classification::Sma2),
            (date(2024, 6, 28), 90, Classification::Sma2),
            (date(2024, 6, 29), 91, Classification::Npa),
        ];
        for (day, expected_dpd, class) in cases {
            let d = dpd(Some(due), day);
            assert_eq!(d, expected_dpd, "{day}");
            assert_eq!(Classification::for_dpd(d), class, "{day}");
        }
    }

    #[test]
    fn npa_is_sticky_until_arrears_are_cleared() {
        assert_eq!(Classification::Npa.next(45), Classification::Npa);
        assert_eq!(Classification::Npa.next(1), Classification::Npa);
        assert_eq!(Classification::Npa.next(0), Classification::Standard);
        assert_eq!(Classification::Sma2.next(20), Classification::Sma0);
    }

    #[test]
    fn npa_ages_by_months() {
        let n = date(2024, 6, 29);
        assert_eq!(AssetClass::on(None, n), AssetClass::Standard);
        assert_eq!(AssetClass::on(Some(n), n), AssetClass::Substandard);
        assert_eq!(
            AssetClass::on(Some(n), date(2025, 6, 28)),
            AssetClass::Substandard
        );
        assert_eq!(
            AssetClass::on(Some(n), date(2025, 6, 29)),
            AssetClass::Doubtful1
        );
        assert_eq!(
            AssetClass::on(Some(n), date(2026, 6, 29)),
            AssetClass::Doubtful2
        );
        assert_eq!(
            AssetClass::on(Some(n), date(2028, 6, 28)),
            AssetClass::Doubtful2
        );
        assert_eq!(
            AssetClass::on(Some(n), date(2028, 6, 29)),
            AssetClass::Doubtful3
        );
        let changes = AssetClass::changes(n, date(2026, 7, 1));
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[2], (date(2026, 6, 29), AssetClass::Doubtful2));
    }

    #[test]
    fn borrower_rule() {
        let npa = FacilityStatus {
            classification: Classification::Npa,
            arrears: 100,
        };
        let clear = FacilityStatus {
            classification: Classification::Standard,
            arrears: 0,
        };
        let sma = FacilityStatus {
            classification: Classification::Sma1,
            arrears: 50,
        };
        assert_eq!(
            borrower_level(&[npa, clear, sma]),
            vec![Classification::Npa; 3]
        );
        assert_eq!(
            borrower_level(&[clear, sma]),
            vec![Classification::Standard, Classification::Sma1]
        );
        let paid_npa = FacilityStatus {
            classification: Classification::Npa,
            arrears: 0,
        };
        assert_eq!(
            borrower_level(&[paid_npa, clear]),
            vec![Classification::Standard; 2]
        );
        assert_eq!(
            borrower_level(&[paid_npa, sma]),
            vec![Classification::Npa; 2]
        );
    }
}
