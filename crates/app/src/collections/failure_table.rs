//! The book's debit failure table through the API: the table in effect (the shipped seed,
//! version 1, until the book has one of its own), a classify lookup, and changes under
//! maker-checker.
//!
//! A change is checked in full first: each row by the domain's [`FailureRule::check`], the
//! table by [`FailureTable::new`]. Bad input names the field and the rule and changes nothing;
//! a dry run answers with the table as it would be. A valid change is then always held for a
//! second user's approval. Approved, it is checked again on the table as it is then and written
//! as the table's next version, with the approval marked in the same transaction; rejected, it
//! writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use loanbook_domain::collections::Rail;
use loanbook_domain::collections::failure::{
    Action as NextAction, FailureClass, FailureRule, FailureTable, Handling, MAX_RULES, Reason,
};
use loanbook_domain::terms::FieldError;
use loanbook_store::{Approval, Decision, SEED_VERSION, StoreError, StoredFailureTable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::policy::Hold;
use crate::views::CommandOutcome;
use crate::{Action, App, AppError, Principal, RequestMeta, Role, corrupt};

/// Longest answer code a classify lookup takes (a wrapped UPI answer carries its text).
pub const MAX_ANSWER_CODE: usize = 200;
/// Longest answer text a classify lookup takes.
pub const MAX_ANSWER_TEXT: usize = 500;

/// One row of the failure table: a rail's answer code, its class, the unified reason, the next
/// action, and whether the product's bounce charge applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureRow {
    pub rail: Rail,
    /// The code exactly as the rail sends it (`04`, `Z9`, `R01`), or for answers that come as
    /// text only, the word the text carries (`REVOKED`).
    #[schema(pattern = "^[A-Za-z0-9_]{1,16}$", example = "04")]
    pub code: String,
    pub class: FailureClass,
    pub handling: Handling,
    pub reason: Reason,
    pub action: NextAction,
    /// Whether the product's bounce charge applies (only failures of the borrower's making).
    pub charge: bool,
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = "^\\S([\\s\\S]*\\S)?$",
        example = "Balance insufficient"
    )]
    pub description: String,
}

impl From<&FailureRule> for FailureRow {
    fn from(r: &FailureRule) -> FailureRow {
        FailureRow {
            rail: r.rail,
            code: r.code.clone(),
            class: r.class,
            handling: r.handling,
            reason: r.reason,
            action: r.action,
            charge: r.charge,
            description: r.description.clone(),
        }
    }
}

impl FailureRow {
    fn rule(&self) -> FailureRule {
        FailureRule {
            rail: self.rail,
            code: self.code.clone(),
            class: self.class,
            handling: self.handling,
            reason: self.reason,
            action: self.action,
            charge: self.charge,
            description: self.description.clone(),
        }
    }

    fn key(&self) -> (Rail, String) {
        (self.rail, self.code.clone())
    }
}

/// A row of the table named by its rail and code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureKey {
    pub rail: Rail,
    #[schema(pattern = "^[A-Za-z0-9_]{1,16}$", example = "04")]
    pub code: String,
}

/// `POST /v1/collections/failure-codes/changes`: a change to the book's failure table, held
/// for a second user's approval. Give the whole table (`rows`), or rows to `add`, `replace`
/// and `remove` by rail and code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeFailureTable {
    /// The whole table: these rows take the place of every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 2000)]
    pub rows: Option<Vec<FailureRow>>,
    /// Rows for answers the table has no row for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 2000)]
    pub add: Vec<FailureRow>,
    /// Rows that take the place of the table's rows of the same rail and code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 2000)]
    pub replace: Vec<FailureRow>,
    /// The rows taken out, by rail and code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 2000)]
    pub remove: Vec<FailureKey>,
}

/// The book's failure table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailureTableView {
    /// The table's version: 1 is the shipped seed, which a book classifies by until it has a
    /// table of its own.
    #[schema(minimum = 1)]
    pub version: i64,
    /// Who proposed this version (the checker who approved it is on its approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub changed_at: Option<String>,
    pub rows: Vec<FailureRow>,
    /// A dry run: the table as the change would leave it; nothing was written or held.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// How the table is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// The rows as JSON.
    #[default]
    Json,
    /// The CSV a lender edits (`rail,code,class,handling,reason,action,charge,description`).
    Csv,
}

/// `GET /v1/collections/failure-codes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FailureTableQuery {
    /// `json` (the default) or `csv`.
    pub format: Option<TableFormat>,
}

/// `GET /v1/collections/failure-codes/classify`: a rail's answer to classify.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClassifyQuery {
    pub rail: Rail,
    /// The code as received: a wrapped UPI answer (`U30|…|Z9|…`) is classified by its inner
    /// code.
    #[param(max_length = 200, example = "Z9")]
    pub code: String,
    /// The answer's text, if any: an answer that comes as text only is matched by its word.
    #[param(max_length = 500)]
    pub text: Option<String>,
}

/// A rail's answer, classified by the book's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClassifyView {
    pub rail: Rail,
    /// The code as received.
    pub raw_code: String,
    /// The code the class was found by (the inner code of a wrapped UPI answer).
    pub code: String,
    /// False when the table has no row for the answer: it is then treated as a technical
    /// failure to review, not retried and not charged.
    pub known: bool,
    pub class: FailureClass,
    pub handling: Handling,
    pub reason: Reason,
    /// What to do next.
    pub action: NextAction,
    /// Whether the debit may be presented again without anything changing first.
    pub retryable: bool,
    /// Whether the product's bounce charge applies.
    pub charge: bool,
    /// The row's description, when the table has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the borrower is told.
    pub borrower_message: String,
    /// The version of the table that classified it.
    #[schema(minimum = 1)]
    pub table_version: i64,
}

/// What an approval request for a failure-table change carries: the change as the maker sent
/// it and the version it makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HeldChange {
    version: i64,
    change: ChangeFailureTable,
}

/// The book's table in effect, read and checked.
struct Current {
    version: i64,
    table: FailureTable,
    changed_by: Option<String>,
    changed_at: Option<String>,
}

impl Current {
    fn view(&self) -> FailureTableView {
        view(
            self.version,
            &self.table,
            self.changed_by.clone(),
            self.changed_at.clone(),
        )
    }
}

fn view(
    version: i64,
    table: &FailureTable,
    changed_by: Option<String>,
    changed_at: Option<String>,
) -> FailureTableView {
    FailureTableView {
        version,
        changed_by,
        changed_at,
        rows: table.rules().map(FailureRow::from).collect(),
        dry_run: false,
    }
}

/// Anyone who reads the book may read the table, but a co-lending partner, which sees only
/// what concerns its loans.
fn may_read(p: &Principal) -> Result<(), AppError> {
    p.require(Action::Read)?;
    if p.role == Role::Partner {
        return Err(AppError::Forbidden {
            role: p.role.name(),
            action: "read the failure table",
        });
    }
    Ok(())
}

impl App {
    /// The book's failure table in effect (the seed until the book has one of its own).
    pub async fn failure_table(&self, p: &Principal) -> Result<FailureTableView, AppError> {
        may_read(p)?;
        Ok(self.current_failure_table().await?.view())
    }

    /// The book's failure table in effect as the CSV a lender edits.
    pub async fn failure_table_csv(&self, p: &Principal) -> Result<String, AppError> {
        may_read(p)?;
        Ok(self.current_failure_table().await?.table.to_csv())
    }

    /// The table the book's failed debits are classified by, with its version.
    pub async fn failure_table_in_effect(&self) -> Result<(i64, FailureTable), AppError> {
        let current = self.current_failure_table().await?;
        Ok((current.version, current.table))
    }

    /// Classify a rail's answer by the book's table: its class, reason, next action and what
    /// the borrower is told.
    pub async fn classify_failure(
        &self,
        p: &Principal,
        q: &ClassifyQuery,
    ) -> Result<ClassifyView, AppError> {
        may_read(p)?;
        let mut errors = Vec::new();
        if q.code.chars().count() > MAX_ANSWER_CODE {
            errors.push(FieldError::new(
                "code",
                format!("at most {MAX_ANSWER_CODE} characters"),
            ));
        }
        if q.text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_ANSWER_TEXT)
        {
            errors.push(FieldError::new(
                "text",
                format!("at most {MAX_ANSWER_TEXT} characters"),
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let current = self.current_failure_table().await?;
        let c = current
            .table
            .classify(q.rail, &q.code, q.text.as_deref().unwrap_or(""));
        let description = current
            .table
            .get(q.rail, &c.code)
            .filter(|_| c.known)
            .map(|r| r.description.clone());
        Ok(ClassifyView {
            rail: c.rail,
            raw_code: c.raw_code,
            code: c.code,
            known: c.known,
            class: c.class,
            handling: c.handling,
            reason: c.reason,
            action: c.action,
            retryable: matches!(c.action, NextAction::Retry | NextAction::RetryQuietly),
            charge: c.charge,
            description,
            borrower_message: c.reason.borrower_message().to_owned(),
            table_version: current.version,
        })
    }

    /// Propose a change to the book's failure table: checked in full, then held for a second
    /// user's approval (a dry run answers with the table as it would be, and holds nothing).
    pub async fn change_failure_table(
        &self,
        p: &Principal,
        cmd: &ChangeFailureTable,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<FailureTableView>, AppError> {
        p.require(Action::ConfigureCollections)?;
        let current = self.current_failure_table().await?;
        let table = applied(&current.table, cmd)?;
        let version = current.version + 1;
        if meta.dry_run {
            return Ok(CommandOutcome::done(FailureTableView {
                dry_run: true,
                ..view(version, &table, Some(p.user.name.clone()), None)
            }));
        }
        let held = HeldChange {
            version,
            change: cmd.clone(),
        };
        let payload = serde_json::to_string(&held).map_err(|e| corrupt(e.to_string()))?;
        let hold = Hold {
            action: Action::ConfigureCollections,
            reason: "every change to the failure table needs a second user's approval".into(),
        };
        let target = format!("failure-table/{}", self.book);
        self.keyed(p, meta, || self.hold(p, hold, target, payload, meta))
            .await
    }

    /// Carry out an approved change: checked again on the table as it is now, and written as
    /// the version it was proposed as, with the approval marked, in one transaction.
    pub(crate) async fn approve_failure_table(
        &self,
        p: &Principal,
        a: &Approval,
        d: &Decision,
        meta: &RequestMeta,
    ) -> Result<CommandOutcome<FailureTableView>, AppError> {
        p.require(Action::ConfigureCollections)?;
        let held: HeldChange = serde_json::from_str(&a.payload)
            .map_err(|e| corrupt(format!("approval `{}` payload: {e}", a.id)))?;
        let current = self.current_failure_table().await?;
        let stale = || {
            AppError::Conflict(format!(
                "the failure table changed since approval `{}` was requested: it would make \
                 version {}, and version {} is in effect; reject it and propose the change again",
                a.id, held.version, current.version
            ))
        };
        if current.version + 1 != held.version {
            return Err(stale());
        }
        let table = applied(&current.table, &held.change)?;
        let stored = StoredFailureTable {
            book_id: self.book.clone(),
            version: held.version,
            csv: table.to_csv(),
            changed_by: a.maker.clone(),
            changed_at: self.now(),
        };
        let audit = self.audit(
            &p.user.name,
            "change_failure_table",
            &format!("failure-table/{}/{}", self.book, held.version),
            &meta.digest,
            vec![],
        );
        let outcome = CommandOutcome::created(view(
            stored.version,
            &table,
            Some(stored.changed_by.clone()),
            Some(stored.changed_at.clone()),
        ));
        let key = self.idempotency(p, meta, &outcome)?;
        match self
            .store
            .add_failure_table(&stored, &audit, Some(d), key.as_ref())
            .await
        {
            Ok(()) => Ok(outcome),
            Err(StoreError::VersionConflict { .. }) => Err(stale()),
            Err(e) => Err(e.into()),
        }
    }

    async fn current_failure_table(&self) -> Result<Current, AppError> {
        let Some(t) = self.store.failure_table(&self.book).await? else {
            return Ok(Current {
                version: SEED_VERSION,
                table: FailureTable::seed(),
                changed_by: None,
                changed_at: None,
            });
        };
        let table = FailureTable::from_csv(&t.csv).map_err(|e| {
            corrupt(format!(
                "failure table of book `{}`, version {}: {e}",
                t.book_id, t.version
            ))
        })?;
        Ok(Current {
            version: t.version,
            table,
            changed_by: Some(t.changed_by),
            changed_at: Some(t.changed_at),
        })
    }
}

/// The table `cmd` makes of `current`, every broken rule named by its field.
fn applied(current: &FailureTable, cmd: &ChangeFailureTable) -> Result<FailureTable, AppError> {
    let edits = !cmd.add.is_empty() || !cmd.replace.is_empty() || !cmd.remove.is_empty();
    let change =
        |rule: &str| AppError::Invalid(vec![FieldError::coded("rows", "failure.change", rule)]);
    let table = match (&cmd.rows, edits) {
        (Some(_), true) => {
            return Err(change(
                "give either the whole table or rows to add, replace and remove, not both",
            ));
        }
        (None, false) => {
            return Err(change(
                "nothing to change: give the whole table, or rows to add, replace or remove",
            ));
        }
        (Some(rows), false) => whole(rows)?,
        (None, true) => edited(current, cmd)?,
    };
    if table == *current {
        return Err(change("the table would not change"));
    }
    Ok(table)
}

/// The list `field` checked: at most [`MAX_RULES`] rows, each keeping the domain's row rules.
fn checked(field: &str, rows: &[FailureRow], errors: &mut Vec<FieldError>) -> Vec<FailureRule> {
    if rows.len() > MAX_RULES {
        errors.push(FieldError::coded(
            field,
            "failure.rows",
            format!("at most {MAX_RULES} rows"),
        ));
        return Vec::new();
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let rule = r.rule();
            if let Err(e) = rule.check() {
                let at = format!("{field}[{i}].{}", e.field);
                errors.push(e.at(at));
            }
            rule
        })
        .collect()
}

fn unique(field: String) -> FieldError {
    FieldError::coded(field, "failure.unique", "one row per rail and code")
}

/// A whole table in place of the current one.
fn whole(rows: &[FailureRow]) -> Result<FailureTable, AppError> {
    let mut errors = Vec::new();
    let rules = checked("rows", rows, &mut errors);
    let mut seen = BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        if !seen.insert(r.key()) {
            errors.push(unique(format!("rows[{i}].code")));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    FailureTable::new(rules).map_err(|e| AppError::Invalid(vec![e.at("rows")]))
}

/// The current table with rows removed, replaced and added; each row named once in a change.
fn edited(current: &FailureTable, cmd: &ChangeFailureTable) -> Result<FailureTable, AppError> {
    let mut errors = Vec::new();
    let mut rows: BTreeMap<(Rail, String), FailureRule> = current
        .rules()
        .map(|r| ((r.rail, r.code.clone()), r.clone()))
        .collect();
    let mut named = BTreeSet::new();
    if cmd.remove.len() > MAX_RULES {
        errors.push(FieldError::coded(
            "remove",
            "failure.rows",
            format!("at most {MAX_RULES} rows"),
        ));
    }
    for (i, k) in cmd.remove.iter().enumerate().take(MAX_RULES) {
        let key = (k.rail, k.code.clone());
        if !named.insert(key.clone()) {
            errors.push(unique(format!("remove[{i}]")));
        } else if rows.remove(&key).is_none() {
            errors.push(FieldError::coded(
                format!("remove[{i}]"),
                "failure.known",
                format!("the table has no row for {} `{}`", k.rail.code(), k.code),
            ));
        }
    }
    let replace = checked("replace", &cmd.replace, &mut errors);
    for (i, rule) in replace.into_iter().enumerate() {
        let key = (rule.rail, rule.code.clone());
        if !named.insert(key.clone()) {
            errors.push(unique(format!("replace[{i}].code")));
        } else if let Some(row) = rows.get_mut(&key) {
            *row = rule;
        } else {
            errors.push(FieldError::coded(
                format!("replace[{i}].code"),
                "failure.known",
                format!(
                    "the table has no row for {} `{}`: add it instead",
                    rule.rail.code(),
                    rule.code
                ),
            ));
        }
    }
    let add = checked("add", &cmd.add, &mut errors);
    for (i, rule) in add.into_iter().enumerate() {
        let key = (rule.rail, rule.code.clone());
        if !named.insert(key.clone()) || rows.contains_key(&key) {
            errors.push(FieldError::coded(
                format!("add[{i}].code"),
                "failure.unique",
                format!(
                    "one row per rail and code: {} `{}` has one (replace it instead) or is \
                     named twice",
                    rule.rail.code(),
                    rule.code
                ),
            ));
        } else {
            rows.insert(key, rule);
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let field = if rows.is_empty() { "remove" } else { "add" };
    FailureTable::new(rows.into_values().collect())
        .map_err(|e| AppError::Invalid(vec![e.at(field)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_row(rail: Rail, code: &str) -> FailureRow {
        let table = FailureTable::seed();
        let rule = table.get(rail, code);
        assert!(rule.is_some(), "the seed has {code}");
        rule.map(FailureRow::from).unwrap()
    }

    fn fields(e: AppError) -> Vec<(String, &'static str)> {
        match e {
            AppError::Invalid(errors) => errors.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("not a validation error: {other}"),
        }
    }

    #[test]
    fn rows_are_added_replaced_and_removed_by_rail_and_code() {
        let seed = FailureTable::seed();
        let mut stops = seed_row(Rail::Nach, "04");
        stops.class = FailureClass::Hard;
        stops.action = NextAction::StopAndContact;
        let mut new = seed_row(Rail::Nach, "04");
        new.code = "Q1".into();
        let cmd = ChangeFailureTable {
            add: vec![new],
            replace: vec![stops],
            remove: vec![FailureKey {
                rail: Rail::Nach,
                code: "01".into(),
            }],
            ..ChangeFailureTable::default()
        };
        let t = applied(&seed, &cmd).unwrap();
        assert_eq!(t.len(), seed.len());
        assert!(t.get(Rail::Nach, "01").is_none());
        assert!(t.get(Rail::Nach, "Q1").is_some());
        assert_eq!(
            t.get(Rail::Nach, "04").map(|r| r.class),
            Some(FailureClass::Hard)
        );
    }

    #[test]
    fn a_bad_change_names_each_field_and_its_rule() {
        let seed = FailureTable::seed();
        let mut soft_stop = seed_row(Rail::Nach, "04");
        soft_stop.action = NextAction::StopAndContact;
        let mut unknown = seed_row(Rail::Nach, "04");
        unknown.code = "NOPE".into();
        let cmd = ChangeFailureTable {
            add: vec![seed_row(Rail::Nach, "01")],
            replace: vec![soft_stop, unknown],
            remove: vec![FailureKey {
                rail: Rail::Ach,
                code: "ZZ".into(),
            }],
            ..ChangeFailureTable::default()
        };
        assert_eq!(
            fields(applied(&seed, &cmd).unwrap_err()),
            [
                ("remove[0]".to_owned(), "failure.known"),
                ("replace[0].action".to_owned(), "failure.action"),
                ("replace[1].code".to_owned(), "failure.known"),
                ("add[0].code".to_owned(), "failure.unique"),
            ]
        );
        let rows: Vec<FailureRow> = seed.rules().map(FailureRow::from).collect();
        let mut twice = rows.clone();
        twice.push(rows[3].clone());
        let whole = |rows| ChangeFailureTable {
            rows: Some(rows),
            ..ChangeFailureTable::default()
        };
        assert_eq!(
            fields(applied(&seed, &whole(twice)).unwrap_err()),
            [(format!("rows[{}].code", rows.len()), "failure.unique")]
        );
        assert_eq!(
            fields(applied(&seed, &whole(Vec::new())).unwrap_err()),
            [("rows".to_owned(), "failure.rows")]
        );
        assert_eq!(
            fields(applied(&seed, &whole(rows)).unwrap_err()),
            [("rows".to_owned(), "failure.change")]
        );
        assert_eq!(
            fields(applied(&seed, &ChangeFailureTable::default()).unwrap_err()),
            [("rows".to_owned(), "failure.change")]
        );
    }
}
