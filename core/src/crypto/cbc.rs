//! AES-128-CBC with PKCS#7 padding (GameStream audio, spec §7.4).
//!
//! The ciphertext is always 1–16 bytes longer than the plaintext. Both directions write into
//! caller-provided buffers; nothing allocates.

use aes::Aes128;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};

use super::CryptoError;

/// Cipher block size in bytes.
pub const BLOCK_LEN: usize = 16;

/// Ciphertext length for `plaintext_len` bytes: rounded up to the next block, always adding
/// at least one byte of padding.
pub const fn padded_len(plaintext_len: usize) -> usize {
    (plaintext_len / BLOCK_LEN + 1) * BLOCK_LEN
}

/// Encrypts `plaintext` into `out` and returns the ciphertext length.
pub fn encrypt(
    key: &[u8; 16],
    iv: &[u8; 16],
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<usize, CryptoError> {
    let need = padded_len(plaintext.len());
    if out.len() < need {
        return Err(CryptoError::BufferTooSmall {
            need,
            have: out.len(),
        });
    }
    let enc = cbc::Encryptor::<Aes128>::new(key.into(), iv.into());
    let ct = enc
        .encrypt_padded_b2b_mut::<Pkcs7>(plaintext, &mut out[..need])
        .map_err(|_| CryptoError::BufferTooSmall { need, have: need })?;
    Ok(ct.len())
}

/// Decrypts `ciphertext` into `out` and returns the plaintext length (padding removed).
pub fn decrypt(
    key: &[u8; 16],
    iv: &[u8; 16],
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<usize, CryptoError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK_LEN) {
        return Err(CryptoError::Padding);
    }
    if out.len() < ciphertext.len() {
        return Err(CryptoError::BufferTooSmall {
            need: ciphertext.len(),
            have: out.len(),
        });
    }
    let dec = cbc::Decryptor::<Aes128>::new(key.into(), iv.into());
    let pt = dec
        .decrypt_padded_b2b_mut::<Pkcs7>(ciphertext, &mut out[..ciphertext.len()])
        .map_err(|_| CryptoError::Padding)?;
    Ok(pt.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// gamestream-protocol.md Appendix B.2, audio: rikeyid 0x12345678, sequence 1.
    #[test]
    fn gamestream_audio_vector() {
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&0x1234_5679u32.to_be_bytes());
        let opus = hex("fcfffe01020304050607");
        let mut out = [0u8; 32];
        let n = encrypt(&key, &iv, &opus, &mut out).unwrap();
        assert_eq!(&out[..n], &hex("4782a67924df115fd99272f6c77c318f")[..]);
        let mut back = [0u8; 32];
        let m = decrypt(&key, &iv, &out[..n], &mut back).unwrap();
        assert_eq!(&back[..m], &opus[..]);
    }

    #[test]
    fn padding_always_added_and_bad_input_rejected() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        for len in 0..40 {
            let pt: Vec<u8> = (0..len as u8).collect();
            let mut ct = vec![0u8; padded_len(len)];
            let n = encrypt(&key, &iv, &pt, &mut ct).unwrap();
            assert_eq!(n, padded_len(len));
            assert!(n > len && n - len <= 16);
            let mut back = vec![0u8; n];
            let m = decrypt(&key, &iv, &ct, &mut back).unwrap();
            assert_eq!(&back[..m], &pt[..]);
        }
        let mut out = [0u8; 64];
        assert_eq!(
            decrypt(&key, &iv, &[1u8; 15], &mut out),
            Err(CryptoError::Padding)
        );
        assert_eq!(decrypt(&key, &iv, &[], &mut out), Err(CryptoError::Padding));
        assert!(matches!(
            encrypt(&key, &iv, &[0u8; 16], &mut [0u8; 16]),
            Err(CryptoError::BufferTooSmall { need: 32, have: 16 })
        ));
    }
}
