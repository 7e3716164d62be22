//! Loan terms: the one description of a loan's contract.
//!
//! Origination sanctions a [`Terms`] value and servicing runs exactly that value. The JSON form
//! ([`TermsDoc`], in [`wire`]) carries money and rates as decimal strings; [`Terms::parse`] turns it
//! into typed, validated terms ([`types`]), reporting every broken rule with the field it concerns
//! ([`error`]); the rules live in [`validate`], one module per section of the document.

use serde::{Deserialize, Serialize};

use crate::money::Money;

pub mod error;
pub mod rules;
pub mod types;
mod validate;
pub mod wire;

pub use error::{FieldError, TermsError};
pub use rules::RULES;
pub use types::*;
pub use validate::amount_limit_rule;
pub use wire::*;

impl Terms {
    /// Parse terms from JSON text: syntax and type errors name the JSON path; then every rule is checked.
    pub fn from_json(text: &str) -> Result<Terms, TermsError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let doc: TermsDoc = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path.is_empty() {
                "terms".to_owned()
            } else {
                path
            };
            TermsError(vec![FieldError::from_json(field, e.inner())])
        })?;
        Terms::parse(&doc)
    }

    /// Validate a terms document, collecting every broken rule.
    pub fn parse(doc: &TermsDoc) -> Result<Terms, TermsError> {
        validate::Validator::default().run(doc)
    }

    /// Canonical JSON text of the terms.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_doc()).unwrap_or_default()
    }

    /// The first disbursement: the principal less every later tranche.
    pub fn first_disbursement(&self) -> i64 {
        self.principal - self.tranches.iter().map(|t| t.amount).sum::<i64>()
    }

    pub fn money(&self, minor: i64) -> Money {
        Money::from_minor(minor, self.currency)
    }
}

impl Serialize for Terms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_doc().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Terms {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let doc = TermsDoc::deserialize(deserializer)?;
        Terms::parse(&doc).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
