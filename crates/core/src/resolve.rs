//! Resolution: for each ref, the secret at the narrowest scope of the project's chain wins.

use crate::model::{Candidate, SecretMeta};
use crate::name::SecretName;
use crate::scope::ScopePath;
use serde::Serialize;

/// The outcome of resolving one ref.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The ref, as asked for.
    pub name: SecretName,
    /// The winning secret, if the chain holds one.
    pub winner: Option<Candidate>,
    /// Secrets of the same name at broader scopes of the chain, which the winner shadows
    /// (narrowest first).
    pub shadowed: Vec<SecretMeta>,
}

/// A resolution without material, as `resolve --explain` and `--json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    /// The ref, as the task names it.
    pub name: String,
    /// True if some scope of the chain has it.
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The scope that wins (the narrowest that has it).
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The winner's current version.
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The winner's backend.
    pub backend: Option<crate::model::BackendKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The winner's category.
    pub category: Option<crate::model::Category>,
    /// The broader scopes that also have it, which the winner shadows.
    pub shadows: Vec<ShadowedRef>,
}

/// A secret that a narrower one hides.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowedRef {
    /// The broader scope.
    pub scope: String,
    /// Its current version.
    pub version: i64,
    /// Its backend.
    pub backend: crate::model::BackendKind,
}

impl Resolution {
    /// What `resolve` shows of this resolution: winner and shadows, never a value.
    pub fn explain(&self) -> Explained {
        let w = self.winner.as_ref().map(|c| &c.meta);
        Explained {
            name: self.name.to_string(),
            found: w.is_some(),
            scope: w.map(|m| m.scope.to_string()),
            version: w.map(|m| m.version),
            backend: w.map(|m| m.backend),
            category: w.map(|m| m.category),
            shadows: self
                .shadowed
                .iter()
                .map(|m| ShadowedRef {
                    scope: m.scope.to_string(),
                    version: m.version,
                    backend: m.backend,
                })
                .collect(),
        }
    }
}

/// Resolves `refs` for a task in `project` among `candidates` (which may hold more than
/// needed). Candidates outside the project's chain are ignored: another team's or
/// workspace's secret is never a candidate. The result keeps the order of `refs`;
/// a ref named twice is resolved once.
pub fn resolve(
    project: &ScopePath,
    refs: &[SecretName],
    candidates: Vec<Candidate>,
) -> Vec<Resolution> {
    let chain = project.resolution_chain();
    // Narrowest first (position 0 in the chain); outside the chain, dropped. Each
    // candidate is moved into at most one resolution, never copied.
    let mut ranked: Vec<(usize, Option<Candidate>)> = candidates
        .into_iter()
        .filter_map(|c| {
            let rank = chain.iter().position(|s| *s == c.meta.scope)?;
            Some((rank, Some(c)))
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    let mut out: Vec<Resolution> = Vec::with_capacity(refs.len());
    for name in refs {
        if out.iter().any(|r| &r.name == name) {
            continue;
        }
        let mut mine = ranked
            .iter_mut()
            .filter(|(_, c)| c.as_ref().is_some_and(|c| c.meta.name == name.as_str()))
            .filter_map(|(_, c)| c.take());
        let winner = mine.next();
        let shadowed = mine.map(|c| c.meta).collect();
        out.push(Resolution {
            name: name.clone(),
            winner,
            shadowed,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendKind, Category, StoredMaterial};
    use proptest::prelude::*;

    fn cand(scope: &str, name: &str, version: i64) -> Candidate {
        Candidate {
            meta: SecretMeta {
                scope: ScopePath::parse(scope).unwrap(),
                name: name.into(),
                category: Category::Provider,
                backend: BackendKind::Local,
                delivery: crate::model::Delivery::Env,
                version,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                updated_at: time::OffsetDateTime::UNIX_EPOCH,
                updated_by: String::new(),
                generator: None,
                rotate_every_secs: None,
                leaked_at: None,
            },
            material: StoredMaterial::default(),
        }
    }

    fn n(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    #[test]
    fn narrowest_wins_and_shadows_are_listed() {
        let p = ScopePath::parse("o/t/w/p").unwrap();
        let r = resolve(
            &p,
            &[n("DB"), n("KEY"), n("NONE")],
            vec![
                cand("o", "DB", 1),
                cand("o/t/w", "DB", 2),
                cand("o/t", "DB", 3),
                cand("o", "KEY", 4),
                cand("o/t/other", "NONE", 5),
                cand("o/other", "KEY", 6),
            ],
        );
        assert_eq!(r[0].winner.as_ref().unwrap().meta.scope, "o/t/w");
        let sh: Vec<_> = r[0].shadowed.iter().map(|m| m.scope.as_str()).collect();
        assert_eq!(sh, ["o/t", "o"]);
        assert_eq!(r[1].winner.as_ref().unwrap().meta.version, 4);
        assert!(
            r[2].winner.is_none(),
            "another workspace's secret must not win"
        );
    }

    fn seg() -> impl Strategy<Value = String> {
        prop_oneof![Just("a".to_string()), Just("b".to_string())]
    }

    proptest! {
        #[test]
        fn winner_is_narrowest_in_chain_and_never_foreign(
            scopes in proptest::collection::vec(
                (seg(), proptest::option::of(seg()), proptest::option::of(seg())), 0..12),
        ) {
            let project = ScopePath::parse("a/a/a/p").unwrap();
            let chain = project.resolution_chain();
            let cands: Vec<Candidate> = scopes.iter().enumerate().map(|(i, (o, t, w))| {
                let mut s = o.clone();
                if let Some(t) = t { s.push('/'); s.push_str(t);
                    if let Some(w) = w { s.push('/'); s.push_str(w); } }
                cand(&s, "X", i as i64)
            }).collect();
            let r = resolve(&project, &[n("X")], cands.clone());
            let in_chain: Vec<&Candidate> = cands.iter()
                .filter(|c| chain.iter().any(|s| s == &c.meta.scope)).collect();
            match &r[0].winner {
                None => prop_assert!(in_chain.is_empty()),
                Some(w) => {
                    prop_assert!(chain.iter().any(|s| s == &w.meta.scope));
                    let depth = w.meta.scope.as_str().split('/').count();
                    prop_assert!(in_chain.iter().all(|c| c.meta.scope.as_str().split('/').count() <= depth));
                    prop_assert_eq!(r[0].shadowed.len() + 1, in_chain.len());
                }
            }
        }
    }
}
