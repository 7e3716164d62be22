//! Loan replay. Run with `cargo bench -p loanbook-domain --bench replay`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::ToSpan;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::replay;
use loanbook_domain::schedule::build;
use loanbook_domain::terms::Terms;

fn home_loan() -> Terms {
    let json = r#"{"currency": "INR", "principal": "5000000.00", "annual_rate": "8.5", "method": "emi",
        "installments": 360, "frequency": "monthly", "disbursement_date": "2024-01-15",
        "interest_basis": "act/365f"}"#;
    match Terms::from_json(json) {
        Ok(t) => t,
        Err(e) => panic!("benchmark terms are invalid: {e}"),
    }
}

fn payment(date: jiff::civil::Date, amount: i64, n: usize) -> Event {
    Event {
        date,
        kind: EventKind::Payment {
            amount,
            reference: format!("UTR{n}"),
            channel: None,
        },
    }
}

fn disbursement(t: &Terms) -> Event {
    Event {
        date: t.disbursement_date,
        kind: EventKind::Disbursement {
            amount: t.principal,
            reference: None,
        },
    }
}

fn replays(c: &mut Criterion) {
    let t = home_loan();
    let schedule = match build(&t) {
        Ok(s) => s,
        Err(e) => panic!("benchmark schedule failed: {e}"),
    };
    let end = schedule
        .installments
        .last()
        .map_or(t.disbursement_date, |r| r.due_date);

    // Every instalment paid on its due date: 361 events, 30 years of daily accrual.
    let mut on_time = vec![disbursement(&t)];
    on_time.extend(
        schedule
            .installments
            .iter()
            .enumerate()
            .map(|(n, r)| payment(r.due_date, r.total, n)),
    );
    match replay(&t, &on_time, end) {
        Ok(s) => assert_eq!(
            s.balances.principal_outstanding, 0,
            "the loan should be repaid"
        ),
        Err(e) => panic!("replay failed: {e}"),
    }
    c.bench_function("replay 30y monthly loan, 360 payments, to maturity", |b| {
        b.iter(|| replay(black_box(&t), black_box(&on_time), end))
    });

    // 5,000 small payments, one every other day.
    let part = schedule.installment_amount * 2 / 30 + 1;
    let mut frequent = vec![disbursement(&t)];
    let mut day = t.disbursement_date;
    for n in 0..5_000 {
        day = match day.checked_add(2.days()) {
            Ok(d) => d,
            Err(e) => panic!("date overflow: {e}"),
        };
        frequent.push(payment(day, part, n));
    }
    if let Err(e) = replay(&t, &frequent, end) {
        panic!("replay failed: {e}");
    }
    c.bench_function("replay loan with 5,000 payment events", |b| {
        b.iter(|| replay(black_box(&t), black_box(&frequent), end))
    });
}

criterion_group!(benches, replays);
criterion_main!(benches);
