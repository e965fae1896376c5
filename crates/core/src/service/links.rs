//! Links to values kept outside (AWS Secrets Manager, Vault): the link rule, decided in
//! one place for every path that names a reference.

use super::{SecretAttrs, Service, with_delivery};
use crate::authz::{Action, Principal, Role};
use crate::error::{BackendError, Error, RefFailure, RefFailureReason, Result};
use crate::links::{self, LinkPrefixes};
use crate::model::{BackendKind, StoredMaterial, Version};
use crate::name::SecretName;
use crate::ports::{Expected, MetadataStore, NewVersion, ValueBackend};
use crate::resolve::Resolution;
use crate::scope::{Level, ScopePath};

impl<S: MetadataStore> Service<S> {
    /// Registers a secret that already lives in AWS Secrets Manager or Vault: only the
    /// reference is stored, and no value passes through secretstore. `attrs` as for
    /// [`Service::write_secret`]: what is `None` keeps the stored one.
    pub async fn link_secret(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        kind: BackendKind,
        reference: &str,
        attrs: SecretAttrs,
    ) -> Result<Version> {
        let SecretAttrs {
            category,
            delivery,
            rotate_every_secs,
        } = attrs;
        let rotate_every_secs = rotate_every_secs
            .map(super::check_rotate_every)
            .transpose()?;
        let name = SecretName::parse(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::Write, &scope)?;
        let existing = self.store.secret(&scope, &name).await?;
        match &existing {
            Some(m) if m.backend != kind => {
                return Err(Error::Conflict(format!(
                    "{name} at {scope} is a {} secret; delete it before linking it to {kind}",
                    m.backend
                )));
            }
            Some(_) => {}
            None => {
                self.existing_scope(scope.clone()).await?;
                if category.is_none() {
                    return Err(Error::CategoryRequired {
                        scope: scope.to_string(),
                        name: name.to_string(),
                    });
                }
            }
        }
        let backend = self.backends.get(kind)?;
        // Before the backend is asked anything: a refusal says nothing of existence.
        let refused = |e: Error| self.refused_link(who, &scope, &name, kind, e);
        if let Err(e) = self
            .authorize_link(who, &scope, backend.as_ref(), reference)
            .await
        {
            return Err(refused(e).await);
        }
        let material = backend.link(reference).await?;
        // Again on what the backend resolved the reference to.
        let resolved = backend.reference_of(&material);
        if let Some(r) = &resolved
            && let Err(e) = self.authorize_link(who, &scope, backend.as_ref(), r).await
        {
            return Err(refused(e).await);
        }
        let audit =
            self.audit(who, "secret.link")
                .secret(&scope, &name)
                .detail(serde_json::json!({
                    "backend": kind.as_str(),
                    "reference": reference,
                    "approved_by_root": who.is_root(),
                }));
        let audit = super::with_rotate_every(with_delivery(audit, delivery), rotate_every_secs);
        let versions = self
            .store
            .write_versions(vec![NewVersion {
                expected: Some(match &existing {
                    Some(m) => Expected::Version(m.version),
                    None => Expected::Absent,
                }),
                scope: scope.clone(),
                name: name.clone(),
                category,
                backend: kind,
                delivery,
                rotate_every_secs,
                material,
                rollback_of: None,
                by: who.account.clone(),
                audit,
                reservation: None,
            }])
            .await?;
        // Root's link is approved for the members of the scope; anyone else's is checked
        // against the organization's prefixes at every use.
        let approval = match (&resolved, who.is_root()) {
            (Some(r), true) => Some((r.as_str(), who.account.as_str())),
            _ => None,
        };
        self.store
            .set_link_approval(&scope, &name, approval)
            .await?;
        versions
            .into_iter()
            .next()
            .ok_or_else(|| Error::storage("write returned no version"))
    }

    /// A link refused by the link rule is audited (`secret.link_refused`: who, where, which
    /// backend; never the reference, which may name another team's secret); other errors
    /// pass through. Returns the error to answer.
    pub(super) async fn refused_link(
        &self,
        who: &Principal,
        scope: &ScopePath,
        name: &SecretName,
        kind: BackendKind,
        e: Error,
    ) -> Error {
        if matches!(e, Error::Forbidden(_)) {
            let audit = self
                .audit(who, "secret.link_refused")
                .secret(scope, name)
                .detail(serde_json::json!({ "backend": kind.as_str() }));
            if let Err(a) = self.store.append_audit(audit).await {
                return a;
            }
        }
        e
    }

    /// The link rule of [`crate::links`] for a new link: every normal form of the
    /// reference as the caller wrote it must be allowed at `scope` (root's approval of an
    /// earlier link does not count for a new one). Root may link anything.
    pub(super) async fn authorize_link(
        &self,
        who: &Principal,
        scope: &ScopePath,
        backend: &dyn ValueBackend,
        reference: &str,
    ) -> Result<()> {
        if who.is_root() {
            return Ok(());
        }
        let mut prefixes = None;
        for form in backend.link_forms(reference)? {
            if !self
                .reference_allowed(scope, backend, &form, &mut prefixes)
                .await?
            {
                return Err(links::refusal(scope));
            }
        }
        Ok(())
    }

    /// The link rule for a stored reference, at every use of it: a write to it (set,
    /// import), a rollback, a reveal, a dispatch. Root may use anything; anyone else a
    /// local value, secretstore's own reference of this very scope, a link that root made,
    /// or a reference that the organization's current prefixes cover. The one place this
    /// is decided; each use calls it with one line.
    pub async fn authorize_reference(
        &self,
        who: &Principal,
        scope: &ScopePath,
        name: &SecretName,
        kind: BackendKind,
        material: Option<&StoredMaterial>,
    ) -> Result<()> {
        if who.is_root() {
            return Ok(());
        }
        self.reference_verdict(scope, name, kind, material, &mut None)
            .await?
            .map_or(Ok(()), |_| Err(links::refusal(scope)))
    }

    /// `None` when the reference of `material` may be used at (scope, name) by someone
    /// who is not root, else `Some(reference)`: the normalised reference that breaks the rule.
    pub(super) async fn reference_verdict(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        kind: BackendKind,
        material: Option<&StoredMaterial>,
        prefixes: &mut Option<(String, LinkPrefixes)>,
    ) -> Result<Option<String>> {
        let Some(material) = material else {
            return Ok(None);
        };
        if kind == BackendKind::Local {
            return Ok(None);
        }
        let backend = self.backends.get(kind)?;
        let Some(reference) = backend.reference_of(material) else {
            return Ok(None);
        };
        if self
            .reference_allowed(scope, backend.as_ref(), &reference, prefixes)
            .await?
        {
            return Ok(None);
        }
        if self.store.link_approval(scope, name).await?.as_deref() == Some(reference.as_str()) {
            return Ok(None);
        }
        Ok(Some(reference))
    }

    /// Whether a normalised reference may be linked at `scope` by a non-root caller:
    /// secretstore's own reference of exactly this scope, or (not secretstore's at all)
    /// covered by the organization's prefixes. `prefixes` caches the organization's lists.
    pub(super) async fn reference_allowed(
        &self,
        scope: &ScopePath,
        backend: &dyn ValueBackend,
        reference: &str,
        prefixes: &mut Option<(String, LinkPrefixes)>,
    ) -> Result<bool> {
        if let Some(owner) = backend.owner_scope(reference) {
            return Ok(&owner == scope);
        }
        let org = scope.organization();
        let cached = matches!(prefixes, Some((o, _)) if o == org);
        if !cached {
            let org_path = ScopePath::parse(org)?;
            let list = self.store.link_prefixes(&org_path).await?;
            *prefixes = Some((org.to_owned(), list));
        }
        Ok(prefixes
            .as_ref()
            .is_some_and(|(_, p)| p.allows(backend.kind(), reference)))
    }

    /// The link rule for every winner of a dispatch (or a payload check), before any value
    /// is fetched: refs whose link breaks it fail the dispatch as a whole.
    pub(super) async fn authorize_winners(
        &self,
        who: &Principal,
        resolutions: &[Resolution],
    ) -> Result<()> {
        if who.is_root() {
            return Ok(());
        }
        let mut failures = Vec::new();
        let mut prefixes = None;
        for r in resolutions {
            let Some(c) = &r.winner else { continue };
            let scope = c.meta.scope.clone();
            let name = SecretName::parse(&c.meta.name)?;
            let verdict = self
                .reference_verdict(
                    &scope,
                    &name,
                    c.meta.backend,
                    Some(&c.material),
                    &mut prefixes,
                )
                .await?;
            if verdict.is_some() {
                failures.push(RefFailure {
                    name: r.name.to_string(),
                    reason: RefFailureReason::Backend {
                        scope: c.meta.scope.to_string(),
                        error: BackendError::Refused(links::refusal(&scope).to_string()),
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

    /// The references root allowed an organization to link: root, and the organization's
    /// admins, may read them.
    pub async fn link_prefixes(&self, who: &Principal, org: &str) -> Result<LinkPrefixes> {
        let org = ScopePath::parse_level(org, Level::Organization)?;
        let admin = who.roles.iter().any(|r| r == &Role::Admin(org.clone()));
        if !who.is_root() && !admin {
            return Err(refuse_org(who, &org, "read the link prefixes of"));
        }
        let org = self.existing_scope(org).await?;
        self.store.link_prefixes(&org).await
    }

    /// Replaces the references an organization may link (root only), audited as
    /// `org.allow_links`; returns the lists as stored.
    pub async fn allow_links(
        &self,
        who: &Principal,
        org: &str,
        aws: &[String],
        vault: &[String],
    ) -> Result<LinkPrefixes> {
        let org = ScopePath::parse_level(org, Level::Organization)?;
        if !who.is_root() {
            return Err(refuse_org(who, &org, "allow links for"));
        }
        let prefixes = LinkPrefixes::parse(aws, vault)?;
        let org = self.existing_scope(org).await?;
        let audit = self
            .audit(who, "org.allow_links")
            .scope(&org)
            .detail(serde_json::to_value(&prefixes).unwrap_or_default());
        self.store.set_link_prefixes(&org, &prefixes, audit).await?;
        Ok(prefixes)
    }

    /// Every secret whose current link breaks the link rule for its scope's members
    /// (made before the rule, or allowed by a prefix that root removed since): one line
    /// each, `SCOPE NAME (BACKEND REFERENCE)`. For `doctor`.
    pub async fn bad_links(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut prefixes = None;
        for scope in self.store.list_scopes().await? {
            if scope.level() == Level::Project {
                continue;
            }
            for meta in self.store.list_secrets(&scope).await? {
                if meta.backend == BackendKind::Local || self.backends.get(meta.backend).is_err() {
                    continue;
                }
                let name = SecretName::parse(&meta.name)?;
                let (_, _, material) = self.store.material(&scope, &name, None).await?;
                let verdict = self
                    .reference_verdict(&scope, &name, meta.backend, Some(&material), &mut prefixes)
                    .await?;
                if let Some(reference) = verdict {
                    out.push(format!("{scope} {name} ({} {reference})", meta.backend));
                }
            }
        }
        Ok(out)
    }
}

/// 403 for a caller who sees the organization, 404 (as if missing) for one who does not.
pub(super) fn refuse_org(who: &Principal, org: &ScopePath, what: &str) -> Error {
    if who.sees(org) {
        Error::Forbidden(format!("{} may not {what} {org}", who.account))
    } else {
        Error::NotFound(format!("unknown organization {org}"))
    }
}
