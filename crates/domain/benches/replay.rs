//! Loan replay. Run with `cargo bench -p loanbook-domain --bench replay`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::ToSpan;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{Resumed, Snapshot, replay, replay_with_effects, resume, resume_owned};
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
    c.bench_function(
        "replay loan with 5,000 payment events, collecting effects",
        |b| b.iter(|| replay_with_effects(black_box(&t), black_box(&frequent), end)),
    );

    // One payment more on the 5,000-event loan: a full replay against a resume from the snapshot
    // at the last event's day.
    let last = frequent.last().map_or(t.disbursement_date, |e| e.date);
    let snapshot = match Snapshot::take(&t, &frequent, last) {
        Ok(s) => s,
        Err(e) => panic!("snapshot failed: {e}"),
    };
    let next_day = match last.checked_add(1.days()) {
        Ok(d) => d,
        Err(e) => panic!("date overflow: {e}"),
    };
    let one_more = [payment(next_day, part, 5_000)];
    let mut all = frequent.clone();
    all.extend(one_more.iter().cloned());
    match resume(&t, &snapshot, &one_more, next_day) {
        Ok(Resumed::Applied(r)) => match replay(&t, &all, next_day) {
            Ok(full) => assert_eq!(r.state, full, "resume equals the full replay"),
            Err(e) => panic!("replay failed: {e}"),
        },
        other => panic!("resume failed: {other:?}"),
    }
    c.bench_function("full replay of 5,001 events to the new event's day", |b| {
        b.iter(|| replay(black_box(&t), black_box(&all), next_day))
    });
    c.bench_function("resume a 5,000-event snapshot with 1 new event", |b| {
        b.iter(|| {
            resume(
                black_box(&t),
                black_box(&snapshot),
                black_box(&one_more),
                next_day,
            )
        })
    });
    let a_week_on = match next_day.checked_add(7.days()) {
        Ok(d) => d,
        Err(e) => panic!("date overflow: {e}"),
    };
    c.bench_function(
        "resume a 5,000-event snapshot with no new event, a week on (a read)",
        |b| b.iter(|| resume(black_box(&t), black_box(&snapshot), &[], a_week_on)),
    );
    c.bench_function(
        "resume a 5,000-event snapshot taken by value with 1 new event",
        |b| {
            b.iter_batched(
                || snapshot.clone(),
                |s| resume_owned(black_box(&t), s, black_box(&one_more), next_day),
                criterion::BatchSize::LargeInput,
            )
        },
    );
    let json = match snapshot.to_json() {
        Ok(j) => j,
        Err(e) => panic!("snapshot JSON failed: {e}"),
    };
    eprintln!("a 5,000-event snapshot is {} bytes of JSON", json.len());
    c.bench_function("read a 5,000-event snapshot from JSON", |b| {
        b.iter(|| Snapshot::from_json(black_box(&json)))
    });
    c.bench_function(
        "read a 5,000-event snapshot from JSON and resume with 1 new event",
        |b| {
            b.iter(|| {
                Snapshot::from_json(black_box(&json))
                    .map(|s| resume(&t, &s, black_box(&one_more), next_day))
            })
        },
    );

    // The same on a 10-event loan: what the 5,000-event one is held against.
    let few = &frequent[..10];
    let few_day = few.last().map_or(t.disbursement_date, |e| e.date);
    let small = match Snapshot::take(&t, few, few_day).map(|s| s.to_json()) {
        Ok(Ok(j)) => j,
        Ok(Err(e)) => panic!("snapshot JSON failed: {e}"),
        Err(e) => panic!("snapshot failed: {e}"),
    };
    let after_few = match few_day.checked_add(1.days()) {
        Ok(d) => d,
        Err(e) => panic!("date overflow: {e}"),
    };
    let one_after_few = [payment(after_few, part, 5_001)];
    c.bench_function(
        "read a 10-event snapshot from JSON and resume with 1 new event",
        |b| {
            b.iter(|| {
                Snapshot::from_json(black_box(&small))
                    .map(|s| resume(&t, &s, black_box(&one_after_few), after_few))
            })
        },
    );
}

criterion_group!(benches, replays);
criterion_main!(benches);
