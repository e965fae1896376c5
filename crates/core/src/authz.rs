//! Who may do what: the roles of SPEC §6 as one pure function, shared by every route.
//!
//! A scope the caller may not see is answered as if it did not exist
//! ([`Access::Hidden`] → 404); a visible scope where the action is not allowed is
//! [`Access::Forbidden`] (403).

use crate::error::{Error, Result};
use crate::scope::{Level, ScopePath};
use std::fmt;

/// A role granted to an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The whole installation: organizations, accounts, grants.
    Root,
    /// Everything in one organization.
    Admin(ScopePath),
    /// Read and write the secrets of one team and its workspaces; read organization-wide ones.
    Member(ScopePath),
    /// A service (the controller): create and dispatch tasks in one organization, read briefs.
    Dispatcher(ScopePath),
}

impl Role {
    /// Parses `root`, `admin ORG`, `member ORG/TEAM`, `dispatcher ORG`.
    pub fn parse(role: &str, scope: Option<&str>) -> Result<Role> {
        let need = |level: Level| -> Result<ScopePath> {
            let s = scope.ok_or_else(|| {
                Error::Invalid(format!(
                    "the {role} role needs a scope: {role} {}",
                    if level == Level::Team {
                        "ORG/TEAM"
                    } else {
                        "ORG"
                    }
                ))
            })?;
            ScopePath::parse_level(s, level)
        };
        match role {
            "root" => match scope {
                None => Ok(Role::Root),
                Some(_) => Err(Error::Invalid("the root role takes no scope".into())),
            },
            "admin" => Ok(Role::Admin(need(Level::Organization)?)),
            "member" => Ok(Role::Member(need(Level::Team)?)),
            "dispatcher" => Ok(Role::Dispatcher(need(Level::Organization)?)),
            other => Err(Error::Invalid(format!(
                "unknown role {}: one of root, admin ORG, member ORG/TEAM, dispatcher ORG",
                crate::name::short_echo(other)
            ))),
        }
    }

    /// The role's name as stored and shown (`root`, `admin`, `member`, `dispatcher`).
    pub fn name(&self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Admin(_) => "admin",
            Role::Member(_) => "member",
            Role::Dispatcher(_) => "dispatcher",
        }
    }

    /// The scope the role holds at (`None` for root, which holds everywhere).
    pub fn scope(&self) -> Option<&ScopePath> {
        match self {
            Role::Root => None,
            Role::Admin(s) | Role::Member(s) | Role::Dispatcher(s) => Some(s),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope() {
            None => f.write_str(self.name()),
            Some(s) => write!(f, "{} {s}", self.name()),
        }
    }
}

/// An authenticated caller: who (for the audit log), what roles, and from where.
///
/// The one name for the caller in every crate: the type is `Principal`, and a variable,
/// parameter or field holding one is called `who` — the service's `who: &Principal`
/// parameters, [`SessionAuth::who`](crate::SessionAuth::who), the web UI's `Session::who`,
/// the HTTP handlers' `Caller(who): Caller` (the server's extractor, bound by its content),
/// and the command line's `who` (the operator). A record that keeps who did something
/// keeps only the account name, in the field named after its column: the audit log's
/// `actor` ([`AuditEntry::new`](crate::AuditEntry::new) takes the `Principal`), a version's
/// `created_by` and a secret's `updated_by` ([`NewVersion::by`](crate::NewVersion::by)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account name, or `cli:<os user>` for the command line.
    pub account: String,
    /// The roles the caller holds.
    pub roles: Vec<Role>,
    /// `cli`, or the client's address.
    pub source: String,
}

impl Principal {
    /// The operator at the server's own command line: all powers, audited as `cli:<user>`.
    pub fn operator(os_user: &str) -> Self {
        Principal {
            account: format!("cli:{os_user}"),
            roles: vec![Role::Root],
            source: "cli".into(),
        }
    }
}

/// What a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See that a scope exists and list its children.
    See,
    /// Read the metadata of secrets (names, versions, categories), never values.
    ReadMeta,
    /// Read a value directly.
    ReadValue,
    /// Write, roll back or delete a secret.
    Write,
    /// Create a scope (the scope given is the new one).
    CreateScope,
    /// Create or dispatch a task, read its briefs (the scope is the project).
    Dispatch,
    /// Read the audit log of a scope.
    ReadAudit,
}

/// The answer of [`Principal::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The caller may do it.
    Allowed,
    /// 403: the caller sees the scope but may not do this.
    Forbidden,
    /// 404: the caller may not see the scope at all.
    Hidden,
}

impl Principal {
    /// True if the caller holds the root role.
    pub fn is_root(&self) -> bool {
        self.roles.contains(&Role::Root)
    }

    /// Whether the caller may see `scope` at all.
    pub fn sees(&self, scope: &ScopePath) -> bool {
        self.roles.iter().any(|r| match r {
            Role::Root => true,
            Role::Admin(org) | Role::Dispatcher(org) => org.contains(scope),
            // A member sees its organization (for org-wide secrets), its team and below.
            Role::Member(team) => team.contains(scope) || team.parent().as_ref() == Some(scope),
        })
    }

    /// Whether the caller may do `action` at `scope`.
    pub fn check(&self, action: Action, scope: &ScopePath) -> Access {
        if self.roles.iter().any(|r| allows(r, action, scope)) {
            return Access::Allowed;
        }
        let visible = match (action, scope.parent()) {
            // A new scope is judged by its parent; a new organization by nobody's.
            (Action::CreateScope, Some(parent)) => self.sees(&parent),
            (Action::CreateScope, None) => true,
            _ => self.sees(scope),
        };
        if visible {
            Access::Forbidden
        } else {
            Access::Hidden
        }
    }

    /// [`check`](Self::check) as a `Result`: `NotFound` for hidden, `Forbidden` for forbidden.
    pub fn require(&self, action: Action, scope: &ScopePath) -> Result<()> {
        match self.check(action, scope) {
            Access::Allowed => Ok(()),
            Access::Forbidden => Err(Error::Forbidden(format!(
                "{} may not {} at {scope}",
                self.account,
                action_words(action)
            ))),
            Access::Hidden => Err(Error::NotFound(format!(
                "unknown {} {scope}",
                scope.level().as_str()
            ))),
        }
    }
}

fn action_words(a: Action) -> &'static str {
    match a {
        Action::See => "see this scope",
        Action::ReadMeta => "read secrets",
        Action::ReadValue => "read secret values",
        Action::Write => "write secrets",
        Action::CreateScope => "create scopes",
        Action::Dispatch => "create or dispatch tasks",
        Action::ReadAudit => "read the audit log",
    }
}

fn allows(role: &Role, action: Action, scope: &ScopePath) -> bool {
    match role {
        Role::Root => true,
        Role::Admin(org) => org.contains(scope) && !(action == Action::CreateScope && scope == org),
        Role::Member(team) => {
            let org_wide = team.parent().as_ref() == Some(scope);
            let own = team.contains(scope);
            match action {
                Action::See | Action::ReadMeta | Action::ReadValue => own || org_wide,
                Action::Write | Action::ReadAudit | Action::Dispatch => own,
                // Workspaces and projects inside the team.
                Action::CreateScope => own && scope != team,
            }
        }
        Role::Dispatcher(org) => {
            org.contains(scope)
                && matches!(action, Action::See | Action::ReadMeta | Action::Dispatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(roles: Vec<Role>) -> Principal {
        Principal {
            account: "x".into(),
            roles,
            source: "test".into(),
        }
    }
    fn s(x: &str) -> ScopePath {
        ScopePath::parse(x).unwrap()
    }

    #[test]
    fn member_reads_org_wide_writes_only_its_team() {
        let m = p(vec![Role::Member(s("acme/platform"))]);
        assert_eq!(m.check(Action::ReadValue, &s("acme")), Access::Allowed);
        assert_eq!(m.check(Action::Write, &s("acme")), Access::Forbidden);
        assert_eq!(
            m.check(Action::Write, &s("acme/platform/dev")),
            Access::Allowed
        );
        assert_eq!(m.check(Action::ReadMeta, &s("acme/other")), Access::Hidden);
        assert_eq!(
            m.check(Action::ReadMeta, &s("acme/platformx")),
            Access::Hidden
        );
        assert_eq!(m.check(Action::ReadMeta, &s("globex")), Access::Hidden);
        assert_eq!(
            m.check(Action::CreateScope, &s("acme/platform/ws2")),
            Access::Allowed
        );
        assert_eq!(
            m.check(Action::CreateScope, &s("acme/team2")),
            Access::Forbidden
        );
        assert_eq!(
            m.check(Action::CreateScope, &s("acme/other/ws")),
            Access::Hidden
        );
    }

    #[test]
    fn dispatcher_never_reads_values() {
        let d = p(vec![Role::Dispatcher(s("acme"))]);
        assert_eq!(
            d.check(Action::ReadValue, &s("acme/platform")),
            Access::Forbidden
        );
        assert_eq!(
            d.check(Action::Dispatch, &s("acme/platform/dev/x")),
            Access::Allowed
        );
        assert_eq!(d.check(Action::Write, &s("acme")), Access::Forbidden);
        assert_eq!(
            d.check(Action::Dispatch, &s("globex/a/b/c")),
            Access::Hidden
        );
    }

    #[test]
    fn admin_owns_its_org_only_root_makes_orgs() {
        let a = p(vec![Role::Admin(s("acme"))]);
        assert_eq!(a.check(Action::ReadValue, &s("acme/x/y")), Access::Allowed);
        assert_eq!(
            a.check(Action::CreateScope, &s("acme/newteam")),
            Access::Allowed
        );
        assert_eq!(
            a.check(Action::CreateScope, &s("globex")),
            Access::Forbidden
        );
        assert_eq!(a.check(Action::CreateScope, &s("acme")), Access::Forbidden);
        assert_eq!(a.check(Action::ReadMeta, &s("globex")), Access::Hidden);
        let r = p(vec![Role::Root]);
        assert_eq!(r.check(Action::CreateScope, &s("globex")), Access::Allowed);
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("root", None).unwrap(), Role::Root);
        assert_eq!(
            Role::parse("member", Some("a/b")).unwrap(),
            Role::Member(s("a/b"))
        );
        assert!(Role::parse("member", Some("a")).is_err());
        assert!(Role::parse("admin", None).is_err());
        assert!(Role::parse("root", Some("a")).is_err());
        assert!(Role::parse("owner", Some("a")).is_err());
    }
}
