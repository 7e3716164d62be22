//! What the app's integration tests share: a principal and a booked loan.

use jiff::civil::Date;
use loanbook_app::servicing::BookLoan;
use loanbook_app::{App, Principal, RequestMeta, Role};
use loanbook_store::User;
use serde_json::json;

pub fn admin() -> Principal {
    principal("t", Role::Admin)
}

pub fn principal(name: &str, role: Role) -> Principal {
    Principal {
        user: User {
            id: name.into(),
            name: name.into(),
            role: role.name().into(),
            partner_id: None,
            created_at: String::new(),
        },
        role,
    }
}

/// Book loan `number`: ₹1,00,000 at 15% over 12 monthly EMIs, disbursed on `start`. Returns its id.
pub async fn book(app: &App, number: &str, start: Date) -> String {
    let cmd: BookLoan = serde_json::from_value(json!({
        "loan_number": number,
        "terms": {
            "currency": "INR", "principal": "100000.00", "annual_rate": "15", "method": "emi",
            "installments": 12, "frequency": "monthly", "disbursement_date": start.to_string(),
            "interest_basis": "equal_periods",
            "rounding": { "installment": { "mode": "half_up", "multiple": "1" }, "interest": "half_up" }
        },
        "events": [{ "type": "disbursement", "date": start.to_string(), "amount": "100000.00" }]
    }))
    .unwrap();
    let booked = app
        .book_loan(&admin(), &cmd, &RequestMeta::default())
        .await
        .unwrap();
    booked.result().unwrap().id.clone()
}
