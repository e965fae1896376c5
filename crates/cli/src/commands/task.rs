//! Tasks and their briefs: `task create`, `resolve`, `dispatch`, `run`, `brief show|revoke`,
//! `callback verify`.

use crate::error::{CliError, Result};
use crate::exec::{ChildEnv, ExecOptions, exec};
use crate::output::{out, outln};
use crate::output::{print_table, to_json, zeroize_json};
use crate::wiring::Svc;
use crate::{envfile, input};
use secretstore_core::{Principal, timestamp};
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// `task create`: prints the new task's id.
pub(super) async fn create(
    svc: &Svc,
    who: &Principal,
    project: &str,
    refs: &[String],
) -> Result<ExitCode> {
    let task = svc.create_task(who, project, refs, None).await?;
    outln!("{}", task.id)?;
    Ok(ExitCode::SUCCESS)
}

/// `resolve`: which secret each ref resolves to (no values); fails when one is missing.
pub(super) async fn resolve(
    svc: &Svc,
    who: &Principal,
    project: &str,
    refs: &[String],
    explain: bool,
    json: bool,
) -> Result<ExitCode> {
    let res = svc.resolve(who, project, refs).await?;
    let explained: Vec<_> = res.iter().map(|r| r.explain()).collect();
    if json {
        outln!("{}", to_json(&explained)?)?;
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
        out!("{out}")?;
    }
    let missing: Vec<String> = explained
        .iter()
        .filter(|e| !e.found)
        .map(|e| e.name.clone())
        .collect();
    if missing.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::Missing {
            project: project.to_owned(),
            names: missing,
        })
    }
}

/// `dispatch`: stores the brief and prints its id; the env goes to `--env-file` or, with
/// `--json`, to stdout.
pub(super) async fn dispatch(
    svc: &Svc,
    task_id: &str,
    env_file: Option<&Path>,
    json: bool,
    who: &Principal,
) -> Result<ExitCode> {
    if let Some(path) = env_file {
        // Before anything is dispatched: a refused path issues no brief and no token.
        envfile::refuse_symlink(path).map_err(CliError::EnvFileRefused)?;
        // The folder of its file-delivered secrets, too.
        envfile::refuse_symlink(&envfile::files_dir_of(path)).map_err(CliError::EnvFileRefused)?;
    }
    let d = svc.dispatch(who, task_id).await?;
    if let Some(path) = env_file {
        envfile::write_with_files(path, &d.env, &d.files).map_err(|(path, source)| {
            CliError::EnvFileWrite {
                brief_id: d.brief.brief_id.to_string(),
                path,
                source,
            }
        })?;
    }
    if json {
        let map = |pairs: &[(String, secretstore_core::SecretValue)]| {
            let mut m = serde_json::Map::new();
            for (k, v) in pairs {
                m.insert(
                    k.clone(),
                    serde_json::Value::String(v.expose_secret().into()),
                );
            }
            m
        };
        let doc = serde_json::json!({
            "brief_id": d.brief.brief_id,
            "task_id": d.brief.task_id,
            "env": map(&d.env),
            "files": map(&d.files),
        });
        let text = Zeroizing::new(doc.to_string());
        outln!("{}", text.as_str())?;
        zeroize_json(doc);
    } else {
        outln!("{}", d.brief.brief_id)?;
        if env_file.is_none() {
            eprintln!(
                "note: the env (and the callback token) was not written anywhere; use --env-file, --json or `secretstore run`"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dispatch --sealed`: stores the brief with its env sealed and prints the brief id and
/// the boot token (one per line), or with `--json` `{"brief_id", "task_id", "boot_token",
/// "expires_at"}`. No value is printed.
pub(super) async fn dispatch_sealed(
    svc: &Svc,
    task_id: &str,
    json: bool,
    who: &Principal,
) -> Result<ExitCode> {
    let d = svc.dispatch_sealed(who, task_id).await?;
    let expires = timestamp::format(d.expires_at);
    if json {
        let doc = serde_json::json!({
            "brief_id": d.brief.brief_id,
            "task_id": d.brief.task_id,
            "boot_token": d.boot_token.expose_secret(),
            "expires_at": expires,
        });
        let text = Zeroizing::new(doc.to_string());
        outln!("{}", text.as_str())?;
        zeroize_json(doc);
    } else {
        outln!("{}\n{}", d.brief.brief_id, d.boot_token.expose_secret())?;
        eprintln!(
            "note: the boot token is good for one boot until {expires}: start the agent with SECRETSTORE_URL and SECRETSTORE_BOOT_TOKEN and the entrypoint `secretstore boot -- COMMAND`"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `run`: dispatches the task, runs the command with its env and files (see
/// [`crate::exec`]) and exits with the command's code. A command that never started
/// (no folder for the files, no such program) gets its brief revoked at once.
pub(super) async fn run_command(
    svc: &Svc,
    who: &Principal,
    task: &str,
    command: &[OsString],
    opts: ExecOptions,
) -> Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        return Err(CliError::Usage("no command to run"));
    };
    let d = svc.dispatch(who, task).await?;
    let id = d.brief.brief_id.to_string();
    let leased = d.brief.secrets.iter().any(|s| s.lease_id.is_some());
    let child_env = ChildEnv {
        env: d.env,
        files: d.files,
    };
    match exec(program, args, child_env, opts).await {
        Ok(code) => {
            // The command is over: so is every credential minted for it (a callback from
            // the command revoked them already; a revocation that fails now is left to
            // the sweeper of serve, and the credential's own expiry).
            if leased {
                match svc.revoke_brief_leases(who, &id).await {
                    Ok(ended) => {
                        for (lease, error) in ended.failed {
                            eprintln!(
                                "warning: cannot revoke lease {lease} of brief {id}: {error}; run `secretstore lease revoke {lease}`"
                            );
                        }
                    }
                    Err(e) => eprintln!(
                        "warning: cannot revoke the leases of brief {id}: {e}; run `secretstore lease revoke --brief {id}`"
                    ),
                }
            }
            Ok(code)
        }
        Err(source) if source.not_started() => {
            // Nothing will ever use this brief's callback token (or what was minted for
            // it): revoke it at once.
            let revoked = match svc.revoke_brief(who, &id).await {
                Ok(_) => format!("the callback token of brief {id} was revoked"),
                Err(r) => format!(
                    "revoking brief {id} failed too ({r}): run `secretstore brief revoke {id}`"
                ),
            };
            Err(CliError::NotStarted { source, revoked })
        }
        Err(e) => Err(CliError::Exec(e)),
    }
}

/// A sealed brief's boot token for `brief show --json`: its state, times and addresses.
fn boot_json(b: &secretstore_core::BootRecord) -> serde_json::Value {
    let when = |w: &Option<(timestamp::OffsetDateTime, String)>| {
        w.as_ref()
            .map(|(at, from)| serde_json::json!({"at": timestamp::format(*at), "from": from}))
    };
    serde_json::json!({
        "state": b.state(timestamp::now()).as_str(),
        "expires_at": timestamp::format(b.expires_at),
        "redeemed": when(&b.redeemed),
        "replayed": when(&b.replayed),
    })
}

/// A sealed brief's boot token in a line: its state, when and from where.
fn boot_line(b: &secretstore_core::BootRecord) -> String {
    let mut line = b.state(timestamp::now()).as_str().to_owned();
    match (&b.redeemed, &b.replayed) {
        (None, _) => line.push_str(&format!(" (until {})", timestamp::format(b.expires_at))),
        (Some((at, from)), replay) => {
            line.push_str(&format!(
                " (redeemed {} from {from}",
                timestamp::format(*at)
            ));
            if let Some((at, from)) = replay {
                line.push_str(&format!(
                    "; presented again {} from {from}: the brief was revoked",
                    timestamp::format(*at)
                ));
            }
            line.push(')');
        }
    }
    line
}

/// `brief show`: the brief with its status and, once the callback came, when: for people
/// a summary and a table of the secrets it handed out; with `--json`, the stored brief
/// JSON plus `status` and `completed_at`.
pub(super) async fn show_brief(
    svc: &Svc,
    who: &Principal,
    brief_id: &str,
    json: bool,
) -> Result<ExitCode> {
    let brief = svc.brief(who, brief_id).await?;
    let rec = svc.brief_status(who, brief_id).await?;
    if json {
        let mut shown = serde_json::to_value(&brief).map_err(CliError::Json)?;
        if let Some(o) = shown.as_object_mut() {
            o.insert("status".into(), rec.status.as_str().into());
            if let Some(at) = rec.completed_at {
                o.insert("completed_at".into(), timestamp::format(at).into());
            }
            if let Some(b) = &rec.boot {
                o.insert("boot".into(), boot_json(b));
            }
        }
        outln!("{}", to_json(&shown)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = vec![
        ("brief", brief.brief_id.to_string()),
        ("task", brief.task_id.to_string()),
        ("project", brief.project.to_string()),
        ("dispatched", timestamp::format(brief.created_at)),
        ("status", rec.status.as_str().to_string()),
    ];
    if let Some(at) = rec.completed_at {
        lines.push(("completed", timestamp::format(at)));
    }
    lines.push(("delivery", rec.delivery.to_string()));
    if let Some(b) = &rec.boot {
        lines.push(("boot token", boot_line(b)));
    }
    if brief.payload.is_some() {
        lines.push(("payload", "yes (--json shows it)".into()));
    }
    for (label, value) in lines {
        outln!("{label:<10} {value}")?;
    }
    outln!()?;
    let with_backend_versions = brief.secrets.iter().any(|s| s.backend_version.is_some());
    let with_files = brief.secrets.iter().any(|s| !s.delivery.is_env());
    let mut header = vec!["NAME", "SCOPE", "VERSION", "BACKEND", "CATEGORY"];
    if with_files {
        header.push("DELIVERY");
    }
    if with_backend_versions {
        header.push("BACKEND VERSION");
    }
    let rows: Vec<Vec<String>> = brief
        .secrets
        .iter()
        .map(|s| {
            let mut row = vec![
                s.name.clone(),
                s.scope.to_string(),
                s.version.to_string(),
                s.backend.to_string(),
                s.category.to_string(),
            ];
            if with_files {
                row.push(s.delivery.to_string());
            }
            if with_backend_versions {
                row.push(s.backend_version.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    print_table(&header, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// `brief revoke`: its callback token stops working.
pub(super) async fn revoke_brief(svc: &Svc, who: &Principal, brief_id: &str) -> Result<ExitCode> {
    let (rec, changed) = svc.revoke_brief(who, brief_id).await?;
    if changed {
        outln!(
            "revoked brief {}: its callback token no longer works",
            rec.brief_id
        )?;
    } else {
        outln!(
            "brief {} is already {}: its callback token no longer works; nothing changed",
            rec.brief_id,
            rec.status
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `callback verify`: reads the token from stdin; exits with 0 when it is valid, 1 when not.
pub(super) async fn verify_callback(svc: &Svc, brief_id: &str) -> Result<ExitCode> {
    let token = input::token_from_stdin()?;
    if token.is_empty() {
        return Err(CliError::TokenMissing);
    }
    if svc.verify_callback(brief_id, &token).await? {
        outln!("valid")?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: the callback token is not valid for brief {brief_id} (wrong, expired, revoked, or its callback was already received)"
        );
        Ok(ExitCode::from(1))
    }
}
