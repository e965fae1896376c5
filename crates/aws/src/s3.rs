//! The S3 brief store: `BRIEF_STORE_URL=s3://BUCKET/PREFIX`.

use crate::errors::describe;
use crate::{AwsSettings, load_sdk_config};
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use secretstore_core::{BoxFuture, Brief, BriefId, BriefStore, Error, Result};
use std::fmt;

/// The server-side encryption of every object the brief store writes (`BRIEF_SSE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sse {
    /// `AES256`: keys managed by S3 (SSE-S3).
    Aes256,
    /// `aws:kms`: SSE-KMS, with `BRIEF_SSE_KMS_KEY_ID` or else the account's default key.
    Kms {
        /// The KMS key (id, ARN or alias); `None`: the account's default key for S3.
        key_id: Option<String>,
    },
}

impl fmt::Display for Sse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sse::Aes256 => f.write_str("AES256"),
            Sse::Kms { key_id: None } => f.write_str("aws:kms"),
            Sse::Kms { key_id: Some(k) } => write!(f, "aws:kms (key {k})"),
        }
    }
}

/// Keeps briefs as `PREFIX/<brief id>.json` in an S3 bucket (AWS S3, MinIO, moto), each
/// written with server-side encryption.
pub struct S3BriefStore {
    client: Client,
    bucket: String,
    /// The prefix without a trailing `/`; empty for the bucket's root.
    prefix: String,
    sse: Sse,
}

impl S3BriefStore {
    /// Connects with the SDK's standard credential chain. `prefix` may be empty and may
    /// end in `/` (`s3://bucket`, `s3://bucket/briefs/`).
    pub async fn new(s: &AwsSettings, bucket: &str, prefix: &str, sse: Sse) -> Result<Self> {
        let config = load_sdk_config(s, None).await?;
        Self::from_sdk_config(&config, s, bucket, prefix, sse)
    }

    /// Builds the store on an SDK configuration from [`load_sdk_config`].
    pub fn from_sdk_config(
        config: &SdkConfig,
        s: &AwsSettings,
        bucket: &str,
        prefix: &str,
        sse: Sse,
    ) -> Result<Self> {
        if bucket.is_empty() || bucket.contains('/') {
            return Err(Error::config(
                format!("{bucket:?} is not an S3 bucket name"),
                "BRIEF_STORE_URL=s3://BUCKET/PREFIX",
            ));
        }
        let mut builder = aws_sdk_s3::config::Builder::from(config);
        // moto, MinIO and other local endpoints do not serve virtual-host buckets
        // (`bucket.127.0.0.1`): address the bucket in the path there.
        if s.endpoint_url.is_some() {
            builder = builder.force_path_style(true);
        }
        Ok(S3BriefStore {
            client: Client::from_conf(builder.build()),
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            sse,
        })
    }

    /// The SDK client, as configured.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of a brief: `PREFIX/<brief id>.json`.
    pub fn key(&self, id: &BriefId) -> Result<String> {
        // BriefId can only be built from a UUID; re-check as a second fence.
        let id = BriefId::parse(id.as_str())?;
        Ok(self.key_of(&format!("{id}.json")))
    }

    fn key_of(&self, file: &str) -> String {
        if self.prefix.is_empty() {
            file.to_owned()
        } else {
            format!("{}/{file}", self.prefix)
        }
    }

    /// `s3://bucket/prefix`.
    fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn storage(&self, what: &str, reason: String) -> Error {
        Error::storage(format!(
            "brief store {}: cannot {what}: {reason}",
            self.url()
        ))
    }

    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<()> {
        let (sse, kms_key) = match &self.sse {
            Sse::Aes256 => (ServerSideEncryption::Aes256, None),
            Sse::Kms { key_id } => (ServerSideEncryption::AwsKms, key_id.clone()),
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms_key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.storage(&format!("write {key}"), describe(&e).1))?;
        Ok(())
    }

    /// Deletes the object at `key` (no error if there is none).
    async fn delete_object(&self, key: &str) -> Result<()> {
        delete(&self.client, &self.bucket, key)
            .await
            .map_err(|reason| self.storage(&format!("delete {key}"), reason))
    }

    /// Deletes, in the background, the object a failed PutObject may still leave: a
    /// request S3 got but did not answer (frozen, slow, cut) can be stored after the
    /// dispatch failed. A few tries, the last well after the request's own bound, so a
    /// late write is taken back too; the brief id was never handed out nor recorded, so
    /// nothing else can be at that key.
    fn take_back_later(&self, key: String) {
        let (client, bucket) = (self.client.clone(), self.bucket.clone());
        tokio::spawn(async move {
            for wait in BACKGROUND_DELETES {
                tokio::time::sleep(wait).await;
                let _ = delete(&client, &bucket, &key).await;
            }
        });
    }

    /// The object's bytes; `Ok(None)` if there is no such key.
    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            // Only a missing key is "not found"; a missing bucket is a broken store.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(self.storage(&format!("read {key}"), describe(&e).1)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.storage(&format!("read {key}"), e.to_string()))?;
        Ok(Some(bytes.to_vec()))
    }
}

/// When (after a failed PutObject, one after the other) the object is deleted again.
const BACKGROUND_DELETES: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(30),
];

async fn delete(client: &Client, bucket: &str, key: &str) -> std::result::Result<(), String> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| describe(&e).1)
}

impl BriefStore for S3BriefStore {
    fn put<'a>(&'a self, brief: &'a Brief) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let key = self.key(&brief.brief_id)?;
            let json = serde_json::to_vec_pretty(brief)
                .map_err(|e| Error::storage(format!("cannot encode brief: {e}")))?;
            // A PutObject is atomic: the brief is whole or absent. S3 failing (down, frozen,
            // refusing) makes the brief store unavailable, not secretstore broken.
            self.put_object(&key, json).await.map_err(|e| {
                self.take_back_later(key);
                match e {
                    Error::Storage(source) => Error::BriefStore(source.to_string()),
                    other => other,
                }
            })
        })
    }

    fn discard<'a>(&'a self, id: &'a BriefId) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.delete_object(&self.key(id)?).await })
    }

    fn get<'a>(&'a self, id: &'a BriefId) -> BoxFuture<'a, Result<Brief>> {
        Box::pin(async move {
            let key = self.key(id)?;
            let bytes = self
                .get_object(&key)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no brief {id}")))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::storage(format!("brief {id} is corrupt: {e}")))
        })
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            // Write, read back and delete a probe: the same calls (and SSE) as a brief.
            let key = self.key_of(".secretstore-doctor-probe.json");
            let probe = br#"{"probe":"secretstore doctor"}"#.to_vec();
            self.put_object(&key, probe.clone()).await?;
            match self.get_object(&key).await? {
                Some(b) if b == probe => {}
                _ => {
                    return Err(self.storage(
                        &format!("read back {key}"),
                        "the object read differs from the one written".into(),
                    ));
                }
            }
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| self.storage(&format!("delete {key}"), describe(&e).1))?;
            Ok(format!("{}: writable, SSE {}", self.url(), self.sse))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(prefix: &str) -> S3BriefStore {
        let s = AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            ..AwsSettings::default()
        };
        let creds = crate::Credentials::new("k", "s", None, None, "test");
        let config = load_sdk_config(&s, Some(creds)).await.unwrap();
        S3BriefStore::from_sdk_config(&config, &s, "bucket", prefix, Sse::Aes256).unwrap()
    }

    #[tokio::test]
    async fn keys_handle_empty_prefix_and_slashes() {
        let id = BriefId::parse("0190e7a4-5b1c-4f3e-9a2b-1c2d3e4f5a6b").unwrap();
        let want = "briefs/0190e7a4-5b1c-4f3e-9a2b-1c2d3e4f5a6b.json";
        for p in ["briefs", "briefs/", "/briefs/"] {
            assert_eq!(store(p).await.key(&id).unwrap(), want, "{p:?}");
        }
        for p in ["", "/"] {
            assert_eq!(
                store(p).await.key(&id).unwrap(),
                "0190e7a4-5b1c-4f3e-9a2b-1c2d3e4f5a6b.json"
            );
        }
        assert_eq!(store("a/b/").await.url(), "s3://bucket/a/b");
        assert_eq!(store("").await.url(), "s3://bucket");
    }

    #[test]
    fn sse_is_named_as_s3_names_it() {
        assert_eq!(Sse::Aes256.to_string(), "AES256");
        assert_eq!(Sse::Kms { key_id: None }.to_string(), "aws:kms");
    }
}
