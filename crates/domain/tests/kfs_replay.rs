//! The Key Facts Statement a borrower accepts is the loan servicing runs: for terms of every
//! method, fee, moratorium and co-lending shape, the loan's first replay after its disbursement
//! has the KFS's schedule, instalment and figures.

mod support;

use loanbook_domain::events::{Event, EventKind};
use loanbook_domain::loan;
use loanbook_domain::origination::kfs::{GrievanceOfficer, KeyFacts, KfsIssue, KfsSettings};
use loanbook_domain::schedule;
use proptest::prelude::*;
use support::arb_any_terms;

fn settings() -> KfsSettings {
    KfsSettings {
        lender: "Loanbook Finance Ltd".into(),
        validity_days: 3,
        cooling_off_days: 3,
        grievance_officer: GrievanceOfficer {
            name: "R. Iyer".into(),
            phone: "+918000000000".into(),
            email: "grievance@example.in".into(),
        },
        recovery_agents: false,
        may_be_transferred: false,
        service_providers: vec![],
        policy_url: None,
    }
}

proptest! {
    #![proptest_config(support::config())]

    #[test]
    fn the_first_replay_is_the_kfs(terms in arb_any_terms()) {
        let issue = KfsIssue {
            application_number: "APP-1".into(),
            borrower: "Asha Rao".into(),
            issued_on: terms.disbursement_date,
            valid_until: terms.disbursement_date,
            terms_hash: "h".into(),
        };
        // Currencies the KFS does not carry (no paise) are refused, not misprinted.
        let Ok(kfs) = KeyFacts::build(&terms, &settings(), issue) else {
            return Ok(());
        };
        let disbursed = vec![Event {
            date: terms.disbursement_date,
            kind: EventKind::Disbursement { amount: terms.first_disbursement(), reference: None },
        }];
        let state = loan::replay(&terms, &disbursed, terms.disbursement_date).unwrap();
        prop_assert_eq!(state.installment_amount, kfs.installments.amount);
        prop_assert_eq!(state.installments.len(), kfs.schedule.len());
        for (row, k) in state.installments.iter().zip(&kfs.schedule) {
            prop_assert_eq!(row.due_date, k.due_date);
            prop_assert_eq!(row.principal, k.principal);
            prop_assert_eq!(row.interest, k.interest);
            prop_assert_eq!(row.total, k.installment);
        }
        let sched = schedule::build(&terms).unwrap();
        prop_assert_eq!(kfs.net_disbursed, sched.net_disbursed);
        prop_assert_eq!(kfs.apr, sched.apr);
        prop_assert_eq!(kfs.total_interest, sched.totals.interest);
        prop_assert_eq!(kfs.loan_amount, terms.principal);
    }
}
