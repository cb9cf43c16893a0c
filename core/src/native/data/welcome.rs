//! The data-plane settings a Welcome (spec §4.3) carries, turned into sealer and
//! reassembler configurations for the host and client sides.

use crate::crypto::{AeadAlgorithm, AeadKey, CryptoError};
use crate::native::control::handshake::WelcomeRepr;

use super::DataCipher;
use super::geometry::FecScheme;
use super::reassembler::ReassemblerConfig;
use super::sealer::SealerConfig;

/// The smallest `max_frame_bytes` a client derives (8 MiB).
pub const MIN_MAX_FRAME_BYTES: usize = 8 << 20;
/// The largest `max_frame_bytes` a client derives, and its value when the bitrate is 0.
pub const MAX_MAX_FRAME_BYTES: usize = 64 << 20;

/// A Welcome whose data-plane fields cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WelcomeError {
    /// `cipher` is neither 0 (AES-128-GCM) nor 1 (ChaCha20-Poly1305).
    #[error("unknown cipher {0}")]
    UnknownCipher(u8),
    /// `fec_scheme` is neither 0 (GF(2⁸)) nor 1 (GF(2¹⁶)).
    #[error("unknown FEC scheme {0}")]
    UnknownFecScheme(u8),
    /// The key could not be built.
    #[error("key: {0}")]
    Key(#[from] CryptoError),
}

/// The client's AU size limit (`session_config`): 4 × (bitrate / fps) clamped to
/// [8 MiB, 64 MiB]; 64 MiB when the bitrate is 0 (unknown).
pub fn max_frame_bytes(bitrate_kbps: u32, refresh_hz: u32) -> usize {
    if bitrate_kbps == 0 {
        return MAX_MAX_FRAME_BYTES;
    }
    let per_frame = u64::from(bitrate_kbps) * 1000 / 8 / u64::from(refresh_hz.max(1));
    (per_frame.saturating_mul(4) as usize).clamp(MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES)
}

impl DataCipher {
    /// The protection a Welcome announces (`encrypt`, `cipher`, `key`/`chacha_key`, `salt`).
    pub fn from_welcome(w: &WelcomeRepr) -> Result<Self, WelcomeError> {
        if !w.encrypt {
            return Ok(Self::Plaintext);
        }
        let key = match w.cipher {
            0 => AeadKey::new(AeadAlgorithm::Aes128Gcm, &w.key)?,
            1 => AeadKey::new(AeadAlgorithm::ChaCha20Poly1305, &w.chacha_key)?,
            c => return Err(WelcomeError::UnknownCipher(c)),
        };
        Ok(Self::Sealed { key, salt: w.salt })
    }
}

fn scheme(w: &WelcomeRepr) -> Result<FecScheme, WelcomeError> {
    FecScheme::from_wire(w.fec_scheme).ok_or(WelcomeError::UnknownFecScheme(w.fec_scheme))
}

impl SealerConfig {
    /// The host's sealer settings for the session a Welcome describes.
    pub fn from_welcome(w: &WelcomeRepr) -> Result<Self, WelcomeError> {
        let mut c = Self::new(
            DataCipher::from_welcome(w)?,
            usize::from(w.shard_payload),
            usize::from(w.max_data_per_block),
        );
        c.fec_scheme = scheme(w)?;
        Ok(c)
    }
}

impl ReassemblerConfig {
    /// The client's reassembler settings for the session a Welcome describes, including
    /// `max_frame_bytes` derived from its bitrate and refresh rate.
    pub fn from_welcome(w: &WelcomeRepr) -> Result<Self, WelcomeError> {
        let mut c = Self::new(
            DataCipher::from_welcome(w)?,
            usize::from(w.shard_payload),
            usize::from(w.max_data_per_block),
        );
        c.fec_scheme = scheme(w)?;
        c.max_frame_bytes = max_frame_bytes(w.bitrate_kbps, w.mode.refresh_hz);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_frame_bytes_follows_session_config() {
        assert_eq!(max_frame_bytes(0, 60), 64 << 20);
        // 20 Mbit/s at 60 fps: 41 666 B per frame × 4 → clamped up to 8 MiB
        assert_eq!(max_frame_bytes(20_000, 60), 8 << 20);
        // 2 Gbit/s at 60 fps: 4 166 666 × 4 = 16 666 664 B
        assert_eq!(max_frame_bytes(2_000_000, 60), 16_666_664);
        assert_eq!(max_frame_bytes(u32::MAX, 1), 64 << 20);
        assert_eq!(max_frame_bytes(100_000, 0), max_frame_bytes(100_000, 1));
    }
}
