//! GameStream PIN pairing (gamestream-protocol.md §3), sans-IO.
//!
//! [`PairingSession`] is one client's pairing in progress: it takes each phase's decoded
//! query values and returns the reply values; the PIN arrives asynchronously through
//! [`PairingSession::set_pin`] while the phase-1 request is long-polled by the server.
//! Randomness is passed in, so whole pairings run deterministically in tests.
//!
//! Certificates: [`HostIdentity`] is the host's RSA-2048 self-signed certificate and key
//! (generated with rcgen, signing with aws-lc-rs); [`ClientCert`] a client's certificate
//! parsed with x509-parser (its public key and its `signatureValue`, the `sig(cert)` of
//! §3.1). Paired clients are remembered by the SHA-256 of their DER.

use aes::Aes128;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use rand::RngCore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use super::hex;

/// Why a pairing step or certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// The salt has fewer than 32 hex digits.
    #[error("salt shorter than 32 hex digits")]
    SaltTooShort,
    /// A phase value is not valid hex.
    #[error("{0} is not valid hex")]
    Hex(&'static str),
    /// A phase value has the wrong length.
    #[error("{0} has the wrong length")]
    Length(&'static str),
    /// The client certificate is not a PEM X.509 certificate with an RSA key.
    #[error("bad client certificate: {0}")]
    Certificate(String),
    /// A phase arrived before the one it must follow.
    #[error("pairing phase out of order")]
    OutOfOrder,
    /// The PIN is not four ASCII digits.
    #[error("PIN must be four digits")]
    BadPin,
    /// Phase 4: the client's hash or signature does not match (wrong PIN or a forged
    /// certificate). Answered `paired=0` with `status_code=200`.
    #[error("client hash or signature mismatch (wrong PIN?)")]
    Mismatch,
    /// Generating or loading the host identity failed.
    #[error("host identity: {0}")]
    Identity(String),
}

/// SHA-256, the pairing hash `H` for `appversion` major >= 7.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The pairing AES key `k = SHA-256(salt || PIN)[0..16]` (§3.2).
pub fn derive_key(salt: &[u8; 16], pin: &str) -> [u8; 16] {
    let h = sha256(&[salt, pin.as_bytes()]);
    let mut k = [0u8; 16];
    k.copy_from_slice(&h[..16]);
    k
}

/// AES-128-ECB without padding, in place; `data.len()` must be a multiple of 16.
pub fn aes_ecb_encrypt(key: &[u8; 16], data: &mut [u8]) -> Result<(), PairingError> {
    if !data.len().is_multiple_of(16) {
        return Err(PairingError::Length("AES-ECB input"));
    }
    let c = Aes128::new(GenericArray::from_slice(key));
    for block in data.chunks_exact_mut(16) {
        c.encrypt_block(GenericArray::from_mut_slice(block));
    }
    Ok(())
}

/// AES-128-ECB decryption without padding, in place.
pub fn aes_ecb_decrypt(key: &[u8; 16], data: &mut [u8]) -> Result<(), PairingError> {
    if !data.len().is_multiple_of(16) {
        return Err(PairingError::Length("AES-ECB input"));
    }
    let c = Aes128::new(GenericArray::from_slice(key));
    for block in data.chunks_exact_mut(16) {
        c.decrypt_block(GenericArray::from_mut_slice(block));
    }
    Ok(())
}

/// Facts taken out of a DER X.509 certificate with an RSA key.
struct CertFacts {
    /// `signatureValue` bytes (`sig(cert)`).
    signature: Vec<u8>,
    /// PKCS#1 `RSAPublicKey` DER.
    public_key: Vec<u8>,
}

fn cert_facts(der: &[u8]) -> Result<CertFacts, PairingError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| PairingError::Certificate(e.to_string()))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
        return Err(PairingError::Certificate("not an RSA key".into()));
    }
    Ok(CertFacts {
        signature: cert.signature_value.data.to_vec(),
        public_key: spki.subject_public_key.data.to_vec(),
    })
}

/// The host's certificate and key. Generate once and keep: every paired client pins it.
pub struct HostIdentity {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
    signature: Vec<u8>,
    key_pair: RsaKeyPair,
}

impl std::fmt::Debug for HostIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostIdentity").finish_non_exhaustive()
    }
}

/// An RSA-2048 self-signed certificate (SHA-256) with the given common name, as
/// (certificate PEM, PKCS#8 key DER). Serial: 19 random bytes, top bit clear.
pub fn generate_self_signed(
    common_name: &str,
    serial: Option<&[u8]>,
) -> Result<(String, Vec<u8>), PairingError> {
    let err = |e: rcgen::Error| PairingError::Identity(e.to_string());
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let serial = match serial {
        Some(s) => s.to_vec(),
        None => {
            let mut s = [0u8; 19];
            rand::rng().fill_bytes(&mut s);
            s[0] = (s[0] & 0x7f) | 0x40;
            s.to_vec()
        }
    };
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), key.serialize_der()))
}

impl HostIdentity {
    /// Generates a fresh RSA-2048 identity.
    pub fn generate() -> Result<Self, PairingError> {
        let (pem, key) = generate_self_signed("punktfunk GameStream Host", None)?;
        Self::from_pem(&pem, &key)
    }

    /// Loads an identity from its certificate PEM and PKCS#8 key DER.
    pub fn from_pem(cert_pem: &str, key_pkcs8: &[u8]) -> Result<Self, PairingError> {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| PairingError::Identity(e.to_string()))?;
        let facts = cert_facts(&der).map_err(|e| PairingError::Identity(e.to_string()))?;
        let key_pair =
            RsaKeyPair::from_pkcs8(key_pkcs8).map_err(|e| PairingError::Identity(e.to_string()))?;
        if key_pair.public_key().as_ref() != facts.public_key.as_slice() {
            return Err(PairingError::Identity(
                "key does not match certificate".into(),
            ));
        }
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            cert_der: der.to_vec(),
            key_pkcs8: key_pkcs8.to_vec(),
            signature: facts.signature,
            key_pair,
        })
    }

    /// The certificate as PEM text (what `plaincert` carries, hex-encoded).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate as DER (what TLS serves).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The private key as PKCS#8 DER.
    pub fn key_pkcs8(&self) -> &[u8] {
        &self.key_pkcs8
    }

    /// The private key in rustls' type.
    pub fn key_der(&self) -> PrivatePkcs8KeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key_pkcs8.clone())
    }

    /// `sig(hostCert)`.
    pub fn cert_signature(&self) -> &[u8] {
        &self.signature
    }

    /// RSASSA-PKCS#1 v1.5 SHA-256 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        rsa_sign(&self.key_pair, msg)
    }
}

/// RSASSA-PKCS#1 v1.5 SHA-256 signature with an aws-lc-rs key pair.
pub fn rsa_sign(key: &RsaKeyPair, msg: &[u8]) -> Vec<u8> {
    let mut sig = vec![0u8; key.public_modulus_len()];
    // Signing with a valid RSA key into a modulus-sized buffer does not fail.
    if key
        .sign(
            &signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            msg,
            &mut sig,
        )
        .is_err()
    {
        sig.clear();
    }
    sig
}

/// A client's certificate, as received in phase 1 and stored once paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pem: String,
    der: Vec<u8>,
    signature: Vec<u8>,
    public_key: Vec<u8>,
}

impl ClientCert {
    /// Parses a PEM certificate (the decoded `clientcert` of phase 1).
    pub fn from_pem(pem: &[u8]) -> Result<Self, PairingError> {
        let text =
            std::str::from_utf8(pem).map_err(|_| PairingError::Certificate("not UTF-8".into()))?;
        let der = CertificateDer::from_pem_slice(pem)
            .map_err(|e| PairingError::Certificate(e.to_string()))?;
        Self::from_der_with_pem(der.to_vec(), text.to_owned())
    }

    /// Parses a DER certificate (from a TLS handshake).
    pub fn from_der(der: &[u8]) -> Result<Self, PairingError> {
        let pem = CertificateDer::from(der.to_vec());
        let text = pem_encode(&pem);
        Self::from_der_with_pem(der.to_vec(), text)
    }

    fn from_der_with_pem(der: Vec<u8>, pem: String) -> Result<Self, PairingError> {
        let facts = cert_facts(&der)?;
        Ok(Self {
            pem,
            der,
            signature: facts.signature,
            public_key: facts.public_key,
        })
    }

    /// PEM text.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// `sig(clientCert)`.
    pub fn cert_signature(&self) -> &[u8] {
        &self.signature
    }

    /// SHA-256 of the DER: how paired clients are recognised on HTTPS.
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(&[&self.der])
    }

    /// Checks an RSASSA-PKCS#1 v1.5 SHA-256 signature by this certificate's key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(msg, sig)
            .is_ok()
    }
}

fn pem_encode(der: &CertificateDer<'_>) -> String {
    // Standard base64, 64 columns, as OpenSSL writes it.
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.as_ref().chunks(3) {
        let n = chunk.len();
        let v = u32::from(chunk[0]) << 16
            | u32::from(*chunk.get(1).unwrap_or(&0)) << 8
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                b64.push(B64[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Where one client's pairing stands.
#[derive(Debug)]
enum Phase {
    /// Phase 1 received; waiting for the user's PIN.
    AwaitingPin,
    /// PIN entered (key derived); waiting for `clientchallenge`.
    AwaitingClientChallenge { key: [u8; 16] },
    /// Waiting for `serverchallengeresp`.
    AwaitingServerChallengeResp {
        key: [u8; 16],
        host_secret: [u8; 16],
        host_challenge: [u8; 16],
    },
    /// Waiting for `clientpairingsecret`.
    AwaitingClientPairingSecret {
        host_challenge: [u8; 16],
        client_hash: Vec<u8>,
    },
    /// Finished or failed: every further phase is out of order.
    Done,
}

/// One client's pairing in progress (phases 1-4 of §3; phase 5 is the HTTPS check that
/// the stored certificate is paired).
#[derive(Debug)]
pub struct PairingSession {
    salt: [u8; 16],
    client: ClientCert,
    phase: Phase,
}

impl PairingSession {
    /// Phase 1 (`getservercert`): `salt_hex` (first 32 digits used) and the hex of the
    /// client's PEM certificate. Reply once [`PairingSession::set_pin`] was called.
    pub fn begin(salt_hex: &str, client_cert_hex: &str) -> Result<Self, PairingError> {
        let salt_digits = salt_hex.get(..32).ok_or(PairingError::SaltTooShort)?;
        let salt_bytes = hex::decode(salt_digits).map_err(|_| PairingError::Hex("salt"))?;
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&salt_bytes);
        let pem = hex::decode(client_cert_hex).map_err(|_| PairingError::Hex("clientcert"))?;
        let client = ClientCert::from_pem(&pem)?;
        Ok(Self {
            salt,
            client,
            phase: Phase::AwaitingPin,
        })
    }

    /// The certificate the client sent in phase 1.
    pub fn client_cert(&self) -> &ClientCert {
        &self.client
    }

    /// The user typed the PIN (exactly four ASCII digits): derive `k`.
    pub fn set_pin(&mut self, pin: &str) -> Result<(), PairingError> {
        if pin.len() != 4 || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PairingError::BadPin);
        }
        if !matches!(self.phase, Phase::AwaitingPin) {
            return Err(PairingError::OutOfOrder);
        }
        self.phase = Phase::AwaitingClientChallenge {
            key: derive_key(&self.salt, pin),
        };
        Ok(())
    }

    /// The PIN has been entered: the long-polled phase-1 request can be answered.
    pub fn pin_entered(&self) -> bool {
        !matches!(self.phase, Phase::AwaitingPin)
    }

    /// Phase 2 (`clientchallenge`): returns `challengeresponse` (48 bytes).
    pub fn client_challenge(
        &mut self,
        host: &HostIdentity,
        challenge_hex: &str,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<u8>, PairingError> {
        let Phase::AwaitingClientChallenge { key } = self.phase else {
            self.phase = Phase::Done;
            return Err(PairingError::OutOfOrder);
        };
        let mut cc =
            hex::decode(challenge_hex).map_err(|_| PairingError::Hex("clientchallenge"))?;
        if cc.len() != 16 {
            return Err(PairingError::Length("clientchallenge"));
        }
        aes_ecb_decrypt(&key, &mut cc)?;
        let mut host_secret = [0u8; 16];
        let mut host_challenge = [0u8; 16];
        rng.fill_bytes(&mut host_secret);
        rng.fill_bytes(&mut host_challenge);
        let h1 = sha256(&[&cc, host.cert_signature(), &host_secret]);
        let mut reply = Vec::with_capacity(48);
        reply.extend_from_slice(&h1);
        reply.extend_from_slice(&host_challenge);
        aes_ecb_encrypt(&key, &mut reply)?;
        self.phase = Phase::AwaitingServerChallengeResp {
            key,
            host_secret,
            host_challenge,
        };
        Ok(reply)
    }

    /// Phase 3 (`serverchallengeresp`): returns `pairingsecret` = hostSecret ‖ signature.
    pub fn server_challenge_resp(
        &mut self,
        host: &HostIdentity,
        resp_hex: &str,
    ) -> Result<Vec<u8>, PairingError> {
        let Phase::AwaitingServerChallengeResp {
            key,
            host_secret,
            host_challenge,
        } = self.phase
        else {
            self.phase = Phase::Done;
            return Err(PairingError::OutOfOrder);
        };
        let mut client_hash =
            hex::decode(resp_hex).map_err(|_| PairingError::Hex("serverchallengeresp"))?;
        if client_hash.is_empty() || client_hash.len() > 64 {
            return Err(PairingError::Length("serverchallengeresp"));
        }
        aes_ecb_decrypt(&key, &mut client_hash)?;
        let mut reply = host_secret.to_vec();
        reply.extend_from_slice(&host.sign(&host_secret));
        self.phase = Phase::AwaitingClientPairingSecret {
            host_challenge,
            client_hash,
        };
        Ok(reply)
    }

    /// Phase 4 (`clientpairingsecret`): on success returns the certificate to store as
    /// paired. The session is finished either way.
    pub fn client_pairing_secret(&mut self, secret_hex: &str) -> Result<ClientCert, PairingError> {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let Phase::AwaitingClientPairingSecret {
            host_challenge,
            client_hash,
        } = phase
        else {
            return Err(PairingError::OutOfOrder);
        };
        let data = hex::decode(secret_hex).map_err(|_| PairingError::Hex("clientpairingsecret"))?;
        if data.len() < 17 {
            return Err(PairingError::Length("clientpairingsecret"));
        }
        let (client_secret, sig) = data.split_at(16);
        let expect = sha256(&[&host_challenge, self.client.cert_signature(), client_secret]);
        let hash_ok =
            client_hash.get(..32) == Some(&expect[..]) && client_hash[32..].iter().all(|&b| b == 0);
        if !hash_ok || !self.client.verify(client_secret, sig) {
            return Err(PairingError::Mismatch);
        }
        Ok(self.client.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// gamestream-protocol.md Appendix B.2, pairing key and AES-ECB.
    #[test]
    fn appendix_b2_pairing_vectors() {
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        let k = derive_key(&salt, "1234");
        assert_eq!(k.to_vec(), h("bad0b4f7cae08eb7c1b5acc763a8ed25"));
        let mut block: Vec<u8> = (0x10..0x20).collect();
        aes_ecb_encrypt(&k, &mut block).unwrap();
        assert_eq!(block, h("5febcdc985b2baddd65925da162380eb"));
        aes_ecb_decrypt(&k, &mut block).unwrap();
        assert_eq!(block, (0x10..0x20).collect::<Vec<u8>>());
        assert!(aes_ecb_encrypt(&k, &mut [0u8; 15]).is_err());
    }

    /// The client half of §3 (what Moonlight does), for driving the host.
    pub(crate) struct TestClient {
        pub pem: String,
        key: RsaKeyPair,
        sig: Vec<u8>,
    }

    impl TestClient {
        pub fn new() -> Self {
            let (pem, key) = generate_self_signed("NVIDIA GameStream Client", Some(&[0])).unwrap();
            let cert = ClientCert::from_pem(pem.as_bytes()).unwrap();
            Self {
                sig: cert.cert_signature().to_vec(),
                pem,
                key: RsaKeyPair::from_pkcs8(&key).unwrap(),
            }
        }
    }

    /// Runs phases 1-4 with `client_pin` on the client and `host_pin` on the host; returns
    /// whether the client's own PIN check (moonlight-qt's, §3.5 step 3) passed and the host's
    /// phase-4 result.
    fn run(client_pin: &str, host_pin: &str) -> (bool, Result<ClientCert, PairingError>) {
        let host = HostIdentity::generate().unwrap();
        let client = TestClient::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let salt = [9u8; 16];
        let mut s = PairingSession::begin(
            &hex::encode_upper(&salt),
            &hex::encode_upper(client.pem.as_bytes()),
        )
        .unwrap();
        assert!(!s.pin_entered());
        s.set_pin(host_pin).unwrap();
        assert!(s.pin_entered());
        let k = derive_key(&salt, client_pin);
        // Phase 2.
        let cc = [0x11u8; 16];
        let mut enc = cc.to_vec();
        aes_ecb_encrypt(&k, &mut enc).unwrap();
        let mut resp = s
            .client_challenge(&host, &hex::encode_upper(&enc).to_lowercase(), &mut rng)
            .unwrap();
        assert_eq!(resp.len(), 48);
        aes_ecb_decrypt(&k, &mut resp).unwrap();
        let (h1, host_challenge) = resp.split_at(32);
        // Phase 3.
        let client_secret = [0x22u8; 16];
        let mut h2 = sha256(&[host_challenge, &client.sig, &client_secret]).to_vec();
        aes_ecb_encrypt(&k, &mut h2).unwrap();
        let ps = s
            .server_challenge_resp(&host, &hex::encode_upper(&h2))
            .unwrap();
        let (host_secret, host_sig) = ps.split_at(16);
        let host_cert = ClientCert::from_pem(host.cert_pem().as_bytes()).unwrap();
        assert!(
            host_cert.verify(host_secret, host_sig),
            "host signature verifies with plaincert"
        );
        let client_check = sha256(&[&cc, host.cert_signature(), host_secret])[..] == *h1;
        // Phase 4.
        let mut cps = client_secret.to_vec();
        cps.extend_from_slice(&rsa_sign(&client.key, &client_secret));
        let result = s.client_pairing_secret(&hex::encode_upper(&cps));
        assert_eq!(
            s.client_pairing_secret("00").unwrap_err(),
            PairingError::OutOfOrder
        );
        (client_check, result)
    }

    #[test]
    fn full_pairing_with_right_pin() {
        let (client_ok, result) = run("1234", "1234");
        assert!(client_ok);
        let cert = result.unwrap();
        assert!(cert.pem().contains("BEGIN CERTIFICATE"));
        assert_eq!(
            ClientCert::from_der(cert.der()).unwrap().fingerprint(),
            cert.fingerprint()
        );
    }

    #[test]
    fn wrong_pin_is_caught_by_both_sides() {
        let (client_ok, result) = run("9999", "1234");
        assert!(!client_ok, "moonlight-qt's check fails");
        assert_eq!(
            result.unwrap_err(),
            PairingError::Mismatch,
            "host phase-4 check fails"
        );
    }

    #[test]
    fn refuses_bad_input_and_out_of_order() {
        let client = TestClient::new();
        let cert_hex = hex::encode_upper(client.pem.as_bytes());
        assert_eq!(
            PairingSession::begin("0011", &cert_hex).unwrap_err(),
            PairingError::SaltTooShort
        );
        assert_eq!(
            PairingSession::begin(&"zz".repeat(16), &cert_hex).unwrap_err(),
            PairingError::Hex("salt")
        );
        assert!(matches!(
            PairingSession::begin(&"00".repeat(16), "41424344"),
            Err(PairingError::Certificate(_))
        ));
        let mut s = PairingSession::begin(&"00".repeat(20), &cert_hex).unwrap();
        let host = HostIdentity::generate().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(s.set_pin("12a4").unwrap_err(), PairingError::BadPin);
        assert_eq!(
            s.client_challenge(&host, &"00".repeat(16), &mut rng)
                .unwrap_err(),
            PairingError::OutOfOrder
        );
        let mut s = PairingSession::begin(&"00".repeat(16), &cert_hex).unwrap();
        s.set_pin("0000").unwrap();
        assert_eq!(
            s.server_challenge_resp(&host, &"00".repeat(32))
                .unwrap_err(),
            PairingError::OutOfOrder
        );
    }

    #[test]
    fn host_identity_round_trips_and_pem_encoder_matches() {
        let host = HostIdentity::generate().unwrap();
        let again = HostIdentity::from_pem(host.cert_pem(), host.key_pkcs8()).unwrap();
        assert_eq!(again.cert_der(), host.cert_der());
        let other = HostIdentity::generate().unwrap();
        assert!(HostIdentity::from_pem(host.cert_pem(), other.key_pkcs8()).is_err());
        let via_der = ClientCert::from_der(host.cert_der()).unwrap();
        assert_eq!(
            via_der.pem().replace('\r', ""),
            host.cert_pem().replace('\r', "")
        );
    }
}

/// Drives the pairing parsers with untrusted bytes (the `gs_pairing` fuzz target and the
/// property test call this): PEM/X.509 client certificates and phase-1 values. Must never
/// panic.
pub fn fuzz_one(data: &[u8]) {
    let _ = ClientCert::from_pem(data);
    let _ = ClientCert::from_der(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let cut = text.char_indices().nth(32).map_or(text.len(), |(i, _)| i);
        let (salt, cert) = text.split_at(cut);
        let _ = PairingSession::begin(salt, cert);
    }
}

#[cfg(test)]
mod fuzz_tests {
    proptest::proptest! {
        #[test]
        fn random_certificates_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500)) {
            super::fuzz_one(&data);
        }

        #[test]
        fn corrupted_real_certificate_never_panics(i in 0usize..2000, b in proptest::prelude::any::<u8>()) {
            static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let der = DER.get_or_init(|| {
                let (pem, _) = super::generate_self_signed("NVIDIA GameStream Client", Some(&[0])).unwrap();
                super::ClientCert::from_pem(pem.as_bytes()).unwrap().der().to_vec()
            });
            let mut d = der.clone();
            let at = i % d.len();
            d[at] = b;
            super::fuzz_one(&d);
            d.truncate(at);
            super::fuzz_one(&d);
        }
    }
}
