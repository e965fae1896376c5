//! Closed-loop leak detection (issue #17): what an agent produced searched for the values
//! handed to its brief (at its callback, or later by its controller), any text or file
//! searched for every value the caller may reveal, and the rotations that are due.
//!
//! One [`Matcher`] for all of it; values are fetched for the scan, compiled into it, and
//! dropped with it. A finding names the secret, its scope and version, the encoding and
//! the offset: never the value. The text searched is never stored.

use super::Service;
use super::briefs::callback_token_valid;
use crate::authz::{Access, Action, Principal, Role};
use crate::brief::BriefStatus;
use crate::error::{BackendError, Error, Result};
use crate::generator::RevokeReason;
use crate::leaks::{Encoding, Matcher};
use crate::model::{BackendKind, BriefId, Category, SecretMeta, StoredMaterial, Version};
use crate::ports::{
    DispatchRecord, Fetch, FoundVersion, LeasesOf, MetadataStore, RotationPolicy, ScanMaterial,
};
use crate::scope::ScopePath;
use crate::value::SecretValue;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use time::OffsetDateTime;

/// The most text one callback's `output` or one scan request may carry: 1 MiB.
pub const MAX_SCAN_TEXT_BYTES: usize = 1024 * 1024;

/// One place a value was found. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakFinding {
    /// The secret's name.
    pub name: String,
    /// The scope it is kept at.
    pub scope: ScopePath,
    /// The version whose value was found.
    pub version: Version,
    /// How it was encoded.
    pub encoding: Encoding,
    /// The byte offset in the text where it starts.
    pub offset: usize,
    /// Whether one line of a multi-line value was found (not the whole value).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub line: bool,
}

/// What a scan found, and what it could not search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Every finding, by offset.
    pub findings: Vec<LeakFinding>,
    /// How many values were searched for.
    pub values: usize,
    /// How many values were too short to be searched (under 8 bytes).
    pub skipped: usize,
}

/// The values of one scan, compiled; dropped after use. Its `Debug` shows counts only.
pub struct Scanner {
    refs: Vec<FoundVersion>,
    matcher: Matcher,
}

impl fmt::Debug for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scanner")
            .field("values", &self.refs.len())
            .field("matcher", &self.matcher)
            .finish()
    }
}

impl Scanner {
    fn new(found: Vec<(FoundVersion, SecretValue)>) -> Scanner {
        let matcher = Matcher::new(found.iter().map(|(_, v)| v));
        let refs = found.into_iter().map(|(r, _)| r).collect();
        Scanner { refs, matcher }
    }

    /// Every value of the scan found in `input`, by offset.
    pub fn scan(&self, input: &[u8]) -> Vec<LeakFinding> {
        self.matcher
            .find(input)
            .into_iter()
            .filter_map(|f| {
                let r = self.refs.get(f.value)?;
                Some(LeakFinding {
                    name: r.name.to_string(),
                    scope: r.scope.clone(),
                    version: r.version,
                    encoding: f.encoding,
                    offset: f.offset,
                    line: f.line,
                })
            })
            .collect()
    }

    /// How many values are searched for (the skipped ones included).
    pub fn values(&self) -> usize {
        self.refs.len()
    }

    /// How many values were too short to be searched.
    pub fn skipped(&self) -> usize {
        self.matcher.skipped()
    }

    fn report(&self, input: &[u8]) -> ScanReport {
        ScanReport {
            findings: self.scan(input),
            values: self.values(),
            skipped: self.skipped(),
        }
    }
}

/// The counts of a scan run with [`Service::scanner`] (files, a git history), for its
/// audit record ([`Service::audit_scan`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// What was searched: `files` or `git`.
    pub source: &'static str,
    /// How many files (or blobs) were searched.
    pub files: u64,
    /// How many bytes were searched.
    pub bytes: u64,
    /// How many values were searched for.
    pub values: usize,
    /// How many values were too short to be searched.
    pub skipped: usize,
    /// How many findings.
    pub findings: usize,
    /// How many files were left out (too large, unreadable).
    pub not_scanned: u64,
}

/// What the agent reports at its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackStatus {
    /// The task succeeded (the default).
    #[default]
    Succeeded,
    /// The task failed.
    Failed,
}

/// A secret whose rotation is due: past its maximum age, or marked leaked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueSecret {
    /// The secret.
    #[serde(flatten)]
    pub meta: SecretMeta,
    /// The maximum age that applies (its own, or its category's policy at its scope or
    /// above), in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_secs: Option<i64>,
    /// Where that maximum age comes from: `secret`, or the policy's scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// When its current version passed (or passes) that age.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::timestamp::rfc3339::option"
    )]
    pub due_at: Option<OffsetDateTime>,
    /// Why it is listed: `leaked`, `age`, or both.
    pub reasons: Vec<&'static str>,
}

/// The maximum age of `meta` and where it comes from: its own, else the policy of its
/// category at the nearest scope of its chain.
pub fn max_age(meta: &SecretMeta, policies: &[RotationPolicy]) -> Option<(i64, String)> {
    if let Some(secs) = meta.rotate_every_secs.filter(|s| *s > 0) {
        return Some((secs, "secret".to_owned()));
    }
    policies
        .iter()
        .filter(|p| p.category == meta.category && p.scope.contains(&meta.scope))
        .max_by_key(|p| p.scope.depth())
        .map(|p| (p.every_secs, p.scope.to_string()))
}

/// Whether `meta` is due at `now` (leaked, or past its maximum age), as [`DueSecret`].
pub fn due(
    meta: &SecretMeta,
    policies: &[RotationPolicy],
    now: OffsetDateTime,
) -> Option<DueSecret> {
    let age = max_age(meta, policies);
    let due_at = age
        .as_ref()
        .map(|(secs, _)| meta.updated_at + time::Duration::seconds(*secs));
    let mut reasons = Vec::new();
    if meta.leaked_at.is_some() {
        reasons.push("leaked");
    }
    if due_at.is_some_and(|at| at <= now) {
        reasons.push("age");
    }
    (!reasons.is_empty()).then(|| DueSecret {
        meta: meta.clone(),
        max_age_secs: age.as_ref().map(|(s, _)| *s),
        policy: age.map(|(_, p)| p),
        due_at,
        reasons,
    })
}

impl<S: MetadataStore> Service<S> {
    /// A scanner of every value (current and earlier versions of local secrets, the
    /// current value of links) that `who` may reveal: a member's scan never searches
    /// another team's values. A value that cannot be fetched fails the scan (a scan that
    /// left a value out would answer "nothing found" where it did not look).
    pub async fn scanner(&self, who: &Principal) -> Result<Scanner> {
        let roots = reveal_roots(who);
        if roots.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Scanner::new(Vec::new()));
        }
        let materials = self.store.scan_materials(roots.as_deref()).await?;
        let mut prefixes = None;
        let mut wanted = Vec::new();
        for m in materials {
            if who.check(Action::ReadValue, &m.scope) != Access::Allowed
                || m.material.generator.is_some()
            {
                continue;
            }
            // A link's earlier versions are the backend's history, not ours: its current
            // value is searched.
            if m.backend != BackendKind::Local && !m.current {
                continue;
            }
            if !who.is_root()
                && self
                    .reference_verdict(
                        &m.scope,
                        &m.name,
                        m.backend,
                        Some(&m.material),
                        &mut prefixes,
                    )
                    .await?
                    .is_some()
            {
                continue;
            }
            wanted.push(m);
        }
        self.fetch_for_scan(wanted).await
    }

    /// A scanner of the values handed to one brief (the versions it recorded).
    async fn brief_scanner(&self, rec: &DispatchRecord) -> Result<Scanner> {
        let mut wanted = Vec::new();
        for s in &rec.secrets {
            let name = crate::name::SecretName::parse_existing(&s.name)?;
            let (meta, version, mut material) =
                match self.store.material(&s.scope, &name, Some(s.version)).await {
                    Ok(m) => m,
                    // Deleted since: its value is gone from secretstore, nothing to search.
                    Err(Error::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                };
            if material.generator.is_some() {
                continue;
            }
            if meta.backend != BackendKind::Local {
                material.backend_version = s.backend_version.clone();
            }
            wanted.push(ScanMaterial {
                scope: s.scope.clone(),
                name,
                version,
                current: version == meta.version,
                backend: meta.backend,
                material,
            });
        }
        self.fetch_for_scan(wanted).await
    }

    /// Fetches the values of `wanted`, a batch per backend, into a scanner; any failure
    /// fails the scan, naming each secret that failed.
    async fn fetch_for_scan(&self, wanted: Vec<ScanMaterial>) -> Result<Scanner> {
        let mut by_backend: BTreeMap<&'static str, Vec<&ScanMaterial>> = BTreeMap::new();
        for m in &wanted {
            by_backend.entry(m.backend.as_str()).or_default().push(m);
        }
        let mut found = Vec::with_capacity(wanted.len());
        let mut failed = Vec::new();
        for group in by_backend.values() {
            let Some(first) = group.first() else { continue };
            let backend = match self.backends.get(first.backend) {
                Ok(b) => b,
                Err(_) => {
                    failed.extend(group.iter().map(|m| format!("{} at {}", m.name, m.scope)));
                    continue;
                }
            };
            // The local backend reads exactly the recorded version; a link the version
            // the brief recorded, or its current value.
            let (recorded, current): (Vec<&ScanMaterial>, Vec<&ScanMaterial>) =
                group.iter().partition(|m| {
                    m.backend == BackendKind::Local || m.material.backend_version.is_some()
                });
            for (items, which) in [(recorded, Fetch::Recorded), (current, Fetch::Current)] {
                if items.is_empty() {
                    continue;
                }
                let materials: Vec<&StoredMaterial> = items.iter().map(|m| &m.material).collect();
                let fetched = backend.fetch(&materials, which).await;
                for (i, m) in items.iter().enumerate() {
                    match fetched.get(i) {
                        Some(Ok(f)) => found.push((
                            FoundVersion {
                                scope: m.scope.clone(),
                                name: m.name.clone(),
                                version: m.version,
                            },
                            f.value.clone(),
                        )),
                        _ => failed
                            .push(format!("{} at {} (version {})", m.name, m.scope, m.version)),
                    }
                }
            }
        }
        if !failed.is_empty() {
            return Err(Error::Backend(BackendError::Unavailable(format!(
                "the scan could not read {} value(s), so it did not run: {}",
                failed.len(),
                failed.join(", ")
            ))));
        }
        Ok(Scanner::new(found))
    }

    /// `POST /api/v1/scan`: `text` searched for every value the caller may reveal. Audited
    /// as `scan` (with the counts, never the text). Nothing is marked: the caller decides.
    pub async fn scan_text(&self, who: &Principal, text: &[u8]) -> Result<ScanReport> {
        check_scan_size(text.len())?;
        let report = self.scanner(who).await?.report(text);
        let audit = self.audit(who, "scan").detail(serde_json::json!({
            "bytes": text.len(),
            "values": report.values,
            "skipped": report.skipped,
            "findings": report.findings.len(),
        }));
        self.store.append_audit(audit).await?;
        Ok(report)
    }

    /// The audit record of a scan that the caller ran with its own [`Service::scanner`]
    /// (the command line's `scan` of files or a git history): `scan`, with the counts of
    /// `summary` only (never a path, a text or a value).
    pub async fn audit_scan(&self, who: &Principal, summary: ScanSummary) -> Result<()> {
        let audit = self.audit(who, "scan").detail(serde_json::json!({
            "source": summary.source,
            "files": summary.files,
            "bytes": summary.bytes,
            "values": summary.values,
            "skipped": summary.skipped,
            "findings": summary.findings,
            "not_scanned": summary.not_scanned,
        }));
        self.store.append_audit(audit).await
    }

    /// `POST /api/v1/briefs/{id}/scan`: what the brief's agent produced (a transcript, an
    /// artifact), searched for the values handed to that brief, by whoever may dispatch
    /// in its project; a finding is contained as at the callback.
    pub async fn scan_brief(&self, who: &Principal, id: &str, text: &[u8]) -> Result<ScanReport> {
        check_scan_size(text.len())?;
        let id = BriefId::parse(id)?;
        let rec = self.store.dispatch_record(&id).await?;
        super::require_in_project(who, &rec.project, || format!("no brief {id}"))?;
        let report = self.brief_scanner(&rec).await?.report(text);
        self.contain(&rec, &report.findings, who).await?;
        Ok(report)
    }

    /// The agent's callback with what it reports: its status and (optionally) its output,
    /// searched for the values handed to the brief before the brief is ended. Returns the
    /// findings. The token rules are [`Service::callback`]'s.
    pub async fn callback_with(
        &self,
        brief_id: &str,
        token: &str,
        source: &str,
        status: CallbackStatus,
        output: Option<&[u8]>,
    ) -> Result<ScanReport> {
        if let Some(o) = output {
            check_scan_size(o.len())?;
        }
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
        let who = agent(&id, source);
        // Searched while the brief runs (a replay is refused below, unsearched); a value
        // that cannot be read fails the callback before anything changes, so the agent
        // may call again.
        let mut report = ScanReport::default();
        if let (Some(output), BriefStatus::Running) = (output, rec.status) {
            report = self.brief_scanner(&rec).await?.report(output);
            self.contain(&rec, &report.findings, &who).await?;
        }
        let status = match status {
            CallbackStatus::Succeeded => BriefStatus::Completed,
            CallbackStatus::Failed => BriefStatus::Failed,
        };
        self.complete_callback(&rec, &who, status).await?;
        Ok(report)
    }

    /// Contains what a scan of a brief's output found: each secret whose current version
    /// was found is marked leaked (until a new version), `secret.leaked` is audited per
    /// secret, version and encoding, the brief is marked leaked, and every per-task
    /// credential of the brief is revoked at once.
    async fn contain(
        &self,
        rec: &DispatchRecord,
        findings: &[LeakFinding],
        who: &Principal,
    ) -> Result<()> {
        if findings.is_empty() {
            return Ok(());
        }
        let mut versions: BTreeSet<(String, String, Version)> = BTreeSet::new();
        let mut audited: BTreeSet<(String, String, Version, Encoding)> = BTreeSet::new();
        let mut audits = Vec::new();
        let mut found = Vec::new();
        for f in findings {
            let key = (f.scope.to_string(), f.name.clone(), f.version);
            if versions.insert(key.clone()) {
                found.push(FoundVersion {
                    scope: f.scope.clone(),
                    name: crate::name::SecretName::parse_existing(&f.name)?,
                    version: f.version,
                });
            }
            if audited.insert((key.0, key.1, key.2, f.encoding)) {
                let mut audit = self
                    .audit(who, "secret.leaked")
                    .target(rec.brief_id.to_string())
                    .detail(serde_json::json!({
                        "encoding": f.encoding.as_str(),
                        "brief": rec.brief_id.to_string(),
                    }));
                audit.scope = Some(f.scope.to_string());
                audit.name = Some(f.name.clone());
                audit.version = Some(f.version);
                audits.push(audit);
            }
        }
        self.store
            .record_leaks(&found, Some(&rec.brief_id), crate::timestamp::now(), audits)
            .await?;
        // A failure is left to the sweeper, as at a callback; the error of the scan is
        // not the place to report it (the leak is recorded).
        let _ = self
            .end_leases(LeasesOf::Brief(&rec.brief_id), RevokeReason::Leaked, who)
            .await;
        Ok(())
    }

    /// The secrets the caller may see (under `scope`, if given: that scope and below)
    /// whose rotation is due — past their maximum age, or marked leaked — oldest first.
    pub async fn due_secrets(
        &self,
        who: &Principal,
        scope: Option<&str>,
    ) -> Result<Vec<DueSecret>> {
        let under = match scope {
            Some(s) => {
                let s = ScopePath::parse(s)?;
                who.require(Action::ReadMeta, &s)?;
                Some(self.existing_scope(s).await?)
            }
            None => None,
        };
        let policies = self.store.rotation_policies().await?;
        let now = crate::timestamp::now();
        let mut due: Vec<DueSecret> = self
            .list_visible(who)
            .await?
            .iter()
            .filter(|m| under.as_ref().is_none_or(|u| u.contains(&m.scope)))
            .filter(|m| m.generator.is_none())
            .filter_map(|m| due(m, &policies, now))
            .collect();
        due.sort_by(|a, b| {
            (a.meta.updated_at, a.meta.scope.to_string(), &a.meta.name).cmp(&(
                b.meta.updated_at,
                b.meta.scope.to_string(),
                &b.meta.name,
            ))
        });
        Ok(due)
    }

    /// The rotation policies the caller may see.
    pub async fn rotation_policies(&self, who: &Principal) -> Result<Vec<RotationPolicy>> {
        Ok(self
            .store
            .rotation_policies()
            .await?
            .into_iter()
            .filter(|p| who.check(Action::ReadMeta, &p.scope) == Access::Allowed)
            .collect())
    }

    /// Sets (`Some(secs)`, 30s–365d) or removes (`None`) the maximum age of `category`'s
    /// secrets at `scope` and below: whoever may write secrets at `scope`.
    pub async fn set_rotation_policy(
        &self,
        who: &Principal,
        scope: &str,
        category: Category,
        every_secs: Option<i64>,
    ) -> Result<()> {
        if let Some(secs) = every_secs {
            if secs == 0 {
                return Err(Error::Invalid(
                    "a rotation policy needs a maximum age above 0".into(),
                ));
            }
            super::check_rotate_every(secs)?;
        }
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let mut audit = self
            .audit(who, "rotation.policy")
            .detail(serde_json::json!({
                "category": category.as_str(),
                "every_secs": every_secs,
            }));
        audit.scope = Some(scope.to_string());
        self.store
            .set_rotation_policy(&scope, category, every_secs, audit)
            .await
    }
}

/// The principal of a brief's agent (its callback).
pub(super) fn agent(id: &BriefId, source: &str) -> Principal {
    Principal {
        account: format!("agent:{id}"),
        roles: Vec::new(),
        source: source.to_owned(),
    }
}

fn check_scan_size(len: usize) -> Result<()> {
    if len > MAX_SCAN_TEXT_BYTES {
        return Err(Error::Invalid(format!(
            "the text to scan is {len} bytes: at most {MAX_SCAN_TEXT_BYTES} (1 MiB) per request"
        )));
    }
    Ok(())
}

/// The scopes under which `who` may reveal values (`None`: everywhere, root): an admin's
/// organization; a member's organization (its team's and the organization-wide secrets,
/// each checked again against [`Principal::check`]); a dispatcher nothing.
fn reveal_roots(who: &Principal) -> Option<Vec<ScopePath>> {
    if who.is_root() {
        return None;
    }
    let mut roots: Vec<ScopePath> = Vec::new();
    for r in &who.roles {
        let root = match r {
            Role::Root => return None,
            Role::Admin(s) => Some(s.clone()),
            Role::Member(s) => ScopePath::parse(s.organization()).ok(),
            Role::Dispatcher(_) => None,
        };
        if let Some(root) = root
            && !roots.contains(&root)
        {
            roots.push(root);
        }
    }
    Some(roots)
}
