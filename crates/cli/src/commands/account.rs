//! `account create|list`, `grant`, `token create|list|revoke`.

use crate::args::{AccountCmd, TokenCmd};
use crate::error::Result;
use crate::output::outln;
use crate::output::{print_table, roles_text, to_json};
use crate::wiring::Svc;
use secretstore_core::{AccountKind, Principal, Role, timestamp};
use std::process::ExitCode;

/// `account create` and `account list`.
pub(super) async fn account(svc: &Svc, cmd: AccountCmd, who: &Principal) -> Result<ExitCode> {
    match cmd {
        AccountCmd::Create { name, service } => {
            let kind = if service {
                AccountKind::Service
            } else {
                AccountKind::Person
            };
            let a = svc.create_account(who, &name, kind).await?;
            outln!("created {} account {}", a.kind.as_str(), a.name)?;
        }
        AccountCmd::List { json } => {
            let list = svc.accounts(who).await?;
            if json {
                let v: Vec<serde_json::Value> = list
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "name": a.name, "kind": a.kind, "created_at": timestamp::format(a.created_at),
                            "roles": a.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                outln!("{}", to_json(&v)?)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| vec![a.name.clone(), a.kind.as_str().into(), roles_text(&a.roles)])
                    .collect();
                print_table(&["NAME", "KIND", "ROLES"], &rows)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `grant NAME ROLE [SCOPE] [--revoke]`: prints the account's roles after.
pub(super) async fn grant(
    svc: &Svc,
    who: &Principal,
    name: &str,
    role: &str,
    scope: Option<&str>,
    revoke: bool,
) -> Result<ExitCode> {
    let role = Role::parse(role, scope)?;
    let acct = if revoke {
        svc.revoke_grant(who, name, &role).await?
    } else {
        svc.grant(who, name, &role).await?
    };
    outln!("{}: {}", acct.name, roles_text(&acct.roles))?;
    Ok(ExitCode::SUCCESS)
}

/// `token create`, `token list` and `token revoke`.
pub(super) async fn token(svc: &Svc, cmd: TokenCmd, who: &Principal) -> Result<ExitCode> {
    match cmd {
        TokenCmd::Create { name } => {
            let (info, token) = svc.create_token(who, &name).await?;
            outln!("{}", token.expose_secret())?;
            eprintln!(
                "token {} for {name}: shown once; only its SHA-256 is kept (revoke: secretstore token revoke {})",
                info.id, info.id
            );
        }
        TokenCmd::List { name, json } => {
            let list = svc.tokens(who, &name).await?;
            if json {
                outln!("{}", to_json(&list)?)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            timestamp::format(t.created_at),
                            t.revoked_at
                                .map_or_else(|| "active".into(), timestamp::format),
                        ]
                    })
                    .collect();
                print_table(&["ID", "CREATED", "REVOKED"], &rows)?;
            }
        }
        TokenCmd::Revoke { id } => {
            svc.revoke_token(who, &id).await?;
            outln!("revoked token {id}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
