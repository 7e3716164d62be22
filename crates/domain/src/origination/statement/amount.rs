//! Rupee amounts as bank files and bureau reports write them, and as Loanbook's JSON carries them.
//!
//! Bank exports write `1,23,456.78` (Indian grouping), sometimes with `₹`, `Rs.` or `INR` before it
//! and `Dr`/`Cr` after it; a blank cell or `-` is no amount. Loanbook's JSON carries the same
//! amount in paise as a decimal string (`"123456.78"`).

use crate::money::{Currency, Money, format_minor};

/// An amount cell read from a bank file: paise, negative when the cell says `Dr` or starts with
/// `-`; `Ok(None)` for a blank cell (or `-`). The error is the rule the text broke.
pub fn parse_bank_amount(text: &str) -> Result<Option<i64>, String> {
    let mut body = text.trim();
    for prefix in ["₹", "INR", "Rs.", "Rs", "RS.", "RS"] {
        if let Some(rest) = body.strip_prefix(prefix) {
            body = rest.trim_start();
            break;
        }
    }
    let mut negative = false;
    let lower = body.to_ascii_lowercase();
    if lower.ends_with("dr") || lower.ends_with("cr") {
        negative = lower.ends_with("dr");
        body = body[..body.len() - 2]
            .trim_end()
            .trim_end_matches('.')
            .trim_end();
    }
    if body.is_empty() || body == "-" {
        return Ok(None);
    }
    if let Some(rest) = body.strip_prefix('-') {
        negative = !negative;
        body = rest.trim_start();
    }
    let plain: String = body.chars().filter(|c| *c != ',').collect();
    let bad = || {
        format!(
            "must be an amount such as 1,23,456.78, got `{}`",
            text.trim()
        )
    };
    if !plain.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    let money = Money::parse(&plain, Currency::INR).map_err(|_| bad())?;
    if money.minor() > Currency::INR.max_amount_minor() {
        return Err(format!(
            "must be at most the largest amount Loanbook carries, got `{}`",
            text.trim()
        ));
    }
    Ok(Some(if negative {
        -money.minor()
    } else {
        money.minor()
    }))
}

/// Serde for paise as a decimal string (`12345` ⇄ `"123.45"`): `#[serde(with = "…::text")]`.
pub mod text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Currency, Money, format_minor};

    pub fn serialize<S: Serializer>(minor: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_minor(*minor, Currency::INR.minor_digits()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        read(&text).map_err(serde::de::Error::custom)
    }

    /// Paise from a decimal string, or the rule it broke.
    pub fn read(text: &str) -> Result<i64, String> {
        Money::parse(text, Currency::INR)
            .map(Money::minor)
            .map_err(|_| {
                format!(
                    "must be an amount written as a decimal string such as \"969.73\", got `{text}`"
                )
            })
    }

    /// The same for an optional amount (`null` or absent is `None`).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(minor: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match minor {
                Some(m) => super::serialize(m, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|t| super::read(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// Paise as the decimal string Loanbook's JSON carries.
pub fn show(minor: i64) -> String {
    format_minor(minor, Currency::INR.minor_digits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_indian_grouping_and_markers() {
        assert_eq!(parse_bank_amount("1,23,456.78"), Ok(Some(12_345_678)));
        assert_eq!(parse_bank_amount(" 500 "), Ok(Some(50_000)));
        assert_eq!(parse_bank_amount("₹ 1,000.5"), Ok(Some(100_050)));
        assert_eq!(parse_bank_amount("Rs. 20.00"), Ok(Some(2_000)));
        assert_eq!(parse_bank_amount("INR 1,00,000"), Ok(Some(10_000_000)));
        assert_eq!(parse_bank_amount("12,000.00 Cr"), Ok(Some(1_200_000)));
        assert_eq!(parse_bank_amount("12,000.00Dr"), Ok(Some(-1_200_000)));
        assert_eq!(parse_bank_amount("-,77,65,682.30"), Ok(Some(-776_568_230)));
        assert_eq!(parse_bank_amount(""), Ok(None));
        assert_eq!(parse_bank_amount(" - "), Ok(None));
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for bad in ["12a", "1.234", "1e5", "--5", "abc", "99999999999999999999"] {
            assert!(parse_bank_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_round_trips() {
        assert_eq!(text::read("969.73"), Ok(96_973));
        assert_eq!(show(96_973), "969.73");
        assert!(text::read("1,000").is_err());
    }
}
