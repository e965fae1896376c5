//! Briefs and the agent's callback.

use crate::AppState;
use crate::auth::{self, Caller, Client, Credential, bearer};
use crate::dto::{BriefDto, CallbackDto};
use crate::error::{ApiError, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// A stored brief and its status. Never a value, never a token.
#[utoipa::path(get, path = "/api/v1/briefs/{id}", tag = "briefs",
    params(("id" = String, Path)),
    responses((status = 200, body = BriefDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(st): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<BriefDto>, ApiError> {
    let rec = st.svc.brief_status(&caller.0, &id).await?;
    let brief = st.svc.brief(&caller.0, &id).await?;
    Ok(Json(BriefDto::new(brief, rec)))
}

/// The agent's callback, with its callback token as the bearer: marks the brief completed.
/// A wrong, expired or revoked token, or another brief's, gets 401; past the limit of
/// failed authentications, 429.
#[utoipa::path(post, path = "/api/v1/briefs/{id}/callback", tag = "briefs",
    params(("id" = String, Path)),
    responses((status = 200, body = CallbackDto), (status = 401, body = ErrorBody)),
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
    if let Err(e) = st.svc.callback(&id, token, &client.source).await {
        if matches!(e, secretstore_core::Error::Unauthorized(_)) {
            auth::failed(&st, &client, Credential::CallbackToken, Some(&id)).await;
        }
        return Err(e.into());
    }
    Ok(Json(CallbackDto {
        brief_id: id,
        status: "completed".into(),
    }))
}
