//! Tasks and dispatch: resolving a task's refs (narrowest scope wins), fetching every
//! winner, storing the brief and handing out the environment — all or nothing.

use super::{Delivered, Dispatched, SealedDispatch, Service, require_in_project};
use crate::authz::{Action, Principal};
use crate::brief::{self, Brief, BriefDelivery, BriefSecret, BriefStatus};
use crate::error::{BackendError, Error, RefFailure, RefFailureReason, Result};
use crate::model::{BackendKind, BriefId, Delivery, StoredMaterial, Task, TaskId};
use crate::name::SecretName;
use crate::ports::{BootRecord, DispatchRecord, DispatchedSecret, Fetch, Fetched, MetadataStore};
use crate::resolve::{self, Resolution};
use crate::scope::{Level, ScopePath};
use crate::sealed::{self, SealedEnv};
use crate::value::SecretValue;
use std::collections::{BTreeMap, HashSet};

impl<S: MetadataStore> Service<S> {
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
        check_ref_count(refs.len())?;
        if let Some(p) = &payload {
            check_payload_size(p)?;
        }
        // De-duplicated in one pass, first occurrence kept.
        let mut seen: HashSet<&str> = HashSet::with_capacity(refs.len());
        let mut names: Vec<String> = Vec::with_capacity(refs.len());
        for r in refs {
            // A name parses as itself: the text is the name.
            SecretName::parse(r)?;
            if seen.insert(r) {
                names.push(r.clone());
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
            project: project.clone(),
            secret_refs: names,
            payload,
            created_at: crate::timestamp::now(),
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
    pub(super) async fn fetch_winners(
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
                // A generator has no value to fetch: it is minted (after every fetch
                // succeeded).
                Some(c) if c.material.generator.is_some() => {}
                Some(c) => by_backend.entry(c.meta.backend).or_default().push(i),
            }
        }
        let winner = |i: usize| resolutions[i].winner.as_ref();
        let scope_of = |i: usize| {
            winner(i)
                .map(|c| c.meta.scope.to_string())
                .unwrap_or_default()
        };
        let fail = |i: usize, error: BackendError| RefFailure {
            name: resolutions[i].name.to_string(),
            reason: RefFailureReason::Backend {
                scope: scope_of(i),
                error,
            },
        };
        let mut asks = Vec::new();
        for (kind, idx) in &by_backend {
            match self.backends.get(*kind) {
                Ok(backend) => {
                    let items: Vec<&StoredMaterial> = idx
                        .iter()
                        .filter_map(|&i| winner(i).map(|c| &c.material))
                        .collect();
                    asks.push((idx, backend, items));
                }
                Err(e) => {
                    let message = match e {
                        Error::NotConfigured { message, .. } => message,
                        other => other.to_string(),
                    };
                    for &i in idx {
                        failures.push(RefFailure {
                            name: resolutions[i].name.to_string(),
                            reason: RefFailureReason::NotConfigured {
                                scope: scope_of(i),
                                message: message.clone(),
                            },
                        });
                    }
                }
            }
        }
        // Every backend at once: a dispatch waits for the slowest backend's bound, never
        // for the sum of them (AWS and Vault both frozen).
        let answers = futures_util::future::join_all(
            asks.iter()
                .map(|(_, backend, items)| backend.fetch(items, Fetch::Current)),
        )
        .await;
        for ((idx, _, _), results) in asks.iter().zip(answers) {
            let mut results = results.into_iter();
            for &i in idx.iter() {
                match results.next() {
                    Some(Ok(v)) => values[i] = Some(v),
                    Some(Err(e)) => failures.push(fail(i, e)),
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
    pub(super) async fn align_versions(
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
    /// fails the whole dispatch, naming every one, and nothing is stored or issued. Refused
    /// (403) in an organization that requires sealed delivery.
    pub async fn dispatch(&self, who: &Principal, task_id: &str) -> Result<Dispatched> {
        match self.dispatch_as(who, task_id, BriefDelivery::Env).await? {
            Delivered::Env(d) => Ok(d),
            Delivered::Sealed(_) => Err(Error::Invalid(
                "an env dispatch answered with a boot token".into(),
            )),
        }
    }

    /// Dispatches a task with sealed delivery: as [`dispatch`](Self::dispatch), but the
    /// env (with the callback token) is kept encrypted under a new single-use boot token,
    /// which is all the answer holds.
    pub async fn dispatch_sealed(&self, who: &Principal, task_id: &str) -> Result<SealedDispatch> {
        match self
            .dispatch_as(who, task_id, BriefDelivery::Sealed)
            .await?
        {
            Delivered::Sealed(d) => Ok(d),
            Delivered::Env(_) => Err(Error::Invalid(
                "a sealed dispatch answered with the env".into(),
            )),
        }
    }

    /// Dispatches a task with the given delivery.
    pub async fn dispatch_as(
        &self,
        who: &Principal,
        task_id: &str,
        delivery: BriefDelivery,
    ) -> Result<Delivered> {
        let task = self.task(who, task_id).await?;
        // A task stored before the limits were enforced is held to them here.
        check_ref_count(task.secret_refs.len())?;
        // A ref stored before unsafe environment names were refused is refused here.
        refuse_unsafe_refs(&task.secret_refs)?;
        let project = ScopePath::parse_level(task.project.as_str(), Level::Project)?;
        if delivery == BriefDelivery::Env {
            self.refuse_unsealed(&project).await?;
        }
        let names = task
            .secret_refs
            .iter()
            .map(|r| SecretName::parse(r))
            .collect::<Result<Vec<_>>>()?;
        let chain = project.resolution_chain();
        let candidates = self.store.candidates(&chain, &names).await?;
        let resolutions = resolve::resolve(&project, &names, candidates);
        self.authorize_winners(who, &resolutions).await?;
        refuse_delivery_collisions(&resolutions)?;
        super::leases::refuse_generator_clashes(&resolutions)?;

        // Every stored value and every generator's admin URL at once; nothing is minted
        // unless all of them came.
        let ((values, mut failures), admins) = futures_util::future::join(
            self.fetch_winners(&resolutions),
            self.fetch_admins(&resolutions),
        )
        .await;
        let (admins, admin_failures) = admins?;
        failures.extend(admin_failures);
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

        let brief_id = BriefId::generate();
        let callback_expires_at = crate::timestamp::in_secs(self.config.callback_ttl_secs);
        let minted = self
            .mint_leases(
                who,
                &brief_id,
                &project,
                &resolutions,
                admins,
                callback_expires_at,
            )
            .await?;
        let leased = minted.iter().any(Option::is_some);
        let outcome = self
            .deliver(
                who,
                &task,
                &project,
                delivery,
                brief_id.clone(),
                callback_expires_at,
                &resolutions,
                values,
                minted,
            )
            .await;
        if outcome.is_err() && leased {
            // All or nothing: what was minted for a dispatch that failed is revoked.
            self.abort_leases(who, &brief_id).await;
        }
        outcome
    }

    /// The second half of a dispatch, once every value was fetched and every credential
    /// minted: the brief stored, the token issued, the env handed out or sealed.
    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of one dispatch, passed once from dispatch_as"
    )]
    async fn deliver(
        &self,
        who: &Principal,
        task: &Task,
        project: &ScopePath,
        delivery: BriefDelivery,
        brief_id: BriefId,
        callback_expires_at: crate::timestamp::OffsetDateTime,
        resolutions: &[Resolution],
        values: Vec<Option<Fetched>>,
        minted: Vec<Option<super::leases::MintedRef>>,
    ) -> Result<Delivered> {
        let brief = Brief {
            brief_id,
            task_id: task.id.clone(),
            project: task.project.clone(),
            created_at: crate::timestamp::now(),
            delivery,
            // The backend version is the one whose value is handed out, read with it:
            // a write in the backend since the database recorded its version counts.
            secrets: resolutions
                .iter()
                .zip(values.iter().zip(&minted))
                .filter_map(|(r, (v, m))| {
                    let c = r.winner.as_ref()?;
                    let lease = m.as_ref().map(|m| &m.lease);
                    if v.is_none() && lease.is_none() {
                        return None;
                    }
                    Some(BriefSecret {
                        name: c.meta.name.clone(),
                        scope: c.meta.scope.clone(),
                        version: c.meta.version,
                        backend: c.meta.backend,
                        category: c.meta.category,
                        backend_version: v.as_ref().and_then(|v| v.version.clone()),
                        delivery: c.meta.delivery,
                        generator: lease.map(|l| l.provider),
                        lease_id: lease.map(|l| l.id.clone()),
                        expires_at: lease.map(|l| l.expires_at),
                    })
                })
                .collect(),
            payload: task.payload.clone(),
        };
        let token = brief::new_callback_token();
        let (mut env, mut files) = split_env_and_files(resolutions, values, minted);
        #[allow(clippy::expect_used, reason = "a UUID is always a valid value")]
        let id_value =
            SecretValue::new(brief.brief_id.to_string()).expect("brief id is a valid value");
        env.push(("SECRETSTORE_BRIEF_ID".into(), id_value));
        env.push(("SECRETSTORE_CALLBACK_TOKEN".into(), token.clone()));

        // A sealed brief: its env is sealed under a new boot token before anything is
        // stored, and kept with the record; the token itself is never stored.
        let boot = match delivery {
            BriefDelivery::Env => None,
            BriefDelivery::Sealed => {
                let boot_token = sealed::new_boot_token();
                let contents = SealedEnv {
                    env: std::mem::take(&mut env),
                    files: std::mem::take(&mut files),
                };
                let ciphertext =
                    sealed::seal(boot_token.expose_secret(), &brief.brief_id, &contents)?;
                let expires_at = crate::timestamp::in_secs(self.config.boot_ttl_secs);
                Some((boot_token, ciphertext, expires_at))
            }
        };
        let record = DispatchRecord {
            brief_id: brief.brief_id.clone(),
            task_id: task.id.clone(),
            project: task.project.clone(),
            created_at: brief.created_at,
            token_hash: brief::token_hash(token.expose_secret()),
            expires_at: callback_expires_at,
            status: BriefStatus::Running,
            completed_at: None,
            leaked_at: None,
            revoked_at: None,
            secrets: brief
                .secrets
                .iter()
                .map(|s| DispatchedSecret {
                    scope: s.scope.clone(),
                    name: s.name.clone(),
                    version: s.version,
                    backend_version: s.backend_version.clone(),
                })
                .collect(),
            delivery,
            boot: boot.as_ref().map(|(t, ciphertext, expires_at)| BootRecord {
                token_hash: brief::token_hash(t.expose_secret()),
                expires_at: *expires_at,
                sealed: Some(ciphertext.clone()),
                redeemed: None,
                replayed: None,
            }),
        };
        drop(token);
        // The brief is durable before the token becomes valid and the env is handed out.
        self.briefs.put(&brief).await?;
        let audit = self
            .audit(who, "task.dispatch")
            .scope(project)
            .target(brief.brief_id.to_string())
            .detail(serde_json::json!({
                "task_id": task.id,
                "delivery": delivery,
                "secrets": brief.secrets.iter().map(|s| {
                    let mut one = serde_json::json!({
                        "name": s.name, "scope": s.scope, "version": s.version,
                        "backend_version": s.backend_version,
                    });
                    if let (Some(g), Some(l)) = (s.generator, &s.lease_id) {
                        one["generator"] = g.as_str().into();
                        one["lease_id"] = l.as_str().into();
                    }
                    one
                }).collect::<Vec<_>>(),
            }));
        if let Err(e) = self.store.record_dispatch(&record, audit).await {
            // The brief without its record would be half a dispatch: take it back (best
            // effort; the record's failure is the error to report).
            let _ = self.briefs.discard(&brief.brief_id).await;
            return Err(e);
        }
        Ok(match boot {
            None => Delivered::Env(Dispatched { brief, env, files }),
            Some((boot_token, _, expires_at)) => Delivered::Sealed(SealedDispatch {
                brief,
                boot_token,
                expires_at,
            }),
        })
    }

    /// Refuses an env dispatch in an organization that requires sealed delivery.
    async fn refuse_unsealed(&self, project: &ScopePath) -> Result<()> {
        let org = ScopePath::parse_level(project.organization(), Level::Organization)?;
        if self.store.sealed_only(&org).await? {
            return Err(Error::Forbidden(format!(
                "organization {org} requires sealed delivery: dispatch with {{\"delivery\": \"sealed\"}} (secretstore dispatch --sealed) and start the agent with secretstore boot"
            )));
        }
        Ok(())
    }
}

/// Names and values, in order.
type Pairs = Vec<(String, SecretValue)>;

/// The fetched values and minted credentials of a dispatch by delivery, each in the
/// order of the task's refs: the env-delivered ones as `(NAME, value)`, the file-delivered
/// ones as `(NAME, value)` too (whoever starts the agent writes the file and sets
/// `NAME_FILE`). A generator's credential is its variables (`NAME`, or the three `AWS_*`).
fn split_env_and_files(
    resolutions: &[Resolution],
    values: Vec<Option<Fetched>>,
    minted: Vec<Option<super::leases::MintedRef>>,
) -> (Pairs, Pairs) {
    let mut env = Vec::with_capacity(resolutions.len() + 4);
    let mut files = Vec::new();
    for ((r, v), m) in resolutions.iter().zip(values).zip(minted) {
        let Some(c) = &r.winner else {
            continue;
        };
        let pairs: Pairs = match (v, m) {
            (Some(v), _) => vec![(r.name.to_string(), v.value)],
            (None, Some(m)) => m.env,
            (None, None) => continue,
        };
        match c.meta.delivery {
            Delivery::Env => env.extend(pairs),
            Delivery::File => files.extend(pairs),
        }
    }
    (env, files)
}

/// Refuses a task in which a file-delivered winner `X` (its path goes in `X_FILE`) and an
/// env-delivered winner `X_FILE` would set the same variable, naming both refs: nothing is
/// fetched, stored or issued.
pub(super) fn refuse_delivery_collisions(resolutions: &[Resolution]) -> Result<()> {
    let delivery = |r: &Resolution| r.winner.as_ref().map(|c| c.meta.delivery);
    let mut failures = Vec::new();
    for r in resolutions {
        if delivery(r) != Some(Delivery::File) {
            continue;
        }
        let path_var = Delivery::File.env_name(r.name.as_str());
        let clash = resolutions
            .iter()
            .find(|o| o.name.as_str() == path_var && delivery(o) == Some(Delivery::Env));
        if let Some(other) = clash {
            failures.push(RefFailure {
                name: r.name.to_string(),
                reason: RefFailureReason::Collision {
                    with: other.name.to_string(),
                    file_delivered: true,
                },
            });
            failures.push(RefFailure {
                name: other.name.to_string(),
                reason: RefFailureReason::Collision {
                    with: r.name.to_string(),
                    file_delivered: false,
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

/// Refuses a dispatch whose task names unsafe environment names (a task stored before the
/// rule existed), naming every one with its rule: nothing is fetched, stored or issued.
pub(super) fn refuse_unsafe_refs(refs: &[String]) -> Result<()> {
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
pub(super) fn refuse_values_in_payload(
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
pub(super) fn json_contains(v: &serde_json::Value, needle: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains(needle),
        serde_json::Value::Array(a) => a.iter().any(|x| json_contains(x, needle)),
        serde_json::Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.contains(needle) || json_contains(x, needle)),
        other => other.to_string().contains(needle),
    }
}

/// The most secret refs one task may name (SPEC §8): a dispatch's work, and the parameters
/// of the queries it builds, stay bounded.
pub const MAX_REFS: usize = 256;

/// The largest payload a task may carry, as JSON text (SPEC §8).
pub const MAX_PAYLOAD_BYTES: usize = 65_536;

/// Refuses a task with more than [`MAX_REFS`] refs, before any of them is parsed.
fn check_ref_count(given: usize) -> Result<()> {
    if given > MAX_REFS {
        return Err(Error::TooManyRefs {
            given,
            limit: MAX_REFS,
        });
    }
    Ok(())
}

/// Refuses a payload larger than [`MAX_PAYLOAD_BYTES`] as JSON text.
fn check_payload_size(payload: &serde_json::Value) -> Result<()> {
    let size = serde_json::to_vec(payload).map_or(usize::MAX, |v| v.len());
    if size > MAX_PAYLOAD_BYTES {
        return Err(Error::Invalid(format!(
            "the task's payload is {size} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES}"
        )));
    }
    Ok(())
}
