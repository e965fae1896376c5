//! `secretstore serve`: the HTTP API, with a zero-configuration first start.

use crate::config::{RawSettings, WireSettings};
use crate::envfile::write_new_key;
use crate::error::{CliError, Result};
use crate::output::outln;
use crate::tls;
use crate::wiring::open_serving;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use secretstore_core::{BackendKind, Principal};
use secretstore_server::ui::session::OverTls;
use secretstore_server::{AppState, app};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Logs go to stderr; `RUST_LOG` takes `level` or `target=level,…` (default `info`);
/// `SECRETSTORE_LOG_FORMAT=json` writes one JSON object per line (for log shippers) with
/// the same fields as the text format.
fn init_logging(raw: &RawSettings) -> Result<()> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let json = match raw.get("SECRETSTORE_LOG_FORMAT").as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(_) => {
            return Err(CliError::config(
                "SECRETSTORE_LOG_FORMAT: not text or json",
                "text (the default) or json: one JSON object per line",
            ));
        }
    };
    let spec = raw.get("RUST_LOG").unwrap_or_else(|| "info".into());
    let targets = Targets::from_str(&spec).unwrap_or_else(|_| {
        eprintln!("warning: cannot read RUST_LOG={spec:?}; logging at info");
        Targets::new().with_default(tracing::Level::INFO)
    });
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = if json {
        tracing_subscriber::registry()
            .with(layer.json().flatten_event(true))
            .with(targets)
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(layer.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .with(targets)
            .try_init()
    };
    Ok(())
}

/// Serves the API until Ctrl-C or SIGTERM.
pub(crate) async fn serve(raw: RawSettings) -> Result<ExitCode> {
    // First: from here on SIGTERM and Ctrl-C stop the server cleanly, also one that comes
    // while it starts (their default would kill it with the signal).
    let stop = Stop::install();
    init_logging(&raw)?;
    let net = raw.serve_settings()?;
    // The certificate first: a bad one is an error before anything is written.
    let tls = match &net.tls {
        None => None,
        Some(files) => {
            let certs = tls::Certificates::load(files.clone()).map_err(CliError::Tls)?;
            let config = certs.server_config().map_err(CliError::Tls)?;
            Some((tokio_rustls::TlsAcceptor::from(config), certs))
        }
    };
    // SIGHUP from now on reloads (its default would end the process).
    let hangup = hangups();
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
    let (svc, background) = open_serving(&cfg, 16).await?;
    // One task per backend that logs in: it renews the token before it is due, so no
    // request waits for it.
    let vault_login = background.vault.map(|v| {
        tracing::info!(
            method = v.login_method(),
            "Vault: the token is renewed and replaced in the background"
        );
        tokio::spawn(async move { v.keep_logged_in().await })
    });
    if cfg.secret_backend == BackendKind::Local {
        tracing::warn!(
            "the local backend keeps values in the database, encrypted with FERNET_SECRET_KEY: it is meant for development and tests"
        );
    }
    let url = format!(
        "{}://{}",
        if tls.is_some() { "https" } else { "http" },
        cfg.listen
    );
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| CliError::Listen {
            addr: cfg.listen,
            source,
        })?;
    if tls.is_none() && !cfg.listen.ip().is_loopback() {
        tracing::warn!(
            "plain HTTP on {}, beyond loopback: API tokens and values cross the network unencrypted; set SECRETSTORE_TLS_CERT and SECRETSTORE_TLS_KEY, or put a TLS proxy in front",
            cfg.listen
        );
    }
    let who = Principal::operator(&cfg.os_user);
    let root = svc.bootstrap_root(&who).await?;
    let first_start = root.is_some();
    if let Some(token) = root {
        outln!("created the account root; its API token, shown once:")?;
        outln!()?;
        outln!("    {}", token.expose_secret())?;
        outln!()?;
        // What to export, under the README's names.
        outln!("export ROOT={}", token.expose_secret())?;
    }
    outln!("export API={url}/api/v1")?;
    outln!("web UI: {url}/ui/ (sign in with an API token)")?;
    if first_start {
        outln!("try: curl -H \"Authorization: Bearer $ROOT\" \"$API/whoami\"")?;
    }
    // Last: "listening on" is what scripts wait for.
    outln!(
        "secretstore listening on {url} (API under {url}/api/v1, OpenAPI at {url}/api/v1/openapi.json)"
    )?;
    let state = AppState::new(svc)
        .with_limits(net.limits)
        .with_trusted_proxies(net.trusted_proxies)
        .with_metrics_allow(net.metrics_allow)
        .with_request_timeout(net.wire.request_timeout)
        .with_in_flight_limit(net.wire.max_connections.saturating_mul(2));
    let sweeper = tokio::spawn(sweep_boot_tokens(state.clone()));
    let lease_sweeper = tokio::spawn(sweep_leases(state.clone()));
    run(listener, app(state), tls, hangup, stop, net.wire).await;
    sweeper.abort();
    lease_sweeper.abort();
    if let Some(t) = vault_login {
        t.abort();
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// How often `serve` deletes the sealed env of boot tokens that expired unredeemed (a
/// redemption past the expiry is refused whenever it comes; this bounds how long the
/// ciphertext outlives it).
const BOOT_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Deletes the sealed env of expired boot tokens every [`BOOT_SWEEP_INTERVAL`]; with
/// several servers each sweeps (the statement is idempotent).
async fn sweep_boot_tokens(state: AppState) {
    let mut tick = tokio::time::interval(BOOT_SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.svc.expire_boots().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "deleted the sealed env of expired boot tokens"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot delete the sealed env of expired boot tokens")
            }
        }
    }
}

/// Revokes, every [`secretstore_core::LEASE_SWEEP_SECS`] seconds, the leases of per-task
/// credentials past their expiry, of briefs that ended, and whose revocation failed
/// before; with several servers on one database each lease is claimed by exactly one.
async fn sweep_leases(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(secretstore_core::LEASE_SWEEP_SECS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.svc.sweep_leases().await {
            Ok(ended) => {
                if !ended.revoked.is_empty() {
                    tracing::info!(count = ended.revoked.len(), "revoked leases");
                }
                for (id, error) in &ended.failed {
                    tracing::warn!(lease = %id, error = %error, "cannot revoke a lease; retrying");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot sweep the leases"),
        }
    }
}

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until Ctrl-C or SIGTERM, then lets the open ones finish. Each
/// request carries its peer's address (`ConnectInfo`) and, over TLS, the [`OverTls`] mark.
/// SIGHUP reloads the TLS certificate and key.
async fn run(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<(tokio_rustls::TlsAcceptor, Arc<tls::Certificates>)>,
    mut hangup: Hangups,
    stop: Stop,
    wire: WireSettings,
) {
    let graceful = GracefulShutdown::new();
    let stop = stop.recv();
    tokio::pin!(stop);
    // One permit per connection served: at the limit, new connections wait in the
    // listen queue until one ends (the header-read timeout ends idle ones).
    let slots = Arc::new(Semaphore::new(wire.max_connections));
    loop {
        // SIGHUP is answered also while every slot is taken.
        let slot = tokio::select! {
            _ = &mut stop => break,
            _ = hangup.recv() => {
                reload(tls.as_ref().map(|t| &t.1));
                continue;
            }
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = hangup.recv() => reload(tls.as_ref().map(|t| &t.1)),
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment, not a busy loop.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let watcher = graceful.watcher();
                let app = app.clone();
                match &tls {
                    None => {
                        tokio::spawn(async move {
                            let svc = service(app, peer, false);
                            let conn = http1_builder(&wire)
                                .serve_connection(TokioIo::new(tcp), svc);
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(error = %e, "connection ended");
                            }
                            drop(slot);
                        });
                    }
                    Some((acceptor, _)) => {
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let stream = match tokio::time::timeout(
                                HANDSHAKE_TIMEOUT,
                                acceptor.accept(tcp),
                            )
                            .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let svc = service(app, peer, true);
                            let conn = http1_builder(&wire)
                                .serve_connection(TokioIo::new(stream), svc);
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(error = %e, "connection ended");
                            }
                            drop(slot);
                        });
                    }
                }
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// SIGHUP: reloads the TLS certificate and key, keeping the current ones when the new
/// files do not load.
fn reload(certs: Option<&Arc<tls::Certificates>>) {
    match certs {
        Some(certs) => match certs.reload() {
            Ok(()) => tracing::info!("SIGHUP: reloaded the TLS certificate and key"),
            Err(e) => tracing::error!(
                "SIGHUP: cannot reload the TLS certificate, keeping the current one: {e}"
            ),
        },
        None => tracing::info!("SIGHUP: no TLS certificate to reload"),
    }
}

/// HTTP/1.1 with keep-alive; a request's headers must arrive within 30 s (hyper's
/// default once a timer is set), so a connection that trickles them is closed.
fn http1_builder(wire: &WireSettings) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(wire.header_read_timeout);
    b
}

/// The app for one connection: every request gets the peer's address, and over TLS the
/// mark that makes the session cookie `Secure`.
fn service(
    app: axum::Router,
    peer: SocketAddr,
    over_tls: bool,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if over_tls {
            req.extensions_mut().insert(OverTls);
        }
        app.clone().oneshot(req)
    })
}

/// SIGHUP, as a stream; never fires where there is none.
fn hangups() -> Hangups {
    #[cfg(unix)]
    {
        Hangups(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok())
    }
    #[cfg(not(unix))]
    {
        Hangups(None)
    }
}

struct Hangups(
    #[cfg(unix)] Option<tokio::signal::unix::Signal>,
    #[cfg(not(unix))] Option<()>,
);

impl Hangups {
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.0 {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

/// SIGTERM and Ctrl-C, listened to from [`Stop::install`] on: a signal that comes before
/// [`Stop::recv`] is polled is kept, not lost.
struct Stop {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Stop {
    fn install() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Stop {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    /// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish.
    async fn recv(self) {
        #[cfg(unix)]
        {
            async fn next(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = next(self.term) => {},
                _ = next(self.int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
