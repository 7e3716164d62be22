use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::Date;
use loanbook_domain::collections::Rail;

use super::account::{Account, Ctx};
use super::banks::{self, CODES, Kind};
use super::population::pay_day;
use super::*;

const START: Date = Date::constant(2026, 1, 1);

fn spec(borrowers: usize, seed: u64) -> PopulationSpec {
    PopulationSpec::new(borrowers, seed, START, 12)
}

fn population(borrowers: usize, seed: u64) -> Population {
    match Population::generate(&spec(borrowers, seed)) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// The kind of failure a reply reports, from the simulator's own code table.
fn kind(rail: Rail, code: &str) -> Kind {
    let inner = code.split('|').nth(2).unwrap_or(code);
    CODES
        .iter()
        .find(|c| c.rail == rail && c.code == inner)
        .map(|c| c.kind)
        .unwrap_or_else(|| panic!("{code} is not a {rail:?} code of the table"))
}

/// The first day of the `n`-th month of the period (from 0).
fn month(n: i64) -> Date {
    START.saturating_add(n.months())
}

/// The day `day` of the month starting `first`, kept inside the month.
fn day_of(first: Date, day: u8) -> Date {
    let day = i64::from(day).min(i64::from(first.days_in_month()));
    first.saturating_add((day - 1).days())
}

/// Failures of one run of debits, by kind.
#[derive(Debug, Default)]
struct Tally {
    debits: usize,
    by_kind: BTreeMap<String, usize>,
    /// UPI answers wrapped in a `U30|…` string.
    wrapped: usize,
    /// UPI answers in text only, which said the mandate was revoked.
    revoked: usize,
}

impl Tally {
    fn add(&mut self, rail: Rail, reply: &DebitReply) {
        self.debits += 1;
        if let DebitReply::Returned { code, text } = reply {
            self.wrapped += usize::from(code.starts_with("U30|"));
            let revoked = code.is_empty() && text.to_ascii_uppercase().contains("REVOKED");
            self.revoked += usize::from(revoked);
            *self
                .by_kind
                .entry(format!("{:?}", kind(rail, code)))
                .or_default() += 1;
        }
    }

    fn failed(&self) -> usize {
        self.by_kind.values().sum()
    }

    fn rate(&self) -> f64 {
        self.failed() as f64 / self.debits.max(1) as f64
    }

    fn of(&self, kind: &str) -> usize {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }
}

/// Debit every borrower's EMI on the day `when` picks in each month from the second to the
/// `months + 1`-th at `hour`; the tally of the last month.
fn run(
    pop: &mut Population,
    months: i64,
    hour: u8,
    when: impl Fn(&Population, usize, Date) -> Date,
) -> Tally {
    let mut last = Tally::default();
    for m in 1..=months {
        last = Tally::default();
        for b in 0..pop.borrowers().len() {
            let (rail, emi) = (pop.borrowers()[b].rail, pop.borrowers()[b].emi_minor);
            let date = when(pop, b, month(m));
            match pop.debit(b, emi, date, hour) {
                Ok(reply) => last.add(rail, &reply),
                Err(e) => panic!("{e}"),
            }
        }
    }
    last
}

fn on_due_day(pop: &Population, b: usize, first: Date) -> Date {
    day_of(first, pop.borrowers()[b].due_day)
}

#[test]
fn due_day_debits_fail_for_about_one_borrower_in_ten() {
    let mut pop = population(5_000, 11);
    let t = run(&mut pop, 2, 9, on_due_day);
    let rate = t.rate();
    assert!(
        (0.08..=0.15).contains(&rate),
        "failure rate {rate:.3}: {t:?}"
    );
    let funds = t.of("Funds");
    assert!(funds * 2 > t.failed(), "mostly insufficient funds: {t:?}");
    assert!(t.of("Technical") > 0, "{t:?}");
    assert!(
        t.of("Closed") + t.of("Frozen") + t.of("Mandate") > 0,
        "{t:?}"
    );
    assert!(t.of("Technical") < funds, "{t:?}");
    assert!(t.wrapped > 0 && t.wrapped * 5 < funds, "{t:?}");
}

#[test]
fn peak_hour_upi_debits_fail_more_often_technically() {
    let upi = |pop: &Population| {
        (0..pop.borrowers().len())
            .filter(|&b| pop.borrowers()[b].rail == Rail::UpiAutopay)
            .count()
    };
    let mut off = population(3_000, 12);
    let mut on = population(3_000, 12);
    let t_off = run(&mut off, 1, 14, on_due_day);
    let t_on = run(&mut on, 1, 11, on_due_day);
    assert_eq!(upi(&off), upi(&on));
    assert!(
        t_on.of("Technical") > t_off.of("Technical"),
        "peak {t_on:?} off-peak {t_off:?}"
    );
}

#[test]
fn debiting_after_pay_day_fails_less_than_before_it() {
    let n = 3_000;
    let pay = |pop: &Population, b: usize, first: Date| pay_day(pop.profiles[b].pay, first);
    let after = |pop: &Population, b: usize, first: Date| {
        pay(pop, b, first).map_or(first, |d| d.saturating_add(1.day()))
    };
    let before = |pop: &Population, b: usize, first: Date| {
        pay(pop, b, first).map_or(first, |d| d.saturating_sub(3.days()))
    };
    let mut a = population(n, 13);
    let mut z = population(n, 13);
    // Only salaried borrowers have a pay day; the others are debited on the 1st either way.
    let salaried = (0..n).filter(|&b| a.profiles[b].salaried()).count();
    assert!(salaried > n / 2);
    let ta = run(&mut a, 2, 9, after);
    let tz = run(&mut z, 2, 9, before);
    assert!(
        (ta.of("Funds") as f64) < 0.5 * tz.of("Funds") as f64 && ta.rate() < tz.rate(),
        "after pay day {:.3} {ta:?}, before {:.3} {tz:?}",
        ta.rate(),
        tz.rate()
    );
}

/// One borrower's calls in the determinism runs: a due-day debit each month, a retry three days
/// later if it failed, then a week of chances to pay by hand; each reply as text.
fn script(pop: &mut Population, b: usize, m: i64, log: &mut [Vec<String>]) {
    let (emi, due) = (pop.borrowers()[b].emi_minor, pop.borrowers()[b].due_day);
    let d = day_of(month(m), due);
    let first = pop.debit(b, emi, d, 9);
    let failed = matches!(first, Ok(DebitReply::Returned { .. }));
    log[b].push(format!("{first:?}"));
    if failed {
        let retry = pop.debit(b, emi, d.saturating_add(3.days()), 14);
        log[b].push(format!("{retry:?}"));
        for k in 4..11 {
            let paid = pop.pays_manually(b, d.saturating_add(k.days()));
            log[b].push(format!("{paid:?}"));
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_replies_in_any_order_of_borrowers() {
    let n = 400;
    let mut forward = population(n, 21);
    let mut backward = population(n, 21);
    let mut other = population(n, 22);
    let (mut a, mut z, mut o) = (vec![vec![]; n], vec![vec![]; n], vec![vec![]; n]);
    // Month by month, borrowers in order; and borrower by borrower, backwards, all months each.
    for m in 1..=4 {
        for b in 0..n {
            script(&mut forward, b, m, &mut a);
            script(&mut other, b, m, &mut o);
        }
    }
    for b in (0..n).rev() {
        for m in 1..=4 {
            script(&mut backward, b, m, &mut z);
        }
    }
    assert_eq!(a, z);
    assert!(a.iter().flatten().any(|r| r.contains("Returned")));
    assert!(a.iter().flatten().any(|r| r.contains("Ok(Some(")));
    assert_eq!(forward.borrowers(), backward.borrowers());
    let differ = (0..n).filter(|&b| a[b] != o[b]).count();
    assert!(differ > n / 20, "another seed, other replies: {differ}");
    assert_ne!(forward.borrowers(), other.borrowers());
}

#[test]
fn debits_while_the_bank_is_down_fail_technically() {
    let n = 3_000;
    let mut pop = population(n, 14);
    let mut down = Tally::default();
    let mut nach_down = 0;
    for b in 0..n {
        let (rail, bank) = (pop.borrowers()[b].rail, pop.profiles[b].bank);
        let model = pop.banks[bank].clone();
        // The nightly maintenance in February, then the first outage spell from March on
        // (for NACH, one over the bank's batch hour).
        let spell = (0..300)
            .map(|d| month(2).saturating_add(d.days()))
            .find(|d| {
                model
                    .outage_on(*d)
                    .is_some_and(|s| rail == Rail::UpiAutopay || s.contains(model.batch_hour))
            });
        let mut when = vec![];
        if rail == Rail::UpiAutopay {
            when.push((day_of(month(1), 10), model.maintenance.from));
        }
        if let Some(d) = spell {
            let from = model.outage_on(d).map_or(0, |s| s.from);
            when.push((d, from));
        }
        for (d, hour) in when {
            if pop.profiles[b].cancelled_on.is_some_and(|c| c <= d) {
                continue;
            }
            let reply = pop.debit(b, 100, d, hour);
            match &reply {
                Ok(r) => down.add(rail, r),
                Err(e) => panic!("{e}"),
            }
            nach_down += usize::from(rail == Rail::Nach);
        }
    }
    assert!(down.debits > n / 3 && nach_down > 0, "{down:?} {nach_down}");
    assert_eq!(down.of("Technical"), down.debits, "{down:?}");
}

#[test]
fn closed_accounts_and_cancelled_mandates_fail_every_time_after() {
    let n = 3_000;
    let mut pop = population(n, 15);
    let (mut closed, mut cancelled) = (Tally::default(), Tally::default());
    for b in 0..n {
        let rail = pop.borrowers()[b].rail;
        let p = &pop.profiles[b];
        let (event, tally) = match (p.cancelled_on, p.closed_on) {
            (Some(d), _) => (d, &mut cancelled),
            (None, Some(d)) => (d, &mut closed),
            (None, None) => continue,
        };
        // Every day for three weeks from the event, then monthly, while in the period.
        let days = (0..21).chain((30..330).step_by(30));
        for d in days.map(|k| event.saturating_add(k.days())) {
            if d >= pop.end() {
                break;
            }
            match pop.debit(b, 100, d, 15) {
                Ok(DebitReply::Paid) => panic!("borrower {b} paid on {d} after {event}"),
                Ok(reply) => tally.add(rail, &reply),
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert!(closed.debits > 200 && cancelled.debits > 200);
    assert_eq!(cancelled.of("Mandate"), cancelled.debits, "{cancelled:?}");
    assert!(cancelled.revoked > 0, "{cancelled:?}");
    let technical = closed.of("Technical");
    assert_eq!(closed.of("Closed") + technical, closed.debits, "{closed:?}");
    assert!(technical * 10 < closed.debits, "{closed:?}");
}

fn back<T>(r: Result<T, SimError>) -> bool {
    matches!(r, Err(SimError::BackInTime { .. }))
}

#[test]
fn going_back_in_time_for_a_borrower_is_an_error() {
    let mut pop = population(60, 16);
    let find = |rail| pop.borrowers().iter().position(|b| b.rail == rail);
    let (Some(upi), Some(nach)) = (find(Rail::UpiAutopay), find(Rail::Nach)) else {
        panic!("both rails");
    };
    let d = Date::constant(2026, 3, 10);
    let before = d.saturating_sub(1.day());
    assert!(pop.debit(upi, 100, d, 14).is_ok());
    assert!(back(pop.debit(upi, 100, d, 9)));
    assert!(back(pop.debit(upi, 100, before, 22)));
    assert!(back(pop.credit(upi, 100, before)));
    assert!(
        pop.debit(upi, 100, d, 14).is_ok(),
        "the same moment again is fine"
    );
    assert!(pop.credit(upi, 100, d).is_ok());
    assert!(pop.pays_manually(upi, d).is_ok());
    assert!(
        back(pop.debit(upi, 100, d, 15)),
        "manual payments are made at 20:00"
    );
    assert!(pop.debit(upi, 100, d, 22).is_ok());
    // NACH settles at the bank's batch hour whatever hour is asked.
    assert!(pop.debit(nach, 100, d, 23).is_ok());
    assert!(pop.debit(nach, 100, d, 0).is_ok());
    match pop.debit(nach, 100, before, 12) {
        Err(e) => assert_eq!(e.field(), "date"),
        Ok(r) => panic!("{r:?}"),
    }
    assert!(pop.debit(nach, 100, d.saturating_add(1.day()), 0).is_ok());
}

#[test]
fn bad_arguments_are_errors_naming_the_argument() {
    let mut pop = population(10, 17);
    let d = Date::constant(2026, 2, 2);
    let field = |r: Result<DebitReply, SimError>| r.err().map(|e| e.field());
    for amount in [0, -1, -5_000, i64::MIN, i64::MAX, MAX_AMOUNT_MINOR + 1] {
        assert_eq!(field(pop.debit(0, amount, d, 9)), Some("amount_minor"));
        assert_eq!(
            pop.credit(0, amount, d).err().map(|e| e.field()),
            Some("amount_minor")
        );
    }
    for hour in [24, 25, 200, u8::MAX] {
        assert_eq!(field(pop.debit(0, 100, d, hour)), Some("hour"));
    }
    assert_eq!(field(pop.debit(10, 100, d, 9)), Some("borrower"));
    assert_eq!(field(pop.debit(usize::MAX, 100, d, 9)), Some("borrower"));
    let late = pop.end();
    assert_eq!(field(pop.debit(0, 100, late, 9)), Some("date"));
    assert_eq!(
        field(pop.debit(0, 100, Date::constant(2025, 12, 31), 9)),
        Some("date")
    );
    assert_eq!(
        pop.pays_manually(3, late).err().map(|e| e.field()),
        Some("date")
    );
    assert!(pop.debit(0, MAX_AMOUNT_MINOR, d, 9).is_ok());
    // An account cannot overflow: credits are checked.
    let mut account = Account::default();
    account.balance = i64::MAX - 5;
    assert_eq!(account.credit(10), Err(SimError::Overflow));
    let bad = |s: PopulationSpec| Population::generate(&s).err().map(|e| e.field());
    assert_eq!(
        bad(PopulationSpec {
            months: 0,
            ..spec(5, 1)
        }),
        Some("months")
    );
    assert_eq!(
        bad(PopulationSpec {
            months: 500,
            ..spec(5, 1)
        }),
        Some("months")
    );
    let huge = MAX_BORROWERS + 1;
    assert_eq!(
        bad(PopulationSpec {
            borrowers: huge,
            ..spec(5, 1)
        }),
        Some("borrowers")
    );
    let far = Date::constant(9999, 6, 1);
    assert_eq!(
        bad(PopulationSpec {
            start: far,
            ..spec(5, 1)
        }),
        Some("start")
    );
}

#[test]
fn failed_borrowers_pay_by_hand_more_often_once_paid() {
    let n = 3_000;
    let mut pop = population(n, 18);
    let (mut failed, mut paid) = (0, 0);
    // Borrower-days at risk and payments, before and after the next pay day, of salaried
    // borrowers whose debit failed for want of funds.
    let (mut at_risk, mut payments) = ([0u32; 2], [0u32; 2]);
    for b in 0..n {
        let (emi, due) = (pop.borrowers()[b].emi_minor, pop.borrowers()[b].due_day);
        let d = day_of(month(2), due);
        let Ok(DebitReply::Returned { code, .. }) = pop.debit(b, emi, d, 9) else {
            continue;
        };
        if kind(pop.borrowers()[b].rail, &code) != Kind::Funds || !pop.profiles[b].salaried() {
            continue;
        }
        failed += 1;
        // The day the salary actually comes (it may be late).
        let ctx = Ctx::new(pop.spec(), b);
        let pay_day = (0..8)
            .map(|c| ctx.anchor(&pop.profiles[b], c).0)
            .find(|p| *p >= d);
        for k in 1..=20 {
            let day = d.saturating_add(k.days());
            let after = usize::from(pay_day.is_some_and(|p| day >= p));
            at_risk[after] += 1;
            match pop.pays_manually(b, day) {
                Ok(Some(amount)) => {
                    assert!(amount > 0 && amount <= emi, "{amount} of {emi}");
                    paid += 1;
                    payments[after] += 1;
                    break;
                }
                Ok(None) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    let share = f64::from(paid) / f64::from(failed.max(1));
    assert!(
        (0.2..0.9).contains(&share),
        "{paid} of {failed} paid by hand"
    );
    let rate = |i: usize| f64::from(payments[i]) / f64::from(at_risk[i].max(1));
    assert!(
        rate(1) > 3.0 * rate(0),
        "{paid} of {failed}: {payments:?} over {at_risk:?}"
    );
}

#[test]
fn a_us_population_debits_over_ach() {
    let s = PopulationSpec {
        market: Market::Us,
        ..spec(1_000, 19)
    };
    let Ok(mut pop) = Population::generate(&s) else {
        panic!("a US population");
    };
    assert!(pop.borrowers().iter().all(|b| b.rail == Rail::Ach));
    assert!(
        pop.borrowers()
            .iter()
            .all(|b| banks::US_BANKS.contains(&b.bank))
    );
    let t = run(&mut pop, 2, 9, on_due_day);
    assert!((0.04..0.25).contains(&t.rate()), "{t:?}");
    assert!(t.of("Funds") > 0);
}

#[test]
fn hidden_facts_stay_hidden_and_public_ones_are_realistic() {
    let pop = population(5_000, 20);
    let printed = format!("{pop:?}");
    assert!(
        !printed.contains("income") && !printed.contains("salary"),
        "{printed}"
    );
    let bs = pop.borrowers();
    let nach = bs.iter().filter(|b| b.rail == Rail::Nach).count() as f64 / bs.len() as f64;
    assert!((0.5..0.6).contains(&nach), "{nach}");
    assert!(
        bs.iter()
            .all(|b| (200_000..=6_000_000).contains(&b.emi_minor))
    );
    assert!(bs.iter().all(|b| (1..=28).contains(&b.due_day)));
    let usual = bs
        .iter()
        .filter(|b| [1, 5, 7, 10, 15].contains(&b.due_day))
        .count();
    assert!(usual * 10 > bs.len() * 9);
    let mut emis: Vec<i64> = bs.iter().map(|b| b.emi_minor).collect();
    emis.sort_unstable();
    let median = emis[emis.len() / 2];
    assert!((500_000..1_200_000).contains(&median), "{median}");
    let ids: std::collections::BTreeSet<&str> = bs.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids.len(), bs.len());
    assert!(bs.iter().all(|b| banks::INDIAN_BANKS.contains(&b.bank)));
}

/// The realism figures: `cargo test -p loanbook-sim realism_figures -- --ignored --nocapture`.
#[test]
#[ignore]
fn realism_figures() {
    for m in [1, 3, 6, 11] {
        let mut pop = population(5_000, 11);
        let t = run(&mut pop, m, 9, on_due_day);
        eprintln!("due day, month {m}: {:.3} {:?}", t.rate(), t.by_kind);
    }
    let pay = |pop: &Population, b: usize, first: Date| pay_day(pop.profiles[b].pay, first);
    for off in [-5i64, -3, -1, 0, 1, 2, 5] {
        let mut pop = population(5_000, 13);
        let t = run(&mut pop, 3, 9, |p, b, f| {
            pay(p, b, f).map_or(f, |d| d.saturating_add(off.days()))
        });
        eprintln!("pay day {off:+}: {:.3} {:?}", t.rate(), t.by_kind);
    }
    for hour in [3, 9, 11, 14, 19, 23] {
        let mut pop = population(5_000, 13);
        let t = run(&mut pop, 2, hour, on_due_day);
        eprintln!("due day at {hour:02}:00: {:.3} {:?}", t.rate(), t.by_kind);
    }
}
