//! One test per bug pinned, each named after the defect it reproduces.

use crate::common::{at, caller, database, dispatch, scope, scopes, task};
use secretstore_core::{BackendKind, Backends, Role, Service, ServiceConfig};
use secretstore_store::{FolderBriefStore, SqlStore};
use std::sync::Arc;

fn service(store: SqlStore, dir: &std::path::Path) -> Service<SqlStore> {
    Service {
        store,
        backends: Backends::new(),
        briefs: Arc::new(FolderBriefStore::new(dir.join("briefs"))),
        config: ServiceConfig {
            default_backend: BackendKind::Local,
            callback_ttl_secs: 3600,
            boot_ttl_secs: 600,
        },
    }
}

/// The briefs page asked the database for the newest `4 × limit` briefs of every project
/// and filtered them by the caller's projects afterwards: a member whose team's briefs
/// were older than that many briefs of another team saw none of its own.
#[tokio::test(flavor = "current_thread")]
async fn recent_briefs_filter_before_limit_shows_own_briefs() {
    let db = database();
    let store = db.open().await;
    scopes(&store, "acme/platform/dev/agent-x").await;
    scopes(&store, "acme/other/dev/bot").await;
    let own = task(&store, "acme/platform/dev/agent-x").await;
    let theirs = task(&store, "acme/other/dev/bot").await;
    let mut mine = Vec::new();
    for n in 0..3 {
        mine.push(dispatch(&store, &own, "acme/platform/dev/agent-x", &at(n), vec![]).await);
    }
    // Newer than the member's own: many more than the limit, in a team it cannot see.
    for n in 10..60 {
        dispatch(&store, &theirs, "acme/other/dev/bot", &at(n), vec![]).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let svc = service(store, dir.path());
    let member = caller(vec![Role::Member(scope("acme/platform"))]);
    let shown = svc.recent_briefs(&member, 5).await.unwrap();
    let ids: Vec<&str> = shown.iter().map(|b| b.brief_id.as_str()).collect();
    let want: Vec<&str> = mine.iter().rev().map(|b| b.as_str()).collect();
    assert_eq!(
        ids, want,
        "{}: the member's own briefs, newest first",
        db.kind
    );
    // Root sees the newest of all, up to the limit.
    let root = caller(vec![Role::Root]);
    let all = svc.recent_briefs(&root, 5).await.unwrap();
    assert_eq!(all.len(), 5, "{}", db.kind);
    assert!(all.iter().all(|b| b.project == "acme/other/dev/bot"));
}

/// On PostgreSQL, a group-commit batch refused a lock within `lock_timeout` was retried
/// record by record, each waiting the whole timeout again: eight reveals behind a locked
/// audit table took about nine timeouts. (SQLite's writer: `fast_path.rs`.)
#[tokio::test(flavor = "current_thread")]
async fn a_postgres_batch_refused_a_lock_was_retried_record_by_record_each_waiting_again() {
    use sqlx::Connection;
    if !crate::common::postgres_mode() {
        eprintln!("PostgreSQL only: runs in the test command's PostgreSQL pass");
        return;
    }
    let url = crate::common::new_pg_database();
    let store = crate::common::with_busy_timeout(&url, 400).await;
    let mut holder = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut reveals = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        reveals.spawn(async move {
            secretstore_core::AuditStore::append_audit(
                &store,
                crate::common::audit("secret.reveal"),
            )
            .await
        });
    }
    while let Some(done) = reveals.join_next().await {
        let e = done.unwrap().unwrap_err();
        assert!(
            matches!(e, secretstore_core::Error::DatabaseUnavailable(_)),
            "{e:?}"
        );
    }
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_millis(400 * 5),
        "eight records behind a locked table took {took:?} (lock_timeout 400 ms)"
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    secretstore_core::AuditStore::append_audit(&store, crate::common::audit("secret.reveal"))
        .await
        .unwrap();
}
