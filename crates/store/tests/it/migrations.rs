//! Databases created before `sqlx::migrate!` (whose migrations were listed by hand, each
//! with its version and description) open and migrate without error.

use crate::common::databases;
use secretstore_store::SqlStore;
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

/// The hand-written list of the builds before `sqlx::migrate!`.
fn old_migrator(dialect: &str) -> Migrator {
    let m = |version: i64, desc: &'static str, sql: String| {
        Migration::new(
            version,
            Cow::Borrowed(desc),
            MigrationType::Simple,
            sqlx::AssertSqlSafe(sql).into_sql_str(),
            false,
        )
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    Migrator::with_migrations(vec![
        m(1, "init", read("0001_init.sql")),
        m(2, "accounts", read("0002_accounts.sql")),
        m(
            3,
            "sessions and brief secrets",
            read("0003_sessions_and_brief_secrets.sql"),
        ),
        m(4, "session tokens", read("0004_session_tokens.sql")),
        m(5, "link policy", read("0005_link_policy.sql")),
        m(
            6,
            "write reservations and brief backend versions",
            read("0006_write_reservations_and_brief_backend_versions.sql"),
        ),
    ])
}

#[tokio::test(flavor = "current_thread")]
async fn a_database_migrated_by_the_hand_written_list_opens() {
    for db in databases() {
        sqlx::any::install_default_drivers();
        let url = if db.kind == "sqlite" {
            format!("{}?mode=rwc", db.url)
        } else {
            db.url.clone()
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        old_migrator(db.kind).run(&pool).await.unwrap();
        pool.close().await;
        let store = SqlStore::open(&db.url, 1).await;
        assert!(store.is_ok(), "{}: {:?}", db.kind, store.err());
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations ORDER BY version")
                .fetch_all(store.unwrap().pool())
                .await
                .unwrap();
        // SQLite has one more: its tables clustered for the hot reads (its 0007).
        let want = if db.kind == "sqlite" { 13 } else { 12 };
        assert_eq!(rows.len(), want, "{}", db.kind);
        assert_eq!(rows[5].1, "write reservations and brief backend versions");
    }
}

/// 0007 rebuilds SQLite's `secret_versions` (clustered on its key): every version of a
/// database written before it is still there, with its material, after the store opens
/// it, and deleting the secret still takes its versions with it.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_versions_written_before_the_clustered_table_survive_its_migration() {
    use secretstore_core::{ScopePath, SecretName, SecretStore};
    sqlx::any::install_default_drivers();
    let db = crate::common::Db::sqlite();
    let pool = sqlx::AnyPool::connect(&format!("{}?mode=rwc", db.url))
        .await
        .unwrap();
    old_migrator("sqlite").run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO scopes (id, path, level, parent_id, created_at, created_by) \
         VALUES (1, 'acme', 'org', NULL, '2026-01-01T00:00:00Z', 'root')",
        "INSERT INTO secrets (id, scope_id, name, category, backend, current_version, \
         created_at, updated_at, updated_by) VALUES (7, 1, 'API_KEY', 'provider', 'local', 2, \
         '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'root')",
        "INSERT INTO secret_versions (secret_id, version, ciphertext, created_at, created_by) \
         VALUES (7, 1, 'token-one', '2026-01-01T00:00:00Z', 'root')",
        "INSERT INTO secret_versions (secret_id, version, ciphertext, created_at, created_by) \
         VALUES (7, 2, 'token-two', '2026-01-02T00:00:00Z', 'root')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = SqlStore::open(&db.url, 1).await.unwrap();
    let scope = ScopePath::parse("acme").unwrap();
    let name = SecretName::parse("API_KEY").unwrap();
    let versions = store.versions(&scope, &name).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    for (asked, token) in [(Some(1), "token-one"), (None, "token-two")] {
        let (_, v, material) = store.material(&scope, &name, asked).await.unwrap();
        assert_eq!(material.ciphertext.as_deref(), Some(token), "version {v}");
    }
    let found = store
        .candidates(std::slice::from_ref(&scope), std::slice::from_ref(&name))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].material.ciphertext.as_deref(), Some("token-two"));
    let table: (String,) =
        sqlx::query_as("SELECT sql FROM sqlite_master WHERE name = 'secret_versions'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(table.0.contains("WITHOUT ROWID"), "{}", table.0);

    // The foreign key came along: a deleted secret takes its versions.
    let audit = secretstore_core::AuditEntry::anonymous("secret.delete", "test");
    store.delete_secret(&scope, &name, audit).await.unwrap();
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM secret_versions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left.0, 0);
}
