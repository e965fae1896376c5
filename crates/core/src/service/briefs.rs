//! Briefs after dispatch: reading them, their status, the agent's callback, revocation.

use super::{Service, require_in_project};
use crate::authz::{Action, Principal, Role};
use crate::brief::{self, Brief, BriefStatus};
use crate::error::{Error, Result};
use crate::generator::RevokeReason;
use crate::model::{BriefId, Task};
use crate::ports::LeasesOf;
use crate::ports::{BriefSummary, BriefsOf, DispatchRecord, MetadataStore};
use crate::scope::{Level, ScopePath};
use std::collections::{BTreeSet, HashMap};

/// A brief as its page shows it: the stored brief (never a value), its dispatch record
/// (status, callback, revocation) and, while it runs, its stale secrets.
#[derive(Debug, Clone)]
pub struct BriefDetail {
    /// The stored brief: the secrets handed out, by name, scope, version and category.
    pub brief: Brief,
    /// What the database keeps of the dispatch.
    pub record: DispatchRecord,
    /// The names of the secrets the brief handed out that have a newer version, or were
    /// deleted, since: only while the brief is running (its agent still holds the old
    /// value); empty once it ended.
    pub stale: Vec<String>,
}

impl<S: MetadataStore> Service<S> {
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

    /// A brief with its record and stale secrets, for callers who may see it (else "no
    /// brief", as if missing). The record is read (and the caller checked) before the
    /// brief store is asked anything.
    pub async fn brief_detail(&self, who: &Principal, id: &str) -> Result<BriefDetail> {
        let record = self.brief_status(who, id).await?;
        let brief = self.briefs.get(&record.brief_id).await?;
        let stale = if record.status == BriefStatus::Running {
            self.stale_secrets(&record).await?
        } else {
            Vec::new()
        };
        Ok(BriefDetail {
            brief,
            record,
            stale,
        })
    }

    /// The secrets of a dispatch that have a newer version, or are gone, now: one query
    /// for the (at most three) scopes the brief's secrets came from. The same rule as the
    /// store's list of briefs.
    async fn stale_secrets(&self, rec: &DispatchRecord) -> Result<Vec<String>> {
        let scopes: Vec<ScopePath> = rec
            .secrets
            .iter()
            .map(|s| s.scope.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if scopes.is_empty() {
            return Ok(Vec::new());
        }
        let now: HashMap<(ScopePath, String), i64> = self
            .store
            .list_secrets_in(&scopes)
            .await?
            .into_iter()
            .map(|m| ((m.scope, m.name), m.version))
            .collect();
        Ok(rec
            .secrets
            .iter()
            .filter(|s| {
                now.get(&(s.scope.clone(), s.name.clone()))
                    .is_none_or(|v| *v > s.version)
            })
            .map(|s| s.name.clone())
            .collect())
    }

    /// The newest dispatches of a task, newest first, at most `limit` (1 to 1000), for
    /// callers who may see the task (else "no task", as if missing).
    pub async fn task_briefs(
        &self,
        who: &Principal,
        id: &str,
        limit: i64,
    ) -> Result<Vec<BriefSummary>> {
        let task = self.task(who, id).await?;
        self.store
            .briefs_of(BriefsOf::Task(&task.id), limit.clamp(1, 1000))
            .await
    }

    /// The newest tasks of a project, newest first, at most `limit` (1 to 1000), for
    /// callers who may dispatch there (a project the caller does not see is "unknown
    /// project", as if missing; one it sees but may not dispatch in, `Forbidden`).
    pub async fn project_tasks(
        &self,
        who: &Principal,
        project: &str,
        limit: i64,
    ) -> Result<Vec<Task>> {
        let project = self.dispatch_project(who, project).await?;
        self.store
            .project_tasks(&project, limit.clamp(1, 1000))
            .await
    }

    /// The newest dispatches in a project, newest first, at most `limit` (1 to 1000), for
    /// callers who may dispatch there (as [`project_tasks`](Self::project_tasks)).
    pub async fn project_briefs(
        &self,
        who: &Principal,
        project: &str,
        limit: i64,
    ) -> Result<Vec<BriefSummary>> {
        let project = self.dispatch_project(who, project).await?;
        self.store
            .briefs_of(BriefsOf::Project(&project), limit.clamp(1, 1000))
            .await
    }

    /// A project path where the caller may dispatch, and that exists.
    async fn dispatch_project(&self, who: &Principal, project: &str) -> Result<ScopePath> {
        let project = ScopePath::parse_level(project, Level::Project)?;
        require_in_project(who, &project, || format!("unknown project {project}"))?;
        self.existing_scope(project).await
    }

    /// Checks a callback token against a brief: valid, unexpired, not revoked, and its
    /// callback not yet received (a spent token is no longer valid).
    pub async fn verify_callback(&self, brief_id: &str, token: &str) -> Result<bool> {
        let id = BriefId::parse(brief_id)?;
        let rec = self.store.dispatch_record(&id).await?;
        Ok(callback_token_valid(&rec, token) && rec.status == BriefStatus::Running)
    }

    /// The agent's callback: with a valid token for this brief, marks it completed, once.
    /// Anything else (unknown brief, wrong, expired or revoked token) is `Unauthorized`,
    /// with one message for all. A second callback with a valid token is a `Conflict`
    /// (a replay), audited as `brief.callback_replay`; the check and the completion are one
    /// atomic statement, so of concurrent callbacks exactly one succeeds. With a status
    /// and the agent's output: [`Service::callback_with`].
    pub async fn callback(&self, brief_id: &str, token: &str, source: &str) -> Result<()> {
        self.callback_with(
            brief_id,
            token,
            source,
            super::leaks::CallbackStatus::Succeeded,
            None,
        )
        .await
        .map(|_| ())
    }

    /// Ends a brief whose callback token was checked: the one atomic completion, the
    /// brief's leases revoked, or the replay audited and refused.
    pub(super) async fn complete_callback(
        &self,
        rec: &DispatchRecord,
        who: &Principal,
        status: BriefStatus,
    ) -> Result<()> {
        let id = &rec.brief_id;
        let mut audit = self.audit(who, "brief.callback").target(id.to_string());
        audit.scope = Some(rec.project.to_string());
        if status == BriefStatus::Failed {
            audit = audit.detail(serde_json::json!({"status": "failed"}));
        }
        if self.store.complete_brief(id, status, audit).await? {
            // The task ended: what was minted for it is revoked now (a failure is left
            // to the sweeper, which revokes the leases of every brief that ended).
            let _ = self
                .end_leases(LeasesOf::Brief(id), RevokeReason::Callback, who)
                .await;
            return Ok(());
        }
        // Not running any more: revoked a moment ago (then the token is just invalid), or
        // its callback was already received (a replay).
        if self.store.dispatch_record(id).await?.revoked_at.is_some() {
            return Err(Error::Unauthorized(
                "invalid callback token for this brief".to_string(),
            ));
        }
        let mut replay = self
            .audit(who, "brief.callback_replay")
            .target(id.to_string());
        replay.scope = Some(rec.project.to_string());
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
        audit.scope = Some(rec.project.to_string());
        let changed = self.store.revoke_brief(&id, audit).await?;
        // Every credential minted for the brief stops working with it (also when the brief
        // had ended already: a lease left by a failure then is revoked now).
        let _ = self
            .end_leases(LeasesOf::Brief(&id), RevokeReason::BriefRevoked, who)
            .await;
        Ok((self.store.dispatch_record(&id).await?, changed))
    }

    /// The newest dispatches in projects where the caller may dispatch, newest first.
    /// The store filters by the caller's projects before the limit (a member sees its
    /// own briefs however many other teams dispatched since); the check here only keeps
    /// what [`Principal::check`] allows, should the two ever differ.
    pub async fn recent_briefs(&self, who: &Principal, limit: i64) -> Result<Vec<BriefSummary>> {
        let limit = limit.clamp(1, 1000);
        let roots = dispatch_roots(who);
        let found = self.store.recent_briefs(roots.as_deref(), limit).await?;
        Ok(found
            .into_iter()
            .filter(|b| who.check(Action::Dispatch, &b.project) == crate::authz::Access::Allowed)
            .collect())
    }
}

/// The scopes under which the caller may dispatch (and so read briefs): `None` for root,
/// who may everywhere; else the scope of each role (an admin's or dispatcher's
/// organization, a member's team).
pub(super) fn dispatch_roots(who: &Principal) -> Option<Vec<ScopePath>> {
    if who.is_root() {
        return None;
    }
    Some(
        who.roles
            .iter()
            .filter_map(|r| match r {
                Role::Root => None,
                Role::Admin(s) | Role::Member(s) | Role::Dispatcher(s) => Some(s.clone()),
            })
            .collect(),
    )
}

/// A callback token is valid for its brief, unexpired and not revoked.
pub(super) fn callback_token_valid(rec: &DispatchRecord, token: &str) -> bool {
    // Compare first, always: the time taken does not depend on expiry or revocation.
    let matches = brief::token_matches(token, &rec.token_hash);
    let fresh = crate::timestamp::now() < rec.expires_at;
    matches && fresh && rec.revoked_at.is_none()
}
