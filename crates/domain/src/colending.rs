//! Co-lending: how every amount a borrower pays is divided between the lenders.
//!
//! Principal always goes by funding share. Under `principal_pro_rata` each partner earns its own
//! rate on its own outstanding and the originator keeps the residue (the spread); under
//! `collection_pro_rata` every amount goes by share. Every split is exact: the parts add up to the
//! borrower's amount to the paisa (largest-remainder rounding).

use rust_decimal::Decimal;

use crate::money::{RoundingMode, allocate_minor, round_to_integer};
use crate::terms::{Partner, Split};

/// Split `amount` by the partners' funding shares.
pub fn by_share(amount: i64, partners: &[Partner]) -> Vec<i64> {
    let shares: Vec<Decimal> = partners.iter().map(|p| p.share).collect();
    allocate_minor(amount, &shares).unwrap_or_else(|_| originator_takes_all(amount, partners))
}

fn originator_takes_all(amount: i64, partners: &[Partner]) -> Vec<i64> {
    partners
        .iter()
        .map(|p| if p.originator { amount } else { 0 })
        .collect()
}

/// Each partner's part of one instalment's interest.
///
/// Under `principal_pro_rata`, a partner other than the originator earns its own rate on its own
/// share of the period's opening balance: `interest × (balance_p × rate_p) / (balance × rate)`,
/// rounded half-up; the originator takes the rest. This equals `balance_p × rate_p × period factor`
/// whatever the interest basis, so with a blended borrower rate the parts match each lender's own
/// schedule. Under `collection_pro_rata` the interest goes by share.
pub fn interest_parts(
    interest: i64,
    opening_balance: i64,
    annual_rate: Decimal,
    partners: &[Partner],
    split: Split,
) -> Vec<i64> {
    if split == Split::CollectionProRata || opening_balance <= 0 || annual_rate.is_zero() {
        return by_share(interest, partners);
    }
    let balances = by_share(opening_balance, partners);
    let Some(denominator) = Decimal::from(opening_balance).checked_mul(annual_rate) else {
        return by_share(interest, partners);
    };
    let mut parts = Vec::with_capacity(partners.len());
    for (p, &b) in partners.iter().zip(&balances) {
        if p.originator {
            parts.push(0);
            continue;
        }
        match partner_interest(interest, b, p.annual_rate, denominator) {
            Some(v) => parts.push(v),
            None => return by_share(interest, partners),
        }
    }
    let others: i128 = parts.iter().map(|&v| i128::from(v)).sum();
    if others > i128::from(interest) || others < 0 {
        return by_share(interest, partners);
    }
    match partners.iter().position(|p| p.originator) {
        // `others` is between 0 and `interest`, so the difference fits.
        Some(i) => parts[i] = interest - others as i64,
        None => return by_share(interest, partners),
    }
    assert_eq!(
        parts.iter().map(|&v| i128::from(v)).sum::<i128>(),
        i128::from(interest),
        "co-lending interest parts must sum to the instalment's interest"
    );
    parts
}

/// `interest × balance × rate / denominator`, rounded half-up. Multiplies first, so exact ties
/// stay exact; where that product overflows the decimal range (amounts near the limit at high
/// rates) it takes the ratio first, which is exact to 28 significant digits.
fn partner_interest(
    interest: i64,
    balance: i64,
    rate: Decimal,
    denominator: Decimal,
) -> Option<i64> {
    let (interest, balance) = (Decimal::from(interest), Decimal::from(balance));
    let exact = interest
        .checked_mul(balance)
        .and_then(|v| v.checked_mul(rate))
        .and_then(|v| v.checked_div(denominator));
    let v = match exact {
        Some(v) => v,
        None => balance
            .checked_mul(rate)?
            .checked_div(denominator)?
            .checked_mul(interest)?,
    };
    i64::try_from(round_to_integer(v, RoundingMode::HalfUp)).ok()
}

/// Split `amount` in proportion to `weights` (non-negative, not all zero), exactly.
pub fn by_weights(amount: i64, weights: &[i64], partners: &[Partner]) -> Vec<i64> {
    let w: Vec<Decimal> = weights.iter().map(|&x| Decimal::from(x.max(0))).collect();
    allocate_minor(amount, &w).unwrap_or_else(|_| by_share(amount, partners))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partners() -> Vec<Partner> {
        vec![
            Partner {
                id: "bank".into(),
                share: Decimal::from(80),
                annual_rate: Decimal::from(10),
                originator: false,
            },
            Partner {
                id: "nbfc".into(),
                share: Decimal::from(20),
                annual_rate: Decimal::from(18),
                originator: true,
            },
        ]
    }

    #[test]
    fn blended_example_month_one() {
        // ₹10,00,000 at the blended 11.6%: month-1 interest 9,666.67, principal 12,376.17.
        let p = partners();
        let interest = interest_parts(
            966_667,
            100_000_000,
            Decimal::new(116, 1),
            &p,
            Split::PrincipalProRata,
        );
        assert_eq!(interest, vec![666_667, 300_000]);
        assert_eq!(by_share(1_237_617, &p), vec![990_094, 247_523]);
    }

    #[test]
    fn collection_pro_rata_goes_by_share() {
        let p = partners();
        assert_eq!(
            interest_parts(
                2_204_284,
                100_000_000,
                Decimal::new(116, 1),
                &p,
                Split::CollectionProRata
            ),
            by_share(2_204_284, &p)
        );
        assert_eq!(by_share(2_204_284, &p), vec![1_763_427, 440_857]);
    }

    #[test]
    fn interest_split_at_the_limits_does_not_overflow() {
        // The largest principal (10^12 rupees) at 100% a year, one yearly instalment: the exact
        // product interest × balance × rate overflows the decimal range.
        let p = vec![
            Partner {
                annual_rate: Decimal::ONE_HUNDRED,
                ..partners()[0].clone()
            },
            Partner {
                annual_rate: Decimal::ONE_HUNDRED,
                ..partners()[1].clone()
            },
        ];
        let max = crate::money::Currency::INR.max_amount_minor();
        let parts = interest_parts(max, max, Decimal::ONE_HUNDRED, &p, Split::PrincipalProRata);
        assert_eq!(parts.iter().sum::<i64>(), max);
        assert_eq!(parts, vec![max / 5 * 4, max / 5]);
    }

    #[test]
    fn weights_split_exactly() {
        let p = partners();
        let parts = by_weights(1_001, &[666_667, 300_000], &p);
        assert_eq!(parts.iter().sum::<i64>(), 1_001);
        assert_eq!(by_weights(5, &[0, 0], &p).iter().sum::<i64>(), 5);
    }
}
