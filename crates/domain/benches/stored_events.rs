//! Reading stored events. Run with `cargo bench -p loanbook-domain --bench stored_events`.
//!
//! Decodes 5,000 stored events (a loan book's worth of payments with the odd charge, waiver and
//! reversal) with the validating reader and with the trusted reader.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::ToSpan;
use jiff::civil::date;
use loanbook_domain::events::{ChargeKind, Event, EventKind, WaiverComponent};
use loanbook_domain::money::Currency;

const COUNT: usize = 5_000;

fn stored() -> Vec<String> {
    let start = date(2024, 1, 1);
    (0..COUNT)
        .map(|n| {
            let date = start.checked_add((n as i64 % 3000).days()).unwrap_or(start);
            let kind = match n % 20 {
                0 => EventKind::Charge {
                    kind: ChargeKind::Bounce,
                    amount: 50_000,
                    reference: Some(format!("B{n}")),
                },
                1 => EventKind::Waiver {
                    component: WaiverComponent::Charges,
                    amount: 50_000,
                },
                2 => EventKind::PaymentReversal {
                    reference: format!("NACH-{n}"),
                    reason: Some("insufficient funds".to_owned()),
                },
                _ => EventKind::Payment {
                    amount: 96_973,
                    reference: format!("NACH-{n}"),
                    channel: Some("nach".to_owned()),
                },
            };
            Event { date, kind }.to_stored_json(Currency::INR)
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let docs = stored();
    for d in &docs {
        let general = Event::from_stored_json(d, Currency::INR);
        let trusted = Event::from_trusted_json(d, Currency::INR);
        assert!(general.is_ok() && general == trusted, "{d}");
    }
    let mut g = c.benchmark_group("decode 5000 stored events");
    g.bench_function("from_stored_json (validating)", |b| {
        b.iter(|| {
            for d in &docs {
                let _ = black_box(Event::from_stored_json(black_box(d), Currency::INR));
            }
        })
    });
    g.bench_function("from_trusted_json", |b| {
        b.iter(|| {
            for d in &docs {
                let _ = black_box(Event::from_trusted_json(black_box(d), Currency::INR));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
