//! `secretstore boot`: the agent's entrypoint under sealed delivery. It redeems the boot
//! token once over the HTTP API (`POST /api/v1/boot`), then runs the command with the
//! brief's env and files ([`crate::exec`]).
//!
//! It reads nothing but its own variables: `SECRETSTORE_URL`, `SECRETSTORE_BOOT_TOKEN` or
//! `SECRETSTORE_BOOT_TOKEN_FILE`, and `SECRETSTORE_CACERT` (a PEM bundle) for a server
//! behind a private CA. No `.env`, no database, no key. The token never reaches the
//! command: every `SECRETSTORE_*` variable of secretstore's own environment is left out of
//! the command's, and the brief's env is set on top.

use crate::error::{CliError, Result};
use crate::exec::{self, ChildEnv, ExecOptions};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secretstore_core::SecretValue;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The server's address.
const URL: &str = "SECRETSTORE_URL";
/// The boot token, or the file that holds it.
const TOKEN: &str = "SECRETSTORE_BOOT_TOKEN";
const TOKEN_FILE: &str = "SECRETSTORE_BOOT_TOKEN_FILE";
/// A PEM bundle of the CA certificates to trust for an `https://` URL.
const CACERT: &str = "SECRETSTORE_CACERT";

/// How long the redemption may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read: 256 refs of 64 KiB each, escaped as JSON, with room to spare.
const MAX_ANSWER_BYTES: usize = 48 << 20;

/// `secretstore boot [--no-mask] [--files-dir D] -- COMMAND…`.
pub(crate) async fn boot(
    mask: bool,
    files_dir: Option<PathBuf>,
    command: &[OsString],
) -> Result<ExitCode> {
    let Some((program, args)) = command.split_first() else {
        return Err(CliError::Usage("no command to run"));
    };
    let url = server_url()?;
    let token = boot_token()?;
    let client = client(&url)?;
    let opened = redeem(&client, &url, &token).await?;
    drop(token);
    let mut env = opened.env;
    // The agent calls back to the same server; the address is not a secret.
    if let Ok(v) = SecretValue::new(url.clone()) {
        env.push((URL.to_owned(), v));
    }
    let child = ChildEnv {
        env,
        files: opened.files,
    };
    let opts = ExecOptions {
        mask,
        clean_env: false,
        files_dir,
    };
    exec::exec(program, args, child, opts)
        .await
        .map_err(|e| CliError::Boot(format!("{e}; the boot token is spent")))
}

/// `SECRETSTORE_URL`, checked: `http://` or `https://`, without a trailing slash.
fn server_url() -> Result<String> {
    let hint = "the address of `secretstore serve`, like https://secrets.internal:8443";
    let Some(url) = std::env::var_os(URL) else {
        return Err(CliError::config(format!("{URL} is not set"), hint));
    };
    let Some(url) = url.to_str() else {
        return Err(CliError::config(format!("{URL} is not UTF-8 text"), hint));
    };
    let url = url.trim().trim_end_matches('/');
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.parse::<hyper::Uri>().is_err() {
        return Err(CliError::config(
            format!("{URL} is not an http:// or https:// address"),
            hint,
        ));
    }
    Ok(url.to_owned())
}

/// The boot token: `SECRETSTORE_BOOT_TOKEN`, or the first line of the file named by
/// `SECRETSTORE_BOOT_TOKEN_FILE` (one of the two, not both).
fn boot_token() -> Result<Zeroizing<String>> {
    let hint = "the boot token of a sealed dispatch (`secretstore dispatch --sealed`), in SECRETSTORE_BOOT_TOKEN or a file named by SECRETSTORE_BOOT_TOKEN_FILE";
    let direct = std::env::var_os(TOKEN);
    let file = std::env::var_os(TOKEN_FILE);
    let text = match (direct, file) {
        (Some(_), Some(_)) => {
            return Err(CliError::config(
                format!("both {TOKEN} and {TOKEN_FILE} are set"),
                "set one of the two",
            ));
        }
        (None, None) => {
            return Err(CliError::config(
                format!("neither {TOKEN} nor {TOKEN_FILE} is set"),
                hint,
            ));
        }
        (Some(t), None) => Zeroizing::new(
            t.into_string()
                .map_err(|_| CliError::config(format!("{TOKEN} is not UTF-8 text"), hint))?,
        ),
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let bytes =
                Zeroizing::new(std::fs::read(&path).map_err(|source| CliError::ReadFile {
                    path: path.clone(),
                    source,
                })?);
            Zeroizing::new(
                std::str::from_utf8(&bytes)
                    .map_err(|_| {
                        CliError::config(
                            format!("{TOKEN_FILE}: {} is not UTF-8 text", path.display()),
                            hint,
                        )
                    })?
                    .to_owned(),
            )
        }
    };
    let token = Zeroizing::new(text.trim().to_owned());
    if token.is_empty() {
        return Err(CliError::config("the boot token is empty", hint));
    }
    Ok(token)
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// One HTTP client for one request: TLS with `SECRETSTORE_CACERT`'s CAs, or the system's.
fn client(url: &str) -> Result<Client<Https, Full<Bytes>>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let https = url.starts_with("https://");
    let builder = match std::env::var_os(CACERT).map(PathBuf::from) {
        Some(path) => {
            let roots = ca_roots(&path)?;
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| CliError::Tls(format!("TLS setup failed: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            builder.with_tls_config(tls)
        }
        None if https => builder.with_provider_and_native_roots(provider).map_err(|e| {
            CliError::config(
                format!("cannot load the system's CA certificates: {e}"),
                "set SECRETSTORE_CACERT to a PEM file of the CA that signed the server's certificate",
            )
        })?,
        None => {
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| CliError::Tls(format!("TLS setup failed: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            builder.with_tls_config(tls)
        }
    };
    let builder = if https {
        builder.https_only()
    } else {
        builder.https_or_http()
    };
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(TIMEOUT));
    Ok(Client::builder(TokioExecutor::new()).build(builder.enable_http1().wrap_connector(tcp)))
}

/// The CA certificates of a PEM bundle.
fn ca_roots(path: &Path) -> Result<rustls::RootCertStore> {
    let hint = "a PEM file of the CA certificates that signed the server's certificate";
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect())
        .map_err(|e| {
            CliError::config(
                format!("{CACERT}: cannot read {}: {e}", path.display()),
                hint,
            )
        })?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(CliError::config(
            format!("{CACERT}: {} holds no CA certificate", path.display()),
            hint,
        ));
    }
    Ok(roots)
}

/// What the server answers once.
#[derive(Deserialize)]
struct Opened {
    env: BTreeMap<String, Zeroizing<String>>,
    #[serde(default)]
    files: BTreeMap<String, Zeroizing<String>>,
}

/// The env and files of a redeemed brief.
struct Redeemed {
    env: Vec<(String, SecretValue)>,
    files: Vec<(String, SecretValue)>,
}

/// An error answer's code and message.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// `POST {url}/api/v1/boot` with the token, within [`TIMEOUT`].
async fn redeem(client: &Client<Https, Full<Bytes>>, url: &str, token: &str) -> Result<Redeemed> {
    let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| CliError::Boot("the boot token is not a valid token".into()))?;
    bearer.set_sensitive(true);
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{url}/api/v1/boot"))
        .header(AUTHORIZATION, bearer)
        .body(Full::new(Bytes::new()))
        .map_err(|_| CliError::Boot(format!("{URL}: cannot build a request to {url}")))?;
    let exchange = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| CliError::Boot(format!("cannot reach {url}: {}", root_cause(&e))))?;
        let status = resp.status();
        let expected = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_ANSWER_BYTES);
        let mut body = Zeroizing::new(Vec::with_capacity(expected));
        let mut incoming = resp.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| {
                CliError::Boot(format!(
                    "reading the answer of {url} failed: {}",
                    root_cause(&e)
                ))
            })?;
            if let Some(chunk) = frame.data_ref() {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(CliError::Boot(format!(
                        "the answer of {url} is larger than {MAX_ANSWER_BYTES} bytes"
                    )));
                }
                if body.capacity() < body.len() + chunk.len() {
                    // Grow by hand so that no unzeroized copy is left behind.
                    let mut bigger = Zeroizing::new(Vec::with_capacity(
                        (body.len() + chunk.len()).max(body.capacity() * 2),
                    ));
                    bigger.extend_from_slice(&body);
                    body = bigger;
                }
                body.extend_from_slice(chunk);
            }
        }
        Ok((status, body))
    };
    let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| CliError::Boot(format!("no answer from {url} within 30 s")))??;
    if status != StatusCode::OK {
        let why = serde_json::from_slice::<ErrorAnswer>(&body)
            .map(|e| format!("{} ({})", e.error.message, e.error.code))
            .unwrap_or_else(|_| format!("HTTP {}", status.as_u16()));
        return Err(CliError::Boot(format!("the boot was refused: {why}")));
    }
    let opened: Opened = serde_json::from_slice(&body)
        .map_err(|_| CliError::Boot(format!("the answer of {url} is not a boot's answer")))?;
    let values = |m: BTreeMap<String, Zeroizing<String>>| {
        m.into_iter()
            .filter_map(|(k, v)| SecretValue::from_backend(v.as_bytes().to_vec()).map(|v| (k, v)))
            .collect::<Vec<_>>()
    };
    Ok(Redeemed {
        env: values(opened.env),
        files: values(opened.files),
    })
}

/// The innermost cause of a transport error ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
