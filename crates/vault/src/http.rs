//! The HTTP side: one hyper client, a per-request time bound, and the mapping of every
//! answer that is not a success to one of the three backend errors.
//!
//! Bodies are kept in zeroizing buffers on our side: a request body holds a value being
//! written, a response body may hold the values of every field of a KV entry (and
//! `lookup-self` answers with the token itself). hyper's own I/O buffers are beyond our
//! reach.

use crate::auth::Session;
use crate::settings::VaultTls;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use secretstore_core::{BackendError, Error, SecretValue};
use serde::Deserialize;
use std::time::Duration;
use zeroize::Zeroizing;

/// The largest response read, in bytes: a KV entry is at most a few hundred KiB.
const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// An answer from Vault: its status and its body, zeroized on drop.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

impl Reply {
    /// The body as `T`, which may borrow from it. A body that does not parse is the
    /// server misbehaving (or not being Vault): Unavailable.
    pub(crate) fn json<'a, T: Deserialize<'a>>(&'a self, what: &str) -> Result<T, BackendError> {
        serde_json::from_slice(&self.body).map_err(|_| {
            BackendError::Unavailable(format!(
                "{what}: Vault's answer (HTTP {}) is not the expected JSON",
                self.status.as_u16()
            ))
        })
    }

    /// The `errors` of Vault's error body, joined, shortened, or "" when there are none.
    pub(crate) fn errors(&self) -> String {
        #[derive(Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<String>,
        }
        let joined = serde_json::from_slice::<Errors>(&self.body)
            .map(|e| {
                e.errors
                    .iter()
                    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        shorten(joined, 300)
    }

    /// The error for an answer that is not a success, in `what`'s words. 404 is left to
    /// the caller when it needs to tell "deleted" from "missing"; here it is plain NotFound.
    pub(crate) fn error(&self, what: &str) -> BackendError {
        let code = self.status.as_u16();
        let detail = match self.errors() {
            e if e.is_empty() => String::new(),
            e => format!(": {e}"),
        };
        match self.status {
            StatusCode::NOT_FOUND => {
                BackendError::NotFound(format!("{what}: no such secret{}", paren(&detail)))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BackendError::Refused(format!(
                "{what}: the token was refused (HTTP {code}{detail}); check VAULT_TOKEN and its policies"
            )),
            StatusCode::SERVICE_UNAVAILABLE => BackendError::Unavailable(format!(
                "{what}: Vault is unavailable (HTTP 503{detail}); it may be sealed or in standby"
            )),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::PRECONDITION_FAILED => {
                BackendError::Unavailable(format!("{what}: Vault answered HTTP {code}{detail}"))
            }
            s if s.is_server_error() => {
                BackendError::Unavailable(format!("{what}: Vault failed (HTTP {code}{detail})"))
            }
            s if s.is_redirection() => BackendError::Unavailable(format!(
                "{what}: Vault answered with a redirect (HTTP {code}); point VAULT_ADDR at the active node"
            )),
            // Any other 4xx: the server turned this request down (a mount that requires
            // check-and-set, a KV v1 mount, an unsupported method).
            _ => BackendError::Refused(format!(
                "{what}: Vault rejected the request (HTTP {code}{detail})"
            )),
        }
    }
}

/// `": detail"` as `" (detail)"`, or "" when there is none.
fn paren(detail: &str) -> String {
    match detail.strip_prefix(": ") {
        Some(d) => format!(" ({d})"),
        None => String::new(),
    }
}

fn shorten(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A request body whose bytes are zeroized once hyper drops them.
pub(crate) fn secret_body(bytes: Zeroizing<Vec<u8>>) -> Full<Bytes> {
    Full::new(Bytes::from_owner(bytes))
}

/// A client for one Vault address and namespace, and the session that holds its token.
pub(crate) struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `http(s)://host:port[/prefix]`, without a trailing slash.
    addr: String,
    pub(crate) session: Session,
    namespace: Option<HeaderValue>,
    timeout: Duration,
    /// Explains TLS handshake failures in the settings' words.
    tls: crate::tls::Explainer,
}

impl Client {
    pub(crate) fn new(
        addr: String,
        https: bool,
        tls: &VaultTls,
        session: Session,
        namespace: Option<HeaderValue>,
        timeout: Duration,
        pool: usize,
    ) -> Result<Client, Error> {
        let (connector, explainer) = crate::tls::connector(https, tls, timeout)?;
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Client {
            http,
            addr,
            session,
            namespace,
            timeout,
            tls: explainer,
        })
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one request (`path` starts with `/v1/`) with the session's token (logging in
    /// first when there is none yet) and reads the whole answer, all within the time
    /// bound. A 403 that comes because the token expired or was revoked meanwhile (the
    /// token no longer looks itself up) is sent once more with a new token. Transport
    /// failures are Unavailable; statuses are the caller's to judge.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Full<Bytes>)>,
        what: &str,
    ) -> Result<Reply, BackendError> {
        let token = self.session.token(self).await?;
        let reply = self
            .send_as(
                Some(&token.secret),
                method.clone(),
                path,
                body.clone(),
                what,
            )
            .await?;
        if reply.status != StatusCode::FORBIDDEN {
            return Ok(reply);
        }
        match self.session.after_forbidden(self, &token).await? {
            Some(fresh) => {
                self.send_as(Some(&fresh.secret), method, path, body, what)
                    .await
            }
            None => Ok(reply),
        }
    }

    /// Sends one request as `token` (none: a login), as [`Client::send`] but without
    /// the session.
    pub(crate) async fn send_as(
        &self,
        token: Option<&SecretValue>,
        method: Method,
        path: &str,
        body: Option<(&'static str, Full<Bytes>)>,
        what: &str,
    ) -> Result<Reply, BackendError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.addr))
            .header("X-Vault-Request", "true");
        if let Some(token) = token {
            let mut token = HeaderValue::from_str(token.expose_secret()).map_err(|_| {
                BackendError::Refused("the Vault token is not a valid header value".into())
            })?;
            token.set_sensitive(true);
            req = req.header("X-Vault-Token", token);
        }
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns.clone());
        }
        let body = match body {
            Some((content_type, body)) => {
                req = req.header(CONTENT_TYPE, content_type);
                body
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|_| {
            BackendError::Unavailable(format!("{what}: could not build the request to Vault"))
        })?;
        let exchange = async {
            let resp = self.http.request(req).await.map_err(|e| {
                let kind = if e.is_connect() {
                    "cannot connect to"
                } else {
                    "the request failed at"
                };
                let why = self.tls.explain(&e).unwrap_or_else(|| root_cause(&e));
                BackendError::Unavailable(format!("{what}: {kind} {}: {why}", self.addr))
            })?;
            let status = resp.status();
            let expected = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
                .min(MAX_RESPONSE_BYTES);
            let mut body = Zeroizing::new(Vec::with_capacity(expected));
            let mut incoming = resp.into_body();
            while let Some(frame) = incoming.frame().await {
                let frame = frame.map_err(|e| {
                    BackendError::Unavailable(format!(
                        "{what}: reading Vault's answer failed: {}",
                        root_cause(&e)
                    ))
                })?;
                if let Some(chunk) = frame.data_ref() {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(BackendError::Unavailable(format!(
                            "{what}: Vault's answer is larger than {MAX_RESPONSE_BYTES} bytes"
                        )));
                    }
                    if body.capacity() < body.len() + chunk.len() {
                        // Grow by hand so that no unzeroized copy is left behind.
                        let mut bigger = Zeroizing::new(Vec::with_capacity(
                            (body.len() + chunk.len()).max(body.capacity() * 2),
                        ));
                        bigger.extend_from_slice(&body);
                        body = bigger;
                    }
                    body.extend_from_slice(chunk);
                }
            }
            Ok(Reply { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(BackendError::Unavailable(format!(
                "{what}: no answer from {} within {}",
                self.addr,
                describe(self.timeout)
            ))),
        }
    }
}

/// The innermost cause of a transport error ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    shorten(cur.to_string(), 200)
}

/// A timeout as the messages give it ("300 ms", "10 s").
pub(crate) fn describe(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}
