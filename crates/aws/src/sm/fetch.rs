//! Fetching from Secrets Manager: the current values with `BatchGetSecretValue`, at most
//! 20 ids a call, and recorded versions one `GetSecretValue` each; at most [`CONCURRENCY`]
//! calls at once, all within the backend's time bound.

use super::{AWSCURRENT, AwsSmBackend, no_reference};
use crate::errors::{Class, classify_code, sm_error};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;
use secretstore_core::{BackendError, Fetched, SecretValue, StoredMaterial};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The most secret ids one `BatchGetSecretValue` call takes.
const BATCH_SIZE: usize = 20;

/// How many calls of one fetch run at once (batches of 20, or single reads of recorded
/// versions).
const CONCURRENCY: usize = 8;

/// Time allowed past the SDK's own bound before a fetch gives up on its calls: the SDK's
/// operation timeout normally ends them first, with a better message.
const GRACE: Duration = Duration::from_secs(1);

impl AwsSmBackend {
    /// The AWSCURRENT value of each item, in order (`Fetch::Current`).
    pub(super) async fn fetch_current(
        &self,
        items: &[&StoredMaterial],
    ) -> Vec<Result<Fetched, BackendError>> {
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

    /// The recorded version of each item, in order (`Fetch::Recorded`).
    pub(super) async fn fetch_recorded(
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

    /// When the calls of a fetch started now are given up on.
    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout + GRACE
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

#[cfg(test)]
mod tests {
    use super::*;

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
