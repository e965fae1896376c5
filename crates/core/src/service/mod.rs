//! The operations of secretstore, over the traits that adapters implement.
//!
//! The command line and the HTTP server both call these; neither talks to a backend or
//! the database on its own. Every write, reveal, rollback, delete and dispatch is audited
//! in the same transaction as the change it records (reveals: before the value is returned).

mod accounts;
mod audit;
pub use audit::{AccessRecord, AccessReport};
mod briefs;
pub use briefs::BriefDetail;
mod dispatch;
pub use dispatch::{MAX_PAYLOAD_BYTES, MAX_REFS};
mod boot;
mod doctor;
mod leases;
pub use leases::{LEASE_SWEEP_SECS, LeasesEnded};
mod leaks;
pub use leaks::{
    CallbackStatus, DueSecret, LeakFinding, MAX_SCAN_TEXT_BYTES, ScanReport, ScanSummary, Scanner,
    due, max_age,
};
mod links;
mod scopes;
mod search;
mod secrets;

use crate::backends::Backends;
use crate::ports::{BriefStore, Expected, MetadataStore};
pub use secrets::{WRITE_RESERVATION_TTL, WRITE_RESERVATION_WAIT};

use crate::authz::{Action, Principal};
use crate::brief::Brief;
use crate::error::{Error, Result};
use crate::model::{AuditEntry, BackendKind, Category, Delivery, Version};
use crate::name::SecretName;
use crate::scope::ScopePath;
use crate::value::SecretValue;
use std::sync::Arc;

/// The result of a successful dispatch.
pub struct Dispatched {
    /// The stored brief (no values).
    pub brief: Brief,
    /// The env-delivered secrets, in the order of the task's refs, then
    /// `SECRETSTORE_BRIEF_ID` and `SECRETSTORE_CALLBACK_TOKEN`.
    pub env: Vec<(String, SecretValue)>,
    /// The file-delivered secrets (by their own name, not `NAME_FILE`), in the order of
    /// the task's refs: whoever starts the agent writes each to a private file and sets
    /// `NAME_FILE` to its path.
    pub files: Vec<(String, SecretValue)>,
}

/// What a write sets besides the value; `None` keeps what is stored (a new secret needs
/// a category, and is delivered as `env` unless told otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretAttrs {
    /// The category (required for a new secret).
    pub category: Option<Category>,
    /// How it reaches the agent.
    pub delivery: Option<Delivery>,
    /// Its maximum age in seconds (`--rotate-every`; [`ROTATE_EVERY_BOUNDS`]); `Some(0)`
    /// removes it.
    pub rotate_every_secs: Option<i64>,
}

impl SecretAttrs {
    /// A write that sets the category (if given) and keeps the delivery.
    pub fn category(category: Option<Category>) -> Self {
        SecretAttrs {
            category,
            ..SecretAttrs::default()
        }
    }
}

/// The bounds of a maximum age (`--rotate-every`, a rotation policy): 30 seconds to 365
/// days.
pub const ROTATE_EVERY_BOUNDS: (i64, i64) = (30, 365 * 86_400);

/// Checks a maximum age given in seconds (`0`: none) against [`ROTATE_EVERY_BOUNDS`].
pub fn check_rotate_every(secs: i64) -> Result<i64> {
    let (lo, hi) = ROTATE_EVERY_BOUNDS;
    if secs == 0 || (lo..=hi).contains(&secs) {
        Ok(secs)
    } else {
        Err(Error::Invalid(format!(
            "a maximum age (rotate every) must be from 30s to 365d, not {secs}s"
        )))
    }
}

/// The audit record of a write that sets a maximum age, with it in its detail.
pub(super) fn with_rotate_every(mut audit: AuditEntry, secs: Option<i64>) -> AuditEntry {
    if let Some(secs) = secs {
        let mut detail = match audit.detail.take() {
            Some(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        detail.insert("rotate_every_secs".into(), secs.into());
        audit.detail = Some(serde_json::Value::Object(detail));
    }
    audit
}

/// The audit record of a write that sets the delivery, with it in its detail (a write
/// that keeps the stored one records nothing about it).
pub(super) fn with_delivery(mut audit: AuditEntry, delivery: Option<Delivery>) -> AuditEntry {
    if let Some(d) = delivery {
        let mut detail = match audit.detail.take() {
            Some(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        detail.insert("delivery".into(), d.as_str().into());
        audit.detail = Some(serde_json::Value::Object(detail));
    }
    audit
}

/// The answer of a sealed dispatch: the brief and its boot token, never a value.
pub struct SealedDispatch {
    /// The stored brief (no values).
    pub brief: Brief,
    /// The single-use boot token (`ssbt_…`): shown once, only its hash is stored.
    pub boot_token: SecretValue,
    /// When the token expires if it is not redeemed.
    pub expires_at: crate::timestamp::OffsetDateTime,
}

/// What a dispatch hands out: the env, or a boot token.
pub enum Delivered {
    /// The env, in the answer.
    Env(Dispatched),
    /// A boot token, in the answer; the env sealed under it.
    Sealed(SealedDispatch),
}

/// The settings the service needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Backend of new secrets.
    pub default_backend: BackendKind,
    /// How long a callback token is valid, in seconds.
    pub callback_ttl_secs: i64,
    /// How long an unredeemed boot token of a sealed brief is valid, in seconds.
    pub boot_ttl_secs: i64,
}

/// secretstore's operations.
pub struct Service<S> {
    /// The database.
    pub store: S,
    /// The configured value backends.
    pub backends: Backends,
    /// Where briefs are kept.
    pub briefs: Arc<dyn BriefStore>,
    /// The settings.
    pub config: ServiceConfig,
}

/// A new web UI session: the cookie's secret (shown once), its public id and CSRF token.
pub struct NewSession {
    /// The cookie's secret, shown once; only its hash is stored.
    pub id: SecretValue,
    /// The session's public id.
    pub public_id: String,
    /// The CSRF token forms must echo.
    pub csrf: String,
}

/// One entry of a dotenv import.
pub struct ImportEntry {
    /// The dotenv key.
    pub name: String,
    /// The value.
    pub value: SecretValue,
}

impl<S: MetadataStore> Service<S> {
    pub(super) fn audit(&self, who: &Principal, action: &str) -> AuditEntry {
        AuditEntry::new(who, action)
    }

    /// Parses a secret scope, checks the caller may do `action` there (a hidden scope is
    /// reported exactly as a missing one), and that it exists.
    pub(super) async fn secret_scope(
        &self,
        who: &Principal,
        scope: &str,
        action: Action,
    ) -> Result<ScopePath> {
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(action, &scope)?;
        self.existing_scope(scope).await
    }

    pub(super) async fn existing_scope(&self, scope: ScopePath) -> Result<ScopePath> {
        if !self.store.scope_exists(&scope).await? {
            return Err(Error::NotFound(format!(
                "unknown {} {scope}",
                scope.level().as_str()
            )));
        }
        Ok(scope)
    }
}

/// The conflict error of a stale write: `expected` did not admit `current` (`None`: the
/// secret does not exist).
pub fn conflict(
    scope: &ScopePath,
    name: &SecretName,
    expected: Expected,
    current: Option<Version>,
) -> Error {
    // Worded with the API's `expected_version` number, where 0 is "must not exist yet".
    let expected = expected.version().unwrap_or(0);
    let Some(current) = current else {
        return Error::Conflict(format!(
            "conflict: {name} does not exist at {scope} (expected version {expected})"
        ));
    };
    Error::Conflict(format!(
        "conflict: {name} at {scope} is at version {current}, not {expected}; nothing was changed"
    ))
}

/// The not-found error of a secret.
pub fn not_found(scope: &ScopePath, name: &SecretName) -> Error {
    Error::NotFound(format!("no secret {name} at {scope}"))
}

/// Dispatch rights in a task's or brief's project: `Forbidden` where the caller sees the
/// project, otherwise `missing()` as `NotFound` — the same answer as for an unknown id.
pub(super) fn require_in_project(
    who: &Principal,
    project: &ScopePath,
    missing: impl FnOnce() -> String,
) -> Result<()> {
    match who.check(Action::Dispatch, project) {
        crate::authz::Access::Allowed => Ok(()),
        crate::authz::Access::Forbidden => who.require(Action::Dispatch, project),
        crate::authz::Access::Hidden => Err(Error::NotFound(missing())),
    }
}
