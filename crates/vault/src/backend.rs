//! [`VaultBackend`]: the KV v2 value backend (see the [crate documentation](crate) for
//! what it keeps, how it writes and how it takes a write back).

use crate::auth::Session;
use crate::doctor;
use crate::http::{Client, Reply, secret_body};
use crate::reference::{self, KvRef};
use crate::settings::VaultSettings;
use crate::wire::{
    DataReply, MetadataReply, WriteReply, field_value, patch_body, write_body, written_version,
};
use futures_util::StreamExt;
use hyper::{Method, StatusCode};
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Change, Error, Fetch, Fetched, ScopePath, SecretName,
    SecretValue, StoredMaterial, ValueBackend, Written,
};
use std::fmt;
use zeroize::Zeroizing;

/// How many times a write retries after losing a check-and-set race to another writer.
const WRITE_ATTEMPTS: usize = 3;

/// The Vault KV v2 backend. See the [crate documentation](crate).
pub struct VaultBackend {
    client: Client,
    mount: String,
    namespace: Option<String>,
    concurrency: usize,
    /// The bound on one request, and on one whole fetch however many refs it holds.
    timeout: std::time::Duration,
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
        let s = s.check()?;
        let client = Client::new(
            s.addr,
            s.https,
            &s.tls,
            Session::new(s.auth),
            s.namespace_header,
            s.timeout,
            s.concurrency,
        )?;
        Ok(VaultBackend {
            client,
            mount: s.mount,
            namespace: s.namespace,
            concurrency: s.concurrency,
            timeout: s.timeout,
        })
    }

    /// Keeps the Vault token alive for as long as it is polled (it never returns): renews
    /// it before two thirds of its TTL have passed, logs in again when it can no longer
    /// be renewed far enough, and retries after a failure. `serve` runs it in the
    /// background; without it, a token is obtained at the first request and replaced
    /// only when Vault refuses it.
    pub async fn keep_logged_in(&self) {
        self.client.session.maintain(&self.client).await
    }

    /// The login method: `token`, `approle`, `jwt` or `kubernetes`.
    pub fn login_method(&self) -> &'static str {
        self.client.session.method()
    }

    /// How many times this backend logged in (or read its token file again) so far.
    pub fn logins(&self) -> u64 {
        self.client.session.logins()
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
            generator: None,
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
            // The whole fetch is bounded by the timeout, not each request: a frozen Vault
            // must not hold a dispatch one timeout per `concurrency` refs. A request not
            // answered (or not even started) by the deadline fails as unavailable.
            let deadline = tokio::time::Instant::now() + self.timeout;
            let bound = crate::http::describe(self.timeout);
            let bound = &bound;
            let pending: Vec<_> = items
                .iter()
                .map(|m| async move {
                    tokio::time::timeout_at(deadline, self.fetch_one(m, which))
                        .await
                        .unwrap_or_else(|_| {
                            Err(BackendError::Unavailable(format!(
                                "no answer from Vault {} within {bound} (the bound on one fetch)",
                                self.client.addr()
                            )))
                        })
                })
                .collect();
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
        Box::pin(doctor::check(
            &self.client,
            &self.mount,
            self.namespace.as_deref(),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credential, JwtKind, VaultAuth, VaultSettings};
    use std::time::Duration;

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

        let sid = "canary-secret-id-77a1";
        let s = VaultSettings::with_auth(
            "http://127.0.0.1:8200",
            VaultAuth::AppRole {
                mount: "approle".into(),
                role_id: "role".into(),
                secret_id: Credential::Value(token(sid)),
            },
        );
        let dbg = format!("{s:?} {s:#?}");
        assert!(!dbg.contains(sid), "{dbg}");
        let b = VaultBackend::new(s).unwrap();
        let dbg = format!("{b:?} {b:#?}");
        assert!(!dbg.contains(sid), "{dbg}");
        assert_eq!(b.login_method(), "approle");
        assert_eq!(b.logins(), 0, "no login before the first request");
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
        let e = bad(&|s| s.auth = VaultAuth::Token(Credential::Value(token("canary-tok\n"))));
        assert!(!e.to_string().contains("canary-tok"), "{e}");
        bad(&|s| {
            s.auth = VaultAuth::AppRole {
                mount: "approle".into(),
                role_id: " ".into(),
                secret_id: Credential::Value(token("sid")),
            }
        });
        bad(&|s| {
            s.auth = VaultAuth::Jwt {
                kind: JwtKind::Kubernetes,
                mount: "a/../b".into(),
                role: "agent".into(),
                jwt_file: "/nonexistent".into(),
            }
        });
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
            generator: None,
        };
        assert_eq!(recorded_version(&r, &m(Some("3"))).unwrap(), 3);
        for bad in [None, Some("0"), Some("-1"), Some("x"), Some("")] {
            assert!(matches!(
                recorded_version(&r, &m(bad)),
                Err(BackendError::NotFound(_))
            ));
        }
    }
}
