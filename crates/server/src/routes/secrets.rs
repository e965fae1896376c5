//! Secrets: write, read metadata, reveal, history, roll back, delete.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{
    self, LinkSecret, PutGenerator, PutSecret, Rollback, SecretDto, SecretList, ValueDto,
    VersionDto, VersionList,
};
use crate::error::{ApiError, AppJson, AppPath, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secretstore_core::{
    BackendKind, Category, Delivery, Error, Principal, SecretAttrs, SecretValue,
};
use serde::Deserialize;
use std::str::FromStr;
use zeroize::Zeroizing;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?scope=PATH`: the scope of the secret named.
pub struct ScopeParam {
    /// The organization, team or workspace path.
    pub scope: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?scope=PATH&name=PATTERN`, both optional: one scope's secrets, or every visible one;
/// all of them, or those whose name matches.
pub struct OptionalScope {
    /// Only this scope; without it, every scope the caller may see.
    pub scope: Option<String>,
    /// Only secrets whose name holds this (`stripe` finds `STRIPE_KEY` and `OLD_STRIPE`),
    /// or matches it whole with `*` for any run of characters (`STRIPE_*`); either case.
    #[param(min_length = 1, max_length = 256)]
    pub name: Option<String>,
    /// With `name`: at most this many (default and most: 1000), ordered by name, then scope.
    pub limit: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?scope=PATH[&version=N]`: the value to reveal.
pub struct ValueParams {
    /// The organization, team or workspace path.
    pub scope: String,
    /// An earlier version (default: the current one).
    pub version: Option<i64>,
}

/// The answer to a write: the secret's metadata with the version this write made (a
/// concurrent writer may already have made a newer one).
async fn written(
    st: &AppState,
    who: &Principal,
    scope: &str,
    name: &str,
    version: i64,
) -> Result<Json<SecretDto>, ApiError> {
    let mut dto: SecretDto = st.svc.metadata(who, scope, name).await?.into();
    dto.version = version;
    Ok(Json(dto))
}

/// Writes a new version of a secret (creating it at version 1).
#[utoipa::path(put, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The environment variable name"), ScopeParam),
    request_body = PutSecret,
    responses(
        (status = 200, description = "The new version's metadata", body = SecretDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "expected_version is stale", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, description = "`not_configured`: the backend it needs is not configured on this server", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
    AppJson(body): AppJson<PutSecret>,
) -> Result<Json<SecretDto>, ApiError> {
    let category = body
        .category
        .as_deref()
        .map(Category::from_str)
        .transpose()?;
    let delivery = body
        .delivery
        .as_deref()
        .map(Delivery::from_str)
        .transpose()?;
    let value = SecretValue::new(body.value.as_str().to_owned())?;
    let version = st
        .svc
        .write_secret(
            &who,
            &q.scope,
            &name,
            &value,
            SecretAttrs {
                category,
                delivery,
                rotate_every_secs: None,
            },
            dto::expected(body.expected_version),
        )
        .await?;
    written(&st, &who, &q.scope, &name, version).await
}

/// Defines a generator (or a new version of one): a secret whose value is minted for each
/// dispatch (a PostgreSQL role, an AWS STS session) and revoked when the task ends. Needs
/// the right to write at the scope and, for postgres, to read the value of its admin ref
/// (as it resolves from the scope's chain now). A stored secret of that name at the scope
/// is not turned into a generator (409). Audited as `secret.generator`.
#[utoipa::path(put, path = "/api/v1/secrets/{name}/generator", tag = "secrets",
    params(("name" = String, Path, description = "The environment variable name"), ScopeParam),
    request_body = PutGenerator,
    responses(
        (status = 200, description = "The new version's metadata", body = SecretDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "A stored secret of that name, or expected_version is stale", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, description = "`not_configured`: the admin ref's backend is not configured on this server", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_generator(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
    AppJson(body): AppJson<PutGenerator>,
) -> Result<Json<SecretDto>, ApiError> {
    let spec = body.spec()?;
    let category = body
        .category
        .as_deref()
        .map(Category::from_str)
        .transpose()?;
    let delivery = body
        .delivery
        .as_deref()
        .map(Delivery::from_str)
        .transpose()?;
    let version = st
        .svc
        .define_generator(
            &who,
            &q.scope,
            &name,
            spec,
            category,
            delivery,
            dto::expected(body.expected_version),
        )
        .await?;
    written(&st, &who, &q.scope, &name, version).await
}

/// The metadata of the secrets the caller may see (at one scope, or everywhere).
#[utoipa::path(get, path = "/api/v1/secrets", tag = "secrets",
    params(OptionalScope),
    responses((status = 200, body = SecretList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppQuery(q): AppQuery<OptionalScope>,
) -> Result<Json<SecretList>, ApiError> {
    let metas = match (q.scope, q.name) {
        (scope, Some(name)) => {
            st.svc
                .find_secrets(&who, scope.as_deref(), &name, q.limit)
                .await?
        }
        (_, None) if q.limit.is_some() => {
            return Err(Error::Invalid("limit goes with name=PATTERN".into()).into());
        }
        (Some(scope), None) => st.svc.list(&who, &scope).await?,
        (None, None) => st.svc.list_visible(&who).await?,
    };
    Ok(Json(SecretList {
        secrets: metas.into_iter().map(SecretDto::from).collect(),
    }))
}

/// The metadata of one secret.
#[utoipa::path(get, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path), ScopeParam),
    responses((status = 200, body = SecretDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
) -> Result<Json<SecretDto>, ApiError> {
    Ok(Json(st.svc.metadata(&who, &q.scope, &name).await?.into()))
}

/// Reveals a value (audited). Dispatchers get 403: they see values only through a dispatch.
#[utoipa::path(get, path = "/api/v1/secrets/{name}/value", tag = "secrets",
    params(("name" = String, Path), ValueParams),
    responses((status = 200, body = ValueDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, description = "`not_configured`: the backend it needs is not configured on this server", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn value(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ValueParams>,
) -> Result<Json<ValueDto>, ApiError> {
    let (value, version) = st.svc.reveal(&who, &q.scope, &name, q.version).await?;
    Ok(Json(ValueDto {
        value: Zeroizing::new(value.expose_secret().to_owned()),
        version,
    }))
}

/// Every version of a secret, newest first.
#[utoipa::path(get, path = "/api/v1/secrets/{name}/versions", tag = "secrets",
    params(("name" = String, Path), ScopeParam),
    responses((status = 200, body = VersionList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn versions(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
) -> Result<Json<VersionList>, ApiError> {
    let v = st.svc.history(&who, &q.scope, &name).await?;
    Ok(Json(VersionList {
        versions: v.into_iter().map(VersionDto::from).collect(),
    }))
}

/// Writes a new version holding an earlier version's value.
#[utoipa::path(post, path = "/api/v1/secrets/{name}/rollback", tag = "secrets",
    params(("name" = String, Path), ScopeParam),
    request_body = Rollback,
    responses((status = 200, body = SecretDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, description = "`not_configured`: the backend it needs is not configured on this server", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rollback(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
    AppJson(body): AppJson<Rollback>,
) -> Result<Json<SecretDto>, ApiError> {
    let version = st.svc.rollback(&who, &q.scope, &name, body.to).await?;
    written(&st, &who, &q.scope, &name, version).await
}

/// Registers a secret that already lives in AWS Secrets Manager or Vault: only the
/// reference is stored; no value passes through secretstore.
#[utoipa::path(post, path = "/api/v1/secrets/{name}/link", tag = "secrets",
    params(("name" = String, Path), ScopeParam),
    request_body = LinkSecret,
    responses((status = 200, body = SecretDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, description = "`not_configured`: the backend it needs is not configured on this server", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn link(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
    AppJson(body): AppJson<LinkSecret>,
) -> Result<Json<SecretDto>, ApiError> {
    let (kind, reference) = match (body.aws_arn, body.vault_path) {
        (Some(arn), None) => (BackendKind::AwsSm, arn),
        (None, Some(path)) => (BackendKind::Vault, path),
        _ => {
            return Err(Error::Invalid("give exactly one of aws_arn and vault_path".into()).into());
        }
    };
    let category = body
        .category
        .as_deref()
        .map(Category::from_str)
        .transpose()?;
    let delivery = body
        .delivery
        .as_deref()
        .map(Delivery::from_str)
        .transpose()?;
    let version = st
        .svc
        .link_secret(
            &who,
            &q.scope,
            &name,
            kind,
            &reference,
            SecretAttrs {
                category,
                delivery,
                rotate_every_secs: None,
            },
        )
        .await?;
    written(&st, &who, &q.scope, &name, version).await
}

/// Deletes a secret and its history.
#[utoipa::path(delete, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path), ScopeParam),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<ScopeParam>,
) -> Result<StatusCode, ApiError> {
    st.svc.delete(&who, &q.scope, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
