//! The AWS Secrets Manager backend against a real moto server.

use crate::common::{Moto, closed_port, creds, settings, sm, sm_with, unique};
use aws_sdk_secretsmanager::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_secretsmanager::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use secretstore_core::conformance::{Fixture, run};
use secretstore_core::{
    BackendError, Error, Fetch, Fetched, ScopePath, SecretName, SecretValue, StoredMaterial,
    ValueBackend,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn v(s: &str) -> SecretValue {
    SecretValue::new(s.to_owned()).unwrap()
}

fn scope() -> ScopePath {
    ScopePath::parse(&format!("acme/t{}", unique())).unwrap()
}

fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

#[track_caller]
fn value(r: &Result<Fetched, BackendError>) -> &str {
    match r {
        Ok(v) => v.value.expose_secret(),
        Err(e) => panic!("expected a value, got {e}"),
    }
}

async fn one(
    b: &dyn ValueBackend,
    m: &StoredMaterial,
    which: Fetch,
) -> Result<Fetched, BackendError> {
    b.fetch(&[m], which).await.into_iter().next().unwrap()
}

#[tokio::test]
async fn aws_sm_backend_conforms() {
    let backend = sm().await;
    let client = backend.client().clone();

    // A value created outside secretstore, as `aws secretsmanager create-secret` would.
    let external = client
        .create_secret()
        .name(format!("external/app-{}/API_KEY", unique()))
        .secret_string("created outside secretstore")
        .send()
        .await
        .unwrap();

    // A moto that enforces IAM credentials (INITIAL_NO_AUTH_ACTION_COUNT=0): the test
    // keys, unknown to its IAM, are refused.
    let strict = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let refused = sm_with(&settings(&strict.url, Duration::from_secs(10)), creds()).await;

    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let unavailable = sm_with(&settings(&nowhere, Duration::from_secs(2)), creds()).await;

    run(&Fixture {
        backend: Arc::new(backend),
        refused: Some(Arc::new(refused)),
        unavailable: Some(Arc::new(unavailable)),
        missing_reference: Some(format!(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:secretstore/missing/NOPE_{}-AbCdEf",
            unique()
        )),
        external: Some((
            external.arn.unwrap(),
            "created outside secretstore".to_owned(),
        )),
    })
    .await;
}

#[tokio::test]
async fn names_are_prefix_scope_and_name_and_the_material_is_arn_and_version() {
    let b = sm().await;
    let scope = scope();
    let m = b
        .write(&scope, &name("DB_URL"), &v("postgres://x"), None)
        .await
        .unwrap()
        .material;
    let want = format!("secretstore/{scope}/DB_URL");
    assert_eq!(b.secret_name(&scope, &name("DB_URL")), want);
    let arn = m.backend_ref.clone().unwrap();
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:"),
        "{arn}"
    );
    assert!(arn.contains(&format!(":secret:{want}-")), "{arn}");
    assert!(
        m.ciphertext.is_none(),
        "the value never goes to the database"
    );
    let d = b
        .client()
        .describe_secret()
        .secret_id(&want)
        .send()
        .await
        .unwrap();
    assert_eq!(d.arn.as_deref(), Some(arn.as_str()));
    let current = d
        .version_ids_to_stages
        .unwrap()
        .into_iter()
        .find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT"))
        .unwrap()
        .0;
    assert_eq!(m.backend_version.as_deref(), Some(current.as_str()));
}

#[tokio::test]
async fn rotation_in_aws_is_seen_by_current_and_recorded_keeps_the_old_value() {
    let b = sm().await;
    let scope = scope();
    let old = b
        .write(&scope, &name("API_TOKEN"), &v("old token"), None)
        .await
        .unwrap()
        .material;
    // Rotate in AWS itself, like `aws secretsmanager put-secret-value`.
    b.client()
        .put_secret_value()
        .secret_id(old.backend_ref.as_deref().unwrap())
        .secret_string("rotated token")
        .send()
        .await
        .unwrap();
    assert_eq!(value(&one(&b, &old, Fetch::Current).await), "rotated token");
    assert_eq!(value(&one(&b, &old, Fetch::Recorded).await), "old token");

    // A rollback moves AWSCURRENT back to the recorded version.
    let restored = b
        .restore(&scope, &name("API_TOKEN"), &old)
        .await
        .unwrap()
        .material;
    assert_eq!(restored.backend_version, old.backend_version);
    assert_eq!(value(&one(&b, &old, Fetch::Current).await), "old token");
}

#[tokio::test]
async fn a_write_to_a_linked_secret_goes_to_its_arn() {
    let b = sm().await;
    let external = b
        .client()
        .create_secret()
        .name(format!("team-x/{}/STRIPE_KEY", unique()))
        .secret_string("sk_1")
        .send()
        .await
        .unwrap();
    let ext_name = external.name.unwrap();
    // Linked by name: the material holds the ARN.
    let linked = b.link(&ext_name).await.unwrap();
    assert_eq!(linked.backend_ref, external.arn);
    let m = b
        .write(&scope(), &name("STRIPE_KEY"), &v("sk_2"), Some(&linked))
        .await
        .unwrap()
        .material;
    assert_eq!(
        m.backend_ref, external.arn,
        "no new secret under the prefix"
    );
    let got = b
        .client()
        .get_secret_value()
        .secret_id(&ext_name)
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string.as_deref(), Some("sk_2"));
}

#[tokio::test]
async fn a_name_left_in_aws_is_written_again() {
    // Deleting a secret in secretstore leaves AWS alone; setting it again must work.
    let b = sm().await;
    let scope = scope();
    let first = b
        .write(&scope, &name("AGAIN"), &v("one"), None)
        .await
        .unwrap()
        .material;
    let second = b
        .write(&scope, &name("AGAIN"), &v("two"), None)
        .await
        .unwrap()
        .material;
    assert_eq!(first.backend_ref, second.backend_ref);
    assert_ne!(first.backend_version, second.backend_version);
    assert_eq!(value(&one(&b, &second, Fetch::Current).await), "two");
}

#[tokio::test]
async fn a_secret_deleted_in_aws_is_not_found_and_never_another_error() {
    let b = sm().await;
    let scope = scope();
    let gone = b
        .write(&scope, &name("GONE"), &v("bye"), None)
        .await
        .unwrap()
        .material;
    let kept = b
        .write(&scope, &name("KEPT"), &v("still here"), None)
        .await
        .unwrap()
        .material;
    let arn = gone.backend_ref.clone().unwrap();
    // Scheduled for deletion (the default recovery window), as the console does.
    b.client()
        .delete_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();

    let got = b.fetch(&[&gone, &kept], Fetch::Current).await;
    assert!(
        matches!(&got[0], Err(BackendError::NotFound(_))),
        "{:?}",
        got[0]
    );
    assert_eq!(value(&got[1]), "still here", "one bad ref spoils no other");
    assert!(matches!(
        one(&b, &gone, Fetch::Recorded).await,
        Err(BackendError::NotFound(_))
    ));
    match b.link(&arn).await {
        Err(Error::Backend(BackendError::NotFound(_))) => {}
        other => panic!("link of a deleted secret: {other:?}"),
    }

    // Deleted for good.
    let gone2 = b
        .write(&scope, &name("GONE_NOW"), &v("bye"), None)
        .await
        .unwrap()
        .material;
    b.client()
        .delete_secret()
        .secret_id(gone2.backend_ref.as_deref().unwrap())
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    assert!(matches!(
        one(&b, &gone2, Fetch::Current).await,
        Err(BackendError::NotFound(_))
    ));
}

#[tokio::test]
async fn errors_never_carry_the_value() {
    let b = sm().await;
    let mut m = b
        .write(&scope(), &name("LEAKY"), &v("hunter2-value"), None)
        .await
        .unwrap()
        .material;
    m.backend_version = Some("00000000-0000-0000-0000-000000000000".into());
    let err = one(&b, &m, Fetch::Recorded).await.unwrap_err();
    assert!(matches!(err, BackendError::NotFound(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn link_rejects_a_malformed_reference() {
    let b = sm().await;
    for bad in ["", "has space", "semi;colon"] {
        assert!(
            matches!(b.link(bad).await, Err(Error::Invalid(_))),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn check_names_region_and_endpoint() {
    let line = sm().await.check().await.unwrap();
    assert!(line.contains("us-east-1"), "{line}");
    assert!(line.contains(&crate::common::moto_url()), "{line}");
    assert!(line.contains("reachable"), "{line}");
}

/// Counts the SDK operations a backend runs, by name.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<BTreeMap<String, usize>>>);

impl Calls {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Once per operation, retries not counted, after the operation's configuration (and
    // so its name) is in the bag: `read_before_execution` runs before that.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "?".into());
        *self.0.lock().unwrap().entry(op).or_default() += 1;
        Ok(())
    }
}

#[tokio::test]
async fn twenty_refs_cost_one_batch_call_and_twenty_one_cost_two() {
    let calls = Calls::default();
    let b = sm().await.with_interceptor(calls.clone());
    let scope = scope();
    let mut mats = Vec::new();
    for i in 0..21 {
        mats.push(
            b.write(
                &scope,
                &name(&format!("REF_{i}")),
                &v(&format!("value {i}")),
                None,
            )
            .await
            .unwrap()
            .material,
        );
    }
    assert_eq!(
        calls.take(),
        BTreeMap::from([("CreateSecret".to_owned(), 21)])
    );

    let twenty: Vec<&StoredMaterial> = mats.iter().take(20).collect();
    let got = b.fetch(&twenty, Fetch::Current).await;
    for (i, g) in got.iter().enumerate() {
        assert_eq!(value(g), format!("value {i}"));
    }
    assert_eq!(
        calls.take(),
        BTreeMap::from([("BatchGetSecretValue".to_owned(), 1)]),
        "a 20-ref fetch is exactly one call"
    );

    let all: Vec<&StoredMaterial> = mats.iter().collect();
    let got = b.fetch(&all, Fetch::Current).await;
    for (i, g) in got.iter().enumerate() {
        assert_eq!(value(g), format!("value {i}"));
    }
    assert_eq!(
        calls.take(),
        BTreeMap::from([("BatchGetSecretValue".to_owned(), 2)])
    );

    // The same ref twice is asked for once.
    let twice = [&mats[0], &mats[1], &mats[0]];
    let got = b.fetch(&twice, Fetch::Current).await;
    assert_eq!(value(&got[2]), "value 0");
    assert_eq!(
        calls.take(),
        BTreeMap::from([("BatchGetSecretValue".to_owned(), 1)])
    );

    // Recorded versions are read one by one.
    let got = b.fetch(&all[..3], Fetch::Recorded).await;
    assert_eq!(value(&got[2]), "value 2");
    assert_eq!(
        calls.take(),
        BTreeMap::from([("GetSecretValue".to_owned(), 3)])
    );

    // link describes, never reads the value.
    b.link(mats[0].backend_ref.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        calls.take(),
        BTreeMap::from([("DescribeSecret".to_owned(), 1)])
    );
}

#[tokio::test]
async fn aws_stopped_mid_test_fails_every_ref_as_unavailable_within_the_bound() {
    let mut moto = Moto::start(&[]);
    let timeout = Duration::from_secs(4);
    let b = sm_with(&settings(&moto.url, timeout), creds()).await;
    let scope = scope();
    let mut mats = Vec::new();
    for i in 0..5 {
        mats.push(
            b.write(&scope, &name(&format!("OUTAGE_{i}")), &v("x"), None)
                .await
                .unwrap()
                .material,
        );
    }
    let refs: Vec<&StoredMaterial> = mats.iter().collect();
    assert!(
        b.fetch(&refs, Fetch::Current)
            .await
            .iter()
            .all(Result::is_ok)
    );

    moto.kill();

    for which in [Fetch::Current, Fetch::Recorded] {
        let started = Instant::now();
        let got = b.fetch(&refs, which).await;
        let elapsed = started.elapsed();
        assert_eq!(got.len(), refs.len());
        for g in &got {
            assert!(
                matches!(g, Err(BackendError::Unavailable(_))),
                "{which:?}: expected Unavailable, got {g:?}"
            );
        }
        assert!(
            elapsed < timeout + Duration::from_secs(3),
            "{which:?} took {elapsed:?}, bound {timeout:?}"
        );
    }
    let started = Instant::now();
    assert!(matches!(
        b.write(&scope, &name("OUTAGE_0"), &v("y"), Some(&mats[0]))
            .await,
        Err(BackendError::Unavailable(_))
    ));
    assert!(b.check().await.is_err());
    assert!(started.elapsed() < 2 * timeout + Duration::from_secs(3));
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_unavailable_within_the_bound() {
    // Connections are accepted (by the kernel's backlog) but nothing ever answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hung.local_addr().unwrap());
    let timeout = Duration::from_secs(2);
    let b = sm_with(&settings(&url, timeout), creds()).await;
    let m = StoredMaterial {
        ciphertext: None,
        backend_ref: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf".into()),
        backend_version: Some("v".into()),
        generator: None,
    };
    for which in [Fetch::Current, Fetch::Recorded] {
        let started = Instant::now();
        let got = one(&b, &m, which).await;
        let elapsed = started.elapsed();
        match got {
            Err(BackendError::Unavailable(msg)) => assert!(msg.contains("timed out"), "{msg}"),
            other => panic!("{which:?}: expected Unavailable, got {other:?}"),
        }
        assert!(
            elapsed < timeout + Duration::from_secs(3),
            "{which:?} took {elapsed:?}"
        );
    }
    drop(hung);
}
