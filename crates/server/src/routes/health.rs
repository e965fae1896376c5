//! `GET /healthz`: whether the server is up (no authentication, no database).

use crate::dto::Health;
use axum::Json;

/// Liveness: no authentication.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
