//! `GET /healthz`: whether the server is up (no authentication, no database).
//! `GET /readyz`: whether it can serve requests: the database answers (no authentication).

use crate::AppState;
use crate::dto::{Health, Ready};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::State;
use std::time::Duration;

/// How long `/readyz` waits for the database's answer before it says "not ready".
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: no authentication.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness, for load balancers and Kubernetes probes: one round trip to the database
/// within 2 s. Value backends are not checked (a frozen backend fails only the dispatches
/// that need it). No authentication; the answer names the dependency that is down,
/// never an address, a password or a value.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready: the database answers", body = Ready),
        (status = 503, description = "Not ready: `database_unavailable`", body = ErrorBody),
    ))]
pub async fn readyz(State(st): State<AppState>) -> Result<Json<Ready>, ApiError> {
    let answer = match tokio::time::timeout(READY_TIMEOUT, st.svc.ready()).await {
        Ok(answer) => answer,
        Err(_) => Err(secretstore_core::Error::DatabaseUnavailable(
            format!(
                "no answer to the readiness check within {} s",
                READY_TIMEOUT.as_secs()
            )
            .into(),
        )),
    };
    answer?;
    Ok(Json(Ready {
        status: "ready".into(),
        database: "ok".into(),
    }))
}
