//! The Account Aggregator deposit FI document (ReBIT `deposit` schema, 1.x and 2.0.0), as XML or
//! in the JSON renderings AAs use.
//!
//! - XML: the `Account` element with attributes, as the ReBIT XSD has it (namespace ignored).
//! - JSON: the same names in any letter case (`Account`/`account`, `Transaction`/`transaction`),
//!   a lone `Holder` or `Transaction` as an object or a list, amounts as strings or numbers, and the
//!   account either at the top, under `account`, or in an AA's fetch response
//!   (`body[0].fiObjects[0]` or `fiObjects[0]`, whose `fipId` is kept).
//! - Schema 2.0.0 names read beside the 1.x ones: `transactionalBalance` for `currentBalance`,
//!   `ifsc` for `ifscCode`; a timestamp spelled `transactionTimeStamp` or `transactionDateTime`.
//!
//! A transaction's date is its timestamp's date in India (+05:30), else its value date. The FIP is
//! the fetch response's `fipId` when the document carries one, else the bank code of the IFSC
//! (`HDFC0001234` → `HDFC`), else `unknown`.

use jiff::civil::Date;
use serde::Deserialize;
use serde_json::Value;

use super::amount::parse_bank_amount;
use super::{Source, Statement, StatementError, Transaction, clip, finish};
use crate::calendar::parse_date;
use crate::terms::FieldError;

#[derive(Debug, Default, Deserialize)]
struct Account {
    #[serde(rename = "@maskedAccNumber", alias = "maskedaccnumber", default)]
    masked: Option<String>,
    #[serde(rename = "@version", alias = "version", default)]
    version: Option<String>,
    #[serde(rename = "Profile", alias = "profile", default)]
    profile: Option<Profile>,
    #[serde(rename = "Summary", alias = "summary", default)]
    summary: Option<Summary>,
    #[serde(rename = "Transactions", alias = "transactions", default)]
    transactions: Option<Transactions>,
}

#[derive(Debug, Default, Deserialize)]
struct Profile {
    #[serde(rename = "Holders", alias = "holders", default)]
    holders: Option<Holders>,
}

#[derive(Debug, Default, Deserialize)]
struct Holders {
    #[serde(rename = "Holder", alias = "holder", default)]
    holder: Vec<Holder>,
}

#[derive(Debug, Default, Deserialize)]
struct Holder {
    #[serde(rename = "@name", alias = "name", default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Summary {
    #[serde(
        rename = "@ifscCode",
        alias = "@ifsc",
        alias = "ifsccode",
        alias = "ifsc",
        default
    )]
    ifsc: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Transactions {
    #[serde(rename = "@startDate", alias = "startdate", default)]
    start: Option<String>,
    #[serde(rename = "@endDate", alias = "enddate", default)]
    end: Option<String>,
    #[serde(rename = "Transaction", alias = "transaction", default)]
    transaction: Vec<Txn>,
}

#[derive(Debug, Default, Deserialize)]
struct Txn {
    #[serde(rename = "@type", alias = "type", default)]
    kind: Option<String>,
    #[serde(rename = "@amount", alias = "amount", default)]
    amount: Option<String>,
    #[serde(
        rename = "@currentBalance",
        alias = "@transactionalBalance",
        alias = "currentbalance",
        alias = "transactionalbalance",
        default
    )]
    balance: Option<String>,
    #[serde(
        rename = "@transactionTimestamp",
        alias = "@transactionTimeStamp",
        alias = "@transactionDateTime",
        alias = "transactiontimestamp",
        alias = "transactiondatetime",
        default
    )]
    timestamp: Option<String>,
    #[serde(rename = "@valueDate", alias = "valuedate", default)]
    value_date: Option<String>,
    #[serde(rename = "@narration", alias = "narration", default)]
    narration: Option<String>,
    #[serde(rename = "@reference", alias = "reference", default)]
    reference: Option<String>,
    #[serde(rename = "@txnId", alias = "txnid", default)]
    txn_id: Option<String>,
}

/// Read a deposit FI document, XML or JSON (told apart by its first character).
pub fn read_account_aggregator(text: &str) -> Result<Statement, StatementError> {
    if text.len() > super::MAX_FILE_BYTES {
        return Err(StatementError::TooLarge {
            limit: super::MAX_FILE_BYTES,
        });
    }
    let body = text.trim_start_matches('\u{feff}').trim();
    if body.is_empty() {
        return Err(StatementError::Empty);
    }
    let (account, fip) = if body.starts_with('<') {
        let account: Account = quick_xml::de::from_str(body).map_err(|e| {
            document(FieldError::coded(
                "Account",
                "fi.xml",
                format!("must be a deposit FI document: {e}"),
            ))
        })?;
        (account, None)
    } else {
        from_json(body)?
    };
    build(account, fip)
}

fn document(error: FieldError) -> StatementError {
    StatementError::Document(vec![error])
}

fn from_json(body: &str) -> Result<(Account, Option<String>), StatementError> {
    let bad = |rule: String| document(FieldError::coded("Account", "fi.json", rule));
    let value: Value = serde_json::from_str(body).map_err(|e| bad(format!("must be JSON: {e}")))?;
    let mut value = normalise(value);
    let mut fip = None;
    // Unwrap an AA fetch response down to the account.
    while let Value::Object(map) = &mut value {
        if let Some(Value::String(id)) = map.get("fipid") {
            fip = Some(id.clone());
        }
        let inner = ["body", "fiobjects", "fi", "data", "account"]
            .iter()
            .find_map(|k| map.remove(*k));
        match inner {
            Some(Value::Array(mut items)) if !items.is_empty() => value = items.swap_remove(0),
            Some(inner @ Value::Object(_)) => value = inner,
            _ => break,
        }
    }
    let account = serde_json::from_value(value)
        .map_err(|e| bad(format!("must be a deposit account document: {e}")))?;
    Ok((account, fip))
}

/// Keys in lower case, numbers and booleans as text, and a lone holder or transaction as a list.
fn normalise(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = k.to_ascii_lowercase();
                    let v = normalise(v);
                    let v = match (key.as_str(), v) {
                        ("holder" | "transaction" | "pendingtxn", v @ Value::Object(_)) => {
                            Value::Array(vec![v])
                        }
                        (_, v) => v,
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other,
    }
}

/// The date of an FI date or date-time: a timestamp's date in India, or the date as written.
fn fi_date(text: &str) -> Option<Date> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        let india = jiff::tz::Offset::from_seconds(19_800).ok()?;
        return Some(ts.to_zoned(jiff::tz::TimeZone::fixed(india)).date());
    }
    parse_date(text.get(..10)?).ok()
}

fn build(account: Account, fip: Option<String>) -> Result<Statement, StatementError> {
    let mut errors = Vec::new();
    let masked = account.masked.clone().unwrap_or_default();
    if masked.trim().is_empty() {
        errors.push(FieldError::coded(
            "Account.maskedAccNumber",
            "fi.missing",
            "is required",
        ));
    }
    match account.version.as_deref().map(str::trim) {
        None | Some("") => errors.push(FieldError::coded(
            "Account.version",
            "fi.missing",
            "is required",
        )),
        Some(v) if v.starts_with("1.") || v == "1" || v == "2.0.0" || v == "2.0" => {}
        Some(v) => errors.push(FieldError::coded(
            "Account.version",
            "fi.version",
            format!("must be 1.x or 2.0.0, got `{}`", clip(v)),
        )),
    }
    let Some(list) = account.transactions else {
        errors.push(FieldError::coded(
            "Account.Transactions",
            "fi.missing",
            "is required",
        ));
        return Err(StatementError::Document(errors));
    };
    let period = period(&list, &mut errors);
    let transactions: Vec<Transaction> = list
        .transaction
        .iter()
        .enumerate()
        .filter_map(|(i, t)| transaction(i, t, &mut errors))
        .collect();
    if !errors.is_empty() {
        return Err(StatementError::Document(errors));
    }
    let holders: Vec<String> = account
        .profile
        .and_then(|p| p.holders)
        .map(|h| h.holder)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|h| h.name.map(|n| clip(&n)).filter(|n| !n.is_empty()))
        .collect();
    let fip = fip
        .or_else(|| {
            let ifsc = account.summary.and_then(|s| s.ifsc)?;
            ifsc.get(..4).map(str::to_ascii_uppercase)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let source = Source::AccountAggregator {
        fip: clip(&fip),
        masked_account: clip(&masked),
    };
    let holder = (!holders.is_empty()).then(|| holders.join(" & "));
    finish(source, holder, transactions, period)
}

fn period(list: &Transactions, errors: &mut Vec<FieldError>) -> Option<(Date, Date)> {
    let mut read = |field: &str, text: &Option<String>| -> Option<Date> {
        let text = text.as_deref()?;
        let date = fi_date(text);
        if date.is_none() {
            errors.push(FieldError::coded(
                format!("Account.Transactions.{field}"),
                "fi.date",
                format!("must be an ISO date, got `{}`", clip(text)),
            ));
        }
        date
    };
    let (start, end) = (read("startDate", &list.start), read("endDate", &list.end));
    let (start, end) = start.zip(end)?;
    if start > end {
        errors.push(FieldError::coded(
            "Account.Transactions.startDate",
            "statement.period",
            format!("must not be after endDate {end}, got {start}"),
        ));
        return None;
    }
    Some((start, end))
}

fn transaction(i: usize, t: &Txn, errors: &mut Vec<FieldError>) -> Option<Transaction> {
    let at = |name: &str| format!("Account.Transactions.Transaction[{i}].{name}");
    let before = errors.len();
    let credit = match t
        .kind
        .as_deref()
        .map(|k| k.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("CREDIT") => true,
        Some("DEBIT") => false,
        None => {
            errors.push(FieldError::coded(at("type"), "fi.missing", "is required"));
            false
        }
        Some(other) => {
            let rule = format!("must be CREDIT or DEBIT, got `{}`", clip(other));
            errors.push(FieldError::coded(at("type"), "fi.type", rule));
            false
        }
    };
    let amount = match t.amount.as_deref().map(parse_bank_amount) {
        Some(Ok(Some(a))) if a > 0 => a,
        None => {
            errors.push(FieldError::coded(at("amount"), "fi.missing", "is required"));
            0
        }
        Some(_) => {
            let text = clip(t.amount.as_deref().unwrap_or_default());
            let rule = format!("must be a positive amount with at most 2 decimals, got `{text}`");
            errors.push(FieldError::coded(at("amount"), "fi.amount", rule));
            0
        }
    };
    let balance = match t.balance.as_deref().map(parse_bank_amount) {
        Some(Ok(b)) => b,
        None => None,
        Some(Err(_)) => {
            let text = clip(t.balance.as_deref().unwrap_or_default());
            let rule = format!("must be an amount with at most 2 decimals, got `{text}`");
            errors.push(FieldError::coded(at("currentBalance"), "fi.balance", rule));
            None
        }
    };
    let written = t.timestamp.as_deref().or(t.value_date.as_deref());
    let date = written.and_then(fi_date);
    match (written, date) {
        (None, _) => errors.push(FieldError::coded(
            at("transactionTimestamp"),
            "fi.missing",
            "is required",
        )),
        (Some(text), None) => {
            let rule = format!("must be an ISO date or date-time, got `{}`", clip(text));
            errors.push(FieldError::coded(
                at("transactionTimestamp"),
                "fi.date",
                rule,
            ));
        }
        _ => {}
    }
    if errors.len() > before {
        return None;
    }
    let reference = t
        .reference
        .as_deref()
        .or(t.txn_id.as_deref())
        .map(clip)
        .filter(|r| !r.is_empty());
    Some(Transaction {
        date: date?,
        narration: clip(t.narration.as_deref().unwrap_or_default()),
        reference,
        debit: if credit { 0 } else { amount },
        credit: if credit { amount } else { 0 },
        balance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_in_india() {
        assert_eq!(
            fi_date("2026-01-02T20:18:07.000Z"),
            Some(Date::constant(2026, 1, 3))
        );
        assert_eq!(
            fi_date("2025-01-02T10:00:00+05:30"),
            Some(Date::constant(2025, 1, 2))
        );
        assert_eq!(fi_date("2025-01-02"), Some(Date::constant(2025, 1, 2)));
        assert_eq!(
            fi_date("2025-01-02T10:00:00"),
            Some(Date::constant(2025, 1, 2))
        );
        assert_eq!(fi_date("02/01/2025"), None);
    }

    #[test]
    fn reads_schema_2_xml_names() {
        let xml = r#"<Account xmlns="http://api.rebit.org.in/FISchema/deposit" maskedAccNumber="XX12" version="2.0.0" type="deposit">
            <Profile><Holders type="JOINT"><Holder name="A ONE"/><Holder name="B TWO"/></Holders></Profile>
            <Summary ifsc="SBIN0001234" accountType="REGULAR" accountSubType="SAVINGS"/>
            <Transactions startDate="2025-04-01" endDate="2025-04-30">
              <Transaction txnId="X9" type="debit" mode="NACH" amount="1,500.00" transactionalBalance="-200.50"
                 transactionTimeStamp="2025-04-03T09:00:00+05:30" valueDate="2025-04-03" narration="NACH EMI"/>
            </Transactions>
          </Account>"#;
        let s = read_account_aggregator(xml).unwrap();
        assert_eq!(
            s.source,
            Source::AccountAggregator {
                fip: "SBIN".into(),
                masked_account: "XX12".into()
            }
        );
        assert_eq!(s.holder.as_deref(), Some("A ONE & B TWO"));
        let t = &s.transactions[0];
        assert_eq!(
            (t.date, t.debit, t.credit, t.balance),
            (Date::constant(2025, 4, 3), 150_000, 0, Some(-20_050))
        );
        assert_eq!(
            t.reference.as_deref(),
            Some("X9"),
            "the txnId when there is no reference"
        );
    }

    #[test]
    fn a_lone_transaction_object_is_a_list() {
        let value = normalise(serde_json::json!({"Transaction": {"Amount": 5}}));
        assert_eq!(value, serde_json::json!({"transaction": [{"amount": "5"}]}));
    }
}
