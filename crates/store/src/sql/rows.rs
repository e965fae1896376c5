//! The rows as the statements read them, one struct per shape, converted into the
//! domain's types at the edge (`TryFrom`: a value the domain does not know is a storage
//! error, never a guess).

use super::lite::FromLite;
use secretstore_core::generator::{GeneratorKind, GeneratorSpec};
use secretstore_core::timestamp::{self, OffsetDateTime};
use secretstore_core::{
    Account, AccountKind, AuditEntry, BackendKind, BootRecord, BootState, BriefDelivery, BriefId,
    BriefStatus, BriefSummary, Candidate, Category, Delivery, DispatchRecord, DispatchedSecret,
    Error, Result, Role, ScopePath, SecretMeta, SessionInfo, StoredMaterial, Task, TaskId,
    TokenInfo, Version, VersionMeta,
};
use sqlx::FromRow;
use std::str::FromStr;

/// A timestamp as stored: the one text format of [`timestamp::format()`] (whole seconds,
/// UTC, `Z`), which also sorts as text.
pub(super) fn stamp(t: OffsetDateTime) -> String {
    timestamp::format(t)
}

/// A stored timestamp; one not in the one text format is a corrupt row.
pub(super) fn at(s: &str) -> Result<OffsetDateTime> {
    timestamp::parse(s)
        .map_err(|_| Error::storage(format!("invalid timestamp {s:?} in the database")))
}

/// A stored timestamp that may be NULL.
pub(super) fn at_opt(s: Option<&str>) -> Result<Option<OffsetDateTime>> {
    s.map(at).transpose()
}

/// A stored scope path; one that does not parse is a corrupt row.
pub(super) fn scope(path: &str) -> Result<ScopePath> {
    ScopePath::parse(path)
        .map_err(|_| Error::storage(format!("invalid scope path {path:?} in the database")))
}

/// A brief's stored status; an unknown word is a corrupt row.
pub(super) fn status(s: &str) -> Result<BriefStatus> {
    BriefStatus::from_str(s)
        .map_err(|_| Error::storage(format!("unknown brief status {s:?} in the database")))
}

/// A secret's stored category; an unknown word is a corrupt row.
pub(super) fn category(s: &str) -> Result<Category> {
    Category::from_str(s)
        .map_err(|_| Error::storage(format!("unknown category {s:?} in the database")))
}

/// A secret's stored backend; an unknown word is a corrupt row.
pub(super) fn backend(s: &str) -> Result<BackendKind> {
    BackendKind::from_str(s)
        .map_err(|_| Error::storage(format!("unknown backend {s:?} in the database")))
}

/// A secret's stored delivery; an unknown word is a corrupt row.
fn delivery(s: &str) -> Result<Delivery> {
    Delivery::from_str(s)
        .map_err(|_| Error::storage(format!("unknown delivery {s:?} in the database")))
}

/// The columns of [`MetaRow`], over `secrets s JOIN scopes sc`.
pub(super) const META_COLUMNS: &str = "sc.path AS scope, s.name, s.category, s.backend, \
     s.current_version, s.created_at, s.updated_at, s.updated_by, s.delivery, s.generator, \
     s.rotate_every_secs, s.leaked_at";

/// How many columns [`META_COLUMNS`] names.
const META_COUNT: usize = 12;

/// The columns of [`MaterialRow`], over `secret_versions v`. The spec is named `spec`:
/// `generator` is the secret's own column in [`META_COLUMNS`], and sqlx reads the rows
/// of both lists together by name.
pub(super) const MATERIAL_COLUMNS: &str =
    "v.ciphertext, v.backend_ref, v.backend_version, v.generator AS spec";

/// A secret's stored generator kind; an unknown word is a corrupt row.
fn generator_kind(s: Option<&str>) -> Result<Option<GeneratorKind>> {
    s.map(|s| {
        GeneratorKind::parse(s)
            .map_err(|_| Error::storage(format!("unknown generator {s:?} in the database")))
    })
    .transpose()
}

/// A version's stored generator spec (JSON); one that does not parse is a corrupt row.
pub(super) fn generator_spec(s: Option<&str>) -> Result<Option<GeneratorSpec>> {
    s.map(|s| {
        serde_json::from_str(s)
            .map_err(|e| Error::storage(format!("invalid generator spec in the database: {e}")))
    })
    .transpose()
}

/// A secret's metadata.
#[derive(FromRow)]
pub(super) struct MetaRow {
    scope: String,
    name: String,
    category: String,
    backend: String,
    current_version: Version,
    created_at: String,
    updated_at: String,
    updated_by: String,
    delivery: String,
    generator: Option<String>,
    rotate_every_secs: Option<i64>,
    leaked_at: Option<String>,
}

impl TryFrom<MetaRow> for SecretMeta {
    type Error = Error;

    fn try_from(r: MetaRow) -> Result<Self> {
        Ok(SecretMeta {
            category: category(&r.category)?,
            backend: backend(&r.backend)?,
            delivery: delivery(&r.delivery)?,
            generator: generator_kind(r.generator.as_deref())?,
            scope: scope(&r.scope)?,
            name: r.name,
            version: r.current_version,
            created_at: at(&r.created_at)?,
            updated_at: at(&r.updated_at)?,
            updated_by: r.updated_by,
            rotate_every_secs: r.rotate_every_secs,
            leaked_at: at_opt(r.leaked_at.as_deref())?,
        })
    }
}

/// Read by position (by name, rusqlite compares every column's name for each value):
/// the statements that read these rows start with [`META_COLUMNS`], in its order.
impl FromLite for MetaRow {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(MetaRow {
            scope: row.get(0)?,
            name: row.get(1)?,
            category: row.get(2)?,
            backend: row.get(3)?,
            current_version: row.get(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
            updated_by: row.get(7)?,
            delivery: row.get(8)?,
            generator: row.get(9)?,
            rotate_every_secs: row.get(10)?,
            leaked_at: row.get(11)?,
        })
    }
}

/// What a version stores: a Fernet token, or a reference into an external backend.
#[derive(FromRow)]
pub(super) struct MaterialRow {
    ciphertext: Option<String>,
    backend_ref: Option<String>,
    backend_version: Option<String>,
    spec: Option<String>,
}

impl TryFrom<MaterialRow> for StoredMaterial {
    type Error = Error;

    fn try_from(r: MaterialRow) -> Result<Self> {
        Ok(StoredMaterial {
            generator: generator_spec(r.spec.as_deref())?,
            ciphertext: r.ciphertext,
            backend_ref: r.backend_ref,
            backend_version: r.backend_version,
        })
    }
}

impl MaterialRow {
    /// The columns of [`MATERIAL_COLUMNS`] from column `first` on.
    fn from_lite_at(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(MaterialRow {
            ciphertext: row.get(first)?,
            backend_ref: row.get(first + 1)?,
            backend_version: row.get(first + 2)?,
            spec: row.get(first + 3)?,
        })
    }
}

/// A secret with its current version's material.
#[derive(FromRow)]
pub(super) struct CurrentRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    #[sqlx(flatten)]
    material: MaterialRow,
}

impl FromLite for CurrentRow {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        // `{META_COLUMNS}, {MATERIAL_COLUMNS}`.
        Ok(CurrentRow {
            meta: MetaRow::from_lite(row)?,
            material: MaterialRow::from_lite_at(row, META_COUNT)?,
        })
    }
}

impl TryFrom<CurrentRow> for Candidate {
    type Error = Error;

    fn try_from(r: CurrentRow) -> Result<Self> {
        Ok(Candidate {
            meta: r.meta.try_into()?,
            material: r.material.try_into()?,
        })
    }
}

/// A column of a rusqlite row as text, without a copy.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// A column of a rusqlite row as text that may be NULL, without a copy.
fn text_opt<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(i)?.as_str_or_null().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// A candidate of a dispatch straight from a rusqlite row of
/// `{META_COLUMNS}, {MATERIAL_COLUMNS}` (the hot read of every dispatch): the words and
/// times are read in place, not copied into strings first, and the scope is the path of
/// `chain` the row names (the statement asked for those paths only), not parsed again.
/// Checked as [`CurrentRow`]'s conversion checks: an unknown word is a corrupt row.
pub(super) fn candidate_from_lite(
    row: &rusqlite::Row<'_>,
    chain: &[ScopePath],
) -> super::error::StoreResult<Candidate> {
    let path = text(row, 0)?;
    let scope = match chain.iter().find(|c| c.as_str() == path) {
        Some(c) => c.clone(),
        None => scope(path)?,
    };
    let meta = SecretMeta {
        scope,
        name: row.get(1)?,
        category: category(text(row, 2)?)?,
        backend: backend(text(row, 3)?)?,
        delivery: delivery(text(row, 8)?)?,
        generator: generator_kind(text_opt(row, 9)?)?,
        version: row.get(4)?,
        created_at: at(text(row, 5)?)?,
        updated_at: at(text(row, 6)?)?,
        updated_by: row.get(7)?,
        rotate_every_secs: row.get(10)?,
        leaked_at: at_opt(text_opt(row, 11)?)?,
    };
    let material = StoredMaterial {
        ciphertext: text_opt(row, META_COUNT)?.map(str::to_owned),
        backend_ref: text_opt(row, META_COUNT + 1)?.map(str::to_owned),
        backend_version: text_opt(row, META_COUNT + 2)?.map(str::to_owned),
        generator: generator_spec(text_opt(row, META_COUNT + 3)?)?,
    };
    Ok(Candidate { meta, material })
}

impl TryFrom<CurrentRow> for (SecretMeta, StoredMaterial) {
    type Error = Error;

    fn try_from(r: CurrentRow) -> Result<Self> {
        Ok((r.meta.try_into()?, r.material.try_into()?))
    }
}

/// A secret with one version's number and material.
#[derive(FromRow)]
pub(super) struct VersionMaterialRow {
    #[sqlx(flatten)]
    meta: MetaRow,
    version: Version,
    #[sqlx(flatten)]
    material: MaterialRow,
}

impl FromLite for VersionMaterialRow {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        // `{META_COLUMNS}, v.version, {MATERIAL_COLUMNS}`.
        Ok(VersionMaterialRow {
            meta: MetaRow::from_lite(row)?,
            version: row.get(META_COUNT)?,
            material: MaterialRow::from_lite_at(row, META_COUNT + 1)?,
        })
    }
}

impl TryFrom<VersionMaterialRow> for (SecretMeta, Version, StoredMaterial) {
    type Error = Error;

    fn try_from(r: VersionMaterialRow) -> Result<Self> {
        Ok((r.meta.try_into()?, r.version, r.material.try_into()?))
    }
}

/// One version of a secret's history, with the secret's current version.
#[derive(FromRow)]
pub(super) struct VersionRow {
    version: Version,
    created_at: String,
    created_by: String,
    backend_version: Option<String>,
    rollback_of: Option<Version>,
    current_version: Version,
}

impl TryFrom<VersionRow> for VersionMeta {
    type Error = Error;

    fn try_from(r: VersionRow) -> Result<Self> {
        Ok(VersionMeta {
            current: r.version == r.current_version,
            version: r.version,
            created_at: at(&r.created_at)?,
            created_by: r.created_by,
            backend_version: r.backend_version,
            rollback_of: r.rollback_of,
        })
    }
}

/// The columns of [`AuditRow`].
pub(super) const AUDIT_COLUMNS: &str =
    "id, at, actor, action, scope, name, version, target, source, detail";

/// One audit record.
#[derive(FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    scope: Option<String>,
    name: Option<String>,
    version: Option<Version>,
    target: Option<String>,
    source: Option<String>,
    detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = Error;

    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditEntry {
            id: Some(r.id),
            at: at(&r.at)?,
            actor: r.actor,
            action: r.action,
            scope: r.scope,
            name: r.name,
            version: r.version,
            target: r.target,
            source: r.source,
            // Written by the store as JSON; an unreadable one reads as none.
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
    }
}

/// A task, with its project's path.
#[derive(FromRow)]
pub(super) struct TaskRow {
    id: String,
    path: String,
    secret_refs: String,
    payload: Option<String>,
    created_at: String,
    created_by: String,
}

impl FromLite for TaskRow {
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TaskRow {
            id: row.get("id")?,
            path: row.get("path")?,
            secret_refs: row.get("secret_refs")?,
            payload: row.get("payload")?,
            created_at: row.get("created_at")?,
            created_by: row.get("created_by")?,
        })
    }
}

impl TryFrom<TaskRow> for Task {
    type Error = Error;

    fn try_from(r: TaskRow) -> Result<Self> {
        let id = TaskId::parse(&r.id)?;
        let corrupt = |e: serde_json::Error| Error::storage(format!("task {id} is corrupt: {e}"));
        Ok(Task {
            secret_refs: serde_json::from_str(&r.secret_refs).map_err(corrupt)?,
            payload: r
                .payload
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(corrupt)?,
            id,
            project: scope(&r.path)?,
            created_at: at(&r.created_at)?,
            created_by: r.created_by,
        })
    }
}

/// A dispatch as recorded (its secrets are read apart).
#[derive(FromRow)]
pub(super) struct BriefRow {
    task_id: String,
    project: String,
    created_at: String,
    token_hash: String,
    expires_at: String,
    status: String,
    completed_at: Option<String>,
    revoked_at: Option<String>,
    leaked_at: Option<String>,
    delivery: String,
    boot_hash: Option<String>,
    boot_expires_at: Option<String>,
    redeemed_at: Option<String>,
    redeemed_from: Option<String>,
    replayed_at: Option<String>,
    replayed_from: Option<String>,
}

/// A time and a source, both or neither.
fn when_from(
    at_text: Option<&str>,
    from: Option<String>,
) -> Result<Option<(OffsetDateTime, String)>> {
    match at_text {
        Some(t) => Ok(Some((at(t)?, from.unwrap_or_default()))),
        None => Ok(None),
    }
}

impl BriefRow {
    /// The record of brief `id`, with the secrets it handed out.
    pub(super) fn with_secrets(
        self,
        id: BriefId,
        secrets: Vec<BriefSecretRow>,
    ) -> Result<DispatchRecord> {
        Ok(DispatchRecord {
            brief_id: id,
            task_id: TaskId::parse(&self.task_id)?,
            project: scope(&self.project)?,
            created_at: at(&self.created_at)?,
            token_hash: self.token_hash,
            expires_at: at(&self.expires_at)?,
            status: status(&self.status)?,
            completed_at: at_opt(self.completed_at.as_deref())?,
            revoked_at: at_opt(self.revoked_at.as_deref())?,
            leaked_at: at_opt(self.leaked_at.as_deref())?,
            secrets: secrets
                .into_iter()
                .map(DispatchedSecret::try_from)
                .collect::<Result<_>>()?,
            delivery: BriefDelivery::from_str(&self.delivery)
                .map_err(|_| Error::storage("invalid delivery in the database"))?,
            boot: match (self.boot_hash, self.boot_expires_at) {
                (Some(token_hash), Some(expires)) => Some(BootRecord {
                    token_hash,
                    expires_at: at(&expires)?,
                    sealed: None,
                    redeemed: when_from(self.redeemed_at.as_deref(), self.redeemed_from)?,
                    replayed: when_from(self.replayed_at.as_deref(), self.replayed_from)?,
                }),
                _ => None,
            },
        })
    }
}

/// One secret a brief handed out.
#[derive(FromRow)]
pub(super) struct BriefSecretRow {
    scope: String,
    name: String,
    version: Version,
    backend_version: Option<String>,
}

impl TryFrom<BriefSecretRow> for DispatchedSecret {
    type Error = Error;

    fn try_from(r: BriefSecretRow) -> Result<Self> {
        Ok(DispatchedSecret {
            scope: scope(&r.scope)?,
            name: r.name,
            version: r.version,
            backend_version: r.backend_version,
        })
    }
}

/// A dispatch as the briefs page lists it (its stale secrets are read apart).
#[derive(FromRow)]
pub(super) struct BriefSummaryRow {
    id: String,
    task_id: String,
    project: String,
    created_at: String,
    status: String,
    completed_at: Option<String>,
    leaked_at: Option<String>,
    delivery: String,
    boot_expires_at: Option<String>,
    redeemed_at: Option<String>,
    replayed_at: Option<String>,
}

impl BriefSummaryRow {
    /// The brief's id.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// Whether the brief is still running (only then are its stale secrets read).
    pub(super) fn running(&self) -> bool {
        self.status == BriefStatus::Running.as_str()
    }

    /// The summary, with the names of the secrets rotated (or deleted) since.
    pub(super) fn with_stale(self, stale: Vec<String>) -> Result<BriefSummary> {
        Ok(BriefSummary {
            project: scope(&self.project)?,
            created_at: at(&self.created_at)?,
            status: status(&self.status)?,
            completed_at: at_opt(self.completed_at.as_deref())?,
            leaked_at: at_opt(self.leaked_at.as_deref())?,
            brief_id: self.id,
            task_id: self.task_id,
            stale,
            delivery: BriefDelivery::from_str(&self.delivery)
                .map_err(|_| Error::storage("invalid delivery in the database"))?,
            boot: match self.boot_expires_at.as_deref() {
                Some(expires) => Some(BootState::at(
                    timestamp::now(),
                    at(expires)?,
                    self.redeemed_at.is_some(),
                    self.replayed_at.is_some(),
                )),
                None => None,
            },
        })
    }
}

/// A grant as stored: the role's name, and its scope (empty for root).
#[derive(FromRow)]
pub(super) struct GrantRow {
    pub(super) role: String,
    pub(super) scope: String,
}

impl TryFrom<GrantRow> for Role {
    type Error = Error;

    fn try_from(r: GrantRow) -> Result<Self> {
        role_from_columns(&r.role, &r.scope)
    }
}

/// The columns a role is stored in: its name, and its scope (empty for root).
pub(super) fn role_columns(role: &Role) -> (&'static str, String) {
    (
        role.name(),
        role.scope().map(|s| s.to_string()).unwrap_or_default(),
    )
}

/// A role from its columns.
pub(super) fn role_from_columns(role: &str, scope: &str) -> Result<Role> {
    Role::parse(role, (!scope.is_empty()).then_some(scope))
        .map_err(|e| Error::storage(format!("bad grant in the database: {e}")))
}

/// An account, without its roles.
#[derive(FromRow)]
pub(super) struct AccountRow {
    pub(super) id: i64,
    name: String,
    kind: String,
    created_at: String,
}

impl AccountRow {
    /// The account, with its roles.
    pub(super) fn with_roles(self, roles: Vec<Role>) -> Result<Account> {
        Ok(Account {
            kind: AccountKind::parse(&self.kind)?,
            created_at: at(&self.created_at)?,
            name: self.name,
            roles,
        })
    }
}

/// A grant with the id of its account.
#[derive(FromRow)]
pub(super) struct AccountGrantRow {
    pub(super) account_id: i64,
    #[sqlx(flatten)]
    pub(super) grant: GrantRow,
}

/// An API token (never the token: its public id and dates).
#[derive(FromRow)]
pub(super) struct TokenRow {
    id: String,
    name: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = Error;

    fn try_from(r: TokenRow) -> Result<Self> {
        Ok(TokenInfo {
            created_at: at(&r.created_at)?,
            revoked_at: at_opt(r.revoked_at.as_deref())?,
            id: r.id,
            account: r.name,
        })
    }
}

/// A live web UI session, as listed.
#[derive(FromRow)]
pub(super) struct SessionRow {
    public_id: String,
    name: String,
    token_id: String,
    created_at: String,
    expires_at: String,
    source: Option<String>,
}

impl TryFrom<SessionRow> for SessionInfo {
    type Error = Error;

    fn try_from(r: SessionRow) -> Result<Self> {
        Ok(SessionInfo {
            created_at: at(&r.created_at)?,
            expires_at: at(&r.expires_at)?,
            id: r.public_id,
            account: r.name,
            token_id: r.token_id,
            source: r.source,
        })
    }
}

/// A session as its cookie finds it, one row per grant of its account.
#[derive(FromRow)]
pub(super) struct SessionAuthRow {
    pub(super) name: String,
    pub(super) csrf: String,
    pub(super) expires_at: String,
    pub(super) public_id: String,
    #[sqlx(flatten)]
    pub(super) grant: GrantRow,
}

/// An account and one of its grants (none: the account holds no role), by token.
#[derive(FromRow)]
pub(super) struct TokenGrantRow {
    pub(super) name: String,
    pub(super) role: Option<String>,
    pub(super) scope: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SQLite rows are read by position: the counts must follow the column lists.
    #[test]
    fn the_column_counts_follow_the_column_lists() {
        assert_eq!(META_COLUMNS.split(',').count(), META_COUNT);
        assert_eq!(MATERIAL_COLUMNS.split(',').count(), 4);
    }

    /// sqlx reads a row of `{META_COLUMNS}, {MATERIAL_COLUMNS}` by name: no two columns
    /// may share one (a secret's `generator` kind and its version's spec did).
    #[test]
    fn the_column_lists_name_each_column_once() {
        let mut names: Vec<&str> = META_COLUMNS
            .split(',')
            .chain(MATERIAL_COLUMNS.split(','))
            .map(|c| {
                let c = c.trim();
                let c = c.rsplit_once(" AS ").map_or(c, |(_, alias)| alias);
                c.rsplit_once('.').map_or(c, |(_, name)| name)
            })
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "{names:?}");
    }
}
