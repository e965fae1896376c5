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
        assert_eq!(rows.len(), 6, "{}", db.kind);
        assert_eq!(rows[5].1, "write reservations and brief backend versions");
    }
}
