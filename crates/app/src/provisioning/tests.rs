//! The book's provisioning table through the app, on a fresh SQLite database.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::approvals::ListApprovals;
use crate::products::CreateProduct;
use crate::views::Document;
use crate::{ApprovalPolicy, FixedClock, Role};

/// An app over a fresh database in a folder of its own, removed afterwards.
struct Fixture {
    app: App,
    admin: Principal,
    /// A second admin, who approves what `admin` proposes.
    checker: Principal,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture() -> Fixture {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "loanbook-provisioning-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("loanbook.db").display());
    let store = loanbook_store::connect(&url).await.unwrap();
    let clock = Arc::new(FixedClock::on("2024-02-01".parse().unwrap()));
    let app = App::new(store, "main", clock)
        .await
        .unwrap()
        .with_policy(ApprovalPolicy {
            products: false,
            ..ApprovalPolicy::default()
        });
    let token = app.admin_init("admin").await.unwrap();
    let admin = app.authenticate(&token).await.unwrap();
    let token = app
        .create_user(None, "root", Role::Admin, None)
        .await
        .unwrap();
    let checker = app.authenticate(&token).await.unwrap();
    Fixture {
        app,
        admin,
        checker,
        dir,
    }
}

async fn user(f: &Fixture, name: &str, role: Role) -> Principal {
    let token = f.app.create_user(None, name, role, None).await.unwrap();
    f.app.authenticate(&token).await.unwrap()
}

async fn product(f: &Fixture, code: &str) -> String {
    let cmd = CreateProduct {
        code: code.into(),
        name: format!("{code} loans"),
        config: Document::new(json!({})),
    };
    f.app
        .create_product(&f.admin, &cmd, &RequestMeta::default())
        .await
        .unwrap();
    f.app
        .store
        .product(code, None)
        .await
        .unwrap()
        .unwrap()
        .product_id
}

/// Propose `cmd` as the fixture's admin: the held request's id.
async fn propose(f: &Fixture, cmd: &SetProvisioning) -> String {
    let held = f
        .app
        .set_provisioning(Some(&f.admin), cmd, &RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(held.kind, crate::OutcomeKind::Held);
    match held.answer {
        crate::Answer::Held(h) => h.approval.id,
        crate::Answer::Done(v) => panic!("written at once: {v:?}"),
    }
}

/// Approve request `id` as `checker`: the table written.
async fn approve(f: &Fixture, checker: &Principal, id: &str) -> ProvisioningView {
    let done = f
        .app
        .approve(checker, id, &RequestMeta::default())
        .await
        .unwrap();
    match done.result() {
        Some(crate::views::Approved::Provisioning(v)) => v.clone(),
        other => panic!("not a provisioning table: {other:?}"),
    }
}

/// Propose `cmd` as the fixture's admin and approve it as a second admin.
async fn set(f: &Fixture, cmd: &SetProvisioning) -> ProvisioningView {
    let id = propose(f, cmd).await;
    approve(f, &f.checker, &id).await
}

fn with_preset(name: &str) -> SetProvisioning {
    SetProvisioning {
        preset: Some(name.into()),
        ..SetProvisioning::default()
    }
}

/// The NBFC preset with a housing category's standard-asset row.
fn housing_rows() -> Vec<RateRow> {
    let mut rows: Vec<RateRow> = ProvisionRates::rbi_nbfc()
        .rows()
        .iter()
        .map(RateRow::from)
        .collect();
    rows.push(RateRow {
        asset_class: AssetClass::Standard,
        secured: "0.25".into(),
        unsecured: "0.25".into(),
        category: Some("housing".into()),
    });
    rows
}

fn fields(e: &AppError) -> Vec<String> {
    match e {
        AppError::Invalid(errors) => errors.iter().map(|f| f.field.clone()).collect(),
        other => panic!("not a validation error: {other}"),
    }
}

const L: i64 = 100_000_000;

#[tokio::test]
async fn a_book_without_a_table_provisions_at_the_nbfc_preset() {
    let f = fixture().await;
    let v = f.app.provisioning(&f.admin).await.unwrap();
    assert_eq!(v.preset, "rbi_nbfc");
    assert_eq!(v.version, 0);
    assert_eq!(v.changed_by, None);
    assert_eq!(v.rates.len(), 6);
    let setup = f.app.provisioning_setup().await.unwrap();
    assert_eq!(*setup.rates, ProvisionRates::rbi_nbfc());
    assert_eq!(
        setup.provision(None, AssetClass::Substandard, L, L / 2),
        L / 10
    );
}

#[tokio::test]
async fn a_preset_is_set_and_read_back() {
    let f = fixture().await;
    let written = set(&f, &with_preset("rbi_bank")).await;
    assert_eq!(written.preset, "rbi_bank");
    assert_eq!(written.version, 1);
    assert_eq!(written.changed_by.as_deref(), Some("admin"));
    let auditor = user(&f, "audrey", Role::Auditor).await;
    let read = f.app.provisioning(&auditor).await.unwrap();
    assert_eq!(read, written);
    let setup = f.app.provisioning_setup().await.unwrap();
    assert_eq!(*setup.rates, ProvisionRates::rbi_bank());
    // Sub-standard, half secured: 15% of the covered half, 25% of the rest.
    assert_eq!(
        setup.provision(None, AssetClass::Substandard, L, L / 2),
        L / 2 * 15 / 100 + L / 2 * 25 / 100
    );
    let audit = f.app.store.audit_records().await.unwrap();
    let set: Vec<_> = audit
        .iter()
        .filter(|r| r.entry.action == "set_provisioning")
        .collect();
    assert_eq!(set.len(), 1);
    let last = set[0];
    assert_eq!(last.entry.target, "provisioning/main/1");
    // Written by the checker who approved it; proposed by the admin.
    assert_eq!(last.entry.actor, "root");
}

#[tokio::test]
async fn a_table_of_its_own_gives_a_product_its_category() {
    let f = fixture().await;
    let home = product(&f, "HOME").await;
    let gold = product(&f, "GOLD").await;
    let cmd = SetProvisioning {
        rates: Some(housing_rows()),
        categories: BTreeMap::from([("HOME".to_owned(), "housing".to_owned())]),
        ..SetProvisioning::default()
    };
    let v = f
        .app
        .set_provisioning(None, &cmd, &RequestMeta::default())
        .await
        .unwrap();
    let v = v.result().unwrap();
    assert_eq!(v.preset, "custom");
    assert_eq!(v.changed_by.as_deref(), Some("cli"));
    assert_eq!(
        v.categories,
        vec![ProductCategory {
            product_id: home.clone(),
            code: Some("HOME".into()),
            category: "housing".into(),
        }]
    );
    let setup = f.app.provisioning_setup().await.unwrap();
    assert_eq!(setup.category(Some(&home)), Some("housing"));
    assert_eq!(
        setup.provision(Some(&home), AssetClass::Standard, L, 0),
        250_000
    );
    assert_eq!(
        setup.provision(Some(&gold), AssetClass::Standard, L, 0),
        400_000
    );
    assert_eq!(setup.provision(None, AssetClass::Standard, L, 0), 400_000);
    // By its id as well as by its code; a second table replaces the first whole.
    let by_id = SetProvisioning {
        categories: BTreeMap::from([(gold.clone(), "housing".to_owned())]),
        ..cmd
    };
    assert_eq!(set(&f, &by_id).await.version, 2);
    let setup = f.app.provisioning_setup().await.unwrap();
    assert_eq!(setup.category(Some(&home)), None);
    assert_eq!(setup.category(Some(&gold)), Some("housing"));
}

/// The housing table with `edit` made to its rows.
fn edited(edit: impl Fn(&mut Vec<RateRow>)) -> SetProvisioning {
    let mut rows = housing_rows();
    edit(&mut rows);
    SetProvisioning {
        rates: Some(rows),
        ..SetProvisioning::default()
    }
}

/// Tables a replacement refuses: each with the fields its problem names and part of its rule.
fn refused_tables() -> Vec<(SetProvisioning, Vec<&'static str>, &'static str)> {
    vec![
        (
            with_preset("rbi_hfc"),
            vec!["preset"],
            "must be rbi_nbfc or rbi_bank",
        ),
        (
            with_preset("custom"),
            vec!["preset"],
            "must be rbi_nbfc or rbi_bank",
        ),
        (SetProvisioning::default(), vec!["preset"], "is required"),
        (
            SetProvisioning {
                preset: Some("rbi_bank".into()),
                rates: Some(housing_rows()),
                ..SetProvisioning::default()
            },
            vec!["preset"],
            "not both",
        ),
        (
            edited(|r| r[1].unsecured = "101".into()),
            vec!["rates[1].unsecured"],
            "between 0 and 100",
        ),
        (
            edited(|r| r[0].secured = "-0.5".into()),
            vec!["rates[0].secured"],
            "between 0 and 100",
        ),
        (
            edited(|r| {
                r[2].secured = "1e2".into();
                r[3].unsecured = "0.1234567".into();
            }),
            vec!["rates[2].secured", "rates[3].unsecured"],
            "",
        ),
        (
            edited(|r| r.push(r[6].clone())),
            vec!["rates[7]"],
            "repeats the row of standard for housing",
        ),
        (
            edited(|r| {
                r.remove(4);
            }),
            vec!["rates"],
            "has no doubtful3 row for every product",
        ),
        (
            edited(|r| r[6].category = Some("home loans".into())),
            vec!["rates[6].category"],
            "letters, digits",
        ),
        (
            SetProvisioning {
                rates: Some(housing_rows()),
                categories: BTreeMap::from([("CAR".to_owned(), "housing".to_owned())]),
                ..SetProvisioning::default()
            },
            vec!["categories.CAR"],
            "is not a product of this book",
        ),
        (
            SetProvisioning {
                rates: Some(housing_rows()),
                categories: BTreeMap::from([("HOME".to_owned(), "gold".to_owned())]),
                ..SetProvisioning::default()
            },
            vec!["categories.HOME"],
            "no row of the rates is for",
        ),
    ]
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let f = fixture().await;
    product(&f, "HOME").await;
    set(&f, &with_preset("rbi_bank")).await;
    let operations = user(&f, "ops", Role::Operations).await;
    let collections = user(&f, "cole", Role::Collections).await;
    let before = f.app.provisioning(&f.admin).await.unwrap();
    let audited = f.app.store.audit_records().await.unwrap().len();

    for (cmd, expected, rule) in refused_tables() {
        let e = f
            .app
            .set_provisioning(Some(&f.admin), &cmd, &RequestMeta::default())
            .await
            .unwrap_err();
        assert_eq!(fields(&e), expected, "{e}");
        assert!(e.to_string().contains(rule), "{e}");
    }
    // Only an admin replaces the table; the ledger's readers see it, others do not.
    let e = f
        .app
        .set_provisioning(
            Some(&operations),
            &with_preset("rbi_nbfc"),
            &RequestMeta::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden { .. }), "{e}");
    assert!(f.app.provisioning(&operations).await.is_ok());
    assert!(matches!(
        f.app.provisioning(&collections).await,
        Err(AppError::Forbidden { .. })
    ));

    // A dry run shows the table and writes nothing.
    let dry = RequestMeta {
        dry_run: true,
        ..RequestMeta::default()
    };
    let shown = f
        .app
        .set_provisioning(Some(&f.admin), &with_preset("rbi_nbfc"), &dry)
        .await
        .unwrap();
    let shown = shown.result().unwrap();
    assert!(shown.dry_run);
    assert_eq!(shown.preset, "rbi_nbfc");
    assert_eq!(shown.version, 2);

    assert_eq!(f.app.provisioning(&f.admin).await.unwrap(), before);
    assert_eq!(f.app.store.audit_records().await.unwrap().len(), audited);
}

#[tokio::test]
async fn a_retried_request_gets_its_first_answer() {
    let f = fixture().await;
    let meta = |body: &str| RequestMeta {
        idempotency_key: Some("k-1".into()),
        target: "PUT /v1/provisioning".into(),
        digest: crate::digest(body.as_bytes()),
        dry_run: false,
    };
    let first = f
        .app
        .set_provisioning(Some(&f.admin), &with_preset("rbi_bank"), &meta("bank"))
        .await
        .unwrap();
    let again = f
        .app
        .set_provisioning(Some(&f.admin), &with_preset("rbi_bank"), &meta("bank"))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.kind, crate::OutcomeKind::Held);
    assert_eq!(again.answer, first.answer);
    // One request is held, and nothing is written until it is approved.
    let pending = ListApprovals {
        status: Some("pending".into()),
    };
    assert_eq!(
        f.app
            .approvals(&f.admin, &pending)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(f.app.provisioning(&f.admin).await.unwrap().version, 0);
    let other = f
        .app
        .set_provisioning(Some(&f.admin), &with_preset("rbi_nbfc"), &meta("nbfc"))
        .await;
    assert!(matches!(other, Err(AppError::IdempotencyMismatch { .. })));
}

#[tokio::test]
async fn a_change_is_held_until_a_second_admin_approves_it() {
    let f = fixture().await;
    let operations = user(&f, "ops", Role::Operations).await;
    let id = propose(&f, &with_preset("rbi_bank")).await;
    let audited = f.app.store.audit_records().await.unwrap().len();
    let request = f.app.approval(&f.admin, &id).await.unwrap();
    assert_eq!(request.target, "provisioning/main");
    assert_eq!(request.action, "close_business");
    assert_eq!(request.maker, "admin");
    assert_eq!(f.app.provisioning(&f.admin).await.unwrap().version, 0);
    // Nobody approves their own request; a checker without the right to set the table may
    // not approve it either.
    let own = f.app.approve(&f.admin, &id, &RequestMeta::default()).await;
    assert!(matches!(own, Err(AppError::Forbidden { .. })), "{own:?}");
    let ops = f
        .app
        .approve(&operations, &id, &RequestMeta::default())
        .await;
    assert!(matches!(ops, Err(AppError::Forbidden { .. })), "{ops:?}");
    assert_eq!(f.app.provisioning(&f.admin).await.unwrap().version, 0);
    assert_eq!(f.app.store.audit_records().await.unwrap().len(), audited);

    let written = approve(&f, &f.checker, &id).await;
    assert_eq!(written.version, 1);
    assert_eq!(written.preset, "rbi_bank");
    assert_eq!(written.changed_by.as_deref(), Some("admin"));
    assert_eq!(f.app.provisioning(&f.admin).await.unwrap(), written);
    assert_eq!(
        *f.app.provisioning_setup().await.unwrap().rates,
        ProvisionRates::rbi_bank()
    );
    let decided = f.app.approval(&f.admin, &id).await.unwrap();
    assert_eq!(decided.status, "approved");
    assert_eq!(decided.checker.as_deref(), Some("root"));
    // Decided once.
    let again = f
        .app
        .approve(&f.checker, &id, &RequestMeta::default())
        .await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn a_rejected_change_writes_nothing() {
    let f = fixture().await;
    let id = propose(&f, &with_preset("rbi_bank")).await;
    let own = f.app.reject(&f.admin, &id, &RequestMeta::default()).await;
    assert!(matches!(own, Err(AppError::Forbidden { .. })), "{own:?}");
    let rejected = f
        .app
        .reject(&f.checker, &id, &RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(rejected.result().unwrap().status, "rejected");
    assert_eq!(f.app.provisioning(&f.admin).await.unwrap().version, 0);
    assert_eq!(
        *f.app.provisioning_setup().await.unwrap().rates,
        ProvisionRates::rbi_nbfc()
    );
    let late = f
        .app
        .approve(&f.checker, &id, &RequestMeta::default())
        .await;
    assert!(matches!(late, Err(AppError::Conflict(_))), "{late:?}");
}

#[tokio::test]
async fn an_approval_made_stale_by_another_is_refused() {
    let f = fixture().await;
    let first = propose(&f, &with_preset("rbi_bank")).await;
    let second = propose(&f, &edited(|_| {})).await;
    assert_eq!(approve(&f, &f.checker, &second).await.version, 1);
    // The first was proposed as version 1 too: approving it now would overwrite the second
    // unseen, so it is refused and stays pending for a checker to reject.
    let stale = f
        .app
        .approve(&f.checker, &first, &RequestMeta::default())
        .await;
    assert!(matches!(stale, Err(AppError::Conflict(_))), "{stale:?}");
    assert_eq!(
        f.app.approval(&f.admin, &first).await.unwrap().status,
        "pending"
    );
    assert_eq!(f.app.provisioning(&f.admin).await.unwrap().preset, "custom");
}
