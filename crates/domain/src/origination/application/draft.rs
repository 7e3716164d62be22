//! What an application asks for and who asks: the part a draft fills in and a submission
//! requires whole.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::money::{Currency, Money};
use crate::origination::party::PersonDoc;
use crate::terms::FieldError;

/// How many co-applicants, guarantors and consents an application may carry.
pub const MAX_CO_APPLICANTS: usize = 4;
pub const MAX_GUARANTORS: usize = 4;
pub const MAX_CONSENTS: usize = 16;
/// How many later tranches a staged loan may ask for.
pub const MAX_TRANCHES: usize = 24;
/// Longest purpose or description accepted.
pub const MAX_NOTE: usize = 500;

/// The editable part of an application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Draft {
    #[serde(default)]
    pub applicant: PersonDoc,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schema(max_items = 4))]
    pub co_applicants: Vec<PersonDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schema(max_items = 4))]
    pub guarantors: Vec<PersonDoc>,
    #[serde(default)]
    pub request: LoanRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collateral: Option<Collateral>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schema(max_items = 16))]
    pub consents: Vec<Consent>,
    /// Where the loan is paid out to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_account: Option<PayoutAccount>,
}

/// The loan asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoanRequest {
    /// A decimal amount in rupees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[0-9]{1,13}(\\.[0-9]{1,2})?$", example = "300000.00")
    )]
    pub amount: Option<String>,
    /// The tenure in instalments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 600))]
    pub installments: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 500))]
    pub purpose: Option<String>,
    /// Later disbursements of a staged loan, in date order (the first disbursement is the
    /// amount less these); the terms' rules apply to them at assessment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schema(max_items = 24))]
    pub tranches: Vec<crate::terms::TrancheDoc>,
}

/// What secures the loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Collateral {
    pub kind: CollateralKind,
    /// Its assessed value, a decimal amount in rupees.
    #[cfg_attr(
        feature = "schema",
        schema(pattern = "^[0-9]{1,13}(\\.[0-9]{1,2})?$", example = "5000000.00")
    )]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 500))]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CollateralKind {
    Property,
    Vehicle,
    Gold,
    Deposit,
    Securities,
    Other,
}

/// A consent the applicant gave: to what, when and through which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Consent {
    pub purpose: ConsentPurpose,
    /// When it was given, RFC 3339 (`2025-06-30T10:15:00+05:30`).
    #[cfg_attr(feature = "schema", schema(format = DateTime))]
    pub given_at: String,
    pub channel: Channel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ConsentPurpose {
    /// To pull a credit-bureau report.
    Bureau,
    /// To fetch bank data through an Account Aggregator.
    AccountAggregator,
    /// To verify identity (KYC).
    Kyc,
    /// To be contacted about the loan.
    Communication,
}

/// How something was given or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    App,
    Branch,
    Assisted,
    Otp,
    ESign,
}

/// The borrower's account the loan is paid into: a bank account (number and IFSC) or a UPI id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutAccount {
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 200))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(pattern = "^[0-9]{9,18}$"))]
    pub account_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(pattern = "^[A-Z]{4}0[A-Z0-9]{6}$"))]
    pub ifsc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 255))]
    pub vpa: Option<String>,
}

impl Draft {
    /// Every field present whose format is wrong. `on` is the day of application.
    pub fn check(&self, on: Date) -> Vec<FieldError> {
        let mut errors = self.applicant.check("applicant", on);
        let lists = [
            ("co_applicants", &self.co_applicants, MAX_CO_APPLICANTS),
            ("guarantors", &self.guarantors, MAX_GUARANTORS),
        ];
        for (name, people, max) in lists {
            if people.len() > max {
                errors.push(FieldError::coded(
                    name,
                    "list.length",
                    format!("must have at most {max} entries"),
                ));
            }
            for (i, p) in people.iter().enumerate() {
                errors.extend(p.check(&format!("{name}[{i}]"), on));
            }
        }
        self.request.check(&mut errors);
        if let Some(c) = &self.collateral {
            if let Err(e) = rupees(&c.value, false) {
                errors.push(e.at("collateral.value"));
            }
            note(
                &mut errors,
                "collateral.description",
                c.description.as_deref(),
            );
        }
        if self.consents.len() > MAX_CONSENTS {
            errors.push(FieldError::coded(
                "consents",
                "list.length",
                format!("must have at most {MAX_CONSENTS} entries"),
            ));
        }
        for (i, c) in self.consents.iter().enumerate() {
            if c.given_at.parse::<jiff::Timestamp>().is_err() {
                errors.push(FieldError::coded(
                    format!("consents[{i}].given_at"),
                    "timestamp.format",
                    "must be an RFC 3339 time with its offset (2025-06-30T10:15:00+05:30)",
                ));
            }
        }
        if let Some(a) = &self.payout_account {
            a.check(&mut errors);
        }
        errors
    }

    /// Every field a submission needs that is absent.
    pub fn missing(&self) -> Vec<FieldError> {
        let mut out = self.applicant.missing("applicant");
        for (i, p) in self.co_applicants.iter().enumerate() {
            out.extend(p.missing(&format!("co_applicants[{i}]")));
        }
        for (i, p) in self.guarantors.iter().enumerate() {
            out.extend(p.missing(&format!("guarantors[{i}]")));
        }
        let need = |present: bool, field: &str| {
            (!present).then(|| {
                FieldError::coded(
                    field,
                    "field.missing",
                    "is required to submit the application",
                )
            })
        };
        out.extend(need(self.request.amount.is_some(), "request.amount"));
        out.extend(need(
            self.request.installments.is_some(),
            "request.installments",
        ));
        out.extend(need(self.request.purpose.is_some(), "request.purpose"));
        out.extend(need(self.payout_account.is_some(), "payout_account"));
        out.extend(need(
            self.has_consent(ConsentPurpose::Bureau),
            "consents (bureau)",
        ));
        out
    }

    /// Whether the applicant consented to `purpose`.
    pub fn has_consent(&self, purpose: ConsentPurpose) -> bool {
        self.consents.iter().any(|c| c.purpose == purpose)
    }

    /// The requested amount in paise, once valid.
    pub fn amount(&self) -> Option<i64> {
        self.request
            .amount
            .as_deref()
            .and_then(|a| rupees(a, true).ok())
    }

    /// The collateral's value in paise, once valid.
    pub fn collateral_value(&self) -> Option<i64> {
        self.collateral
            .as_ref()
            .and_then(|c| rupees(&c.value, false).ok())
    }

    /// Loan to value in percent (2 decimals) of `amount` against the collateral, when there is one.
    pub fn ltv_percent(&self, amount: i64) -> Option<Decimal> {
        let value = self.collateral_value().filter(|v| *v > 0)?;
        crate::origination::eligibility::ltv_percent(amount, value)
    }
}

impl LoanRequest {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if let Some(a) = &self.amount {
            if let Err(e) = rupees(a, true) {
                errors.push(e.at("request.amount"));
            }
        }
        if let Some(n) = self.installments {
            if !(1..=600).contains(&n) {
                errors.push(FieldError::coded(
                    "request.installments",
                    "installments.range",
                    "must be from 1 to 600",
                ));
            }
        }
        note(errors, "request.purpose", self.purpose.as_deref());
        if self.tranches.len() > MAX_TRANCHES {
            errors.push(FieldError::coded(
                "request.tranches",
                "list.length",
                format!("must have at most {MAX_TRANCHES} entries"),
            ));
        }
        for (i, t) in self.tranches.iter().enumerate() {
            if let Err(e) = rupees(&t.amount, true) {
                errors.push(e.at(format!("request.tranches[{i}].amount")));
            }
        }
    }
}

impl PayoutAccount {
    fn check(&self, errors: &mut Vec<FieldError>) {
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            errors.push(FieldError::coded(
                "payout_account.name",
                "text.length",
                "must be 1 to 200 characters",
            ));
        }
        match (&self.account_number, &self.ifsc, &self.vpa) {
            (Some(n), Some(i), _) => {
                if !(9..=18).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
                    errors.push(FieldError::coded(
                        "payout_account.account_number",
                        "account.format",
                        "must be 9 to 18 digits",
                    ));
                }
                if !ifsc(i) {
                    errors.push(FieldError::coded(
                        "payout_account.ifsc",
                        "ifsc.format",
                        "must be an IFSC: four capital letters, 0, then six letters or digits",
                    ));
                }
            }
            (None, None, Some(v)) => {
                let ok = v.len() <= 255
                    && v.split_once('@').is_some_and(|(h, p)| {
                        !h.is_empty()
                            && !p.is_empty()
                            && !p.contains('@')
                            && v.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"@.-_".contains(&b))
                    });
                if !ok {
                    errors.push(FieldError::coded(
                        "payout_account.vpa",
                        "vpa.format",
                        "must be a UPI id: handle@provider",
                    ));
                }
            }
            _ => errors.push(FieldError::coded(
                "payout_account",
                "payout_account.kind",
                "must give either account_number with ifsc, or vpa",
            )),
        }
    }
}

/// An IFSC: four capital letters (the bank), `0`, six capital letters or digits (the branch).
pub fn ifsc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[..4].iter().all(u8::is_ascii_uppercase)
        && b[4] == b'0'
        && b[5..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Read a rupee amount: a decimal string, positive when `positive`, else not negative.
pub fn rupees(s: &str, positive: bool) -> Result<i64, FieldError> {
    let m = Money::parse(s, Currency::INR).map_err(|e| {
        FieldError::coded(
            "amount",
            "amount.format",
            format!("must be a decimal amount: {e}"),
        )
    })?;
    if positive && m.minor() <= 0 {
        return Err(FieldError::coded(
            "amount",
            "amount.positive",
            "must be greater than zero",
        ));
    }
    if m.minor() < 0 {
        return Err(FieldError::coded(
            "amount",
            "amount.non_negative",
            "must not be negative",
        ));
    }
    if m.minor() > Currency::INR.max_amount_minor() {
        return Err(FieldError::coded(
            "amount",
            "amount.max",
            "is larger than any amount Loanbook accepts",
        ));
    }
    Ok(m.minor())
}

fn note(errors: &mut Vec<FieldError>, field: &str, v: Option<&str>) {
    if let Some(v) = v {
        if v.trim().is_empty() || v.chars().count() > MAX_NOTE {
            errors.push(FieldError::coded(
                field,
                "text.length",
                format!("must be 1 to {MAX_NOTE} characters"),
            ));
        }
    }
}

/// The stable codes of the rules this module checks.
pub const RULES: &[(&str, &str)] = &[
    ("list.length", "The list has more entries than allowed"),
    (
        "installments.range",
        "The number of instalments is from 1 to 600",
    ),
    (
        "timestamp.format",
        "A time is RFC 3339 with its offset (2025-06-30T10:15:00+05:30)",
    ),
    ("account.format", "A bank account number is 9 to 18 digits"),
    (
        "ifsc.format",
        "An IFSC is four capital letters, 0, then six letters or digits",
    ),
    ("vpa.format", "A UPI id is handle@provider"),
    (
        "payout_account.kind",
        "A payout account is an account number with its IFSC, or a UPI id",
    ),
];
