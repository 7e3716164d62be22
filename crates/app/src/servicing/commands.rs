//! The commands on a booked loan, one type each: what a request may carry, with the rules JSON
//! Schema can state (formats, patterns, lengths, enums). The engine checks the rest (limits,
//! the loan's history, the business date) and names the field it refuses.

use loanbook_domain::calendar::{Date, strict_date};
use loanbook_domain::events::{
    ChargeKind, EventDocV1, PrepaymentAdjust, RateChangeKeep, WaiverComponent,
};
use loanbook_domain::terms::Moratorium;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::time::Duration;

use loanbook_domain::events::Event;
use loanbook_store::{CommandWrite, Decision, NewEvent, NewOutbox, StoreError};
use serde_json::{Value, json};

use super::{
    action_for, check_dates, event_json, event_message, history_state, projection, state_doc,
};
use crate::auth::Action;
use crate::views::{CommandOutcome, CommandResult, Document, SeqEvent};
use crate::{App, AppError, MAX_ATTEMPTS, Principal, RequestMeta};

macro_rules! command {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$fattr:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Value date: the day the event takes effect, not after the business date.
            #[serde(with = "date_text")]
            #[schema(value_type = String, format = Date, example = "2024-02-01")]
            pub date: Date,
            $( $(#[$fattr])* pub $field: $ty, )*
        }
    };
}

/// Dates as exactly `YYYY-MM-DD` both ways.
mod date_text {
    use super::*;

    pub fn serialize<S: serde::Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        strict_date::deserialize(d)
    }
}

command!(
    /// Disburse: the first disbursement, or a later tranche.
    Disburse {
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "100000.00")]
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reference: Option<String>,
    }
);

command!(
    /// Post a payment received (an `Idempotency-Key` is required).
    PostPayment {
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "969.73")]
        amount: String,
        /// The receipt's reference, unique on the loan.
        #[schema(min_length = 1, max_length = 200)]
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        channel: Option<String>,
    }
);

command!(
    /// Reverse a payment (a bounce): the receipt by its reference.
    ReversePayment {
        #[schema(min_length = 1, max_length = 200)]
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reason: Option<String>,
    }
);

command!(
    /// Levy a charge.
    LevyCharge {
        kind: ChargeKindDoc,
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "500.00")]
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reference: Option<String>,
    }
);

command!(
    /// Waive charges or interest due, oldest first.
    Waive {
        component: WaiverComponentDoc,
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "100.00")]
        amount: String,
    }
);

command!(
    /// Prepay principal, re-shaping the rest of the schedule.
    Prepay {
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "10000.00")]
        amount: String,
        adjust: PrepaymentAdjustDoc,
        #[schema(min_length = 1, max_length = 200)]
        reference: String,
    }
);

command!(
    /// Change the annual rate (percent).
    ChangeRate {
        #[schema(pattern = r"^[0-9]{1,3}(\.[0-9]{1,4})?$", example = "11.5")]
        annual_rate: String,
        keep: RateChangeKeepDoc,
    }
);

command!(
    /// Restructure the rest of the schedule.
    Restructure {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(minimum = 1, maximum = 600)]
        installments: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$")]
        installment_amount: Option<String>,
        /// `{"periods": N, "interest": "pay" | "capitalize" | "defer"}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        moratorium: Option<Moratorium>,
    }
);

command!(
    /// Write the loan off.
    WriteOff {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reason: Option<String>,
    }
);

command!(
    /// Identify a non-performing loan as a loss asset.
    IdentifyLoss {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reason: Option<String>,
    }
);

command!(
    /// Recover money on a written-off loan.
    Recover {
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "1000.00")]
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reference: Option<String>,
    }
);

command!(
    /// Settle the loan for an amount.
    Settle {
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "50000.00")]
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reference: Option<String>,
    }
);

command!(
    /// Foreclose (close early) for the quoted amount.
    Foreclose {
        #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "98000.00")]
        amount: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(min_length = 1, max_length = 200)]
        reference: Option<String>,
    }
);

/// The charge kinds, as the schema names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeKindDoc {
    Bounce,
    Penal,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaiverComponentDoc {
    Charges,
    Interest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrepaymentAdjustDoc {
    ReduceEmi,
    ReduceTenure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateChangeKeepDoc {
    Emi,
    Tenure,
}

/// Any command on a booked loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoanCommand {
    Disburse(Disburse),
    PostPayment(PostPayment),
    ReversePayment(ReversePayment),
    LevyCharge(LevyCharge),
    Waive(Waive),
    Prepay(Prepay),
    ChangeRate(ChangeRate),
    Restructure(Restructure),
    WriteOff(WriteOff),
    IdentifyLoss(IdentifyLoss),
    Recover(Recover),
    Settle(Settle),
    Foreclose(Foreclose),
}

impl LoanCommand {
    /// The role's right the command needs.
    pub fn action(&self) -> Action {
        match self {
            LoanCommand::Disburse(_) => Action::BookLoan,
            LoanCommand::PostPayment(_) => Action::PostPayment,
            LoanCommand::ReversePayment(_) => Action::ReversePayment,
            LoanCommand::LevyCharge(_) => Action::LevyCharge,
            LoanCommand::Waive(_) => Action::WaiveCharge,
            LoanCommand::Prepay(_) => Action::Prepay,
            LoanCommand::ChangeRate(_) => Action::ChangeRate,
            LoanCommand::Restructure(_) => Action::Restructure,
            LoanCommand::WriteOff(_) => Action::WriteOff,
            LoanCommand::IdentifyLoss(_) => Action::IdentifyLoss,
            LoanCommand::Recover(_) => Action::Recover,
            LoanCommand::Settle(_) => Action::Settle,
            LoanCommand::Foreclose(_) => Action::Foreclose,
        }
    }

    /// The event document the command appends (checked by the engine before it is).
    pub fn to_doc(&self) -> EventDocV1 {
        use LoanCommand as C;
        match self.clone() {
            C::Disburse(c) => EventDocV1::Disbursement {
                date: c.date,
                amount: c.amount,
                reference: c.reference,
            },
            C::PostPayment(c) => EventDocV1::Payment {
                date: c.date,
                amount: c.amount,
                reference: c.reference,
                channel: c.channel,
            },
            C::ReversePayment(c) => EventDocV1::PaymentReversal {
                date: c.date,
                reference: c.reference,
                reason: c.reason,
            },
            C::LevyCharge(c) => EventDocV1::Charge {
                date: c.date,
                kind: match c.kind {
                    ChargeKindDoc::Bounce => ChargeKind::Bounce,
                    ChargeKindDoc::Penal => ChargeKind::Penal,
                    ChargeKindDoc::Other => ChargeKind::Other,
                },
                amount: c.amount,
                reference: c.reference,
            },
            C::Waive(c) => EventDocV1::Waiver {
                date: c.date,
                component: match c.component {
                    WaiverComponentDoc::Charges => WaiverComponent::Charges,
                    WaiverComponentDoc::Interest => WaiverComponent::Interest,
                },
                amount: c.amount,
            },
            C::Prepay(c) => EventDocV1::Prepayment {
                date: c.date,
                amount: c.amount,
                adjust: match c.adjust {
                    PrepaymentAdjustDoc::ReduceEmi => PrepaymentAdjust::ReduceEmi,
                    PrepaymentAdjustDoc::ReduceTenure => PrepaymentAdjust::ReduceTenure,
                },
                reference: c.reference,
            },
            C::ChangeRate(c) => EventDocV1::RateChange {
                date: c.date,
                annual_rate: c.annual_rate,
                keep: match c.keep {
                    RateChangeKeepDoc::Emi => RateChangeKeep::Emi,
                    RateChangeKeepDoc::Tenure => RateChangeKeep::Tenure,
                },
            },
            C::Restructure(c) => EventDocV1::Restructure {
                date: c.date,
                installments: c.installments,
                installment_amount: c.installment_amount,
                moratorium: c.moratorium,
            },
            C::WriteOff(c) => EventDocV1::WriteOff {
                date: c.date,
                reason: c.reason,
            },
            C::IdentifyLoss(c) => EventDocV1::LossIdentified {
                date: c.date,
                reason: c.reason,
            },
            C::Recover(c) => EventDocV1::Recovery {
                date: c.date,
                amount: c.amount,
                reference: c.reference,
            },
            C::Settle(c) => EventDocV1::Settlement {
                date: c.date,
                amount: c.amount,
                reference: c.reference,
            },
            C::Foreclose(c) => EventDocV1::Foreclosure {
                date: c.date,
                amount: c.amount,
                reference: c.reference,
            },
        }
    }
}

impl App {
    /// Append one event to a loan.
    pub async fn loan_command(
        &self,
        p: &Principal,
        loan_id: &str,
        cmd: &LoanCommand,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<CommandResult>, AppError> {
        p.require(cmd.action())?;
        let event = serde_json::to_value(cmd.to_doc())
            .map_err(|e| crate::corrupt(format!("command: {e}")))?;
        self.keyed(p, meta, || {
            self.loan_command_with(p, loan_id, &event, meta, None)
        })
        .await
    }

    /// Append the event `event` (its JSON document, as held for approval).
    pub(crate) async fn loan_command_with(
        &self,
        p: &Principal,
        loan_id: &str,
        event: &Value,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<CommandOutcome<CommandResult>, AppError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_loan_command(p, loan_id, event, meta, decision)
                .await
            {
                Err(AppError::Store(e)) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    // Lost a race for the loan: decide again on its new version.
                    let pause = u64::from(attempt.min(10)) * (1 + rand::random::<u64>() % 3);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(AppError::Store(StoreError::IdempotencyConflict { .. })) => {
                    return self.after_key_race(p, meta).await;
                }
                other => return other,
            }
        }
    }

    async fn try_loan_command(
        &self,
        p: &Principal,
        loan_id: &str,
        event: &Value,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<CommandOutcome<CommandResult>, AppError> {
        let loaded = self.load(p, loan_id).await?;
        let currency = loaded.terms.currency;
        let new =
            Event::from_json_value(event, currency).map_err(|e| AppError::Invalid(vec![e]))?;
        p.require(action_for(&new.kind))?;
        let business_date = self.business_date().await?;
        check_dates(std::slice::from_ref(&new), business_date)?;
        let version = loaded.events.len() as i64;
        let mut events = loaded.events;
        events.push(new.clone());
        let state = history_state(&loaded.terms, &events, business_date, events.len() - 1)?;
        let seq = version + 1;
        // A dry run shows the whole resulting schedule; a command answers with the summary.
        let event_doc = serde_json::to_value(new.to_doc(currency))
            .map_err(|e| crate::corrupt(format!("event: {e}")))?;
        let result = CommandResult {
            loan_id: loan_id.to_owned(),
            version: seq,
            event: SeqEvent {
                seq,
                event: Document::new(event_doc),
            },
            state: state_doc(&state, meta.dry_run)?,
            dry_run: meta.dry_run,
        };
        if meta.dry_run {
            return Ok(CommandOutcome::done(result));
        }
        let before = &events[..events.len() - 1];
        let hold = self.policy.hold(before, std::slice::from_ref(&new), &state);
        if let (None, Some(hold)) = (decision, hold) {
            return self
                .hold(p, hold, format!("loan/{loan_id}"), event.to_string(), meta)
                .await;
        }
        let outcome = CommandOutcome::created(result);
        let previous = self.store.projection_head(loan_id).await?;
        let mut outbox = vec![event_message(loan_id, seq, &new, currency)];
        if let Some((_, prev_class)) = previous {
            let class = state.classification.name();
            if prev_class != class {
                outbox.push(NewOutbox {
                    id: uuid::Uuid::now_v7().to_string(),
                    loan_id: Some(loan_id.to_owned()),
                    topic: "loan.class_changed".into(),
                    payload: json!({"loan_id": loan_id, "from": prev_class, "to": class, "as_of": state.as_of.to_string()}).to_string(),
                });
            }
        }
        let write = CommandWrite {
            snapshot: None,
            command_id: uuid::Uuid::now_v7().to_string(),
            at: self.now(),
            loan_id: loan_id.to_owned(),
            expected_version: version,
            new_loan: None,
            events: vec![NewEvent {
                value_date: new.date.to_string(),
                event: event_json(&new, currency),
            }],
            projection: projection(loan_id, seq, &state),
            audit: self.audit(
                &p.user.name,
                action_for(&new.kind).name(),
                &format!("loan/{loan_id}"),
                &meta.digest,
                vec![format!("{loan_id}:{seq}")],
            ),
            outbox,
            idempotency: self.idempotency(p, meta, &outcome)?,
            approval: decision.cloned(),
        };
        self.store.commit(&write).await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_reads_strictly_and_becomes_its_event() {
        let p: PostPayment = serde_json::from_str(
            r#"{"date": "2024-02-01", "amount": "969.73", "reference": "R-1"}"#,
        )
        .unwrap();
        let doc = LoanCommand::PostPayment(p).to_doc();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["type"], "payment");
        assert_eq!(json["amount"], "969.73");
        assert!(
            serde_json::from_str::<PostPayment>(
                r#"{"date": "2024-2-1", "amount": "1", "reference": "R"}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<WriteOff>(r#"{"date": "2024-02-01", "x": 1}"#).is_err());
    }
}
