//! Leak detection (issue #17): any text searched for the values the caller may reveal, a
//! brief's transcripts and artifacts searched for the values handed to it, and the
//! secrets whose rotation is due. Findings name a secret, never a value; the text is not
//! stored.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{DueDto, DueList, ScanBody, ScanDto};
use crate::error::{ApiError, AppJson, AppPath, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// Searches `text` for every value the caller may reveal (current and earlier versions),
/// in every encoding the product knows (exact, base64 and base64url at any alignment, hex
/// in either case, URL-encoded, JSON-escaped; each line of a multi-line value). A member
/// never learns that another team's value is in the text. Nothing is marked: audited as
/// `scan` with the counts.
#[utoipa::path(post, path = "/api/v1/scan", tag = "leaks",
    request_body = ScanBody,
    responses((status = 200, body = ScanDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "a value could not be read: the scan did not run")),
    security(("bearer" = [])))]
pub async fn scan(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppJson(body): AppJson<ScanBody>,
) -> Result<Json<ScanDto>, ApiError> {
    too_large(body.text.len())?;
    let report = st.svc.scan_text(&who, body.text.as_bytes()).await?;
    st.metrics.leaks("scan", &report.findings);
    Ok(Json(report.into()))
}

/// Searches what a brief's agent produced (a transcript, an artifact) for the values
/// handed to that brief, by whoever may dispatch in its project, also after the brief
/// ended. On a finding, as at the callback: the secret is marked leaked (until a new
/// version), `secret.leaked` audited, the brief marked leaked, its per-task credentials
/// revoked.
#[utoipa::path(post, path = "/api/v1/briefs/{id}/scan", tag = "leaks",
    params(("id" = String, Path)),
    request_body = ScanBody,
    responses((status = 200, body = ScanDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "a value could not be read: the scan did not run")),
    security(("bearer" = [])))]
pub async fn scan_brief(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<ScanBody>,
) -> Result<Json<ScanDto>, ApiError> {
    too_large(body.text.len())?;
    let report = st.svc.scan_brief(&who, &id, body.text.as_bytes()).await?;
    st.metrics.leaks("brief_scan", &report.findings);
    Ok(Json(report.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
/// `?scope=`, optional.
pub struct DueQuery {
    /// Only the secrets kept at this scope or below.
    pub scope: Option<String>,
}

/// The secrets the caller may see whose rotation is due: past their maximum age (their
/// own `rotate_every`, else their category's policy at their scope or above), or marked
/// leaked; oldest first.
#[utoipa::path(get, path = "/api/v1/due", tag = "leaks",
    params(DueQuery),
    responses((status = 200, body = DueList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn due(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppQuery(q): AppQuery<DueQuery>,
) -> Result<Json<DueList>, ApiError> {
    let due = st.svc.due_secrets(&who, q.scope.as_deref()).await?;
    Ok(Json(DueList {
        due: due.into_iter().map(DueDto::from).collect(),
    }))
}

/// 413 for a text to scan over 1 MiB (the body's own limit is larger: JSON escapes).
pub(crate) fn too_large(len: usize) -> Result<(), ApiError> {
    if len > secretstore_core::MAX_SCAN_TEXT_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the text to scan is {len} bytes: at most {} (1 MiB) per request",
                secretstore_core::MAX_SCAN_TEXT_BYTES
            ),
        ));
    }
    Ok(())
}
