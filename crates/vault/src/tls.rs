//! The HTTPS connector to Vault, with the TLS settings of Vault's own CLI:
//!
//! - which CAs are trusted: the system's, or *instead of them* the certificates of
//!   `VAULT_CACERT` (a PEM bundle) or `VAULT_CAPATH` (a folder of PEM files). When both are
//!   set, `VAULT_CACERT` is used and `VAULT_CAPATH` is ignored, as Vault's CLI does (a
//!   warning says so);
//! - the client certificate presented (`VAULT_CLIENT_CERT`, its chain, and
//!   `VAULT_CLIENT_KEY`, a PKCS#8, PKCS#1 or SEC1 PEM key), for listeners that require
//!   one and for the cert auth method;
//! - the name the server's certificate must carry, also sent as SNI
//!   (`VAULT_TLS_SERVER_NAME`), instead of the host of `VAULT_ADDR`.
//!
//! Verification cannot be switched off: there is no setting for it, and no code path
//! that builds a verifier other than webpki's.
//!
//! The CA files are read once, when the client is built. The client certificate and key
//! are read again when their files change ([`ClientCert`]): a certificate renewed in
//! place (cert-manager, Vault Agent) is presented at the next new connection, without a
//! restart. No message carries key material: a key that does not parse is named by its
//! setting and path only.

use crate::settings::VaultTls;
use hyper_rustls::{ConfigBuilderExt, FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, InconsistentKeys};
use secretstore_core::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The hint of the errors about `VAULT_CACERT`.
const CACERT_HINT: &str = "set VAULT_CACERT to the PEM file of the CA that signed Vault's certificate (for `bao server -dev-tls`, the vault-ca.pem it writes)";
/// The hint of the errors about `VAULT_CAPATH`.
const CAPATH_HINT: &str =
    "set VAULT_CAPATH to a folder of PEM files of the CAs that may sign Vault's certificate";
/// The hint of the errors about the client certificate and key.
const CLIENT_HINT: &str = "set VAULT_CLIENT_CERT to the PEM certificate (chain) to present to Vault and VAULT_CLIENT_KEY to its unencrypted PEM private key";

/// What the connector was built with, to explain a failed handshake in the settings'
/// words ([`Explainer::explain`]).
#[derive(Debug, Clone)]
pub(crate) struct Explainer {
    /// Where the trusted CAs come from, as a message says it.
    trust: Trust,
    /// `VAULT_CLIENT_CERT`, when one is presented.
    client_cert: Option<PathBuf>,
    /// `VAULT_TLS_SERVER_NAME`, when set.
    server_name: Option<String>,
}

#[derive(Debug, Clone)]
enum Trust {
    System,
    CaCert(PathBuf),
    CaPath(PathBuf),
}

/// The connector for an `https://` (or `http://`) Vault address with `tls`'s settings,
/// and what explains its handshake failures.
pub(crate) fn connector(
    https: bool,
    tls: &VaultTls,
    timeout: Duration,
) -> Result<(HttpsConnector<HttpConnector>, Explainer), Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let mut explainer = Explainer {
        trust: Trust::System,
        client_cert: None,
        server_name: None,
    };
    let builder = if https {
        let versions = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid(format!("TLS setup failed: {e}")))?;
        let roots = match (&tls.ca_cert, &tls.ca_path) {
            (Some(file), ca_path) => {
                if let Some(ignored) = ca_path {
                    tracing::warn!(
                        ca_path = %ignored.display(),
                        "VAULT_CAPATH is ignored: VAULT_CACERT is set and takes precedence, as with Vault's CLI"
                    );
                }
                explainer.trust = Trust::CaCert(file.clone());
                Some(ca_file(file)?)
            }
            (None, Some(dir)) => {
                explainer.trust = Trust::CaPath(dir.clone());
                Some(ca_folder(dir)?)
            }
            (None, None) => None,
        };
        let wants_client = match roots {
            Some(roots) => versions.with_root_certificates(roots),
            None => versions.with_native_roots().map_err(|e| {
                Error::config(
                    format!("cannot load the system's CA certificates for Vault TLS: {e}"),
                    "install the ca-certificates package, or set VAULT_CACERT to the CA bundle that signed Vault's certificate",
                )
            })?,
        };
        let config = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => {
                let resolver = ClientCert::load(cert, key, Arc::clone(&provider))?;
                explainer.client_cert = Some(cert.clone());
                wants_client.with_client_cert_resolver(Arc::new(resolver))
            }
            (Some(_), None) => {
                return Err(Error::config(
                    "VAULT_CLIENT_CERT is set but VAULT_CLIENT_KEY is not",
                    "set both, or neither",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "VAULT_CLIENT_KEY is set but VAULT_CLIENT_CERT is not",
                    "set both, or neither",
                ));
            }
            (None, None) => wants_client.with_no_client_auth(),
        };
        let builder = builder.with_tls_config(config).https_only();
        match &tls.server_name {
            Some(name) => {
                let parsed = server_name(name)?;
                explainer.server_name = Some(name.trim().to_owned());
                builder.with_server_name_resolver(FixedServerNameResolver::new(parsed))
            }
            None => builder,
        }
    } else {
        if *tls != VaultTls::default() {
            return Err(Error::config(
                "VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY or VAULT_TLS_SERVER_NAME is set, but VAULT_ADDR is not an https:// address",
                "use https:// in VAULT_ADDR, or unset the TLS settings",
            ));
        }
        // Plain HTTP needs no trust anchors; an empty store keeps a host without a CA
        // bundle working.
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Invalid(format!("TLS setup failed: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder.with_tls_config(config).https_or_http()
    };
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(timeout));
    Ok((builder.enable_http1().wrap_connector(tcp), explainer))
}

/// Reads a file named by `setting`; the error names both, never the content.
fn read(setting: &str, path: &Path, hint: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::config(
            format!("{setting}: cannot read {}: {e}", path.display()),
            hint,
        )
    })
}

/// Every certificate of the PEM text `bytes` (other sections, such as keys, are skipped).
/// `Err(())`: the PEM is damaged (no detail: it would quote the file).
fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, ()> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|_| ())
}

/// The certificates of the PEM file `path` (of `setting`): at least one, or an error that
/// names the setting and the file.
fn pem_certificates(
    setting: &str,
    path: &Path,
    hint: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(setting, path, hint)?;
    let certs = certificates(&bytes).map_err(|()| {
        Error::config(
            format!(
                "{setting}: {} is not valid PEM (a section is cut short or its base64 is damaged)",
                path.display()
            ),
            hint,
        )
    })?;
    if certs.is_empty() {
        return Err(Error::config(
            format!(
                "{setting}: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
            hint,
        ));
    }
    Ok(certs)
}

/// Adds the certificates of the PEM file `path` (of `setting`) to `roots`.
fn add_cas(
    roots: &mut rustls::RootCertStore,
    setting: &str,
    path: &Path,
    hint: &str,
) -> Result<(), Error> {
    for cert in pem_certificates(setting, path, hint)? {
        roots.add(cert).map_err(|e| {
            Error::config(
                format!(
                    "{setting}: {} holds a certificate that cannot be a trust anchor: {e}",
                    path.display()
                ),
                hint,
            )
        })?;
    }
    Ok(())
}

/// The CAs of `VAULT_CACERT`.
fn ca_file(path: &Path) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    add_cas(&mut roots, "VAULT_CACERT", path, CACERT_HINT)?;
    Ok(roots)
}

/// The CAs of every file in the folder of `VAULT_CAPATH` (symbolic links followed, as in
/// an OpenSSL hashed folder; subfolders and hidden files skipped). As with Vault's CLI,
/// every file must hold a certificate: a stray file is an error, not skipped silently.
fn ca_folder(dir: &Path) -> Result<rustls::RootCertStore, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::config(
            format!(
                "VAULT_CAPATH: cannot read the folder {}: {e}",
                dir.display()
            ),
            CAPATH_HINT,
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::config(
                format!(
                    "VAULT_CAPATH: cannot read the folder {}: {e}",
                    dir.display()
                ),
                CAPATH_HINT,
            )
        })?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links; a dangling one is read below and named in the error.
        if path.is_dir() {
            continue;
        }
        files.push(path);
    }
    files.sort();
    let mut roots = rustls::RootCertStore::empty();
    for path in &files {
        add_cas(&mut roots, "VAULT_CAPATH", path, CAPATH_HINT)?;
    }
    if roots.is_empty() {
        return Err(Error::config(
            format!(
                "VAULT_CAPATH: the folder {} holds no certificate file",
                dir.display()
            ),
            CAPATH_HINT,
        ));
    }
    Ok(roots)
}

/// How often, at most, a handshake looks at the client certificate's files again (their
/// sizes and modification times).
const CLIENT_RECHECK: Duration = Duration::from_secs(5);

/// The client certificate of `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`, read again when
/// the files change: at a new connection's handshake, at most every [`CLIENT_RECHECK`].
/// A new pair that does not load (half written, a key that is not the certificate's)
/// keeps the one before, with a warning, and is tried again at the next check.
/// Connections already open keep the certificate they were made with.
struct ClientCert {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
    state: std::sync::Mutex<Loaded>,
}

/// The pair in use, the files' stamp it was read at, and when the files were last looked at.
struct Loaded {
    key: Arc<rustls::sign::CertifiedKey>,
    stamp: Stamp,
    checked: std::time::Instant,
}

/// The size and modification time of the certificate and the key file.
type Stamp = [(u64, Option<std::time::SystemTime>); 2];

impl ClientCert {
    /// Reads the pair; errors are configuration errors naming the setting and the path.
    fn load(
        cert: &Path,
        key: &Path,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<ClientCert, Error> {
        let stamp = stamp(cert, key);
        let loaded = certified(cert, key, &provider)?;
        Ok(ClientCert {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            state: std::sync::Mutex::new(Loaded {
                key: Arc::new(loaded),
                stamp,
                checked: std::time::Instant::now(),
            }),
        })
    }

    /// The pair to present: read again first when the files changed since.
    fn current(&self) -> Arc<rustls::sign::CertifiedKey> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.checked.elapsed() >= CLIENT_RECHECK {
            state.checked = std::time::Instant::now();
            let now = stamp(&self.cert, &self.key);
            if now != state.stamp {
                match certified(&self.cert, &self.key, &self.provider) {
                    Ok(k) => {
                        state.key = Arc::new(k);
                        state.stamp = now;
                        tracing::info!(
                            cert = %self.cert.display(),
                            "read the Vault client certificate again: its files changed"
                        );
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "the Vault client certificate's files changed but do not load; presenting the one before"
                    ),
                }
            }
        }
        Arc::clone(&state.key)
    }
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl rustls::client::ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The files' stamp: a change of either file's size or modification time is a change.
fn stamp(cert: &Path, key: &Path) -> Stamp {
    [cert, key].map(|p| match std::fs::metadata(p) {
        Ok(m) => (m.len(), m.modified().ok()),
        Err(_) => (0, None),
    })
}

/// The certificate chain and key, checked to belong together.
fn certified(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<rustls::sign::CertifiedKey, Error> {
    let chain = client_chain(cert)?;
    let key_der = client_key(key)?;
    rustls::sign::CertifiedKey::from_der(chain, key_der, provider)
        .map_err(|e| client_auth_error(&e, cert, key))
}

/// The certificate chain of `VAULT_CLIENT_CERT`, the client's own certificate first.
fn client_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    pem_certificates("VAULT_CLIENT_CERT", path, CLIENT_HINT)
}

/// The private key of `VAULT_CLIENT_KEY`: the first PKCS#8 (`PRIVATE KEY`), PKCS#1
/// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) section. The file's bytes are zeroized
/// once parsed; no error quotes them.
fn client_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = read("VAULT_CLIENT_KEY", path, CLIENT_HINT)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if contains(&bytes, b"ENCRYPTED PRIVATE KEY") => {
            Err(Error::config(
                format!(
                    "VAULT_CLIENT_KEY: the key in {} is encrypted; secretstore needs it unencrypted",
                    path.display()
                ),
                "decrypt it (`openssl pkey -in KEY -out KEY.pem`) into a file only secretstore's user can read",
            ))
        }
        Err(pem::Error::NoItemsFound) => Err(Error::config(
            format!(
                "VAULT_CLIENT_KEY: {} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
                path.display()
            ),
            CLIENT_HINT,
        )),
        Err(_) => Err(Error::config(
            format!(
                "VAULT_CLIENT_KEY: {} is not valid PEM (a section is cut short or its base64 is damaged)",
                path.display()
            ),
            CLIENT_HINT,
        )),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Why rustls refused the client certificate and key, in the settings' words.
fn client_auth_error(e: &rustls::Error, cert: &Path, key: &Path) -> Error {
    match e {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => Error::config(
            format!(
                "VAULT_CLIENT_KEY ({}) is not the private key of the certificate in VAULT_CLIENT_CERT ({})",
                key.display(),
                cert.display()
            ),
            "set VAULT_CLIENT_KEY to the key the certificate was issued for (its first certificate must be the client's own)",
        ),
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            Error::config(
                format!(
                    "VAULT_CLIENT_CERT: the first certificate in {} does not parse",
                    cert.display()
                ),
                CLIENT_HINT,
            )
        }
        // Anything else is the key: ring could not load it. rustls's message is not
        // repeated, so that nothing of the key can be in the message.
        _ => Error::config(
            format!(
                "VAULT_CLIENT_KEY: the private key in {} does not parse, or its algorithm is not supported (RSA, ECDSA P-256/P-384, Ed25519)",
                key.display()
            ),
            CLIENT_HINT,
        ),
    }
}

/// `VAULT_TLS_SERVER_NAME` as a DNS name or an IP address.
fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    let name = name.trim();
    // Square brackets around an IPv6 address, as in a URL.
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    ServerName::try_from(bare.to_owned()).map_err(|_| {
        Error::config(
            format!("VAULT_TLS_SERVER_NAME {name:?} is not a DNS name or an IP address"),
            "set it to a name Vault's certificate carries, e.g. vault.example.com, or unset it to check the host of VAULT_ADDR",
        )
    })
}

impl Explainer {
    /// What a transport error means in the settings' words, when a TLS handshake failed
    /// for a reason that they can fix; `None` for any other error.
    pub(crate) fn explain(&self, e: &(dyn std::error::Error + 'static)) -> Option<String> {
        let tls = tls_error(e)?;
        match tls {
            rustls::Error::InvalidCertificate(c) => Some(self.server_certificate(c)),
            rustls::Error::AlertReceived(alert) => self.alert(*alert),
            _ => None,
        }
    }

    fn server_certificate(&self, c: &CertificateError) -> String {
        match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => match &self.trust {
                Trust::System => format!(
                    "Vault's certificate is not trusted: no CA of the system signed it ({c:?}); {CACERT_HINT}"
                ),
                Trust::CaCert(p) => format!(
                    "Vault's certificate is not trusted: no CA of VAULT_CACERT ({}) signed it ({c:?}); {CACERT_HINT}",
                    p.display()
                ),
                Trust::CaPath(p) => format!(
                    "Vault's certificate is not trusted: no CA in VAULT_CAPATH ({}) signed it ({c:?}); {CAPATH_HINT}, or set VAULT_CACERT to the CA's PEM file",
                    p.display()
                ),
            },
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let (expected, presented) = match c {
                    CertificateError::NotValidForNameContext {
                        expected,
                        presented,
                    } => (
                        Some(server_name_text(expected)),
                        Some(
                            presented
                                .iter()
                                .map(|n| presented_name(n))
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                    ),
                    _ => (None, None),
                };
                let names = match presented {
                    Some(p) if !p.is_empty() => format!(" (it is for {p})"),
                    _ => String::new(),
                };
                match &self.server_name {
                    Some(set) => format!(
                        "Vault's certificate is not valid for {set:?}, the name of VAULT_TLS_SERVER_NAME{names}; set VAULT_TLS_SERVER_NAME to a name the certificate carries"
                    ),
                    None => format!(
                        "Vault's certificate is not valid for {}, the host of VAULT_ADDR{names}; use a name the certificate carries in VAULT_ADDR, or set VAULT_TLS_SERVER_NAME to it",
                        expected.map_or_else(|| "the host".to_owned(), |e| format!("{e:?}"))
                    ),
                }
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => format!(
                "Vault's certificate has expired or is not valid yet ({c:?}); renew it, or check this machine's clock"
            ),
            CertificateError::Revoked => {
                "Vault's certificate is revoked; Vault needs a new certificate".to_owned()
            }
            other => format!("Vault's certificate is refused ({other:?})"),
        }
    }

    fn alert(&self, alert: AlertDescription) -> Option<String> {
        let client_side = matches!(
            alert,
            AlertDescription::CertificateRequired
                | AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateRevoked
                | AlertDescription::AccessDenied
                | AlertDescription::HandshakeFailure
        );
        if !client_side {
            return None;
        }
        Some(match &self.client_cert {
            None => format!(
                "Vault requires a client certificate (its listener verifies client certificates) and none is set (TLS alert {alert:?}); {CLIENT_HINT}"
            ),
            Some(cert) => format!(
                "Vault refused the client certificate of VAULT_CLIENT_CERT ({}) (TLS alert {alert:?}); use a certificate signed by a CA of the listener's tls_client_ca_file, valid now and issued for client authentication",
                cert.display()
            ),
        })
    }
}

fn server_name_text(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => d.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "the host".to_owned(),
    }
}

/// A name of the certificate as webpki shows it (`DnsName("vault.test")`,
/// `IpAddress(127.0.0.1)`), without the wrapping.
fn presented_name(n: &str) -> &str {
    if let Some(inner) = n
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
    {
        return inner;
    }
    n.strip_prefix("IpAddress(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(n)
}

/// The rustls error in `e`'s chain of causes, looking inside `io::Error`s (whose
/// `source` skips the error they wrap).
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(t) = inner.downcast_ref::<rustls::Error>() {
                return Some(t);
            }
            if let Some(t) = tls_error(inner) {
                return Some(t);
            }
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(f: impl FnOnce(&mut VaultTls)) -> VaultTls {
        let mut t = VaultTls::default();
        f(&mut t);
        t
    }

    fn config_error(t: &VaultTls) -> String {
        match connector(true, t, Duration::from_secs(1)) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    /// A self-signed client certificate and its PKCS#8 PEM key.
    fn client() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// One DER element of `b`: its content and what follows it.
    fn der(b: &[u8]) -> (&[u8], &[u8]) {
        let (len, at) = match b[1] {
            n if n < 0x80 => (n as usize, 2),
            0x81 => (b[2] as usize, 3),
            0x82 => ((b[2] as usize) << 8 | b[3] as usize, 4),
            _ => panic!("DER element too long for this test"),
        };
        (&b[at..at + len], &b[at + len..])
    }

    /// The SEC1 (`EC PRIVATE KEY`) form of a PKCS#8 ECDSA key: the OCTET STRING inside it.
    fn sec1(pkcs8_pem: &str) -> String {
        let pkcs8 =
            rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(pkcs8_pem.as_bytes()).unwrap();
        let (seq, _) = der(pkcs8.secret_pkcs8_der());
        let (_version, rest) = der(seq);
        let rest = der(rest).1; // the algorithm
        let (ec_private_key, _) = der(rest);
        let der = rustls::pki_types::PrivateSec1KeyDer::from(ec_private_key.to_vec());
        pem_text("EC PRIVATE KEY", der.secret_sec1_der())
    }

    fn pem_text(label: &str, der: &[u8]) -> String {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in der.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        let lines: Vec<&str> = out
            .as_bytes()
            .chunks(64)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn with_client(dir: &Path, cert: &str, key: &str) -> VaultTls {
        let (c, k) = (dir.join("client.pem"), dir.join("client-key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        tls(|t| {
            t.client_cert = Some(c);
            t.client_key = Some(k);
        })
    }

    #[test]
    fn a_missing_ca_file_is_named_with_its_setting_and_path() {
        let e = config_error(&tls(|t| t.ca_cert = Some("/nonexistent/ca.pem".into())));
        assert!(
            e.contains("VAULT_CACERT: cannot read /nonexistent/ca.pem"),
            "{e}"
        );
        let e = config_error(&tls(|t| t.ca_path = Some("/nonexistent/cas".into())));
        assert!(
            e.contains("VAULT_CAPATH: cannot read the folder /nonexistent/cas"),
            "{e}"
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let dir = secretstore_testkit::scratch();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = config_error(&tls(|t| t.ca_cert = Some(p.clone())));
        assert!(
            e.contains("VAULT_CACERT") && e.contains("holds no PEM certificate"),
            "{e}"
        );
        // A stray file in VAULT_CAPATH is named too, and an empty folder is refused.
        let e = config_error(&tls(|t| t.ca_path = Some(dir.path().to_owned())));
        assert!(e.contains("VAULT_CAPATH") && e.contains("ca.pem"), "{e}");
        let empty = secretstore_testkit::scratch();
        let e = config_error(&tls(|t| t.ca_path = Some(empty.path().to_owned())));
        assert!(e.contains("holds no certificate file"), "{e}");
    }

    #[test]
    fn a_ca_bundle_and_a_ca_folder_load() {
        let dir = secretstore_testkit::scratch();
        let (cert, _) = client();
        std::fs::write(dir.path().join("a.pem"), format!("{cert}{cert}")).unwrap();
        let ca = dir.path().join("a.pem");
        assert!(connector(true, &tls(|t| t.ca_cert = Some(ca)), Duration::from_secs(1)).is_ok());
        let folder = tls(|t| t.ca_path = Some(dir.path().to_owned()));
        assert!(connector(true, &folder, Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn pkcs8_and_sec1_client_keys_are_accepted() {
        let dir = secretstore_testkit::scratch();
        let (cert, key) = client();
        let pkcs8 = with_client(dir.path(), &cert, &key);
        assert!(connector(true, &pkcs8, Duration::from_secs(1)).is_ok());
        let sec1 = with_client(dir.path(), &cert, &sec1(&key));
        assert!(connector(true, &sec1, Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_client_certificate_renewed_in_place_is_presented_without_a_restart() {
        let dir = secretstore_testkit::scratch();
        let (first, first_key) = client();
        let t = with_client(dir.path(), &first, &first_key);
        let (c, k) = (t.client_cert.unwrap(), t.client_key.unwrap());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let resolver = ClientCert::load(&c, &k, provider).unwrap();
        let presented = |r: &ClientCert| r.current().cert[0].as_ref().to_vec();
        let der = |pem: &str| {
            CertificateDer::from_pem_slice(pem.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec()
        };
        assert_eq!(presented(&resolver), der(&first));
        let look_again = |r: &ClientCert| {
            r.state.lock().unwrap().checked -= CLIENT_RECHECK;
        };

        // Renewed in place (another key too): presented at the next check, not before.
        let (second, second_key) = client();
        std::fs::write(&c, &second).unwrap();
        std::fs::write(&k, &second_key).unwrap();
        assert_eq!(
            presented(&resolver),
            der(&first),
            "looked at before its time"
        );
        look_again(&resolver);
        assert_eq!(presented(&resolver), der(&second));

        // Half written (a certificate without its key yet): the one before stays.
        let (third, _) = client();
        std::fs::write(&c, &third).unwrap();
        look_again(&resolver);
        assert_eq!(presented(&resolver), der(&second));
        // ... until the key follows.
        let (third, third_key) = client();
        std::fs::write(&c, &third).unwrap();
        std::fs::write(&k, &third_key).unwrap();
        look_again(&resolver);
        assert_eq!(presented(&resolver), der(&third));
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let dir = secretstore_testkit::scratch();
        let (cert, _) = client();
        let (_, other_key) = client();
        let e = config_error(&with_client(dir.path(), &cert, &other_key));
        assert!(
            e.contains("is not the private key of the certificate"),
            "{e}"
        );
    }

    #[test]
    fn a_key_that_does_not_parse_is_refused_without_quoting_it() {
        let dir = secretstore_testkit::scratch();
        let (cert, _) = client();
        // Well-formed PEM that is no key: ring cannot load it.
        let bogus = pem_text("PRIVATE KEY", b"secret-key-bytes-0123456789");
        let e = config_error(&with_client(dir.path(), &cert, &bogus));
        assert!(
            e.contains("VAULT_CLIENT_KEY") && e.contains("does not parse"),
            "{e}"
        );
        assert!(!e.contains("c2VjcmV0") && !e.contains("secret-key"), "{e}");
        // A PKCS#1 section is read as such (and refused here: it is no RSA key).
        let rsa = pem_text("RSA PRIVATE KEY", b"secret-key-bytes-0123456789");
        let e = config_error(&with_client(dir.path(), &cert, &rsa));
        assert!(e.contains("does not parse"), "{e}");
        // Damaged base64: named, not quoted.
        let damaged = "-----BEGIN PRIVATE KEY-----\nc2Vjcm*V0\n-----END PRIVATE KEY-----\n";
        let e = config_error(&with_client(dir.path(), &cert, damaged));
        assert!(
            e.contains("is not valid PEM") && !e.contains("c2Vjcm"),
            "{e}"
        );
        let e = config_error(&with_client(dir.path(), &cert, "no key here\n"));
        assert!(e.contains("holds no PEM private key"), "{e}");
        let encrypted = pem_text("ENCRYPTED PRIVATE KEY", b"0123456789");
        let e = config_error(&with_client(dir.path(), &cert, &encrypted));
        assert!(e.contains("is encrypted"), "{e}");
    }

    #[test]
    fn an_invalid_server_name_is_refused() {
        let e = config_error(&tls(|t| t.server_name = Some("not a name!".into())));
        assert!(e.contains("VAULT_TLS_SERVER_NAME"), "{e}");
        assert!(server_name("vault.example.com").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
    }

    #[test]
    fn tls_settings_with_an_http_address_are_refused() {
        let t = tls(|t| t.server_name = Some("vault.example.com".into()));
        let e = connector(false, &t, Duration::from_secs(1)).err().unwrap();
        assert!(e.to_string().contains("https://"), "{e}");
        assert!(connector(false, &VaultTls::default(), Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn the_rustls_error_is_found_inside_an_io_error() {
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        let ex = Explainer {
            trust: Trust::System,
            client_cert: None,
            server_name: None,
        };
        let msg = ex.explain(&io).unwrap();
        assert!(
            msg.contains("not trusted") && msg.contains("VAULT_CACERT"),
            "{msg}"
        );
        let plain = std::io::Error::other("connection refused");
        assert!(ex.explain(&plain).is_none());
    }

    #[test]
    fn the_names_of_the_certificate_are_shown_plainly() {
        assert_eq!(presented_name("DnsName(\"vault.test\")"), "vault.test");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(presented_name("DirectoryName"), "DirectoryName");
    }
}
