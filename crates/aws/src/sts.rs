//! The AWS STS provider of per-task credentials: one `AssumeRole` session per lease.
//!
//! The session is named after the brief (`ss-<brief id>`, chosen by secretstore and passed
//! as the request's principal), tagged with the task's project and brief, narrowed by the
//! generator's session policy if it has one, and lasts the shortest time STS allows that
//! covers the lease (at least 15 minutes, at most 12 hours). What a dispatch hands out are
//! the three `AWS_*` variables of [`STS_ENV`]; what is kept is the assumed-role ARN.
//!
//! The role's trust policy must allow the caller `sts:AssumeRole` and `sts:TagSession`
//! (the session is tagged).

use crate::errors::sts_error;
use crate::{AwsSettings, load_sdk_config};
use aws_config::SdkConfig;
use aws_sdk_sts::Client;
use aws_sdk_sts::config::Intercept;
use aws_sdk_sts::types::Tag;
use secretstore_core::generator::{
    GeneratorKind, GeneratorSpec, MintRequest, Minted, Minter, RevokeRequest, STS_ENV,
    STS_MIN_DURATION_SECS,
};
use secretstore_core::timestamp::{self, OffsetDateTime};
use secretstore_core::{BackendError, BoxFuture, Error, SecretValue};
use std::fmt;
use std::time::Duration;

/// STS's longest role session, in seconds (12 hours; the role's `MaxSessionDuration` may
/// allow less, which AWS then refuses).
pub const STS_MAX_DURATION_SECS: u64 = 12 * 3600;

/// The session tag that names the task's project.
pub const PROJECT_TAG: &str = "secretstore:project";
/// The session tag that names the brief.
pub const BRIEF_TAG: &str = "secretstore:brief";

/// Time allowed past the SDK's own bound (its operation timeout, retries included) before
/// a mint gives up on the call: the SDK's timeout normally ends it first, with a better
/// message.
const GRACE: Duration = Duration::from_secs(1);

/// Mints AWS STS sessions (`AssumeRole`) for aws_sts generators.
///
/// It holds the SDK client, built on the same configuration as the Secrets Manager
/// backend (the rustls-on-ring client, the region, `AWS_ENDPOINT_URL`, the time bound and
/// standard retries), whose credentials are the ones that assume the roles. Its `Debug`
/// names the region, the endpoint and the bound only.
pub struct StsMinter {
    client: Client,
    timeout: Duration,
    /// "us-east-1 (http://127.0.0.1:5000)".
    location: String,
}

impl fmt::Debug for StsMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsMinter")
            .field("location", &self.location)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl StsMinter {
    /// Connects with the SDK's standard credential chain.
    pub async fn new(s: &AwsSettings) -> Result<Self, Error> {
        let config = load_sdk_config(s, None).await?;
        Self::from_sdk_config(&config, s)
    }

    /// Builds the minter on an SDK configuration from [`load_sdk_config`] (which sets the
    /// HTTPS client, timeouts, retries, region, endpoint and credentials): the one the
    /// Secrets Manager backend and the S3 brief store are built on.
    pub fn from_sdk_config(config: &SdkConfig, s: &AwsSettings) -> Result<Self, Error> {
        s.validate()?;
        let region = crate::configured_region(config)?;
        Ok(StsMinter {
            client: Client::new(config),
            timeout: s.timeout,
            location: s.location(&region),
        })
    }

    /// Adds an SDK interceptor to every call (metrics; the tests count calls with one).
    pub fn with_interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(interceptor)
            .build();
        self.client = Client::from_conf(config);
        self
    }

    /// The SDK client, as configured.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn mint_inner(&self, request: MintRequest<'_>) -> Result<Minted, BackendError> {
        let GeneratorSpec::AwsSts(spec) = request.spec else {
            return Err(BackendError::Refused(format!(
                "the AWS STS provider cannot mint a {} generator",
                request.spec.kind()
            )));
        };
        let role = spec.role_arn.as_str();
        let duration = duration_secs(timestamp::now(), request.expires_at);
        let tags = [
            (PROJECT_TAG, request.project.as_str()),
            (BRIEF_TAG, request.brief_id.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| {
            Tag::builder().key(k).value(v).build().map_err(|e| {
                BackendError::Refused(format!("AWS STS AssumeRole {role}: session tag {k}: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
        let call = self
            .client
            .assume_role()
            .role_arn(role)
            .role_session_name(request.principal)
            .duration_seconds(duration)
            .set_policy(spec.session_policy.clone())
            .set_tags(Some(tags))
            .send();
        let out = match tokio::time::timeout(self.timeout + GRACE, call).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => return Err(sts_error("AssumeRole", role, &e)),
            Err(_) => {
                return Err(BackendError::Unavailable(format!(
                    "AWS STS AssumeRole {role}: no answer within {:?}",
                    self.timeout
                )));
            }
        };
        let incomplete = |what: &str| {
            BackendError::Unavailable(format!(
                "AWS STS AssumeRole {role}: the answer holds no {what}"
            ))
        };
        let principal = out
            .assumed_role_user
            .map(|u| u.arn)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| incomplete("assumed-role ARN"))?;
        let credentials = out.credentials.ok_or_else(|| incomplete("credentials"))?;
        let expiration = credentials.expiration;
        let expires_at = OffsetDateTime::from_unix_timestamp(expiration.secs())
            .map_err(|_| incomplete("valid expiration"))?;
        let values = [
            credentials.access_key_id,
            credentials.secret_access_key,
            credentials.session_token,
        ];
        let mut env = Vec::with_capacity(STS_ENV.len());
        for (name, value) in STS_ENV.iter().zip(values) {
            // SecretValue's error never holds the value.
            let value = SecretValue::new(value).map_err(|_| incomplete(name))?;
            env.push(((*name).to_owned(), value));
        }
        Ok(Minted {
            principal,
            env,
            expires_at,
        })
    }
}

impl Minter for StsMinter {
    fn kind(&self) -> GeneratorKind {
        GeneratorKind::AwsSts
    }

    fn mint<'a>(&'a self, request: MintRequest<'a>) -> BoxFuture<'a, Result<Minted, BackendError>> {
        Box::pin(self.mint_inner(request))
    }

    /// Does nothing, and asks nothing of AWS: an STS session cannot be ended before its
    /// expiry. AWS's only means, a deny-by-`aws:TokenIssueTime` policy attached to the
    /// role, would end every session of the role, other tasks' included, and needs
    /// `iam:PutRolePolicy` on it; secretstore keeps sessions short instead (the shortest
    /// that covers the task, 15 minutes at least), so a revoked lease's credentials
    /// stop working by themselves at the lease's `expires_at`.
    fn revoke<'a>(
        &'a self,
        _request: RevokeRequest<'a>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The session duration that covers a lease ending at `expires_at`, from `now`: the whole
/// seconds until then, rounded up, and within STS's 15 minutes to 12 hours.
pub(crate) fn duration_secs(now: OffsetDateTime, expires_at: OffsetDateTime) -> i32 {
    let left = expires_at - now;
    let secs = left
        .whole_seconds()
        .saturating_add(i64::from(left.subsec_nanoseconds() > 0));
    let min = i64::try_from(STS_MIN_DURATION_SECS).unwrap_or(900);
    let max = i64::try_from(STS_MAX_DURATION_SECS).unwrap_or(43_200);
    i32::try_from(secs.clamp(min, max)).unwrap_or(43_200)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn secs(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW + s).unwrap()
    }

    #[test]
    fn the_duration_is_the_shortest_that_covers_the_lease_within_stss_bounds() {
        let now = secs(0);
        assert_eq!(duration_secs(now, secs(3600)), 3600);
        assert_eq!(duration_secs(now, secs(60)), 900, "15 minutes at least");
        assert_eq!(duration_secs(now, secs(900)), 900);
        assert_eq!(duration_secs(now, secs(901)), 901);
        assert_eq!(duration_secs(now, secs(-30)), 900, "a lease already over");
        assert_eq!(duration_secs(now, secs(43_200)), 43_200);
        assert_eq!(
            duration_secs(now, secs(100_000)),
            43_200,
            "12 hours at most"
        );
        assert_eq!(duration_secs(now, secs(i64::from(i32::MAX) * 4)), 43_200);
        // A fraction of a second left over is a whole second more.
        let fraction =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(NOW + 1000) * 1_000_000_000 + 1)
                .unwrap();
        assert_eq!(duration_secs(now, fraction), 1001);
    }
}
