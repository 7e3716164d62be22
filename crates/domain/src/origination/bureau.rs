//! A credit-bureau report (TransUnion CIBIL's consumer report, CIR) as origination reads it: the
//! score, the tradelines with their payment history, the enquiries, and the summary the rules and
//! the scorecard use.
//!
//! The JSON is Loanbook's own shape of the report (the fields of [`BureauReport`]): dates ISO,
//! amounts decimal strings, codes as CIBIL writes them (`account_type` `"05"`, ownership `"1"`,
//! suit-filed `"01"`). A connector translates the bureau's own format into it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calendar::Date;
use crate::origination::statement::amount;
use crate::terms::FieldError;

/// The most tradelines one report may carry.
pub const MAX_ACCOUNTS: usize = 500;
/// The most enquiries one report may carry.
pub const MAX_ENQUIRIES: usize = 1_000;
/// The most months a payment history carries (CIBIL reports 36).
pub const MAX_HISTORY_MONTHS: usize = 36;
/// The bureaus whose reports are read.
pub const BUREAUS: &[&str] = &["cibil", "experian", "equifax", "crif"];
/// Account types that are cards (revolving; CIBIL codes): credit, fleet, secured, corporate,
/// Kisan credit card and loan on card.
pub const CARD_TYPES: &[&str] = &["10", "16", "31", "35", "36", "37"];

/// A pulled or imported bureau report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BureauReport {
    /// `cibil` (or `experian`, `equifax`, `crif`).
    pub bureau: String,
    pub report_id: String,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub pulled_on: Date,
    pub name: String,
    pub pan: String,
    /// 300–900 (0–5 on the short-history scorecards); `None` for no hit or `-1` (not enough
    /// history).
    #[serde(default)]
    pub score: Option<u16>,
    /// The scorecard, e.g. `CIBILTUSC3` or `08`.
    pub score_version: String,
    #[serde(default)]
    pub accounts: Vec<Tradeline>,
    #[serde(default)]
    pub enquiries: Vec<Enquiry>,
}

/// One credit facility on the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Tradeline {
    /// The reporting member (often `NOT DISCLOSED`).
    pub member: String,
    /// The CIBIL account type, two digits (`05` personal loan, `10` credit card, …).
    pub account_type: String,
    /// The CIBIL ownership indicator: `1` individual, `2` authorised user, `3` guarantor, `4`
    /// joint, `5` deceased.
    pub ownership: String,
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub opened: Date,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>, format = Date))]
    #[serde(default, deserialize_with = "crate::calendar::strict_date::option")]
    pub closed: Option<Date>,
    /// The as-of date of the record; the newest month of the payment history is its month.
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub reported_on: Date,
    /// The sanctioned amount (loans) or high credit (cards).
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub sanctioned: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub balance: i64,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub overdue: i64,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    #[serde(default, with = "amount::text::option")]
    pub emi: Option<i64>,
    /// Three characters per month, newest first (see [`payment_history`]).
    pub payment_history: String,
    #[cfg_attr(feature = "schema", schema(value_type = Option<String>))]
    #[serde(default, with = "amount::text::option")]
    pub written_off: Option<i64>,
    /// `00` no suit filed, `01` suit filed, `02` wilful default, `03` suit filed (wilful default).
    #[serde(default)]
    pub suit_filed_or_wilful_default: Option<String>,
    /// The CIR's written-off-and-settled status (`02` written off, `03` settled, `00` restructured, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_facility_status: Option<String>,
}

/// One enquiry (a lender pulled the report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Enquiry {
    #[cfg_attr(feature = "schema", schema(value_type = String, format = Date))]
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pub date: Date,
    pub member: String,
    /// The purpose, from the same code list as the account type.
    pub purpose: String,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub amount: i64,
}

/// What the rules read from a report on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BureauSummary {
    pub score: Option<u16>,
    /// Tradelines not closed: no closing date, and not a non-card account with nothing owed.
    pub open_accounts: u32,
    /// The EMIs of the open tradelines, estimated where the report has none (see [`estimated_emi`]).
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub existing_emi: i64,
    /// The worst days past due in the 12 (36) months up to `as_of`, asset classes converted as
    /// [`MonthStatus::dpd`] says.
    pub max_dpd_12m: u32,
    pub max_dpd_36m: u32,
    /// Enquiries in the six months up to `as_of`.
    pub enquiries_6m: u32,
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    #[serde(with = "amount::text")]
    pub overdue: i64,
    /// A tradeline written off (an amount, or the status `02`, `04`, `06`, `08`, `13`) or settled
    /// (`03`, `09`, `15`, `16`).
    pub written_off_or_settled: bool,
    /// A tradeline with suit filed or wilful default (`01`, `02`, `03`).
    pub suit_filed_or_wilful_default: bool,
}

/// One month of a payment history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "status", content = "days", rename_all = "snake_case")]
pub enum MonthStatus {
    /// `XXX`: not reported that month.
    NotReported,
    /// `000`–`999`: days past due.
    DaysPastDue(u32),
    /// `STD`: standard asset.
    Standard,
    /// `SMA`: special mention account.
    SpecialMention,
    /// `SUB`: sub-standard (an NPA).
    SubStandard,
    /// `DBT`: doubtful.
    Doubtful,
    /// `LSS`: loss.
    Loss,
}

impl MonthStatus {
    /// Days past due for the month. An asset class reported instead of days is converted to the
    /// lowest DPD of its band (`STD` 0, `SMA` 61, `SUB` 91, `DBT` 181, `LSS` 361 — a lender
    /// heuristic, not a bureau rule); `XXX` has none.
    pub fn dpd(self) -> Option<u32> {
        match self {
            MonthStatus::NotReported => None,
            MonthStatus::DaysPastDue(d) => Some(d),
            MonthStatus::Standard => Some(0),
            MonthStatus::SpecialMention => Some(61),
            MonthStatus::SubStandard => Some(91),
            MonthStatus::Doubtful => Some(181),
            MonthStatus::Loss => Some(361),
        }
    }
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "bureau.history_length",
        "A payment history is 3 characters per month, at most 36 months",
    ),
    (
        "bureau.history_cell",
        "A month of a payment history is 3 digits of days past due or one of STD, SMA, SUB, DBT, LSS, XXX",
    ),
    (
        "bureau.name",
        "The bureau must be cibil, experian, equifax or crif",
    ),
    (
        "bureau.score",
        "A score is 300 to 900, or 0 to 5 on a short-history scorecard, or absent",
    ),
    ("bureau.pan", "A PAN is 5 letters, 4 digits and a letter"),
    ("bureau.text", "The field must not be blank"),
    (
        "bureau.code",
        "A code must be the CIR's digits: two for types and statuses, one for ownership (1 to 5)",
    ),
    (
        "bureau.amount",
        "An amount on a report must not be negative",
    ),
    (
        "bureau.dates",
        "A tradeline cannot close before it opened, nor be reported after the report was pulled",
    ),
    (
        "bureau.limit",
        "A report may carry at most 500 tradelines and 1000 enquiries",
    ),
];

/// Read a payment-history string: three characters per month, newest first.
pub fn payment_history(history: &str) -> Result<Vec<MonthStatus>, FieldError> {
    let cells = history.as_bytes();
    if cells.len() % 3 != 0 || cells.len() > MAX_HISTORY_MONTHS * 3 {
        return Err(FieldError::coded(
            "payment_history",
            "bureau.history_length",
            format!(
                "must be 3 characters per month for at most {MAX_HISTORY_MONTHS} months, got {} characters",
                history.chars().count()
            ),
        ));
    }
    cells
        .chunks(3)
        .enumerate()
        .map(|(i, cell)| {
            let status = match cell.to_ascii_uppercase().as_slice() {
                b"XXX" => Some(MonthStatus::NotReported),
                b"STD" => Some(MonthStatus::Standard),
                b"SMA" => Some(MonthStatus::SpecialMention),
                b"SUB" => Some(MonthStatus::SubStandard),
                b"DBT" => Some(MonthStatus::Doubtful),
                b"LSS" => Some(MonthStatus::Loss),
                digits if digits.iter().all(u8::is_ascii_digit) => Some(MonthStatus::DaysPastDue(
                    digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')),
                )),
                _ => None,
            };
            status.ok_or_else(|| {
                FieldError::coded(
                    "payment_history",
                    "bureau.history_cell",
                    format!(
                        "month {} (`{}`) must be 3 digits or one of STD, SMA, SUB, DBT, LSS, XXX",
                        i + 1,
                        String::from_utf8_lossy(cell)
                    ),
                )
            })
        })
        .collect()
}

/// The monthly EMI of a tradeline: its reported EMI, else an estimate. The estimate (the report
/// carries no rate or tenure to compute one from): a card pays 5 % of its balance; a housing,
/// property or PMAY loan 1 % of the sanctioned amount (about 20 years at 9 %); a personal,
/// consumer, two-wheeler, short-term, business or microfinance loan 3 % (about 3 years at 15 %);
/// any other loan 2 % (about 5 years at 10 %); an overdraft nothing.
pub fn estimated_emi(t: &Tradeline) -> i64 {
    if let Some(emi) = t.emi {
        return emi;
    }
    let percent = |base: i64, pct: i64| (i128::from(base.max(0)) * i128::from(pct) / 100) as i64;
    match t.account_type.as_str() {
        c if CARD_TYPES.contains(&c) => percent(t.balance, 5),
        "12" | "38" | "71" => 0,
        "02" | "03" | "44" => percent(t.sanctioned, 1),
        "05" | "06" | "13" | "69" | "40" | "41" | "42" | "43" | "45" | "51" | "61" | "67" => {
            percent(t.sanctioned, 3)
        }
        _ => percent(t.sanctioned, 2),
    }
}

fn month_number(date: Date) -> i32 {
    i32::from(date.year()) * 12 + i32::from(date.month()) - 1
}

impl Tradeline {
    /// Open on the report: no closing date, and not a non-card account with nothing owed.
    pub fn is_open(&self) -> bool {
        self.closed.is_none()
            && (self.balance > 0 || CARD_TYPES.contains(&self.account_type.as_str()))
    }

    /// The worst DPD in the `months` calendar months up to and including `as_of`'s.
    pub fn max_dpd(&self, as_of: Date, months: i32) -> u32 {
        let Ok(history) = payment_history(&self.payment_history) else {
            return 0;
        };
        let offset = month_number(as_of) - month_number(self.reported_on);
        history
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let age = offset + i32::try_from(*i).unwrap_or(i32::MAX);
                (0..months).contains(&age)
            })
            .filter_map(|(_, s)| s.dpd())
            .max()
            .unwrap_or(0)
    }
}

impl BureauReport {
    /// Read an imported report (JSON in the structure of [`BureauReport`]); every broken field
    /// named (a tradeline or enquiry that does not read is named by its index, the others are
    /// still checked).
    pub fn from_json(text: &str) -> Result<BureauReport, Vec<FieldError>> {
        #[derive(Deserialize)]
        struct Doc {
            #[serde(default)]
            accounts: Vec<Value>,
            #[serde(default)]
            enquiries: Vec<Value>,
            #[serde(flatten)]
            rest: serde_json::Map<String, Value>,
        }
        let doc: Doc =
            serde_json::from_str(text).map_err(|e| vec![FieldError::from_json("", &e)])?;
        let mut errors = Vec::new();
        if doc.accounts.len() > MAX_ACCOUNTS || doc.enquiries.len() > MAX_ENQUIRIES {
            let rule = format!(
                "must carry at most {MAX_ACCOUNTS} tradelines and {MAX_ENQUIRIES} enquiries"
            );
            return Err(vec![FieldError::coded("accounts", "bureau.limit", rule)]);
        }
        let mut head = Value::Object(doc.rest);
        if head.get("score").and_then(Value::as_i64) == Some(-1) {
            head["score"] = Value::Null;
        }
        let head = read_at::<Head>("", head, &mut errors);
        let accounts = read_list::<Tradeline>("accounts", doc.accounts, &mut errors);
        let enquiries = read_list::<Enquiry>("enquiries", doc.enquiries, &mut errors);
        let (Some(head), Some(accounts), Some(enquiries)) = (head, accounts, enquiries) else {
            return Err(errors);
        };
        let report = BureauReport {
            bureau: head.bureau,
            report_id: head.report_id,
            pulled_on: head.pulled_on,
            name: head.name,
            pan: head.pan,
            score: head.score,
            score_version: head.score_version,
            accounts,
            enquiries,
        };
        report.check(&mut errors);
        if errors.is_empty() {
            Ok(report)
        } else {
            Err(errors)
        }
    }

    /// The report as JSON (the shape [`BureauReport::from_json`] reads).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The figures the rules read, on `as_of`.
    pub fn summary(&self, as_of: Date) -> BureauSummary {
        let open: Vec<&Tradeline> = self.accounts.iter().filter(|t| t.is_open()).collect();
        let six_months_ago = as_of
            .checked_sub(jiff::Span::new().months(6))
            .unwrap_or(as_of);
        let written_off = |t: &Tradeline| {
            t.written_off.is_some_and(|w| w > 0)
                || t.credit_facility_status.as_deref().is_some_and(|s| {
                    ["02", "03", "04", "06", "08", "09", "13", "15", "16"].contains(&s)
                })
        };
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        BureauSummary {
            score: self.score,
            open_accounts: count(open.len()),
            existing_emi: crate::money::sum_minor(open.iter().map(|t| estimated_emi(t))),
            max_dpd_12m: self
                .accounts
                .iter()
                .map(|t| t.max_dpd(as_of, 12))
                .max()
                .unwrap_or(0),
            max_dpd_36m: self
                .accounts
                .iter()
                .map(|t| t.max_dpd(as_of, 36))
                .max()
                .unwrap_or(0),
            enquiries_6m: count(
                self.enquiries
                    .iter()
                    .filter(|e| e.date > six_months_ago && e.date <= as_of)
                    .count(),
            ),
            overdue: crate::money::sum_minor(self.accounts.iter().map(|t| t.overdue.max(0))),
            written_off_or_settled: self.accounts.iter().any(written_off),
            suit_filed_or_wilful_default: self.accounts.iter().any(|t| {
                matches!(
                    t.suit_filed_or_wilful_default.as_deref(),
                    Some("01" | "02" | "03")
                )
            }),
        }
    }

    /// The rules beyond the JSON's shape, each broken one pushed.
    fn check(&self, errors: &mut Vec<FieldError>) {
        if !BUREAUS.contains(&self.bureau.as_str()) {
            let rule = format!(
                "must be one of {}, got `{}`",
                BUREAUS.join(", "),
                self.bureau
            );
            errors.push(FieldError::coded("bureau", "bureau.name", rule));
        }
        for (field, value) in [
            ("report_id", &self.report_id),
            ("name", &self.name),
            ("score_version", &self.score_version),
        ] {
            if value.trim().is_empty() {
                errors.push(FieldError::coded(field, "bureau.text", "must not be blank"));
            }
        }
        if !is_pan(&self.pan) {
            errors.push(FieldError::coded(
                "pan",
                "bureau.pan",
                format!("must be a PAN such as ABCDE1234F, got `{}`", self.pan),
            ));
        }
        if let Some(s) = self.score {
            if !(300..=900).contains(&s) && s > 5 {
                errors.push(FieldError::coded(
                    "score",
                    "bureau.score",
                    format!("must be 300 to 900 (or 0 to 5), got {s}"),
                ));
            }
        }
        for (i, t) in self.accounts.iter().enumerate() {
            t.check(&format!("accounts[{i}]"), self.pulled_on, errors);
        }
        for (i, e) in self.enquiries.iter().enumerate() {
            let at = format!("enquiries[{i}]");
            code(&format!("{at}.purpose"), &e.purpose, 2, errors);
            non_negative(&format!("{at}.amount"), e.amount, errors);
        }
    }
}

/// The report's fields other than its lists.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    bureau: String,
    report_id: String,
    #[serde(deserialize_with = "crate::calendar::strict_date::deserialize")]
    pulled_on: Date,
    name: String,
    pan: String,
    #[serde(default)]
    score: Option<u16>,
    score_version: String,
}

impl Tradeline {
    fn check(&self, at: &str, pulled_on: Date, errors: &mut Vec<FieldError>) {
        code(&format!("{at}.account_type"), &self.account_type, 2, errors);
        if !matches!(self.ownership.as_str(), "1" | "2" | "3" | "4" | "5") {
            let rule = format!("must be 1 to 5, got `{}`", self.ownership);
            errors.push(FieldError::coded(
                format!("{at}.ownership"),
                "bureau.code",
                rule,
            ));
        }
        if let Some(s) = &self.suit_filed_or_wilful_default {
            code(&format!("{at}.suit_filed_or_wilful_default"), s, 2, errors);
        }
        if let Some(s) = &self.credit_facility_status {
            code(&format!("{at}.credit_facility_status"), s, 2, errors);
        }
        for (field, value) in [("sanctioned", self.sanctioned), ("overdue", self.overdue)] {
            non_negative(&format!("{at}.{field}"), value, errors);
        }
        for (field, value) in [("emi", self.emi), ("written_off", self.written_off)] {
            if let Some(v) = value {
                non_negative(&format!("{at}.{field}"), v, errors);
            }
        }
        if self.closed.is_some_and(|c| c < self.opened) {
            let rule = format!("must not be before the opening date {}", self.opened);
            errors.push(FieldError::coded(
                format!("{at}.closed"),
                "bureau.dates",
                rule,
            ));
        }
        if self.reported_on > pulled_on {
            let rule = format!("must not be after the report's date {pulled_on}");
            errors.push(FieldError::coded(
                format!("{at}.reported_on"),
                "bureau.dates",
                rule,
            ));
        }
        if let Err(e) = payment_history(&self.payment_history) {
            errors.push(e.at(format!("{at}.payment_history")));
        }
    }
}

fn code(field: &str, value: &str, digits: usize, errors: &mut Vec<FieldError>) {
    if value.len() != digits || !value.bytes().all(|b| b.is_ascii_digit()) {
        let rule = format!("must be a {digits}-digit code, got `{value}`");
        errors.push(FieldError::coded(field, "bureau.code", rule));
    }
}

fn non_negative(field: &str, value: i64, errors: &mut Vec<FieldError>) {
    if value < 0 {
        errors.push(FieldError::coded(
            field,
            "bureau.amount",
            "must not be negative",
        ));
    }
}

/// Five letters, four digits, a letter (upper case).
pub fn is_pan(pan: &str) -> bool {
    let b = pan.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            5..=8 => c.is_ascii_digit(),
            _ => c.is_ascii_uppercase(),
        })
}

fn read_at<T: serde::de::DeserializeOwned>(
    at: &str,
    value: Value,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let mut path = e.path().to_string();
            if path == "." {
                // A missing field is named by the message, not the path.
                path = e
                    .inner()
                    .to_string()
                    .strip_prefix("missing field `")
                    .and_then(|m| m.split('`').next())
                    .unwrap_or_default()
                    .to_owned();
            }
            let field = match (at.is_empty(), path.as_str()) {
                (false, "") => at.to_owned(),
                (true, _) => path.clone(),
                (false, p) => format!("{at}.{p}"),
            };
            errors.push(FieldError::from_json(field, e.inner()));
            None
        }
    }
}

fn read_list<T: serde::de::DeserializeOwned>(
    at: &str,
    items: Vec<Value>,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<T>> {
    let before = errors.len();
    let out: Vec<T> = items
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| read_at(&format!("{at}[{i}]"), v, errors))
        .collect();
    (errors.len() == before).then_some(out)
}

#[cfg(test)]
#[path = "bureau_tests.rs"]
mod tests;
