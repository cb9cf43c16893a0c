//! Encrypted RTSP (`rtspenc://`, gamestream-protocol.md §4.7).
//!
//! Every message in both directions is one frame:
//!
//! ```text
//! +--------------------------------+--------------------------------+
//! | typeAndLength (BE32)           | sequenceNumber (BE32)          |
//! | bit 31 = encrypted, 0-30 = len |                                |
//! +--------------------------------+--------------------------------+
//! | AES-128-GCM tag (16 bytes)                                      |
//! +-----------------------------------------------------------------+
//! | ciphertext of the whole plaintext RTSP message (len bytes)      |
//! +-----------------------------------------------------------------+
//! ```
//!
//! Key = `rikey`, no AAD, IV = LE32(seq) ‖ 6 × 0 ‖ direction (`C`/`H`) ‖ `R`.

use crate::crypto::{AeadKey, NONCE_LEN, TAG_LEN};

/// Bytes before the ciphertext: type/length, sequence number, tag.
pub const HEADER_LEN: usize = 8 + TAG_LEN;
/// Bit 31 of `typeAndLength`: the message is encrypted.
pub const ENCRYPTED_FLAG: u32 = 0x8000_0000;
/// Largest plaintext accepted when opening (the client rejects responses above 1 MiB).
pub const MAX_PLAINTEXT_LEN: usize = 1 << 20;

/// Who sent a message; selects byte 10 of the IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to host (`C`).
    ClientToHost,
    /// Host to client (`H`).
    HostToClient,
}

impl Direction {
    fn byte(self) -> u8 {
        match self {
            Self::ClientToHost => b'C',
            Self::HostToClient => b'H',
        }
    }
}

/// Why an encrypted RTSP frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncError {
    /// Bit 31 of `typeAndLength` is clear: a plaintext message on an encrypted connection.
    #[error("message is not marked encrypted")]
    NotEncrypted,
    /// The declared length exceeds [`MAX_PLAINTEXT_LEN`].
    #[error("declared length {0} exceeds the limit")]
    TooLong(u32),
    /// The frame is not exactly header + declared length bytes.
    #[error("frame length {got} does not match the declared {want}")]
    Length {
        /// Bytes present.
        got: usize,
        /// Bytes the header declares.
        want: usize,
    },
    /// The GCM tag did not verify.
    #[error("authentication failed")]
    Authentication,
    /// The output buffer is too small.
    #[error("output buffer too small: need {0} bytes")]
    BufferTooSmall(usize),
}

/// The view of a frame's fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Plaintext length (bits 0-30 of `typeAndLength`).
    pub len: u32,
    /// Sequence number.
    pub seq: u32,
}

impl FrameHeader {
    /// Reads the header from the first 8 bytes; `Ok(None)` if fewer have arrived.
    pub fn parse(buf: &[u8]) -> Result<Option<Self>, EncError> {
        let Some(b) = buf.get(..8) else {
            return Ok(None);
        };
        let type_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if type_len & ENCRYPTED_FLAG == 0 {
            return Err(EncError::NotEncrypted);
        }
        let len = type_len & !ENCRYPTED_FLAG;
        if len as usize > MAX_PLAINTEXT_LEN {
            return Err(EncError::TooLong(len));
        }
        Ok(Some(Self {
            len,
            seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }))
    }

    /// Total frame bytes: header plus ciphertext.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.len as usize
    }
}

/// How many bytes the frame at the start of `buf` occupies, once its header has arrived.
/// A reader reads exactly this many bytes (§4.7).
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, EncError> {
    Ok(FrameHeader::parse(buf)?.map(|h| h.frame_len()))
}

/// Seals and opens `rtspenc` frames with one session key.
#[derive(Debug)]
pub struct RtspCipher {
    key: AeadKey,
}

/// The IV of §4.7.
pub fn nonce(seq: u32, direction: Direction) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[..4].copy_from_slice(&seq.to_le_bytes());
    n[10] = direction.byte();
    n[11] = b'R';
    n
}

impl RtspCipher {
    /// A cipher for the launch session's `rikey`.
    pub fn new(rikey: &[u8; 16]) -> Self {
        Self {
            key: AeadKey::aes128_gcm(rikey),
        }
    }

    /// Bytes [`RtspCipher::seal`] writes for a plaintext of `plaintext_len` bytes.
    pub fn sealed_len(plaintext_len: usize) -> usize {
        HEADER_LEN + plaintext_len
    }

    /// Seals `plaintext` as frame `seq` from `direction` into `out`; returns bytes written.
    pub fn seal(
        &self,
        seq: u32,
        direction: Direction,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EncError> {
        let total = Self::sealed_len(plaintext.len());
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(EncError::TooLong(plaintext.len() as u32));
        }
        let Some(out) = out.get_mut(..total) else {
            return Err(EncError::BufferTooSmall(total));
        };
        out[..4].copy_from_slice(&(ENCRYPTED_FLAG | plaintext.len() as u32).to_be_bytes());
        out[4..8].copy_from_slice(&seq.to_be_bytes());
        let body = &mut out[HEADER_LEN..];
        body.copy_from_slice(plaintext);
        let tag = self.key.seal_in_place(&nonce(seq, direction), &[], body);
        out[8..HEADER_LEN].copy_from_slice(&tag);
        Ok(total)
    }

    /// Convenience: seals into a new vector.
    pub fn seal_to_vec(&self, seq: u32, direction: Direction, plaintext: &[u8]) -> Vec<u8> {
        let mut v = vec![0; Self::sealed_len(plaintext.len())];
        // The buffer has exactly the needed size and the length was checked by the caller's
        // message builder; a too-long plaintext yields an empty frame.
        match self.seal(seq, direction, plaintext, &mut v) {
            Ok(n) => v.truncate(n),
            Err(_) => v.clear(),
        }
        v
    }

    /// Opens one complete frame (exactly header + declared length bytes) sent from
    /// `direction`; writes the plaintext into `out` and returns (sequence number, length).
    pub fn open(
        &self,
        frame: &[u8],
        direction: Direction,
        out: &mut [u8],
    ) -> Result<(u32, usize), EncError> {
        let header = FrameHeader::parse(frame)?.ok_or(EncError::Length {
            got: frame.len(),
            want: HEADER_LEN,
        })?;
        if frame.len() != header.frame_len() {
            return Err(EncError::Length {
                got: frame.len(),
                want: header.frame_len(),
            });
        }
        let len = header.len as usize;
        let Some(out) = out.get_mut(..len) else {
            return Err(EncError::BufferTooSmall(len));
        };
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&frame[8..HEADER_LEN]);
        self.key
            .open_to(
                &nonce(header.seq, direction),
                &[],
                &frame[HEADER_LEN..],
                &tag,
                out,
            )
            .map_err(|_| EncError::Authentication)?;
        Ok((header.seq, len))
    }

    /// Convenience: opens into a new vector.
    pub fn open_to_vec(
        &self,
        frame: &[u8],
        direction: Direction,
    ) -> Result<(u32, Vec<u8>), EncError> {
        let len = FrameHeader::parse(frame)?
            .map(|h| h.len as usize)
            .unwrap_or(0);
        let mut v = vec![0; len];
        let (seq, n) = self.open(frame, direction, &mut v)?;
        v.truncate(n);
        Ok((seq, v))
    }
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

    const VECTOR_PLAIN: &[u8] = b"OPTIONS rtspenc://192.168.1.20:48010 RTSP/1.0\r\nCSeq: 1\r\nX-GS-ClientVersion: 14\r\nHost: 192.168.1.20\r\n\r\n";

    /// gamestream-protocol.md Appendix B.2, encrypted RTSP vector.
    #[test]
    fn appendix_b2_vector() {
        assert_eq!(VECTOR_PLAIN.len(), 102);
        assert_eq!(
            nonce(1, Direction::ClientToHost).to_vec(),
            hex("010000000000000000004352")
        );
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let c = RtspCipher::new(&key);
        let frame = c.seal_to_vec(1, Direction::ClientToHost, VECTOR_PLAIN);
        assert_eq!(frame.len(), 24 + 102);
        assert_eq!(&frame[..8], &hex("8000006600000001")[..]);
        assert_eq!(&frame[8..24], &hex("703688f78df0fb1b4a585cbdf9765eda")[..]);
        assert_eq!(&frame[24..36], &hex("9fe452003a42126629e9a38d")[..]);
        assert_eq!(frame_len(&frame).unwrap(), Some(frame.len()));
        let (seq, plain) = c.open_to_vec(&frame, Direction::ClientToHost).unwrap();
        assert_eq!(seq, 1);
        assert_eq!(plain, VECTOR_PLAIN);
    }

    #[test]
    fn refuses_tampering_wrong_direction_and_bad_framing() {
        let key = [7u8; 16];
        let c = RtspCipher::new(&key);
        let frame = c.seal_to_vec(
            5,
            Direction::HostToClient,
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n",
        );
        assert!(c.open_to_vec(&frame, Direction::HostToClient).is_ok());
        assert_eq!(
            c.open_to_vec(&frame, Direction::ClientToHost).unwrap_err(),
            EncError::Authentication
        );
        let mut bad = frame.clone();
        bad[30] ^= 1;
        assert_eq!(
            c.open_to_vec(&bad, Direction::HostToClient).unwrap_err(),
            EncError::Authentication
        );
        let mut plain = frame.clone();
        plain[0] &= 0x7f;
        assert_eq!(
            c.open_to_vec(&plain, Direction::HostToClient).unwrap_err(),
            EncError::NotEncrypted
        );
        let mut long = frame.clone();
        long.push(0);
        assert!(matches!(
            c.open_to_vec(&long, Direction::HostToClient),
            Err(EncError::Length { .. })
        ));
        assert_eq!(frame_len(&frame[..7]).unwrap(), None);
        assert_eq!(
            frame_len(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).unwrap_err(),
            EncError::TooLong(0x7fff_ffff)
        );
        let mut out = [0u8; 3];
        assert!(matches!(
            c.open(&frame, Direction::HostToClient, &mut out),
            Err(EncError::BufferTooSmall(_))
        ));
    }
}
