//! Loan terms: the one description of a loan's contract.
//!
//! Origination sanctions a [`Terms`] value and servicing runs exactly that value. The JSON form
//! ([`TermsDoc`]) carries money and rates as decimal strings; [`Terms::parse`] turns it into typed,
//! validated terms, reporting every broken rule with the field it concerns.

use std::collections::BTreeSet;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Date, Frequency, HolidayCalendar, strict_date};
use crate::money::{Currency, Money, RoundingMode, format_minor};

/// Largest number of scheduled instalments a loan may have.
pub const MAX_INSTALLMENTS: u32 = 600;
/// Earliest and latest years accepted for any date in the terms.
pub const MIN_YEAR: i16 = 1900;
pub const MAX_YEAR: i16 = 2200;

/// How the instalments are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Equated instalments (annuity) on the reducing balance.
    Emi,
    /// Flat interest on the original principal, equal instalments.
    Flat,
    /// Equal principal parts, interest on the reducing balance.
    EqualPrincipal,
    /// Interest every period, all principal with the last instalment.
    InterestOnly,
    /// One payment at maturity: principal plus simple interest for the whole term.
    Bullet,
    /// Annuity that leaves a balloon amount for the last instalment.
    Balloon,
    /// Annuity whose instalment steps by a percentage every N instalments.
    Step,
}

impl Method {
    pub const fn name(self) -> &'static str {
        match self {
            Method::Emi => "emi",
            Method::Flat => "flat",
            Method::EqualPrincipal => "equal_principal",
            Method::InterestOnly => "interest_only",
            Method::Bullet => "bullet",
            Method::Balloon => "balloon",
            Method::Step => "step",
        }
    }
}

/// How a period's interest is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum InterestBasis {
    /// Every period is an equal fraction of the year: balance × annual rate / periods per year.
    #[default]
    #[serde(rename = "equal_periods")]
    EqualPeriods,
    #[serde(rename = "act/365f")]
    Act365F,
    #[serde(rename = "act/act")]
    ActAct,
    #[serde(rename = "act/360")]
    Act360,
    #[serde(rename = "30/360")]
    Thirty360,
}

impl InterestBasis {
    /// The day count of a daily basis; `None` for equal periods.
    pub fn day_count(self) -> Option<crate::calendar::DayCount> {
        use crate::calendar::DayCount;
        match self {
            InterestBasis::EqualPeriods => None,
            InterestBasis::Act365F => Some(DayCount::Act365F),
            InterestBasis::ActAct => Some(DayCount::ActAct),
            InterestBasis::Act360 => Some(DayCount::Act360),
            InterestBasis::Thirty360 => Some(DayCount::Thirty360),
        }
    }
}

/// Where the interest of a broken (longer or shorter) first period goes, under `equal_periods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokenPeriod {
    /// Added to (or, for a shorter period, taken off) the first instalment's interest.
    #[default]
    FirstInstallment,
    /// Deducted from the amount disbursed.
    Deduct,
    /// A separate interest-only instalment number 0, due at the start of the first regular period.
    InstallmentZero,
    /// Not charged.
    Ignore,
}

/// Rounding of the instalment: a mode and a multiple in major units (0.01, 1, 10, 0.05, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallmentRounding {
    pub mode: RoundingMode,
    #[serde(with = "rust_decimal::serde::str")]
    pub multiple: Decimal,
}

impl Default for InstallmentRounding {
    fn default() -> Self {
        InstallmentRounding {
            mode: RoundingMode::HalfUp,
            multiple: Decimal::new(1, 2),
        }
    }
}

/// Rounding rules: the instalment to a multiple, each period's interest to the minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    #[serde(default)]
    pub installment: InstallmentRounding,
    #[serde(default)]
    pub interest: RoundingMode,
}

/// What happens to interest during a moratorium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoratoriumInterest {
    /// Interest-only instalments.
    Pay,
    /// Nothing due; the period's interest is added to principal.
    Capitalize,
    /// Nothing due; the interest falls due with the first instalment after the moratorium.
    Defer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moratorium {
    pub periods: u32,
    pub interest: MoratoriumInterest,
}

/// Step-up (or step-down) of a `step` loan's instalment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub every: u32,
    /// Percentage change applied every `every` instalments (may be negative).
    pub percent: Decimal,
}

/// How a fee is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeCollection {
    /// Taken from the amount disbursed.
    #[default]
    Deduct,
    /// Added to the financed principal and repaid with interest.
    Finance,
    /// Paid by the borrower at disbursement, separately.
    Upfront,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeAmount {
    /// A fixed amount in minor units.
    Fixed(i64),
    /// A percentage of the principal.
    Percent(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    pub name: String,
    pub amount: FeeAmount,
    pub tax_percent: Decimal,
    pub collect: FeeCollection,
}

impl Fee {
    /// The fee before tax, in minor units (a percentage is rounded half-up to the minor unit).
    pub fn base_minor(&self, principal_minor: i64) -> i64 {
        match self.amount {
            FeeAmount::Fixed(minor) => minor,
            FeeAmount::Percent(pct) => percent_of(principal_minor, pct),
        }
    }

    /// Tax on the fee, in minor units, rounded half-up.
    pub fn tax_minor(&self, principal_minor: i64) -> i64 {
        percent_of(self.base_minor(principal_minor), self.tax_percent)
    }

    /// Fee plus tax.
    pub fn total_minor(&self, principal_minor: i64) -> i64 {
        self.base_minor(principal_minor)
            .saturating_add(self.tax_minor(principal_minor))
    }
}

/// `pct` percent of `minor`, rounded half-up to the minor unit. Inputs are bounded by validation
/// (amount ≤ 10^14 minor units, percent ≤ 100), so the result always fits.
fn percent_of(minor: i64, pct: Decimal) -> i64 {
    let value = Decimal::from(minor) * pct / Decimal::ONE_HUNDRED;
    crate::money::round_to_integer(value, RoundingMode::HalfUp)
        .try_into()
        .unwrap_or(i64::MAX)
}

/// A later disbursement of part of the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tranche {
    pub date: Date,
    pub amount: i64,
}

/// A component of what a borrower owes, for the allocation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Charges,
    Interest,
    Principal,
}

/// Whether a payment clears dues instalment by instalment or component by component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationBy {
    /// Oldest instalment first; within it, the components in order.
    #[default]
    Installment,
    /// Each component in order, swept across all due instalments oldest first.
    Component,
}

/// How a payment is appropriated to dues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    #[serde(default = "Allocation::default_order")]
    pub order: [Component; 3],
    #[serde(default)]
    pub by: AllocationBy,
}

impl Allocation {
    fn default_order() -> [Component; 3] {
        [
            Component::Interest,
            Component::Principal,
            Component::Charges,
        ]
    }

    /// Whether charges are cleared before instalments (they come first in the order).
    pub fn charges_first(&self) -> bool {
        self.order[0] == Component::Charges
    }
}

impl Default for Allocation {
    fn default() -> Self {
        Allocation {
            order: Allocation::default_order(),
            by: AllocationBy::Installment,
        }
    }
}

/// What happens to money received above everything due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcessHandling {
    /// Held and applied to instalments as they fall due.
    #[default]
    Advance,
    /// Applied to principal at once; the instalment stays and the tenure shortens.
    ReduceTenure,
    /// Applied to principal at once; the tenure stays and the instalment falls.
    ReduceEmi,
    /// Held for refund to the borrower; never applied to dues.
    Refund,
}

/// Penal charges for late payment: a charge, never interest, never compounded (RBI, Aug 2023).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penal {
    /// A fixed amount (minor units) levied at the day-end when an instalment becomes overdue.
    PerMissedInstallment(i64),
    /// A percent per annum on the overdue principal and interest, accruing daily (act/365, each
    /// day's charge rounded half-up to the minor unit).
    Percent(Decimal),
}

/// Fee on foreclosure: a percent of the principal outstanding, plus tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeclosureFee {
    pub percent: Decimal,
    pub tax_percent: Decimal,
}

/// A co-lender's share of the loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub id: String,
    /// Funding share, percent; the shares add up to 100.
    pub share: Decimal,
    /// The partner's own rate, percent per annum.
    pub annual_rate: Decimal,
    /// The originating lender, which keeps residues and any spread.
    pub originator: bool,
}

/// How collections are divided between co-lenders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Principal by share; each partner's interest at its own rate on its own outstanding; the
    /// originator keeps any residual spread.
    #[default]
    PrincipalProRata,
    /// Every rupee by share.
    CollectionProRata,
}

/// Validated loan terms. Money is in minor units of `currency`; rates are percent per annum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub currency: Currency,
    /// The loan amount: the first disbursement plus every tranche.
    pub principal: i64,
    pub annual_rate: Decimal,
    pub method: Method,
    pub installments: u32,
    pub frequency: Frequency,
    pub disbursement_date: Date,
    pub first_due_date: Option<Date>,
    pub interest_basis: InterestBasis,
    pub broken_period: BrokenPeriod,
    pub rounding: Rounding,
    pub moratorium: Option<Moratorium>,
    pub balloon: Option<i64>,
    pub step: Option<Step>,
    pub fees: Vec<Fee>,
    /// Later disbursements, in date order.
    pub tranches: Vec<Tranche>,
    pub calendar: Option<HolidayCalendar>,
    pub allocation: Allocation,
    pub excess: ExcessHandling,
    pub penal: Option<Penal>,
    pub foreclosure_fee: Option<ForeclosureFee>,
    /// Co-lenders, the originator included; empty for a loan held by one lender.
    pub partners: Vec<Partner>,
    pub split: Split,
}

/// One broken rule: the field (a JSON path such as `fees[0].percent`) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub rule: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// Why terms were refused: every broken rule, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TermsError(pub Vec<FieldError>);

impl fmt::Display for TermsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// JSON document
// ---------------------------------------------------------------------------------------------

/// The JSON form of the terms, as written by people and stored with a loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermsDoc {
    pub currency: String,
    pub principal: String,
    pub annual_rate: String,
    pub method: Method,
    pub installments: i64,
    pub frequency: Frequency,
    #[serde(deserialize_with = "strict_date::deserialize")]
    pub disbursement_date: Date,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_date::option"
    )]
    pub first_due_date: Option<Date>,
    #[serde(default)]
    pub interest_basis: InterestBasis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_period: Option<BrokenPeriod>,
    #[serde(default)]
    pub rounding: Rounding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moratorium: Option<Moratorium>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balloon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<FeeDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tranches: Vec<TrancheDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<HolidayCalendar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<Allocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excess: Option<ExcessHandling>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penal: Option<PenalDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreclosure_fee: Option<ForeclosureFeeDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<PartnerDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenalDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_missed_installment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeclosureFeeDoc {
    pub percent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_percent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerDoc {
    pub id: String,
    pub share: String,
    pub annual_rate: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub originator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    pub every: i64,
    pub percent: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_percent: Option<String>,
    #[serde(default)]
    pub collect: FeeCollection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrancheDoc {
    #[serde(deserialize_with = "strict_date::deserialize")]
    pub date: Date,
    pub amount: String,
}

/// The rule an amount over [`crate::money::MAX_AMOUNT_MAJOR`] breaks: `must be at most 1000000000000.00`.
pub fn amount_limit_rule(currency: Currency) -> String {
    format!(
        "must be at most {}",
        format_minor(currency.max_amount_minor(), currency.minor_digits())
    )
}

/// Parse a plain decimal string: optional `-`, digits, optional `.` and digits. No exponent, no
/// separators, no spaces.
pub fn parse_plain_decimal(s: &str) -> Option<Decimal> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(int) || frac.is_some_and(|f| !digits_ok(f)) {
        return None;
    }
    if int.len() + frac.map_or(0, str::len) > 26 {
        return None;
    }
    s.parse::<Decimal>().ok()
}

impl Terms {
    /// Parse terms from JSON text: syntax and type errors name the JSON path; then every rule is checked.
    pub fn from_json(text: &str) -> Result<Terms, TermsError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let doc: TermsDoc = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                "terms".to_owned()
            } else {
                path
            };
            TermsError(vec![FieldError::new(field, e.inner().to_string())])
        })?;
        Terms::parse(&doc)
    }

    /// Validate a terms document, collecting every broken rule.
    pub fn parse(doc: &TermsDoc) -> Result<Terms, TermsError> {
        Validator::default().run(doc)
    }

    /// The JSON document for these terms (canonical: parse(to_doc(t)) == t).
    pub fn to_doc(&self) -> TermsDoc {
        let digits = self.currency.minor_digits();
        let amount = |minor: i64| format_minor(minor, digits);
        TermsDoc {
            currency: self.currency.code().to_owned(),
            principal: amount(self.principal),
            annual_rate: self.annual_rate.normalize().to_string(),
            method: self.method,
            installments: i64::from(self.installments),
            frequency: self.frequency,
            disbursement_date: self.disbursement_date,
            first_due_date: self.first_due_date,
            interest_basis: self.interest_basis,
            broken_period: (self.interest_basis == InterestBasis::EqualPeriods)
                .then_some(self.broken_period),
            rounding: self.rounding,
            moratorium: self.moratorium,
            balloon: self.balloon.map(amount),
            step: self.step.map(|s| StepDoc {
                every: i64::from(s.every),
                percent: s.percent.normalize().to_string(),
            }),
            fees: self
                .fees
                .iter()
                .map(|f| FeeDoc {
                    name: f.name.clone(),
                    amount: match f.amount {
                        FeeAmount::Fixed(m) => Some(amount(m)),
                        FeeAmount::Percent(_) => None,
                    },
                    percent: match f.amount {
                        FeeAmount::Percent(p) => Some(p.normalize().to_string()),
                        FeeAmount::Fixed(_) => None,
                    },
                    tax_percent: (!f.tax_percent.is_zero())
                        .then(|| f.tax_percent.normalize().to_string()),
                    collect: f.collect,
                })
                .collect(),
            tranches: self
                .tranches
                .iter()
                .map(|t| TrancheDoc {
                    date: t.date,
                    amount: amount(t.amount),
                })
                .collect(),
            calendar: self.calendar.clone(),
            allocation: (self.allocation != Allocation::default()).then_some(self.allocation),
            excess: (self.excess != ExcessHandling::default()).then_some(self.excess),
            penal: self.penal.map(|p| match p {
                Penal::PerMissedInstallment(m) => PenalDoc {
                    per_missed_installment: Some(amount(m)),
                    percent: None,
                },
                Penal::Percent(pct) => PenalDoc {
                    per_missed_installment: None,
                    percent: Some(pct.normalize().to_string()),
                },
            }),
            foreclosure_fee: self.foreclosure_fee.map(|f| ForeclosureFeeDoc {
                percent: f.percent.normalize().to_string(),
                tax_percent: (!f.tax_percent.is_zero())
                    .then(|| f.tax_percent.normalize().to_string()),
            }),
            partners: self
                .partners
                .iter()
                .map(|p| PartnerDoc {
                    id: p.id.clone(),
                    share: p.share.normalize().to_string(),
                    annual_rate: p.annual_rate.normalize().to_string(),
                    originator: p.originator,
                })
                .collect(),
            split: (!self.partners.is_empty()).then_some(self.split),
        }
    }

    /// Canonical JSON text of the terms.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_doc()).unwrap_or_default()
    }

    /// The first disbursement: the principal less every later tranche.
    pub fn first_disbursement(&self) -> i64 {
        self.principal - self.tranches.iter().map(|t| t.amount).sum::<i64>()
    }

    pub fn money(&self, minor: i64) -> Money {
        Money::from_minor(minor, self.currency)
    }
}

impl Serialize for Terms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_doc().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Terms {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let doc = TermsDoc::deserialize(deserializer)?;
        Terms::parse(&doc).map_err(serde::de::Error::custom)
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn err(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.errors.push(FieldError::new(field, rule));
    }

    /// An amount within [`crate::money::MAX_AMOUNT_MAJOR`] either way.
    fn amount(&mut self, field: &str, s: &str, currency: Currency) -> Option<i64> {
        match Money::parse(s, currency) {
            Ok(m) if m.minor().unsigned_abs() > currency.max_amount_minor().unsigned_abs() => {
                self.err(field, amount_limit_rule(currency));
                None
            }
            Ok(m) => Some(m.minor()),
            Err(e) => {
                self.err(
                    field,
                    format!("must be a decimal amount in {currency:?}: {e}"),
                );
                None
            }
        }
    }

    fn percent(&mut self, field: &str, s: &str, min: Decimal, max: Decimal) -> Option<Decimal> {
        match parse_plain_decimal(s) {
            Some(d) if d.scale() > 6 => {
                self.err(field, "must have at most 6 decimal places");
                None
            }
            Some(d) if d < min || d > max => {
                self.err(field, format!("must be between {min} and {max}"));
                None
            }
            Some(d) => Some(d),
            None => {
                self.err(field, format!("`{s}` is not a decimal number"));
                None
            }
        }
    }

    fn date(&mut self, field: &str, d: Date) {
        if d.year() < MIN_YEAR || d.year() > MAX_YEAR {
            self.err(field, format!("must be between {MIN_YEAR} and {MAX_YEAR}"));
        }
    }

    fn run(mut self, doc: &TermsDoc) -> Result<Terms, TermsError> {
        let currency = match doc.currency.parse::<Currency>() {
            Ok(c) => Some(c),
            Err(e) => {
                self.err("currency", e.to_string());
                None
            }
        };
        let cur = currency.unwrap_or(Currency::INR);
        let principal = self.amount("principal", &doc.principal, cur);
        if principal.is_some_and(|p| p <= 0) {
            self.err("principal", "must be greater than zero");
        }
        let annual_rate = self.percent(
            "annual_rate",
            &doc.annual_rate,
            Decimal::ZERO,
            Decimal::ONE_HUNDRED,
        );
        let installments = u32::try_from(doc.installments)
            .ok()
            .filter(|n| (1..=MAX_INSTALLMENTS).contains(n));
        if installments.is_none() {
            self.err(
                "installments",
                format!("must be between 1 and {MAX_INSTALLMENTS}"),
            );
        }
        let n = installments.unwrap_or(1);

        self.date("disbursement_date", doc.disbursement_date);
        if let Some(first) = doc.first_due_date {
            self.date("first_due_date", first);
            if first <= doc.disbursement_date {
                self.err("first_due_date", "must be after disbursement_date");
            } else if let Ok(limit) = doc.frequency.step(doc.disbursement_date, 2) {
                if first > limit {
                    self.err(
                        "first_due_date",
                        "must be at most two periods after disbursement_date",
                    );
                }
            }
        }

        let broken_period = match (doc.broken_period, doc.interest_basis) {
            (Some(_), basis) if basis != InterestBasis::EqualPeriods => {
                self.err(
                    "broken_period",
                    "applies only to interest_basis equal_periods (daily bases charge actual days)",
                );
                BrokenPeriod::default()
            }
            (bp, _) => bp.unwrap_or_default(),
        };

        let multiple = doc.rounding.installment.multiple;
        let minor_multiple = multiple * Decimal::from(cur.minor_per_major());
        if multiple <= Decimal::ZERO || !minor_multiple.fract().is_zero() {
            self.err(
                "rounding.installment.multiple",
                format!(
                    "must be a positive whole number of minor units of {}",
                    cur.code()
                ),
            );
        } else if minor_multiple > Decimal::from(100_000_000) {
            self.err("rounding.installment.multiple", "must be at most 1000000");
        }

        let method = doc.method;
        if let Some(m) = doc.moratorium {
            if !matches!(
                method,
                Method::Emi | Method::EqualPrincipal | Method::Balloon | Method::Step
            ) {
                self.err(
                    "moratorium",
                    format!("is not available with method {}", method.name()),
                );
            } else if m.periods == 0 || m.periods >= n {
                self.err(
                    "moratorium.periods",
                    "must be at least 1 and fewer than installments",
                );
            }
        }

        let balloon = match (&doc.balloon, method) {
            (Some(b), Method::Balloon) => {
                let v = self.amount("balloon", b, cur);
                if let (Some(v), Some(p)) = (v, principal) {
                    if v <= 0 {
                        self.err("balloon", "must be greater than zero");
                    } else if v >= p {
                        self.err("balloon", "must be less than principal");
                    }
                }
                v
            }
            (None, Method::Balloon) => {
                self.err("balloon", "is required with method balloon");
                None
            }
            (Some(_), m) => {
                self.err(
                    "balloon",
                    format!("is only for method balloon, not {}", m.name()),
                );
                None
            }
            (None, _) => None,
        };
        if method == Method::Balloon && n < 2 {
            self.err("installments", "must be at least 2 with method balloon");
        }

        let step = match (&doc.step, method) {
            (Some(s), Method::Step) => {
                let every = u32::try_from(s.every).ok().filter(|e| *e >= 1 && *e < n);
                if every.is_none() {
                    self.err(
                        "step.every",
                        "must be at least 1 and fewer than installments",
                    );
                }
                let pct = self.percent(
                    "step.percent",
                    &s.percent,
                    Decimal::from(-50),
                    Decimal::ONE_HUNDRED,
                );
                every
                    .zip(pct)
                    .map(|(every, percent)| Step { every, percent })
            }
            (None, Method::Step) => {
                self.err("step", "is required with method step");
                None
            }
            (Some(_), m) => {
                self.err("step", format!("is only for method step, not {}", m.name()));
                None
            }
            (None, _) => None,
        };

        let mut fees = Vec::with_capacity(doc.fees.len());
        let mut names = BTreeSet::new();
        for (i, f) in doc.fees.iter().enumerate() {
            let at = |k: &str| format!("fees[{i}].{k}");
            if f.name.trim().is_empty() {
                self.err(at("name"), "must not be empty");
            } else if !names.insert(f.name.as_str()) {
                self.err(at("name"), "must be unique among fees");
            }
            let amount = match (&f.amount, &f.percent) {
                (Some(a), None) => {
                    let v = self.amount(&at("amount"), a, cur);
                    if v.is_some_and(|v| v < 0) {
                        self.err(at("amount"), "must not be negative");
                    }
                    v.map(FeeAmount::Fixed)
                }
                (None, Some(p)) => self
                    .percent(&at("percent"), p, Decimal::ZERO, Decimal::ONE_HUNDRED)
                    .map(FeeAmount::Percent),
                _ => {
                    self.err(
                        at("amount"),
                        "exactly one of amount and percent is required",
                    );
                    None
                }
            };
            let tax = match &f.tax_percent {
                Some(t) => self.percent(&at("tax_percent"), t, Decimal::ZERO, Decimal::ONE_HUNDRED),
                None => Some(Decimal::ZERO),
            };
            if let (Some(amount), Some(tax_percent)) = (amount, tax) {
                fees.push(Fee {
                    name: f.name.clone(),
                    amount,
                    tax_percent,
                    collect: f.collect,
                });
            }
        }

        let mut tranches = Vec::with_capacity(doc.tranches.len());
        if !doc.tranches.is_empty()
            && !matches!(
                method,
                Method::Emi | Method::EqualPrincipal | Method::InterestOnly
            )
        {
            self.err(
                "tranches",
                format!("are not available with method {}", method.name()),
            );
        }
        for (i, t) in doc.tranches.iter().enumerate() {
            let at = |k: &str| format!("tranches[{i}].{k}");
            self.date(&at("date"), t.date);
            if t.date <= doc.disbursement_date {
                self.err(at("date"), "must be after disbursement_date");
            }
            if let Some(a) = self.amount(&at("amount"), &t.amount, cur) {
                if a <= 0 {
                    self.err(at("amount"), "must be greater than zero");
                }
                tranches.push(Tranche {
                    date: t.date,
                    amount: a,
                });
            }
        }
        tranches.sort_by_key(|t| t.date);

        if let Some(cal) = &doc.calendar {
            let days: BTreeSet<_> = cal.weekend.iter().collect();
            if days.len() >= 7 {
                self.err("calendar.weekend", "must leave at least one business day");
            }
        }

        let allocation = doc.allocation.unwrap_or_default();
        {
            let distinct: BTreeSet<_> = allocation.order.iter().collect();
            if distinct.len() != 3 {
                self.err(
                    "allocation.order",
                    "must name charges, interest and principal once each",
                );
            }
        }
        let penal = match &doc.penal {
            None => None,
            Some(PenalDoc {
                per_missed_installment: Some(a),
                percent: None,
            }) => self
                .amount("penal.per_missed_installment", a, cur)
                .filter(|v| {
                    let ok = *v >= 0;
                    if !ok {
                        self.errors.push(FieldError::new(
                            "penal.per_missed_installment",
                            "must not be negative",
                        ));
                    }
                    ok
                })
                .map(Penal::PerMissedInstallment),
            Some(PenalDoc {
                per_missed_installment: None,
                percent: Some(p),
            }) => self
                .percent("penal.percent", p, Decimal::ZERO, Decimal::ONE_HUNDRED)
                .map(Penal::Percent),
            Some(_) => {
                self.err(
                    "penal",
                    "exactly one of per_missed_installment and percent is required",
                );
                None
            }
        };
        let foreclosure_fee = match &doc.foreclosure_fee {
            None => None,
            Some(f) => {
                let pct = self.percent(
                    "foreclosure_fee.percent",
                    &f.percent,
                    Decimal::ZERO,
                    Decimal::ONE_HUNDRED,
                );
                let tax = match &f.tax_percent {
                    Some(t) => self.percent(
                        "foreclosure_fee.tax_percent",
                        t,
                        Decimal::ZERO,
                        Decimal::ONE_HUNDRED,
                    ),
                    None => Some(Decimal::ZERO),
                };
                pct.zip(tax).map(|(percent, tax_percent)| ForeclosureFee {
                    percent,
                    tax_percent,
                })
            }
        };
        let mut partners = Vec::with_capacity(doc.partners.len());
        if !doc.partners.is_empty() {
            let mut ids = BTreeSet::new();
            for (i, p) in doc.partners.iter().enumerate() {
                let at = |k: &str| format!("partners[{i}].{k}");
                if p.id.trim().is_empty() {
                    self.err(at("id"), "must not be empty");
                } else if !ids.insert(p.id.as_str()) {
                    self.err(at("id"), "must be unique among partners");
                }
                let share =
                    self.percent(&at("share"), &p.share, Decimal::ZERO, Decimal::ONE_HUNDRED);
                if share.is_some_and(|s| s.is_zero()) {
                    self.err(at("share"), "must be greater than zero");
                }
                let rate = self.percent(
                    &at("annual_rate"),
                    &p.annual_rate,
                    Decimal::ZERO,
                    Decimal::ONE_HUNDRED,
                );
                if let (Some(share), Some(annual_rate)) = (share, rate) {
                    partners.push(Partner {
                        id: p.id.clone(),
                        share,
                        annual_rate,
                        originator: p.originator,
                    });
                }
            }
            if doc.partners.len() < 2 {
                self.err(
                    "partners",
                    "must list at least two lenders, the originator included",
                );
            }
            match doc.partners.iter().filter(|p| p.originator).count() {
                0 => {
                    // The last lender listed is the originator unless one is marked.
                    if let Some(last) = partners.last_mut() {
                        last.originator = true;
                    }
                }
                1 => {}
                _ => self.err("partners", "at most one partner may be the originator"),
            }
            if partners.len() == doc.partners.len() {
                let total: Decimal = partners.iter().map(|p| p.share).sum();
                if total != Decimal::ONE_HUNDRED {
                    self.err(
                        "partners",
                        format!("shares must add up to 100, not {total}"),
                    );
                }
                let blended: Decimal = partners
                    .iter()
                    .map(|p| p.share * p.annual_rate / Decimal::ONE_HUNDRED)
                    .sum();
                let split = doc.split.unwrap_or_default();
                if split == Split::PrincipalProRata {
                    if let Some(rate) = annual_rate {
                        if rate < blended {
                            self.err(
                                "annual_rate",
                                format!(
                                    "must be at least the partners' blended rate {} under principal_pro_rata",
                                    blended.normalize()
                                ),
                            );
                        }
                    }
                }
            }
        } else if doc.split.is_some() {
            self.err("split", "applies only when partners are given");
        }

        // Rules across fields, checked once the parts are known.
        if let Some(p) = principal.filter(|p| *p > 0) {
            let later: i64 = tranches.iter().map(|t| t.amount.max(0)).sum();
            if !tranches.is_empty() && later >= p {
                self.err("tranches", "must add up to less than principal");
            }
            let deducted: i64 = fees
                .iter()
                .filter(|f| f.collect != FeeCollection::Finance)
                .map(|f| f.total_minor(p))
                .sum();
            if deducted >= p - later {
                self.err(
                    "fees",
                    "fees deducted or paid upfront must be less than the first disbursement",
                );
            }
        }
        if let Ok(Some(last)) = last_due_unadjusted(doc, n) {
            for (i, t) in doc.tranches.iter().enumerate() {
                if t.date >= last {
                    self.err(
                        format!("tranches[{i}].date"),
                        "must be before the last due date",
                    );
                }
            }
        } else {
            self.err("installments", "the schedule runs past the supported dates");
        }

        if !self.errors.is_empty() {
            return Err(TermsError(self.errors));
        }
        match (currency, principal, annual_rate, installments) {
            (Some(currency), Some(principal), Some(annual_rate), Some(installments)) => Ok(Terms {
                currency,
                principal,
                annual_rate,
                method,
                installments,
                frequency: doc.frequency,
                disbursement_date: doc.disbursement_date,
                first_due_date: doc.first_due_date,
                interest_basis: doc.interest_basis,
                broken_period,
                rounding: doc.rounding,
                moratorium: doc.moratorium,
                balloon,
                step,
                fees,
                tranches,
                calendar: doc.calendar.clone(),
                allocation,
                excess: doc.excess.unwrap_or_default(),
                penal,
                foreclosure_fee,
                partners,
                split: doc.split.unwrap_or_default(),
            }),
            _ => Err(TermsError(vec![FieldError::new(
                "terms",
                "could not be read",
            )])),
        }
    }
}

fn last_due_unadjusted(
    doc: &TermsDoc,
    n: u32,
) -> Result<Option<Date>, crate::calendar::CalendarError> {
    let k = i32::try_from(n).unwrap_or(i32::MAX);
    let last = match doc.first_due_date {
        Some(first) => doc.frequency.step(first, k - 1)?,
        None => doc.frequency.step(doc.disbursement_date, k)?,
    };
    Ok(Some(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RBI: &str = r#"{
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "fees": [{"name": "processing", "amount": "400.00"}]
    }"#;

    fn errors(json: &str) -> Vec<String> {
        match Terms::from_json(json) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    fn with(field: &str, value: serde_json::Value) -> String {
        let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
        v[field] = value;
        v.to_string()
    }

    #[test]
    fn parses_the_rbi_example() {
        let t = Terms::from_json(RBI).unwrap();
        assert_eq!(t.principal, 2_000_000);
        assert_eq!(t.annual_rate, Decimal::from(15));
        assert_eq!(t.installments, 24);
        assert_eq!(t.fees[0].total_minor(t.principal), 40_000);
        assert_eq!(t.fees[0].collect, FeeCollection::Deduct);
        assert_eq!(t.interest_basis, InterestBasis::EqualPeriods);
    }

    #[test]
    fn canonical_json_round_trips() {
        let t = Terms::from_json(RBI).unwrap();
        let again = Terms::from_json(&t.to_json()).unwrap();
        assert_eq!(t, again);
        assert_eq!(t.to_json(), again.to_json());
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (
                with("installments", 0.into()),
                "installments: must be between 1 and 600",
            ),
            (
                with("installments", 601.into()),
                "installments: must be between 1 and 600",
            ),
            (
                with("principal", "-5.00".into()),
                "principal: must be greater than zero",
            ),
            (
                with("principal", "1.234".into()),
                "principal: must be a decimal amount",
            ),
            (
                with("principal", "abc".into()),
                "principal: must be a decimal amount",
            ),
            (
                with("annual_rate", "101".into()),
                "annual_rate: must be between 0 and 100",
            ),
            (
                with("annual_rate", "1e2".into()),
                "annual_rate: `1e2` is not a decimal number",
            ),
            (with("currency", "XYZ".into()), "currency: unknown currency"),
            (
                with("first_due_date", "2023-12-01".into()),
                "first_due_date: must be after",
            ),
            (
                with("balloon", "100.00".into()),
                "balloon: is only for method balloon",
            ),
        ];
        for (json, expected) in cases {
            let errs = errors(&json);
            assert!(
                errs.iter().any(|e| e.starts_with(expected)),
                "{expected:?} not in {errs:?}"
            );
        }
    }

    #[test]
    fn type_errors_name_the_path() {
        let errs = errors(&with("method", "annuity".into()));
        assert!(
            errs[0].starts_with("method: unknown variant `annuity`"),
            "{errs:?}"
        );
        let errs = errors(&with("disbursement_date", "2024-02-30".into()));
        assert!(errs[0].starts_with("disbursement_date:"), "{errs:?}");
        let errs = errors(&with("principal", 20000.into()));
        assert!(errs[0].starts_with("principal: invalid type"), "{errs:?}");
        let errs = errors(&with("colour", "red".into()));
        assert!(errs[0].contains("unknown field `colour`"), "{errs:?}");
        let errs = errors("{\"currency\": \"INR\"");
        assert_eq!(errs.len(), 1);
        let errs = errors(r#"{"currency": "INR"}"#);
        assert!(errs[0].contains("missing field"), "{errs:?}");
    }

    #[test]
    fn balloon_must_be_below_principal() {
        let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
        v["method"] = "balloon".into();
        v["balloon"] = "25000.00".into();
        let errs = errors(&v.to_string());
        assert!(
            errs.contains(&"balloon: must be less than principal".to_owned()),
            "{errs:?}"
        );
        v.as_object_mut().unwrap().remove("balloon");
        let errs = errors(&v.to_string());
        assert!(errs.contains(&"balloon: is required with method balloon".to_owned()));
    }

    #[test]
    fn collects_every_error_at_once() {
        let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
        v["installments"] = 0.into();
        v["annual_rate"] = "150".into();
        v["principal"] = "0".into();
        assert_eq!(errors(&v.to_string()).len(), 3);
    }

    #[test]
    fn fees_and_tranches_are_checked() {
        let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
        v["fees"] = serde_json::json!([
            {"name": "a", "amount": "1.00", "percent": "1"},
            {"name": "b", "percent": "120"},
            {"name": "b", "amount": "30000.00"}
        ]);
        v["tranches"] = serde_json::json!([{"date": "2023-01-01", "amount": "0"}]);
        let errs = errors(&v.to_string());
        for expected in [
            "fees[0].amount: exactly one of amount and percent is required",
            "fees[1].percent: must be between 0 and 100",
            "fees[2].name: must be unique among fees",
            "tranches[0].date: must be after disbursement_date",
            "tranches[0].amount: must be greater than zero",
            "fees: fees deducted or paid upfront must be less than the first disbursement",
        ] {
            assert!(
                errs.iter().any(|e| e == expected),
                "{expected:?} not in {errs:?}"
            );
        }
    }

    #[test]
    fn broken_period_only_under_equal_periods() {
        let mut v: serde_json::Value = serde_json::from_str(RBI).unwrap();
        v["interest_basis"] = "act/365f".into();
        v["broken_period"] = "deduct".into();
        let errs = errors(&v.to_string());
        assert!(
            errs[0].starts_with("broken_period: applies only"),
            "{errs:?}"
        );
    }

    #[test]
    fn plain_decimals_only() {
        assert_eq!(parse_plain_decimal("9.4822"), Some(Decimal::new(94822, 4)));
        assert_eq!(parse_plain_decimal("-1.5"), Some(Decimal::new(-15, 1)));
        for bad in [
            "", "-", ".5", "5.", "1e3", "1_000", " 1", "+1", "1.2.3", "١",
        ] {
            assert_eq!(parse_plain_decimal(bad), None, "{bad:?}");
        }
    }
}
