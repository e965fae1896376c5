//! The local backend: values encrypted with Fernet and kept in the database.

use crate::crypto::Keyring;
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Fetch, Fetched, ScopePath, SecretName, SecretValue,
    StoredMaterial, ValueBackend, Written,
};

/// Encrypts values under the keyring's first key; decrypts with any of its keys.
pub struct LocalBackend {
    keys: Keyring,
}

impl LocalBackend {
    /// The local backend, encrypting under the first key of `keys`.
    pub fn new(keys: Keyring) -> Self {
        LocalBackend { keys }
    }

    fn open(&self, m: &StoredMaterial) -> Result<SecretValue, BackendError> {
        let token = m.ciphertext.as_deref().ok_or_else(|| {
            BackendError::NotFound("no encrypted value is stored for this version".into())
        })?;
        let plain = self.keys.decrypt(token).map_err(|_| {
            BackendError::Refused(
                "the Fernet key does not decrypt this value (wrong FERNET_SECRET_KEY?)".into(),
            )
        })?;
        SecretValue::from_backend(plain.to_vec())
            .ok_or_else(|| BackendError::Refused("decrypted value is not UTF-8 text".into()))
    }
}

impl ValueBackend for LocalBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Local
    }

    fn write<'a>(
        &'a self,
        _scope: &'a ScopePath,
        _name: &'a SecretName,
        value: &'a SecretValue,
        _previous: Option<&'a StoredMaterial>,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        let token = self.keys.encrypt(value.expose_secret().as_bytes());
        Box::pin(async move {
            Ok(Written::local(StoredMaterial {
                ciphertext: Some(token),
                backend_ref: None,
                backend_version: None,
            }))
        })
    }

    fn fetch<'a>(
        &'a self,
        items: &'a [&'a StoredMaterial],
        _which: Fetch,
    ) -> BoxFuture<'a, Vec<Result<Fetched, BackendError>>> {
        // A local version is its token: current and recorded are the same thing.
        let out = items
            .iter()
            .map(|m| self.open(m).map(Fetched::local))
            .collect();
        Box::pin(async move { out })
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, BackendError>> {
        let n = self.keys.len();
        Box::pin(async move {
            Ok(format!(
                "Fernet keyring of {n} key(s); the database's key check passed (development use only)"
            ))
        })
    }
}
