//! The validated terms and their parts.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Date, Frequency, HolidayCalendar};
use crate::money::{Currency, RoundingMode};

/// Largest number of scheduled instalments a loan may have.
pub const MAX_INSTALLMENTS: u32 = 600;
/// Earliest and latest years accepted for any date in the terms.
pub const MIN_YEAR: i16 = 1900;
pub const MAX_YEAR: i16 = 2200;

/// How the instalments are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
    /// The method's name in JSON.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// How a period's interest is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InstallmentRounding {
    pub mode: RoundingMode,
    #[cfg_attr(feature = "schema", schema(value_type = String, pattern = "^([1-9][0-9]{0,5}(\\.[0-9]{1,2})?|0\\.(0[1-9]|[1-9][0-9]?))$", example = "1"))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    #[serde(default)]
    pub installment: InstallmentRounding,
    #[serde(default)]
    pub interest: RoundingMode,
}

/// What happens to interest during a moratorium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Moratorium {
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 599, example = 3))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Charges,
    Interest,
    Principal,
}

/// Whether a payment clears dues instalment by instalment or component by component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    #[cfg_attr(feature = "schema", schema(value_type = std::collections::BTreeSet<Component>, min_items = 3, max_items = 3))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
    /// The realisable value of the loan's security (its collateral) in minor units; `None` for
    /// a loan without security. Provisioning counts this much of the outstanding as covered.
    pub security_value: Option<i64>,
}
