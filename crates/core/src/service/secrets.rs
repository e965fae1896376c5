//! Secrets: writing (local and external backends, under a write reservation), reading,
//! revealing, history, rollback, delete and import.

use super::{
    ImportEntry, SecretAttrs, Service, check_rotate_every, conflict, not_found, with_delivery,
    with_rotate_every,
};
use crate::authz::{Action, Principal};
use crate::error::{BackendError, Error, Result};
use crate::model::{
    BackendKind, Category, Delivery, SecretMeta, StoredMaterial, Version, VersionMeta,
};
use crate::name::SecretName;
use crate::ports::{
    Expected, Fetch, MetadataStore, NewVersion, Reservation, ValueBackend, Written,
};
use crate::scope::{Level, ScopePath};
use crate::value::SecretValue;
use std::sync::Arc;

/// How long a write reservation of an external secret lasts: far longer than a bounded
/// backend write takes (AWS and Vault calls are bounded at 10 s by default), so that only
/// a writer that crashed loses it, and short enough that such a crash blocks the secret's
/// writes for two minutes at most.
pub const WRITE_RESERVATION_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// How long a write without `expected_version` waits for another writer's reservation.
pub const WRITE_RESERVATION_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A change of an external backend, made under the secret's write reservation.
pub(super) enum ExternalOp<'a> {
    /// A new value.
    Write(&'a SecretValue),
    /// An earlier version made current again (rollback).
    Restore(StoredMaterial),
}

impl<S: MetadataStore> Service<S> {
    /// Writes a new version of a secret (creating it at version 1), keeping its delivery.
    pub async fn set_secret(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        value: &SecretValue,
        category: Option<Category>,
        expected: Option<Expected>,
    ) -> Result<Version> {
        let attrs = SecretAttrs::category(category);
        self.write_secret(who, scope, name, value, attrs, expected)
            .await
    }

    /// Writes a new version of a secret (creating it at version 1) with the category and
    /// delivery of `attrs`: what is `None` there keeps the stored one (a new secret needs
    /// a category, and is delivered as `env` unless told otherwise). A delivery given is
    /// recorded in the write's audit detail.
    pub async fn write_secret(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        value: &SecretValue,
        attrs: SecretAttrs,
        expected: Option<Expected>,
    ) -> Result<Version> {
        let SecretAttrs {
            category,
            delivery,
            rotate_every_secs,
        } = attrs;
        let rotate_every_secs = rotate_every_secs.map(check_rotate_every).transpose()?;
        let name = SecretName::parse(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::Write, &scope)?;
        // An existing secret proves its scope exists: one query on the common path.
        let existing = self.store.secret(&scope, &name).await?;
        let backend_kind = match &existing {
            Some(m) => m.backend,
            None => self.config.default_backend,
        };
        let backend = self.backends.get(backend_kind)?;
        if existing.is_none() {
            self.existing_scope(scope.clone()).await?;
            if category.is_none() {
                return Err(Error::CategoryRequired {
                    scope: scope.to_string(),
                    name: name.to_string(),
                });
            }
        }
        check_expected(&scope, &name, existing.as_ref(), expected)?;
        let audit = with_rotate_every(
            with_delivery(
                self.audit(who, "secret.set").secret(&scope, &name),
                delivery,
            ),
            rotate_every_secs,
        );
        let new = NewVersion {
            scope,
            name,
            category,
            backend: backend_kind,
            delivery,
            rotate_every_secs,
            material: StoredMaterial::default(),
            expected,
            rollback_of: None,
            by: who.account.clone(),
            audit,
            reservation: None,
        };
        if backend_kind != BackendKind::Local {
            return self
                .write_external(who, backend.as_ref(), ExternalOp::Write(value), new)
                .await;
        }
        // Local: the value lives in the row, so the database's compare-and-swap is the
        // whole check.
        let written = backend.write(&new.scope, &new.name, value, None).await?;
        self.commit_one(NewVersion {
            material: written.material,
            ..new
        })
        .await
    }

    /// Writes one version and returns its number.
    pub(super) async fn commit_one(&self, new: NewVersion) -> Result<Version> {
        self.store
            .write_versions(vec![new])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::storage("write returned no version"))
    }

    /// A change of an external secret (AWS, Vault) as one step with its version check:
    /// take the secret's write reservation in the database, checking `new.expected` in
    /// the same transaction (a stale write is refused before the backend is touched);
    /// change the backend; record the version and release the reservation in one
    /// transaction. A failed backend change releases the reservation; a failed record
    /// undoes the backend change.
    pub(super) async fn write_external(
        &self,
        who: &Principal,
        backend: &dyn ValueBackend,
        op: ExternalOp<'_>,
        mut new: NewVersion,
    ) -> Result<Version> {
        let holder = crate::random::uuid_v4();
        let items = [Reservation {
            scope: new.scope.clone(),
            name: new.name.clone(),
            expected: new.expected,
        }];
        let current = self
            .store
            .reserve_writes(
                &holder,
                &items,
                WRITE_RESERVATION_TTL,
                WRITE_RESERVATION_WAIT,
            )
            .await?
            .into_iter()
            .next()
            .flatten();
        let release = || self.store.release_writes(&holder, &items);
        let refuse = match &current {
            Some((meta, _)) if meta.backend != backend.kind() => Some(Error::Conflict(format!(
                "{} at {} is now a {} secret; nothing was changed",
                new.name, new.scope, meta.backend
            ))),
            None if matches!(op, ExternalOp::Restore(_)) => Some(not_found(&new.scope, &new.name)),
            None if new.category.is_none() => Some(Error::CategoryRequired {
                scope: new.scope.to_string(),
                name: new.name.to_string(),
            }),
            _ => None,
        };
        if let Some(e) = refuse {
            let _ = release().await;
            return Err(e);
        }
        let previous = current.as_ref().map(|(_, m)| m);
        // The link rule, on the reference written to and (rollback) the one made current.
        let restored = match &op {
            ExternalOp::Restore(target) => Some(target),
            ExternalOp::Write(_) => None,
        };
        for material in [previous, restored].into_iter().flatten() {
            let kind = backend.kind();
            if let Err(e) = self
                .authorize_reference(who, &new.scope, &new.name, kind, Some(material))
                .await
            {
                let _ = release().await;
                return Err(e);
            }
        }
        let changed = match &op {
            ExternalOp::Write(value) => backend.write(&new.scope, &new.name, value, previous).await,
            ExternalOp::Restore(target) => backend.restore(&new.scope, &new.name, target).await,
        };
        let written = match changed {
            Ok(w) => w,
            Err(e) => {
                let _ = release().await;
                return Err(e.into());
            }
        };
        new.material = written.material.clone();
        new.expected = Some(match &current {
            Some((m, _)) => Expected::Version(m.version),
            None => Expected::Absent,
        });
        new.reservation = Some(holder.clone());
        match self.commit_one(new).await {
            Ok(v) => Ok(v),
            Err(e) => {
                let note = match backend.undo(&written).await {
                    Ok(()) => format!("; the change in {} was undone", backend.kind()),
                    Err(u) => format!(
                        "; undoing the change in {} failed too ({u}): it holds a value that secretstore did not record",
                        backend.kind()
                    ),
                };
                let _ = release().await;
                Err(e.with_note(&note))
            }
        }
    }

    /// Reveals a value (audited before it is returned).
    pub async fn reveal(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        version: Option<Version>,
    ) -> Result<(SecretValue, Version)> {
        let name = SecretName::parse_existing(name)?;
        let scope = ScopePath::parse_secret_scope(scope)?;
        who.require(Action::ReadValue, &scope)?;
        let (meta, v, material) = match self.store.material(&scope, &name, version).await {
            Ok(m) => m,
            Err(Error::NotFound(msg)) => {
                // Name the unknown scope rather than the secret, if that is what is missing.
                self.existing_scope(scope).await?;
                return Err(Error::NotFound(msg));
            }
            Err(e) => return Err(e),
        };
        if let Some(kind) = meta.generator {
            return Err(Error::Invalid(format!(
                "{name} at {scope} is a {kind} generator: it has no value; its credentials are minted for each dispatch"
            )));
        }
        self.authorize_reference(who, &scope, &name, meta.backend, Some(&material))
            .await?;
        let which = if version.is_some() {
            Fetch::Recorded
        } else {
            Fetch::Current
        };
        let value = self.fetch_one(meta.backend, &material, which).await?;
        self.store
            .append_audit(
                self.audit(who, "secret.reveal")
                    .secret(&scope, &name)
                    .version(v),
            )
            .await?;
        Ok((value, v))
    }

    /// One value from its backend (a reveal; a generator's admin URL).
    pub(super) async fn fetch_one(
        &self,
        kind: BackendKind,
        material: &StoredMaterial,
        which: Fetch,
    ) -> Result<SecretValue> {
        let backend = self.backends.get(kind)?;
        Ok(backend
            .fetch(&[material], which)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(BackendError::Unavailable("backend returned nothing".into())))?
            .value)
    }

    /// The secrets kept at one scope (metadata only).
    pub async fn list(&self, who: &Principal, scope: &str) -> Result<Vec<SecretMeta>> {
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        self.store.list_secrets(&scope).await
    }

    /// A secret's history, newest first (metadata only).
    pub async fn history(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
    ) -> Result<Vec<VersionMeta>> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        self.store.versions(&scope, &name).await
    }

    /// A secret's metadata (never its value).
    pub async fn metadata(&self, who: &Principal, scope: &str, name: &str) -> Result<SecretMeta> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::ReadMeta).await?;
        self.store
            .secret(&scope, &name)
            .await?
            .ok_or_else(|| not_found(&scope, &name))
    }

    /// Writes a new version holding version `to`'s value.
    pub async fn rollback(
        &self,
        who: &Principal,
        scope: &str,
        name: &str,
        to: Version,
    ) -> Result<Version> {
        let name = SecretName::parse(name)?;
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let (meta, v, target) = self.store.material(&scope, &name, Some(to)).await?;
        let backend = self.backends.get(meta.backend)?;
        let audit = self
            .audit(who, "secret.rollback")
            .secret(&scope, &name)
            .detail(serde_json::json!({ "to": v }));
        let new = NewVersion {
            scope,
            name,
            category: None,
            backend: meta.backend,
            delivery: None,
            rotate_every_secs: None,
            material: StoredMaterial::default(),
            expected: Some(Expected::Version(meta.version)),
            rollback_of: Some(v),
            by: who.account.clone(),
            audit,
            reservation: None,
        };
        if meta.backend != BackendKind::Local {
            // Rollback makes version `to` current whatever came in between: it waits for
            // a write in progress instead of failing on it.
            let new = NewVersion {
                expected: None,
                ..new
            };
            return self
                .write_external(who, backend.as_ref(), ExternalOp::Restore(target), new)
                .await;
        }
        let written = backend.restore(&new.scope, &new.name, &target).await?;
        self.commit_one(NewVersion {
            material: written.material,
            ..new
        })
        .await
    }

    /// Deletes a secret and its history, audited.
    pub async fn delete(&self, who: &Principal, scope: &str, name: &str) -> Result<()> {
        let name = SecretName::parse_existing(name)?;
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let audit = self.audit(who, "secret.delete").secret(&scope, &name);
        self.store.delete_secret(&scope, &name, audit).await
    }

    /// Imports many secrets at one scope, all or nothing: every name and value is checked
    /// before anything is written, and the writes share one transaction. A `delivery`
    /// given is set on every entry; without one, each keeps its own (`env` when new).
    pub async fn import(
        &self,
        who: &Principal,
        scope: &str,
        category: Category,
        delivery: Option<Delivery>,
        entries: Vec<ImportEntry>,
    ) -> Result<Vec<(SecretName, Version)>> {
        let scope = self.secret_scope(who, scope, Action::Write).await?;
        let mut names = Vec::with_capacity(entries.len());
        for e in &entries {
            let n = SecretName::parse(&e.name)?;
            if names.contains(&n) {
                return Err(Error::Invalid(format!("{n} appears twice in the import")));
            }
            names.push(n);
        }
        if entries.is_empty() {
            return Err(Error::Invalid(
                "nothing to import: the file holds no variables".into(),
            ));
        }
        // Which backend each entry goes to: an existing secret's own, else the default.
        let mut kinds = Vec::with_capacity(names.len());
        for name in &names {
            kinds.push(match self.store.secret(&scope, name).await? {
                Some(m) => m.backend,
                None => self.config.default_backend,
            });
        }
        let mut backends = Vec::with_capacity(kinds.len());
        for kind in &kinds {
            backends.push(self.backends.get(*kind)?);
        }
        // The external entries are reserved together (all or none), checked and written
        // under their reservations, and recorded with them in one transaction.
        let holder = crate::random::uuid_v4();
        let reserved_items: Vec<Reservation> = names
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| **k != BackendKind::Local)
            .map(|(n, _)| Reservation {
                scope: scope.clone(),
                name: n.clone(),
                expected: None,
            })
            .collect();
        let mut reserved = if reserved_items.is_empty() {
            Vec::new()
        } else {
            self.store
                .reserve_writes(
                    &holder,
                    &reserved_items,
                    WRITE_RESERVATION_TTL,
                    WRITE_RESERVATION_WAIT,
                )
                .await?
        }
        .into_iter();
        let mut writes = Vec::with_capacity(entries.len());
        // The external writes made so far, for the undo.
        let mut done: Vec<(usize, Written)> = Vec::new();
        let mut failed = None;
        for (i, ((name, e), kind)) in names.iter().zip(&entries).zip(&kinds).enumerate() {
            let backend = &backends[i];
            let (previous, expected) = if *kind == BackendKind::Local {
                (None, None)
            } else {
                match reserved.next().flatten() {
                    Some((meta, m)) if meta.backend == *kind => {
                        (Some(m), Some(Expected::Version(meta.version)))
                    }
                    Some((meta, _)) => {
                        failed = Some(Error::Conflict(format!(
                            "{name} at {scope} is now a {} secret",
                            meta.backend
                        )));
                        break;
                    }
                    None => (None, Some(Expected::Absent)),
                }
            };
            // The link rule, on the reference this entry writes to (before its write;
            // a refusal undoes the entries already written).
            if let Err(err) = self
                .authorize_reference(who, &scope, name, *kind, previous.as_ref())
                .await
            {
                failed = Some(err);
                break;
            }
            let written = match backend
                .write(&scope, name, &e.value, previous.as_ref())
                .await
            {
                Ok(w) => w,
                Err(err) => {
                    failed = Some(Error::from(err));
                    break;
                }
            };
            if *kind != BackendKind::Local {
                done.push((i, written.clone()));
            }
            let audit = with_delivery(
                self.audit(who, "secret.import").secret(&scope, name),
                delivery,
            );
            writes.push(NewVersion {
                scope: scope.clone(),
                name: name.clone(),
                category: Some(category),
                backend: *kind,
                delivery,
                rotate_every_secs: None,
                material: written.material,
                expected,
                rollback_of: None,
                by: who.account.clone(),
                audit,
                reservation: (*kind != BackendKind::Local).then(|| holder.clone()),
            });
        }
        let outcome = match failed {
            Some(e) => Err(e),
            None => self.store.write_versions(writes).await,
        };
        match outcome {
            Ok(versions) => Ok(names.into_iter().zip(versions).collect()),
            Err(e) => {
                let note = self.undo_all(&backends, &names, &done).await;
                if !reserved_items.is_empty() {
                    let _ = self.store.release_writes(&holder, &reserved_items).await;
                }
                Err(e.with_note(&note))
            }
        }
    }

    /// Undoes external writes that the database will not record, newest first; says
    /// what was done, for the error.
    pub(super) async fn undo_all(
        &self,
        backends: &[&Arc<dyn ValueBackend>],
        names: &[SecretName],
        done: &[(usize, Written)],
    ) -> String {
        let mut failures = Vec::new();
        for (i, written) in done.iter().rev() {
            if let Err(e) = backends[*i].undo(written).await {
                failures.push(format!("{} ({e})", names[*i]));
            }
        }
        let n = done.len();
        let writes = if n == 1 {
            "1 external write already made".to_owned()
        } else {
            format!("{n} external writes already made")
        };
        match (n, failures.len()) {
            (0, _) => "; nothing was imported".to_owned(),
            (1, 0) => format!("; nothing was imported: the {writes} was undone"),
            (_, 0) => format!("; nothing was imported: the {writes} were undone"),
            (_, f) => format!(
                "; nothing was recorded, but of the {writes}, {f} could not be undone and keep their new value in the backend: {}",
                failures.join(", ")
            ),
        }
    }

    /// The metadata of every secret the caller may see.
    /// Two queries, whatever the number of scopes.
    pub async fn list_visible(&self, who: &Principal) -> Result<Vec<SecretMeta>> {
        let readable: Vec<ScopePath> = self
            .scopes(who)
            .await?
            .into_iter()
            .filter(|scope| {
                scope.level() != Level::Project
                    && who.check(Action::ReadMeta, scope) == crate::authz::Access::Allowed
            })
            .collect();
        self.store.list_secrets_in(&readable).await
    }
}

pub(super) fn check_expected(
    scope: &ScopePath,
    name: &SecretName,
    existing: Option<&SecretMeta>,
    expected: Option<Expected>,
) -> Result<()> {
    let current = existing.map(|m| m.version);
    match expected {
        Some(e) if !e.admits(current) => Err(conflict(scope, name, e, current)),
        _ => Ok(()),
    }
}
