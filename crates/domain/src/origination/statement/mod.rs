//! Bank-account data for assessment: an uploaded statement file or an Account Aggregator FI
//! document, read into one list of transactions, and the analysis over it.

pub const RULES: &[(&str, &str)] = &[];
