//! Credit-bureau connectors: pull a consumer's report for a PAN, as a [`BureauReport`].

use async_trait::async_trait;
use jiff::Span;
use loanbook_domain::calendar::Date;
use loanbook_domain::origination::bureau::{BureauReport, Enquiry, Tradeline, is_pan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who to pull a report for, and on which date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BureauRequest {
    pub pan: String,
    pub name: String,
    pub date_of_birth: Date,
    pub as_of: Date,
}

/// Why no report came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BureauError {
    /// The bureau holds no record of the consumer.
    #[error("no record of the consumer at the bureau")]
    NoHit,
    /// The bureau could not be reached or did not answer; a retry may succeed.
    #[error("the bureau is unavailable: {0}")]
    Unavailable(String),
    /// The bureau refused the request (bad input, no consent); a retry will not succeed.
    #[error("the bureau refused the request: {0}")]
    Refused(String),
}

/// A credit bureau.
#[async_trait]
pub trait Bureau: Send + Sync {
    async fn pull(&self, request: &BureauRequest) -> Result<BureauReport, BureauError>;
}

/// A simulated CIBIL: the same request always gives the same report, and every report reads back
/// through [`BureauReport::from_json`]. Dates are relative to `as_of` (the report is pulled on it;
/// tradelines are reported on the last day of the month before).
///
/// The four digits of the PAN pick the profile:
///
/// | PAN digits | e.g. | profile |
/// |---|---|---|
/// | `0000` | `ABCPE0000F` | no hit ([`BureauError::NoHit`]) |
/// | `0001` | `ABCPE0001F` | thin file: one credit card opened 4 months ago, no score |
/// | `0002` | `ABCPE0002F` | clean, score 780 or more: a personal loan, a car loan and a card, never late |
/// | `0003` | `ABCPE0003F` | 30+ DPD: score below 700, a personal loan 30 and 60 days late in the last year |
/// | `0004` | `ABCPE0004F` | written off: score below 550, a loan written off and a settled card |
/// | `0005` | `ABCPE0005F` | credit hungry: score 650–749, 8 enquiries in the last 6 months |
/// | `9999` | `ABCPE9999F` | the bureau is down ([`BureauError::Unavailable`]) |
///
/// Any other PAN: its SHA-256 hash picks the profile (1 in 10 no hit, 1 in 10 thin, 3 in 10
/// clean, 2 in 10 credit hungry, 2 in 10 30+ DPD, 1 in 10 written off) and a score inside the
/// profile's band, so scores spread over 300–900. A malformed PAN is [`BureauError::Refused`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedBureau;

/// The profiles of [`SimulatedBureau`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Thin,
    Clean,
    Dpd,
    WrittenOff,
    Hungry,
}

impl Profile {
    /// The band the score is drawn from (`None`: no score).
    fn band(self) -> Option<(u16, u16)> {
        match self {
            Profile::Thin => None,
            Profile::Clean => Some((780, 900)),
            Profile::Hungry => Some((650, 749)),
            Profile::Dpd => Some((550, 699)),
            Profile::WrittenOff => Some((300, 549)),
        }
    }
}

#[async_trait]
impl Bureau for SimulatedBureau {
    async fn pull(&self, request: &BureauRequest) -> Result<BureauReport, BureauError> {
        simulate(request)
    }
}

fn simulate(request: &BureauRequest) -> Result<BureauReport, BureauError> {
    if !is_pan(&request.pan) {
        return Err(BureauError::Refused(
            "the PAN must be 5 letters, 4 digits and a letter".into(),
        ));
    }
    let hash: [u8; 32] = Sha256::digest(request.pan.as_bytes()).into();
    let profile = match request.pan.get(5..9).unwrap_or_default() {
        "0000" => return Err(BureauError::NoHit),
        "9999" => return Err(BureauError::Unavailable("simulated outage".into())),
        "0001" => Profile::Thin,
        "0002" => Profile::Clean,
        "0003" => Profile::Dpd,
        "0004" => Profile::WrittenOff,
        "0005" => Profile::Hungry,
        _ => match hash[0] % 10 {
            0 => return Err(BureauError::NoHit),
            1 => Profile::Thin,
            2..=4 => Profile::Clean,
            5 | 6 => Profile::Hungry,
            7 | 8 => Profile::Dpd,
            _ => Profile::WrittenOff,
        },
    };
    let score = profile.band().map(|(low, high)| {
        let spread = u16::from_be_bytes([hash[1], hash[2]]) % (high - low + 1);
        low + spread
    });
    let as_of = request.as_of;
    let reported_on = as_of
        .first_of_month()
        .yesterday()
        .map_err(|_| BureauError::Refused("as_of is out of range".into()))?;
    let mut id_hash = Sha256::new();
    id_hash.update(request.pan.as_bytes());
    id_hash.update(as_of.to_string().as_bytes());
    let report_id = format!("SIM-{}", &hex::encode(id_hash.finalize())[..12]);
    let draw = Draw { hash };
    Ok(BureauReport {
        bureau: "cibil".into(),
        report_id,
        pulled_on: as_of,
        name: request.name.trim().to_uppercase(),
        pan: request.pan.clone(),
        score,
        score_version: "CIBILTUSC3".into(),
        accounts: tradelines(profile, reported_on, &draw),
        enquiries: enquiries(profile, as_of, &draw),
    })
}

/// Figures drawn from the PAN's hash.
struct Draw {
    hash: [u8; 32],
}

impl Draw {
    /// A figure in `low..=high` (paise: whole thousands of rupees), from byte `i` of the hash.
    fn rupees_thousands(&self, i: usize, low: i64, high: i64) -> i64 {
        let byte = i64::from(self.hash[i % 32]);
        (low + byte * (high - low) / 255) * 1_000 * 100
    }
}

fn months_before(date: Date, months: i64) -> Date {
    date.checked_sub(Span::new().months(months)).unwrap_or(date)
}

/// A history of `months` months (at most 36), on time except the given (index, cell) months.
fn history(months: usize, late: &[(usize, &str)]) -> String {
    (0..months.min(36))
        .map(|i| {
            late.iter()
                .find(|(at, _)| *at == i)
                .map_or("000", |(_, cell)| cell)
        })
        .collect()
}

struct Line {
    account_type: &'static str,
    age_months: i64,
    sanctioned: i64,
    paid_share: i64,
    emi_percent: Option<i64>,
    late: &'static [(usize, &'static str)],
}

fn tradeline(line: &Line, reported_on: Date) -> Tradeline {
    let card = line.account_type == "10";
    let balance = line.sanctioned * (100 - line.paid_share) / 100;
    Tradeline {
        member: "NOT DISCLOSED".into(),
        account_type: line.account_type.into(),
        ownership: "1".into(),
        opened: months_before(reported_on, line.age_months),
        closed: None,
        reported_on,
        sanctioned: line.sanctioned,
        balance,
        overdue: 0,
        emi: line.emi_percent.map(|p| line.sanctioned * p / 1_000),
        payment_history: history(usize::try_from(line.age_months).unwrap_or(0) + 1, line.late),
        written_off: None,
        suit_filed_or_wilful_default: (!card).then(|| "00".into()),
        credit_facility_status: None,
    }
}

fn tradelines(profile: Profile, reported_on: Date, draw: &Draw) -> Vec<Tradeline> {
    let personal = draw.rupees_thousands(3, 100, 1_000);
    let card_limit = draw.rupees_thousands(4, 50, 300);
    let car = draw.rupees_thousands(5, 300, 1_200);
    let card = |age, late| Line {
        account_type: "10",
        age_months: age,
        sanctioned: card_limit,
        paid_share: 70,
        emi_percent: None,
        late,
    };
    // EMIs per thousand of the sanctioned amount: 35 ≈ 3 years at 15 %, 21 ≈ 5 years at 10 %.
    let loan = |kind, age, amount, late| Line {
        account_type: kind,
        age_months: age,
        sanctioned: amount,
        paid_share: 40,
        emi_percent: Some(if kind == "05" { 35 } else { 21 }),
        late,
    };
    let lines = match profile {
        Profile::Thin => vec![card(4, &[][..])],
        Profile::Clean => vec![
            loan("05", 14, personal, &[][..]),
            loan("01", 30, car, &[][..]),
            card(48, &[][..]),
        ],
        Profile::Hungry => vec![
            loan("05", 6, personal, &[][..]),
            card(20, &[(9, "015")][..]),
        ],
        Profile::Dpd => vec![
            loan(
                "05",
                18,
                personal,
                &[(2, "030"), (3, "060"), (4, "030")][..],
            ),
            card(40, &[(20, "090")][..]),
        ],
        Profile::WrittenOff => vec![
            loan(
                "05",
                30,
                personal,
                &[(0, "SUB"), (1, "SUB"), (2, "120"), (3, "090"), (4, "060")][..],
            ),
            card(50, &[(30, "180")][..]),
        ],
    };
    let mut out: Vec<Tradeline> = lines.iter().map(|l| tradeline(l, reported_on)).collect();
    if profile == Profile::Dpd {
        if let Some(t) = out.first_mut() {
            t.overdue = t.emi.unwrap_or(0);
        }
    }
    if profile == Profile::WrittenOff {
        if let Some(t) = out.first_mut() {
            t.written_off = Some(t.balance);
            t.overdue = t.balance;
            t.credit_facility_status = Some("02".into());
        }
        if let Some(t) = out.get_mut(1) {
            t.closed = Some(months_before(reported_on, 12));
            t.balance = 0;
            t.credit_facility_status = Some("03".into());
        }
    }
    out
}

fn enquiries(profile: Profile, as_of: Date, draw: &Draw) -> Vec<Enquiry> {
    let count = match profile {
        Profile::Thin => 1,
        Profile::Clean => 2,
        Profile::Dpd | Profile::WrittenOff => 3,
        Profile::Hungry => 8,
    };
    (0..count)
        .map(|i| {
            // The credit-hungry profile's enquiries are 2 weeks apart; the others' 5 months apart.
            let gap = if profile == Profile::Hungry { 14 } else { 150 };
            let date = as_of
                .checked_sub(Span::new().days(3 + gap * i))
                .unwrap_or(as_of);
            Enquiry {
                date,
                member: ["NBFC A", "BANK B", "FINTECH C"][(i % 3) as usize].into(),
                purpose: if i % 2 == 0 { "05" } else { "10" }.into(),
                amount: draw.rupees_thousands(6 + i as usize, 50, 500),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pan: &str) -> BureauRequest {
        BureauRequest {
            pan: pan.into(),
            name: " Asha Rao ".into(),
            date_of_birth: Date::constant(1990, 1, 1),
            as_of: Date::constant(2026, 3, 15),
        }
    }

    async fn pull(pan: &str) -> Result<BureauReport, BureauError> {
        SimulatedBureau.pull(&request(pan)).await
    }

    #[tokio::test]
    async fn the_documented_profiles() {
        let as_of = Date::constant(2026, 3, 15);
        assert_eq!(pull("ABCPE0000F").await, Err(BureauError::NoHit));
        assert!(matches!(
            pull("ABCPE9999F").await,
            Err(BureauError::Unavailable(_))
        ));
        assert!(matches!(
            pull("ABCD1234F").await,
            Err(BureauError::Refused(_))
        ));

        let thin = pull("ABCPE0001F").await.unwrap();
        assert_eq!((thin.score, thin.accounts.len()), (None, 1));

        let clean = pull("ABCPE0002F").await.unwrap();
        let s = clean.summary(as_of);
        assert!(clean.score.unwrap() >= 780, "{:?}", clean.score);
        assert_eq!((s.max_dpd_36m, s.open_accounts), (0, 3));
        assert!(s.existing_emi > 0);
        assert_eq!(clean.name, "ASHA RAO");
        assert_eq!(clean.accounts[0].reported_on, Date::constant(2026, 2, 28));

        let late = pull("ABCPE0003F").await.unwrap();
        let s = late.summary(as_of);
        assert!(late.score.unwrap() < 700);
        assert_eq!((s.max_dpd_12m, s.max_dpd_36m), (60, 90));
        assert!(s.overdue > 0);

        let bad = pull("ABCPE0004F").await.unwrap();
        let s = bad.summary(as_of);
        assert!(bad.score.unwrap() < 550);
        assert!(s.written_off_or_settled);
        assert_eq!(s.max_dpd_12m, 120);

        let hungry = pull("ABCPE0005F").await.unwrap();
        assert_eq!(hungry.summary(as_of).enquiries_6m, 8);
    }

    #[tokio::test]
    async fn deterministic_and_readable_for_many_pans() {
        let mut scores = Vec::new();
        let mut no_hits = 0;
        for n in 0..300 {
            let pan = format!("PQRST{:04}Z", 1000 + n);
            let first = pull(&pan).await;
            assert_eq!(first, pull(&pan).await, "{pan}");
            match first {
                Ok(report) => {
                    let back = BureauReport::from_json(&report.to_json());
                    assert_eq!(back.as_ref(), Ok(&report), "{pan}: {back:?}");
                    scores.extend(report.score);
                }
                Err(BureauError::NoHit) => no_hits += 1,
                Err(other) => panic!("{pan}: {other}"),
            }
        }
        assert!(no_hits > 0);
        assert!(scores.iter().any(|s| *s < 450) && scores.iter().any(|s| *s > 850));
        assert!(scores.iter().all(|s| (300..=900).contains(s)));
    }
}
