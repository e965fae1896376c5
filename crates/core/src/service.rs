//! The operations of secretstore, over the traits that adapters implement.
//!
//! The command line and the HTTP server both call these; neither talks to a backend or
//! the database on its own. Every write, reveal, rollback, delete and dispatch is audited
//! in the same transaction as the change it records (reveals: before the value is returned).

use crate::accounts::{
    self, Account, AccountKind, AccountStore, SessionAuth, SessionInfo, TokenInfo,
};
use crate::authz::{Action, Principal, Role};
use crate::brief::{self, Brief, BriefSecret};
use crate::error::{BackendError, Error, RefFailure, RefFailureReason, Result};
use crate::links::{self, LinkPrefixes};
use crate::model::{
    Actor, AuditEntry, BackendKind, BriefId, Candidate, Category, SecretMeta, StoredMaterial, Task,
    TaskId, Version, VersionMeta,
};
use crate::name::SecretName;
use crate::resolve::{self, Resolution};
use crate::scope::{Level, ScopePath};
use crate::value::SecretValue;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, for the object-safe backend traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long a write reservation of an external secret lasts: far longer than a bounded
/// backend write takes (AWS and Vault calls are bounded at 10 s by default), so that only
/// a writer that crashed loses it, and short enough that such a crash blocks the secret's
/// writes for two minutes at most.
pub const WRITE_RESERVATION_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a write without `expected_version` waits for another writer's reservation.
pub const WRITE_RESERVATION_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A change of an external backend, made under the secret's write reservation.
enum ExternalOp<'a> {
    /// A new value.
    Write(&'a SecretValue),
    /// An earlier version made current again (rollback).
    Restore(StoredMaterial),
}

/// Which value of a secret to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// The backend's current value: a rotation done in the backend itself (the AWS console,
    /// `vault kv put`) counts. Used by dispatch and by a reveal of the current version.
    Current,
    /// Exactly the backend version recorded in the material (a reveal of an old version).
    Recorded,
}

/// A value as a backend handed it out, with the backend's version of it.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub value: SecretValue,
    /// The backend's own version of the value that was read (AWS `VersionId`, Vault KV
    /// version); `None` for the local backend, whose versions are the database's.
    pub version: Option<String>,
}

impl Fetched {
    /// A value without a backend version (the local backend).
    pub fn local(value: SecretValue) -> Self {
        Fetched {
            value,
            version: None,
        }
    }
}

/// What a write or restore changed in the backend, so that [`ValueBackend::undo`] can
/// take it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing outside the database (the local backend; a restore of the version that
    /// was already current).
    Nothing,
    /// The write created the entry in the backend.
    Created,
    /// The write made a new version current over an existing one.
    Updated,
}

/// The outcome of a backend write: what the database keeps, and what changed outside.
#[derive(Debug, Clone)]
pub struct Written {
    pub material: StoredMaterial,
    pub change: Change,
}

impl Written {
    /// A write that changed nothing outside the database.
    pub fn local(material: StoredMaterial) -> Self {
        Written {
            material,
            change: Change::Nothing,
        }
    }
}

/// Where values live. Implemented by the local Fernet backend, AWS Secrets Manager and Vault.
///
/// Errors keep `NotFound`, `Refused` and `Unavailable` apart: none of them may ever be
/// turned into "no such secret here" by a caller (a resolver would then serve a broader
/// scope's value during an outage).
///
/// The service calls `write`, `restore` and `undo` of an external backend only while it
/// holds the database's write reservation of that secret (see [`MetadataStore::reserve_writes`]),
/// so two secretstore writers never meet in the backend.
pub trait ValueBackend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Stores a new value of (scope, name) and returns what the database keeps of it.
    /// `previous` is the current version's material when the secret already exists (the
    /// ARN or Vault path to write to, which a linked secret chose).
    fn write<'a>(
        &'a self,
        scope: &'a ScopePath,
        name: &'a SecretName,
        value: &'a SecretValue,
        previous: Option<&'a StoredMaterial>,
    ) -> BoxFuture<'a, Result<Written, BackendError>>;

    /// Fetches several values at once: one result per item, in order, each with the
    /// backend version that was actually read.
    fn fetch<'a>(
        &'a self,
        items: &'a [&'a StoredMaterial],
        which: Fetch,
    ) -> BoxFuture<'a, Vec<Result<Fetched, BackendError>>>;

    /// Registers a value that already lives in the backend, by reference (an ARN;
    /// `MOUNT/PATH#FIELD`), checking that it exists without reading the value.
    fn link<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<StoredMaterial>> {
        let _ = reference;
        let kind = self.kind();
        Box::pin(async move {
            Err(Error::Invalid(format!(
                "the {kind} backend cannot link an existing value"
            )))
        })
    }

    /// Makes an earlier version current again and returns the material of the new version.
    /// The local backend simply keeps the old token.
    fn restore<'a>(
        &'a self,
        _scope: &'a ScopePath,
        _name: &'a SecretName,
        target: &'a StoredMaterial,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        Box::pin(async move { Ok(Written::local(target.clone())) })
    }

    /// Takes back a `write` or `restore` whose version the database did not record (an
    /// import that failed on a later entry, a commit that failed): the value that was
    /// current before is current again, and the new one is removed where the backend
    /// allows it. Refuses (and changes nothing) when the backend moved on since.
    /// Nothing to do for the local backend.
    fn undo<'a>(&'a self, written: &'a Written) -> BoxFuture<'a, Result<(), BackendError>> {
        let _ = written;
        Box::pin(async move { Ok(()) })
    }

    /// Checks that the backend is reachable and usable (`secretstore doctor`): a line
    /// describing what was checked, or why it fails.
    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, BackendError>>;

    /// The normal forms (see [`crate::links`]) of a reference as a caller wrote it for
    /// `link`, before the backend is asked anything: every form must pass the link rule
    /// (an AWS ARN gives its name with and without the random suffix). Bad syntax is
    /// `Invalid`, with a message that does not repeat the reference.
    fn link_forms(&self, reference: &str) -> Result<Vec<String>> {
        let _ = reference;
        Err(Error::Invalid(format!(
            "the {} backend cannot link an existing value",
            self.kind()
        )))
    }

    /// The normal form of the reference a version's material points to (`None`: nothing
    /// external, as for the local backend).
    fn reference_of(&self, material: &StoredMaterial) -> Option<String> {
        let _ = material;
        None
    }

    /// The scope whose secret secretstore itself created at this normalised reference
    /// (under `AWS_SM_PREFIX`; under `secretstore/` in Vault's configured mount).
    fn owner_scope(&self, reference: &str) -> Option<ScopePath> {
        let _ = reference;
        None
    }
}

/// Where briefs are kept: a folder, later S3.
pub trait BriefStore: Send + Sync {
    /// Stores a brief. It must be durable before the env is handed out.
    fn put<'a>(&'a self, brief: &'a Brief) -> BoxFuture<'a, Result<()>>;
    /// Reads a stored brief.
    fn get<'a>(&'a self, id: &'a BriefId) -> BoxFuture<'a, Result<Brief>>;
    /// Checks that briefs can be written and read (`secretstore doctor`).
    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String>>;
}

/// One write of a new version, as handed to the store.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub scope: ScopePath,
    pub name: SecretName,
    /// The category to set; `None` keeps the existing one (an error for a new secret).
    pub category: Option<Category>,
    pub backend: BackendKind,
    pub material: StoredMaterial,
    /// The version this write replaces (`0`: the secret must not exist yet).
    pub expected: Option<Version>,
    pub rollback_of: Option<Version>,
    pub actor: Actor,
    /// The audit record; the store fills in the new version.
    pub audit: AuditEntry,
    /// The write reservation (its holder) that this write ends: the store releases it in
    /// the same transaction, and fails the write if it is no longer held.
    pub reservation: Option<String>,
}

/// One secret whose write reservation is asked for.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub scope: ScopePath,
    pub name: SecretName,
    /// The version the caller expects to replace (`0`: the secret must not exist yet);
    /// checked against the database in the transaction that takes the reservation.
    pub expected: Option<Version>,
}

/// A reserved secret as the database held it when the reservation was taken: its
/// metadata and current material, or `None` for a secret that does not exist yet.
pub type Reserved = Option<(SecretMeta, StoredMaterial)>;

/// What the database keeps of a dispatch: never the token, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRecord {
    pub brief_id: BriefId,
    pub task_id: TaskId,
    pub project: String,
    pub created_at: String,
    pub token_hash: String,
    pub expires_at: String,
    pub status: String,
    pub completed_at: Option<String>,
    pub revoked: bool,
    /// Which secrets (scope, name, version, backend version) the brief handed out.
    pub secrets: Vec<(String, String, Version, Option<String>)>,
}

/// A dispatch as the web UI lists it, with the secrets rotated since.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BriefSummary {
    pub brief_id: String,
    pub task_id: String,
    pub project: String,
    pub created_at: String,
    pub status: String,
    pub completed_at: Option<String>,
    /// Names of secrets the brief used that have a newer version (or were deleted) since:
    /// a running agent still holds the old value.
    pub stale: Vec<String>,
}

/// The database, as the domain sees it. All SQL lives behind this trait.
pub trait MetadataStore: Send + Sync {
    /// Creates a scope; its parent must exist.
    fn create_scope(
        &self,
        path: &ScopePath,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    fn scope_exists(&self, path: &ScopePath) -> impl Future<Output = Result<bool>> + Send;
    fn secret(
        &self,
        scope: &ScopePath,
        name: &SecretName,
    ) -> impl Future<Output = Result<Option<SecretMeta>>> + Send;
    fn list_secrets(
        &self,
        scope: &ScopePath,
    ) -> impl Future<Output = Result<Vec<SecretMeta>>> + Send;
    /// The history, newest first; `NotFound` for an unknown secret.
    fn versions(
        &self,
        scope: &ScopePath,
        name: &SecretName,
    ) -> impl Future<Output = Result<Vec<VersionMeta>>> + Send;
    /// A version's material (the current one when `version` is `None`).
    fn material(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        version: Option<Version>,
    ) -> impl Future<Output = Result<(SecretMeta, Version, StoredMaterial)>> + Send;
    /// Writes new versions in one transaction, all or nothing; returns the new version numbers.
    fn write_versions(
        &self,
        writes: Vec<NewVersion>,
    ) -> impl Future<Output = Result<Vec<Version>>> + Send;
    /// Takes the write reservations of these secrets for `holder`, all or none, for `ttl`
    /// (after which another writer may take them over: a crashed writer blocks no one for
    /// long), in one transaction that also checks each `expected` version. Returns what the
    /// database holds of each. `Conflict` when an `expected` version is stale (nothing is
    /// reserved), or when another writer holds one of them: at once if any `expected` is
    /// given, otherwise after waiting up to `wait` for it to finish.
    fn reserve_writes(
        &self,
        holder: &str,
        items: &[Reservation],
        ttl: std::time::Duration,
        wait: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<Reserved>>> + Send;
    /// Releases the reservations `holder` still has on these secrets (after a failed write).
    fn release_writes(
        &self,
        holder: &str,
        items: &[Reservation],
    ) -> impl Future<Output = Result<()>> + Send;
    fn delete_secret(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    fn create_task(
        &self,
        task: &Task,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    fn task(&self, id: &TaskId) -> impl Future<Output = Result<Task>> + Send;
    /// Every secret named in `names` at any scope of `chain`, each with its current
    /// version's material, read in one query.
    fn candidates(
        &self,
        chain: &[ScopePath],
        names: &[SecretName],
    ) -> impl Future<Output = Result<Vec<Candidate>>> + Send;
    fn record_dispatch(
        &self,
        record: &DispatchRecord,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    fn dispatch_record(&self, id: &BriefId) -> impl Future<Output = Result<DispatchRecord>> + Send;
    /// The newest dispatches, newest first, with their stale secrets.
    fn recent_briefs(&self, limit: i64) -> impl Future<Output = Result<Vec<BriefSummary>>> + Send;
    fn append_audit(&self, audit: AuditEntry) -> impl Future<Output = Result<()>> + Send;
    /// Every scope, ordered by path.
    fn list_scopes(&self) -> impl Future<Output = Result<Vec<ScopePath>>> + Send;
    /// Marks a brief completed (or another final status) by its agent's callback, in one
    /// atomic statement, only if it is still running and not revoked: `false` (and no
    /// audit record) if it was not, so of concurrent callbacks exactly one wins.
    fn complete_brief(
        &self,
        id: &BriefId,
        status: &str,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Revokes a running brief's callback token (status `revoked`), atomically; `false`
    /// (and no audit record) if the brief was no longer running.
    fn revoke_brief(
        &self,
        id: &BriefId,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The newest `limit` audit records, oldest first; with `roots`, only the records at or
    /// under one of them (records without a scope, such as account changes, only without).
    fn audit_log(
        &self,
        roots: Option<&[ScopePath]>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;
    /// The references an organization may link (empty lists when none were allowed).
    fn link_prefixes(&self, org: &ScopePath) -> impl Future<Output = Result<LinkPrefixes>> + Send;
    /// Replaces an organization's lists, audited in the same transaction.
    fn set_link_prefixes(
        &self,
        org: &ScopePath,
        prefixes: &LinkPrefixes,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The normalised reference that root linked (scope, name) to, if root made its link.
    fn link_approval(
        &self,
        scope: &ScopePath,
        name: &SecretName,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Records (`Some((reference, by))`) or clears root's approval of a secret's link.
    fn set_link_approval(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        approval: Option<(&str, &str)>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The value backends that are configured, by kind.
#[derive(Clone, Default)]
pub struct Backends {
    map: BTreeMap<BackendKind, Arc<dyn ValueBackend>>,
    /// Why a backend is missing, with a hint, for the error a user sees.
    missing: BTreeMap<BackendKind, (String, String)>,
}

impl Backends {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, backend: Arc<dyn ValueBackend>) -> Self {
        self.map.insert(backend.kind(), backend);
        self
    }

    /// Records why `kind` is not available and what to do about it.
    pub fn without(
        mut self,
        kind: BackendKind,
        why: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        self.missing.insert(kind, (why.into(), hint.into()));
        self
    }

    pub fn get(&self, kind: BackendKind) -> Result<&Arc<dyn ValueBackend>> {
        self.map
            .get(&kind)
            .ok_or_else(|| match self.missing.get(&kind) {
                Some((why, hint)) => Error::config(why.clone(), hint.clone()),
                None => Error::config(
                    format!("the {kind} backend is not configured"),
                    "see the README's section on backends",
                ),
            })
    }
}

/// The result of a successful dispatch.
pub struct Dispatched {
    pub brief: Brief,
    /// The secrets, in the order of the task's refs, then `SECRETSTORE_BRIEF_ID` and
    /// `SECRETSTORE_CALLBACK_TOKEN`.
    pub env: Vec<(String, SecretValue)>,
}

/// The settings the service needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Backend of new secrets.
    pub default_backend: BackendKind,
    /// How long a callback token is valid, in seconds.
    pub callback_ttl_secs: i64,
}

/// secretstore's operations.
pub struct Service<S> {
    pub store: S,
    pub backends: Backends,
    pub briefs: Arc<dyn BriefStore>,
    pub config: ServiceConfig,
}

/// A new web UI session: the cookie's secret (shown once), its public id and CSRF token.
pub struct NewSession {
    pub id: SecretValue,
    pub public_id: String,
    pub csrf: String,
}

/// One entry of a dotenv import.
pub struct ImportEntry {
    pub name: String,
    pub value: SecretValue,
}

impl<S: MetadataStore> Service<S> {
    fn audit(&self, who: &Principal, action: &str) -> AuditEntry {
        AuditEntry::new(&Actor(who.account.clone()), action, &who.source)
    }

    /// Creates an organization, team, workspace or project.
    pub async fn create_scope(
        &self,
        who: &Principal,
        path: &str,
        level: Level,
    ) -> Result<ScopePath> {
        let path = ScopePath::parse_level(path, level)?;
        who.require(Action::CreateScope, &path)?;
        let audit = self
            .audit(who, &format!("{}.create", level.as_str()))
            .scope(&path);
        self.store.create_scope(&path, audit).await?;
        Ok(path)
    }

    /// Parses a secret scope, checks the caller may do `action` there (a hidden scope is
    /// reported exactly as a missing one), and that it exists.
    async fn secret_scope(
        &self,
        who: &Principal,
        scope: &str,
        action: Action,
    ) -> Result<ScopePath> {
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(action, &scope)?;
        self.existing_scope(scope).await
    }

    async fn existing_scope(&self, scope: ScopePath) -> Result<ScopePath> {
        if !self.store.scope_exists(&scope).await? {
            return Err(Error::NotFound(format!(
                "unknown {} {scope}",
                scope.level().as_str()
            )));
        }
        Ok(scope)
    }

    /// Writes a new version of a secret (creating it at version 1).
    pub async fn set_secret(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        value: &SecretValue,
        category: Option<Category>,
        expected: Option<Version>,
    ) -> Result<Version> {
        let name = SecretName::parse(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::Write, &scope)?;
        // An existing secret proves its scope exists: one query on the common path.
        let existing = self.store.secret(&scope, &name).await?;
        let backend_kind = match &existing {
            Some(m) => m.backend,
            None => self.config.default_backend,
        };
        let backend = self.backends.get(backend_kind)?;
        if existing.is_none() {
            self.existing_scope(scope.clone()).await?;
            if category.is_none() {
                return Err(Error::Invalid(format!(
                    "{name} is a new secret at {scope}: --category is required (provider, infrastructure, integration or agent)"
                )));
            }
        }
        check_expected(&scope, &name, existing.as_ref(), expected)?;
        let audit = self.audit(who, "secret.set").secret(&scope, &name);
        let new = NewVersion {
            scope,
            name,
            category,
            backend: backend_kind,
            material: StoredMaterial::default(),
            expected,
            rollback_of: None,
            actor: Actor(who.account.clone()),
            audit,
            reservation: None,
        };
        if backend_kind != BackendKind::Local {
            return self
                .write_external(who, backend.as_ref(), ExternalOp::Write(value), new)
                .await;
        }
        // Local: the value lives in the row, so the database's compare-and-swap is the
        // whole check.
        let written = backend.write(&new.scope, &new.name, value, None).await?;
        self.commit_one(NewVersion {
            material: written.material,
            ..new
        })
        .await
    }

    /// Writes one version and returns its number.
    async fn commit_one(&self, new: NewVersion) -> Result<Version> {
        self.store
            .write_versions(vec![new])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Storage("write returned no version".into()))
    }

    /// A change of an external secret (AWS, Vault) as one step with its version check:
    /// take the secret's write reservation in the database, checking `new.expected` in
    /// the same transaction (a stale write is refused before the backend is touched);
    /// change the backend; record the version and release the reservation in one
    /// transaction. A failed backend change releases the reservation; a failed record
    /// undoes the backend change.
    async fn write_external(
        &self,
        who: &Principal,
        backend: &dyn ValueBackend,
        op: ExternalOp<'_>,
        mut new: NewVersion,
    ) -> Result<Version> {
        let holder = crate::random::uuid_v4();
        let items = [Reservation {
            scope: new.scope.clone(),
            name: new.name.clone(),
            expected: new.expected,
        }];
        let current = self
            .store
            .reserve_writes(
                &holder,
                &items,
                WRITE_RESERVATION_TTL,
                WRITE_RESERVATION_WAIT,
            )
            .await?
            .into_iter()
            .next()
            .flatten();
        let release = || self.store.release_writes(&holder, &items);
        let refuse = match &current {
            Some((meta, _)) if meta.backend != backend.kind() => Some(Error::Conflict(format!(
                "{} at {} is now a {} secret; nothing was changed",
                new.name, new.scope, meta.backend
            ))),
            None if matches!(op, ExternalOp::Restore(_)) => Some(not_found(&new.scope, &new.name)),
            None if new.category.is_none() => Some(Error::Invalid(format!(
                "{} is a new secret at {}: --category is required (provider, infrastructure, integration or agent)",
                new.name, new.scope
            ))),
            _ => None,
        };
        if let Some(e) = refuse {
            let _ = release().await;
            return Err(e);
        }
        let previous = current.as_ref().map(|(_, m)| m);
        // The link rule, on the reference written to and (rollback) the one made current.
        let restored = match &op {
            ExternalOp::Restore(target) => Some(target),
            ExternalOp::Write(_) => None,
        };
        for material in [previous, restored].into_iter().flatten() {
            let kind = backend.kind();
            if let Err(e) = self
                .authorize_reference(who, &new.scope, &new.name, kind, Some(material))
                .await
            {
                let _ = release().await;
                return Err(e);
            }
        }
        let changed = match &op {
            ExternalOp::Write(value) => backend.write(&new.scope, &new.name, value, previous).await,
            ExternalOp::Restore(target) => backend.restore(&new.scope, &new.name, target).await,
        };
        let written = match changed {
            Ok(w) => w,
            Err(e) => {
                let _ = release().await;
                return Err(e.into());
            }
        };
        new.material = written.material.clone();
        new.expected = Some(current.as_ref().map_or(0, |(m, _)| m.version));
        new.reservation = Some(holder.clone());
        match self.commit_one(new).await {
            Ok(v) => Ok(v),
            Err(e) => {
                let note = match backend.undo(&written).await {
                    Ok(()) => format!("; the change in {} was undone", backend.kind()),
                    Err(u) => format!(
                        "; undoing the change in {} failed too ({u}): it holds a value that secretstore did not record",
                        backend.kind()
                    ),
                };
                let _ = release().await;
                Err(e.with_note(&note))
            }
        }
    }

    /// Registers a secret that already lives in AWS Secrets Manager or Vault: only the
    /// reference is stored, and no value passes through secretstore.
    pub async fn link_secret(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        kind: BackendKind,
        reference: &str,
        category: Option<Category>,
    ) -> Result<Version> {
        let name = SecretName::parse(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::Write, &scope)?;
        let existing = self.store.secret(&scope, &name).await?;
        match &existing {
            Some(m) if m.backend != kind => {
                return Err(Error::Conflict(format!(
                    "{name} at {scope} is a {} secret; delete it before linking it to {kind}",
                    m.backend
                )));
            }
            Some(_) => {}
            None => {
                self.existing_scope(scope.clone()).await?;
                if category.is_none() {
                    return Err(Error::Invalid(format!(
                        "{name} is a new secret at {scope}: --category is required (provider, infrastructure, integration or agent)"
                    )));
                }
            }
        }
        let backend = self.backends.get(kind)?;
        // Before the backend is asked anything: a refusal says nothing of existence.
        let refused = |e: Error| self.refused_link(who, &scope, &name, kind, e);
        if let Err(e) = self
            .authorize_link(who, &scope, backend.as_ref(), reference)
            .await
        {
            return Err(refused(e).await);
        }
        let material = backend.link(reference).await?;
        // Again on what the backend resolved the reference to.
        let resolved = backend.reference_of(&material);
        if let Some(r) = &resolved
            && let Err(e) = self.authorize_link(who, &scope, backend.as_ref(), r).await
        {
            return Err(refused(e).await);
        }
        let audit =
            self.audit(who, "secret.link")
                .secret(&scope, &name)
                .detail(serde_json::json!({
                    "backend": kind.as_str(),
                    "reference": reference,
                    "approved_by_root": who.is_root(),
                }));
        let versions = self
            .store
            .write_versions(vec![NewVersion {
                expected: existing.as_ref().map(|m| m.version).or(Some(0)),
                scope: scope.clone(),
                name: name.clone(),
                category,
                backend: kind,
                material,
                rollback_of: None,
                actor: Actor(who.account.clone()),
                audit,
                reservation: None,
            }])
            .await?;
        // Root's link is approved for the members of the scope; anyone else's is checked
        // against the organization's prefixes at every use.
        let approval = match (&resolved, who.is_root()) {
            (Some(r), true) => Some((r.as_str(), who.account.as_str())),
            _ => None,
        };
        self.store
            .set_link_approval(&scope, &name, approval)
            .await?;
        versions
            .into_iter()
            .next()
            .ok_or_else(|| Error::Storage("write returned no version".into()))
    }

    /// A link refused by the link rule is audited (`secret.link_refused`: who, where, which
    /// backend; never the reference, which may name another team's secret); other errors
    /// pass through. Returns the error to answer.
    async fn refused_link(
        &self,
        who: &Principal,
        scope: &ScopePath,
        name: &SecretName,
        kind: BackendKind,
        e: Error,
    ) -> Error {
        if matches!(e, Error::Forbidden(_)) {
            let audit = self
                .audit(who, "secret.link_refused")
                .secret(scope, name)
                .detail(serde_json::json!({ "backend": kind.as_str() }));
            if let Err(a) = self.store.append_audit(audit).await {
                return a;
            }
        }
        e
    }

    /// The link rule of [`crate::links`] for a new link: every normal form of the
    /// reference as the caller wrote it must be allowed at `scope` (root's approval of an
    /// earlier link does not count for a new one). Root may link anything.
    async fn authorize_link(
        &self,
        who: &Principal,
        scope: &ScopePath,
        backend: &dyn ValueBackend,
        reference: &str,
    ) -> Result<()> {
        if who.is_root() {
            return Ok(());
        }
        let mut prefixes = None;
        for form in backend.link_forms(reference)? {
            if !self
                .reference_allowed(scope, backend, &form, &mut prefixes)
                .await?
            {
                return Err(links::refusal(scope));
            }
        }
        Ok(())
    }

    /// The link rule for a stored reference, at every use of it: a write to it (set,
    /// import), a rollback, a reveal, a dispatch. Root may use anything; anyone else a
    /// local value, secretstore's own reference of this very scope, a link that root made,
    /// or a reference that the organization's current prefixes cover. The one place this
    /// is decided; each use calls it with one line.
    pub async fn authorize_reference(
        &self,
        who: &Principal,
        scope: &ScopePath,
        name: &SecretName,
        kind: BackendKind,
        material: Option<&StoredMaterial>,
    ) -> Result<()> {
        if who.is_root() {
            return Ok(());
        }
        self.reference_verdict(scope, name, kind, material, &mut None)
            .await?
            .map_or(Ok(()), |_| Err(links::refusal(scope)))
    }

    /// `None` when the reference of `material` may be used at (scope, name) by someone
    /// who is not root, else `Some(reference)`: the normalised reference that breaks the rule.
    async fn reference_verdict(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        kind: BackendKind,
        material: Option<&StoredMaterial>,
        prefixes: &mut Option<(String, LinkPrefixes)>,
    ) -> Result<Option<String>> {
        let Some(material) = material else {
            return Ok(None);
        };
        if kind == BackendKind::Local {
            return Ok(None);
        }
        let backend = self.backends.get(kind)?;
        let Some(reference) = backend.reference_of(material) else {
            return Ok(None);
        };
        if self
            .reference_allowed(scope, backend.as_ref(), &reference, prefixes)
            .await?
        {
            return Ok(None);
        }
        if self.store.link_approval(scope, name).await?.as_deref() == Some(reference.as_str()) {
            return Ok(None);
        }
        Ok(Some(reference))
    }

    /// Whether a normalised reference may be linked at `scope` by a non-root caller:
    /// secretstore's own reference of exactly this scope, or (not secretstore's at all)
    /// covered by the organization's prefixes. `prefixes` caches the organization's lists.
    async fn reference_allowed(
        &self,
        scope: &ScopePath,
        backend: &dyn ValueBackend,
        reference: &str,
        prefixes: &mut Option<(String, LinkPrefixes)>,
    ) -> Result<bool> {
        if let Some(owner) = backend.owner_scope(reference) {
            return Ok(&owner == scope);
        }
        let org = scope.organization();
        let cached = matches!(prefixes, Some((o, _)) if o == org);
        if !cached {
            let org_path = ScopePath::parse(org)?;
            let list = self.store.link_prefixes(&org_path).await?;
            *prefixes = Some((org.to_owned(), list));
        }
        Ok(prefixes
            .as_ref()
            .is_some_and(|(_, p)| p.allows(backend.kind(), reference)))
    }

    /// The link rule for every winner of a dispatch (or a payload check), before any value
    /// is fetched: refs whose link breaks it fail the dispatch as a whole.
    async fn authorize_winners(&self, who: &Principal, resolutions: &[Resolution]) -> Result<()> {
        if who.is_root() {
            return Ok(());
        }
        let mut failures = Vec::new();
        let mut prefixes = None;
        for r in resolutions {
            let Some(c) = &r.winner else { continue };
            let scope = ScopePath::parse(&c.meta.scope)?;
            let name = SecretName::parse(&c.meta.name)?;
            let verdict = self
                .reference_verdict(
                    &scope,
                    &name,
                    c.meta.backend,
                    Some(&c.material),
                    &mut prefixes,
                )
                .await?;
            if verdict.is_some() {
                failures.push(RefFailure {
                    name: r.name.to_string(),
                    reason: RefFailureReason::Backend {
                        scope: c.meta.scope.clone(),
                        error: BackendError::Refused(links::refusal(&scope).to_string()),
                    },
                });
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Dispatch(failures))
        }
    }

    /// The references root allowed an organization to link: root, and the organization's
    /// admins, may read them.
    pub async fn link_prefixes(&self, who: &Principal, org: &str) -> Result<LinkPrefixes> {
        let org = ScopePath::parse_level(org, Level::Organization)?;
        let admin = who.roles.iter().any(|r| r == &Role::Admin(org.clone()));
        if !who.is_root() && !admin {
            return Err(refuse_org(who, &org, "read the link prefixes of"));
        }
        let org = self.existing_scope(org).await?;
        self.store.link_prefixes(&org).await
    }

    /// Replaces the references an organization may link (root only), audited as
    /// `org.allow_links`; returns the lists as stored.
    pub async fn allow_links(
        &self,
        who: &Principal,
        org: &str,
        aws: &[String],
        vault: &[String],
    ) -> Result<LinkPrefixes> {
        let org = ScopePath::parse_level(org, Level::Organization)?;
        if !who.is_root() {
            return Err(refuse_org(who, &org, "allow links for"));
        }
        let prefixes = LinkPrefixes::parse(aws, vault)?;
        let org = self.existing_scope(org).await?;
        let audit = self
            .audit(who, "org.allow_links")
            .scope(&org)
            .detail(serde_json::to_value(&prefixes).unwrap_or_default());
        self.store.set_link_prefixes(&org, &prefixes, audit).await?;
        Ok(prefixes)
    }

    /// Every secret whose current link breaks the link rule for its scope's members
    /// (made before the rule, or allowed by a prefix that root removed since): one line
    /// each, `SCOPE NAME (BACKEND REFERENCE)`. For `doctor`.
    pub async fn bad_links(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut prefixes = None;
        for scope in self.store.list_scopes().await? {
            if scope.level() == Level::Project {
                continue;
            }
            for meta in self.store.list_secrets(&scope).await? {
                if meta.backend == BackendKind::Local || self.backends.get(meta.backend).is_err() {
                    continue;
                }
                let name = SecretName::parse(&meta.name)?;
                let (_, _, material) = self.store.material(&scope, &name, None).await?;
                let verdict = self
                    .reference_verdict(&scope, &name, meta.backend, Some(&material), &mut prefixes)
                    .await?;
                if let Some(reference) = verdict {
                    out.push(format!("{scope} {name} ({} {reference})", meta.backend));
                }
            }
        }
        Ok(out)
    }

    /// Checks every configured backend and the brief store: one line each.
    pub async fn doctor(&self) -> Vec<(String, Result<String>)> {
        let mut out = Vec::new();
        for kind in [BackendKind::Local, BackendKind::AwsSm, BackendKind::Vault] {
            match self.backends.get(kind) {
                Ok(b) => out.push((kind.to_string(), b.check().await.map_err(Error::from))),
                Err(e) if kind == self.config.default_backend => {
                    out.push((kind.to_string(), Err(e)))
                }
                Err(_) => {}
            }
        }
        out.push(("briefs".to_string(), self.briefs.check().await));
        out.push(("links".to_string(), self.links_report().await));
        out.push(("names".to_string(), self.check_names().await));
        out
    }

    /// `doctor`'s line on links: how many were checked, or every one that breaks the rule.
    async fn links_report(&self) -> Result<String> {
        let bad = self.bad_links().await?;
        if bad.is_empty() {
            return Ok(
                "every link is within its organization's allowed prefixes or was made by root"
                    .into(),
            );
        }
        Err(Error::Forbidden(format!(
            "{} link(s) outside their organization's allowed prefixes and not made by root (members are refused them; re-link as root, or allow the prefix with `secretstore org allow-links`): {}",
            bad.len(),
            bad.join("; ")
        )))
    }

    /// Secrets stored under a name that is refused today (an unsafe environment name,
    /// stored before that rule existed): dispatch refuses them.
    async fn check_names(&self) -> Result<String> {
        let mut bad = Vec::new();
        for scope in self.store.list_scopes().await? {
            if scope.level() == Level::Project {
                continue;
            }
            for m in self.store.list_secrets(&scope).await? {
                if let Some(rule) = crate::name::unsafe_env_rule(&m.name) {
                    bad.push(format!("{scope} {} ({rule})", m.name));
                }
            }
        }
        if bad.is_empty() {
            return Ok("no secret has a refused name".into());
        }
        Err(Error::Invalid(format!(
            "{} secret(s) have a name that is refused today, and dispatch refuses them; move each value to another name, then delete it: {}",
            bad.len(),
            bad.join("; ")
        )))
    }

    /// Reveals a value (audited before it is returned).
    pub async fn reveal(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        version: Option<Version>,
    ) -> Result<(SecretValue, Version)> {
        let name = SecretName::parse_existing(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::ReadValue, &scope)?;
        let (meta, v, material) = match self.store.material(&scope, &name, version).await {
            Ok(m) => m,
            Err(Error::NotFound(msg)) => {
                // Name the unknown scope rather than the secret, if that is what is missing.
                self.existing_scope(scope).await?;
                return Err(Error::NotFound(msg));
            }
            Err(e) => return Err(e),
        };
        self.authorize_reference(who, &scope, &name, meta.backend, Some(&material))
            .await?;
        let backend = self.backends.get(meta.backend)?;
        let which = if version.is_some() {
            Fetch::Recorded
        } else {
            Fetch::Current
        };
        let value = backend
            .fetch(&[&material], which)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(BackendError::Unavailable("backend returned nothing".into())))?
            .value;
        self.store
            .append_audit(
                self.audit(who, "secret.reveal")
                    .secret(&scope, &name)
                    .version(v),
            )
            .await?;
        Ok((value, v))
    }

    pub async fn list(&self, who: &Principal, scope: &str) -> Result<Vec<SecretMeta>> {
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        self.store.list_secrets(&scope).await
    }

    pub async fn history(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
    ) -> Result<Vec<VersionMeta>> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        self.store.versions(&scope, &name).await
    }

    pub async fn metadata(&self, who: &Principal, scope: &str, name: &str) -> Result<SecretMeta> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        self.store
            .secret(&scope, &name)
            .await?
            .ok_or_else(|| not_found(&scope, &name))
    }

    /// Writes a new version holding version `to`'s value.
    pub async fn rollback(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        to: Version,
    ) -> Result<Version> {
        let name = SecretName::parse(name)?;
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let (meta, v, target) = self.store.material(&scope, &name, Some(to)).await?;
        let backend = self.backends.get(meta.backend)?;
        let audit = self
            .audit(who, "secret.rollback")
            .secret(&scope, &name)
            .detail(serde_json::json!({ "to": v }));
        let new = NewVersion {
            scope,
            name,
            category: None,
            backend: meta.backend,
            material: StoredMaterial::default(),
            expected: Some(meta.version),
            rollback_of: Some(v),
            actor: Actor(who.account.clone()),
            audit,
            reservation: None,
        };
        if meta.backend != BackendKind::Local {
            // Rollback makes version `to` current whatever came in between: it waits for
            // a write in progress instead of failing on it.
            let new = NewVersion {
                expected: None,
                ..new
            };
            return self
                .write_external(who, backend.as_ref(), ExternalOp::Restore(target), new)
                .await;
        }
        let written = backend.restore(&new.scope, &new.name, &target).await?;
        self.commit_one(NewVersion {
            material: written.material,
            ..new
        })
        .await
    }

    pub async fn delete(&self, who: &Principal, scope: &str, name: &str) -> Result<()> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let audit = self.audit(who, "secret.delete").secret(&scope, &name);
        self.store.delete_secret(&scope, &name, audit).await
    }

    /// Imports many secrets at one scope, all or nothing: every name and value is checked
    /// before anything is written, and the writes share one transaction.
    pub async fn import(
        &self,
        who: &Principal,
        scope: &str,
        category: Category,
        entries: Vec<ImportEntry>,
    ) -> Result<Vec<(SecretName, Version)>> {
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let mut names = Vec::with_capacity(entries.len());
        for e in &entries {
            let n = SecretName::parse(&e.name)?;
            if names.contains(&n) {
                return Err(Error::Invalid(format!("{n} appears twice in the import")));
            }
            names.push(n);
        }
        if entries.is_empty() {
            return Err(Error::Invalid(
                "nothing to import: the file holds no variables".into(),
            ));
        }
        // Which backend each entry goes to: an existing secret's own, else the default.
        let mut kinds = Vec::with_capacity(names.len());
        for name in &names {
            kinds.push(match self.store.secret(&scope, name).await? {
                Some(m) => m.backend,
                None => self.config.default_backend,
            });
        }
        let mut backends = Vec::with_capacity(kinds.len());
        for kind in &kinds {
            backends.push(self.backends.get(*kind)?);
        }
        // The external entries are reserved together (all or none), checked and written
        // under their reservations, and recorded with them in one transaction.
        let holder = crate::random::uuid_v4();
        let reserved_items: Vec<Reservation> = names
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| **k != BackendKind::Local)
            .map(|(n, _)| Reservation {
                scope: scope.clone(),
                name: n.clone(),
                expected: None,
            })
            .collect();
        let mut reserved = if reserved_items.is_empty() {
            Vec::new()
        } else {
            self.store
                .reserve_writes(
                    &holder,
                    &reserved_items,
                    WRITE_RESERVATION_TTL,
                    WRITE_RESERVATION_WAIT,
                )
                .await?
        }
        .into_iter();
        let mut writes = Vec::with_capacity(entries.len());
        // The external writes made so far, for the undo.
        let mut done: Vec<(usize, Written)> = Vec::new();
        let mut failed = None;
        for (i, ((name, e), kind)) in names.iter().zip(&entries).zip(&kinds).enumerate() {
            let backend = &backends[i];
            let (previous, expected) = if *kind == BackendKind::Local {
                (None, None)
            } else {
                match reserved.next().flatten() {
                    Some((meta, m)) if meta.backend == *kind => (Some(m), Some(meta.version)),
                    Some((meta, _)) => {
                        failed = Some(Error::Conflict(format!(
                            "{name} at {scope} is now a {} secret",
                            meta.backend
                        )));
                        break;
                    }
                    None => (None, Some(0)),
                }
            };
            // The link rule, on the reference this entry writes to (before its write;
            // a refusal undoes the entries already written).
            if let Err(err) = self
                .authorize_reference(who, &scope, name, *kind, previous.as_ref())
                .await
            {
                failed = Some(err);
                break;
            }
            let written = match backend
                .write(&scope, name, &e.value, previous.as_ref())
                .await
            {
                Ok(w) => w,
                Err(err) => {
                    failed = Some(Error::from(err));
                    break;
                }
            };
            if *kind != BackendKind::Local {
                done.push((i, written.clone()));
            }
            let audit = self.audit(who, "secret.import").secret(&scope, name);
            writes.push(NewVersion {
                scope: scope.clone(),
                name: name.clone(),
                category: Some(category),
                backend: *kind,
                material: written.material,
                expected,
                rollback_of: None,
                actor: Actor(who.account.clone()),
                audit,
                reservation: (*kind != BackendKind::Local).then(|| holder.clone()),
            });
        }
        let outcome = match failed {
            Some(e) => Err(e),
            None => self.store.write_versions(writes).await,
        };
        match outcome {
            Ok(versions) => Ok(names.into_iter().zip(versions).collect()),
            Err(e) => {
                let note = self.undo_all(&backends, &names, &done).await;
                if !reserved_items.is_empty() {
                    let _ = self.store.release_writes(&holder, &reserved_items).await;
                }
                Err(e.with_note(&note))
            }
        }
    }

    /// Undoes external writes that the database will not record, newest first; says
    /// what was done, for the error.
    async fn undo_all(
        &self,
        backends: &[&Arc<dyn ValueBackend>],
        names: &[SecretName],
        done: &[(usize, Written)],
    ) -> String {
        let mut failures = Vec::new();
        for (i, written) in done.iter().rev() {
            if let Err(e) = backends[*i].undo(written).await {
                failures.push(format!("{} ({e})", names[*i]));
            }
        }
        let n = done.len();
        let writes = if n == 1 {
            "1 external write already made".to_owned()
        } else {
            format!("{n} external writes already made")
        };
        match (n, failures.len()) {
            (0, _) => "; nothing was imported".to_owned(),
            (1, 0) => format!("; nothing was imported: the {writes} was undone"),
            (_, 0) => format!("; nothing was imported: the {writes} were undone"),
            (_, f) => format!(
                "; nothing was recorded, but of the {writes}, {f} could not be undone and keep their new value in the backend: {}",
                failures.join(", ")
            ),
        }
    }

    /// Creates a task. Its refs are checked for shape only: they are resolved at dispatch.
    pub async fn create_task(
        &self,
        who: &Principal,
        project: &str,
        refs: &[String],
        payload: Option<serde_json::Value>,
    ) -> Result<Task> {
        let project = ScopePath::parse_level(project, Level::Project)?;
        who.require(Action::Dispatch, &project)?;
        let mut names: Vec<String> = Vec::with_capacity(refs.len());
        for r in refs {
            let n = SecretName::parse(r)?;
            if !names.iter().any(|x| x == n.as_str()) {
                names.push(n.to_string());
            }
        }
        if names.is_empty() {
            return Err(Error::Invalid(
                "a task needs at least one secret ref".into(),
            ));
        }
        if !self.store.scope_exists(&project).await? {
            return Err(Error::NotFound(format!("unknown project {project}")));
        }
        if let Some(p) = &payload {
            // The payload is stored with the task: refuse it now, before it reaches the
            // database, if it holds the current value of one of the refs (dispatch checks
            // again, against the values it hands out).
            let refs: Vec<SecretName> = names
                .iter()
                .map(|n| SecretName::parse(n))
                .collect::<Result<_>>()?;
            let candidates = self
                .store
                .candidates(&project.resolution_chain(), &refs)
                .await?;
            let resolutions = resolve::resolve(&project, &refs, candidates);
            self.authorize_winners(who, &resolutions).await?;
            // Refs that are missing or fail now are checked again at dispatch.
            let (values, _) = self.fetch_winners(&resolutions).await;
            refuse_values_in_payload(p, &resolutions, &values)?;
        }
        let task = Task {
            id: TaskId::generate(),
            project: project.to_string(),
            secret_refs: names,
            payload,
            created_at: crate::now_rfc3339(),
            created_by: who.account.clone(),
        };
        let audit = self
            .audit(who, "task.create")
            .scope(&project)
            .target(task.id.to_string());
        self.store.create_task(&task, audit).await?;
        Ok(task)
    }

    /// A task, if the caller may dispatch in its project (else "no task", as if missing).
    pub async fn task(&self, who: &Principal, id: &str) -> Result<Task> {
        let task = self.store.task(&TaskId::parse(id)?).await?;
        require_in_project(who, &task.project, || format!("no task {id}"))?;
        Ok(task)
    }

    /// Resolves refs for a project without fetching any value.
    pub async fn resolve(
        &self,
        who: &Principal,
        project: &str,
        refs: &[String],
    ) -> Result<Vec<Resolution>> {
        let project = ScopePath::parse_level(project, Level::Project)?;
        who.require(Action::Dispatch, &project)?;
        let names = refs
            .iter()
            .map(|r| SecretName::parse_existing(r))
            .collect::<Result<Vec<_>>>()?;
        if !self.store.scope_exists(&project).await? {
            return Err(Error::NotFound(format!("unknown project {project}")));
        }
        let chain = project.resolution_chain();
        let candidates = self.store.candidates(&chain, &names).await?;
        Ok(resolve::resolve(&project, &names, candidates))
    }

    /// Fetches the current value of every winner, each backend asked once for all its
    /// refs, with the backend version each value came from. One value slot per resolution (`None` where missing or failed) and the
    /// failures: a missing ref, or the winner's backend error (never a broader scope's value).
    async fn fetch_winners(
        &self,
        resolutions: &[Resolution],
    ) -> (Vec<Option<Fetched>>, Vec<RefFailure>) {
        let mut failures: Vec<RefFailure> = Vec::new();
        let mut values: Vec<Option<Fetched>> = vec![None; resolutions.len()];
        let mut by_backend: BTreeMap<BackendKind, Vec<usize>> = BTreeMap::new();
        for (i, r) in resolutions.iter().enumerate() {
            match &r.winner {
                None => failures.push(RefFailure {
                    name: r.name.to_string(),
                    reason: RefFailureReason::Missing,
                }),
                Some(c) => by_backend.entry(c.meta.backend).or_default().push(i),
            }
        }
        for (kind, idx) in &by_backend {
            let winner = |i: usize| resolutions[i].winner.as_ref();
            let fail = |i: usize, error: BackendError| RefFailure {
                name: resolutions[i].name.to_string(),
                reason: RefFailureReason::Backend {
                    scope: winner(i).map(|c| c.meta.scope.clone()).unwrap_or_default(),
                    error,
                },
            };
            let backend = match self.backends.get(*kind) {
                Ok(b) => b,
                Err(e) => {
                    for &i in idx {
                        failures.push(fail(i, BackendError::Unavailable(e.to_string())));
                    }
                    continue;
                }
            };
            let items: Vec<&StoredMaterial> = idx
                .iter()
                .filter_map(|&i| winner(i).map(|c| &c.material))
                .collect();
            let results = backend.fetch(&items, Fetch::Current).await;
            for (n, &i) in idx.iter().enumerate() {
                match results.get(n) {
                    Some(Ok(v)) => values[i] = Some(v.clone()),
                    Some(Err(e)) => failures.push(fail(i, e.clone())),
                    None => failures.push(fail(
                        i,
                        BackendError::Unavailable("backend returned no result".into()),
                    )),
                }
            }
        }
        (values, failures)
    }

    /// When a backend handed out another version than the one the database recorded at
    /// resolution (a write committed in between), names the database version that holds
    /// what was fetched, if there is one by now; otherwise the brief keeps the recorded
    /// version, and its `backend_version` shows what was handed out.
    async fn align_versions(
        &self,
        chain: &[ScopePath],
        names: &[SecretName],
        mut resolutions: Vec<Resolution>,
        values: &[Option<Fetched>],
    ) -> Result<Vec<Resolution>> {
        let moved = |r: &Resolution, v: &Option<Fetched>| match (&r.winner, v) {
            (Some(c), Some(f)) => f.version.is_some() && f.version != c.material.backend_version,
            _ => false,
        };
        if !resolutions.iter().zip(values).any(|(r, v)| moved(r, v)) {
            return Ok(resolutions);
        }
        let candidates = self.store.candidates(chain, names).await?;
        for (r, v) in resolutions.iter_mut().zip(values) {
            if !moved(r, v) {
                continue;
            }
            let (Some(winner), Some(fetched)) = (&r.winner, v) else {
                continue;
            };
            let now = candidates.iter().find(|c| {
                c.meta.name == winner.meta.name
                    && c.meta.scope == winner.meta.scope
                    && c.material.backend_version == fetched.version
            });
            if let Some(now) = now {
                r.winner = Some(now.clone());
            }
        }
        Ok(resolutions)
    }

    /// Dispatches a task: resolves and fetches every ref, stores the brief, issues a
    /// callback token and returns the env. All or nothing: any missing or failing ref
    /// fails the whole dispatch, naming every one, and nothing is stored or issued.
    pub async fn dispatch(&self, who: &Principal, task_id: &str) -> Result<Dispatched> {
        let task = self.task(who, task_id).await?;
        // A ref stored before unsafe environment names were refused is refused here.
        refuse_unsafe_refs(&task.secret_refs)?;
        let project = ScopePath::parse_level(&task.project, Level::Project)?;
        let names = task
            .secret_refs
            .iter()
            .map(|r| SecretName::parse(r))
            .collect::<Result<Vec<_>>>()?;
        let chain = project.resolution_chain();
        let candidates = self.store.candidates(&chain, &names).await?;
        let resolutions = resolve::resolve(&project, &names, candidates);
        self.authorize_winners(who, &resolutions).await?;

        let (values, mut failures) = self.fetch_winners(&resolutions).await;
        if !failures.is_empty() {
            let order = |f: &RefFailure| names.iter().position(|n| n.as_str() == f.name);
            failures.sort_by_key(order);
            return Err(Error::Dispatch(failures));
        }

        // A brief must never carry a value, even by a caller's mistake.
        if let Some(payload) = &task.payload {
            refuse_values_in_payload(payload, &resolutions, &values)?;
        }
        let resolutions = self
            .align_versions(&chain, &names, resolutions, &values)
            .await?;

        let brief = Brief {
            brief_id: BriefId::generate(),
            task_id: task.id.clone(),
            project: task.project.clone(),
            created_at: crate::now_rfc3339(),
            // The backend version is the one whose value is handed out, read with it:
            // a write in the backend since the database recorded its version counts.
            secrets: resolutions
                .iter()
                .zip(&values)
                .filter_map(|(r, v)| Some((r.winner.as_ref()?, v.as_ref()?)))
                .map(|(c, v)| BriefSecret {
                    name: c.meta.name.clone(),
                    scope: c.meta.scope.clone(),
                    version: c.meta.version,
                    backend: c.meta.backend,
                    category: c.meta.category,
                    backend_version: v.version.clone(),
                })
                .collect(),
            payload: task.payload.clone(),
        };
        let token = brief::new_callback_token();
        let record = DispatchRecord {
            brief_id: brief.brief_id.clone(),
            task_id: task.id.clone(),
            project: task.project.clone(),
            created_at: brief.created_at.clone(),
            token_hash: brief::token_hash(token.expose_secret()),
            expires_at: crate::rfc3339_in(self.config.callback_ttl_secs),
            status: "running".into(),
            completed_at: None,
            revoked: false,
            secrets: brief
                .secrets
                .iter()
                .map(|s| {
                    (
                        s.scope.clone(),
                        s.name.clone(),
                        s.version,
                        s.backend_version.clone(),
                    )
                })
                .collect(),
        };
        // The brief is durable before the token becomes valid and the env is handed out.
        self.briefs.put(&brief).await?;
        let audit = self
            .audit(who, "task.dispatch")
            .scope(&project)
            .target(brief.brief_id.to_string())
            .detail(serde_json::json!({
                "task_id": task.id,
                "secrets": brief.secrets.iter().map(|s| serde_json::json!({
                    "name": s.name, "scope": s.scope, "version": s.version,
                    "backend_version": s.backend_version,
                })).collect::<Vec<_>>(),
            }));
        self.store.record_dispatch(&record, audit).await?;

        let mut env: Vec<(String, SecretValue)> = resolutions
            .iter()
            .zip(values)
            .filter_map(|(r, v)| v.map(|v| (r.name.to_string(), v.value)))
            .collect();
        #[allow(clippy::expect_used, reason = "a UUID is always a valid value")]
        let id_value =
            SecretValue::new(brief.brief_id.to_string()).expect("brief id is a valid value");
        env.push(("SECRETSTORE_BRIEF_ID".into(), id_value));
        env.push(("SECRETSTORE_CALLBACK_TOKEN".into(), token));
        Ok(Dispatched { brief, env })
    }

    /// A stored brief, if the caller may dispatch in its project (else "no brief").
    pub async fn brief(&self, who: &Principal, id: &str) -> Result<Brief> {
        let id = BriefId::parse(id)?;
        let brief = self.briefs.get(&id).await?;
        require_in_project(who, &brief.project, || format!("no brief {id}"))?;
        Ok(brief)
    }

    /// The dispatch record of a brief (status, expiry), for callers who may see it.
    pub async fn brief_status(&self, who: &Principal, id: &str) -> Result<DispatchRecord> {
        let id = BriefId::parse(id)?;
        let rec = self.store.dispatch_record(&id).await?;
        require_in_project(who, &rec.project, || format!("no brief {id}"))?;
        Ok(rec)
    }

    /// Checks a callback token against a brief: valid, unexpired, not revoked, and its
    /// callback not yet received (a spent token is no longer valid).
    pub async fn verify_callback(&self, brief_id: &str, token: &str) -> Result<bool> {
        let id = BriefId::parse(brief_id)?;
        let rec = self.store.dispatch_record(&id).await?;
        Ok(callback_token_valid(&rec, token) && rec.status == "running")
    }

    /// The agent's callback: with a valid token for this brief, marks it completed, once.
    /// Anything else (unknown brief, wrong, expired or revoked token) is `Unauthorized`,
    /// with one message for all. A second callback with a valid token is a `Conflict`
    /// (a replay), audited as `brief.callback_replay`; the check and the completion are one
    /// atomic statement, so of concurrent callbacks exactly one succeeds.
    pub async fn callback(&self, brief_id: &str, token: &str, source: &str) -> Result<()> {
        let unauthorized =
            || Error::Unauthorized("invalid callback token for this brief".to_string());
        let Ok(id) = BriefId::parse(brief_id) else {
            return Err(unauthorized());
        };
        let rec = match self.store.dispatch_record(&id).await {
            Ok(r) => r,
            Err(Error::NotFound(_)) => return Err(unauthorized()),
            Err(e) => return Err(e),
        };
        if !callback_token_valid(&rec, token) {
            return Err(unauthorized());
        }
        let who = Principal {
            account: format!("agent:{id}"),
            roles: Vec::new(),
            source: source.to_owned(),
        };
        let mut audit = self.audit(&who, "brief.callback").target(id.to_string());
        audit.scope = Some(rec.project.clone());
        if self.store.complete_brief(&id, "completed", audit).await? {
            return Ok(());
        }
        // Not running any more: revoked a moment ago (then the token is just invalid), or
        // its callback was already received (a replay).
        if self.store.dispatch_record(&id).await?.revoked {
            return Err(unauthorized());
        }
        let mut replay = self
            .audit(&who, "brief.callback_replay")
            .target(id.to_string());
        replay.scope = Some(rec.project.clone());
        self.store.append_audit(replay).await?;
        Err(Error::Conflict(format!(
            "the callback of brief {id} was already received: a callback token is good for one callback"
        )))
    }

    /// Revokes a brief: its callback token stops working at once and the brief shows
    /// `revoked`. Allowed to whoever may dispatch in its project (else "no brief", as if
    /// missing). A brief no longer running (completed, or already revoked) is left as it
    /// is: the answer says so (`false`), nothing is audited. Returns the brief's record
    /// after the call.
    pub async fn revoke_brief(&self, who: &Principal, id: &str) -> Result<(DispatchRecord, bool)> {
        let id = BriefId::parse(id)?;
        let rec = self.store.dispatch_record(&id).await?;
        require_in_project(who, &rec.project, || format!("no brief {id}"))?;
        let mut audit = self.audit(who, "brief.revoke").target(id.to_string());
        audit.scope = Some(rec.project.clone());
        let changed = self.store.revoke_brief(&id, audit).await?;
        Ok((self.store.dispatch_record(&id).await?, changed))
    }

    /// The newest dispatches in projects where the caller may dispatch, newest first.
    pub async fn recent_briefs(&self, who: &Principal, limit: i64) -> Result<Vec<BriefSummary>> {
        let all = self.store.recent_briefs(limit.clamp(1, 1000) * 4).await?;
        Ok(all
            .into_iter()
            .filter(|b| {
                ScopePath::parse(&b.project)
                    .is_ok_and(|p| who.check(Action::Dispatch, &p) == crate::authz::Access::Allowed)
            })
            .take(limit.clamp(1, 1000) as usize)
            .collect())
    }

    /// The metadata of every secret the caller may see.
    pub async fn list_visible(&self, who: &Principal) -> Result<Vec<SecretMeta>> {
        let mut out = Vec::new();
        for scope in self.scopes(who).await? {
            if scope.level() != Level::Project
                && who.check(Action::ReadMeta, &scope) == crate::authz::Access::Allowed
            {
                out.extend(self.store.list_secrets(&scope).await?);
            }
        }
        Ok(out)
    }

    /// The scopes the caller may see.
    pub async fn scopes(&self, who: &Principal) -> Result<Vec<ScopePath>> {
        let all = self.store.list_scopes().await?;
        Ok(all.into_iter().filter(|s| who.sees(s)).collect())
    }

    /// The audit log the caller may read: root everything; an admin its organizations; a
    /// member its team; a dispatcher nothing (403). With `scope`, only that subtree.
    pub async fn audit_log(
        &self,
        who: &Principal,
        scope: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let limit = limit.clamp(1, 10_000);
        if let Some(s) = scope {
            let s = ScopePath::parse(s)?;
            who.require(Action::ReadAudit, &s)?;
            // A scope that was never created answers 404, exactly as a hidden one does.
            let s = self.existing_scope(s).await?;
            return self
                .store
                .audit_log(Some(std::slice::from_ref(&s)), limit)
                .await;
        }
        if who.is_root() {
            return self.store.audit_log(None, limit).await;
        }
        let roots: Vec<ScopePath> = who
            .roles
            .iter()
            .filter_map(|r| match r {
                Role::Admin(o) | Role::Member(o) => Some(o.clone()),
                _ => None,
            })
            .collect();
        if roots.is_empty() {
            return Err(Error::Forbidden(format!(
                "{} may not read the audit log",
                who.account
            )));
        }
        self.store.audit_log(Some(&roots), limit).await
    }
}

/// Account management: root only.
impl<S: MetadataStore + AccountStore> Service<S> {
    fn require_root(who: &Principal) -> Result<()> {
        if who.is_root() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{} may not manage accounts (root only)",
                who.account
            )))
        }
    }

    /// On a fresh installation (no account at all), creates `root` and returns its token.
    pub async fn bootstrap_root(&self, who: &Principal) -> Result<Option<SecretValue>> {
        let token = accounts::new_api_token();
        let id = crate::random::uuid_v4();
        let audit = self.audit(who, "account.bootstrap").target("root");
        let created = self
            .store
            .bootstrap_root(&id, &brief::token_hash(token.expose_secret()), audit)
            .await?;
        Ok(created.then_some(token))
    }

    pub async fn create_account(
        &self,
        who: &Principal,
        name: &str,
        kind: AccountKind,
    ) -> Result<Account> {
        Self::require_root(who)?;
        accounts::check_account_name(name)?;
        let audit = self
            .audit(who, "account.create")
            .target(name.to_owned())
            .detail(serde_json::json!({ "kind": kind.as_str() }));
        self.store.create_account(name, kind, audit).await?;
        self.store.account(name).await
    }

    pub async fn account(&self, who: &Principal, name: &str) -> Result<Account> {
        Self::require_root(who)?;
        self.store.account(name).await
    }

    pub async fn accounts(&self, who: &Principal) -> Result<Vec<Account>> {
        Self::require_root(who)?;
        self.store.list_accounts().await
    }

    /// Grants a role; its scope must exist.
    pub async fn grant(&self, who: &Principal, name: &str, role: &Role) -> Result<Account> {
        Self::require_root(who)?;
        if let Some(scope) = role.scope() {
            self.existing_scope(scope.clone()).await?;
        }
        let mut audit = self
            .audit(who, "account.grant")
            .target(name.to_owned())
            .detail(serde_json::json!({ "role": role.to_string() }));
        audit.scope = role.scope().map(|s| s.to_string());
        self.store.grant(name, role, audit).await?;
        self.store.account(name).await
    }

    pub async fn revoke_grant(&self, who: &Principal, name: &str, role: &Role) -> Result<Account> {
        Self::require_root(who)?;
        let audit = self
            .audit(who, "account.revoke_grant")
            .target(name.to_owned())
            .detail(serde_json::json!({ "role": role.to_string() }));
        self.store.revoke_grant(name, role, audit).await?;
        self.store.account(name).await
    }

    /// Issues an API token; the token is returned once and only its hash is kept.
    pub async fn create_token(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<(TokenInfo, SecretValue)> {
        Self::require_root(who)?;
        let token = accounts::new_api_token();
        let id = crate::random::uuid_v4();
        let audit = self
            .audit(who, "token.create")
            .target(name.to_owned())
            .detail(serde_json::json!({ "token_id": id }));
        self.store
            .create_token(name, &id, &brief::token_hash(token.expose_secret()), audit)
            .await?;
        let info = self
            .store
            .list_tokens(name)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::Storage("the new token was not stored".into()))?;
        Ok((info, token))
    }

    pub async fn tokens(&self, who: &Principal, name: &str) -> Result<Vec<TokenInfo>> {
        Self::require_root(who)?;
        self.store.account(name).await?;
        self.store.list_tokens(name).await
    }

    pub async fn revoke_token(&self, who: &Principal, id: &str) -> Result<()> {
        Self::require_root(who)?;
        if !crate::random::is_uuid(id) {
            return Err(Error::NotFound(format!(
                "no token {}",
                id.chars().take(40).collect::<String>()
            )));
        }
        let audit = self.audit(who, "token.revoke").target(id.to_owned());
        self.store.revoke_token(id, audit).await
    }

    /// Signs in to the web UI with an API token: a new session (its id shown once, kept
    /// only as its SHA-256), bound to that token: revoking the token, or the account
    /// losing its last grant, ends it. An account without any role gets no session.
    pub async fn login(&self, token: &str, source: &str, ttl_secs: i64) -> Result<NewSession> {
        let who = self.authenticate(token, source).await?;
        if who.roles.is_empty() {
            return Err(Error::Forbidden(format!(
                "{} has no role yet: a session needs at least one grant (ask root)",
                who.account
            )));
        }
        let session = accounts::new_session_id();
        let public_id = crate::random::uuid_v4();
        let mut raw = [0u8; 32];
        crate::random::fill(&mut raw);
        let csrf: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let audit = self.audit(&who, "session.login").target(public_id.clone());
        self.store
            .create_session(
                &brief::token_hash(session.expose_secret()),
                &brief::token_hash(token),
                &public_id,
                &csrf,
                &crate::rfc3339_in(ttl_secs),
                audit,
            )
            .await?;
        Ok(NewSession {
            id: session,
            public_id,
            csrf,
        })
    }

    /// The caller behind a web UI session, its CSRF token and public id. Unknown, expired
    /// and ended sessions (its token revoked, its account without a grant) get the same
    /// answer. One query.
    pub async fn session(&self, session_id: &str, source: &str) -> Result<SessionAuth> {
        let unauthorized = || Error::Unauthorized("no valid session".to_string());
        if !session_id.starts_with(accounts::SESSION_PREFIX) || session_id.len() > 200 {
            return Err(unauthorized());
        }
        let found = self
            .store
            .session_by_hash(&brief::token_hash(session_id), source)
            .await?
            .ok_or_else(unauthorized)?;
        if crate::now_rfc3339() >= found.expires_at {
            return Err(unauthorized());
        }
        Ok(found)
    }

    /// The live web UI sessions the caller may see: root every one, anyone else their own.
    pub async fn sessions(&self, who: &Principal) -> Result<Vec<SessionInfo>> {
        let only = (!who.is_root()).then_some(who.account.as_str());
        self.store.list_sessions(only, &crate::now_rfc3339()).await
    }

    /// Ends a web UI session by its public id: root any, anyone else only their own (another
    /// account's session is "no session", exactly like a missing one). Audited.
    pub async fn end_session(&self, who: &Principal, public_id: &str) -> Result<()> {
        let missing = || {
            Error::NotFound(format!(
                "no session {}",
                public_id.chars().take(40).collect::<String>()
            ))
        };
        if !crate::random::is_uuid(public_id) {
            return Err(missing());
        }
        let only = (!who.is_root()).then_some(who.account.as_str());
        let audit = self.audit(who, "session.end").target(public_id.to_owned());
        match self.store.end_session(public_id, only, audit).await {
            Err(Error::NotFound(_)) => Err(missing()),
            other => other,
        }
    }

    /// Ends a web UI session.
    pub async fn logout(&self, session_id: &str) -> Result<()> {
        self.store
            .delete_session(&brief::token_hash(session_id))
            .await
    }

    /// Records a failed authentication from `source` as `auth.failed`: `credential` says
    /// what was tried (`api_token`, `session_sign_in`, `callback_token`), never the token;
    /// `brief` is the brief a callback named (kept only when it is a well-formed id). With
    /// `lockout_secs`, this failure started a lockout of its source: one `auth.limited`
    /// record follows (the refused attempts during the lockout are not recorded one by one).
    pub async fn audit_auth_failure(
        &self,
        source: &str,
        credential: &str,
        brief: Option<&str>,
        lockout_secs: Option<u64>,
    ) -> Result<()> {
        let anonymous = Actor("anonymous".into());
        let brief = brief.and_then(|b| BriefId::parse(b).ok());
        let mut failed = AuditEntry::new(&anonymous, "auth.failed", source)
            .detail(serde_json::json!({ "credential": credential }));
        if let Some(b) = &brief {
            failed = failed.target(b.to_string());
        }
        self.store.append_audit(failed).await?;
        if let Some(secs) = lockout_secs {
            let limited = AuditEntry::new(&anonymous, "auth.limited", source)
                .detail(serde_json::json!({ "credential": credential, "lockout_secs": secs }));
            self.store.append_audit(limited).await?;
        }
        Ok(())
    }

    /// The caller behind an API token. Unknown and revoked tokens get the same answer.
    pub async fn authenticate(&self, token: &str, source: &str) -> Result<Principal> {
        let unauthorized = || Error::Unauthorized("invalid or revoked API token".to_string());
        if !token.starts_with(accounts::API_TOKEN_PREFIX) || token.len() > 200 {
            return Err(unauthorized());
        }
        self.store
            .principal_by_token_hash(&brief::token_hash(token), source)
            .await?
            .ok_or_else(unauthorized)
    }
}

fn check_expected(
    scope: &ScopePath,
    name: &SecretName,
    existing: Option<&SecretMeta>,
    expected: Option<Version>,
) -> Result<()> {
    let current = existing.map(|m| m.version).unwrap_or(0);
    match expected {
        Some(e) if e != current => Err(conflict(scope, name, e, current)),
        _ => Ok(()),
    }
}

/// The conflict error of a stale write.
pub fn conflict(
    scope: &ScopePath,
    name: &SecretName,
    expected: Version,
    current: Version,
) -> Error {
    if current == 0 {
        Error::Conflict(format!(
            "conflict: {name} does not exist at {scope} (expected version {expected})"
        ))
    } else {
        Error::Conflict(format!(
            "conflict: {name} at {scope} is at version {current}, not {expected}; nothing was changed"
        ))
    }
}

/// The not-found error of a secret.
pub fn not_found(scope: &ScopePath, name: &SecretName) -> Error {
    Error::NotFound(format!("no secret {name} at {scope}"))
}

/// Dispatch rights in a task's or brief's project: `Forbidden` where the caller sees the
/// project, otherwise `missing()` as `NotFound` — the same answer as for an unknown id.
fn require_in_project(
    who: &Principal,
    project: &str,
    missing: impl FnOnce() -> String,
) -> Result<()> {
    let project = ScopePath::parse(project)?;
    match who.check(Action::Dispatch, &project) {
        crate::authz::Access::Allowed => Ok(()),
        crate::authz::Access::Forbidden => who.require(Action::Dispatch, &project),
        crate::authz::Access::Hidden => Err(Error::NotFound(missing())),
    }
}

/// A callback token is valid for its brief, unexpired and not revoked.
fn callback_token_valid(rec: &DispatchRecord, token: &str) -> bool {
    // Compare first, always: the time taken does not depend on expiry or revocation.
    let matches = brief::token_matches(token, &rec.token_hash);
    let fresh = crate::now_rfc3339() < rec.expires_at;
    matches && fresh && !rec.revoked
}

/// Refuses a dispatch whose task names unsafe environment names (a task stored before the
/// rule existed), naming every one with its rule: nothing is fetched, stored or issued.
fn refuse_unsafe_refs(refs: &[String]) -> Result<()> {
    let failures: Vec<RefFailure> = refs
        .iter()
        .filter_map(|r| {
            crate::name::unsafe_env_rule(r).map(|rule| RefFailure {
                name: r.clone(),
                reason: RefFailureReason::UnsafeName(rule.to_string()),
            })
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Dispatch(failures))
    }
}

/// Refuses a payload that holds a fetched value verbatim, naming the secrets (never the
/// values): a brief must never carry a value.
fn refuse_values_in_payload(
    payload: &serde_json::Value,
    resolutions: &[Resolution],
    values: &[Option<Fetched>],
) -> Result<()> {
    let leaked: Vec<String> = resolutions
        .iter()
        .zip(values)
        .filter(|(_, v)| {
            v.as_ref()
                .is_some_and(|v| json_contains(payload, v.value.expose_secret()))
        })
        .map(|(r, _)| r.name.to_string())
        .collect();
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "the task's payload contains the value of {}: a brief must never carry a secret value",
            leaked.join(", ")
        )))
    }
}

/// True if any string (key or value) in `v` contains `needle`.
fn json_contains(v: &serde_json::Value, needle: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains(needle),
        serde_json::Value::Array(a) => a.iter().any(|x| json_contains(x, needle)),
        serde_json::Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.contains(needle) || json_contains(x, needle)),
        other => other.to_string().contains(needle),
    }
}

/// 403 for a caller who sees the organization, 404 (as if missing) for one who does not.
fn refuse_org(who: &Principal, org: &ScopePath, what: &str) -> Error {
    if who.sees(org) {
        Error::Forbidden(format!("{} may not {what} {org}", who.account))
    } else {
        Error::NotFound(format!("unknown organization {org}"))
    }
}
