//! Accounts, grants and API tokens (root only), and `whoami`.

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{
    AccountDto, AccountList, CreateAccount, GrantBody, NewToken, RoleDto, TokenDto, TokenList,
    WhoAmI,
};
use crate::error::{ApiError, AppJson, AppPath, AppQuery, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secretstore_core::{AccountKind, Role};
use zeroize::Zeroizing;

/// Who the token belongs to, and its roles.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "accounts",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn whoami(Caller(who): Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        account: who.account.clone(),
        roles: who.roles.iter().map(RoleDto::from).collect(),
    })
}

/// Creates an account for a person or a service.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts",
    request_body = CreateAccount,
    responses((status = 201, body = AccountDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppJson(body): AppJson<CreateAccount>,
) -> Result<(StatusCode, Json<AccountDto>), ApiError> {
    let kind = AccountKind::parse(body.kind.as_deref().unwrap_or("person"))?;
    let a = st.svc.create_account(&who, &body.name, kind).await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

/// Every account with its roles.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    responses((status = 200, body = AccountList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(st): State<AppState>,
    Caller(who): Caller,
) -> Result<Json<AccountList>, ApiError> {
    let accounts = st.svc.accounts(&who).await?;
    Ok(Json(AccountList {
        accounts: accounts.into_iter().map(AccountDto::from).collect(),
    }))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{name}", tag = "accounts",
    params(("name" = String, Path)),
    responses((status = 200, body = AccountDto), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
) -> Result<Json<AccountDto>, ApiError> {
    Ok(Json(st.svc.account(&who, &name).await?.into()))
}

/// Grants a role: `root`; `admin ORG`; `member ORG/TEAM`; `dispatcher ORG`.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/grants", tag = "accounts",
    params(("name" = String, Path)),
    request_body = GrantBody,
    responses((status = 200, body = AccountDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn grant(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppJson(body): AppJson<GrantBody>,
) -> Result<Json<AccountDto>, ApiError> {
    let role = Role::parse(&body.role, body.scope.as_deref())?;
    Ok(Json(st.svc.grant(&who, &name, &role).await?.into()))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
/// `?role=ROLE[&scope=PATH]`: the role to take away.
pub struct RoleParams {
    /// `root`, `admin`, `member` or `dispatcher`.
    pub role: String,
    /// `ORG` for admin and dispatcher, `ORG/TEAM` for member, none for root.
    pub scope: Option<String>,
}

/// Takes a role away.
#[utoipa::path(delete, path = "/api/v1/accounts/{name}/grants", tag = "accounts",
    params(("name" = String, Path), RoleParams),
    responses((status = 200, body = AccountDto), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_grant(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<RoleParams>,
) -> Result<Json<AccountDto>, ApiError> {
    let role = Role::parse(&q.role, q.scope.as_deref())?;
    Ok(Json(st.svc.revoke_grant(&who, &name, &role).await?.into()))
}

/// Issues an API token for an account. The token is in this answer only.
#[utoipa::path(post, path = "/api/v1/accounts/{name}/tokens", tag = "accounts",
    params(("name" = String, Path)),
    responses((status = 201, body = NewToken), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let (info, token) = st.svc.create_token(&who, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            id: info.id,
            account: info.account,
            created_at: secretstore_core::timestamp::format(info.created_at),
            token: Zeroizing::new(token.expose_secret().to_owned()),
        }),
    ))
}

/// An account's tokens (ids and dates, never the tokens).
#[utoipa::path(get, path = "/api/v1/accounts/{name}/tokens", tag = "accounts",
    params(("name" = String, Path)),
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(name): AppPath<String>,
) -> Result<Json<TokenList>, ApiError> {
    let t = st.svc.tokens(&who, &name).await?;
    Ok(Json(TokenList {
        tokens: t.into_iter().map(TokenDto::from).collect(),
    }))
}

/// Revokes an API token: it answers 401 from now on.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts",
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(st): State<AppState>,
    Caller(who): Caller,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    st.svc.revoke_token(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
