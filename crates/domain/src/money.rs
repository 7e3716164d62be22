//! Exact money: integer minor units with an ISO 4217 currency, checked arithmetic, named rounding
//! and exact splits.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Largest amount accepted anywhere, in major units (one lakh crore): a loan's principal, any amount
/// in its terms and any one event's amount. With it, a loan's sums stay far inside `i64` minor units
/// and its products inside `i128`.
pub const MAX_AMOUNT_MAJOR: i64 = 1_000_000_000_000;

/// ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[allow(clippy::upper_case_acronyms)]
pub enum Currency {
    INR,
    USD,
    EUR,
    GBP,
    JPY,
}

impl Currency {
    pub const fn code(self) -> &'static str {
        match self {
            Currency::INR => "INR",
            Currency::USD => "USD",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::JPY => "JPY",
        }
    }

    /// Digits after the decimal point of the minor unit.
    pub const fn minor_digits(self) -> u32 {
        match self {
            Currency::JPY => 0,
            _ => 2,
        }
    }

    pub const fn minor_per_major(self) -> i64 {
        match self {
            Currency::JPY => 1,
            _ => 100,
        }
    }

    /// [`MAX_AMOUNT_MAJOR`] in minor units.
    pub const fn max_amount_minor(self) -> i64 {
        MAX_AMOUNT_MAJOR * self.minor_per_major()
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "INR" => Ok(Currency::INR),
            "USD" => Ok(Currency::USD),
            "EUR" => Ok(Currency::EUR),
            "GBP" => Ok(Currency::GBP),
            "JPY" => Ok(Currency::JPY),
            other => Err(MoneyError::UnknownCurrency(other.to_owned())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How a value is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Ties away from zero.
    #[default]
    HalfUp,
    /// Ties to the even neighbour (banker's rounding).
    HalfEven,
    /// Away from zero (the ceiling of a positive value).
    Up,
    /// Towards zero (the floor of a positive value).
    Down,
}

impl RoundingMode {
    const fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
        }
    }
}

/// Round to an integer with `mode`.
pub fn round_to_integer(value: Decimal, mode: RoundingMode) -> Decimal {
    value.round_dp_with_strategy(0, mode.strategy())
}

/// Round `value` to a whole multiple of `step` (step > 0; a non-positive step rounds to an integer).
pub fn round_to_step(value: Decimal, step: Decimal, mode: RoundingMode) -> Decimal {
    if step <= Decimal::ZERO || step == Decimal::ONE {
        return round_to_integer(value, mode);
    }
    match value.checked_div(step) {
        Some(q) => round_to_integer(q, mode) * step,
        None => round_to_integer(value, mode),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency `{0}` (supported: INR, USD, EUR, GBP, JPY)")]
    UnknownCurrency(String),
    #[error("`{0}` is not a decimal amount")]
    Malformed(String),
    #[error("`{input}` has more than {digits} decimal places")]
    TooPrecise { input: String, digits: u32 },
    #[error("amount out of range")]
    Overflow,
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("rounding multiple must be a positive whole number of minor units, got {0}")]
    InvalidMultiple(Decimal),
    #[error("ratios must be non-empty, non-negative and not all zero")]
    InvalidRatios,
}

/// An exact amount: integer minor units with a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Money { minor: 0, currency }
    }

    pub const fn minor(self) -> i64 {
        self.minor
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    /// Parse a plain decimal string: optional `-`, digits, optional `.` and 1 to `minor_digits`
    /// digits. No `+`, exponent, separators or spaces.
    pub fn parse(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let malformed = || MoneyError::Malformed(s.to_owned());
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(malformed());
        }
        let scale = currency.minor_digits();
        let frac = frac.unwrap_or("");
        if frac.len() > scale as usize {
            return Err(MoneyError::TooPrecise {
                input: s.to_owned(),
                digits: scale,
            });
        }
        let mut minor: i64 = 0;
        for b in int.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        let mut padded = 0i64;
        for k in 0..scale as usize {
            let d = frac.as_bytes().get(k).map_or(0, |b| i64::from(b - b'0'));
            padded = padded * 10 + d;
        }
        minor = minor
            .checked_mul(currency.minor_per_major())
            .and_then(|m| m.checked_add(padded))
            .ok_or(MoneyError::Overflow)?;
        if negative {
            minor = -minor;
        }
        Ok(Money { minor, currency })
    }

    /// Convert a decimal amount in major units, rounding excess precision with `mode`.
    pub fn from_decimal(
        value: Decimal,
        currency: Currency,
        mode: RoundingMode,
    ) -> Result<Money, MoneyError> {
        let scaled = value
            .checked_mul(Decimal::from(currency.minor_per_major()))
            .ok_or(MoneyError::Overflow)?;
        let minor = round_to_integer(scaled, mode)
            .to_i64()
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.minor, self.currency.minor_digits())
    }

    fn same(self, rhs: Money) -> Result<(), MoneyError> {
        if self.currency == rhs.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, rhs.currency))
        }
    }

    pub fn checked_add(self, rhs: Money) -> Result<Money, MoneyError> {
        self.same(rhs)?;
        let minor = self
            .minor
            .checked_add(rhs.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_sub(self, rhs: Money) -> Result<Money, MoneyError> {
        self.same(rhs)?;
        let minor = self
            .minor
            .checked_sub(rhs.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(factor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Round to a multiple in major units (`0.01`, `1`, `10`, `0.05`, …).
    pub fn round_to_multiple(
        self,
        multiple: Decimal,
        mode: RoundingMode,
    ) -> Result<Money, MoneyError> {
        let step = multiple
            .checked_mul(Decimal::from(self.currency.minor_per_major()))
            .ok_or(MoneyError::InvalidMultiple(multiple))?;
        if step <= Decimal::ZERO || !step.fract().is_zero() {
            return Err(MoneyError::InvalidMultiple(multiple));
        }
        let minor = round_to_step(Decimal::from(self.minor), step, mode)
            .to_i64()
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Exact split by ratios (largest remainder); the parts always sum to `self`.
    pub fn allocate(self, ratios: &[Decimal]) -> Result<Vec<Money>, MoneyError> {
        Ok(allocate_minor(self.minor, ratios)?
            .into_iter()
            .map(|minor| Money { minor, ..self })
            .collect())
    }

    /// `INR 969.73`.
    pub fn to_string_with_code(self) -> String {
        format!("{} {}", self.currency.code(), self)
    }
}

/// Split `amount` minor units by non-negative `ratios` (any scale) with the largest-remainder
/// method: each part gets its exact share rounded towards zero, then the units left over go one each
/// to the parts with the largest remainders, ties to the earlier part. Parts sum exactly to `amount`
/// and keep its sign.
pub fn allocate_minor(amount: i64, ratios: &[Decimal]) -> Result<Vec<i64>, MoneyError> {
    if ratios.is_empty() || ratios.iter().any(|r| r.is_sign_negative() && !r.is_zero()) {
        return Err(MoneyError::InvalidRatios);
    }
    // Bring every ratio to one integer scale, so the arithmetic is exact in i128.
    let scale = ratios.iter().map(|r| r.scale()).max().unwrap_or(0);
    let mut weights = Vec::with_capacity(ratios.len());
    for r in ratios {
        let mut r = *r;
        r.rescale(scale);
        let w = r.mantissa();
        weights.push(w);
    }
    let total: i128 = weights.iter().sum();
    if total <= 0 {
        return Err(MoneyError::InvalidRatios);
    }
    let sign: i128 = if amount < 0 { -1 } else { 1 };
    let magnitude = i128::from(amount).abs();
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let product = magnitude.checked_mul(*w).ok_or(MoneyError::Overflow)?;
        let q = product / total;
        let r = product % total;
        parts.push(q);
        remainders.push((r, i));
        given += q;
    }
    let mut left = magnitude - given;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|p| i64::try_from(p * sign).map_err(|_| MoneyError::Overflow))
        .collect()
}

/// Sum amounts in minor units, in `i128`. The limits (amounts, events per loan) keep a loan's sums
/// far inside `i64`; a sum past it is a broken invariant, and a crash is better than a wrong figure.
pub fn sum_minor(values: impl IntoIterator<Item = i64>) -> i64 {
    let total: i128 = values.into_iter().map(i128::from).sum();
    assert!(
        i64::try_from(total).is_ok(),
        "a sum of amounts left the i64 range: {total}"
    );
    total as i64
}

/// Format minor units with `digits` fraction digits: (96973, 2) → "969.73", (-5, 2) → "-0.05".
pub fn format_minor(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let unit = 10u64.pow(digits);
    let abs = minor.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = digits as usize
    )
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.minor, self.currency.minor_digits()))
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn inr(s: &str) -> Money {
        Money::parse(s, Currency::INR).unwrap()
    }

    #[test]
    fn parses_and_formats() {
        assert_eq!(inr("969.73").minor(), 96973);
        assert_eq!(inr("20000").minor(), 2_000_000);
        assert_eq!(inr("-5.5").minor(), -550);
        assert_eq!(inr("0.05").to_string(), "0.05");
        assert_eq!(inr("-0.05").to_string(), "-0.05");
        assert_eq!(
            Money::parse("970", Currency::JPY).unwrap().to_string(),
            "970"
        );
        assert_eq!(inr("969.73").to_string_with_code(), "INR 969.73");
        assert_eq!(serde_json::to_string(&inr("1.5")).unwrap(), "\"1.50\"");
    }

    #[test]
    fn refuses_malformed_amounts() {
        for bad in [
            "", "-", ".5", "5.", "+1", "1e3", "1,000", " 1", "1 ", "1.2.3", "abc", "--1",
        ] {
            assert!(
                matches!(
                    Money::parse(bad, Currency::INR),
                    Err(MoneyError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Money::parse("1.234", Currency::INR),
            Err(MoneyError::TooPrecise { digits: 2, .. })
        ));
        assert!(matches!(
            Money::parse("1.5", Currency::JPY),
            Err(MoneyError::TooPrecise { digits: 0, .. })
        ));
        assert_eq!(
            Money::parse("99999999999999999999", Currency::INR),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            "XYZ".parse::<Currency>(),
            Err(MoneyError::UnknownCurrency("XYZ".into()))
        );
    }

    #[test]
    fn checked_arithmetic() {
        let max = Money::from_minor(i64::MAX, Currency::INR);
        assert_eq!(max.checked_add(inr("0.01")), Err(MoneyError::Overflow));
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::from_minor(i64::MIN, Currency::INR).checked_neg(),
            Err(MoneyError::Overflow)
        );
        let usd = Money::from_minor(1, Currency::USD);
        assert_eq!(
            inr("1").checked_add(usd),
            Err(MoneyError::CurrencyMismatch(Currency::INR, Currency::USD))
        );
        assert_eq!(
            inr("1.50").checked_sub(inr("2")).unwrap().to_string(),
            "-0.50"
        );
    }

    #[test]
    fn rounding_modes() {
        let r = |v: &str, m| round_to_integer(d(v), m).to_string();
        assert_eq!(r("12.5", RoundingMode::HalfUp), "13");
        assert_eq!(r("12.5", RoundingMode::HalfEven), "12");
        assert_eq!(r("13.5", RoundingMode::HalfEven), "14");
        assert_eq!(r("-12.5", RoundingMode::HalfUp), "-13");
        assert_eq!(r("12.1", RoundingMode::Up), "13");
        assert_eq!(r("12.9", RoundingMode::Down), "12");
        assert_eq!(r("-12.1", RoundingMode::Up), "-13");
        assert_eq!(r("-12.9", RoundingMode::Down), "-12");
    }

    #[test]
    fn rounding_to_multiples() {
        let m = |v: &str, mult: &str, mode| {
            inr(v).round_to_multiple(d(mult), mode).unwrap().to_string()
        };
        assert_eq!(m("969.73", "1", RoundingMode::HalfUp), "970.00");
        assert_eq!(m("429.17", "20", RoundingMode::HalfEven), "420.00");
        assert_eq!(m("12.50", "1", RoundingMode::HalfEven), "12.00");
        assert_eq!(m("12.50", "1", RoundingMode::HalfUp), "13.00");
        assert_eq!(m("0.03", "0.05", RoundingMode::Down), "0.00");
        assert_eq!(m("0.03", "0.05", RoundingMode::Up), "0.05");
        assert_eq!(m("1234.56", "10", RoundingMode::Down), "1230.00");
        assert_eq!(m("1.23", "0.01", RoundingMode::Up), "1.23");
        assert!(
            inr("1")
                .round_to_multiple(d("0.001"), RoundingMode::Up)
                .is_err()
        );
        assert!(
            inr("1")
                .round_to_multiple(d("0"), RoundingMode::Up)
                .is_err()
        );
        assert_eq!(
            round_to_step(d("429.1666"), d("20"), RoundingMode::HalfEven).to_string(),
            "420"
        );
    }

    #[test]
    fn from_decimal_rounds() {
        let m = Money::from_decimal(d("969.732961"), Currency::INR, RoundingMode::HalfUp).unwrap();
        assert_eq!(m.minor(), 96973);
        assert_eq!(m.to_decimal().to_string(), "969.73");
    }

    #[test]
    fn allocation_examples() {
        assert_eq!(
            allocate_minor(1_237_617, &[d("80"), d("20")]).unwrap(),
            vec![990_094, 247_523]
        );
        assert_eq!(
            allocate_minor(100, &[d("1"), d("1"), d("1")]).unwrap(),
            vec![34, 33, 33]
        );
        assert_eq!(
            allocate_minor(-100, &[d("1"), d("1"), d("1")]).unwrap(),
            vec![-34, -33, -33]
        );
        assert_eq!(allocate_minor(5, &[d("0"), d("1")]).unwrap(), vec![0, 5]);
        assert_eq!(allocate_minor(5, &[]), Err(MoneyError::InvalidRatios));
        assert_eq!(allocate_minor(5, &[d("0")]), Err(MoneyError::InvalidRatios));
        assert_eq!(
            allocate_minor(5, &[d("-1"), d("2")]),
            Err(MoneyError::InvalidRatios)
        );
        let parts = inr("100.00").allocate(&[d("0.3333"), d("0.6667")]).unwrap();
        assert_eq!(parts.iter().map(|m| m.minor()).sum::<i64>(), 10_000);
    }

    proptest! {
        #[test]
        fn allocate_sums_exactly(amount in any::<i64>(), ratios in prop::collection::vec(0u32..=10_000, 1..6)) {
            prop_assume!(ratios.iter().any(|r| *r > 0));
            let ratios: Vec<Decimal> = ratios.into_iter().map(Decimal::from).collect();
            let parts = allocate_minor(amount, &ratios).unwrap();
            prop_assert_eq!(parts.iter().map(|p| i128::from(*p)).sum::<i128>(), i128::from(amount));
            let total: Decimal = ratios.iter().sum();
            for (p, r) in parts.iter().zip(&ratios) {
                // Each part is within one minor unit of its exact share.
                let exact = i128::from(amount) * r.mantissa() ;
                let diff = i128::from(*p) * total.mantissa() - exact;
                prop_assert!(diff.abs() < total.mantissa(), "part {} ratio {}", p, r);
            }
        }

        #[test]
        fn parse_format_round_trip(minor in any::<i64>()) {
            prop_assume!(minor != i64::MIN);
            let text = format_minor(minor, 2);
            prop_assert_eq!(Money::parse(&text, Currency::INR).unwrap().minor(), minor);
        }
    }
}
