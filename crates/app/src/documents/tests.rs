use loanbook_domain::origination::kfs::{GrievanceOfficer, KeyFacts, KfsIssue, KfsSettings};
use loanbook_domain::terms::Terms;

use super::kfs_pdf::{layout, pdf_text};
use super::*;

/// The RBI worked example: ₹20,000 at 15% for 24 months, ₹240 to the lender, ₹160 to a third party.
pub(crate) fn rbi_terms(installments: u32) -> Terms {
    let json = format!(
        r#"{{"currency": "INR", "principal": "20000.00", "annual_rate": "15", "method": "emi",
            "installments": {installments}, "frequency": "monthly", "disbursement_date": "2024-01-01",
            "fees": [
                {{"name": "Processing fee", "amount": "240.00"}},
                {{"name": "Insurance (payable to Acme General Insurance)", "amount": "160.00"}}
            ]}}"#
    );
    Terms::from_json(&json).unwrap()
}

pub(crate) fn kfs(installments: u32, borrower: &str) -> KeyFacts {
    let settings = KfsSettings {
        lender: "Example Finance Ltd".into(),
        validity_days: 3,
        cooling_off_days: 3,
        grievance_officer: GrievanceOfficer {
            name: "A. Officer".into(),
            phone: "+91 22 4000 0000".into(),
            email: "grievance@example.in".into(),
        },
        recovery_agents: true,
        may_be_transferred: false,
        service_providers: vec![],
        policy_url: Some("https://example.in/policies".into()),
    };
    let issue = KfsIssue {
        application_number: "APP-2024-0001".into(),
        borrower: borrower.into(),
        issued_on: "2023-12-28".parse().unwrap(),
        valid_until: "2024-01-02".parse().unwrap(),
        terms_hash: "ab12".into(),
    };
    KeyFacts::build(&rbi_terms(installments), &settings, issue).unwrap()
}

#[test]
fn indian_money_format() {
    assert_eq!(inr(12_345_678), "₹1,23,456.78");
    assert_eq!(inr(96_973), "₹969.73");
    assert_eq!(inr(100_000), "₹1,000.00");
    assert_eq!(inr(2_000_000), "₹20,000.00");
    assert_eq!(inr(10_000_000), "₹1,00,000.00");
    assert_eq!(inr(123_456_789_012), "₹1,23,45,67,890.12");
    assert_eq!(inr(5), "₹0.05");
    assert_eq!(inr(0), "₹0.00");
    assert_eq!(inr(-12_345_678), "-₹1,23,456.78");
    assert_eq!(inr(i64::MIN), "-₹92,23,37,20,36,85,47,758.08");
}

#[test]
fn html_carries_every_figure() {
    let k = kfs(24, "Asha Rao");
    let html = kfs_html(&k);
    for figure in [
        "17.07%",
        "₹969.73",
        "₹19,600.00",
        "₹20,000.00",
        "₹240.00",
        "₹160.00",
        "₹400.00",
        "Acme General Insurance",
        "APP-2024-0001",
        "grievance@example.in",
        "3 days",
        "15% Fixed",
        "02-01-2024",
    ] {
        assert!(html.contains(figure), "missing {figure}");
    }
    assert!(html.contains(&inr(k.total_interest)));
    assert!(html.contains(&inr(k.total_payable)));
    for row in &k.schedule {
        let line = format!(
            "<tr><td>{}</td><td>{}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td></tr>",
            row.number,
            date(row.due_date),
            inr(row.outstanding),
            inr(row.principal),
            inr(row.interest),
            inr(row.installment)
        );
        assert!(html.contains(&line), "missing schedule row {line}");
    }
    assert!(html.contains("@page { size: A4"));
    for title in ["Part 1", "Part 2", "Annex B", "Annex C"] {
        assert!(html.contains(title), "missing {title}");
    }
}

#[test]
fn html_escapes_names() {
    let html = kfs_html(&kfs(24, "<script>alert('x')</script> & Sons"));
    assert!(!html.contains("<script>"));
    assert!(
        html.contains("Borrower: &#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; Sons")
    );
}

fn pages_of(pdf: &[u8]) -> lopdf::Document {
    assert!(pdf.starts_with(b"%PDF-"));
    lopdf::Document::load_mem(pdf).unwrap()
}

#[test]
fn pdf_is_a_pdf_whose_text_carries_the_apr() {
    let k = kfs(24, "Asha Rao");
    let pdf = kfs_pdf(&k).unwrap();
    let doc = pages_of(&pdf);
    let pages = doc.get_pages();
    assert_eq!(pages.len(), layout(&k).len());
    let numbers: Vec<u32> = pages.keys().copied().collect();
    let text = doc.extract_text(&numbers).unwrap();
    assert!(text.contains("17.07%"), "{text}");
    assert!(text.contains("Rs. 969.73"), "{text}");
    assert!(text.contains("Rs. 19,600.00"), "{text}");
    assert!(text.contains("Annex C"), "{text}");
}

#[test]
fn pdf_schedule_takes_as_many_pages_as_it_needs() {
    for installments in [24u32, 45, 46, 120, 360] {
        let k = kfs(installments, "Asha Rao");
        let pages = layout(&k);
        let schedule_pages = (installments as usize).div_ceil(ROWS_PER_PAGE);
        let facts_pages = pages.len() - schedule_pages;
        assert!(facts_pages >= 1);
        // Each schedule page carries its rows, under the heads.
        for (i, page) in pages[facts_pages..].iter().enumerate() {
            assert!(page.iter().any(|t| t.text == "Annex C: Repayment schedule"));
            let first = (i * ROWS_PER_PAGE + 1).to_string();
            assert!(
                page.iter().any(|t| t.text == first),
                "page {i} lacks row {first}"
            );
        }
        let pdf = kfs_pdf(&k).unwrap();
        assert_eq!(
            pages_of(&pdf).get_pages().len(),
            pages.len(),
            "{installments}"
        );
    }
}

#[test]
fn pdf_text_keeps_to_the_builtin_fonts() {
    assert_eq!(pdf_text("₹1,23,456.78"), "Rs. 1,23,456.78");
    assert_eq!(pdf_text("Zoë – आशा"), "Zoë - ???");
}

#[test]
fn part_two_names_transfers_and_service_providers() {
    let mut k = kfs(24, "Asha Rao");
    let html = kfs_html(&k);
    assert!(html.contains("Transfer to other lenders or securitisation"));
    assert!(html.contains("Lending service providers acting as recovery agents"));
    k.settings.may_be_transferred = true;
    k.settings.service_providers = vec![loanbook_domain::origination::kfs::ServiceProvider {
        name: "Recovery Partners Pvt Ltd".into(),
        role: "recovery".into(),
        contact: "+918000000001".into(),
    }];
    let html = kfs_html(&k);
    assert!(html.contains("Yes: the loan may be transferred or securitised"));
    assert!(html.contains("Recovery Partners Pvt Ltd (recovery): +918000000001"));
}
