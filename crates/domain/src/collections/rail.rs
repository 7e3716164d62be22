//! The auto-debit rails and the rules each imposes on a debit, as data.
//!
//! Facts from `reference/payment-rails.md` and `reference/rail-files.md`:
//! - UPI AutoPay: a pre-debit notice at least 24 hours before each debit; one successful debit
//!   per mandate per billing cycle, and a debit started on the cycle's last day fails; debits
//!   above the additional-factor-of-authentication limit (₹1,00,000 for lending) need the
//!   customer; executions only in non-peak hours (before 10:00, 13:00–17:00, after 21:30); one
//!   attempt and at most three retries per execution.
//! - NACH / eNACH: physical mandates take 7–10 working days to register, API eMandates are
//!   authorised in the same flow; a retry is a new presentation within the mandate's frequency
//!   and maximum amount. The file is settled in the day's batch, so the hour is not chosen.
//! - US ACH (Nacha): an entry returned R01 or R09 may be re-initiated at most twice, within 180
//!   days of the original settlement.
//! - Card e-mandates (RBI e-mandate framework): the same 24-hour notice, and debits above
//!   ₹15,000 need the customer to authenticate.

use serde::{Deserialize, Serialize};

/// A rail a loan's instalments are debited over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rail {
    /// NPCI NACH debit (ACH DR), for physical NACH and eNACH mandates alike.
    Nach,
    /// NPCI UPI AutoPay recurring mandates.
    UpiAutopay,
    /// US ACH debits under Nacha rules.
    Ach,
    /// Card e-mandates.
    Card,
}

impl Rail {
    pub const ALL: [Rail; 4] = [Rail::Nach, Rail::UpiAutopay, Rail::Ach, Rail::Card];

    /// The name used in the failure table and the API.
    pub fn code(self) -> &'static str {
        match self {
            Rail::Nach => "nach",
            Rail::UpiAutopay => "upi_autopay",
            Rail::Ach => "ach",
            Rail::Card => "card",
        }
    }

    pub fn from_code(s: &str) -> Option<Rail> {
        Rail::ALL.into_iter().find(|r| r.code() == s)
    }

    /// The rail's rules as published (see the module's sources).
    pub fn rules(self) -> RailRules {
        match self {
            Rail::Nach => RailRules {
                rail: self,
                pre_debit_notice_hours: 0,
                one_success_per_cycle: true,
                last_day_of_cycle_fails: false,
                authentication_limit_minor: None,
                attempts_per_cycle: 3,
                windows: Vec::new(),
                reinitiations: None,
            },
            Rail::UpiAutopay => RailRules {
                rail: self,
                pre_debit_notice_hours: 24,
                one_success_per_cycle: true,
                last_day_of_cycle_fails: true,
                authentication_limit_minor: Some(10_000_000),
                attempts_per_cycle: 4,
                windows: vec![
                    HourWindow { from: 0, to: 10 },
                    HourWindow { from: 13, to: 17 },
                    // 21:30 onwards: the hour is the unit here, so from 22:00.
                    HourWindow { from: 22, to: 24 },
                ],
                reinitiations: None,
            },
            Rail::Ach => RailRules {
                rail: self,
                pre_debit_notice_hours: 0,
                one_success_per_cycle: true,
                last_day_of_cycle_fails: false,
                authentication_limit_minor: None,
                attempts_per_cycle: 3,
                windows: Vec::new(),
                reinitiations: Some(Reinitiations {
                    at_most: 2,
                    within_days: 180,
                }),
            },
            Rail::Card => RailRules {
                rail: self,
                pre_debit_notice_hours: 24,
                one_success_per_cycle: true,
                last_day_of_cycle_fails: false,
                authentication_limit_minor: Some(1_500_000),
                attempts_per_cycle: 3,
                windows: Vec::new(),
                reinitiations: None,
            },
        }
    }
}

/// A span of hours of the day, `from` inclusive to `to` exclusive (0–24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HourWindow {
    pub from: u8,
    pub to: u8,
}

/// How often a returned entry may be presented again (Nacha's R01/R09 rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Reinitiations {
    pub at_most: u32,
    pub within_days: i64,
}

/// What a rail allows of the debits of one mandate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RailRules {
    pub rail: Rail,
    /// The borrower is told of each debit at least this many hours before it (0: no notice).
    pub pre_debit_notice_hours: i64,
    /// At most one debit per mandate succeeds in a billing cycle.
    pub one_success_per_cycle: bool,
    /// A debit started on the cycle's last day fails (UPI AutoPay).
    pub last_day_of_cycle_fails: bool,
    /// Debits above this need the customer to authenticate, so cannot be auto-debited.
    pub authentication_limit_minor: Option<i64>,
    /// Most debit attempts for one instalment (the first presentation and its retries).
    pub attempts_per_cycle: u32,
    /// The hours a debit may start in; empty: the rail settles in a daily batch and the hour
    /// is not chosen.
    pub windows: Vec<HourWindow>,
    /// The re-initiation limit after a return, where the rail sets one.
    pub reinitiations: Option<Reinitiations>,
}

impl RailRules {
    /// Whether the rail lets the debit choose its hour.
    pub fn chooses_hour(&self) -> bool {
        !self.windows.is_empty()
    }

    /// Whether a debit may start at `hour` (0–23).
    pub fn hour_allowed(&self, hour: u8) -> bool {
        self.windows.is_empty() || self.windows.iter().any(|w| w.from <= hour && hour < w.to)
    }

    /// The first hour on or after `hour` a debit may start in, if any that day.
    pub fn next_hour(&self, hour: u8) -> Option<u8> {
        (hour..24).find(|h| self.hour_allowed(*h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upi_runs_only_off_peak() {
        let r = Rail::UpiAutopay.rules();
        assert!(r.hour_allowed(9));
        assert!(!r.hour_allowed(10));
        assert!(!r.hour_allowed(12));
        assert!(r.hour_allowed(13));
        assert!(r.hour_allowed(16));
        assert!(!r.hour_allowed(17));
        assert!(!r.hour_allowed(21));
        assert!(r.hour_allowed(22));
        assert_eq!(r.next_hour(10), Some(13));
        assert_eq!(r.next_hour(18), Some(22));
        assert_eq!(r.authentication_limit_minor, Some(10_000_000));
        assert_eq!(r.attempts_per_cycle, 4);
    }

    #[test]
    fn batch_rails_take_any_hour() {
        let r = Rail::Nach.rules();
        assert!(!r.chooses_hour());
        assert!((0..24).all(|h| r.hour_allowed(h)));
        assert_eq!(Rail::from_code("nach"), Some(Rail::Nach));
        assert_eq!(Rail::from_code("NACH"), None);
        assert_eq!(Rail::Ach.rules().reinitiations.map(|r| r.at_most), Some(2));
    }
}
