//! The audit log.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{AuditDto, AuditList};
use crate::error::{ApiError, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?scope=PATH&limit=N`: which audit records.
pub struct AuditParams {
    /// Only records at or under this scope.
    pub scope: Option<String>,
    /// At most this many of the newest records (default 1000, at most 10,000).
    pub limit: Option<i64>,
}

/// The audit log the caller may read, oldest first: root everything, an admin its
/// organization, a member its team; dispatchers get 403.
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
    let log = st
        .svc
        .audit_log(&who, q.scope.as_deref(), q.limit.unwrap_or(1000))
        .await?;
    Ok(Json(AuditList {
        records: log.into_iter().map(AuditDto::from).collect(),
    }))
}
