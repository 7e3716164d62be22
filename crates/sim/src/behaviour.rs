//! How a synthetic borrower repays: a profile drawn per loan, and the history it makes.
//!
//! The history is walked instalment by instalment with the loan engine itself beside it: before
//! each payment the engine is run to the eve of the payment date and the borrower pays what is
//! owed by that day (instalments due, charges levied, less money held in advance). So a payment
//! always matches the loan as the engine sees it, after a bounce, a penal charge or a prepayment
//! that re-shaped the schedule, and every generated history replays.

use jiff::ToSpan;
use jiff::civil::Date;
use loanbook_domain::events::{ChargeKind, Event, EventKind, PrepaymentAdjust};
use loanbook_domain::loan::{self, Engine, Status};
use loanbook_domain::terms::Terms;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::products::Product;

/// Share of loans whose borrower stops paying: the delinquent tail.
pub const DELINQUENT: f64 = 0.07;
/// Share of loans whose borrower often pays some days late.
pub const LATE_PAYER: f64 = 0.12;
/// Share of loans whose payments sometimes bounce.
pub const BOUNCER: f64 = 0.08;
/// Share of loans prepaid in part or foreclosed before maturity.
pub const PREPAYER: f64 = 0.10;
/// A bounce charge: ₹500 plus 18% GST, in paise.
pub const BOUNCE_CHARGE: i64 = 59_000;

/// How one borrower behaves over the life of a loan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Chance that an instalment is paid late.
    pub late: f64,
    /// The most days late a late instalment is paid.
    pub late_days: i64,
    /// Chance that an instalment's payment bounces.
    pub bounce: f64,
    /// The borrower pays nothing falling due on or after this date.
    pub stops_on: Option<Date>,
    /// After paying this instalment, the borrower prepays.
    pub exit: Option<(u32, Exit)>,
}

/// How a borrower leaves early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A part prepayment (a share of the principal outstanding, in percent).
    Part(PrepaymentAdjust, i64),
    /// Paying the whole loan off at the day's foreclosure amount.
    Foreclose,
}

impl Profile {
    /// Draw a borrower for a loan of `product` with `installments` instalments, as of `as_of`.
    pub fn draw(rng: &mut ChaCha8Rng, product: Product, installments: u32, as_of: Date) -> Profile {
        let mut p = Profile {
            late: 0.03,
            late_days: 5,
            bounce: 0.0,
            stops_on: None,
            exit: None,
        };
        let u: f64 = rng.random();
        if u < DELINQUENT {
            // Days past due aimed at for the as-of date, a quarter in each of SMA-0, SMA-1, SMA-2
            // and NPA. The borrower stops at the first instalment due on or after the date that
            // gives it, so the loan ends up at most one period short of it.
            let class: f64 = rng.random();
            let dpd: i64 = if class < 0.25 {
                rng.random_range(1..=30)
            } else if class < 0.50 {
                rng.random_range(31..=60)
            } else if class < 0.75 {
                rng.random_range(61..=90)
            } else {
                rng.random_range(91..=540)
            };
            p.stops_on = Some(as_of.saturating_sub((dpd - 1).days()));
            return p;
        }
        if u < DELINQUENT + LATE_PAYER {
            p.late = 0.5;
            p.late_days = 15;
        } else if u < DELINQUENT + LATE_PAYER + BOUNCER {
            p.bounce = 0.15;
        }
        if rng.random::<f64>() < PREPAYER && installments > 2 {
            let at = rng.random_range(2..installments);
            let exit = if product.part_prepayable() && rng.random_bool(0.6) {
                let adjust = if rng.random_bool(0.5) {
                    PrepaymentAdjust::ReduceTenure
                } else {
                    PrepaymentAdjust::ReduceEmi
                };
                Exit::Part(adjust, rng.random_range(10..=40))
            } else {
                Exit::Foreclose
            };
            p.exit = Some((at, exit));
        }
        p
    }
}

/// The events of a loan of `product` under `terms` to the end of `as_of`.
pub fn history(rng: &mut ChaCha8Rng, terms: &Terms, product: Product, as_of: Date) -> Vec<Event> {
    let profile = Profile::draw(rng, product, terms.installments, as_of);
    let mut walk = Walk::new(terms, as_of);
    walk.run(rng, &profile);
    walk.events
}

/// The history being written, with the engine run over it so far.
struct Walk<'a> {
    terms: &'a Terms,
    as_of: Date,
    engine: Engine,
    events: Vec<Event>,
}

fn add(d: Date, days: i64) -> Date {
    d.saturating_add(days.days())
}

impl<'a> Walk<'a> {
    fn new(terms: &'a Terms, as_of: Date) -> Walk<'a> {
        let disbursement = Event {
            date: terms.disbursement_date,
            kind: EventKind::Disbursement {
                amount: terms.first_disbursement(),
                reference: Some("NEFT-DISB".into()),
            },
        };
        Walk {
            terms,
            as_of,
            engine: Engine::new(terms),
            events: vec![disbursement],
        }
    }

    /// Run the engine to the end of `day` (never backwards: every event written later is dated
    /// after the day the engine has reached).
    fn run_to(&mut self, day: Date) {
        if self.engine.day.is_some_and(|d| d >= day) {
            return;
        }
        // The walk writes only what the engine accepts: a refusal is a bug of the generator.
        if let Err(e) = self.engine.run(self.terms, &self.events, day) {
            panic!("a generated history does not replay: {e}");
        }
    }

    fn last_date(&self) -> Date {
        self.events
            .last()
            .map_or(self.terms.disbursement_date, |e| e.date)
    }

    /// What the borrower owes by the end of `day` before paying anything that day: instalments
    /// due by then, charges levied, less money held in advance.
    fn owed_on(&mut self, day: Date) -> i64 {
        self.run_to(day.yesterday().unwrap_or(day));
        let dues: i64 = self
            .engine
            .dues
            .iter()
            .filter(|d| d.due_date <= day)
            .map(loan::Due::unpaid)
            .sum();
        (dues + self.engine.charges_due() - self.engine.excess_total()).max(0)
    }

    fn push(&mut self, date: Date, kind: EventKind) {
        self.events.push(Event { date, kind });
    }

    /// Pay what is owed on `day` (nothing when nothing is); whether a payment was made.
    fn pay(&mut self, day: Date, reference: String, channel: &str) -> bool {
        let amount = self.owed_on(day);
        if amount == 0 {
            return false;
        }
        self.push(
            day,
            EventKind::Payment {
                amount,
                reference,
                channel: Some(channel.to_owned()),
            },
        );
        true
    }

    /// The due dates after `after`, in order, as the engine's schedule now stands.
    fn dues_after(&mut self, after: Option<Date>) -> Vec<Date> {
        let last = self.last_date();
        self.run_to(last);
        let mut dates: Vec<Date> = self
            .engine
            .dues
            .iter()
            .map(|d| d.due_date)
            .filter(|d| after.is_none_or(|a| *d > a))
            .collect();
        dates.sort_unstable();
        dates.dedup();
        dates
    }

    fn run(&mut self, rng: &mut ChaCha8Rng, profile: &Profile) {
        let mut handled: Option<Date> = None;
        let mut n: u32 = 0;
        loop {
            let dates = self.dues_after(handled);
            let Some(&due) = dates.first() else { break };
            if due > self.as_of || profile.stops_on.is_some_and(|s| due >= s) {
                return;
            }
            // Everything done about this instalment happens before the next one falls due.
            let next = dates.get(1).copied().unwrap_or_else(|| add(due, 31));
            let window = add(next, -1).min(self.as_of);
            handled = Some(due);
            n += 1;
            let late = if rng.random::<f64>() < profile.late {
                rng.random_range(1..=profile.late_days)
            } else {
                0
            };
            let paid_on = add(due, late).min(window);
            if !self.pay(paid_on, format!("NACH-{n}"), "nach") {
                continue;
            }
            if rng.random::<f64>() < profile.bounce {
                self.bounce(rng, n, paid_on, window);
            }
            if let Some((at, exit)) = profile.exit {
                if at == n && self.leave(rng, n, exit, window) {
                    return;
                }
            }
            if self.engine.status != Status::Active {
                return;
            }
        }
        self.settle_up();
    }

    /// The payment of `paid_on` bounces a few days later, with a bounce charge, and is paid
    /// again by UPI a few days after that: as much of it as happens by `window`.
    fn bounce(&mut self, rng: &mut ChaCha8Rng, n: u32, paid_on: Date, window: Date) {
        let returned = add(paid_on, rng.random_range(1..=3));
        if returned > window {
            return;
        }
        self.push(
            returned,
            EventKind::PaymentReversal {
                reference: format!("NACH-{n}"),
                reason: Some("insufficient funds".into()),
            },
        );
        self.push(
            returned,
            EventKind::Charge {
                kind: ChargeKind::Bounce,
                amount: BOUNCE_CHARGE,
                reference: Some(format!("BNC-{n}")),
            },
        );
        let again = add(returned, rng.random_range(1..=7));
        if again <= window {
            self.pay(again, format!("UPI-{n}"), "upi");
        }
    }

    /// Prepay after instalment `n`, by `window`; whether the loan is paid off.
    fn leave(&mut self, rng: &mut ChaCha8Rng, n: u32, exit: Exit, window: Date) -> bool {
        let day = add(self.last_date(), rng.random_range(1..=10));
        if day > window {
            return false;
        }
        match exit {
            Exit::Part(adjust, percent) => {
                self.run_to(day.yesterday().unwrap_or(day));
                let outstanding = self.engine.principal_outstanding();
                // A round sum, in thousands of rupees.
                let amount = outstanding * percent / 100 / 100_000 * 100_000;
                if amount > 0 && self.owed_on(day) == 0 {
                    self.push(
                        day,
                        EventKind::Prepayment {
                            amount,
                            adjust,
                            reference: format!("PP-{n}"),
                        },
                    );
                }
                false
            }
            Exit::Foreclose => {
                let amount = match loan::foreclosure_quote(self.terms, &self.events, day) {
                    Ok(a) => a,
                    Err(e) => panic!("no foreclosure quote for a generated history: {e}"),
                };
                self.push(
                    day,
                    EventKind::Foreclosure {
                        amount,
                        reference: Some("NEFT-FC".into()),
                    },
                );
                true
            }
        }
    }

    /// After the last instalment: pay what charges levied with it are left (penal charges are
    /// levied once the arrears they accrued on are paid), so a borrower who paid everything
    /// closes the loan.
    fn settle_up(&mut self) {
        let day = add(self.last_date(), 1);
        if day > self.as_of {
            return;
        }
        self.run_to(add(day, -1));
        if self.engine.status == Status::Active {
            self.pay(day, "UPI-CLOSE".into(), "upi");
        }
    }
}
