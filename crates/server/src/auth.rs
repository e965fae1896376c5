//! Authentication: `Authorization: Bearer <api token>` → the caller. Authorization is
//! decided by the service for every operation (`secretstore_core::authz`), so no route can
//! forget it.

use crate::AppState;
use crate::error::ApiError;
use crate::limit::{ClientKey, Failure};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use secretstore_core::Principal;
use std::net::{IpAddr, SocketAddr};

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Where a request came from: the peer's address.
pub fn source(parts: &Parts) -> String {
    client(parts).source
}

/// The client of a request: its address (when known), as audit records show it and as
/// the brute-force limiter counts it.
#[derive(Clone, Debug)]
pub struct Client {
    pub ip: Option<IpAddr>,
    pub source: String,
    pub key: ClientKey,
}

/// The client of a request.
pub fn client(parts: &Parts) -> Client {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    Client {
        ip,
        source: ip.map_or_else(|| "unknown".into(), |ip| ip.to_string()),
        key: ClientKey::of(ip),
    }
}

/// What a failed authentication tried, for its audit record.
#[derive(Clone, Copy, Debug)]
pub enum Credential {
    ApiToken,
    SessionSignIn,
    CallbackToken,
}

impl Credential {
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::ApiToken => "api_token",
            Credential::SessionSignIn => "session_sign_in",
            Credential::CallbackToken => "callback_token",
        }
    }
}

/// The client of a request, or `Err(Retry-After seconds)` while it is locked out after
/// too many failed authentications. Every authenticating route calls it first.
pub fn admit(parts: &Parts, st: &AppState) -> Result<Client, u64> {
    let c = client(parts);
    st.limiter.check(c.key)?;
    Ok(c)
}

/// Counts and audits one failed authentication of `client` (never the token). An audit
/// that cannot be written is logged; the answer stays the same.
pub async fn failed(st: &AppState, client: &Client, what: Credential, brief: Option<&str>) {
    let lockout = match st.limiter.fail(client.key) {
        Failure::LockedOut => Some(st.limiter.limits().lockout.as_secs()),
        Failure::Counted => None,
    };
    if lockout.is_some() {
        tracing::warn!(
            source = %client.source,
            credential = what.as_str(),
            "too many failed authentications: locked out"
        );
    }
    if let Err(e) = st
        .svc
        .audit_auth_failure(&client.source, what.as_str(), brief, lockout)
        .await
    {
        tracing::error!(error = %e, "cannot audit a failed authentication");
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing Authorization: Bearer <api token>",
            ));
        };
        let client = admit(parts, state).map_err(ApiError::too_many_requests)?;
        match state.svc.authenticate(token, &client.source).await {
            Ok(who) => Ok(Caller(who)),
            Err(e @ secretstore_core::Error::Unauthorized(_)) => {
                failed(state, &client, Credential::ApiToken, None).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The source address of a request, for unauthenticated routes (the callback).
pub struct Source(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(source(parts)))
    }
}

/// The client of a request on a route that authenticates by itself (the callback): 429
/// while it is locked out.
impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        admit(parts, st).map_err(ApiError::too_many_requests)
    }
}
