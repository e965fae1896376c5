//! `secretstore serve`: the HTTP API, with a zero-configuration first start.

use crate::commands::{open_with, write_new_key};
use crate::config::RawSettings;
use secretstore_core::{BackendKind, Error, Principal, Result};
use secretstore_server::{AppState, app};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;

/// Logs go to stderr; `RUST_LOG` takes `level` or `target=level,…` (default `info`).
fn init_logging(raw: &RawSettings) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let spec = raw.get("RUST_LOG").unwrap_or_else(|| "info".into());
    let targets = Targets::from_str(&spec).unwrap_or_else(|_| {
        eprintln!("warning: cannot read RUST_LOG={spec:?}; logging at info");
        Targets::new().with_default(tracing::Level::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(targets)
        .try_init();
}

pub async fn serve(raw: RawSettings) -> Result<ExitCode> {
    init_logging(&raw);
    let net = raw.serve_settings()?;
    let backend = raw
        .get("SECRET_BACKEND")
        .map(|s| BackendKind::from_str(&s))
        .transpose()?
        .unwrap_or(BackendKind::Local);
    // A fresh folder needs no set-up: do what `init` does.
    let raw = if backend == BackendKind::Local && !raw.has_key() {
        write_new_key(Path::new(".env"))?;
        eprintln!("wrote .env (mode 0600) with a new FERNET_SECRET_KEY; keep it safe");
        RawSettings::load()?
    } else {
        raw
    };
    let cfg = raw.validate()?;
    let svc = open_with(&cfg, 16).await?;
    if cfg.secret_backend == BackendKind::Local {
        tracing::warn!(
            "the local backend keeps values in the database, encrypted with FERNET_SECRET_KEY: it is meant for development and tests"
        );
    }
    let url = format!("http://{}", cfg.listen);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| {
            Error::config(
                format!("cannot listen on {}: {e}", cfg.listen),
                "set SECRETSTORE_LISTEN to a free address",
            )
        })?;
    let operator = Principal::operator(&cfg.os_user);
    if let Some(token) = svc.bootstrap_root(&operator).await? {
        println!("created the account root; its API token, shown once:");
        println!();
        println!("    {}", token.expose_secret());
        println!();
        println!("try: curl -H \"Authorization: Bearer $TOKEN\" {url}/api/v1/whoami");
    }
    println!(
        "secretstore listening on {url} (API under {url}/api/v1, OpenAPI at {url}/api/v1/openapi.json)"
    );
    let state = AppState::new(svc)
        .with_limits(net.limits)
        .with_trusted_proxies(net.trusted_proxies);
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(|e| Error::Storage(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
