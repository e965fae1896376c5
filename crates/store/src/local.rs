//! The local backend: values encrypted with Fernet and kept in the database.

use crate::crypto::Keyring;
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Fetch, Fetched, ScopePath, SecretName, SecretValue,
    StoredMaterial, ValueBackend, Written,
};

/// From this many bytes of ciphertext in one fetch on, the tokens are decrypted on a
/// blocking thread (`spawn_blocking`) instead of the async worker: 256 refs of 64 KiB are
/// tens of milliseconds of AES and HMAC, which would hold up every other request of that
/// worker. Below it (a usual dispatch: a few short values), the hand-off costs more than
/// the work.
const OFF_REACTOR_BYTES: usize = 64 * 1024;

/// Encrypts values under the keyring's first key; decrypts with any of its keys.
pub struct LocalBackend {
    keys: Keyring,
}

impl LocalBackend {
    /// The local backend, encrypting under the first key of `keys`.
    pub fn new(keys: Keyring) -> Self {
        LocalBackend { keys }
    }
}

/// Decrypts one version's token.
fn open(keys: &Keyring, m: &StoredMaterial) -> Result<SecretValue, BackendError> {
    let token = m.ciphertext.as_deref().ok_or_else(|| {
        BackendError::NotFound("no encrypted value is stored for this version".into())
    })?;
    let mut plain = keys.decrypt(token).map_err(|_| {
        BackendError::Refused(
            "the Fernet key does not decrypt this value (wrong FERNET_SECRET_KEY?)".into(),
        )
    })?;
    // Moved, not copied: `from_backend` zeroizes the bytes as `plain` would have.
    SecretValue::from_backend(std::mem::take(&mut *plain))
        .ok_or_else(|| BackendError::Refused("decrypted value is not UTF-8 text".into()))
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
                generator: None,
            }))
        })
    }

    fn fetch<'a>(
        &'a self,
        items: &'a [&'a StoredMaterial],
        _which: Fetch,
    ) -> BoxFuture<'a, Vec<Result<Fetched, BackendError>>> {
        // A local version is its token: current and recorded are the same thing.
        let bytes: usize = items
            .iter()
            .filter_map(|m| m.ciphertext.as_deref().map(str::len))
            .sum();
        if bytes < OFF_REACTOR_BYTES || tokio::runtime::Handle::try_current().is_err() {
            let out = items
                .iter()
                .map(|m| open(&self.keys, m).map(Fetched::local))
                .collect();
            return Box::pin(async move { out });
        }
        let keys = self.keys.clone();
        let owned: Vec<StoredMaterial> = items.iter().map(|m| (*m).clone()).collect();
        Box::pin(async move {
            let work = tokio::task::spawn_blocking(move || {
                owned
                    .iter()
                    .map(|m| open(&keys, m).map(Fetched::local))
                    .collect::<Vec<_>>()
            });
            match work.await {
                Ok(out) => out,
                // The blocking pool is shutting down (or the work panicked): every item
                // fails as unavailable, none as "not found".
                Err(_) => items
                    .iter()
                    .map(|_| {
                        Err(BackendError::Unavailable(
                            "the decryption was interrupted".into(),
                        ))
                    })
                    .collect(),
            }
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn material(backend: &LocalBackend, value: &str) -> StoredMaterial {
        StoredMaterial {
            ciphertext: Some(backend.keys.encrypt(value.as_bytes())),
            backend_ref: None,
            backend_version: None,
            generator: None,
        }
    }

    /// A batch past `OFF_REACTOR_BYTES` is decrypted on a blocking thread: the same values,
    /// in order, and a token no key opens is still refused (never "not found").
    #[tokio::test]
    async fn a_large_batch_decrypts_off_the_reactor_to_the_same_values_in_order() {
        let backend = LocalBackend::new(Keyring::parse(&Keyring::generate_key()).unwrap());
        let other = LocalBackend::new(Keyring::parse(&Keyring::generate_key()).unwrap());
        let big: Vec<String> = (0..4).map(|i| format!("{i}").repeat(30_000)).collect();
        let mut items: Vec<StoredMaterial> = big.iter().map(|v| material(&backend, v)).collect();
        items.push(material(&other, "sealed under another key"));
        let total: usize = items
            .iter()
            .map(|m| m.ciphertext.as_ref().unwrap().len())
            .sum();
        assert!(total >= OFF_REACTOR_BYTES);
        let refs: Vec<&StoredMaterial> = items.iter().collect();
        let out = backend.fetch(&refs, Fetch::Current).await;
        assert_eq!(out.len(), 5);
        for (got, want) in out.iter().zip(&big) {
            assert_eq!(got.as_ref().unwrap().value.expose_secret(), want.as_str());
        }
        assert!(matches!(out[4], Err(BackendError::Refused(_))));

        let small = [material(&backend, "short")];
        let refs: Vec<&StoredMaterial> = small.iter().collect();
        let out = backend.fetch(&refs, Fetch::Current).await;
        assert_eq!(out[0].as_ref().unwrap().value.expose_secret(), "short");
    }
}
