//! The agent's boot: a sealed brief's env, once, for its boot token.

use crate::AppState;
use crate::auth::{self, Client, Credential, bearer};
use crate::dto::BootDto;
use crate::error::{ApiError, ErrorBody};
use crate::routes::tasks::exposed;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secretstore_core::Error;

/// Redeems a boot token (the bearer), once: the sealed brief's env and file-delivered
/// secrets (deleted from the server as they are handed out; audited as `brief.boot`). A
/// second redemption answers 410 `already_used`, is audited as `brief.boot_replay` with
/// both addresses and revokes the brief (its callback token stops working). An unredeemed
/// token past `SECRETSTORE_BOOT_TTL` answers 410 `expired`, one whose brief ended 410
/// `ended`; any other token 401. Every failure counts toward the limit of failed
/// authentications (then 429). Answers are never cached (`Cache-Control: no-store`).
#[utoipa::path(post, path = "/api/v1/boot", tag = "briefs",
    responses((status = 200, body = BootDto),
        (status = 401, body = ErrorBody),
        (status = 410, description = "`already_used` (a replay: the brief is now revoked), `expired` or `ended`", body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("boot_token" = [])))]
pub async fn boot(
    State(st): State<AppState>,
    client: Client,
    headers: HeaderMap,
) -> Result<Json<BootDto>, ApiError> {
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing Authorization: Bearer <boot token>",
        ));
    };
    match st.svc.redeem_boot(token, &client.source).await {
        Ok(opened) => Ok(Json(BootDto {
            env: exposed(&opened.env),
            files: exposed(&opened.files),
        })),
        Err(e) => {
            if matches!(e, Error::Unauthorized(_) | Error::Gone { .. }) {
                auth::failed(&st, &client, Credential::BootToken, None).await;
            }
            Err(e.into())
        }
    }
}
