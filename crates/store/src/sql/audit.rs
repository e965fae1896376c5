//! [`AuditStore`]: the append-only audit log; and [`HealthStore`]: whether the database
//! answers.

use super::SqlStore;
use super::bind::Sql;
use super::group::{Record, write_alone};
use super::rows::{AUDIT_COLUMNS, AuditRow};
use secretstore_core::{
    AuditCursor, AuditEntry, AuditFilter, AuditPage, AuditStore, HealthStore, PageFrom, Result,
    ScopePath, SecretName, timestamp,
};

impl AuditStore for SqlStore {
    async fn append_audit(&self, audit: AuditEntry) -> Result<()> {
        let record = match &self.audit {
            Some(writer) => match writer.record(Record::Audit(audit)).await {
                Ok(done) => return done,
                Err(record) => record,
            },
            None => Record::Audit(audit),
        };
        write_alone(self, record).await
    }

    async fn audit_log(
        &self,
        roots: Option<&[ScopePath]>,
        filter: &AuditFilter,
    ) -> Result<AuditPage> {
        let mut sql = Sql::new(&format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE 1 = 1"));
        if let Some(roots) = roots {
            if roots.is_empty() {
                return Ok(AuditPage::default());
            }
            sql.push(" AND ")
                .under("scope", roots.iter().map(ScopePath::as_str));
        }
        // The walk goes down the index of the first filter given, in this order (a name
        // or an actor is rarer than an action). The others are written so that no
        // planner takes their index instead (`column || ''`): without statistics SQLite
        // would otherwise walk every record of an action to find one secret's.
        let mut indexed = false;
        let mut column = |name: &'static str| -> &'static str {
            if std::mem::replace(&mut indexed, true) {
                match name {
                    "name" => "(name || '')",
                    "actor" => "(actor || '')",
                    _ => "(action || '')",
                }
            } else {
                name
            }
        };
        for (name, value) in [("name", &filter.name), ("actor", &filter.actor)] {
            if let Some(v) = value {
                let c = column(name);
                sql.push(" AND ").push(c).push(" = ").bind(v.clone());
            }
        }
        let action = column("action");
        match filter.action.as_deref() {
            Some(prefix) if prefix.ends_with('.') => {
                sql.push(" AND ")
                    .push(action)
                    .push(" LIKE ")
                    .bind(format!("{}%", like_literal(prefix)))
                    .push(" ESCAPE '\\'");
            }
            Some(a) => {
                _ = sql
                    .push(" AND ")
                    .push(action)
                    .push(" = ")
                    .bind(a.to_owned())
            }
            None => {}
        }
        window(&mut sql, "at", filter);
        let walk = Walk::of(filter);
        walk.after(&mut sql, "at", "id");
        walk.order(&mut sql, "at", "id", filter.limit);
        walk.page(self, sql, filter.limit).await
    }

    async fn secret_access(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        filter: &AuditFilter,
    ) -> Result<AuditPage> {
        let walk = Walk::of(filter);
        // Two walks down one index each (reveals by name, dispatches by secret, joined
        // to their records by target: CROSS JOIN keeps SQLite to that order), each cut
        // at the page's length, then merged: never more rows read than two pages.
        let mut sql = Sql::new(&format!(
            "SELECT {AUDIT_COLUMNS} FROM (SELECT {AUDIT_COLUMNS} FROM audit \
             WHERE (action || '') = 'secret.reveal' AND (scope || '') = "
        ));
        sql.bind(scope.to_string())
            .push(" AND name = ")
            .bind(name.to_string());
        window(&mut sql, "at", filter);
        walk.after(&mut sql, "at", "id");
        walk.order(&mut sql, "at", "id", filter.limit);
        sql.push(
            ") r UNION ALL SELECT id, at, actor, action, scope, name, version, target, source, detail \
             FROM (SELECT a.id AS id, bs.dispatched_at AS at, a.actor AS actor, a.action AS action, \
             bs.scope AS scope, bs.name AS name, bs.version AS version, bs.brief_id AS target, \
             a.source AS source, NULL AS detail FROM brief_secrets bs CROSS JOIN audit a \
             WHERE a.target = bs.brief_id AND (a.action || '') = 'task.dispatch' AND bs.name = ",
        );
        sql.bind(name.to_string())
            .push(" AND bs.scope = ")
            .bind(scope.to_string());
        window(&mut sql, "bs.dispatched_at", filter);
        walk.after(&mut sql, "bs.dispatched_at", "a.id");
        walk.order(&mut sql, "bs.dispatched_at", "a.id", filter.limit);
        sql.push(") d");
        walk.order(&mut sql, "at", "id", filter.limit);
        walk.page(self, sql, filter.limit).await
    }
}

/// How a page walks the log's order (time, then id) from where it starts: newest first,
/// unless it is the page before a cursor (read oldest first from it, then turned round).
/// Either way one walk down an index that ends in (…, at, id).
struct Walk {
    newest_first: bool,
    from: PageFrom,
    cursor: Option<AuditCursor>,
}

impl Walk {
    fn of(filter: &AuditFilter) -> Self {
        let (newest_first, cursor) = match filter.from {
            PageFrom::Newest => (true, None),
            PageFrom::Before(c) => (true, Some(c)),
            PageFrom::After(c) => (false, Some(c)),
        };
        Walk {
            newest_first,
            from: filter.from,
            cursor,
        }
    }

    /// ` AND (at, id) < (…)`: the rows past the cursor, if there is one.
    fn after(&self, sql: &mut Sql, at: &str, id: &str) {
        if let Some(c) = self.cursor {
            let op = if self.newest_first { ") < (" } else { ") > (" };
            sql.push(" AND (").push(at).push(", ").push(id).push(op);
            sql.bind(timestamp::format(c.at))
                .push(", ")
                .bind(c.id)
                .push(")");
        }
    }

    /// ` ORDER BY at, id … LIMIT n + 1`: one row more than the page, to know whether
    /// there is a page beyond it.
    fn order(&self, sql: &mut Sql, at: &str, id: &str, limit: i64) {
        let dir = if self.newest_first { " DESC" } else { " ASC" };
        sql.push(" ORDER BY ")
            .push(at)
            .push(dir)
            .push(", ")
            .push(id)
            .push(dir);
        sql.push(" LIMIT ").bind(limit + 1);
    }

    /// Reads the rows of `sql` as one page, newest first, with its neighbours' cursors.
    async fn page(&self, store: &SqlStore, sql: Sql, limit: i64) -> Result<AuditPage> {
        let rows: Vec<AuditRow> = store
            .read(async |conn| Ok(sql.query_as()?.fetch_all(conn).await?))
            .await?;
        let mut records = rows
            .into_iter()
            .map(AuditEntry::try_from)
            .collect::<Result<Vec<_>>>()?;
        let beyond = records.len() as i64 > limit;
        records.truncate(usize::try_from(limit).unwrap_or(0));
        if !self.newest_first {
            records.reverse();
        }
        let (older, newer) = match self.from {
            PageFrom::Newest => (beyond, false),
            PageFrom::Before(_) => (beyond, true),
            PageFrom::After(_) => (true, beyond),
        };
        // Past an empty page the way back starts at the cursor itself.
        let edge = |r: Option<&AuditEntry>| r.and_then(AuditCursor::of).or(self.cursor);
        Ok(AuditPage {
            older: older.then(|| edge(records.last())).flatten(),
            newer: newer.then(|| edge(records.first())).flatten(),
            records,
        })
    }
}

/// ` AND at >= … AND at <= …`: the filter's time range on the column `at`, if it has one.
fn window(sql: &mut Sql, at: &str, filter: &AuditFilter) {
    if let Some(t) = filter.since {
        sql.push(" AND ")
            .push(at)
            .push(" >= ")
            .bind(timestamp::format(t));
    }
    if let Some(t) = filter.until {
        sql.push(" AND ")
            .push(at)
            .push(" <= ")
            .bind(timestamp::format(t));
    }
}

/// `s` as a literal inside a LIKE pattern escaped by `\`.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl HealthStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        self.read(async |conn| {
            sqlx::query("SELECT 1").execute(conn).await?;
            Ok(())
        })
        .await
    }
}
