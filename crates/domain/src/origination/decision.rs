//! The credit decision: the eligibility rules knock out, then the scorecard approves, refers or
//! rejects; every figure and reason is kept for the record.

use serde::{Deserialize, Serialize};

use super::eligibility::{Facts, RuleResult};
use super::product::ProductPolicy;
use super::scorecard::Score;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approve,
    /// To a credit officer.
    Refer,
    Reject,
}

/// A decision and everything it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Assessment {
    pub rules: Vec<RuleResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    pub outcome: Outcome,
    /// Stable reason codes: each failed rule's (`eligibility.min_bureau_score`), then the
    /// scorecard's (`decision.score_refer`, `decision.score_reject`).
    pub reasons: Vec<String>,
}

/// Any failed eligibility rule rejects; otherwise the scorecard decides (no scorecard: approve).
/// The score is computed even when a rule rejects, for the record.
pub fn decide(policy: &ProductPolicy, facts: &Facts) -> Assessment {
    let rules = policy
        .eligibility
        .as_ref()
        .map(|e| e.evaluate(facts))
        .unwrap_or_default();
    let score = policy.scorecard.as_ref().map(|s| s.score(facts));
    let mut reasons: Vec<String> = rules
        .iter()
        .filter(|r| !r.passed)
        .map(RuleResult::code)
        .collect();
    let outcome = if !reasons.is_empty() {
        Outcome::Reject
    } else {
        match (&policy.scorecard, &score) {
            (Some(card), Some(s)) if s.points < card.refer_from => {
                reasons.push("decision.score_reject".to_owned());
                Outcome::Reject
            }
            (Some(card), Some(s)) if s.points < card.approve_from => {
                reasons.push("decision.score_refer".to_owned());
                Outcome::Refer
            }
            _ => Outcome::Approve,
        }
    };
    Assessment {
        rules,
        score,
        outcome,
        reasons,
    }
}

/// The stable codes of the rules this module checks, with their meaning.
pub const RULES: &[(&str, &str)] = &[
    (
        "decision.score_refer",
        "The score is below the approval threshold but at least the refer threshold",
    ),
    (
        "decision.score_reject",
        "The score is below the refer threshold",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origination::eligibility::Eligibility;
    use crate::origination::scorecard::{Band, Characteristic, Scorecard};
    use rust_decimal::Decimal;

    fn facts(score: u16) -> Facts {
        Facts {
            bureau_score: Some(score),
            monthly_income: 10_000_000,
            age_years: 30,
            age_at_maturity_years: 35,
            ..Facts::default()
        }
    }

    fn policy() -> ProductPolicy {
        let band = |from: Option<i64>, to: Option<i64>, points| Band {
            from: from.map(Decimal::from),
            to: to.map(Decimal::from),
            points,
        };
        ProductPolicy {
            eligibility: Some(Eligibility {
                min_bureau_score: Some(650),
                ..Eligibility::default()
            }),
            scorecard: Some(Scorecard {
                characteristics: vec![Characteristic {
                    name: "bureau_score".into(),
                    bands: vec![
                        band(None, Some(700), 10),
                        band(Some(700), Some(750), 30),
                        band(Some(750), None, 60),
                    ],
                    missing_points: 0,
                }],
                approve_from: 50,
                refer_from: 30,
            }),
            ..ProductPolicy::open()
        }
    }

    #[test]
    fn a_failed_rule_rejects_with_its_code() {
        let a = decide(&policy(), &facts(649));
        assert_eq!(a.outcome, Outcome::Reject);
        assert_eq!(a.reasons, vec!["eligibility.min_bureau_score"]);
        assert_eq!(a.score.map(|s| s.points), Some(10));
    }

    #[test]
    fn the_scorecard_decides_at_its_thresholds() {
        let p = policy();
        let cases = [
            (650, Outcome::Reject, vec!["decision.score_reject"]),
            (700, Outcome::Refer, vec!["decision.score_refer"]),
            (749, Outcome::Refer, vec!["decision.score_refer"]),
            (750, Outcome::Approve, vec![]),
        ];
        for (score, outcome, reasons) in cases {
            let a = decide(&p, &facts(score));
            assert_eq!(a.outcome, outcome, "{score}");
            assert_eq!(a.reasons, reasons, "{score}");
            assert!(a.rules.iter().all(|r| r.passed));
        }
    }

    #[test]
    fn an_open_policy_approves() {
        let a = decide(&ProductPolicy::open(), &facts(300));
        assert_eq!(a.outcome, Outcome::Approve);
        assert!(a.rules.is_empty() && a.score.is_none() && a.reasons.is_empty());
    }

    #[test]
    fn every_reason_code_has_a_meaning() {
        for score in [300, 700, 800] {
            for r in decide(&policy(), &facts(score)).reasons {
                assert!(crate::terms::rules::meaning(&r).is_some(), "{r}");
            }
        }
    }
}
