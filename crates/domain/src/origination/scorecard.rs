//! scorecard

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[];
