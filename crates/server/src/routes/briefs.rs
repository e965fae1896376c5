//! Briefs and the agent's callback.

use crate::AppState;
use crate::auth::{self, Caller, Client, Credential, bearer};
use crate::dto::{BriefDto, BriefRevokedDto, CallbackBody, CallbackDto, FindingDto};
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secretstore_core::{BriefStatus, CallbackStatus, Error};

/// A stored brief and its status. Never a value, never a token.
#[utoipa::path(get, path = "/api/v1/briefs/{id}", tag = "briefs",
    params(("id" = String, Path)),
    responses((status = 200, body = BriefDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<BriefDto>, ApiError> {
    let rec = st.svc.brief_status(&who, &id).await?;
    let brief = st.svc.brief(&who, &id).await?;
    Ok(Json(BriefDto::new(brief, rec)))
}

/// The agent's callback, with its callback token as the bearer: ends the brief, once —
/// `completed`, or `failed` with `{"status": "failed"}`. With `output` (at most 1 MiB),
/// what the agent produced is first searched for every value handed to the brief (in
/// every encoding); each finding marks its secret and the brief leaked, is audited as
/// `secret.leaked`, and revokes the brief's per-task credentials at once. The answer lists
/// the findings, never a value; the output is not stored. A wrong, expired or revoked
/// token, or another brief's, gets 401; a second callback with the brief's token gets 409
/// `callback_replayed` (audited as `brief.callback_replay`); past the limit of failed
/// authentications, 429.
#[utoipa::path(post, path = "/api/v1/briefs/{id}/callback", tag = "briefs",
    params(("id" = String, Path)),
    request_body(content = Option<CallbackBody>, description = "optional"),
    responses((status = 200, body = CallbackDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`callback_replayed`: the callback was already received"),
        (status = 502, body = ErrorBody, description = "a value of the brief could not be read to search the output: nothing changed, call again")),
    security(("callback_token" = [])))]
pub async fn callback(
    State(st): State<AppState>,
    client: Client,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
    req: axum::extract::Request,
) -> Result<Json<CallbackDto>, ApiError> {
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid callback token for this brief",
        ));
    };
    // The body is read after the token is looked for: without one, 401 whatever the body.
    let body =
        <AppJson<CallbackBody> as axum::extract::OptionalFromRequest<AppState>>::from_request(
            req, &st,
        )
        .await?
        .map(|AppJson(b)| b);
    let status = match body.as_ref().and_then(|b| b.status.as_deref()) {
        // `completed`: what earlier clients sent (the body was not read then).
        None | Some("succeeded" | "completed") => CallbackStatus::Succeeded,
        Some("failed") => CallbackStatus::Failed,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "status must be succeeded or failed",
            ));
        }
    };
    let output = body.as_ref().and_then(|b| b.output.as_ref());
    if let Some(o) = output {
        super::leaks::too_large(o.len())?;
    }
    match st
        .svc
        .callback_with(
            &id,
            token,
            &client.source,
            status,
            output.map(|o| o.as_bytes()),
        )
        .await
    {
        Ok(report) => {
            st.metrics.leaks("callback", &report.findings);
            Ok(Json(CallbackDto {
                brief_id: id,
                status: match status {
                    CallbackStatus::Succeeded => BriefStatus::Completed,
                    CallbackStatus::Failed => BriefStatus::Failed,
                }
                .to_string(),
                findings: report.findings.into_iter().map(FindingDto::from).collect(),
                skipped: report.skipped,
            }))
        }
        Err(Error::Conflict(m)) => Err(ApiError::new(StatusCode::CONFLICT, "callback_replayed", m)),
        Err(e) => {
            if matches!(e, Error::Unauthorized(_)) {
                auth::failed(&st, &client, Credential::CallbackToken, Some(&id)).await;
            }
            Err(e.into())
        }
    }
}

/// Revokes a brief: its callback token stops working at once (a callback gets 401) and the
/// brief shows `revoked`. For whoever may dispatch in its project (audited as
/// `brief.revoke`). A brief that is no longer running (completed, or already revoked) is
/// left as it is: 200 with its status and `changed: false`.
#[utoipa::path(post, path = "/api/v1/briefs/{id}/revoke", tag = "briefs",
    params(("id" = String, Path)),
    responses((status = 200, body = BriefRevokedDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<BriefRevokedDto>, ApiError> {
    let (rec, changed) = st.svc.revoke_brief(&who, &id).await?;
    Ok(Json(BriefRevokedDto {
        brief_id: rec.brief_id.to_string(),
        status: rec.status.to_string(),
        changed,
    }))
}
