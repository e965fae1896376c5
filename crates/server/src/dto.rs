//! The request and response bodies of the API, with their OpenAPI schemas. Request
//! bodies that carry a value have no `Debug`.

use secretstore_core::generator::{self, AwsStsSpec, PostgresSpec};
use secretstore_core::timestamp;
use secretstore_core::{
    Account, AuditEntry, DispatchRecord, Expected, GeneratorKind, GeneratorSpec, Lease, Role,
    SecretMeta, SessionInfo, Task, TokenInfo, VersionMeta,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `GET /healthz`: the server is up.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
    /// The server's version (`secretstore` crate version).
    pub version: String,
}

/// `GET /readyz`: the server can serve requests.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ready`
    pub status: String,
    /// `ok`: the database answered.
    pub database: String,
}

/// An organization, team, workspace or project.
#[derive(Serialize, ToSchema)]
pub struct ScopeDto {
    /// `ORG`, `ORG/TEAM`, `ORG/TEAM/WS` or `ORG/TEAM/WS/PROJECT`.
    pub path: String,
    /// `organization`, `team`, `workspace` or `project`.
    pub level: String,
}

/// `GET /api/v1/scopes`: the scopes the caller may see.
#[derive(Serialize, ToSchema)]
pub struct ScopeList {
    /// Each scope, with its level.
    pub scopes: Vec<ScopeDto>,
}

/// `PUT /api/v1/secrets/{name}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    /// The value: UTF-8, 1 to 65,536 bytes, no NUL.
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
    /// Required for a new secret: `provider`, `infrastructure`, `integration`, `agent`.
    pub category: Option<String>,
    /// `env` (the value as the variable `NAME`; the default for a new secret) or `file`
    /// (the value in a private file, its path in `NAME_FILE`); kept when omitted.
    #[schema(pattern = "^(env|file)$")]
    pub delivery: Option<String>,
    /// Refuse the write (409) unless the current version is this (0: must not exist).
    pub expected_version: Option<i64>,
    /// The secret's maximum age (`90d`, `12h`; 30s to 365d), after which its rotation is
    /// due; `off` removes it; kept when omitted.
    pub rotate_every: Option<String>,
}

/// A maximum age as the API takes it: a duration (`90d`, `12h`, `30s`…) or `off` (none:
/// `Some(0)` for the domain).
pub fn rotate_every(text: Option<&str>) -> Result<Option<i64>, secretstore_core::Error> {
    text.map(|t| match t {
        "off" | "none" | "0" => Ok(0),
        t => timestamp::parse_duration(t).ok_or_else(|| {
            secretstore_core::Error::Invalid(
                "rotate_every must be a duration like 90d, 12h or 30s (30s to 365d), or off"
                    .to_owned(),
            )
        }),
    })
    .transpose()
}

/// A duration in the product's format: the largest unit that divides it (`90d`, `36h`).
pub fn duration_text(secs: i64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// The domain's [`Expected`] of an `expected_version` number: `0` is "must not exist yet".
pub fn expected(version: Option<i64>) -> Option<Expected> {
    version.map(|v| match v {
        0 => Expected::Absent,
        v => Expected::Version(v),
    })
}

/// `POST /api/v1/secrets/{name}/link`: exactly one of `aws_arn` and `vault_path`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSecret {
    /// The secret's ARN (or name) in AWS Secrets Manager.
    pub aws_arn: Option<String>,
    /// `MOUNT/PATH#FIELD` in Vault KV v2.
    pub vault_path: Option<String>,
    /// Required when the secret is new.
    pub category: Option<String>,
    /// `env` (the default for a new secret) or `file`; kept when omitted.
    #[schema(pattern = "^(env|file)$")]
    pub delivery: Option<String>,
    /// The secret's maximum age (`90d`; 30s to 365d) or `off`; kept when omitted.
    pub rotate_every: Option<String>,
}

/// `PUT`/`GET /api/v1/orgs/{org}/link-prefixes`: which backend references the
/// organization's admins and members may link. A `PUT` replaces both lists (a missing list
/// is empty: nothing allowed). Prefixes match on `/`-separated segments.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkPrefixesDto {
    /// AWS Secrets Manager secret-name prefixes (not ARNs).
    #[serde(default)]
    pub aws_prefixes: Vec<String>,
    /// Vault KV `MOUNT/PATH` prefixes.
    #[serde(default)]
    pub vault_prefixes: Vec<String>,
}

impl From<secretstore_core::LinkPrefixes> for LinkPrefixesDto {
    fn from(p: secretstore_core::LinkPrefixes) -> Self {
        LinkPrefixesDto {
            aws_prefixes: p.aws_prefixes,
            vault_prefixes: p.vault_prefixes,
        }
    }
}

/// `POST /api/v1/secrets/{name}/rollback`: the version to roll back to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version whose value becomes current again (as a new version).
    pub to: i64,
}

/// A secret's metadata. Never its value.
#[derive(Serialize, ToSchema)]
pub struct SecretDto {
    /// The scope the secret is stored at.
    pub scope: String,
    /// The environment variable name.
    pub name: String,
    /// `provider`, `infrastructure`, `integration` or `agent`.
    pub category: String,
    /// Where the value lives: `local`, `aws_sm` or `vault`.
    pub backend: String,
    /// How it reaches the agent: `env` (the variable `NAME`) or `file` (a private file,
    /// its path in `NAME_FILE`).
    pub delivery: String,
    /// The current version (1 for a new secret).
    pub version: i64,
    /// When version 1 was written (RFC 3339, UTC).
    pub created_at: String,
    /// When the current version was written (RFC 3339, UTC).
    pub updated_at: String,
    /// The account that wrote the current version.
    pub updated_by: String,
    /// `postgres` or `aws_sts` for a generator (its value is minted for each dispatch);
    /// absent for a stored secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(postgres|aws_sts)$")]
    pub generator: Option<String>,
    /// Whether its current version was found where it must not be (an agent's output, a
    /// brief's scan): it stays leaked until a new version is written.
    pub leaked: bool,
    /// When it was found leaked (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaked_at: Option<String>,
    /// Its own maximum age (`90d`), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<String>,
}

impl From<SecretMeta> for SecretDto {
    fn from(m: SecretMeta) -> Self {
        SecretDto {
            scope: m.scope.to_string(),
            name: m.name,
            category: m.category.to_string(),
            backend: m.backend.to_string(),
            delivery: m.delivery.to_string(),
            version: m.version,
            created_at: timestamp::format(m.created_at),
            updated_at: timestamp::format(m.updated_at),
            updated_by: m.updated_by,
            generator: m.generator.map(|g| g.as_str().to_owned()),
            leaked: m.leaked_at.is_some(),
            leaked_at: m.leaked_at.map(timestamp::format),
            rotate_every: m.rotate_every_secs.filter(|s| *s > 0).map(duration_text),
        }
    }
}

/// `GET /api/v1/secrets`: the secrets the caller may see.
#[derive(Serialize, ToSchema)]
pub struct SecretList {
    /// Each secret's metadata.
    pub secrets: Vec<SecretDto>,
}

/// One thing a search found.
#[derive(Serialize, ToSchema)]
pub struct HitDto {
    /// `secret`, `scope`, `task` or `brief`.
    #[schema(example = "secret")]
    pub kind: &'static str,
    /// A secret's name, a scope's path, a task's or a brief's id.
    pub name: String,
    /// The scope it lives in (a scope's own path; a task's or a brief's project).
    pub scope: String,
}

impl From<secretstore_core::SearchHit> for HitDto {
    fn from(h: secretstore_core::SearchHit) -> Self {
        HitDto {
            kind: h.kind.as_str(),
            name: h.name,
            scope: h.scope.to_string(),
        }
    }
}

/// `GET /api/v1/search`: what was found, secrets first, each kind ordered by name.
#[derive(Serialize, ToSchema)]
pub struct SearchList {
    /// Each thing found.
    pub hits: Vec<HitDto>,
}

/// One version of a secret's history.
#[derive(Serialize, ToSchema)]
pub struct VersionDto {
    /// The version number, from 1.
    pub version: i64,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
    /// The account that wrote it.
    pub created_by: String,
    /// The backend's own version id (AWS `VersionId`, Vault KV version), if any.
    pub backend_version: Option<String>,
    /// The earlier version whose value a rollback copied into this one.
    pub rollback_of: Option<i64>,
    /// Whether this is the secret's current version.
    pub current: bool,
}

impl From<VersionMeta> for VersionDto {
    fn from(v: VersionMeta) -> Self {
        VersionDto {
            version: v.version,
            created_at: timestamp::format(v.created_at),
            created_by: v.created_by,
            backend_version: v.backend_version,
            rollback_of: v.rollback_of,
            current: v.current,
        }
    }
}

/// `GET /api/v1/secrets/{name}/versions`: newest first.
#[derive(Serialize, ToSchema)]
pub struct VersionList {
    /// Each version, newest first.
    pub versions: Vec<VersionDto>,
}

/// A revealed value. The only response that carries one (besides a dispatch's env).
#[derive(Serialize, ToSchema)]
pub struct ValueDto {
    /// The plaintext value.
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
    /// The version the value is of.
    pub version: i64,
}

/// `POST /api/v1/tasks`: a task to dispatch later.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// `ORG/TEAM/WS/PROJECT`
    #[schema(
        pattern = "^[a-z0-9][a-z0-9_-]{0,62}(/[a-z0-9][a-z0-9_-]{0,62}){3}$",
        max_length = 255
    )]
    pub project: String,
    /// The names of the secrets the task needs (resolved at dispatch).
    pub secret_refs: Vec<String>,
    /// Opaque instructions for the agent, copied into the brief. Must not hold a secret value.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

/// A stored task.
#[derive(Serialize, ToSchema)]
pub struct TaskDto {
    /// The task id (a UUID).
    pub id: String,
    /// The project whose secrets the task resolves.
    pub project: String,
    /// The names of the secrets the task needs.
    pub secret_refs: Vec<String>,
    /// The opaque instructions for the agent, as given.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// When the task was created (RFC 3339, UTC).
    pub created_at: String,
    /// The account that created it.
    pub created_by: String,
}

impl From<Task> for TaskDto {
    fn from(t: Task) -> Self {
        TaskDto {
            id: t.id.to_string(),
            project: t.project.to_string(),
            secret_refs: t.secret_refs,
            payload: t.payload,
            created_at: timestamp::format(t.created_at),
            created_by: t.created_by,
        }
    }
}

/// The result of a dispatch: the env to hand to the agent (secrets, plus
/// `SECRETSTORE_BRIEF_ID` and `SECRETSTORE_CALLBACK_TOKEN`), and the file-delivered
/// secrets.
#[derive(Serialize, ToSchema)]
pub struct DispatchDto {
    /// The brief this dispatch stored (a UUID).
    pub brief_id: String,
    /// The task dispatched.
    pub task_id: String,
    /// Variable name to value: the env-delivered secrets, `SECRETSTORE_BRIEF_ID` and
    /// `SECRETSTORE_CALLBACK_TOKEN`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub env: BTreeMap<String, Zeroizing<String>>,
    /// Secret name to value: the file-delivered secrets (always present, `{}` when none).
    /// Write each to a private file and set `NAME_FILE` to its path in the agent's env.
    #[schema(value_type = BTreeMap<String, String>)]
    pub files: BTreeMap<String, Zeroizing<String>>,
}

/// The answer of a sealed dispatch: no value, only the single-use boot token that
/// `secretstore boot` (or `POST /api/v1/boot`) redeems once inside the agent.
#[derive(Serialize, ToSchema)]
pub struct SealedDispatchDto {
    /// The brief this dispatch stored (a UUID).
    pub brief_id: String,
    /// The task dispatched.
    pub task_id: String,
    /// The boot token (`ssbt_…`), shown once: give it to the agent as
    /// `SECRETSTORE_BOOT_TOKEN`.
    #[schema(value_type = String)]
    pub boot_token: Zeroizing<String>,
    /// Until when the token may be redeemed (RFC 3339, UTC).
    pub expires_at: String,
}

/// The answer of a dispatch: the env (`delivery` `env`, the default) or a boot token
/// (`delivery` `sealed`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum DispatchAnswer {
    /// `{"delivery": "env"}` or no body.
    Env(DispatchDto),
    /// `{"delivery": "sealed"}`.
    Sealed(SealedDispatchDto),
}

/// The body of a dispatch (optional): how the values reach the agent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchBody {
    /// `env` (the default: the answer holds the env) or `sealed` (the answer holds only a
    /// boot token; refused with 403 `forbidden` in an organization that requires it
    /// otherwise).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub delivery: Option<secretstore_core::BriefDelivery>,
}

/// What a boot token opens, once: the agent's env and its file-delivered secrets.
#[derive(Serialize, ToSchema)]
pub struct BootDto {
    /// Variable name to value: the secrets, `SECRETSTORE_BRIEF_ID` and
    /// `SECRETSTORE_CALLBACK_TOKEN`.
    #[schema(value_type = BTreeMap<String, String>)]
    pub env: BTreeMap<String, Zeroizing<String>>,
    /// Secret name to value, for the secrets delivered as files (written by `secretstore
    /// boot` to private files named by `NAME_FILE`).
    #[schema(value_type = BTreeMap<String, String>)]
    pub files: BTreeMap<String, Zeroizing<String>>,
}

/// An organization's delivery policy.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicyDto {
    /// True: every dispatch in the organization must be sealed; one that would answer with
    /// the env is refused (403).
    pub sealed_only: bool,
}

/// A sealed brief's boot token: when it expires and what became of it. Never the token.
#[derive(Serialize, ToSchema)]
pub struct BootStatusDto {
    /// `waiting`, `redeemed`, `replayed` (redeemed, then presented again: the brief was
    /// revoked) or `expired`.
    pub state: String,
    /// Until when it could be redeemed (RFC 3339, UTC).
    pub expires_at: String,
    /// When it was redeemed (RFC 3339, UTC), if it was.
    pub redeemed_at: Option<String>,
    /// From which address it was redeemed.
    pub redeemed_from: Option<String>,
    /// When it was presented again (RFC 3339, UTC), if it was.
    pub replayed_at: Option<String>,
    /// From which address it was presented again.
    pub replayed_from: Option<String>,
}

impl BootStatusDto {
    /// The token's record as the API shows it, at `now`.
    pub fn new(b: &secretstore_core::BootRecord) -> Self {
        let split = |w: &Option<(timestamp::OffsetDateTime, String)>| match w {
            Some((at, from)) => (Some(timestamp::format(*at)), Some(from.clone())),
            None => (None, None),
        };
        let (redeemed_at, redeemed_from) = split(&b.redeemed);
        let (replayed_at, replayed_from) = split(&b.replayed);
        BootStatusDto {
            state: b.state(timestamp::now()).as_str().to_owned(),
            expires_at: timestamp::format(b.expires_at),
            redeemed_at,
            redeemed_from,
            replayed_at,
            replayed_from,
        }
    }
}

/// One secret handed out by a dispatch: which version of which scope's secret.
#[derive(Serialize, ToSchema)]
pub struct BriefSecretDto {
    /// The environment variable name.
    pub name: String,
    /// The scope whose secret won the resolution.
    pub scope: String,
    /// The secret's version handed out.
    pub version: i64,
    /// Where the value lives: `local`, `aws_sm` or `vault`.
    pub backend: String,
    /// `provider`, `infrastructure`, `integration` or `agent`.
    pub category: String,
    /// The backend's version of the value handed out (AWS `VersionId`, Vault KV version);
    /// absent for local secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_version: Option<String>,
    /// `file` for a secret handed out as a file (its path in `NAME_FILE`); absent for `env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// `postgres` or `aws_sts` for a credential minted for this brief; absent for a stored
    /// secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// The lease of the minted credential (`GET /api/v1/leases/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    /// When the minted credential stops working (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A stored brief with its dispatch status. Never a value or a token.
#[derive(Serialize, ToSchema)]
pub struct BriefDto {
    /// The brief id (a UUID).
    pub brief_id: String,
    /// The task that was dispatched.
    pub task_id: String,
    /// The task's project.
    pub project: String,
    /// When the dispatch stored the brief (RFC 3339, UTC).
    pub created_at: String,
    /// The secrets handed out, without values.
    pub secrets: Vec<BriefSecretDto>,
    /// The task's payload, copied into the brief.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// `running`, `completed` or `revoked`.
    pub status: String,
    /// When the callback completed it (RFC 3339, UTC), if it did.
    pub completed_at: Option<String>,
    /// Until when the callback token is accepted (RFC 3339, UTC).
    pub callback_expires_at: String,
    /// How the values reached the agent: `env` or `sealed`.
    pub delivery: String,
    /// A sealed brief's boot token: its state, never the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootStatusDto>,
    /// Whether a value it handed out was found in what its agent produced.
    pub leaked: bool,
    /// When that was first found (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaked_at: Option<String>,
}

impl BriefDto {
    /// The brief as stored, with its dispatch record's status.
    pub fn new(b: secretstore_core::Brief, rec: DispatchRecord) -> Self {
        BriefDto {
            brief_id: b.brief_id.to_string(),
            task_id: b.task_id.to_string(),
            project: b.project.to_string(),
            created_at: timestamp::format(b.created_at),
            secrets: b
                .secrets
                .into_iter()
                .map(|s| BriefSecretDto {
                    name: s.name,
                    scope: s.scope.to_string(),
                    version: s.version,
                    backend: s.backend.to_string(),
                    category: s.category.to_string(),
                    backend_version: s.backend_version,
                    delivery: (!s.delivery.is_env()).then(|| s.delivery.to_string()),
                    generator: s.generator.map(|g| g.as_str().to_owned()),
                    lease_id: s.lease_id.map(|l| l.to_string()),
                    expires_at: s.expires_at.map(timestamp::format),
                })
                .collect(),
            payload: b.payload,
            status: rec.status.to_string(),
            completed_at: rec.completed_at.map(timestamp::format),
            callback_expires_at: timestamp::format(rec.expires_at),
            delivery: rec.delivery.to_string(),
            boot: rec.boot.as_ref().map(BootStatusDto::new),
            leaked: rec.leaked_at.is_some(),
            leaked_at: rec.leaked_at.map(timestamp::format),
        }
    }
}

/// `PUT /api/v1/secrets/{name}/generator`: a generator, whose value is minted for each
/// dispatch. `postgres` takes `admin_ref` (the secret holding the admin connection URL,
/// resolved from the generator's scope chain) and `grants`, `creation`, `revocation`
/// (SQL, `{{name}}` the role); `aws_sts` takes `role_arn` and `session_policy`. Fields of
/// the other kind are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutGenerator {
    /// `postgres` or `aws_sts`.
    #[schema(pattern = "^(postgres|aws_sts)$")]
    pub generator: String,
    /// postgres: the secret that holds the admin connection URL (a name, never a value).
    pub admin_ref: Option<String>,
    /// postgres: statements run after the role is created, in one transaction with it.
    pub grants: Option<Vec<String>>,
    /// postgres: statements that replace the default `CREATE ROLE`.
    pub creation: Option<Vec<String>>,
    /// postgres: statements that replace the default revocation.
    pub revocation: Option<Vec<String>>,
    /// aws_sts: the IAM role to assume (`arn:aws:iam::ACCOUNT:role/NAME`).
    pub role_arn: Option<String>,
    /// aws_sts: an inline session policy, as JSON text or a JSON object.
    #[schema(value_type = Option<String>)]
    pub session_policy: Option<serde_json::Value>,
    /// The longest a lease lives: `90s`, `15m`, `1h` (1m to 12h; default 1h for postgres,
    /// 15m for aws_sts). Never longer than the task.
    pub ttl: Option<String>,
    /// The same in seconds (give `ttl` or `ttl_secs`, not both).
    pub ttl_secs: Option<u64>,
    /// `agent` (the only category of a generator; the default).
    pub category: Option<String>,
    /// `env` (the default) or `file` (postgres only).
    #[schema(pattern = "^(env|file)$")]
    pub delivery: Option<String>,
    /// Refuse the write (409) unless the current version is this (0: must not exist).
    pub expected_version: Option<i64>,
}

impl PutGenerator {
    /// The spec this body describes, checked for fields of the wrong kind (the service
    /// checks the rest).
    pub fn spec(&self) -> secretstore_core::Result<GeneratorSpec> {
        use secretstore_core::Error;
        let kind = GeneratorKind::parse(&self.generator)?;
        let ttl_secs = match (&self.ttl, self.ttl_secs) {
            (Some(_), Some(_)) => {
                return Err(Error::Invalid("give ttl or ttl_secs, not both".into()));
            }
            (Some(t), None) => {
                let secs = timestamp::parse_duration(t).ok_or_else(|| {
                    Error::Invalid(format!(
                        "ttl {}: expected a duration such as 90s, 15m, 1h",
                        secretstore_core::name::short_echo(t)
                    ))
                })?;
                u64::try_from(secs).unwrap_or(u64::MAX)
            }
            (None, Some(s)) => s,
            (None, None) => match kind {
                GeneratorKind::Postgres => generator::DEFAULT_POSTGRES_TTL_SECS,
                GeneratorKind::AwsSts => generator::DEFAULT_STS_TTL_SECS,
            },
        };
        let foreign: Vec<&str> = match kind {
            GeneratorKind::Postgres => [
                ("role_arn", self.role_arn.is_some()),
                ("session_policy", self.session_policy.is_some()),
            ]
            .into_iter()
            .filter_map(|(f, given)| given.then_some(f))
            .collect(),
            GeneratorKind::AwsSts => [
                ("admin_ref", self.admin_ref.is_some()),
                ("grants", self.grants.is_some()),
                ("creation", self.creation.is_some()),
                ("revocation", self.revocation.is_some()),
            ]
            .into_iter()
            .filter_map(|(f, given)| given.then_some(f))
            .collect(),
        };
        if !foreign.is_empty() {
            return Err(Error::Invalid(format!(
                "{} not a field of a {kind} generator",
                match foreign.as_slice() {
                    [one] => format!("{one} is"),
                    many => format!("{} are", many.join(", ")),
                }
            )));
        }
        Ok(match kind {
            GeneratorKind::Postgres => GeneratorSpec::Postgres(PostgresSpec {
                admin_ref: self.admin_ref.clone().ok_or_else(|| {
                    Error::Invalid(
                        "a postgres generator needs admin_ref: the secret that holds the admin connection URL".into(),
                    )
                })?,
                grants: self.grants.clone().unwrap_or_default(),
                creation: self.creation.clone().unwrap_or_default(),
                revocation: self.revocation.clone().unwrap_or_default(),
                ttl_secs,
            }),
            GeneratorKind::AwsSts => GeneratorSpec::AwsSts(AwsStsSpec {
                role_arn: self.role_arn.clone().ok_or_else(|| {
                    Error::Invalid("an aws_sts generator needs role_arn: the IAM role to assume".into())
                })?,
                session_policy: match &self.session_policy {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(v @ serde_json::Value::Object(_)) => Some(v.to_string()),
                    Some(_) => {
                        return Err(Error::Invalid(
                            "session_policy must be a JSON object, or its text".into(),
                        ));
                    }
                },
                ttl_secs,
            }),
        })
    }
}

/// A lease: one credential minted for one ref of one brief. Never the credential.
#[derive(Serialize, ToSchema)]
pub struct LeaseDto {
    /// The lease id (a UUID).
    pub id: String,
    /// The brief it was minted for.
    pub brief_id: String,
    /// The task's project.
    pub project: String,
    /// The generator's scope.
    pub scope: String,
    /// The generator's name.
    pub name: String,
    /// The generator's version the lease was minted from.
    pub version: i64,
    /// `postgres` or `aws_sts`.
    pub provider: String,
    /// The PostgreSQL role name, or the STS session's assumed-role ARN.
    pub principal: String,
    /// The scope of the admin secret (postgres), resolved at mint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_scope: Option<String>,
    /// When it was minted (RFC 3339, UTC).
    pub created_at: String,
    /// When it ends by itself (RFC 3339, UTC).
    pub expires_at: String,
    /// When it was revoked (RFC 3339, UTC), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Why it ended: `callback`, `brief_revoked`, `revoked`, `boot_replay`, `expired`,
    /// `dispatch_failed`, `leaked` or `brief_ended`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
    /// The last failed revocation's error (the sweeper retries it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// `active`, `revoked`, `expired` (its end passed, not yet swept) or `revoking` (a
    /// revocation failed; the sweeper retries it).
    #[schema(pattern = "^(active|revoked|expired|revoking)$")]
    pub state: String,
}

impl From<Lease> for LeaseDto {
    fn from(l: Lease) -> Self {
        LeaseDto {
            state: l.state(timestamp::now()).to_owned(),
            id: l.id.to_string(),
            brief_id: l.brief_id.to_string(),
            project: l.project.to_string(),
            scope: l.scope.to_string(),
            name: l.name,
            version: l.version,
            provider: l.provider.as_str().to_owned(),
            principal: l.principal,
            admin_scope: l.admin_scope.map(|s| s.to_string()),
            created_at: timestamp::format(l.created_at),
            expires_at: timestamp::format(l.expires_at),
            revoked_at: l.revoked_at.map(timestamp::format),
            revoke_reason: l.revoke_reason.map(|r| r.as_str().to_owned()),
            last_error: l.last_error,
        }
    }
}

/// `GET /api/v1/leases`: the leases the caller may see, newest first.
#[derive(Serialize, ToSchema)]
pub struct LeaseList {
    /// Each lease.
    pub leases: Vec<LeaseDto>,
}

/// `DELETE /api/v1/leases/{id}`: the lease after the call.
#[derive(Serialize, ToSchema)]
pub struct LeaseRevokedDto {
    /// The lease as it is now.
    pub lease: LeaseDto,
    /// Whether this call revoked it (`false`: it had ended before, or its provider failed:
    /// see `error`).
    pub revoked: bool,
    /// Why its provider failed to revoke it (kept, retried by the sweeper).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One lease whose revocation failed.
#[derive(Serialize, ToSchema)]
pub struct LeaseFailureDto {
    /// The lease id.
    pub id: String,
    /// What its provider said (never a credential).
    pub error: String,
}

/// `POST /api/v1/briefs/{id}/leases/revoke`: what was revoked, and what failed (kept,
/// retried by the sweeper).
#[derive(Serialize, ToSchema)]
pub struct LeasesRevokedDto {
    /// The leases this call revoked.
    pub revoked: Vec<String>,
    /// The leases whose revocation failed.
    pub failed: Vec<LeaseFailureDto>,
}

impl From<secretstore_core::service::LeasesEnded> for LeasesRevokedDto {
    fn from(e: secretstore_core::service::LeasesEnded) -> Self {
        LeasesRevokedDto {
            revoked: e.revoked.into_iter().map(|i| i.to_string()).collect(),
            failed: e
                .failed
                .into_iter()
                .map(|(id, error)| LeaseFailureDto {
                    id: id.to_string(),
                    error,
                })
                .collect(),
        }
    }
}

/// The answer of a brief revocation.
#[derive(Serialize, ToSchema)]
pub struct BriefRevokedDto {
    /// The brief revoked.
    pub brief_id: String,
    /// The brief's status now: `revoked`, or `completed` if it had completed before.
    pub status: String,
    /// Whether this call revoked it (`false`: it was no longer running).
    pub changed: bool,
}

/// `POST /api/v1/briefs/{id}/callback`'s optional body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackBody {
    /// How the task ended: `succeeded` (the default; the brief shows `completed`) or
    /// `failed`.
    #[schema(pattern = "^(succeeded|failed)$")]
    pub status: Option<String>,
    /// What the agent produced (its output, a log): at most 1 MiB, searched for every value
    /// handed to the brief, never stored.
    #[schema(value_type = Option<String>)]
    pub output: Option<Zeroizing<String>>,
}

/// The answer to a brief's callback.
#[derive(Serialize, ToSchema)]
pub struct CallbackDto {
    /// The brief that the callback completed.
    pub brief_id: String,
    /// `completed` or `failed`.
    pub status: String,
    /// Where the output held a value handed to the brief (each such secret is now marked
    /// leaked, the brief too, and its per-task credentials revoked).
    pub findings: Vec<FindingDto>,
    /// How many values of the brief were too short to be searched (under 8 bytes).
    pub skipped: usize,
}

/// `POST /api/v1/scan` and `POST /api/v1/briefs/{id}/scan`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    /// The text to search: at most 1 MiB; never stored.
    #[schema(value_type = String)]
    pub text: Zeroizing<String>,
}

/// One place a value was found: which secret, which version, how encoded, where. Never
/// the value.
#[derive(Serialize, ToSchema)]
pub struct FindingDto {
    /// The secret's name.
    pub name: String,
    /// The scope it is kept at.
    pub scope: String,
    /// The version whose value was found.
    pub version: i64,
    /// `exact`, `base64`, `base64url`, `hex`, `hex_upper`, `url_encoded` or
    /// `json_escaped`.
    pub encoding: String,
    /// The byte offset in the text (of its UTF-8 bytes) where it starts.
    pub offset: usize,
    /// `true` when one line of a multi-line value was found, not the whole value.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub line: bool,
}

impl From<secretstore_core::LeakFinding> for FindingDto {
    fn from(f: secretstore_core::LeakFinding) -> Self {
        FindingDto {
            name: f.name,
            scope: f.scope.to_string(),
            version: f.version,
            encoding: f.encoding.as_str().to_owned(),
            offset: f.offset,
            line: f.line,
        }
    }
}

/// What a scan found.
#[derive(Serialize, ToSchema)]
pub struct ScanDto {
    /// Every finding, by offset.
    pub findings: Vec<FindingDto>,
    /// How many values were searched for.
    pub values: usize,
    /// How many of them were too short to be searched (under 8 bytes).
    pub skipped: usize,
}

impl From<secretstore_core::ScanReport> for ScanDto {
    fn from(r: secretstore_core::ScanReport) -> Self {
        ScanDto {
            findings: r.findings.into_iter().map(FindingDto::from).collect(),
            values: r.values,
            skipped: r.skipped,
        }
    }
}

/// A secret whose rotation is due.
#[derive(Serialize, ToSchema)]
pub struct DueDto {
    /// The secret's metadata.
    #[serde(flatten)]
    pub secret: SecretDto,
    /// The maximum age that applies (`90d`): its own or its category's policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Where that maximum age comes from: `secret`, or the policy's scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// When its current version passed that age (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// `leaked`, `age`, or both.
    pub reasons: Vec<String>,
}

impl From<secretstore_core::DueSecret> for DueDto {
    fn from(d: secretstore_core::DueSecret) -> Self {
        DueDto {
            secret: SecretDto::from(d.meta),
            max_age: d.max_age_secs.map(duration_text),
            policy: d.policy,
            due_at: d.due_at.map(timestamp::format),
            reasons: d.reasons.into_iter().map(str::to_owned).collect(),
        }
    }
}

/// `GET /api/v1/due`: the secrets whose rotation is due, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DueList {
    /// Each due secret.
    pub due: Vec<DueDto>,
}

/// One audit record: who did what, when, from where. Never a value.
#[derive(Serialize, ToSchema)]
pub struct AuditDto {
    /// The record's number: increasing, in the order of writing.
    pub id: Option<i64>,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who acted: an account name, or `cli:<os user>` for the command line.
    pub actor: String,
    /// What was done: `secret.write`, `secret.reveal`, `task.dispatch`, ….
    pub action: String,
    /// The scope acted on, if any.
    pub scope: Option<String>,
    /// The secret acted on, if any.
    pub name: Option<String>,
    /// The secret's version acted on, if any.
    pub version: Option<i64>,
    /// A task or brief id, when the action is about one.
    pub target: Option<String>,
    /// Where the action came from: `cli`, or a client address.
    pub source: Option<String>,
    /// Extra structured detail (never a value).
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<AuditEntry> for AuditDto {
    fn from(a: AuditEntry) -> Self {
        AuditDto {
            id: a.id,
            at: timestamp::format(a.at),
            actor: a.actor,
            action: a.action,
            scope: a.scope,
            name: a.name,
            version: a.version,
            target: a.target,
            source: a.source,
            detail: a.detail,
        }
    }
}

/// `GET /api/v1/audit`, `GET /api/v1/secrets/{name}/access`: one page of audit records,
/// newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditList {
    /// Each record, newest first.
    pub records: Vec<AuditDto>,
    /// Pass as `cursor` for the next page (older records); null on the last page.
    pub next_cursor: Option<String>,
    /// Pass as `cursor` for the previous page (newer records); null on the first page.
    pub prev_cursor: Option<String>,
}

/// `POST /api/v1/accounts`: a new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// The account's name: `[a-z0-9][a-z0-9_.-]{0,62}`.
    pub name: String,
    /// `person` (default) or `service`.
    pub kind: Option<String>,
}

/// One role of an account.
#[derive(Serialize, ToSchema)]
pub struct RoleDto {
    /// `root`, `admin`, `member` or `dispatcher`.
    pub role: String,
    /// The organization (`admin`, `dispatcher`) or team (`member`) it applies to; none for root.
    pub scope: Option<String>,
}

impl From<&Role> for RoleDto {
    fn from(r: &Role) -> Self {
        RoleDto {
            role: r.name().into(),
            scope: r.scope().map(|s| s.to_string()),
        }
    }
}

/// `POST`/`DELETE /api/v1/accounts/{name}/grants`: the role granted or revoked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// `root`, `admin`, `member` or `dispatcher`.
    pub role: String,
    /// `ORG` for admin and dispatcher, `ORG/TEAM` for member, none for root.
    pub scope: Option<String>,
}

/// An account and its roles.
#[derive(Serialize, ToSchema)]
pub struct AccountDto {
    /// The account's name.
    pub name: String,
    /// `person` or `service`.
    pub kind: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// Its roles.
    pub roles: Vec<RoleDto>,
}

impl From<Account> for AccountDto {
    fn from(a: Account) -> Self {
        AccountDto {
            name: a.name,
            kind: a.kind.as_str().into(),
            created_at: timestamp::format(a.created_at),
            roles: a.roles.iter().map(RoleDto::from).collect(),
        }
    }
}

/// `GET /api/v1/accounts`: every account.
#[derive(Serialize, ToSchema)]
pub struct AccountList {
    /// Each account, with its roles.
    pub accounts: Vec<AccountDto>,
}

/// An API token's public facts: never the token itself.
#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    /// The token's public id.
    pub id: String,
    /// The account it authenticates as.
    pub account: String,
    /// When it was issued (RFC 3339, UTC).
    pub created_at: String,
    /// When it was revoked (RFC 3339, UTC), if it was.
    pub revoked_at: Option<String>,
}

impl From<TokenInfo> for TokenDto {
    fn from(t: TokenInfo) -> Self {
        TokenDto {
            id: t.id,
            account: t.account,
            created_at: timestamp::format(t.created_at),
            revoked_at: t.revoked_at.map(timestamp::format),
        }
    }
}

/// A web UI session's public facts. `id` is public: not the cookie's secret.
#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    /// The session's public id (`DELETE /api/v1/sessions/{id}` ends it).
    pub id: String,
    /// The account signed in.
    pub account: String,
    /// The API token the session was signed in with: revoking it ends the session.
    pub token_id: String,
    /// When the session started (RFC 3339, UTC).
    pub created_at: String,
    /// When it ends by itself (RFC 3339, UTC).
    pub expires_at: String,
    /// Where the sign-in came from.
    pub source: Option<String>,
}

impl From<SessionInfo> for SessionDto {
    fn from(s: SessionInfo) -> Self {
        SessionDto {
            id: s.id,
            account: s.account,
            token_id: s.token_id,
            created_at: timestamp::format(s.created_at),
            expires_at: timestamp::format(s.expires_at),
            source: s.source,
        }
    }
}

/// `GET /api/v1/sessions`: the live web UI sessions the caller may see.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// Each session.
    pub sessions: Vec<SessionDto>,
}

/// `GET /api/v1/accounts/{name}/tokens`: an account's tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenList {
    /// Each token, without its secret.
    pub tokens: Vec<TokenDto>,
}

/// A new API token: shown once.
#[derive(Serialize, ToSchema)]
pub struct NewToken {
    /// The token's public id (for revoking it).
    pub id: String,
    /// The account it authenticates as.
    pub account: String,
    /// When it was issued (RFC 3339, UTC).
    pub created_at: String,
    /// The token itself: shown this once, only its SHA-256 is stored.
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
}

/// `GET /api/v1/whoami`: the caller's account and roles.
#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    /// The caller's account.
    pub account: String,
    /// The caller's roles.
    pub roles: Vec<RoleDto>,
}
