//! Briefs and callback tokens.

use crate::error::{Error, Result};
use crate::model::{BackendKind, BriefId, Category, Delivery, TaskId, Version};
use crate::scope::ScopePath;
use crate::timestamp::OffsetDateTime;
use crate::value::SecretValue;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// Where a dispatched brief stands: `running` until its agent's callback (or a
/// revocation) ends it. Stored, serialized and shown as the lower-case word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BriefStatus {
    /// Dispatched; its callback token is valid until it expires.
    Running,
    /// Its agent's callback came.
    Completed,
    /// Its agent reported a failure.
    Failed,
    /// Revoked: its callback token no longer works.
    Revoked,
}

impl BriefStatus {
    /// Every status.
    pub const ALL: [BriefStatus; 4] = [
        BriefStatus::Running,
        BriefStatus::Completed,
        BriefStatus::Failed,
        BriefStatus::Revoked,
    ];

    /// The status as stored and shown (`running`, `completed`, `failed`, `revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            BriefStatus::Running => "running",
            BriefStatus::Completed => "completed",
            BriefStatus::Failed => "failed",
            BriefStatus::Revoked => "revoked",
        }
    }
}

impl FromStr for BriefStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        BriefStatus::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown brief status {}: one of running, completed, failed, revoked",
                    crate::name::short_echo(s)
                ))
            })
    }
}

impl fmt::Display for BriefStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a brief's values reach its agent: `env` (in the dispatch's answer) or `sealed`
/// (only a boot token in the answer; `secretstore boot` redeems it once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BriefDelivery {
    /// The env is in the dispatch's answer.
    #[default]
    Env,
    /// The env is sealed under a single-use boot token.
    Sealed,
}

impl BriefDelivery {
    /// The delivery as stored and shown (`env`, `sealed`).
    pub fn as_str(self) -> &'static str {
        match self {
            BriefDelivery::Env => "env",
            BriefDelivery::Sealed => "sealed",
        }
    }
}

impl FromStr for BriefDelivery {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "env" => Ok(BriefDelivery::Env),
            "sealed" => Ok(BriefDelivery::Sealed),
            other => Err(Error::Invalid(format!(
                "unknown delivery {}: env or sealed",
                crate::name::short_echo(other)
            ))),
        }
    }
}

impl fmt::Display for BriefDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON document assembled at dispatch. It never holds a value or a callback token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brief {
    /// The brief's id, handed to the agent as `SECRETSTORE_BRIEF_ID`.
    pub brief_id: BriefId,
    /// The task it was dispatched from.
    pub task_id: TaskId,
    /// The task's project.
    pub project: ScopePath,
    /// When it was dispatched (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// How its values reach the agent (`env` for briefs stored before sealed delivery).
    #[serde(default)]
    pub delivery: BriefDelivery,
    /// Which secrets it handed out (names, scopes and versions; never values).
    pub secrets: Vec<BriefSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The task's payload, as given (checked to hold no secret value).
    pub payload: Option<serde_json::Value>,
}

/// Which secret (scope, version, backend) a brief handed out, never its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BriefSecret {
    /// The environment name.
    pub name: String,
    /// The scope whose secret won the resolution.
    pub scope: ScopePath,
    /// The version handed out.
    pub version: Version,
    /// Where its value lives.
    pub backend: BackendKind,
    /// What kind of credential it is.
    pub category: Category,
    /// The backend's version of the value handed out (AWS `VersionId`, Vault KV version),
    /// as read with the value; absent for local secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_version: Option<String>,
    /// How it was handed out: `"file"` (its path in `NAME_FILE`); absent for `env`, so
    /// that briefs of env-delivered secrets read as they always did.
    #[serde(default, skip_serializing_if = "Delivery::is_env")]
    pub delivery: Delivery,
    /// For a generated ref, the provider that minted its credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<crate::generator::GeneratorKind>,
    /// For a generated ref, the lease of its credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<crate::model::LeaseId>,
    /// For a generated ref, when its credential ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::timestamp::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

/// The recognisable prefix of callback tokens.
pub const CALLBACK_TOKEN_PREFIX: &str = "sscb_";

/// A new callback token: the prefix and 32 bytes from the OS CSPRNG, url-safe base64.
/// Returned as a `SecretValue` so that it is never printed by accident.
pub fn new_callback_token() -> SecretValue {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    crate::random::fill(raw.as_mut());
    let token = format!(
        "{CALLBACK_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref())
    );
    #[allow(
        clippy::expect_used,
        reason = "a 48-byte ASCII token always passes the value checks"
    )]
    SecretValue::new(token).expect("callback token is a valid value")
}

/// The SHA-256 of the whole token string, lower-case hex: all that is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares a presented token with a stored hash in constant time.
pub fn token_matches(presented: &str, stored_hash: &str) -> bool {
    let h = token_hash(presented);
    h.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_tokens_are_long_prefixed_and_hashed() {
        let t = new_callback_token();
        let s = t.expose_secret();
        assert!(s.starts_with(CALLBACK_TOKEN_PREFIX));
        assert!(s.len() >= CALLBACK_TOKEN_PREFIX.len() + 43);
        let h = token_hash(s);
        assert_eq!(h.len(), 64);
        assert!(token_matches(s, &h));
        assert!(!token_matches("sscb_wrong", &h));
        assert_ne!(new_callback_token().expose_secret(), s);
    }

    #[test]
    fn brief_statuses_round_trip_as_their_words() {
        for s in BriefStatus::ALL {
            assert_eq!(s.as_str().parse::<BriefStatus>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert!("Running".parse::<BriefStatus>().is_err());
    }

    #[test]
    fn sha256_is_of_the_whole_string() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
