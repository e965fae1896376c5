//! Fresh PostgreSQL databases for the harness, made with `CREATE DATABASE` on the server
//! of an administrator's URL (as `scripts/services.sh start` prints it) and dropped after.

use crate::Res;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// A database of the harness's own.
pub(crate) struct Database {
    admin: String,
    name: String,
    /// Its URL.
    pub(crate) url: String,
}

/// `url` with its database replaced by `db` (user, password, host and options kept).
pub(crate) fn with_database(url: &str, db: &str) -> Res<String> {
    let scheme_end = url.find("://").ok_or("not a postgres:// URL")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    Ok(format!("{}/{db}{query}", &base[..host_end]))
}

impl Database {
    /// Creates `secretstore_bench_<pid>_<label>`.
    pub(crate) async fn create(admin: &str, label: &str) -> Res<Database> {
        sqlx::any::install_default_drivers();
        let name = format!("secretstore_bench_{}_{label}", std::process::id());
        let mut conn = AnyConnection::connect(admin).await?;
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&mut conn)
            .await?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let _ = conn.close().await;
        Ok(Database {
            url: with_database(admin, &name)?,
            admin: admin.to_string(),
            name,
        })
    }

    /// Drops it (its remaining connections too).
    pub(crate) async fn drop_now(self) -> Res<()> {
        let mut conn = AnyConnection::connect(&self.admin).await?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        let f = |u| with_database(u, "b").unwrap();
        assert_eq!(f("postgres://u:p@h:5/postgres"), "postgres://u:p@h:5/b");
        assert_eq!(
            f("postgres://u@h/x?sslmode=disable"),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(f("postgresql://h:5"), "postgresql://h:5/b");
    }
}
