//! Provisioning: how much a lender sets aside against a loan, by its asset class and the part of
//! it covered by realisable security.
//!
//! Rates are data ([`ProvisionRates`]), so a lender can load its own table; the presets carry the
//! RBI figures of `reference/regulation-india.md` §1.7 (Provisioning). The covered part is the
//! realisable value of the loan's security, from its terms ([`secured_value`]).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::delinquency::AssetClass;
use crate::money::{RoundingMode, round_to_integer};
use crate::terms::Terms;

/// The rates for one asset class (percent of the amount, 0–100): on the part of the outstanding
/// covered by realisable security and on the rest; optionally for one product category only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionRate {
    pub asset_class: AssetClass,
    /// Percent of the secured (covered) part.
    #[serde(with = "rust_decimal::serde::str")]
    pub secured: Decimal,
    /// Percent of the unsecured (uncovered) part.
    #[serde(with = "rust_decimal::serde::str")]
    pub unsecured: Decimal,
    /// A product category these rates are for; `None` for every product without rates of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// A lender's provisioning table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProvisionRates {
    rates: Vec<ProvisionRate>,
}

/// Why a provisioning table cannot be used. `row` is the offending row's index in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    #[error("{class} ({category}): the {part} rate {rate} is outside 0–100%")]
    OutOfRange {
        row: usize,
        class: &'static str,
        category: String,
        part: &'static str,
        rate: Decimal,
    },
    #[error("{class} ({category}) has more than one row")]
    Duplicate {
        row: usize,
        class: &'static str,
        category: String,
    },
    #[error("asset class {0} has no rate for every product")]
    Missing(&'static str),
}

const CLASSES: [AssetClass; 6] = [
    AssetClass::Standard,
    AssetClass::Substandard,
    AssetClass::Doubtful1,
    AssetClass::Doubtful2,
    AssetClass::Doubtful3,
    AssetClass::Loss,
];

fn pct(v: &str) -> Decimal {
    v.parse().unwrap_or(Decimal::ONE_HUNDRED)
}

impl ProvisionRates {
    /// A table from its rows, validated.
    pub fn new(rates: Vec<ProvisionRate>) -> Result<ProvisionRates, ProvisionError> {
        let table = ProvisionRates { rates };
        table.validate()?;
        Ok(table)
    }

    fn preset(rows: [(AssetClass, &str, &str); 6]) -> ProvisionRates {
        ProvisionRates {
            rates: rows
                .into_iter()
                .map(|(asset_class, s, u)| ProvisionRate {
                    asset_class,
                    secured: pct(s),
                    unsecured: pct(u),
                    category: None,
                })
                .collect(),
        }
    }

    /// Banks (regulation-india.md §1.7): standard 0.40%; sub-standard 15% (the unsecured part
    /// 25%); doubtful: the part not covered by security 100%, the secured part D1 25%, D2 40%,
    /// D3 100%; loss 100%.
    pub fn rbi_bank() -> ProvisionRates {
        ProvisionRates::preset([
            (AssetClass::Standard, "0.40", "0.40"),
            (AssetClass::Substandard, "15", "25"),
            (AssetClass::Doubtful1, "25", "100"),
            (AssetClass::Doubtful2, "40", "100"),
            (AssetClass::Doubtful3, "100", "100"),
            (AssetClass::Loss, "100", "100"),
        ])
    }

    /// NBFCs (regulation-india.md §1.7): standard 0.40%; sub-standard 10%; doubtful: the
    /// unsecured part 100%, the secured part 20% (up to a year doubtful), 30% (one to three
    /// years), 50% (over three); loss 100%.
    pub fn rbi_nbfc() -> ProvisionRates {
        ProvisionRates::preset([
            (AssetClass::Standard, "0.40", "0.40"),
            (AssetClass::Substandard, "10", "10"),
            (AssetClass::Doubtful1, "20", "100"),
            (AssetClass::Doubtful2, "30", "100"),
            (AssetClass::Doubtful3, "50", "100"),
            (AssetClass::Loss, "100", "100"),
        ])
    }

    /// Refuse a rate outside 0–100%, two rows for one class and category, or a class without a
    /// rate for every product.
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let hundred = Decimal::ONE_HUNDRED;
        for (i, r) in self.rates.iter().enumerate() {
            let category = r.category.clone().unwrap_or_else(|| "every product".into());
            for (part, rate) in [("secured", r.secured), ("unsecured", r.unsecured)] {
                if rate < Decimal::ZERO || rate > hundred {
                    return Err(ProvisionError::OutOfRange {
                        row: i,
                        class: r.asset_class.name(),
                        category,
                        part,
                        rate,
                    });
                }
            }
            let twice = self.rates[..i]
                .iter()
                .any(|o| o.asset_class == r.asset_class && o.category == r.category);
            if twice {
                return Err(ProvisionError::Duplicate {
                    row: i,
                    class: r.asset_class.name(),
                    category,
                });
            }
        }
        for class in CLASSES {
            if !self
                .rates
                .iter()
                .any(|r| r.asset_class == class && r.category.is_none())
            {
                return Err(ProvisionError::Missing(class.name()));
            }
        }
        Ok(())
    }

    /// The rates for `class` and product `category` (the category's own row, else the row for
    /// every product).
    pub fn rate(&self, class: AssetClass, category: Option<&str>) -> Option<&ProvisionRate> {
        let own = category.and_then(|c| {
            self.rates
                .iter()
                .find(|r| r.asset_class == class && r.category.as_deref() == Some(c))
        });
        own.or_else(|| {
            self.rates
                .iter()
                .find(|r| r.asset_class == class && r.category.is_none())
        })
    }

    pub fn rows(&self) -> &[ProvisionRate] {
        &self.rates
    }
}

/// The realisable value of a loan's security, from its terms (`security_value`): what
/// [`provision`] counts as covered. 0 for a loan without security.
pub fn secured_value(terms: &Terms) -> i64 {
    terms.security_value.unwrap_or(0).max(0)
}

/// The provision on a loan of `asset_class` with `outstanding` owed, of which `secured_value`
/// (the realisable value of the security, capped at the outstanding) is covered: the secured
/// rate on the covered part plus the unsecured rate on the rest, rounded half-up to the minor
/// unit, never above the outstanding. Zero for nothing outstanding or no rate for the class.
pub fn provision(
    rates: &ProvisionRates,
    asset_class: AssetClass,
    outstanding: i64,
    secured_value: i64,
) -> i64 {
    provision_for(rates, None, asset_class, outstanding, secured_value)
}

/// [`provision`] for a product `category` with rates of its own.
pub fn provision_for(
    rates: &ProvisionRates,
    category: Option<&str>,
    asset_class: AssetClass,
    outstanding: i64,
    secured_value: i64,
) -> i64 {
    if outstanding <= 0 {
        return 0;
    }
    let Some(rate) = rates.rate(asset_class, category) else {
        return 0;
    };
    let secured = secured_value.clamp(0, outstanding);
    let unsecured = outstanding - secured;
    let amount = (Decimal::from(secured) * rate.secured
        + Decimal::from(unsecured) * rate.unsecured)
        / Decimal::ONE_HUNDRED;
    let rounded = round_to_integer(amount, RoundingMode::HalfUp)
        .to_i64()
        .unwrap_or(outstanding);
    rounded.clamp(0, outstanding)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: i64 = 100_000_000; // ₹10 lakh in paise

    #[test]
    fn bank_preset_matches_the_reference() {
        let r = ProvisionRates::rbi_bank();
        r.validate().unwrap();
        assert_eq!(provision(&r, AssetClass::Standard, L, 0), 400_000);
        assert_eq!(provision(&r, AssetClass::Substandard, L, L), 15_000_000);
        assert_eq!(provision(&r, AssetClass::Substandard, L, 0), 25_000_000);
        // Doubtful: 100% of the uncovered part plus the secured rate on the covered part.
        let half = L / 2;
        assert_eq!(
            provision(&r, AssetClass::Doubtful1, L, half),
            half + half / 4
        );
        assert_eq!(
            provision(&r, AssetClass::Doubtful2, L, half),
            half + half * 2 / 5
        );
        assert_eq!(provision(&r, AssetClass::Doubtful3, L, half), L);
        assert_eq!(provision(&r, AssetClass::Loss, L, L), L);
    }

    #[test]
    fn nbfc_preset_matches_the_reference() {
        let r = ProvisionRates::rbi_nbfc();
        r.validate().unwrap();
        assert_eq!(provision(&r, AssetClass::Standard, L, 0), 400_000);
        assert_eq!(provision(&r, AssetClass::Substandard, L, 0), 10_000_000);
        let half = L / 2;
        assert_eq!(
            provision(&r, AssetClass::Doubtful1, L, half),
            half + half / 5
        );
        assert_eq!(
            provision(&r, AssetClass::Doubtful2, L, half),
            half + half * 3 / 10
        );
        assert_eq!(
            provision(&r, AssetClass::Doubtful3, L, half),
            half + half / 2
        );
        assert_eq!(provision(&r, AssetClass::Loss, L, 0), L);
    }

    #[test]
    fn rounding_is_half_up_and_capped() {
        let r = ProvisionRates::rbi_bank();
        // 0.40% of 125 paise = 0.5 → 1.
        assert_eq!(provision(&r, AssetClass::Standard, 125, 0), 1);
        assert_eq!(provision(&r, AssetClass::Standard, 124, 0), 0);
        // Security worth more than the loan is capped at the outstanding.
        assert_eq!(provision(&r, AssetClass::Doubtful1, 1000, 5000), 250);
        assert_eq!(provision(&r, AssetClass::Loss, 0, 0), 0);
        assert_eq!(provision(&r, AssetClass::Loss, -5, 0), 0);
    }

    #[test]
    fn a_category_has_rates_of_its_own() {
        let mut rows = ProvisionRates::rbi_nbfc().rows().to_vec();
        rows.push(ProvisionRate {
            asset_class: AssetClass::Standard,
            secured: pct("0.25"),
            unsecured: pct("0.25"),
            category: Some("housing".into()),
        });
        let r = ProvisionRates::new(rows).unwrap();
        assert_eq!(
            provision_for(&r, Some("housing"), AssetClass::Standard, L, 0),
            250_000
        );
        assert_eq!(
            provision_for(&r, Some("gold"), AssetClass::Standard, L, 0),
            400_000
        );
    }

    fn terms_secured_by(security_value: Option<&str>) -> Terms {
        let mut doc = serde_json::json!({
            "currency": "INR", "principal": "1000000.00", "annual_rate": "12", "method": "emi",
            "installments": 24, "frequency": "monthly", "disbursement_date": "2024-01-01"
        });
        if let Some(v) = security_value {
            doc["security_value"] = v.into();
        }
        Terms::from_json(&doc.to_string()).unwrap()
    }

    #[test]
    fn the_security_in_the_terms_is_the_covered_part() {
        let r = ProvisionRates::rbi_bank();
        let half = terms_secured_by(Some("500000.00"));
        assert_eq!(secured_value(&half), L / 2);
        // Sub-standard, half secured: 15% of the covered half plus 25% of the rest.
        assert_eq!(
            provision(&r, AssetClass::Substandard, L, secured_value(&half)),
            L / 2 * 15 / 100 + L / 2 * 25 / 100
        );
        assert_eq!(
            provision(&r, AssetClass::Substandard, L, secured_value(&half)),
            20_000_000
        );
        // Doubtful D1, half secured: 25% of the covered half plus all of the rest.
        assert_eq!(
            provision(&r, AssetClass::Doubtful1, L, secured_value(&half)),
            L / 2 / 4 + L / 2
        );
        // Without security every loan is wholly unsecured, as before.
        let unsecured = terms_secured_by(None);
        assert_eq!(secured_value(&unsecured), 0);
        assert_eq!(
            provision(&r, AssetClass::Substandard, L, secured_value(&unsecured)),
            25_000_000
        );
        // Security worth more than what is owed covers the whole outstanding, no more.
        let over = terms_secured_by(Some("5000000.00"));
        assert_eq!(
            provision(&r, AssetClass::Substandard, L / 2, secured_value(&over)),
            L / 2 * 15 / 100
        );
    }

    #[test]
    fn the_table_is_serde_and_validated() {
        let r = ProvisionRates::rbi_bank();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"asset_class\":\"substandard\""), "{json}");
        assert!(json.contains("\"unsecured\":\"25\""), "{json}");
        let back: ProvisionRates = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);

        let mut rows = r.rows().to_vec();
        rows[1].unsecured = pct("101");
        let err = ProvisionRates::new(rows).unwrap_err();
        assert!(err.to_string().contains("substandard"), "{err}");
        assert!(err.to_string().contains("101"), "{err}");
        assert!(
            matches!(
                err,
                ProvisionError::OutOfRange {
                    row: 1,
                    part: "unsecured",
                    ..
                }
            ),
            "{err:?}"
        );

        let mut rows = r.rows().to_vec();
        rows[0].secured = pct("-1");
        assert!(matches!(
            ProvisionRates::new(rows),
            Err(ProvisionError::OutOfRange {
                row: 0,
                part: "secured",
                ..
            })
        ));

        let mut rows = r.rows().to_vec();
        rows.push(rows[2].clone());
        assert!(matches!(
            ProvisionRates::new(rows),
            Err(ProvisionError::Duplicate { row: 6, .. })
        ));

        let rows = r.rows()[1..].to_vec();
        assert_eq!(
            ProvisionRates::new(rows).unwrap_err(),
            ProvisionError::Missing("standard")
        );
    }
}
