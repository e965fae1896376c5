//! The records of the domain: categories, backends, secrets, versions, tasks, ids.

use crate::authz::Principal;
use crate::error::{Error, Result};
use crate::name::SecretName;
use crate::scope::ScopePath;
use crate::timestamp::OffsetDateTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A version number: 1, 2, 3, … per secret.
pub type Version = i64;

/// What kind of credential a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A model provider's API key (OpenAI, Anthropic, …).
    Provider,
    /// A credential of the platform's own infrastructure (databases, clouds).
    Infrastructure,
    /// A credential of a third-party integration (GitHub, Slack, …).
    Integration,
    /// A credential of the agent itself.
    Agent,
}

impl Category {
    /// Every category, in the order they are listed.
    pub const ALL: [Category; 4] = [
        Category::Provider,
        Category::Infrastructure,
        Category::Integration,
        Category::Agent,
    ];

    /// The category as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Provider => "provider",
            Category::Infrastructure => "infrastructure",
            Category::Integration => "integration",
            Category::Agent => "agent",
        }
    }
}

impl FromStr for Category {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown category {}: one of provider, infrastructure, integration, agent",
                    crate::name::short_echo(s)
                ))
            })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a secret's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Fernet-encrypted in the database.
    Local,
    /// AWS Secrets Manager.
    AwsSm,
    /// HashiCorp Vault (or OpenBao) KV v2.
    Vault,
}

impl BackendKind {
    /// The backend as stored and shown (`local`, `aws_sm`, `vault`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::AwsSm => "aws_sm",
            BackendKind::Vault => "vault",
        }
    }
}

impl FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "local" | "local_encrypted" => Ok(BackendKind::Local),
            "aws_sm" => Ok(BackendKind::AwsSm),
            "vault" => Ok(BackendKind::Vault),
            _ => Err(Error::Invalid(format!(
                "unknown backend {}: one of local (local_encrypted), aws_sm, vault",
                crate::name::short_echo(s)
            ))),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a secret reaches the agent: as the variable `NAME` (`env`, the default), or as a
/// private file whose path is in `NAME_FILE` (`file`). Stored, serialized and shown as
/// the lower-case word.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// The value becomes the environment variable `NAME`.
    #[default]
    Env,
    /// The value is written to a private file; `NAME_FILE` holds its path.
    File,
}

impl Delivery {
    /// Every delivery, in the order they are listed.
    pub const ALL: [Delivery; 2] = [Delivery::Env, Delivery::File];

    /// The delivery as stored and shown (`env`, `file`).
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Env => "env",
            Delivery::File => "file",
        }
    }

    /// True for the default, `env` (a brief omits it).
    pub fn is_env(&self) -> bool {
        *self == Delivery::Env
    }

    /// The environment name that carries a secret called `name`: `name` itself, or
    /// `name_FILE` (the file's path) for a file-delivered one.
    pub fn env_name(self, name: &str) -> String {
        match self {
            Delivery::Env => name.to_owned(),
            Delivery::File => format!("{name}_FILE"),
        }
    }
}

impl FromStr for Delivery {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Delivery::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown delivery {}: one of env (the value as the variable NAME), file (the value in a private file, its path in NAME_FILE)",
                    crate::name::short_echo(s)
                ))
            })
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMeta {
    /// The scope the secret is kept at.
    pub scope: ScopePath,
    /// The secret's name (its environment name).
    pub name: String,
    /// What kind of credential it is.
    pub category: Category,
    /// Where its value lives.
    pub backend: BackendKind,
    /// How it reaches the agent: as `NAME`, or as a file named by `NAME_FILE`.
    pub delivery: Delivery,
    /// For a generator, which provider mints its credentials at each dispatch (it then
    /// has no stored value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<crate::generator::GeneratorKind>,
    /// Its current version.
    pub version: Version,
    /// When version 1 was written (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the current version was written (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Who wrote the current version.
    pub updated_by: String,
    /// The secret's own maximum age in seconds (`--rotate-every`), if it has one; else a
    /// rotation policy of its category at its scope or above may apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_every_secs: Option<i64>,
    /// When its current version was found where it must not be (a callback's output, a
    /// brief's scan): it stays marked leaked until a new version is written.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::timestamp::rfc3339::option"
    )]
    pub leaked_at: Option<OffsetDateTime>,
}

/// One version in a secret's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionMeta {
    /// The version number.
    pub version: Version,
    /// When it was written (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who wrote it.
    pub created_by: String,
    /// The backend's own version id (AWS version id, Vault KV version), if any.
    pub backend_version: Option<String>,
    /// Set when this version was written by a rollback to an earlier one.
    pub rollback_of: Option<Version>,
    /// True for the secret's current version.
    pub current: bool,
}

/// What the database keeps of one version's value: for `local`, the Fernet token; for an
/// external backend, only the reference. Never plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredMaterial {
    /// The Fernet token (local backend only).
    pub ciphertext: Option<String>,
    /// The external reference: an ARN, or `MOUNT/PATH#FIELD`.
    pub backend_ref: Option<String>,
    /// The backend's version id.
    pub backend_version: Option<String>,
    /// A generator's spec (its version holds no value, and no credential).
    pub generator: Option<crate::generator::GeneratorSpec>,
}

/// A secret of the resolution chain with its current version's material, read together
/// so that a brief's version and the env's value always agree.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The secret's metadata.
    pub meta: SecretMeta,
    /// Its current version's material (ciphertext or reference).
    pub material: StoredMaterial,
}

/// A task: a project and the secrets it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// The project the task runs in (its refs resolve along the project's chain).
    pub project: ScopePath,
    /// The secret names the task asks for.
    pub secret_refs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// What the agent is told to do; never a secret value.
    pub payload: Option<serde_json::Value>,
    /// When it was created (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: String,
}

macro_rules! random_id {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id (a UUID v4 from the OS random source).
            pub fn generate() -> Self {
                $name(crate::random::uuid_v4())
            }

            /// Parses an id: a lower-case hyphenated UUID, nothing else (no path can be smuggled in).
            pub fn parse(s: &str) -> Result<Self> {
                if crate::random::is_uuid(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(Error::Invalid(format!(
                        concat!("invalid ", $what, " id {}: expected a UUID like 0190e7a4-5b1c-4f3e-9a2b-1c2d3e4f5a6b"),
                        crate::name::short_echo(s)
                    )))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

random_id!(
    /// The id of a task.
    TaskId,
    "task"
);
random_id!(
    /// The id of a brief.
    BriefId,
    "brief"
);
random_id!(
    /// The id of a lease: one credential minted for one ref of one brief.
    LeaseId,
    "lease"
);

/// One record of the audit log. Never a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Filled by the store when read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// When it happened (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub at: OffsetDateTime,
    /// Who did it (an account name, or `cli:<os user>`).
    pub actor: String,
    /// What was done (`secret.write`, `brief.dispatch`, …).
    pub action: String,
    /// The scope it was done at, if any.
    pub scope: Option<String>,
    /// The secret's name, if any.
    pub name: Option<String>,
    /// The version written or read, if any.
    pub version: Option<Version>,
    /// A task or brief id, when the action is about one.
    pub target: Option<String>,
    /// Where the action came from: `cli`, or a client address.
    pub source: Option<String>,
    /// Extra structured detail (never a value).
    pub detail: Option<serde_json::Value>,
}

impl AuditEntry {
    /// A record of `action` by `who` now: its account is the record's actor, its source
    /// the record's source.
    pub fn new(who: &Principal, action: &str) -> Self {
        AuditEntry::by(&who.account, action, &who.source)
    }

    /// A record of `action` by nobody known (`anonymous`: a failed sign-in, a refused
    /// token), from `source`.
    pub fn anonymous(action: &str, source: &str) -> Self {
        AuditEntry::by("anonymous", action, source)
    }

    fn by(actor: &str, action: &str, source: &str) -> Self {
        AuditEntry {
            id: None,
            at: crate::timestamp::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            scope: None,
            name: None,
            version: None,
            target: None,
            source: Some(source.to_owned()),
            detail: None,
        }
    }

    /// Records the secret acted on.
    pub fn secret(mut self, scope: &ScopePath, name: &SecretName) -> Self {
        self.scope = Some(scope.to_string());
        self.name = Some(name.to_string());
        self
    }

    /// Records the scope acted on.
    pub fn scope(mut self, scope: &ScopePath) -> Self {
        self.scope = Some(scope.to_string());
        self
    }

    /// Records the version written or read.
    pub fn version(mut self, v: Version) -> Self {
        self.version = Some(v);
        self
    }

    /// Records the target (an account, a token id, a brief id).
    pub fn target(mut self, t: impl Into<String>) -> Self {
        self.target = Some(t.into());
        self
    }

    /// Records details (never a value).
    pub fn detail(mut self, d: serde_json::Value) -> Self {
        self.detail = Some(d);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_round_trip_as_their_words_and_a_bad_one_is_named() {
        for d in Delivery::ALL {
            assert_eq!(d.as_str().parse::<Delivery>().unwrap(), d);
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{}\"", d.as_str())
            );
        }
        assert_eq!(Delivery::default(), Delivery::Env);
        assert_eq!(Delivery::File.env_name("TLS_KEY"), "TLS_KEY_FILE");
        assert_eq!(Delivery::Env.env_name("TLS_KEY"), "TLS_KEY");
        let e = "File".parse::<Delivery>().unwrap_err().to_string();
        assert!(
            e.starts_with("unknown delivery \"File\": one of env (") && e.contains("file ("),
            "{e}"
        );
    }
}
