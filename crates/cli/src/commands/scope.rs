//! `org create`, `team create`, `workspace create`, `project create`.

use crate::args::ScopeCmd;
use crate::error::Result;
use crate::output::outln;
use crate::wiring::Svc;
use secretstore_core::{Level, Principal};
use std::process::ExitCode;

/// Creates a scope of `level`; its parent must exist.
pub(super) async fn create(
    svc: &Svc,
    cmd: ScopeCmd,
    level: Level,
    who: &Principal,
) -> Result<ExitCode> {
    let ScopeCmd::Create { path } = cmd;
    let path = svc.create_scope(who, &path, level).await?;
    outln!("created {level} {path}")?;
    Ok(ExitCode::SUCCESS)
}
