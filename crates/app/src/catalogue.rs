//! Products (versioned configuration: a terms template every loan of the product starts from)
//! and parties (borrowers, guarantors, co-lending partners).

use loanbook_store::{Approval, Decision, Party, ProductVersion, StoreError};
use serde_json::{Map, Value, json};

use crate::policy::Hold;
use crate::{Action, App, AppError, Principal, Reply, RequestMeta, Role, corrupt, now};

/// Fields a product's terms template may not set: they belong to each loan.
const PER_LOAN: [&str; 2] = ["principal", "disbursement_date"];

fn product_json(v: &ProductVersion) -> Value {
    json!({
        "code": v.code,
        "name": v.name,
        "version": v.version,
        "config": serde_json::from_str::<Value>(&v.config).unwrap_or(Value::Null),
        "created_at": v.created_at,
    })
}

impl App {
    /// Check a product configuration: an object whose optional `terms` template, completed with
    /// a sample loan's own fields, gives valid terms.
    fn check_config(&self, config: &Value) -> Result<(), AppError> {
        let obj = config
            .as_object()
            .ok_or_else(|| AppError::invalid("config", "must be a JSON object"))?;
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

    /// Create a product (version 1) or add its next version: `{"name": …, "config": {…}}`.
    /// Held for approval when the policy says so.
    pub async fn change_product(
        &self,
        p: &Principal,
        code: &str,
        body: &Value,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
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
        let obj = body
            .as_object()
            .ok_or_else(|| AppError::invalid("body", "must be a JSON object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "code" | "name" | "config"))
        {
            return Err(AppError::invalid(k.clone(), "is not a field of a product"));
        }
        let current = self.store.product(code, None).await?;
        let name = match (obj.get("name"), &current) {
            (Some(Value::String(n)), _) if !n.trim().is_empty() && n.len() <= 200 => n.clone(),
            (None, Some(c)) => c.name.clone(),
            _ => {
                return Err(AppError::invalid(
                    "name",
                    "must be a string of 1 to 200 characters",
                ));
            }
        };
        let config = obj
            .get("config")
            .ok_or_else(|| AppError::invalid("config", "is required"))?;
        self.check_config(config)?;
        let version = ProductVersion {
            product_id: current.as_ref().map_or_else(
                || uuid::Uuid::now_v7().to_string(),
                |c| c.product_id.clone(),
            ),
            code: code.to_owned(),
            name,
            version: current.as_ref().map_or(1, |c| c.version + 1),
            config: config.to_string(),
            created_at: now(),
        };
        if meta.dry_run {
            return Ok(Reply {
                status: 200,
                body: json!({"product": product_json(&version), "dry_run": true}),
            });
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
        self.keyed(p, meta, || self.write_product(p, &version, meta, None))
            .await
    }

    pub(crate) async fn write_product(
        &self,
        p: &Principal,
        v: &ProductVersion,
        meta: &RequestMeta,
        decision: Option<&Decision>,
    ) -> Result<Reply, AppError> {
        let audit = self.audit(
            &p.user.name,
            "manage_products",
            &format!("product/{}/{}", v.code, v.version),
            &meta.digest,
            vec![],
        );
        let reply = Reply {
            status: 201,
            body: product_json(v),
        };
        let key = self.idempotency(p, meta, &reply);
        match self
            .store
            .add_product_version(&self.book, v, &audit, decision, key.as_ref())
            .await
        {
            Ok(()) => Ok(reply),
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
    ) -> Result<Reply, AppError> {
        let v: ProductVersion = serde_json::from_str(&a.payload)
            .map_err(|e| corrupt(format!("approval `{}` payload: {e}", a.id)))?;
        self.write_product(p, &v, meta, Some(d)).await
    }

    pub async fn product(
        &self,
        p: &Principal,
        code: &str,
        version: Option<i64>,
    ) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        let v = self
            .store
            .product(code, version)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("product `{code}`")))?;
        Ok(product_json(&v))
    }

    pub async fn products(&self, p: &Principal) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        let list = self.store.products().await?;
        Ok(json!({"items": list.iter().map(product_json).collect::<Vec<_>>()}))
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

    /// Record a party: `{"kind": "borrower" | "guarantor" | "partner", "name": …, "details": {…}}`.
    pub async fn create_party(
        &self,
        p: &Principal,
        body: &Value,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
        p.require(Action::BookLoan)?;
        self.keyed(p, meta, || self.create_party_once(p, body, meta))
            .await
    }

    async fn create_party_once(
        &self,
        p: &Principal,
        body: &Value,
        meta: &RequestMeta,
    ) -> Result<Reply, AppError> {
        let obj = body
            .as_object()
            .ok_or_else(|| AppError::invalid("body", "must be a JSON object"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "kind" | "name" | "details"))
        {
            return Err(AppError::invalid(k.clone(), "is not a field of a party"));
        }
        let kind = match obj.get("kind").and_then(Value::as_str) {
            Some(k @ ("borrower" | "guarantor" | "partner")) => k.to_owned(),
            _ => {
                return Err(AppError::invalid(
                    "kind",
                    "must be borrower, guarantor or partner",
                ));
            }
        };
        let name = match obj.get("name").and_then(Value::as_str) {
            Some(n) if !n.trim().is_empty() && n.len() <= 200 => n.to_owned(),
            _ => {
                return Err(AppError::invalid(
                    "name",
                    "must be a string of 1 to 200 characters",
                ));
            }
        };
        let details = match obj.get("details") {
            None => Value::Object(Map::new()),
            Some(d @ Value::Object(_)) => d.clone(),
            Some(_) => return Err(AppError::invalid("details", "must be a JSON object")),
        };
        let party = Party {
            id: uuid::Uuid::now_v7().to_string(),
            book_id: self.book.clone(),
            kind,
            name,
            details: details.to_string(),
            created_at: now(),
        };
        let audit = self.audit(
            &p.user.name,
            "create_party",
            &format!("party/{}", party.id),
            &meta.digest,
            vec![],
        );
        let reply = Reply {
            status: 201,
            body: self.party_json(p, &party),
        };
        self.store
            .create_party(&party, &audit, self.idempotency(p, meta, &reply).as_ref())
            .await?;
        Ok(reply)
    }

    /// A party as the caller may see it: identifiers masked for roles that do not need them.
    fn party_json(&self, p: &Principal, party: &Party) -> Value {
        let mut details: Value = serde_json::from_str(&party.details).unwrap_or(Value::Null);
        let privileged = matches!(p.role, Role::Admin | Role::Credit | Role::Operations);
        if !privileged {
            crate::masking::mask_value(&mut details);
        }
        json!({"id": party.id, "kind": party.kind, "name": party.name, "details": details, "created_at": party.created_at})
    }

    pub async fn party(&self, p: &Principal, id: &str) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        if p.role == Role::Partner {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "read parties",
            });
        }
        let party = self
            .store
            .party(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("party `{id}`")))?;
        Ok(self.party_json(p, &party))
    }

    pub async fn parties(
        &self,
        p: &Principal,
        kind: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Value, AppError> {
        p.require(Action::Read)?;
        if p.role == Role::Partner {
            return Err(AppError::Forbidden {
                role: p.role.name(),
                action: "read parties",
            });
        }
        let list = self.store.parties(kind, after, limit).await?;
        let next = if list.len() as i64 == limit {
            list.last().map(|x| x.id.clone())
        } else {
            None
        };
        Ok(
            json!({"items": list.iter().map(|x| self.party_json(p, x)).collect::<Vec<_>>(), "next_cursor": next}),
        )
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
