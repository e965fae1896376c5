//! The backend conformance suite against the local Fernet backend.

use secretstore_core::conformance::{Fixture, run};
use secretstore_store::{Keyring, LocalBackend};
use std::sync::Arc;

#[tokio::test(flavor = "current_thread")]
async fn local_backend_conforms() {
    let key = || Keyring::parse(&Keyring::generate_key()).unwrap();
    run(&Fixture {
        backend: Arc::new(LocalBackend::new(key())),
        // Another key cannot open the tokens: the local form of refused credentials.
        refused: Some(Arc::new(LocalBackend::new(key()))),
        unavailable: None,
        missing_reference: None,
        external: None,
    })
    .await;
}
