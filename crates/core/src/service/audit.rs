//! Reading the audit log, filtered to what the caller may see.

use super::Service;
use crate::audit::{AuditFilter, AuditPage};
use crate::authz::{Action, Principal, Role};
use crate::error::{Error, Result};
use crate::name::SecretName;
use crate::ports::MetadataStore;
use crate::scope::ScopePath;

impl<S: MetadataStore> Service<S> {
    /// One page of the audit log the caller may read, newest first: root everything; an
    /// admin its organizations; a member its team; a dispatcher nothing (403). With
    /// `filter.scope`, only that subtree (404 if the caller may not see it); the other
    /// filters narrow it further.
    pub async fn audit_log(&self, who: &Principal, filter: AuditFilter) -> Result<AuditPage> {
        let filter = filter.checked()?;
        if let Some(n) = &filter.name {
            // The shape only: a secret stored before a newer naming rule is still asked about.
            SecretName::parse_existing(n)?;
        }
        if let Some(s) = &filter.scope {
            let s = ScopePath::parse(s)?;
            who.require(Action::ReadAudit, &s)?;
            // A scope that was never created answers 404, exactly as a hidden one does.
            let s = self.existing_scope(s).await?;
            return self
                .store
                .audit_log(Some(std::slice::from_ref(&s)), &filter)
                .await;
        }
        if who.is_root() {
            return self.store.audit_log(None, &filter).await;
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
        self.store.audit_log(Some(&roots), &filter).await
    }

    /// Who was handed the value of secret `name` at `scope`, newest first: its reveals and
    /// the dispatches that handed it out. For whoever may read the audit log there (a
    /// scope the caller may not see answers 404); only `filter.from` and `filter.limit`
    /// count. A secret since deleted still has its history.
    pub async fn secret_access(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        filter: AuditFilter,
    ) -> Result<AuditPage> {
        let filter = filter.checked()?;
        let scope = ScopePath::parse(scope)?;
        let name = SecretName::parse_existing(name)?;
        who.require(Action::ReadAudit, &scope)?;
        let scope = self.existing_scope(scope).await?;
        self.store.secret_access(&scope, &name, &filter).await
    }
}
