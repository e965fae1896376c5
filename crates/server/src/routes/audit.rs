//! The audit log, and who was handed a secret.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{AuditDto, AuditList};
use crate::error::{ApiError, AppPath, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use secretstore_core::Result;
use secretstore_core::audit::{self, AuditFilter, AuditPage, MAX_PAGE, PageFrom};
use secretstore_core::timestamp::OffsetDateTime;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// Which audit records: every filter given must hold.
pub struct AuditParams {
    /// Only records at or under this scope.
    pub scope: Option<String>,
    /// Only records about a secret of this name.
    pub name: Option<String>,
    /// Only records by this actor (an account, `cli:<os user>`, `anonymous`).
    pub actor: Option<String>,
    /// Only this action (`secret.reveal`), or every action under a prefix ending in a dot
    /// (`secret.`).
    pub action: Option<String>,
    /// Only records at or after: `2026-11-29T14:00:00Z`, `2026-11-29`, or an age (`15m`,
    /// `24h`, `7d`).
    pub since: Option<String>,
    /// Only records at or before, spelled as `since`.
    pub until: Option<String>,
    /// A page's `next_cursor` or `prev_cursor`, as it was given.
    pub cursor: Option<String>,
    /// At most this many records (default and most: 1000).
    pub limit: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?scope=PATH[&since=T][&until=T][&cursor=C][&limit=N]`: the secret, and which page.
pub struct AccessParams {
    /// The scope the secret lives in.
    pub scope: String,
    /// Only accesses at or after: `2026-11-29T14:00:00Z`, `2026-11-29`, or an age (`15m`,
    /// `24h`, `7d`).
    pub since: Option<String>,
    /// Only accesses at or before, spelled as `since`.
    pub until: Option<String>,
    /// A page's `next_cursor` or `prev_cursor`, as it was given.
    pub cursor: Option<String>,
    /// At most this many records (default and most: 1000).
    pub limit: Option<i64>,
}

/// Where a page starts and how long it is, from a query's `cursor` and `limit`.
fn page(cursor: Option<&str>, limit: Option<i64>) -> Result<AuditFilter> {
    Ok(AuditFilter {
        from: match cursor {
            Some("") => return Err(empty("cursor")),
            Some(c) => PageFrom::parse_cursor(c)?,
            None => PageFrom::Newest,
        },
        limit: limit.unwrap_or(MAX_PAGE),
        ..AuditFilter::default()
    })
}

/// An empty query value over the API is a mistake in the request, not "any".
fn empty(what: &str) -> secretstore_core::Error {
    secretstore_core::Error::Invalid(format!("{what} is empty; leave it out instead"))
}

fn time(what: &str, s: Option<&str>) -> Result<Option<OffsetDateTime>> {
    match s {
        Some("") => Err(empty(what)),
        s => s.map(audit::parse_time_bound).transpose(),
    }
}

fn list_of(p: AuditPage) -> AuditList {
    AuditList {
        next_cursor: p.next_cursor(),
        prev_cursor: p.prev_cursor(),
        records: p.records.into_iter().map(AuditDto::from).collect(),
    }
}

/// The audit log the caller may read, newest first, a page at a time: root everything,
/// an admin its organization, a member its team; dispatchers get 403.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditParams),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppQuery(q): AppQuery<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    let filter = AuditFilter {
        scope: q.scope,
        name: q.name,
        actor: q.actor,
        action: q.action,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        ..page(q.cursor.as_deref(), q.limit)?
    };
    Ok(Json(list_of(st.svc.audit_log(&who, filter).await?)))
}

/// Who was handed a secret's value, newest first, a page at a time: its reveals
/// (`secret.reveal`) and the dispatches that handed it out (`task.dispatch`, with the
/// version handed out and the brief as `target`). For whoever may read the audit log of
/// its scope.
#[utoipa::path(get, path = "/api/v1/secrets/{name}/access", tag = "audit",
    params(("name" = String, Path), AccessParams),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn access(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<AccessParams>,
) -> Result<Json<AuditList>, ApiError> {
    let filter = AuditFilter {
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        ..page(q.cursor.as_deref(), q.limit)?
    };
    let p = st.svc.secret_access(&who, &q.scope, &name, filter).await?;
    Ok(Json(list_of(p)))
}
