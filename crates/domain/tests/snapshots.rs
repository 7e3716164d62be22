//! Snapshots against the reference, replay from zero, over loans of every kind and histories of
//! every event kind:
//!
//! 1. Cut a history at any stored position, snapshot it at any day on or after its last covered
//!    event (through the JSON encoding), resume with the rest: the state equals a full replay, and
//!    so do the effects of the tail (the full replay's effects after the snapshot's day); the
//!    snapshot's own effects are the full replay's up to its day.
//! 2. Histories recorded out of order (an event recorded late, back-dated before others) and
//!    reversals of receipts the snapshot applied make the resume ask for an earlier snapshot; the
//!    caller's retry (an earlier cut, then zero) ends at the full replay.
//! 3. A day-only advance (no new events, a later date) equals the full replay at that date.
//! 4. `Snapshot::from_json` refuses anything that is not a snapshot, never panicking, and a
//!    snapshot of another format by name.
//! 5. The compact JSON (receipts as reference, date and amount) resumes to exactly the full
//!    replay's engine, state and effects.

mod support;

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan::{
    Effect, Engine, LoanState, Resumed, SNAPSHOT_FORMAT, Snapshot, SnapshotError, replay,
    replay_with_effects, resume, resume_owned,
};
use loanbook_domain::terms::Terms;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use support::*;

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// The snapshot of the first `cut` stored events at the end of `day`, stored as JSON and read
/// back.
fn stored_snapshot(
    t: &Terms,
    list: &[Event],
    cut: usize,
    day: Date,
) -> Result<Snapshot, TestCaseError> {
    let snapshot = Snapshot::take(t, &list[..cut], day).map_err(fail)?;
    let json = snapshot.to_json().map_err(fail)?;
    let back = Snapshot::from_json(&json).map_err(fail)?;
    prop_assert_eq!(&back, &snapshot, "the JSON encoding round-trips");
    Ok(back)
}

/// Resume `list` at `as_of` from the snapshot of its first `cut` events at the end of `day`,
/// retrying from earlier snapshots as a service does when told to (the snapshot of the events
/// dated before what `NeedsEarlier` names, down to the empty one). Returns the retries.
fn resume_like_a_service(
    t: &Terms,
    list: &[Event],
    cut: usize,
    day: Date,
    as_of: Date,
) -> Result<usize, TestCaseError> {
    let full = replay_with_effects(t, list, as_of);
    let mut snapshot = stored_snapshot(t, list, cut, day)?;
    let mut retries = 0;
    loop {
        let version = usize::try_from(snapshot.version).map_err(fail)?;
        let outcome = resume(t, &snapshot, &list[version..], as_of);
        prop_assert_eq!(
            &resume_owned(t, snapshot.clone(), &list[version..], as_of),
            &outcome,
            "by value as by reference"
        );
        match (outcome, &full) {
            (Ok(Resumed::Applied(r)), Ok((state, effects))) => {
                prop_assert_eq!(
                    &r.state,
                    state,
                    "resumed from {} at {}",
                    version,
                    snapshot.day
                );
                let tail: Vec<&Effect> = effects.iter().filter(|e| e.date > snapshot.day).collect();
                same_effects(
                    &r.effects.iter().collect::<Vec<_>>(),
                    &tail,
                    "the tail's effects",
                )?;
                if snapshot.engine.day.is_some() {
                    let head =
                        replay_with_effects(t, &list[..version], snapshot.day).map_err(fail)?;
                    let before: Vec<&Effect> =
                        effects.iter().filter(|e| e.date <= snapshot.day).collect();
                    same_effects(
                        &head.1.iter().collect::<Vec<_>>(),
                        &before,
                        "the head's effects",
                    )?;
                }
                // The resumed snapshot resumes too: with no new events, to a later day.
                let later = plus(as_of, 17);
                let rest = &list[usize::try_from(r.snapshot.version).map_err(fail)?..];
                prop_assert!(rest.is_empty(), "every event is dated by the end");
                match resume(t, &r.snapshot, rest, later).map_err(fail)? {
                    Resumed::Applied(a) => {
                        prop_assert_eq!(
                            &a.state,
                            &replay(t, list, later).map_err(fail)?,
                            "day-only advance"
                        );
                    }
                    Resumed::NeedsEarlier(n) => {
                        return Err(fail(format!("day-only advance: {n:?}")));
                    }
                }
                return Ok(retries);
            }
            (Ok(Resumed::NeedsEarlier(n)), _) => {
                prop_assert!(
                    snapshot.engine.day.is_some(),
                    "nothing is earlier than zero: {:?}",
                    n
                );
                prop_assert!(n.before <= snapshot.day, "{:?} from {}", n, snapshot.day);
                retries += 1;
                let eve = n.before.yesterday().map_err(fail)?;
                snapshot = stored_snapshot(t, list, list.len(), eve)
                    .or_else(|_| Ok::<_, TestCaseError>(Snapshot::zero(t)))?;
                if snapshot.day >= n.before {
                    snapshot = Snapshot::zero(t);
                }
            }
            // Both refuse: a recorded order can make a list invalid.
            (Err(_), Err(_)) => return Ok(retries),
            (Err(e), Ok(_)) => return Err(fail(format!("resume refused what replays: {e}"))),
            (Ok(Resumed::Applied(_)), Err(e)) => {
                return Err(fail(format!(
                    "resume applied what a full replay refuses: {e}"
                )));
            }
        }
    }
}

/// The same effects in the same order; else the first difference.
fn same_effects(got: &[&Effect], want: &[&Effect], what: &str) -> Result<(), TestCaseError> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
    Err(fail(format!(
        "{what} differ at {at} of {} / {}: got {:?}, want {:?}",
        got.len(),
        want.len(),
        got.get(at..(at + 3).min(got.len())),
        want.get(at..(at + 3).min(want.len()))
    )))
}

/// Record the event at `from` last: it may then be back-dated before events recorded earlier.
fn recorded_late(list: &[Event], from: usize) -> Vec<Event> {
    let mut v = list.to_vec();
    if v.len() > 1 {
        let e = v.remove(from % v.len());
        v.push(e);
    }
    v
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn resuming_a_snapshot_equals_a_full_replay(
        t in arb_any_terms(), story in arb_any_story(),
        cut in any::<prop::sample::Index>(), extra in 0i64..60, late in prop::option::of(any::<usize>()),
        tail in 0i64..90,
    ) {
        let mut list = build_events(&t, &story)?;
        if let Some(from) = late {
            list = recorded_late(&list, from);
        }
        let cut = cut.index(list.len() + 1);
        // The snapshot's day: on or after its last covered event (any day for the empty cut).
        let last = list[..cut].iter().map(|e| e.date).max().unwrap_or(t.disbursement_date);
        let day = plus(last, extra);
        let end = plus(list.iter().map(|e| e.date).max().unwrap_or(day).max(day), tail);
        // A service stores only lists whose every prefix replays (each write is checked); an
        // event recorded late can break that (a receipt recorded after its reversal).
        prop_assume!(late.is_none() || Snapshot::take(&t, &list[..cut], day).is_ok());
        resume_like_a_service(&t, &list, cut, day, end)?;
    }

    #[test]
    fn a_snapshot_reads_at_any_later_day_as_a_full_replay(
        t in arb_any_terms(), story in arb_any_story(), extra in 0i64..60, later in 0i64..400,
    ) {
        let list = build_events(&t, &story)?;
        let last = list.iter().map(|e| e.date).max().unwrap_or(t.disbursement_date);
        let day = plus(last, extra);
        let snapshot = stored_snapshot(&t, &list, list.len(), day)?;
        let as_of = plus(day, later);
        match resume(&t, &snapshot, &[], as_of).map_err(fail)? {
            Resumed::Applied(r) => {
                prop_assert_eq!(&r.state, &replay(&t, &list, as_of).map_err(fail)?);
                prop_assert_eq!(r.snapshot.version, snapshot.version);
            }
            Resumed::NeedsEarlier(n) => return Err(fail(format!("a day-only advance: {n:?}"))),
        }
    }

    #[test]
    fn a_compact_snapshot_resumes_to_exactly_the_full_replay(
        t in arb_any_terms(), story in arb_any_story(),
        cut in any::<prop::sample::Index>(), extra in 0i64..60, tail in 0i64..90,
    ) {
        let list = build_events(&t, &story)?;
        let cut = cut.index(list.len() + 1);
        let last = list[..cut].iter().map(|e| e.date).max().unwrap_or(t.disbursement_date);
        let day = plus(last, extra);
        let end = plus(list.iter().map(|e| e.date).max().unwrap_or(day).max(day), tail);
        let json = Snapshot::take(&t, &list[..cut], day).map_err(fail)?.to_json().map_err(fail)?;
        prop_assert!(json.starts_with(&format!("{{\"format\":{SNAPSHOT_FORMAT},")), "{}", &json[..20]);
        prop_assert!(!json.contains("\"lines\""), "allocation lines are not stored");
        let snapshot = Snapshot::from_json(&json).map_err(fail)?;
        let version = usize::try_from(snapshot.version).map_err(fail)?;
        let mut full = Engine::new(&t);
        let full_effects = full.run_with_effects(&t, &list, end).map_err(fail)?;
        match resume(&t, &snapshot, &list[version..], end).map_err(fail)? {
            Resumed::Applied(r) => {
                // The whole engine, receipts and all, not only the view read from it.
                prop_assert_eq!(&r.snapshot.engine, &full);
                prop_assert_eq!(&r.state, &LoanState::new(&t, &full, end));
                let tail: Vec<&Effect> = full_effects.iter().filter(|e| e.date > snapshot.day).collect();
                same_effects(&r.effects.iter().collect::<Vec<_>>(), &tail, "the tail's effects")?;
                // The resumed snapshot (new receipts beside the shared ones) round-trips too.
                let again = Snapshot::from_json(&r.snapshot.to_json().map_err(fail)?).map_err(fail)?;
                prop_assert_eq!(&again, &r.snapshot);
            }
            // A reversal of a receipt the snapshot applied.
            Resumed::NeedsEarlier(n) => prop_assert!(n.before <= snapshot.day, "{:?}", n),
        }
    }

    #[test]
    fn snapshot_json_refuses_without_panicking(
        t in arb_any_terms(), story in arb_any_story(), cut in any::<prop::sample::Index>(), junk in ".{0,40}",
    ) {
        let list = build_events(&t, &story)?;
        let last = list.iter().map(|e| e.date).max().unwrap_or(t.disbursement_date);
        let snapshot = Snapshot::take(&t, &list, last).map_err(fail)?;
        let json = snapshot.to_json().map_err(fail)?;
        prop_assert!(json.is_ascii());
        let at = cut.index(json.len() + 1);
        // Cut, spliced and garbage inputs: an error or a snapshot, never a panic; and whatever
        // is read back resumes without panicking (an error or a value).
        for input in [
            json[..at].to_owned(),
            format!("{}{junk}{}", &json[..at], &json[at..]),
            junk.clone(),
            json.replace("\"fallen\":", "\"fallen\":9").replace("\"settled\":", "\"settled\":7"),
        ] {
            if let Ok(s) = Snapshot::from_json(&input) {
                let _ = resume(&t, &s, &[], plus(last, 30));
            }
        }
    }
}

/// A reversal of a receipt the snapshot applied needs a snapshot from before the receipt.
#[test]
fn reversing_a_receipt_the_snapshot_applied_needs_an_earlier_snapshot() {
    let t = Terms::from_json(
        r#"{"currency": "INR", "principal": "120000.00", "annual_rate": "12", "method": "emi",
            "installments": 12, "frequency": "monthly", "disbursement_date": "2024-01-01"}"#,
    )
    .expect("terms");
    let d = |m, day| jiff::civil::date(2024, m, day);
    let mut list = vec![
        Event {
            date: d(1, 1),
            kind: EventKind::Disbursement {
                amount: 12_000_000,
                reference: None,
            },
        },
        Event {
            date: d(2, 1),
            kind: EventKind::Payment {
                amount: 1_066_185,
                reference: "UTR1".into(),
                channel: None,
            },
        },
    ];
    let snapshot = Snapshot::take(&t, &list, d(2, 10)).expect("snapshot");
    list.push(Event {
        date: d(2, 20),
        kind: EventKind::PaymentReversal {
            reference: "UTR1".into(),
            reason: None,
        },
    });
    match resume(&t, &snapshot, &list[2..], d(3, 1)).expect("resumes") {
        Resumed::NeedsEarlier(n) => {
            assert_eq!(n.before, d(2, 1), "{n:?}");
            assert_eq!(n.index, Some(2));
        }
        Resumed::Applied(_) => panic!("applied a reversal of a receipt the snapshot applied"),
    }
    // Dated after the date asked for, the reversal does not apply yet: the snapshot carries it.
    match resume(&t, &snapshot, &list[2..], d(2, 15)).expect("resumes") {
        Resumed::Applied(r) => {
            assert_eq!(r.state, replay(&t, &list, d(2, 15)).expect("replays"));
            assert_eq!(r.snapshot.version, 2, "the reversal is not covered");
        }
        Resumed::NeedsEarlier(n) => panic!("{n:?}"),
    }
    // A reused reference and a second reversal are refused from the snapshot's indexes alone.
    let reuse = Event {
        date: d(3, 1),
        kind: EventKind::Payment {
            amount: 100,
            reference: "UTR1".into(),
            channel: None,
        },
    };
    let err = resume(&t, &snapshot, &[reuse], d(3, 2)).expect_err("reference reused");
    assert_eq!((err.index, err.field), (2, "reference"));
}

/// A snapshot of format 1 (receipts with their allocation lines) is refused by its format.
#[test]
fn a_format_1_snapshot_is_refused_by_name() {
    let t = Terms::from_json(
        r#"{"currency": "INR", "principal": "120000.00", "annual_rate": "12", "method": "emi",
            "installments": 12, "frequency": "monthly", "disbursement_date": "2024-01-01"}"#,
    )
    .expect("terms");
    let json = Snapshot::zero(&t).to_json().expect("encodes");
    let old = json.replacen(&format!("\"format\":{SNAPSHOT_FORMAT}"), "\"format\":1", 1);
    assert_ne!(old, json);
    let err = Snapshot::from_json(&old).expect_err("format 1");
    assert_eq!(err, SnapshotError::Format { found: 1 });
    assert!(err.to_string().contains("take a new snapshot"), "{err}");
}

/// Instalments are written as arrays of their fields, and a snapshot that names them (as earlier
/// builds wrote them) still reads, to the same engine.
#[test]
fn instalments_are_written_compactly_and_read_either_way() {
    let t = Terms::from_json(
        r#"{"currency": "INR", "principal": "120000.00", "annual_rate": "12", "method": "emi",
            "installments": 12, "frequency": "monthly", "disbursement_date": "2024-01-01"}"#,
    )
    .expect("terms");
    let disbursed = Event::from_json_value(
        &serde_json::json!({"type": "disbursement", "date": "2024-01-01", "amount": "120000.00"}),
        t.currency,
    )
    .expect("event");
    let day = Date::new(2024, 3, 15).expect("date");
    let snapshot = Snapshot::take(&t, &[disbursed], day).expect("snapshot");
    let json = snapshot.to_json().expect("encodes");
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let dues = doc["engine"]["dues"].as_array_mut().expect("dues");
    assert_eq!(dues.len(), 12);
    assert!(dues.iter().all(serde_json::Value::is_array), "{}", dues[0]);
    let names = [
        "number",
        "due_date",
        "seq",
        "principal",
        "interest",
        "paid_principal",
        "paid_interest",
        "waived_interest",
        "capitalised",
        "capitalises",
        "opening_balance",
        "annual_rate",
        "moratorium",
        "penal_levied",
    ];
    for due in dues.iter_mut() {
        let fields = due.as_array().expect("array").clone();
        assert_eq!(fields.len(), names.len());
        *due = serde_json::Value::Object(names.iter().map(|n| n.to_string()).zip(fields).collect());
    }
    let named = serde_json::to_string(&doc).expect("named");
    assert!(
        named.len() > json.len() * 2,
        "{} vs {}",
        named.len(),
        json.len()
    );
    assert_eq!(Snapshot::from_json(&named).expect("reads"), snapshot);
}
