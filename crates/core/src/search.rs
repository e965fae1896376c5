//! Finding things by name: secrets, scopes, tasks and briefs the caller may see.

use crate::authz::{Principal, Role};
use crate::error::{Error, Result};
use crate::scope::ScopePath;
use serde::Serialize;

/// The most hits one search answers (and the default).
pub const MAX_HITS: i64 = 1000;

/// The longest pattern a search takes.
pub const MAX_PATTERN_LEN: usize = 256;

/// What a search looks for, as written: a part of a name (`stripe` finds `STRIPE_KEY`
/// and `OLD_STRIPE`), or a whole name with `*` standing for any run of characters
/// (`STRIPE_*`). Letters match in either case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    glob: String,
}

impl Pattern {
    /// Checks a caller's pattern: not empty, not too long, printable.
    pub fn parse(s: &str) -> Result<Pattern> {
        let s = s.trim();
        if s.is_empty() || s.chars().all(|c| c == '*') {
            return Err(Error::Invalid(
                "the search pattern is empty: give part of a name, or a name with * in it".into(),
            ));
        }
        if s.len() > MAX_PATTERN_LEN {
            return Err(Error::Invalid(format!(
                "the search pattern is {} bytes; at most {MAX_PATTERN_LEN}",
                s.len()
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::Invalid(
                "the search pattern holds a control character".into(),
            ));
        }
        Ok(Pattern { glob: s.to_owned() })
    }

    /// The pattern as the caller wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.glob
    }

    /// A SQL `LIKE` pattern escaped by `\`, in upper case (secret names) or lower case
    /// (scope paths and ids): a part of a name becomes `%part%`; `*` becomes `%`.
    pub fn like(&self, upper: bool) -> String {
        let cased = if upper {
            self.glob.to_ascii_uppercase()
        } else {
            self.glob.to_ascii_lowercase()
        };
        let mut out = String::with_capacity(cased.len() + 2);
        let whole = cased.contains('*');
        if !whole {
            out.push('%');
        }
        for c in cased.chars() {
            match c {
                '*' => out.push('%'),
                '%' | '_' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        if !whole {
            out.push('%');
        }
        out
    }
}

/// The scopes a caller sees, as SQL can ask for them: every scope at or under one of
/// `subtrees`, and each of `exact`. `None` from [`Visible::of`]: everything (root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visible {
    /// Scopes seen with everything under them.
    pub subtrees: Vec<ScopePath>,
    /// Scopes seen on their own (a member's organization, for its organization-wide secrets).
    pub exact: Vec<ScopePath>,
}

impl Visible {
    /// What `who` sees, the same set as [`Principal::sees`]; `None` for root.
    pub fn of(who: &Principal) -> Option<Visible> {
        let mut v = Visible::default();
        for r in &who.roles {
            match r {
                Role::Root => return None,
                Role::Admin(org) | Role::Dispatcher(org) => v.subtrees.push(org.clone()),
                Role::Member(team) => {
                    v.subtrees.push(team.clone());
                    v.exact.extend(team.parent());
                }
            }
        }
        Some(v)
    }

    /// True when nothing is seen.
    pub fn is_empty(&self) -> bool {
        self.subtrees.is_empty() && self.exact.is_empty()
    }
}

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// A secret (its name, at its scope).
    Secret,
    /// A scope (its path).
    Scope,
    /// A task (its id, in its project).
    Task,
    /// A brief (its id, in its project).
    Brief,
}

impl HitKind {
    /// Every kind, in the order a search answers them.
    pub const ALL: [HitKind; 4] = [
        HitKind::Secret,
        HitKind::Scope,
        HitKind::Task,
        HitKind::Brief,
    ];

    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Secret => "secret",
            HitKind::Scope => "scope",
            HitKind::Task => "task",
            HitKind::Brief => "brief",
        }
    }
}

/// One thing found: its kind, its name (a secret's name, a scope's path, a task's or a
/// brief's id) and the scope it lives in (a scope's own path for a scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// What it is.
    pub kind: HitKind,
    /// Its name or id.
    pub name: String,
    /// Where it lives.
    pub scope: ScopePath,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_matches_anywhere_and_a_star_anchors() {
        let p = |s| Pattern::parse(s).unwrap();
        assert_eq!(p("stripe").like(true), "%STRIPE%");
        assert_eq!(p("STRIPE_*").like(true), "STRIPE\\_%");
        assert_eq!(p(" Acme/ ").like(false), "%acme/%");
        assert_eq!(p("100%").like(false), "%100\\%%");
        assert_eq!(p("a\\b").like(false), "%a\\\\b%");
        for bad in ["", "  ", "*", "**", "a\nb"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Pattern::parse(&"A".repeat(257)).is_err());
    }

    #[test]
    fn visible_is_what_a_principal_sees() {
        let s = |p| ScopePath::parse(p).unwrap();
        let scopes = [
            "acme",
            "acme/pay",
            "acme/pay/prod",
            "acme/pay/prod/bot",
            "acme/ops",
            "acme/ops/dev",
            "acme_x",
            "acmex/pay",
            "other",
            "other/pay",
        ];
        let roles = [
            vec![Role::Admin(s("acme"))],
            vec![Role::Member(s("acme/pay"))],
            vec![Role::Dispatcher(s("other"))],
            vec![Role::Member(s("acme/ops")), Role::Admin(s("other"))],
            vec![],
        ];
        for roles in roles {
            let who = Principal {
                account: "x".into(),
                roles,
                source: "test".into(),
            };
            let v = Visible::of(&who).unwrap();
            for scope in scopes.map(s) {
                let seen =
                    v.subtrees.iter().any(|r| r.contains(&scope)) || v.exact.contains(&scope);
                assert_eq!(seen, who.sees(&scope), "{:?} {scope}", who.roles);
            }
        }
        let root = Principal {
            account: "root".into(),
            roles: vec![Role::Root],
            source: "test".into(),
        };
        assert_eq!(Visible::of(&root), None);
    }
}
