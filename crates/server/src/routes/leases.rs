//! Leases: the per-task credentials minted at dispatch, listed and revoked. Never a
//! credential: a lease names the role or session, the brief and the generator.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{LeaseDto, LeaseList, LeaseRevokedDto, LeasesRevokedDto};
use crate::error::{ApiError, AppPath, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// How many leases a list holds unless told otherwise.
const DEFAULT_LIMIT: i64 = 100;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?project=&brief=&open=&limit=`, all optional.
pub struct LeaseQuery {
    /// Only the leases of tasks at or under this scope.
    pub project: Option<String>,
    /// Only the leases of this brief.
    pub brief: Option<String>,
    /// `true`: only the leases not revoked yet.
    pub open: Option<bool>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// The leases the caller may see (those of the projects where it may dispatch), newest
/// first.
#[utoipa::path(get, path = "/api/v1/leases", tag = "leases",
    params(LeaseQuery),
    responses((status = 200, body = LeaseList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppQuery(q): AppQuery<LeaseQuery>,
) -> Result<Json<LeaseList>, ApiError> {
    let leases = st
        .svc
        .leases(
            &who,
            q.project.as_deref(),
            q.brief.as_deref(),
            q.open.unwrap_or(false),
            q.limit.unwrap_or(DEFAULT_LIMIT),
        )
        .await?;
    Ok(Json(LeaseList {
        leases: leases.into_iter().map(LeaseDto::from).collect(),
    }))
}

/// One lease, for whoever may dispatch in its project (others: 404, as if missing).
#[utoipa::path(get, path = "/api/v1/leases/{id}", tag = "leases",
    params(("id" = String, Path)),
    responses((status = 200, body = LeaseDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<LeaseDto>, ApiError> {
    Ok(Json(st.svc.lease(&who, &id).await?.into()))
}

/// Revokes one lease now, with its provider (audited as `lease.revoke`): for whoever may
/// dispatch in its project. A lease that had ended is left as it is (`revoked: false`); a
/// provider that fails leaves it `revoking`, with the error, for the sweeper to retry.
#[utoipa::path(delete, path = "/api/v1/leases/{id}", tag = "leases",
    params(("id" = String, Path)),
    responses((status = 200, body = LeaseRevokedDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<LeaseRevokedDto>, ApiError> {
    let (lease, ended) = st.svc.revoke_lease(&who, &id).await?;
    let revoked = ended.revoked.contains(&lease.id);
    let error = ended
        .failed
        .into_iter()
        .find(|(l, _)| *l == lease.id)
        .map(|(_, e)| e);
    Ok(Json(LeaseRevokedDto {
        lease: lease.into(),
        revoked,
        error,
    }))
}

/// Revokes every lease of a brief now, whether or not the brief still runs: for whoever
/// may dispatch in its project. The brief itself keeps running (`POST
/// /api/v1/briefs/{id}/revoke` ends it, and its leases with it).
#[utoipa::path(post, path = "/api/v1/briefs/{id}/leases/revoke", tag = "leases",
    params(("id" = String, Path)),
    responses((status = 200, body = LeasesRevokedDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_brief(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<LeasesRevokedDto>, ApiError> {
    Ok(Json(st.svc.revoke_brief_leases(&who, &id).await?.into()))
}
