//! TLS for `serve`: rustls with the ring provider; the certificate chain and private key
//! come from PEM files (`SECRETSTORE_TLS_CERT`, `SECRETSTORE_TLS_KEY`) and are read again
//! on SIGHUP. A reload swaps the certificate for new handshakes only: connections already
//! open keep going. A reload that fails keeps the certificate in use.

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The two PEM files.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// The certificate in use, swapped on reload.
pub(crate) struct Certificates {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("cert", &self.files.cert)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Reads the files; the error says which file and why (never the key's content).
    pub(crate) fn load(files: TlsFiles) -> Result<Arc<Certificates>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = read(&files, &provider)?;
        Ok(Arc::new(Certificates {
            files,
            provider,
            current: ArcSwap::from_pointee(current),
        }))
    }

    /// Reads the files again; on failure the certificate in use stays.
    pub(crate) fn reload(&self) -> Result<(), String> {
        let fresh = read(&self.files, &self.provider)?;
        self.current.store(Arc::new(fresh));
        Ok(())
    }

    /// The rustls configuration that serves these certificates (HTTP/1.1).
    pub(crate) fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, String> {
        let mut cfg = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn pem_problem(setting: &str, path: &Path, what: &str, e: &pem::Error) -> String {
    match e {
        pem::Error::Io(io) => format!("{setting}: cannot read {}: {io}", path.display()),
        pem::Error::NoItemsFound => {
            format!("{setting}: {} holds no PEM {what}", path.display())
        }
        // The other errors are about the file's content: say so without quoting it.
        _ => format!("{setting}: {} is not a valid PEM {what}", path.display()),
    }
}

fn read(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    const CERT: &str = "SECRETSTORE_TLS_CERT";
    const KEY: &str = "SECRETSTORE_TLS_KEY";
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| pem_problem(CERT, &files.cert, "certificate", &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_problem(CERT, &files.cert, "certificate", &e))?;
    if certs.is_empty() {
        return Err(format!(
            "{CERT}: {} holds no PEM certificate",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| pem_problem(KEY, &files.key, "private key", &e))?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "{KEY}: the key in {} does not belong to the certificate in {}",
            files.key.display(),
            files.cert.display()
        ),
        other => format!(
            "{CERT}/{KEY}: cannot use {} and {}: {other}",
            files.cert.display(),
            files.key.display()
        ),
    })
}
