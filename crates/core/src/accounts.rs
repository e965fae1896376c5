//! Accounts (people and services), their grants and API tokens.

use crate::authz::{Principal, Role};
use crate::error::{Error, Result};
use crate::model::AuditEntry;
use crate::timestamp::OffsetDateTime;
use crate::value::SecretValue;
use base64::Engine;
use serde::Serialize;
use std::future::Future;

/// The recognisable prefix of API tokens.
pub const API_TOKEN_PREFIX: &str = "sst_";

/// The recognisable prefix of web UI session ids.
pub const SESSION_PREFIX: &str = "sss_";

/// A person or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person, who signs in to the web UI or uses the API with a token.
    Person,
    /// A service account (a controller, CI), which uses API tokens only.
    Service,
}

impl AccountKind {
    /// The kind as stored and shown (`person`, `service`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Person => "person",
            AccountKind::Service => "service",
        }
    }

    /// Parses `person` or `service`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "person" => Ok(AccountKind::Person),
            "service" => Ok(AccountKind::Service),
            _ => Err(Error::Invalid(format!(
                "unknown account kind {}: person or service",
                crate::name::short_echo(s)
            ))),
        }
    }
}

/// An account and its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's unique name.
    pub name: String,
    /// A person or a service account.
    pub kind: AccountKind,
    /// When it was created (UTC).
    pub created_at: OffsetDateTime,
    /// Its roles, each at a scope.
    pub roles: Vec<Role>,
}

/// An API token's public facts (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The token's public id (its prefix: safe to show and to revoke by).
    pub id: String,
    /// The account the token belongs to.
    pub account: String,
    /// When it was created (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    #[serde(with = "crate::timestamp::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A web UI session's public facts: its public id (never the cookie's secret), whose it
/// is, the API token it was made with, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The session's public id (shown in the session list; never the cookie's secret).
    pub id: String,
    /// The account signed in.
    pub account: String,
    /// The public id of the API token the session was opened with: revoking it ends the session.
    pub token_id: String,
    /// When the session began (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it ends unless renewed (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Where the sign-in came from.
    pub source: Option<String>,
}

/// What a session lookup finds: the caller, the session's CSRF token, its expiry and
/// public id.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    /// The caller the session acts for.
    pub who: Principal,
    /// The session's CSRF token, which every form must echo.
    pub csrf: String,
    /// When the session ends (UTC).
    pub expires_at: OffsetDateTime,
    /// The session's public id.
    pub public_id: String,
}

/// Checks an account name: `[a-z0-9][a-z0-9_.-]{0,62}`, and not `cli:…`.
pub fn check_account_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..].iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid account name {}: must match [a-z0-9][a-z0-9_.-]{{0,62}}",
            crate::name::short_echo(name)
        )))
    }
}

/// A new API token: the prefix and 32 bytes from the OS CSPRNG, url-safe base64.
pub fn new_api_token() -> SecretValue {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    crate::random::fill(raw.as_mut());
    let token = format!(
        "{API_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref())
    );
    #[allow(
        clippy::expect_used,
        reason = "a 47-byte ASCII token always passes the value checks"
    )]
    SecretValue::new(token).expect("API token is a valid value")
}

/// A new web UI session id: the prefix and 32 bytes from the OS CSPRNG.
pub fn new_session_id() -> SecretValue {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    crate::random::fill(raw.as_mut());
    let id = format!(
        "{SESSION_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref())
    );
    #[allow(
        clippy::expect_used,
        reason = "a 47-byte ASCII id always passes the value checks"
    )]
    SecretValue::new(id).expect("session id is a valid value")
}

/// Where accounts, grants and tokens are kept.
pub trait AccountStore: Send + Sync {
    /// Creates the `root` account with the root role and a first token, only if no account
    /// exists yet (atomically: of several servers starting at once, one wins). Returns
    /// whether it did.
    fn bootstrap_root(
        &self,
        token_id: &str,
        token_hash: &str,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Creates an account, audited in the same transaction.
    fn create_account(
        &self,
        name: &str,
        kind: AccountKind,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// An account with its roles; `NotFound` for an unknown name.
    fn account(&self, name: &str) -> impl Future<Output = Result<Account>> + Send;
    /// Every account with its roles, ordered by name.
    fn list_accounts(&self) -> impl Future<Output = Result<Vec<Account>>> + Send;
    /// Grants a role (idempotent).
    fn grant(
        &self,
        name: &str,
        role: &Role,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Removes a role from an account, audited; `NotFound` if it did not hold it.
    fn revoke_grant(
        &self,
        name: &str,
        role: &Role,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Stores a new API token's hash (never the token), audited.
    fn create_token(
        &self,
        name: &str,
        token_id: &str,
        token_hash: &str,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Revokes a token by its public id, audited; its sessions end with it.
    fn revoke_token(&self, id: &str, audit: AuditEntry) -> impl Future<Output = Result<()>> + Send;
    /// An account's tokens (public ids and dates, never a token), newest first.
    fn list_tokens(&self, name: &str) -> impl Future<Output = Result<Vec<TokenInfo>>> + Send;
    /// The account and roles of an unrevoked token, by the SHA-256 of the whole token
    /// string, in one query; `None` for an unknown or revoked token.
    fn principal_by_token_hash(
        &self,
        hash: &str,
        source: &str,
    ) -> impl Future<Output = Result<Option<Principal>>> + Send;
}

/// Where the web UI's sessions are kept, each bound to an API token.
pub trait SessionStore: Send + Sync {
    /// Stores a web UI session by the SHA-256 of its id, bound to the unrevoked API token
    /// whose SHA-256 is `token_hash` (the session's account is the token's). `Unauthorized`
    /// if that token was revoked in the meantime.
    #[allow(clippy::too_many_arguments, reason = "one row, spelled out")]
    fn create_session(
        &self,
        id_hash: &str,
        token_hash: &str,
        public_id: &str,
        csrf: &str,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The caller, CSRF token, expiry and public id of a session, in one query; `None` for
    /// an unknown session, one whose API token was revoked, or whose account has no grant
    /// left.
    fn session_by_hash(
        &self,
        id_hash: &str,
        source: &str,
    ) -> impl Future<Output = Result<Option<SessionAuth>>> + Send;
    /// The live sessions (unexpired at `now`, token unrevoked, account with a grant),
    /// newest first; with `account`, only that account's.
    fn list_sessions(
        &self,
        account: Option<&str>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<SessionInfo>>> + Send;
    /// Ends a session by its public id (with `account`, only if it is that account's);
    /// `NotFound` otherwise.
    fn end_session(
        &self,
        public_id: &str,
        account: Option<&str>,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Ends a session by the hash of its cookie's secret.
    fn delete_session(&self, id_hash: &str) -> impl Future<Output = Result<()>> + Send;
}
