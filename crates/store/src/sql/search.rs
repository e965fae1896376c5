//! [`SearchStore`]: things found by name, among the scopes a caller sees.
//!
//! Each kind is one statement that walks the index of its name in order (`secrets_by_name`,
//! the unique path of `scopes`, the primary keys of `tasks` and `briefs`), checks the
//! pattern and the caller's scopes on the way, and stops at the limit: nothing is
//! filtered after a LIMIT.

use super::SqlStore;
use super::bind::Sql;
use super::rows::{META_COLUMNS, MetaRow, scope};
use secretstore_core::{HitKind, Pattern, Result, SearchHit, SearchStore, SecretMeta, Visible};

/// `SELECT name, scope FROM … WHERE name LIKE pattern`, with the column that holds the
/// scope's path and the order to walk, for each kind.
fn statement(kind: HitKind) -> (&'static str, &'static str, &'static str, bool) {
    match kind {
        HitKind::Secret => (
            "SELECT s.name, sc.path FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE s.name LIKE ",
            "sc.path",
            " ORDER BY s.name, sc.path",
            true,
        ),
        HitKind::Scope => (
            "SELECT path, path FROM scopes WHERE path LIKE ",
            "path",
            " ORDER BY path",
            false,
        ),
        HitKind::Task => (
            "SELECT t.id, sc.path FROM tasks t JOIN scopes sc ON sc.id = t.project_id \
             WHERE t.id LIKE ",
            "sc.path",
            " ORDER BY t.id",
            false,
        ),
        HitKind::Brief => (
            "SELECT id, project FROM briefs WHERE id LIKE ",
            "project",
            " ORDER BY id",
            false,
        ),
    }
}

/// `WHERE … LIKE pattern ESCAPE '\' AND <visible>`.
fn matching(
    sql: &mut Sql,
    pattern: &Pattern,
    upper: bool,
    column: &str,
    visible: Option<&Visible>,
) {
    sql.bind(pattern.like(upper)).push(" ESCAPE '\\'");
    if let Some(v) = visible {
        sql.push(" AND ").visible(column, v);
    }
}

impl SearchStore for SqlStore {
    async fn search(
        &self,
        visible: Option<&Visible>,
        pattern: &Pattern,
        kind: HitKind,
        limit: i64,
    ) -> Result<Vec<SearchHit>> {
        if visible.is_some_and(Visible::is_empty) || limit < 1 {
            return Ok(Vec::new());
        }
        let (select, column, order, upper) = statement(kind);
        let mut sql = Sql::new(select);
        matching(&mut sql, pattern, upper, column, visible);
        sql.push(order).push(" LIMIT ").bind(limit);
        let rows: Vec<(String, String)> = self
            .read(async |conn| Ok(sql.query_as()?.fetch_all(conn).await?))
            .await?;
        rows.into_iter()
            .map(|(name, path)| {
                Ok(SearchHit {
                    kind,
                    name,
                    scope: scope(&path)?,
                })
            })
            .collect()
    }

    async fn find_secrets(
        &self,
        visible: Option<&Visible>,
        pattern: &Pattern,
        limit: i64,
    ) -> Result<Vec<SecretMeta>> {
        if visible.is_some_and(Visible::is_empty) || limit < 1 {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(&format!(
            "SELECT {META_COLUMNS} FROM secrets s JOIN scopes sc ON sc.id = s.scope_id \
             WHERE s.name LIKE "
        ));
        matching(&mut sql, pattern, true, "sc.path", visible);
        sql.push(" ORDER BY s.name, sc.path LIMIT ").bind(limit);
        let rows: Vec<MetaRow> = self
            .read(async |conn| Ok(sql.query_as()?.fetch_all(conn).await?))
            .await?;
        rows.into_iter().map(SecretMeta::try_from).collect()
    }
}
