//! What each command does: wiring the configuration, the store and the service, and
//! printing for people (plain) or scripts (`--json`).

use crate::args::{
    AccountCmd, BriefCmd, CallbackCmd, Cli, Cmd, OrgCmd, ScopeCmd, SecretCmd, TaskCmd, TokenCmd,
};
use crate::config::{BriefStoreUrl, Config, RawSettings, SseSetting};
use crate::{envfile, input};
use secretstore_core::{
    AccountKind, BackendKind, Backends, Category, Error, ImportEntry, Level, Principal, Result,
    Role, SecretValue, Service, ServiceConfig,
};
use secretstore_store::{FolderBriefStore, Keyring, LocalBackend, SqlStore};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use zeroize::Zeroizing;

pub type Svc = Service<SqlStore>;

const KEY_HINT: &str = "run `secretstore init` to write a .env with a new key, or `secretstore keygen` and set FERNET_SECRET_KEY";

/// Prefixes of the settings that secretstore, the AWS SDK and the Vault client read: a
/// child of `run` never inherits them from secretstore's environment (its brief may still
/// set such a name, on purpose). `.env` is never loaded into the process environment, so
/// what it holds cannot reach a child that way.
const PRIVATE_SETTING_PREFIXES: &[&str] = &[
    "FERNET_",
    "DATABASE_",
    "VAULT_",
    "AWS_",
    "BRIEF_",
    "SECRETSTORE_",
];

/// Other settings secretstore reads: its backend, and the libpq variables that its
/// PostgreSQL driver reads.
const PRIVATE_SETTINGS: &[&str] = &[
    "SECRET_BACKEND",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGAPPNAME",
    "PGOPTIONS",
];

/// What `run --clean-env` keeps of secretstore's own environment (those that are set).
const CLEAN_ENV_KEEP: &[&str] = &["PATH", "HOME", "LANG", "TERM", "TZ"];

/// True for a variable of secretstore's own configuration, whatever its `_FILE` form.
fn is_private_setting(name: &str) -> bool {
    PRIVATE_SETTING_PREFIXES.iter().any(|p| name.starts_with(p)) || PRIVATE_SETTINGS.contains(&name)
}

/// The environment a child of `run` starts from, before the brief's env is applied:
/// secretstore's own minus its settings, or with `clean` only [`CLEAN_ENV_KEEP`].
fn child_base_env(cmd: &mut tokio::process::Command, clean: bool) {
    if clean {
        cmd.env_clear();
        for k in CLEAN_ENV_KEEP {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
    } else {
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(is_private_setting) {
                cmd.env_remove(&k);
            }
        }
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    if let Cmd::Keygen = cli.cmd {
        println!("{}", Keyring::generate_key());
        return Ok(ExitCode::SUCCESS);
    }
    let raw = RawSettings::load()?;
    if let Cmd::Init = cli.cmd {
        return init(raw).await;
    }
    if let Cmd::Serve = cli.cmd {
        return crate::serve::serve(raw).await;
    }
    let cfg = raw.validate()?;
    let svc = open(&cfg).await?;
    let actor = Principal::operator(&cfg.os_user);
    match cli.cmd {
        Cmd::Keygen | Cmd::Init | Cmd::Serve => unreachable_ok(),
        Cmd::Doctor => {
            let mut failed = false;
            println!(
                "database: ok ({})",
                secretstore_store::redact_url(&cfg.database_url)
            );
            for (what, r) in svc.doctor().await {
                match r {
                    Ok(line) => println!("{what}: ok ({line})"),
                    Err(e) => {
                        failed = true;
                        println!("{what}: FAILED: {e}");
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Org {
            cmd: OrgCmd::Create { path },
        } => {
            let cmd = ScopeCmd::Create { path };
            create_scope(&svc, cmd, Level::Organization, &actor).await
        }
        Cmd::Org {
            cmd:
                OrgCmd::AllowLinks {
                    org,
                    aws,
                    vault,
                    none,
                    json,
                },
        } => allow_links(&svc, &actor, &org, &aws, &vault, none, json).await,
        Cmd::Team { cmd } => create_scope(&svc, cmd, Level::Team, &actor).await,
        Cmd::Workspace { cmd } => create_scope(&svc, cmd, Level::Workspace, &actor).await,
        Cmd::Project { cmd } => create_scope(&svc, cmd, Level::Project, &actor).await,
        Cmd::Secret { cmd } => secret(&svc, cmd, &actor).await,
        Cmd::Task {
            cmd: TaskCmd::Create { project, refs },
        } => {
            let task = svc.create_task(&actor, &project, &refs, None).await?;
            println!("{}", task.id);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Resolve {
            project,
            refs,
            explain,
            json,
        } => resolve(&svc, &actor, &project, &refs, explain, json).await,
        Cmd::Dispatch {
            task_id,
            env_file,
            json,
        } => dispatch(&svc, &task_id, env_file.as_deref(), json, &actor).await,
        Cmd::Run {
            task,
            no_mask,
            clean_env,
            command,
        } => run_command(&svc, &task, &command, !no_mask, clean_env, &actor).await,
        Cmd::Rekey {
            dry_run,
            batch_size,
        } => rekey(&svc, &cfg, dry_run, batch_size).await,
        Cmd::Brief {
            cmd: BriefCmd::Show { brief_id },
        } => {
            let brief = svc.brief(&actor, &brief_id).await?;
            let rec = svc.brief_status(&actor, &brief_id).await?;
            let mut shown = serde_json::to_value(&brief)
                .map_err(|e| Error::Storage(format!("cannot encode JSON: {e}")))?;
            if let Some(o) = shown.as_object_mut() {
                o.insert("status".into(), rec.status.into());
                if let Some(at) = rec.completed_at {
                    o.insert("completed_at".into(), at.into());
                }
            }
            println!("{}", to_json(&shown)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Brief {
            cmd: BriefCmd::Revoke { brief_id },
        } => {
            let (rec, changed) = svc.revoke_brief(&actor, &brief_id).await?;
            if changed {
                println!(
                    "revoked brief {}: its callback token no longer works",
                    rec.brief_id
                );
            } else {
                println!(
                    "brief {} is already {}: its callback token no longer works; nothing changed",
                    rec.brief_id, rec.status
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Callback {
            cmd: CallbackCmd::Verify { brief_id },
        } => {
            let token = input::token_from_stdin()?;
            if svc.verify_callback(&brief_id, &token).await? {
                println!("valid");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "error: the callback token is not valid for brief {brief_id} (wrong, expired, revoked, or its callback was already received)"
                );
                Ok(ExitCode::from(1))
            }
        }
        Cmd::Account { cmd } => account(&svc, cmd, &actor).await,
        Cmd::Grant {
            name,
            role,
            scope,
            revoke,
        } => {
            let role = Role::parse(&role, scope.as_deref())?;
            let acct = if revoke {
                svc.revoke_grant(&actor, &name, &role).await?
            } else {
                svc.grant(&actor, &name, &role).await?
            };
            println!("{}: {}", acct.name, roles_text(&acct.roles));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Token { cmd } => token(&svc, cmd, &actor).await,
        Cmd::Audit { scope, limit, json } => {
            let log = svc.audit_log(&actor, scope.as_deref(), limit).await?;
            if json {
                println!("{}", to_json(&log)?);
            } else {
                let rows: Vec<Vec<String>> = log
                    .iter()
                    .map(|a| {
                        let what = match (&a.scope, &a.name, a.version) {
                            (Some(s), Some(n), Some(v)) => format!("{s} {n} v{v}"),
                            (Some(s), Some(n), None) => format!("{s} {n}"),
                            (Some(s), None, _) => s.clone(),
                            _ => String::new(),
                        };
                        vec![
                            a.at.clone(),
                            a.actor.clone(),
                            a.action.clone(),
                            what,
                            a.target.clone().unwrap_or_default(),
                            a.source.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["AT", "ACTOR", "ACTION", "WHAT", "TARGET", "FROM"], &rows);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        "(no roles)".into()
    } else {
        roles
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

async fn account(svc: &Svc, cmd: AccountCmd, actor: &Principal) -> Result<ExitCode> {
    match cmd {
        AccountCmd::Create { name, service } => {
            let kind = if service {
                AccountKind::Service
            } else {
                AccountKind::Person
            };
            let a = svc.create_account(actor, &name, kind).await?;
            println!("created {} account {}", a.kind.as_str(), a.name);
        }
        AccountCmd::List { json } => {
            let list = svc.accounts(actor).await?;
            if json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "name": a.name, "kind": a.kind, "created_at": a.created_at,
                            "roles": a.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                println!("{}", to_json(&v)?);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| vec![a.name.clone(), a.kind.as_str().into(), roles_text(&a.roles)])
                    .collect();
                print_table(&["NAME", "KIND", "ROLES"], &rows);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn token(svc: &Svc, cmd: TokenCmd, actor: &Principal) -> Result<ExitCode> {
    match cmd {
        TokenCmd::Create { name } => {
            let (info, token) = svc.create_token(actor, &name).await?;
            println!("{}", token.expose_secret());
            eprintln!(
                "token {} for {name}: shown once; only its SHA-256 is kept (revoke: secretstore token revoke {})",
                info.id, info.id
            );
        }
        TokenCmd::List { name, json } => {
            let list = svc.tokens(actor, &name).await?;
            if json {
                println!("{}", to_json(&list)?);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.created_at.clone(),
                            t.revoked_at.clone().unwrap_or_else(|| "active".into()),
                        ]
                    })
                    .collect();
                print_table(&["ID", "CREATED", "REVOKED"], &rows);
            }
        }
        TokenCmd::Revoke { id } => {
            svc.revoke_token(actor, &id).await?;
            println!("revoked token {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn unreachable_ok() -> Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}

pub async fn open(cfg: &Config) -> Result<Svc> {
    open_with(cfg, 4).await
}

/// Opens the store and the backends; `connections` is the pool size unless
/// `DATABASE_MAX_CONNECTIONS` says otherwise.
pub async fn open_with(cfg: &Config, connections: u32) -> Result<Svc> {
    let mut pool = secretstore_store::PoolSettings::with_connections(
        cfg.db_max_connections.unwrap_or(connections),
    );
    pool.acquire_timeout = std::time::Duration::from_secs(cfg.db_acquire_timeout_secs as u64);
    let store = SqlStore::open_with(&cfg.database_url, &pool).await?;
    let mut backends = Backends::new();
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
    let mut brief_store: Option<Arc<dyn secretstore_core::BriefStore>> = None;
    match &cfg.aws {
        None => {
            backends = backends.without(
                BackendKind::AwsSm,
                "AWS is not configured",
                "set AWS_REGION (and AWS credentials, as the AWS SDK reads them)",
            );
        }
        Some(aws) => {
            let settings = secretstore_aws::AwsSettings {
                region: aws.region.clone(),
                endpoint_url: aws.endpoint_url.clone(),
                sm_prefix: aws.sm_prefix.clone(),
                timeout: secretstore_aws::DEFAULT_TIMEOUT,
            };
            settings.validate()?;
            // One SDK configuration for Secrets Manager and S3.
            let sdk = secretstore_aws::load_sdk_config(&settings, None).await;
            let sm = sdk
                .as_ref()
                .map_err(|e| Error::config(e.to_string(), "set AWS_REGION"))
                .and_then(|c| secretstore_aws::AwsSmBackend::from_sdk_config(c, &settings));
            match sm {
                Ok(b) => backends = backends.with(Arc::new(b)),
                // Needed for new secrets: refuse to start without it.
                Err(e) if cfg.secret_backend == BackendKind::AwsSm => return Err(e),
                Err(e) => {
                    backends = backends.without(BackendKind::AwsSm, e.to_string(), "set AWS_REGION")
                }
            }
            if let BriefStoreUrl::S3 {
                bucket,
                prefix,
                sse,
            } = &cfg.brief_store
            {
                let sse = match sse {
                    SseSetting::Aes256 => secretstore_aws::Sse::Aes256,
                    SseSetting::Kms { key_id } => secretstore_aws::Sse::Kms {
                        key_id: key_id.clone(),
                    },
                };
                let sdk = sdk.map_err(|e| Error::config(e.to_string(), "set AWS_REGION"))?;
                brief_store = Some(Arc::new(secretstore_aws::S3BriefStore::from_sdk_config(
                    &sdk, &settings, bucket, prefix, sse,
                )?));
            }
        }
    }
    match &cfg.vault {
        None => {
            backends = backends.without(
                BackendKind::Vault,
                "Vault is not configured",
                "set VAULT_ADDR and VAULT_TOKEN",
            );
        }
        Some(v) => {
            let mut settings =
                secretstore_vault::VaultSettings::new(v.addr.clone(), v.token.clone());
            settings.namespace = v.namespace.clone();
            settings.kv_mount = v.kv_mount.clone();
            backends = backends.with(Arc::new(secretstore_vault::VaultBackend::new(settings)?));
        }
    }
    let briefs: Arc<dyn secretstore_core::BriefStore> = match (&cfg.brief_store, brief_store) {
        (_, Some(s3)) => s3,
        (BriefStoreUrl::Folder(p), None) => Arc::new(FolderBriefStore::new(p.clone())),
        (BriefStoreUrl::S3 { .. }, None) => {
            return Err(Error::config(
                "BRIEF_STORE_URL is s3:// but AWS is not configured",
                "set AWS_REGION",
            ));
        }
    };
    Ok(Service {
        store,
        backends,
        briefs,
        config: ServiceConfig {
            default_backend: cfg.secret_backend,
            callback_ttl_secs: cfg.callback_ttl_secs,
        },
    })
}

async fn init(raw: RawSettings) -> Result<ExitCode> {
    if raw.has_key() {
        eprintln!("a Fernet key is already configured; .env left as it is");
    } else {
        write_new_key(Path::new(".env"))?;
        eprintln!("wrote .env (mode 0600) with a new FERNET_SECRET_KEY");
        eprintln!(
            "keep that key safe and out of version control: without it the stored values cannot be decrypted"
        );
    }
    let raw = RawSettings::load()?;
    let cfg = raw.validate()?;
    open(&cfg).await?;
    eprintln!(
        "database ready: {}",
        secretstore_store::redact_url(&cfg.database_url)
    );
    if cfg.secret_backend == BackendKind::Local {
        eprintln!(
            "warning: the local backend keeps values in the database, encrypted with the key in .env; it is meant for development and tests"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Appends `FERNET_SECRET_KEY=…` to `.env` (creating it with mode 0600).
pub fn write_new_key(path: &Path) -> Result<()> {
    let key = Zeroizing::new(Keyring::generate_key());
    let io = |e: std::io::Error| Error::Storage(format!("cannot write {}: {e}", path.display()));
    let mut f = envfile::open_private(path, true).map_err(io)?;
    let needs_newline = std::fs::read(path)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let line = Zeroizing::new(format!(
        "{}FERNET_SECRET_KEY={}\n",
        if needs_newline { "\n" } else { "" },
        key.as_str()
    ));
    f.write_all(line.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

async fn allow_links(
    svc: &Svc,
    actor: &Principal,
    org: &str,
    aws: &[String],
    vault: &[String],
    none: bool,
    json: bool,
) -> Result<ExitCode> {
    let lists = if none || !aws.is_empty() || !vault.is_empty() {
        svc.allow_links(actor, org, aws, vault).await?
    } else {
        svc.link_prefixes(actor, org).await?
    };
    if json {
        println!(
            "{}",
            serde_json::to_string(&lists).map_err(|e| Error::Storage(e.to_string()))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if lists.is_empty() {
        println!("{org}: no references may be linked but by root");
    }
    for p in &lists.aws_prefixes {
        println!("aws_sm {p}");
    }
    for p in &lists.vault_prefixes {
        println!("vault {p}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_scope(
    svc: &Svc,
    cmd: ScopeCmd,
    level: Level,
    actor: &Principal,
) -> Result<ExitCode> {
    let ScopeCmd::Create { path } = cmd;
    let path = svc.create_scope(actor, &path, level).await?;
    println!("created {level} {path}");
    Ok(ExitCode::SUCCESS)
}

fn category(s: Option<&str>) -> Result<Option<Category>> {
    s.map(Category::from_str).transpose()
}

async fn secret(svc: &Svc, cmd: SecretCmd, actor: &Principal) -> Result<ExitCode> {
    match cmd {
        SecretCmd::Set {
            at,
            category: cat,
            from_file,
            from_env,
            expect_version,
        } => {
            let cat = category(cat.as_deref())?;
            // Check the cheap things before waiting on stdin.
            secretstore_core::SecretName::parse(&at.name)?;
            secretstore_core::ScopePath::parse_secret_scope(&at.scope)?;
            let value = match (&from_file, &from_env) {
                (Some(f), _) => input::from_file(f)?,
                (None, Some(v)) => input::from_env(v)?,
                (None, None) => input::from_stdin(&at.name)?,
            };
            let v = svc
                .set_secret(actor, &at.scope, &at.name, &value, cat, expect_version)
                .await?;
            println!("{} at {}: version {v}", at.name, at.scope);
        }
        SecretCmd::Get { at, version } => {
            let (value, _) = svc.reveal(actor, &at.scope, &at.name, version).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(value.expose_secret().as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::Storage(format!("cannot write to stdout: {e}")))?;
        }
        SecretCmd::List { scope, json } => {
            let list = svc.list(actor, &scope).await?;
            if json {
                println!("{}", to_json(&list)?);
            } else if list.is_empty() {
                eprintln!("no secrets at {scope}");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.category.to_string(),
                            m.backend.to_string(),
                            m.version.to_string(),
                            m.updated_at.clone(),
                            m.updated_by.clone(),
                        ]
                    })
                    .collect();
                print_table(
                    &["NAME", "CATEGORY", "BACKEND", "VERSION", "UPDATED", "BY"],
                    &rows,
                );
            }
        }
        SecretCmd::History { at, json } => {
            let versions = svc.history(actor, &at.scope, &at.name).await?;
            if json {
                println!("{}", to_json(&versions)?);
            } else {
                let rows: Vec<Vec<String>> = versions
                    .iter()
                    .map(|v| {
                        let mut note = Vec::new();
                        if v.current {
                            note.push("current".to_string());
                        }
                        if let Some(r) = v.rollback_of {
                            note.push(format!("rollback to {r}"));
                        }
                        vec![
                            v.version.to_string(),
                            v.created_at.clone(),
                            v.created_by.clone(),
                            note.join(", "),
                        ]
                    })
                    .collect();
                print_table(&["VERSION", "CREATED", "BY", "NOTE"], &rows);
            }
        }
        SecretCmd::Rollback { at, to } => {
            let v = svc.rollback(actor, &at.scope, &at.name, to).await?;
            println!(
                "{} at {}: version {v} (the value of version {to})",
                at.name, at.scope
            );
        }
        SecretCmd::Delete { at } => {
            svc.delete(actor, &at.scope, &at.name).await?;
            println!("deleted {} at {}", at.name, at.scope);
        }
        SecretCmd::Link {
            at,
            aws_arn,
            vault_path,
            category: cat,
        } => {
            let cat = category(cat.as_deref())?;
            let (kind, reference) = match (aws_arn, vault_path) {
                (Some(arn), None) => (BackendKind::AwsSm, arn),
                (None, Some(path)) => (BackendKind::Vault, path),
                _ => {
                    return Err(Error::Invalid(
                        "give exactly one of --aws-arn or --vault-path".into(),
                    ));
                }
            };
            let v = svc
                .link_secret(actor, &at.scope, &at.name, kind, &reference, cat)
                .await?;
            println!(
                "{} at {}: version {v} (linked to {kind})",
                at.name, at.scope
            );
        }
        SecretCmd::Import {
            dotenv_file,
            scope,
            category: cat,
        } => {
            let cat = Category::from_str(&cat)?;
            let entries = read_dotenv(&dotenv_file)?;
            let done = svc.import(actor, &scope, cat, entries).await?;
            for (name, v) in &done {
                println!("{name} at {scope}: version {v}");
            }
            eprintln!("imported {} secrets", done.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a dotenv file into import entries, literally (no `$VAR` expansion). Parse
/// errors never quote the file's content.
fn read_dotenv(path: &Path) -> Result<Vec<ImportEntry>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))?,
    );
    let entries = crate::dotenv::parse(&text).map_err(|e| {
        Error::Invalid(format!(
            "cannot parse {}: the entry {} is malformed; nothing was imported",
            path.display(),
            match &e.after {
                Some(n) => format!("after {n}"),
                None => "at the start".to_string(),
            }
        ))
    })?;
    let mut out = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let value = SecretValue::new(value.to_string()).map_err(|e| {
            Error::Invalid(format!(
                "{name} in {}: {e}; nothing was imported",
                path.display()
            ))
        })?;
        out.push(ImportEntry { name, value });
    }
    Ok(out)
}

async fn resolve(
    svc: &Svc,
    actor: &Principal,
    project: &str,
    refs: &[String],
    explain: bool,
    json: bool,
) -> Result<ExitCode> {
    let res = svc.resolve(actor, project, refs).await?;
    let explained: Vec<_> = res.iter().map(|r| r.explain()).collect();
    if json {
        println!("{}", to_json(&explained)?);
    } else {
        let mut out = String::new();
        for e in &explained {
            match (&e.scope, e.version, e.backend) {
                (Some(scope), Some(v), Some(b)) => {
                    out.push_str(&format!("{}\t{scope}\tversion {v}\t{b}\n", e.name));
                    if explain {
                        if e.shadows.is_empty() {
                            out.push_str("\t(shadows nothing)\n");
                        }
                        for s in &e.shadows {
                            out.push_str(&format!(
                                "\tshadows {} (version {}, {})\n",
                                s.scope, s.version, s.backend
                            ));
                        }
                    }
                }
                _ => out.push_str(&format!("{}\t(missing)\n", e.name)),
            }
        }
        print!("{out}");
    }
    let missing: Vec<&str> = explained
        .iter()
        .filter(|e| !e.found)
        .map(|e| e.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::NotFound(format!(
            "missing for {project}: {}",
            missing.join(", ")
        )))
    }
}

async fn dispatch(
    svc: &Svc,
    task_id: &str,
    env_file: Option<&Path>,
    json: bool,
    actor: &Principal,
) -> Result<ExitCode> {
    if let Some(path) = env_file {
        // Before anything is dispatched: a refused path issues no brief and no token.
        envfile::refuse_symlink(path)
            .map_err(|e| Error::Invalid(format!("--env-file: {e}; nothing was dispatched")))?;
    }
    let d = svc.dispatch(actor, task_id).await?;
    if let Some(path) = env_file {
        envfile::write(path, &d.env).map_err(|e| {
            Error::Storage(format!(
                "brief {} was stored, but writing {} failed: {e}",
                d.brief.brief_id,
                path.display()
            ))
        })?;
    }
    if json {
        let mut env = serde_json::Map::new();
        for (k, v) in &d.env {
            env.insert(
                k.clone(),
                serde_json::Value::String(v.expose_secret().into()),
            );
        }
        let doc = serde_json::json!({
            "brief_id": d.brief.brief_id,
            "task_id": d.brief.task_id,
            "env": env,
        });
        let text = Zeroizing::new(doc.to_string());
        println!("{}", text.as_str());
        zeroize_json(doc);
    } else {
        println!("{}", d.brief.brief_id);
        if env_file.is_none() {
            eprintln!(
                "note: the env (and the callback token) was not written anywhere; use --env-file, --json or `secretstore run`"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Overwrites the strings of a JSON document before it is dropped.
fn zeroize_json(v: serde_json::Value) {
    use zeroize::Zeroize;
    if let serde_json::Value::Object(map) = v {
        for (_, x) in map {
            match x {
                serde_json::Value::String(mut s) => s.zeroize(),
                other => zeroize_json(other),
            }
        }
    }
}

async fn rekey(svc: &Svc, cfg: &Config, dry_run: bool, batch_size: i64) -> Result<ExitCode> {
    let Some(keys) = &cfg.keys else {
        return Err(Error::config(
            "no Fernet key: FERNET_SECRET_KEY(S) is not set",
            "set FERNET_SECRET_KEYS=NEW_KEY,OLD_KEY (newest first) and run rekey again",
        ));
    };
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} values ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(if dry_run { "counting" } else { "re-encrypting" });
        b
    });
    let report =
        secretstore_store::rekey::rekey(&svc.store, keys, dry_run, batch_size, |done, total| {
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(done);
            }
        })
        .await?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    println!("{} local values (every version)", report.total);
    for (i, n) in report.per_key.iter().enumerate() {
        let which = if i == 0 { " (the first: encrypts)" } else { "" };
        println!("  key #{}{which}: {n}", i + 1);
    }
    if report.unreadable > 0 {
        println!("  no key: {}", report.unreadable);
    }
    if dry_run {
        println!("dry run: nothing was changed");
    } else {
        println!("re-encrypted {} values under key #1", report.rewritten);
        println!("compacted the database: no token under another key is left in its files");
    }
    if report.unreadable > 0 {
        return Err(Error::Crypto(format!(
            "{} values cannot be decrypted with any configured key (left untouched); add the key they were written with",
            report.unreadable
        )));
    }
    if !dry_run && report.per_key.len() > 1 {
        println!(
            "every value is now under key #1: the other keys can be dropped from FERNET_SECRET_KEYS"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_command(
    svc: &Svc,
    task: &str,
    command: &[std::ffi::OsString],
    mask: bool,
    clean_env: bool,
    actor: &Principal,
) -> Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Invalid("no command to run".into()));
    };
    let d = svc.dispatch(actor, task).await?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    child_base_env(&mut cmd, clean_env);
    for (k, v) in &d.env {
        cmd.env(k, v.expose_secret());
    }
    // The callback token is a secret too; the brief id is not.
    let secrets: Vec<&str> = d
        .env
        .iter()
        .filter(|(k, _)| k != "SECRETSTORE_BRIEF_ID")
        .map(|(_, v)| v.expose_secret())
        .collect();
    let masker = crate::mask::Masker::new(&secrets);
    drop(secrets);
    if mask {
        for (name, v) in &d.env {
            if v.len() < crate::mask::MIN_MASKED_LEN {
                eprintln!(
                    "secretstore: {name} is shorter than {} bytes and is not masked in the output",
                    crate::mask::MIN_MASKED_LEN
                );
            }
        }
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            // Nothing will ever use this brief's callback token: revoke it at once.
            let id = d.brief.brief_id.to_string();
            drop(d);
            let revoked = match svc.revoke_brief(actor, &id).await {
                Ok(_) => format!("the callback token of brief {id} was revoked"),
                Err(r) => format!(
                    "revoking brief {id} failed too ({r}): run `secretstore brief revoke {id}`"
                ),
            };
            return Err(Error::Invalid(format!(
                "cannot run {}: {e}; {revoked}",
                program.to_string_lossy()
            )));
        }
    };
    drop(d);
    let mut copies = Vec::new();
    if mask {
        if let Some(o) = child.stdout.take() {
            copies.push(tokio::spawn(crate::mask::copy_masked(
                o,
                tokio::io::stdout(),
                masker.clone(),
            )));
        }
        if let Some(e) = child.stderr.take() {
            copies.push(tokio::spawn(crate::mask::copy_masked(
                e,
                tokio::io::stderr(),
                masker.clone(),
            )));
        }
    }
    drop(masker);
    let status = crate::mask::wait_forwarding_signals(&mut child)
        .await
        .map_err(|e| Error::Storage(format!("waiting for the command failed: {e}")))?;
    for c in copies {
        let _ = c.await;
    }
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    if let Some(c) = status.code() {
        return ExitCode::from(u8::try_from(c & 0xff).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return ExitCode::from(u8::try_from(128 + sig).unwrap_or(1));
        }
    }
    ExitCode::from(1)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Storage(format!("cannot encode JSON: {e}")))
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}
