//! TLS for `https://` and `wss://` servers: the system's certificate authorities, plus a
//! bureau's own CA when a PEM file is given.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::{ClientError, Result};

pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "a system certificate could not be read");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(ClientError::Tls(format!("{}: no certificate in it", path.display())));
        }
        for c in certs {
            roots.add(c).map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        }
    } else if added == 0 {
        tracing::warn!("no system certificate authorities found; https:// servers cannot be verified");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}
