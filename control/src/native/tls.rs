//! TLS for punktfunk/1 (§2.1): a self-signed host identity, optional client certificates
//! accepted when self-signed (the handshake signature is always verified), fingerprint pinning
//! on the client side, and the QUIC server/client configs (§2.2).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use punktfunk_core::native::control::ALPN;
use punktfunk_core::native::control::pake::Fingerprint;
use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::{IdleTimeout, MtuDiscoveryConfig, TransportConfig, VarInt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use thiserror::Error;

use crate::tls_client_auth::AcceptAnyClientCert;

/// Errors building TLS material or configs.
#[derive(Debug, Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the configuration or key.
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// PEM data could not be decoded.
    #[error("PEM: {0}")]
    Pem(String),
    /// The rustls config is unusable for QUIC.
    #[error("QUIC crypto config: {0}")]
    Quic(String),
}

/// A certificate and its private key (DER), with its fingerprint.
#[derive(Debug)]
pub struct Identity {
    /// Leaf certificate DER.
    pub cert_der: CertificateDer<'static>,
    /// PKCS#8 private key DER.
    pub key_der: PrivatePkcs8KeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            cert_der: self.cert_der.clone(),
            key_der: self.key_der.clone_key(),
        }
    }
}

impl Identity {
    /// A fresh self-signed ECDSA P-256 identity for the given subject alternative names.
    pub fn generate(names: &[&str]) -> Result<Self, TlsError> {
        let ck = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )?;
        Ok(Self {
            cert_der: ck.cert.der().clone(),
            key_der: PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()),
        })
    }

    /// SHA-256 of the certificate DER.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.cert_der)
    }

    /// PEM encodings `(cert, key)`.
    pub fn to_pem(&self) -> (String, String) {
        (
            pem_encode("CERTIFICATE", &self.cert_der),
            pem_encode("PRIVATE KEY", self.key_der.secret_pkcs8_der()),
        )
    }

    /// Decodes PEM written by [`to_pem`](Self::to_pem).
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let cert_der = CertificateDer::from_pem_slice(cert)
            .map_err(|e| TlsError::Pem(format!("certificate: {e}")))?;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(key)
            .map_err(|e| TlsError::Pem(format!("key: {e}")))?;
        // Check the pair is usable (key parses and matches the provider's expectations).
        provider()
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(key_der.clone_key()))
            .map_err(|e| TlsError::Pem(format!("key: {e}")))?;
        Ok(Self { cert_der, key_der })
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= n {
                b64.push(B64[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The crypto provider: aws-lc-rs, X25519MLKEM768 preferred when the feature is on.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// QUIC transport parameters of §2.2: idle 8 s, keep-alive 4 s, datagrams on with a 4 KiB
/// send buffer, MTU discovery up to 1472.
pub fn transport_config(idle: Duration) -> TransportConfig {
    let idle = idle.clamp(Duration::from_secs(1), Duration::from_secs(3600));
    let mut t = TransportConfig::default();
    t.max_idle_timeout(Some(
        IdleTimeout::try_from(idle).unwrap_or(IdleTimeout::from(VarInt::from_u32(8000))),
    ));
    t.keep_alive_interval(Some((idle / 2).min(Duration::from_secs(4))));
    t.datagram_send_buffer_size(4096);
    t.datagram_receive_buffer_size(Some(1 << 20));
    let mut mtud = MtuDiscoveryConfig::default();
    mtud.upper_bound(1472);
    t.mtu_discovery_config(Some(mtud));
    t.initial_mtu(1200);
    t
}

/// Client-side host verifier: fingerprint pinning, no CA chain (§2.1). Records the observed
/// fingerprint; rejects a mismatch when a pin is set; accepts anything otherwise (TOFU);
/// always verifies the TLS 1.3 CertificateVerify signature.
#[derive(Debug)]
pub struct PinVerify {
    pin: Option<Fingerprint>,
    observed: Mutex<Option<Fingerprint>>,
    algs: WebPkiSupportedAlgorithms,
}

impl PinVerify {
    /// A verifier pinned to `pin` (None = trust on first use).
    pub fn new(pin: Option<Fingerprint>) -> Arc<Self> {
        Arc::new(Self {
            pin,
            observed: Mutex::new(None),
            algs: provider().signature_verification_algorithms,
        })
    }
    /// The host fingerprint seen in the last handshake.
    pub fn observed(&self) -> Option<Fingerprint> {
        *self.observed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ServerCertVerifier for PinVerify {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = Fingerprint::of_der(end_entity);
        *self.observed.lock().unwrap_or_else(|e| e.into_inner()) = Some(fp);
        match self.pin {
            Some(pin) if pin != fp => Err(rustls::Error::General(format!(
                "host certificate fingerprint {} does not match the pinned {}",
                fp.to_hex(),
                pin.to_hex()
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// The host's QUIC server config: TLS 1.3, ALPN `pkf1`, optional client certificates.
pub fn server_config(
    identity: &Identity,
    idle: Duration,
) -> Result<quinn_proto::ServerConfig, TlsError> {
    let provider = provider();
    let verifier = Arc::new(AcceptAnyClientCert::new(&provider));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.cert_der.clone()],
            PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
        )?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let quic = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn_proto::ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(Arc::new(transport_config(idle)));
    Ok(cfg)
}

/// A client QUIC config: ALPN `pkf1`, pinned or TOFU host verification, optional client cert.
pub fn client_config(
    identity: Option<&Identity>,
    verifier: Arc<PinVerify>,
    idle: Duration,
) -> Result<quinn_proto::ClientConfig, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut tls = match identity {
        Some(id) => builder.with_client_auth_cert(
            vec![id.cert_der.clone()],
            PrivateKeyDer::Pkcs8(id.key_der.clone_key()),
        )?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn_proto::ClientConfig::new(Arc::new(quic));
    cfg.transport_config(Arc::new(transport_config(idle)));
    Ok(cfg)
}

/// Fingerprint of the peer's leaf certificate on an established connection, if it sent one.
pub fn peer_fingerprint(conn: &quinn_proto::Connection) -> Option<Fingerprint> {
    let any = conn.crypto_session().peer_identity()?;
    let certs = any.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.first().map(|c| Fingerprint::of_der(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_fingerprint() {
        let id = Identity::generate(&["localhost"]).unwrap();
        let (c, k) = id.to_pem();
        assert!(c.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let back = Identity::from_pem(c.as_bytes(), k.as_bytes()).unwrap();
        assert_eq!(back.fingerprint(), id.fingerprint());
        assert_eq!(
            back.key_der.secret_pkcs8_der(),
            id.key_der.secret_pkcs8_der()
        );
        assert!(Identity::from_pem(b"garbage", k.as_bytes()).is_err());
    }

    #[test]
    fn configs_build() {
        let id = Identity::generate(&["localhost"]).unwrap();
        server_config(&id, Duration::from_secs(8)).unwrap();
        client_config(Some(&id), PinVerify::new(None), Duration::from_secs(8)).unwrap();
        client_config(
            None,
            PinVerify::new(Some(id.fingerprint())),
            Duration::from_secs(8),
        )
        .unwrap();
    }
}
