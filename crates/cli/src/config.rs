//! Settings: read once, here, from the environment and a `.env` file in the working
//! directory (the real environment wins), validated, and handed down.

use crate::error::{CliError, Result};
use secretstore_core::name::short_echo;
use secretstore_core::timestamp::parse_duration;
use secretstore_core::{BackendKind, SecretValue};
use secretstore_store::Keyring;
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

/// Where briefs are kept.
pub(crate) enum BriefStoreUrl {
    Folder(PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        sse: SseSetting,
    },
}

/// Server-side encryption of S3 briefs.
pub(crate) enum SseSetting {
    Aes256,
    Kms { key_id: Option<String> },
}

/// AWS settings (the credentials come from the AWS SDK's standard chain).
pub(crate) struct AwsConfig {
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) sm_prefix: String,
}

/// Vault KV v2 settings. No `Debug`: it holds the token or secret id.
pub(crate) struct VaultConfig {
    pub(crate) addr: String,
    pub(crate) auth: secretstore_vault::VaultAuth,
    pub(crate) tls: secretstore_vault::VaultTls,
    pub(crate) namespace: Option<String>,
    pub(crate) kv_mount: String,
}

/// The checked configuration. No `Debug`: it holds the Fernet keys.
pub(crate) struct Config {
    pub(crate) secret_backend: BackendKind,
    /// `None` when no key is configured.
    pub(crate) keys: Option<Keyring>,
    pub(crate) database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`; each command picks its own default when unset.
    pub(crate) db_max_connections: Option<u32>,
    /// `DATABASE_ACQUIRE_TIMEOUT`: how long a request waits for a connection, in seconds.
    pub(crate) db_acquire_timeout_secs: i64,
    pub(crate) brief_store: BriefStoreUrl,
    /// Set when AWS is configured (a region, endpoint, profile or web identity,
    /// `SECRET_BACKEND=aws_sm`, or an s3:// brief store).
    pub(crate) aws: Option<AwsConfig>,
    /// Set when `VAULT_ADDR` is.
    pub(crate) vault: Option<VaultConfig>,
    pub(crate) callback_ttl_secs: i64,
    /// Lifetime of an unredeemed boot token (`SECRETSTORE_BOOT_TTL`), seconds.
    pub(crate) boot_ttl_secs: i64,
    /// The operating-system user, for `cli:<user>` in the audit log.
    pub(crate) os_user: String,
    /// The address `serve` listens on.
    pub(crate) listen: std::net::SocketAddr,
}

/// The raw settings: the environment over `.env`.
pub(crate) struct RawSettings {
    dotenv: HashMap<String, String>,
}

impl RawSettings {
    /// Reads `.env` from the working directory, if there is one.
    pub(crate) fn load() -> Result<Self> {
        let mut dotenv = HashMap::new();
        match dotenvy::from_path_iter(".env") {
            Ok(iter) => {
                for (i, item) in iter.enumerate() {
                    // dotenvy's own error quotes the line, which may hold a secret: never show it.
                    let (k, v) = item.map_err(|_| {
                        CliError::config(
                            format!("cannot parse .env: entry {} is malformed", i + 1),
                            "each line is NAME=value; quote values with spaces or newlines",
                        )
                    })?;
                    dotenv.insert(k, v);
                }
            }
            Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => {
                return Err(CliError::config(
                    "cannot read .env in the working directory",
                    "check its permissions and format",
                ));
            }
        }
        Ok(RawSettings { dotenv })
    }

    /// A setting: the environment first, then `.env`; empty counts as unset.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .or_else(|| self.dotenv.get(key).cloned())
            .filter(|v| !v.is_empty())
    }

    /// A secret setting that may come from a file instead: `NAME` or `NAME_FILE` (the
    /// file's content, trailing newline removed). Setting both is an error.
    pub(crate) fn secret_setting(&self, name: &str) -> Result<Option<String>> {
        let file_var = format!("{name}_FILE");
        match (self.get(name), self.get(&file_var)) {
            (Some(_), Some(_)) => Err(CliError::config(
                format!("both {name} and {file_var} are set"),
                "set only one of them",
            )),
            (Some(v), None) => Ok(Some(v)),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    CliError::config(
                        format!("{file_var}: cannot read {path}: {e}"),
                        "point it at a readable file",
                    )
                })?;
                let v = text.trim_end_matches(['\n', '\r']).to_string();
                if v.is_empty() {
                    return Err(CliError::config(
                        format!("{file_var}: {path} is empty"),
                        "put the value in the file",
                    ));
                }
                Ok(Some(v))
            }
            (None, None) => Ok(None),
        }
    }

    /// Whether a Fernet key is set anywhere.
    pub(crate) fn has_key(&self) -> bool {
        [
            "FERNET_SECRET_KEY",
            "FERNET_SECRET_KEYS",
            "FERNET_SECRET_KEY_FILE",
            "FERNET_SECRET_KEYS_FILE",
        ]
        .iter()
        .any(|k| self.get(k).is_some())
    }

    /// Checks every setting.
    pub(crate) fn validate(&self) -> Result<Config> {
        let secret_backend = match self.get("SECRET_BACKEND") {
            None => BackendKind::Local,
            Some(s) => BackendKind::from_str(&s).map_err(|e| {
                CliError::config(format!("SECRET_BACKEND: {e}"), "unset it for local")
            })?,
        };
        let keys = match (
            self.secret_setting("FERNET_SECRET_KEY")?.map(zeroize::Zeroizing::new),
            self.secret_setting("FERNET_SECRET_KEYS")?.map(zeroize::Zeroizing::new),
        ) {
            (Some(_), Some(_)) => {
                return Err(CliError::config(
                    "both FERNET_SECRET_KEY and FERNET_SECRET_KEYS are set",
                    "set only one: FERNET_SECRET_KEYS is a comma-separated list, newest first",
                ));
            }
            (Some(k), None) => Some(Keyring::parse(&k).map_err(|e| {
                CliError::config(
                    format!("FERNET_SECRET_KEY: {e}"),
                    "run `secretstore keygen` to make a valid key",
                )
            })?),
            (None, Some(k)) => Some(Keyring::parse(&k).map_err(|e| {
                CliError::config(
                    format!("FERNET_SECRET_KEYS: {e}"),
                    "a comma-separated list of keys as `secretstore keygen` prints them, newest first",
                )
            })?),
            (None, None) => None,
        };
        let database_url = self
            .secret_setting("DATABASE_URL")?
            .unwrap_or_else(|| "sqlite://secretstore.db".into());
        let supported = ["sqlite:", "postgres://", "postgresql://"];
        if !supported.iter().any(|p| database_url.starts_with(p)) {
            let scheme = database_url.split(':').next().unwrap_or("");
            return Err(CliError::config(
                format!(
                    "DATABASE_URL: the {} scheme is not supported",
                    short_echo(scheme)
                ),
                "use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            ));
        }
        let db_max_connections = match self.get("DATABASE_MAX_CONNECTIONS") {
            None => None,
            Some(n) => Some(self.bounded_count("DATABASE_MAX_CONNECTIONS", &n, MAX_CONNECTIONS)?),
        };
        let db_acquire_timeout_secs =
            self.bounded_duration("DATABASE_ACQUIRE_TIMEOUT", 5, ACQUIRE_TIMEOUT_SECS)?;
        let brief_store = match self.get("BRIEF_STORE_URL") {
            None => BriefStoreUrl::Folder(PathBuf::from("./briefs")),
            Some(u) if u.starts_with("s3://") => self.s3_brief_store(&u)?,
            Some(u) => match u.strip_prefix("file://") {
                Some(p) => BriefStoreUrl::Folder(PathBuf::from(p)),
                None if u.contains("://") => {
                    return Err(CliError::config(
                        format!("BRIEF_STORE_URL: unsupported URL {}", short_echo(&u)),
                        "use a folder path, file://PATH or s3://BUCKET/PREFIX",
                    ));
                }
                None => BriefStoreUrl::Folder(PathBuf::from(u)),
            },
        };
        let aws_wanted = secret_backend == BackendKind::AwsSm
            || matches!(brief_store, BriefStoreUrl::S3 { .. })
            || [
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_ENDPOINT_URL",
                "AWS_PROFILE",
                // Web identity (EKS IAM roles for service accounts): the region is still
                // needed, and its absence is then said by name.
                "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE",
            ]
            .iter()
            .any(|k| self.get(k).is_some());
        let aws = aws_wanted.then(|| AwsConfig {
            region: self
                .get("AWS_REGION")
                .or_else(|| self.get("AWS_DEFAULT_REGION")),
            endpoint_url: self.get("AWS_ENDPOINT_URL"),
            sm_prefix: self
                .get("AWS_SM_PREFIX")
                .unwrap_or_else(|| "secretstore/".into()),
        });
        let vault = match self.get("VAULT_ADDR") {
            None if secret_backend == BackendKind::Vault => {
                return Err(CliError::config(
                    "SECRET_BACKEND=vault but VAULT_ADDR is not set",
                    "set VAULT_ADDR, and VAULT_TOKEN or another login (see the README's Vault settings)",
                ));
            }
            None => None,
            Some(addr) => {
                if !(addr.starts_with("http://") || addr.starts_with("https://")) {
                    return Err(CliError::config(
                        format!(
                            "VAULT_ADDR: {} is not an http:// or https:// address",
                            short_echo(&addr)
                        ),
                        "like https://vault.example.com:8200",
                    ));
                }
                let auth = self.vault_auth()?;
                let tls = self.vault_tls(&addr)?;
                Some(VaultConfig {
                    addr,
                    auth,
                    tls,
                    namespace: self.get("VAULT_NAMESPACE"),
                    kv_mount: self
                        .get("VAULT_KV_MOUNT")
                        .unwrap_or_else(|| "secret".into())
                        .trim_matches('/')
                        .to_string(),
                })
            }
        };
        let callback_ttl_secs =
            self.bounded_duration("SECRETSTORE_CALLBACK_TTL", 24 * 3600, CALLBACK_TTL_SECS)?;
        let boot_ttl_secs = self.bounded_duration("SECRETSTORE_BOOT_TTL", 600, BOOT_TTL_SECS)?;
        let os_user = os_user();
        let listen_text = self
            .get("SECRETSTORE_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_text.parse().map_err(|_| {
            CliError::config(
                format!(
                    "SECRETSTORE_LISTEN: {} is not an address",
                    short_echo(&listen_text)
                ),
                "an IP address and port, like 127.0.0.1:8080",
            )
        })?;
        Ok(Config {
            secret_backend,
            keys,
            database_url,
            db_max_connections,
            db_acquire_timeout_secs,
            brief_store,
            aws,
            vault,
            callback_ttl_secs,
            boot_ttl_secs,
            os_user,
            listen,
        })
    }
}

/// What to set for a Vault login, as the errors say it.
const VAULT_LOGIN_HINT: &str = "set VAULT_TOKEN (or VAULT_TOKEN_FILE); or VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE) for AppRole; or VAULT_AUTH_METHOD=jwt|kubernetes and VAULT_AUTH_ROLE; or VAULT_AUTH_METHOD=cert with VAULT_CLIENT_CERT";

impl RawSettings {
    /// How secretstore logs in to Vault: `VAULT_AUTH_METHOD`, or the method its settings
    /// imply. Contradicting settings are an error, never a guess; so is a credential that
    /// nobody configured here (no fallback to `~/.vault-token`).
    fn vault_auth(&self) -> Result<secretstore_vault::VaultAuth> {
        use secretstore_vault::{JwtKind, VaultAuth};
        let token = self.credential("VAULT_TOKEN")?;
        let role_id = self.get("VAULT_ROLE_ID");
        let secret_id = self.credential("VAULT_SECRET_ID")?;
        let method = match self.get("VAULT_AUTH_METHOD") {
            Some(m) => m.trim().to_ascii_lowercase(),
            None => match (&token, &role_id) {
                (Some(_), Some(_)) => {
                    return Err(CliError::config(
                        "both VAULT_TOKEN and VAULT_ROLE_ID are set",
                        "set only one, or choose with VAULT_AUTH_METHOD=token|approle",
                    ));
                }
                (Some(_), None) => "token".into(),
                (None, Some(_)) => "approle".into(),
                (None, None) => {
                    return Err(CliError::config(
                        "VAULT_ADDR is set but no way to log in to Vault is",
                        VAULT_LOGIN_HINT,
                    ));
                }
            },
        };
        let unused = |names: &[&str], method: &str| -> Result<()> {
            match names.iter().find(|n| self.get(n).is_some()) {
                Some(n) => Err(CliError::config(
                    format!("{n} is set, but VAULT_AUTH_METHOD is {method}"),
                    format!("unset {n}, or set VAULT_AUTH_METHOD to the method it is for"),
                )),
                None => Ok(()),
            }
        };
        const TOKEN: [&str; 2] = ["VAULT_TOKEN", "VAULT_TOKEN_FILE"];
        const APPROLE: [&str; 3] = ["VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_SECRET_ID_FILE"];
        const JWT: [&str; 2] = ["VAULT_AUTH_ROLE", "VAULT_JWT_FILE"];
        let mount = |default: &str| {
            self.get("VAULT_AUTH_MOUNT")
                .unwrap_or_else(|| default.to_owned())
        };
        Ok(match method.as_str() {
            "token" => {
                unused(&APPROLE, "token")?;
                unused(&JWT, "token")?;
                unused(&["VAULT_AUTH_MOUNT"], "token")?;
                VaultAuth::Token(token.ok_or_else(|| {
                    CliError::config(
                        "VAULT_AUTH_METHOD=token but VAULT_TOKEN is not set",
                        "set VAULT_TOKEN or VAULT_TOKEN_FILE",
                    )
                })?)
            }
            "approle" => {
                unused(&TOKEN, "approle")?;
                unused(&JWT, "approle")?;
                let role_id = role_id.ok_or_else(|| {
                    CliError::config(
                        "AppRole login needs VAULT_ROLE_ID",
                        "set VAULT_ROLE_ID and VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE)",
                    )
                })?;
                let secret_id = secret_id.ok_or_else(|| {
                    CliError::config(
                        "AppRole login needs VAULT_SECRET_ID or VAULT_SECRET_ID_FILE",
                        "set one of them to the role's secret id",
                    )
                })?;
                VaultAuth::AppRole {
                    mount: mount(secretstore_vault::DEFAULT_APPROLE_MOUNT),
                    role_id,
                    secret_id,
                }
            }
            "jwt" | "kubernetes" => {
                unused(&TOKEN, &method)?;
                unused(&APPROLE, &method)?;
                let kind = if method == "jwt" {
                    JwtKind::Jwt
                } else {
                    JwtKind::Kubernetes
                };
                let role = self.get("VAULT_AUTH_ROLE").ok_or_else(|| {
                    CliError::config(
                        format!("VAULT_AUTH_METHOD={method} needs VAULT_AUTH_ROLE"),
                        "set VAULT_AUTH_ROLE to the role to log in as",
                    )
                })?;
                let jwt_file = self
                    .get("VAULT_JWT_FILE")
                    .unwrap_or_else(|| secretstore_vault::DEFAULT_JWT_FILE.to_owned());
                VaultAuth::Jwt {
                    kind,
                    mount: mount(kind.name()),
                    role,
                    jwt_file: PathBuf::from(jwt_file),
                }
            }
            "cert" => {
                unused(&TOKEN, "cert")?;
                unused(&APPROLE, "cert")?;
                unused(&["VAULT_JWT_FILE"], "cert")?;
                if self.get("VAULT_CLIENT_CERT").is_none() {
                    return Err(CliError::config(
                        "VAULT_AUTH_METHOD=cert needs VAULT_CLIENT_CERT and VAULT_CLIENT_KEY",
                        "set them to the client certificate (and its key) that the cert auth method trusts",
                    ));
                }
                VaultAuth::Cert {
                    mount: mount("cert"),
                    role: self.get("VAULT_AUTH_ROLE"),
                }
            }
            other => {
                return Err(CliError::config(
                    format!(
                        "VAULT_AUTH_METHOD: {} is not a login method",
                        short_echo(other)
                    ),
                    "use token, approle, jwt, kubernetes or cert",
                ));
            }
        })
    }

    /// `NAME` as a value, or `NAME_FILE` as a file read again at every login; setting both
    /// is an error, and so is a file that cannot be read now.
    fn credential(&self, name: &str) -> Result<Option<secretstore_vault::Credential>> {
        use secretstore_vault::Credential;
        let file_var = format!("{name}_FILE");
        match (self.get(name), self.get(&file_var)) {
            (Some(_), Some(_)) => Err(CliError::config(
                format!("both {name} and {file_var} are set"),
                "set only one of them",
            )),
            (Some(v), None) => Ok(Some(Credential::Value(SecretValue::new(v).map_err(
                |_| CliError::config(format!("{name} is not usable"), format!("set {name}")),
            )?))),
            (None, Some(path)) => {
                // Checked now, read again at each login.
                self.secret_setting(name)?;
                Ok(Some(Credential::File(PathBuf::from(path))))
            }
            (None, None) => Ok(None),
        }
    }

    /// TLS to Vault: `VAULT_CACERT`, `VAULT_CAPATH`, `VAULT_CLIENT_CERT` with
    /// `VAULT_CLIENT_KEY`, `VAULT_TLS_SERVER_NAME`. `VAULT_SKIP_VERIFY` is refused: the
    /// certificate of Vault is always verified.
    fn vault_tls(&self, addr: &str) -> Result<secretstore_vault::VaultTls> {
        if let Some(v) = self.get("VAULT_SKIP_VERIFY")
            && !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "f" | "no" | "off"
            )
        {
            return Err(CliError::config(
                "VAULT_SKIP_VERIFY is set: secretstore never switches off the verification of Vault's certificate",
                "unset it, and set VAULT_CACERT to the CA bundle that signed Vault's certificate (for `bao server -dev-tls`, the vault-ca.pem it writes)",
            ));
        }
        let tls = secretstore_vault::VaultTls {
            ca_cert: self.get("VAULT_CACERT").map(PathBuf::from),
            ca_path: self.get("VAULT_CAPATH").map(PathBuf::from),
            client_cert: self.get("VAULT_CLIENT_CERT").map(PathBuf::from),
            client_key: self.get("VAULT_CLIENT_KEY").map(PathBuf::from),
            server_name: self.get("VAULT_TLS_SERVER_NAME"),
        };
        match (&tls.client_cert, &tls.client_key) {
            (Some(_), None) => {
                return Err(CliError::config(
                    "VAULT_CLIENT_CERT is set but VAULT_CLIENT_KEY is not",
                    "set both, or neither",
                ));
            }
            (None, Some(_)) => {
                return Err(CliError::config(
                    "VAULT_CLIENT_KEY is set but VAULT_CLIENT_CERT is not",
                    "set both, or neither",
                ));
            }
            _ => {}
        }
        if tls != secretstore_vault::VaultTls::default() && !addr.starts_with("https://") {
            return Err(CliError::config(
                "VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT or VAULT_TLS_SERVER_NAME is set, but VAULT_ADDR is not an https:// address",
                "use https:// in VAULT_ADDR, or unset the TLS settings",
            ));
        }
        Ok(tls)
    }
}

/// Bounds of `SECRETSTORE_CALLBACK_TTL`: one second to 30 days.
pub(crate) const CALLBACK_TTL_SECS: (i64, i64) = (1, 30 * 86_400);
/// Bounds of `SECRETSTORE_BOOT_TTL`: one second to one day.
pub(crate) const BOOT_TTL_SECS: (i64, i64) = (1, 86_400);
/// Bounds of `DATABASE_ACQUIRE_TIMEOUT`: one second to 10 minutes.
pub(crate) const ACQUIRE_TIMEOUT_SECS: (i64, i64) = (1, 600);
/// Bounds of `DATABASE_MAX_CONNECTIONS`.
pub(crate) const MAX_CONNECTIONS: (u32, u32) = (1, 1000);

/// A number of seconds as the shortest of `d`, `h`, `m`, `s` that shows it exactly.
fn duration_text(secs: i64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

impl RawSettings {
    /// A duration setting within `bounds` (seconds, inclusive); `default` when unset. Out
    /// of bounds or unreadable: a start-up error naming the bounds, never a panic later.
    fn bounded_duration(&self, key: &str, default: i64, bounds: (i64, i64)) -> Result<i64> {
        let Some(s) = self.get(key) else {
            return Ok(default);
        };
        let (lo, hi) = bounds;
        let range = format!(
            "{key} must be between {} and {}",
            duration_text(lo),
            duration_text(hi)
        );
        match parse_duration(&s) {
            Some(n) if (lo..=hi).contains(&n) => Ok(n),
            Some(_) => Err(CliError::config(
                range,
                "seconds, or a number with s, m, h or d, like 24h",
            )),
            None => Err(CliError::config(
                format!("{range}; cannot read {} as a duration", short_echo(&s)),
                "seconds, or a number with s, m, h or d, like 24h",
            )),
        }
    }

    /// A count setting within `bounds` (inclusive).
    fn bounded_count(&self, key: &str, s: &str, bounds: (u32, u32)) -> Result<u32> {
        let (lo, hi) = bounds;
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (u64::from(lo)..=u64::from(hi)).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                CliError::config(
                    format!("{key} must be between {lo} and {hi}"),
                    "a whole number, like 16",
                )
            })
    }

    fn s3_brief_store(&self, url: &str) -> Result<BriefStoreUrl> {
        let rest = &url["s3://".len()..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(CliError::config(
                format!("BRIEF_STORE_URL: no bucket in {}", short_echo(url)),
                "s3://BUCKET/PREFIX",
            ));
        }
        let sse = match self.get("BRIEF_SSE").as_deref() {
            None | Some("AES256") => SseSetting::Aes256,
            Some("aws:kms") => SseSetting::Kms {
                key_id: self.get("BRIEF_SSE_KMS_KEY_ID"),
            },
            Some(other) => {
                return Err(CliError::config(
                    format!("BRIEF_SSE: unknown value {}", short_echo(other)),
                    "AES256 or aws:kms (with BRIEF_SSE_KMS_KEY_ID)",
                ));
            }
        };
        Ok(BriefStoreUrl::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            sse,
        })
    }
}

/// The name of the operating-system user: `$USER`, `$LOGNAME`, else the passwd entry of
/// the process's uid, else `uid:<n>`.
fn os_user() -> String {
    if let Some(u) = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|u| !u.is_empty())
    {
        return u;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) {
            let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
                p.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
                })
            });
            return name.unwrap_or_else(|| format!("uid:{uid}"));
        }
    }
    "unknown".into()
}

// ---------------------------------------------------------------------------------------
// The settings only `serve` reads: trusted proxies, brute-force limits, TLS.

/// What `serve` needs beyond [`Config`].
pub(crate) struct ServeSettings {
    /// `SECRETSTORE_TRUSTED_PROXIES`.
    pub(crate) trusted_proxies: secretstore_server::auth::Networks,
    /// `SECRETSTORE_METRICS_ALLOW`: who may read `/metrics` (default: loopback).
    pub(crate) metrics_allow: secretstore_server::auth::Networks,
    /// `SECRETSTORE_AUTH_FAILURES_PER_MINUTE` and `SECRETSTORE_AUTH_LOCKOUT`.
    pub(crate) limits: secretstore_server::limit::Limits,
    /// `SECRETSTORE_TLS_CERT` and `SECRETSTORE_TLS_KEY`: both or neither.
    pub(crate) tls: Option<crate::tls::TlsFiles>,
    /// The bounds of the wire: connections, header reads, whole requests.
    pub(crate) wire: WireSettings,
}

/// What one client, or many, can hold of `serve`: each bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireSettings {
    /// `SECRETSTORE_MAX_CONNECTIONS`: connections served at once; more wait to be accepted.
    pub(crate) max_connections: usize,
    /// `SECRETSTORE_HEADER_READ_TIMEOUT`: how long a connection may take to send a
    /// request's headers, the first or the next on a kept-alive connection (so it is also
    /// the idle timeout of keep-alive).
    pub(crate) header_read_timeout: std::time::Duration,
    /// `SECRETSTORE_REQUEST_TIMEOUT`: how long one request may take, answered 503 after.
    pub(crate) request_timeout: std::time::Duration,
}

impl Default for WireSettings {
    fn default() -> Self {
        WireSettings {
            max_connections: 4096,
            header_read_timeout: std::time::Duration::from_secs(30),
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The bounds of `SECRETSTORE_MAX_CONNECTIONS`.
const MAX_SERVED: (u32, u32) = (1, 100_000);
/// The bounds of `SECRETSTORE_WORKER_THREADS`.
const WORKER_THREADS: (u32, u32) = (1, 1024);
/// The bounds of `SECRETSTORE_HEADER_READ_TIMEOUT` and `SECRETSTORE_REQUEST_TIMEOUT`, in
/// seconds: 1 s to 10 minutes.
const WIRE_TIMEOUT_SECS: (i64, i64) = (1, 600);

/// The bounds of `SECRETSTORE_AUTH_FAILURES_PER_MINUTE`.
const AUTH_FAILURES: (u32, u32) = (1, 10_000);
/// The bounds of `SECRETSTORE_AUTH_LOCKOUT`, in seconds: 1 s to 1 day.
const AUTH_LOCKOUT_SECS: (i64, i64) = (1, 86_400);

impl RawSettings {
    /// Checks the settings of `serve`.
    pub(crate) fn serve_settings(&self) -> Result<ServeSettings> {
        let trusted_proxies = self.networks("SECRETSTORE_TRUSTED_PROXIES", "")?;
        let metrics_allow = self.networks(
            "SECRETSTORE_METRICS_ALLOW",
            secretstore_server::metrics::DEFAULT_METRICS_ALLOW,
        )?;
        let mut limits = secretstore_server::limit::Limits::default();
        if let Some(text) = self.get("SECRETSTORE_AUTH_FAILURES_PER_MINUTE") {
            limits.failures =
                self.bounded_count("SECRETSTORE_AUTH_FAILURES_PER_MINUTE", &text, AUTH_FAILURES)?;
        }
        let default_lockout = i64::try_from(limits.lockout.as_secs()).unwrap_or(i64::MAX);
        let lockout = self.bounded_duration(
            "SECRETSTORE_AUTH_LOCKOUT",
            default_lockout,
            AUTH_LOCKOUT_SECS,
        )?;
        limits.lockout = std::time::Duration::from_secs(lockout.unsigned_abs());
        let tls = match (
            self.get("SECRETSTORE_TLS_CERT"),
            self.get("SECRETSTORE_TLS_KEY"),
        ) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (Some(_), None) | (None, Some(_)) => {
                return Err(CliError::config(
                    "SECRETSTORE_TLS_CERT and SECRETSTORE_TLS_KEY go together: only one is set",
                    "set both (PEM files: the certificate chain and its private key), or neither for plain HTTP",
                ));
            }
        };
        let defaults = WireSettings::default();
        let secs = |key: &str, default: std::time::Duration| {
            let default = i64::try_from(default.as_secs()).unwrap_or(i64::MAX);
            self.bounded_duration(key, default, WIRE_TIMEOUT_SECS)
                .map(|n| std::time::Duration::from_secs(n.unsigned_abs()))
        };
        let wire = WireSettings {
            max_connections: match self.get("SECRETSTORE_MAX_CONNECTIONS") {
                None => defaults.max_connections,
                Some(n) => {
                    self.bounded_count("SECRETSTORE_MAX_CONNECTIONS", &n, MAX_SERVED)? as usize
                }
            },
            header_read_timeout: secs(
                "SECRETSTORE_HEADER_READ_TIMEOUT",
                defaults.header_read_timeout,
            )?,
            request_timeout: secs("SECRETSTORE_REQUEST_TIMEOUT", defaults.request_timeout)?,
        };
        Ok(ServeSettings {
            trusted_proxies,
            metrics_allow,
            limits,
            tls,
            wire,
        })
    }

    /// A list of addresses and networks (`SECRETSTORE_TRUSTED_PROXIES`,
    /// `SECRETSTORE_METRICS_ALLOW`), `default` when unset.
    fn networks(&self, key: &str, default: &str) -> Result<secretstore_server::auth::Networks> {
        let text = self.get(key).unwrap_or_else(|| default.to_owned());
        secretstore_server::auth::Networks::parse(&text).map_err(|e| {
            CliError::config(
                format!("{key}: {e}"),
                "a comma-separated list of addresses and networks, like 127.0.0.1,10.0.0.0/8",
            )
        })
    }

    /// `SECRETSTORE_WORKER_THREADS`: the threads `serve`'s runtime runs requests on; by
    /// default one per core.
    pub(crate) fn worker_threads(&self) -> Result<usize> {
        match self.get("SECRETSTORE_WORKER_THREADS") {
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
            Some(n) => {
                Ok(self.bounded_count("SECRETSTORE_WORKER_THREADS", &n, WORKER_THREADS)? as usize)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("+5"), None);
        assert_eq!(parse_duration("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_duration("99999999999999999999999d"), Some(i64::MAX));
        assert_eq!(
            parse_duration("106751991167300d"),
            Some(106_751_991_167_300 * 86_400)
        );
        assert_eq!(parse_duration("106751991167301d"), Some(i64::MAX));
        assert_eq!(duration_text(30 * 86_400), "30d");
        assert_eq!(duration_text(600), "10m");
        assert_eq!(duration_text(1), "1s");
    }
}
