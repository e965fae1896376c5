//! The AWS Secrets Manager value backend.

use crate::errors::{Class, classify_code, sm_error};
use crate::{AwsSettings, load_sdk_config};
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Intercept;
use aws_sdk_secretsmanager::primitives::Blob;
use secretstore_core::{
    BackendError, BackendKind, BoxFuture, Change, Error, Fetch, Fetched, ScopePath, SecretName,
    SecretValue, StoredMaterial, ValueBackend, Written,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The most secret ids one `BatchGetSecretValue` call takes.
pub(crate) const BATCH_SIZE: usize = 20;

/// How many calls of one fetch run at once (batches of 20, or single reads of recorded
/// versions).
const CONCURRENCY: usize = 8;

/// Time allowed past the SDK's own bound before a fetch gives up on its calls: the SDK's
/// operation timeout normally ends them first, with a better message.
const GRACE: Duration = Duration::from_secs(1);

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
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            Error::config(
                "no AWS region is configured",
                "set AWS_REGION (for example us-east-1)",
            )
        })?;
        Ok(AwsSmBackend {
            client: Client::new(config),
            prefix: s.sm_prefix.clone(),
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

    async fn fetch_current(&self, items: &[&StoredMaterial]) -> Vec<Result<Fetched, BackendError>> {
        // Each distinct ARN once, in order of first appearance.
        let mut ids: Vec<String> = Vec::new();
        let slots: Vec<Option<usize>> = items
            .iter()
            .map(|m| {
                let r = m.backend_ref.as_deref()?;
                Some(match ids.iter().position(|id| id == r) {
                    Some(p) => p,
                    None => {
                        ids.push(r.to_owned());
                        ids.len() - 1
                    }
                })
            })
            .collect();
        let jobs: Vec<_> = ids
            .chunks(BATCH_SIZE)
            .map(|chunk| batch_get(self.client.clone(), chunk.to_vec()))
            .collect();
        // One answer per batch; a batch that gave no answer in time is empty.
        let answers = run_bounded(jobs, self.deadline(), Vec::new).await;
        slots
            .into_iter()
            .map(|slot| match slot {
                None => Err(no_reference()),
                Some(p) => answers
                    .get(p / BATCH_SIZE)
                    .and_then(|batch| batch.get(p % BATCH_SIZE))
                    .cloned()
                    .unwrap_or_else(|| {
                        Err(BackendError::Unavailable(format!(
                            "AWS Secrets Manager gave no answer for {} within {:?}",
                            ids[p], self.timeout
                        )))
                    }),
            })
            .collect()
    }

    async fn fetch_recorded(
        &self,
        items: &[&StoredMaterial],
    ) -> Vec<Result<Fetched, BackendError>> {
        let timeout = self.timeout;
        let jobs: Vec<_> = items
            .iter()
            .map(|m| {
                let client = self.client.clone();
                let arn = m.backend_ref.clone();
                let version = m.backend_version.clone();
                async move {
                    let Some(arn) = arn else {
                        return Err(no_reference());
                    };
                    let out = client
                        .get_secret_value()
                        .secret_id(&arn)
                        .set_version_id(version.clone())
                        .send()
                        .await
                        .map_err(|e| {
                            let target = match &version {
                                Some(v) => format!("{arn} (version {v})"),
                                None => arn.clone(),
                            };
                            sm_error("GetSecretValue", &target, &e)
                        })?;
                    let value = value_of(out.secret_string, out.secret_binary, &arn)?;
                    Ok(Fetched {
                        value,
                        version: out.version_id.or(version),
                    })
                }
            })
            .collect();
        run_bounded(jobs, self.deadline(), move || {
            Err(BackendError::Unavailable(format!(
                "AWS Secrets Manager gave no answer within {timeout:?}"
            )))
        })
        .await
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout + GRACE
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
        }),
        _ => Err(BackendError::Unavailable(format!(
            "AWS Secrets Manager {op} {target}: the answer lacks the ARN or the version id"
        ))),
    }
}

/// The value of a secret as AWS returned it: its string, or its binary if that is UTF-8.
fn value_of(
    string: Option<String>,
    binary: Option<Blob>,
    id: &str,
) -> Result<SecretValue, BackendError> {
    if let Some(s) = string {
        return SecretValue::from_backend(s.into_bytes())
            .ok_or_else(|| BackendError::Refused(format!("AWS secret {id} is not UTF-8 text")));
    }
    if let Some(b) = binary {
        return SecretValue::from_backend(b.into_inner()).ok_or_else(|| {
            BackendError::Refused(format!(
                "AWS secret {id} holds binary data that is not UTF-8 text"
            ))
        });
    }
    Err(BackendError::NotFound(format!(
        "AWS secret {id} has no value"
    )))
}

/// One `BatchGetSecretValue` call for at most 20 distinct ids: one result per id, in order.
/// Errors that AWS reports for single secrets (the response's `Errors`) stay with them.
async fn batch_get(client: Client, ids: Vec<String>) -> Vec<Result<Fetched, BackendError>> {
    let mut results: Vec<Option<Result<Fetched, BackendError>>> = vec![None; ids.len()];
    let position = |key: Option<&String>| key.and_then(|k| ids.iter().position(|id| id == k));
    let mut next_token: Option<String> = None;
    loop {
        let answer = client
            .batch_get_secret_value()
            .set_secret_id_list(Some(ids.clone()))
            .set_next_token(next_token.take())
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                let target = match ids.as_slice() {
                    [one] => one.clone(),
                    many => format!("({} secrets)", many.len()),
                };
                let mut err = sm_error("BatchGetSecretValue", &target, &e);
                // "Not found" for a whole batch of several cannot be pinned on one secret.
                if ids.len() > 1
                    && let BackendError::NotFound(m) = err
                {
                    err = BackendError::Unavailable(m);
                }
                for r in results.iter_mut().filter(|r| r.is_none()) {
                    *r = Some(Err(err.clone()));
                }
                break;
            }
        };
        for entry in out.secret_values.unwrap_or_default() {
            let p = position(entry.arn.as_ref()).or_else(|| position(entry.name.as_ref()));
            let Some(p) = p else { continue };
            let labelled_current = entry
                .version_stages
                .as_ref()
                .is_none_or(|stages| stages.iter().any(|s| s == AWSCURRENT));
            results[p] = Some(if labelled_current {
                value_of(entry.secret_string, entry.secret_binary, &ids[p]).and_then(|value| {
                    Ok(Fetched {
                        value,
                        version: Some(entry.version_id.ok_or_else(|| {
                            BackendError::Unavailable(format!(
                                "AWS Secrets Manager BatchGetSecretValue {}: the answer lacks the version id",
                                ids[p]
                            ))
                        })?),
                    })
                })
            } else {
                // An answer that is not the AWSCURRENT version is not the current value.
                // AWS always answers AWSCURRENT; moto 5.2.5 keeps answering the last
                // version written after UpdateSecretVersionStage moved the label (a
                // rollback), so ask for the label explicitly.
                get_current(&client, &ids[p]).await
            });
        }
        for e in out.errors.unwrap_or_default() {
            if let Some(p) = position(e.secret_id.as_ref()) {
                let code = e.error_code.as_deref().unwrap_or("");
                let message = e.message.as_deref().unwrap_or("");
                let class = classify_code(code, message).unwrap_or(Class::Unavailable);
                results[p] = Some(Err(class.error(format!(
                    "AWS Secrets Manager BatchGetSecretValue {}: {code}: {message}",
                    ids[p]
                ))));
            }
        }
        next_token = out.next_token;
        if next_token.is_none() || results.iter().all(Option::is_some) {
            break;
        }
    }
    results
        .into_iter()
        .zip(&ids)
        .map(|(r, id)| {
            r.unwrap_or_else(|| {
                Err(BackendError::Unavailable(format!(
                    "AWS Secrets Manager BatchGetSecretValue answered nothing for {id}"
                )))
            })
        })
        .collect()
}

/// The AWSCURRENT value of one secret, asked for by its label, and its version id.
async fn get_current(client: &Client, id: &str) -> Result<Fetched, BackendError> {
    let out = client
        .get_secret_value()
        .secret_id(id)
        .version_stage(AWSCURRENT)
        .send()
        .await
        .map_err(|e| sm_error("GetSecretValue", &format!("{id} (AWSCURRENT)"), &e))?;
    let value = value_of(out.secret_string, out.secret_binary, id)?;
    let version = out.version_id.ok_or_else(|| {
        BackendError::Unavailable(format!(
            "AWS Secrets Manager GetSecretValue {id}: the answer lacks the version id"
        ))
    })?;
    Ok(Fetched {
        value,
        version: Some(version),
    })
}

/// Runs `jobs` concurrently, at most [`CONCURRENCY`] at a time, and returns their
/// results in order; a job not done by `deadline` (or that panicked) gets `missing()`.
async fn run_bounded<T, F>(jobs: Vec<F>, deadline: Instant, missing: impl Fn() -> T) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if jobs.len() <= 1 {
        let mut out = Vec::with_capacity(1);
        for job in jobs {
            out.push(
                tokio::time::timeout_at(deadline, job)
                    .await
                    .unwrap_or_else(|_| missing()),
            );
        }
        return out;
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    let n = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            // The semaphore is never closed, so acquiring cannot fail.
            let _permit = permits.acquire_owned().await;
            (i, job.await)
        });
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    loop {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(Ok((i, v)))) => out[i] = Some(v),
            Ok(Some(Err(_panicked_or_cancelled))) => {}
            Ok(None) => break,
            Err(_elapsed) => {
                set.abort_all();
                break;
            }
        }
    }
    out.into_iter()
        .map(|v| v.unwrap_or_else(&missing))
        .collect()
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
            Ok(format!(
                "AWS Secrets Manager in {}: reachable, credentials accepted (secrets under {:?})",
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

    #[test]
    fn values_come_from_the_string_or_utf8_binary() {
        let v = value_of(Some("s".into()), None, "id").unwrap();
        assert_eq!(v.expose_secret(), "s");
        let v = value_of(None, Some(Blob::new(b"b".to_vec())), "id").unwrap();
        assert_eq!(v.expose_secret(), "b");
        assert!(matches!(
            value_of(None, Some(Blob::new(vec![0xff, 0xfe])), "id"),
            Err(BackendError::Refused(_))
        ));
        assert!(matches!(
            value_of(None, None, "id"),
            Err(BackendError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn run_bounded_keeps_order_and_bounds_time() {
        let jobs: Vec<_> = (0..20u64)
            .map(|i| async move {
                tokio::time::sleep(Duration::from_millis(20 - i)).await;
                i
            })
            .collect();
        let out = run_bounded(jobs, Instant::now() + Duration::from_secs(5), || 999).await;
        assert_eq!(out, (0..20).collect::<Vec<_>>());

        let jobs: Vec<_> = (0..3u64)
            .map(|i| async move {
                if i == 1 {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                i
            })
            .collect();
        let out = run_bounded(jobs, Instant::now() + Duration::from_millis(200), || 999).await;
        assert_eq!(out, vec![0, 999, 2]);
    }
}
