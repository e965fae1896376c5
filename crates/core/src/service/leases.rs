//! Per-task credentials: defining generators, minting their credentials at dispatch (all
//! or nothing), and revoking them when the task ends — at its callback, `brief revoke`,
//! a boot replay, `lease revoke`, or its expiry (the sweeper of `serve`).

use super::briefs::dispatch_roots;
use super::{Service, require_in_project};
use crate::authz::{Action, Principal};
use crate::error::{BackendError, Error, RefFailure, RefFailureReason, Result};
use crate::generator::{
    self, GeneratorKind, GeneratorSpec, Lease, LeaseId, MintRequest, Minted, RevokeReason,
    RevokeRequest, STS_ENV,
};
use crate::model::{BriefId, Category, Delivery, StoredMaterial, Version};
use crate::name::SecretName;
use crate::ports::{Expected, Fetch, LeaseFilter, LeasesOf, MetadataStore, NewVersion};
use crate::resolve::{self, Resolution};
use crate::scope::ScopePath;
use crate::timestamp::OffsetDateTime;
use crate::value::SecretValue;

/// How long a server holds its claim on a lease it revokes: far longer than a revocation
/// takes (its provider calls are bounded), so that only a server that stopped loses it.
const CLAIM_SECS: i64 = 120;

/// The most leases one sweep claims.
const SWEEP_BATCH: i64 = 200;

/// The sweeper's interval in `serve` (documented in the README): a lease past its expiry
/// is revoked within this many seconds.
pub const LEASE_SWEEP_SECS: u64 = 5;

/// What a dispatch minted for one ref.
pub(super) struct MintedRef {
    /// The lease (as recorded).
    pub lease: Lease,
    /// The credential's variables.
    pub env: Vec<(String, SecretValue)>,
}

/// The outcome of a revocation: how many leases were revoked, and those whose provider
/// failed (kept, retried by the sweeper), with the error.
#[derive(Debug, Default)]
pub struct LeasesEnded {
    /// The leases revoked by this call.
    pub revoked: Vec<LeaseId>,
    /// The leases whose revocation failed, with why.
    pub failed: Vec<(LeaseId, String)>,
}

/// The principal of the sweeper's audit records.
fn sweeper() -> Principal {
    Principal {
        account: "secretstore:sweeper".to_owned(),
        roles: Vec::new(),
        source: "serve".to_owned(),
    }
}

impl<S: MetadataStore> Service<S> {
    /// Defines (or redefines, as a new version) a generator at `scope`: a secret whose
    /// value is minted for each dispatch. Needs the right to write at `scope`, and, for a
    /// postgres generator, the right to read the value of its admin ref as it resolves
    /// from `scope`'s chain now (and that reference's link rule): whoever defines grants
    /// runs them with the admin's rights. Its category is `agent`. A stored secret of that
    /// name at `scope` is not turned into a generator (409).
    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of one definition, as the command line and the API take them"
    )]
    pub async fn define_generator(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        spec: GeneratorSpec,
        category: Option<Category>,
        delivery: Option<Delivery>,
        expected: Option<Expected>,
    ) -> Result<Version> {
        let name = SecretName::parse(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::Write, &scope)?;
        spec.check()?;
        if let Some(c) = category.filter(|c| *c != Category::Agent) {
            return Err(Error::Invalid(format!(
                "a generator's category is agent, not {c}"
            )));
        }
        if spec.kind() == GeneratorKind::AwsSts && delivery == Some(Delivery::File) {
            return Err(Error::Invalid(
                "an aws_sts generator sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN: it cannot be delivered as a file".into(),
            ));
        }
        let existing = self.store.secret(&scope, &name).await?;
        match &existing {
            None => {
                self.existing_scope(scope.clone()).await?;
            }
            Some(m) if m.generator.is_none() => {
                return Err(Error::Conflict(format!(
                    "{name} at {scope} is a stored secret: delete it first to make it a generator"
                )));
            }
            Some(_) => {}
        }
        super::secrets::check_expected(&scope, &name, existing.as_ref(), expected)?;
        let mut detail = serde_json::json!({
            "generator": spec.kind(),
            "ttl_secs": spec.ttl_secs(),
        });
        if let GeneratorSpec::Postgres(p) = &spec {
            let admin_scope = self.authorize_admin_ref(who, &scope, &name, p).await?;
            detail["admin_ref"] = p.admin_ref.clone().into();
            detail["admin_scope"] = admin_scope.to_string().into();
            detail["grants"] = p.grants.len().into();
        }
        if let GeneratorSpec::AwsSts(a) = &spec {
            detail["role_arn"] = a.role_arn.clone().into();
            detail["session_policy"] = a.session_policy.is_some().into();
        }
        let audit = super::with_delivery(
            self.audit(who, "secret.generator")
                .secret(&scope, &name)
                .detail(detail),
            delivery,
        );
        self.commit_one(NewVersion {
            scope,
            name,
            category: Some(Category::Agent),
            backend: crate::model::BackendKind::Local,
            delivery,
            rotate_every_secs: None,
            material: StoredMaterial {
                generator: Some(spec),
                ..StoredMaterial::default()
            },
            expected,
            rollback_of: None,
            by: who.account.clone(),
            audit,
            reservation: None,
        })
        .await
    }

    /// Checks that `who` may name `spec.admin_ref` from `scope`'s chain: it resolves
    /// there to a stored secret (not a generator, not the generator itself) whose value
    /// `who` may read, and whose reference passes the link rule. Returns its scope.
    async fn authorize_admin_ref(
        &self,
        who: &Principal,
        scope: &ScopePath,
        name: &SecretName,
        spec: &generator::PostgresSpec,
    ) -> Result<ScopePath> {
        let admin = SecretName::parse(&spec.admin_ref)?;
        let chain = scope.resolution_chain();
        let candidates = self
            .store
            .candidates(&chain, std::slice::from_ref(&admin))
            .await?;
        let winner = resolve::resolve(scope, std::slice::from_ref(&admin), candidates)
            .into_iter()
            .next()
            .and_then(|r| r.winner);
        let Some(winner) = winner else {
            return Err(Error::Invalid(format!(
                "the admin ref {admin} is not a secret of {scope} or a broader scope: store the admin connection URL first"
            )));
        };
        if winner.meta.scope == *scope && winner.meta.name == name.as_str() {
            return Err(Error::Invalid(format!(
                "the admin ref of {name} cannot be {name} itself"
            )));
        }
        if winner.meta.generator.is_some() {
            return Err(Error::Invalid(format!(
                "the admin ref {admin} at {} is a generator: it must hold the admin connection URL",
                winner.meta.scope
            )));
        }
        who.require(Action::ReadValue, &winner.meta.scope)?;
        self.authorize_reference(
            who,
            &winner.meta.scope,
            &admin,
            winner.meta.backend,
            Some(&winner.material),
        )
        .await?;
        Ok(winner.meta.scope)
    }

    /// The admin URL of every postgres generator among the winners, fetched at once,
    /// resolved from each generator's own scope chain (a narrower scope of the task's
    /// project never supplies it). One slot per resolution, and the failures, each named
    /// after the generator's ref.
    pub(super) async fn fetch_admins(
        &self,
        resolutions: &[Resolution],
    ) -> Result<(Vec<Option<(ScopePath, SecretValue)>>, Vec<RefFailure>)> {
        let mut slots: Vec<Option<(ScopePath, SecretValue)>> = vec![None; resolutions.len()];
        let mut failures = Vec::new();
        let mut asks: Vec<(usize, Resolution)> = Vec::new();
        for (i, r) in resolutions.iter().enumerate() {
            let Some(c) = &r.winner else { continue };
            let Some(admin) = c.material.generator.as_ref().and_then(|g| g.admin_ref()) else {
                continue;
            };
            let admin = SecretName::parse(admin)?;
            let chain = c.meta.scope.resolution_chain();
            let candidates = self
                .store
                .candidates(&chain, std::slice::from_ref(&admin))
                .await?;
            let mut resolved = resolve::resolve(&c.meta.scope, &[admin], candidates);
            let fail = |message: String| RefFailure {
                name: r.name.to_string(),
                reason: RefFailureReason::Backend {
                    scope: c.meta.scope.to_string(),
                    error: BackendError::NotFound(message),
                },
            };
            match resolved.pop() {
                Some(a)
                    if a.winner
                        .as_ref()
                        .is_some_and(|w| w.meta.generator.is_none()) =>
                {
                    asks.push((i, a))
                }
                Some(a) if a.winner.is_some() => {
                    failures.push(fail(format!("its admin ref {} is a generator", a.name)))
                }
                _ => failures.push(fail(format!(
                    "its admin ref is missing from the chain of {}",
                    c.meta.scope
                ))),
            }
        }
        if asks.is_empty() {
            return Ok((slots, failures));
        }
        let admin_resolutions: Vec<Resolution> = asks.iter().map(|(_, a)| a.clone()).collect();
        let (values, admin_failures) = self.fetch_winners(&admin_resolutions).await;
        for f in admin_failures {
            // Named after the generator whose admin ref failed, at the generator's scope.
            let Some((i, a)) = asks.iter().find(|(_, a)| a.name.as_str() == f.name) else {
                continue;
            };
            let generator = &resolutions[*i];
            let scope = generator
                .winner
                .as_ref()
                .map(|c| c.meta.scope.to_string())
                .unwrap_or_default();
            let admin_scope = a
                .winner
                .as_ref()
                .map(|w| w.meta.scope.to_string())
                .unwrap_or_default();
            let reason = match f.reason {
                RefFailureReason::Backend { error, .. } => RefFailureReason::Backend {
                    scope,
                    error: prefix_backend_error(
                        &format!("its admin ref {} at {admin_scope}", a.name),
                        error,
                    ),
                },
                RefFailureReason::NotConfigured { message, .. } => {
                    RefFailureReason::NotConfigured {
                        scope,
                        message: format!("its admin ref {}: {message}", a.name),
                    }
                }
                other => other,
            };
            failures.push(RefFailure {
                name: generator.name.to_string(),
                reason,
            });
        }
        for ((i, a), v) in asks.iter().zip(values) {
            if let (Some(v), Some(w)) = (v, &a.winner) {
                slots[*i] = Some((w.meta.scope.clone(), v.value));
            }
        }
        Ok((slots, failures))
    }

    /// Mints a credential for every generator among the winners, all at once, each lease
    /// recorded before its provider is asked. All or nothing: if any mint fails, every
    /// lease of the brief is revoked before the error (naming each failing ref) returns.
    /// One slot per resolution.
    pub(super) async fn mint_leases(
        &self,
        who: &Principal,
        brief_id: &BriefId,
        project: &ScopePath,
        resolutions: &[Resolution],
        admins: Vec<Option<(ScopePath, SecretValue)>>,
        task_ends: OffsetDateTime,
    ) -> Result<Vec<Option<MintedRef>>> {
        let now = crate::timestamp::now();
        let mut slots: Vec<Option<MintedRef>> = (0..resolutions.len()).map(|_| None).collect();
        let mut jobs = Vec::new();
        let mut failures = Vec::new();
        for ((i, r), admin) in resolutions.iter().enumerate().zip(admins) {
            let Some(c) = &r.winner else { continue };
            let Some(spec) = &c.material.generator else {
                continue;
            };
            let minter = match self.backends.minter(spec.kind()) {
                Ok(m) => m,
                Err(e) => {
                    let message = match e {
                        Error::NotConfigured { message, .. } => message,
                        other => other.to_string(),
                    };
                    failures.push(RefFailure {
                        name: r.name.to_string(),
                        reason: RefFailureReason::NotConfigured {
                            scope: c.meta.scope.to_string(),
                            message,
                        },
                    });
                    continue;
                }
            };
            let ttl = i64::try_from(spec.ttl_secs()).unwrap_or(i64::MAX);
            // Never longer than the task: its callback token's expiry.
            let expires_at = (now + time::Duration::seconds(ttl)).min(task_ends);
            let principal = match spec.kind() {
                GeneratorKind::Postgres => generator::role_name(),
                GeneratorKind::AwsSts => generator::session_name(brief_id),
            };
            let (admin_scope, admin_value) = match admin {
                Some((s, v)) => (Some(s), Some(v)),
                None => (None, None),
            };
            let lease = Lease {
                id: LeaseId::generate(),
                brief_id: brief_id.clone(),
                project: project.clone(),
                scope: c.meta.scope.clone(),
                name: c.meta.name.clone(),
                version: c.meta.version,
                provider: spec.kind(),
                principal,
                admin_scope,
                created_at: now,
                expires_at,
                revoked_at: None,
                revoke_reason: None,
                last_error: None,
            };
            jobs.push((i, lease, minter, spec, admin_value));
        }
        if !failures.is_empty() {
            return Err(Error::Dispatch(failures));
        }
        if jobs.is_empty() {
            return Ok(slots);
        }
        let leases: Vec<Lease> = jobs.iter().map(|(_, l, ..)| l.clone()).collect();
        self.store.open_leases(&leases).await?;
        let answers =
            futures_util::future::join_all(jobs.iter().map(|(i, lease, minter, spec, admin)| {
                minter.mint(MintRequest {
                    lease_id: &lease.id,
                    principal: &lease.principal,
                    name: &resolutions[*i].name,
                    brief_id,
                    project,
                    spec,
                    admin: admin.as_ref(),
                    expires_at: lease.expires_at,
                })
            }))
            .await;
        let mut minted: Vec<(usize, Lease, Minted)> = Vec::new();
        for ((i, lease, ..), answer) in jobs.into_iter().zip(answers) {
            match answer {
                Ok(m) => minted.push((i, lease, m)),
                Err(error) => failures.push(RefFailure {
                    name: resolutions[i].name.to_string(),
                    reason: RefFailureReason::Backend {
                        scope: lease.scope.to_string(),
                        error,
                    },
                }),
            }
        }
        if failures.is_empty() {
            for (_, lease, m) in &minted {
                let audit = self
                    .audit(who, "lease.mint")
                    .scope(&lease.scope)
                    .target(lease.id.to_string())
                    .detail(serde_json::json!({
                        "provider": lease.provider,
                        "principal": m.principal,
                        "name": lease.name,
                        "version": lease.version,
                        "brief_id": brief_id,
                        "project": project,
                        "expires_at": crate::timestamp::format(m.expires_at),
                    }));
                if let Err(e) = self
                    .store
                    .lease_minted(&lease.id, &m.principal, m.expires_at, audit)
                    .await
                {
                    // A lease revoked while it was minted (`lease revoke` in between) can
                    // no longer be claimed: what was minted is revoked here, directly.
                    for (_, lease, m) in &minted {
                        let mut made = lease.clone();
                        made.principal = m.principal.clone();
                        let _ = self.revoke_one(&made).await;
                    }
                    self.abort_leases(who, brief_id).await;
                    return Err(e);
                }
            }
        } else {
            self.abort_leases(who, brief_id).await;
            return Err(Error::Dispatch(failures));
        }
        for (i, mut lease, m) in minted {
            lease.principal = m.principal;
            lease.expires_at = m.expires_at;
            slots[i] = Some(MintedRef { lease, env: m.env });
        }
        Ok(slots)
    }

    /// Revokes every lease of a dispatch that failed after (or while) minting: best
    /// effort, since the dispatch's own error is what the caller sees; a lease whose
    /// revocation fails is kept for the sweeper.
    pub(super) async fn abort_leases(&self, who: &Principal, brief_id: &BriefId) {
        let _ = self
            .end_leases(LeasesOf::Brief(brief_id), RevokeReason::DispatchFailed, who)
            .await;
    }

    /// Claims and revokes the leases `of` selects, at once. A revocation that fails is
    /// kept with its error and retried by the sweeper 10 s later.
    pub(super) async fn end_leases(
        &self,
        of: LeasesOf<'_>,
        reason: RevokeReason,
        who: &Principal,
    ) -> Result<LeasesEnded> {
        let holder = crate::random::uuid_v4();
        let now = crate::timestamp::now();
        let until = now + time::Duration::seconds(CLAIM_SECS);
        let claimed = self
            .store
            .claim_leases(of, reason, &holder, now, until, SWEEP_BATCH)
            .await?;
        let mut ended = LeasesEnded::default();
        if claimed.is_empty() {
            return Ok(ended);
        }
        let results =
            futures_util::future::join_all(claimed.iter().map(|l| self.revoke_one(l))).await;
        for (lease, result) in claimed.iter().zip(results) {
            match result {
                Ok(()) => {
                    let reason = lease.revoke_reason.unwrap_or(reason);
                    let audit = self
                        .audit(who, "lease.revoke")
                        .scope(&lease.scope)
                        .target(lease.id.to_string())
                        .detail(serde_json::json!({
                            "provider": lease.provider,
                            "principal": lease.principal,
                            "name": lease.name,
                            "brief_id": lease.brief_id,
                            "project": lease.project,
                            "reason": reason,
                            "expires_at": crate::timestamp::format(lease.expires_at),
                        }));
                    if self.store.lease_revoked(&lease.id, &holder, audit).await? {
                        ended.revoked.push(lease.id.clone());
                    }
                }
                Err(message) => {
                    // The claim is held 10 s, then the sweeper tries again.
                    let retry_at = crate::timestamp::now() + time::Duration::seconds(10);
                    self.store
                        .lease_revoke_failed(&lease.id, &holder, &message, retry_at)
                        .await?;
                    ended.failed.push((lease.id.clone(), message));
                }
            }
        }
        Ok(ended)
    }

    /// Revokes one lease with its provider: the generator's spec as it was minted, and
    /// (postgres) the admin URL read again now from the scope it came from.
    async fn revoke_one(&self, lease: &Lease) -> std::result::Result<(), String> {
        let name = SecretName::parse(&lease.name).map_err(|e| e.to_string())?;
        let (_, _, material) = self
            .store
            .material(&lease.scope, &name, Some(lease.version))
            .await
            .map_err(|e| format!("the generator's spec: {e}"))?;
        let spec = material
            .generator
            .ok_or_else(|| "the lease's version is not a generator".to_owned())?;
        let minter = self
            .backends
            .minter(spec.kind())
            .map_err(|e| e.to_string())?;
        let admin = match (spec.admin_ref(), &lease.admin_scope) {
            (Some(admin), Some(scope)) => Some(
                self.read_admin(scope, admin)
                    .await
                    .map_err(|e| format!("its admin ref {admin} at {scope}: {e}"))?,
            ),
            (Some(admin), None) => {
                return Err(format!("its admin ref {admin} was not resolved at mint"));
            }
            _ => None,
        };
        minter
            .revoke(RevokeRequest {
                principal: &lease.principal,
                spec: &spec,
                admin: admin.as_ref(),
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// The current value of the admin secret `name` at exactly `scope`.
    async fn read_admin(&self, scope: &ScopePath, name: &str) -> Result<SecretValue> {
        let name = SecretName::parse(name)?;
        let (meta, _, material) = self.store.material(scope, &name, None).await?;
        if meta.generator.is_some() {
            return Err(Error::Invalid("it is a generator".into()));
        }
        self.fetch_one(meta.backend, &material, Fetch::Current)
            .await
    }

    /// The sweeper's round (every [`LEASE_SWEEP_SECS`] in `serve`): revokes the leases past
    /// their expiry, those of briefs that ended, and those whose revocation failed and is
    /// due again. With several servers on one database, each lease is revoked by exactly
    /// one of them.
    pub async fn sweep_leases(&self) -> Result<LeasesEnded> {
        self.end_leases(LeasesOf::Due, RevokeReason::Expired, &sweeper())
            .await
    }

    /// The leases the caller may see (those of projects where it may dispatch), newest
    /// first: of one project (at or under it), one brief, or one generator.
    pub async fn leases(
        &self,
        who: &Principal,
        project: Option<&str>,
        brief: Option<&str>,
        open_only: bool,
        limit: i64,
    ) -> Result<Vec<Lease>> {
        let limit = limit.clamp(1, 1000);
        let project = project
            .map(|p| {
                let p = ScopePath::parse(p)?;
                match who.check(Action::Dispatch, &p) {
                    crate::authz::Access::Hidden => {
                        Err(Error::NotFound(format!("unknown scope {p}")))
                    }
                    _ => Ok(p),
                }
            })
            .transpose()?;
        let brief = brief.map(BriefId::parse).transpose()?;
        let mut roots = dispatch_roots(who);
        if let Some(p) = &project {
            roots = Some(match roots {
                // Within the caller's projects, at or under the one asked for.
                Some(r) => r
                    .into_iter()
                    .filter_map(|root| {
                        if p.contains(&root) {
                            Some(root)
                        } else if root.contains(p) {
                            Some(p.clone())
                        } else {
                            None
                        }
                    })
                    .collect(),
                None => vec![p.clone()],
            });
        }
        let filter = LeaseFilter {
            projects: roots.as_deref(),
            brief: brief.as_ref(),
            secret: None,
            open_only,
        };
        let leases = self.store.leases(filter, limit).await?;
        Ok(leases
            .into_iter()
            .filter(|l| who.check(Action::Dispatch, &l.project) == crate::authz::Access::Allowed)
            .collect())
    }

    /// The leases of one generator that the caller may see (its page in the UI).
    pub async fn generator_leases(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        limit: i64,
    ) -> Result<Vec<Lease>> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        let roots = dispatch_roots(who);
        let filter = LeaseFilter {
            projects: roots.as_deref(),
            brief: None,
            secret: Some((&scope, name.as_str())),
            open_only: false,
        };
        self.store.leases(filter, limit.clamp(1, 1000)).await
    }

    /// One lease, if the caller may dispatch in its project (else "no lease", as if
    /// missing).
    pub async fn lease(&self, who: &Principal, id: &str) -> Result<Lease> {
        let id = LeaseId::parse(id)?;
        let lease = self.store.lease(&id).await?;
        require_in_project(who, &lease.project, || format!("no lease {id}"))?;
        Ok(lease)
    }

    /// Revokes one lease now (`lease revoke`): allowed to whoever may dispatch in its
    /// project. Returns the lease after the call, and what was done.
    pub async fn revoke_lease(&self, who: &Principal, id: &str) -> Result<(Lease, LeasesEnded)> {
        let lease = self.lease(who, id).await?;
        let ended = self
            .end_leases(LeasesOf::Lease(&lease.id), RevokeReason::Revoked, who)
            .await?;
        Ok((self.store.lease(&lease.id).await?, ended))
    }

    /// Revokes every lease of a brief now (`lease revoke --brief`), whether or not the
    /// brief still runs.
    pub async fn revoke_brief_leases(&self, who: &Principal, brief: &str) -> Result<LeasesEnded> {
        let id = BriefId::parse(brief)?;
        let rec = self.store.dispatch_record(&id).await?;
        require_in_project(who, &rec.project, || format!("no brief {id}"))?;
        self.end_leases(LeasesOf::Brief(&id), RevokeReason::Revoked, who)
            .await
    }
}

/// A backend error with the part it came from named first (its kind kept: a refusal of
/// the admin secret's backend stays a refusal).
fn prefix_backend_error(what: &str, error: BackendError) -> BackendError {
    match error {
        BackendError::NotFound(m) => BackendError::NotFound(format!("{what}: {m}")),
        BackendError::Refused(m) => BackendError::Refused(format!("{what}: {m}")),
        BackendError::Unavailable(m) => BackendError::Unavailable(format!("{what}: {m}")),
    }
}

/// Refuses a task whose refs would set one variable twice through an `aws_sts`
/// generator (two of them, or one beside a ref named `AWS_ACCESS_KEY_ID` …), naming both
/// refs: nothing is fetched, minted, stored or issued.
pub(super) fn refuse_generator_clashes(resolutions: &[Resolution]) -> Result<()> {
    let vars = |r: &Resolution| -> Vec<String> {
        match r
            .winner
            .as_ref()
            .and_then(|c| c.material.generator.as_ref())
        {
            Some(g) => g.env_names(r.name.as_str()),
            None => match r.winner.as_ref().map(|c| c.meta.delivery) {
                Some(Delivery::File) => vec![Delivery::File.env_name(r.name.as_str())],
                _ => vec![r.name.to_string()],
            },
        }
    };
    let is_sts = |r: &Resolution| {
        r.winner
            .as_ref()
            .and_then(|c| c.meta.generator)
            .is_some_and(|k| k == GeneratorKind::AwsSts)
    };
    let mut failures = Vec::new();
    for (i, r) in resolutions.iter().enumerate() {
        if !is_sts(r) {
            continue;
        }
        for (j, other) in resolutions.iter().enumerate() {
            if i == j || (is_sts(other) && j < i) {
                continue;
            }
            let theirs = vars(other);
            if let Some(variable) = STS_ENV.iter().find(|v| theirs.iter().any(|t| t == *v)) {
                failures.push(RefFailure {
                    name: r.name.to_string(),
                    reason: RefFailureReason::Clash {
                        with: other.name.to_string(),
                        variable: (*variable).to_owned(),
                    },
                });
                failures.push(RefFailure {
                    name: other.name.to_string(),
                    reason: RefFailureReason::Clash {
                        with: r.name.to_string(),
                        variable: (*variable).to_owned(),
                    },
                });
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Dispatch(failures))
    }
}
