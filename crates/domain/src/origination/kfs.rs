//! The Key Facts Statement (RBI format): the figures of the sanctioned terms and the lender's
//! disclosures, as one document a borrower accepts.
//!
//! Every figure comes from [`schedule::build`], the engine that will service the loan, so what is
//! disclosed is what is serviced: the KFS never computes an amount its own way. The parts follow the
//! RBI template (KFS circular of Apr 15, 2024, Annex A): Part 1 (amounts, instalments, the rate, fees
//! payable to the lender and to third parties, the APR, contingent charges), Part 2 (recovery agents,
//! grievance redress, the look-up period, co-lending: from [`KfsSettings`] and the partners) and the
//! annex with the repayment schedule.
//!
//! JSON: money as decimal strings in rupees with two decimals (`"969.73"`), rates as decimal
//! strings, dates `YYYY-MM-DD`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Date, DayCount, Frequency};
use crate::money::Currency;
use crate::schedule::{self, Schedule, ScheduleError};
use crate::terms::{FeeAmount, FeeCollection, Method, Penal, Terms};

/// What a product says in every Key Facts Statement beside the loan's own figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KfsSettings {
    /// The lender's legal name.
    pub lender: String,
    /// How many days a sanction's KFS may be accepted in (RBI: at least 3 working days for a
    /// tenure of 7 days or more).
    pub validity_days: u32,
    /// The look-up (cooling-off) period in days, in which the borrower may exit by paying
    /// principal and proportionate APR, without penalty.
    pub cooling_off_days: u32,
    pub grievance_officer: GrievanceOfficer,
    /// Whether the lender uses recovery agents (KFS part 2).
    #[serde(default)]
    pub recovery_agents: bool,
    /// Where the lender's policy on recovery agents and its grievance redress are published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_url: Option<String>,
    /// Whether the lender may transfer the loan to other lenders or securitise it (KFS part 2
    /// row 4).
    #[serde(default)]
    pub may_be_transferred: bool,
    /// Lending service providers acting as recovery agents and authorised to contact the
    /// borrower (KFS part 2 row 6(ii)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_providers: Vec<ServiceProvider>,
}

/// A lending service provider named in the KFS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceProvider {
    pub name: String,
    /// What it does for the lender (`recovery`, `collection calls`, …).
    pub role: String,
    pub contact: String,
}

/// The nodal grievance redressal officer named in the KFS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GrievanceOfficer {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[];

/// The marker in a fee's name that makes it payable to a third party through the lender (KFS
/// Part 1 row 8B): `"Insurance (payable to Acme General Insurance)"`. The terms carry no payee of
/// their own, so the name says it; every other fee is payable to the lender (row 8A).
pub const THIRD_PARTY_MARKER: &str = " (payable to ";

/// Who a KFS is issued to, under which proposal, and for how long it may be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KfsIssue {
    /// The loan proposal number (KFS Part 1 row 1).
    pub application_number: String,
    pub borrower: String,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub issued_on: Date,
    /// The last day the borrower may accept the KFS; the terms cannot change until then.
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub valid_until: Date,
    /// The hash of the sanctioned terms this KFS discloses.
    pub terms_hash: String,
}

/// One disbursement (KFS Part 1 row 3): the first on the disbursement date, then each tranche.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Disbursement {
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub date: Date,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "20000.00"))]
    #[serde(with = "rupees")]
    pub amount: i64,
}

/// The loan term (KFS Part 1 row 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoanTerm {
    /// Months from the start of the first regular period to the last due date, for a month-based
    /// frequency (instalments × months per period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    /// Days from the disbursement to the last due date.
    pub days: u32,
}

/// The instalments (KFS Part 1 row 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InstallmentDetails {
    /// How the instalments are built (`emi` for equated periodic instalments).
    pub method: Method,
    pub frequency: Frequency,
    /// Scheduled instalments, a broken-period instalment 0 included.
    pub count: u32,
    /// The regular instalment (the EPI; the base instalment for a stepped loan).
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "969.73"))]
    #[serde(with = "rupees")]
    pub amount: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub first_due_date: Date,
    /// Days from the disbursement to the first due date ("start of repayment after sanction").
    pub days_to_first_due: u32,
}

/// Fixed or floating (KFS Part 1 row 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RateType {
    Fixed,
    Floating,
}

/// A floating rate's parts (KFS Part 1 row 7): R = B + S, reset every N months, and the effect of
/// a 25 bp rise in R.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FloatingRate {
    pub benchmark: String,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "6.5"))]
    pub benchmark_rate: Decimal,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "3"))]
    pub spread: Decimal,
    pub reset_months: u32,
    /// The instalment at R + 0.25 keeping the tenor.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "972.12"))]
    #[serde(with = "rupees")]
    pub installment_at_plus_25bp: i64,
    /// The number of instalments at R + 0.25 keeping the instalment.
    pub count_at_plus_25bp: u32,
}

/// The interest rate (KFS Part 1 rows 6 and 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InterestRate {
    pub rate_type: RateType,
    /// Percent per annum.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "15"))]
    pub annual_rate: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating: Option<FloatingRate>,
}

/// One fee or charge (KFS Part 1 row 8). Every fee in the terms is one-time, charged at
/// disbursement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KfsFee {
    /// The charge, without the third-party marker (`Insurance`).
    pub name: String,
    /// The third party it is payable to through the lender (column B); none: the lender's own
    /// (column A).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party: Option<String>,
    /// Percent of the loan amount, for a fee set as a percentage.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, example = "2"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Decimal>,
    /// Before tax.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "240.00"))]
    #[serde(with = "rupees")]
    pub amount: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "0.00"))]
    #[serde(with = "rupees")]
    pub tax: i64,
    /// Fee plus tax: what the borrower bears.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "240.00"))]
    #[serde(with = "rupees")]
    pub total: i64,
    pub collect: FeeCollection,
}

/// Penal charges for late payment (KFS Part 1 row 10 (i)): a charge, never interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PenalCharge {
    /// A fixed amount when an instalment becomes overdue.
    PerMissedInstallment {
        #[cfg_attr(feature = "schema", schema(value_type = String, example = "500.00"))]
        #[serde(with = "rupees")]
        amount: i64,
    },
    /// Percent per annum on the overdue amount, accruing daily.
    AnnualPercent {
        #[cfg_attr(feature = "schema", schema(value_type = String, example = "24"))]
        percent: Decimal,
    },
}

/// The foreclosure charge (KFS Part 1 row 10 (iii)): a percent of the principal outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ForeclosureCharge {
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "2"))]
    pub percent: Decimal,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "18"))]
    pub tax_percent: Decimal,
}

/// Charges that arise only on an event (KFS Part 1 row 10); none of them is in the APR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContingentCharges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penal: Option<PenalCharge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreclosure: Option<ForeclosureCharge>,
}

/// One lender of a co-lent loan (KFS Part 2 row 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CoLender {
    pub name: String,
    /// Funding share, percent.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "80"))]
    pub share: Decimal,
    /// The lender's own rate, percent per annum.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "10"))]
    pub annual_rate: Decimal,
    pub originator: bool,
}

/// The co-lending arrangement (KFS Part 2 row 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CoLending {
    pub lenders: Vec<CoLender>,
    /// The lenders' rates weighted by their funding shares, percent per annum.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "11.6"))]
    pub blended_rate: Decimal,
}

/// One row of the repayment schedule (KFS Annex C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleRow {
    /// 1-based; 0 is a broken-period instalment.
    pub number: u32,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub due_date: Date,
    /// Principal outstanding on the due date, before this instalment.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "20000.00"))]
    #[serde(with = "rupees")]
    pub outstanding: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "719.73"))]
    #[serde(with = "rupees")]
    pub principal: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "250.00"))]
    #[serde(with = "rupees")]
    pub interest: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "0.00"))]
    #[serde(with = "rupees")]
    pub fees: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "969.73"))]
    #[serde(with = "rupees")]
    pub installment: i64,
}

/// The Key Facts Statement of a loan proposal: every field of the RBI template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyFacts {
    pub currency: Currency,
    /// Part 1 row 2: the sanctioned loan amount.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "20000.00"))]
    #[serde(with = "rupees")]
    pub loan_amount: i64,
    /// Part 1 row 3: 100% upfront when there is one entry, in stages otherwise.
    pub disbursements: Vec<Disbursement>,
    /// Part 1 row 4.
    pub term: LoanTerm,
    /// Part 1 row 5.
    pub installments: InstallmentDetails,
    /// Part 1 rows 6 and 7.
    pub interest_rate: InterestRate,
    /// Part 1 row 8: each fee, payable to the lender or to a named third party.
    pub fees: Vec<KfsFee>,
    /// Part 1 row 8A: the fees payable to the lender, tax included.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "240.00"))]
    #[serde(with = "rupees")]
    pub fees_to_lender: i64,
    /// Part 1 row 8B: the fees payable to third parties through the lender, tax included.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "160.00"))]
    #[serde(with = "rupees")]
    pub fees_to_third_parties: i64,
    /// Part 1 row 9: the APR, percent, on the net disbursed amount (IRR × periods per year).
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "17.07"))]
    pub apr: Decimal,
    /// Part 1 row 10.
    pub contingent_charges: ContingentCharges,
    /// Annex B row 5: all interest over the tenor at the sanctioned rate.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "3273.59"))]
    #[serde(with = "rupees")]
    pub total_interest: i64,
    /// Annex B row 7: what the borrower receives.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "19600.00"))]
    #[serde(with = "rupees")]
    pub net_disbursed: i64,
    /// Annex B row 8: every scheduled instalment added up.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "23273.59"))]
    #[serde(with = "rupees")]
    pub total_payable: i64,
    /// Part 2 row 5: the lenders, their shares and the blended rate; none when one lender holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co_lending: Option<CoLending>,
    /// Annex C: the repayment schedule.
    pub schedule: Vec<ScheduleRow>,
    pub issue: KfsIssue,
    /// Part 2: recovery agents, the grievance officer, the look-up period, the lender.
    pub settings: KfsSettings,
}

impl KeyFacts {
    /// Disclose the rate as floating (KFS Part 1 rows 6 and 7): the terms' rate is the
    /// benchmark's plus the spread, reset every `reset_months`, and a rise of 25 basis points
    /// would make the instalment what the schedule engine gives at R + 0.25 % (keeping the
    /// tenor), or take the number of instalments it takes to repay at R + 0.25 % keeping the
    /// instalment.
    pub fn floating(
        mut self,
        terms: &Terms,
        benchmark: &str,
        benchmark_rate: Decimal,
        spread: Decimal,
        reset_months: u32,
    ) -> Result<KeyFacts, ScheduleError> {
        let bump = Decimal::new(25, 2);
        let mut higher = terms.clone();
        higher.annual_rate += bump;
        let installment = schedule::repayments(&higher)?.installment_amount;
        let count = count_at(
            terms.principal,
            self.installments.amount,
            higher.annual_rate,
            terms.frequency.periods_per_year(),
        );
        self.interest_rate = InterestRate {
            rate_type: RateType::Floating,
            annual_rate: terms.annual_rate,
            floating: Some(FloatingRate {
                benchmark: benchmark.to_owned(),
                benchmark_rate,
                spread,
                reset_months,
                installment_at_plus_25bp: installment,
                count_at_plus_25bp: count,
            }),
        };
        Ok(self)
    }

    /// Everything from the terms (the figures come from [`schedule::build`], never recomputed
    /// differently) and the product's settings.
    ///
    /// A KFS is written in rupees and paise: a currency whose minor unit is not a hundredth is
    /// refused with [`ScheduleError::OutOfRange`].
    pub fn build(
        terms: &Terms,
        settings: &KfsSettings,
        issue: KfsIssue,
    ) -> Result<KeyFacts, ScheduleError> {
        if terms.currency.minor_digits() != rupees::DIGITS {
            return Err(ScheduleError::OutOfRange);
        }
        let schedule = schedule::build(terms)?;
        let fees: Vec<KfsFee> = terms
            .fees
            .iter()
            .map(|f| {
                let (name, third_party) = split_payee(&f.name);
                KfsFee {
                    name,
                    third_party,
                    percent: match f.amount {
                        FeeAmount::Percent(p) => Some(p.normalize()),
                        FeeAmount::Fixed(_) => None,
                    },
                    amount: f.base_minor(terms.principal),
                    tax: f.tax_minor(terms.principal),
                    total: f.total_minor(terms.principal),
                    collect: f.collect,
                }
            })
            .collect();
        let (third, lender): (Vec<&KfsFee>, Vec<&KfsFee>) =
            fees.iter().partition(|f| f.third_party.is_some());
        let fees_to_lender = lender.iter().map(|f| f.total).sum();
        let fees_to_third_parties = third.iter().map(|f| f.total).sum();

        Ok(KeyFacts {
            currency: terms.currency,
            loan_amount: terms.principal,
            disbursements: disbursements(terms),
            term: loan_term(terms, &schedule),
            installments: installment_details(terms, &schedule),
            interest_rate: InterestRate {
                rate_type: RateType::Fixed,
                annual_rate: terms.annual_rate.normalize(),
                floating: None,
            },
            fees,
            fees_to_lender,
            fees_to_third_parties,
            apr: schedule.apr,
            contingent_charges: contingent_charges(terms),
            total_interest: schedule.totals.interest,
            net_disbursed: schedule.net_disbursed,
            total_payable: schedule.totals.payable,
            co_lending: co_lending(terms),
            schedule: schedule_rows(&schedule),
            issue,
            settings: settings.clone(),
        })
    }

    /// Every fee and its tax: the lender's and the third parties'.
    pub fn total_fees(&self) -> i64 {
        self.fees_to_lender + self.fees_to_third_parties
    }

    /// Whether the loan is disbursed in stages (KFS Part 1 row 3).
    pub fn in_stages(&self) -> bool {
        self.disbursements.len() > 1
    }
}

/// A fee's name and its third-party payee, read from [`THIRD_PARTY_MARKER`].
fn split_payee(name: &str) -> (String, Option<String>) {
    let parsed = name.strip_suffix(')').and_then(|n| {
        let (charge, payee) = n.rsplit_once(THIRD_PARTY_MARKER)?;
        let (charge, payee) = (charge.trim(), payee.trim());
        (!charge.is_empty() && !payee.is_empty()).then(|| (charge.to_owned(), payee.to_owned()))
    });
    match parsed {
        Some((charge, payee)) => (charge, Some(payee)),
        None => (name.to_owned(), None),
    }
}

fn disbursements(terms: &Terms) -> Vec<Disbursement> {
    let mut out = Vec::with_capacity(terms.tranches.len() + 1);
    out.push(Disbursement {
        date: terms.disbursement_date,
        amount: terms.first_disbursement(),
    });
    out.extend(terms.tranches.iter().map(|t| Disbursement {
        date: t.date,
        amount: t.amount,
    }));
    out
}

fn days_from(start: Date, end: Date) -> u32 {
    u32::try_from(DayCount::Act365F.days(start, end)).unwrap_or(u32::MAX)
}

fn loan_term(terms: &Terms, schedule: &Schedule) -> LoanTerm {
    let last = schedule
        .installments
        .last()
        .map_or(terms.disbursement_date, |r| r.due_date);
    let months = terms
        .frequency
        .months()
        .and_then(|m| u32::try_from(m).ok())
        .map(|m| m.saturating_mul(terms.installments));
    LoanTerm {
        months,
        days: days_from(terms.disbursement_date, last),
    }
}

fn installment_details(terms: &Terms, schedule: &Schedule) -> InstallmentDetails {
    let first = schedule
        .installments
        .first()
        .map_or(terms.disbursement_date, |r| r.due_date);
    InstallmentDetails {
        method: terms.method,
        frequency: terms.frequency,
        count: u32::try_from(schedule.installments.len()).unwrap_or(u32::MAX),
        amount: schedule.installment_amount,
        first_due_date: first,
        days_to_first_due: days_from(terms.disbursement_date, first),
    }
}

fn contingent_charges(terms: &Terms) -> ContingentCharges {
    ContingentCharges {
        penal: terms.penal.map(|p| match p {
            Penal::PerMissedInstallment(amount) => PenalCharge::PerMissedInstallment { amount },
            Penal::Percent(percent) => PenalCharge::AnnualPercent {
                percent: percent.normalize(),
            },
        }),
        foreclosure: terms.foreclosure_fee.map(|f| ForeclosureCharge {
            percent: f.percent.normalize(),
            tax_percent: f.tax_percent.normalize(),
        }),
    }
}

fn co_lending(terms: &Terms) -> Option<CoLending> {
    if terms.partners.is_empty() {
        return None;
    }
    let lenders: Vec<CoLender> = terms
        .partners
        .iter()
        .map(|p| CoLender {
            name: p.id.clone(),
            share: p.share.normalize(),
            annual_rate: p.annual_rate.normalize(),
            originator: p.originator,
        })
        .collect();
    let weighted: Decimal = lenders.iter().map(|l| l.share * l.annual_rate).sum();
    Some(CoLending {
        lenders,
        blended_rate: (weighted / Decimal::ONE_HUNDRED).normalize(),
    })
}

fn schedule_rows(schedule: &Schedule) -> Vec<ScheduleRow> {
    schedule
        .installments
        .iter()
        .map(|r| ScheduleRow {
            number: r.number,
            due_date: r.due_date,
            outstanding: r.balance + r.principal,
            principal: r.principal,
            interest: r.interest,
            fees: r.fees,
            installment: r.total,
        })
        .collect()
}

/// Serde of an amount in paise as a decimal string in rupees (`96973` ↔ `"969.73"`), through
/// [`crate::money`]'s formatting and parsing.
mod rupees {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::money::{Currency, Money, format_minor};

    /// Fraction digits of the amounts in a KFS.
    pub const DIGITS: u32 = 2;

    pub fn serialize<S: Serializer>(minor: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_minor(*minor, DIGITS))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Money::parse(&text, Currency::INR)
            .map(|m| m.minor())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;

/// How many instalments of `installment` repay `principal` at `annual_rate` percent compounded
/// `periods_per_year` times a year (the last one smaller); `u32::MAX` when the instalment does
/// not cover a period's interest. A disclosure figure only: the loan itself runs on the schedule
/// engine.
fn count_at(
    principal: i64,
    installment: i64,
    annual_rate: Decimal,
    periods_per_year: Decimal,
) -> u32 {
    let r = annual_rate / Decimal::ONE_HUNDRED / periods_per_year;
    let mut balance = Decimal::from(principal);
    let pay = Decimal::from(installment);
    if pay <= balance * r {
        return u32::MAX;
    }
    let mut n = 0u32;
    while balance > Decimal::ZERO && n < 100_000 {
        balance = balance + (balance * r).round() - pay;
        n += 1;
    }
    n
}
