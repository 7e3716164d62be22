//! The stable machine codes of the rules, beside their English text.
//!
//! A code is `subject.rule` (`amount.positive`, `date.format`): what the value is and which rule it
//! breaks. Codes never change meaning; a client branches on the code and shows the text. The table
//! in docs/terms.md is this list (a test keeps them equal).

/// Every code a [`super::FieldError`] can carry, with its meaning.
pub const RULES: &[(&str, &str)] = &[
    ("json.syntax", "The text is not well-formed JSON"),
    (
        "json.type",
        "The value has the wrong JSON type (a string where a number goes, …)",
    ),
    (
        "json.invalid",
        "The value could not be read as the field's type",
    ),
    ("field.missing", "A required field is missing"),
    ("field.unknown", "The field is not part of the document"),
    (
        "enum.unknown",
        "The value is not one of the names the field accepts",
    ),
    (
        "frequency.days",
        "A frequency in days must be between 1 and 3660",
    ),
    ("event.object", "An event must be a JSON object"),
    (
        "event.version",
        "The event version `v` is not a known whole number",
    ),
    (
        "event.restructure_empty",
        "A restructure names none of installments, installment_amount and moratorium",
    ),
    (
        "currency.unknown",
        "The currency is not a supported ISO 4217 code",
    ),
    (
        "amount.format",
        "An amount must be a plain decimal string with at most the currency's minor digits",
    ),
    (
        "amount.max",
        "An amount must be at most the largest amount accepted (one lakh crore)",
    ),
    ("amount.positive", "An amount must be greater than zero"),
    ("amount.non_negative", "An amount must not be negative"),
    (
        "rate.format",
        "A rate or percentage must be a plain decimal string",
    ),
    (
        "rate.precision",
        "A rate or percentage has at most 6 decimal places",
    ),
    (
        "rate.range",
        "A rate or percentage is out of its range (0 to 100 unless stated)",
    ),
    (
        "rate.blended",
        "Under principal_pro_rata the loan's rate must cover the partners' blended rate",
    ),
    (
        "installments.range",
        "The number of instalments must be between 1 and 600",
    ),
    (
        "installments.balloon",
        "A balloon loan needs at least 2 instalments",
    ),
    (
        "schedule.dates",
        "The schedule runs past the supported dates",
    ),
    ("date.format", "A date must be written YYYY-MM-DD and exist"),
    ("date.range", "A date's year must be between 1900 and 2200"),
    (
        "first_due_date.order",
        "The first due date must be after the disbursement date",
    ),
    (
        "first_due_date.gap",
        "The first due date must be at most two periods after disbursement",
    ),
    (
        "broken_period.basis",
        "A broken period applies only under interest_basis equal_periods",
    ),
    (
        "rounding.multiple",
        "The instalment multiple must be a positive whole number of minor units, at most 1000000",
    ),
    ("moratorium.method", "The method has no moratorium"),
    (
        "moratorium.periods",
        "The moratorium's periods are out of range",
    ),
    ("balloon.required", "Method balloon needs a balloon amount"),
    (
        "balloon.method",
        "A balloon amount is only for method balloon",
    ),
    (
        "balloon.below_principal",
        "The balloon must be less than the principal",
    ),
    ("step.required", "Method step needs a step"),
    ("step.method", "A step is only for method step"),
    (
        "step.every",
        "A step's interval must be at least 1 and fewer than the instalments",
    ),
    ("text.empty", "A name, id or reference must not be empty"),
    ("text.length", "A text field is at most 200 characters"),
    ("name.unique", "Fee names are unique"),
    ("id.unique", "Partner ids are unique"),
    (
        "fee.amount_or_percent",
        "A fee has exactly one of amount and percent",
    ),
    (
        "fees.first_disbursement",
        "Fees deducted or paid upfront must be less than the first disbursement",
    ),
    (
        "penal.one_kind",
        "A penal charge has exactly one of per_missed_installment and percent",
    ),
    ("tranches.method", "The method has no later disbursements"),
    (
        "tranches.total",
        "Tranches must add up to less than the principal",
    ),
    (
        "tranche.after_disbursement",
        "A tranche is paid out after the disbursement date",
    ),
    (
        "tranche.before_maturity",
        "A tranche is paid out before the last due date",
    ),
    (
        "calendar.weekend",
        "A weekend must leave at least one business day",
    ),
    (
        "allocation.order",
        "The allocation order names charges, interest and principal once each",
    ),
    (
        "partners.count",
        "Co-lending lists at least two lenders, the originator included",
    ),
    (
        "partners.originator",
        "At most one partner is the originator",
    ),
    ("partners.shares", "Partner shares add up to 100"),
    ("partner.share", "A partner's share is greater than zero"),
    (
        "split.partners",
        "A split applies only when partners are given",
    ),
    ("terms.unreadable", "The terms could not be read"),
    ("invalid", "A rule without a code of its own yet"),
];

/// The code of a JSON reading error, from serde's message: the shape of the document, before any
/// rule of the terms or events is checked.
pub fn json_code(category: serde_json::error::Category, message: &str) -> &'static str {
    use serde_json::error::Category;
    if matches!(category, Category::Syntax | Category::Eof | Category::Io) {
        "json.syntax"
    } else if message.contains("YYYY-MM-DD") {
        "date.format"
    } else if message.starts_with("missing field") {
        "field.missing"
    } else if message.starts_with("unknown field") {
        "field.unknown"
    } else if message.starts_with("unknown variant")
        || message.starts_with("unknown frequency")
        || message.starts_with("must be one of")
    {
        "enum.unknown"
    } else if message.starts_with("days must be between") {
        "frequency.days"
    } else if message.starts_with("invalid type")
        || message.starts_with("invalid length")
        || message.starts_with("invalid value")
    {
        "json.type"
    } else {
        "json.invalid"
    }
}

/// The meaning of a code, if it is one.
pub fn meaning(code: &str) -> Option<&'static str> {
    std::iter::once(RULES)
        .chain(crate::origination::RULE_TABLES.iter().copied())
        .chain(std::iter::once(crate::collections::failure::RULES))
        .flat_map(|t| t.iter())
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
}
