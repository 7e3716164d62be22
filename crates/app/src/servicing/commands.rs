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

use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan;
use loanbook_domain::terms::Terms;
use loanbook_store::{CommandWrite, Decision, NewEvent, NewOutbox, StoreError};
use serde_json::Value;

use super::resume::{ResumePoint, Resumption};
use super::{
    action_for, check_dates, class_message, class_moved, event_message, history_state, projection,
    refused, state_doc,
};
use crate::auth::Action;
use crate::views::{CommandOutcome, CommandResult, Document, SeqEvent};
use crate::{App, AppError, MAX_ATTEMPTS, Principal, RequestMeta};

/// The loan commands, one row each, and the rights they need: the one table a new event kind
/// adds its command to (see `docs/events.md`, "Adding an event kind"). Each row names the command
/// type, the event kind and its `type`, the right the command needs, its route (the handler's name
/// and the path segment under `/v1/loans/{id}/`, with the route's summary), its outbox topic, and
/// the fields of its body: the fields of the event's document, with the same names, each turned
/// into the document's field by `Into`. From it come the command types, [`LoanCommand`], the
/// action and topic of each event kind, the `Action`s of loan commands and who holds them
/// (`crate::auth`), and the web routes (`loanbook-web`'s `routes::commands`).
///
/// It is expanded by handing it a macro's name: `loan_command_table!(then)` expands to
/// `then! { rights { … } commands { … } }`.
#[doc(hidden)]
#[macro_export]
macro_rules! loan_command_table {
    ($then:ident) => {
        $then! {
            rights {
                BookLoan = "book_loan": [Credit, Operations],
                PostPayment = "post_payment": [Operations, Collections],
                ReversePayment = "reverse_payment": [Operations],
                LevyCharge = "levy_charge": [Operations, Collections],
                WaiveCharge = "waive_charge": [Operations, Collections],
                Prepay = "prepay": [Operations],
                ChangeRate = "change_rate": [Credit, Operations],
                Restructure = "restructure": [Credit],
                WriteOff = "write_off": [Credit, Operations],
                IdentifyLoss = "identify_loss": [Credit, Operations],
                Recover = "record_recovery": [Operations, Collections],
                Settle = "settle": [Credit, Operations, Collections],
                Foreclose = "foreclose": [Operations],
            }
            commands {
                /// Disburse: the first disbursement, or a later tranche.
                Disburse => Disbursement "disbursement", right BookLoan,
                route disbursements "disbursements" "Disburse: the first disbursement or a later tranche.",
                topic "loan.disbursed" {
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "100000.00")]
                    amount: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reference: Option<String>,
                }

                /// Post a payment received (an `Idempotency-Key` is required).
                PostPayment => Payment "payment", right PostPayment,
                route payments "payments" "Post a payment (an Idempotency-Key is required).",
                topic "payment.posted" {
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "969.73")]
                    amount: String,
                    /// The receipt's reference, unique on the loan.
                    #[schema(min_length = 1, max_length = 200)]
                    reference: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    channel: Option<String>,
                }

                /// Reverse a payment (a bounce): the receipt by its reference.
                ReversePayment => PaymentReversal "payment_reversal", right ReversePayment,
                route reversals "reversals" "Reverse a payment by its reference.",
                topic "payment.reversed" {
                    #[schema(min_length = 1, max_length = 200)]
                    reference: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reason: Option<String>,
                }

                /// Levy a charge.
                LevyCharge => Charge "charge", right LevyCharge,
                route charges "charges" "Levy a charge.",
                topic "loan.charge" {
                    kind: ChargeKindDoc,
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "500.00")]
                    amount: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reference: Option<String>,
                }

                /// Waive charges or interest due, oldest first.
                Waive => Waiver "waiver", right WaiveCharge,
                route waivers "waivers" "Waive charges or interest due.",
                topic "loan.waiver" {
                    component: WaiverComponentDoc,
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "100.00")]
                    amount: String,
                }

                /// Prepay principal, re-shaping the rest of the schedule.
                Prepay => Prepayment "prepayment", right Prepay,
                route prepayments "prepayments" "Prepay principal.",
                topic "loan.prepayment" {
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "10000.00")]
                    amount: String,
                    adjust: PrepaymentAdjustDoc,
                    #[schema(min_length = 1, max_length = 200)]
                    reference: String,
                }

                /// Change the annual rate (percent).
                ChangeRate => RateChange "rate_change", right ChangeRate,
                route rate_changes "rate-changes" "Change the annual rate.",
                topic "loan.rate_change" {
                    #[schema(pattern = r"^[0-9]{1,3}(\.[0-9]{1,4})?$", example = "11.5")]
                    annual_rate: String,
                    keep: RateChangeKeepDoc,
                }

                /// Restructure the rest of the schedule.
                Restructure => Restructure "restructure", right Restructure,
                route restructures "restructures" "Restructure the rest of the schedule.",
                topic "loan.restructure" {
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

                /// Write the loan off.
                WriteOff => WriteOff "write_off", right WriteOff,
                route write_offs "write-offs" "Write the loan off.",
                topic "loan.write_off" {
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reason: Option<String>,
                }

                /// Identify a non-performing loan as a loss asset.
                IdentifyLoss => LossIdentified "loss_identified", right IdentifyLoss,
                route loss_identifications "loss-identifications" "Identify the loan as a loss asset.",
                topic "loan.loss_identified" {
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reason: Option<String>,
                }

                /// Recover money on a written-off loan.
                Recover => Recovery "recovery", right Recover,
                route recoveries "recoveries" "Recover money on a written-off loan.",
                topic "loan.recovery" {
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "1000.00")]
                    amount: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reference: Option<String>,
                }

                /// Settle the loan for an amount.
                Settle => Settlement "settlement", right Settle,
                route settlements "settlements" "Settle the loan.",
                topic "loan.settlement" {
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "50000.00")]
                    amount: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reference: Option<String>,
                }

                /// Foreclose (close early) for the quoted amount.
                Foreclose => Foreclosure "foreclosure", right Foreclose,
                route foreclosures "foreclosures" "Foreclose the loan.",
                topic "loan.foreclosure" {
                    #[schema(pattern = r"^[0-9]{1,13}(\.[0-9]{1,3})?$", example = "98000.00")]
                    amount: String,
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    #[schema(min_length = 1, max_length = 200)]
                    reference: Option<String>,
                }
            }
        }
    };
}

/// The topic of the close's borrower-wise classification events (`borrower_npa`,
/// `borrower_upgraded`).
pub(crate) const BORROWER_TOPIC: &str = "loan.borrower_classification";

/// The command types, [`LoanCommand`] and the event kinds' actions and topics, from the table.
macro_rules! loan_commands {
    (
        rights { $($rights:tt)* }
        commands {
            $(
                $(#[$doc:meta])*
                $name:ident => $event:ident $etype:literal, right $right:ident,
                route $route:ident $segment:literal $summary:literal,
                topic $topic:literal {
                    $( $(#[$fattr:meta])* $field:ident : $ty:ty ),* $(,)?
                }
            )*
        }
    ) => {
        $(
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

            impl $name {
                /// The `type` of the event the command appends.
                pub const EVENT_TYPE: &'static str = $etype;
            }
        )*

        /// Any command on a booked loan.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum LoanCommand {
            $( $name($name), )*
        }

        impl LoanCommand {
            /// The role's right the command needs.
            pub fn action(&self) -> Action {
                match self {
                    $( LoanCommand::$name(_) => Action::$right, )*
                }
            }

            /// The event document the command appends (checked by the engine before it is).
            // A field the document holds as the body does converts to itself.
            #[allow(clippy::useless_conversion)]
            pub fn to_doc(&self) -> EventDocV1 {
                match self.clone() {
                    $(
                        LoanCommand::$name(c) => EventDocV1::$event {
                            date: c.date,
                            $( $field: c.$field.into(), )*
                        },
                    )*
                }
            }
        }

        /// The right a command appending an event of this kind needs.
        pub(crate) fn right_for(kind: &loanbook_domain::events::EventKind) -> Action {
            match kind {
                $( loanbook_domain::events::EventKind::$event { .. } => Action::$right, )*
                // The close's own events: no command appends them.
                loanbook_domain::events::EventKind::BorrowerNpa { .. }
                | loanbook_domain::events::EventKind::BorrowerUpgraded => Action::CloseBusiness,
            }
        }

        /// The outbox topic of an event of this kind.
        pub(crate) fn topic_for(kind: &loanbook_domain::events::EventKind) -> &'static str {
            match kind {
                $( loanbook_domain::events::EventKind::$event { .. } => $topic, )*
                loanbook_domain::events::EventKind::BorrowerNpa { .. }
                | loanbook_domain::events::EventKind::BorrowerUpgraded => BORROWER_TOPIC,
            }
        }

        /// Every loan command's topic.
        #[cfg(test)]
        const COMMAND_TOPICS: &[&str] = &[$($topic),*];
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

crate::loan_command_table!(loan_commands);

/// The charge kinds, as the schema names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeKindDoc {
    Bounce,
    Penal,
    Other,
}

impl From<ChargeKindDoc> for ChargeKind {
    fn from(k: ChargeKindDoc) -> Self {
        match k {
            ChargeKindDoc::Bounce => ChargeKind::Bounce,
            ChargeKindDoc::Penal => ChargeKind::Penal,
            ChargeKindDoc::Other => ChargeKind::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaiverComponentDoc {
    Charges,
    Interest,
}

impl From<WaiverComponentDoc> for WaiverComponent {
    fn from(c: WaiverComponentDoc) -> Self {
        match c {
            WaiverComponentDoc::Charges => WaiverComponent::Charges,
            WaiverComponentDoc::Interest => WaiverComponent::Interest,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrepaymentAdjustDoc {
    ReduceEmi,
    ReduceTenure,
}

impl From<PrepaymentAdjustDoc> for PrepaymentAdjust {
    fn from(a: PrepaymentAdjustDoc) -> Self {
        match a {
            PrepaymentAdjustDoc::ReduceEmi => PrepaymentAdjust::ReduceEmi,
            PrepaymentAdjustDoc::ReduceTenure => PrepaymentAdjust::ReduceTenure,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RateChangeKeepDoc {
    Emi,
    Tenure,
}

impl From<RateChangeKeepDoc> for RateChangeKeep {
    fn from(k: RateChangeKeepDoc) -> Self {
        match k {
            RateChangeKeepDoc::Emi => RateChangeKeep::Emi,
            RateChangeKeepDoc::Tenure => RateChangeKeep::Tenure,
        }
    }
}

#[cfg(test)]
mod table {
    use super::*;

    #[test]
    fn every_command_topic_is_one_a_webhook_can_subscribe_to() {
        for topic in COMMAND_TOPICS {
            assert!(
                crate::outbox::TOPICS.contains(topic),
                "`{topic}` is missing from outbox::TOPICS"
            );
        }
    }

    #[test]
    fn a_command_becomes_the_event_of_its_row() {
        let c: LevyCharge =
            serde_json::from_str(r#"{"date": "2024-02-03", "kind": "penal", "amount": "500.00"}"#)
                .unwrap();
        let cmd = LoanCommand::LevyCharge(c);
        assert_eq!(cmd.action(), Action::LevyCharge);
        let json = serde_json::to_value(cmd.to_doc()).unwrap();
        assert_eq!(json["type"], LevyCharge::EVENT_TYPE);
        assert_eq!(json["kind"], "penal");
        let event = loanbook_domain::events::Event::from_json_value(
            &json,
            loanbook_domain::money::Currency::INR,
        )
        .unwrap();
        assert_eq!(topic_for(&event.kind), "loan.charge");
        assert_eq!(right_for(&event.kind), Action::LevyCharge);
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
        self.loan_command_alongside(p, loan_id, event, meta, decision, None)
            .await
    }

    /// Append the event `event`, with what the command carries besides it: the approval it
    /// carries out, or the application step it completes (written in the loan's transaction).
    pub(crate) async fn loan_command_alongside(
        &self,
        p: &Principal,
        loan_id: &str,
        event: &Value,
        meta: &RequestMeta,
        decision: Option<&Decision>,
        application: Option<&ApplicationStep>,
    ) -> Result<CommandOutcome<CommandResult>, AppError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_loan_command(p, loan_id, event, meta, decision, application)
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
        application: Option<&ApplicationStep>,
    ) -> Result<CommandOutcome<CommandResult>, AppError> {
        let loan = self.loan_for(p, loan_id).await?;
        let terms = &loan.1;
        let currency = terms.currency;
        let new =
            Event::from_json_value(event, currency).map_err(|e| AppError::Invalid(vec![e]))?;
        p.require(action_for(&new.kind))?;
        let business_date = self.business_date().await?;
        check_dates(std::slice::from_ref(&new), business_date)?;
        let point = self.resume_point(loan_id, terms, None).await?;
        let version = point.version();
        let index = usize::try_from(version).unwrap_or(usize::MAX);
        let applied = self
            .apply_new(loan_id, terms, &point, &new, business_date)
            .await?;
        let seq = version + 1;
        let result = command_result(loan_id, seq, &new, currency, &applied, meta.dry_run)?;
        if meta.dry_run {
            return Ok(CommandOutcome::done(result));
        }
        if decision.is_none() {
            if let Some(hold) = self
                .hold_for(loan_id, terms, &point, &new, &applied)
                .await?
            {
                return self
                    .hold(p, hold, format!("loan/{loan_id}"), event.to_string(), meta)
                    .await;
            }
        }
        let outcome = CommandOutcome::created(result);
        let mut outbox = vec![event_message(
            loan_id,
            seq,
            &new,
            currency,
            &applied.effects,
            index,
        )];
        outbox.extend(
            self.class_changes(loan_id, terms, &point, &new, &applied, business_date)
                .await?,
        );
        let snapshot = self
            .snapshot_due(
                loan_id,
                terms,
                &point,
                std::slice::from_ref(&new),
                business_date,
            )
            .await?;
        let mut write = CommandWrite {
            snapshot: snapshot.as_ref().map(|(_, record)| record.clone()),
            command_id: uuid::Uuid::now_v7().to_string(),
            at: self.now(),
            loan_id: loan_id.to_owned(),
            expected_version: version,
            new_loan: None,
            events: vec![NewEvent {
                value_date: new.date.to_string(),
                event: new.to_stored_json(currency),
            }],
            projection: projection(loan_id, seq, &applied.state),
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
            application: None,
        };
        if let Some(step) = application {
            step.carry(&mut write);
        }
        self.store.commit(&write).await?;
        if let Some((snapshot, _)) = snapshot {
            self.keep_snapshot(loan_id, snapshot);
        }
        Ok(outcome)
    }

    /// Apply `new` on top of the loan's history. An event dated before the history's newest
    /// re-dates what follows it, so that history is checked again on every date (as a booking
    /// is); any other resumes from the snapshot and costs the events after it.
    async fn apply_new(
        &self,
        loan_id: &str,
        terms: &Terms,
        point: &ResumePoint,
        new: &Event,
        business_date: Date,
    ) -> Result<Resumption, AppError> {
        let index = usize::try_from(point.version()).unwrap_or(usize::MAX);
        let back_dated = point.tail.iter().any(|e| e.date > new.date)
            || point.snapshot.engine.day.is_some_and(|d| d > new.date);
        if back_dated {
            let mut events = self.events_of(loan_id, terms).await?;
            events.push(new.clone());
            let state = history_state(terms, &events, business_date, index)?;
            let (_, effects) = loan::replay_with_effects(terms, &events, business_date)
                .map_err(|e| refused(&e, events.len(), index))?;
            return Ok(Resumption { state, effects });
        }
        match self
            .resume_loan(
                loan_id,
                terms,
                point,
                std::slice::from_ref(new),
                business_date,
            )
            .await?
        {
            Ok(r) => Ok(r),
            Err(e) => Err(refused(&e, index + 1, index)),
        }
    }

    /// Whether the maker-checker policy holds the command. Waivers are judged over the loan's
    /// whole history (their window may reach before the snapshot).
    async fn hold_for(
        &self,
        loan_id: &str,
        terms: &Terms,
        point: &ResumePoint,
        new: &Event,
        applied: &Resumption,
    ) -> Result<Option<crate::policy::Hold>, AppError> {
        let whole;
        let before: &[Event] =
            if matches!(new.kind, EventKind::Waiver { .. }) && point.snapshot.version > 0 {
                whole = self.events_of(loan_id, terms).await?;
                &whole
            } else {
                &point.tail
            };
        Ok(self
            .policy
            .hold(before, std::slice::from_ref(new), &applied.state))
    }

    /// The `loan.class_changed` message when the new event moves the loan's class on the
    /// business date: the engine's day-end class changes from the event's date on say whether
    /// it can, and the loan resumed without the event says from what.
    async fn class_changes(
        &self,
        loan_id: &str,
        terms: &Terms,
        point: &ResumePoint,
        new: &Event,
        applied: &Resumption,
        business_date: Date,
    ) -> Result<Vec<NewOutbox>, AppError> {
        if !class_moved(&applied.effects, new) {
            return Ok(Vec::new());
        }
        let Ok(before) = self
            .resume_loan(loan_id, terms, point, &[], business_date)
            .await?
        else {
            return Ok(Vec::new());
        };
        Ok(class_message(
            loan_id,
            before.state.classification,
            applied.state.classification,
            business_date,
        )
        .into_iter()
        .collect())
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

/// An application's step that a loan command completes (a later tranche paid out): its append,
/// its outbox messages and the idempotency record of the application's request, all written in
/// the loan command's transaction.
pub(crate) struct ApplicationStep {
    pub append: loanbook_store::ApplicationAppend,
    pub outbox: Vec<NewOutbox>,
    pub idempotency: Option<loanbook_store::IdempotencyRecord>,
}

impl ApplicationStep {
    /// Put the step into the loan command's write: the append, its messages, and the reply
    /// stored under the application request's key.
    fn carry(&self, write: &mut CommandWrite) {
        write.application = Some(self.append.clone());
        write.outbox.extend(self.outbox.iter().cloned());
        write.idempotency = self.idempotency.clone();
    }
}

/// A command's answer: the appended event and the loan's state after it (a dry run shows the
/// whole resulting schedule; a command answers with the summary).
fn command_result(
    loan_id: &str,
    seq: i64,
    new: &Event,
    currency: loanbook_domain::money::Currency,
    applied: &Resumption,
    dry_run: bool,
) -> Result<CommandResult, AppError> {
    let event_doc = serde_json::to_value(new.to_doc(currency))
        .map_err(|e| crate::corrupt(format!("event: {e}")))?;
    Ok(CommandResult {
        loan_id: loan_id.to_owned(),
        version: seq,
        event: SeqEvent {
            seq,
            event: Document::new(event_doc),
        },
        state: state_doc(&applied.state, dry_run)?,
        dry_run,
    })
}
