//! A mandate between its three shapes: the registration as the client sent it (checked field by
//! field), the stored record (the account number reduced to its last four digits and a hash),
//! and the domain's [`Mandate`], whose lifecycle and readiness rules are the only ones.

use loanbook_domain::calendar::{Date, parse_date};
use loanbook_domain::collections::{Mandate, MandateFrequency, MandateKind, MandateStatus, Rail};
use loanbook_domain::money::{Currency, Money, MoneyError, format_minor};
use loanbook_domain::terms::FieldError;
use loanbook_store::{MandateEvent, MandateRecord};

use super::{EventDetail, MandateEventView, MandateView, RegisterMandate};
use crate::{AppError, Principal, Role, corrupt};

/// Longest reference on a rail other than NACH.
const MAX_REFERENCE: usize = 64;
/// Longest debtor name.
pub(super) const MAX_NAME: usize = 140;

const KINDS: [MandateKind; 5] = [
    MandateKind::Enach,
    MandateKind::PhysicalNach,
    MandateKind::UpiAutopay,
    MandateKind::Ach,
    MandateKind::Card,
];

const FREQUENCIES: [MandateFrequency; 3] = [
    MandateFrequency::Monthly,
    MandateFrequency::Quarterly,
    MandateFrequency::AsPresented,
];

pub(super) fn kind_code(k: MandateKind) -> &'static str {
    match k {
        MandateKind::Enach => "enach",
        MandateKind::PhysicalNach => "physical_nach",
        MandateKind::UpiAutopay => "upi_autopay",
        MandateKind::Ach => "ach",
        MandateKind::Card => "card",
    }
}

fn frequency_code(f: MandateFrequency) -> &'static str {
    match f {
        MandateFrequency::Monthly => "monthly",
        MandateFrequency::Quarterly => "quarterly",
        MandateFrequency::AsPresented => "as_presented",
    }
}

/// What the registration of `cmd` on a loan in `currency` stores, every broken rule named.
pub(super) fn new_record(
    cmd: &RegisterMandate,
    ids: (&str, &str, &str),
    currency: Currency,
    today: Date,
    now: &str,
) -> Result<MandateRecord, AppError> {
    let (id, book_id, loan_id) = ids;
    let rail = cmd.kind.rail();
    let mut errors = Vec::new();
    if let Err(e) = check_reference(rail, &cmd.reference) {
        errors.push(e);
    }
    if let Err(e) = check_bank_code(rail, &cmd.bank_code) {
        errors.push(e);
    }
    if !(6..=19).contains(&cmd.account_number.len())
        || !cmd.account_number.bytes().all(|b| b.is_ascii_digit())
    {
        errors.push(FieldError::coded(
            "account_number",
            "mandate.account_number",
            "must be 6 to 19 digits",
        ));
    }
    let name = cmd.debtor_name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        errors.push(FieldError::coded(
            "debtor_name",
            "mandate.debtor_name",
            format!("must be 1 to {MAX_NAME} characters without control characters"),
        ));
    }
    let wanted = match rail {
        Rail::Nach | Rail::UpiAutopay => Some(Currency::INR),
        Rail::Ach => Some(Currency::USD),
        Rail::Card => None,
    };
    if wanted.is_some_and(|c| c != currency) {
        errors.push(FieldError::coded(
            "kind",
            "mandate.currency",
            format!(
                "{} debits only in {}; the loan is in {}",
                rail.code(),
                wanted.map_or("", Currency::code),
                currency.code()
            ),
        ));
    }
    if cmd.end_date.is_some_and(|end| end < cmd.start_date) {
        errors.push(FieldError::coded(
            "end_date",
            "mandate.dates",
            "must not be before start_date",
        ));
    }
    let max_amount = match amount(&cmd.max_amount, currency) {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            0
        }
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let last4 = &cmd.account_number[cmd.account_number.len() - 4..];
    Ok(MandateRecord {
        id: id.to_owned(),
        book_id: book_id.to_owned(),
        loan_id: loan_id.to_owned(),
        rail: rail.code().to_owned(),
        kind: kind_code(cmd.kind).to_owned(),
        reference: cmd.reference.clone(),
        max_amount,
        currency: currency.code().to_owned(),
        frequency: frequency_code(cmd.frequency).to_owned(),
        start_date: cmd.start_date.to_string(),
        end_date: cmd.end_date.map(|d| d.to_string()),
        submitted_on: today.to_string(),
        status: MandateStatus::PendingRegistration.name().to_owned(),
        status_on: None,
        status_reason: None,
        debtor_name: name.to_owned(),
        account_last4: last4.to_owned(),
        account_hash: account_hash(&cmd.bank_code, &cmd.account_number),
        bank_code: cmd.bank_code.clone(),
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        version: 1,
    })
}

/// SHA-256 of the account at its bank: two mandates on one account hash alike, and the number
/// cannot be read back from what is stored.
fn account_hash(bank_code: &str, account: &str) -> String {
    crate::digest(format!("mandate-account:{bank_code}:{account}").as_bytes())
}

fn amount(text: &str, currency: Currency) -> Result<i64, FieldError> {
    let field = "max_amount";
    match Money::parse(text, currency) {
        Ok(m) if m.minor() > currency.max_amount_minor() => Err(FieldError::coded(
            field,
            "amount.max",
            "must be at most one lakh crore",
        )),
        Ok(m) if m.minor() > 0 => Ok(m.minor()),
        Ok(_) => Err(FieldError::coded(
            field,
            "amount.positive",
            "must be greater than zero",
        )),
        Err(MoneyError::Overflow) => Err(FieldError::coded(
            field,
            "amount.max",
            "must be at most one lakh crore",
        )),
        Err(e) => Err(FieldError::coded(field, "amount.format", e.to_string())),
    }
}

fn check_reference(rail: Rail, r: &str) -> Result<(), FieldError> {
    let b = r.as_bytes();
    let (ok, rule) = if rail == Rail::Nach {
        (
            b.len() == 20
                && b[..4].iter().all(u8::is_ascii_uppercase)
                && b[4..].iter().all(u8::is_ascii_digit),
            "a NACH mandate's reference is its UMRN: 4 capital letters and 16 digits".to_owned(),
        )
    } else {
        (
            !b.is_empty()
                && b.len() <= MAX_REFERENCE
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"._@-".contains(c)),
            format!("must be 1 to {MAX_REFERENCE} letters, digits, `.`, `_`, `@` or `-`"),
        )
    };
    if ok {
        Ok(())
    } else {
        Err(FieldError::coded("reference", "mandate.reference", rule))
    }
}

fn check_bank_code(rail: Rail, code: &str) -> Result<(), FieldError> {
    let b = code.as_bytes();
    let upper_or_digit = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let (ok, rule) = match rail {
        Rail::Nach | Rail::UpiAutopay => (
            b.len() == 11
                && b[..4].iter().all(u8::is_ascii_uppercase)
                && b[4] == b'0'
                && b[5..].iter().all(upper_or_digit),
            "must be an IFSC: 4 capital letters, 0, then 6 capital letters or digits",
        ),
        Rail::Ach => (
            b.len() == 9 && b.iter().all(u8::is_ascii_digit) && aba_check_digit_holds(b),
            "must be a 9-digit ABA routing number whose check digit holds",
        ),
        Rail::Card => (
            (4..=11).contains(&b.len()) && b.iter().all(upper_or_digit),
            "must be the issuer's code: 4 to 11 capital letters or digits",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(FieldError::coded("bank_code", "mandate.bank_code", rule))
    }
}

/// The ABA checksum: 3, 7, 1 weights over the nine digits sum to a multiple of ten.
fn aba_check_digit_holds(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .zip([3, 7, 1].iter().cycle())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    sum % 10 == 0
}

fn date(r: &MandateRecord, what: &str, text: Option<&str>) -> Result<Date, AppError> {
    let text = text.ok_or_else(|| corrupt(format!("mandate `{}` has no {what}", r.id)))?;
    parse_date(text).map_err(|e| corrupt(format!("mandate `{}`, {what}: {e}", r.id)))
}

/// The stored mandate as the domain sees it.
pub(super) fn domain(r: &MandateRecord) -> Result<Mandate, AppError> {
    let bad = |what: &str| corrupt(format!("mandate `{}`: unknown {what}", r.id));
    let kind = KINDS
        .into_iter()
        .find(|k| kind_code(*k) == r.kind)
        .ok_or_else(|| bad("kind"))?;
    let frequency = FREQUENCIES
        .into_iter()
        .find(|f| frequency_code(*f) == r.frequency)
        .ok_or_else(|| bad("frequency"))?;
    let on = || date(r, "status date", r.status_on.as_deref());
    let reason = || r.status_reason.clone().unwrap_or_default();
    let status = match r.status.as_str() {
        "pending_registration" => MandateStatus::PendingRegistration,
        "active" => MandateStatus::Active { since: on()? },
        "paused" => MandateStatus::Paused { since: on()? },
        "revoked" => MandateStatus::Revoked {
            on: on()?,
            reason: reason(),
        },
        "expired" => MandateStatus::Expired { on: on()? },
        "rejected" => MandateStatus::Rejected {
            on: on()?,
            reason: reason(),
        },
        _ => return Err(bad("status")),
    };
    Ok(Mandate {
        reference: r.reference.clone(),
        kind,
        bank: r.bank_code.clone(),
        max_amount_minor: r.max_amount,
        frequency,
        start: date(r, "start date", Some(&r.start_date))?,
        end: match &r.end_date {
            Some(e) => Some(date(r, "end date", Some(e))?),
            None => None,
        },
        submitted_on: date(r, "submission date", Some(&r.submitted_on))?,
        status,
    })
}

/// The record once the domain moved it to `status`: its next version.
pub(super) fn moved(r: &MandateRecord, status: &MandateStatus, now: &str) -> MandateRecord {
    let (on, reason) = match status {
        MandateStatus::PendingRegistration => (None, None),
        MandateStatus::Active { since } | MandateStatus::Paused { since } => (Some(*since), None),
        MandateStatus::Expired { on } => (Some(*on), None),
        MandateStatus::Revoked { on, reason } | MandateStatus::Rejected { on, reason } => {
            (Some(*on), Some(reason.clone()))
        }
    };
    MandateRecord {
        status: status.name().to_owned(),
        status_on: on.map(|d| d.to_string()),
        status_reason: reason,
        updated_at: now.to_owned(),
        version: r.version + 1,
        ..r.clone()
    }
}

/// The history row of the write that made `r`'s version.
pub(super) fn history_row(
    r: &MandateRecord,
    from: Option<&str>,
    actor: &str,
    detail: &EventDetail,
) -> Result<MandateEvent, AppError> {
    Ok(MandateEvent {
        mandate_id: r.id.clone(),
        seq: r.version,
        at: r.updated_at.clone(),
        actor: actor.to_owned(),
        from_status: from.map(str::to_owned),
        to_status: r.status.clone(),
        reason: r.status_reason.clone(),
        detail: serde_json::to_string(detail)
            .map_err(|e| corrupt(format!("mandate history detail: {e}")))?,
    })
}

/// Roles that collect or service the loan see the debtor's name; the others see it masked.
fn sees_names(p: &Principal) -> bool {
    matches!(
        p.role,
        Role::Admin | Role::Credit | Role::Operations | Role::Collections
    )
}

/// Each word of a name reduced to its first letter: enough to tell two debtors apart.
fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .map(|w| {
            let mut chars = w.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            format!("{first}{}", "*".repeat(chars.count()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn view(p: &Principal, r: &MandateRecord) -> Result<MandateView, AppError> {
    let rail = Rail::from_code(&r.rail)
        .ok_or_else(|| corrupt(format!("mandate `{}`: rail `{}`", r.id, r.rail)))?;
    let currency: Currency = r
        .currency
        .parse()
        .map_err(|e| corrupt(format!("mandate `{}`: {e}", r.id)))?;
    Ok(MandateView {
        id: r.id.clone(),
        loan_id: r.loan_id.clone(),
        rail,
        kind: r.kind.clone(),
        reference: r.reference.clone(),
        max_amount: format_minor(r.max_amount, currency.minor_digits()),
        currency: r.currency.clone(),
        frequency: r.frequency.clone(),
        start_date: r.start_date.clone(),
        end_date: r.end_date.clone(),
        submitted_on: r.submitted_on.clone(),
        status: r.status.clone(),
        status_on: r.status_on.clone(),
        status_reason: r.status_reason.clone(),
        debtor_name: if sees_names(p) {
            r.debtor_name.clone()
        } else {
            mask_name(&r.debtor_name)
        },
        account_last4: r.account_last4.clone(),
        bank_code: r.bank_code.clone(),
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
        version: r.version,
        dry_run: false,
    })
}

pub(super) fn event_view(e: &MandateEvent) -> Result<MandateEventView, AppError> {
    let detail: EventDetail = serde_json::from_str(&e.detail).map_err(|err| {
        corrupt(format!(
            "mandate `{}` history {}: {err}",
            e.mandate_id, e.seq
        ))
    })?;
    Ok(MandateEventView {
        seq: e.seq,
        at: e.at.clone(),
        actor: e.actor.clone(),
        from_status: e.from_status.clone(),
        to_status: e.to_status.clone(),
        reason: e.reason.clone(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_numbers_carry_their_check_digit() {
        assert!(aba_check_digit_holds(b"011000015"));
        assert!(aba_check_digit_holds(b"021000021"));
        assert!(!aba_check_digit_holds(b"021000022"));
        assert!(check_bank_code(Rail::Ach, "02100002").is_err());
        assert!(check_bank_code(Rail::Nach, "HDFC0001234").is_ok());
        assert!(check_bank_code(Rail::UpiAutopay, "HDFC1001234").is_err());
        assert!(check_reference(Rail::Nach, "HDFC7000000000012345").is_ok());
        assert!(check_reference(Rail::Nach, "HDFC700000000001234").is_err());
        assert!(check_reference(Rail::UpiAutopay, "asha@okhdfc.x-1").is_ok());
        assert!(check_reference(Rail::Ach, "a b").is_err());
    }

    #[test]
    fn codes_name_every_kind_and_frequency_once() {
        let kinds: std::collections::BTreeSet<_> = KINDS.into_iter().map(kind_code).collect();
        assert_eq!(kinds.len(), KINDS.len());
        for k in KINDS {
            let text = serde_json::to_value(k).unwrap();
            assert_eq!(text, kind_code(k), "the API's name is serde's");
        }
        for f in FREQUENCIES {
            assert_eq!(serde_json::to_value(f).unwrap(), frequency_code(f));
        }
    }
}
