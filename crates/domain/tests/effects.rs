//! Properties of the engine's effects, over loans of every method, basis, moratorium, fee and
//! excess policy and histories of every event kind:
//!
//! 1. A replay never panics; it is deterministic; collecting effects changes nothing in the state.
//! 2. No balance goes negative.
//! 3. Effects sum to the balances (the identities of `loanbook_domain::loan::effects`), for the
//!    borrower and for each co-lender, and the class-changed effects replay the class history:
//!    - principal outstanding = disbursed + financed fees + capitalised − principal allocated;
//!    - interest overdue = interest fallen due − allocated − waived − capitalised by restructure;
//!    - charges due = levied − allocated to charges − waived;
//!    - penal accrued = penal accrued − penal levied from what accrued;
//!    - money held = held − applied;
//!    - money received = allocated + held.
//! 4. Every effect carries a date within the replay and, if from an event, that event's index and
//!    date.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use loanbook_domain::calendar::Date;
use loanbook_domain::events::{Event, WaiverComponent};
use loanbook_domain::loan::{
    Capitalisation, Effect, EffectKind, EffectName, Engine, LoanState, Paid, replay,
    replay_with_effects,
};
use loanbook_domain::terms::Terms;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use strum::IntoEnumIterator;
use support::*;

/// Running sums of a list of effects.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Sums {
    principal: i64,
    interest: i64,
    charges: i64,
    penal: i64,
    held: i64,
    received: i64,
    allocated: i64,
    partner_principal: Vec<i64>,
    classes: Vec<(Date, loanbook_domain::delinquency::Classification)>,
}

fn add_parts(into: &mut Vec<i64>, parts: &[i64], sign: i64) {
    if into.len() < parts.len() {
        into.resize(parts.len(), 0);
    }
    for (a, p) in into.iter_mut().zip(parts) {
        *a += sign * p;
    }
}

fn sums(effects: &[Effect]) -> Sums {
    let mut s = Sums::default();
    for e in effects {
        match &e.kind {
            EffectKind::Disbursed {
                amount,
                financed,
                partner_parts,
            } => {
                s.principal += amount + financed;
                add_parts(&mut s.partner_principal, partner_parts, 1);
            }
            EffectKind::FellDue { interest, .. } => s.interest += interest,
            EffectKind::Received { amount, .. } => s.received += amount,
            EffectKind::Allocated {
                paid,
                amount,
                partner_parts,
                ..
            } => {
                match paid {
                    Paid::Principal => {
                        s.principal -= amount;
                        add_parts(&mut s.partner_principal, partner_parts, -1);
                    }
                    Paid::Interest => s.interest -= amount,
                    Paid::Charge { .. } => s.charges -= amount,
                }
                s.allocated += amount;
            }
            EffectKind::ExcessHeld { amount, .. } => s.held += amount,
            EffectKind::ExcessApplied { amount, .. } => s.held -= amount,
            EffectKind::PenalAccrued { amount, .. } => s.penal += amount,
            EffectKind::Levied {
                amount,
                from_accrued,
                ..
            } => {
                s.charges += amount;
                if *from_accrued {
                    s.penal -= amount;
                }
            }
            EffectKind::Waived { component, amount } => match component {
                WaiverComponent::Interest => s.interest -= amount,
                WaiverComponent::Charges => s.charges -= amount,
            },
            EffectKind::Capitalised {
                cause,
                amount,
                partner_parts,
            } => {
                s.principal += amount;
                add_parts(&mut s.partner_principal, partner_parts, 1);
                if *cause == Capitalisation::Restructure {
                    s.interest -= amount;
                }
            }
            EffectKind::ClassChanged { to, .. } => s.classes.push((e.date, *to)),
            _ => {}
        }
    }
    s
}

/// Properties 1 to 4 for one history at one date; returns the effect names seen.
fn check(t: &Terms, list: &[Event], as_of: Date) -> Result<BTreeSet<EffectName>, TestCaseError> {
    let plain = replay(t, list, as_of);
    let again = replay(t, list, as_of);
    prop_assert_eq!(&plain, &again, "replay is deterministic");
    let Ok(state) = plain else {
        // A refusal is a value too; collecting effects refuses alike.
        prop_assert_eq!(
            replay_with_effects(t, list, as_of).err(),
            plain.err(),
            "refused alike"
        );
        return Ok(BTreeSet::new());
    };
    let (with, effects) = replay_with_effects(t, list, as_of).expect("replays with effects");
    prop_assert_eq!(&with, &state, "collecting effects changes nothing");

    let b = &state.balances;
    for (name, v) in [
        ("principal outstanding", b.principal_outstanding),
        ("principal overdue", b.principal_overdue),
        ("interest overdue", b.interest_overdue),
        ("interest accrued", b.interest_accrued),
        ("charges due", b.charges_due),
        ("penal accrued", b.penal_accrued),
        ("excess", b.excess),
    ] {
        prop_assert!(v >= 0, "{} is negative: {}", name, v);
    }

    let mut engine = Engine::new(t);
    let effects_again = engine.run_with_effects(t, list, as_of).expect("runs");
    prop_assert_eq!(&effects_again, &effects, "effects are deterministic");
    prop_assert_eq!(&LoanState::new(t, &engine, as_of), &state);

    let s = sums(&effects);
    prop_assert_eq!(s.principal, engine.principal_outstanding(), "principal");
    prop_assert_eq!(s.interest, engine.interest_overdue(), "interest");
    prop_assert_eq!(s.charges, engine.charges_due(), "charges");
    prop_assert_eq!(s.penal, engine.penal_accrued, "penal accrued");
    prop_assert_eq!(s.held, engine.excess_total(), "money held");
    prop_assert_eq!(
        s.received,
        s.allocated + s.held,
        "received = allocated + held"
    );
    let partners: Vec<i64> = engine
        .partners
        .iter()
        .map(|p| p.principal_outstanding())
        .collect();
    if partners.is_empty() {
        prop_assert!(s.partner_principal.iter().all(|v| *v == 0));
    } else {
        prop_assert_eq!(&s.partner_principal, &partners, "partners' principal");
    }
    prop_assert_eq!(&s.classes, &state.classification_history, "class history");

    for e in &effects {
        prop_assert!(e.date <= as_of, "effect after the replay's date: {:?}", e);
        if let Some(i) = e.event {
            let event = list.get(i).expect("the effect's event is in the list");
            prop_assert_eq!(event.date, e.date, "effect {:?} of event {}", e, i);
        }
        let json = serde_json::to_value(e).expect("serialises");
        prop_assert_eq!(json["effect"].as_str(), Some(e.name()));
        let back: Effect = serde_json::from_value(json).expect("reads back");
        prop_assert_eq!(&back, e);
    }
    Ok(effects.iter().map(|e| EffectName::from(&e.kind)).collect())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn effects_sum_to_the_balances(
        t in arb_any_terms(), story in arb_any_story(), cuts in prop::collection::vec(0i64..900, 1..4),
    ) {
        let list = build_events(&t, &story)?;
        let end = plus(list.iter().map(|e| e.date).max().expect("a disbursement"), 45);
        check(&t, &list, end)?;
        for c in cuts {
            check(&t, &list, plus(t.disbursement_date, c).min(end))?;
        }
    }
}

/// Across many generated histories, every kind of effect occurs: the generators reach every
/// branch of the engine that produces one.
#[test]
fn every_effect_kind_occurs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = (arb_any_terms(), arb_any_story());
    let mut seen: BTreeMap<EffectName, usize> = BTreeMap::new();
    for _ in 0..600 {
        let (t, story) = strategy.new_tree(&mut runner).expect("draws").current();
        let Ok(list) = build_events(&t, &story) else {
            continue;
        };
        let end = plus(
            list.iter().map(|e| e.date).max().expect("a disbursement"),
            45,
        );
        if let Ok(names) = check(&t, &list, end) {
            for n in names {
                *seen.entry(n).or_default() += 1;
            }
        }
        if EffectName::iter().all(|n| seen.contains_key(&n)) {
            return;
        }
    }
    let missing: Vec<&'static str> = EffectName::iter()
        .filter(|n| !seen.contains_key(n))
        .map(<&'static str>::from)
        .collect();
    panic!("effects never produced: {missing:?} (seen {seen:?})");
}
