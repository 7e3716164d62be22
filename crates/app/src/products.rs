//! Products: versioned configuration, a terms template every loan of the product starts from.

use loanbook_store::{Approval, Decision, ProductVersion, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::policy::Hold;
use crate::views::{CommandOutcome, Document, ProductChange, ProductList, ProductView};
use crate::{Action, App, AppError, Principal, RequestMeta, corrupt};

/// Create a product (its version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", example = "PL-12")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// `{"terms": {…}}`: a terms template without `principal` and `disbursement_date`.
    #[schema(value_type = Object)]
    pub config: Document,
}

/// Add a product's next version (its name stays unless given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProductVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(value_type = Object)]
    pub config: Document,
}

/// Which version of a product to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// A version (default: the latest).
    #[param(minimum = 1)]
    pub version: Option<i64>,
}

/// Fields a product's terms template may not set: they belong to each loan.
const PER_LOAN: [&str; 3] = ["principal", "disbursement_date", "security_value"];

impl App {
    /// Check a product configuration: an object whose optional `terms` template, completed with
    /// a sample loan's own fields, gives valid terms.
    fn check_config(&self, config: &Value) -> Result<(), AppError> {
        let obj = config
            .as_object()
            .ok_or_else(|| AppError::invalid("config", "must be a JSON object"))?;
        // The policy beside the template: bounds, rules, scorecard, co-lending, KFS, checklist.
        loanbook_domain::origination::product::ProductPolicy::from_config(config).map_err(|e| {
            AppError::Invalid(
                e.into_iter()
                    .map(|f| {
                        let field = format!("config.{}", f.field);
                        f.at(field)
                    })
                    .collect(),
            )
        })?;
        let Some(template) = obj.get("terms") else {
            return Ok(());
        };
        let t = template
            .as_object()
            .ok_or_else(|| AppError::invalid("config.terms", "must be a JSON object"))?;
        for k in PER_LOAN {
            if t.contains_key(k) {
                return Err(AppError::invalid(
                    format!("config.terms.{k}"),
                    "is set per loan, not by the product",
                ));
            }
        }
        let mut sample = json!({
            "currency": "INR", "principal": "100000.00", "annual_rate": "12", "method": "emi",
            "installments": 12, "frequency": "monthly", "disbursement_date": "2024-01-01",
        });
        merge(&mut sample, template);
        loanbook_domain::terms::Terms::from_json(&sample.to_string()).map_err(|e| {
            AppError::Invalid(
                e.0.into_iter()
                    .map(|f| {
                        loanbook_domain::terms::FieldError::new(
                            format!("config.terms.{}", f.field),
                            f.rule,
                        )
                    })
                    .collect(),
            )
        })?;
        Ok(())
    }

    /// Create a product: refused when the code exists. Held for approval when the policy says so.
    pub async fn create_product(
        &self,
        p: &Principal,
        cmd: &CreateProduct,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ProductChange>, AppError> {
        p.require(Action::ManageProducts)?;
        if self.store.product(&cmd.code, None).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "product `{}` exists: add a version with POST /v1/products/{}/versions",
                cmd.code, cmd.code
            )));
        }
        self.change_product(p, &cmd.code, Some(&cmd.name), &cmd.config, meta)
            .await
    }

    /// Add a product's next version: refused when there is no such product.
    pub async fn add_product_version(
        &self,
        p: &Principal,
        code: &str,
        cmd: &AddProductVersion,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ProductChange>, AppError> {
        p.require(Action::ManageProducts)?;
        if self.store.product(code, None).await?.is_none() {
            return Err(AppError::NotFound(format!("product `{code}`")));
        }
        self.change_product(p, code, cmd.name.as_deref(), &cmd.config, meta)
            .await
    }

    async fn change_product(
        &self,
        p: &Principal,
        code: &str,
        name: Option<&str>,
        config: &Document,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ProductChange>, AppError> {
        p.require(Action::ManageProducts)?;
        if code.is_empty()
            || code.len() > 32
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AppError::invalid(
                "code",
                "must be 1 to 32 letters, digits, - or _",
            ));
        }
        let current = self.store.product(code, None).await?;
        let name = match (name, &current) {
            (Some(n), _) if !n.trim().is_empty() && n.len() <= 200 => n.to_owned(),
            (None, Some(c)) => c.name.clone(),
            _ => {
                return Err(AppError::invalid(
                    "name",
                    "must be a string of 1 to 200 characters",
                ));
            }
        };
        self.check_config(config.value())?;
        let version = ProductVersion {
            product_id: current.as_ref().map_or_else(
                || uuid::Uuid::now_v7().to_string(),
                |c| c.product_id.clone(),
            ),
            code: code.to_owned(),
            name,
            version: current.as_ref().map_or(1, |c| c.version + 1),
            config: config.to_json(),
            created_at: self.now(),
        };
        if meta.dry_run {
            return Ok(CommandOutcome::done(ProductChange::DryRun {
                product: ProductView::from(&version),
                dry_run: true,
            }));
        }
        if self.policy.products {
            let payload = serde_json::to_string(&version).map_err(|e| corrupt(e.to_string()))?;
            let hold = Hold {
                action: Action::ManageProducts,
                reason: "every product change needs a second user's approval".into(),
            };
            return self
                .keyed(p, meta, || {
                    self.hold(p, hold, format!("product/{code}"), payload, meta)
                })
                .await;
        }
        self.keyed(p, meta, || async {
            let o = self.write_product(p, &version, meta, None).await?;
            Ok(CommandOutcome {
                kind: o.kind,
                answer: match o.answer {
                    crate::Answer::Done(v) => crate::Answer::Done(ProductChange::Written(v)),
                    crate::Answer::Held(h) => crate::Answer::Held(h),
                },
                replayed: o.replayed,
            })
        })
        .await
    }

    pub(crate) async fn write_product(
        &self,
        p: &Principal,
        v: &ProductVersion,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<CommandOutcome<ProductView>, AppError> {
        let audit = self.audit(
            &p.user.name,
            "manage_products",
            &format!("product/{}/{}", v.code, v.version),
            &meta.digest,
            vec![],
        );
        let outcome = CommandOutcome::created(ProductView::from(v));
        let key = self.idempotency(p, meta, &outcome)?;
        match self
            .store
            .add_product_version(&self.book, v, &audit, decision, key.as_ref())
            .await
        {
            Ok(()) => Ok(outcome),
            Err(StoreError::VersionConflict { .. }) => Err(AppError::Conflict(format!(
                "product `{}` changed meanwhile: version {} exists",
                v.code, v.version
            ))),
            Err(StoreError::Duplicate { what }) => {
                Err(AppError::Conflict(format!("{what} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Carry out an approved product change.
    pub(crate) async fn approve_product(
        &self,
        p: &Principal,
        a: &Approval,
        d: &Decision,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ProductView>, AppError> {
        let v: ProductVersion = serde_json::from_str(&a.payload)
            .map_err(|e| corrupt(format!("approval `{}` payload: {e}", a.id)))?;
        self.write_product(p, &v, meta, Some(d)).await
    }

    pub async fn product(
        &self,
        p: &Principal,
        code: &str,
        q: &ProductQuery,
    ) -> Result<ProductView, AppError> {
        p.require(Action::Read)?;
        let version = q.version;
        let v = self
            .store
            .product(code, version)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("product `{code}`")))?;
        Ok(ProductView::from(&v))
    }

    pub async fn products(&self, p: &Principal) -> Result<ProductList, AppError> {
        p.require(Action::Read)?;
        let list = self.store.products().await?;
        Ok(ProductList {
            items: list.iter().map(ProductView::from).collect(),
        })
    }

    /// The terms of a booking under a product: the product's template, overridden by the
    /// request's own terms. Returns the merged terms, the product id and its version.
    pub(crate) async fn product_terms(
        &self,
        code: &str,
        version: Option<i64>,
        terms: &Value,
    ) -> Result<(Value, String, i64), AppError> {
        let v = self
            .store
            .product(code, version)
            .await?
            .ok_or_else(|| AppError::invalid("product", format!("no product `{code}`")))?;
        let config: Value = serde_json::from_str(&v.config)
            .map_err(|e| corrupt(format!("product `{code}`: {e}")))?;
        let mut merged = config
            .get("terms")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        merge(&mut merged, terms);
        Ok((merged, v.product_id, v.version))
    }
}

/// Overlay `top` on `base`, object keys recursively.
fn merge(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, t) => *b = t.clone(),
    }
}
