//! How to reach Vault: [`VaultSettings`], its defaults, and the checks that turn them into
//! what the client is built from.

use crate::reference::check_location;
use hyper::header::HeaderValue;
use secretstore_core::{Error, SecretValue};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The KV v2 mount used when none is configured.
pub const DEFAULT_KV_MOUNT: &str = "secret";
/// The time bound of one request to Vault, when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many requests one fetch keeps in flight, when not configured.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The default mount of the AppRole auth method (`VAULT_AUTH_MOUNT`).
pub const DEFAULT_APPROLE_MOUNT: &str = "approle";
/// Where Kubernetes mounts a pod's service-account token: the default `VAULT_JWT_FILE`.
pub const DEFAULT_JWT_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A secret setting: its value, or a file read again at every login (so that a file
/// rotated by Vault Agent, a CSI driver or the kubelet is picked up).
#[derive(Clone)]
pub enum Credential {
    /// The value itself (`VAULT_TOKEN`, `VAULT_SECRET_ID`).
    Value(SecretValue),
    /// A file holding it (`VAULT_TOKEN_FILE`, `VAULT_SECRET_ID_FILE`), trailing newline
    /// removed.
    File(PathBuf),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Value(_) => f.write_str("Value([REDACTED])"),
            Credential::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// Which JWT-based auth method logs in: the login body is the same (`role`, `jwt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtKind {
    /// The JWT/OIDC method (`VAULT_AUTH_METHOD=jwt`, default mount `jwt`).
    Jwt,
    /// The Kubernetes method (`VAULT_AUTH_METHOD=kubernetes`, default mount `kubernetes`).
    Kubernetes,
}

impl JwtKind {
    /// The method's name, which is also its default mount.
    pub fn name(self) -> &'static str {
        match self {
            JwtKind::Jwt => "jwt",
            JwtKind::Kubernetes => "kubernetes",
        }
    }
}

/// How secretstore gets its Vault token.
#[derive(Debug, Clone)]
pub enum VaultAuth {
    /// A token given to it (`VAULT_TOKEN`, or `VAULT_TOKEN_FILE`, read again when the
    /// token stops working); renewed with `renew-self` when it is renewable.
    Token(Credential),
    /// AppRole: `VAULT_ROLE_ID` and `VAULT_SECRET_ID` (or `VAULT_SECRET_ID_FILE`) at
    /// `auth/<mount>/login` (default mount `approle`).
    AppRole {
        /// The auth method's mount, without slashes at either end.
        mount: String,
        /// The role id (an identifier, not a secret on its own; never printed).
        role_id: String,
        /// The secret id.
        secret_id: Credential,
    },
    /// JWT or Kubernetes: `VAULT_AUTH_ROLE` and the token in `VAULT_JWT_FILE`, read at
    /// every login.
    Jwt {
        /// Which method.
        kind: JwtKind,
        /// The auth method's mount, without slashes at either end.
        mount: String,
        /// The role to log in as.
        role: String,
        /// The file holding the JWT.
        jwt_file: PathBuf,
    },
    /// TLS certificate: the client certificate of `VAULT_CLIENT_CERT` is the credential,
    /// at `auth/<mount>/login` (default mount `cert`); `role` (`VAULT_AUTH_ROLE`) names
    /// the certificate role to match, or Vault picks the one that matches.
    Cert {
        /// The auth method's mount, without slashes at either end.
        mount: String,
        /// The certificate role, if one is named.
        role: Option<String>,
    },
}

impl VaultAuth {
    /// The method as `doctor` names it: `token`, `approle`, `jwt` or `kubernetes`.
    pub fn method(&self) -> &'static str {
        match self {
            VaultAuth::Token(_) => "token",
            VaultAuth::AppRole { .. } => "approle",
            VaultAuth::Jwt { kind, .. } => kind.name(),
            VaultAuth::Cert { .. } => "cert",
        }
    }
}

/// TLS to Vault, as Vault's own CLI takes it. Paths only: nothing here is secret (the
/// client key is a file that is read when the client is built).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultTls {
    /// `VAULT_CACERT`: a PEM bundle of the CAs to trust instead of the system's.
    pub ca_cert: Option<PathBuf>,
    /// `VAULT_CAPATH`: a folder of PEM files of CAs to trust instead of the system's.
    pub ca_path: Option<PathBuf>,
    /// `VAULT_CLIENT_CERT`: the PEM certificate (chain) presented to Vault (mTLS
    /// listeners, the cert auth method).
    pub client_cert: Option<PathBuf>,
    /// `VAULT_CLIENT_KEY`: the PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// `VAULT_TLS_SERVER_NAME`: the name the server's certificate is checked against
    /// (and sent as SNI) instead of the host of `VAULT_ADDR`.
    pub server_name: Option<String>,
}

/// How to reach Vault. Built by the CLI's configuration module from `VAULT_ADDR`, the
/// login settings (`VAULT_TOKEN`, `VAULT_ROLE_ID`, `VAULT_AUTH_METHOD`, …), the TLS
/// settings (`VAULT_CACERT`, …), `VAULT_NAMESPACE` and `VAULT_KV_MOUNT`; this crate reads
/// no environment of its own.
///
/// Its `Debug` prints no token or secret id.
pub struct VaultSettings {
    /// `http://host:port` or `https://host:port` (a path prefix is allowed, for a proxy).
    pub addr: String,
    /// How the token is obtained.
    pub auth: VaultAuth,
    /// TLS trust and client certificates.
    pub tls: VaultTls,
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
    /// Settings for a static token, with the defaults: mount `secret`, no namespace,
    /// the system's CAs, 10 s per request, 8 requests in flight.
    pub fn new(addr: impl Into<String>, token: SecretValue) -> VaultSettings {
        VaultSettings::with_auth(addr, VaultAuth::Token(Credential::Value(token)))
    }

    /// Settings for any login method, with the same defaults as [`VaultSettings::new`].
    pub fn with_auth(addr: impl Into<String>, auth: VaultAuth) -> VaultSettings {
        VaultSettings {
            addr: addr.into(),
            auth,
            tls: VaultTls::default(),
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
            .field("auth", &self.auth)
            .field("tls", &self.tls)
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
    /// How the token is obtained.
    pub(crate) auth: VaultAuth,
    /// TLS trust and client certificates.
    pub(crate) tls: VaultTls,
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

        let auth = check_auth(s.auth)?;

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
            auth,
            tls: s.tls,
            namespace,
            namespace_header,
            mount,
            timeout: s.timeout,
            concurrency: s.concurrency,
        })
    }
}

/// A token is an opaque printable string; whitespace here is almost always a newline
/// copied from a file. The token itself is never echoed.
pub(crate) fn check_token(token: &str, setting: &str) -> Result<(), Error> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::config(
            format!(
                "{setting} is empty, or contains whitespace or characters that cannot be sent in an HTTP header"
            ),
            format!("check {setting} for a trailing newline or stray quotes"),
        ));
    }
    Ok(())
}

/// Checks the login settings; mounts lose their slashes.
fn check_auth(auth: VaultAuth) -> Result<VaultAuth, Error> {
    let mount = |m: String, setting: &str| -> Result<String, Error> {
        let m = m.trim().trim_matches('/').to_owned();
        check_location(&m).map_err(|why| {
            Error::config(
                format!("{setting} {m:?} {why}"),
                "the auth method's mount path, e.g. approle",
            )
        })?;
        Ok(m)
    };
    Ok(match auth {
        VaultAuth::Token(Credential::Value(t)) => {
            check_token(t.expose_secret(), "VAULT_TOKEN")?;
            VaultAuth::Token(Credential::Value(t))
        }
        VaultAuth::Token(file) => VaultAuth::Token(file),
        VaultAuth::AppRole {
            mount: m,
            role_id,
            secret_id,
        } => {
            if role_id.trim().is_empty() {
                return Err(Error::config(
                    "VAULT_ROLE_ID is empty",
                    "set VAULT_ROLE_ID to the AppRole's role id",
                ));
            }
            VaultAuth::AppRole {
                mount: mount(m, "VAULT_AUTH_MOUNT")?,
                role_id: role_id.trim().to_owned(),
                secret_id,
            }
        }
        VaultAuth::Jwt {
            kind,
            mount: m,
            role,
            jwt_file,
        } => {
            if role.trim().is_empty() {
                return Err(Error::config(
                    format!("VAULT_AUTH_METHOD={} needs VAULT_AUTH_ROLE", kind.name()),
                    "set VAULT_AUTH_ROLE to the role to log in as",
                ));
            }
            VaultAuth::Jwt {
                kind,
                mount: mount(m, "VAULT_AUTH_MOUNT")?,
                role: role.trim().to_owned(),
                jwt_file,
            }
        }
        VaultAuth::Cert { mount: m, role } => VaultAuth::Cert {
            mount: mount(m, "VAULT_AUTH_MOUNT")?,
            role: role.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()),
        },
    })
}
