//! Briefs after dispatch: reading them, their status, the agent's callback, revocation.

use super::{Service, require_in_project};
use crate::authz::{Action, Principal, Role};
use crate::brief::{self, Brief, BriefStatus};
use crate::error::{Error, Result};
use crate::model::BriefId;
use crate::ports::{BriefSummary, DispatchRecord, MetadataStore};
use crate::scope::ScopePath;

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
        audit.scope = Some(rec.project.to_string());
        if self
            .store
            .complete_brief(&id, BriefStatus::Completed, audit)
            .await?
        {
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
fn dispatch_roots(who: &Principal) -> Option<Vec<ScopePath>> {
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
    matches && fresh && !rec.revoked
}
