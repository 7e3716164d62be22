//! The maker-checker policy: which results of a write need a second user's approval. It judges
//! what a write would leave on the loan (the events it adds, on top of the loan's history, and
//! the state they replay to), so every write path is held alike: a command, a booking with a
//! history, and a command released later by its approval.

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::LoanState;
use loanbook_domain::money::{Currency, format_minor};

use crate::auth::Action;

/// Which writes are held for a second user's approval. Amounts are minor units.
#[derive(Debug, Clone)]
pub struct ApprovalPolicy {
    /// Actions always held for approval.
    pub actions: Vec<Action>,
    /// Waivers are held when those of the loan dated within `waiver_window_days` up to a
    /// waiver's date, that waiver included, add up to more than this.
    pub waiver_above: i64,
    /// The window of [`ApprovalPolicy::waiver_above`], in days (1: each day on its own).
    pub waiver_window_days: i64,
    /// A settlement is held when what it leaves unpaid (principal, interest and charges) is
    /// more than this: 0 holds every settlement for less than what is owed.
    pub settlement_shortfall_above: i64,
    /// Product changes are held for approval.
    pub products: bool,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            actions: vec![Action::WriteOff, Action::IdentifyLoss, Action::Restructure],
            // 1,000.00 in minor units.
            waiver_above: 100_000,
            waiver_window_days: 30,
            settlement_shortfall_above: 0,
            products: true,
        }
    }
}

/// Why a write is held: the action that needs approval and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub action: Action,
    pub reason: String,
}

impl ApprovalPolicy {
    /// Whether adding `new` to a loan whose history is `before`, which replays to `after`,
    /// needs a second user's approval, and why.
    pub fn hold(&self, before: &[Event], new: &[Event], after: &LoanState) -> Option<Hold> {
        let currency = after.currency;
        for e in new {
            let action = crate::servicing::action_for(&e.kind);
            if self.actions.contains(&action) {
                return Some(Hold {
                    action,
                    reason: format!("every {} needs a second user's approval", action.name()),
                });
            }
        }
        if let Some(hold) = self.waivers(before, new, currency) {
            return Some(hold);
        }
        let settles = new
            .iter()
            .any(|e| matches!(e.kind, EventKind::Settlement { .. }));
        if settles {
            if let Some(l) = &after.settlement_shortfall {
                let shortfall =
                    i128::from(l.principal) + i128::from(l.interest) + i128::from(l.charges);
                if shortfall > i128::from(self.settlement_shortfall_above) {
                    return Some(Hold {
                        action: Action::Settle,
                        reason: format!(
                            "a settlement that leaves more than {} unpaid needs a second user's approval",
                            format_minor(self.settlement_shortfall_above, currency.minor_digits())
                        ),
                    });
                }
            }
        }
        None
    }

    /// Every window of the loan's waivers, old and new, that holds a new waiver: a window of
    /// `waiver_window_days` ending on the date of a waiver dated on or after the new one.
    fn waivers(&self, before: &[Event], new: &[Event], currency: Currency) -> Option<Hold> {
        let window = i32::try_from(self.waiver_window_days.max(1)).unwrap_or(i32::MAX);
        let waivers: Vec<(Date, i64)> = before
            .iter()
            .chain(new)
            .filter_map(|e| match e.kind {
                EventKind::Waiver { amount, .. } => Some((e.date, amount)),
                _ => None,
            })
            .collect();
        let within = |from: Date, to: Date| (0..window).contains(&(to - from).get_days());
        for e in new {
            if !matches!(e.kind, EventKind::Waiver { .. }) {
                continue;
            }
            for &(end, _) in waivers.iter().filter(|(d, _)| within(e.date, *d)) {
                let total: i128 = waivers
                    .iter()
                    .filter(|(d, _)| within(*d, end))
                    .map(|(_, a)| i128::from(*a))
                    .sum();
                if total > i128::from(self.waiver_above) {
                    return Some(Hold {
                        action: Action::WaiveCharge,
                        reason: format!(
                            "waivers of more than {} within {window} days need a second user's approval",
                            format_minor(self.waiver_above, currency.minor_digits())
                        ),
                    });
                }
            }
        }
        None
    }
}
