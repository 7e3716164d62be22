use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::terms::Terms;

/// The RBI worked example (KFS circular Annex B/C): ₹20,000 at 15% for 24 months, ₹240 to the
/// lender and ₹160 to a third party through the lender.
const RBI: &str = r#"{
    "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
    "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01",
    "fees": [
        {"name": "Processing fee", "amount": "240.00"},
        {"name": "Insurance (payable to Acme General Insurance)", "amount": "160.00"}
    ]
}"#;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn settings() -> KfsSettings {
    KfsSettings {
        lender: "Example Finance Ltd".into(),
        validity_days: 3,
        cooling_off_days: 3,
        grievance_officer: GrievanceOfficer {
            name: "A. Officer".into(),
            phone: "+91 22 4000 0000".into(),
            email: "grievance@example.in".into(),
        },
        recovery_agents: true,
        may_be_transferred: false,
        service_providers: vec![],
        policy_url: Some("https://example.in/policies".into()),
    }
}

fn issue() -> KfsIssue {
    KfsIssue {
        application_number: "APP-2024-0001".into(),
        borrower: "Asha Rao".into(),
        issued_on: date("2023-12-28"),
        valid_until: date("2024-01-02"),
        terms_hash: "ab12".into(),
    }
}

fn rbi() -> KeyFacts {
    KeyFacts::build(&Terms::from_json(RBI).unwrap(), &settings(), issue()).unwrap()
}

fn rupee(minor: i64) -> i64 {
    // Half-up to the rupee, as RBI's published columns are.
    (minor + 50).div_euclid(100)
}

#[test]
fn rbi_example_headline_figures() {
    let k = rbi();
    assert_eq!(k.loan_amount, 2_000_000);
    assert_eq!(k.fees_to_lender, 24_000);
    assert_eq!(k.fees_to_third_parties, 16_000);
    assert_eq!(k.total_fees(), 40_000);
    assert_eq!(k.net_disbursed, 1_960_000);
    assert_eq!(k.apr, Decimal::new(1707, 2));
    assert_eq!(k.installments.amount, 96_973);
    assert_eq!(k.installments.count, 24);
    assert_eq!(k.installments.method, Method::Emi);
    assert_eq!(k.installments.first_due_date, date("2024-02-01"));
    assert_eq!(k.term.months, Some(24));
    assert_eq!(k.interest_rate.rate_type, RateType::Fixed);
    assert_eq!(k.interest_rate.annual_rate, Decimal::from(15));
    // Annex B rows 5 and 8: ₹3,274 and ₹23,274 (RBI rounds to the rupee).
    assert_eq!(rupee(k.total_interest), 3_274);
    assert_eq!(rupee(k.total_payable), 23_274);
    assert_eq!(k.total_payable, k.loan_amount + k.total_interest);
    assert!(!k.in_stages());
    assert_eq!(k.co_lending, None);
}

#[test]
fn rbi_example_names_each_fee_and_its_payee() {
    let k = rbi();
    assert_eq!(k.fees.len(), 2);
    assert_eq!(k.fees[0].name, "Processing fee");
    assert_eq!(k.fees[0].third_party, None);
    assert_eq!(k.fees[1].name, "Insurance");
    assert_eq!(
        k.fees[1].third_party.as_deref(),
        Some("Acme General Insurance")
    );
    assert_eq!(k.fees[1].total, 16_000);
}

#[test]
fn rbi_example_schedule_matches_annex_c() {
    // RBI's published columns, whole rupees.
    let outstanding = [
        20000, 19280, 18552, 17814, 17067, 16310, 15544, 14769, 13984, 13189, 12384, 11569, 10744,
        9909, 9063, 8206, 7339, 6461, 5572, 4672, 3761, 2838, 1904, 958,
    ];
    let interest = [
        250, 241, 232, 223, 213, 204, 194, 185, 175, 165, 155, 145, 134, 124, 113, 103, 92, 81, 70,
        58, 47, 35, 24, 12,
    ];
    // The exact interest column (paise), computed from the unrounded EMI.
    let exact_interest = [
        25000, 24100, 23189, 22267, 21333, 20388, 19430, 18461, 17480, 16486, 15480, 14461, 13430,
        12386, 11328, 10258, 9174, 8076, 6965, 5840, 4701, 3547, 2380, 1197,
    ];
    let k = rbi();
    assert_eq!(k.schedule.len(), 24);
    for (i, row) in k.schedule.iter().enumerate() {
        assert_eq!(row.number as usize, i + 1);
        assert_eq!(rupee(row.outstanding), outstanding[i], "row {}", i + 1);
        assert_eq!(rupee(row.interest), interest[i], "row {}", i + 1);
        assert!(
            (row.interest - exact_interest[i]).abs() <= 1,
            "row {}: {} vs {}",
            i + 1,
            row.interest,
            exact_interest[i]
        );
        assert_eq!(row.principal + row.interest, row.installment);
    }
    assert_eq!(k.schedule[0].principal, 71_973);
    assert_eq!(k.schedule[0].installment, 96_973);
    assert_eq!(k.schedule[23].outstanding, k.schedule[23].principal);
}

#[test]
fn json_writes_money_as_decimal_strings_and_round_trips() {
    let k = rbi();
    let json = serde_json::to_value(&k).unwrap();
    assert_eq!(json["loan_amount"], "20000.00");
    assert_eq!(json["net_disbursed"], "19600.00");
    assert_eq!(json["apr"], "17.07");
    assert_eq!(json["installments"]["amount"], "969.73");
    assert_eq!(json["schedule"][0]["interest"], "250.00");
    assert_eq!(json["schedule"][0]["due_date"], "2024-02-01");
    assert_eq!(json["issue"]["valid_until"], "2024-01-02");
    assert_eq!(json["fees"][1]["third_party"], "Acme General Insurance");
    let back: KeyFacts = serde_json::from_value(json).unwrap();
    assert_eq!(back, k);
}

#[test]
fn json_refuses_a_bad_amount_naming_it() {
    let mut json = serde_json::to_value(rbi()).unwrap();
    json["net_disbursed"] = "19600.001".into();
    let err = serde_json::from_value::<KeyFacts>(json).unwrap_err();
    assert!(err.to_string().contains("19600.001"), "{err}");
}

#[test]
fn contingent_charges_and_co_lending_come_from_the_terms() {
    let json = RBI.replace(
        r#""disbursement_date": "2024-01-01","#,
        r#""disbursement_date": "2024-01-01",
        "penal": {"percent": "24"},
        "foreclosure_fee": {"percent": "2", "tax_percent": "18"},
        "partners": [
            {"id": "Bank A", "share": "80", "annual_rate": "10"},
            {"id": "NBFC B", "share": "20", "annual_rate": "18", "originator": true}
        ],"#,
    );
    let terms = Terms::from_json(&json).unwrap();
    let k = KeyFacts::build(&terms, &settings(), issue()).unwrap();
    assert_eq!(
        k.contingent_charges.penal,
        Some(PenalCharge::AnnualPercent {
            percent: Decimal::from(24)
        })
    );
    assert_eq!(
        k.contingent_charges.foreclosure,
        Some(ForeclosureCharge {
            percent: Decimal::from(2),
            tax_percent: Decimal::from(18)
        })
    );
    let colending = k.co_lending.unwrap();
    assert_eq!(colending.lenders.len(), 2);
    assert!(colending.lenders[1].originator);
    // The reference's worked example: 0.8 × 10% + 0.2 × 18% = 11.6%.
    assert_eq!(colending.blended_rate, Decimal::new(116, 1));
}

#[test]
fn tranches_are_disbursed_in_stages() {
    let json = RBI.replace(
        r#""disbursement_date": "2024-01-01","#,
        r#""disbursement_date": "2024-01-01",
        "tranches": [{"date": "2024-03-10", "amount": "5000.00"}],"#,
    );
    let k = KeyFacts::build(&Terms::from_json(&json).unwrap(), &settings(), issue()).unwrap();
    assert!(k.in_stages());
    assert_eq!(k.disbursements[0].amount, 1_500_000);
    assert_eq!(k.disbursements[1].date, date("2024-03-10"));
    assert_eq!(k.disbursements[1].amount, 500_000);
}

#[test]
fn a_fee_name_without_a_complete_marker_is_the_lenders() {
    assert_eq!(
        split_payee("Legal (payable to )"),
        ("Legal (payable to )".into(), None)
    );
    assert_eq!(split_payee("Stamp duty"), ("Stamp duty".into(), None));
    assert_eq!(
        split_payee("Valuation (payable to Valuers & Co (Pune))"),
        ("Valuation".into(), Some("Valuers & Co (Pune)".into()))
    );
}

#[test]
fn a_currency_without_paise_is_refused() {
    let json = RBI
        .replace(r#""INR""#, r#""JPY""#)
        .replace("20000.00", "20000")
        .replace("240.00", "240")
        .replace("160.00", "160")
        .replace(
            r#""method": "emi","#,
            r#""method": "emi", "rounding": {"installment": {"mode": "half_up", "multiple": "1"}},"#,
        );
    let terms = Terms::from_json(&json).unwrap();
    assert_eq!(
        KeyFacts::build(&terms, &settings(), issue()),
        Err(ScheduleError::OutOfRange)
    );
}

const METHODS: [&str; 5] = ["emi", "flat", "equal_principal", "interest_only", "bullet"];
const COLLECT: [&str; 3] = ["deduct", "finance", "upfront"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The KFS's totals are the schedule's: what is disclosed is what is serviced.
    #[test]
    fn totals_are_the_schedules(
        method in 0..METHODS.len(),
        principal in 1_000_000i64..500_000_000,
        rate_bp in 100u32..3600,
        count in 1u32..60,
        fee in 1i64..500_000,
        percent_bp in 1u32..300,
        collect in 0..COLLECT.len(),
        third in any::<bool>(),
    ) {
        let payee = if third { " (payable to Insurer)" } else { "" };
        let json = format!(
            r#"{{"currency": "INR", "principal": "{}", "annual_rate": "{}", "method": "{}",
                "installments": {count}, "frequency": "monthly", "disbursement_date": "2024-01-31",
                "fees": [
                    {{"name": "Processing", "percent": "{}", "tax_percent": "18", "collect": "{}"}},
                    {{"name": "Cover{payee}", "amount": "{}", "collect": "deduct"}}
                ]}}"#,
            crate::money::format_minor(principal, 2),
            Decimal::new(i64::from(rate_bp), 2),
            METHODS[method],
            Decimal::new(i64::from(percent_bp), 2),
            COLLECT[collect],
            crate::money::format_minor(fee, 2),
        );
        let terms = Terms::from_json(&json).unwrap();
        let s = schedule::build(&terms).unwrap();
        let k = KeyFacts::build(&terms, &settings(), issue()).unwrap();

        prop_assert_eq!(k.apr, s.apr);
        prop_assert_eq!(k.total_interest, s.totals.interest);
        prop_assert_eq!(k.total_payable, s.totals.payable);
        prop_assert_eq!(k.net_disbursed, s.net_disbursed);
        prop_assert_eq!(k.total_fees(), s.totals.fees);
        prop_assert_eq!(k.fees.iter().map(|f| f.total).sum::<i64>(), k.total_fees());
        prop_assert_eq!(k.fees[1].third_party.is_some(), third);

        let withheld: i64 = k.fees.iter()
            .filter(|f| f.collect != FeeCollection::Finance)
            .map(|f| f.total)
            .sum();
        let financed = k.total_fees() - withheld;
        prop_assert_eq!(k.net_disbursed + withheld, k.loan_amount);
        prop_assert_eq!(k.schedule.iter().map(|r| r.installment).sum::<i64>(), k.total_payable);
        prop_assert_eq!(k.schedule.iter().map(|r| r.interest).sum::<i64>(), k.total_interest);
        prop_assert_eq!(
            k.schedule.iter().map(|r| r.principal).sum::<i64>(),
            k.loan_amount + financed
        );
        prop_assert_eq!(k.total_payable, k.loan_amount + financed + k.total_interest);
        prop_assert_eq!(k.schedule[0].outstanding, k.loan_amount + financed);
        for r in &k.schedule {
            prop_assert_eq!(r.principal + r.interest + r.fees, r.installment);
        }
    }
}

#[test]
fn a_floating_rate_discloses_a_25bp_rise() {
    let terms = Terms::from_json(RBI).unwrap();
    let fixed = KeyFacts::build(&terms, &settings(), issue()).unwrap();
    let base = fixed.installments.amount;
    let k = fixed
        .floating(
            &terms,
            "repo",
            "5.5".parse().unwrap(),
            "9.5".parse().unwrap(),
            3,
        )
        .unwrap();
    assert_eq!(k.interest_rate.rate_type, RateType::Floating);
    let f = k.interest_rate.floating.unwrap();
    assert_eq!((f.benchmark.as_str(), f.reset_months), ("repo", 3));
    // 24 instalments of ₹969.73 at 15 %; at 15.25 % the instalment rises and, kept at ₹969.73,
    // takes one more month to repay.
    assert!(
        f.installment_at_plus_25bp > base,
        "{}",
        f.installment_at_plus_25bp
    );
    assert!(f.installment_at_plus_25bp - base < 300, "about ₹2.4 more");
    assert_eq!(f.count_at_plus_25bp, 25);
}
