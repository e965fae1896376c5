//! `rotation set|unset|list`: the maximum age of a category's secrets at a scope and
//! below (a secret's own `--rotate-every` comes first; `secret due` lists what is past it).

use super::secret::rotate_every;
use crate::args::RotationCmd;
use crate::error::Result;
use crate::output::{duration_text, outln, print_table, to_json};
use crate::wiring::Svc;
use secretstore_core::{Category, Error, Principal};
use std::process::ExitCode;
use std::str::FromStr;

/// Runs one `rotation` subcommand.
pub(super) async fn run(svc: &Svc, cmd: RotationCmd, who: &Principal) -> Result<ExitCode> {
    match cmd {
        RotationCmd::Set {
            scope,
            category,
            every,
        } => {
            let cat = Category::from_str(&category)?;
            let secs = match rotate_every("--every", Some(&every))? {
                Some(0) | None => {
                    return Err(Error::Invalid(
                        "--every must be from 30s to 365d; `rotation unset` removes a policy"
                            .into(),
                    )
                    .into());
                }
                Some(s) => s,
            };
            svc.set_rotation_policy(who, &scope, cat, Some(secs))
                .await?;
            outln!(
                "{cat} secrets at {scope} and below: rotate every {}",
                duration_text(secs)
            )?;
        }
        RotationCmd::Unset { scope, category } => {
            let cat = Category::from_str(&category)?;
            svc.set_rotation_policy(who, &scope, cat, None).await?;
            outln!("{cat} secrets at {scope}: no rotation policy")?;
        }
        RotationCmd::List { json } => {
            let policies = svc.rotation_policies(who).await?;
            if json {
                outln!("{}", to_json(&policies)?)?;
            } else if policies.is_empty() {
                eprintln!("no rotation policies");
            } else {
                let rows: Vec<Vec<String>> = policies
                    .iter()
                    .map(|p| {
                        vec![
                            p.scope.to_string(),
                            p.category.to_string(),
                            duration_text(p.every_secs),
                        ]
                    })
                    .collect();
                print_table(&["SCOPE", "CATEGORY", "EVERY"], &rows)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
