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
//! [`BackendError`]: secretstore_core::BackendError
//!
//! The token comes from a login ([`VaultAuth`]): a token given as a value or a file, or
//! an AppRole, JWT or Kubernetes login. The command line logs in at its first request;
//! `serve` runs [`VaultBackend::keep_logged_in`] in the background, which renews the
//! token before two thirds of its TTL have passed and logs in again when it can no
//! longer be renewed far enough. A request answered 403 because the token died meanwhile
//! (it can no longer look itself up) is sent once more after one shared login.
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
#![forbid(unsafe_code)]

mod auth;
mod backend;
mod doctor;
mod http;
mod reference;
mod settings;
mod tls;
mod wire;

pub use backend::VaultBackend;
pub use settings::{
    Credential, DEFAULT_APPROLE_MOUNT, DEFAULT_CONCURRENCY, DEFAULT_JWT_FILE, DEFAULT_KV_MOUNT,
    DEFAULT_TIMEOUT, JwtKind, VaultAuth, VaultSettings, VaultTls,
};
