//! Decisions by people: the credit queue (referred applications), officers' approvals with
//! changed terms, rejections and requests for more, the second approval above the product's
//! limit, and the co-lending partner's own decision in its window.

use loanbook_domain::origination::application::{
    Act, Application, ApplicationEvent, CreditDecision, Status, Step, TermsChange,
};
use loanbook_domain::origination::product::OnTimeout;
use loanbook_domain::terms::FieldError;
use loanbook_store::ApplicationFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::assessing::partner_request;
use super::{ApplicationPage, ApplicationView, Change};
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, Role};

/// A credit officer's decision on a referred application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum DecideCredit {
    /// Approve, optionally with changed amount, tenure or rate (inside the product's bounds).
    Approve {
        #[serde(default)]
        terms: TermsChange,
    },
    /// Reject, with reason codes.
    Reject {
        #[schema(min_items = 1, max_items = 10)]
        reasons: Vec<String>,
    },
    /// Send it back to its maker for more.
    AskForMore {
        #[schema(min_length = 1, max_length = 500)]
        note: String,
    },
}

/// The co-lending partner's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecidePartner {
    pub approve: bool,
    /// Reason codes (for a decline).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub reasons: Vec<String>,
}

/// A queue's page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueuePage {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

fn refused(code: &'static str, rule: impl Into<String>) -> AppError {
    AppError::Invalid(vec![FieldError::coded("decision", code, rule)])
}

fn reason_codes(reasons: &[String]) -> Result<(), AppError> {
    let ok = |r: &String| {
        !r.is_empty()
            && r.len() <= 64
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    };
    if reasons.len() > 10 || !reasons.iter().all(ok) {
        return Err(AppError::invalid(
            "reasons",
            "must be at most 10 codes of lower-case letters, digits, `.`, `_` or `-`",
        ));
    }
    Ok(())
}

/// Whether `user` made the application (opened or submitted it).
fn made_by(app: &Application, user: &str) -> bool {
    app.opened.by == user
}

impl App {
    /// The referred applications waiting for a credit officer.
    pub async fn credit_queue(
        &self,
        p: &Principal,
        q: &QueuePage,
    ) -> Result<ApplicationPage, AppError> {
        p.require(Action::DecideCredit)?;
        self.application_page(
            p,
            ApplicationFilter {
                queue: Some("credit".into()),
                after: q.cursor.clone(),
                limit: q.limit.unwrap_or(50),
                ..ApplicationFilter::default()
            },
        )
        .await
    }

    /// The applications waiting for the caller's co-lending partner.
    pub async fn partner_queue(
        &self,
        p: &Principal,
        q: &QueuePage,
    ) -> Result<ApplicationPage, AppError> {
        p.require(Action::DecidePartner)?;
        let Some(partner) = &p.user.partner_id else {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "read a partner queue without being a partner's user",
            });
        };
        self.application_page(
            p,
            ApplicationFilter {
                queue: Some(format!("partner:{partner}")),
                after: q.cursor.clone(),
                limit: q.limit.unwrap_or(50),
                ..ApplicationFilter::default()
            },
        )
        .await
    }

    /// A credit officer decides a referred application. Nobody decides an application they
    /// made; above the product's limit an approval needs a second, different officer.
    pub async fn decide_credit(
        &self,
        p: &Principal,
        id: &str,
        cmd: &DecideCredit,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::DecideCredit)?;
        if let DecideCredit::Reject { reasons } = cmd {
            if reasons.is_empty() {
                return Err(AppError::invalid(
                    "reasons",
                    "must name at least one reason",
                ));
            }
            reason_codes(reasons)?;
        }
        if let DecideCredit::AskForMore { note } = cmd {
            if note.trim().is_empty() || note.chars().count() > 500 {
                return Err(AppError::invalid("note", "must be 1 to 500 characters"));
            }
        }
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            Step::Decide
                .check(l.app.status)
                .map_err(|e| AppError::Invalid(vec![e]))?;
            if made_by(&l.app, &p.user.name) {
                return Err(refused(
                    "decision.own_application",
                    "nobody decides an application they made",
                ));
            }
            let (_, policy) = self
                .application_product(&l.app.product, Some(l.app.product_version))
                .await?;
            let mut facts = None;
            let decision = match cmd {
                DecideCredit::Approve { terms } => {
                    let (decision, approved) =
                        self.credit_approval(&l.app, &policy, terms, &act).await?;
                    facts = Some(super::assessing::facts(&l.app, &approved, act.on)?);
                    decision
                }
                DecideCredit::Reject { reasons } => CreditDecision::Reject {
                    reasons: reasons.clone(),
                },
                DecideCredit::AskForMore { note } => CreditDecision::AskForMore {
                    note: note.trim().to_owned(),
                },
            };
            let is_final = matches!(decision, CreditDecision::Approve { is_final: true, .. });
            let mut events = vec![ApplicationEvent::CreditDecided {
                act: act.clone(),
                decision,
            }];
            if let (true, Some(facts)) = (is_final, &facts) {
                events.extend(partner_request(&policy, &act, facts));
            }
            Ok((l, Change::new("decide_credit", events)))
        })
        .await
    }

    /// An approval: the changed terms checked against the bounds, and whether it is the last
    /// one needed.
    async fn credit_approval(
        &self,
        app: &Application,
        policy: &loanbook_domain::origination::product::ProductPolicy,
        change: &TermsChange,
        act: &Act,
    ) -> Result<(CreditDecision, loanbook_domain::terms::Terms), AppError> {
        let pending = app.pending_approvals();
        if pending.iter().any(|d| d.act.by == act.by) {
            return Err(refused(
                "decision.second_approver",
                "the second approval must come from another officer",
            ));
        }
        let mut probe = app.clone();
        probe
            .decisions
            .push(loanbook_domain::origination::application::DecisionRecord {
                act: act.clone(),
                decision: CreditDecision::Approve {
                    terms: change.clone(),
                    is_final: false,
                },
            });
        let (amount, installments, rate) = probe.approved_request();
        let terms = self
            .application_terms(app, policy, amount, installments, rate, act.on)
            .await?;
        let limit = policy.approval.second_approver_above;
        let needs_two = limit.is_some_and(|l| terms.principal > l);
        let is_final = !needs_two || !pending.is_empty();
        let decision = CreditDecision::Approve {
            terms: change.clone(),
            is_final,
        };
        Ok((decision, terms))
    }

    /// The co-lending partner decides an approved application sent to it, within its window.
    /// A decline applies the product's fallback (book fully, or not at all).
    pub async fn decide_partner(
        &self,
        p: &Principal,
        id: &str,
        cmd: &DecidePartner,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::DecidePartner)?;
        reason_codes(&cmd.reasons)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            self.may_see(p, &l.app)?;
            let Some(state) = l.app.partner.as_ref().filter(|s| s.pending()) else {
                return Err(refused(
                    "partner.not_waiting",
                    "the application is not waiting for a partner's decision",
                ));
            };
            if p.role != Role::Admin && p.user.partner_id.as_ref() != Some(&state.window.partner_id)
            {
                return Err(AppError::NotFound("application".into()));
            }
            if act.on > state.window.decide_by {
                return Err(refused(
                    "partner.window",
                    format!(
                        "the partner's window closed on {}: the product's fallback applies",
                        state.window.decide_by
                    ),
                ));
            }
            let partner_id = state.window.partner_id.clone();
            let fallback = state.window.on_timeout;
            let mut events = vec![ApplicationEvent::PartnerDecided {
                act: act.clone(),
                partner_id,
                approved: cmd.approve,
                reasons: cmd.reasons.clone(),
            }];
            if !cmd.approve && fallback == OnTimeout::Decline {
                events.push(ApplicationEvent::Expired {
                    act,
                    reason:
                        "the co-lending partner declined and the product books only co-lent loans"
                            .into(),
                });
            }
            Ok((l, Change::new("decide_partner", events)))
        })
        .await
    }

    /// Close a partner's window that passed without a decision: the product's fallback applies
    /// (the loan goes ahead on the originator's book alone, or the application expires).
    pub async fn lapse_partner(
        &self,
        p: &Principal,
        id: &str,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ApplicationView>, AppError> {
        p.require(Action::Originate)?;
        let act = self.act(p).await?;
        self.change_application(p, id, meta, |l| async move {
            let events = lapse_events(&l.app, &act)?;
            Ok((l, Change::new("lapse_partner", events)))
        })
        .await
    }
}

/// The events that close a partner window that has passed.
pub(crate) fn lapse_events(
    app: &Application,
    act: &Act,
) -> Result<Vec<ApplicationEvent>, AppError> {
    let Some(state) = app.partner.as_ref().filter(|s| s.pending()) else {
        return Err(refused(
            "partner.not_waiting",
            "the application is not waiting for a partner's decision",
        ));
    };
    if app.status != Status::Approved || act.on <= state.window.decide_by {
        return Err(refused(
            "partner.window",
            format!("the partner may decide until {}", state.window.decide_by),
        ));
    }
    let mut events = vec![ApplicationEvent::PartnerLapsed {
        act: act.clone(),
        partner_id: state.window.partner_id.clone(),
        fallback: state.window.on_timeout,
    }];
    if state.window.on_timeout == OnTimeout::Decline {
        events.push(ApplicationEvent::Expired {
            act: act.clone(),
            reason: "the co-lending partner did not decide in its window".into(),
        });
    }
    Ok(events)
}
