//! TLS for the server (`[server] tls_cert`, `tls_key`): a certificate chain and its private key
//! in PEM files. The files are read at start (a bad pair stops the server before it listens) and
//! again at the next connection after either changes, so a renewed certificate takes effect
//! without a restart; a renewal that cannot be read is logged and the old pair stays.

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use thiserror::Error;

/// Which of the two files a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    Cert,
    Key,
}

impl TlsFile {
    /// The config field that names the file.
    pub fn field(self) -> &'static str {
        match self {
            TlsFile::Cert => "server.tls_cert",
            TlsFile::Key => "server.tls_key",
        }
    }
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: cannot read: {source}")]
    Read { file: TlsFile, path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Invalid { file: TlsFile, path: String, reason: String },
}

impl TlsError {
    pub fn file(&self) -> TlsFile {
        match self {
            TlsError::Read { file, .. } | TlsError::Invalid { file, .. } => *file,
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads and checks a certificate chain and its key: both parse, and the key belongs to the
/// first certificate.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let invalid = |file, path: &Path, reason: String| TlsError::Invalid { file, path: path.display().to_string(), reason };
    let read = |file, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read { file, path: path.display().to_string(), source })
    };
    let cert_pem = read(TlsFile::Cert, cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(TlsFile::Cert, cert, format!("not a PEM certificate file: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(TlsFile::Cert, cert, "holds no certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    let key_pem = read(TlsFile::Key, key)?;
    let der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid(TlsFile::Key, key, format!("holds no private key in PEM (PKCS#8, PKCS#1 or SEC1): {e}")))?;
    CertifiedKey::from_der(chain, der, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            invalid(TlsFile::Key, key, format!("is not the key of the certificate in {}", cert.display()))
        }
        other => invalid(TlsFile::Key, key, format!("cannot be used: {other}")),
    })
}

/// The certificate in use and the files it came from.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    stamp: (Option<SystemTime>, Option<SystemTime>),
    pair: Arc<CertifiedKey>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).as_ref().ok().and_then(|m: &Metadata| m.modified().ok())
}

impl Tls {
    /// Loads the pair, or says what is wrong with it.
    pub fn open(cert: &Path, key: &Path) -> Result<Arc<Tls>, TlsError> {
        let stamp = (modified(cert), modified(key));
        let pair = Arc::new(load_pair(cert, key)?);
        Ok(Arc::new(Tls { cert: cert.to_path_buf(), key: key.to_path_buf(), current: Mutex::new(Loaded { stamp, pair }) }))
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// The pair for a new connection, read again when a file changed since the last one.
    fn pair(&self) -> Arc<CertifiedKey> {
        let stamp = (modified(&self.cert), modified(&self.key));
        let mut cur = self.current.lock();
        if stamp != cur.stamp {
            cur.stamp = stamp;
            match load_pair(&self.cert, &self.key) {
                Ok(pair) => {
                    tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                    cur.pair = Arc::new(pair);
                }
                // Half-written by a renewal, say: the old pair serves until the files settle.
                Err(e) => tracing::warn!(error = %e, "the changed TLS files cannot be used; keeping the previous certificate"),
            }
        }
        cur.pair.clone()
    }

    /// The rustls configuration for the listener: HTTP/1.1 (WebSockets included), TLS 1.2 and 1.3.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    }
}

#[derive(Debug)]
struct Resolver(Arc<Tls>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.pair())
    }
}
