//! The collector: open intents from the close's demands, make the day's attempts, post what
//! was collected.

use std::collections::HashMap;

use loanbook_domain::calendar::Date;
use loanbook_domain::collections::{
    Attempt, Case, Decision, FailureClass, FailureTable, Intent, Mandate, Observation, Outcome,
    Policy, Rail, Slot, check_attempt,
};
use loanbook_domain::money::format_minor;

use super::likelihood::{self, FEATURES, Record, Sample};
use super::metrics::Metrics;
use crate::auth::Role;
use crate::servicing::commands::{ChargeKindDoc, LevyCharge, PostPayment};
use crate::servicing::{ListLoans, LoanCommand};
use crate::{App, AppError, Principal, RequestMeta};
use loanbook_store::User;

/// The bank side of auto-debit, answering each debit at once (an API rail, or a simulator).
pub trait DebitBank: Send {
    /// Debit `amount` from the account behind `loan_id`'s mandate at `at`.
    fn debit(&mut self, loan_id: &str, amount: i64, at: Slot) -> Result<BankReply, String>;
    /// What the borrower of `loan_id` pays on `date` outside the mandate, if anything.
    fn paid_otherwise(&mut self, loan_id: &str, date: Date) -> Result<Option<i64>, String>;
}

/// A bank's answer to one debit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankReply {
    Paid,
    /// Returned with the rail's raw code and text.
    Returned {
        code: String,
        text: String,
    },
}

/// A loan collected by auto-debit: who owes and the mandate it is debited under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub loan_id: String,
    pub borrower: String,
    pub mandate: Mandate,
}

/// How the collector works.
#[derive(Debug, Clone)]
pub struct CollectorSetup {
    /// Intents open this many days before the due date.
    pub lead_days: i64,
    /// The bounce charge levied on a failure whose class carries one, tax included.
    pub bounce_charge_minor: i64,
    /// The hour of the evening new intents are planned and their notices sent.
    pub planning_hour: u8,
    pub table: FailureTable,
}

impl Default for CollectorSetup {
    fn default() -> Self {
        CollectorSetup {
            lead_days: 3,
            // ₹500 plus 18% GST.
            bounce_charge_minor: 59_000,
            planning_hour: 21,
            table: FailureTable::seed(),
        }
    }
}

/// One intent and its attempts.
struct Open {
    intent: Intent,
    attempts: Vec<Attempt>,
    unpaid: i64,
    /// The next attempt: when, its notice, why.
    next: Option<(Slot, Option<Slot>, String)>,
    stopped: Option<String>,
    paid: Option<(Date, Paid)>,
    /// What was known of it when it opened, for the likelihood model.
    features: [f64; FEATURES.len()],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Paid {
    FirstAttempt,
    Retry,
    Otherwise,
}

/// Collections over a set of accounts with one policy.
pub struct Collector {
    setup: CollectorSetup,
    policy: Box<dyn Policy>,
    accounts: HashMap<String, Account>,
    open: Vec<Open>,
    metrics: Metrics,
    who: Principal,
    records: HashMap<String, Record>,
    samples: Vec<Sample>,
    first_day: Option<Date>,
}

impl Collector {
    pub fn new(setup: CollectorSetup, policy: Box<dyn Policy>, accounts: Vec<Account>) -> Self {
        let metrics = Metrics {
            policy: policy.name().to_owned(),
            ..Metrics::default()
        };
        Collector {
            setup,
            policy,
            accounts: accounts
                .into_iter()
                .map(|a| (a.loan_id.clone(), a))
                .collect(),
            open: Vec::new(),
            metrics,
            records: HashMap::new(),
            samples: Vec::new(),
            first_day: None,
            who: Principal {
                user: User {
                    id: "collections".into(),
                    name: "collections".into(),
                    role: "collections".into(),
                    partner_id: None,
                    created_at: String::new(),
                },
                role: Role::Collections,
            },
        }
    }

    /// Collect `account`'s loan from now on.
    pub fn add_account(&mut self, account: Account) {
        self.accounts.insert(account.loan_id.clone(), account);
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The day's collections on the business date `today` (see the module's steps).
    pub async fn work_day(
        &mut self,
        app: &App,
        bank: &mut dyn DebitBank,
        today: Date,
    ) -> Result<(), AppError> {
        self.first_day.get_or_insert(today);
        self.attempt_due(app, bank, today).await?;
        self.collect_otherwise(app, bank, today).await?;
        self.end_cycles(today);
        self.open_intents(app, today).await
    }

    /// Finish the run: close every open intent's count and read the loans' days past due.
    pub async fn finish(mut self, app: &App) -> Result<Metrics, AppError> {
        let (loans, late) = dpd_counts(app).await?;
        self.metrics.loans = loans;
        self.metrics.dpd30_plus = late;
        self.metrics.likelihood = likelihood::evaluate(&self.samples);
        self.metrics.finish();
        Ok(self.metrics)
    }

    async fn attempt_due(
        &mut self,
        app: &App,
        bank: &mut dyn DebitBank,
        today: Date,
    ) -> Result<(), AppError> {
        // An attempt can plan another for later the same day: go on until none is due today.
        loop {
            let mut due: Vec<(Slot, usize)> = self
                .open
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.next.as_ref().map(|n| (n.0, i)))
                .filter(|(at, _)| at.date == today)
                .collect();
            if due.is_empty() {
                return Ok(());
            }
            due.sort();
            for (_, i) in due {
                self.attempt(app, bank, i).await?;
            }
        }
    }

    async fn attempt(
        &mut self,
        app: &App,
        bank: &mut dyn DebitBank,
        i: usize,
    ) -> Result<(), AppError> {
        let Some((at, notice, why)) = self.open[i].next.take() else {
            return Ok(());
        };
        let Some(account) = self.accounts.get(&self.open[i].intent.loan_id) else {
            return Ok(());
        };
        let rules = account.mandate.rail().rules();
        let o = &self.open[i];
        let intent = Intent {
            amount: o.unpaid,
            ..o.intent.clone()
        };
        if let Err(breach) =
            check_attempt(&rules, &account.mandate, &intent, &o.attempts, at, notice)
        {
            self.metrics.refused_by_rules += 1;
            self.stop(i, format!("refused by the rules: {breach}"));
            return Ok(());
        }
        let loan_id = intent.loan_id.clone();
        let borrower = account.borrower.clone();
        let bank_code = account.mandate.bank.clone();
        let reply = bank
            .debit(&loan_id, intent.amount, at)
            .map_err(|e| AppError::Conflict(format!("bank: {e}")))?;
        let n = u32::try_from(o.attempts.len() + 1).unwrap_or(u32::MAX);
        let outcome = self.answer(app, i, &intent, n, at, reply).await?;
        let failure = match &outcome {
            Outcome::Failed { failure } => Some((failure.class, failure.reason)),
            _ => None,
        };
        self.policy.observe(&Observation {
            borrower: &borrower,
            bank: &bank_code,
            at,
            due_date: intent.due_date,
            attempt: n,
            failure,
        });
        let failed = failure.is_some();
        self.open[i].attempts.push(Attempt {
            n,
            at,
            notice_at: notice,
            amount: intent.amount,
            outcome,
            why,
        });
        if failed {
            let now = Slot::new(at.date, at.hour.saturating_add(1).min(23));
            self.plan(i, now);
        }
        Ok(())
    }

    /// Post or classify the bank's answer to attempt `n` of intent `i`.
    async fn answer(
        &mut self,
        app: &App,
        i: usize,
        intent: &Intent,
        n: u32,
        at: Slot,
        reply: BankReply,
    ) -> Result<Outcome, AppError> {
        let loan_id = &intent.loan_id;
        let Some(rail) = self.accounts.get(loan_id).map(|a| a.mandate.rail()) else {
            return Err(AppError::NotFound(format!(
                "collections account of {loan_id}"
            )));
        };
        match reply {
            BankReply::Paid => {
                let reference = format!("COL-{loan_id}-{}-{n}", intent.installment);
                self.post_payment(
                    app,
                    loan_id,
                    at.date,
                    intent.amount,
                    &reference,
                    rail.code(),
                )
                .await?;
                let how = if n == 1 {
                    Paid::FirstAttempt
                } else {
                    Paid::Retry
                };
                self.settle(i, at.date, intent.amount, how);
                Ok(Outcome::Paid)
            }
            BankReply::Returned { code, text } => {
                let failure = self.setup.table.classify(rail, &code, &text);
                if failure.charge {
                    self.levy_bounce(app, loan_id, at.date, intent, n).await?;
                }
                if matches!(failure.class, FailureClass::Hard | FailureClass::Mandate) {
                    // The instrument cannot be debited: no more auto-debits on it until a new
                    // mandate replaces it.
                    let reason = format!("{} ({})", failure.code, <&str>::from(failure.reason));
                    if let Some(a) = self.accounts.get_mut(loan_id) {
                        let _ = a.mandate.revoke(at.date, reason);
                    }
                }
                Ok(Outcome::Failed { failure })
            }
        }
    }

    /// Ask the policy for instalment `i`'s next attempt, deciding at `now`.
    fn plan(&mut self, i: usize, now: Slot) {
        let o = &self.open[i];
        let Some(account) = self.accounts.get(&o.intent.loan_id) else {
            return;
        };
        if account.mandate.status.is_final() {
            let why = format!(
                "auto-debit stopped: the mandate is {:?}",
                account.mandate.status
            );
            self.stop(i, why);
            return;
        }
        let rules = account.mandate.rail().rules();
        let notice_hours = rules.pre_debit_notice_hours;
        let earliest = add_hours(now, notice_hours.max(1));
        let decision = self.policy.decide(&Case {
            intent: &o.intent,
            rules: &rules,
            bank: &account.mandate.bank,
            borrower: &account.borrower,
            attempts: &o.attempts,
            earliest,
        });
        match decision {
            Decision::Present { at, why } => {
                let notice = (notice_hours > 0).then_some(now);
                self.open[i].next = Some((at, notice, why));
            }
            Decision::Stop { why } => self.stop(i, why),
        }
    }

    fn stop(&mut self, i: usize, why: String) {
        let o = &mut self.open[i];
        o.next = None;
        if o.stopped.is_none() && o.paid.is_none() {
            o.stopped = Some(why);
        }
    }

    fn settle(&mut self, i: usize, date: Date, amount: i64, how: Paid) {
        let o = &mut self.open[i];
        o.unpaid = o.unpaid.saturating_sub(amount).max(0);
        if o.unpaid == 0 && o.paid.is_none() {
            o.paid = Some((date, how));
            o.next = None;
        }
    }

    /// Payments outside the mandate for instalments that failed and wait or were handed over.
    async fn collect_otherwise(
        &mut self,
        app: &App,
        bank: &mut dyn DebitBank,
        today: Date,
    ) -> Result<(), AppError> {
        for i in 0..self.open.len() {
            let o = &self.open[i];
            let tried_today = o.attempts.last().is_some_and(|a| a.at.date == today)
                || o.next.as_ref().is_some_and(|n| n.0.date == today);
            if o.paid.is_some() || o.attempts.is_empty() || tried_today {
                continue;
            }
            let loan_id = o.intent.loan_id.clone();
            let Some(amount) = bank
                .paid_otherwise(&loan_id, today)
                .map_err(|e| AppError::Conflict(format!("bank: {e}")))?
            else {
                continue;
            };
            let reference = format!("MAN-{loan_id}-{}-{today}", o.intent.installment);
            self.post_payment(app, &loan_id, today, amount, &reference, "manual")
                .await?;
            if let Some(a) = self.accounts.get(&loan_id) {
                self.policy.observe_payment(&a.borrower, today);
            }
            self.settle(i, today, amount, Paid::Otherwise);
        }
        Ok(())
    }

    /// Count and drop the intents whose cycle ended before `today`.
    fn end_cycles(&mut self, today: Date) {
        let (ended, open): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| o.intent.cycle_end < today);
        self.open = open;
        for o in ended {
            count_intent(&mut self.metrics, &o, self.setup.bounce_charge_minor);
            self.learn(&o);
        }
    }

    /// Keep the ended intent as a sample of the likelihood model and in its loan's record.
    fn learn(&mut self, o: &Open) {
        let due = o.intent.due_date;
        let late = days_late(o);
        let start = self.first_day.unwrap_or(due);
        let months = (i32::from(due.year()) * 12 + i32::from(due.month()))
            - (i32::from(start.year()) * 12 + i32::from(start.month()));
        self.samples.push(Sample {
            month: u32::try_from(months).unwrap_or(0),
            x: o.features,
            paid: late.is_some_and(|d| d <= likelihood::GRACE_DAYS),
        });
        self.records
            .entry(o.intent.loan_id.clone())
            .or_default()
            .add(first_failed(o), late);
    }

    /// What is known of a new intent: the loan's days past due and overdue, its record, its rail
    /// and size (the order of [`FEATURES`]).
    fn features(
        &self,
        loan_id: &str,
        open: &[usize],
        dpd: u32,
        overdue: i64,
        instalment: i64,
    ) -> [f64; FEATURES.len()] {
        let mut r = self.records.get(loan_id).cloned().unwrap_or_default();
        // The instalment before, whose cycle is still open, counts as it stands.
        for o in open.iter().map(|i| &self.open[*i]) {
            r.add(first_failed(o), days_late(o));
        }
        let upi = self
            .accounts
            .get(loan_id)
            .is_some_and(|a| a.mandate.rail() == Rail::UpiAutopay);
        likelihood::features(&r, dpd, overdue, instalment, upi)
    }

    /// Intents for the instalments due `lead_days` after `today`, from the close's demands.
    async fn open_intents(&mut self, app: &App, today: Date) -> Result<(), AppError> {
        let Ok(due_on) = today.checked_add(jiff::Span::new().days(self.setup.lead_days)) else {
            return Ok(());
        };
        let demands = app
            .store
            .demands_due(&app.book, &due_on.to_string())
            .await?;
        let now = Slot::new(today, self.setup.planning_hour);
        // The open intents by loan, so that a book's demands are matched in one pass.
        let mut by_loan: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, o) in self.open.iter().enumerate() {
            by_loan.entry(o.intent.loan_id.clone()).or_default().push(i);
        }
        for d in demands {
            if !self.accounts.contains_key(&d.loan_id) || d.amount <= 0 {
                continue;
            }
            let installment = u32::try_from(d.installment).unwrap_or(0);
            let same_loan = by_loan.get(&d.loan_id).map(Vec::as_slice).unwrap_or(&[]);
            if same_loan
                .iter()
                .any(|i| self.open[*i].intent.installment == installment)
            {
                continue;
            }
            // Present everything due: the instalment and what is overdue before it, within the
            // mandate's maximum.
            let (dpd, overdue) = self.overdue(app, &d.loan_id, today).await?;
            let features = self.features(&d.loan_id, same_loan, dpd, overdue, d.amount);
            let max = self
                .accounts
                .get(&d.loan_id)
                .map_or(0, |a| a.mandate.max_amount_minor);
            let amount = d.amount.saturating_add(overdue).min(max.max(d.amount));
            // The day before the next instalment falls due.
            let cycle_end = due_on
                .checked_add(jiff::Span::new().months(1))
                .and_then(|d| d.yesterday())
                .unwrap_or(due_on);
            self.open.push(Open {
                intent: Intent {
                    loan_id: d.loan_id,
                    installment,
                    due_date: due_on,
                    amount,
                    cycle_start: today,
                    cycle_end,
                },
                attempts: Vec::new(),
                unpaid: amount,
                next: None,
                stopped: None,
                paid: None,
                features,
            });
            let i = self.open.len() - 1;
            by_loan
                .entry(self.open[i].intent.loan_id.clone())
                .or_default()
                .push(i);
            self.plan(i, now);
        }
        Ok(())
    }

    /// The loan's days past due and what it has overdue (instalments and charges) at the end
    /// of `as_of`.
    async fn overdue(&self, app: &App, loan_id: &str, as_of: Date) -> Result<(u32, i64), AppError> {
        let loan = app.loan_for(&app.system_principal(), loan_id).await?;
        let (state, _) = app.state_at(&loan.0.id, &loan.1, as_of).await?;
        Ok((state.dpd, state.total_overdue.max(0)))
    }

    async fn post_payment(
        &self,
        app: &App,
        loan_id: &str,
        date: Date,
        amount: i64,
        reference: &str,
        channel: &str,
    ) -> Result<(), AppError> {
        let cmd = LoanCommand::PostPayment(PostPayment {
            date,
            amount: format_minor(amount, 2),
            reference: reference.to_owned(),
            channel: Some(channel.to_owned()),
        });
        app.loan_command(&self.who, loan_id, &cmd, &RequestMeta::default())
            .await
            .map(|_| ())
    }

    async fn levy_bounce(
        &mut self,
        app: &App,
        loan_id: &str,
        date: Date,
        intent: &Intent,
        n: u32,
    ) -> Result<(), AppError> {
        let cmd = LoanCommand::LevyCharge(LevyCharge {
            date,
            kind: ChargeKindDoc::Bounce,
            amount: format_minor(self.setup.bounce_charge_minor, 2),
            reference: Some(format!("BNC-{loan_id}-{}-{n}", intent.installment)),
        });
        app.loan_command(&self.who, loan_id, &cmd, &RequestMeta::default())
            .await?;
        Ok(())
    }
}

/// Whether the intent's first presentation failed.
fn first_failed(o: &Open) -> bool {
    o.attempts
        .first()
        .is_some_and(|a| matches!(a.outcome, Outcome::Failed { .. }))
}

/// Days after the due date the intent was paid in full, if it was.
fn days_late(o: &Open) -> Option<i64> {
    o.paid
        .map(|(date, _)| i64::from((date - o.intent.due_date).get_days()))
}

fn count_intent(m: &mut Metrics, o: &Open, bounce_charge: i64) {
    m.due_installments += 1;
    m.stopped += u64::from(o.stopped.is_some());
    for a in &o.attempts {
        m.attempts += 1;
        m.count_attempt(a.n, a.outcome == Outcome::Paid);
        let Outcome::Failed { failure } = &a.outcome else {
            continue;
        };
        m.failed_attempts += 1;
        if failure.charge {
            m.bounce_charges += 1;
            m.bounce_charges_minor += bounce_charge;
        }
        let c = &mut m.failed_by_class;
        match failure.class {
            FailureClass::Soft => c.soft += 1,
            FailureClass::Hard => c.hard += 1,
            FailureClass::Technical => c.technical += 1,
            FailureClass::Mandate => c.mandate += 1,
        }
    }
    match o.paid {
        Some((date, how)) => {
            if date <= o.intent.due_date {
                m.collected_on_time += 1;
            }
            match how {
                Paid::Retry => m.recovered_by_retry += 1,
                Paid::Otherwise => m.recovered_otherwise += 1,
                Paid::FirstAttempt => {}
            }
        }
        None => m.unpaid_at_cycle_end += 1,
    }
}

fn add_hours(at: Slot, hours: i64) -> Slot {
    let total = i64::from(at.hour) + hours;
    let days = total.div_euclid(24);
    let hour = u8::try_from(total.rem_euclid(24)).unwrap_or(0);
    let date = at
        .date
        .checked_add(jiff::Span::new().days(days))
        .unwrap_or(at.date);
    Slot::new(date, hour)
}

/// Running loans, and those 30 or more days past due.
async fn dpd_counts(app: &App) -> Result<(u64, u64), AppError> {
    let who = app.system_principal();
    let count = |dpd_min: Option<i64>| {
        let who = who.clone();
        async move {
            let mut n = 0u64;
            let mut cursor = None;
            loop {
                let q = ListLoans {
                    status: Some("active".into()),
                    dpd_min,
                    cursor,
                    limit: Some(1000),
                    ..ListLoans::default()
                };
                let page = app.list_loans(&who, &q).await?;
                n += page.items.len() as u64;
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return Ok::<u64, AppError>(n),
                }
            }
        }
    };
    let loans = count(None).await?;
    let late = count(Some(30)).await?;
    Ok((loans, late))
}
