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
