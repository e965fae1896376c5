//! Reading the audit log, filtered to what the caller may see.

use super::Service;
use crate::authz::{Action, Principal, Role};
use crate::error::{Error, Result};
use crate::model::AuditEntry;
use crate::ports::MetadataStore;
use crate::scope::ScopePath;

impl<S: MetadataStore> Service<S> {
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
