use super::*;

fn account(rail: Rail, amount: i64, account_number: &str) -> PayoutOrder {
    PayoutOrder {
        reference: format!("DISB-{account_number}"),
        rail,
        amount,
        beneficiary: Beneficiary {
            name: "Asha Rao".into(),
            account_number: Some(account_number.into()),
            ifsc: Some("HDFC0001234".into()),
            vpa: None,
        },
    }
}

fn upi(amount: i64, vpa: &str) -> PayoutOrder {
    PayoutOrder {
        reference: "DISB-UPI-1".into(),
        rail: Rail::Upi,
        amount,
        beneficiary: Beneficiary {
            name: "Asha Rao".into(),
            account_number: None,
            ifsc: None,
            vpa: Some(vpa.into()),
        },
    }
}

fn fields(order: &PayoutOrder) -> Vec<(String, &'static str)> {
    match check_order(order) {
        Ok(()) => vec![],
        Err(e) => e.into_iter().map(|e| (e.field, e.code)).collect(),
    }
}

fn utr(reply: &PayoutReply) -> &str {
    match reply {
        PayoutReply::Paid { utr } => utr,
        other => panic!("expected paid, got {other:?}"),
    }
}

fn code(reply: &PayoutReply) -> &str {
    match reply {
        PayoutReply::Failed { code, .. } => code,
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn limits_per_rail_at_their_boundaries() {
    let ok = |rail, amount| check_order(&account(rail, amount, "123456789012")).is_ok();
    assert!(ok(Rail::Rtgs, RTGS_MIN));
    assert!(!ok(Rail::Rtgs, RTGS_MIN - 1));
    assert!(ok(Rail::Imps, IMPS_MAX));
    assert!(!ok(Rail::Imps, IMPS_MAX + 1));
    assert!(ok(Rail::Neft, 1));
    assert!(ok(Rail::Neft, 5_000_000_000));
    assert!(!ok(Rail::Neft, 0));
    assert!(check_order(&upi(UPI_MAX, "asha.rao@okbank")).is_ok());
    assert_eq!(
        fields(&upi(UPI_MAX + 1, "asha.rao@okbank")),
        vec![("amount".to_owned(), "payout.upi_maximum")]
    );
    assert_eq!(
        fields(&account(Rail::Rtgs, RTGS_MIN - 1, "123456789012")),
        vec![("amount".to_owned(), "payout.rtgs_minimum")]
    );
    let rule = check_order(&account(Rail::Rtgs, 1, "123456789012")).unwrap_err()[0]
        .rule
        .clone();
    assert_eq!(rule, "must be at least ₹200000.00 on RTGS");
}

#[test]
fn bad_ifsc_account_and_vpa_are_named() {
    for bad in [
        "HDFC1001234",
        "hdfc0001234",
        "HDFC000123",
        "HDF00001234",
        "HDFC0001_34",
    ] {
        let mut o = account(Rail::Neft, 10_000, "123456789012");
        o.beneficiary.ifsc = Some(bad.into());
        assert_eq!(
            fields(&o),
            vec![("beneficiary.ifsc".to_owned(), "beneficiary.ifsc")],
            "{bad}"
        );
    }
    for bad in ["12345678", "1234567890123456789", "12345678901A"] {
        assert_eq!(
            fields(&account(Rail::Imps, 10_000, bad)),
            vec![(
                "beneficiary.account_number".to_owned(),
                "beneficiary.account_number"
            )],
            "{bad}"
        );
    }
    for bad in [
        "asharao",
        "a@okbank",
        "asha@",
        "asha@1bank",
        "asha rao@okbank",
        "a@b@c",
    ] {
        assert_eq!(
            fields(&upi(10_000, bad)),
            vec![("beneficiary.vpa".to_owned(), "beneficiary.vpa")],
            "{bad}"
        );
    }
    let mut missing = account(Rail::Neft, 10_000, "123456789012");
    missing.beneficiary.ifsc = None;
    missing.beneficiary.name = " ".into();
    missing.reference = String::new();
    assert_eq!(
        fields(&missing),
        vec![
            ("reference".to_owned(), "payout.reference"),
            ("beneficiary.name".to_owned(), "beneficiary.name"),
            ("beneficiary.ifsc".to_owned(), "beneficiary.required"),
        ]
    );
    assert_eq!(
        fields(&PayoutOrder {
            beneficiary: Beneficiary {
                vpa: None,
                ..upi(10_000, "x").beneficiary
            },
            ..upi(10_000, "x")
        }),
        vec![("beneficiary.vpa".to_owned(), "beneficiary.required")]
    );
}

#[test]
fn rail_serialises_lowercase() {
    assert_eq!(serde_json::to_string(&Rail::Rtgs).unwrap(), "\"rtgs\"");
    assert_eq!(serde_json::from_str::<Rail>("\"upi\"").unwrap(), Rail::Upi);
}

#[tokio::test]
async fn paid_orders_carry_utrs_in_the_rails_format() {
    let bank = SimulatedPayouts::on(Date::constant(2024, 3, 15));
    let neft = bank
        .send(&account(Rail::Neft, 50_000, "123456789010"))
        .await;
    assert_eq!(utr(&neft), "LBSBN24075000001");
    let rtgs = bank
        .send(&account(Rail::Rtgs, RTGS_MIN, "123456789011"))
        .await;
    assert_eq!(utr(&rtgs), "LBSBR12024031500000002");
    assert_eq!(utr(&rtgs).len(), 22);
    let imps = bank
        .send(&account(Rail::Imps, 50_000, "123456789012"))
        .await;
    assert_eq!(utr(&imps), "407510000003");
    let upi_reply = bank.send(&upi(50_000, "asha.rao@okbank")).await;
    assert_eq!(utr(&upi_reply).len(), 12);
    assert!(utr(&upi_reply).bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(bank.paid_count("DISB-123456789010"), 1);
}

#[tokio::test]
async fn failures_carry_real_return_codes() {
    let bank = SimulatedPayouts::new();
    let no_account = bank
        .send(&account(Rail::Neft, 50_000, "123456789015"))
        .await;
    assert_eq!(code(&no_account), "02");
    let closed = bank
        .send(&account(Rail::Imps, 50_000, "123456789016"))
        .await;
    assert_eq!(code(&closed), "01");
    assert_eq!(code(&bank.send(&upi(50_000, "asha5@okbank")).await), "XH");
    assert_eq!(bank.paid_count("DISB-123456789015"), 0);
    assert_eq!(bank.status("DISB-123456789016").await, closed);
}

#[tokio::test]
async fn pending_then_paid() {
    let bank = SimulatedPayouts::new();
    let order = account(Rail::Neft, 50_000, "123456789017");
    assert_eq!(bank.send(&order).await, PayoutReply::Pending);
    assert_eq!(bank.send(&order).await, PayoutReply::Pending);
    let settled = bank.status(&order.reference).await;
    utr(&settled);
    assert_eq!(bank.send(&order).await, settled);
    assert_eq!(bank.paid_count(&order.reference), 1);
}

#[tokio::test]
async fn status_after_a_timeout_gives_the_final_result() {
    let bank = SimulatedPayouts::new();
    let paid = account(Rail::Imps, 50_000, "123456789018");
    assert!(matches!(
        bank.send(&paid).await,
        PayoutReply::Unknown { .. }
    ));
    let final_paid = bank.status(&paid.reference).await;
    utr(&final_paid);
    assert_eq!(bank.status(&paid.reference).await, final_paid);

    let failed = account(Rail::Neft, 50_000, "123456789019");
    assert!(matches!(
        bank.send(&failed).await,
        PayoutReply::Unknown { .. }
    ));
    assert_eq!(code(&bank.status(&failed.reference).await), "59");
    assert_eq!(bank.paid_count(&failed.reference), 0);
    assert_eq!(code(&bank.status_upi_timeout_failure().await), "U91");
}

impl SimulatedPayouts {
    async fn status_upi_timeout_failure(&self) -> PayoutReply {
        let order = upi(50_000, "asha9@okbank");
        self.send(&order).await;
        self.status(&order.reference).await
    }
}

#[tokio::test]
async fn resending_a_reference_never_pays_twice() {
    let bank = SimulatedPayouts::new();
    for ending in ["0", "7", "8"] {
        let order = account(Rail::Neft, 50_000, &format!("12345678901{ending}"));
        let first = bank.send(&order).await;
        for _ in 0..3 {
            bank.send(&order).await;
            bank.status(&order.reference).await;
        }
        assert_eq!(bank.paid_count(&order.reference), 1, "ending {ending}");
        let last = bank.send(&order).await;
        if ending == "0" {
            assert_eq!(last, first);
        }
        assert_eq!(last, bank.status(&order.reference).await);
    }
    // A reused reference with other details fails and leaves the first payout alone.
    let order = account(Rail::Neft, 50_000, "123456789010");
    let mut other = order.clone();
    other.amount = 90_000;
    assert_eq!(code(&bank.send(&other).await), "31");
    assert_eq!(bank.paid_count(&order.reference), 1);
}

#[tokio::test]
async fn an_invalid_order_is_refused_and_never_paid() {
    let bank = SimulatedPayouts::new();
    let order = upi(UPI_MAX + 1, "asha.rao@okbank");
    let reply = bank.send(&order).await;
    assert_eq!(code(&reply), "84");
    let PayoutReply::Failed { reason, .. } = reply else {
        unreachable!()
    };
    assert!(reason.starts_with("amount: must be at most"), "{reason}");
    assert_eq!(bank.paid_count(&order.reference), 0);
    assert!(matches!(
        bank.status(&order.reference).await,
        PayoutReply::Unknown { .. }
    ));
}
