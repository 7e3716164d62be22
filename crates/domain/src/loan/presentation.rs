//! The current wire form of a loan's state: the `loanbook replay --json` shape that the app
//! serves. It is presentation, not domain, and will give way to typed views in the app.

use serde::Serialize;

use super::{InstallmentStatus, LoanState, Loss};

impl LoanState {
    /// The state without its instalment rows: what a list, a projection or a command's answer
    /// needs.
    pub fn summary_json(&self) -> serde_json::Value {
        self.to_json(false)
    }

    /// The `loanbook replay --json` shape; `rows` adds the instalments.
    pub fn to_json(&self, rows: bool) -> serde_json::Value {
        use serde_json::{Value, json};
        let digits = self.currency.minor_digits();
        let m = |v: i64| Value::String(crate::money::format_minor(v, digits));
        let b = &self.balances;
        let loss = |l: &Loss| json!({"principal": m(l.principal), "interest": m(l.interest), "charges": m(l.charges)});
        let mut v = json!({
            "as_of": self.as_of.to_string(),
            "status": self.status.name(),
            "dpd": self.dpd,
            "classification": self.classification.name(),
            "asset_class": self.asset_class.name(),
            "npa_since": self.npa_since.map(|d| d.to_string()),
            "classification_history": self.classification_history.iter().map(|(d, c)| json!({"date": d.to_string(), "class": c.name()})).collect::<Vec<_>>(),
            "balances": {
                "principal_outstanding": m(b.principal_outstanding),
                "principal_overdue": m(b.principal_overdue),
                "interest_overdue": m(b.interest_overdue),
                "interest_accrued": m(b.interest_accrued),
                "interest_suspended": m(b.interest_suspended),
                "charges_due": m(b.charges_due),
                "penal_accrued": m(b.penal_accrued),
                "excess": m(b.excess),
            },
            "total_overdue": m(self.total_overdue),
            "foreclosure_amount": m(self.foreclosure_amount),
            "installment_amount": m(self.installment_amount),
            "annual_rate": self.annual_rate.normalize().to_string(),
            "partners": self.partners.iter().map(|p| json!({
                "id": p.id,
                "principal_outstanding": m(p.principal_outstanding),
                "principal_received": m(p.principal_received),
                "interest_received": m(p.interest_received),
                "charges_received": m(p.charges_received),
            })).collect::<Vec<_>>(),
            "events_applied": self.events_applied,
        });
        if let Some(obj) = v.as_object_mut() {
            if rows {
                let installments: Vec<Value> = self
                    .installments
                    .iter()
                    .map(|i| {
                        json!({
                            "number": i.number,
                            "due_date": i.due_date.to_string(),
                            "principal": m(i.principal),
                            "interest": m(i.interest),
                            "total": m(i.total),
                            "paid": m(i.paid),
                            "waived": m(i.waived),
                            "capitalised": m(i.capitalised),
                            "status": match i.status {
                                InstallmentStatus::Paid => "paid",
                                InstallmentStatus::PartiallyPaid => "partially_paid",
                                InstallmentStatus::Overdue => "overdue",
                                InstallmentStatus::Due => "due",
                                InstallmentStatus::Upcoming => "upcoming",
                            },
                        })
                    })
                    .collect();
                obj.insert("installments".into(), Value::Array(installments));
            }
            if let Some(d) = self.closed_on {
                obj.insert("closed_on".into(), json!(d.to_string()));
            }
            if let Some((d, l)) = &self.written_off {
                obj.insert(
                    "written_off".into(),
                    json!({"date": d.to_string(), "amounts": loss(l)}),
                );
                obj.insert("recovered".into(), m(self.recovered));
            }
            if let Some(l) = &self.settlement_shortfall {
                obj.insert("settlement_shortfall".into(), loss(l));
            }
        }
        v
    }
}

impl Serialize for LoanState {
    /// The `loanbook replay --json` shape.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json(true).serialize(serializer)
    }
}
