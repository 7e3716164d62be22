use super::*;

fn band(from: Option<&str>, to: Option<&str>, points: i32) -> Band {
    Band {
        from: from.map(|s| s.parse().unwrap()),
        to: to.map(|s| s.parse().unwrap()),
        points,
    }
}

fn card() -> Scorecard {
    Scorecard {
        characteristics: vec![
            Characteristic {
                name: "bureau_score".into(),
                bands: vec![
                    band(None, Some("700"), 0),
                    band(Some("700"), Some("750"), 20),
                    band(Some("750"), None, 40),
                ],
                missing_points: 10,
            },
            Characteristic {
                name: "monthly_income".into(),
                bands: vec![band(None, Some("50000"), 0), band(Some("50000"), None, 25)],
                missing_points: 0,
            },
        ],
        approve_from: 50,
        refer_from: 30,
    }
}

fn facts(score: Option<u16>, income_minor: i64) -> Facts {
    Facts {
        bureau_score: score,
        monthly_income: income_minor,
        ..Facts::default()
    }
}

#[test]
fn bands_are_closed_below_and_open_above() {
    let c = card();
    let cases = [
        (Some(699), 4_999_999, 0),
        (Some(700), 4_999_999, 20),
        (Some(749), 5_000_000, 45),
        (Some(750), 5_000_000, 65),
        (None, 5_000_000, 35),
    ];
    for (score, income, points) in cases {
        let s = c.score(&facts(score, income));
        assert_eq!(s.points, points, "{score:?} {income}");
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.lines.iter().map(|l| l.points).sum::<i32>(), s.points);
    }
    let s = c.score(&facts(Some(700), 5_000_000));
    assert_eq!(s.lines[0].band, Some(1));
    assert_eq!(s.lines[0].value.as_deref(), Some("700"));
    assert_eq!(s.lines[1].value.as_deref(), Some("50000"));
    let s = c.score(&facts(None, 0));
    assert_eq!((s.lines[0].band, s.lines[0].points), (None, 10));
    assert!(c.validate("scorecard").is_empty());
}

fn errors_of(bands: Vec<Band>) -> Vec<(String, &'static str)> {
    let mut c = card();
    c.characteristics[0].bands = bands;
    c.validate("scorecard")
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

#[test]
fn gaps_and_overlaps_are_named() {
    let at = |s: &str| format!("scorecard.characteristics[0].bands{s}");
    assert_eq!(
        errors_of(vec![band(None, Some("700"), 0), band(Some("710"), None, 1)]),
        vec![(at("[1].from"), "scorecard.gap")]
    );
    assert_eq!(
        errors_of(vec![band(None, Some("700"), 0), band(Some("690"), None, 1)]),
        vec![(at("[1].from"), "scorecard.overlap")]
    );
    assert_eq!(
        errors_of(vec![
            band(Some("300"), Some("700"), 0),
            band(Some("700"), Some("900"), 1)
        ]),
        vec![
            (at("[0].from"), "scorecard.gap"),
            (at("[1].to"), "scorecard.gap")
        ]
    );
    assert_eq!(
        errors_of(vec![band(None, None, 0), band(None, None, 1)]),
        vec![(at("[1].from"), "scorecard.overlap")]
    );
    assert_eq!(
        errors_of(vec![
            band(None, Some("700"), 0),
            band(Some("700"), Some("700"), 1),
            band(Some("700"), None, 2)
        ]),
        vec![(at("[1]"), "scorecard.band")]
    );
    assert_eq!(errors_of(vec![]), vec![(at(""), "scorecard.bands")]);
}

#[test]
fn names_and_thresholds_are_checked() {
    let mut c = card();
    c.characteristics[1].name = "bureau_score".into();
    c.refer_from = 51;
    let e: Vec<(String, &str)> = c
        .validate("scorecard")
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect();
    assert_eq!(
        e,
        vec![
            (
                "scorecard.characteristics[1].name".into(),
                "scorecard.unique"
            ),
            ("scorecard.refer_from".into(), "scorecard.thresholds"),
        ]
    );
    c.characteristics[1].name = "height".into();
    c.refer_from = 50;
    let e = c.validate("scorecard");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].code, "scorecard.characteristic");
    c.characteristics.clear();
    assert_eq!(c.validate("scorecard")[0].code, "scorecard.characteristics");
}

#[test]
fn every_characteristic_reads_its_fact() {
    let f = Facts {
        bureau_score: Some(780),
        existing_emi: 0,
        proposed_emi: 2_000_000,
        monthly_income: 8_000_000,
        age_years: 41,
        enquiries_6m: 3,
        bounced_debits: 2,
        ltv_percent: Some("62.5".parse().unwrap()),
        ..Facts::default()
    };
    let want = ["780", "25", "80000", "41", "3", "2", "62.5"];
    for (name, value) in CHARACTERISTICS.iter().zip(want) {
        assert_eq!(
            fact_value(&f, name).map(|v| v.normalize().to_string()),
            Some(value.to_owned()),
            "{name}"
        );
    }
    assert_eq!(fact_value(&f, "shoe_size"), None);
}
