//! Loan commands in bulk, on both backends: each item decided as its single command would be,
//! written a chunk to a transaction, a second application changing nothing, the audit chains
//! and the projections as the single path leaves them.

mod common;

use std::sync::Arc;

use common::{admin, book, principal};
use jiff::civil::{Date, date};
use loanbook_app::collections::responses::{PresentedDebit, response_items};
use loanbook_app::servicing::LoanCommand;
use loanbook_app::servicing::batch::{BatchItem, BatchReport, ItemStatus};
use loanbook_app::servicing::commands::{ChargeKindDoc, LevyCharge, PostPayment, ReversePayment};
use loanbook_app::{App, AppError, FixedClock, RequestMeta, Role, SetBusinessDate};
use loanbook_domain::collections::{FailureTable, Rail};
use loanbook_rails::debit::{DebitOutcome, DebitResult, ResponseRead};
use loanbook_store::testing::TestDatabase;

const START: Date = date(2026, 1, 10);
const DUE: Date = date(2026, 2, 10);
/// The EMI of ₹1,00,000 at 15% over 12 months, rounded to the rupee.
const EMI: &str = "9026.00";

async fn app_on(db: &TestDatabase) -> App {
    let store = loanbook_store::connect(&db.url).await.unwrap();
    let clock = Arc::new(FixedClock::on(START));
    App::new(store, "main", clock).await.unwrap()
}

fn pay(loan_id: &str, date: Date, amount: &str, reference: &str) -> BatchItem {
    BatchItem {
        loan_id: loan_id.to_owned(),
        command: LoanCommand::PostPayment(PostPayment {
            date,
            amount: amount.to_owned(),
            reference: reference.to_owned(),
            channel: Some("nach".into()),
        }),
    }
}

fn status(report: &BatchReport) -> Vec<ItemStatus> {
    report.results.iter().map(|r| r.status).collect()
}

async fn version(app: &App, loan_id: &str) -> i64 {
    app.loan_state(&admin(), loan_id, None)
        .await
        .unwrap()
        .version
}

async fn a_batch_posts_as_single_commands_would(db: TestDatabase) {
    let app = app_on(&db).await;
    let (a, b, c) = (
        book(&app, "A", START).await,
        book(&app, "B", START).await,
        book(&app, "C", START).await,
    );
    app.set_business_date(None, &SetBusinessDate { date: DUE })
        .await
        .unwrap();
    let items = vec![
        pay(&a, DUE, EMI, "R-A-1"),
        pay(&b, DUE, EMI, "R-B-1"),
        // Not an amount: refused, naming the field.
        pay(&c, DUE, "12.3.4", "R-C-1"),
        pay("no-such-loan", DUE, EMI, "R-X-1"),
        // After the business date.
        pay(&c, date(2026, 2, 11), EMI, "R-C-2"),
        // The same loan again in the batch: it chains on A's payment, then reverses it.
        BatchItem {
            loan_id: a.clone(),
            command: LoanCommand::ReversePayment(ReversePayment {
                date: DUE,
                reference: "R-A-1".into(),
                reason: Some("04".into()),
            }),
        },
        BatchItem {
            loan_id: a.clone(),
            command: LoanCommand::LevyCharge(LevyCharge {
                date: DUE,
                kind: ChargeKindDoc::Bounce,
                amount: "590.00".into(),
                reference: Some("BNC-R-A-1".into()),
            }),
        },
    ];
    let ops = principal("ops", Role::Operations);
    let meta = RequestMeta::default();
    let first = app.post_batch(&ops, &items, &meta).await.unwrap();
    use ItemStatus::{Posted, Refused, Unchanged};
    assert_eq!(
        status(&first),
        vec![Posted, Posted, Refused, Refused, Refused, Posted, Posted]
    );
    assert_eq!((first.posted, first.refused, first.transactions), (4, 3, 1));
    assert_eq!(first.results[2].field.as_deref(), Some("amount"));
    assert_eq!(first.results[3].field.as_deref(), Some("loan_id"));
    assert_eq!(first.results[4].field.as_deref(), Some("date"));
    assert_eq!(first.results[6].version, Some(4));
    assert_eq!(version(&app, &a).await, 4);
    assert_eq!(version(&app, &b).await, 2);
    assert_eq!(version(&app, &c).await, 1);

    // Applied again: nothing changes.
    let again = app.post_batch(&ops, &items, &meta).await.unwrap();
    assert_eq!(
        status(&again),
        vec![
            Unchanged, Unchanged, Refused, Refused, Refused, Unchanged, Unchanged
        ]
    );
    assert_eq!((again.posted, again.transactions), (0, 0));
    assert_eq!(version(&app, &a).await, 4);

    // Back-dated before the loan's newest event: the single path decides it, and agrees.
    let late = app
        .post_batch(&ops, &[pay(&b, date(2026, 2, 1), "100.00", "R-B-0")], &meta)
        .await
        .unwrap();
    assert_eq!((late.posted, late.one_by_one), (1, 1));

    // What the batch wrote replays from zero to the same projections, and the audit chains hold.
    assert_eq!(
        app.projection_mismatches().await.unwrap(),
        Vec::<String>::new()
    );
    assert!(app.verify_audit().await.unwrap().is_ok());

    // The right is checked for every item; an auditor posts nothing.
    let auditor = principal("aud", Role::Auditor);
    let refused = app.post_batch(&auditor, &items[..1], &meta).await;
    assert!(matches!(refused, Err(AppError::Forbidden { .. })));
}

async fn a_response_applies_once(db: TestDatabase) {
    let app = app_on(&db).await;
    let (paid, bounced) = (book(&app, "P", START).await, book(&app, "Q", START).await);
    app.set_business_date(None, &SetBusinessDate { date: DUE })
        .await
        .unwrap();
    let debit = |reference: &str, loan_id: &str| PresentedDebit {
        reference: reference.into(),
        loan_id: loan_id.into(),
        amount_minor: 902_600,
        settlement_date: DUE,
        rail: Rail::Nach,
        bounce_charge_minor: 59_000,
    };
    let presented = vec![debit("D-1", &paid), debit("D-2", &bounced)];
    let result = |reference: &str, line, outcome| DebitResult {
        reference: reference.into(),
        line,
        amount_minor: 902_600,
        outcome,
    };
    let read = ResponseRead {
        results: vec![
            result("D-1", 2, DebitOutcome::Paid),
            result(
                "D-2",
                3,
                DebitOutcome::Returned {
                    code: "04".into(),
                    text: "Balance insufficient".into(),
                },
            ),
            result("D-9", 4, DebitOutcome::Paid),
        ],
        ..ResponseRead::default()
    };
    let table = FailureTable::seed();
    let (items, counted) = response_items(&presented, &read, &table);
    assert_eq!((counted.paid, counted.returned, counted.unknown), (1, 1, 1));
    assert_eq!(counted.returned_by_class.get("soft"), Some(&1));
    assert_eq!((items.len(), counted.bounce_charges), (2, 1));
    let ops = principal("ops", Role::Collections);
    let meta = RequestMeta::default();
    for (round, posted, unchanged) in [(1, 2, 0), (2, 0, 2)] {
        let report = app
            .apply_debit_response(&ops, &presented, &read, &table, &meta)
            .await
            .unwrap();
        assert_eq!(
            (report.posting.posted, report.posting.unchanged),
            (posted, unchanged),
            "application {round}"
        );
    }
    assert_eq!(version(&app, &paid).await, 2);
    assert_eq!(version(&app, &bounced).await, 2);
    assert!(app.verify_audit().await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_batch_posts_as_single_commands_would() {
    a_batch_posts_as_single_commands_would(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_batch_posts_as_single_commands_would() {
    a_batch_posts_as_single_commands_would(TestDatabase::postgres().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_response_applies_once() {
    a_response_applies_once(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_response_applies_once() {
    a_response_applies_once(TestDatabase::postgres().await.unwrap()).await;
}
