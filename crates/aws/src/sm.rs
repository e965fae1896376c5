//! The AWS Secrets Manager value backend: writes, links, restores and undoes here;
//! fetches in [`fetch`].

mod fetch;

use crate::errors::sm_error;
use crate::{AwsSettings, load_sdk_config};
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Intercept;
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Change, Error, Fetch, Fetched, ScopePath, SecretName,
    SecretValue, StoredMaterial, ValueBackend, Written,
};
use std::time::Duration;

/// The staging label of a secret's current version.
const AWSCURRENT: &str = "AWSCURRENT";

/// The longest secret name AWS accepts.
const MAX_NAME_LEN: usize = 512;

/// True for the characters AWS allows in a secret name.
pub(crate) fn valid_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}

/// Values in AWS Secrets Manager. The database keeps the ARN (`backend_ref`) and the AWS
/// version id (`backend_version`) of each version; the value never leaves AWS except on
/// the way to a reveal or a dispatch.
pub struct AwsSmBackend {
    client: Client,
    prefix: String,
    timeout: Duration,
    /// "us-east-1 (http://127.0.0.1:5000)", for `doctor`.
    location: String,
    /// For `doctor`: the credential chain (which link supplies), and STS on the same
    /// configuration (`GetCallerIdentity`: who the credentials are).
    credentials: Option<SharedCredentialsProvider>,
    sts: aws_sdk_sts::Client,
}

impl AwsSmBackend {
    /// Connects with the SDK's standard credential chain.
    pub async fn new(s: &AwsSettings) -> Result<Self, Error> {
        let config = load_sdk_config(s, None).await?;
        Self::from_sdk_config(&config, s)
    }

    /// Builds the backend on an SDK configuration from [`load_sdk_config`] (which sets
    /// the HTTPS client, timeouts, retries, region, endpoint and credentials).
    pub fn from_sdk_config(config: &SdkConfig, s: &AwsSettings) -> Result<Self, Error> {
        s.validate()?;
        let region = crate::configured_region(config)?;
        Ok(AwsSmBackend {
            client: Client::new(config),
            prefix: s.sm_prefix.clone(),
            timeout: s.timeout,
            location: s.location(&region),
            credentials: config.credentials_provider(),
            sts: aws_sdk_sts::Client::new(config),
        })
    }

    /// For `doctor`: which link of the chain supplies the credentials and when they
    /// expire, and the identity they are (`GetCallerIdentity`, the assumed-role ARN with
    /// its session name). Never a key or token. This asks the chain itself, past the
    /// cache: for an STS link, one more session.
    async fn who(&self) -> Result<String, BackendError> {
        use aws_credential_types::provider::ProvideCredentials;
        let Some(chain) = &self.credentials else {
            return Err(BackendError::Refused(
                "no AWS credentials are configured".into(),
            ));
        };
        let c = chain
            .provide_credentials()
            .await
            .map_err(|e| BackendError::Refused(crate::errors::chain_text(&e)))?;
        let source = c
            .get_property::<crate::CredentialSource>()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "credentials given to secretstore".to_owned());
        let expires = match c.expiry() {
            Some(t) => format!(
                "expire {} (refreshed {} min before)",
                secretstore_core::timestamp::format(t.into()),
                crate::REFRESH_BEFORE_EXPIRY.as_secs() / 60
            ),
            None => "no expiry".to_owned(),
        };
        let identity = match self.sts.get_caller_identity().send().await {
            Ok(out) => out.arn.unwrap_or_else(|| "an identity without ARN".into()),
            Err(e) => format!("unknown ({})", crate::errors::describe(&e).1),
        };
        Ok(format!(
            "credentials from {source}, {expires}; identity {identity}"
        ))
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

    /// The AWS name of (scope, name): `AWS_SM_PREFIX` + scope path + `/` + NAME.
    pub fn secret_name(&self, scope: &ScopePath, name: &SecretName) -> String {
        format!("{}{}/{}", self.prefix, scope.as_str(), name.as_str())
    }

    async fn create(
        &self,
        scope: &ScopePath,
        name: &SecretName,
        value: &SecretValue,
    ) -> Result<Written, BackendError> {
        let secret_name = self.secret_name(scope, name);
        // Scope segments ([a-z0-9_-]) and names ([A-Z0-9_]) only use allowed characters,
        // and the prefix is checked with the settings: this only guards the rule.
        if secret_name.len() > MAX_NAME_LEN || !secret_name.chars().all(valid_name_char) {
            return Err(BackendError::Refused(format!(
                "{secret_name:?} is not a valid AWS secret name"
            )));
        }
        let created = self
            .client
            .create_secret()
            .name(&secret_name)
            .description(format!("secretstore: {name} at {scope}"))
            .secret_string(value.expose_secret())
            .send()
            .await;
        match created {
            Ok(out) => Ok(Written {
                material: material("CreateSecret", &secret_name, out.arn, out.version_id)?,
                change: Change::Created,
            }),
            // The name exists in AWS but not in the database (a secret deleted from
            // secretstore, which leaves AWS alone, then set again): it is ours by its
            // prefix, so the value becomes its new version.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception()) =>
            {
                self.put(&secret_name, value).await
            }
            Err(e) => Err(sm_error("CreateSecret", &secret_name, &e)),
        }
    }

    async fn put(&self, secret_id: &str, value: &SecretValue) -> Result<Written, BackendError> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value.expose_secret())
            .send()
            .await
            .map_err(|e| sm_error("PutSecretValue", secret_id, &e))?;
        Ok(Written {
            material: material("PutSecretValue", secret_id, out.arn, out.version_id)?,
            change: Change::Updated,
        })
    }

    /// The versions of a secret and their staging labels.
    async fn stages(
        &self,
        secret_id: &str,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, BackendError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sm_error("DescribeSecret", secret_id, &e))?;
        Ok(out.version_ids_to_stages.unwrap_or_default())
    }

    /// Takes back a write or restore (see [`ValueBackend::undo`]).
    async fn undo_inner(&self, written: &Written) -> Result<(), BackendError> {
        if written.change == Change::Nothing {
            return Ok(());
        }
        let m = &written.material;
        let arn = m.backend_ref.as_deref().ok_or_else(no_reference)?;
        let ours = m.backend_version.as_deref().ok_or_else(|| {
            BackendError::NotFound(format!("no AWS version id is recorded for {arn}"))
        })?;
        let stages = self.stages(arn).await?;
        let has = |version: &str, label: &str| {
            stages
                .get(version)
                .is_some_and(|s| s.iter().any(|s| s == label))
        };
        if !has(ours, AWSCURRENT) {
            return Err(BackendError::Unavailable(format!(
                "AWS Secrets Manager {arn}: AWSCURRENT has moved off version {ours} since; left as it is"
            )));
        }
        // AWS moves AWSPREVIOUS onto the version that a write displaced. moto 5.2.5, after
        // an UpdateSecretVersionStage, leaves AWSCURRENT on the displaced version instead:
        // that one is then the previous.
        let other = |label: &str| {
            stages
                .iter()
                .find(|(v, s)| v.as_str() != ours && s.iter().any(|s| s == label))
                .map(|(v, _)| v.clone())
        };
        let previous = other(AWSCURRENT).or_else(|| other("AWSPREVIOUS"));
        match (written.change, previous) {
            // The displaced version becomes current again. RemoveFromVersionId makes AWS
            // refuse if AWSCURRENT moved meanwhile.
            (_, Some(previous)) => {
                self.client
                    .update_secret_version_stage()
                    .secret_id(arn)
                    .version_stage(AWSCURRENT)
                    .move_to_version_id(&previous)
                    .remove_from_version_id(ours)
                    .send()
                    .await
                    .map_err(|e| {
                        sm_error(
                            "UpdateSecretVersionStage",
                            &format!("{arn} (AWSCURRENT back to version {previous})"),
                            &e,
                        )
                    })?;
                Ok(())
            }
            // A secret this write created, with no other version: deleted again.
            (Change::Created, None) => {
                self.client
                    .delete_secret()
                    .secret_id(arn)
                    .force_delete_without_recovery(true)
                    .send()
                    .await
                    .map_err(|e| sm_error("DeleteSecret", arn, &e))?;
                Ok(())
            }
            _ => Err(BackendError::NotFound(format!(
                "AWS Secrets Manager {arn}: no earlier version to make current again"
            ))),
        }
    }

    /// The ARN and the version that holds AWSCURRENT; `NotFound` for a secret that is
    /// missing, scheduled for deletion, or without a current value.
    async fn describe(&self, secret_id: &str) -> Result<(String, String), BackendError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sm_error("DescribeSecret", secret_id, &e))?;
        if out.deleted_date.is_some() {
            return Err(BackendError::NotFound(format!(
                "AWS secret {secret_id} is scheduled for deletion"
            )));
        }
        let arn = out.arn.ok_or_else(|| {
            BackendError::Unavailable(format!("AWS described {secret_id} without an ARN"))
        })?;
        let current = out
            .version_ids_to_stages
            .unwrap_or_default()
            .into_iter()
            .find(|(_, stages)| stages.iter().any(|s| s == AWSCURRENT))
            .map(|(version, _)| version)
            .ok_or_else(|| {
                BackendError::NotFound(format!("AWS secret {arn} has no current value"))
            })?;
        Ok((arn, current))
    }
}

fn no_reference() -> BackendError {
    BackendError::NotFound("no AWS secret ARN is recorded for this version".into())
}

fn material(
    op: &str,
    target: &str,
    arn: Option<String>,
    version: Option<String>,
) -> Result<StoredMaterial, BackendError> {
    match (arn, version) {
        (Some(arn), Some(version)) => Ok(StoredMaterial {
            ciphertext: None,
            backend_ref: Some(arn),
            backend_version: Some(version),
            generator: None,
        }),
        _ => Err(BackendError::Unavailable(format!(
            "AWS Secrets Manager {op} {target}: the answer lacks the ARN or the version id"
        ))),
    }
}

impl ValueBackend for AwsSmBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::AwsSm
    }

    fn write<'a>(
        &'a self,
        scope: &'a ScopePath,
        name: &'a SecretName,
        value: &'a SecretValue,
        previous: Option<&'a StoredMaterial>,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        Box::pin(async move {
            // A later write goes where the secret lives, which a linked secret chose.
            match previous.and_then(|p| p.backend_ref.as_deref()) {
                Some(arn) => self.put(arn, value).await,
                None => self.create(scope, name, value).await,
            }
        })
    }

    fn fetch<'a>(
        &'a self,
        items: &'a [&'a StoredMaterial],
        which: Fetch,
    ) -> BoxFuture<'a, Vec<Result<Fetched, BackendError>>> {
        Box::pin(async move {
            match which {
                Fetch::Current => self.fetch_current(items).await,
                Fetch::Recorded => self.fetch_recorded(items).await,
            }
        })
    }

    fn link<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, secretstore_core::Result<StoredMaterial>> {
        Box::pin(async move {
            let well_formed = !reference.is_empty()
                && reference.len() <= 2048
                && reference.chars().all(|c| valid_name_char(c) || c == ':');
            if !well_formed {
                return Err(Error::Invalid(format!(
                    "{:?} is not an AWS Secrets Manager ARN or secret name",
                    reference.chars().take(100).collect::<String>()
                )));
            }
            // DescribeSecret, never GetSecretValue: no value passes through secretstore.
            let (arn, version) = self.describe(reference).await?;
            Ok(StoredMaterial {
                ciphertext: None,
                backend_ref: Some(arn),
                backend_version: Some(version),
                generator: None,
            })
        })
    }

    fn restore<'a>(
        &'a self,
        _scope: &'a ScopePath,
        _name: &'a SecretName,
        target: &'a StoredMaterial,
    ) -> BoxFuture<'a, Result<Written, BackendError>> {
        Box::pin(async move {
            let arn = target.backend_ref.as_deref().ok_or_else(no_reference)?;
            let version = target.backend_version.as_deref().ok_or_else(|| {
                BackendError::NotFound(format!("no AWS version id is recorded for {arn}"))
            })?;
            let (arn, current) = self.describe(arn).await?;
            let change = if current == version {
                Change::Nothing
            } else {
                Change::Updated
            };
            if current != version {
                self.client
                    .update_secret_version_stage()
                    .secret_id(&arn)
                    .version_stage(AWSCURRENT)
                    .move_to_version_id(version)
                    .remove_from_version_id(&current)
                    .send()
                    .await
                    .map_err(|e| {
                        sm_error(
                            "UpdateSecretVersionStage",
                            &format!("{arn} (AWSCURRENT to version {version})"),
                            &e,
                        )
                    })?;
            }
            Ok(Written {
                material: StoredMaterial {
                    ciphertext: None,
                    backend_ref: Some(arn),
                    backend_version: Some(version.to_owned()),
                    generator: None,
                },
                change,
            })
        })
    }

    fn undo<'a>(&'a self, written: &'a Written) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(self.undo_inner(written))
    }

    fn check<'a>(&'a self) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move {
            // A secretstore deployment needs no ListSecrets permission, so the probe asks
            // for one secret under the prefix: "not found" proves the endpoint answers and
            // the credentials are accepted there.
            let probe = format!("{}.doctor_probe", self.prefix);
            let answer = self.client.describe_secret().secret_id(&probe).send().await;
            match answer {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) => {}
                Err(e) => return Err(sm_error("DescribeSecret", &probe, &e)),
            }
            let who = self.who().await?;
            Ok(format!(
                "AWS Secrets Manager in {}: reachable, credentials accepted (secrets under {:?}); {who}",
                self.location, self.prefix
            ))
        })
    }

    fn link_forms(&self, reference: &str) -> secretstore_core::Result<Vec<String>> {
        crate::link_ref::link_forms(reference)
    }

    fn reference_of(&self, material: &StoredMaterial) -> Option<String> {
        crate::link_ref::reference_of(material)
    }

    fn owner_scope(&self, reference: &str) -> Option<ScopePath> {
        crate::link_ref::owner_scope(&self.prefix, reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_name_fits_aws_rules() {
        let prefix = "p".repeat(crate::MAX_SM_PREFIX_LEN);
        let seg = "a".repeat(63);
        let scope = ScopePath::parse(&format!("{seg}/{seg}/{seg}/{seg}")).unwrap();
        let name = SecretName::parse(&"N".repeat(128)).unwrap();
        let full = format!("{prefix}{}/{}", scope.as_str(), name.as_str());
        assert_eq!(full.len(), MAX_NAME_LEN);
        assert!(full.chars().all(valid_name_char));
    }
}
