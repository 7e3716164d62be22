//! The Key Facts Statement's figures: the APR and the IRR it is solved from.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::calendar::{self, Date, Frequency};

use super::ScheduleError;

/// APR per RBI: the periodic IRR of the borrower's cash flows (positive = received) times periods per
/// year, in percent rounded half-up to 2 decimals. Cash-flow times are measured in periods of the
/// loan's frequency from disbursement, so a regular schedule has whole-number times and an irregular
/// one (broken period, holidays, instalment 0) uses its actual dates.
pub fn apr(
    start: Date,
    frequency: Frequency,
    flows: &[(Date, i64)],
) -> Result<Decimal, ScheduleError> {
    let mut timed = Vec::with_capacity(flows.len());
    for &(date, amount) in flows {
        if amount != 0 {
            let t = calendar::periods_between(start, date, frequency)?;
            timed.push((t, amount as f64));
        }
    }
    let r = irr(&timed).ok_or(ScheduleError::NoIrr)?;
    let ppy = frequency
        .periods_per_year()
        .to_f64()
        .ok_or(ScheduleError::OutOfRange)?;
    let pct = Decimal::from_f64_retain(r * ppy * 100.0).ok_or(ScheduleError::NoIrr)?;
    Ok(pct.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

/// Internal rate of return per period of timed cash flows, by Newton's method with a bisection
/// fallback. Hand-written: the flows are short and the solve must stay allocation-free and fast.
pub fn irr(flows: &[(f64, f64)]) -> Option<f64> {
    let integral = flows.iter().all(|(t, _)| t.fract() == 0.0);
    let npv = |r: f64| -> (f64, f64) {
        let mut v = 0.0;
        let mut dv = 0.0;
        if integral {
            // Whole-period times: powers by repeated multiplication.
            let x = 1.0 / (1.0 + r);
            let mut last_t = 0.0;
            let mut pw = 1.0;
            for &(t, cf) in flows {
                if t == last_t + 1.0 {
                    pw *= x;
                    last_t = t;
                } else if t != last_t {
                    pw = x.powf(t);
                    last_t = t;
                }
                v += cf * pw;
                dv -= t * cf * pw * x;
            }
        } else {
            for &(t, cf) in flows {
                let pw = (1.0 + r).powf(-t);
                v += cf * pw;
                dv -= t * cf * pw / (1.0 + r);
            }
        }
        (v, dv)
    };
    if flows.len() < 2 {
        return None;
    }
    let scale: f64 = flows.iter().map(|(_, c)| c.abs()).fold(0.0, f64::max);
    let tol = scale * 1e-12;
    let mut r = 0.01;
    for _ in 0..50 {
        let (v, dv) = npv(r);
        if v.abs() <= tol {
            return Some(r);
        }
        if dv == 0.0 || !dv.is_finite() {
            break;
        }
        let next = r - v / dv;
        if !next.is_finite() || next <= -0.99 {
            break;
        }
        if (next - r).abs() < 1e-15 {
            return Some(next);
        }
        r = next;
    }
    // Bisection on a bracket where the NPV changes sign.
    let (mut lo, mut hi) = (-0.99, 10.0);
    let (mut vlo, vhi) = (npv(lo).0, npv(hi).0);
    if vlo.signum() == vhi.signum() {
        return None;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let vm = npv(mid).0;
        if vm.abs() <= tol || (hi - lo) < 1e-15 {
            return Some(mid);
        }
        if vm.signum() == vlo.signum() {
            lo = mid;
            vlo = vm;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}
