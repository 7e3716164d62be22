//! Published schedules reproduced to the paisa: RBI's KFS/APR illustration and Apache Fineract's
//! schedule test vectors (figures as listed in the project's reference material, conventions.md §7).

use loanbook_domain::schedule::{Schedule, build};
use loanbook_domain::terms::Terms;
use serde_json::{Value, json};

fn schedule(terms: Value) -> Schedule {
    let terms = Terms::from_json(&terms.to_string()).expect("valid terms");
    build(&terms).expect("schedule")
}

/// Paise/cents from a decimal literal written with two places.
fn c(v: &str) -> i64 {
    let (int, frac) = v.split_once('.').unwrap_or((v, "00"));
    let sign = if int.starts_with('-') { -1 } else { 1 };
    let int: i64 = int.trim_start_matches('-').parse().unwrap();
    let frac: i64 = format!("{frac:0<2}").parse().unwrap();
    sign * (int * 100 + frac)
}

fn column(s: &Schedule, f: impl Fn(&loanbook_domain::schedule::Installment) -> i64) -> Vec<i64> {
    s.installments.iter().map(f).collect()
}

fn cents(values: &[&str]) -> Vec<i64> {
    values.iter().map(|v| c(v)).collect()
}

fn fineract(method: &str, multiple: &str) -> Value {
    json!({
        "currency": "EUR", "principal": "5000", "annual_rate": "12", "method": method,
        "installments": 18, "frequency": "monthly",
        "disbursement_date": "2022-11-01", "first_due_date": "2022-12-01",
        "rounding": {"installment": {"mode": "half_even", "multiple": multiple}, "interest": "half_even"}
    })
}

#[test]
fn rbi_kfs_illustration() {
    let s = schedule(json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "fees": [{"name": "processing", "amount": "400.00"}]
    }));
    assert_eq!(s.installment_amount, c("969.73"));
    let interest = column(&s, |r| r.interest);
    assert_eq!(
        interest[..6],
        cents(&["250.00", "241.00", "231.89", "222.67", "213.33", "203.88"])[..]
    );
    assert_eq!(interest[23], c("11.97"));
    let first = &s.installments[0];
    assert_eq!(
        (first.principal, first.balance),
        (c("719.73"), c("19280.27"))
    );
    assert_eq!(first.due_date.to_string(), "2024-02-01");
    assert_eq!(s.installments[23].balance, 0);
    assert_eq!(s.totals.principal, c("20000.00"));
    assert_eq!(s.totals.interest, c("3273.58"));
    assert_eq!(s.totals.fees, c("400.00"));
    assert_eq!(s.totals.payable, c("23273.58"));
    assert_eq!(s.net_disbursed, c("19600.00"));
    assert_eq!(s.apr.to_string(), "17.07");
}

#[test]
fn rbi_quote_json_shape() {
    let s = schedule(json!({
        "currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
        "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "fees": [{"name": "processing", "amount": "400.00"}]
    }));
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["installment_amount"], "969.73");
    assert_eq!(
        v["installments"][0],
        json!({"number": 1, "due_date": "2024-02-01", "principal": "719.73", "interest": "250.00",
               "fees": "0.00", "total": "969.73", "balance": "19280.27"})
    );
    assert_eq!(
        v["totals"],
        json!({"principal": "20000.00", "interest": "3273.58", "fees": "400.00", "payable": "23273.58"})
    );
    assert_eq!(v["net_disbursed"], "19600.00");
    assert_eq!(v["apr"], "17.07");
}

#[test]
fn fineract_c1_flat_equal_installments() {
    let s = schedule(fineract("flat", "1"));
    for r in &s.installments[..17] {
        assert_eq!(
            (r.principal, r.interest, r.total),
            (c("278"), c("50"), c("328"))
        );
    }
    let last = s.installments[17];
    assert_eq!(
        (last.principal, last.interest, last.total),
        (c("274"), c("50"), c("324"))
    );
    assert_eq!(s.totals.interest, c("900"));
    assert_eq!(s.totals.payable, c("5900"));
}

#[test]
fn fineract_c2_declining_balance_equal_installments() {
    let s = schedule(fineract("emi", "1"));
    assert_eq!(s.installment_amount, c("305"));
    let p = column(&s, |r| r.principal);
    let i = column(&s, |r| r.interest);
    assert_eq!(p[..4], cents(&["255.00", "257.55", "260.13", "262.73"])[..]);
    assert_eq!(i[..4], cents(&["50.00", "47.45", "44.87", "42.27"])[..]);
    assert_eq!((p[16], i[16]), (c("299.01"), c("5.99")));
    assert_eq!((p[17], i[17]), (c("300.22"), c("3.00")));
    assert_eq!(s.installments[17].total, c("303.22"));
    assert_eq!(s.totals.interest, c("488.22"));
}

#[test]
fn fineract_c4_equal_principal() {
    let s = schedule(fineract("equal_principal", "1"));
    let p = column(&s, |r| r.principal);
    assert!(p[..17].iter().all(|&x| x == c("277.78")));
    assert_eq!(p[17], c("277.74"));
    let i = column(&s, |r| r.interest);
    assert_eq!(i[..4], cents(&["50.00", "47.22", "44.44", "41.67"])[..]);
    assert_eq!((i[16], i[17]), (c("5.56"), c("2.78")));
    assert_eq!(s.installments[0].total, c("327.78"));
    assert_eq!(s.installments[17].total, c("280.52"));
    assert_eq!(s.totals.interest, c("475.00"));
}

#[test]
fn fineract_c5_grace_on_principal_three_periods() {
    let mut t = fineract("emi", "1");
    t["moratorium"] = json!({"periods": 3, "interest": "pay"});
    let s = schedule(t);
    for r in &s.installments[..3] {
        assert_eq!((r.principal, r.interest), (0, c("50.00")));
    }
    assert_eq!(s.installment_amount, c("361"));
    let p = column(&s, |r| r.principal);
    let i = column(&s, |r| r.interest);
    assert_eq!(p[3..6], cents(&["311.00", "314.11", "317.25"])[..]);
    assert_eq!(i[3..6], cents(&["50.00", "46.89", "43.75"])[..]);
    assert_eq!((p[17], i[17]), (c("351.36"), c("3.51")));
    assert_eq!(s.installments[17].total, c("354.87"));
    assert_eq!(s.totals.interest, c("558.87"));
}

#[test]
fn fineract_c6_grace_on_principal_six_periods() {
    let mut t = fineract("emi", "1");
    t["moratorium"] = json!({"periods": 6, "interest": "pay"});
    let s = schedule(t);
    assert_eq!(s.installment_amount, c("444"));
    let r7 = s.installments[6];
    assert_eq!((r7.principal, r7.interest), (c("394.00"), c("50.00")));
    let r8 = s.installments[7];
    assert_eq!((r8.principal, r8.interest), (c("397.94"), c("46.06")));
    let last = s.installments[17];
    assert_eq!(
        (last.principal, last.interest, last.total),
        (c("442.66"), c("4.43"), c("447.09"))
    );
    assert_eq!(s.totals.interest, c("631.09"));
}

fn fineract_flat_1250(multiple: &str, rate: &str, n: u32, method: &str) -> Schedule {
    schedule(json!({
        "currency": "USD", "principal": "1250", "annual_rate": rate, "method": method,
        "installments": n, "frequency": "monthly",
        "disbursement_date": "2023-01-01", "first_due_date": "2023-02-01",
        "rounding": {"installment": {"mode": "half_even", "multiple": multiple}, "interest": "half_even"}
    }))
}

#[test]
fn fineract_c8_flat_multiples_of_one() {
    let s = fineract_flat_1250("1", "12", 3, "flat");
    assert_eq!(
        column(&s, |r| r.total),
        cents(&["429.00", "429.00", "429.50"])
    );
    assert_eq!(
        column(&s, |r| r.principal),
        cents(&["416.50", "416.50", "417.00"])
    );
    assert_eq!(
        column(&s, |r| r.interest),
        cents(&["12.50", "12.50", "12.50"])
    );
    assert_eq!(s.totals.interest, c("37.50"));
}

/// C9 differs on purpose: Fineract rounds principal and interest separately to the multiple and
/// then patches principal (440, 440, 407.50). Loanbook rounds the instalment itself to the
/// multiple, as the terms say (docs/terms.md, "Differences from Apache Fineract").
#[test]
fn fineract_c9_flat_multiples_of_twenty_rounds_the_instalment() {
    let s = fineract_flat_1250("20", "12", 3, "flat");
    assert_eq!(
        column(&s, |r| r.total),
        cents(&["420.00", "420.00", "447.50"])
    );
    assert_eq!(s.totals.interest, c("37.50"));
}

#[test]
fn fineract_c10_no_interest_flat_and_declining() {
    for method in ["flat", "emi"] {
        let s = fineract_flat_1250("1", "0", 4, method);
        assert_eq!(
            column(&s, |r| r.total),
            cents(&["312", "312", "312", "314"]),
            "{method}"
        );
        assert_eq!(s.totals.interest, 0);
    }
}

fn progressive(principal: &str, rate: &str, n: u32, basis: &str) -> Schedule {
    schedule(json!({
        "currency": "USD", "principal": principal, "annual_rate": rate, "method": "emi",
        "installments": n, "frequency": "monthly", "disbursement_date": "2024-01-01",
        "interest_basis": basis,
        "rounding": {"installment": {"mode": "half_even", "multiple": "0.01"}, "interest": "half_even"}
    }))
}

#[test]
fn fineract_p1_emi_360_30() {
    for basis in ["equal_periods", "30/360"] {
        let s = progressive("100", "9.4822", 6, basis);
        assert_eq!(s.installment_amount, c("17.13"), "{basis}");
        assert_eq!(
            column(&s, |r| r.interest),
            cents(&["0.79", "0.66", "0.53", "0.40", "0.27", "0.13"]),
            "{basis}"
        );
        assert_eq!(
            column(&s, |r| r.principal),
            cents(&["16.34", "16.47", "16.60", "16.73", "16.86", "17.00"])
        );
        assert_eq!(
            column(&s, |r| r.balance),
            cents(&["83.66", "67.19", "50.59", "33.86", "17.00", "0"])
        );
        assert!(s.installments.iter().all(|r| r.total == c("17.13")));
    }
}

#[test]
fn fineract_p6_emi_seven_percent() {
    let s = progressive("100", "7", 12, "equal_periods");
    assert!(s.installments[..11].iter().all(|r| r.total == c("8.65")));
    assert_eq!(s.installments[11].total, c("8.69"));
    assert_eq!(s.totals.interest, c("3.84"));
}

#[test]
fn fineract_p7_no_interest() {
    let s = progressive("1000", "0", 4, "act/act");
    assert_eq!(
        column(&s, |r| r.total),
        cents(&["250", "250", "250", "250"])
    );
    assert_eq!(
        column(&s, |r| r.balance),
        cents(&["750", "500", "250", "0"])
    );
}

#[test]
fn fineract_p11_emi_schedule() {
    let s = progressive("100", "7", 6, "30/360");
    assert_eq!(s.installment_amount, c("17.01"));
    assert_eq!(
        column(&s, |r| r.interest),
        cents(&["0.58", "0.49", "0.39", "0.29", "0.20", "0.10"])
    );
    assert_eq!(s.installments[5].total, c("17.00"));
    assert_eq!(s.totals.interest, c("2.05"));
}
