//! Gathering what the assessment reads: a credit-bureau report (pulled through the bureau
//! connector or imported), and bank data (an uploaded statement file, or an Account Aggregator
//! fetch under a consent).

use loanbook_domain::calendar::Date;
use loanbook_domain::origination::application::{
    ApplicationEvent, BankSource, ConsentPurpose, Step,
};
use loanbook_domain::origination::bureau::BureauReport;
use loanbook_domain::origination::party::PersonDoc;
use loanbook_domain::origination::statement::{self, Statement, StatementError};
use loanbook_domain::terms::FieldError;
use loanbook_rails::aa::ConsentRequest;
use loanbook_rails::bureau::{BureauError, BureauRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApplicationView, Change, Loaded};
use crate::views::{CommandOutcome, Document};
use crate::{Action, App, AppError, Principal, RequestMeta, digest};

/// The largest statement file or FI document accepted, in bytes.
pub const MAX_BANK_DOCUMENT: usize = 4 * 1024 * 1024;

/// Whose bureau report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullBureau {
    /// `applicant` (the default) or `co_applicants[N]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(applicant|co_applicants\\[[0-3]\\])$")]
    pub person: Option<String>,
}

/// A bureau report obtained outside Loanbook, in the CIR structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBureauReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(applicant|co_applicants\\[[0-3]\\])$")]
    pub person: Option<String>,
    #[schema(value_type = loanbook_domain::origination::bureau::BureauReport)]
    pub report: Document,
}

/// An uploaded bank statement, as the bank's CSV export (its layout is detected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddStatement {
    /// The file's text.
    #[schema(min_length = 1, max_length = 4194304)]
    pub csv: String,
}

/// Fetch bank data through the Account Aggregator, under a consent for the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchAccountAggregator {
    /// The customer's AA handle (`9876543210@finvu`).
    #[schema(min_length = 3, max_length = 100, example = "9876543210@finvu")]
    pub handle: String,
    #[serde(deserialize_with = "loanbook_domain::calendar::strict_date::deserialize")]
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    #[serde(deserialize_with = "loanbook_domain::calendar::strict_date::deserialize")]
    #[schema(value_type = String, format = Date)]
    pub to: Date,
}

fn person<'a>(l: &'a Loaded, role: Option<&str>) -> Result<(String, &'a PersonDoc), AppError> {
    let role = role.unwrap_or("applicant");
    let d = &l.app.draft;
    let found = if role == "applicant" {
        Some(&d.applicant)
    } else {
        role.strip_prefix("co_applicants[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| d.co_applicants.get(i))
    };
    found.map(|p| (role.to_owned(), p)).ok_or_else(|| {
        AppError::invalid("person", format!("no person `{role}` on the application"))
    })
}

/// How long fetched bank data may be kept under the consent: long enough to decide and
/// sanction.
pub const AA_DATA_LIFE_DAYS: u32 = 30;

/// The bureau knows nobody of that PAN: recorded as a report with no score and no accounts,
/// so the rules see "no bureau history" rather than a missing pull.
fn no_hit(r: &BureauRequest) -> BureauReport {
    BureauReport {
        bureau: "cibil".into(),
        report_id: format!("NOHIT-{}-{}", r.pan, r.as_of),
        pulled_on: r.as_of,
        name: r.name.clone(),
        pan: r.pan.clone(),
        score: None,
        score_version: String::new(),
        accounts: Vec::new(),
        enquiries: Vec::new(),
    }
}

fn statement_error(e: StatementError) -> AppError {
    match e {
        StatementError::Rows(rows) => AppError::Invalid(
            rows.into_iter()
                .map(|r| FieldError::coded(format!("rows[{}].{}", r.row, r.field), r.code, r.rule))
                .collect(),
        ),
        StatementError::Document(errors) => AppError::Invalid(errors),
        other => AppError::Invalid(vec![FieldError::coded(
            "csv",
            "statement.unreadable",
            other.to_string(),
        )]),
    }
}

impl App {
    /// Pull a person's report from the bureau (with the applicant's consent).
    pub async fn pull_bureau(
        &self,
        p: &Principal,
        id: &str,
        cmd: &PullBureau,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            Step::Gather
                .check(l.app.status)
                .map_err(|e| AppError::Invalid(vec![e]))?;
            if !l.app.draft.has_consent(ConsentPurpose::Bureau) {
                return Err(AppError::Invalid(vec![FieldError::coded(
                    "consents",
                    "consent.missing",
                    "the applicant has not consented to a bureau pull",
                )]));
            }
            let (role, who) = person(&l, cmd.person.as_deref())?;
            let dob = who
                .date_of_birth
                .as_deref()
                .and_then(|d| loanbook_domain::calendar::parse_date(d).ok());
            let (Some(pan), Some(name), Some(date_of_birth)) = (&who.pan, &who.name, dob) else {
                return Err(AppError::invalid(
                    "person",
                    format!("`{role}` needs a PAN, a name and a date of birth for a bureau pull"),
                ));
            };
            let request = BureauRequest {
                pan: pan.clone(),
                name: name.clone(),
                date_of_birth,
                as_of: act.on,
            };
            let report = match self.connectors.bureau.pull(&request).await {
                Ok(r) => r,
                Err(BureauError::NoHit) => no_hit(&request),
                Err(e) => {
                    return Err(AppError::Conflict(format!(
                        "the bureau did not answer: {e}; try again"
                    )));
                }
            };
            let summary = report.summary(act.on);
            let e = ApplicationEvent::BureauPulled {
                act,
                person: role,
                report,
                summary,
            };
            Ok((l, Change::new("pull_bureau", vec![e])))
        })
        .await
    }

    /// Record a bureau report obtained elsewhere.
    pub async fn import_bureau_report(
        &self,
        p: &Principal,
        id: &str,
        cmd: &ImportBureauReport,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let report = BureauReport::from_json(&cmd.report.to_json()).map_err(|errors| {
            AppError::Invalid(
                errors
                    .into_iter()
                    .map(|e| {
                        let field = format!("report.{}", e.field);
                        e.at(field)
                    })
                    .collect(),
            )
        })?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            let (role, _) = person(&l, cmd.person.as_deref())?;
            let summary = report.summary(act.on);
            let e = ApplicationEvent::BureauPulled {
                act,
                person: role,
                report,
                summary,
            };
            Ok((l, Change::new("import_bureau_report", vec![e])))
        })
        .await
    }

    /// Read an uploaded statement: a file with a broken row is refused whole, every broken row
    /// named; nothing of it is stored.
    pub async fn add_statement(
        &self,
        p: &Principal,
        id: &str,
        cmd: &AddStatement,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        if cmd.csv.len() > MAX_BANK_DOCUMENT {
            return Err(AppError::invalid(
                "csv",
                format!("must be at most {MAX_BANK_DOCUMENT} bytes"),
            ));
        }
        let st = statement::read_csv(cmd.csv.as_bytes()).map_err(statement_error)?;
        let bank = match &st.source {
            statement::Source::Csv { bank } => format!("{bank:?}").to_lowercase(),
            statement::Source::AccountAggregator { fip, .. } => fip.clone(),
        };
        let source = BankSource::Statement { bank };
        self.add_bank_data(
            p,
            id,
            meta,
            st,
            source,
            digest(cmd.csv.as_bytes()),
            "add_statement",
        )
        .await
    }

    /// Fetch bank data through the Account Aggregator under a consent (its purpose, range and
    /// data life are recorded with the data).
    pub async fn fetch_account_aggregator(
        &self,
        p: &Principal,
        id: &str,
        cmd: &FetchAccountAggregator,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        if cmd.from > cmd.to {
            return Err(AppError::invalid("from", "must not be after `to`"));
        }
        let l = self.load_application(id).await?;
        Step::Gather
            .check(l.app.status)
            .map_err(|e| AppError::Invalid(vec![e]))?;
        if !l.app.draft.has_consent(ConsentPurpose::AccountAggregator) {
            return Err(AppError::Invalid(vec![FieldError::coded(
                "consents",
                "consent.missing",
                "the applicant has not consented to an Account Aggregator fetch",
            )]));
        }
        let aa = &self.connectors.account_aggregator;
        let request = ConsentRequest {
            // 103, one-time: what lenders use for underwriting (Sahamati's consent templates);
            // its fair-use limits allow 14 months of data kept 31 days.
            purpose_code: "103".into(),
            fi_types: vec!["DEPOSIT".into()],
            from: cmd.from,
            to: cmd.to,
            data_life_days: AA_DATA_LIFE_DAYS,
            frequency: "ONETIME".into(),
        };
        let consent = aa
            .request_consent(&cmd.handle, &request)
            .await
            .map_err(|e| AppError::Conflict(format!("the Account Aggregator refused: {e}")))?;
        let document = aa.fetch(&consent).await.map_err(|e| {
            AppError::Conflict(format!("the Account Aggregator did not answer: {e}"))
        })?;
        let st = statement::read_account_aggregator(&document).map_err(statement_error)?;
        let fip = match &st.source {
            statement::Source::AccountAggregator { fip, .. } => fip.clone(),
            statement::Source::Csv { .. } => String::new(),
        };
        let source = BankSource::AccountAggregator {
            fip,
            consent_id: consent.id.clone(),
            purpose_code: consent.purpose_code.clone(),
            from: consent.from,
            to: consent.to,
            data_life_days: consent.data_life_days,
        };
        self.add_bank_data(
            p,
            id,
            meta,
            st,
            source,
            digest(document.as_bytes()),
            "fetch_account_aggregator",
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn add_bank_data(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
        st: Statement,
        source: BankSource,
        file_digest: String,
        action: &'static str,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        let analysis = statement::analyse(&st);
        let act = self.act(p).await?;
        let transactions = u32::try_from(st.transactions.len()).unwrap_or(u32::MAX);
        self.change_application(p, id, meta, |l| async move {
            let e = ApplicationEvent::BankDataAdded {
                act,
                source,
                digest: file_digest,
                transactions,
                analysis,
            };
            Ok((l, Change::new(action, vec![e])))
        })
        .await
    }
}
