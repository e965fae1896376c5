//! The ports: what the domain needs from the outside (the database, the value backends,
//! the brief store), as traits that the adapter crates implement, and the records they
//! exchange.

use crate::audit::{AuditFilter, AuditPage};
use crate::brief::{Brief, BriefDelivery, BriefStatus};
use crate::error::{BackendError, Error, Result};
use crate::generator::{Lease, LeaseId, RevokeReason};
use crate::links::LinkPrefixes;
use crate::model::{
    AuditEntry, BackendKind, BriefId, Candidate, Category, Delivery, SecretMeta, StoredMaterial,
    Task, TaskId, Version, VersionMeta,
};
use crate::name::SecretName;
use crate::scope::ScopePath;
use crate::search::{HitKind, Pattern, SearchHit, Visible};
use crate::timestamp::OffsetDateTime;
use crate::value::SecretValue;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, for the object-safe backend traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
    /// The value.
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
    /// What to store for the new version (ciphertext or reference).
    pub material: StoredMaterial,
    /// What the write did to the backend (for undoing it).
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
/// holds the database's write reservation of that secret (see [`SecretStore::reserve_writes`]),
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
    /// Removes a brief that was stored but will never be recorded (its dispatch failed
    /// after `put`): nothing half-stored. Best effort; a brief that is absent is no error.
    fn discard<'a>(&'a self, id: &'a BriefId) -> BoxFuture<'a, Result<()>>;
}

/// What a write expects of the secret it replaces, checked in the transaction that
/// writes (or reserves) it: a stale expectation is a `Conflict` and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The secret must not exist yet.
    Absent,
    /// The secret's current version must be this one.
    Version(Version),
}

impl Expected {
    /// True if a secret whose current version is `current` (`None`: it does not exist)
    /// is what this expects.
    pub fn admits(self, current: Option<Version>) -> bool {
        match self {
            Expected::Absent => current.is_none(),
            Expected::Version(v) => current == Some(v),
        }
    }

    /// The version expected, if one is (`None` for [`Expected::Absent`]).
    pub fn version(self) -> Option<Version> {
        match self {
            Expected::Absent => None,
            Expected::Version(v) => Some(v),
        }
    }
}

/// One write of a new version, as handed to the store.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The scope written to.
    pub scope: ScopePath,
    /// The secret's name.
    pub name: SecretName,
    /// The category to set; `None` keeps the existing one (an error for a new secret).
    pub category: Option<Category>,
    /// The backend the value lives in.
    pub backend: BackendKind,
    /// The delivery to set; `None` keeps the existing one (`env` for a new secret).
    pub delivery: Option<Delivery>,
    /// The maximum age to set, in seconds; `None` keeps the existing one (none for a new
    /// secret), `Some(0)` clears it.
    pub rotate_every_secs: Option<i64>,
    /// What the new version stores (ciphertext or reference).
    pub material: StoredMaterial,
    /// What the write expects of the secret it replaces (`None`: anything).
    pub expected: Option<Expected>,
    /// The version this write restores, for a rollback.
    pub rollback_of: Option<Version>,
    /// The account name of who writes (`who.account`): the version's `created_by` and the
    /// secret's `updated_by`.
    pub by: String,
    /// The audit record; the store fills in the new version.
    pub audit: AuditEntry,
    /// The write reservation (its holder) that this write ends: the store releases it in
    /// the same transaction, and fails the write if it is no longer held.
    pub reservation: Option<String>,
}

/// One secret whose write reservation is asked for.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The scope of the secret.
    pub scope: ScopePath,
    /// The secret's name.
    pub name: SecretName,
    /// What the caller expects of the secret it replaces (`None`: anything); checked
    /// against the database in the transaction that takes the reservation.
    pub expected: Option<Expected>,
}

/// A reserved secret as the database held it when the reservation was taken: its
/// metadata and current material, or `None` for a secret that does not exist yet.
pub type Reserved = Option<(SecretMeta, StoredMaterial)>;

/// What the database keeps of a dispatch: never the token, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRecord {
    /// The brief's id.
    pub brief_id: BriefId,
    /// The task dispatched.
    pub task_id: TaskId,
    /// The task's project.
    pub project: ScopePath,
    /// When it was dispatched (UTC).
    pub created_at: OffsetDateTime,
    /// The SHA-256 of the callback token.
    pub token_hash: String,
    /// When the callback token expires (UTC).
    pub expires_at: OffsetDateTime,
    /// `running` until the agent's callback (or a revocation) ends it.
    pub status: BriefStatus,
    /// When the callback came, if it came.
    pub completed_at: Option<OffsetDateTime>,
    /// When the brief was revoked (its callback token then stopped working), if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Which secrets the brief handed out.
    pub secrets: Vec<DispatchedSecret>,
    /// How its values reach the agent.
    pub delivery: BriefDelivery,
    /// A sealed brief's boot token: what is kept of it, and whether it was redeemed.
    pub boot: Option<BootRecord>,
    /// When one of the values it handed out was found in what its agent produced.
    pub leaked_at: Option<OffsetDateTime>,
}

/// What the database keeps of a sealed brief's boot token: its hash, its expiry, the
/// sealed env until it is redeemed or expires, and what became of it. Never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootRecord {
    /// The SHA-256 of the boot token.
    pub token_hash: String,
    /// When an unredeemed token stops working (UTC).
    pub expires_at: OffsetDateTime,
    /// The sealed env (ciphertext, [`crate::sealed`]): given when a dispatch is
    /// recorded; never read back with the record (`None` there).
    pub sealed: Option<String>,
    /// When it was redeemed, and from where.
    pub redeemed: Option<(OffsetDateTime, String)>,
    /// When a second redemption was tried, and from where (the brief was then revoked).
    pub replayed: Option<(OffsetDateTime, String)>,
}

/// Where a boot token stands, as the briefs page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BootState {
    /// Not yet redeemed, and not expired.
    Waiting,
    /// Redeemed once.
    Redeemed,
    /// Redeemed, then presented again: the brief was revoked.
    Replayed,
    /// Never redeemed, and past its expiry: its sealed env is deleted.
    Expired,
}

impl BootState {
    /// The state's word (`waiting`, `redeemed`, `replayed`, `expired`).
    pub fn as_str(self) -> &'static str {
        match self {
            BootState::Waiting => "waiting",
            BootState::Redeemed => "redeemed",
            BootState::Replayed => "replayed",
            BootState::Expired => "expired",
        }
    }
}

impl BootRecord {
    /// Where the token stands at `now`.
    pub fn state(&self, now: OffsetDateTime) -> BootState {
        BootState::at(
            now,
            self.expires_at,
            self.redeemed.is_some(),
            self.replayed.is_some(),
        )
    }
}

impl BootState {
    /// Where a token that expires at `expires_at` stands at `now`, redeemed or not,
    /// replayed or not.
    pub fn at(
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
        redeemed: bool,
        replayed: bool,
    ) -> Self {
        match (redeemed, replayed) {
            (_, true) => BootState::Replayed,
            (true, false) => BootState::Redeemed,
            (false, false) if now >= expires_at => BootState::Expired,
            (false, false) => BootState::Waiting,
        }
    }
}

/// What became of one redemption of a boot token ([`DispatchStore::redeem_boot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// This redemption won: the sealed env, now deleted from the database.
    Opened(String),
    /// The token was already redeemed (or is being, by a concurrent call).
    AlreadyUsed,
    /// Not redeemable any more: expired, or its brief no longer running.
    Closed,
}

/// One secret a dispatch handed out, as the database keeps it (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchedSecret {
    /// The scope whose secret won the resolution.
    pub scope: ScopePath,
    /// The environment name.
    pub name: String,
    /// The version handed out.
    pub version: Version,
    /// The backend's version of the value handed out, if the backend has versions.
    pub backend_version: Option<String>,
}

/// A dispatch as the web UI lists it, with the secrets rotated since.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BriefSummary {
    /// The brief's id.
    pub brief_id: String,
    /// The task dispatched.
    pub task_id: String,
    /// The task's project.
    pub project: ScopePath,
    /// When it was dispatched (RFC 3339, UTC).
    #[serde(with = "crate::timestamp::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `running`, `completed`, `failed` or `revoked`.
    pub status: BriefStatus,
    /// When the callback came, if it came.
    #[serde(with = "crate::timestamp::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Names of secrets the brief used that have a newer version (or were deleted) since,
    /// for a running brief only: its agent still holds the old value. Empty for a brief
    /// that is no longer running (its agent holds nothing any more).
    pub stale: Vec<String>,
    /// How its values reached the agent.
    pub delivery: BriefDelivery,
    /// A sealed brief's boot token: waiting, redeemed, replayed or expired.
    pub boot: Option<BootState>,
    /// When one of the values it handed out was found in what its agent produced.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::timestamp::rfc3339::option"
    )]
    pub leaked_at: Option<OffsetDateTime>,
}

/// Whose briefs to list: one task's, or one project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BriefsOf<'a> {
    /// The dispatches of one task.
    Task(&'a TaskId),
    /// The dispatches in one project (exactly that scope).
    Project(&'a ScopePath),
}

/// The database: scopes and their organization-wide settings.
pub trait ScopeStore: Send + Sync {
    /// Creates a scope; its parent must exist.
    fn create_scope(
        &self,
        path: &ScopePath,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// True if the scope exists.
    fn scope_exists(&self, path: &ScopePath) -> impl Future<Output = Result<bool>> + Send;
    /// Every scope, ordered by path.
    fn list_scopes(&self) -> impl Future<Output = Result<Vec<ScopePath>>> + Send;
    /// The references an organization may link (empty lists when none were allowed).
    fn link_prefixes(&self, org: &ScopePath) -> impl Future<Output = Result<LinkPrefixes>> + Send;
    /// Replaces an organization's lists, audited in the same transaction.
    fn set_link_prefixes(
        &self,
        org: &ScopePath,
        prefixes: &LinkPrefixes,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// True if the organization requires sealed delivery (false for an unknown one).
    fn sealed_only(&self, org: &ScopePath) -> impl Future<Output = Result<bool>> + Send;
    /// Sets whether the organization requires sealed delivery, audited in the same
    /// transaction.
    fn set_sealed_only(
        &self,
        org: &ScopePath,
        sealed_only: bool,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The database: secrets, their versions and material, write reservations and link approvals.
pub trait SecretStore: Send + Sync {
    /// A secret's metadata, or `None` if it does not exist.
    fn secret(
        &self,
        scope: &ScopePath,
        name: &SecretName,
    ) -> impl Future<Output = Result<Option<SecretMeta>>> + Send;
    /// The secrets kept at one scope, ordered by name.
    fn list_secrets(
        &self,
        scope: &ScopePath,
    ) -> impl Future<Output = Result<Vec<SecretMeta>>> + Send;
    /// The secrets kept at any of these scopes, in one query, ordered by scope, then name.
    fn list_secrets_in(
        &self,
        scopes: &[ScopePath],
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
    /// Deletes a secret and its versions, audited in the same transaction.
    fn delete_secret(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every secret named in `names` at any scope of `chain`, each with its current
    /// version's material, read in one query.
    fn candidates(
        &self,
        chain: &[ScopePath],
        names: &[SecretName],
    ) -> impl Future<Output = Result<Vec<Candidate>>> + Send;
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

/// The database: tasks and the dispatches (briefs) made of them.
pub trait DispatchStore: Send + Sync {
    /// Stores a task, audited in the same transaction.
    fn create_task(
        &self,
        task: &Task,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A stored task; `NotFound` for an unknown id.
    fn task(&self, id: &TaskId) -> impl Future<Output = Result<Task>> + Send;
    /// Records a dispatch (and which secrets it handed out), audited in the same transaction.
    fn record_dispatch(
        &self,
        record: &DispatchRecord,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// What is recorded of a dispatch; `NotFound` for an unknown brief.
    fn dispatch_record(&self, id: &BriefId) -> impl Future<Output = Result<DispatchRecord>> + Send;
    /// The newest `limit` dispatches, newest first, with their stale secrets (running
    /// briefs only); with `projects`, only those in a project at or under one of them
    /// (filtered before the limit). A constant number of queries, whatever the number of
    /// briefs.
    fn recent_briefs(
        &self,
        projects: Option<&[ScopePath]>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<BriefSummary>>> + Send;
    /// The newest `limit` dispatches of one task or one project, newest first, with their
    /// stale secrets (running briefs only), as [`recent_briefs`](Self::recent_briefs)
    /// gives them; the limit is applied in the query. An unknown task or project has none.
    fn briefs_of(
        &self,
        of: BriefsOf<'_>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<BriefSummary>>> + Send;
    /// The newest `limit` tasks of a project, newest first (the limit applied in the
    /// query); none for an unknown project.
    fn project_tasks(
        &self,
        project: &ScopePath,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Task>>> + Send;
    /// Marks a brief completed (or another final status) by its agent's callback, in one
    /// atomic statement, only if it is still running and not revoked: `false` (and no
    /// audit record) if it was not, so of concurrent callbacks exactly one wins.
    fn complete_brief(
        &self,
        id: &BriefId,
        status: BriefStatus,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Revokes a running brief's callback token (status `revoked`), atomically; `false`
    /// (and no audit record) if the brief was no longer running.
    fn revoke_brief(
        &self,
        id: &BriefId,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The brief whose boot token has this SHA-256, if any.
    fn boot_brief(&self, token_hash: &str) -> impl Future<Output = Result<Option<BriefId>>> + Send;
    /// Redeems a boot token, in one transaction: of concurrent calls exactly one finds it
    /// unredeemed, unexpired (at `audit.at`) and its brief running, takes the sealed env
    /// and deletes it from the database, records `source` and writes `audit`; the others
    /// get [`Redemption::AlreadyUsed`] (or [`Redemption::Closed`]) and write nothing.
    fn redeem_boot(
        &self,
        id: &BriefId,
        token_hash: &str,
        source: &str,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<Redemption>> + Send;
    /// A redeemed boot token presented again: records the (first) replay's time and
    /// `source` and revokes the brief if it is running, in one transaction with `audit`
    /// (the replay's record) and, when the brief was running, `revoke` (its revocation's).
    /// Returns whether the brief was revoked by this call.
    fn boot_replayed(
        &self,
        id: &BriefId,
        source: &str,
        audit: AuditEntry,
        revoke: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Deletes the sealed env of every boot token unredeemed at `now` and past its
    /// expiry; returns how many.
    fn expire_boots(&self, now: OffsetDateTime) -> impl Future<Output = Result<u64>> + Send;
}

/// Which leases a revocation claims.
#[derive(Debug, Clone, Copy)]
pub enum LeasesOf<'a> {
    /// One lease.
    Lease(&'a LeaseId),
    /// Every lease of a brief.
    Brief(&'a BriefId),
    /// The sweeper's: every lease past its expiry, whose brief ended, or whose earlier
    /// revocation failed and is due again.
    Due,
}

/// Which leases a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeaseFilter<'a> {
    /// Only leases of projects at or under one of these (`None`: everywhere).
    pub projects: Option<&'a [ScopePath]>,
    /// Only the leases of one brief.
    pub brief: Option<&'a BriefId>,
    /// Only the leases of one generator (its scope and name).
    pub secret: Option<(&'a ScopePath, &'a str)>,
    /// Only leases not yet revoked.
    pub open_only: bool,
}

/// The database: the leases of per-task credentials (never a credential).
pub trait LeaseStore: Send + Sync {
    /// Records leases about to be minted, before any provider is asked: a crash in
    /// between leaves a row that the sweeper revokes (revoking what was never made is
    /// no error).
    fn open_leases(&self, leases: &[Lease]) -> impl Future<Output = Result<()>> + Send;
    /// A mint succeeded: the principal and expiry as minted, audited (`lease.mint`) in the
    /// same transaction.
    fn lease_minted(
        &self,
        id: &LeaseId,
        principal: &str,
        expires_at: OffsetDateTime,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
    /// One lease; `NotFound` for an unknown id.
    fn lease(&self, id: &LeaseId) -> impl Future<Output = Result<Lease>> + Send;
    /// The newest `limit` leases that `filter` selects, newest first.
    fn leases(
        &self,
        filter: LeaseFilter<'_>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Lease>>> + Send;
    /// Claims leases for revocation by `holder` until `until`, atomically: of concurrent
    /// claims (several servers sweeping) exactly one gets each lease, and a lease already
    /// revoked, or claimed by another holder whose claim has not lapsed at `now`, is not
    /// claimed. `reason` is recorded on a lease that has none yet (the sweeper's leases
    /// get `expired` or `brief_ended`). At most `limit` leases.
    fn claim_leases(
        &self,
        of: LeasesOf<'_>,
        reason: RevokeReason,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Lease>>> + Send;
    /// A claimed lease was revoked: `revoked_at` is set and `audit` (`lease.revoke`)
    /// written in one transaction, if `holder` still holds the claim (`false` otherwise:
    /// nothing written).
    fn lease_revoked(
        &self,
        id: &LeaseId,
        holder: &str,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// A claimed lease's revocation failed: the error is kept, the attempts counted, and
    /// the claim held until `retry_at`, when the sweeper tries again.
    fn lease_revoke_failed(
        &self,
        id: &LeaseId,
        holder: &str,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The database: the append-only audit log.
pub trait AuditStore: Send + Sync {
    /// Appends one audit record on its own (for events without a change: reveals, refusals).
    fn append_audit(&self, audit: AuditEntry) -> impl Future<Output = Result<()>> + Send;
    /// One page of the audit records that `filter` asks for, newest first; with `roots`,
    /// only the records at or under one of them (records without a scope, such as account
    /// changes, only without). `filter.scope` is the caller's: the service turns it into
    /// `roots` once it is allowed, and the store does not read it.
    fn audit_log(
        &self,
        roots: Option<&[ScopePath]>,
        filter: &AuditFilter,
    ) -> impl Future<Output = Result<AuditPage>> + Send;
    /// One page of the times the value of the secret `name` at `scope` left secretstore,
    /// newest first: its reveals (`secret.reveal` records) and the dispatches that handed
    /// it out (their `task.dispatch` records, with this secret's scope, name and version,
    /// the brief's id as target and the time of the brief). Only `from` and `limit` of
    /// `filter` are read.
    fn secret_access(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        filter: &AuditFilter,
    ) -> impl Future<Output = Result<AuditPage>> + Send;
}

/// The database: finding things by name, among the scopes a caller sees.
pub trait SearchStore: Send + Sync {
    /// At most `limit` things of one kind whose name matches `pattern`, at scopes in
    /// `visible` (everywhere with `None`), ordered by name, then scope.
    fn search(
        &self,
        visible: Option<&Visible>,
        pattern: &Pattern,
        kind: HitKind,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SearchHit>>> + Send;
    /// At most `limit` secrets whose name matches `pattern`, at scopes in `visible`
    /// (everywhere with `None`), ordered by name, then scope.
    fn find_secrets(
        &self,
        visible: Option<&Visible>,
        pattern: &Pattern,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<SecretMeta>>> + Send;
}

/// The database: whether it answers (readiness probes).
pub trait HealthStore: Send + Sync {
    /// One round trip to the database (`SELECT 1` on a pooled connection).
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
}

/// One version of a secret that a scan found (issue #17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundVersion {
    /// The scope the secret is kept at.
    pub scope: ScopePath,
    /// The secret's name.
    pub name: SecretName,
    /// The version whose value was found.
    pub version: Version,
}

/// A stored version's material, for a scan: what a value can be fetched from.
#[derive(Debug, Clone)]
pub struct ScanMaterial {
    /// The scope the secret is kept at.
    pub scope: ScopePath,
    /// The secret's name.
    pub name: SecretName,
    /// The version.
    pub version: Version,
    /// Whether it is the secret's current version.
    pub current: bool,
    /// Where its value lives.
    pub backend: BackendKind,
    /// Its ciphertext or reference (never a generator's spec: generators hold no value).
    pub material: StoredMaterial,
}

/// A maximum age for the secrets of one category at a scope and below (`rotation set`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RotationPolicy {
    /// The scope it applies at (and below).
    pub scope: ScopePath,
    /// The category it applies to.
    pub category: Category,
    /// The maximum age, in seconds.
    pub every_secs: i64,
}

/// The database: leaks found and rotations due (issue #17).
pub trait LeakStore: Send + Sync {
    /// Records what a scan found, in one transaction: each secret whose current version is
    /// the version found gets `leaked_at = at` (kept until a new version is written); the
    /// brief, if one is given, gets `leaked_at` (its first); every audit record is
    /// appended. Returns, per item of `found`, whether its secret was marked (`false`: a
    /// newer version was written since, or the secret is gone).
    fn record_leaks(
        &self,
        found: &[FoundVersion],
        brief: Option<&BriefId>,
        at: OffsetDateTime,
        audits: Vec<AuditEntry>,
    ) -> impl Future<Output = Result<Vec<bool>>> + Send;
    /// Every version (current and earlier) of every secret kept at a scope under `roots`
    /// (every scope when `None`), generators left out, by scope, name and version.
    fn scan_materials(
        &self,
        roots: Option<&[ScopePath]>,
    ) -> impl Future<Output = Result<Vec<ScanMaterial>>> + Send;
    /// Every rotation policy, by scope and category.
    fn rotation_policies(&self) -> impl Future<Output = Result<Vec<RotationPolicy>>> + Send;
    /// Sets (`Some(secs)`) or removes (`None`) the policy of `category` at `scope`, audited
    /// in the same transaction.
    fn set_rotation_policy(
        &self,
        scope: &ScopePath,
        category: Category,
        every_secs: Option<i64>,
        audit: AuditEntry,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The database, as the domain sees it: one supertrait over the stores by resource. All
/// SQL lives behind these traits; a type that implements all six is a `MetadataStore`.
pub trait MetadataStore:
    ScopeStore
    + SecretStore
    + DispatchStore
    + LeaseStore
    + LeakStore
    + AuditStore
    + SearchStore
    + HealthStore
{
}

impl<
    T: ScopeStore
        + SecretStore
        + DispatchStore
        + LeaseStore
        + LeakStore
        + AuditStore
        + SearchStore
        + HealthStore,
> MetadataStore for T
{
}
