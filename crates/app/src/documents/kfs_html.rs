//! The KFS as one printable HTML page (A4), through an askama template: every value is escaped.

use askama::Template;
use loanbook_domain::origination::kfs::KeyFacts;

use super::{FeeLine, ScheduleLine, Section, fee_lines, heading, inr, schedule_lines, sections};

#[derive(Template)]
#[template(path = "kfs.html")]
struct KfsPage {
    title: String,
    heading: Vec<String>,
    sections: Vec<Section>,
    fees: Vec<FeeLine>,
    schedule: Vec<ScheduleLine>,
    total_principal: String,
    total_interest: String,
    total_payable: String,
}

/// The KFS as a printable HTML document: every part, the fee table and the repayment schedule.
pub fn kfs_html(kfs: &KeyFacts) -> String {
    let page = KfsPage {
        title: format!("Key Facts Statement {}", kfs.issue.application_number),
        heading: heading(kfs),
        sections: sections(kfs),
        fees: fee_lines(kfs),
        schedule: schedule_lines(kfs),
        total_principal: inr(kfs.schedule.iter().map(|r| r.principal).sum()),
        total_interest: inr(kfs.schedule.iter().map(|r| r.interest).sum()),
        total_payable: inr(kfs.schedule.iter().map(|r| r.installment).sum()),
    };
    // Rendering into a String fails only if a value's Display fails; ours are Strings.
    page.render()
        .unwrap_or_else(|e| format!("<!doctype html><p>The KFS could not be rendered: {e}</p>"))
}
