//! Organizations, teams, workspaces and projects.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{LinkPrefixesDto, OrgPolicyDto, ScopeDto, ScopeList};
use crate::error::{ApiError, AppJson, AppPath, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secretstore_core::{Error, Level, Principal};

async fn create(
    st: &AppState,
    who: &Principal,
    path: String,
    level: Level,
) -> Result<(StatusCode, Json<ScopeDto>), ApiError> {
    // PUT is idempotent: an existing scope answers 200, a new one 201.
    let status = match st.svc.create_scope(who, &path, level).await {
        Ok(_) => StatusCode::CREATED,
        Err(Error::AlreadyExists(_)) => StatusCode::OK,
        Err(e) => return Err(e.into()),
    };
    Ok((
        status,
        Json(ScopeDto {
            path,
            level: level.as_str().into(),
        }),
    ))
}

/// Creates an organization (root only).
#[utoipa::path(put, path = "/api/v1/orgs/{org}", tag = "scopes",
    params(("org" = String, Path)),
    responses(
        (status = 201, description = "Created", body = ScopeDto),
        (status = 200, description = "Already existed", body = ScopeDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_org(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(org): AppPath<String>,
) -> Result<(StatusCode, Json<ScopeDto>), ApiError> {
    create(&st, &who, org, Level::Organization).await
}

/// The backend references the organization's admins and members may link (root, and
/// the organization's admins).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/link-prefixes", tag = "scopes",
    params(("org" = String, Path)),
    responses(
        (status = 200, body = LinkPrefixesDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_link_prefixes(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(org): AppPath<String>,
) -> Result<Json<LinkPrefixesDto>, ApiError> {
    Ok(Json(st.svc.link_prefixes(&who, &org).await?.into()))
}

/// Replaces the backend references the organization may link (root only; audited as
/// `org.allow_links`). Empty lists: only root links.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/link-prefixes", tag = "scopes",
    params(("org" = String, Path)),
    request_body = LinkPrefixesDto,
    responses(
        (status = 200, description = "The lists as stored (normalised)", body = LinkPrefixesDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_link_prefixes(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<LinkPrefixesDto>,
) -> Result<Json<LinkPrefixesDto>, ApiError> {
    let stored = st
        .svc
        .allow_links(&who, &org, &body.aws_prefixes, &body.vault_prefixes)
        .await?;
    Ok(Json(stored.into()))
}

/// Whether the organization requires sealed delivery (for anyone who sees it).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/policy", tag = "scopes",
    params(("org" = String, Path)),
    responses((status = 200, body = OrgPolicyDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_policy(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(org): AppPath<String>,
) -> Result<Json<OrgPolicyDto>, ApiError> {
    Ok(Json(OrgPolicyDto {
        sealed_only: st.svc.sealed_only(&who, &org).await?,
    }))
}

/// Sets whether the organization requires sealed delivery (its admins and root; audited as
/// `org.policy`). While it does, a dispatch that would answer with the env is refused
/// (403).
#[utoipa::path(put, path = "/api/v1/orgs/{org}/policy", tag = "scopes",
    params(("org" = String, Path)),
    request_body = OrgPolicyDto,
    responses((status = 200, body = OrgPolicyDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_policy(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<OrgPolicyDto>,
) -> Result<Json<OrgPolicyDto>, ApiError> {
    Ok(Json(OrgPolicyDto {
        sealed_only: st.svc.set_sealed_only(&who, &org, body.sealed_only).await?,
    }))
}

/// Creates a team (root, or an admin of the organization).
#[utoipa::path(put, path = "/api/v1/teams/{org}/{team}", tag = "scopes",
    params(("org" = String, Path), ("team" = String, Path)),
    responses(
        (status = 201, description = "Created", body = ScopeDto),
        (status = 200, description = "Already existed", body = ScopeDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_team(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath((org, team)): AppPath<(String, String)>,
) -> Result<(StatusCode, Json<ScopeDto>), ApiError> {
    create(&st, &who, format!("{org}/{team}"), Level::Team).await
}

/// Creates a workspace (root, the organization's admin, or a member of the team).
#[utoipa::path(put, path = "/api/v1/workspaces/{org}/{team}/{workspace}", tag = "scopes",
    params(("org" = String, Path), ("team" = String, Path), ("workspace" = String, Path)),
    responses(
        (status = 201, description = "Created", body = ScopeDto),
        (status = 200, description = "Already existed", body = ScopeDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_workspace(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath((org, team, ws)): AppPath<(String, String, String)>,
) -> Result<(StatusCode, Json<ScopeDto>), ApiError> {
    create(&st, &who, format!("{org}/{team}/{ws}"), Level::Workspace).await
}

/// Creates a project (root, the organization's admin, or a member of the team).
#[utoipa::path(put, path = "/api/v1/projects/{org}/{team}/{workspace}/{project}", tag = "scopes",
    params(("org" = String, Path), ("team" = String, Path), ("workspace" = String, Path),
        ("project" = String, Path)),
    responses(
        (status = 201, description = "Created", body = ScopeDto),
        (status = 200, description = "Already existed", body = ScopeDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_project(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath((org, team, ws, project)): AppPath<(String, String, String, String)>,
) -> Result<(StatusCode, Json<ScopeDto>), ApiError> {
    create(
        &st,
        &who,
        format!("{org}/{team}/{ws}/{project}"),
        Level::Project,
    )
    .await
}

/// The scopes the caller may see.
#[utoipa::path(get, path = "/api/v1/scopes", tag = "scopes",
    responses((status = 200, body = ScopeList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<ScopeList>, ApiError> {
    let scopes = st.svc.scopes(&who).await?;
    Ok(Json(ScopeList {
        scopes: scopes
            .into_iter()
            .map(|s| ScopeDto {
                level: s.level().as_str().into(),
                path: s.to_string(),
            })
            .collect(),
    }))
}
