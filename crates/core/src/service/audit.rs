//! Reading the audit log, filtered to what the caller may see.

use super::Service;
use crate::audit::{AuditFilter, AuditPage, Page};
use crate::authz::{Action, Principal, Role};
use crate::brief::BriefStatus;
use crate::error::{Error, Result};
use crate::model::AuditEntry;
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
    /// scope the caller may not see answers 404); only `filter.since`, `filter.until`,
    /// `filter.from` and `filter.limit` count. A secret since deleted still has its history.
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

    /// [`Service::secret_access`], each dispatch with the state of its brief as the caller
    /// may see it ([`Service::brief_status`]: a brief of a project the caller may not
    /// dispatch in has none), and whether a running brief holds an older version than the
    /// current one (or one of a secret since deleted): the agents that still hold an old
    /// value. At most one brief is read per record of the page.
    pub async fn secret_access_report(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        filter: AuditFilter,
    ) -> Result<AccessReport> {
        let page = self.secret_access(who, scope, name, filter).await?;
        let current = match self.metadata(who, scope, name).await {
            Ok(m) => Some(m.version),
            Err(Error::NotFound(_) | Error::Forbidden(_)) => None,
            Err(e) => return Err(e),
        };
        let mut records = Vec::with_capacity(page.records.len());
        for entry in page.records {
            let brief = match (entry.action.as_str(), entry.target.as_deref()) {
                ("task.dispatch", Some(id)) => match self.brief_status(who, id).await {
                    Ok(rec) => Some(rec.status),
                    Err(Error::NotFound(_) | Error::Forbidden(_) | Error::Invalid(_)) => None,
                    Err(e) => return Err(e),
                },
                _ => None,
            };
            let holds_old = brief == Some(BriefStatus::Running)
                && match (entry.version, current) {
                    (Some(v), Some(c)) => v < c,
                    (_, None) => true,
                    (None, Some(_)) => false,
                };
            records.push(AccessRecord {
                entry,
                brief,
                holds_old,
            });
        }
        Ok(AccessReport {
            current,
            page: Page {
                records,
                older: page.older,
                newer: page.newer,
            },
        })
    }
}

/// Who was handed a secret, with what the briefs handed it still hold.
#[derive(Debug, Clone)]
pub struct AccessReport {
    /// The secret's current version (`None`: deleted since, or not visible).
    pub current: Option<i64>,
    /// The accesses, newest first.
    pub page: Page<AccessRecord>,
}

/// One access of a secret: a reveal, or a dispatch with its brief's state.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    /// The audit record (`secret.reveal` or `task.dispatch`).
    pub entry: AuditEntry,
    /// The status of the dispatch's brief, if the caller may see it.
    pub brief: Option<BriefStatus>,
    /// A running brief holding an older version than the current one.
    pub holds_old: bool,
}
