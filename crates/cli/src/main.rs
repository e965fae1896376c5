//! `secretstore`: the operator's command line. It works on the database directly and
//! records its actions in the audit log as `cli:<os user>`.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod config;
mod envfile;
mod input;

use clap::Parser;
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
    let cli = args::Cli::parse();
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
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            ExitCode::from(1)
        }
    }
}
