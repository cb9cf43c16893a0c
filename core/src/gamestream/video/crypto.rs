//! Video encryption prefix (`gamestream-protocol.md` §6.7).
//!
//! ```text
//! 0             12          16              32
//! +-------------+-----------+---------------+-----------------------------+
//! | IV          | frameIdx  | AES-GCM tag   | ciphertext of the S-byte    |
//! | LE64 ctr,   | LE32      |               | plaintext shard             |
//! | 0 0 0, 'V'  |           |               |                             |
//! +-------------+-----------+---------------+-----------------------------+
//! ```

use super::VideoError;
use crate::crypto::{AeadKey, NONCE_LEN, TAG_LEN};

/// Bytes of the encryption prefix.
pub const PREFIX_LEN: usize = 32;

/// IV for packet counter `counter`: LE64 counter, three zero bytes, `'V'`.
pub fn video_iv(counter: u64) -> [u8; NONCE_LEN] {
    let mut iv = [0u8; NONCE_LEN];
    iv[..8].copy_from_slice(&counter.to_le_bytes());
    iv[11] = b'V';
    iv
}

/// Encrypts the plaintext shard in `dgram[32..]` in place and fills the prefix.
pub fn seal_shard(key: &AeadKey, counter: u64, frame_index: u32, dgram: &mut [u8]) {
    let iv = video_iv(counter);
    let (prefix, body) = dgram.split_at_mut(PREFIX_LEN);
    let tag = key.seal_in_place(&iv, &[], body);
    prefix[..NONCE_LEN].copy_from_slice(&iv);
    prefix[12..16].copy_from_slice(&frame_index.to_le_bytes());
    prefix[16..32].copy_from_slice(&tag);
}

/// Decrypts `dgram` (prefix + ciphertext) into `out` (same length as the ciphertext) and
/// returns the plaintext frame index copy from the prefix.
pub fn open_shard(key: &AeadKey, dgram: &[u8], out: &mut [u8]) -> Result<u32, VideoError> {
    if dgram.len() < PREFIX_LEN || out.len() != dgram.len() - PREFIX_LEN {
        return Err(VideoError::Truncated);
    }
    let iv: [u8; NONCE_LEN] = dgram[..NONCE_LEN].try_into().expect("12 bytes");
    let tag: [u8; TAG_LEN] = dgram[16..32].try_into().expect("16 bytes");
    key.open_to(&iv, &[], &dgram[PREFIX_LEN..], &tag, out)
        .map_err(|_| VideoError::Authentication)?;
    Ok(u32::from_le_bytes(
        dgram[12..16].try_into().expect("4 bytes"),
    ))
}
