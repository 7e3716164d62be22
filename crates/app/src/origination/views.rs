//! What origination answers with.

use loanbook_domain::origination::application::Application;
use loanbook_store::{ApplicationRecord, StoredApplicationEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::masking;
use crate::views::Document;
use crate::{AppError, Principal, Role, corrupt};

/// An application as the caller may see it: personal data masked for roles without a need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub number: String,
    #[schema(example = "submitted")]
    pub status: String,
    /// The queue it waits in: `credit`, or `partner:{party id}`.
    pub queue: Option<String>,
    /// How many events the application has.
    pub version: i64,
    /// The product's code and the version the application was made under.
    pub product: String,
    pub product_version: i64,
    /// The loan booked from it, once disbursed.
    pub loan_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Everything recorded: the draft, the parties, bureau and bank data with their analysis,
    /// the assessment and offer, the decisions, the sanction and its KFS, the acceptance, the
    /// checklist and the payout.
    #[schema(value_type = loanbook_domain::origination::application::Application)]
    pub application: Document,
}

/// Whether the role sees identities whole.
fn privileged(p: &Principal) -> bool {
    matches!(p.role, Role::Admin | Role::Credit | Role::Operations)
}

impl ApplicationView {
    pub(crate) fn of(
        p: &Principal,
        id: &str,
        version: i64,
        created_at: &str,
        updated_at: &str,
        app: &Application,
    ) -> Result<ApplicationView, AppError> {
        let mut doc =
            serde_json::to_value(app).map_err(|e| corrupt(format!("application view: {e}")))?;
        if !privileged(p) {
            masking::mask_value(&mut doc);
        }
        Ok(ApplicationView {
            id: id.to_owned(),
            number: app.number.clone(),
            status: app.status.name().to_owned(),
            queue: app.queue(),
            version,
            product: app.product.clone(),
            product_version: app.product_version,
            loan_id: app.loan_id.clone(),
            created_at: created_at.to_owned(),
            updated_at: updated_at.to_owned(),
            application: Document::new(doc),
        })
    }

    pub(crate) fn from_record(
        p: &Principal,
        r: &ApplicationRecord,
    ) -> Result<ApplicationView, AppError> {
        let app: Application = serde_json::from_str(&r.state)
            .map_err(|e| corrupt(format!("application `{}` state: {e}", r.id)))?;
        ApplicationView::of(p, &r.id, r.version, &r.created_at, &r.updated_at, &app)
    }
}

/// A page of applications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationPage {
    pub items: Vec<ApplicationView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One stored application event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationEventView {
    pub seq: i64,
    pub recorded_at: String,
    #[schema(value_type = loanbook_domain::origination::application::ApplicationEvent)]
    pub event: Document,
}

impl ApplicationEventView {
    pub(crate) fn of(p: &Principal, e: &StoredApplicationEvent) -> ApplicationEventView {
        let mut doc = serde_json::from_str(&e.event).unwrap_or(serde_json::Value::Null);
        if !privileged(p) {
            masking::mask_value(&mut doc);
        }
        ApplicationEventView {
            seq: e.seq,
            recorded_at: e.recorded_at.clone(),
            event: Document::new(doc),
        }
    }
}

/// The applications list's filter and page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApplications {
    #[param(pattern = "^[a-z_]{1,20}$")]
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}
