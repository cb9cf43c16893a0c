//! AEAD with detached 16-byte tags, sealed and opened in place.
//!
//! One type, [`AeadKey`], serves both protocols: GameStream (AES-128-GCM for video, control
//! and RTSP) and punktfunk/1 (AES-128-GCM, or ChaCha20-Poly1305 for clients without AES
//! hardware). The implementation is aws-lc-rs, whose AES-GCM uses VAES/VPCLMULQDQ where the
//! CPU has them; tests cross-check it against RustCrypto's independent implementations.

use aws_lc_rs::aead::{AES_128_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use super::CryptoError;

/// Bytes of every AEAD nonce (96 bits).
pub const NONCE_LEN: usize = 12;
/// Bytes of every AEAD tag (128 bits).
pub const TAG_LEN: usize = 16;

/// The AEAD algorithms the protocols use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AeadAlgorithm {
    /// AES-128-GCM, 16-byte key.
    Aes128Gcm,
    /// ChaCha20-Poly1305, 32-byte key.
    ChaCha20Poly1305,
}

impl AeadAlgorithm {
    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::ChaCha20Poly1305 => 32,
        }
    }
}

/// A key ready to seal and open; cheap to share between threads (`Send + Sync`).
pub struct AeadKey {
    key: LessSafeKey,
    algorithm: AeadAlgorithm,
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AeadKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl AeadKey {
    /// Builds a key; fails if `key` has the wrong length for `algorithm`.
    pub fn new(algorithm: AeadAlgorithm, key: &[u8]) -> Result<Self, CryptoError> {
        let want = algorithm.key_len();
        if key.len() != want {
            return Err(CryptoError::KeyLength {
                got: key.len(),
                want,
            });
        }
        let alg = match algorithm {
            AeadAlgorithm::Aes128Gcm => &AES_128_GCM,
            AeadAlgorithm::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        };
        let unbound = UnboundKey::new(alg, key).map_err(|_| CryptoError::KeyLength {
            got: key.len(),
            want,
        })?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            algorithm,
        })
    }

    /// AES-128-GCM key.
    pub fn aes128_gcm(key: &[u8; 16]) -> Self {
        Self::new(AeadAlgorithm::Aes128Gcm, key).expect("16-byte key is valid for AES-128-GCM")
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> AeadAlgorithm {
        self.algorithm
    }

    /// Encrypts `in_out` in place and returns the tag. The caller places the tag where its
    /// wire format wants it (after the ciphertext in punktfunk/1, before it in GameStream).
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                in_out,
            )
            // aws-lc only fails for inputs beyond 2^36 bytes, which no datagram reaches.
            .expect("AEAD input within size limits");
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Decrypts `ciphertext_and_tag` (ciphertext followed by its 16-byte tag) in place and
    /// returns the plaintext part: the punktfunk/1 layout, with no copy.
    pub fn open_in_place<'a>(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &'a mut [u8],
    ) -> Result<&'a mut [u8], CryptoError> {
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        self.key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                ciphertext_and_tag,
            )
            .map_err(|_| CryptoError::Authentication)
    }

    /// Decrypts `ciphertext` into `out` (same length) after checking `tag`.
    pub fn open_to(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        if out.len() != ciphertext.len() {
            return Err(CryptoError::BufferTooSmall {
                need: ciphertext.len(),
                have: out.len(),
            });
        }
        self.key
            .open_separate_gather(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                ciphertext,
                tag,
                out,
            )
            .map_err(|_| {
                out.fill(0);
                CryptoError::Authentication
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::{AeadInPlace, KeyInit};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// gamestream-protocol.md Appendix B.2: host-to-client termination, control stream v2.
    #[test]
    fn gamestream_control_vector() {
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        let k = AeadKey::aes128_gcm(&key);
        let mut nonce = [0u8; 12];
        nonce[10] = b'H';
        nonce[11] = b'C';
        let mut buf = hex("0901040080030023");
        let tag = k.seal_in_place(&nonce, &[], &mut buf);
        assert_eq!(tag.to_vec(), hex("b835a2b8ace857ddcbad385dce166aa9"));
        assert_eq!(buf, hex("f2dd4edacf3be801"));
        let mut out = [0u8; 8];
        k.open_to(&nonce, &[], &buf, &tag, &mut out).unwrap();
        assert_eq!(out.to_vec(), hex("0901040080030023"));
    }

    #[test]
    fn cross_checked_with_rustcrypto_both_ways() {
        let key = [0x42u8; 16];
        let ours = AeadKey::aes128_gcm(&key);
        let theirs = aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap();
        let ckey = [0x17u8; 32];
        let ours_c = AeadKey::new(AeadAlgorithm::ChaCha20Poly1305, &ckey).unwrap();
        let theirs_c = chacha20poly1305::ChaCha20Poly1305::new_from_slice(&ckey).unwrap();
        for len in [0usize, 1, 15, 16, 17, 1400, 9000] {
            let nonce: [u8; 12] = std::array::from_fn(|i| (i * 7 + len) as u8);
            let aad = (len as u64).to_be_bytes();
            let pt: Vec<u8> = (0..len).map(|i| (i * 31 + 5) as u8).collect();

            // ours seals, RustCrypto opens (AES-GCM)
            let mut buf = pt.clone();
            let tag = ours.seal_in_place(&nonce, &aad, &mut buf);
            let mut theirs_buf = buf.clone();
            theirs
                .decrypt_in_place_detached((&nonce).into(), &aad, &mut theirs_buf, (&tag).into())
                .unwrap();
            assert_eq!(theirs_buf, pt);
            // RustCrypto seals, ours opens (trailing tag, in place)
            let mut buf2 = pt.clone();
            let t2 = theirs
                .encrypt_in_place_detached((&nonce).into(), &aad, &mut buf2)
                .unwrap();
            buf2.extend_from_slice(&t2);
            let opened = ours.open_in_place(&nonce, &aad, &mut buf2).unwrap();
            assert_eq!(opened, &pt[..]);

            // ChaCha20-Poly1305 both ways
            let mut buf3 = pt.clone();
            let tag3 = ours_c.seal_in_place(&nonce, &aad, &mut buf3);
            theirs_c
                .decrypt_in_place_detached((&nonce).into(), &aad, &mut buf3, (&tag3).into())
                .unwrap();
            assert_eq!(buf3, pt);
        }
    }

    #[test]
    fn tampering_is_rejected() {
        let k = AeadKey::aes128_gcm(&[1u8; 16]);
        let nonce = [2u8; 12];
        let mut buf = vec![5u8; 64];
        let tag = k.seal_in_place(&nonce, b"aad", &mut buf);
        let mut out = vec![0u8; 64];
        // flipped ciphertext bit, wrong AAD, wrong nonce, wrong tag: all fail
        let mut bad = buf.clone();
        bad[10] ^= 1;
        assert_eq!(
            k.open_to(&nonce, b"aad", &bad, &tag, &mut out),
            Err(CryptoError::Authentication)
        );
        assert_eq!(
            k.open_to(&nonce, b"aaD", &buf, &tag, &mut out),
            Err(CryptoError::Authentication)
        );
        assert_eq!(
            k.open_to(&[3u8; 12], b"aad", &buf, &tag, &mut out),
            Err(CryptoError::Authentication)
        );
        let mut bad_tag = tag;
        bad_tag[0] ^= 0x80;
        assert_eq!(
            k.open_to(&nonce, b"aad", &buf, &bad_tag, &mut out),
            Err(CryptoError::Authentication)
        );
        assert!(
            out.iter().all(|&b| b == 0),
            "no plaintext released on failure"
        );
        assert_eq!(
            k.open_in_place(&nonce, b"aad", &mut [0u8; 5]),
            Err(CryptoError::Authentication)
        );
        assert!(AeadKey::new(AeadAlgorithm::Aes128Gcm, &[0u8; 32]).is_err());
        k.open_to(&nonce, b"aad", &buf, &tag, &mut out).unwrap();
        assert_eq!(out, vec![5u8; 64]);
    }
}
