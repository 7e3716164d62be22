//! The figures an assessment reads from a statement: credits and debits per month, salary,
//! average balance, bounces and their charges, and the recurring debits (EMIs) the applicant
//! already pays.
//!
//! The rules are the usual statement-analysis heuristics; each is stated where it is applied.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Statement, Transaction, amount};

/// How much a month's salary may differ from the median salary and still be the same salary.
const SALARY_TOLERANCE_PERCENT: i64 = 15;
/// How much a recurring debit may differ from its median and still be the same instalment.
const RECURRING_TOLERANCE_PERCENT: i64 = 10;
/// In how many distinct months a debit must recur to count as recurring.
const RECURRING_MIN_MONTHS: usize = 2;
/// In how many distinct months salary must be seen (fewer when the statement is shorter).
const SALARY_MIN_MONTHS: usize = 3;

/// What a statement says about the applicant's income and obligations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Analysis {
    /// Every calendar month the statement covers, oldest first (the first and last may be partial).
    pub months: Vec<MonthFigures>,
    /// The median monthly salary when salary is detected; otherwise the mean of each month's
    /// credits, leaving out reversals, refunds, returns and self transfers.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "85000.00"))]
    #[serde(with = "amount::text")]
    pub monthly_income: i64,
    /// Credits whose narration says salary (`SALARY`, `SAL CR`, `SAL-`, `PAYROLL`, `WAGES`,
    /// `STIPEND`), in at least 3 distinct months (every month, for a shorter statement), with as
    /// many months within 15 % of the median salary.
    pub salary_detected: bool,
    /// The mean of the months' calendar average balances ([`MonthFigures::average_balance`]);
    /// zero when the statement carries no balances.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "25000.00"))]
    #[serde(with = "amount::text")]
    pub average_monthly_balance: i64,
    /// The applicant's debits that bounced (see [`bounces_on`]).
    pub bounced_debits: u32,
    /// The sum of the bank's return and bounce charges.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "590.00"))]
    #[serde(with = "amount::text")]
    pub bounce_charges: i64,
    /// The sum of the recurring debits counted as EMIs, per month.
    #[cfg_attr(feature = "schema", schema(value_type = String, example = "12500.00"))]
    #[serde(with = "amount::text")]
    pub existing_emi: i64,
    pub recurring_debits: Vec<RecurringDebit>,
}

/// One calendar month of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct MonthFigures {
    /// `YYYY-MM`.
    #[cfg_attr(feature = "schema", schema(example = "2025-01"))]
    pub month: String,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub credits: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub debits: i64,
    /// The month's salary credits, if any.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    #[serde(default, with = "amount::text::option")]
    pub salary: Option<i64>,
    /// The calendar average balance: each day's closing balance (carried forward over days
    /// without transactions, and before the first transaction the balance it started from),
    /// summed over the days of the month the statement covers and divided by their number,
    /// rounded to the paisa. `None` when a transaction has no balance.
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    #[serde(default, with = "amount::text::option")]
    pub average_balance: Option<i64>,
    pub bounces: u32,
}

/// A debit that recurs month after month for about the same amount (an EMI, a SIP, a premium).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RecurringDebit {
    /// The payee as the narrations name it (`BAJAJ FINANCE LTD`).
    pub counterparty: String,
    /// The median amount of the debits.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub amount: i64,
    /// In how many distinct months it was debited.
    pub months: u32,
    /// The median day of the month it is debited on.
    pub day_of_month: u8,
    /// Whether it counts in [`Analysis::existing_emi`] (SIPs, mutual funds and insurance do not).
    pub counted_as_emi: bool,
}

/// The narration upper-cased, for keyword tests.
fn upper(t: &Transaction) -> String {
    t.narration.to_ascii_uppercase()
}

fn has_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

fn is_salary(t: &Transaction) -> bool {
    let n = upper(t);
    t.credit > 0
        && has_any(
            &n,
            &[
                "SALARY", "SAL CR", "SAL-", "SAL/", "PAYROLL", "WAGES", "STIPEND",
            ],
        )
        && !is_not_income(&n)
}

/// Credits that are not income: reversals, refunds, returns, cashback and self transfers.
fn is_not_income(n: &str) -> bool {
    has_any(
        n,
        &[
            "REV", "REFUND", "RETURN", "RTN", "CASHBACK", "SELF", "OWN A/C", "REVERSAL",
        ],
    )
}

/// A bank charge for a returned or bounced instruction.
fn is_bounce_charge(t: &Transaction) -> bool {
    let n = upper(t);
    t.debit > 0
        && has_any(
            &n,
            &[
                "RETURN", "RTN", "RET ", "RET.", "BOUNCE", "DISHONO", "CHQRET",
            ],
        )
        && has_any(&n, &["CHG", "CHRG", "CHARGE", "FEE", "GST"])
}

/// A returned instruction that was the applicant's: the reversal (a credit) of a debit that
/// failed, or an inward (`I/W`) return, which is the applicant's own cheque; not an outward
/// return (a cheque the applicant deposited).
fn is_own_return(t: &Transaction) -> bool {
    let n = upper(t);
    let returned = has_any(
        &n,
        &[
            "NACH RTN",
            "NACH RETURN",
            "NACH FAIL",
            "ACH RTN",
            "ACH RETURN",
            "ACHDEBIT RTN",
            "REV:NACH",
            "REV-NACH",
            "REV NACH",
            "ECS RTN",
            "ECS RETURN",
            "CHQ RET",
            "CHQ RTN",
            "CHEQUE RETURN",
            "INWARD RETURN",
            "FUNDS INSUFFICIENT",
            "INSUFFICIENT FUNDS",
            "DISHONOUR",
            "BOUNCE",
        ],
    );
    let outward = has_any(&n, &["O/W", "OUTWARD"]);
    let inward = has_any(&n, &["I/W", "INWARD"]);
    returned && !is_bounce_charge(t) && !outward && (t.credit > 0 || inward)
}

/// The bounces on one day: the larger of the applicant's return rows and the return-charge rows,
/// so a return and the charge levied for it count once, and a charge with no return row (the
/// bank never debited) still counts.
fn bounces_on(day: &[&Transaction]) -> u32 {
    let returns = day.iter().filter(|t| is_own_return(t)).count();
    let charges = day.iter().filter(|t| is_bounce_charge(t)).count();
    u32::try_from(returns.max(charges)).unwrap_or(u32::MAX)
}

const MANDATE_WORDS: &[&str] = &[
    "ACH D",
    "ACHD",
    "NACH",
    "ECS",
    "SI-",
    "SI ",
    "AUTO DEBIT",
    "AUTODEBIT",
    "AUTOPAY",
    "MANDATE",
    "EMI",
    "LOAN",
    "BAJAJ FIN",
    "TATA CAPITAL",
    "HOME CREDIT",
    "IDFC FIRST",
    "FULLERTON",
    "MUTHOOT",
    "SHRIRAM",
    "CHOLAMANDALAM",
    "HDB FIN",
    "ADITYA BIRLA FIN",
    "L&T FIN",
];
const NOT_EMI_WORDS: &[&str] = &["SIP", "MF", "LIC"];
const NOT_EMI_PARTS: &[&str] = &["MUTUAL", "INSUR", "PREMIUM"];
const NOISE: &[&str] = &[
    "ACH",
    "ACHD",
    "D",
    "DR",
    "NACH",
    "ECS",
    "SI",
    "AUTO",
    "DEBIT",
    "AUTODEBIT",
    "E",
    "MANDATE",
    "EMANDATE",
    "EMI",
    "TO",
    "BY",
    "TRANSFER",
    "UPI",
    "IMPS",
    "NEFT",
    "RTGS",
    "INB",
    "MMT",
    "BIL",
    "POS",
    "REF",
    "TXN",
    "AUTOPAY",
];

/// The payee of a narration: its first three words that are neither rail words nor references.
fn counterparty(narration: &str) -> String {
    let words: Vec<String> = narration
        .to_ascii_uppercase()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '&')
        .filter(|w| !w.is_empty() && !w.bytes().any(|b| b.is_ascii_digit()))
        .filter(|w| !NOISE.contains(w))
        .take(3)
        .map(str::to_owned)
        .collect();
    if words.is_empty() {
        "UNKNOWN".to_owned()
    } else {
        words.join(" ")
    }
}

fn counts_as_emi(narration: &str) -> bool {
    let n = narration.to_ascii_uppercase();
    let words: Vec<&str> = n.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    !words.iter().any(|w| NOT_EMI_WORDS.contains(w)) && !has_any(&n, NOT_EMI_PARTS)
}

fn month_key(date: Date) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// `sum / n` rounded half away from zero.
fn mean(sum: i128, n: i128) -> i64 {
    if n == 0 {
        return 0;
    }
    let q = (sum.abs() * 2 + n) / (2 * n);
    let q = if sum < 0 { -q } else { q };
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// The median (the lower of the two middle values for an even count).
fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

fn within(value: i64, centre: i64, percent: i64) -> bool {
    let gap = i128::from(value - centre).abs() * 100;
    gap <= i128::from(centre).abs() * i128::from(percent)
}

/// The calendar months from `from` to `to`, as (first day, last day) clipped to the period.
fn months(from: Date, to: Date) -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut first = from.first_of_month();
    while first <= to {
        out.push((first.max(from), first.last_of_month().min(to)));
        match first.last_of_month().tomorrow() {
            Ok(next) => first = next,
            Err(_) => break,
        }
    }
    out
}

/// Each day's closing balance, if every transaction carries one; and the balance before the first.
fn closing_balances(st: &Statement) -> Option<(i64, BTreeMap<Date, i64>)> {
    let first = st.transactions.first()?;
    let opening = first.balance? - first.credit + first.debit;
    let mut closing = BTreeMap::new();
    for t in &st.transactions {
        closing.insert(t.date, t.balance?);
    }
    Some((opening, closing))
}

fn average_balance((start, end): (Date, Date), opening: i64, closing: &BTreeMap<Date, i64>) -> i64 {
    let (mut sum, mut days) = (0i128, 0i128);
    let mut day = start;
    let mut balance = closing
        .range(..start)
        .next_back()
        .map_or(opening, |(_, b)| *b);
    while day <= end {
        if let Some(b) = closing.get(&day) {
            balance = *b;
        }
        sum += i128::from(balance);
        days += 1;
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    mean(sum, days)
}

/// Analyse a statement (see each figure for its rule).
pub fn analyse(statement: &Statement) -> Analysis {
    let balances = closing_balances(statement);
    let mut by_day: BTreeMap<Date, Vec<&Transaction>> = BTreeMap::new();
    for t in &statement.transactions {
        by_day.entry(t.date).or_default().push(t);
    }
    let mut figures = Vec::new();
    let mut income_months = Vec::new();
    for span in months(statement.from, statement.to) {
        let rows: Vec<&Transaction> = by_day
            .range(span.0..=span.1)
            .flat_map(|(_, ts)| ts.iter().copied())
            .collect();
        let salary: i64 = rows.iter().filter(|t| is_salary(t)).map(|t| t.credit).sum();
        let income: i64 = rows
            .iter()
            .filter(|t| !is_not_income(&upper(t)))
            .map(|t| t.credit)
            .sum();
        income_months.push(income);
        figures.push(MonthFigures {
            month: month_key(span.0),
            credits: rows.iter().map(|t| t.credit).sum(),
            debits: rows.iter().map(|t| t.debit).sum(),
            salary: (salary > 0).then_some(salary),
            average_balance: balances
                .as_ref()
                .map(|(opening, closing)| average_balance(span, *opening, closing)),
            bounces: by_day
                .range(span.0..=span.1)
                .map(|(_, ts)| bounces_on(ts))
                .sum(),
        });
    }
    let (salary_detected, salary) = salary_figure(&figures);
    let monthly_income = if salary_detected {
        salary
    } else {
        mean(
            income_months.iter().map(|v| i128::from(*v)).sum(),
            income_months.len() as i128,
        )
    };
    let averages: Vec<i64> = figures.iter().filter_map(|m| m.average_balance).collect();
    let recurring_debits = recurring(statement);
    Analysis {
        monthly_income,
        salary_detected,
        average_monthly_balance: mean(
            averages.iter().map(|v| i128::from(*v)).sum(),
            averages.len() as i128,
        ),
        bounced_debits: figures.iter().map(|m| m.bounces).sum(),
        bounce_charges: statement
            .transactions
            .iter()
            .filter(|t| is_bounce_charge(t))
            .map(|t| t.debit)
            .sum(),
        existing_emi: recurring_debits
            .iter()
            .filter(|r| r.counted_as_emi)
            .map(|r| r.amount)
            .sum(),
        recurring_debits,
        months: figures,
    }
}

/// Whether salary is detected, and the median monthly salary.
fn salary_figure(months: &[MonthFigures]) -> (bool, i64) {
    let mut salaries: Vec<i64> = months.iter().filter_map(|m| m.salary).collect();
    let needed = SALARY_MIN_MONTHS.min(months.len()).max(1);
    let centre = median(&mut salaries);
    let steady = salaries
        .iter()
        .filter(|s| within(**s, centre, SALARY_TOLERANCE_PERCENT))
        .count();
    (steady >= needed, centre)
}

/// Mandate-like debits to one payee, about the same amount, in at least two distinct months.
fn recurring(statement: &Statement) -> Vec<RecurringDebit> {
    let mut groups: BTreeMap<String, Vec<&Transaction>> = BTreeMap::new();
    for t in &statement.transactions {
        let n = upper(t);
        if t.debit > 0 && has_any(&n, MANDATE_WORDS) && !is_bounce_charge(t) && !is_own_return(t) {
            groups
                .entry(counterparty(&t.narration))
                .or_default()
                .push(t);
        }
    }
    let mut out = Vec::new();
    for (payee, rows) in groups {
        let centre = median(&mut rows.iter().map(|t| t.debit).collect::<Vec<_>>());
        let steady: Vec<&&Transaction> = rows
            .iter()
            .filter(|t| within(t.debit, centre, RECURRING_TOLERANCE_PERCENT))
            .collect();
        let months: BTreeSet<String> = steady.iter().map(|t| month_key(t.date)).collect();
        if months.len() < RECURRING_MIN_MONTHS {
            continue;
        }
        let mut days: Vec<i64> = steady.iter().map(|t| i64::from(t.date.day())).collect();
        out.push(RecurringDebit {
            counted_as_emi: steady.iter().all(|t| counts_as_emi(&t.narration)),
            counterparty: payee,
            amount: centre,
            months: u32::try_from(months.len()).unwrap_or(u32::MAX),
            day_of_month: u8::try_from(median(&mut days)).unwrap_or(1),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(narration: &str, debit: i64, credit: i64) -> Transaction {
        Transaction {
            date: Date::constant(2025, 1, 5),
            narration: narration.to_owned(),
            reference: None,
            debit,
            credit,
            balance: None,
        }
    }

    #[test]
    fn payees_drop_rail_words_and_references() {
        assert_eq!(
            counterparty("ACH D- BAJAJ FINANCE LTD-P400PHL1234567"),
            "BAJAJ FINANCE LTD"
        );
        assert_eq!(counterparty("NACH/TATA CAPITAL/TCFPL0629"), "TATA CAPITAL");
        assert_eq!(counterparty("12345"), "UNKNOWN");
    }

    #[test]
    fn a_return_and_its_charge_are_one_bounce() {
        let ret = t("REV:NACH BAJAJ FINANCE INSUFFICIENT FUNDS", 0, 1_200_000);
        let charge = t("ACH DEBIT RETURN CHARGES INCL GST", 59_000, 0);
        assert!(is_own_return(&ret) && !is_bounce_charge(&ret));
        assert!(is_bounce_charge(&charge) && !is_own_return(&charge));
        assert_eq!(bounces_on(&[&ret, &charge]), 1);
        assert_eq!(bounces_on(&[&charge]), 1);
        let outward = t("O/W CHQ RET 000123 FUNDS INSUFFICIENT", 500_000, 0);
        assert_eq!(bounces_on(&[&outward]), 0);
        let inward = t("I/W CHQ RTN 000456 FUNDS INSUFFICIENT", 0, 0);
        assert_eq!(bounces_on(&[&inward]), 1);
    }

    #[test]
    fn salary_keywords_and_exclusions() {
        assert!(is_salary(&t("NEFT CR-ACME SALARY JAN", 0, 1)));
        assert!(!is_salary(&t("SALARY REVERSAL", 0, 1)));
        assert!(!is_salary(&t("UPI-SALMAN-PAY", 0, 1)));
    }

    #[test]
    fn sips_and_premiums_are_not_emis() {
        assert!(counts_as_emi("ACH D- HDFC BANK LOAN"));
        assert!(!counts_as_emi("ACH D- ICICI PRU SIP"));
        assert!(!counts_as_emi("NACH LIFE INSURANCE PREMIUM"));
    }

    #[test]
    fn means_round_half_away_from_zero() {
        assert_eq!(mean(5, 2), 3);
        assert_eq!(mean(-5, 2), -3);
        assert_eq!(mean(4, 3), 1);
        assert_eq!(mean(0, 0), 0);
        assert_eq!(median(&mut [3, 1, 2, 10]), 2);
    }

    #[test]
    fn months_clip_to_the_period() {
        let m = months(Date::constant(2025, 1, 15), Date::constant(2025, 3, 3));
        assert_eq!(
            m,
            vec![
                (Date::constant(2025, 1, 15), Date::constant(2025, 1, 31)),
                (Date::constant(2025, 2, 1), Date::constant(2025, 2, 28)),
                (Date::constant(2025, 3, 1), Date::constant(2025, 3, 3)),
            ]
        );
    }
}
