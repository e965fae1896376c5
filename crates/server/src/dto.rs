//! The request and response bodies of the API, with their OpenAPI schemas. Request
//! bodies that carry a value have no `Debug`.

use secretstore_core::{
    Account, AuditEntry, DispatchRecord, Role, SecretMeta, SessionInfo, Task, TokenInfo,
    VersionMeta,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use zeroize::Zeroizing;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
    pub version: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScopeDto {
    pub path: String,
    /// `organization`, `team`, `workspace` or `project`.
    pub level: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScopeList {
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
    /// Refuse the write (409) unless the current version is this (0: must not exist).
    pub expected_version: Option<i64>,
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The version whose value becomes current again (as a new version).
    pub to: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SecretDto {
    pub scope: String,
    pub name: String,
    pub category: String,
    pub backend: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl From<SecretMeta> for SecretDto {
    fn from(m: SecretMeta) -> Self {
        SecretDto {
            scope: m.scope,
            name: m.name,
            category: m.category.to_string(),
            backend: m.backend.to_string(),
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            updated_by: m.updated_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretDto>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDto {
    pub version: i64,
    pub created_at: String,
    pub created_by: String,
    pub backend_version: Option<String>,
    pub rollback_of: Option<i64>,
    pub current: bool,
}

impl From<VersionMeta> for VersionDto {
    fn from(v: VersionMeta) -> Self {
        VersionDto {
            version: v.version,
            created_at: v.created_at,
            created_by: v.created_by,
            backend_version: v.backend_version,
            rollback_of: v.rollback_of,
            current: v.current,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub versions: Vec<VersionDto>,
}

/// A revealed value. The only response that carries one (besides a dispatch's env).
#[derive(Serialize, ToSchema)]
pub struct ValueDto {
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
    pub version: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// `ORG/TEAM/WS/PROJECT`
    pub project: String,
    /// The names of the secrets the task needs (resolved at dispatch).
    pub secret_refs: Vec<String>,
    /// Opaque instructions for the agent, copied into the brief. Must not hold a secret value.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskDto {
    pub id: String,
    pub project: String,
    pub secret_refs: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    pub created_at: String,
    pub created_by: String,
}

impl From<Task> for TaskDto {
    fn from(t: Task) -> Self {
        TaskDto {
            id: t.id.to_string(),
            project: t.project,
            secret_refs: t.secret_refs,
            payload: t.payload,
            created_at: t.created_at,
            created_by: t.created_by,
        }
    }
}

/// The result of a dispatch: the env to hand to the agent (secrets, plus
/// `SECRETSTORE_BRIEF_ID` and `SECRETSTORE_CALLBACK_TOKEN`).
#[derive(Serialize, ToSchema)]
pub struct DispatchDto {
    pub brief_id: String,
    pub task_id: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub env: BTreeMap<String, Zeroizing<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct BriefSecretDto {
    pub name: String,
    pub scope: String,
    pub version: i64,
    pub backend: String,
    pub category: String,
    /// The backend's version of the value handed out (AWS `VersionId`, Vault KV version);
    /// absent for local secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_version: Option<String>,
}

/// A stored brief with its dispatch status. Never a value or a token.
#[derive(Serialize, ToSchema)]
pub struct BriefDto {
    pub brief_id: String,
    pub task_id: String,
    pub project: String,
    pub created_at: String,
    pub secrets: Vec<BriefSecretDto>,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// `running`, `completed` or `revoked`.
    pub status: String,
    pub completed_at: Option<String>,
    pub callback_expires_at: String,
}

impl BriefDto {
    pub fn new(b: secretstore_core::Brief, rec: DispatchRecord) -> Self {
        BriefDto {
            brief_id: b.brief_id.to_string(),
            task_id: b.task_id.to_string(),
            project: b.project,
            created_at: b.created_at,
            secrets: b
                .secrets
                .into_iter()
                .map(|s| BriefSecretDto {
                    name: s.name,
                    scope: s.scope,
                    version: s.version,
                    backend: s.backend.to_string(),
                    category: s.category.to_string(),
                    backend_version: s.backend_version,
                })
                .collect(),
            payload: b.payload,
            status: rec.status,
            completed_at: rec.completed_at,
            callback_expires_at: rec.expires_at,
        }
    }
}

/// The answer of a brief revocation.
#[derive(Serialize, ToSchema)]
pub struct BriefRevokedDto {
    pub brief_id: String,
    /// The brief's status now: `revoked`, or `completed` if it had completed before.
    pub status: String,
    /// Whether this call revoked it (`false`: it was no longer running).
    pub changed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackDto {
    pub brief_id: String,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditDto {
    pub id: Option<i64>,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub scope: Option<String>,
    pub name: Option<String>,
    pub version: Option<i64>,
    pub target: Option<String>,
    pub source: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<AuditEntry> for AuditDto {
    fn from(a: AuditEntry) -> Self {
        AuditDto {
            id: a.id,
            at: a.at,
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

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    pub records: Vec<AuditDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub name: String,
    /// `person` (default) or `service`.
    pub kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleDto {
    /// `root`, `admin`, `member` or `dispatcher`.
    pub role: String,
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// `root`, `admin`, `member` or `dispatcher`.
    pub role: String,
    /// `ORG` for admin and dispatcher, `ORG/TEAM` for member, none for root.
    pub scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountDto {
    pub name: String,
    pub kind: String,
    pub created_at: String,
    pub roles: Vec<RoleDto>,
}

impl From<Account> for AccountDto {
    fn from(a: Account) -> Self {
        AccountDto {
            name: a.name,
            kind: a.kind.as_str().into(),
            created_at: a.created_at,
            roles: a.roles.iter().map(RoleDto::from).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountDto>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    pub id: String,
    pub account: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<TokenInfo> for TokenDto {
    fn from(t: TokenInfo) -> Self {
        TokenDto {
            id: t.id,
            account: t.account,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A web UI session's public facts. `id` is public: not the cookie's secret.
#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    pub id: String,
    pub account: String,
    /// The API token the session was signed in with: revoking it ends the session.
    pub token_id: String,
    pub created_at: String,
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
            created_at: s.created_at,
            expires_at: s.expires_at,
            source: s.source,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionDto>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenDto>,
}

/// A new API token: shown once.
#[derive(Serialize, ToSchema)]
pub struct NewToken {
    pub id: String,
    pub account: String,
    pub created_at: String,
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    pub account: String,
    pub roles: Vec<RoleDto>,
}
