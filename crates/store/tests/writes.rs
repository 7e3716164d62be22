//! A write that fails inside the database (a full disk, which also makes SQLite roll the
//! transaction back on its own) fails cleanly, and the next write succeeds: the failed
//! transaction's connection is not handed out again still counting an open transaction.
//! On SQLite and on PostgreSQL.

use loanbook_store::testing::TestDatabase;
use loanbook_store::{AuditEntry, Party, connect};

loanbook_store::on_both_backends!(
    a_failed_write_does_not_poison_the_next_one,
    a_write_failing_at_commit_does_not_poison_the_next_one,
);

fn party(name: &str) -> Party {
    Party {
        id: format!("P-{name}"),
        book_id: "main".into(),
        kind: "borrower".into(),
        name: name.into(),
        details: "{}".into(),
        created_at: "2024-02-01T10:00:00Z".into(),
    }
}

fn audit() -> AuditEntry {
    AuditEntry {
        at: "2024-02-01T10:00:00Z".into(),
        actor: "ops".into(),
        action: "create_party".into(),
        target: "party".into(),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

/// Make the database fail the next insert of a party named `full` as a full disk does: SQLite
/// (like on SQLITE_FULL) rolls the whole transaction back itself; PostgreSQL raises disk_full.
async fn fill_disk(db: &TestDatabase) {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER disk_full BEFORE INSERT ON parties WHEN NEW.name = 'full' \
             BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
        )
        .execute(&mut c)
        .await
        .unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for q in [
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.name = 'full' THEN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER disk_full BEFORE INSERT ON parties FOR EACH ROW EXECUTE FUNCTION disk_full()",
        ] {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    }
}

async fn a_failed_write_does_not_poison_the_next_one(db: &TestDatabase) {
    let s = connect(&db.url).await.unwrap();
    s.ensure_book("main", "Main", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    s.check_writable("2024-02-01T10:00:00Z").await.unwrap();
    fill_disk(db).await;
    let before = s.audit_records().await.unwrap().len();
    for _ in 0..3 {
        let e = s
            .create_party(&party("full"), &audit(), None)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("full") || e.to_string().contains("extend"),
            "{e}"
        );
        assert!(!e.to_string().contains("transaction depth"), "{e}");
    }
    // Nothing of the failed writes is left, and the next writes go through.
    assert_eq!(s.audit_records().await.unwrap().len(), before);
    assert!(s.party("P-full").await.unwrap().is_none());
    s.create_party(&party("asha"), &audit(), None)
        .await
        .unwrap();
    s.check_writable("2024-02-01T10:00:01Z").await.unwrap();
    s.set_business_date("main", "2024-02-01", "2024-02-02", &audit())
        .await
        .unwrap();
    assert_eq!(s.business_date("main").await.unwrap(), "2024-02-02");
    assert!(s.party("P-asha").await.unwrap().is_some());
    assert_eq!(s.audit_records().await.unwrap().len(), before + 2);
}

/// Make COMMIT itself fail for a transaction that inserts a party named `late`: a deferred
/// constraint checked only at commit time.
async fn fail_at_commit(db: &TestDatabase) {
    use sqlx::Connection;
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        for q in [
            "CREATE TABLE commit_guard (book TEXT REFERENCES books (id) DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TRIGGER late_party AFTER INSERT ON parties WHEN NEW.name = 'late' \
             BEGIN INSERT INTO commit_guard VALUES ('no such book'); END",
        ] {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for q in [
            "CREATE FUNCTION late_party() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.name = 'late' THEN RAISE EXCEPTION 'could not write' USING ERRCODE = 'disk_full'; END IF; \
             RETURN NEW; END $$",
            "CREATE CONSTRAINT TRIGGER late_party AFTER INSERT ON parties DEFERRABLE INITIALLY DEFERRED \
             FOR EACH ROW EXECUTE FUNCTION late_party()",
        ] {
            sqlx::query(q).execute(&mut c).await.unwrap();
        }
    }
}

async fn a_write_failing_at_commit_does_not_poison_the_next_one(db: &TestDatabase) {
    let s = connect(&db.url).await.unwrap();
    s.ensure_book("main", "Main", "2024-02-01", "2024-01-01T00:00:00Z")
        .await
        .unwrap();
    fail_at_commit(db).await;
    let before = s.audit_records().await.unwrap().len();
    for _ in 0..3 {
        let e = s
            .create_party(&party("late"), &audit(), None)
            .await
            .unwrap_err();
        assert!(!e.to_string().contains("transaction depth"), "{e}");
    }
    assert_eq!(s.audit_records().await.unwrap().len(), before);
    assert!(s.party("P-late").await.unwrap().is_none());
    s.create_party(&party("asha"), &audit(), None)
        .await
        .unwrap();
    s.check_writable("2024-02-01T10:00:01Z").await.unwrap();
    assert_eq!(s.audit_records().await.unwrap().len(), before + 1);
}
