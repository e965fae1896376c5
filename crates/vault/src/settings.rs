//! How to reach Vault: [`VaultSettings`], its defaults, and the checks that turn them into
//! what the client is built from.

use crate::reference::check_location;
use hyper::header::HeaderValue;
use secretstore_core::{Error, SecretValue};
use std::fmt;
use std::time::Duration;

/// The KV v2 mount used when none is configured.
pub const DEFAULT_KV_MOUNT: &str = "secret";
/// The time bound of one request to Vault, when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many requests one fetch keeps in flight, when not configured.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How to reach Vault. Built by the CLI's configuration module from `VAULT_ADDR`,
/// `VAULT_TOKEN`, `VAULT_NAMESPACE` and `VAULT_KV_MOUNT`; this crate reads no
/// environment of its own.
///
/// Its `Debug` prints the token as `[REDACTED]`.
pub struct VaultSettings {
    /// `http://host:port` or `https://host:port` (a path prefix is allowed, for a proxy).
    pub addr: String,
    /// The Vault token, sent as `X-Vault-Token`.
    pub token: SecretValue,
    /// The Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// The KV v2 mount new secrets are written to (default `secret`).
    pub kv_mount: String,
    /// The time bound of each request (default 10 s).
    pub timeout: Duration,
    /// How many requests one fetch keeps in flight (default 8).
    pub concurrency: usize,
}

impl VaultSettings {
    /// Settings with the defaults: mount `secret`, no namespace, 10 s per request,
    /// 8 requests in flight.
    pub fn new(addr: impl Into<String>, token: SecretValue) -> VaultSettings {
        VaultSettings {
            addr: addr.into(),
            token,
            namespace: None,
            kv_mount: DEFAULT_KV_MOUNT.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl fmt::Debug for VaultSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultSettings")
            .field("addr", &self.addr)
            .field("token", &"[REDACTED]")
            .field("namespace", &self.namespace)
            .field("kv_mount", &self.kv_mount)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// The settings once checked: what the client and the backend are built from. No
/// `Debug`: it holds the token.
pub(crate) struct Checked {
    /// The address, without a trailing slash.
    pub(crate) addr: String,
    /// Whether the address is `https://`.
    pub(crate) https: bool,
    /// The token.
    pub(crate) token: SecretValue,
    /// The namespace, without slashes at either end.
    pub(crate) namespace: Option<String>,
    /// The namespace as the `X-Vault-Namespace` header.
    pub(crate) namespace_header: Option<HeaderValue>,
    /// The KV v2 mount, without slashes at either end.
    pub(crate) mount: String,
    /// The time bound of each request.
    pub(crate) timeout: Duration,
    /// How many requests one fetch keeps in flight.
    pub(crate) concurrency: usize,
}

impl VaultSettings {
    /// Checks every setting; the errors never echo the token or a password in the address.
    pub(crate) fn check(self) -> Result<Checked, Error> {
        let s = self;
        let addr = s.addr.trim().trim_end_matches('/').to_owned();
        let uri: hyper::Uri = addr.parse().map_err(|_| {
            Error::config(
                format!("VAULT_ADDR {addr:?} is not a URL"),
                "set VAULT_ADDR to the server's address, e.g. http://127.0.0.1:8200",
            )
        })?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(Error::config(
                    format!("VAULT_ADDR {addr:?} must start with http:// or https://"),
                    "set VAULT_ADDR to the server's address, e.g. http://127.0.0.1:8200",
                ));
            }
        };
        let Some(authority) = uri.authority() else {
            return Err(Error::config(
                format!("VAULT_ADDR {addr:?} has no host"),
                "set VAULT_ADDR to the server's address, e.g. http://127.0.0.1:8200",
            ));
        };
        if authority.as_str().contains('@') {
            // Never echo it: the part before @ is a credential.
            return Err(Error::config(
                "VAULT_ADDR must not contain a user name or password",
                "put the token in VAULT_TOKEN and only the address in VAULT_ADDR",
            ));
        }
        if uri.query().is_some() || addr.contains('#') {
            return Err(Error::config(
                format!("VAULT_ADDR {addr:?} must not have a query or fragment"),
                "set VAULT_ADDR to the server's address, e.g. http://127.0.0.1:8200",
            ));
        }

        // A token is an opaque printable string; whitespace here is almost always a
        // newline copied from a file. The token itself is never echoed.
        if !s
            .token
            .expose_secret()
            .bytes()
            .all(|b| b.is_ascii_graphic())
        {
            return Err(Error::config(
                "VAULT_TOKEN contains whitespace or characters that cannot be sent in an HTTP header",
                "check VAULT_TOKEN for a trailing newline or stray quotes",
            ));
        }

        let namespace = match s.namespace.as_deref().map(|n| n.trim().trim_matches('/')) {
            None | Some("") => None,
            Some(ns) => {
                if check_location(ns).is_err() {
                    return Err(Error::config(
                        format!("VAULT_NAMESPACE {ns:?} is not a namespace path"),
                        "a namespace looks like team or team/child",
                    ));
                }
                Some(ns.to_owned())
            }
        };
        let namespace_header = match &namespace {
            None => None,
            Some(ns) => Some(HeaderValue::from_str(ns).map_err(|_| {
                Error::config(
                    format!("VAULT_NAMESPACE {ns:?} cannot be sent in an HTTP header"),
                    "a namespace looks like team or team/child",
                )
            })?),
        };

        let mount = s.kv_mount.trim().trim_matches('/').to_owned();
        if let Err(why) = check_location(&mount) {
            return Err(Error::config(
                format!("VAULT_KV_MOUNT {:?} {why}", s.kv_mount),
                "set VAULT_KV_MOUNT to the KV v2 mount's path, e.g. secret",
            ));
        }
        if mount.contains('#') {
            return Err(Error::config(
                format!("VAULT_KV_MOUNT {mount:?} must not contain #"),
                "set VAULT_KV_MOUNT to the KV v2 mount's path, e.g. secret",
            ));
        }
        if s.timeout.is_zero() {
            return Err(Error::Invalid(
                "the Vault request timeout must be positive".into(),
            ));
        }
        if s.concurrency == 0 {
            return Err(Error::Invalid(
                "the Vault fetch concurrency must be at least 1".into(),
            ));
        }

        Ok(Checked {
            addr,
            https,
            token: s.token,
            namespace,
            namespace_header,
            mount,
            timeout: s.timeout,
            concurrency: s.concurrency,
        })
    }
}
