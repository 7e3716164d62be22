//! The collector on a real store, with a scripted bank: intents from the close's demands,
//! attempts on the policy's days, payments and bounce charges posted as commands, failures
//! classified by the table, and the rail's rules kept.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use common::admin;
use jiff::civil::{Date, date};
use loanbook_app::collections::{Account, BankReply, Collector, CollectorSetup, DebitBank};
use loanbook_app::eod::{CloseOptions, Quiet};
use loanbook_app::{App, FixedClock};
use loanbook_domain::collections::{
    FixedPolicy, Mandate, MandateFrequency, MandateKind, MandateStatus, Slot,
};
use loanbook_store::testing::TestDatabase;
use serde_json::Value;

const START: Date = date(2026, 1, 10);

/// Replies in order per loan, `Paid` once a loan's are used up; every call is recorded.
#[derive(Default)]
struct ScriptedBank {
    replies: HashMap<String, VecDeque<BankReply>>,
    calls: Vec<(String, i64, Slot)>,
}

impl DebitBank for ScriptedBank {
    fn debit(&mut self, loan_id: &str, amount: i64, at: Slot) -> Result<BankReply, String> {
        self.calls.push((loan_id.to_owned(), amount, at));
        let next = self.replies.get_mut(loan_id).and_then(VecDeque::pop_front);
        Ok(next.unwrap_or(BankReply::Paid))
    }

    fn paid_otherwise(&mut self, _: &str, _: Date) -> Result<Option<i64>, String> {
        Ok(None)
    }
}

fn returned(code: &str) -> BankReply {
    BankReply::Returned {
        code: code.into(),
        text: String::new(),
    }
}

async fn book(app: &App, number: &str) -> String {
    common::book(app, number, START).await
}

fn account(loan_id: &str, kind: MandateKind) -> Account {
    Account {
        loan_id: loan_id.into(),
        borrower: format!("B-{loan_id}"),
        mandate: Mandate {
            reference: format!("M-{loan_id}"),
            kind,
            bank: "HDFC".into(),
            max_amount_minor: 5_000_000,
            frequency: MandateFrequency::Monthly,
            start: START,
            end: None,
            submitted_on: START,
            status: MandateStatus::Active { since: START },
        },
    }
}

/// Collections and the close, each day from `START` to `until`.
async fn run_days(
    app: &App,
    clock: &FixedClock,
    collector: &mut Collector,
    bank: &mut ScriptedBank,
    until: Date,
) {
    let mut day = START;
    while day <= until {
        collector.work_day(app, bank, day).await.unwrap();
        let options = CloseOptions {
            until: Some(day),
            ..CloseOptions::default()
        };
        app.close_business(None, &options, &Quiet).await.unwrap();
        day = day.tomorrow().unwrap();
        clock.set(day.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp());
    }
}

fn kinds(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn events(app: &App, loan_id: &str) -> Vec<Value> {
    let view = app.loan_events(&admin(), loan_id).await.unwrap();
    let v = serde_json::to_value(view).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_presents_posts_charges_and_stops_as_the_table_says() {
    let db = TestDatabase::sqlite();
    let store = loanbook_store::connect(&db.url).await.unwrap();
    let clock = Arc::new(FixedClock::on(START));
    let app = App::new(store, "main", clock.clone()).await.unwrap();
    let (paid, soft, hard) = (
        book(&app, "P").await,
        book(&app, "S").await,
        book(&app, "H").await,
    );
    let (tech, upi) = (book(&app, "T").await, book(&app, "U").await);
    let mut bank = ScriptedBank::default();
    bank.replies.insert(soft.clone(), [returned("04")].into());
    bank.replies.insert(hard.clone(), [returned("01")].into());
    bank.replies.insert(tech.clone(), [returned("59")].into());
    let nach = [&paid, &soft, &hard, &tech].map(|l| account(l, MandateKind::Enach));
    let mut accounts = nach.to_vec();
    accounts.push(account(&upi, MandateKind::UpiAutopay));
    let policy = Box::new(FixedPolicy::default());
    let mut collector = Collector::new(CollectorSetup::default(), policy, accounts);
    // Through the first instalment's whole cycle (due 10 Feb, cycle to 9 Mar).
    run_days(&app, &clock, &mut collector, &mut bank, date(2026, 3, 10)).await;
    let due = date(2026, 2, 10);
    let first_calls: Vec<_> = bank
        .calls
        .iter()
        .filter(|c| c.2.date < date(2026, 3, 1))
        .collect();
    let calls_of = |loan: &str| {
        first_calls
            .iter()
            .filter(|c| c.0 == loan)
            .map(|c| c.2)
            .collect::<Vec<_>>()
    };
    // Presented on the due date; NACH at 10:00, UPI in its first off-peak hour after 10:00.
    assert_eq!(calls_of(&paid), [Slot::new(due, 10)]);
    assert_eq!(calls_of(&upi), [Slot::new(due, 13)]);
    // Insufficient funds: retried 3 days later; a network failure likewise; account closed: never.
    assert_eq!(
        calls_of(&soft),
        [Slot::new(due, 10), Slot::new(date(2026, 2, 13), 10)]
    );
    assert_eq!(
        calls_of(&tech),
        [Slot::new(due, 10), Slot::new(date(2026, 2, 13), 10)]
    );
    assert_eq!(calls_of(&hard), [Slot::new(due, 10)]);
    // Each presented the instalment.
    let emi = first_calls[0].1;
    assert!(first_calls.iter().all(|c| c.1 == emi), "{first_calls:?}");

    let soft_events = events(&app, &soft).await;
    assert_eq!(
        kinds(&soft_events)[..4],
        ["disbursement", "charge", "payment", "payment"],
        "a bounce charge on the failure, then the retry's payment, then March's"
    );
    assert_eq!(soft_events[1]["kind"], "bounce");
    assert_eq!(soft_events[1]["amount"], "590.00");
    assert_eq!(soft_events[2]["date"], "2026-02-13");
    assert_eq!(soft_events[2]["channel"], "nach");
    // No charge for a technical failure or a closed account; the closed account is not paid.
    let tech_events = events(&app, &tech).await;
    assert!(!kinds(&tech_events).contains(&"charge".to_owned()));
    let hard_events = events(&app, &hard).await;
    assert_eq!(kinds(&hard_events), ["disbursement"]);
    let upi_events = events(&app, &upi).await;
    assert_eq!(upi_events[1]["channel"], "upi_autopay");

    let m = collector.finish(&app).await.unwrap();
    assert_eq!(m.due_installments, 5);
    assert_eq!(m.collected_on_time, 2);
    assert_eq!(m.recovered_by_retry, 2);
    assert_eq!(m.unpaid_at_cycle_end, 1);
    assert_eq!(m.attempts, 7);
    assert_eq!(m.failed_attempts, 3);
    assert_eq!(m.failed_by_class.soft, 1);
    assert_eq!(m.failed_by_class.hard, 1);
    assert_eq!(m.failed_by_class.technical, 1);
    assert_eq!(m.bounce_charges, 1);
    assert_eq!(m.stopped, 1);
    assert!((m.recovery_rate - 2.0 / 3.0).abs() < 1e-9);
    // The closed account's loan, unpaid since 10 February, is the one 30 days past due.
    assert_eq!(m.loans, 5);
    assert_eq!(m.dpd30_plus, 1);
    // March: the instalment and February's bounce charge presented together; nothing more
    // presented on the closed account.
    let march: Vec<_> = bank
        .calls
        .iter()
        .filter(|c| c.2.date >= date(2026, 3, 1))
        .collect();
    assert!(march.iter().all(|c| c.0 != hard));
    assert!(
        march.iter().any(|c| c.0 == soft && c.1 == emi + 59_000),
        "{march:?}"
    );
    db.drop_database().await;
}
