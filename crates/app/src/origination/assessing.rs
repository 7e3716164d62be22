//! The assessment: the facts gathered (declared, bureau, bank), the product's rules and
//! scorecard over them, the largest eligible offer, and the automatic decision.

use loanbook_domain::calendar::Date;
use loanbook_domain::money::format_minor;
use loanbook_domain::origination::application::{
    Act, Application, ApplicationEvent, PartnerWindow, Step,
};
use loanbook_domain::origination::decision::{self, Outcome};
use loanbook_domain::origination::eligibility::Facts;
use loanbook_domain::origination::eligibility::age_on;
use loanbook_domain::origination::offer;
use loanbook_domain::origination::product::ProductPolicy;
use loanbook_domain::schedule;
use loanbook_domain::terms::{FieldError, Terms};
use rust_decimal::Decimal;
use serde_json::json;

use super::{ApplicationView, Change};
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta};

/// The reason code an approval above the product's single-approver limit is referred with.
pub const SECOND_APPROVAL: &str = "approval.second_approver";

impl App {
    /// Assess a submitted application: the rules and the scorecard decide approve, refer or
    /// reject; every rule's inputs, result and reason are recorded, with the offer.
    pub async fn assess_application(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            Step::Assess
                .check(l.app.status)
                .map_err(|e| AppError::Invalid(vec![e]))?;
            let (_, policy) = self
                .application_product(&l.app.product, Some(l.app.product_version))
                .await?;
            let (amount, installments, rate) = l.app.approved_request();
            let terms = self
                .application_terms(&l.app, &policy, amount, installments, rate, act.on)
                .await?;
            let facts = facts(&l.app, &terms, act.on)?;
            let mut assessment = decision::decide(&policy, &facts);
            if assessment.outcome == Outcome::Approve
                && policy
                    .approval
                    .second_approver_above
                    .is_some_and(|limit| terms.principal > limit)
            {
                assessment.outcome = Outcome::Refer;
                assessment.reasons.push(SECOND_APPROVAL.to_owned());
            }
            let offer = offer::offer(
                &policy,
                &terms,
                &facts,
                l.app.draft.collateral_value(),
                applicant_dob(&l.app),
            );
            let approved = assessment.outcome == Outcome::Approve;
            let facts_for_partner = facts.clone();
            let mut events = vec![ApplicationEvent::Assessed {
                act: act.clone(),
                facts,
                assessment,
                offer,
            }];
            if approved {
                events.extend(partner_request(&policy, &act, &facts_for_partner));
            }
            Ok((l, Change::new("assess_application", events)))
        })
        .await
    }

    /// The terms an application would be booked with: the product version's template completed
    /// by the amount, tenure and rate in force, the disbursement date and the collateral's value
    /// (the loan's security), checked against the product's bounds.
    pub(crate) async fn application_terms(
        &self,
        app: &Application,
        policy: &ProductPolicy,
        amount: Option<i64>,
        installments: Option<u32>,
        rate: Option<Decimal>,
        disbursement: Date,
    ) -> Result<Terms, AppError> {
        let (Some(amount), Some(installments)) = (amount, installments) else {
            return Err(AppError::Invalid(vec![FieldError::coded(
                "request",
                "field.missing",
                "the application asks for no amount or tenure",
            )]));
        };
        let mut overrides = json!({
            "principal": format_minor(amount, 2),
            "installments": installments,
            "disbursement_date": disbursement.to_string(),
        });
        if let Some(r) = rate.or_else(|| policy.bounds.rate()) {
            overrides["annual_rate"] = json!(r.normalize().to_string());
        }
        if let Some(value) = app.draft.collateral_value() {
            // The collateral's assessed value is what the loan's provision counts as covered.
            overrides["security_value"] = json!(format_minor(value, 2));
        }
        if !app.draft.request.tranches.is_empty() {
            overrides["tranches"] = serde_json::to_value(&app.draft.request.tranches)
                .map_err(|e| crate::corrupt(format!("tranches: {e}")))?;
        }
        let (merged, _, _) = self
            .product_terms(&app.product, Some(app.product_version), &overrides)
            .await?;
        let terms = Terms::from_json(&merged.to_string()).map_err(|e| {
            AppError::Invalid(
                e.0.into_iter()
                    .map(|f| {
                        let field = format!("terms.{}", f.field);
                        f.at(field)
                    })
                    .collect(),
            )
        })?;
        let broken = policy.bounds.check(&terms);
        if !broken.is_empty() {
            return Err(AppError::Invalid(broken));
        }
        Ok(terms)
    }
}

/// Who declines for the partner when its own rules do.
pub const PARTNER_RULES: &str = "partner rules";

/// The co-lending partner's window, opened when an application is approved under a product
/// that co-lends. The partner's own rules run on the facts at once: an application that breaks
/// one is declined for the partner, and the product's fallback applies (book fully: the
/// application goes on without the partner; decline: it expires).
pub(crate) fn partner_request(
    policy: &ProductPolicy,
    act: &Act,
    facts: &Facts,
) -> Vec<ApplicationEvent> {
    let Some(c) = policy.colending.as_ref() else {
        return Vec::new();
    };
    let decide_by = act
        .on
        .checked_add(jiff::Span::new().days(i64::from(c.decision_days)))
        .unwrap_or(act.on);
    let mut events = vec![ApplicationEvent::PartnerRequested {
        act: act.clone(),
        window: PartnerWindow {
            partner_id: c.partner_id.clone(),
            decide_by,
            on_timeout: c.on_timeout,
        },
    }];
    let failed: Vec<String> = c
        .rules
        .as_ref()
        .map(|r| r.evaluate(facts))
        .unwrap_or_default()
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.code())
        .collect();
    if !failed.is_empty() {
        let rules = Act {
            by: PARTNER_RULES.to_owned(),
            ..act.clone()
        };
        events.push(ApplicationEvent::PartnerDecided {
            act: rules,
            partner_id: c.partner_id.clone(),
            approved: false,
            reasons: failed,
        });
        if c.on_timeout == loanbook_domain::origination::product::OnTimeout::Decline {
            events.push(ApplicationEvent::Expired {
                act: act.clone(),
                reason: "the co-lending partner's rules declined it and the product books only co-lent loans".into(),
            });
        }
    }
    events
}

fn applicant_dob(app: &Application) -> Option<Date> {
    app.draft
        .applicant
        .date_of_birth
        .as_deref()
        .and_then(|d| loanbook_domain::calendar::parse_date(d).ok())
}

/// The facts the rules read.
///
/// - Income: the declared net monthly incomes of the applicant and co-applicants; where bank
///   data shows a lower monthly income, the lower figure (a declaration the account does not
///   bear out is not lent against).
/// - Existing EMIs: the larger of the bureau's (open tradelines) and the bank data's (recurring
///   EMI and NACH debits), so that neither source's gap hides an obligation.
/// - Bureau score, DPD and enquiries: the applicant's report; DPD is the worst over every report
///   pulled.
pub(crate) fn facts(app: &Application, terms: &Terms, on: Date) -> Result<Facts, AppError> {
    let d = &app.draft;
    let declared: i64 = std::iter::once(&d.applicant)
        .chain(&d.co_applicants)
        .filter_map(|p| p.employment.as_ref()?.monthly_income.as_deref())
        .filter_map(|m| loanbook_domain::origination::party::income(m).ok())
        .sum();
    let observed = app.bank.iter().map(|b| b.analysis.monthly_income).max();
    let monthly_income = observed.map_or(declared, |o| o.min(declared));
    let applicant_report = app.bureau.iter().find(|b| b.person == "applicant");
    let bureau_emi = app
        .bureau
        .iter()
        .map(|b| b.summary.existing_emi)
        .sum::<i64>();
    let bank_emi = app
        .bank
        .iter()
        .map(|b| b.analysis.existing_emi)
        .max()
        .unwrap_or(0);
    let sched = schedule::build(terms)
        .map_err(|e| AppError::invalid("terms", format!("no schedule: {e}")))?;
    let maturity = sched
        .installments
        .last()
        .map_or(terms.disbursement_date, |r| r.due_date);
    let dob = applicant_dob(app)
        .ok_or_else(|| AppError::invalid("applicant.date_of_birth", "is required"))?;
    let years = |at: Date| age_on(dob, at);
    Ok(Facts {
        bureau_score: applicant_report.and_then(|b| b.summary.score),
        max_dpd_12m: app
            .bureau
            .iter()
            .map(|b| b.summary.max_dpd_12m)
            .max()
            .unwrap_or(0),
        existing_emi: bureau_emi.max(bank_emi),
        monthly_income,
        proposed_emi: sched.installment_amount,
        age_years: years(on),
        age_at_maturity_years: years(maturity),
        ltv_percent: d.ltv_percent(terms.principal),
        bounced_debits: app.bank.iter().map(|b| b.analysis.bounced_debits).sum(),
        enquiries_6m: applicant_report.map_or(0, |b| b.summary.enquiries_6m),
    })
}
