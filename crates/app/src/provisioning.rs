//! The book's provisioning table: the rates its close of business provisions at (a preset or a
//! table of the lender's own, `regulation-india.md` §1.7) and the provisioning category each
//! product's loans take their rates from. A book that never set one provisions at the
//! `rbi_nbfc` preset.
//!
//! Readers of the ledger see the table. An admin proposes a replacement through the API, which
//! is held for a second admin's approval (maker-checker) and written whole when approved, with
//! its audit record and the approval marked in one transaction; the command line (the
//! operator's bootstrap) writes at once. The close reads it once per day as a
//! [`ProvisioningSetup`].

use std::collections::BTreeMap;
use std::sync::Arc;

use loanbook_domain::delinquency::AssetClass;
use loanbook_domain::provisioning::{ProvisionError, ProvisionRate, ProvisionRates, provision_for};
use loanbook_domain::terms::{FieldError, parse_plain_decimal};
use loanbook_store::{Approval, Decision, ProductVersion, ProvisioningTable, StoreError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::policy::Hold;
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, corrupt};

/// The preset a book without a table of its own provisions at.
pub const DEFAULT_PRESET: &str = "rbi_nbfc";
/// What a table of the lender's own is recorded as.
pub const CUSTOM: &str = "custom";
/// The presets a table may be set from.
pub const PRESETS: [&str; 2] = ["rbi_nbfc", "rbi_bank"];
/// Most rows a table may have (six asset classes for each of 100 categories).
pub const MAX_RATE_ROWS: usize = 600;
/// Most products a table may give a category.
pub const MAX_CATEGORIES: usize = 10_000;
/// Longest category name.
pub const MAX_CATEGORY_LEN: usize = 64;
/// Most decimal places of a rate.
const RATE_SCALE: u32 = 6;

const CATEGORY_RULE: &str = "must be 1 to 64 letters, digits, - or _";

/// A preset's rates.
pub fn preset(name: &str) -> Option<ProvisionRates> {
    match name {
        "rbi_nbfc" => Some(ProvisionRates::rbi_nbfc()),
        "rbi_bank" => Some(ProvisionRates::rbi_bank()),
        _ => None,
    }
}

/// One row of a provisioning table: an asset class's rates (percent, 0 to 100) on the part of
/// the outstanding covered by realisable security and on the rest, for every product or for
/// one provisioning category. The JSON of the domain's `ProvisionRate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRow {
    #[schema(
        value_type = String,
        pattern = "^(standard|substandard|doubtful1|doubtful2|doubtful3|loss)$",
        example = "substandard"
    )]
    pub asset_class: AssetClass,
    /// Percent of the secured (covered) part.
    #[schema(
        pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
        example = "15"
    )]
    pub secured: String,
    /// Percent of the unsecured (uncovered) part.
    #[schema(
        pattern = "^(100(\\.0{1,6})?|[0-9]{1,2}(\\.[0-9]{1,6})?)$",
        example = "25"
    )]
    pub unsecured: String,
    /// The provisioning category the row is for; left out for every product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "housing")]
    pub category: Option<String>,
}

impl From<&ProvisionRate> for RateRow {
    fn from(r: &ProvisionRate) -> RateRow {
        RateRow {
            asset_class: r.asset_class,
            secured: r.secured.to_string(),
            unsecured: r.unsecured.to_string(),
            category: r.category.clone(),
        }
    }
}

/// `PUT /v1/provisioning`: propose replacing the book's provisioning table (held for a second
/// admin's approval) with a preset's rates or with a whole table of the lender's own, and give
/// products their provisioning categories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProvisioning {
    /// `rbi_nbfc` or `rbi_bank`: the preset's rates. Give this or `rates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(rbi_nbfc|rbi_bank)$", example = "rbi_bank")]
    pub preset: Option<String>,
    /// A whole table: for each asset class one row for every product (no category), and
    /// optionally rows of its own for a category. Give this or `preset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 600)]
    pub rates: Option<Vec<RateRow>>,
    /// Product (its code or its id) → provisioning category: the product's loans take the
    /// category's rows where it has them, the rows for every product elsewhere.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, String>,
}

/// A product with a provisioning category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductCategory {
    pub product_id: String,
    /// The product's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub category: String,
}

/// The book's provisioning table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisioningView {
    /// `rbi_nbfc`, `rbi_bank`, or `custom` for a table of the lender's own.
    #[schema(example = "rbi_nbfc")]
    pub preset: String,
    pub rates: Vec<RateRow>,
    /// The products with a provisioning category, by product id.
    pub categories: Vec<ProductCategory>,
    /// How many times the table was set: 0 while the book provisions at the default.
    pub version: i64,
    /// Who set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When it was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub changed_at: Option<String>,
    /// A dry run: the table as it would be; nothing was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What the close of business provisions with: the rates, and each product's category.
#[derive(Debug, Clone)]
pub struct ProvisioningSetup {
    pub rates: Arc<ProvisionRates>,
    /// Product id → provisioning category.
    pub categories: Arc<BTreeMap<String, String>>,
}

impl Default for ProvisioningSetup {
    /// The default preset, no categories.
    fn default() -> ProvisioningSetup {
        ProvisioningSetup {
            rates: Arc::new(ProvisionRates::rbi_nbfc()),
            categories: Arc::new(BTreeMap::new()),
        }
    }
}

impl ProvisioningSetup {
    /// What a book's stored table (None: it has none, the default preset) provisions with.
    pub fn of_table(table: Option<&ProvisioningTable>) -> Result<ProvisioningSetup, AppError> {
        let table = match table {
            Some(t) => Table::read(t)?,
            None => Table::default_preset(),
        };
        Ok(ProvisioningSetup {
            rates: Arc::new(table.rates),
            categories: Arc::new(table.categories),
        })
    }

    /// The provisioning category of a product's loans.
    pub fn category(&self, product: Option<&str>) -> Option<&str> {
        product
            .and_then(|p| self.categories.get(p))
            .map(String::as_str)
    }

    /// The provision on a loan of `product` (its id) in `asset_class` with `outstanding` owed,
    /// `secured_value` of it covered by realisable security: the rates of the product's
    /// category where the table has them, else those for every product.
    pub fn provision(
        &self,
        product: Option<&str>,
        asset_class: AssetClass,
        outstanding: i64,
        secured_value: i64,
    ) -> i64 {
        provision_for(
            &self.rates,
            self.category(product),
            asset_class,
            outstanding,
            secured_value,
        )
    }
}

/// The book's table, read and checked.
struct Table {
    preset: String,
    rates: ProvisionRates,
    categories: BTreeMap<String, String>,
    version: i64,
    changed_by: Option<String>,
    changed_at: Option<String>,
}

impl Table {
    fn default_preset() -> Table {
        Table {
            preset: DEFAULT_PRESET.to_owned(),
            rates: ProvisionRates::rbi_nbfc(),
            categories: BTreeMap::new(),
            version: 0,
            changed_by: None,
            changed_at: None,
        }
    }

    /// A stored table, read again as strictly as it was written.
    fn read(t: &ProvisioningTable) -> Result<Table, AppError> {
        let bad = |what: &str, e: String| {
            corrupt(format!(
                "provisioning table of book `{}`, {what}: {e}",
                t.book_id
            ))
        };
        let rates: ProvisionRates =
            serde_json::from_str(&t.rates).map_err(|e| bad("rates", e.to_string()))?;
        rates.validate().map_err(|e| bad("rates", e.to_string()))?;
        let categories =
            serde_json::from_str(&t.categories).map_err(|e| bad("categories", e.to_string()))?;
        Ok(Table {
            preset: t.preset.clone(),
            rates,
            categories,
            version: t.version,
            changed_by: Some(t.changed_by.clone()),
            changed_at: Some(t.changed_at.clone()),
        })
    }

    fn view(&self, products: &[ProductVersion]) -> ProvisioningView {
        let code = |id: &str| {
            products
                .iter()
                .find(|p| p.product_id == id)
                .map(|p| p.code.clone())
        };
        ProvisioningView {
            preset: self.preset.clone(),
            rates: self.rates.rows().iter().map(RateRow::from).collect(),
            categories: self
                .categories
                .iter()
                .map(|(id, category)| ProductCategory {
                    product_id: id.clone(),
                    code: code(id),
                    category: category.clone(),
                })
                .collect(),
            version: self.version,
            changed_by: self.changed_by.clone(),
            changed_at: self.changed_at.clone(),
            dry_run: false,
        }
    }
}

impl App {
    /// The book's provisioning table (the default preset until one is set).
    pub async fn provisioning(&self, p: &Principal) -> Result<ProvisioningView, AppError> {
        p.require(Action::ReadLedger)?;
        let table = self.provisioning_table().await?;
        let products = self.store.products().await?;
        Ok(table.view(&products))
    }

    /// What the close of business provisions with: the book's rates and each product's
    /// category, read once for a day's close.
    pub async fn provisioning_setup(&self) -> Result<ProvisioningSetup, AppError> {
        let stored = self.store.provisioning_table(&self.book).await?;
        ProvisioningSetup::of_table(stored.as_ref())
    }

    async fn provisioning_table(&self) -> Result<Table, AppError> {
        match self.store.provisioning_table(&self.book).await? {
            Some(t) => Table::read(&t),
            None => Ok(Table::default_preset()),
        }
    }

    /// Replace the book's provisioning table. Through the API (`actor` an admin) the
    /// replacement is checked in full and then held for a second user's approval; `actor` is
    /// `None` only for the command line, the operator's bootstrap, which writes at once. Bad
    /// input is refused naming the field and changes nothing; a dry run holds nothing.
    pub async fn set_provisioning(
        &self,
        actor: Option<&Principal>,
        cmd: &SetProvisioning,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ProvisioningView>, AppError> {
        let Some(p) = actor else {
            let (table, products) = self.proposed_provisioning(cmd, "cli").await?;
            if meta.dry_run {
                return Ok(dry_run(&table, &products));
            }
            return self
                .write_provisioning(&table, &products, None, meta, None)
                .await;
        };
        p.require(Action::CloseBusiness)?;
        let (table, products) = self.proposed_provisioning(cmd, &p.user.name).await?;
        if meta.dry_run {
            return Ok(dry_run(&table, &products));
        }
        let held = HeldProvisioning {
            version: table.version,
            change: cmd.clone(),
        };
        let payload = serde_json::to_string(&held).map_err(|e| corrupt(e.to_string()))?;
        let hold = Hold {
            action: Action::CloseBusiness,
            reason: "every change to the provisioning table needs a second user's approval".into(),
        };
        let target = format!("provisioning/{}", self.book);
        self.keyed(p, meta, || self.hold(p, hold, target, payload, meta))
            .await
    }

    /// Carry out an approved replacement: checked again in full on the book as it is now, and
    /// written as the version it was proposed as, with the approval marked, in one transaction.
    pub(crate) async fn approve_provisioning(
        &self,
        p: &Principal,
        a: &Approval,
        d: &Decision,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<ProvisioningView>, AppError> {
        p.require(Action::CloseBusiness)?;
        let held: HeldProvisioning = serde_json::from_str(&a.payload)
            .map_err(|e| corrupt(format!("approval `{}` payload: {e}", a.id)))?;
        let (table, products) = self.proposed_provisioning(&held.change, &a.maker).await?;
        if table.version != held.version {
            return Err(AppError::Conflict(format!(
                "the provisioning table changed since approval `{}` was requested: it would \
                 make version {}, and version {} is in effect; reject it and propose the \
                 change again",
                a.id,
                held.version,
                table.version - 1
            )));
        }
        self.write_provisioning(&table, &products, Some(p), meta, Some(d))
            .await
    }

    /// The table `cmd` sets, checked, as the version after the book's, set by `by` now.
    async fn proposed_provisioning(
        &self,
        cmd: &SetProvisioning,
        by: &str,
    ) -> Result<(Table, Vec<ProductVersion>), AppError> {
        let (preset, rates) = checked_rates(cmd)?;
        let products = self.store.products().await?;
        let categories = checked_categories(&cmd.categories, &products, &rates)?;
        let current = self.store.provisioning_table(&self.book).await?;
        let table = Table {
            preset,
            rates,
            categories,
            version: current.map_or(1, |c| c.version + 1),
            changed_by: Some(by.to_owned()),
            changed_at: Some(self.now()),
        };
        Ok((table, products))
    }

    /// Write a checked table with its audit record, as `checker` carrying out `approval` (201)
    /// or from the command line (200).
    async fn write_provisioning(
        &self,
        table: &Table,
        products: &[ProductVersion],
        checker: Option<&Principal>,
        meta: &RequestMeta,
        approval: Option<&Decision>,
    ) -> Result<CommandOutcome<ProvisioningView>, AppError> {
        let json = |what: &str, r: serde_json::Result<String>| {
            r.map_err(|e| corrupt(format!("provisioning {what}: {e}")))
        };
        let stored = ProvisioningTable {
            book_id: self.book.clone(),
            version: table.version,
            preset: table.preset.clone(),
            rates: json("rates", serde_json::to_string(&table.rates))?,
            categories: json("categories", serde_json::to_string(&table.categories))?,
            changed_by: table.changed_by.clone().unwrap_or_default(),
            changed_at: table.changed_at.clone().unwrap_or_else(|| self.now()),
        };
        let actor = checker.map_or(stored.changed_by.as_str(), |p| p.user.name.as_str());
        let audit = self.audit(
            actor,
            "set_provisioning",
            &format!("provisioning/{}/{}", self.book, table.version),
            &meta.digest,
            vec![],
        );
        let view = table.view(products);
        let outcome = match approval {
            Some(_) => CommandOutcome::created(view),
            None => CommandOutcome::done(view),
        };
        let key = match checker {
            Some(p) => self.idempotency(p, meta, &outcome)?,
            None => None,
        };
        match self
            .store
            .replace_provisioning_table(&stored, &audit, approval, key.as_ref())
            .await
        {
            Ok(()) => Ok(outcome),
            Err(StoreError::VersionConflict { .. }) => Err(AppError::Conflict(
                "the provisioning table changed meanwhile; read it again".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// What an approval request for a provisioning table carries: the replacement as the maker
/// sent it and the version it makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HeldProvisioning {
    version: i64,
    change: SetProvisioning,
}

/// A dry run's answer: the table as it would be.
fn dry_run(table: &Table, products: &[ProductVersion]) -> CommandOutcome<ProvisioningView> {
    CommandOutcome::done(ProvisioningView {
        dry_run: true,
        ..table.view(products)
    })
}

/// The rates a replacement sets and the preset they came from.
fn checked_rates(cmd: &SetProvisioning) -> Result<(String, ProvisionRates), AppError> {
    match (&cmd.preset, &cmd.rates) {
        (Some(_), Some(_)) => Err(AppError::invalid(
            "preset",
            "give either a preset or rates, not both",
        )),
        (None, None) => Err(AppError::invalid(
            "preset",
            format!(
                "is required ({}) unless rates are given",
                PRESETS.join(" or ")
            ),
        )),
        (Some(name), None) => preset(name).map(|r| (name.clone(), r)).ok_or_else(|| {
            AppError::invalid(
                "preset",
                format!("must be {}, not `{name}`", PRESETS.join(" or ")),
            )
        }),
        (None, Some(rows)) => Ok((CUSTOM.to_owned(), rates_of(rows)?)),
    }
}

/// A table from its rows: each rate a plain decimal of at most 6 places, each category a
/// name; then the table's own rules ([`ProvisionRates::new`]), the field named.
fn rates_of(rows: &[RateRow]) -> Result<ProvisionRates, AppError> {
    if rows.len() > MAX_RATE_ROWS {
        return Err(AppError::invalid(
            "rates",
            format!("must have at most {MAX_RATE_ROWS} rows"),
        ));
    }
    let mut errors = Vec::new();
    let mut table = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let secured = rate(&mut errors, format!("rates[{i}].secured"), &r.secured);
        let unsecured = rate(&mut errors, format!("rates[{i}].unsecured"), &r.unsecured);
        if r.category.as_deref().is_some_and(|c| !is_category(c)) {
            errors.push(FieldError::new(
                format!("rates[{i}].category"),
                CATEGORY_RULE,
            ));
        }
        if let (Some(secured), Some(unsecured)) = (secured, unsecured) {
            table.push(ProvisionRate {
                asset_class: r.asset_class,
                secured,
                unsecured,
                category: r.category.clone(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    ProvisionRates::new(table).map_err(|e| match e {
        ProvisionError::OutOfRange { row, part, .. } => AppError::invalid(
            format!("rates[{row}].{part}"),
            "must be between 0 and 100 (percent)",
        ),
        ProvisionError::Duplicate {
            row,
            class,
            category,
        } => AppError::invalid(
            format!("rates[{row}]"),
            format!("repeats the row of {class} for {category}"),
        ),
        ProvisionError::Missing(class) => AppError::invalid(
            "rates",
            format!("has no {class} row for every product (a row without a category)"),
        ),
    })
}

/// A rate as written: a plain decimal of at most 6 places (its range is the table's rule).
fn rate(errors: &mut Vec<FieldError>, field: String, text: &str) -> Option<Decimal> {
    match parse_plain_decimal(text) {
        Some(d) if d.scale() > RATE_SCALE => {
            errors.push(FieldError::new(field, "must have at most 6 decimal places"));
            None
        }
        Some(d) => Some(d),
        None => {
            errors.push(FieldError::new(
                field,
                format!("`{text}` is not a decimal number"),
            ));
            None
        }
    }
}

fn is_category(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_CATEGORY_LEN
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

/// Each product named (by code or id) with its category, by product id: the product must be
/// in the catalogue, named once, and the category one the rates have rows for.
fn checked_categories(
    given: &BTreeMap<String, String>,
    products: &[ProductVersion],
    rates: &ProvisionRates,
) -> Result<BTreeMap<String, String>, AppError> {
    if given.len() > MAX_CATEGORIES {
        return Err(AppError::invalid(
            "categories",
            format!("must name at most {MAX_CATEGORIES} products"),
        ));
    }
    let mut errors = Vec::new();
    let mut by_id = BTreeMap::new();
    for (name, category) in given {
        let field = format!("categories.{name}");
        let Some(product) = products
            .iter()
            .find(|p| p.code == *name || p.product_id == *name)
        else {
            errors.push(FieldError::new(
                field,
                "is not a product of this book (give its code or its id)",
            ));
            continue;
        };
        if !is_category(category) {
            errors.push(FieldError::new(field, CATEGORY_RULE));
        } else if !rates
            .rows()
            .iter()
            .any(|r| r.category.as_deref() == Some(category.as_str()))
        {
            errors.push(FieldError::new(
                field,
                format!("names the category `{category}`, which no row of the rates is for"),
            ));
        } else if by_id
            .insert(product.product_id.clone(), category.clone())
            .is_some()
        {
            errors.push(FieldError::new(
                field,
                format!("names product `{}` again", product.code),
            ));
        }
    }
    if errors.is_empty() {
        Ok(by_id)
    } else {
        Err(AppError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests;
