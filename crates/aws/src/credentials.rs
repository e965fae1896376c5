//! Where the AWS credentials come from: the SDK's default chain, link by link, each link
//! named so that `doctor` can say which one supplied them.
//!
//! The order is the SDK's own ([`aws_config::default_provider::credentials`]):
//!
//! 1. the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`);
//! 2. the profile (`AWS_PROFILE`, else `default`, from `AWS_CONFIG_FILE` and
//!    `AWS_SHARED_CREDENTIALS_FILE`, by default `~/.aws/config` and `~/.aws/credentials`):
//!    static keys, an assume-role profile (`role_arn` with `source_profile` or
//!    `credential_source`, chained as deep as the profiles say) or a web-identity profile
//!    (`role_arn` with `web_identity_token_file`);
//! 3. web identity from the environment: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`
//!    (+ `AWS_ROLE_SESSION_NAME`), as EKS's IAM roles for service accounts set them;
//! 4. container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS) or
//!    `AWS_CONTAINER_CREDENTIALS_FULL_URI` with its authorization token file (EKS Pod
//!    Identity);
//! 5. EC2 instance metadata (IMDSv2; off with `AWS_EC2_METADATA_DISABLED=true`).
//!
//! A link that finds nothing of its own passes to the next; a link that is configured but
//! fails (a web-identity token file that cannot be read, a profile naming a missing source
//! profile, STS refusing) stops the chain with its error, so credentials never come from a
//! link that was not meant.
//!
//! Links 1, 2, 4 and 5 are the SDK's providers. Link 3 is secretstore's own, because the
//! SDK builds the STS client of its web-identity provider without the loader's endpoint
//! override: with `AWS_ENDPOINT_URL` set only in `.env`, `AssumeRoleWithWebIdentity`
//! would go to AWS itself. Ours calls STS with the same client configuration as every
//! other call (the rustls-on-ring HTTPS client, `AWS_ENDPOINT_URL`, the time bound and
//! retries), reads the token file on every call (Kubernetes rotates it) and keeps the
//! token in memory only for that call. The SDK's profile provider reads the STS endpoint
//! from the process environment (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`) or the
//! profile's `endpoint_url` only: when the override is set in `.env` alone and the profile
//! needs STS, the profile link refuses instead of calling AWS.
//!
//! Refresh: the chain sits behind the SDK's lazy identity cache
//! ([`aws_config::identity::IdentityCache::lazy`]) with a buffer time of
//! [`REFRESH_BEFORE_EXPIRY`]: a request made within that time of the credentials' expiry
//! loads new ones first (a new STS session for web identity and assume-role profiles, a
//! new read from the container endpoint or the instance metadata), so no request is
//! signed with credentials about to expire. Credentials without an expiry (static keys)
//! are loaded again every 15 minutes.
//!
//! Descriptions name settings, roles, profiles and file paths, never a key, a session
//! token or a web-identity token.

use aws_config::SdkConfig;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
#[expect(
    deprecated,
    reason = "aws-config 1.8's own name; EnvConfigFiles is in aws-runtime, not a dependency"
)]
use aws_config::profile::profile_file::ProfileFiles;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_types::os_shim_internal::{Env, Fs};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long before the credentials' expiry the identity cache loads new ones.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// The link of the chain that supplied a set of credentials, as `doctor` shows it:
/// "web identity (AWS_ROLE_ARN arn:aws:iam::123456789012:role/x, token file /var/run/…)".
/// Attached to the credentials the chain returns (a property of [`Credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSource(pub String);

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The chain: each link with how it is described.
struct Chain {
    links: Vec<(String, SharedCredentialsProvider)>,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.links.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Chain {
    async fn credentials(&self) -> provider::Result {
        for (name, link) in &self.links {
            match link.provide_credentials().await {
                Ok(mut c) => {
                    c.set_property(CredentialSource(name.clone()));
                    return Ok(c);
                }
                Err(CredentialsError::CredentialsNotLoaded(_)) => continue,
                Err(e) => {
                    return Err(CredentialsError::provider_error(LinkFailed {
                        link: name.clone(),
                        source: e,
                    }));
                }
            }
        }
        Err(CredentialsError::not_loaded(
            "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), the profile, web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint or the EC2 instance metadata",
        ))
    }
}

impl ProvideCredentials for Chain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// A configured link that failed; its message names the link.
#[derive(Debug)]
struct LinkFailed {
    link: String,
    source: CredentialsError,
}

impl fmt::Display for LinkFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AWS credentials from {}", self.link)
    }
}

impl std::error::Error for LinkFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The STS endpoint the SDK's own STS clients (those of the profile provider) use: the
/// process environment's, else the profile's.
fn sdk_sts_endpoint(env: &Env, profile_endpoint: Option<&str>) -> Option<String> {
    env.get("AWS_ENDPOINT_URL_STS")
        .ok()
        .or_else(|| env.get("AWS_ENDPOINT_URL").ok())
        .filter(|v| !v.is_empty())
        .or_else(|| profile_endpoint.map(str::to_owned))
}

/// Builds the chain. `anonymous` is the SDK configuration without credentials (the
/// HTTPS client, region, endpoint override, timeouts and retries): the STS client of the
/// web-identity link is built on it, `AssumeRoleWithWebIdentity` being unsigned.
pub(crate) async fn chain(
    anonymous: &SdkConfig,
    endpoint_override: Option<&str>,
) -> SharedCredentialsProvider {
    let env = Env::real();
    let mut conf = ProviderConfig::without_region().with_region(anonymous.region().cloned());
    if let Some(http) = anonymous.http_client() {
        conf = conf.with_http_client(http);
    }
    let mut links: Vec<(String, SharedCredentialsProvider)> = Vec::new();

    links.push((
        "environment (AWS_ACCESS_KEY_ID)".to_owned(),
        SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
    ));

    let profile = Profile::read(&env).await;
    let profile_link: SharedCredentialsProvider = match (&profile, endpoint_override) {
        (Some(p), Some(url))
            if p.needs_sts()
                && sdk_sts_endpoint(&env, p.endpoint_url.as_deref()).as_deref() != Some(url) =>
        {
            SharedCredentialsProvider::new(Refuse(format!(
                "profile {} assumes a role through STS, but AWS_ENDPOINT_URL {url} is not in the process environment, where the SDK's STS client of a profile looks for it: the call would go to AWS itself; set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_STS) in the environment",
                p.name
            )))
        }
        _ => SharedCredentialsProvider::new(
            ProfileFileCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        ),
    };
    links.push((
        profile
            .as_ref()
            .map(Profile::describe)
            .unwrap_or_else(|| "profile".to_owned()),
        profile_link,
    ));

    let web = WebIdentity::from_env(&env, anonymous);
    links.push((
        web.as_ref()
            .map(WebIdentity::describe)
            .unwrap_or_else(|| "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)".to_owned()),
        match web {
            Some(w) => SharedCredentialsProvider::new(w),
            None => SharedCredentialsProvider::new(NotLoaded(
                "AWS_WEB_IDENTITY_TOKEN_FILE is not set".to_owned(),
            )),
        },
    ));

    let container = if let Ok(uri) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        format!(
            "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI {uri}: EKS Pod Identity or ECS)"
        )
    } else {
        "ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)".to_owned()
    };
    links.push((
        container,
        SharedCredentialsProvider::new(EcsCredentialsProvider::builder().configure(&conf).build()),
    ));
    links.push((
        "EC2 instance metadata".to_owned(),
        SharedCredentialsProvider::new(ImdsCredentialsProvider::builder().configure(&conf).build()),
    ));
    SharedCredentialsProvider::new(Chain { links })
}

/// A link that must not run (a profile whose STS call would leave the endpoint override):
/// always the same error, which stops the chain.
#[derive(Debug)]
struct Refuse(String);

impl ProvideCredentials for Refuse {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::invalid_configuration(
            self.0.clone(),
        )))
    }
}

/// A link with nothing configured: the chain goes on.
#[derive(Debug)]
struct NotLoaded(String);

impl ProvideCredentials for NotLoaded {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(self.0.clone())))
    }
}

/// The selected profile, as far as `doctor` and the endpoint guard need it.
#[derive(Debug)]
struct Profile {
    name: String,
    role_arn: Option<String>,
    source_profile: Option<String>,
    credential_source: Option<String>,
    web_identity_token_file: Option<String>,
    endpoint_url: Option<String>,
    static_keys: bool,
}

impl Profile {
    /// The profile the SDK will use, if the profile files define it.
    async fn read(env: &Env) -> Option<Profile> {
        #[expect(deprecated, reason = "as the import above")]
        let files = ProfileFiles::default();
        let set = aws_config::profile::load(&Fs::real(), env, &files, None)
            .await
            .ok()?;
        let name = set.selected_profile().to_owned();
        let p = set.get_profile(&name)?;
        let get = |k: &str| p.get(k).map(str::to_owned);
        Some(Profile {
            role_arn: get("role_arn"),
            source_profile: get("source_profile"),
            credential_source: get("credential_source"),
            web_identity_token_file: get("web_identity_token_file"),
            endpoint_url: get("endpoint_url"),
            static_keys: p.get("aws_access_key_id").is_some(),
            name,
        })
    }

    fn needs_sts(&self) -> bool {
        self.role_arn.is_some()
    }

    fn describe(&self) -> String {
        let how = match (&self.role_arn, &self.web_identity_token_file) {
            (Some(role), Some(file)) => format!("web identity, role {role}, token file {file}"),
            (Some(role), None) => {
                let from = match (&self.source_profile, &self.credential_source) {
                    (Some(s), _) => format!("source profile {s}"),
                    (None, Some(c)) => format!("credential source {c}"),
                    (None, None) => "no source".to_owned(),
                };
                format!("assume role {role} from {from}")
            }
            (None, _) if self.static_keys => "static keys".to_owned(),
            (None, _) => return format!("profile {}", self.name),
        };
        format!("profile {} ({how})", self.name)
    }
}

/// Web identity from `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (+
/// `AWS_ROLE_SESSION_NAME`): `AssumeRoleWithWebIdentity` with the token file's content.
struct WebIdentity {
    role_arn: Option<String>,
    token_file: PathBuf,
    session_name: Option<String>,
    sts: aws_sdk_sts::Client,
}

impl fmt::Debug for WebIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl WebIdentity {
    fn from_env(env: &Env, anonymous: &SdkConfig) -> Option<WebIdentity> {
        let set = |k: &str| env.get(k).ok().filter(|v| !v.is_empty());
        let token_file = set("AWS_WEB_IDENTITY_TOKEN_FILE")?;
        Some(WebIdentity {
            role_arn: set("AWS_ROLE_ARN"),
            token_file: token_file.into(),
            session_name: set("AWS_ROLE_SESSION_NAME"),
            sts: aws_sdk_sts::Client::new(anonymous),
        })
    }

    fn describe(&self) -> String {
        format!(
            "web identity (AWS_ROLE_ARN {}, token file {})",
            self.role_arn.as_deref().unwrap_or("unset"),
            self.token_file.display()
        )
    }

    async fn credentials(&self) -> provider::Result {
        let Some(role) = &self.role_arn else {
            return Err(CredentialsError::invalid_configuration(
                "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the role to assume",
            ));
        };
        let file = self.token_file.display();
        let token = tokio::fs::read_to_string(&self.token_file)
            .await
            .map_err(|e| {
                CredentialsError::invalid_configuration(format!(
                    "cannot read the web identity token file {file} (AWS_WEB_IDENTITY_TOKEN_FILE): {}",
                    e.kind()
                ))
            })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(CredentialsError::invalid_configuration(format!(
                "the web identity token file {file} (AWS_WEB_IDENTITY_TOKEN_FILE) is empty"
            )));
        }
        let session = self.session_name.clone().unwrap_or_else(|| {
            let ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            format!("secretstore-{ms}")
        });
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(role)
            .role_session_name(&session)
            .web_identity_token(token)
            .send()
            .await
            .map_err(|e| {
                let (_, reason) = crate::errors::describe(&e);
                CredentialsError::provider_error(Message(format!(
                    "AWS STS AssumeRoleWithWebIdentity {role}: {reason}"
                )))
            })?;
        let c = out.credentials.ok_or_else(|| {
            CredentialsError::unhandled("STS AssumeRoleWithWebIdentity answered no credentials")
        })?;
        let expiry = SystemTime::try_from(c.expiration).map_err(|_| {
            CredentialsError::unhandled("STS answered an expiry that is out of range")
        })?;
        Ok(Credentials::builder()
            .access_key_id(c.access_key_id)
            .secret_access_key(c.secret_access_key)
            .session_token(c.session_token)
            .expiry(expiry)
            .provider_name("WebIdentityToken")
            .build())
    }
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// An error that is only a message (STS's own error, described without its body).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sts_endpoint_of_the_sdk_is_the_environments_then_the_profiles() {
        let env = Env::from_slice(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
        assert_eq!(
            sdk_sts_endpoint(&env, Some("http://p")).as_deref(),
            Some("http://127.0.0.1:1")
        );
        let env = Env::from_slice(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            sdk_sts_endpoint(&env, None).as_deref(),
            Some("http://127.0.0.1:2")
        );
        let env = Env::from_slice(&[]);
        assert_eq!(
            sdk_sts_endpoint(&env, Some("http://p")).as_deref(),
            Some("http://p")
        );
        assert_eq!(sdk_sts_endpoint(&env, None), None);
    }

    #[test]
    fn a_profile_is_described_by_how_it_gets_credentials() {
        let p = Profile {
            name: "x".into(),
            role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
            source_profile: Some("base".into()),
            credential_source: None,
            web_identity_token_file: None,
            endpoint_url: None,
            static_keys: false,
        };
        assert_eq!(
            p.describe(),
            "profile x (assume role arn:aws:iam::123456789012:role/r from source profile base)"
        );
        assert!(p.needs_sts());
    }
}
