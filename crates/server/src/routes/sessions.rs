//! Web UI sessions: root lists and ends any; everyone else their own.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{SessionDto, SessionList};
use crate::error::{ApiError, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

/// The live web UI sessions: root sees every account's, anyone else only their own. A
/// session's `id` is public: it is not the cookie's secret and cannot sign anyone in.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<SessionList>, ApiError> {
    let sessions = st.svc.sessions(&who).await?;
    Ok(Json(SessionList {
        sessions: sessions.into_iter().map(SessionDto::from).collect(),
    }))
}

/// Ends a web UI session at once (audited as `session.end`). Root ends any; anyone else
/// only their own: another account's session answers 404, exactly as a missing one.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "the session's public id")),
    responses((status = 204, description = "Ended"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn end(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.end_session(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
