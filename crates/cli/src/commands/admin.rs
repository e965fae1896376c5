//! The operator's housekeeping: `init`, `doctor`, `rekey`, `org allow-links`, `audit`.

use crate::config::{Config, RawSettings};
use crate::envfile;
use crate::error::{CliError, Result};
use crate::output::outln;
use crate::output::{print_table, to_json, to_json_line};
use crate::wiring::{Svc, open};
use secretstore_core::audit::{self, AuditFilter, PageFrom};
use secretstore_core::{BackendKind, Principal, timestamp};
use std::path::Path;
use std::process::ExitCode;

/// `init`: writes `.env` with a new key unless one is configured, and creates the
/// database.
pub(super) async fn init(raw: RawSettings) -> Result<ExitCode> {
    if raw.has_key() {
        eprintln!("a Fernet key is already configured; .env left as it is");
    } else {
        envfile::write_new_key(Path::new(".env"))?;
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

/// `doctor`: one line per check (or one JSON document); exits with 1 when one failed.
pub(super) async fn doctor(svc: &Svc, cfg: &Config, json: bool) -> Result<ExitCode> {
    #[derive(serde::Serialize)]
    struct Check {
        name: String,
        ok: bool,
        detail: String,
    }
    let mut checks = vec![Check {
        name: "database".into(),
        ok: true,
        detail: secretstore_store::redact_url(&cfg.database_url),
    }];
    for (name, r) in svc.doctor().await {
        checks.push(match r {
            Ok(detail) => Check {
                name,
                ok: true,
                detail,
            },
            Err(e) => Check {
                name,
                ok: false,
                detail: e.to_string(),
            },
        });
    }
    let ok = checks.iter().all(|c| c.ok);
    if json {
        outln!(
            "{}",
            to_json(&serde_json::json!({ "ok": ok, "checks": checks }))?
        )?;
    } else {
        for c in &checks {
            if c.ok {
                outln!("{}: ok ({})", c.name, c.detail)?;
            } else {
                outln!("{}: FAILED: {}", c.name, c.detail)?;
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `rekey`: re-encrypts every local value under the first key, with a progress bar on a
/// terminal.
pub(super) async fn rekey(
    svc: &Svc,
    cfg: &Config,
    dry_run: bool,
    batch_size: i64,
) -> Result<ExitCode> {
    let Some(keys) = &cfg.keys else {
        return Err(CliError::config(
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
    outln!("{} local values (every version)", report.total)?;
    for (i, n) in report.per_key.iter().enumerate() {
        let which = if i == 0 { " (the first: encrypts)" } else { "" };
        outln!("  key #{}{which}: {n}", i + 1)?;
    }
    if report.unreadable > 0 {
        outln!("  no key: {}", report.unreadable)?;
    }
    if dry_run {
        outln!("dry run: nothing was changed")?;
    } else {
        outln!("re-encrypted {} values under key #1", report.rewritten)?;
        outln!("compacted the database: no token under another key is left in its files")?;
    }
    if report.unreadable > 0 {
        return Err(CliError::Undecryptable(report.unreadable));
    }
    if !dry_run && report.per_key.len() > 1 {
        outln!(
            "every value is now under key #1: the other keys can be dropped from FERNET_SECRET_KEYS"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `org allow-links`: sets the organization's link prefixes, or shows them.
pub(super) async fn allow_links(
    svc: &Svc,
    who: &Principal,
    org: &str,
    aws: &[String],
    vault: &[String],
    none: bool,
    json: bool,
) -> Result<ExitCode> {
    let lists = if none || !aws.is_empty() || !vault.is_empty() {
        svc.allow_links(who, org, aws, vault).await?
    } else {
        svc.link_prefixes(who, org).await?
    };
    if json {
        outln!("{}", to_json_line(&lists)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if lists.is_empty() {
        outln!("{org}: no references may be linked but by root")?;
    }
    for p in &lists.aws_prefixes {
        outln!("aws_sm {p}")?;
    }
    for p in &lists.vault_prefixes {
        outln!("vault {p}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `org policy`: shows or sets whether the organization requires sealed delivery.
pub(super) async fn org_policy(
    svc: &Svc,
    who: &Principal,
    org: &str,
    set: Option<bool>,
    json: bool,
) -> Result<ExitCode> {
    let sealed_only = match set {
        Some(flag) => svc.set_sealed_only(who, org, flag).await?,
        None => svc.sealed_only(who, org).await?,
    };
    if json {
        outln!("{}", serde_json::json!({ "sealed_only": sealed_only }))?;
    } else if sealed_only {
        outln!("{org}: sealed only (a dispatch that would hand out the env is refused)")?;
    } else {
        outln!("{org}: env and sealed delivery allowed")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How `audit` prints its records.
pub(super) enum AuditShape {
    Table,
    Json,
    JsonLines,
}

/// `audit`: the newest `limit` records of `filter` (all of them without a limit), newest
/// first, read a page at a time; as a table, one JSON array, or JSON lines (each line
/// written as its page arrives: an export of millions holds one page in memory).
pub(super) async fn audit(
    svc: &Svc,
    who: &Principal,
    mut filter: AuditFilter,
    limit: Option<u64>,
    shape: AuditShape,
) -> Result<ExitCode> {
    let mut left = limit.unwrap_or(u64::MAX);
    let mut all = Vec::new();
    while left > 0 {
        filter.limit = i64::try_from(left.min(audit::MAX_PAGE as u64)).unwrap_or(1);
        let page = svc.audit_log(who, filter.clone()).await?;
        left = left.saturating_sub(page.records.len() as u64);
        if let AuditShape::JsonLines = shape {
            for r in &page.records {
                outln!("{}", to_json_line(r)?)?;
            }
        } else {
            all.extend(page.records);
        }
        match page.older {
            Some(c) => filter.from = PageFrom::Before(c),
            None => break,
        }
    }
    match shape {
        AuditShape::JsonLines => {}
        AuditShape::Json => outln!("{}", to_json(&all)?)?,
        AuditShape::Table => {
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|a| {
                    let what = match (&a.scope, &a.name, a.version) {
                        (Some(s), Some(n), Some(v)) => format!("{s} {n} v{v}"),
                        (Some(s), Some(n), None) => format!("{s} {n}"),
                        (Some(s), None, _) => s.clone(),
                        _ => String::new(),
                    };
                    vec![
                        timestamp::format(a.at),
                        a.actor.clone(),
                        a.action.clone(),
                        what,
                        a.target.clone().unwrap_or_default(),
                        a.source.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["AT", "ACTOR", "ACTION", "WHAT", "TARGET", "FROM"], &rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use secretstore_store::redact_url;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The database line of `init` and `doctor` (`redact_url`): whatever the password
        /// (`:`, `@`, `/`, `%`, any Unicode), the URL keeps its scheme, user, host and
        /// database and shows `***` where the password was.
        #[test]
        fn any_password_is_replaced_by_stars(
            scheme in prop::sample::select(vec!["postgres", "postgresql", "sqlite"]),
            user in "[a-z_][a-z0-9_.-]{0,10}",
            password in "[^\\x00]{1,24}",
            host in "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
            db in "(/[a-z0-9_]{0,10})?(\\?[a-z_]{1,8}=[a-z0-9]{1,8})?",
        ) {
            let url = format!("{scheme}://{user}:{password}@{host}{db}");
            prop_assert_eq!(redact_url(&url), format!("{scheme}://{user}:***@{host}{db}"));
        }

        /// A URL without credentials is shown as it is.
        #[test]
        fn a_url_without_credentials_is_unchanged(url in "(postgres://|sqlite://)?[a-z0-9./:?=_-]{0,40}") {
            prop_assert_eq!(redact_url(&url), url);
        }
    }
}
