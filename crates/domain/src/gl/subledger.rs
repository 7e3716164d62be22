//! The loan's sub-ledger: the balance each balance-sheet role should carry for a loan according
//! to the loan's own state, the GL position its entries give, and the entry that moves one
//! position to another.

use std::collections::BTreeMap;

use crate::calendar::Date;
use crate::loan::{LoanState, Status};

use super::accounts::Role;
use super::journal::{JournalEntry, JournalError};

/// What a loan carries per role and co-lender, signed debit-positive (a liability or a
/// contra-asset is negative). Zero balances are left out.
pub type Position = BTreeMap<(Role, Option<String>), i64>;

/// Add one entry's lines to a position.
pub(super) fn add_entry(position: &mut Position, entry: &JournalEntry) {
    for line in entry.lines() {
        let key = (line.role(), line.partner().map(str::to_owned));
        let slot = position.entry(key.clone()).or_default();
        *slot = slot.saturating_add(line.signed());
        if *slot == 0 {
            position.remove(&key);
        }
    }
}

/// The GL position a loan's entries give.
pub fn position<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> Position {
    let mut p = Position::new();
    for e in entries {
        add_entry(&mut p, e);
    }
    p
}

/// The roles the sub-ledger speaks for: the loan's own balance-sheet roles. The clearing
/// accounts (the bank side) and the provision (see [`crate::provisioning`]) are reconciled
/// elsewhere.
pub fn loan_roles() -> impl Iterator<Item = Role> {
    Role::all().filter(|r| {
        r.is_balance_sheet()
            && !matches!(
                r,
                Role::CollectionsClearing | Role::DisbursementClearing | Role::ProvisionHeld
            )
    })
}

/// The position restricted to [`loan_roles`].
pub fn loan_part(position: &Position) -> Position {
    let roles: Vec<Role> = loan_roles().collect();
    position
        .iter()
        .filter(|((r, _), v)| roles.contains(r) && **v != 0)
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// What the loan should carry in the GL, per its own state, for [`loan_roles`]; `originator` is
/// the co-lender whose books these are (its share is not a partner balance).
///
/// A written-off loan carries no loan assets and no co-lender funding (the claim is followed
/// outside the balance sheet); the money it holds and what is owed to co-lenders stay.
pub fn subledger(state: &LoanState, originator: Option<&str>) -> Position {
    let b = &state.balances;
    let on_book = state.status != Status::WrittenOff;
    let mut rows: Vec<((Role, Option<String>), i64)> = Vec::new();
    if on_book {
        rows.extend([
            ((Role::LoanPrincipal, None), b.principal_outstanding),
            ((Role::InterestReceivable, None), b.interest_overdue),
            ((Role::InterestAccrued, None), b.interest_accrued),
            ((Role::ChargesReceivable, None), b.charges_due),
            ((Role::PenalAccrued, None), b.penal_accrued),
            (
                (Role::InterestSuspense, None),
                b.interest_suspended.saturating_neg(),
            ),
        ]);
    }
    rows.push(((Role::BorrowerExcess, None), b.excess.saturating_neg()));
    for p in state
        .partners
        .iter()
        .filter(|p| Some(p.id.as_str()) != originator)
    {
        if on_book {
            rows.push((
                (Role::PartnerFunding, Some(p.id.clone())),
                p.principal_outstanding.saturating_neg(),
            ));
        }
        let received = p
            .principal_received
            .saturating_add(p.interest_received)
            .saturating_add(p.charges_received);
        rows.push((
            (Role::PartnerPayable, Some(p.id.clone())),
            received.saturating_neg(),
        ));
    }
    rows.into_iter().filter(|(_, v)| *v != 0).collect()
}

/// A balanced entry that moves loan `loan`'s GL position from `from` to `to` (after a history
/// was rewritten by a back-dated event or a reversal). `None` when they are equal; an error when
/// they do not both balance.
pub fn adjustment(
    date: Date,
    loan: &str,
    product: &str,
    from: &Position,
    to: &Position,
) -> Result<Option<JournalEntry>, JournalError> {
    let mut b = JournalEntry::builder(date, "adjustment", format!("{loan}: history rewritten"))
        .dims(Some(loan), Some(product));
    let keys: std::collections::BTreeSet<&(Role, Option<String>)> =
        from.keys().chain(to.keys()).collect();
    for key in keys {
        let was = i128::from(from.get(key).copied().unwrap_or(0));
        let now = i128::from(to.get(key).copied().unwrap_or(0));
        let change = i64::try_from(now - was).unwrap_or(0);
        b.push_signed(key.0, change, key.1.as_deref());
    }
    if b.is_empty() {
        return Ok(None);
    }
    b.build().map(Some)
}
