//! Origination: an application from draft to the sanction that freezes its terms, and every rule
//! on the way (parties, product bounds, bureau and bank-statement assessment, eligibility, the
//! scorecard, the offer, the decision, the Key Facts Statement).
//!
//! Everything here is pure: the shell fetches bureau reports and statements through connectors,
//! and this module reads them, decides and records why.

pub mod application;
pub mod bounds;
pub mod bureau;
pub mod decision;
pub mod eligibility;
pub mod kfs;
pub mod offer;
pub mod party;
pub mod product;
pub mod scorecard;
pub mod statement;

/// Every origination module's table of rule codes (see [`crate::terms::RULES`] for the terms').
pub const RULE_TABLES: &[&[(&str, &str)]] = &[
    application::RULES,
    application::draft::RULES,
    bounds::RULES,
    bureau::RULES,
    decision::RULES,
    eligibility::RULES,
    kfs::RULES,
    offer::RULES,
    party::RULES,
    product::RULES,
    scorecard::RULES,
    statement::RULES,
];
