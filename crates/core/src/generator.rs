//! Generators: secrets whose value is minted for each dispatch (a PostgreSQL role, an AWS
//! STS session) and revoked when the task ends, and the port that the providers implement.
//!
//! A generator's spec is stored as a version of its secret, like a value, but it holds no
//! credential: the PostgreSQL admin URL is another secret (`admin_ref`), read at mint and
//! revoke time only. What was minted is a [`Lease`]: the provider, the role name or session
//! ARN, the brief, the secret and the expiry — never a password, key or token.
//!
//! ```
//! use secretstore_core::generator::{GeneratorSpec, PostgresSpec, role_name};
//!
//! let spec = GeneratorSpec::Postgres(PostgresSpec {
//!     admin_ref: "PG_ADMIN_URL".into(),
//!     grants: vec!["GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{name}}".into()],
//!     creation: vec![],
//!     revocation: vec![],
//!     ttl_secs: 3600,
//! });
//! spec.check().unwrap();
//! let name = role_name();
//! assert!(name.starts_with("ss_") && name.len() == 15);
//! ```

use crate::error::{BackendError, Error, Result};
use crate::model::{BriefId, Version};
use crate::name::SecretName;
use crate::ports::BoxFuture;
use crate::scope::ScopePath;
use crate::timestamp::OffsetDateTime;
use crate::value::SecretValue;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which provider mints a generator's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// A PostgreSQL role with a password, `VALID UNTIL` the lease's expiry.
    Postgres,
    /// AWS STS `AssumeRole`: a session named after the brief.
    AwsSts,
}

impl GeneratorKind {
    /// The name used in settings, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            GeneratorKind::Postgres => "postgres",
            GeneratorKind::AwsSts => "aws_sts",
        }
    }

    /// Parses `postgres` or `aws_sts`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "postgres" => Ok(GeneratorKind::Postgres),
            "aws_sts" => Ok(GeneratorKind::AwsSts),
            other => Err(Error::Invalid(format!(
                "unknown generator {}: expected postgres or aws_sts",
                crate::name::short_echo(other)
            ))),
        }
    }
}

impl fmt::Display for GeneratorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest lease a generator may ask for.
pub const MIN_TTL_SECS: u64 = 60;
/// The longest lease a generator may ask for (STS's own limit for role sessions is 12 h).
pub const MAX_TTL_SECS: u64 = 12 * 3600;
/// The default lease of a postgres generator.
pub const DEFAULT_POSTGRES_TTL_SECS: u64 = 3600;
/// The default lease of an aws_sts generator.
pub const DEFAULT_STS_TTL_SECS: u64 = 900;
/// STS's shortest session: a task shorter than that still gets 15 minutes.
pub const STS_MIN_DURATION_SECS: u64 = 900;
/// The most statements of one kind (grants, creation, revocation) a generator may hold.
pub const MAX_STATEMENTS: usize = 32;
/// The longest statement a generator may hold, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 4096;
/// The longest session policy AWS accepts, in bytes (packed policies are shorter still).
pub const MAX_SESSION_POLICY_BYTES: usize = 2048;

/// How a postgres generator makes and removes its role.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostgresSpec {
    /// The secret (resolved from the generator's own scope chain, any backend) that holds
    /// the admin connection URL.
    pub admin_ref: String,
    /// Statements run after the role is created, in one transaction with it; `{{name}}`
    /// becomes the role name, quoted as an identifier.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Statements that replace the default `CREATE ROLE {{name}} WITH LOGIN PASSWORD
    /// {{password}} VALID UNTIL {{expiration}}` (Vault's database engine's shape).
    #[serde(default)]
    pub creation: Vec<String>,
    /// Statements that replace the default revocation (no more logins, its sessions
    /// terminated, what it owns reassigned to the admin, its privileges dropped, the role
    /// dropped).
    #[serde(default)]
    pub revocation: Vec<String>,
    /// The longest a lease lives (never longer than its task).
    pub ttl_secs: u64,
}

impl fmt::Debug for PostgresSpec {
    // Statements are an admin's text, not secrets, but may be long: the count suffices.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSpec")
            .field("admin_ref", &self.admin_ref)
            .field("grants", &self.grants.len())
            .field("creation", &self.creation.len())
            .field("revocation", &self.revocation.len())
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// How an aws_sts generator assumes its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsStsSpec {
    /// The role to assume.
    pub role_arn: String,
    /// An inline session policy (JSON) that narrows the role's permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// The longest a session lives (never longer than its task, never shorter than STS's
    /// 15 minutes).
    pub ttl_secs: u64,
}

/// A generator's spec, stored as a version of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "generator", rename_all = "snake_case")]
pub enum GeneratorSpec {
    /// A PostgreSQL role per dispatch.
    Postgres(PostgresSpec),
    /// An AWS STS session per dispatch.
    AwsSts(AwsStsSpec),
}

impl GeneratorSpec {
    /// Which provider mints it.
    pub fn kind(&self) -> GeneratorKind {
        match self {
            GeneratorSpec::Postgres(_) => GeneratorKind::Postgres,
            GeneratorSpec::AwsSts(_) => GeneratorKind::AwsSts,
        }
    }

    /// The longest a lease lives.
    pub fn ttl_secs(&self) -> u64 {
        match self {
            GeneratorSpec::Postgres(p) => p.ttl_secs,
            GeneratorSpec::AwsSts(a) => a.ttl_secs,
        }
    }

    /// The admin ref of a postgres generator.
    pub fn admin_ref(&self) -> Option<&str> {
        match self {
            GeneratorSpec::Postgres(p) => Some(&p.admin_ref),
            GeneratorSpec::AwsSts(_) => None,
        }
    }

    /// The variables a dispatch sets for a ref `name` of this generator.
    pub fn env_names(&self, name: &str) -> Vec<String> {
        match self {
            GeneratorSpec::Postgres(_) => vec![name.to_owned()],
            GeneratorSpec::AwsSts(_) => STS_ENV.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Checks the spec's shape and limits (nothing is asked of any provider).
    pub fn check(&self) -> Result<()> {
        let ttl = self.ttl_secs();
        if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
            return Err(Error::Invalid(format!(
                "a generator's ttl must be between 1m and 12h; {ttl}s was given"
            )));
        }
        match self {
            GeneratorSpec::Postgres(p) => {
                SecretName::parse(&p.admin_ref).map_err(|e| {
                    Error::Invalid(format!("the admin ref is not a secret name: {e}"))
                })?;
                for (what, list) in [
                    ("grant", &p.grants),
                    ("creation", &p.creation),
                    ("revocation", &p.revocation),
                ] {
                    if list.len() > MAX_STATEMENTS {
                        return Err(Error::Invalid(format!(
                            "a generator may hold at most {MAX_STATEMENTS} {what} statements; {} were given",
                            list.len()
                        )));
                    }
                    for s in list {
                        if s.trim().is_empty() {
                            return Err(Error::Invalid(format!("an empty {what} statement")));
                        }
                        if s.len() > MAX_STATEMENT_BYTES {
                            return Err(Error::Invalid(format!(
                                "a {what} statement may be at most {MAX_STATEMENT_BYTES} bytes; one is {}",
                                s.len()
                            )));
                        }
                        if s.contains('\0') {
                            return Err(Error::Invalid(format!(
                                "a {what} statement holds a NUL byte"
                            )));
                        }
                    }
                }
                if !p.creation.is_empty() && !p.creation.iter().any(|s| s.contains("{{name}}")) {
                    return Err(Error::Invalid(
                        "the creation statements never name the role ({{name}})".into(),
                    ));
                }
                if !p.creation.is_empty() && !p.creation.iter().any(|s| s.contains("{{password}}"))
                {
                    return Err(Error::Invalid(
                        "the creation statements never set the password ({{password}})".into(),
                    ));
                }
                Ok(())
            }
            GeneratorSpec::AwsSts(a) => {
                check_role_arn(&a.role_arn)?;
                if let Some(policy) = &a.session_policy {
                    if policy.len() > MAX_SESSION_POLICY_BYTES {
                        return Err(Error::Invalid(format!(
                            "a session policy may be at most {MAX_SESSION_POLICY_BYTES} bytes; this one is {}",
                            policy.len()
                        )));
                    }
                    let parsed: serde_json::Value = serde_json::from_str(policy).map_err(|e| {
                        Error::Invalid(format!("the session policy is not JSON: {e}"))
                    })?;
                    if !parsed.is_object() {
                        return Err(Error::Invalid(
                            "the session policy must be a JSON object".into(),
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// The variables an aws_sts generator sets.
pub const STS_ENV: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Checks that `arn` looks like an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
fn check_role_arn(arn: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
        && arn.len() <= 2048
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
            crate::name::short_echo(arn)
        )))
    }
}

/// A new random PostgreSQL role name: `ss_` and 12 lower-case hex digits (never chosen by
/// a caller).
pub fn role_name() -> String {
    let mut b = [0u8; 6];
    crate::random::fill(&mut b);
    format!("ss_{}", hex::encode(b))
}

/// The STS session name of a brief's lease: `ss-` and the brief id (39 characters, within
/// STS's 64 and its alphabet).
pub fn session_name(brief: &BriefId) -> String {
    format!("ss-{brief}")
}

/// A new random password: 32 letters and digits (about 190 bits), nothing that needs
/// quoting in a URL.
pub fn password() -> SecretValue {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(32);
    while out.len() < 32 {
        let mut b = [0u8; 64];
        crate::random::fill(&mut b);
        // Rejection sampling keeps the letters uniform (248 = 4 × 62).
        for x in b {
            if x < 248 && out.len() < 32 {
                out.push(char::from(ALPHABET[usize::from(x) % ALPHABET.len()]));
            }
        }
    }
    #[allow(clippy::expect_used, reason = "32 ASCII letters are a valid value")]
    SecretValue::new(out).expect("a password is a valid value")
}

pub use crate::model::LeaseId;

/// What a provider is asked to mint.
pub struct MintRequest<'a> {
    /// The lease this mint is for.
    pub lease_id: &'a LeaseId,
    /// The role name (postgres) or session name (aws_sts), chosen by secretstore.
    pub principal: &'a str,
    /// The ref's name: the variable a postgres URL goes in.
    pub name: &'a SecretName,
    /// The brief the credential is for.
    pub brief_id: &'a BriefId,
    /// The task's project (an STS session tag).
    pub project: &'a ScopePath,
    /// The generator's spec.
    pub spec: &'a GeneratorSpec,
    /// The admin connection URL of a postgres generator.
    pub admin: Option<&'a SecretValue>,
    /// When the lease ends: the role's `VALID UNTIL`; an STS session's duration is the
    /// shortest that covers it.
    pub expires_at: OffsetDateTime,
}

/// What a provider minted: the variables to hand out, and who the credential is.
pub struct Minted {
    /// The role name or the session's assumed-role ARN (stored with the lease).
    pub principal: String,
    /// The variables of the credential (`NAME`, or the three `AWS_*`).
    pub env: Vec<(String, SecretValue)>,
    /// When the credential stops working by itself.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for Minted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minted")
            .field("principal", &self.principal)
            .field(
                "env",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a provider is asked to revoke.
pub struct RevokeRequest<'a> {
    /// The role name (postgres) or session ARN (aws_sts) that was minted.
    pub principal: &'a str,
    /// The generator's spec (the version the lease was minted from).
    pub spec: &'a GeneratorSpec,
    /// The admin connection URL of a postgres generator, read again now.
    pub admin: Option<&'a SecretValue>,
}

/// A provider of per-task credentials: PostgreSQL roles, AWS STS sessions.
///
/// `mint` leaves nothing behind when it fails (a role is created in one transaction with
/// its grants). `revoke` is idempotent: a role that is already gone is no error, so a
/// revocation may be retried after any failure.
pub trait Minter: Send + Sync {
    /// Which generator this provider serves.
    fn kind(&self) -> GeneratorKind;

    /// Mints one credential.
    fn mint<'a>(&'a self, request: MintRequest<'a>) -> BoxFuture<'a, Result<Minted, BackendError>>;

    /// Revokes one credential (for STS, which cannot end a session early, nothing: the
    /// session expires by itself).
    fn revoke<'a>(&'a self, request: RevokeRequest<'a>) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Checks, without minting, that credentials of `spec` could be minted (`secretstore
    /// doctor`): a line saying what was checked. `admin` is a postgres generator's admin
    /// URL. The default checks nothing.
    fn check<'a>(
        &'a self,
        spec: &'a GeneratorSpec,
        admin: Option<&'a SecretValue>,
    ) -> BoxFuture<'a, Result<String, BackendError>> {
        let _ = (spec, admin);
        Box::pin(async { Ok("not checked".to_owned()) })
    }
}

/// Why a lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    /// The task called back.
    Callback,
    /// `brief revoke` (or the API's).
    BriefRevoked,
    /// `lease revoke`.
    Revoked,
    /// A second redemption of the brief's boot token.
    BootReplay,
    /// Its expiry, found by the sweeper.
    Expired,
    /// The dispatch that minted it failed as a whole.
    DispatchFailed,
    /// A leak of one of the brief's values was found.
    Leaked,
    /// Its brief ended (called back or revoked) without the lease being revoked then (the
    /// server stopped in between): found by the sweeper.
    BriefEnded,
}

impl RevokeReason {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Callback => "callback",
            RevokeReason::BriefRevoked => "brief_revoked",
            RevokeReason::Revoked => "revoked",
            RevokeReason::BootReplay => "boot_replay",
            RevokeReason::Expired => "expired",
            RevokeReason::DispatchFailed => "dispatch_failed",
            RevokeReason::Leaked => "leaked",
            RevokeReason::BriefEnded => "brief_ended",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RevokeReason::Callback,
            RevokeReason::BriefRevoked,
            RevokeReason::Revoked,
            RevokeReason::BootReplay,
            RevokeReason::Expired,
            RevokeReason::DispatchFailed,
            RevokeReason::Leaked,
            RevokeReason::BriefEnded,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was minted for one ref of one brief. Never a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The lease's id.
    pub id: LeaseId,
    /// The brief it was minted for.
    pub brief_id: BriefId,
    /// The task's project.
    pub project: ScopePath,
    /// The generator's scope.
    pub scope: ScopePath,
    /// The generator's name.
    pub name: String,
    /// The generator's version (its spec) the lease was minted from.
    pub version: Version,
    /// Which provider minted it.
    pub provider: GeneratorKind,
    /// The role name, or the session ARN (the session name until it is minted).
    pub principal: String,
    /// The admin secret's scope, resolved at mint (postgres).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_scope: Option<ScopePath>,
    /// When it was minted.
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it ends by itself.
    #[serde(with = "crate::timestamp::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was revoked.
    #[serde(with = "crate::timestamp::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<RevokeReason>,
    /// The last failed revocation's error (retried by the sweeper).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Lease {
    /// `active`, `revoked`, `expired` (its end passed, not yet swept) or `revoking` (a
    /// revocation was asked and failed; the sweeper retries it).
    pub fn state(&self, now: OffsetDateTime) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.revoke_reason.is_some() {
            "revoking"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "active"
        }
    }
}
