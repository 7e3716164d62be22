//! Account Aggregator connectors: ask a customer's consent for their deposit data, then fetch
//! the FI document (ReBIT deposit schema XML) it covers.

use async_trait::async_trait;
use loanbook_domain::calendar::Date;
use loanbook_domain::money::format_minor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The purpose codes of the AA specification (`101` wealth management … `105` one-time consent).
pub const PURPOSE_CODES: &[&str] = &["101", "102", "103", "104", "105"];

/// What a lender asks a customer to consent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// `103` for underwriting (one-time), `104` for loan monitoring (periodic).
    pub purpose_code: String,
    /// e.g. `["DEPOSIT"]`.
    pub fi_types: Vec<String>,
    /// The range of data asked for.
    pub from: Date,
    pub to: Date,
    /// How long the lender may keep the data.
    pub data_life_days: u32,
    /// `ONETIME`, or a periodic frequency such as `5/MONTH`.
    pub frequency: String,
}

/// An approved consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: String,
    /// The customer's AA handle, `handle@aa`.
    pub customer_vua: String,
    pub purpose_code: String,
    pub fi_types: Vec<String>,
    pub from: Date,
    pub to: Date,
    pub data_life_days: u32,
    pub frequency: String,
}

/// Why no consent or no data came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AaError {
    /// The request breaks the AA's rules (purpose, range, data life, an unknown consent).
    #[error("the AA refused the request: {0}")]
    Refused(String),
    /// The customer rejected the consent.
    #[error("the customer rejected the consent")]
    Rejected,
    /// The AA or the bank could not be reached; a retry may succeed.
    #[error("the AA is unavailable: {0}")]
    Unavailable(String),
}

/// An Account Aggregator.
#[async_trait]
pub trait AccountAggregator: Send + Sync {
    async fn request_consent(
        &self,
        customer_vua: &str,
        consent: &ConsentRequest,
    ) -> Result<Consent, AaError>;
    /// The FI document (deposit schema XML) of the consented account.
    async fn fetch(&self, consent: &Consent) -> Result<String, AaError>;
}

/// A simulated AA with one savings account per customer. Deterministic by the VUA: the last digit
/// of its handle picks the profile (a handle without digits: its hash does):
///
/// | last digit | e.g. | profile |
/// |---|---|---|
/// | 0–3 | `9876543210@finvu` | salaried: salary on the 1st, an EMI on the 5th, card and UPI spends |
/// | 4–6 | `9876543214@finvu` | self-employed: irregular business credits, GST, an EMI, no salary |
/// | 7–8 | `9876543217@finvu` | bouncing: a small salary, an EMI that bounces every other month with its charge |
/// | 9 | `9876543219@finvu` | the customer rejects the consent ([`AaError::Rejected`]) |
///
/// The consent follows the Sahamati fair-use limits for its purpose: `103` up to 14 months of
/// data and 31 days of data life, `104` up to 6 months and 31 days, `105` one day; the FI types
/// must include `DEPOSIT`. The document covers the consent's range, monthly.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedAa;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Salaried,
    SelfEmployed,
    Bouncing,
    Rejects,
}

fn profile(vua: &str) -> Profile {
    let handle = vua.split('@').next().unwrap_or_default();
    let digit = handle
        .bytes()
        .rev()
        .find(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .unwrap_or_else(|| Sha256::digest(vua.as_bytes())[0] % 10);
    match digit {
        0..=3 => Profile::Salaried,
        4..=6 => Profile::SelfEmployed,
        7 | 8 => Profile::Bouncing,
        _ => Profile::Rejects,
    }
}

fn consent_id(vua: &str, c: &ConsentRequest) -> String {
    let mut h = Sha256::new();
    for part in [
        vua,
        &c.purpose_code,
        &c.fi_types.join(","),
        &c.from.to_string(),
        &c.to.to_string(),
        &c.data_life_days.to_string(),
        &c.frequency,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("consent-{}", &hex::encode(h.finalize())[..16])
}

fn check(vua: &str, c: &ConsentRequest) -> Result<(), AaError> {
    let refuse = |why: &str| Err(AaError::Refused(why.to_owned()));
    let valid_vua = vua
        .split_once('@')
        .is_some_and(|(h, aa)| !h.is_empty() && !aa.is_empty() && !aa.contains('@'));
    if !valid_vua {
        return refuse("the customer's VUA must be handle@aa");
    }
    if !PURPOSE_CODES.contains(&c.purpose_code.as_str()) {
        return refuse("the purpose code must be one of 101 to 105");
    }
    if !c.fi_types.iter().any(|t| t == "DEPOSIT") {
        return refuse("the FI types must include DEPOSIT");
    }
    if c.from > c.to {
        return refuse("the data range must not end before it starts");
    }
    if c.frequency.trim().is_empty() {
        return refuse("the frequency must be given");
    }
    let (max_range, max_life) = match c.purpose_code.as_str() {
        "104" => (jiff::Span::new().months(6), 31),
        "105" => (jiff::Span::new().days(1), 1),
        _ => (jiff::Span::new().months(14), 31),
    };
    let latest = c.from.checked_add(max_range).unwrap_or(c.from);
    if c.to > latest {
        return refuse("the data range is longer than the purpose allows");
    }
    if c.data_life_days > max_life {
        return refuse("the data life is longer than the purpose allows");
    }
    Ok(())
}

#[async_trait]
impl AccountAggregator for SimulatedAa {
    async fn request_consent(
        &self,
        customer_vua: &str,
        consent: &ConsentRequest,
    ) -> Result<Consent, AaError> {
        check(customer_vua, consent)?;
        if profile(customer_vua) == Profile::Rejects {
            return Err(AaError::Rejected);
        }
        Ok(Consent {
            id: consent_id(customer_vua, consent),
            customer_vua: customer_vua.to_owned(),
            purpose_code: consent.purpose_code.clone(),
            fi_types: consent.fi_types.clone(),
            from: consent.from,
            to: consent.to,
            data_life_days: consent.data_life_days,
            frequency: consent.frequency.clone(),
        })
    }

    async fn fetch(&self, consent: &Consent) -> Result<String, AaError> {
        let request = ConsentRequest {
            purpose_code: consent.purpose_code.clone(),
            fi_types: consent.fi_types.clone(),
            from: consent.from,
            to: consent.to,
            data_life_days: consent.data_life_days,
            frequency: consent.frequency.clone(),
        };
        if consent_id(&consent.customer_vua, &request) != consent.id {
            return Err(AaError::Refused(
                "the consent is not known to the AA".into(),
            ));
        }
        Ok(document(&consent.customer_vua, consent.from, consent.to))
    }
}

/// One generated transaction: day, credit?, amount in paise, narration.
struct Row {
    date: Date,
    credit: bool,
    amount: i64,
    narration: String,
}

/// The transactions of one month for a profile; `n` is the month's index from the start.
fn month_rows(
    profile: Profile,
    first: Date,
    n: i64,
    seed: &[u8; 32],
) -> Vec<(i8, bool, i64, String)> {
    let vary = |i: usize, base: i64, spread: i64| base + i64::from(seed[i % 32]) * spread / 255;
    let label = first.strftime("%b %Y").to_string().to_uppercase();
    let mut rows = Vec::new();
    match profile {
        Profile::Salaried | Profile::Rejects => {
            let salary = vary(0, 40_000, 80_000) * 100;
            rows.push((
                1,
                true,
                salary,
                format!("NEFT CR-HDFC0000001-ACME TECHNOLOGIES PVT LTD-SALARY {label}"),
            ));
            rows.push((
                5,
                false,
                vary(1, 5_000, 10_000) * 100,
                "ACH D- BAJAJ FINANCE LTD-P400PHL1234567".into(),
            ));
            rows.push((
                12,
                false,
                vary(2 + n as usize, 1_000, 4_000) * 100,
                "UPI-BIGBASKET-bigbasket@icici-GROCERIES".into(),
            ));
            rows.push((
                20,
                false,
                vary(3, 2_000, 6_000) * 100,
                "CC 000XXXX1234 AUTOPAY SI-TAD".into(),
            ));
        }
        Profile::SelfEmployed => {
            for (k, day) in [3i8, 14, 24].into_iter().enumerate() {
                let amount = vary(4 + k + n as usize, 8_000, 60_000) * 100;
                rows.push((
                    day,
                    true,
                    amount,
                    format!(
                        "NEFT CR-CUSTOMER {} TRADERS-INV{:03}",
                        k + 1,
                        n * 3 + k as i64
                    ),
                ));
            }
            rows.push((
                7,
                false,
                vary(5, 2_000, 8_000) * 100,
                "GST PAYMENT-CBIC-GSTIN27ABCDE1234F1Z5".into(),
            ));
            rows.push((
                10,
                false,
                vary(6, 6_000, 9_000) * 100,
                "ACH D- TATA CAPITAL-TCFPL0629".into(),
            ));
        }
        Profile::Bouncing => {
            rows.push((
                1,
                true,
                vary(7, 15_000, 5_000) * 100,
                format!("NEFT CR-SMALL WORKS LLP-SALARY {label}"),
            ));
            let emi = vary(8, 9_000, 2_000) * 100;
            rows.push((
                2,
                false,
                vary(9, 6_000, 3_000) * 100,
                "UPI-RENT-landlord@okaxis".into(),
            ));
            if n % 2 == 0 {
                rows.push((5, false, emi, "ACH D- HOME CREDIT INDIA FIN-HC1234".into()));
            } else {
                rows.push((
                    5,
                    false,
                    59_000,
                    "ACH DEBIT RETURN CHARGES INCL GST-HOME CREDIT".into(),
                ));
            }
        }
    }
    rows
}

/// The deposit FI document of `vua`'s account from `from` to `to`.
fn document(vua: &str, from: Date, to: Date) -> String {
    let seed: [u8; 32] = Sha256::digest(vua.as_bytes()).into();
    let kind = profile(vua);
    let mut rows = Vec::new();
    let mut first = from.first_of_month();
    let mut n = 0;
    while first <= to && n < 240 {
        for (day, credit, amount, narration) in month_rows(kind, first, n, &seed) {
            let Ok(date) = first.with().day(day).build() else {
                continue;
            };
            if date >= from && date <= to {
                rows.push(Row {
                    date,
                    credit,
                    amount,
                    narration,
                });
            }
        }
        n += 1;
        match first.last_of_month().tomorrow() {
            Ok(next) => first = next,
            Err(_) => break,
        }
    }
    rows.sort_by_key(|r| r.date);
    let mut balance: i64 = if kind == Profile::Bouncing {
        200_000
    } else {
        2_500_000
    };
    let money = |m: i64| format_minor(m, 2);
    let digits: String = vua.chars().filter(char::is_ascii_digit).collect();
    let tail = digits
        .get(digits.len().saturating_sub(4)..)
        .unwrap_or("0000");
    let mut txns = String::new();
    for (i, r) in rows.iter().enumerate() {
        balance += if r.credit { r.amount } else { -r.amount };
        txns.push_str(&format!(
            "    <Transaction txnId=\"S{i:05}\" type=\"{}\" mode=\"{}\" amount=\"{}\" currentBalance=\"{}\" \
             transactionTimestamp=\"{}T10:00:00+05:30\" valueDate=\"{}\" narration=\"{}\" reference=\"R{i:05}\"/>\n",
            if r.credit { "CREDIT" } else { "DEBIT" },
            if r.narration.starts_with("UPI") { "UPI" } else { "FT" },
            money(r.amount),
            money(balance),
            r.date,
            r.date,
            quick_xml::escape::escape(r.narration.as_str()),
        ));
    }
    format!(
        "<Account xmlns=\"http://api.rebit.org.in/FISchema/deposit\" linkedAccRef=\"{vua_ref}\" \
         maskedAccNumber=\"XXXXXXXX{tail}\" version=\"1.1\" type=\"deposit\">\n\
         \x20 <Profile><Holders type=\"SINGLE\"><Holder name=\"SIMULATED CUSTOMER {tail}\" dob=\"1990-01-01\" \
         mobile=\"9000000000\" nominee=\"REGISTERED\"/></Holders></Profile>\n\
         \x20 <Summary currentBalance=\"{bal}\" currency=\"INR\" balanceDateTime=\"{to}T23:59:59+05:30\" type=\"SAVINGS\" \
         branch=\"SIMULATED\" ifscCode=\"SIMB0000001\" micrCode=\"400000000\" openingDate=\"2015-01-01\" status=\"ACTIVE\"/>\n\
         \x20 <Transactions startDate=\"{from}\" endDate=\"{to}\">\n{txns}  </Transactions>\n</Account>\n",
        vua_ref = hex::encode(&seed[..8]),
        bal = money(balance),
    )
}

#[cfg(test)]
mod tests {
    use loanbook_domain::origination::statement::{Source, analyse, read_account_aggregator};

    use super::*;

    fn ask() -> ConsentRequest {
        ConsentRequest {
            purpose_code: "103".into(),
            fi_types: vec!["DEPOSIT".into()],
            from: Date::constant(2025, 1, 1),
            to: Date::constant(2025, 6, 30),
            data_life_days: 30,
            frequency: "ONETIME".into(),
        }
    }

    async fn fetch(vua: &str) -> String {
        let aa = SimulatedAa;
        let consent = aa.request_consent(vua, &ask()).await.unwrap();
        aa.fetch(&consent).await.unwrap()
    }

    #[tokio::test]
    async fn profiles_read_back_as_their_kind() {
        let salaried = read_account_aggregator(&fetch("9876543210@finvu").await).unwrap();
        assert!(matches!(salaried.source, Source::AccountAggregator { .. }));
        assert_eq!(
            (salaried.from, salaried.to),
            (Date::constant(2025, 1, 1), Date::constant(2025, 6, 30))
        );
        let a = analyse(&salaried);
        assert!(a.salary_detected);
        assert_eq!(a.months.len(), 6);
        assert!(a.existing_emi > 0);
        assert_eq!(a.bounced_debits, 0);

        let business = analyse(&read_account_aggregator(&fetch("9876543214@finvu").await).unwrap());
        assert!(!business.salary_detected);
        assert!(business.monthly_income > 0);
        assert!(business.existing_emi > 0);

        let bouncing = analyse(&read_account_aggregator(&fetch("9876543217@finvu").await).unwrap());
        assert_eq!(bouncing.bounced_debits, 3);
        assert_eq!(bouncing.bounce_charges, 3 * 59_000);
    }

    #[tokio::test]
    async fn deterministic() {
        assert_eq!(
            fetch("9876543210@finvu").await,
            fetch("9876543210@finvu").await
        );
        assert_ne!(
            fetch("9876543210@finvu").await,
            fetch("9876543200@finvu").await
        );
        let aa = SimulatedAa;
        let a = aa.request_consent("x1@onemoney", &ask()).await.unwrap();
        assert_eq!(a, aa.request_consent("x1@onemoney", &ask()).await.unwrap());
    }

    #[tokio::test]
    async fn consent_rules() {
        let aa = SimulatedAa;
        assert_eq!(
            aa.request_consent("9876543219@finvu", &ask()).await,
            Err(AaError::Rejected)
        );
        let refused = |c: ConsentRequest, vua: &'static str| async move {
            matches!(aa.request_consent(vua, &c).await, Err(AaError::Refused(_)))
        };
        assert!(refused(ask(), "no-handle").await);
        assert!(
            refused(
                ConsentRequest {
                    purpose_code: "199".into(),
                    ..ask()
                },
                "a1@finvu"
            )
            .await
        );
        assert!(
            refused(
                ConsentRequest {
                    fi_types: vec!["EQUITIES".into()],
                    ..ask()
                },
                "a1@finvu"
            )
            .await
        );
        assert!(
            refused(
                ConsentRequest {
                    to: Date::constant(2026, 6, 1),
                    ..ask()
                },
                "a1@finvu"
            )
            .await
        );
        assert!(
            refused(
                ConsentRequest {
                    data_life_days: 90,
                    ..ask()
                },
                "a1@finvu"
            )
            .await
        );
        assert!(
            refused(
                ConsentRequest {
                    purpose_code: "105".into(),
                    ..ask()
                },
                "a1@finvu"
            )
            .await
        );
        let mut consent = aa.request_consent("a1@finvu", &ask()).await.unwrap();
        consent.to = Date::constant(2025, 12, 31);
        assert!(matches!(aa.fetch(&consent).await, Err(AaError::Refused(_))));
    }
}
