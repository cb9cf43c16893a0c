//! The SPAKE2 PIN ceremony (§3.1) as typestates, and the host's arming/rate-limit gate (§3.2).
//!
//! SPAKE2 over Ed25519 (crate `spake2` 0.4), asymmetric: the client is side A, the host side B.
//! Identities are the raw 32-byte SHA-256 fingerprints of the client and host leaf certificate
//! DER (idA = client, idB = host); the password is the PIN's ASCII digits. Each side proves the
//! key with `HMAC-SHA256(key, label ‖ client_fp ‖ host_fp)`, labels
//! [`HOST_LABEL`] and [`CLIENT_LABEL`], compared in constant time.
//!
//! Randomness is passed in (`rand_core` 0.6 `CryptoRng + RngCore`), so the module stays pure.

use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use subtle::ConstantTimeEq;
use thiserror::Error;

use super::close::CloseCode;
use super::message::SPAKE_MSG_LEN;

/// Confirmation label of the tag the host sends.
pub const HOST_LABEL: &[u8] = b"punktfunk-pair-host";
/// Confirmation label of the tag the client sends.
pub const CLIENT_LABEL: &[u8] = b"punktfunk-pair-client";
/// Minimum time between two pairing ceremonies on a host (§3.2).
pub const PAIR_COOLDOWN_NS: u64 = 2_000_000_000;

/// SHA-256 of a leaf certificate's DER: how both ends identify each other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Fingerprint of a certificate's DER bytes.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
    /// Lowercase hex (64 chars), as logged, advertised and persisted.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            let hi = (s[2 * i] as char).to_digit(16)?;
            let lo = (s[2 * i + 1] as char).to_digit(16)?;
            *o = (hi * 16 + lo) as u8;
        }
        Some(Self(out))
    }
}

impl core::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// A pairing PIN: 4 decimal digits, zero-padded (§3.3).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pin([u8; 4]);

impl Pin {
    /// A uniformly random PIN.
    pub fn random(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        // Rejection sampling keeps the 10 000 PINs equally likely.
        let limit = u32::MAX - u32::MAX % 10_000;
        loop {
            let v = rng.next_u32();
            if v < limit {
                return Self::from_number((v % 10_000) as u16);
            }
        }
    }
    fn from_number(n: u16) -> Self {
        let n = n % 10_000;
        Self([
            b'0' + (n / 1000) as u8,
            b'0' + (n / 100 % 10) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ])
    }
    /// Parses exactly four ASCII digits.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() == 4 && b.iter().all(u8::is_ascii_digit) {
            Some(Self([b[0], b[1], b[2], b[3]]))
        } else {
            None
        }
    }
    /// The PIN's ASCII bytes (the SPAKE2 password).
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }
    /// The PIN as a string.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(&self.0).unwrap_or("????")
    }
}

impl core::fmt::Display for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// Why a pairing ceremony failed. Neither variant reveals anything about the PIN.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum PakeError {
    /// The peer's SPAKE2 message is malformed (wrong length, wrong side, not a point).
    #[error("malformed SPAKE2 message")]
    BadMessage,
    /// The peer's confirmation tag does not match: wrong PIN or a man in the middle.
    #[error("key confirmation failed (wrong PIN or certificate mismatch)")]
    ConfirmationFailed,
}

/// The 32-byte SPAKE2 shared key.
#[derive(Clone)]
pub struct SharedKey([u8; 32]);

fn confirm_tag(
    key: &SharedKey,
    label: &[u8],
    client: &Fingerprint,
    host: &Fingerprint,
) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes any key length");
    mac.update(label);
    mac.update(&client.0);
    mac.update(&host.0);
    mac.finalize().into_bytes().into()
}

fn finish(state: Spake2<Ed25519Group>, peer: &[u8]) -> Result<SharedKey, PakeError> {
    let key = state.finish(peer).map_err(|_| PakeError::BadMessage)?;
    let key: [u8; 32] = key.try_into().map_err(|_| PakeError::BadMessage)?;
    Ok(SharedKey(key))
}

fn to_msg(v: Vec<u8>) -> [u8; SPAKE_MSG_LEN] {
    let mut out = [0u8; SPAKE_MSG_LEN];
    out.copy_from_slice(&v);
    out
}

/// Client side (SPAKE2 side A), waiting for the host's challenge.
pub struct ClientPake {
    state: Spake2<Ed25519Group>,
    client: Fingerprint,
    host: Fingerprint,
}

impl ClientPake {
    /// Starts the ceremony; returns the state and the `spake_a` message for `PairRequest`.
    /// `host` is the fingerprint observed in this TLS handshake.
    pub fn start(
        pin: &Pin,
        client: Fingerprint,
        host: Fingerprint,
        rng: impl RngCore + CryptoRng,
    ) -> (Self, [u8; SPAKE_MSG_LEN]) {
        let (state, msg) = Spake2::<Ed25519Group>::start_a_with_rng(
            &Password::new(pin.as_bytes()),
            &Identity::new(&client.0),
            &Identity::new(&host.0),
            rng,
        );
        (
            Self {
                state,
                client,
                host,
            },
            to_msg(msg),
        )
    }

    /// Handles `PairChallenge`: verifies the host's tag and returns the client's proof tag for
    /// `PairProof`. On [`PakeError::ConfirmationFailed`] the client must send no proof and close
    /// with code 1.
    pub fn handle_challenge(
        self,
        spake_b: &[u8],
        host_confirm: &[u8; 32],
    ) -> Result<[u8; 32], PakeError> {
        let key = finish(self.state, spake_b)?;
        let expect = confirm_tag(&key, HOST_LABEL, &self.client, &self.host);
        if !bool::from(expect.ct_eq(host_confirm)) {
            return Err(PakeError::ConfirmationFailed);
        }
        Ok(confirm_tag(&key, CLIENT_LABEL, &self.client, &self.host))
    }
}

/// What the host sends in `PairChallenge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// SPAKE2 message B.
    pub spake_b: [u8; SPAKE_MSG_LEN],
    /// The host's confirmation tag.
    pub confirm: [u8; 32],
}

/// Host side (SPAKE2 side B), after sending its challenge and waiting for the client's proof.
pub struct HostAwaitingProof {
    expect: [u8; 32],
    client: Fingerprint,
}

/// Host side entry point.
pub struct HostPake;

impl HostPake {
    /// Handles `PairRequest`: runs side B against `spake_a` and returns the challenge to send
    /// and the state that checks the proof. `client` is the fingerprint of the certificate the
    /// client presented, `host` the host's own.
    pub fn respond(
        pin: &Pin,
        client: Fingerprint,
        host: Fingerprint,
        spake_a: &[u8],
        rng: impl RngCore + CryptoRng,
    ) -> Result<(HostAwaitingProof, Challenge), PakeError> {
        let (state, msg_b) = Spake2::<Ed25519Group>::start_b_with_rng(
            &Password::new(pin.as_bytes()),
            &Identity::new(&client.0),
            &Identity::new(&host.0),
            rng,
        );
        let key = finish(state, spake_a)?;
        let challenge = Challenge {
            spake_b: to_msg(msg_b),
            confirm: confirm_tag(&key, HOST_LABEL, &client, &host),
        };
        let expect = confirm_tag(&key, CLIENT_LABEL, &client, &host);
        Ok((HostAwaitingProof { expect, client }, challenge))
    }
}

impl HostAwaitingProof {
    /// Handles `PairProof`: on success returns the now-paired client's fingerprint.
    pub fn handle_proof(self, proof: &[u8; 32]) -> Result<Fingerprint, PakeError> {
        if bool::from(self.expect.ct_eq(proof)) {
            Ok(self.client)
        } else {
            Err(PakeError::ConfirmationFailed)
        }
    }
}

/// An armed pairing window.
#[derive(Debug, Clone, Copy)]
pub struct Arming {
    /// The PIN.
    pub pin: Pin,
    /// Only this client may use it (None = any).
    pub for_client: Option<Fingerprint>,
    /// Monotonic ns after which the window is closed (None = no expiry).
    pub expires_ns: Option<u64>,
}

/// The host's pairing gate: a 2 s cooldown stamped on every attempt, and a single-use armed PIN.
/// Time is monotonic nanoseconds passed in by the caller.
#[derive(Debug, Default)]
pub struct PairingGate {
    armed: Option<Arming>,
    last_attempt_ns: Option<u64>,
}

impl PairingGate {
    /// A gate with nothing armed.
    pub fn new() -> Self {
        Self::default()
    }
    /// Arms (or re-arms) a PIN window.
    pub fn arm(&mut self, arming: Arming) {
        self.armed = Some(arming);
    }
    /// Whether a PIN is armed (ignoring expiry).
    pub fn is_armed(&self) -> bool {
        self.armed.is_some()
    }
    /// Admits one ceremony from `client` at `now_ns`, in the order of §3.2: cooldown (0x62),
    /// armed window (0x60), armed for another device (0x61, not consumed). On success the PIN is
    /// consumed: one online guess per arming.
    pub fn admit(&mut self, now_ns: u64, client: &Fingerprint) -> Result<Pin, CloseCode> {
        let last = self.last_attempt_ns.replace(now_ns);
        if last.is_some_and(|t| now_ns.saturating_sub(t) < PAIR_COOLDOWN_NS) {
            return Err(CloseCode::PAIRING_RATE_LIMITED);
        }
        let Some(a) = self.armed else {
            return Err(CloseCode::PAIRING_NOT_ARMED);
        };
        if a.expires_ns.is_some_and(|e| now_ns >= e) {
            self.armed = None;
            return Err(CloseCode::PAIRING_NOT_ARMED);
        }
        if a.for_client.is_some_and(|f| f != *client) {
            return Err(CloseCode::PAIRING_OTHER_DEVICE);
        }
        self.armed = None;
        Ok(a.pin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    fn fp(b: u8) -> Fingerprint {
        Fingerprint([b; 32])
    }

    fn run(
        client_pin: &str,
        host_pin: &str,
        client_sees_host: Fingerprint,
    ) -> Result<Fingerprint, PakeError> {
        let (client, spake_a) = ClientPake::start(
            &Pin::parse(client_pin).unwrap(),
            fp(1),
            client_sees_host,
            OsRng,
        );
        let (host, ch) = HostPake::respond(
            &Pin::parse(host_pin).unwrap(),
            fp(1),
            fp(2),
            &spake_a,
            OsRng,
        )?;
        assert_eq!(spake_a[0], b'A');
        assert_eq!(ch.spake_b[0], b'B');
        let proof = client.handle_challenge(&ch.spake_b, &ch.confirm)?;
        host.handle_proof(&proof)
    }

    #[test]
    fn right_pin_pairs() {
        assert_eq!(run("0420", "0420", fp(2)), Ok(fp(1)));
    }

    #[test]
    fn wrong_pin_fails_at_the_client_before_any_proof() {
        assert_eq!(
            run("0420", "0421", fp(2)),
            Err(PakeError::ConfirmationFailed)
        );
    }

    #[test]
    fn mitm_with_a_different_host_cert_fails() {
        assert_eq!(
            run("1234", "1234", fp(3)),
            Err(PakeError::ConfirmationFailed)
        );
    }

    #[test]
    fn forged_proof_is_rejected_and_garbage_messages_are_errors() {
        let (_c, spake_a) = ClientPake::start(&Pin::parse("5555").unwrap(), fp(1), fp(2), OsRng);
        let (host, _) =
            HostPake::respond(&Pin::parse("5555").unwrap(), fp(1), fp(2), &spake_a, OsRng).unwrap();
        assert_eq!(
            host.handle_proof(&[0; 32]),
            Err(PakeError::ConfirmationFailed)
        );
        assert_eq!(
            HostPake::respond(
                &Pin::parse("5555").unwrap(),
                fp(1),
                fp(2),
                &[0x41; 5],
                OsRng
            )
            .err(),
            Some(PakeError::BadMessage)
        );
        // Side B's message reflected back as side A's is refused.
        let (_c2, spake_a2) = ClientPake::start(&Pin::parse("5555").unwrap(), fp(1), fp(2), OsRng);
        let mut wrong_side = spake_a2;
        wrong_side[0] = b'B';
        assert!(
            HostPake::respond(
                &Pin::parse("5555").unwrap(),
                fp(1),
                fp(2),
                &wrong_side,
                OsRng
            )
            .is_err()
        );
    }

    #[test]
    fn pins_are_four_digits() {
        for _ in 0..200 {
            let p = Pin::random(&mut OsRng);
            assert_eq!(Pin::parse(p.as_str()), Some(p));
        }
        assert_eq!(Pin::parse("123"), None);
        assert_eq!(Pin::parse("12a4"), None);
        assert_eq!(Pin::from_number(7).as_str(), "0007");
        assert_eq!(format!("{:?}", Pin::from_number(7)), "Pin(****)");
    }

    #[test]
    fn fingerprint_hex_round_trip() {
        let f = Fingerprint::of_der(b"cert");
        assert_eq!(Fingerprint::from_hex(&f.to_hex()), Some(f));
        assert_eq!(Fingerprint::from_hex("zz"), None);
    }

    #[test]
    fn gate_order_cooldown_and_single_use() {
        let mut g = PairingGate::new();
        let s = 1_000_000_000u64;
        assert_eq!(g.admit(10 * s, &fp(1)), Err(CloseCode::PAIRING_NOT_ARMED));
        g.arm(Arming {
            pin: Pin::from_number(42),
            for_client: Some(fp(9)),
            expires_ns: None,
        });
        // Within 2 s of the last attempt: rate-limited, even though armed.
        assert_eq!(
            g.admit(11 * s, &fp(9)),
            Err(CloseCode::PAIRING_RATE_LIMITED)
        );
        // Armed for another device: refused without consuming.
        assert_eq!(
            g.admit(14 * s, &fp(1)),
            Err(CloseCode::PAIRING_OTHER_DEVICE)
        );
        assert_eq!(g.admit(17 * s, &fp(9)), Ok(Pin::from_number(42)));
        // Consumed: a second ceremony finds nothing armed.
        assert_eq!(g.admit(20 * s, &fp(9)), Err(CloseCode::PAIRING_NOT_ARMED));
        g.arm(Arming {
            pin: Pin::from_number(1),
            for_client: None,
            expires_ns: Some(25 * s),
        });
        assert_eq!(g.admit(30 * s, &fp(9)), Err(CloseCode::PAIRING_NOT_ARMED));
        assert!(!g.is_armed());
    }
}
