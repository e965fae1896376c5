//! `secret set|get|list|find|access|history|rollback|delete|link|import|due`.

use crate::args::SecretCmd;
use crate::error::{CliError, Result};
use crate::input;
use crate::output::outln;
use crate::output::{age_text, duration_text, print_table, to_json};
use crate::wiring::Svc;
use secretstore_core::audit::{self, AuditFilter, PageFrom};
use secretstore_core::generator::{self, AwsStsSpec, GeneratorSpec, PostgresSpec};
use secretstore_core::{
    BackendKind, Category, Delivery, Expected, ImportEntry, Principal, SecretAttrs, SecretValue,
    timestamp,
};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use zeroize::Zeroizing;

/// `--category`, when given.
fn category(s: Option<&str>) -> Result<Option<Category>> {
    Ok(s.map(Category::from_str).transpose()?)
}

/// `--delivery`, when given.
fn delivery(s: Option<&str>) -> Result<Option<Delivery>> {
    Ok(s.map(Delivery::from_str).transpose()?)
}

/// `--rotate-every D` (and `rotation set --every D`): seconds, `Some(0)` for `off` or
/// `0` (removes it). The bounds (30s to 365d) are checked here, before stdin is read, and
/// again by the service.
pub(super) fn rotate_every(flag: &str, s: Option<&str>) -> Result<Option<i64>> {
    let Some(s) = s else { return Ok(None) };
    if matches!(s.trim(), "off" | "0") {
        return Ok(Some(0));
    }
    let secs = timestamp::parse_duration(s).ok_or_else(|| {
        CliError::from(secretstore_core::Error::Invalid(format!(
            "{flag} {s}: expected a duration from 30s to 365d such as 30s, 15m, 24h or 90d, or off"
        )))
    })?;
    let (lo, hi) = secretstore_core::ROTATE_EVERY_BOUNDS;
    if !(lo..=hi).contains(&secs) {
        return Err(secretstore_core::Error::Invalid(format!(
            "{flag} {s}: a maximum age must be from 30s to 365d"
        ))
        .into());
    }
    Ok(Some(secs))
}

/// The domain's [`Expected`] of `--expect-version N`: `0` is "only if it does not exist".
fn expected(version: Option<i64>) -> Option<Expected> {
    version.map(|v| match v {
        0 => Expected::Absent,
        v => Expected::Version(v),
    })
}

/// Runs one `secret` subcommand.
pub(super) async fn run(svc: &Svc, cmd: SecretCmd, who: &Principal) -> Result<ExitCode> {
    match cmd {
        SecretCmd::Set {
            at,
            category: cat,
            delivery: deliv,
            from_file,
            from_env,
            expect_version,
            rotate_every: every,
        } => {
            let cat = category(cat.as_deref())?;
            let deliv = delivery(deliv.as_deref())?;
            let every = rotate_every("--rotate-every", every.as_deref())?;
            // Check the cheap things before waiting on stdin.
            secretstore_core::SecretName::parse(&at.name)?;
            secretstore_core::ScopePath::parse_secret_scope(&at.scope)?;
            let value = match (&from_file, &from_env) {
                (Some(f), _) => input::from_file(f)?,
                (None, Some(v)) => input::from_env(v)?,
                (None, None) => input::from_stdin(&at.name)?,
            };
            let attrs = SecretAttrs {
                category: cat,
                delivery: deliv,
                rotate_every_secs: every,
            };
            let v = svc
                .write_secret(
                    who,
                    &at.scope,
                    &at.name,
                    &value,
                    attrs,
                    expected(expect_version),
                )
                .await?;
            outln!("{} at {}: version {v}", at.name, at.scope)?;
        }
        SecretCmd::Generator {
            at,
            category: cat,
            postgres,
            grants,
            creation,
            revocation,
            aws_role_arn,
            session_policy,
            ttl,
            delivery: deliv,
            expect_version,
        } => {
            let cat = category(cat.as_deref())?;
            let deliv = delivery(deliv.as_deref())?;
            let ttl = ttl
                .map(|t| {
                    timestamp::parse_duration(&t)
                        .and_then(|s| u64::try_from(s).ok())
                        .ok_or_else(|| {
                            CliError::from(secretstore_core::Error::Invalid(format!(
                                "--ttl {t}: expected a duration such as 90s, 15m, 1h or 12h"
                            )))
                        })
                })
                .transpose()?;
            let spec = match (postgres, aws_role_arn) {
                (Some(admin_ref), _) => GeneratorSpec::Postgres(PostgresSpec {
                    admin_ref,
                    grants,
                    creation,
                    revocation,
                    ttl_secs: ttl.unwrap_or(generator::DEFAULT_POSTGRES_TTL_SECS),
                }),
                (None, Some(role_arn)) => {
                    let session_policy = session_policy
                        .map(|f| {
                            std::fs::read_to_string(&f).map_err(|e| {
                                CliError::from(secretstore_core::Error::Invalid(format!(
                                    "--session-policy {}: {e}",
                                    f.display()
                                )))
                            })
                        })
                        .transpose()?;
                    GeneratorSpec::AwsSts(AwsStsSpec {
                        role_arn,
                        session_policy,
                        ttl_secs: ttl.unwrap_or(generator::DEFAULT_STS_TTL_SECS),
                    })
                }
                (None, None) => {
                    return Err(CliError::Usage(
                        "secret generator needs --postgres ADMIN_REF or --aws-role-arn ARN",
                    ));
                }
            };
            let kind = spec.kind();
            let v = svc
                .define_generator(
                    who,
                    &at.scope,
                    &at.name,
                    spec,
                    cat,
                    deliv,
                    expected(expect_version),
                )
                .await?;
            outln!("{} at {}: {kind} generator, version {v}", at.name, at.scope)?;
        }
        SecretCmd::Get { at, version } => {
            let (value, _) = svc.reveal(who, &at.scope, &at.name, version).await?;
            let mut out = std::io::stdout().lock();
            // A newline on a terminal only, so that the prompt starts on a line of its
            // own; into a pipe or a file, the value byte for byte.
            let newline: &[u8] = match std::io::IsTerminal::is_terminal(&out) {
                true => b"\n",
                false => b"",
            };
            out.write_all(value.expose_secret().as_bytes())
                .and_then(|_| out.write_all(newline))
                .and_then(|_| out.flush())
                .map_err(CliError::WriteStdout)?;
        }
        SecretCmd::Access {
            name,
            scope,
            since,
            until,
            limit,
            json,
        } => access(svc, who, &scope, &name, [since, until], limit, json).await?,
        SecretCmd::Find {
            pattern,
            scope,
            json,
        } => {
            let found = svc
                .find_secrets(who, scope.as_deref(), &pattern, None)
                .await?;
            if json {
                outln!("{}", to_json(&found)?)?;
            } else if found.is_empty() {
                eprintln!("no secret matches {pattern}");
            } else {
                let rows: Vec<Vec<String>> = found
                    .iter()
                    .map(|m| {
                        vec![
                            m.scope.to_string(),
                            m.name.clone(),
                            m.category.to_string(),
                            m.backend.to_string(),
                            m.version.to_string(),
                            timestamp::format(m.updated_at),
                        ]
                    })
                    .collect();
                print_table(
                    &["SCOPE", "NAME", "CATEGORY", "BACKEND", "VERSION", "UPDATED"],
                    &rows,
                )?;
            }
        }
        SecretCmd::List { scope, json } => {
            let list = svc.list(who, &scope).await?;
            if json {
                outln!("{}", to_json(&list)?)?;
            } else if list.is_empty() {
                eprintln!("no secrets at {scope}");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.category.to_string(),
                            match m.generator {
                                Some(g) => format!("{g} generator"),
                                None => m.backend.to_string(),
                            },
                            m.delivery.to_string(),
                            m.version.to_string(),
                            timestamp::format(m.updated_at),
                            m.updated_by.clone(),
                            m.rotate_every_secs
                                .filter(|s| *s > 0)
                                .map(duration_text)
                                .unwrap_or_default(),
                            m.leaked_at
                                .map(|t| format!("LEAKED {}", timestamp::format(t)))
                                .unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "NAME", "CATEGORY", "BACKEND", "DELIVERY", "VERSION", "UPDATED", "BY",
                        "ROTATE", "LEAKED",
                    ],
                    &rows,
                )?;
            }
        }
        SecretCmd::History { at, json } => {
            let versions = svc.history(who, &at.scope, &at.name).await?;
            if json {
                outln!("{}", to_json(&versions)?)?;
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
                            timestamp::format(v.created_at),
                            v.created_by.clone(),
                            note.join(", "),
                        ]
                    })
                    .collect();
                print_table(&["VERSION", "CREATED", "BY", "NOTE"], &rows)?;
            }
        }
        SecretCmd::Rollback { at, to } => {
            let v = svc.rollback(who, &at.scope, &at.name, to).await?;
            outln!(
                "{} at {}: version {v} (the value of version {to})",
                at.name,
                at.scope
            )?;
        }
        SecretCmd::Delete { at } => {
            svc.delete(who, &at.scope, &at.name).await?;
            outln!("deleted {} at {}", at.name, at.scope)?;
        }
        SecretCmd::Link {
            at,
            aws_arn,
            vault_path,
            category: cat,
            delivery: deliv,
            rotate_every: every,
        } => {
            let attrs = SecretAttrs {
                category: category(cat.as_deref())?,
                delivery: delivery(deliv.as_deref())?,
                rotate_every_secs: rotate_every("--rotate-every", every.as_deref())?,
            };
            let (kind, reference) = match (aws_arn, vault_path) {
                (Some(arn), None) => (BackendKind::AwsSm, arn),
                (None, Some(path)) => (BackendKind::Vault, path),
                _ => {
                    return Err(CliError::Usage(
                        "give exactly one of --aws-arn or --vault-path",
                    ));
                }
            };
            let v = svc
                .link_secret(who, &at.scope, &at.name, kind, &reference, attrs)
                .await?;
            outln!(
                "{} at {}: version {v} (linked to {kind})",
                at.name,
                at.scope
            )?;
        }
        SecretCmd::Due { scope, json } => due(svc, who, scope.as_deref(), json).await?,
        SecretCmd::Import {
            dotenv_file,
            scope,
            category: cat,
            delivery: deliv,
        } => {
            let cat = Category::from_str(&cat)?;
            let deliv = delivery(deliv.as_deref())?;
            let entries = read_dotenv(&dotenv_file)?;
            let done = svc.import(who, &scope, cat, deliv, entries).await?;
            for (name, v) in &done {
                outln!("{name} at {scope}: version {v}")?;
            }
            eprintln!("imported {} secrets", done.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a dotenv file into import entries, literally (no `$VAR` expansion). Parse
/// errors never quote the file's content.
fn read_dotenv(path: &Path) -> Result<Vec<ImportEntry>> {
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| CliError::ReadFile {
                path: path.to_owned(),
                source,
            })?,
        );
    let entries = secretstore_core::dotenv::parse(&text).map_err(|e| CliError::DotenvSyntax {
        path: path.to_owned(),
        after: e.after,
    })?;
    let mut out = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let value = match SecretValue::new(value.to_string()) {
            Ok(v) => v,
            Err(source) => {
                return Err(CliError::DotenvValue {
                    name,
                    path: path.to_owned(),
                    source,
                });
            }
        };
        out.push(ImportEntry { name, value });
    }
    Ok(out)
}

/// `secret access`: the report's pages until `limit` accesses (default 1000).
async fn access(
    svc: &Svc,
    who: &Principal,
    scope: &str,
    name: &str,
    [since, until]: [Option<String>; 2],
    limit: Option<u64>,
    json: bool,
) -> Result<()> {
    if limit == Some(0) {
        return Err(secretstore_core::Error::Invalid("--limit must be at least 1".into()).into());
    }
    let time = |t: Option<String>| t.map(|t| audit::parse_time_bound(&t)).transpose();
    let mut filter = AuditFilter {
        since: time(since)?,
        until: time(until)?,
        ..AuditFilter::default()
    };
    let mut left = limit.unwrap_or(1000);
    let mut all = Vec::new();
    let mut current = None;
    while left > 0 {
        filter.limit = i64::try_from(left.min(audit::MAX_PAGE as u64)).unwrap_or(1);
        let report = svc
            .secret_access_report(who, scope, name, filter.clone())
            .await?;
        current = report.current;
        left = left.saturating_sub(report.page.records.len() as u64);
        all.extend(report.page.records);
        match report.page.older {
            Some(c) => filter.from = PageFrom::Before(c),
            None => break,
        }
    }
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r.entry).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    if let Some(b) = r.brief {
                        o.insert("brief_status".into(), b.as_str().into());
                    }
                    o.insert("holds_old_version".into(), r.holds_old.into());
                }
                v
            })
            .collect();
        outln!("{}", to_json(&rows)?)?;
        return Ok(());
    }
    if all.is_empty() {
        eprintln!("nobody was handed {name} at {scope}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|r| {
            let a = &r.entry;
            let what = if a.action == "task.dispatch" {
                "dispatch"
            } else {
                "reveal"
            };
            let status = match (r.brief, r.holds_old) {
                (Some(b), true) => format!("{b}, old version"),
                (Some(b), false) => b.to_string(),
                (None, _) => String::new(),
            };
            vec![
                timestamp::format(a.at),
                what.to_owned(),
                a.actor.clone(),
                a.version.map(|v| format!("v{v}")).unwrap_or_default(),
                a.target.clone().unwrap_or_default(),
                status,
                a.source.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &["AT", "ACCESS", "WHO", "VERSION", "BRIEF", "STATUS", "FROM"],
        &rows,
    )?;
    match current {
        Some(v) => eprintln!("current version: v{v}"),
        None => eprintln!("{name} at {scope} is deleted: any running brief holds a stale value"),
    }
    Ok(())
}

/// `secret due`: the secrets whose rotation is due, oldest first.
async fn due(svc: &Svc, who: &Principal, scope: Option<&str>, json: bool) -> Result<()> {
    let due = svc.due_secrets(who, scope).await?;
    if json {
        outln!("{}", to_json(&due)?)?;
        return Ok(());
    }
    if due.is_empty() {
        match scope {
            Some(s) => eprintln!("no secret at or under {s} is due for rotation"),
            None => eprintln!("no secret is due for rotation"),
        }
        return Ok(());
    }
    let now = timestamp::now();
    let rows: Vec<Vec<String>> = due
        .iter()
        .map(|d| {
            let m = &d.meta;
            let mut reasons = Vec::new();
            if let Some(at) = m.leaked_at {
                reasons.push(format!("leaked {}", timestamp::format(at)));
            }
            if d.reasons.contains(&"age") {
                reasons.push("too old".to_owned());
            }
            vec![
                m.scope.to_string(),
                m.name.clone(),
                m.version.to_string(),
                timestamp::format(m.updated_at),
                age_text((now - m.updated_at).whole_seconds()),
                match (d.max_age_secs, &d.policy) {
                    (Some(secs), Some(p)) if p == "secret" => {
                        format!("{} (its own)", duration_text(secs))
                    }
                    (Some(secs), Some(p)) => format!("{} ({} policy)", duration_text(secs), p),
                    (Some(secs), None) => duration_text(secs),
                    (None, _) => "-".to_owned(),
                },
                reasons.join(", "),
            ]
        })
        .collect();
    print_table(
        &[
            "SCOPE", "NAME", "VERSION", "UPDATED", "AGE", "MAX AGE", "REASONS",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_every_reads_the_one_duration_format_within_its_bounds() {
        let f = |s| rotate_every("--rotate-every", Some(s)).map_err(|e| e.to_string());
        assert_eq!(f("90d"), Ok(Some(90 * 86_400)));
        assert_eq!(f("30s"), Ok(Some(30)));
        assert_eq!(f("365d"), Ok(Some(365 * 86_400)));
        assert_eq!(f("off"), Ok(Some(0)));
        assert_eq!(f("0"), Ok(Some(0)));
        assert_eq!(rotate_every("--rotate-every", None).ok(), Some(None));
        for bad in ["29s", "366d", "10s"] {
            assert!(f(bad).unwrap_err().contains("from 30s to 365d"), "{bad}");
        }
        for bad in ["abc", "0s", "", "1w", "-5m"] {
            assert!(
                f(bad)
                    .unwrap_err()
                    .contains(&format!("--rotate-every {bad}:")),
                "{bad}"
            );
        }
    }
}
