use std::collections::{BTreeMap, HashMap};

use loanbook_domain::delinquency::Classification;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{self, Status};

use super::*;

fn spec(loans: usize, seed: u64) -> BookSpec {
    BookSpec {
        loans,
        seed,
        as_of: Date::constant(2026, 3, 31),
        max_age_days: products::MAX_AGE_DAYS,
    }
}

#[test]
fn the_same_seed_gives_the_same_loans_and_another_seed_others() {
    let a = spec(100, 7);
    for i in [0, 1, 63, 64, 99, 12_345] {
        assert_eq!(loan(&a, i), loan(&a, i));
    }
    let b = spec(100, 8);
    let same = (0..50).filter(|&i| loan(&a, i) == loan(&b, i)).count();
    assert_eq!(same, 0);
}

#[test]
fn every_history_replays_on_every_day_and_stays_within_the_as_of_date() {
    let s = spec(3_000, 42);
    for i in 0..s.loans {
        let l = loan(&s, i);
        assert!(
            l.events.windows(2).all(|w| w[0].date <= w[1].date),
            "{}: events out of date order",
            l.number
        );
        assert!(l.events.iter().all(|e| e.date <= s.as_of), "{}", l.number);
        assert!(
            matches!(l.events[0].kind, EventKind::Disbursement { .. }),
            "{}",
            l.number
        );
        if let Err(e) = loan::check_history(&l.terms, &l.events, s.as_of) {
            panic!("{} ({}) does not replay: {e}", l.number, l.product);
        }
    }
}

#[test]
fn stored_encoding_reads_back_as_trusted() {
    let s = spec(200, 3);
    for i in 0..s.loans {
        let l = loan(&s, i);
        for e in &l.events {
            let text = e.to_stored_json(l.terms.currency);
            let back = Event::from_trusted_json(&text, l.terms.currency).unwrap();
            assert_eq!(&back, e);
        }
    }
}

#[test]
fn a_book_of_ten_thousand_holds_every_class_and_closed_loans() {
    let s = spec(10_000, 1);
    let mut classes: BTreeMap<Classification, usize> = BTreeMap::new();
    let mut statuses: HashMap<Status, usize> = HashMap::new();
    let mut products: HashMap<&str, usize> = HashMap::new();
    let mut bounced = 0;
    let mut prepaid = 0;
    for i in 0..s.loans {
        let l = loan(&s, i);
        let state = loan::replay(&l.terms, &l.events, s.as_of).unwrap();
        *classes.entry(state.classification).or_default() += 1;
        *statuses.entry(state.status).or_default() += 1;
        *products.entry(l.product).or_default() += 1;
        let kinds = |f: fn(&EventKind) -> bool| l.events.iter().any(|e| f(&e.kind));
        bounced += usize::from(kinds(|k| matches!(k, EventKind::PaymentReversal { .. })));
        prepaid += usize::from(kinds(|k| matches!(k, EventKind::Prepayment { .. })));
    }
    for class in [
        Classification::Standard,
        Classification::Sma0,
        Classification::Sma1,
        Classification::Sma2,
        Classification::Npa,
    ] {
        assert!(
            classes.get(&class).copied().unwrap_or(0) >= 25,
            "{classes:?}"
        );
    }
    // The delinquent tail is a few percent, the book mostly standard.
    let standard = classes[&Classification::Standard];
    assert!(standard > 8_500, "{classes:?}");
    let npa = classes[&Classification::Npa];
    assert!((100..600).contains(&npa), "{classes:?}");
    assert!(statuses[&Status::Active] > 4_000, "{statuses:?}");
    assert!(statuses[&Status::Closed] > 1_000, "{statuses:?}");
    assert!(statuses[&Status::Foreclosed] > 50, "{statuses:?}");
    assert!(
        products["personal"] > products["two_wheeler"],
        "{products:?}"
    );
    for p in ["personal", "two_wheeler", "msme", "msme_colending", "gold"] {
        assert!(products.get(p).copied().unwrap_or(0) > 300, "{products:?}");
    }
    assert!(
        bounced > 200 && prepaid > 100,
        "{bounced} bounced, {prepaid} prepaid"
    );
}

#[test]
fn co_lent_loans_and_borrowers_with_several_facilities_appear() {
    let s = spec(2_000, 9);
    let loans: Vec<SimLoan> = (0..s.loans).map(|i| loan(&s, i)).collect();
    let colent: Vec<&SimLoan> = loans
        .iter()
        .filter(|l| !l.terms.partners.is_empty())
        .collect();
    assert!(colent.len() > 100);
    assert!(colent.iter().all(|l| l.product == "msme_colending"));
    let mut by_borrower: HashMap<&str, usize> = HashMap::new();
    for l in &loans {
        *by_borrower.entry(&l.borrower).or_default() += 1;
    }
    let borrowers = by_borrower.len();
    let multi = by_borrower.values().filter(|n| **n > 1).count();
    assert!(by_borrower.values().all(|n| *n <= 3));
    // About one borrower in ten.
    assert!(
        multi * 100 > borrowers * 6 && multi * 100 < borrowers * 14,
        "{multi} of {borrowers}"
    );
}

/// A quiet plan says truly what the loan's day-ends do until it wakes: nothing but the interest
/// accrued rising by the plan's amounts, day by day, with no effect on any day.
#[test]
fn a_quiet_plan_is_what_the_day_ends_do_until_the_loan_wakes() {
    let s = spec(1_500, 5);
    let (mut quiet, mut days) = (0, 0);
    for i in 0..s.loans {
        let l = loan(&s, i);
        let snapshot = loan::Snapshot::take(&l.terms, &l.events, s.as_of).unwrap();
        let plan = snapshot.engine.quiet_plan(&l.terms, s.as_of);
        let start = loan::LoanState::new(&l.terms, &snapshot.engine, s.as_of);
        let Some(wake) = plan.wake_on else {
            assert!(
                !matches!(start.status, Status::Active | Status::Pending),
                "{}",
                l.number
            );
            continue;
        };
        assert!(wake > s.as_of, "{}", l.number);
        if plan.accruals.is_empty() {
            assert_eq!(wake, s.as_of.tomorrow().unwrap(), "{}", l.number);
            continue;
        }
        quiet += 1;
        let mut before = start.balances.interest_accrued;
        let mut day = s.as_of;
        for (k, planned) in plan.accruals.iter().enumerate() {
            day = day.tomorrow().unwrap();
            days += 1;
            let r = match loan::resume(&l.terms, &snapshot, &[], day).unwrap() {
                loan::Resumed::Applied(r) => r,
                loan::Resumed::NeedsEarlier(_) => panic!("{}: needs earlier", l.number),
            };
            let today = &r.state;
            assert_eq!(
                today.balances.interest_accrued - before,
                *planned,
                "{} day {k} ({day})",
                l.number
            );
            before = today.balances.interest_accrued;
            assert!(
                r.effects.iter().all(|e| e.date <= s.as_of),
                "{}: an effect on a quiet day",
                l.number
            );
            assert_eq!(today.dpd, 0, "{}", l.number);
            assert_eq!(today.classification, start.classification, "{}", l.number);
            assert_eq!(today.status, start.status, "{}", l.number);
            assert_eq!(
                today.balances.principal_outstanding, start.balances.principal_outstanding,
                "{}",
                l.number
            );
            assert_eq!(today.total_overdue, 0, "{}", l.number);
        }
        assert_eq!(day.tomorrow().unwrap(), wake, "{}", l.number);
    }
    assert!(
        quiet > 500 && days > 5_000,
        "{quiet} quiet loans, {days} days"
    );
}
