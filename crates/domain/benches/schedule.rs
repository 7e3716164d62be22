//! Schedule generation and APR solving. Run with `cargo bench -p loanbook-domain --bench schedule`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use loanbook_domain::calendar::Frequency;
use loanbook_domain::schedule::{apr, build, repayments};
use loanbook_domain::terms::Terms;

fn terms(method: &str, n: u32, basis: &str) -> Terms {
    let json = format!(
        r#"{{"currency": "INR", "principal": "5000000.00", "annual_rate": "8.5", "method": "{method}",
            "installments": {n}, "frequency": "monthly", "disbursement_date": "2024-01-15",
            "interest_basis": "{basis}",
            "fees": [{{"name": "processing", "percent": "0.5", "tax_percent": "18"}}]}}"#
    );
    match Terms::from_json(&json) {
        Ok(t) => t,
        Err(e) => panic!("benchmark terms are invalid: {e}"),
    }
}

fn schedules(c: &mut Criterion) {
    let emi = terms("emi", 360, "equal_periods");
    c.bench_function("emi 360 monthly, equal periods (schedule only)", |b| {
        b.iter(|| repayments(black_box(&emi)))
    });
    c.bench_function("emi 360 monthly, equal periods (schedule + APR)", |b| {
        b.iter(|| build(black_box(&emi)))
    });
    let daily = terms("emi", 360, "act/365f");
    c.bench_function("emi 360 monthly, act/365f (schedule + APR)", |b| {
        b.iter(|| build(black_box(&daily)))
    });
    let step = terms("equal_principal", 360, "act/act");
    c.bench_function(
        "equal principal 360 monthly, act/act (schedule + APR)",
        |b| b.iter(|| build(black_box(&step))),
    );

    let s = match build(&emi) {
        Ok(s) => s,
        Err(e) => panic!("benchmark schedule failed: {e}"),
    };
    let mut flows = vec![(emi.disbursement_date, s.net_disbursed)];
    flows.extend(s.installments.iter().map(|r| (r.due_date, -r.total)));
    c.bench_function("APR solve, 360 monthly cash flows", |b| {
        b.iter(|| {
            apr(
                black_box(emi.disbursement_date),
                Frequency::Monthly,
                black_box(&flows),
            )
        })
    });
}

criterion_group!(benches, schedules);
criterion_main!(benches);
