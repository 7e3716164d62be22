//! Properties of the loan engine over random terms and random event sequences.
//!
//! 1. Money is conserved: every rupee received (payments, prepayments, recoveries, settlements,
//!    foreclosures, less the reversed ones) is on an instalment, on a charge, in principal repaid
//!    ahead of schedule, or held as excess; and principal disbursed is exactly what the schedule
//!    and the prepayments account for.
//! 2. No balance, instalment component, charge, allocation or partner column goes negative.
//! 3. A full replay, an incremental one (stopping at several dates) and one resumed from a JSON
//!    snapshot give the same state.
//! 4. Events apply in value-date order, ties in recorded order: any recorded order (a back-dated
//!    event inserted anywhere, or the whole list shuffled) replays exactly as the list sorted by
//!    value date does.
//! 5. Reversing a payment restores the state without it.
//! 6. Co-lending: each partner column adds up to the borrower's figure to the paisa.
//! 7. Paying more never leaves more owing, nor keeps open a loan that closed without it (for
//!    loans that hold excess money rather than re-shape the schedule with it).
//!
//! Alongside 1, 2 and 6, every state is checked to be a schedule: instalments numbered in
//! sequence on rising dates, never longer than at disbursement unless a rate change kept the
//! instalment.
//!
//! The event lists are valid by construction, as a service would record them: a waiver never
//! exceeds what is due, a foreclosure pays at least its quote, nothing follows the loan's closure.
//! So the engine must accept every list, and a refusal is a failure, not a case to skip. The one
//! exception is a reversal that would make an earlier-recorded event invalid (see
//! `undone_by_reversal`): a service refuses it, and so does the generator.

mod support;

use std::collections::{HashMap, HashSet};

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind, PrepaymentAdjust, RateChangeKeep};
use loanbook_domain::loan::{EffectKind, Engine, LoanState, Status, replay};
use loanbook_domain::terms::Terms;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use support::*;

// ---------------------------------------------------------------------------------------------
// Invariants of one state
// ---------------------------------------------------------------------------------------------

/// Money received by the end of `as_of` that no reversal dated by then takes back, by reference.
fn received(list: &[Event], as_of: Date) -> HashMap<String, i64> {
    let reversed: HashSet<&str> = list
        .iter()
        .filter(|e| e.date <= as_of)
        .filter_map(|e| match &e.kind {
            EventKind::PaymentReversal { reference, .. } => Some(reference.as_str()),
            _ => None,
        })
        .collect();
    list.iter()
        .filter(|e| e.date <= as_of)
        .filter_map(|e| {
            let amount = match &e.kind {
                EventKind::Payment { amount, .. }
                | EventKind::Prepayment { amount, .. }
                | EventKind::Recovery { amount, .. }
                | EventKind::Settlement { amount, .. }
                | EventKind::Foreclosure { amount, .. } => *amount,
                _ => return None,
            };
            let r = e.kind.receipt_reference()?;
            (!reversed.contains(r)).then(|| (r.to_owned(), amount))
        })
        .collect()
}

fn disbursed(list: &[Event], as_of: Date) -> i64 {
    list.iter()
        .filter(|e| e.date <= as_of)
        .map(|e| match e.kind {
            EventKind::Disbursement { amount, .. } => amount,
            _ => 0,
        })
        .sum()
}

/// Properties 1, 2 and 6 on the state at the end of `as_of`.
fn check_state(t: &Terms, list: &[Event], as_of: Date) -> Result<(), TestCaseError> {
    let mut e = Engine::new(t);
    let effects = e
        .run_with_effects(t, list, as_of)
        .map_err(|err| TestCaseError::fail(err.to_string()))?;
    let s = LoanState::new(t, &e, as_of);
    // Where each receipt went: its `allocated` effects (to dues, charges or principal ahead of
    // schedule), each with its co-lenders' parts.
    let allocated: Vec<(&str, i64, &[i64])> = effects
        .iter()
        .filter_map(|x| match &x.kind {
            EffectKind::Allocated {
                reference,
                amount,
                partner_parts,
                ..
            } => Some((reference.as_str(), *amount, partner_parts.as_slice())),
            _ => None,
        })
        .collect();
    prop_assert_eq!(&s, &replay(t, list, as_of).expect("replays"));
    let b = &s.balances;

    // 1. Money is conserved.
    let money_in = received(list, as_of);
    let engine_receipts: HashSet<&str> = e.receipts.iter().map(|(r, _)| r).collect();
    prop_assert_eq!(
        &engine_receipts,
        &money_in.keys().map(String::as_str).collect::<HashSet<_>>(),
        "receipts on the loan"
    );
    let total_in: i64 = money_in.values().sum();
    let paid_dues: i64 = e
        .dues
        .iter()
        .map(|d| d.paid_principal + d.paid_interest)
        .sum();
    let paid_principal: i64 = e.dues.iter().map(|d| d.paid_principal).sum();
    let paid_interest: i64 = e.dues.iter().map(|d| d.paid_interest).sum();
    let paid_charges: i64 = e.charges.iter().map(|c| c.paid).sum();
    prop_assert_eq!(
        s.installments.iter().map(|i| i.paid).sum::<i64>(),
        paid_dues
    );
    prop_assert_eq!(b.excess, e.excess_total());
    prop_assert_eq!(
        total_in,
        paid_dues + paid_charges + e.prepaid + b.excess,
        "received = instalments + charges + prepaid + excess"
    );
    for (reference, amount) in &money_in {
        let went: i64 = allocated
            .iter()
            .filter(|(x, ..)| *x == reference)
            .map(|(_, a, _)| a)
            .sum();
        let held: i64 = e
            .excess
            .iter()
            .filter(|(x, _)| x == reference)
            .map(|(_, a)| a)
            .sum();
        prop_assert_eq!(*amount, went + held, "receipt {}", reference);
    }
    // Principal: what was disbursed is scheduled (paid or not) or prepaid; what is outstanding
    // is what is not yet repaid.
    let lent = disbursed(list, as_of);
    prop_assert_eq!(e.disbursed, lent);
    prop_assert_eq!(
        e.dues.iter().map(|d| d.principal).sum::<i64>() + e.prepaid,
        lent,
        "scheduled principal + prepaid = disbursed"
    );
    let unrepaid = lent - paid_principal - e.prepaid;
    if is_open(&s) {
        prop_assert_eq!(b.principal_outstanding, unrepaid);
    }
    if s.status == Status::Closed {
        prop_assert_eq!(unrepaid, 0, "a closed loan has no principal left");
    }
    if let Some(shortfall) = &s.settlement_shortfall {
        prop_assert_eq!(shortfall.principal, unrepaid);
    }

    // The schedule stays a schedule: numbered in sequence (an instalment 0 carries only
    // broken-period interest), due dates rising, and no longer than at disbursement unless a rate
    // change kept the instalment (a settlement, foreclosure or recovery brings what is left to
    // its own date).
    let closed_early = matches!(
        s.status,
        Status::Settled | Status::Foreclosed | Status::WrittenOff
    );
    for w in s.installments.windows(2) {
        // What a settlement, foreclosure or recovery brings forward falls due on its own date,
        // which may be a due date.
        let rising =
            w[1].due_date > w[0].due_date || (closed_early && w[1].due_date == w[0].due_date);
        prop_assert!(
            w[1].number == w[0].number + 1 && rising,
            "instalments out of sequence: {:?}",
            w
        );
    }
    for i in s.installments.iter().filter(|i| i.number == 0) {
        prop_assert_eq!(i.principal, 0, "{:?}", i);
    }
    let kept_emi = list.iter().any(|e| {
        e.date <= as_of
            && matches!(
                e.kind,
                EventKind::RateChange {
                    keep: RateChangeKeep::Emi,
                    ..
                }
            )
    });
    if !kept_emi && !closed_early {
        let first = engine_at(t, &list[..1], t.disbursement_date).expect("disburses");
        let (Some(now), Some(then)) = (s.installments.last(), first.dues.last()) else {
            return Err(TestCaseError::fail("no instalments"));
        };
        prop_assert!(
            now.number <= then.number && now.due_date <= then.due_date,
            "the loan grew longer: {:?} after {:?}",
            now,
            then
        );
    }

    // 2. Nothing negative.
    for v in [
        b.principal_outstanding,
        b.principal_overdue,
        b.interest_overdue,
        b.interest_accrued,
        b.interest_suspended,
        b.charges_due,
        b.penal_accrued,
        b.excess,
        s.total_overdue,
        s.foreclosure_amount,
        s.recovered,
        e.prepaid,
    ] {
        prop_assert!(v >= 0, "negative balance in {:?}", b);
    }
    prop_assert!(b.principal_overdue <= b.principal_outstanding);
    for i in &s.installments {
        prop_assert!(
            i.principal >= 0 && i.interest >= 0 && i.paid >= 0 && i.waived >= 0,
            "{:?}",
            i
        );
        prop_assert!(i.paid + i.waived + i.capitalised <= i.total, "{:?}", i);
    }
    for d in &e.dues {
        prop_assert!(
            d.unpaid_principal() >= 0 && d.unpaid_interest() >= 0 && d.paid_principal >= 0,
            "{:?}",
            d
        );
    }
    for c in &e.charges {
        prop_assert!(
            c.amount > 0 && c.paid >= 0 && c.waived >= 0 && c.unpaid() >= 0,
            "{:?}",
            c
        );
    }
    for (r, a) in &e.excess {
        prop_assert!(*a > 0, "excess of {} is {}", r, a);
    }
    for a in &allocated {
        prop_assert!(a.1 > 0, "{:?}", a);
    }
    for loss in s
        .written_off
        .map(|(_, l)| l)
        .iter()
        .chain(s.settlement_shortfall.iter())
    {
        prop_assert!(
            loss.principal >= 0 && loss.interest >= 0 && loss.charges >= 0,
            "{:?}",
            loss
        );
    }

    // 6. Co-lenders: every column adds up to the borrower's figure exactly.
    if !t.partners.is_empty() {
        prop_assert_eq!(s.partners.len(), t.partners.len());
        let sum = |f: fn(&loanbook_domain::loan::PartnerState) -> i64| {
            s.partners.iter().map(f).sum::<i64>()
        };
        prop_assert_eq!(
            sum(|p| p.principal_outstanding),
            b.principal_outstanding,
            "principal outstanding"
        );
        prop_assert_eq!(
            sum(|p| p.principal_received),
            paid_principal + e.prepaid,
            "principal received"
        );
        prop_assert_eq!(
            sum(|p| p.interest_received),
            paid_interest,
            "interest received"
        );
        prop_assert_eq!(
            sum(|p| p.charges_received),
            paid_charges,
            "charges received"
        );
        prop_assert_eq!(
            e.partners.iter().map(|p| p.principal_funded).sum::<i64>(),
            lent + e.capitalised,
            "principal funded"
        );
        for p in &s.partners {
            prop_assert!(
                p.principal_outstanding >= 0
                    && p.principal_received >= 0
                    && p.interest_received >= 0
                    && p.charges_received >= 0,
                "{:?}",
                p
            );
        }
        for p in &e.partners {
            prop_assert!(p.principal_received <= p.principal_funded, "{:?}", p);
        }
        for (reference, amount, parts) in &allocated {
            prop_assert_eq!(parts.iter().sum::<i64>(), *amount, "{}", reference);
        }
    }
    Ok(())
}

/// The end of the loan's life as generated, and a little after.
fn horizon(list: &[Event], extra: i64) -> Date {
    plus(
        list.iter().map(|e| e.date).max().expect("a disbursement"),
        extra,
    )
}

/// The state, or the refusal without its position in the list (which a re-ordering moves).
fn outcome(
    t: &Terms,
    list: &[Event],
    as_of: Date,
) -> Result<LoanState, (&'static str, Date, &'static str, String)> {
    replay(t, list, as_of).map_err(|e| (e.event, e.date, e.field, e.rule))
}

/// The list in application order: by value date, ties in recorded order.
fn sorted(list: &[Event]) -> Vec<Event> {
    let mut v = list.to_vec();
    v.sort_by_key(|e| e.date);
    v
}

/// What the borrower owes at the end of the day, less what is held for them.
fn owing(s: &LoanState) -> i64 {
    let b = &s.balances;
    b.principal_outstanding
        + b.interest_overdue
        + b.interest_accrued
        + b.charges_due
        + b.penal_accrued
        - b.excess
}

fn is_open(s: &LoanState) -> bool {
    matches!(s.status, Status::Active | Status::WrittenOff)
}

proptest! {
    #![proptest_config(config())]

    /// Properties 1, 2 and 6 on every day an event applies, and after the last one.
    #[test]
    fn money_is_conserved_and_nothing_goes_negative(t in arb_terms(), story in arb_story(), extra in 0i64..400) {
        let list = build_events(&t, &story)?;
        let mut days: Vec<Date> = list.iter().map(|e| e.date).collect();
        days.dedup();
        days.push(horizon(&list, extra));
        for as_of in days {
            check_state(&t, &list, as_of)?;
        }
    }

    /// Property 6 with every loan co-lent, under both splits.
    #[test]
    fn co_lenders_columns_add_up_to_the_borrowers(t in arb_colending_terms(), story in arb_story(), extra in 0i64..400) {
        let list = build_events(&t, &story)?;
        let mut days: Vec<Date> = list.iter().map(|e| e.date).collect();
        days.dedup();
        days.push(horizon(&list, extra));
        for as_of in days {
            check_state(&t, &list, as_of)?;
        }
    }

    /// Property 3: full = incremental = snapshot-resumed, at every stop and at the end.
    #[test]
    fn full_incremental_and_snapshot_replays_agree(
        t in arb_terms(), story in arb_story(), cuts in prop::collection::vec(0i64..900, 1..6),
    ) {
        let list = build_events(&t, &story)?;
        let end = horizon(&list, 30);
        let full = replay(&t, &list, end).expect("replays");
        let mut full_engine = Engine::new(&t);
        full_engine.run(&t, &list, end).expect("replays");

        let mut cuts: Vec<Date> = cuts.into_iter().map(|c| plus(t.disbursement_date, c).min(end)).collect();
        cuts.sort_unstable();
        let mut engine = Engine::new(&t);
        for &cut in &cuts {
            engine.run(&t, &list, cut).expect("runs");
            prop_assert_eq!(&LoanState::new(&t, &engine, cut), &replay(&t, &list, cut).expect("replays"), "at {}", cut);
            // A snapshot stored as JSON and read back resumes to the full replay's state.
            let stored = serde_json::to_string(&engine).expect("serialises");
            let snapshot: Engine = serde_json::from_str(&stored).expect("deserialises");
            prop_assert_eq!(&snapshot, &engine);
            let resumed = snapshot.resume(&t, &list, end).expect("resumes");
            prop_assert_eq!(&LoanState::new(&t, &resumed, end), &full, "resumed from {}", cut);
            prop_assert_eq!(&resumed, &full_engine, "resumed from {}", cut);
        }
        engine.run(&t, &list, end).expect("runs");
        prop_assert_eq!(&LoanState::new(&t, &engine, end), &full);
        prop_assert_eq!(&engine, &full_engine);
    }

    /// Property 4: an event recorded late (moved anywhere in the list) replays as the sorted list
    /// does, and so does any shuffle of the whole list.
    #[test]
    fn recorded_order_matters_only_within_a_day(
        t in arb_terms(), story in arb_story(),
        from in any::<prop::sample::Index>(), to in any::<prop::sample::Index>(),
        seed in any::<u64>(), mid in 0i64..800,
    ) {
        let list = build_events(&t, &story)?;
        let end = horizon(&list, 30);
        let mid = plus(t.disbursement_date, mid).min(end);

        // One event recorded out of place.
        let mut late = list.clone();
        let e = late.remove(from.index(list.len()));
        late.insert(to.index(list.len()), e);
        let in_order = sorted(&late);
        for as_of in [mid, end] {
            prop_assert_eq!(outcome(&t, &late, as_of), outcome(&t, &in_order, as_of), "as of {}", as_of);
        }
        if in_order == list {
            // Same-day order kept: exactly the recorded loan.
            prop_assert_eq!(outcome(&t, &late, end), outcome(&t, &list, end));
        }

        // The whole list shuffled (Fisher-Yates on a small LCG).
        let mut shuffled = list.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        for as_of in [mid, end] {
            prop_assert_eq!(outcome(&t, &shuffled, as_of), outcome(&t, &sorted(&shuffled), as_of), "as of {}", as_of);
        }
    }

    /// Property 5, for a payment of the recorded list: reversing it gives, from the reversal's
    /// date on, the state of the list without it; before that date the payment stands.
    ///
    /// What is compared is the whole state (balances, instalments paid, DPD, class and class
    /// history, penal charges, partner columns, excess) except `events_applied`, which counts
    /// the payment and its reversal. The class history is equal too, by the engine's design
    /// (docs/events.md, `payment_reversal`): a reversal takes its receipt out of the whole
    /// replay, so a bounced instalment reads as never paid, DPD counts from its due date, and a
    /// class the loan would have reached between the payment and the reversal is in the history
    /// with its own date. Until the reversal's date, the state is that of the list with the
    /// payment.
    #[test]
    fn reversing_a_recorded_payment_restores_the_state_without_it(
        t in arb_terms(), story in arb_story(), pick in any::<prop::sample::Index>(),
        when in any::<prop::sample::Index>(), later in 0i64..60,
    ) {
        let mut list = build_events(&t, &story)?;
        // A foreclosure was sized to the quote with the payment; without it, it pays too little.
        list.retain(|e| !matches!(e.kind, EventKind::Foreclosure { .. }));
        let reversed: HashSet<String> = list.iter().filter_map(|e| match &e.kind {
            EventKind::PaymentReversal { reference, .. } => Some(reference.clone()),
            _ => None,
        }).collect();
        let payments: Vec<usize> = (0..list.len()).filter(|&i| match &list[i].kind {
            EventKind::Payment { reference, .. } => !reversed.contains(reference),
            _ => false,
        }).collect();
        prop_assume!(!payments.is_empty());
        let at = payments[pick.index(payments.len())];
        let paid_on = list[at].date;
        let reference = list[at].kind.receipt_reference().map(str::to_owned).expect("a payment");
        let mut without = list.clone();
        without.remove(at);
        let end = horizon(&list, 30);
        let base = match replay(&t, &without, end) {
            Ok(base) => base,
            // The list without the payment refuses an event that was valid only with it (see
            // `undone_by_reversal`): so would the list with its reversal.
            Err(e) if undone_by_reversal(&e) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("without the payment: {e}"))),
        };
        // A reversal applies to a loan still open on its date.
        let limit = base.closed_on.unwrap_or(end);
        prop_assume!(limit > paid_on);
        let span = (limit - paid_on).get_days().min(60) as usize;
        let reverse_on = plus(paid_on, when.index(span) as i64);
        let mut with = list.clone();
        with.push(Event { date: reverse_on, kind: EventKind::PaymentReversal { reference, reason: None } });

        for as_of in [reverse_on, plus(reverse_on, later), end.max(reverse_on)] {
            let mut a = replay(&t, &with, as_of).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let b = replay(&t, &without, as_of).expect("replays");
            prop_assert_eq!(a.events_applied, b.events_applied + 2);
            a.events_applied = b.events_applied;
            prop_assert_eq!(a, b, "as of {}", as_of);
        }
        if let Some(eve) = reverse_on.yesterday().ok().filter(|d| *d >= paid_on) {
            prop_assert_eq!(replay(&t, &with, eve).ok(), replay(&t, &list, eve).ok(), "before the reversal");
        }
    }

    /// Property 5, for a payment of any size added on any day of the loan.
    #[test]
    fn reversing_an_added_payment_restores_the_state_without_it(
        t in arb_terms(), story in arb_story(), day in any::<prop::sample::Index>(),
        size in 1u32..30_000, later in 0i64..60,
    ) {
        let list = build_events(&t, &story)?;
        let end = horizon(&list, 30);
        let base = replay(&t, &list, end).expect("replays");
        // A payment applies to an open loan not written off, and so does its reversal.
        let limit = [base.closed_on, base.written_off.map(|(d, _)| d)]
            .into_iter().flatten().min().unwrap_or(end);
        let span = (limit - t.disbursement_date).get_days();
        prop_assume!(span > 0);
        let paid_on = plus(t.disbursement_date, day.index(span as usize) as i64);
        let reverse_on = plus(paid_on, later).min(limit.yesterday().expect("a date"));
        let amount = part(base.installment_amount.max(100), size);
        let payment = Event { date: paid_on, kind: EventKind::Payment { amount, reference: "PX".into(), channel: None } };
        let mut paid = list.clone();
        paid.push(payment);
        let mut with = paid.clone();
        with.push(Event { date: reverse_on, kind: EventKind::PaymentReversal { reference: "PX".into(), reason: None } });

        for as_of in [reverse_on, plus(reverse_on, later), end] {
            let mut a = replay(&t, &with, as_of).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let b = replay(&t, &list, as_of).expect("replays");
            prop_assert_eq!(a.events_applied, b.events_applied + 2);
            a.events_applied = b.events_applied;
            prop_assert_eq!(a, b, "as of {}", as_of);
        }
        // Before the reversal the payment stands (the list with it may refuse a later waiver
        // sized without it: then both refuse).
        if let Some(eve) = reverse_on.yesterday().ok().filter(|d| *d >= paid_on) {
            prop_assert_eq!(outcome(&t, &with, eve), outcome(&t, &paid, eve), "before the reversal");
        }
    }

    /// Property 7. Money reduces what is owed: a payment added on any day leaves at least that much less
    /// owing on every later day (principal, interest overdue and accrued, charges and penal
    /// charges, less money held), and never keeps open a loan that closed without it. (The list
    /// with the extra payment may refuse a later waiver sized without it: nothing to compare
    /// then.)
    ///
    /// For loans that hold excess money (`advance`, `refund`): under `reduce_emi` and
    /// `reduce_tenure` the payment itself re-shapes the schedule, and a lower instalment
    /// legitimately costs more interest later than the schedule it replaces. For the same
    /// reason the amount is not compared when a later event sets a new instalment from the
    /// outstanding (a `reduce_emi` prepayment, a rate change keeping the tenure, a
    /// restructure): with the payment the new instalment is lower, and its slower amortisation
    /// can cost a few paise more interest. Then the payment must still leave less owing.
    #[test]
    fn paying_more_never_leaves_more_owing(
        t in arb_holding_terms(), story in arb_story(), day in any::<prop::sample::Index>(),
        size in 1u32..30_000, later in 0i64..400,
    ) {
        let list = build_events(&t, &story)?;
        let end = horizon(&list, 30);
        let base = replay(&t, &list, end).expect("replays");
        let limit = [base.closed_on, base.written_off.map(|(d, _)| d)]
            .into_iter().flatten().min().unwrap_or(end);
        let span = (limit - t.disbursement_date).get_days();
        prop_assume!(span > 0);
        let paid_on = plus(t.disbursement_date, day.index(span as usize) as i64);
        let amount = part(base.installment_amount.max(100), size);
        let mut paid = list.clone();
        paid.push(Event { date: paid_on, kind: EventKind::Payment { amount, reference: "PX".into(), channel: None } });
        let as_of = plus(paid_on, later);
        let Ok(more) = replay(&t, &paid, as_of) else { return Ok(()) };
        let less = replay(&t, &list, as_of).expect("replays");
        let reshaped_later = list.iter().any(|e| e.date >= paid_on && matches!(
            e.kind,
            EventKind::Prepayment { adjust: PrepaymentAdjust::ReduceEmi, .. }
                | EventKind::RateChange { keep: RateChangeKeep::Tenure, .. }
                | EventKind::Restructure { .. }
        ));
        if is_open(&more) && is_open(&less) {
            // Re-shaped later, the payment still leaves less owing, if not by all of it.
            let bound = if reshaped_later { owing(&less) - 1 } else { owing(&less) - amount };
            prop_assert!(
                owing(&more) <= bound,
                "{} paid on {}: owing {} against {} without it", amount, paid_on, owing(&more), owing(&less)
            );
        }
        prop_assert!(
            !(less.status == Status::Closed && more.status == Status::Active),
            "paying {} on {} keeps open a loan closed without it", amount, paid_on
        );
    }
}
