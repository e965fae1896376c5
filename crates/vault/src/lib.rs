//! The HashiCorp Vault / OpenBao KV v2 value backend of secretstore.
//!
//! Values live in Vault; the database keeps only the reference `MOUNT/PATH#FIELD` and
//! the KV version number. A new secret is written to `secretstore/<scope>/<NAME>`, field
//! `value`, in the configured mount; a linked secret keeps the path and field it was
//! linked with, and a write through secretstore changes only that field.
//!
//! Every fetch asks Vault: a `vault kv put` (or `bao kv put`) made outside secretstore
//! takes effect at the next fetch. Nothing is cached.
//!
//! Failures keep three kinds apart ([`BackendError`]): `NotFound` (no such secret, a
//! deleted or destroyed version, a missing field), `Refused` (403, a bad token) and
//! `Unavailable` (connection refused, timeout, 5xx, sealed). No error message carries a
//! value or the token.
//!
//! A write is a KV v2 `PATCH` (JSON merge patch) of the one field, so the other fields of
//! a linked entry are kept without their values ever reaching secretstore; a new entry is
//! created with `cas=0`. A write that secretstore must take back (an import that failed on
//! a later entry, a database commit that failed) is undone: the field as the version
//! before had it is written again with `cas` on the new version (so a later write is never
//! undone), and the new version is destroyed; a new entry's metadata is deleted. The token
//! therefore needs, on the paths it writes to:
//!
//! ```hcl
//! path "secret/data/secretstore/*"     { capabilities = ["create", "read", "update", "patch"] }
//! path "secret/metadata/secretstore/*" { capabilities = ["read", "delete"] }  # link, doctor, undo
//! path "secret/destroy/secretstore/*"  { capabilities = ["update"] }          # undo
//! ```
//!
//! A reference's mount is the configured mount when the reference starts with it (so a
//! nested mount such as `team/kv` works as `VAULT_KV_MOUNT`), otherwise its first path
//! segment.
//!
//! ```no_run
//! use secretstore_core::{Fetch, ScopePath, SecretName, SecretValue, ValueBackend};
//! use secretstore_vault::{VaultBackend, VaultSettings};
//!
//! # async fn demo() -> Result<(), secretstore_core::Error> {
//! let token = SecretValue::new("root".to_owned())?;
//! let vault = VaultBackend::new(VaultSettings::new("http://127.0.0.1:8200", token))?;
//! println!("{}", vault.check().await?);
//!
//! let scope = ScopePath::parse("acme/platform")?;
//! let name = SecretName::parse("DB_URL")?;
//! let value = SecretValue::new("postgres://db/prod".to_owned())?;
//! let material = vault.write(&scope, &name, &value, None).await?.material;
//! assert_eq!(
//!     material.backend_ref.as_deref(),
//!     Some("secret/secretstore/acme/platform/DB_URL#value")
//! );
//!
//! let fetched = vault.fetch(&[&material], Fetch::Current).await;
//! assert_eq!(fetched[0].as_ref().unwrap().value.expose_secret(), "postgres://db/prod");
//!
//! // A value that already lives in Vault, by reference: only its metadata is read.
//! let linked = vault.link("secret/legacy/app#password").await?;
//! # let _ = linked;
//! # Ok(())
//! # }
//! ```
#![allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "issue #11: this crate is brought clean under the workspace lints on its own branch, not merged yet"
)]
#![forbid(unsafe_code)]

mod http;
mod reference;

use crate::http::{Client, Reply, secret_body};
use crate::reference::{KvRef, check_location};
use futures_util::StreamExt;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Change, Error, Fetch, Fetched, ScopePath, SecretName,
    SecretValue, StoredMaterial, ValueBackend, Written,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;
use zeroize::Zeroizing;

/// The KV v2 mount used when none is configured.
pub const DEFAULT_KV_MOUNT: &str = "secret";
/// The time bound of one request to Vault, when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many requests one fetch keeps in flight, when not configured.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How many times a write retries after losing a check-and-set race to another writer.
const WRITE_ATTEMPTS: usize = 3;

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

/// The Vault KV v2 backend. See the [crate documentation](crate).
pub struct VaultBackend {
    client: Client,
    mount: String,
    namespace: Option<String>,
    concurrency: usize,
}

impl fmt::Debug for VaultBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultBackend")
            .field("addr", &self.client.addr())
            .field("namespace", &self.namespace)
            .field("kv_mount", &self.mount)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl VaultBackend {
    /// Checks the settings and builds the client; no request is made (see
    /// [`ValueBackend::check`]). Requests need a Tokio runtime; building does not.
    pub fn new(s: VaultSettings) -> Result<VaultBackend, Error> {
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

        let client = Client::new(
            addr,
            https,
            s.token,
            namespace_header,
            s.timeout,
            s.concurrency,
        )?;
        Ok(VaultBackend {
            client,
            mount,
            namespace,
            concurrency: s.concurrency,
        })
    }

    fn parse_stored(&self, m: &StoredMaterial) -> Result<KvRef, BackendError> {
        let reference = m.backend_ref.as_deref().ok_or_else(|| {
            BackendError::NotFound("no Vault reference is stored for this version".into())
        })?;
        KvRef::parse(reference, &self.mount).map_err(|why| {
            BackendError::NotFound(format!("the stored reference is unusable: {why}"))
        })
    }

    async fn fetch_one(&self, m: &StoredMaterial, which: Fetch) -> Result<Fetched, BackendError> {
        let r = self.parse_stored(m)?;
        let version = match which {
            Fetch::Current => None,
            Fetch::Recorded => Some(recorded_version(&r, m)?),
        };
        let (value, read) = self.read_field(&r, version).await?;
        Ok(Fetched {
            value,
            version: read.or(version).map(|v| v.to_string()),
        })
    }

    /// Reads one field of one version (the latest when `version` is None), and the KV
    /// version that answered.
    async fn read_field(
        &self,
        r: &KvRef,
        version: Option<u64>,
    ) -> Result<(SecretValue, Option<u64>), BackendError> {
        let what = match version {
            Some(v) => format!("Vault {r} (version {v})"),
            None => format!("Vault {r}"),
        };
        let path = match version {
            Some(v) => format!("{}?version={v}", r.data_path()),
            None => r.data_path(),
        };
        let reply = self.client.send(Method::GET, &path, None, &what).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(not_found(&reply, &what)),
            _ => return Err(reply.error(&what)),
        }
        let read: DataReply<'_> = reply.json(&what)?;
        let Some(data) = read.data else {
            return Err(BackendError::Unavailable(format!(
                "{what}: Vault's answer has no data"
            )));
        };
        let Some(fields) = data.data else {
            // A version without data is a deleted or destroyed one, whatever the status.
            return Err(BackendError::NotFound(match data.metadata {
                Some(meta) => format!("{what}: version {} is {}", meta.version, meta.state()),
                None => format!("{what}: no data"),
            }));
        };
        let read = data.metadata.as_ref().map(|m| m.version).filter(|v| *v > 0);
        let raw = fields
            .get(r.field.as_str())
            .copied()
            .filter(|v| v.get() != "null");
        let Some(raw) = raw else {
            let at = data
                .metadata
                .map(|m| format!(" of version {}", m.version))
                .unwrap_or_default();
            return Err(BackendError::NotFound(format!(
                "{what}: the entry{at} has no field {:?}",
                r.field
            )));
        };
        let value = field_value(raw).ok_or_else(|| {
            BackendError::NotFound(format!("{what}: the field {:?} is not text", r.field))
        })?;
        Ok((value, read))
    }

    /// The field of version `version` as it was, for an undo: `Ok(None)` when that version
    /// is deleted or destroyed (or never existed), `Ok(Some(None))` when it had no such field.
    async fn field_of_version(
        &self,
        r: &KvRef,
        version: u64,
    ) -> Result<Option<Option<SecretValue>>, BackendError> {
        match self.read_field(r, Some(version)).await {
            Ok((v, _)) => Ok(Some(Some(v))),
            Err(BackendError::NotFound(m)) if m.contains("has no field") => Ok(Some(None)),
            Err(BackendError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Takes back a write or restore (see [`ValueBackend::undo`]).
    async fn undo_inner(&self, written: &Written) -> Result<(), BackendError> {
        if written.change == Change::Nothing {
            return Ok(());
        }
        let r = self.parse_stored(&written.material)?;
        let ours = recorded_version(&r, &written.material)?;
        let what = format!("Vault {r}");
        if written.change == Change::Created {
            // The entry did not exist before: its metadata goes, with every version,
            // unless someone else wrote to it since.
            let reply = self
                .client
                .send(Method::GET, &r.metadata_path(), None, &what)
                .await?;
            if !reply.status.is_success() {
                return Err(reply.error(&what));
            }
            let meta: MetadataReply = reply.json(&what)?;
            let current = meta.data.map(|m| m.current_version).unwrap_or_default();
            if current != ours {
                return Err(BackendError::Unavailable(format!(
                    "{what}: version {current} was written after ours ({ours}); left as it is"
                )));
            }
            let reply = self
                .client
                .send(Method::DELETE, &r.metadata_path(), None, &what)
                .await?;
            return if reply.status.is_success() {
                Ok(())
            } else {
                Err(reply.error(&what))
            };
        }
        // The field as the version before ours had it becomes current again, written with
        // check-and-set on our version (so a later write is never undone), and our
        // version is destroyed.
        let before = match ours {
            1 => None,
            n => self.field_of_version(&r, n - 1).await?,
        };
        if let Some(field) = before {
            let body = patch_body(&r.field, field.as_ref(), ours);
            let reply = self
                .client
                .send(
                    Method::PATCH,
                    &r.data_path(),
                    Some(("application/merge-patch+json", body)),
                    &what,
                )
                .await?;
            if !reply.status.is_success() {
                return Err(match reply.status {
                    StatusCode::BAD_REQUEST if reply.errors().contains("check-and-set") => {
                        BackendError::Unavailable(format!(
                            "{what}: a version was written after ours ({ours}); left as it is"
                        ))
                    }
                    _ => reply.error(&what),
                });
            }
        }
        let body = serde_json::to_vec(&serde_json::json!({ "versions": [ours] }))
            .map(|b| secret_body(Zeroizing::new(b)))
            .map_err(|_| BackendError::Unavailable(format!("{what}: could not build a request")))?;
        let reply = self
            .client
            .send(
                Method::POST,
                &r.destroy_path(),
                Some(("application/json", body)),
                &what,
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.error(&format!(
                "{what}: the old value is current again, but destroying version {ours}"
            )))
        }
    }

    /// Writes `value` into `r`'s field as a new version and returns that version.
    ///
    /// A KV v2 PATCH (JSON merge patch) changes only the one field and keeps the entry's
    /// other fields, atomically on the server and without their values ever reaching
    /// secretstore; a read-then-write with check-and-set would read every field of a
    /// linked entry into memory. PATCH needs the `patch` capability (Vault ≥ 1.9, OpenBao).
    ///
    /// PATCH cannot create an entry, nor write over a deleted or destroyed latest version.
    /// A missing entry is created with `cas=0` (so a concurrent creation is not
    /// overwritten, and the PATCH is retried instead). A deleted latest version is written
    /// over only at secretstore's own path (`owned`), where no other field belongs; a
    /// linked entry's other fields would be lost, so that write fails as NotFound.
    async fn write_field(
        &self,
        r: &KvRef,
        value: &SecretValue,
        owned: bool,
    ) -> Result<(u64, Change), BackendError> {
        let what = format!("Vault {r}");
        for _ in 0..WRITE_ATTEMPTS {
            let body = write_body(&r.field, value, None);
            let reply = self
                .client
                .send(
                    Method::PATCH,
                    &r.data_path(),
                    Some(("application/merge-patch+json", body)),
                    &what,
                )
                .await?;
            let cas = match reply.status {
                s if s.is_success() => {
                    return Ok((written_version(&reply, &what)?, Change::Updated));
                }
                StatusCode::NOT_FOUND => {
                    match reply.json::<WriteReply>(&what).ok().and_then(|w| w.data) {
                        // The entry exists; its latest version is deleted or destroyed.
                        Some(meta) if meta.version > 0 => {
                            if !owned {
                                return Err(BackendError::NotFound(format!(
                                    "{what}: the latest version ({}) is {}; undelete it in Vault (or write the entry there) before writing through secretstore, which keeps the entry's other fields",
                                    meta.version,
                                    meta.state()
                                )));
                            }
                            meta.version
                        }
                        // No entry at all.
                        _ => 0,
                    }
                }
                StatusCode::FORBIDDEN => {
                    return Err(BackendError::Refused(format!(
                        "{what}: the token was refused (HTTP 403); a write needs the read, create, update and patch capabilities on {}/data/{}",
                        r.mount, r.path
                    )));
                }
                _ => return Err(reply.error(&what)),
            };
            let body = write_body(&r.field, value, Some(cas));
            let reply = self
                .client
                .send(
                    Method::POST,
                    &r.data_path(),
                    Some(("application/json", body)),
                    &what,
                )
                .await?;
            match reply.status {
                s if s.is_success() => {
                    let change = if cas == 0 {
                        Change::Created
                    } else {
                        Change::Updated
                    };
                    return Ok((written_version(&reply, &what)?, change));
                }
                // Someone else wrote first: start again from the PATCH.
                StatusCode::BAD_REQUEST if reply.errors().contains("check-and-set") => continue,
                _ => return Err(reply.error(&what)),
            }
        }
        Err(BackendError::Unavailable(format!(
            "{what}: other writers kept changing the entry; try again"
        )))
    }

    /// The material of a written version.
    fn material(r: &KvRef, version: u64) -> StoredMaterial {
        StoredMaterial {
            ciphertext: None,
            backend_ref: Some(r.to_string()),
            backend_version: Some(version.to_string()),
        }
    }

    /// Where a write goes: the previous version's reference (a linked secret chose its
    /// own), else secretstore's path for (scope, name). Also says whether that is
    /// secretstore's own path.
    fn target(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        previous: Option<&StoredMaterial>,
    ) -> Result<(KvRef, bool), BackendError> {
        let own = KvRef::owned(&self.mount, scope.as_str(), name.as_str());
        match previous.and_then(|p| p.backend_ref.as_deref()) {
            None => Ok((own, true)),
            Some(reference) => {
                let r = KvRef::parse(reference, &self.mount).map_err(|why| {
                    BackendError::NotFound(format!("the stored reference is unusable: {why}"))
                })?;
                let owned = r == own;
                Ok((r, owned))
            }
        }
    }

    async fn check_inner(&self) -> Result<String, BackendError> {
        let addr = self.client.addr();
        let what = format!("Vault at {addr}");

        let reply = self
            .client
            .send(Method::GET, "/v1/auth/token/lookup-self", None, &what)
            .await?;
        if !reply.status.is_success() {
            return Err(match reply.status {
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => BackendError::Refused(format!(
                    "{what}: the token is not valid (unknown, expired or revoked), or its policies deny auth/token/lookup-self; check VAULT_TOKEN"
                )),
                _ => reply.error(&what),
            });
        }
        // The answer holds the token itself (`id`): only these fields are read.
        let me: TokenReply = reply.json(&what)?;
        let policies = me.data.map(|d| d.policies).unwrap_or_default();

        let mount_path = format!(
            "/v1/sys/internal/ui/mounts/{}",
            reference::encode_path(&self.mount)
        );
        let reply = self
            .client
            .send(Method::GET, &mount_path, None, &what)
            .await?;
        let mount = &self.mount;
        match reply.status {
            s if s.is_success() => {}
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                return Err(BackendError::NotFound(format!(
                    "{what}: token valid, but there is no mount {mount}/ that the token may use (VAULT_KV_MOUNT)"
                )));
            }
            _ => return Err(reply.error(&what)),
        }
        let info: MountReply = reply.json(&what)?;
        let info = info.data.unwrap_or_default();
        if info.path.trim_end_matches('/') != mount.as_str() {
            return Err(BackendError::NotFound(format!(
                "{what}: {mount}/ is not a mount (it lies inside the mount {})",
                info.path
            )));
        }
        let version = info.options.and_then(|o| o.version).unwrap_or_default();
        if info.kind != "kv" || version != "2" {
            let found = match (info.kind.as_str(), version.as_str()) {
                ("kv", "") => "kv version 1".to_owned(),
                ("kv", v) => format!("kv version {v}"),
                (k, _) => k.to_owned(),
            };
            return Err(BackendError::NotFound(format!(
                "{what}: mount {mount}/ is {found}, not KV version 2"
            )));
        }

        // What the token may do where new secrets go (a hint, not a failure: a deployment
        // that only links existing secrets needs no write access).
        let probe = format!("{mount}/data/secretstore/doctor-check");
        let body = serde_json::to_vec(&serde_json::json!({ "paths": [probe] }))
            .map(|b| secret_body(Zeroizing::new(b)))
            .map_err(|_| BackendError::Unavailable(format!("{what}: could not build a request")))?;
        let caps = match self
            .client
            .send(
                Method::POST,
                "/v1/sys/capabilities-self",
                Some(("application/json", body)),
                &what,
            )
            .await
        {
            Ok(reply) if reply.status.is_success() => reply
                .json::<CapsReply>(&what)
                .ok()
                .and_then(|c| c.data)
                .map(|d| d.capabilities),
            _ => None,
        };
        let caps = match caps {
            None => String::new(),
            Some(c) if c.iter().any(|c| c == "root") => {
                format!(", all capabilities under {mount}/secretstore/ (root)")
            }
            Some(c) => {
                let missing: Vec<&str> = ["read", "create", "update", "patch"]
                    .into_iter()
                    .filter(|need| !c.iter().any(|have| have == need))
                    .collect();
                if missing.is_empty() {
                    format!(", can read and write under {mount}/secretstore/")
                } else {
                    format!(
                        ", under {mount}/secretstore/ the token lacks {} (needed to write new secrets)",
                        missing.join(", ")
                    )
                }
            }
        };
        let ns = match &self.namespace {
            Some(ns) => format!(" (namespace {ns})"),
            None => String::new(),
        };
        let policies = if policies.is_empty() {
            String::new()
        } else {
            format!(" (policies: {})", policies.join(", "))
        };
        Ok(format!(
            "Vault at {addr}{ns}: token valid{policies}, mount {mount}/ (kv v2){caps}"
        ))
    }
}

impl ValueBackend for VaultBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Vault
    }

    fn write<'a>(
        &'a self,
        scope: &'a ScopePath,
        name: &'a SecretName,
        value: &'a SecretValue,
        previous: Option<&'a StoredMaterial>,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        Box::pin(async move {
            let (r, owned) = self.target(scope, name, previous)?;
            let (version, change) = self.write_field(&r, value, owned).await?;
            Ok(Written {
                material: Self::material(&r, version),
                change,
            })
        })
    }

    fn fetch<'a>(
        &'a self,
        items: &'a [&'a StoredMaterial],
        which: Fetch,
    ) -> BoxFuture<'a, Vec<Result<Fetched, BackendError>>> {
        Box::pin(async move {
            // At most `concurrency` requests in flight; `buffered` yields in input order.
            // (The futures are made first: a `map` closure held across the await trips
            // the compiler's check that the boxed future is Send.)
            let pending: Vec<_> = items.iter().map(|m| self.fetch_one(m, which)).collect();
            futures_util::stream::iter(pending)
                .buffered(self.concurrency)
                .collect()
                .await
        })
    }

    fn link_forms(&self, reference: &str) -> Result<Vec<String>, Error> {
        reference::link_form(reference, &self.mount)
            .map(|r| vec![r])
            .map_err(Error::Invalid)
    }

    fn reference_of(&self, material: &StoredMaterial) -> Option<String> {
        let r = material.backend_ref.as_deref()?;
        Some(reference::link_form(r, &self.mount).unwrap_or_else(|_| r.to_owned()))
    }

    fn owner_scope(&self, reference: &str) -> Option<ScopePath> {
        reference::owner_scope(reference, &self.mount)
    }

    fn link<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<StoredMaterial, Error>> {
        Box::pin(async move {
            let r = KvRef::parse(reference.trim(), &self.mount).map_err(Error::Invalid)?;
            let what = format!("Vault {r}");
            let reply = self
                .client
                .send(Method::GET, &r.metadata_path(), None, &what)
                .await?;
            if !reply.status.is_success() {
                return Err(reply.error(&what).into());
            }
            let meta: MetadataReply = reply.json(&what)?;
            let meta = meta.data.ok_or_else(|| {
                BackendError::Unavailable(format!("{what}: Vault's answer has no metadata"))
            })?;
            let current = meta.current_version;
            if current == 0 {
                return Err(
                    BackendError::NotFound(format!("{what}: the entry has no versions")).into(),
                );
            }
            if let Some(state) = meta.versions.get(&current.to_string())
                && (state.destroyed || !state.deletion_time.is_empty())
            {
                return Err(BackendError::NotFound(format!(
                    "{what}: the latest version ({current}) is {}",
                    state.state()
                ))
                .into());
            }
            // The field cannot be checked without reading the value: a missing field
            // shows at the first fetch, as NotFound.
            Ok(Self::material(&r, current))
        })
    }

    fn restore<'a>(
        &'a self,
        scope: &'a ScopePath,
        name: &'a SecretName,
        target: &'a StoredMaterial,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        Box::pin(async move {
            let (r, owned) = self.target(scope, name, Some(target))?;
            let version = recorded_version(&r, target)?;
            let (value, _) = self.read_field(&r, Some(version)).await?;
            let (new, change) = self.write_field(&r, &value, owned).await?;
            Ok(Written {
                material: Self::material(&r, new),
                change,
            })
        })
    }

    fn undo<'a>(&'a self, written: &'a Written) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.undo_inner(written))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(self.check_inner())
    }
}

/// The KV version recorded in the material: a positive number (`version=0` would mean
/// "latest" to Vault, which a recorded read must never silently become).
fn recorded_version(r: &KvRef, m: &StoredMaterial) -> Result<u64, BackendError> {
    let text = m.backend_version.as_deref().ok_or_else(|| {
        BackendError::NotFound(format!(
            "Vault {r}: no KV version is recorded for this version"
        ))
    })?;
    match text.parse::<u64>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(BackendError::NotFound(format!(
            "Vault {r}: the recorded KV version {text:?} is not a version number"
        ))),
    }
}

/// The error of a 404 on a data read: a deleted or destroyed version says so.
fn not_found(reply: &Reply, what: &str) -> BackendError {
    let meta = reply
        .json::<DataReply>(what)
        .ok()
        .and_then(|d| d.data)
        .and_then(|d| d.metadata);
    match meta {
        Some(m) if m.destroyed || !m.deletion_time.is_empty() => {
            BackendError::NotFound(format!("{what}: version {} is {}", m.version, m.state()))
        }
        _ => match reply.errors() {
            e if e.is_empty() => {
                BackendError::NotFound(format!("{what}: no such secret or version"))
            }
            e => BackendError::NotFound(format!("{what}: no such secret ({e})")),
        },
    }
}

/// A field's value as text: a JSON string as it is; a number, boolean, array or object
/// (which the KV API accepts) as its JSON text, the way `vault kv get -field` prints it.
fn field_value(raw: &RawValue) -> Option<SecretValue> {
    let text = raw.get();
    if text.starts_with('"') {
        let s: Zeroizing<String> = Zeroizing::new(serde_json::from_str(text).ok()?);
        SecretValue::from_backend(s.as_bytes().to_vec())
    } else {
        SecretValue::from_backend(text.as_bytes().to_vec())
    }
}

/// `{"data": {FIELD: VALUE}, "options": {"cas": N}}` in a zeroizing buffer, sized up front
/// so that it never reallocates (a reallocation would leave a copy of the value behind).
fn write_body(
    field: &str,
    value: &SecretValue,
    cas: Option<u64>,
) -> http_body_util::Full<bytes::Bytes> {
    #[derive(serde::Serialize)]
    struct Options {
        cas: u64,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        data: HashMap<&'a str, &'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        options: Option<Options>,
    }
    let v = value.expose_secret();
    // JSON escapes a byte as at most 6 bytes (\u00XX).
    let mut buf = Zeroizing::new(Vec::with_capacity(6 * (v.len() + field.len()) + 64));
    let body = Body {
        data: HashMap::from([(field, v)]),
        options: cas.map(|cas| Options { cas }),
    };
    #[allow(
        clippy::expect_used,
        reason = "serializing string pairs into a Vec cannot fail"
    )]
    serde_json::to_writer(&mut *buf, &body).expect("serialize a KV write");
    secret_body(buf)
}

/// `{"data": {FIELD: VALUE or null}, "options": {"cas": N}}` for a PATCH (JSON merge patch:
/// null removes the field), in a zeroizing buffer sized up front.
fn patch_body(
    field: &str,
    value: Option<&SecretValue>,
    cas: u64,
) -> http_body_util::Full<bytes::Bytes> {
    #[derive(serde::Serialize)]
    struct Options {
        cas: u64,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        data: HashMap<&'a str, Option<&'a str>>,
        options: Options,
    }
    let v = value.map(SecretValue::expose_secret);
    let len = v.map_or(0, str::len);
    let mut buf = Zeroizing::new(Vec::with_capacity(6 * (len + field.len()) + 64));
    let body = Body {
        data: HashMap::from([(field, v)]),
        options: Options { cas },
    };
    #[allow(
        clippy::expect_used,
        reason = "serializing string pairs into a Vec cannot fail"
    )]
    serde_json::to_writer(&mut *buf, &body).expect("serialize a KV patch");
    secret_body(buf)
}

fn written_version(reply: &Reply, what: &str) -> Result<u64, BackendError> {
    let w: WriteReply = reply.json(what)?;
    match w.data {
        Some(meta) if meta.version > 0 => Ok(meta.version),
        _ => Err(BackendError::Unavailable(format!(
            "{what}: Vault's answer to the write has no version"
        ))),
    }
}

/// `GET /v1/MOUNT/data/PATH`: the fields borrow from the (zeroizing) body, so no copy of
/// another field's value is made.
#[derive(Deserialize)]
struct DataReply<'a> {
    #[serde(borrow)]
    data: Option<DataBlock<'a>>,
}

#[derive(Deserialize)]
struct DataBlock<'a> {
    #[serde(borrow)]
    data: Option<HashMap<String, &'a RawValue>>,
    metadata: Option<VersionMeta>,
}

#[derive(Deserialize)]
struct VersionMeta {
    #[serde(default)]
    version: u64,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

impl VersionMeta {
    fn state(&self) -> &'static str {
        version_state(self.destroyed, &self.deletion_time)
    }
}

fn version_state(destroyed: bool, deletion_time: &str) -> &'static str {
    if destroyed {
        "destroyed"
    } else if !deletion_time.is_empty() {
        "deleted"
    } else {
        "unreadable"
    }
}

/// The answer to a write (and to a PATCH on a deleted latest version).
#[derive(Deserialize)]
struct WriteReply {
    data: Option<VersionMeta>,
}

#[derive(Deserialize)]
struct MetadataReply {
    data: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    current_version: u64,
    #[serde(default)]
    versions: HashMap<String, VersionState>,
}

#[derive(Deserialize)]
struct VersionState {
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

impl VersionState {
    fn state(&self) -> &'static str {
        version_state(self.destroyed, &self.deletion_time)
    }
}

#[derive(Deserialize)]
struct TokenReply {
    data: Option<TokenData>,
}

#[derive(Deserialize)]
struct TokenData {
    #[serde(default)]
    policies: Vec<String>,
}

#[derive(Deserialize)]
struct MountReply {
    data: Option<MountInfo>,
}

#[derive(Deserialize, Default)]
struct MountInfo {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    options: Option<MountOptions>,
}

#[derive(Deserialize, Default)]
struct MountOptions {
    version: Option<String>,
}

#[derive(Deserialize)]
struct CapsReply {
    data: Option<Caps>,
}

#[derive(Deserialize)]
struct Caps {
    #[serde(default)]
    capabilities: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> SecretValue {
        SecretValue::new(s.to_owned()).unwrap()
    }

    #[test]
    fn debug_never_shows_the_token() {
        let canary = "hvs.canary-Zx81-token";
        let s = VaultSettings::new("http://127.0.0.1:8200", token(canary));
        let dbg = format!("{s:?} {s:#?}");
        assert!(!dbg.contains(canary), "{dbg}");
        let b = VaultBackend::new(s).unwrap();
        let dbg = format!("{b:?} {b:#?}");
        assert!(!dbg.contains(canary), "{dbg}");
    }

    #[test]
    fn settings_are_checked() {
        let bad = |f: &dyn Fn(&mut VaultSettings)| {
            let mut s = VaultSettings::new("http://127.0.0.1:8200", token("root"));
            f(&mut s);
            VaultBackend::new(s).unwrap_err()
        };
        bad(&|s| s.addr = "127.0.0.1:8200".into());
        bad(&|s| s.addr = "ftp://host".into());
        bad(&|s| s.addr = "http://host:8200?x=1".into());
        let e = bad(&|s| s.addr = "http://user:canary-pass@host:8200".into());
        assert!(!e.to_string().contains("canary-pass"), "{e}");
        let e = bad(&|s| s.token = token("canary-tok\n"));
        assert!(!e.to_string().contains("canary-tok"), "{e}");
        bad(&|s| s.kv_mount = "".into());
        bad(&|s| s.kv_mount = "a/../b".into());
        bad(&|s| s.namespace = Some("a//b".into()));
        bad(&|s| s.timeout = Duration::ZERO);
        bad(&|s| s.concurrency = 0);

        let mut s = VaultSettings::new("https://vault.example:8200/", token("root"));
        s.kv_mount = "/team/kv/".into();
        s.namespace = Some("/ns1/".into());
        // https needs the system's CA bundle; a host without one gets a config error.
        if let Ok(b) = VaultBackend::new(s) {
            assert_eq!(b.mount, "team/kv");
            assert_eq!(b.client.addr(), "https://vault.example:8200");
            assert_eq!(b.namespace.as_deref(), Some("ns1"));
        }
    }

    #[test]
    fn recorded_versions_are_positive_numbers() {
        let r = KvRef::owned("secret", "acme", "X");
        let m = |v: Option<&str>| StoredMaterial {
            ciphertext: None,
            backend_ref: Some(r.to_string()),
            backend_version: v.map(str::to_owned),
        };
        assert_eq!(recorded_version(&r, &m(Some("3"))).unwrap(), 3);
        for bad in [None, Some("0"), Some("-1"), Some("x"), Some("")] {
            assert!(matches!(
                recorded_version(&r, &m(bad)),
                Err(BackendError::NotFound(_))
            ));
        }
    }

    #[test]
    fn field_values() {
        fn text(s: &str) -> String {
            let raw: &RawValue = serde_json::from_str(s).unwrap();
            field_value(raw).unwrap().expose_secret().to_owned()
        }
        assert_eq!(text(r#""a\nb \u00fc""#), "a\nb ü");
        assert_eq!(text("42"), "42");
        assert_eq!(text("true"), "true");
        assert_eq!(text(r#"{"k":1}"#), r#"{"k":1}"#);
    }

    #[test]
    fn write_bodies() {
        let read = |b: http_body_util::Full<bytes::Bytes>| {
            let bytes = futures_executor_block_on(b);
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        let v = token("x\"y\n");
        assert_eq!(
            read(write_body("value", &v, None)),
            serde_json::json!({"data": {"value": "x\"y\n"}})
        );
        assert_eq!(
            read(write_body("f", &v, Some(0))),
            serde_json::json!({"data": {"f": "x\"y\n"}, "options": {"cas": 0}})
        );
    }

    /// Reads a `Full` body without a runtime: it is ready at once.
    fn futures_executor_block_on(b: http_body_util::Full<bytes::Bytes>) -> Vec<u8> {
        use http_body_util::BodyExt;
        let fut = b.collect();
        let mut fut = std::pin::pin!(fut);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(c)) => c.to_bytes().to_vec(),
            _ => panic!("a Full body is ready at once"),
        }
    }
}
