//! Scope paths: `org`, `org/team`, `org/team/workspace`, `org/team/workspace/project`.

use crate::error::{Error, Result};
use crate::name::short_echo;
use std::fmt;

/// The level of a scope path, given by its depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The top: `acme`.
    Organization,
    /// A team of an organization: `acme/platform`.
    Team,
    /// A workspace of a team: `acme/platform/dev`.
    Workspace,
    /// A project of a workspace, where tasks run: `acme/platform/dev/agent-x`.
    Project,
}

impl Level {
    /// The word used on the command line and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Organization => "organization",
            Level::Team => "team",
            Level::Workspace => "workspace",
            Level::Project => "project",
        }
    }

    fn depth(self) -> usize {
        match self {
            Level::Organization => 1,
            Level::Team => 2,
            Level::Workspace => 3,
            Level::Project => 4,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated scope path. Each segment matches `[a-z0-9][a-z0-9_-]{0,62}`; depth 1 to 4.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopePath(String);

fn valid_segment(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

impl ScopePath {
    /// Parses and validates a path of any level.
    pub fn parse(s: &str) -> Result<Self> {
        let segments: Vec<&str> = s.split('/').collect();
        if s.is_empty() {
            return Err(Error::Invalid("scope path is empty".into()));
        }
        if let Some(n) = segments.iter().position(|seg| !valid_segment(seg)) {
            return Err(Error::Invalid(format!(
                "invalid scope path {}: segment {} must match [a-z0-9][a-z0-9_-]{{0,62}}",
                short_echo(s),
                n + 1
            )));
        }
        if segments.len() > 4 {
            return Err(Error::Invalid(format!(
                "scope path {} is too deep: at most organization/team/workspace/project",
                short_echo(s)
            )));
        }
        Ok(ScopePath(s.to_owned()))
    }

    /// Parses a path that must be of the given level.
    pub fn parse_level(s: &str, level: Level) -> Result<Self> {
        let p = Self::parse(s)?;
        if p.level() != level {
            return Err(Error::Invalid(format!(
                "{} is {} {} path; expected {} {level} path ({})",
                short_echo(s),
                article(p.level()),
                p.level(),
                article(level),
                example(level)
            )));
        }
        Ok(p)
    }

    /// Parses a path that may hold secrets: an organization, team or workspace (not a project).
    pub fn parse_secret_scope(s: &str) -> Result<Self> {
        let p = Self::parse(s)?;
        if p.level() == Level::Project {
            return Err(Error::Invalid(format!(
                "{} is a project path; secrets live at an organization, team or workspace scope",
                short_echo(s)
            )));
        }
        Ok(p)
    }

    /// The level given by the depth.
    pub fn level(&self) -> Level {
        match self.0.split('/').count() {
            1 => Level::Organization,
            2 => Level::Team,
            3 => Level::Workspace,
            _ => Level::Project,
        }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enclosing scope, if any.
    pub fn parent(&self) -> Option<ScopePath> {
        self.0.rfind('/').map(|i| ScopePath(self.0[..i].to_owned()))
    }

    /// The organization this path belongs to.
    pub fn organization(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// The scopes whose secrets a task in this project may see, narrowest first:
    /// for `o/t/w/p`: `o/t/w`, `o/t`, `o`. For a secret scope, the scope itself and its parents.
    pub fn resolution_chain(&self) -> Vec<ScopePath> {
        let mut chain = Vec::with_capacity(3);
        let mut cur = if self.level() == Level::Project {
            self.parent()
        } else {
            Some(self.clone())
        };
        while let Some(p) = cur {
            cur = p.parent();
            chain.push(p);
        }
        chain
    }

    /// True when `self` is `other` or encloses it.
    pub fn contains(&self, other: &ScopePath) -> bool {
        other.0 == self.0
            || (other.0.len() > self.0.len()
                && other.0.starts_with(&self.0)
                && other.0.as_bytes()[self.0.len()] == b'/')
    }

    #[doc(hidden)]
    pub fn depth(&self) -> usize {
        self.level().depth()
    }
}

fn article(level: Level) -> &'static str {
    match level {
        Level::Organization => "an",
        _ => "a",
    }
}

fn example(level: Level) -> &'static str {
    match level {
        Level::Organization => "ORG",
        Level::Team => "ORG/TEAM",
        Level::Workspace => "ORG/TEAM/WS",
        Level::Project => "ORG/TEAM/WS/PROJECT",
    }
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ScopePath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ScopePath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl TryFrom<String> for ScopePath {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        ScopePath::parse(&s)
    }
}

impl TryFrom<&str> for ScopePath {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        ScopePath::parse(s)
    }
}

/// Serialized as the path's text.
impl serde::Serialize for ScopePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Read from text, and checked as [`ScopePath::parse`] checks it.
impl<'de> serde::Deserialize<'de> for ScopePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        ScopePath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_depth() {
        assert_eq!(
            ScopePath::parse("acme").unwrap().level(),
            Level::Organization
        );
        assert_eq!(
            ScopePath::parse("acme/platform").unwrap().level(),
            Level::Team
        );
        assert_eq!(
            ScopePath::parse("acme/platform/dev").unwrap().level(),
            Level::Workspace
        );
        assert_eq!(
            ScopePath::parse("acme/platform/dev/agent-x")
                .unwrap()
                .level(),
            Level::Project
        );
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in [
            "",
            "/",
            "acme/",
            "/acme",
            "Acme",
            "acme//x",
            "a/b/c/d/e",
            "-acme",
            "_a",
            "ac me",
            "acme/../x",
            "..",
            "acme/.",
            "é",
        ] {
            assert!(ScopePath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ScopePath::parse(&"a".repeat(63)).is_ok());
        assert!(ScopePath::parse(&"a".repeat(64)).is_err());
        assert!(ScopePath::parse("0a_b-c").is_ok());
    }

    #[test]
    fn project_is_not_a_secret_scope() {
        assert!(ScopePath::parse_secret_scope("a/b/c/d").is_err());
        assert!(ScopePath::parse_secret_scope("a/b/c").is_ok());
    }

    #[test]
    fn chain_is_narrowest_first() {
        let p = ScopePath::parse("o/t/w/p").unwrap();
        let chain: Vec<String> = p.resolution_chain().iter().map(|s| s.to_string()).collect();
        assert_eq!(chain, ["o/t/w", "o/t", "o"]);
    }

    #[test]
    fn contains_respects_segment_boundaries() {
        let t = ScopePath::parse("o/t").unwrap();
        assert!(t.contains(&ScopePath::parse("o/t/w").unwrap()));
        assert!(!t.contains(&ScopePath::parse("o/team/w").unwrap()));
        assert!(!t.contains(&ScopePath::parse("o").unwrap()));
    }

    #[test]
    fn invalid_paths_are_echoed_only_as_a_short_prefix() {
        let e = ScopePath::parse("ghp_0123456789ABCDEFabcdef")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"ghp_0123…\"") && e.contains("segment 1"),
            "{e}"
        );
        assert!(!e.contains("0123456789"), "{e}");
        let e = ScopePath::parse("a/b/c/d/e0123456789")
            .unwrap_err()
            .to_string();
        assert!(e.contains("too deep") && !e.contains("0123456789"), "{e}");
    }
}
