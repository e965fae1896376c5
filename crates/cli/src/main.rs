//! `secretstore`: the operator's command line. It works on the database directly and
//! records its actions in the audit log as `cli:<os user>`.
//!
//! [`commands::run`] runs one command on the service that [`wiring`] builds from the
//! settings [`config`] reads; [`serve`] runs the HTTP API on the same wiring. The
//! binary's own failures are [`error::CliError`]s.
#![forbid(unsafe_code)]
// The command-line shape (`args`) is clap's derive: its doc comments are the `--help`
// text, so the rest of its items stay undocumented rather than change the help.
#![allow(missing_docs, reason = "a binary: nothing is public")]

mod args;
mod boot;
mod commands;
mod config;
mod envfile;
mod error;
mod exec;
mod input;
mod mask;
mod output;
mod serve;
mod tls;
mod wiring;

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
    let rt = match runtime(&cli) {
        Ok(rt) => rt,
        Err(e) => return failed(&e),
    };
    match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => failed(&e),
    }
}

/// The runtime a command runs on: `serve` on one worker thread per core (or
/// `SECRETSTORE_WORKER_THREADS`), so that one slow request never holds up the others;
/// every other command on the current thread.
fn runtime(cli: &args::Cli) -> error::Result<tokio::runtime::Runtime> {
    let mut builder = match cli.cmd {
        args::Cmd::Serve => {
            let threads = config::RawSettings::load()?.worker_threads()?;
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    builder
        .enable_all()
        .build()
        .map_err(error::CliError::Runtime)
}

/// Reports a command's error: `error: …` and its hint on stderr, exit code 1. Output into
/// a closed pipe (`secretstore audit | head -1`) ends quietly instead, with the status of
/// a program ended by SIGPIPE (141), as other command-line tools do.
fn failed(e: &error::CliError) -> ExitCode {
    if let error::CliError::WriteStdout(io) = e
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::from(141);
    }
    eprintln!("error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("hint: {h}");
    }
    ExitCode::from(1)
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
