//! Sealed delivery after dispatch: redeeming a boot token once, catching a replay, expiring
//! unredeemed tokens; and the organization's policy that requires sealed delivery.

use super::Service;
use super::links::refuse_org;
use crate::authz::{Principal, Role};
use crate::brief::{self, BriefStatus};
use crate::error::{Error, Result};
use crate::model::BriefId;
use crate::ports::{MetadataStore, Redemption};
use crate::scope::{Level, ScopePath};
use crate::sealed::{self, BOOT_TOKEN_PREFIX, SealedEnv};

/// The one answer to a boot token that matches nothing: the same for every kind of wrong.
fn invalid_boot_token() -> Error {
    Error::Unauthorized("invalid boot token".into())
}

impl<S: MetadataStore> Service<S> {
    /// Redeems a boot token presented from `source`: the first time, the brief's sealed
    /// env (deleted from the database in the same transaction, audited as `brief.boot`).
    /// A token that matches no brief is `Unauthorized`. A token redeemed before is a
    /// replay: audited as `brief.boot_replay` with both sources, the brief is revoked (its
    /// callback token stops working), and the answer is `Gone` (`already_used`). An
    /// unredeemed token past its expiry is `Gone` (`expired`) and its sealed env is
    /// deleted; one whose brief ended (a callback, a revocation) is `Gone` (`ended`).
    pub async fn redeem_boot(&self, token: &str, source: &str) -> Result<SealedEnv> {
        if !token.starts_with(BOOT_TOKEN_PREFIX) {
            return Err(invalid_boot_token());
        }
        let hash = brief::token_hash(token);
        let Some(id) = self.store.boot_brief(&hash).await? else {
            return Err(invalid_boot_token());
        };
        let rec = self.store.dispatch_record(&id).await?;
        // The stored hash matched by equality in the database; compare again in
        // constant time, as the callback does, before anything is opened.
        let stored = rec.boot.as_ref().map(|b| b.token_hash.as_str());
        if !stored.is_some_and(|h| brief::token_matches(token, h)) {
            return Err(invalid_boot_token());
        }
        let agent = agent(&id, source);
        let mut audit = self.audit(&agent, "brief.boot").target(id.to_string());
        audit.scope = Some(rec.project.to_string());
        match self.store.redeem_boot(&id, &hash, source, audit).await? {
            Redemption::Opened(ciphertext) => sealed::open(token, &id, &ciphertext),
            Redemption::AlreadyUsed => Err(self.replayed(&id, source).await?),
            Redemption::Closed => {
                // Unredeemed and the brief still running: it expired (its sealed env is
                // deleted now, if the sweep has not done it yet).
                if rec.status == BriefStatus::Running {
                    self.store.expire_boots(crate::timestamp::now()).await?;
                    Err(Error::Gone {
                        code: "expired",
                        message: format!(
                            "the boot token of brief {id} expired unredeemed; dispatch the task again"
                        ),
                    })
                } else {
                    Err(Error::Gone {
                        code: "ended",
                        message: format!(
                            "brief {id} is {}: its boot token no longer opens it",
                            rec.status
                        ),
                    })
                }
            }
        }
    }

    /// A second redemption: audited with both sources, the brief revoked; the error to
    /// answer.
    async fn replayed(&self, id: &BriefId, source: &str) -> Result<Error> {
        let rec = self.store.dispatch_record(id).await?;
        let first = rec
            .boot
            .as_ref()
            .and_then(|b| b.redeemed.as_ref())
            .map(|(_, from)| from.clone());
        let agent = agent(id, source);
        let mut replay = self
            .audit(&agent, "brief.boot_replay")
            .target(id.to_string())
            .detail(serde_json::json!({
                "redeemed_from": first,
                "replayed_from": source,
            }));
        replay.scope = Some(rec.project.to_string());
        let mut revoke = self
            .audit(&agent, "brief.revoke")
            .target(id.to_string())
            .detail(serde_json::json!({"reason": "boot_replay"}));
        revoke.scope = Some(rec.project.to_string());
        self.store.boot_replayed(id, source, replay, revoke).await?;
        // Whatever was minted for the brief ends with it (a failure is left to the
        // sweeper, which revokes the leases of every brief that ended).
        let _ = self
            .end_leases(
                crate::ports::LeasesOf::Brief(id),
                crate::generator::RevokeReason::BootReplay,
                &agent,
            )
            .await;
        Ok(Error::Gone {
            code: "already_used",
            message: format!(
                "the boot token of brief {id} was already used: a boot token is good for one boot; the brief is revoked"
            ),
        })
    }

    /// Deletes the sealed env of every unredeemed boot token past its expiry; returns how
    /// many (`serve` calls it now and then).
    pub async fn expire_boots(&self) -> Result<u64> {
        self.store.expire_boots(crate::timestamp::now()).await
    }

    /// Whether an organization requires sealed delivery, for anyone who sees it.
    pub async fn sealed_only(&self, who: &Principal, org: &str) -> Result<bool> {
        let org = ScopePath::parse_level(org, Level::Organization)?;
        if !who.sees(&org) {
            return Err(Error::NotFound(format!("unknown organization {org}")));
        }
        let org = self.existing_scope(org).await?;
        self.store.sealed_only(&org).await
    }

    /// Requires (or no longer requires) sealed delivery in an organization: for its admins
    /// and root, audited as `org.policy`. While required, a dispatch that would answer
    /// with the env is refused (403).
    pub async fn set_sealed_only(
        &self,
        who: &Principal,
        org: &str,
        sealed_only: bool,
    ) -> Result<bool> {
        let org = ScopePath::parse_level(org, Level::Organization)?;
        let admin = who.is_root()
            || who
                .roles
                .iter()
                .any(|r| matches!(r, Role::Admin(o) if *o == org));
        if !admin {
            return Err(refuse_org(who, &org, "set the policy of"));
        }
        let org = self.existing_scope(org).await?;
        let audit = self
            .audit(who, "org.policy")
            .scope(&org)
            .detail(serde_json::json!({ "sealed_only": sealed_only }));
        self.store.set_sealed_only(&org, sealed_only, audit).await?;
        Ok(sealed_only)
    }
}

/// The agent of a brief, as its audit records name it.
fn agent(id: &BriefId, source: &str) -> Principal {
    Principal {
        account: format!("agent:{id}"),
        roles: Vec::new(),
        source: source.to_owned(),
    }
}
