//! Briefs and the agent's callback.

use crate::AppState;
use crate::auth::{self, Caller, Client, Credential, bearer};
use crate::dto::{BriefDto, BriefRevokedDto, CallbackDto};
use crate::error::{ApiError, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secretstore_core::{BriefStatus, Error};

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

/// The agent's callback, with its callback token as the bearer: marks the brief completed,
/// once. A wrong, expired or revoked token, or another brief's, gets 401; a second callback
/// with the brief's token gets 409 `callback_replayed` (audited as `brief.callback_replay`);
/// past the limit of failed authentications, 429.
#[utoipa::path(post, path = "/api/v1/briefs/{id}/callback", tag = "briefs",
    params(("id" = String, Path)),
    responses((status = 200, body = CallbackDto), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`callback_replayed`: the callback was already received")),
    security(("callback_token" = [])))]
pub async fn callback(
    State(st): State<AppState>,
    client: Client,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
) -> Result<Json<CallbackDto>, ApiError> {
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid callback token for this brief",
        ));
    };
    match st.svc.callback(&id, token, &client.source).await {
        Ok(()) => Ok(Json(CallbackDto {
            brief_id: id,
            status: BriefStatus::Completed.to_string(),
        })),
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
