use proptest::prelude::*;
use serde_json::json;

use super::*;

fn d(y: i16, m: i8, day: i8) -> Date {
    Date::constant(y, m, day)
}

fn report() -> serde_json::Value {
    json!({
        "bureau": "cibil", "report_id": "CIR-1", "pulled_on": "2026-03-15",
        "name": "ASHA RAO", "pan": "ABCDE1234F", "score": 742, "score_version": "CIBILTUSC3",
        "accounts": [
            {
                "member": "NOT DISCLOSED", "account_type": "05", "ownership": "1",
                "opened": "2024-11-05", "closed": null, "reported_on": "2026-03-01",
                "sanctioned": "300000.00", "balance": "180000.00", "overdue": "0.00",
                "emi": "10500.00",
                // Newest first: Mar 26, Feb 26, Jan 26 … the Credeau sample's shape.
                "payment_history": "STDSTD029029000000000000000000000000000000000000000000000",
                "written_off": null, "suit_filed_or_wilful_default": null
            },
            {
                "member": "NOT DISCLOSED", "account_type": "10", "ownership": "1",
                "opened": "2021-06-01", "closed": null, "reported_on": "2026-02-28",
                "sanctioned": "100000.00", "balance": "40000.00", "overdue": "2500.00",
                "emi": null,
                "payment_history": "000000000000000000000000000000000000000000000090000000",
                "written_off": null, "suit_filed_or_wilful_default": "00"
            },
            {
                "member": "NOT DISCLOSED", "account_type": "13", "ownership": "1",
                "opened": "2019-01-10", "closed": "2022-01-10", "reported_on": "2022-01-31",
                "sanctioned": "80000.00", "balance": "0.00", "overdue": "0.00",
                "emi": "3000.00", "payment_history": "000SUB",
                "written_off": "12000.00", "suit_filed_or_wilful_default": null,
                "credit_facility_status": "03"
            }
        ],
        "enquiries": [
            {"date": "2026-03-01", "member": "NBFC A", "purpose": "05", "amount": "200000.00"},
            {"date": "2025-09-16", "member": "BANK B", "purpose": "10", "amount": "50000.00"},
            {"date": "2025-09-15", "member": "BANK C", "purpose": "05", "amount": "100000.00"}
        ]
    })
}

#[test]
fn reads_the_reference_cells() {
    use MonthStatus::*;
    let months = payment_history("STDSTD029XXX000SUBDBTLSSSMA900").unwrap();
    assert_eq!(
        months,
        vec![
            Standard,
            Standard,
            DaysPastDue(29),
            NotReported,
            DaysPastDue(0),
            SubStandard,
            Doubtful,
            Loss,
            SpecialMention,
            DaysPastDue(900)
        ]
    );
    let dpd: Vec<Option<u32>> = months.iter().map(|m| m.dpd()).collect();
    assert_eq!(
        dpd,
        [
            Some(0),
            Some(0),
            Some(29),
            None,
            Some(0),
            Some(91),
            Some(181),
            Some(361),
            Some(61),
            Some(900)
        ]
    );
    assert_eq!(payment_history("").unwrap(), vec![]);
    assert_eq!(payment_history(&"000".repeat(36)).unwrap().len(), 36);
}

#[test]
fn refuses_broken_histories() {
    let e = payment_history("STDST").unwrap_err();
    assert_eq!(e.code, "bureau.history_length");
    let e = payment_history(&"000".repeat(37)).unwrap_err();
    assert_eq!(e.code, "bureau.history_length");
    let e = payment_history("000AB1").unwrap_err();
    assert_eq!(e.code, "bureau.history_cell");
    assert!(e.rule.contains("month 2"), "{}", e.rule);
    assert!(payment_history("0é0").is_err());
}

#[test]
fn reads_a_report_and_round_trips() {
    let r = BureauReport::from_json(&report().to_string()).unwrap();
    assert_eq!(r.score, Some(742));
    assert_eq!(r.accounts.len(), 3);
    assert_eq!(r.accounts[0].sanctioned, 30_000_000);
    assert_eq!(r.accounts[0].emi, Some(1_050_000));
    assert_eq!(r.accounts[2].closed, Some(d(2022, 1, 10)));
    assert_eq!(BureauReport::from_json(&r.to_json()), Ok(r));
}

#[test]
fn the_summary_by_hand() {
    let r = BureauReport::from_json(&report().to_string()).unwrap();
    let s = r.summary(d(2026, 3, 20));
    // The personal loan and the card are open; the closed two-wheeler loan is not.
    assert_eq!(s.open_accounts, 2);
    // 10,500 reported + 5 % of the card's 40,000 balance = 12,500.
    assert_eq!(s.existing_emi, 1_250_000);
    // The loan's 029 is in Jan 2026; the card's 090 is the 16th month back from Feb 2026 (Nov 2024),
    // outside 12 months and inside 36; the closed loan's SUB (Dec 2021) is outside both.
    assert_eq!(s.max_dpd_12m, 29);
    assert_eq!(s.max_dpd_36m, 90);
    // 2025-09-20 is six months back: the 16 and 15 September enquiries fall out.
    assert_eq!(s.enquiries_6m, 1);
    assert_eq!(s.overdue, 250_000);
    assert!(s.written_off_or_settled);
    assert!(!s.suit_filed_or_wilful_default);
}

#[test]
fn a_minus_one_score_is_none() {
    let mut doc = report();
    doc["score"] = json!(-1);
    assert_eq!(
        BureauReport::from_json(&doc.to_string()).unwrap().score,
        None
    );
    doc["score"] = json!(null);
    assert_eq!(
        BureauReport::from_json(&doc.to_string()).unwrap().score,
        None
    );
}

#[test]
fn every_broken_field_is_named() {
    let mut doc = report();
    doc["pan"] = json!("ABCD1234F");
    doc["score"] = json!(950);
    doc["bureau"] = json!("acme");
    doc["accounts"][0]["payment_history"] = json!("STDST");
    doc["accounts"][1]["closed"] = json!("2020-01-01");
    doc["accounts"][2]["ownership"] = json!("9");
    doc["enquiries"][1]["purpose"] = json!("5");
    let errors = BureauReport::from_json(&doc.to_string()).unwrap_err();
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        got,
        [
            ("bureau", "bureau.name"),
            ("pan", "bureau.pan"),
            ("score", "bureau.score"),
            ("accounts[0].payment_history", "bureau.history_length"),
            ("accounts[1].closed", "bureau.dates"),
            ("accounts[2].ownership", "bureau.code"),
            ("enquiries[1].purpose", "bureau.code"),
        ]
    );
}

#[test]
fn shape_errors_name_each_list_item() {
    let mut doc = report();
    doc["accounts"][1]["sanctioned"] = json!("1,00,000");
    doc["accounts"][2]["opened"] = json!("10-01-2019");
    doc["enquiries"][0]
        .as_object_mut()
        .unwrap()
        .remove("amount");
    let errors = BureauReport::from_json(&doc.to_string()).unwrap_err();
    let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        got,
        [
            ("accounts[1].sanctioned", "json.invalid"),
            ("accounts[2].opened", "date.format"),
            ("enquiries[0].amount", "field.missing"),
        ]
    );
    let errors = BureauReport::from_json("{").unwrap_err();
    assert_eq!(errors[0].code, "json.syntax");
    let mut doc = report();
    doc.as_object_mut().unwrap().remove("pan");
    let errors = BureauReport::from_json(&doc.to_string()).unwrap_err();
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code),
        ("pan", "field.missing")
    );
}

#[test]
fn estimates_emis_by_type() {
    let mut t = BureauReport::from_json(&report().to_string())
        .unwrap()
        .accounts[0]
        .clone();
    t.emi = None;
    assert_eq!(estimated_emi(&t), 900_000); // 3 % of 3,00,000
    t.account_type = "02".into();
    assert_eq!(estimated_emi(&t), 300_000);
    t.account_type = "01".into();
    assert_eq!(estimated_emi(&t), 600_000);
    t.account_type = "12".into();
    assert_eq!(estimated_emi(&t), 0);
}

proptest! {
    #[test]
    fn history_cells_read_back(cells in proptest::collection::vec(
        prop_oneof![
            (0u32..1000).prop_map(|d| format!("{d:03}")),
            Just("STD".to_owned()), Just("XXX".to_owned()), Just("SMA".to_owned()),
            Just("SUB".to_owned()), Just("DBT".to_owned()), Just("LSS".to_owned()),
        ],
        0..=36,
    )) {
        let months = payment_history(&cells.concat()).unwrap();
        prop_assert_eq!(months.len(), cells.len());
        for (cell, month) in cells.iter().zip(&months) {
            if let Ok(days) = cell.parse::<u32>() {
                prop_assert_eq!(*month, MonthStatus::DaysPastDue(days));
            }
        }
    }

    #[test]
    fn readers_never_panic(text in "\\PC{0,200}") {
        let _ = payment_history(&text);
        let _ = BureauReport::from_json(&text);
    }
}
