//! Finding things by name among what the caller sees.

use super::Service;
use crate::authz::{Action, Principal};
use crate::error::{Error, Result};
use crate::model::SecretMeta;
use crate::ports::MetadataStore;
use crate::search::{HitKind, MAX_HITS, Pattern, SearchHit, Visible};

/// A caller's limit: at least one; more than [`MAX_HITS`] is read as [`MAX_HITS`].
fn hits(limit: Option<i64>) -> Result<i64> {
    match limit {
        None => Ok(MAX_HITS),
        Some(n) if n < 1 => Err(Error::Invalid(format!("limit must be at least 1, not {n}"))),
        Some(n) => Ok(n.min(MAX_HITS)),
    }
}

impl<S: MetadataStore> Service<S> {
    /// The secrets, scopes, tasks and briefs whose name (a task's or a brief's id) matches
    /// `pattern`, at most `limit` of each kind, among the scopes the caller sees (the set
    /// [`Principal::sees`] answers, decided by [`Visible::of`]): root everything, an admin
    /// or a dispatcher its organization, a member its team and its organization's own
    /// secrets. Secrets first, each kind ordered by name.
    pub async fn search(
        &self,
        who: &Principal,
        pattern: &str,
        limit: Option<i64>,
    ) -> Result<Vec<SearchHit>> {
        let pattern = Pattern::parse(pattern)?;
        let limit = hits(limit)?;
        let visible = Visible::of(who);
        let mut found = Vec::new();
        for kind in HitKind::ALL {
            let mut some = self
                .store
                .search(visible.as_ref(), &pattern, kind, limit)
                .await?;
            // The store asked for exactly these scopes; this drops nothing unless it erred.
            some.retain(|h| who.sees(&h.scope));
            found.append(&mut some);
        }
        Ok(found)
    }

    /// The metadata of the secrets whose name matches `pattern`, at most `limit`, ordered
    /// by name, then scope: at `scope` only (which the caller must be allowed to read, as
    /// for a listing), or at every scope the caller sees.
    pub async fn find_secrets(
        &self,
        who: &Principal,
        scope: Option<&str>,
        pattern: &str,
        limit: Option<i64>,
    ) -> Result<Vec<SecretMeta>> {
        let pattern = Pattern::parse(pattern)?;
        let limit = hits(limit)?;
        let visible = match scope {
            Some(s) => {
                let s = self.secret_scope(who, s, Action::ReadMeta).await?;
                Some(Visible {
                    subtrees: Vec::new(),
                    exact: vec![s],
                })
            }
            None => Visible::of(who),
        };
        let mut found = self
            .store
            .find_secrets(visible.as_ref(), &pattern, limit)
            .await?;
        found.retain(|m| who.sees(&m.scope));
        Ok(found)
    }
}
