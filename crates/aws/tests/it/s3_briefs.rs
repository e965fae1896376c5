//! The S3 brief store against a real moto server.

use crate::common::{moto_url, s3_with, unique};
use secretstore_aws::{S3BriefStore, Sse};
use secretstore_core::{
    BackendKind, Brief, BriefId, BriefSecret, BriefStore, Category, Error, TaskId,
};

fn brief() -> Brief {
    Brief {
        brief_id: BriefId::generate(),
        task_id: TaskId::generate(),
        project: "acme/platform/dev/agent-x".try_into().unwrap(),
        created_at: secretstore_core::timestamp::now(),
        delivery: Default::default(),
        secrets: vec![BriefSecret {
            name: "DB_URL".into(),
            scope: "acme/platform".try_into().unwrap(),
            version: 3,
            backend: BackendKind::AwsSm,
            category: Category::Infrastructure,
            backend_version: Some("a1b2c3d4-5678-90ab-cdef-EXAMPLE11111".into()),
            delivery: Default::default(),
            generator: None,
            lease_id: None,
            expires_at: None,
        }],
        payload: Some(serde_json::json!({ "goal": "migrate", "ü": ["€", 1] })),
    }
}

/// A new bucket on the shared moto server, and a store on it.
async fn store(prefix: &str, sse: Sse) -> S3BriefStore {
    let bucket = format!("briefs-{}", unique());
    let s = s3_with(&moto_url(), &bucket, prefix, sse).await;
    s.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    s
}

async fn sse_of(s: &S3BriefStore, key: &str) -> (Option<String>, Option<String>) {
    let head = s
        .client()
        .head_object()
        .bucket(s.bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    (
        head.server_side_encryption().map(|e| e.as_str().to_owned()),
        head.ssekms_key_id().map(str::to_owned),
    )
}

#[tokio::test]
async fn a_brief_round_trips_under_the_prefix_with_aes256() {
    let s = store("team/briefs/", Sse::Aes256).await;
    let b = brief();
    s.put(&b).await.unwrap();
    assert_eq!(s.get(&b.brief_id).await.unwrap(), b);
    let key = format!("team/briefs/{}.json", b.brief_id);
    assert_eq!(s.key(&b.brief_id).unwrap(), key);
    assert_eq!(sse_of(&s, &key).await.0.as_deref(), Some("AES256"));
}

#[tokio::test]
async fn an_empty_prefix_keeps_briefs_at_the_bucket_root() {
    let s = store("", Sse::Aes256).await;
    let b = brief();
    s.put(&b).await.unwrap();
    let listed = s
        .client()
        .list_objects_v2()
        .bucket(s.bucket())
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [format!("{}.json", b.brief_id).as_str()]);
    assert_eq!(s.get(&b.brief_id).await.unwrap(), b);
}

#[tokio::test]
async fn kms_briefs_are_written_with_aws_kms() {
    let s = store("briefs", Sse::Kms { key_id: None }).await;
    let b = brief();
    s.put(&b).await.unwrap();
    let key = s.key(&b.brief_id).unwrap();
    assert_eq!(sse_of(&s, &key).await.0.as_deref(), Some("aws:kms"));
    assert_eq!(s.get(&b.brief_id).await.unwrap(), b);

    let key_id = "arn:aws:kms:us-east-1:123456789012:key/0d8e7e0a-0000-4000-8000-000000000001";
    let s = store(
        "briefs",
        Sse::Kms {
            key_id: Some(key_id.into()),
        },
    )
    .await;
    s.put(&b).await.unwrap();
    let (sse, kms_key) = sse_of(&s, &s.key(&b.brief_id).unwrap()).await;
    assert_eq!(sse.as_deref(), Some("aws:kms"));
    assert_eq!(kms_key.as_deref(), Some(key_id));
}

#[tokio::test]
async fn an_unknown_brief_is_not_found() {
    let s = store("briefs", Sse::Aes256).await;
    match s.get(&BriefId::generate()).await {
        Err(Error::NotFound(m)) => assert!(m.starts_with("no brief "), "{m}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn check_writes_reads_and_deletes_a_probe() {
    let s = store("briefs/", Sse::Aes256).await;
    let line = s.check().await.unwrap();
    assert_eq!(
        line,
        format!("s3://{}/briefs: writable, SSE AES256", s.bucket())
    );
    let left = s
        .client()
        .list_objects_v2()
        .bucket(s.bucket())
        .send()
        .await
        .unwrap();
    assert!(left.contents().is_empty(), "the probe is deleted");
}

#[tokio::test]
async fn a_missing_bucket_fails_check_put_and_get_as_storage_errors() {
    // Never created: not "no brief", a broken store.
    let s = s3_with(
        &moto_url(),
        &format!("nowhere-{}", unique()),
        "briefs",
        Sse::Aes256,
    )
    .await;
    let err = s.check().await.unwrap_err();
    assert!(
        matches!(&err, Error::Storage(m) if m.to_string().contains("NoSuchBucket")),
        "{err:?}"
    );
    assert!(matches!(s.put(&brief()).await, Err(Error::BriefStore(_))));
    assert!(matches!(
        s.get(&BriefId::generate()).await,
        Err(Error::Storage(_))
    ));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_storage_error() {
    let url = format!("http://127.0.0.1:{}", crate::common::closed_port());
    let s = s3_with(&url, "bucket", "briefs", Sse::Aes256).await;
    assert!(matches!(s.check().await, Err(Error::Storage(_))));
    assert!(matches!(
        s.get(&BriefId::generate()).await,
        Err(Error::Storage(_))
    ));
}

#[tokio::test]
async fn a_localhost_endpoint_is_addressed_path_style() {
    // `bucket.localhost` does not resolve: virtual-host addressing would fail here.
    let url = moto_url().replace("127.0.0.1", "localhost");
    let bucket = format!("briefs-{}", unique());
    let s = s3_with(&url, &bucket, "briefs", Sse::Aes256).await;
    s.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let b = brief();
    s.put(&b).await.unwrap();
    assert_eq!(s.get(&b.brief_id).await.unwrap(), b);
    s.check().await.unwrap();
}
