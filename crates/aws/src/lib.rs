//! secretstore on AWS: the Secrets Manager value backend ([`AwsSmBackend`]), the S3
//! brief store ([`S3BriefStore`]) and the STS provider of per-task credentials
//! ([`StsMinter`]).
//!
//! Values written with `SECRET_BACKEND=aws_sm` live in AWS Secrets Manager under
//! `AWS_SM_PREFIX` + scope path + `/` + NAME (`secretstore/acme/platform/DB_URL`); the
//! database keeps only the ARN and the AWS version id. A dispatch fetches all of its AWS
//! refs with `BatchGetSecretValue`, at most 20 a call. Every operation is bounded in total
//! time (the SDK's standard retries included, [`AwsSettings::timeout`]); past the bound it
//! fails as [`BackendError::Unavailable`](secretstore_core::BackendError::Unavailable),
//! never as "not found".
//!
//! An aws_sts generator's credentials are minted by [`StsMinter`]: one `AssumeRole`
//! session per lease, named `ss-<brief id>`, on the same SDK configuration and within the
//! same bound.
//!
//! The HTTPS client is rustls on *ring*, built here and handed to the SDK, so the build
//! pulls neither aws-lc nor OpenSSL. Credentials come from the SDK's standard chain
//! (`AWS_ACCESS_KEY_ID`, profiles with assume-role and web identity, web identity from
//! `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, ECS and EKS Pod Identity container
//! credentials, EC2 instance metadata), each link named for `doctor`, its STS calls going
//! through `AWS_ENDPOINT_URL` when it is set, and refreshed before they expire (see
//! [`REFRESH_BEFORE_EXPIRY`]); every other setting arrives in [`AwsSettings`], which the
//! command line's config module fills in.
//!
//! ```no_run
//! use secretstore_aws::{AwsSettings, AwsSmBackend, S3BriefStore, Sse};
//! use secretstore_core::{ScopePath, SecretName, SecretValue, ValueBackend, Fetch};
//!
//! # async fn demo() -> secretstore_core::Result<()> {
//! let settings = AwsSettings {
//!     region: Some("us-east-1".into()),
//!     endpoint_url: Some("http://127.0.0.1:5000".into()), // moto; None for AWS itself
//!     ..AwsSettings::default()
//! };
//! let sm = AwsSmBackend::new(&settings).await?;
//! let scope = ScopePath::parse("acme/platform")?;
//! let name = SecretName::parse("DB_URL")?;
//! let value = SecretValue::new("postgres://app@db/app".to_string())?;
//! // Creates `secretstore/acme/platform/DB_URL`; the material holds the ARN and version id.
//! let material = sm.write(&scope, &name, &value, None).await?.material;
//! let fetched = sm.fetch(&[&material], Fetch::Current).await;
//! assert!(fetched[0].is_ok());
//!
//! let briefs = S3BriefStore::new(&settings, "my-bucket", "briefs/", Sse::Aes256).await?;
//! # let _ = briefs;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod credentials;
mod errors;
mod link_ref;
mod s3;
mod sm;
mod sts;

pub use credentials::{CredentialSource, REFRESH_BEFORE_EXPIRY};
pub use s3::{S3BriefStore, Sse};
pub use sm::AwsSmBackend;
pub use sts::{BRIEF_TAG, PROJECT_TAG, STS_MAX_DURATION_SECS, StsMinter};

/// Static credentials, for tests and for embedding (`Credentials::new(key, secret, None,
/// None, "name")`); the command line uses the SDK's standard credential chain.
pub use aws_sdk_secretsmanager::config::Credentials;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls;
use secretstore_core::Error;
use std::time::Duration;

/// The default `AWS_SM_PREFIX`.
pub const DEFAULT_SM_PREFIX: &str = "secretstore/";

/// The default bound on one AWS operation, retries included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `AWS_SM_PREFIX`: with the deepest scope path (4 × 63 + 3 bytes), a `/` and
/// the longest name (128), a secret name stays within AWS's 512 characters.
pub const MAX_SM_PREFIX_LEN: usize = 512 - (4 * 63 + 3) - 1 - 128;

/// The AWS settings secretstore uses, as the command line's config module reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// `AWS_REGION`; `None`: the SDK's region chain (profile, instance metadata).
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL` (moto, MinIO, LocalStack); `None`: AWS's own endpoints.
    pub endpoint_url: Option<String>,
    /// `AWS_SM_PREFIX`: the name prefix of the secrets secretstore creates.
    pub sm_prefix: String,
    /// The bound on one operation, the SDK's retries included; past it the operation fails
    /// as unavailable.
    pub timeout: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            region: None,
            endpoint_url: None,
            sm_prefix: DEFAULT_SM_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl AwsSettings {
    /// Checks the settings that secretstore owns (the prefix, the endpoint's form).
    pub fn validate(&self) -> Result<(), Error> {
        if self.sm_prefix.len() > MAX_SM_PREFIX_LEN {
            return Err(Error::config(
                format!(
                    "AWS_SM_PREFIX is {} characters long; at most {MAX_SM_PREFIX_LEN} keep every secret name within AWS's 512",
                    self.sm_prefix.len()
                ),
                "use a shorter prefix, such as the default secretstore/",
            ));
        }
        if let Some(bad) = self.sm_prefix.chars().find(|c| !sm::valid_name_char(*c)) {
            return Err(Error::config(
                format!(
                    "AWS_SM_PREFIX {:?} contains {bad:?}; AWS secret names allow only A-Z a-z 0-9 / _ + = . @ -",
                    self.sm_prefix
                ),
                "use a prefix such as secretstore/",
            ));
        }
        if let Some(url) = &self.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(Error::config(
                format!("AWS_ENDPOINT_URL {url:?} is not an http:// or https:// URL"),
                "for moto, something like http://127.0.0.1:5000",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::config(
                "the AWS timeout is zero",
                "give a bound of some seconds",
            ));
        }
        Ok(())
    }

    /// The region and endpoint, as a `doctor` line names them.
    fn location(&self, region: &str) -> String {
        match &self.endpoint_url {
            Some(url) => format!("{region} ({url})"),
            None => format!("{region} (AWS endpoint)"),
        }
    }
}

/// Loads the SDK configuration for `settings`: the rustls-on-ring HTTPS client, the
/// timeouts and standard retries, the region and endpoint, and credentials (`None`: the
/// SDK's standard chain, link by link as the `credentials` module describes it).
///
/// The credentials sit behind the SDK's lazy identity cache, which loads new ones
/// [`REFRESH_BEFORE_EXPIRY`] before the current ones expire (its buffer time), and gives a
/// load at most the bound of one operation. Nothing here reads or logs a key or token.
///
/// Fails with a configuration error when no region can be found.
pub async fn load_sdk_config(
    settings: &AwsSettings,
    credentials: Option<Credentials>,
) -> Result<SdkConfig, Error> {
    settings.validate()?;
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeout_config(settings.timeout))
        .retry_config(RetryConfig::standard());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    let cache = IdentityCache::lazy()
        .buffer_time(REFRESH_BEFORE_EXPIRY)
        .load_timeout(settings.timeout)
        .build();
    let config = match credentials {
        Some(c) => {
            loader
                .credentials_provider(c)
                .identity_cache(cache)
                .load()
                .await
        }
        None => {
            // Without credentials first: the web-identity link's STS client is built on it
            // (same client, endpoint, bound), then the chain is added.
            let anonymous = loader.no_credentials().load().await;
            let chain = credentials::chain(&anonymous, settings.endpoint_url.as_deref()).await;
            anonymous
                .into_builder()
                .credentials_provider(chain)
                .identity_cache(cache)
                .build()
        }
    };
    configured_region(&config)?;
    Ok(config)
}

/// The region of an SDK configuration, or the settings error that names `AWS_REGION`.
pub(crate) fn configured_region(config: &SdkConfig) -> Result<String, Error> {
    config.region().map(|r| r.to_string()).ok_or_else(|| {
        Error::config(
            "no AWS region is configured",
            "set AWS_REGION (for example us-east-1)",
        )
    })
}

/// The SDK's timeouts for a total bound of `total` per operation.
///
/// The operation timeout covers every attempt and the back-off between them, so the
/// standard retries (throttling, 5xx, a dropped connection) happen only within the bound.
/// One attempt may take half of it, so that a hung connection still leaves time for a
/// retry; connecting may take 3 s at most.
fn timeout_config(total: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(total)
        .operation_attempt_timeout(total / 2)
        .connect_timeout(total.min(Duration::from_secs(3)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_are_valid() {
        let s = AwsSettings::default();
        assert_eq!(s.sm_prefix, "secretstore/");
        assert_eq!(s.timeout, Duration::from_secs(10));
        s.validate().unwrap();
    }

    #[test]
    fn bad_prefix_and_endpoint_are_config_errors() {
        for s in [
            AwsSettings {
                sm_prefix: "secret store/".into(),
                ..AwsSettings::default()
            },
            AwsSettings {
                sm_prefix: "x".repeat(MAX_SM_PREFIX_LEN + 1),
                ..AwsSettings::default()
            },
            AwsSettings {
                endpoint_url: Some("127.0.0.1:5000".into()),
                ..AwsSettings::default()
            },
            AwsSettings {
                timeout: Duration::ZERO,
                ..AwsSettings::default()
            },
        ] {
            assert!(matches!(s.validate(), Err(Error::Config { .. })), "{s:?}");
        }
    }
}
