//! The session with Vault: how the token is obtained (a token given to secretstore, or an
//! AppRole, JWT or Kubernetes login), kept alive (`renew-self` before two thirds of its
//! TTL have passed), and replaced (a new login when it can no longer be renewed far
//! enough, or when Vault no longer knows it).
//!
//! Requests read the current token and never wait for a renewal: renewals and planned
//! logins run in [`Session::maintain`], which `serve` runs in the background. The command
//! line logs in once, at its first request. A request answered 403 because the token
//! expired or was revoked meanwhile (the token can no longer look itself up) triggers one
//! login, shared by every request that saw it, and is sent once more.
//!
//! Tokens, secret ids and JWTs live in [`SecretValue`]s (zeroized on drop, redacted in
//! `Debug`); no message carries one.

use crate::http::{Client, Reply, describe, secret_body};
use crate::settings::{Credential, VaultAuth, check_token};
use hyper::{Method, StatusCode};
use secretstore_core::{BackendError, SecretValue};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The shortest wait between two attempts of the background task after a failure.
const RETRY_MIN: Duration = Duration::from_secs(1);
/// The longest wait between two attempts of the background task after a failure.
const RETRY_MAX: Duration = Duration::from_secs(30);
/// How often the background task looks up a token that does not expire (so `doctor` and
/// the logs notice a revoked one).
const NO_TTL_RECHECK: Duration = Duration::from_secs(300);

/// A token and what Vault said of it.
pub(crate) struct Token {
    pub(crate) secret: SecretValue,
    /// Which login gave it (a renewal keeps it).
    generation: u64,
    /// When `ttl` was measured.
    at: Instant,
    /// Its TTL at `at`; `None`: it never expires, or it was not looked up yet.
    ttl: Option<Duration>,
    /// Its TTL when it was issued: a renewal that gives less is cut by the max TTL.
    issued_ttl: Option<Duration>,
    renewable: bool,
    /// Whether the last renewal gave less than the TTL it was issued with: its max TTL
    /// is near, and the next renewal could not give enough.
    capped: bool,
    /// Whether `ttl` and `renewable` come from Vault (a login, lookup or renewal).
    known: bool,
    policies: Vec<String>,
}

impl Token {
    /// What is left of its TTL now; `None`: it does not expire (or is not looked up).
    fn left(&self) -> Option<Duration> {
        self.ttl.map(|t| t.saturating_sub(self.at.elapsed()))
    }

    fn with(&self, info: TokenInfo) -> Token {
        Token {
            secret: self.secret.clone(),
            generation: self.generation,
            at: Instant::now(),
            ttl: info.ttl,
            issued_ttl: self.issued_ttl.or(info.ttl),
            renewable: info.renewable,
            capped: self.capped,
            known: true,
            policies: if info.policies.is_empty() {
                self.policies.clone()
            } else {
                info.policies
            },
        }
    }
}

/// What a lookup, login or renewal says of a token.
struct TokenInfo {
    ttl: Option<Duration>,
    renewable: bool,
    policies: Vec<String>,
}

/// What `doctor` shows of the session: never the token.
pub(crate) struct Status {
    pub(crate) method: &'static str,
    /// The remaining TTL; `None`: it does not expire.
    pub(crate) ttl: Option<Duration>,
    pub(crate) renewable: bool,
    pub(crate) policies: Vec<String>,
}

/// The token of one Vault backend, and how to get a new one.
pub(crate) struct Session {
    auth: VaultAuth,
    current: RwLock<Option<Arc<Token>>>,
    /// One login at a time: requests that saw the same dead token share one.
    login: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    logins: AtomicU64,
    /// The last failed login and when: for [`RETRY_MIN`] after it, requests get its error
    /// without another attempt (no login storm with a wrong secret id).
    failed: std::sync::Mutex<Option<(Instant, BackendError)>>,
}

impl Session {
    pub(crate) fn new(auth: VaultAuth) -> Session {
        let s = Session {
            auth,
            current: RwLock::new(None),
            login: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            failed: std::sync::Mutex::new(None),
        };
        // A token given as a value needs no request: it is used as it is.
        if let VaultAuth::Token(Credential::Value(t)) = &s.auth {
            let token = s.fresh(t.clone(), None);
            s.store(token);
        }
        s
    }

    /// The login method, as `doctor` and the settings name it.
    pub(crate) fn method(&self) -> &'static str {
        self.auth.method()
    }

    /// How many logins this session made (a token read again from its file counts).
    pub(crate) fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    fn current(&self) -> Option<Arc<Token>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn store(&self, t: Token) -> Arc<Token> {
        let t = Arc::new(t);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&t));
        t
    }

    fn fresh(&self, secret: SecretValue, info: Option<TokenInfo>) -> Token {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let known = info.is_some();
        let info = info.unwrap_or(TokenInfo {
            ttl: None,
            renewable: false,
            policies: Vec::new(),
        });
        Token {
            secret,
            generation,
            at: Instant::now(),
            ttl: info.ttl,
            issued_ttl: info.ttl,
            renewable: info.renewable,
            capped: false,
            known,
            policies: info.policies,
        }
    }

    /// The token to send: the current one, or a new login when there is none yet.
    pub(crate) async fn token(&self, c: &Client) -> Result<Arc<Token>, BackendError> {
        match self.current() {
            Some(t) => Ok(t),
            None => self.replace(c, None).await,
        }
    }

    /// A new token in place of the one of generation `stale` (`None`: the first). When
    /// another task has replaced it meanwhile, that token is the answer and no login is
    /// made.
    async fn replace(&self, c: &Client, stale: Option<u64>) -> Result<Arc<Token>, BackendError> {
        let _one = self.login.lock().await;
        let current = self.current();
        if let Some(t) = &current
            && Some(t.generation) != stale
        {
            return Ok(Arc::clone(t));
        }
        let mut failed = self
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some((at, e)) = failed.take()
            && at.elapsed() < RETRY_MIN
        {
            return Err(e);
        }
        match self.obtain(c, current.as_deref()).await {
            Ok(t) => {
                self.logins.fetch_add(1, Ordering::Relaxed);
                *self
                    .failed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                Ok(self.store(t))
            }
            Err(e) => {
                *self
                    .failed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Logs in (or reads the token file again); `old` is the token being replaced.
    async fn obtain(&self, c: &Client, old: Option<&Token>) -> Result<Token, BackendError> {
        match &self.auth {
            VaultAuth::Token(Credential::Value(_)) => Err(BackendError::Refused(
                "Vault no longer accepts the token of VAULT_TOKEN (expired or revoked), and a token given as a value cannot be replaced; give secretstore a new token, VAULT_TOKEN_FILE that is kept fresh, or AppRole or JWT login, which it renews itself".into(),
            )),
            VaultAuth::Token(Credential::File(path)) => {
                let token = read_credential(path, "VAULT_TOKEN_FILE")?;
                check_token(token.expose_secret(), "VAULT_TOKEN_FILE's token")
                    .map_err(|e| BackendError::Refused(e.to_string()))?;
                if old.is_some_and(|o| o.secret == token) {
                    return Err(BackendError::Refused(format!(
                        "Vault no longer accepts the token in VAULT_TOKEN_FILE ({}), expired or revoked, and the file holds no new one",
                        path.display()
                    )));
                }
                Ok(self.fresh(token, None))
            }
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let secret_id = match secret_id {
                    Credential::Value(v) => v.clone(),
                    Credential::File(p) => read_credential(p, "VAULT_SECRET_ID_FILE")?,
                };
                #[derive(serde::Serialize)]
                struct Body<'a> {
                    role_id: &'a str,
                    secret_id: &'a str,
                }
                let body = Body {
                    role_id,
                    secret_id: secret_id.expose_secret(),
                };
                self.login(c, "AppRole", mount, &body).await
            }
            VaultAuth::Jwt {
                kind,
                mount,
                role,
                jwt_file,
            } => {
                let jwt = read_credential(jwt_file, "VAULT_JWT_FILE")?;
                #[derive(serde::Serialize)]
                struct Body<'a> {
                    role: &'a str,
                    jwt: &'a str,
                }
                let body = Body {
                    role,
                    jwt: jwt.expose_secret(),
                };
                let method = match kind {
                    crate::settings::JwtKind::Jwt => "JWT",
                    crate::settings::JwtKind::Kubernetes => "Kubernetes",
                };
                self.login(c, method, mount, &body).await
            }
            VaultAuth::Cert { mount, role } => {
                // The credential is the client certificate of the TLS connection.
                #[derive(serde::Serialize)]
                struct Body<'a> {
                    #[serde(skip_serializing_if = "Option::is_none")]
                    name: Option<&'a str>,
                }
                let body = Body {
                    name: role.as_deref(),
                };
                self.login(c, "TLS certificate", mount, &body).await
            }
        }
    }

    /// `POST /v1/auth/<mount>/login` with `body`; the token from its `auth` block. A
    /// refusal is Unavailable, like any other reason the backend cannot be used: the
    /// message names the method, the mount and Vault's reason.
    async fn login<B: serde::Serialize>(
        &self,
        c: &Client,
        method: &str,
        mount: &str,
        body: &B,
    ) -> Result<Token, BackendError> {
        let what = format!("Vault login ({method} at auth/{mount})");
        let mut buf = Zeroizing::new(Vec::with_capacity(8192));
        serde_json::to_writer(&mut *buf, body).map_err(|_| {
            BackendError::Unavailable(format!("{what}: could not build the request"))
        })?;
        let path = format!("/v1/auth/{}/login", crate::reference::encode_path(mount));
        let reply = c
            .send_as(
                None,
                Method::POST,
                &path,
                Some(("application/json", secret_body(buf))),
                &what,
            )
            .await?;
        if !reply.status.is_success() {
            let detail = match reply.errors() {
                e if e.is_empty() => String::new(),
                e => format!(": {e}"),
            };
            return Err(BackendError::Unavailable(format!(
                "{what} failed (HTTP {}{detail}); check the login settings and the role",
                reply.status.as_u16()
            )));
        }
        let (secret, info) = auth_block(&reply, &what)?;
        Ok(self.fresh(secret, Some(info)))
    }

    /// After a 403 to a request sent as `used`: the token to send it again with, or
    /// `None` when the 403 stands (the token is alive, so its policies deny the request).
    pub(crate) async fn after_forbidden(
        &self,
        c: &Client,
        used: &Arc<Token>,
    ) -> Result<Option<Arc<Token>>, BackendError> {
        if let Some(t) = self.current()
            && t.generation != used.generation
        {
            return Ok(Some(t));
        }
        match lookup(c, &used.secret).await {
            Ok(_) => Ok(None),
            Err(Dead::Refused) => self.replace(c, Some(used.generation)).await.map(Some),
            Err(Dead::Other(_)) => Ok(None),
        }
    }

    /// What the current token is (a lookup, for `doctor`): never the token itself.
    pub(crate) async fn status(&self, c: &Client) -> Result<Status, BackendError> {
        let t = self.token(c).await?;
        let t = match lookup(c, &t.secret).await {
            Ok(info) => self.keep(&t, info),
            Err(Dead::Refused) => {
                let fresh = self.replace(c, Some(t.generation)).await?;
                match lookup(c, &fresh.secret).await {
                    Ok(info) => self.keep(&fresh, info),
                    Err(e) => return Err(e.into_error("the new token")),
                }
            }
            Err(e) => return Err(e.into_error("the token")),
        };
        Ok(Status {
            method: self.method(),
            ttl: t.left(),
            renewable: t.renewable,
            policies: t.policies.clone(),
        })
    }

    /// Records what Vault said of `t`, unless it was replaced meanwhile.
    fn keep(&self, t: &Arc<Token>, info: TokenInfo) -> Arc<Token> {
        self.keep_token(t, t.with(info))
    }

    /// Stores `updated` (what is now known of `t`), unless `t` was replaced meanwhile.
    fn keep_token(&self, t: &Arc<Token>, updated: Token) -> Arc<Token> {
        match self.current() {
            Some(c) if c.generation == t.generation => self.store(updated),
            _ => Arc::new(updated),
        }
    }

    fn can_log_in(&self) -> bool {
        !matches!(self.auth, VaultAuth::Token(Credential::Value(_)))
    }

    /// Keeps the token alive, forever: renews it when two thirds of its TTL have passed,
    /// logs in again when it cannot be renewed far enough (its max TTL is near, it is not
    /// renewable, a renewal failed), and retries with a growing pause after a failure.
    /// `serve` runs it in the background; requests never wait for it.
    pub(crate) async fn maintain(&self, c: &Client) {
        let mut pause = RETRY_MIN;
        loop {
            let next = match self.step(c).await {
                Ok(wait) => {
                    pause = RETRY_MIN;
                    wait
                }
                Err(e) => {
                    tracing::warn!(
                        method = self.method(),
                        error = %e,
                        "Vault: cannot renew or replace the token; retrying in {}",
                        describe(pause)
                    );
                    let wait = pause;
                    pause = (pause * 2).min(RETRY_MAX);
                    wait
                }
            };
            tokio::time::sleep(next).await;
        }
    }

    /// One round of [`Session::maintain`]: what is due now, and how long to wait for the
    /// next.
    async fn step(&self, c: &Client) -> Result<Duration, BackendError> {
        let t = self.token(c).await?;
        // A token given to secretstore: learn its TTL first.
        let t = if t.known {
            t
        } else {
            match lookup(c, &t.secret).await {
                Ok(info) => self.keep(&t, info),
                Err(Dead::Refused) if self.can_log_in() => {
                    self.replace(c, Some(t.generation)).await?
                }
                Err(e) => return Err(e.into_error("the token")),
            }
        };
        let (Some(ttl), Some(left)) = (t.ttl, t.left()) else {
            return Ok(NO_TTL_RECHECK);
        };
        let due = ttl / 3;
        if left > due {
            return Ok(left - due);
        }
        // Due: renew if that gives enough, else log in again. A renewal cut short by the
        // max TTL is the last one worth making.
        if t.renewable && !(t.capped && self.can_log_in()) {
            match renew(c, &t.secret).await {
                Ok(info) => {
                    let issued = t.issued_ttl.unwrap_or(ttl);
                    let (enough, capped) = match info.ttl {
                        Some(new) => (new * 2 >= issued, new < issued),
                        // A TTL that was there and is now 0: the end.
                        None => (false, true),
                    };
                    let mut renewed = t.with(info);
                    renewed.capped = capped;
                    let renewed = self.keep_token(&t, renewed);
                    if enough || !self.can_log_in() {
                        tracing::debug!(method = self.method(), "Vault: renewed the token");
                        return Ok(next_wait(&renewed));
                    }
                }
                Err(e) if !self.can_log_in() => return Err(e),
                Err(e) => {
                    tracing::info!(error = %e, "Vault: cannot renew the token; logging in again");
                }
            }
        } else if !self.can_log_in() {
            // Nothing to do until it expires; then a file may hold a new one.
            return Ok(left.max(RETRY_MIN));
        }
        let fresh = self.replace(c, Some(t.generation)).await?;
        tracing::info!(
            method = self.method(),
            ttl = fresh.ttl.map(|t| t.as_secs()),
            "Vault: logged in"
        );
        Ok(next_wait(&fresh))
    }
}

/// How long until two thirds of `t`'s TTL have passed (at least a second).
fn next_wait(t: &Token) -> Duration {
    match (t.ttl, t.left()) {
        (Some(ttl), Some(left)) => left.saturating_sub(ttl / 3).max(RETRY_MIN),
        _ => NO_TTL_RECHECK,
    }
}

/// Why a lookup or renewal failed: the token is refused (expired, revoked, unknown), or
/// something else (Vault down, a policy that denies lookup-self).
enum Dead {
    Refused,
    Other(BackendError),
}

impl Dead {
    fn into_error(self, what: &str) -> BackendError {
        match self {
            Dead::Refused => BackendError::Refused(format!(
                "Vault does not accept {what} (expired, revoked or unknown)"
            )),
            Dead::Other(e) => e,
        }
    }
}

/// `auth/token/lookup-self` as `token`: its TTL, renewability and policies (the answer
/// holds the token itself, which is never read).
async fn lookup(c: &Client, token: &SecretValue) -> Result<TokenInfo, Dead> {
    #[derive(Deserialize)]
    struct Reply {
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        #[serde(default)]
        ttl: u64,
        #[serde(default)]
        renewable: bool,
        #[serde(default)]
        policies: Vec<String>,
    }
    let what = "Vault token lookup";
    let reply = c
        .send_as(
            Some(token),
            Method::GET,
            "/v1/auth/token/lookup-self",
            None,
            what,
        )
        .await
        .map_err(Dead::Other)?;
    match reply.status {
        s if s.is_success() => {}
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => return Err(Dead::Refused),
        _ => return Err(Dead::Other(reply.error(what))),
    }
    let data = reply
        .json::<Reply>(what)
        .map_err(Dead::Other)?
        .data
        .ok_or_else(|| Dead::Other(BackendError::Unavailable(format!("{what}: no data"))))?;
    Ok(TokenInfo {
        ttl: (data.ttl > 0).then(|| Duration::from_secs(data.ttl)),
        renewable: data.renewable,
        policies: data.policies,
    })
}

/// `auth/token/renew-self` as `token`, by the token's own TTL.
async fn renew(c: &Client, token: &SecretValue) -> Result<TokenInfo, BackendError> {
    let what = "Vault token renewal";
    let reply = c
        .send_as(
            Some(token),
            Method::POST,
            "/v1/auth/token/renew-self",
            Some((
                "application/json",
                secret_body(Zeroizing::new(b"{}".to_vec())),
            )),
            what,
        )
        .await?;
    if !reply.status.is_success() {
        return Err(reply.error(what));
    }
    auth_block(&reply, what).map(|(_, info)| info)
}

/// The `auth` block of a login or renewal: the token and what Vault says of it.
fn auth_block(reply: &Reply, what: &str) -> Result<(SecretValue, TokenInfo), BackendError> {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        auth: Option<Auth<'a>>,
    }
    #[derive(Deserialize)]
    struct Auth<'a> {
        #[serde(borrow)]
        client_token: std::borrow::Cow<'a, str>,
        #[serde(default)]
        lease_duration: u64,
        #[serde(default)]
        renewable: bool,
        #[serde(default)]
        policies: Vec<String>,
    }
    let answer: Answer<'_> = reply.json(what)?;
    let Some(auth) = answer.auth else {
        return Err(BackendError::Unavailable(format!(
            "{what}: Vault's answer has no auth block"
        )));
    };
    let token = Zeroizing::new(auth.client_token.into_owned());
    check_token(&token, "the token Vault returned")
        .map_err(|e| BackendError::Unavailable(format!("{what}: {e}")))?;
    let secret = SecretValue::new(token.to_string())
        .map_err(|_| BackendError::Unavailable(format!("{what}: the token is not usable")))?;
    Ok((
        secret,
        TokenInfo {
            ttl: (auth.lease_duration > 0).then(|| Duration::from_secs(auth.lease_duration)),
            renewable: auth.renewable,
            policies: auth.policies,
        },
    ))
}

/// A secret read from a file at each use, trailing newline removed; the error names the
/// setting and the file, never the content.
fn read_credential(path: &std::path::Path, setting: &str) -> Result<SecretValue, BackendError> {
    let text = Zeroizing::new(std::fs::read(path).map_err(|e| {
        BackendError::Unavailable(format!(
            "{setting}: cannot read {}: {}",
            path.display(),
            e.kind()
        ))
    })?);
    let mut end = text.len();
    while end > 0 && matches!(text[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    SecretValue::from_bytes(text[..end].to_vec()).map_err(|_| {
        BackendError::Unavailable(format!(
            "{setting}: {} is empty or not text",
            path.display()
        ))
    })
}
