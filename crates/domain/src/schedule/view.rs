//! The `loanbook quote --json` document of a schedule.

use crate::calendar::Date;
use crate::money::format_minor;

use super::Schedule;

impl serde::Serialize for Schedule {
    /// The `loanbook quote --json` shape: money as decimal strings, the APR as a percent string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let digits = self.currency.minor_digits();
        let m = |minor: i64| format_minor(minor, digits);

        #[derive(serde::Serialize)]
        struct Row {
            number: u32,
            due_date: Date,
            principal: String,
            interest: String,
            fees: String,
            total: String,
            balance: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            capitalised: Option<String>,
        }
        #[derive(serde::Serialize)]
        struct TotalsView {
            principal: String,
            interest: String,
            fees: String,
            payable: String,
        }
        let rows: Vec<Row> = self
            .installments
            .iter()
            .map(|r| Row {
                number: r.number,
                due_date: r.due_date,
                principal: m(r.principal),
                interest: m(r.interest),
                fees: m(r.fees),
                total: m(r.total),
                balance: m(r.balance),
                capitalised: (r.capitalised != 0).then(|| m(r.capitalised)),
            })
            .collect();
        let mut s = serializer.serialize_struct("Schedule", 7)?;
        s.serialize_field("currency", self.currency.code())?;
        s.serialize_field("installment_amount", &m(self.installment_amount))?;
        s.serialize_field("installments", &rows)?;
        s.serialize_field(
            "totals",
            &TotalsView {
                principal: m(self.totals.principal),
                interest: m(self.totals.interest),
                fees: m(self.totals.fees),
                payable: m(self.totals.payable),
            },
        )?;
        s.serialize_field("net_disbursed", &m(self.net_disbursed))?;
        s.serialize_field("broken_period_interest", &m(self.broken_period_interest))?;
        s.serialize_field("apr", &format!("{:.2}", self.apr))?;
        s.end()
    }
}
