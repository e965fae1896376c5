//! Organizations, teams, workspaces and projects: creating and listing them.

use super::Service;
use crate::authz::{Action, Principal};
use crate::error::Result;
use crate::ports::MetadataStore;
use crate::scope::{Level, ScopePath};

impl<S: MetadataStore> Service<S> {
    /// Creates an organization, team, workspace or project.
    pub async fn create_scope(
        &self,
        who: &Principal,
        path: &str,
        level: Level,
    ) -> Result<ScopePath> {
        let path = ScopePath::parse_level(path, level)?;
        who.require(Action::CreateScope, &path)?;
        let audit = self
            .audit(who, &format!("{}.create", level.as_str()))
            .scope(&path);
        self.store.create_scope(&path, audit).await?;
        Ok(path)
    }

    /// The scopes the caller may see.
    pub async fn scopes(&self, who: &Principal) -> Result<Vec<ScopePath>> {
        let all = self.store.list_scopes().await?;
        Ok(all.into_iter().filter(|s| who.sees(s)).collect())
    }
}
