//! The servicing sections: the holiday calendar and the allocation of payments.

use std::collections::BTreeSet;

use crate::terms::types::Allocation;
use crate::terms::wire::TermsDoc;

use super::Validator;

impl Validator {
    pub(super) fn calendar(&mut self, doc: &TermsDoc) {
        if let Some(cal) = &doc.calendar {
            let days: BTreeSet<_> = cal.weekend.iter().collect();
            if days.len() >= 7 {
                self.err(
                    "calendar.weekend",
                    "calendar.weekend",
                    "must leave at least one business day",
                );
            }
        }
    }

    pub(super) fn allocation(&mut self, doc: &TermsDoc) -> Allocation {
        let allocation = doc.allocation.unwrap_or_default();
        let distinct: BTreeSet<_> = allocation.order.iter().collect();
        if distinct.len() != 3 {
            self.err(
                "allocation.order",
                "allocation.order",
                "must name charges, interest and principal once each",
            );
        }
        allocation
    }
}
