//! The event-sourced loan engine: RBI's day-end example, co-lending splits, and every event type.

use jiff::civil::{Date, date};
use loanbook_domain::delinquency::Classification;
use loanbook_domain::events::Event;
use loanbook_domain::loan::{
    Engine, LoanState, Status, foreclosure_quote, prepayment_preview, replay,
};
use loanbook_domain::terms::Terms;
use serde_json::{Value, json};

fn terms(v: Value) -> Terms {
    Terms::from_json(&v.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn events(t: &Terms, list: Value) -> Vec<Event> {
    Event::list_from_json(&list.to_string(), t.currency).unwrap_or_else(|e| panic!("{e:?}"))
}

fn state(t: &Terms, list: &[Event], as_of: Date) -> LoanState {
    replay(t, list, as_of).unwrap_or_else(|e| panic!("{e}"))
}

fn c(v: &str) -> i64 {
    let (i, f) = v.split_once('.').unwrap_or((v, "00"));
    i.parse::<i64>().unwrap() * 100 + format!("{f:0<2}").parse::<i64>().unwrap()
}

/// A 12-month loan whose first instalment is due on 31 March.
fn march_loan() -> Terms {
    terms(json!({
        "currency": "INR", "principal": "100000.00", "annual_rate": "12", "method": "emi",
        "installments": 12, "frequency": "monthly", "disbursement_date": "2024-03-01",
        "first_due_date": "2024-03-31", "broken_period": "ignore"
    }))
}

#[test]
fn rbi_day_end_example() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([{"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"}]),
    );
    let expect = [
        (date(2024, 3, 30), 0, Classification::Standard),
        (date(2024, 3, 31), 1, Classification::Sma0),
        (date(2024, 4, 29), 30, Classification::Sma0),
        (date(2024, 4, 30), 31, Classification::Sma1),
        (date(2024, 5, 29), 60, Classification::Sma1),
        (date(2024, 5, 30), 61, Classification::Sma2),
        (date(2024, 6, 28), 90, Classification::Sma2),
        (date(2024, 6, 29), 91, Classification::Npa),
    ];
    for (day, dpd, class) in expect {
        let s = state(&t, &ev, day);
        assert_eq!((s.dpd, s.classification), (dpd, class), "{day}");
    }
    let s = state(&t, &ev, date(2024, 6, 29));
    let history: Vec<(Date, Classification)> = s.classification_history.clone();
    assert_eq!(
        history,
        vec![
            (date(2024, 3, 31), Classification::Sma0),
            (date(2024, 4, 30), Classification::Sma1),
            (date(2024, 5, 30), Classification::Sma2),
            (date(2024, 6, 29), Classification::Npa),
        ]
    );
    assert_eq!(s.npa_since, Some(date(2024, 6, 29)));
    // Once NPA, interest is no longer income: unpaid interest is suspended.
    assert_eq!(
        s.balances.interest_suspended,
        s.balances.interest_overdue + s.balances.interest_accrued
    );
    assert!(s.balances.interest_suspended > 0);

    // Paying part of the arrears does not upgrade the account, even with DPD below 90.
    let first = s.installments[0].total;
    let mut partial = ev.clone();
    partial.extend(events(
        &t,
        json!([{"type": "payment", "date": "2024-07-05",
        "amount": format!("{}.{:02}", first / 100, first % 100), "reference": "P1"}]),
    ));
    let s = state(&t, &partial, date(2024, 7, 5));
    assert_eq!(s.dpd, 67);
    assert_eq!(s.classification, Classification::Npa);

    // Paying every arrear does.
    let arrears = state(&t, &partial, date(2024, 7, 5)).total_overdue;
    let mut all = partial.clone();
    all.extend(events(
        &t,
        json!([{"type": "payment", "date": "2024-07-06",
        "amount": format!("{}.{:02}", arrears / 100, arrears % 100), "reference": "P2"}]),
    ));
    let s = state(&t, &all, date(2024, 7, 6));
    assert_eq!(s.dpd, 0);
    assert_eq!(s.classification, Classification::Standard);
    assert_eq!(
        s.classification_history.last(),
        Some(&(date(2024, 7, 6), Classification::Standard))
    );
    assert_eq!(s.balances.interest_suspended, 0);
}

#[test]
fn blended_co_lending_first_instalment_to_the_paisa() {
    let t = terms(json!({
        "currency": "INR", "principal": "1000000.00", "annual_rate": "11.6", "method": "emi",
        "installments": 60, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "partners": [{"id": "bank", "share": "80", "annual_rate": "10"},
                     {"id": "nbfc", "share": "20", "annual_rate": "18"}],
        "split": "principal_pro_rata"
    }));
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-01-01", "amount": "1000000.00"},
            {"type": "payment", "date": "2024-02-01", "amount": "22042.84", "reference": "EMI1"}
        ]),
    );
    let s = state(&t, &ev, date(2024, 2, 1));
    assert_eq!(s.installment_amount, c("22042.84"));
    assert_eq!(s.installments[0].interest, c("9666.67"));
    assert_eq!(s.installments[0].principal, c("12376.17"));
    let bank = &s.partners[0];
    let nbfc = &s.partners[1];
    assert_eq!(
        (bank.interest_received, bank.principal_received),
        (c("6666.67"), c("9900.94"))
    );
    assert_eq!(
        (nbfc.interest_received, nbfc.principal_received),
        (c("3000.00"), c("2475.23"))
    );
    assert_eq!(
        bank.principal_outstanding + nbfc.principal_outstanding,
        s.balances.principal_outstanding
    );
    assert_eq!(bank.principal_outstanding, c("790099.06"));
}

#[test]
fn payment_reversal_reopens_the_instalment() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "UTR1", "channel": "nach"},
            {"type": "payment_reversal", "date": "2024-04-03", "reference": "UTR1", "reason": "insufficient funds"},
            {"type": "charge", "date": "2024-04-03", "kind": "bounce", "amount": "500.00"}
        ]),
    );
    let s = state(&t, &ev, date(2024, 4, 2));
    assert_eq!(
        s.installments[0].paid,
        s.installments[0].total.min(c("8884.88"))
    );
    let s = state(&t, &ev, date(2024, 4, 3));
    assert_eq!(s.installments[0].paid, 0);
    assert_eq!(s.dpd, 4);
    assert_eq!(s.balances.charges_due, c("500.00"));
    // Reversing twice, or an unknown payment, is refused.
    let mut twice = ev.clone();
    twice.extend(events(
        &t,
        json!([{"type": "payment_reversal", "date": "2024-04-04", "reference": "UTR1"}]),
    ));
    let err = replay(&t, &twice, date(2024, 4, 5)).unwrap_err();
    assert_eq!((err.index, err.field), (4, "reference"));
    assert!(err.rule.contains("already reversed"));
}

#[test]
fn back_dated_events_replay_as_if_sorted() {
    let t = march_loan();
    let sorted = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-04-02", "amount": "9000.00", "reference": "A"},
            {"type": "payment", "date": "2024-05-10", "amount": "9000.00", "reference": "B"}
        ]),
    );
    let shuffled = vec![sorted[0].clone(), sorted[2].clone(), sorted[1].clone()];
    let a = state(&t, &sorted, date(2024, 7, 1));
    let b = state(&t, &shuffled, date(2024, 7, 1));
    assert_eq!(a, b);
}

#[test]
fn snapshot_resume_equals_full_replay() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-04-02", "amount": "9000.00", "reference": "A"},
            {"type": "prepayment", "date": "2024-06-15", "amount": "20000.00", "adjust": "reduce_emi", "reference": "PP"},
            {"type": "payment", "date": "2024-08-20", "amount": "30000.00", "reference": "B"}
        ]),
    );
    let full = state(&t, &ev, date(2024, 12, 31));
    for cut in [
        date(2024, 3, 1),
        date(2024, 4, 30),
        date(2024, 6, 15),
        date(2024, 7, 31),
    ] {
        let mut engine = Engine::new(&t);
        engine.run(&t, &ev, cut).unwrap();
        let snapshot: Engine =
            serde_json::from_str(&serde_json::to_string(&engine).unwrap()).unwrap();
        let resumed = snapshot.resume(&t, &ev, date(2024, 12, 31)).unwrap();
        assert_eq!(
            LoanState::new(&t, &resumed, date(2024, 12, 31)),
            full,
            "cut at {cut}"
        );
    }
    // A snapshot is refused once an event older than it has been added.
    let mut engine = Engine::new(&t);
    engine.run(&t, &ev, date(2024, 7, 31)).unwrap();
    let mut late = ev.clone();
    late.extend(events(
        &t,
        json!([{"type": "payment", "date": "2024-05-01", "amount": "1.00", "reference": "L"}]),
    ));
    assert!(engine.resume(&t, &late, date(2024, 12, 31)).is_err());
}

#[test]
fn prepayment_reduces_emi_or_tenure() {
    let t = march_loan();
    let base = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "E1"}
        ]),
    );
    let before = state(&t, &base, date(2024, 4, 15));
    let preview = prepayment_preview(&t, &base, date(2024, 4, 15), c("30000.00")).unwrap();
    let emi = &preview.reduce_emi;
    let tenure = &preview.reduce_tenure;
    assert!(emi.installment_amount < before.installment_amount);
    assert_eq!(emi.installments.len(), before.installments.len());
    assert_eq!(tenure.installment_amount, before.installment_amount);
    assert!(tenure.installments.len() < before.installments.len());
    for s in [emi, tenure] {
        assert_eq!(
            s.balances.principal_outstanding,
            before.balances.principal_outstanding - c("30000.00")
        );
        let future: i64 = s.installments.iter().skip(1).map(|i| i.principal).sum();
        assert_eq!(future, s.balances.principal_outstanding);
    }
    // The interest of the period in which it was paid is split at the prepayment date.
    assert!(emi.installments[1].interest < before.installments[1].interest);
    assert!(emi.installments[1].interest > emi.installments[2].interest / 2);
}

#[test]
fn rate_change_keeps_emi_or_tenure() {
    let t = march_loan();
    let base = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "8884.88", "reference": "E1"}
        ]),
    );
    let before = state(&t, &base, date(2024, 4, 1));
    let with = |keep: &str| {
        let mut e = base.clone();
        e.extend(events(&t, json!([{"type": "rate_change", "date": "2024-04-01", "annual_rate": "14", "keep": keep}])));
        state(&t, &e, date(2024, 4, 1))
    };
    let tenure = with("tenure");
    assert!(tenure.installment_amount > before.installment_amount);
    assert_eq!(tenure.installments.len(), before.installments.len());
    let emi = with("emi");
    assert_eq!(emi.installment_amount, before.installment_amount);
    assert!(emi.installments.len() > before.installments.len());
    assert_eq!(emi.annual_rate.to_string(), "14");
    // A rate at which the instalment no longer covers the interest is refused: 20 years at 12%
    // pays 1101.09 a month, less than a month's interest at 14% on 100000.
    let mut v: Value = serde_json::from_str(&t.to_json()).unwrap();
    v["installments"] = json!(240);
    let long = terms(v);
    let e = events(
        &long,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "rate_change", "date": "2024-03-10", "annual_rate": "14", "keep": "emi"}
        ]),
    );
    let err = replay(&long, &e, date(2024, 4, 1)).unwrap_err();
    assert_eq!(err.field, "keep");
    assert_eq!(
        state(&long, &e[..1], date(2024, 3, 10)).installment_amount,
        c("1101.09")
    );
}

#[test]
fn foreclosure_matches_fineract_p11() {
    // Fineract P11: 100 at 7%, 6 monthly; after paying 17.01 on 1 Feb, pay-off on 15 Feb is 83.81.
    let t = terms(json!({
        "currency": "EUR", "principal": "100", "annual_rate": "7", "method": "emi",
        "installments": 6, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "rounding": {"installment": {"mode": "half_even", "multiple": "0.01"}, "interest": "half_even"}
    }));
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-01-01", "amount": "100"},
            {"type": "payment", "date": "2024-02-01", "amount": "17.01", "reference": "R1"}
        ]),
    );
    assert_eq!(
        foreclosure_quote(&t, &ev, date(2024, 2, 15)).unwrap(),
        c("83.81")
    );
    let mut closing = ev.clone();
    closing.extend(events(
        &t,
        json!([{"type": "foreclosure", "date": "2024-02-15", "amount": "83.81"}]),
    ));
    let s = state(&t, &closing, date(2024, 3, 31));
    assert_eq!(s.status, Status::Foreclosed);
    assert_eq!(s.balances.principal_outstanding, 0);
    // Paying less than the quote is refused.
    let mut short = ev.clone();
    short.extend(events(
        &t,
        json!([{"type": "foreclosure", "date": "2024-02-15", "amount": "80.00"}]),
    ));
    let err = replay(&t, &short, date(2024, 2, 15)).unwrap_err();
    assert_eq!(err.field, "amount");
}

#[test]
fn paying_every_instalment_closes_the_loan() {
    let t = terms(json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01"
    }));
    let quote = loanbook_domain::schedule::build(&t).unwrap();
    let mut list =
        vec![json!({"type": "disbursement", "date": "2024-01-01", "amount": "20000.00"})];
    for r in &quote.installments {
        list.push(json!({"type": "payment", "date": r.due_date.to_string(),
            "amount": format!("{}.{:02}", r.total / 100, r.total % 100), "reference": format!("EMI{}", r.number)}));
    }
    let ev = events(&t, Value::Array(list));
    let s = state(&t, &ev, date(2026, 1, 1));
    assert_eq!(s.status, Status::Closed);
    assert_eq!(s.closed_on, Some(date(2026, 1, 1)));
    assert_eq!(s.dpd, 0);
    assert!(s.classification_history.is_empty());
    assert_eq!(s.events_applied, 25);
    // The serviced schedule is the quoted one.
    for (a, b) in s.installments.iter().zip(&quote.installments) {
        assert_eq!(
            (a.due_date, a.principal, a.interest),
            (b.due_date, b.principal, b.interest)
        );
    }
}

#[test]
fn excess_is_held_and_applied_when_due() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "payment", "date": "2024-03-31", "amount": "20000.00", "reference": "BIG"}
        ]),
    );
    let s = state(&t, &ev, date(2024, 4, 1));
    let emi = s.installments[0].total;
    assert_eq!(s.balances.excess, c("20000.00") - emi);
    let s = state(&t, &ev, date(2024, 4, 30));
    assert_eq!(s.installments[1].paid, s.installments[1].total);
    assert_eq!(
        s.balances.excess,
        c("20000.00") - emi - s.installments[1].total
    );
    assert_eq!(s.dpd, 0);
}

#[test]
fn penal_charges_per_missed_instalment_and_waiver() {
    let mut v: Value = serde_json::from_str(&march_loan().to_json()).unwrap();
    v["penal"] = json!({"per_missed_installment": "500.00"});
    let t = terms(v);
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "waiver", "date": "2024-05-15", "component": "charges", "amount": "700.00"}
        ]),
    );
    let s = state(&t, &ev, date(2024, 4, 30));
    assert_eq!(s.balances.charges_due, c("1000.00"));
    let s = state(&t, &ev, date(2024, 5, 15));
    assert_eq!(s.balances.charges_due, c("300.00"));
    // A waiver above what is due is refused, naming the amount.
    let mut more = ev.clone();
    more.extend(events(
        &t,
        json!([{"type": "waiver", "date": "2024-05-16", "component": "charges", "amount": "300.01"}]),
    ));
    let err = replay(&t, &more, date(2024, 5, 16)).unwrap_err();
    assert_eq!((err.index, err.field), (2, "amount"));
    assert!(err.rule.contains("300.00"), "{}", err.rule);
}

#[test]
fn penal_percent_accrues_daily_and_never_compounds() {
    let mut v: Value = serde_json::from_str(&march_loan().to_json()).unwrap();
    v["penal"] = json!({"percent": "36.5"});
    let t = terms(v);
    let ev = events(
        &t,
        json!([{"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"}]),
    );
    let s = state(&t, &ev, date(2024, 4, 10));
    // 36.5% a year is 0.1% a day on the overdue instalment, from its due date's day-end.
    let overdue = s.installments[0].total;
    let daily = (overdue as f64 * 0.001).round() as i64;
    // One day's penal per day past due (DPD counts the due date itself, as in the RBI example);
    // what accrued up to a due date's day-end is levied as a charge with that instalment.
    assert_eq!(s.dpd, 11);
    assert_eq!(s.balances.charges_due, daily);
    assert_eq!(s.balances.penal_accrued, daily * 10);
    let s = state(&t, &ev, date(2024, 4, 30));
    assert!(s.balances.charges_due >= daily * 30);
}

#[test]
fn write_off_recovery_and_settlement() {
    let t = march_loan();
    let mut list = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "write_off", "date": "2024-10-01", "reason": "uncontactable"},
            {"type": "recovery", "date": "2024-11-01", "amount": "5000.00", "reference": "REC1"}
        ]),
    );
    let s = state(&t, &list, date(2024, 11, 1));
    assert_eq!(s.status, Status::WrittenOff);
    let (_, loss) = s.written_off.unwrap();
    assert_eq!(loss.principal, c("100000.00"));
    assert_eq!(s.recovered, c("5000.00"));
    list.extend(events(
        &t,
        json!([{"type": "payment", "date": "2024-11-02", "amount": "1.00", "reference": "X"}]),
    ));
    assert_eq!(
        replay(&t, &list, date(2024, 11, 2)).unwrap_err().field,
        "type"
    );

    let settle = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "settlement", "date": "2024-09-01", "amount": "60000.00", "reference": "OTS"}
        ]),
    );
    let s = state(&t, &settle, date(2024, 9, 30));
    assert_eq!(s.status, Status::Settled);
    let short = s.settlement_shortfall.unwrap();
    assert!(short.principal > 0);
    assert_eq!(s.balances.principal_outstanding, 0);
}

#[test]
fn restructure_capitalises_arrears_and_keeps_npa() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "restructure", "date": "2024-07-10", "installments": 24,
             "moratorium": {"periods": 2, "interest": "capitalize"}}
        ]),
    );
    let before = state(&t, &ev[..1], date(2024, 7, 9));
    let s = state(&t, &ev, date(2024, 7, 10));
    assert_eq!(s.total_overdue, 0);
    assert_eq!(s.classification, Classification::Npa);
    assert_eq!(
        s.balances.principal_outstanding,
        before.balances.principal_outstanding + before.balances.interest_overdue
    );
    let new_rows: Vec<_> = s
        .installments
        .iter()
        .filter(|i| i.due_date > date(2024, 7, 10))
        .collect();
    assert_eq!(new_rows.len(), 24);
    assert_eq!(new_rows[0].total, 0);
    // The capitalised instalments say so; nothing was waived.
    assert!(
        s.installments[..4]
            .iter()
            .all(|i| i.capitalised == i.total && i.waived == 0)
    );
    // Moratorium interest joins the principal only as each moratorium instalment falls due.
    let later = state(&t, &ev, date(2024, 8, 31));
    assert!(later.balances.principal_outstanding > s.balances.principal_outstanding);
    let future: i64 = later
        .installments
        .iter()
        .filter(|i| i.due_date > date(2024, 8, 31))
        .map(|i| i.principal)
        .sum();
    assert_eq!(future, later.balances.principal_outstanding);
}

#[test]
fn events_before_disbursement_or_above_principal_are_refused() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([{"type": "payment", "date": "2024-02-01", "amount": "10.00", "reference": "A"}]),
    );
    let err = replay(&t, &ev, date(2024, 3, 1)).unwrap_err();
    assert_eq!((err.index, err.event), (0, "payment"));
    let ev = events(
        &t,
        json!([{"type": "disbursement", "date": "2024-03-01", "amount": "100000.01"}]),
    );
    assert_eq!(
        replay(&t, &ev, date(2024, 3, 1)).unwrap_err().field,
        "amount"
    );
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100.00"},
            {"type": "payment", "date": "2024-03-05", "amount": "10.00", "reference": "A"},
            {"type": "payment", "date": "2024-03-06", "amount": "10.00", "reference": "A"}
        ]),
    );
    assert_eq!(replay(&t, &ev, date(2024, 3, 6)).unwrap_err().index, 2);
    // Nothing disbursed: a pending loan with no schedule.
    let s = state(&t, &[], date(2024, 3, 1));
    assert_eq!(s.status, Status::Pending);
    assert!(s.installments.is_empty());
}

#[test]
fn an_npa_identified_as_loss_is_a_loss_asset() {
    let t = march_loan();
    let ev = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "loss_identified", "date": "2024-08-01", "reason": "borrower absconded"}
        ]),
    );
    // NPA since 29 June: substandard by age, loss once identified.
    assert_eq!(
        state(&t, &ev[..1], date(2024, 8, 1)).asset_class.name(),
        "substandard"
    );
    let s = state(&t, &ev, date(2024, 8, 1));
    assert_eq!(s.asset_class.name(), "loss");
    assert_eq!(s.classification, Classification::Npa);
    // A standard loan cannot be identified as a loss.
    let early = events(
        &t,
        json!([
            {"type": "disbursement", "date": "2024-03-01", "amount": "100000.00"},
            {"type": "loss_identified", "date": "2024-03-15"}
        ]),
    );
    let err = replay(&t, &early, date(2024, 3, 15)).unwrap_err();
    assert_eq!((err.index, err.field), (1, "type"));
}
