//! Token lifetime in the store, on SQLite and PostgreSQL: ids, expiry, revocation and the
//! revocation generation that tells servers to drop cached tokens.

use std::sync::Arc;

use loanbook_store::testing::TestDatabase;
use loanbook_store::{AuditEntry, NewToken, Store, StoreError, User, connect, verify_chain};

loanbook_store::on_both_backends!(a_revoked_token_grants_nothing_and_bumps_the_generation);

fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-02-01T10:00:00Z".into(),
        actor: "admin".into(),
        action: action.into(),
        target: target.into(),
        request_digest: String::new(),
        event_ids: vec![],
    }
}

async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    connect(&db.url).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn a_revoked_token_grants_nothing_and_bumps_the_generation(db: &TestDatabase) {
    let s = open(db).await;
    let u = User {
        id: "user-1".into(),
        name: "asha".into(),
        role: "operations".into(),
        partner_id: None,
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    s.create_user(&u, &audit("create_user", "user/asha"))
        .await
        .unwrap();
    let new = |id: &str, hash: &str, expires: Option<&str>| NewToken {
        id: id.into(),
        hash: hash.into(),
        prefix: format!("lb_{id}"),
        user_id: "user-1".into(),
        created_at: "2024-01-01T00:00:00Z".into(),
        expires_at: expires.map(str::to_owned),
    };
    s.issue_token(&new("t1", "h1", None), &audit("create_token", "token/t1"))
        .await
        .unwrap();
    s.issue_token(
        &new("t2", "h2", Some("2024-04-01T00:00:00Z")),
        &audit("create_token", "token/t2"),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.issue_token(&new("t1", "h3", None), &audit("create_token", "token/t1"))
            .await,
        Err(StoreError::Duplicate { .. })
    ));
    let g0 = s.revocation_generation().await.unwrap();
    let grant = s.token_grant("h2").await.unwrap().unwrap();
    assert_eq!(grant.token_id, "t2");
    assert_eq!(grant.expires_at.as_deref(), Some("2024-04-01T00:00:00Z"));
    assert_eq!(grant.generation, g0);
    assert_eq!(grant.user, u);

    assert!(
        s.revoke_token(
            "t1",
            "2024-02-02T00:00:00Z",
            "admin",
            &audit("revoke_token", "token/t1")
        )
        .await
        .unwrap()
    );
    assert_eq!(s.token_grant("h1").await.unwrap(), None);
    assert_eq!(s.revocation_generation().await.unwrap(), g0 + 1);
    // Again: nothing changes, nothing is audited.
    let audited = s.audit_records().await.unwrap().len();
    assert!(
        !s.revoke_token(
            "t1",
            "2024-02-03T00:00:00Z",
            "admin",
            &audit("revoke_token", "token/t1")
        )
        .await
        .unwrap()
    );
    assert_eq!(s.audit_records().await.unwrap().len(), audited);
    assert_eq!(s.revocation_generation().await.unwrap(), g0 + 1);
    assert!(matches!(
        s.revoke_token(
            "nope",
            "2024-02-03T00:00:00Z",
            "admin",
            &audit("revoke_token", "token/nope")
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));

    let list = s.tokens().await.unwrap();
    assert_eq!(list.len(), 2);
    let t1 = s.token("t1").await.unwrap().unwrap();
    assert_eq!(t1.revoked_at.as_deref(), Some("2024-02-02T00:00:00Z"));
    assert_eq!(t1.revoked_by.as_deref(), Some("admin"));
    assert_eq!(t1.prefix.as_deref(), Some("lb_t1"));
    assert_eq!(list.iter().filter(|t| t.revoked_at.is_none()).count(), 1);
    assert_eq!(verify_chain(&s.audit_records().await.unwrap()), Ok(()));
}
