//! TLS for the HTTPS port (§2.2): rustls with aws-lc-rs, serving the host certificate
//! (the `plaincert` clients pin), requesting a client certificate and accepting any one
//! during the handshake. The client still has to prove it holds the certificate's key (the
//! handshake signature is verified); whether the certificate is paired is decided after
//! the handshake by its fingerprint, so an unpaired client gets the XML 401 of §2.2.
//!
//! The client-certificate verifier is [`crate::tls_client_auth::AcceptAnyClientCert`], shared
//! with the punktfunk/1 host.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use crate::tls_client_auth::AcceptAnyClientCert;

use crate::gamestream::pairing::HostIdentity;

/// The server configuration of the HTTPS port: TLS 1.2 and 1.3, HTTP/1.1.
pub fn server_config(identity: &HostIdentity) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(AcceptAnyClientCert::new(&provider));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(identity.cert_der().to_vec())],
            PrivateKeyDer::Pkcs8(identity.key_der()),
        )?;
    Ok(Arc::new(config))
}
