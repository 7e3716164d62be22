//! Sanction: the terms frozen and hashed, the Key Facts Statement issued on them; the
//! borrower's acceptance within the KFS's validity; expiry.

use loanbook_domain::calendar::Date;
use loanbook_domain::origination::application::{ApplicationEvent, Channel, Step};
use loanbook_domain::origination::bounds::RatePolicy;
use loanbook_domain::origination::kfs::{KeyFacts, KfsIssue};
use loanbook_domain::terms::{FieldError, Partner, Split, Terms};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApplicationView, Change};
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, digest};

/// Sanction an approved application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionApplication {
    /// The planned disbursement date: from the business date to the end of the KFS's validity
    /// (default: the business date). The loan is disbursed on exactly this date.
    #[serde(
        default,
        deserialize_with = "loanbook_domain::calendar::strict_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = Date)]
    pub disbursement_date: Option<Date>,
}

/// The borrower accepts the Key Facts Statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptApplication {
    /// How the borrower accepted (OTP, e-sign, at a branch, …).
    pub channel: Channel,
}

/// How to render a KFS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KfsFormat {
    #[default]
    Json,
    Html,
    Pdf,
}

/// The KFS's format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KfsQuery {
    /// `json` (the default), `html` or `pdf`.
    #[param(inline)]
    pub format: Option<KfsFormat>,
}

/// A rendered KFS.
pub enum KfsDocument {
    Json(Box<KeyFacts>),
    Html(String),
    Pdf(Vec<u8>),
}

fn invalid(e: FieldError) -> AppError {
    AppError::Invalid(vec![e])
}

impl App {
    /// Sanction an approved application: the terms in force (with the co-lending partner's share
    /// when it approved) are frozen as canonical JSON and hashed, and the KFS is issued on them.
    pub async fn sanction_application(
        &self,
        p: &Principal,
        id: &str,
        cmd: &SanctionApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::DecideCredit)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            let mut events = Vec::new();
            let mut app = l.app.clone();
            let deadline = app.partner.as_ref().map(|s| s.window.decide_by);
            if app.partner.as_ref().is_some_and(|s| s.pending()) && deadline < Some(act.on) {
                for e in super::deciding::lapse_events(&app, &act)? {
                    app.apply(&e).map_err(invalid)?;
                    events.push(e);
                }
            }
            Step::Sanction.check(app.status).map_err(invalid)?;
            if app.partner.as_ref().is_some_and(|s| s.pending()) {
                return Err(invalid(FieldError::coded(
                    "partner",
                    "partner.pending",
                    "the co-lending partner has not decided yet",
                )));
            }
            let (_, policy) = self
                .application_product(&app.product, Some(app.product_version))
                .await?;
            let Some(settings) = policy.kfs.clone() else {
                return Err(AppError::invalid(
                    "product",
                    "the product has no KFS settings (`kfs`): it cannot sanction",
                ));
            };
            let valid_until = act
                .on
                .checked_add(jiff::Span::new().days(i64::from(settings.validity_days)))
                .map_err(|_| AppError::invalid("kfs.validity_days", "is out of range"))?;
            let date = cmd.disbursement_date.unwrap_or(act.on);
            if date < act.on || date > valid_until {
                return Err(AppError::invalid(
                    "disbursement_date",
                    format!("must be from {} to {valid_until}", act.on),
                ));
            }
            let (amount, installments, rate) = app.approved_request();
            let mut terms = self
                .application_terms(&app, &policy, amount, installments, rate, date)
                .await?;
            if let (Some(c), Some(s)) = (&policy.colending, &app.partner) {
                if s.shares() {
                    terms = self.colent(terms, c)?;
                }
            }
            let canonical = terms.to_json();
            let terms_hash = digest(canonical.as_bytes());
            let borrower = app.draft.applicant.name.clone().unwrap_or_default();
            let kfs = KeyFacts::build(
                &terms,
                &settings,
                KfsIssue {
                    application_number: app.number.clone(),
                    borrower,
                    issued_on: act.on,
                    valid_until,
                    terms_hash: terms_hash.clone(),
                },
            )
            .map_err(|e| AppError::invalid("terms", format!("no KFS: {e}")))?;
            // A product priced off a benchmark discloses the rate as floating.
            let kfs = match &policy.bounds.rate {
                Some(RatePolicy::Floating {
                    benchmark,
                    benchmark_rate,
                    spread,
                    reset_months,
                }) => kfs
                    .floating(&terms, benchmark, *benchmark_rate, *spread, *reset_months)
                    .map_err(|e| AppError::invalid("terms", format!("no KFS: {e}")))?,
                _ => kfs,
            };
            events.push(ApplicationEvent::Sanctioned {
                act,
                terms: canonical,
                terms_hash,
                kfs: Box::new(kfs),
                valid_until,
            });
            Ok((l, Change::new("sanction_application", events)))
        })
        .await
    }

    /// The terms with the co-lending split: the partner's share at its rate, the originator
    /// (this book) keeping the rest and any spread.
    fn colent(
        &self,
        mut terms: Terms,
        c: &loanbook_domain::origination::product::ColendingArrangement,
    ) -> Result<Terms, AppError> {
        terms.partners = vec![
            Partner {
                id: self.book.clone(),
                share: Decimal::from(100) - c.partner_share,
                annual_rate: terms.annual_rate,
                originator: true,
            },
            Partner {
                id: c.partner_id.clone(),
                share: c.partner_share,
                annual_rate: c.partner_rate,
                originator: false,
            },
        ];
        terms.split = Split::PrincipalProRata;
        Terms::from_json(&terms.to_json()).map_err(|e| AppError::Invalid(e.0))
    }

    /// The borrower accepts the KFS: refused after its validity.
    pub async fn accept_application(
        &self,
        p: &Principal,
        id: &str,
        cmd: &AcceptApplication,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            Step::Accept.check(l.app.status).map_err(invalid)?;
            if let Some(s) = &l.app.sanction {
                if act.on > s.valid_until {
                    return Err(invalid(FieldError::coded(
                        "kfs",
                        "kfs.expired",
                        format!(
                            "the Key Facts Statement was valid until {}: it can no longer be accepted",
                            s.valid_until
                        ),
                    )));
                }
            }
            let e = ApplicationEvent::Accepted {
                act,
                channel: cmd.channel,
            };
            Ok((l, Change::new("accept_application", vec![e])))
        })
        .await
    }

    /// Expire a sanctioned application whose KFS was not accepted in time.
    pub async fn expire_application(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            let lapsed = l
                .app
                .sanction
                .as_ref()
                .filter(|s| act.on > s.valid_until && l.app.acceptance.is_none());
            let Some(s) = lapsed else {
                return Err(invalid(FieldError::coded(
                    "status",
                    "application.not_expired",
                    "only a sanction whose KFS validity passed unaccepted expires",
                )));
            };
            let reason = format!("the KFS was not accepted by {}", s.valid_until);
            let e = ApplicationEvent::Expired { act, reason };
            Ok((l, Change::new("expire_application", vec![e])))
        })
        .await
    }

    /// The KFS of a sanctioned application, as JSON, printable HTML or PDF.
    pub async fn kfs(
        &self,
        p: &Principal,
        id: &str,
        q: &KfsQuery,
    ) -> Result<KfsDocument, AppError> {
        p.require(Action::Read)?;
        let l = self.load_application(id).await?;
        self.may_see(p, &l.app)?;
        let Some(s) = l.app.sanction else {
            return Err(AppError::NotFound(format!(
                "a KFS for application `{id}` (it is not sanctioned)"
            )));
        };
        Ok(match q.format.unwrap_or_default() {
            KfsFormat::Json => KfsDocument::Json(s.kfs),
            KfsFormat::Html => KfsDocument::Html(crate::documents::kfs_html(&s.kfs)),
            KfsFormat::Pdf => KfsDocument::Pdf(
                crate::documents::kfs_pdf(&s.kfs)
                    .map_err(|e| crate::corrupt(format!("KFS PDF: {e}")))?,
            ),
        })
    }
}
