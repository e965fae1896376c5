//! A database per test: a SQLite file in the test's folder, or with
//! `SECRETSTORE_TEST_DB=postgres` a fresh database on the test PostgreSQL server
//! (`SECRETSTORE_TEST_PG_URL`, an administrator's URL).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// True when the suite runs against PostgreSQL (`SECRETSTORE_TEST_DB=postgres`).
pub fn postgres_mode() -> bool {
    std::env::var("SECRETSTORE_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// A new, empty database on the test PostgreSQL server; its URL.
pub fn new_pg_database() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let admin = super::need("SECRETSTORE_TEST_PG_URL");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = format!(
        "t{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .args([
            admin.as_str(),
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .unwrap_or_else(|e| panic!("psql (scripts/setup.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Some((base, _)) = admin.rsplit_once('/') else {
        panic!("SECRETSTORE_TEST_PG_URL has no database part: {admin}");
    };
    format!("{base}/{name}")
}

/// The database of a test whose folder is `dir`: `sqlite://DIR/t.db`, or in postgres mode
/// a new database on the test server.
pub fn test_database_url(dir: &std::path::Path) -> String {
    if postgres_mode() {
        new_pg_database()
    } else {
        format!("sqlite://{}", dir.join("t.db").display())
    }
}
