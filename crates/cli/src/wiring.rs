//! The composition root: the store, the value backends and the brief store, built from
//! the checked [`Config`] into one [`Service`]. Every command and `serve` open it here.

use crate::config::{BriefStoreUrl, Config, SseSetting};
use crate::error::{CliError, Result};
use secretstore_core::{BackendKind, Backends, BriefStore, GeneratorKind, Service, ServiceConfig};
use secretstore_store::{FolderBriefStore, LocalBackend, SqlStore};
use std::sync::Arc;

/// The service as the binary runs it: on the SQL store.
pub(crate) type Svc = Service<SqlStore>;

/// What to do when no Fernet key is set.
const KEY_HINT: &str = "run `secretstore init` to write a .env with a new key, or `secretstore keygen` and set FERNET_SECRET_KEY";

/// Fails when the database is a SQLite file that does not exist: every command but `init`
/// and `serve` works on a database made before, and must not make an empty one (with its
/// -wal and -shm files) in whatever folder it was run from.
pub(crate) fn require_database(cfg: &Config) -> Result<()> {
    let Some(path) = secretstore_store::files::sqlite_file(&cfg.database_url) else {
        return Ok(());
    };
    if path.exists() {
        return Ok(());
    }
    let shown = if path.is_relative() && !path.starts_with(".") && !path.starts_with("..") {
        std::path::Path::new(".").join(&path)
    } else {
        path
    };
    Err(CliError::config(
        format!("no database at {}", shown.display()),
        "run `secretstore init` to create one here, or set DATABASE_URL to the database to use",
    ))
}

/// Opens the service with the pool size of a command (4 connections).
pub(crate) async fn open(cfg: &Config) -> Result<Svc> {
    open_with(cfg, 4).await
}

/// Opens the store and the backends; `connections` is the pool size unless
/// `DATABASE_MAX_CONNECTIONS` says otherwise.
pub(crate) async fn open_with(cfg: &Config, connections: u32) -> Result<Svc> {
    open_parts(cfg, connections).await.map(|(svc, _)| svc)
}

/// What `serve` keeps running beside the requests: the login of each backend that has one.
pub(crate) struct Background {
    /// Vault, when configured: its token is renewed and replaced in the background.
    pub(crate) vault: Option<Arc<secretstore_vault::VaultBackend>>,
}

/// [`open_with`], and what `serve` runs in the background.
pub(crate) async fn open_serving(cfg: &Config, connections: u32) -> Result<(Svc, Background)> {
    open_parts(cfg, connections).await
}

async fn open_parts(cfg: &Config, connections: u32) -> Result<(Svc, Background)> {
    let mut pool = secretstore_store::PoolSettings::with_connections(
        cfg.db_max_connections.unwrap_or(connections),
    );
    pool.acquire_timeout = std::time::Duration::from_secs(cfg.db_acquire_timeout_secs as u64);
    let store = SqlStore::open_with(&cfg.database_url, &pool).await?;
    // The postgres generator's provider needs no settings: its admin URL is a secret.
    let mut backends =
        Backends::new().with_minter(Arc::new(secretstore_store::PostgresMinter::new()));
    match &cfg.keys {
        Some(keys) => {
            store.check_key(keys).await?;
            backends = backends.with(Arc::new(LocalBackend::new(keys.clone())));
        }
        None => {
            backends = backends.without(
                BackendKind::Local,
                "no Fernet key: FERNET_SECRET_KEY is not set",
                KEY_HINT,
            );
        }
    }
    let (backends, brief_store) = with_aws(cfg, backends).await?;
    let (backends, vault) = with_vault(cfg, backends)?;
    let briefs: Arc<dyn BriefStore> = match (&cfg.brief_store, brief_store) {
        (_, Some(s3)) => s3,
        (BriefStoreUrl::Folder(p), None) => Arc::new(FolderBriefStore::new(p.clone())),
        (BriefStoreUrl::S3 { .. }, None) => {
            return Err(CliError::config(
                "BRIEF_STORE_URL is s3:// but AWS is not configured",
                "set AWS_REGION",
            ));
        }
    };
    let svc = Service {
        store,
        backends,
        briefs,
        config: ServiceConfig {
            default_backend: cfg.secret_backend,
            callback_ttl_secs: cfg.callback_ttl_secs,
            boot_ttl_secs: cfg.boot_ttl_secs,
        },
    };
    Ok((svc, Background { vault }))
}

/// Adds AWS Secrets Manager (or why it is missing) and, for an `s3://` brief store URL,
/// returns the S3 brief store. One SDK configuration serves both.
async fn with_aws(
    cfg: &Config,
    mut backends: Backends,
) -> Result<(Backends, Option<Arc<dyn BriefStore>>)> {
    let Some(aws) = &cfg.aws else {
        let backends = backends
            .without(
                BackendKind::AwsSm,
                "AWS is not configured",
                "set AWS_REGION (and AWS credentials, as the AWS SDK reads them)",
            )
            .without_minter(
                GeneratorKind::AwsSts,
                "AWS is not configured",
                "set AWS_REGION (and AWS credentials, as the AWS SDK reads them)",
            );
        return Ok((backends, None));
    };
    let settings = secretstore_aws::AwsSettings {
        region: aws.region.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        sm_prefix: aws.sm_prefix.clone(),
        timeout: secretstore_aws::DEFAULT_TIMEOUT,
    };
    settings.validate()?;
    let sdk = secretstore_aws::load_sdk_config(&settings, None).await;
    let sm = match &sdk {
        Ok(c) => {
            secretstore_aws::AwsSmBackend::from_sdk_config(c, &settings).map_err(CliError::from)
        }
        Err(e) => Err(CliError::config(e.to_string(), "set AWS_REGION")),
    };
    // The aws_sts generator's provider, on the same SDK configuration.
    match &sdk {
        Ok(c) => match secretstore_aws::StsMinter::from_sdk_config(c, &settings) {
            Ok(m) => backends = backends.with_minter(Arc::new(m)),
            Err(e) => {
                backends =
                    backends.without_minter(GeneratorKind::AwsSts, e.to_string(), "set AWS_REGION")
            }
        },
        Err(e) => {
            backends =
                backends.without_minter(GeneratorKind::AwsSts, e.to_string(), "set AWS_REGION")
        }
    }
    match sm {
        Ok(b) => backends = backends.with(Arc::new(b)),
        // Needed for new secrets: refuse to start without it.
        Err(e) if cfg.secret_backend == BackendKind::AwsSm => return Err(e),
        Err(e) => backends = backends.without(BackendKind::AwsSm, e.to_string(), "set AWS_REGION"),
    }
    let BriefStoreUrl::S3 {
        bucket,
        prefix,
        sse,
    } = &cfg.brief_store
    else {
        return Ok((backends, None));
    };
    let sse = match sse {
        SseSetting::Aes256 => secretstore_aws::Sse::Aes256,
        SseSetting::Kms { key_id } => secretstore_aws::Sse::Kms {
            key_id: key_id.clone(),
        },
    };
    let sdk = sdk.map_err(|e| CliError::config(e.to_string(), "set AWS_REGION"))?;
    let s3 = secretstore_aws::S3BriefStore::from_sdk_config(&sdk, &settings, bucket, prefix, sse)?;
    Ok((backends, Some(Arc::new(s3))))
}

/// Adds Vault (or why it is missing), and returns it for `serve` to keep logged in.
fn with_vault(
    cfg: &Config,
    backends: Backends,
) -> Result<(Backends, Option<Arc<secretstore_vault::VaultBackend>>)> {
    Ok(match &cfg.vault {
        None => (
            backends.without(
                BackendKind::Vault,
                "Vault is not configured",
                "set VAULT_ADDR, and VAULT_TOKEN or another login (see the README's Vault settings)",
            ),
            None,
        ),
        Some(v) => {
            let mut settings =
                secretstore_vault::VaultSettings::with_auth(v.addr.clone(), v.auth.clone());
            settings.tls = v.tls.clone();
            settings.namespace = v.namespace.clone();
            settings.kv_mount = v.kv_mount.clone();
            let vault = Arc::new(secretstore_vault::VaultBackend::new(settings)?);
            (backends.with(vault.clone()), Some(vault))
        }
    })
}
