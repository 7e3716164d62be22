//! Borrower documents rendered from the domain's figures: the Key Facts Statement as printable
//! HTML and as PDF. Rendering only: every figure comes from [`KeyFacts`], and both renderers lay
//! out the same [`sections`], so the HTML and the PDF cannot disagree.

mod kfs_html;
mod kfs_pdf;

use loanbook_domain::calendar::Date;
use loanbook_domain::origination::kfs::{KeyFacts, PenalCharge, RateType};
use loanbook_domain::terms::{FeeCollection, Method};
use rust_decimal::Decimal;

pub use kfs_html::kfs_html;
pub use kfs_pdf::{ROWS_PER_PAGE, kfs_pdf};

/// Why a document could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// An amount in paise in the Indian format: `₹1,23,456.78` (lakhs and crores grouped in twos).
///
/// Hand-written: the number-formatting crates group integers only (the paise and the sign would
/// still be ours), and the rule is a dozen lines.
pub fn inr(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let digits = (abs / 100).to_string();
    let grouped = match digits.len().checked_sub(3) {
        None | Some(0) => digits,
        Some(split) => {
            let (head, last3) = digits.split_at(split);
            let mut out = String::with_capacity(digits.len() + digits.len() / 2);
            for (i, c) in head.chars().enumerate() {
                if i > 0 && (head.len() - i) % 2 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out.push(',');
            out.push_str(last3);
            out
        }
    };
    format!("{sign}₹{grouped}.{:02}", abs % 100)
}

/// A rate in percent: `15%`, `17.07%`.
pub fn percent(rate: Decimal) -> String {
    format!("{}%", rate.normalize())
}

/// A date as the KFS shows it: `01-02-2024` (DD-MM-YYYY, RBI's DDMMYYYY).
pub fn date(d: Date) -> String {
    format!("{:02}-{:02}-{:04}", d.day(), d.month(), d.year())
}

/// One titled part of the KFS: numbered rows of a label and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub rows: Vec<(String, String, String)>,
}

/// One fee of KFS Part 1 row 8, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeLine {
    pub name: String,
    pub payable_to: String,
    pub basis: String,
    pub collected: &'static str,
    pub amount: String,
    pub tax: String,
    pub total: String,
}

/// One row of the repayment schedule, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleLine {
    pub number: String,
    pub due_date: String,
    pub outstanding: String,
    pub principal: String,
    pub interest: String,
    pub installment: String,
}

fn installment_type(k: &KeyFacts) -> String {
    let kind = match k.installments.method {
        Method::Emi => "equated periodic instalments (EPI)",
        Method::Flat => "equal instalments, flat interest",
        Method::EqualPrincipal => "equal principal with interest on the reducing balance",
        Method::InterestOnly => "interest only, principal with the last instalment",
        Method::Bullet => "one payment at maturity",
        Method::Balloon => "equated instalments with a balloon payment",
        Method::Step => "stepped instalments",
    };
    let text = format!("{}, {kind}", k.installments.frequency);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn collected(c: FeeCollection) -> &'static str {
    match c {
        FeeCollection::Deduct => "deducted from the disbursement",
        FeeCollection::Finance => "added to the loan",
        FeeCollection::Upfront => "paid upfront",
    }
}

/// The fees of KFS Part 1 row 8; every fee is one-time, at disbursement.
pub fn fee_lines(k: &KeyFacts) -> Vec<FeeLine> {
    k.fees
        .iter()
        .map(|f| FeeLine {
            name: f.name.clone(),
            payable_to: match &f.third_party {
                Some(p) => format!("Third party: {p}"),
                None => format!("Lender: {}", k.settings.lender),
            },
            basis: match f.percent {
                Some(p) => format!("One-time, {} of the loan amount", percent(p)),
                None => "One-time".to_owned(),
            },
            collected: collected(f.collect),
            amount: inr(f.amount),
            tax: inr(f.tax),
            total: inr(f.total),
        })
        .collect()
}

/// The repayment schedule (Annex C).
pub fn schedule_lines(k: &KeyFacts) -> Vec<ScheduleLine> {
    k.schedule
        .iter()
        .map(|r| ScheduleLine {
            number: r.number.to_string(),
            due_date: date(r.due_date),
            outstanding: inr(r.outstanding),
            principal: inr(r.principal),
            interest: inr(r.interest),
            installment: inr(r.installment),
        })
        .collect()
}

fn row(n: &str, label: &str, value: String) -> (String, String, String) {
    (n.to_owned(), label.to_owned(), value)
}

fn part1(k: &KeyFacts) -> Section {
    let i = &k.installments;
    let disbursal = if k.in_stages() {
        let stages: Vec<String> = k
            .disbursements
            .iter()
            .map(|d| format!("{} on {}", inr(d.amount), date(d.date)))
            .collect();
        format!("In stages: {}", stages.join("; "))
    } else {
        "100% upfront".to_owned()
    };
    let term = match k.term.months {
        Some(m) => format!("{m} months ({} days)", k.term.days),
        None => format!("{} days", k.term.days),
    };
    let rate_type = match k.interest_rate.rate_type {
        RateType::Fixed => "Fixed",
        RateType::Floating => "Floating",
    };
    let mut rows = vec![
        row(
            "1",
            "Loan proposal number",
            k.issue.application_number.clone(),
        ),
        row("2", "Sanctioned loan amount", inr(k.loan_amount)),
        row("3", "Disbursal schedule", disbursal),
        row("4", "Loan term", term),
        row("5", "Type of instalments", installment_type(k)),
        row("5", "Number of instalments", i.count.to_string()),
        row("5", "Instalment amount", inr(i.amount)),
        row(
            "5",
            "Start of repayment",
            format!(
                "{} ({} days after disbursement)",
                date(i.first_due_date),
                i.days_to_first_due
            ),
        ),
        row(
            "6",
            "Interest rate and type",
            format!("{} {rate_type}", percent(k.interest_rate.annual_rate)),
        ),
    ];
    match &k.interest_rate.floating {
        Some(f) => rows.push(row(
            "7",
            "Floating rate",
            format!(
                "{} at {} + spread {} = {}; reset every {} months; at +25 bp: instalment {} or {} instalments",
                f.benchmark,
                percent(f.benchmark_rate),
                percent(f.spread),
                percent(k.interest_rate.annual_rate),
                f.reset_months,
                inr(f.installment_at_plus_25bp),
                f.count_at_plus_25bp
            ),
        )),
        None => rows.push(row("7", "Floating rate", "Not applicable".to_owned())),
    }
    rows.push(row(
        "8A",
        "Fees and charges payable to the lender",
        inr(k.fees_to_lender),
    ));
    rows.push(row(
        "8B",
        "Fees and charges payable to third parties through the lender",
        inr(k.fees_to_third_parties),
    ));
    rows.push(row("9", "Annual Percentage Rate (APR)", percent(k.apr)));
    rows.extend(contingent(k));
    Section {
        title: "Part 1: Interest rate and fees/charges",
        rows,
    }
}

fn contingent(k: &KeyFacts) -> Vec<(String, String, String)> {
    let c = &k.contingent_charges;
    let penal = match c.penal {
        Some(PenalCharge::PerMissedInstallment { amount }) => {
            format!(
                "{} for each instalment not paid by its due date",
                inr(amount)
            )
        }
        Some(PenalCharge::AnnualPercent { percent: p }) => format!(
            "{} per annum on the overdue amount, for the days it is overdue; never compounded",
            percent(p)
        ),
        None => "None".to_owned(),
    };
    let foreclosure = match c.foreclosure {
        Some(f) if f.tax_percent.is_zero() => {
            format!("{} of the principal outstanding", percent(f.percent))
        }
        Some(f) => format!(
            "{} of the principal outstanding, plus {} tax",
            percent(f.percent),
            percent(f.tax_percent)
        ),
        None => "None".to_owned(),
    };
    let switch = match k.interest_rate.rate_type {
        RateType::Fixed => "Not applicable (fixed rate)",
        RateType::Floating => "As in the loan agreement",
    };
    vec![
        row("10(i)", "Penal charges for delayed payment", penal),
        row("10(ii)", "Other penal charges", "None".to_owned()),
        row("10(iii)", "Foreclosure charges", foreclosure),
        row(
            "10(iv)",
            "Charges for switching between floating and fixed rates",
            switch.to_owned(),
        ),
        row("10(v)", "Any other charges", "None".to_owned()),
    ]
}

fn part2(k: &KeyFacts) -> Section {
    let s = &k.settings;
    let policy = s
        .policy_url
        .clone()
        .unwrap_or_else(|| "The loan agreement".to_owned());
    let agents = if s.recovery_agents {
        format!("The lender may engage recovery agents; see {policy}")
    } else {
        "The lender does not engage recovery agents".to_owned()
    };
    let officer = &s.grievance_officer;
    let colending = match &k.co_lending {
        Some(c) => {
            let lenders: Vec<String> = c
                .lenders
                .iter()
                .map(|l| {
                    let role = if l.originator {
                        "originating lender"
                    } else {
                        "partner lender"
                    };
                    format!(
                        "{} ({role}): {} funding at {}",
                        l.name,
                        percent(l.share),
                        percent(l.annual_rate)
                    )
                })
                .collect();
            format!(
                "{}; blended rate {}",
                lenders.join("; "),
                percent(c.blended_rate)
            )
        }
        None => "No: the loan is held by one lender".to_owned(),
    };
    Section {
        title: "Part 2: Other qualitative information",
        rows: vec![
            row("1", "Recovery agents", agents),
            row("2", "Grievance redressal", format!("See {policy}")),
            row(
                "3",
                "Nodal grievance redressal officer",
                format!("{}, {}, {}", officer.name, officer.phone, officer.email),
            ),
            row(
                "4",
                "Transfer to other lenders or securitisation",
                if s.may_be_transferred {
                    "Yes: the loan may be transferred or securitised"
                } else {
                    "No"
                }
                .to_owned(),
            ),
            row("5", "Co-lending", colending),
            row(
                "6",
                "Cooling-off / look-up period",
                format!(
                    "{} days: exit by paying the principal and the proportionate APR, without penalty",
                    s.cooling_off_days
                ),
            ),
            row(
                "6(ii)",
                "Lending service providers acting as recovery agents",
                if s.service_providers.is_empty() {
                    "None".to_owned()
                } else {
                    s.service_providers
                        .iter()
                        .map(|p| format!("{} ({}): {}", p.name, p.role, p.contact))
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            ),
        ],
    }
}

fn annex_b(k: &KeyFacts) -> Section {
    Section {
        title: "Annex B: Computation of the APR",
        rows: vec![
            row("1", "Sanctioned loan amount", inr(k.loan_amount)),
            row(
                "2",
                "Loan term",
                format!(
                    "{} instalments, {}",
                    k.installments.count, k.installments.frequency
                ),
            ),
            row(
                "4",
                "Rate of interest",
                percent(k.interest_rate.annual_rate),
            ),
            row(
                "5",
                "Total interest charged over the tenor",
                inr(k.total_interest),
            ),
            row("6", "Fees and charges payable", inr(k.total_fees())),
            row("6A", "Payable to the lender", inr(k.fees_to_lender)),
            row(
                "6B",
                "Payable to third parties through the lender",
                inr(k.fees_to_third_parties),
            ),
            row("7", "Net disbursed amount", inr(k.net_disbursed)),
            row(
                "8",
                "Total amount to be paid by the borrower",
                inr(k.total_payable),
            ),
            row(
                "9",
                "APR: IRR on the net disbursed amount, reducing balance",
                percent(k.apr),
            ),
        ],
    }
}

/// The parts of the KFS before the schedule, in order.
pub fn sections(k: &KeyFacts) -> Vec<Section> {
    vec![part1(k), part2(k), annex_b(k)]
}

/// The document's heading lines: the lender, the borrower, the issue and validity dates.
pub fn heading(k: &KeyFacts) -> Vec<String> {
    vec![
        format!("{}: Key Facts Statement", k.settings.lender),
        format!("Borrower: {}", k.issue.borrower),
        format!(
            "Proposal {}, issued {}, valid until {}",
            k.issue.application_number,
            date(k.issue.issued_on),
            date(k.issue.valid_until)
        ),
        format!("Terms reference: {}", k.issue.terms_hash),
    ]
}

#[cfg(test)]
pub(crate) mod tests;
