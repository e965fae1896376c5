//! `lease list|revoke`: what generators minted for each brief, and revoking it now.

use crate::args::LeaseCmd;
use crate::error::Result;
use crate::output::{outln, print_table, to_json};
use crate::wiring::Svc;
use secretstore_core::{Principal, timestamp};
use std::process::ExitCode;

/// Runs one `lease` subcommand.
pub(super) async fn run(svc: &Svc, cmd: LeaseCmd, who: &Principal) -> Result<ExitCode> {
    match cmd {
        LeaseCmd::List {
            project,
            brief,
            open,
            json,
        } => {
            let leases = svc
                .leases(who, project.as_deref(), brief.as_deref(), open, 1000)
                .await?;
            let now = timestamp::now();
            if json {
                let list: Vec<serde_json::Value> = leases
                    .iter()
                    .map(|l| {
                        let mut v = serde_json::to_value(l).unwrap_or_default();
                        v["state"] = l.state(now).into();
                        v
                    })
                    .collect();
                outln!("{}", to_json(&list)?)?;
            } else if leases.is_empty() {
                eprintln!("no leases");
            } else {
                let rows: Vec<Vec<String>> = leases
                    .iter()
                    .map(|l| {
                        vec![
                            l.id.to_string(),
                            l.state(now).to_owned(),
                            l.provider.to_string(),
                            l.principal.clone(),
                            format!("{} at {}", l.name, l.scope),
                            l.brief_id.to_string(),
                            timestamp::format(l.expires_at),
                            l.revoke_reason.map(|r| r.to_string()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "LEASE",
                        "STATE",
                        "PROVIDER",
                        "PRINCIPAL",
                        "SECRET",
                        "BRIEF",
                        "EXPIRES",
                        "REASON",
                    ],
                    &rows,
                )?;
            }
        }
        LeaseCmd::Revoke { lease_id, brief } => {
            let ended = match (lease_id, brief) {
                (Some(id), _) => svc.revoke_lease(who, &id).await?.1,
                (None, Some(b)) => svc.revoke_brief_leases(who, &b).await?,
                (None, None) => {
                    return Err(crate::error::CliError::Usage(
                        "lease revoke needs LEASE_ID or --brief BRIEF_ID",
                    ));
                }
            };
            for id in &ended.revoked {
                outln!("revoked {id}")?;
            }
            if !ended.failed.is_empty() {
                for (id, error) in &ended.failed {
                    eprintln!(
                        "error: cannot revoke {id}: {error} (the sweeper of serve retries it)"
                    );
                }
                return Ok(ExitCode::FAILURE);
            }
            if ended.revoked.is_empty() {
                eprintln!("nothing to revoke: no lease of that id or brief is open");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
