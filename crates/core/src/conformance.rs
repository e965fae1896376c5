//! One conformance suite for every value backend (local, AWS Secrets Manager, Vault),
//! the way rustls runs one test suite against every crypto provider. Enabled by the
//! `testing` feature; each backend crate calls [`run`] from its own tests against a real
//! server.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test suite for adapters: a failed step is a failed test"
)]

use crate::error::{BackendError, Error};
use crate::model::StoredMaterial;
use crate::name::SecretName;
use crate::ports::{Fetch, ValueBackend};
use crate::scope::ScopePath;
use crate::value::SecretValue;
use std::sync::Arc;

/// What a backend's test hands the suite.
pub struct Fixture {
    /// The backend under test, with working credentials.
    pub backend: Arc<dyn ValueBackend>,
    /// The same server with credentials it refuses (a bad token; for local, another key).
    pub refused: Option<Arc<dyn ValueBackend>>,
    /// The same backend pointed at an address where nothing listens.
    pub unavailable: Option<Arc<dyn ValueBackend>>,
    /// A reference in the right form that names nothing.
    pub missing_reference: Option<String>,
    /// A value created outside secretstore: (reference to link, its value).
    pub external: Option<(String, String)>,
}

fn v(s: &str) -> SecretValue {
    SecretValue::new(s.to_owned()).expect("valid test value")
}

async fn one(
    b: &dyn ValueBackend,
    m: &StoredMaterial,
    which: Fetch,
) -> Result<SecretValue, BackendError> {
    b.fetch(&[m], which)
        .await
        .into_iter()
        .next()
        .expect("one result per item")
        .map(|f| f.value)
}

#[track_caller]
fn same(got: Result<SecretValue, BackendError>, want: &str, what: &str) {
    match got {
        Ok(g) => assert!(g.expose_secret() == want, "{what}: wrong value"),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Runs every check; panics with a message naming the one that failed.
pub async fn run(f: &Fixture) {
    let b = f.backend.as_ref();
    let scope = ScopePath::parse(&format!("conformance/t{}", &crate::random::uuid_v4()[..8]))
        .expect("scope");
    let name = SecretName::parse("CONFORMANCE_SECRET").expect("name");
    let first = "first value\nline two ü€😀 \"q\" $X";
    let second = "second value";

    // set / get
    let m1 = b
        .write(&scope, &name, &v(first), None)
        .await
        .expect("write v1")
        .material;
    same(one(b, &m1, Fetch::Current).await, first, "get v1 (current)");
    same(
        one(b, &m1, Fetch::Recorded).await,
        first,
        "get v1 (recorded)",
    );

    // a new version: the old one stays readable as recorded
    let m2 = b
        .write(&scope, &name, &v(second), Some(&m1))
        .await
        .expect("write v2")
        .material;
    same(one(b, &m2, Fetch::Current).await, second, "get v2");
    same(
        one(b, &m2, Fetch::Recorded).await,
        second,
        "get v2 (recorded)",
    );
    same(
        one(b, &m1, Fetch::Recorded).await,
        first,
        "v1 still readable",
    );

    // many at once, in order (more than one AWS batch of 20)
    let mut mats = Vec::new();
    let mut want = Vec::new();
    for i in 0..23 {
        let n = SecretName::parse(&format!("CONFORMANCE_MANY_{i}")).expect("name");
        let val = format!("many-{i}");
        mats.push(
            b.write(&scope, &n, &v(&val), None)
                .await
                .expect("write many")
                .material,
        );
        want.push(val);
    }
    let refs: Vec<&StoredMaterial> = mats.iter().collect();
    let got = b.fetch(&refs, Fetch::Current).await;
    assert_eq!(got.len(), want.len(), "one result per item");
    for ((g, w), m) in got.into_iter().zip(&want).zip(&mats) {
        // Each value comes with the backend version it was read from.
        if let Ok(f) = &g {
            assert_eq!(f.version, m.backend_version, "fetched version");
        }
        same(g.map(|f| f.value), w, "batch fetch in order");
    }

    // restore an earlier version as the current one
    let m3 = b
        .restore(&scope, &name, &m1)
        .await
        .expect("restore v1")
        .material;
    same(
        one(b, &m3, Fetch::Current).await,
        first,
        "restored value is current",
    );

    // undo: a write taken back leaves the value before it current
    let w4 = b
        .write(&scope, &name, &v("to be undone"), Some(&m3))
        .await
        .expect("write v4");
    same(
        one(b, &w4.material, Fetch::Current).await,
        "to be undone",
        "v4",
    );
    b.undo(&w4).await.expect("undo v4");
    if b.kind() != crate::model::BackendKind::Local {
        same(
            one(b, &m3, Fetch::Current).await,
            first,
            "the value before the undone write is current again",
        );
        // A new entry taken back is gone.
        let fresh = SecretName::parse("CONFORMANCE_UNDONE").expect("name");
        let w = b
            .write(&scope, &fresh, &v("created then undone"), None)
            .await
            .expect("write a new entry");
        b.undo(&w).await.expect("undo a creation");
        match one(b, &w.material, Fetch::Current).await {
            Err(BackendError::NotFound(_)) => {}
            other => panic!("an undone creation: expected NotFound, got {other:?}"),
        }
    }

    // link a value created outside secretstore
    if let Some((reference, value)) = &f.external {
        let linked = b.link(reference).await.expect("link an external value");
        same(one(b, &linked, Fetch::Current).await, value, "linked value");
    }

    // missing: never a value, never anything but NotFound
    if let Some(missing) = &f.missing_reference {
        match b.link(missing).await {
            Err(Error::Backend(BackendError::NotFound(_))) => {}
            Err(e) => panic!("link of a missing reference: expected NotFound, got {e:?}"),
            Ok(_) => panic!("link of a missing reference succeeded"),
        }
        let ghost = StoredMaterial {
            ciphertext: None,
            backend_ref: Some(missing.clone()),
            backend_version: None,
            generator: None,
        };
        match one(b, &ghost, Fetch::Current).await {
            Err(BackendError::NotFound(_)) => {}
            other => panic!("fetch of a missing reference: expected NotFound, got {other:?}"),
        }
    }

    // refused credentials
    if let Some(r) = &f.refused {
        match one(r.as_ref(), &m2, Fetch::Current).await {
            Err(BackendError::Refused(_)) => {}
            other => panic!("refused credentials on fetch: expected Refused, got {other:?}"),
        }
        // A Fernet key cannot refuse to encrypt: the local backend's wrong key is caught by
        // the database's key check before any write.
        if r.kind() != crate::model::BackendKind::Local {
            match r.write(&scope, &name, &v("x"), Some(&m2)).await {
                Err(BackendError::Refused(_)) => {}
                other => panic!("refused credentials on write: expected Refused, got {other:?}"),
            }
        }
    }

    // unavailable
    if let Some(u) = &f.unavailable {
        match one(u.as_ref(), &m2, Fetch::Current).await {
            Err(BackendError::Unavailable(_)) => {}
            other => panic!("unavailable on fetch: expected Unavailable, got {other:?}"),
        }
        match u.write(&scope, &name, &v("x"), Some(&m2)).await {
            Err(BackendError::Unavailable(_)) => {}
            other => panic!("unavailable on write: expected Unavailable, got {other:?}"),
        }
        assert!(
            u.check().await.is_err(),
            "check of an unavailable backend must fail"
        );
    }

    // the check passes on the working backend
    b.check().await.expect("check");
}
