//! Accounts, roles, tokens and web UI sessions.

use super::{NewSession, Service};
use crate::accounts::{
    self, Account, AccountKind, AccountStore, SessionAuth, SessionInfo, SessionStore, TokenInfo,
};
use crate::authz::{Principal, Role};
use crate::brief::{self};
use crate::error::{Error, Result};
use crate::model::{AuditEntry, BriefId};
use crate::ports::MetadataStore;
use crate::value::SecretValue;

/// Account management: root only.
impl<S: MetadataStore + AccountStore + SessionStore> Service<S> {
    pub(super) fn require_root(who: &Principal) -> Result<()> {
        if who.is_root() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{} may not manage accounts (root only)",
                who.account
            )))
        }
    }

    /// On a fresh installation (no account at all), creates `root` and returns its token.
    pub async fn bootstrap_root(&self, who: &Principal) -> Result<Option<SecretValue>> {
        let token = accounts::new_api_token();
        let id = crate::random::uuid_v4();
        let audit = self.audit(who, "account.bootstrap").target("root");
        let created = self
            .store
            .bootstrap_root(&id, &brief::token_hash(token.expose_secret()), audit)
            .await?;
        Ok(created.then_some(token))
    }

    /// Creates a person or service account (root only).
    pub async fn create_account(
        &self,
        who: &Principal,
        name: &str,
        kind: AccountKind,
    ) -> Result<Account> {
        Self::require_root(who)?;
        accounts::check_account_name(name)?;
        let audit = self
            .audit(who, "account.create")
            .target(name.to_owned())
            .detail(serde_json::json!({ "kind": kind.as_str() }));
        self.store.create_account(name, kind, audit).await?;
        self.store.account(name).await
    }

    /// An account with its roles (root only).
    pub async fn account(&self, who: &Principal, name: &str) -> Result<Account> {
        Self::require_root(who)?;
        self.store.account(name).await
    }

    /// Every account with its roles (root only).
    pub async fn accounts(&self, who: &Principal) -> Result<Vec<Account>> {
        Self::require_root(who)?;
        self.store.list_accounts().await
    }

    /// Grants a role; its scope must exist.
    pub async fn grant(&self, who: &Principal, name: &str, role: &Role) -> Result<Account> {
        Self::require_root(who)?;
        if let Some(scope) = role.scope() {
            self.existing_scope(scope.clone()).await?;
        }
        let mut audit = self
            .audit(who, "account.grant")
            .target(name.to_owned())
            .detail(serde_json::json!({ "role": role.to_string() }));
        audit.scope = role.scope().map(|s| s.to_string());
        self.store.grant(name, role, audit).await?;
        self.store.account(name).await
    }

    /// Removes a role from an account (root only).
    pub async fn revoke_grant(&self, who: &Principal, name: &str, role: &Role) -> Result<Account> {
        Self::require_root(who)?;
        let audit = self
            .audit(who, "account.revoke_grant")
            .target(name.to_owned())
            .detail(serde_json::json!({ "role": role.to_string() }));
        self.store.revoke_grant(name, role, audit).await?;
        self.store.account(name).await
    }

    /// Issues an API token; the token is returned once and only its hash is kept.
    pub async fn create_token(
        &self,
        who: &Principal,
        name: &str,
    ) -> Result<(TokenInfo, SecretValue)> {
        Self::require_root(who)?;
        let token = accounts::new_api_token();
        let id = crate::random::uuid_v4();
        let audit = self
            .audit(who, "token.create")
            .target(name.to_owned())
            .detail(serde_json::json!({ "token_id": id }));
        self.store
            .create_token(name, &id, &brief::token_hash(token.expose_secret()), audit)
            .await?;
        let info = self
            .store
            .list_tokens(name)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::storage("the new token was not stored"))?;
        Ok((info, token))
    }

    /// An account's tokens, never a token itself (root only).
    pub async fn tokens(&self, who: &Principal, name: &str) -> Result<Vec<TokenInfo>> {
        Self::require_root(who)?;
        self.store.account(name).await?;
        self.store.list_tokens(name).await
    }

    /// Revokes a token by its public id (root only); its sessions end with it.
    pub async fn revoke_token(&self, who: &Principal, id: &str) -> Result<()> {
        Self::require_root(who)?;
        if !crate::random::is_uuid(id) {
            return Err(Error::NotFound(format!(
                "no token {}",
                id.chars().take(40).collect::<String>()
            )));
        }
        let audit = self.audit(who, "token.revoke").target(id.to_owned());
        self.store.revoke_token(id, audit).await
    }

    /// Signs in to the web UI with an API token: a new session (its id shown once, kept
    /// only as its SHA-256), bound to that token: revoking the token, or the account
    /// losing its last grant, ends it. An account without any role gets no session.
    pub async fn login(&self, token: &str, source: &str, ttl_secs: i64) -> Result<NewSession> {
        let who = self.authenticate(token, source).await?;
        if who.roles.is_empty() {
            return Err(Error::Forbidden(format!(
                "{} has no role yet: a session needs at least one grant (ask root)",
                who.account
            )));
        }
        let session = accounts::new_session_id();
        let public_id = crate::random::uuid_v4();
        let mut raw = [0u8; 32];
        crate::random::fill(&mut raw);
        let csrf = hex::encode(raw);
        let audit = self.audit(&who, "session.login").target(public_id.clone());
        self.store
            .create_session(
                &brief::token_hash(session.expose_secret()),
                &brief::token_hash(token),
                &public_id,
                &csrf,
                crate::timestamp::in_secs(ttl_secs),
                audit,
            )
            .await?;
        Ok(NewSession {
            id: session,
            public_id,
            csrf,
        })
    }

    /// The caller behind a web UI session, its CSRF token and public id. Unknown, expired
    /// and ended sessions (its token revoked, its account without a grant) get the same
    /// answer. One query.
    pub async fn session(&self, session_id: &str, source: &str) -> Result<SessionAuth> {
        let unauthorized = || Error::Unauthorized("no valid session".to_string());
        if !session_id.starts_with(accounts::SESSION_PREFIX) || session_id.len() > 200 {
            return Err(unauthorized());
        }
        let found = self
            .store
            .session_by_hash(&brief::token_hash(session_id), source)
            .await?
            .ok_or_else(unauthorized)?;
        if crate::timestamp::now() >= found.expires_at {
            return Err(unauthorized());
        }
        Ok(found)
    }

    /// The live web UI sessions the caller may see: root every one, anyone else their own.
    pub async fn sessions(&self, who: &Principal) -> Result<Vec<SessionInfo>> {
        let only = (!who.is_root()).then_some(who.account.as_str());
        self.store
            .list_sessions(only, crate::timestamp::now())
            .await
    }

    /// Ends a web UI session by its public id: root any, anyone else only their own (another
    /// account's session is "no session", exactly like a missing one). Audited.
    pub async fn end_session(&self, who: &Principal, public_id: &str) -> Result<()> {
        let missing = || {
            Error::NotFound(format!(
                "no session {}",
                public_id.chars().take(40).collect::<String>()
            ))
        };
        if !crate::random::is_uuid(public_id) {
            return Err(missing());
        }
        let only = (!who.is_root()).then_some(who.account.as_str());
        let audit = self.audit(who, "session.end").target(public_id.to_owned());
        match self.store.end_session(public_id, only, audit).await {
            Err(Error::NotFound(_)) => Err(missing()),
            other => other,
        }
    }

    /// Ends every live web UI session of account `name` (root only; `NotFound` for an
    /// unknown account), each audited as `session.end` like [`Self::end_session`]. Returns
    /// the public ids of the sessions ended; one that ended meanwhile is skipped.
    pub async fn end_account_sessions(&self, who: &Principal, name: &str) -> Result<Vec<String>> {
        Self::require_root(who)?;
        self.store.account(name).await?;
        let live = self
            .store
            .list_sessions(Some(name), crate::timestamp::now())
            .await?;
        let mut ended = Vec::with_capacity(live.len());
        for s in live {
            let audit = self.audit(who, "session.end").target(s.id.clone());
            match self.store.end_session(&s.id, Some(name), audit).await {
                Ok(()) => ended.push(s.id),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }

    /// Ends a web UI session.
    pub async fn logout(&self, session_id: &str) -> Result<()> {
        self.store
            .delete_session(&brief::token_hash(session_id))
            .await
    }

    /// Records a failed authentication from `source` as `auth.failed`: `credential` says
    /// what was tried (`api_token`, `session_sign_in`, `callback_token`), never the token;
    /// `brief` is the brief a callback named (kept only when it is a well-formed id). With
    /// `lockout_secs`, this failure started a lockout of its source: one `auth.limited`
    /// record follows (the refused attempts during the lockout are not recorded one by one).
    pub async fn audit_auth_failure(
        &self,
        source: &str,
        credential: &str,
        brief: Option<&str>,
        lockout_secs: Option<u64>,
    ) -> Result<()> {
        let brief = brief.and_then(|b| BriefId::parse(b).ok());
        let mut failed = AuditEntry::anonymous("auth.failed", source)
            .detail(serde_json::json!({ "credential": credential }));
        if let Some(b) = &brief {
            failed = failed.target(b.to_string());
        }
        self.store.append_audit(failed).await?;
        if let Some(secs) = lockout_secs {
            let limited = AuditEntry::anonymous("auth.limited", source)
                .detail(serde_json::json!({ "credential": credential, "lockout_secs": secs }));
            self.store.append_audit(limited).await?;
        }
        Ok(())
    }

    /// The caller behind an API token. Unknown and revoked tokens get the same answer.
    pub async fn authenticate(&self, token: &str, source: &str) -> Result<Principal> {
        let unauthorized = || Error::Unauthorized("invalid or revoked API token".to_string());
        if !token.starts_with(accounts::API_TOKEN_PREFIX) || token.len() > 200 {
            return Err(unauthorized());
        }
        self.store
            .principal_by_token_hash(&brief::token_hash(token), source)
            .await?
            .ok_or_else(unauthorized)
    }
}
