//! Helpers for the tests against moto: the shared server of `scripts/test.sh`, and
//! private servers that a test starts (and stops) itself.

use secretstore_aws::{AwsSettings, AwsSmBackend, Credentials, S3BriefStore, Sse};
use std::time::Duration;

pub(crate) use secretstore_testkit::moto::Moto;
pub(crate) use secretstore_testkit::services::moto_url;
pub(crate) use secretstore_testkit::{closed_port, unique};

/// Settings for the endpoint `url`, region us-east-1.
pub(crate) fn settings(url: &str, timeout: Duration) -> AwsSettings {
    AwsSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(url.to_owned()),
        timeout,
        ..AwsSettings::default()
    }
}

/// moto's default test credentials (given explicitly: no test reads the SDK's chain).
pub(crate) fn creds() -> Credentials {
    Credentials::new("test", "test", None, None, "secretstore-tests")
}

pub(crate) async fn sm_with(s: &AwsSettings, c: Credentials) -> AwsSmBackend {
    let config = secretstore_aws::load_sdk_config(s, Some(c)).await.unwrap();
    AwsSmBackend::from_sdk_config(&config, s).unwrap()
}

/// The backend on the shared moto server.
pub(crate) async fn sm() -> AwsSmBackend {
    sm_with(&settings(&moto_url(), Duration::from_secs(10)), creds()).await
}

pub(crate) async fn s3_with(url: &str, bucket: &str, prefix: &str, sse: Sse) -> S3BriefStore {
    let s = settings(url, Duration::from_secs(10));
    let config = secretstore_aws::load_sdk_config(&s, Some(creds()))
        .await
        .unwrap();
    S3BriefStore::from_sdk_config(&config, &s, bucket, prefix, sse).unwrap()
}
