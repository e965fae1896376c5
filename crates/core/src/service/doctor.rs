//! `secretstore doctor`: the health of the store, the backends and what is stored.

use super::Service;
use crate::error::{Error, Result};
use crate::model::BackendKind;
use crate::ports::MetadataStore;
use crate::scope::Level;

impl<S: MetadataStore> Service<S> {
    /// Readiness: whether the database answers one round trip (the caller bounds how long
    /// it waits). Backends are not checked: a frozen backend fails the dispatches that need
    /// it, not the whole server.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await
    }

    /// Checks every configured backend and the brief store: one line each.
    pub async fn doctor(&self) -> Vec<(String, Result<String>)> {
        let mut out = Vec::new();
        for kind in [BackendKind::Local, BackendKind::AwsSm, BackendKind::Vault] {
            match self.backends.get(kind) {
                Ok(b) => out.push((kind.to_string(), b.check().await.map_err(Error::from))),
                Err(e) if kind == self.config.default_backend => {
                    out.push((kind.to_string(), Err(e)))
                }
                Err(_) => {}
            }
        }
        out.push(("briefs".to_string(), self.briefs.check().await));
        out.push(("links".to_string(), self.links_report().await));
        out.push(("names".to_string(), self.check_names().await));
        out.push(("generators".to_string(), self.check_generators().await));
        out
    }

    /// `doctor`'s line on links: how many were checked, or every one that breaks the rule.
    pub(super) async fn links_report(&self) -> Result<String> {
        let bad = self.bad_links().await?;
        if bad.is_empty() {
            return Ok(
                "every link is within its organization's allowed prefixes or was made by root"
                    .into(),
            );
        }
        Err(Error::Forbidden(format!(
            "{} link(s) outside their organization's allowed prefixes and not made by root (members are refused them; re-link as root, or allow the prefix with `secretstore org allow-links`): {}",
            bad.len(),
            bad.join("; ")
        )))
    }

    /// `doctor`'s line on generators: for each, its admin ref resolves (from the
    /// generator's own scope chain, as at dispatch) and can be fetched, and its provider
    /// says it could mint (postgres: the admin URL connects and may create roles). Nothing
    /// is minted.
    pub(super) async fn check_generators(&self) -> Result<String> {
        let mut resolutions = Vec::new();
        for scope in self.store.list_scopes().await? {
            let names: Vec<crate::name::SecretName> = self
                .store
                .list_secrets(&scope)
                .await?
                .into_iter()
                .filter(|m| m.generator.is_some())
                .filter_map(|m| crate::name::SecretName::parse(&m.name).ok())
                .collect();
            if names.is_empty() {
                continue;
            }
            let chain = scope.resolution_chain();
            let candidates = self.store.candidates(&chain, &names).await?;
            resolutions.extend(
                crate::resolve::resolve(&scope, &names, candidates)
                    .into_iter()
                    .filter(|r| r.winner.as_ref().is_some_and(|w| w.meta.scope == scope)),
            );
        }
        if resolutions.is_empty() {
            return Ok("no generators".into());
        }
        let (admins, failures) = self.fetch_admins(&resolutions).await?;
        let mut bad: Vec<String> = Vec::new();
        let mut checked = 0;
        for (r, admin) in resolutions.iter().zip(admins) {
            let Some(c) = &r.winner else { continue };
            let Some(spec) = &c.material.generator else {
                continue;
            };
            let at = format!("{} at {}", r.name, c.meta.scope);
            if let Some(f) = failures.iter().find(|f| {
                f.name == r.name.as_str()
                    && matches!(&f.reason, crate::error::RefFailureReason::Backend { scope, .. } | crate::error::RefFailureReason::NotConfigured { scope, .. } if *scope == c.meta.scope.to_string())
            }) {
                bad.push(f.to_string());
                continue;
            }
            let minter = match self.backends.minter(spec.kind()) {
                Ok(m) => m,
                Err(e) => {
                    bad.push(format!("{at}: {e}"));
                    continue;
                }
            };
            match minter.check(spec, admin.as_ref().map(|(_, v)| v)).await {
                Ok(_) => checked += 1,
                Err(e) => bad.push(format!("{at}: {e}")),
            }
        }
        if bad.is_empty() {
            return Ok(format!(
                "{checked} generator(s): each admin ref resolves, and each provider could mint"
            ));
        }
        Err(Error::Backend(crate::error::BackendError::Unavailable(
            format!(
                "{} of {} generator(s) could not mint now (their dispatches would fail): {}",
                bad.len(),
                resolutions.len(),
                bad.join("; ")
            ),
        )))
    }

    /// Secrets stored under a name that is refused today (an unsafe environment name,
    /// stored before that rule existed): dispatch refuses them.
    pub(super) async fn check_names(&self) -> Result<String> {
        let mut bad = Vec::new();
        for scope in self.store.list_scopes().await? {
            if scope.level() == Level::Project {
                continue;
            }
            for m in self.store.list_secrets(&scope).await? {
                if let Some(rule) = crate::name::unsafe_env_rule(&m.name) {
                    bad.push(format!("{scope} {} ({rule})", m.name));
                }
            }
        }
        if bad.is_empty() {
            return Ok("no secret has a refused name".into());
        }
        Err(Error::Invalid(format!(
            "{} secret(s) have a name that is refused today, and dispatch refuses them; move each value to another name, then delete it: {}",
            bad.len(),
            bad.join("; ")
        )))
    }
}
