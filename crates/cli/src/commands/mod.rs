//! What each command does, printing for people (plain) or scripts (`--json`). [`run`]
//! reads the settings, opens the service ([`crate::wiring`]) and hands the command to its
//! module.

mod account;
mod admin;
mod lease;
mod rotation;
mod scan;
mod scope;
mod secret;
mod task;

use crate::args::{BriefCmd, CallbackCmd, Cli, Cmd, OrgCmd, ScopeCmd, TaskCmd};
use crate::config::RawSettings;
use crate::error::Result;
use crate::output::outln;
use crate::wiring::{open, require_database};
use secretstore_core::audit::{self, AuditFilter};
use secretstore_core::{Level, Principal};
use secretstore_store::Keyring;
use std::process::ExitCode;

/// Runs one command; its exit code, or the error `main` reports.
pub(crate) async fn run(cli: Cli) -> Result<ExitCode> {
    if let Cmd::Keygen = cli.cmd {
        outln!("{}", Keyring::generate_key())?;
        return Ok(ExitCode::SUCCESS);
    }
    // Inside the agent: no settings, no .env, no database; only its own variables.
    if let Cmd::Boot {
        no_mask,
        files_dir,
        command,
    } = cli.cmd
    {
        return crate::boot::boot(!no_mask, files_dir, &command).await;
    }
    let raw = RawSettings::load()?;
    if let Cmd::Init = cli.cmd {
        return admin::init(raw).await;
    }
    if let Cmd::Serve = cli.cmd {
        return crate::serve::serve(raw).await;
    }
    let cfg = raw.validate()?;
    require_database(&cfg)?;
    let svc = open(&cfg).await?;
    let who = Principal::operator(&cfg.os_user);
    match cli.cmd {
        Cmd::Keygen | Cmd::Init | Cmd::Serve | Cmd::Boot { .. } => Ok(ExitCode::SUCCESS),
        Cmd::Doctor { json } => admin::doctor(&svc, &cfg, json).await,
        Cmd::Org {
            cmd: OrgCmd::Create { path },
        } => {
            let cmd = ScopeCmd::Create { path };
            scope::create(&svc, cmd, Level::Organization, &who).await
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
        } => admin::allow_links(&svc, &who, &org, &aws, &vault, none, json).await,
        Cmd::Org {
            cmd:
                OrgCmd::Policy {
                    org,
                    sealed_only,
                    no_sealed_only,
                    json,
                },
        } => {
            let set = match (sealed_only, no_sealed_only) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            admin::org_policy(&svc, &who, &org, set, json).await
        }
        Cmd::Team { cmd } => scope::create(&svc, cmd, Level::Team, &who).await,
        Cmd::Workspace { cmd } => scope::create(&svc, cmd, Level::Workspace, &who).await,
        Cmd::Project { cmd } => scope::create(&svc, cmd, Level::Project, &who).await,
        Cmd::Secret { cmd } => secret::run(&svc, cmd, &who).await,
        Cmd::Task {
            cmd: TaskCmd::Create { project, refs },
        } => task::create(&svc, &who, &project, &refs).await,
        Cmd::Resolve {
            project,
            refs,
            explain,
            json,
        } => task::resolve(&svc, &who, &project, &refs, explain, json).await,
        Cmd::Dispatch {
            task_id,
            env_file,
            json,
            sealed: true,
        } => {
            debug_assert!(env_file.is_none());
            task::dispatch_sealed(&svc, &task_id, json, &who).await
        }
        Cmd::Dispatch {
            task_id,
            env_file,
            json,
            sealed: false,
        } => task::dispatch(&svc, &task_id, env_file.as_deref(), json, &who).await,
        Cmd::Run {
            task,
            no_mask,
            clean_env,
            files_dir,
            command,
        } => {
            let opts = crate::exec::ExecOptions {
                mask: !no_mask,
                clean_env,
                files_dir,
            };
            task::run_command(&svc, &who, &task, &command, opts).await
        }
        Cmd::Rekey {
            dry_run,
            batch_size,
        } => admin::rekey(&svc, &cfg, dry_run, batch_size).await,
        Cmd::Brief {
            cmd: BriefCmd::Show { brief_id, json },
        } => task::show_brief(&svc, &who, &brief_id, json).await,
        Cmd::Brief {
            cmd: BriefCmd::Revoke { brief_id },
        } => task::revoke_brief(&svc, &who, &brief_id).await,
        Cmd::Lease { cmd } => lease::run(&svc, cmd, &who).await,
        Cmd::Scan { paths, git, json } => scan::scan(&svc, &who, &paths, git, json).await,
        Cmd::Rotation { cmd } => rotation::run(&svc, cmd, &who).await,
        Cmd::Callback {
            cmd: CallbackCmd::Verify { brief_id },
        } => task::verify_callback(&svc, &brief_id).await,
        Cmd::Account { cmd } => account::account(&svc, cmd, &who).await,
        Cmd::Grant {
            name,
            role,
            scope,
            revoke,
        } => account::grant(&svc, &who, &name, &role, scope.as_deref(), revoke).await,
        Cmd::Token { cmd } => account::token(&svc, cmd, &who).await,
        Cmd::Audit {
            scope,
            name,
            actor,
            action,
            since,
            until,
            limit,
            json,
            jsonl,
        } => {
            let time = |t: Option<String>| t.map(|t| audit::parse_time_bound(&t)).transpose();
            let filter = AuditFilter {
                scope,
                name,
                actor,
                action,
                since: time(since)?,
                until: time(until)?,
                ..AuditFilter::default()
            };
            let shape = match (json, jsonl) {
                (_, true) => admin::AuditShape::JsonLines,
                (true, _) => admin::AuditShape::Json,
                _ => admin::AuditShape::Table,
            };
            if limit == Some(0) {
                return Err(
                    secretstore_core::Error::Invalid("--limit must be at least 1".into()).into(),
                );
            }
            let limit = limit.or((!jsonl).then_some(1000));
            admin::audit(&svc, &who, filter, limit, shape).await
        }
    }
}
