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
    let denominator = Decimal::from(opening_balance) * annual_rate;
    let mut parts: Vec<i64> = partners
        .iter()
        .zip(&balances)
        .map(|(p, &b)| {
            if p.originator {
                0
            } else {
                let v = Decimal::from(interest) * Decimal::from(b) * p.annual_rate / denominator;
                i64::try_from(round_to_integer(v, RoundingMode::HalfUp)).unwrap_or(0)
            }
        })
        .collect();
    let others: i64 = parts.iter().sum();
    if others > interest || others < 0 {
        return by_share(interest, partners);
    }
    if let Some(i) = partners.iter().position(|p| p.originator) {
        parts[i] = interest - others;
    }
    parts
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
    fn weights_split_exactly() {
        let p = partners();
        let parts = by_weights(1_001, &[666_667, 300_000], &p);
        assert_eq!(parts.iter().sum::<i64>(), 1_001);
        assert_eq!(by_weights(5, &[0, 0], &p).iter().sum::<i64>(), 5);
    }
}
