//! Cryptographic primitives shared by both protocols.
//!
//! - [`aead`]: AES-128-GCM and ChaCha20-Poly1305 with detached tags, sealing in place
//!   (aws-lc-rs: VAES/VPCLMULQDQ on the hot path; design-notes §3).
//! - [`cbc`]: AES-128-CBC with PKCS#7 padding, used by GameStream audio.

pub mod aead;
pub mod cbc;

pub use aead::{AeadAlgorithm, AeadKey, NONCE_LEN, TAG_LEN};

/// Errors from the cryptographic primitives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key has the wrong length for the algorithm.
    #[error("key is {got} bytes, the algorithm needs {want}")]
    KeyLength {
        /// Bytes given.
        got: usize,
        /// Bytes the algorithm needs.
        want: usize,
    },
    /// Authentication failed: the ciphertext, tag, nonce or AAD was altered, or the key is wrong.
    #[error("authentication failed")]
    Authentication,
    /// A buffer is too small for the output (ciphertext plus padding or tag).
    #[error("buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// CBC ciphertext is not a whole number of blocks, or its padding is invalid.
    #[error("invalid CBC ciphertext or padding")]
    Padding,
}
