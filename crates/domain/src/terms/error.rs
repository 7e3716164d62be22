//! Why terms (or an event) were refused: each broken rule names its field.

use std::fmt;

use serde::Serialize;

/// One broken rule: the field (a JSON path such as `fees[0].percent`), the rule's stable code
/// (`amount.positive`, see [`super::rules::RULES`]) and its English text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    /// A stable machine code, `subject.rule`, one of [`super::rules::RULES`].
    #[cfg_attr(feature = "schema", schema(example = "amount.positive"))]
    pub code: &'static str,
    pub rule: String,
}

impl FieldError {
    /// A broken rule with its code.
    pub fn coded(field: impl Into<String>, code: &'static str, rule: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            rule: rule.into(),
        }
    }

    /// A broken rule without a code of its own yet (code `invalid`).
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        FieldError::coded(field, "invalid", rule)
    }

    /// A JSON reading error at `field`, coded from the error's category and message.
    pub fn from_json(field: impl Into<String>, error: &serde_json::Error) -> Self {
        let message = error.to_string();
        let code = super::rules::json_code(error.classify(), &message);
        FieldError::coded(field, code, message)
    }

    /// The same error under another field path (an event's position in a list, …).
    pub fn at(self, field: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            ..self
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// Why terms were refused: every broken rule, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TermsError(pub Vec<FieldError>);

impl fmt::Display for TermsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
