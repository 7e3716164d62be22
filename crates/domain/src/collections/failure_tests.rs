use super::*;

fn seed() -> FailureTable {
    let t = FailureTable::from_csv(SEED);
    assert!(t.is_ok(), "the seed table reads: {t:?}");
    FailureTable::seed()
}

#[test]
fn the_seed_holds_every_rail_of_the_reference() {
    let t = seed();
    let count = |rail| t.rules().filter(|r| r.rail == rail).count();
    // NACH: the 72 codes of the reference table and the four marked [verify].
    assert_eq!(count(Rail::Nach), 76);
    // UPI: the table's codes with RB/RR split and the three text-only answers, without the
    // wrapper U30 which is classified by its inner code.
    assert_eq!(count(Rail::UpiAutopay), 30);
    assert_eq!(count(Rail::Ach), 69);
    assert!(count(Rail::Card) >= 10);
}

#[test]
fn classes_follow_the_reference() {
    let t = seed();
    let class = |rail, code: &str| t.get(rail, code).map(|r| (r.class, r.reason, r.action));
    assert_eq!(
        class(Rail::Nach, "04"),
        Some((FailureClass::Soft, Reason::InsufficientFunds, Action::Retry))
    );
    assert_eq!(
        class(Rail::Nach, "01"),
        Some((
            FailureClass::Hard,
            Reason::AccountClosed,
            Action::StopAndContact
        ))
    );
    assert_eq!(
        class(Rail::Nach, "61"),
        Some((
            FailureClass::Mandate,
            Reason::MandateInvalid,
            Action::FixMandate
        ))
    );
    assert_eq!(
        class(Rail::Nach, "59"),
        Some((
            FailureClass::Technical,
            Reason::Technical,
            Action::RetryQuietly
        ))
    );
    assert_eq!(
        class(Rail::Nach, "13"),
        Some((
            FailureClass::Technical,
            Reason::Duplicate,
            Action::Reconcile
        ))
    );
    assert_eq!(
        class(Rail::Nach, "98"),
        Some((
            FailureClass::Technical,
            Reason::Pending,
            Action::AwaitStatus
        ))
    );
    assert_eq!(
        class(Rail::Nach, "74"),
        Some((FailureClass::Technical, Reason::DataError, Action::FixData))
    );
    assert_eq!(
        class(Rail::UpiAutopay, "Z8"),
        Some((
            FailureClass::Hard,
            Reason::LimitExceeded,
            Action::StopAndContact
        ))
    );
    assert_eq!(
        class(Rail::Ach, "R07"),
        Some((
            FailureClass::Mandate,
            Reason::Unauthorized,
            Action::FixMandate
        ))
    );
    assert_eq!(
        class(Rail::Ach, "R24"),
        Some((
            FailureClass::Technical,
            Reason::Duplicate,
            Action::Reconcile
        ))
    );
    assert_eq!(
        class(Rail::UpiAutopay, "RB").map(|c| c.1),
        Some(Reason::Pending)
    );
}

#[test]
fn bounce_charges_fall_only_on_the_borrowers_failures() {
    let t = seed();
    for r in t.rules() {
        if r.charge {
            assert!(
                matches!(
                    r.reason,
                    Reason::InsufficientFunds | Reason::LimitExceeded | Reason::CustomerStopped
                ),
                "{:?} {} is charged",
                r.rail,
                r.code
            );
        }
        if r.class == FailureClass::Technical || r.class == FailureClass::Mandate {
            assert!(!r.charge, "{:?} {} is charged", r.rail, r.code);
        }
    }
    assert!(t.get(Rail::Nach, "04").is_some_and(|r| r.charge));
    assert!(t.get(Rail::Ach, "R01").is_some_and(|r| r.charge));
}

#[test]
fn wrapped_upi_answers_classify_by_the_inner_code() {
    let t = seed();
    let c = t.classify(
        Rail::UpiAutopay,
        "U30|DEBIT HAS BEEN FAILED|Z9|INSUFFICIENT FUNDS",
        "",
    );
    assert_eq!(c.code, "Z9");
    assert_eq!(c.class, FailureClass::Soft);
    assert!(c.known);
    assert_eq!(
        c.raw_code,
        "U30|DEBIT HAS BEEN FAILED|Z9|INSUFFICIENT FUNDS"
    );
    let revoked = t.classify(Rail::UpiAutopay, "", "Mandate Has Been Revoked");
    assert_eq!(revoked.class, FailureClass::Mandate);
    assert_eq!(revoked.code, "REVOKED");
}

#[test]
fn an_unknown_code_is_a_technical_failure_to_review() {
    let t = seed();
    let c = t.classify(Rail::Nach, "X7", "something new");
    assert!(!c.known);
    assert_eq!(c.class, FailureClass::Technical);
    assert_eq!(c.action, Action::FixData);
    assert!(!c.charge);
    // A code of another rail is not borrowed.
    assert!(!t.classify(Rail::Ach, "04", "").known);
}

#[test]
fn the_csv_round_trips() {
    let t = seed();
    let back = FailureTable::from_csv(&t.to_csv());
    assert_eq!(back.as_ref().ok(), Some(&t));
}

#[test]
fn broken_tables_are_refused_naming_the_line_and_field() {
    let head = COLUMNS.join(",");
    let bad = |row: &str| FailureTable::from_csv(&format!("{head}\n{row}\n")).err();
    let e = bad("nach,04,soft,normal,insufficient_funds,stop_and_contact,yes,x");
    assert!(e.is_some_and(|e| e.field.ends_with("action") && e.code == "failure.action"));
    let e = bad("swift,04,soft,normal,insufficient_funds,retry,yes,x");
    assert!(e.is_some_and(|e| e.field == "line 2: rail"));
    let e = bad("nach,04,soft,normal,broke,retry,yes,x");
    assert!(
        e.is_some_and(|e| e.field == "line 2: reason" && e.rule.contains("insufficient_funds"))
    );
    let e = bad("nach,13,technical,duplicate,duplicate,retry_quietly,no,x");
    assert!(e.is_some_and(|e| e.code == "failure.handling"));
    let e = bad("nach,0 4,soft,normal,insufficient_funds,retry,yes,x");
    assert!(e.is_some_and(|e| e.code == "failure.code"));
    let twice = format!(
        "{head}\nnach,04,soft,normal,insufficient_funds,retry,yes,x\nnach,04,soft,normal,insufficient_funds,retry,yes,y\n"
    );
    assert!(FailureTable::from_csv(&twice).is_err_and(|e| e.code == "failure.unique"));
    assert!(FailureTable::from_csv("a,b\n").is_err_and(|e| e.field == "header"));
    assert!(FailureTable::from_csv("").is_err());
}

#[test]
fn a_table_has_rows_and_descriptions_without_spaces_at_either_end() {
    let head = COLUMNS.join(",");
    let e = FailureTable::from_csv(&format!("{head}\n")).err();
    assert!(e.is_some_and(|e| e.code == "failure.rows"));
    let r = seed().rules().next().cloned().unwrap();
    for description in [" padded", "", &"x".repeat(MAX_DESCRIPTION + 1)] {
        let row = FailureRule {
            description: description.to_owned(),
            ..r.clone()
        };
        assert!(row.check().is_err_and(|e| e.code == "failure.description"));
    }
    // Characters, not bytes: 300 of them fit whatever their width.
    let wide = FailureRule {
        description: "₹".repeat(MAX_DESCRIPTION),
        ..r.clone()
    };
    assert!(wide.check().is_ok());
    assert!(FailureTable::new(vec![wide]).is_ok());
}

#[test]
fn every_class_and_handling_has_one_code_and_every_reason_a_message() {
    for c in FailureClass::ALL {
        assert_eq!(FailureClass::from_code(c.code()), Some(c));
    }
    for h in Handling::ALL {
        assert_eq!(Handling::from_code(h.code()), Some(h));
    }
    for r in <Reason as strum::VariantArray>::VARIANTS {
        assert!(!r.borrower_message().is_empty());
    }
}
