//! `secretstore`: the operator's command line. It works on the database directly and
//! records its actions in the audit log as `cli:<os user>`.
#![allow(
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "issue #11: this crate is brought clean under the workspace lints on its own branch, not merged yet"
)]
#![forbid(unsafe_code)]

mod args;
mod commands;
mod config;
mod dotenv;
mod envfile;
mod input;
mod mask;
mod serve;
mod tls;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A panic must never print a payload (it could hold anything); say where, and stop.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{at}; this is a bug, please report it");
    }));
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli_words(&e));
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            ExitCode::from(1)
        }
    }
}

/// The domain says what went wrong in its own words; the command line words how to fix it
/// with its own flags and commands.
fn cli_words(e: &secretstore_core::Error) -> String {
    use secretstore_core::Error;
    match e {
        Error::CategoryRequired { scope, name } => format!(
            "{name} is a new secret at {scope}: --category is required (provider, infrastructure, integration or agent)"
        ),
        Error::ParentMissing { level, parent } => {
            let command = if level == "organization" {
                "org"
            } else {
                level
            };
            format!(
                "unknown {level} {parent}: create it first with `secretstore {command} create {parent}`"
            )
        }
        other => other.to_string(),
    }
}

/// Clap quotes an unexpected argument. On `secret set` that is likely a secret value typed
/// on the command line, which must not be echoed: say so without quoting it. Flag names
/// (`--catgory`) are still reported by clap, with its suggestions.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let is_set = std::env::args_os()
        .skip(1)
        .take(2)
        .eq(["secret", "set"].map(OsString::from));
    let flag_name = |s: &str| {
        let f = s.trim_start_matches('-');
        s.starts_with('-')
            && !f.is_empty()
            && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
    };
    let may_be_value = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => !flag_name(s),
        _ => true,
    };
    if is_set && e.kind() == ErrorKind::UnknownArgument && may_be_value {
        eprintln!(
            "error: unexpected argument (not shown): secret values are never taken from the command line, which every user of the machine can see"
        );
        eprintln!("hint: pipe the value on stdin, or use --from-file F or --from-env VAR");
        return ExitCode::from(2);
    }
    e.exit()
}
