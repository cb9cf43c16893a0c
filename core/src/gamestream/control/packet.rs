//! Encrypted control-message framing (`gamestream-protocol.md` §5.2).
//!
//! ```text
//! 0      2        4        8                 24
//! +------+--------+--------+-----------------+------------------------------------+
//! | 0001 | length | seq    | AES-GCM tag     | ciphertext of: type | len | payload|
//! | LE16 | LE16   | LE32   | 16 bytes        |               LE16   LE16          |
//! +------+--------+--------+-----------------+------------------------------------+
//! ```
//! `length` = 4 + 16 + ciphertext length. The inner "V2" message is type, payload length,
//! payload. AES-128-GCM with `rikey`, no AAD; the IV depends on [`IvMode`].

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::KeyInit;
use aes_gcm::aead::consts::U16;

use super::ControlError;
use super::types::ENCRYPTED;
use crate::crypto::{AeadKey, NONCE_LEN, TAG_LEN};

mod field {
    use std::ops::{Range, RangeFrom};
    pub const MARKER: Range<usize> = 0..2;
    pub const LENGTH: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const TAG: Range<usize> = 8..24;
    pub const CIPHERTEXT: RangeFrom<usize> = 24..;
}

/// Bytes before the ciphertext: marker, length, seq, tag.
pub const HEADER_LEN: usize = 24;
/// Bytes of the inner (plaintext) message header: type and payload length.
pub const INNER_HEADER_LEN: usize = 4;
/// Smallest valid `length` field: seq + tag + inner header.
pub const MIN_LENGTH: u16 = (4 + TAG_LEN + INNER_HEADER_LEN) as u16;
/// Largest plaintext payload one message can carry (the LE16 length field's limit).
pub const MAX_PAYLOAD: usize = u16::MAX as usize - MIN_LENGTH as usize;

/// A view of one encrypted control message (the payload of one ENet packet).
#[derive(Debug, Clone)]
pub struct EncryptedControlPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EncryptedControlPacket<T> {
    /// Wraps `buffer` without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, ControlError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the marker, that `length` is at least [`MIN_LENGTH`] and that the buffer holds
    /// all `4 + length` bytes it announces. After success no accessor panics.
    pub fn check_len(&self) -> Result<(), ControlError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN + INNER_HEADER_LEN {
            return Err(ControlError::Truncated);
        }
        if self.marker() != ENCRYPTED {
            return Err(ControlError::NotEncrypted(self.marker()));
        }
        let length = self.length();
        if length < MIN_LENGTH {
            return Err(ControlError::Runt(length));
        }
        if b.len() < 4 + length as usize {
            return Err(ControlError::Truncated);
        }
        Ok(())
    }

    /// The marker (`0x0001` for encrypted messages).
    pub fn marker(&self) -> u16 {
        le16(&self.buffer.as_ref()[field::MARKER])
    }

    /// The `length` field: 4 + 16 + ciphertext length.
    pub fn length(&self) -> u16 {
        le16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// The sender's sequence number.
    pub fn seq(&self) -> u32 {
        le32(&self.buffer.as_ref()[field::SEQ])
    }

    /// The AES-GCM tag.
    pub fn tag(&self) -> &[u8; TAG_LEN] {
        self.buffer.as_ref()[field::TAG]
            .try_into()
            .expect("16-byte range")
    }

    /// The ciphertext (exactly `length - 20` bytes).
    pub fn ciphertext(&self) -> &[u8] {
        let end = 4 + self.length() as usize;
        &self.buffer.as_ref()[field::CIPHERTEXT.start..end]
    }

    /// Bytes of the whole message (`4 + length`).
    pub fn total_len(&self) -> usize {
        4 + self.length() as usize
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EncryptedControlPacket<T> {
    /// Writes the `0x0001` marker.
    pub fn set_marker(&mut self) {
        self.buffer.as_mut()[field::MARKER].copy_from_slice(&ENCRYPTED.to_le_bytes());
    }

    /// Writes the `length` field.
    pub fn set_length(&mut self, length: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&length.to_le_bytes());
    }

    /// Writes the sequence number.
    pub fn set_seq(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_le_bytes());
    }

    /// Writes the tag.
    pub fn set_tag(&mut self, tag: &[u8; TAG_LEN]) {
        self.buffer.as_mut()[field::TAG].copy_from_slice(tag);
    }
}

/// Who sent a control message; part of the v2 IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to host (`'C'`).
    ClientToHost,
    /// Host to client (`'H'`).
    HostToClient,
}

/// Which IV construction the session negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IvMode {
    /// Control encryption v2 (`encryptionEnabled & 0x01`; what every current client uses
    /// with a host that lists it): 12-byte IV `LE32 seq, 6 zero bytes, 'C'|'H', 'C'`.
    V2,
    /// GFE's legacy 16-byte IV: low byte of `seq`, then 15 zero bytes.
    Legacy,
}

/// The v2 IV for `seq` sent in direction `dir`.
pub fn v2_iv(dir: Direction, seq: u32) -> [u8; NONCE_LEN] {
    let mut iv = [0u8; NONCE_LEN];
    iv[..4].copy_from_slice(&seq.to_le_bytes());
    iv[10] = match dir {
        Direction::ClientToHost => b'C',
        Direction::HostToClient => b'H',
    };
    iv[11] = b'C';
    iv
}

type LegacyGcm = aes_gcm::AesGcm<aes_gcm::aes::Aes128, U16>;

/// One decrypted control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlMessage<'a> {
    /// The sender's sequence number from the header.
    pub seq: u32,
    /// Inner message type (see [`super::types`]).
    pub msg_type: u16,
    /// Inner payload.
    pub payload: &'a [u8],
}

/// Seals and opens control messages of one session (key `rikey`).
pub struct ControlCipher {
    mode: IvMode,
    gcm: AeadKey,
    legacy: LegacyGcm,
}

impl std::fmt::Debug for ControlCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlCipher")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ControlCipher {
    /// A cipher for `rikey` using IV construction `mode`.
    pub fn new(rikey: &[u8; 16], mode: IvMode) -> Self {
        Self {
            mode,
            gcm: AeadKey::aes128_gcm(rikey),
            legacy: LegacyGcm::new(rikey.into()),
        }
    }

    /// The IV construction in use.
    pub fn mode(&self) -> IvMode {
        self.mode
    }

    /// Bytes a sealed message with a `payload_len`-byte payload occupies.
    pub const fn sealed_len(payload_len: usize) -> usize {
        HEADER_LEN + INNER_HEADER_LEN + payload_len
    }

    /// Seals one message (`msg_type`, `payload`) with sequence number `seq` into `out` and
    /// returns the bytes written (the ENet packet payload).
    pub fn seal(
        &self,
        dir: Direction,
        seq: u32,
        msg_type: u16,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ControlError> {
        let total = self.seal_with(dir, seq, msg_type, payload.len(), out, |p| {
            p.copy_from_slice(payload)
        })?;
        Ok(total)
    }

    /// Like [`seal`](Self::seal), but `fill` writes the `payload_len` payload bytes straight
    /// into `out` (no intermediate buffer).
    pub fn seal_with(
        &self,
        dir: Direction,
        seq: u32,
        msg_type: u16,
        payload_len: usize,
        out: &mut [u8],
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<usize, ControlError> {
        if payload_len > MAX_PAYLOAD {
            return Err(ControlError::PayloadTooLong(payload_len));
        }
        let total = Self::sealed_len(payload_len);
        if out.len() < total {
            return Err(ControlError::BufferTooSmall {
                need: total,
                have: out.len(),
            });
        }
        let out = &mut out[..total];
        {
            let inner = &mut out[HEADER_LEN..];
            inner[0..2].copy_from_slice(&msg_type.to_le_bytes());
            inner[2..4].copy_from_slice(&(payload_len as u16).to_le_bytes());
            fill(&mut inner[INNER_HEADER_LEN..]);
        }
        let tag = match self.mode {
            IvMode::V2 => self
                .gcm
                .seal_in_place(&v2_iv(dir, seq), &[], &mut out[HEADER_LEN..]),
            IvMode::Legacy => {
                let iv = legacy_iv(seq);
                let tag = self
                    .legacy
                    .encrypt_in_place_detached((&iv).into(), &[], &mut out[HEADER_LEN..])
                    .map_err(|_| ControlError::Crypto)?;
                tag.into()
            }
        };
        let mut p = EncryptedControlPacket::new_unchecked(out);
        p.set_marker();
        p.set_length((total - 4) as u16);
        p.set_seq(seq);
        p.set_tag(&tag);
        Ok(total)
    }

    /// Opens one message sent in direction `dir`, decrypting into `scratch` (at least the
    /// ciphertext length, i.e. `packet.len() - 24` bytes), and returns it borrowing `scratch`.
    pub fn open<'s>(
        &self,
        dir: Direction,
        packet: &[u8],
        scratch: &'s mut [u8],
    ) -> Result<ControlMessage<'s>, ControlError> {
        let p = EncryptedControlPacket::new_checked(packet)?;
        let ct = p.ciphertext();
        if scratch.len() < ct.len() {
            return Err(ControlError::BufferTooSmall {
                need: ct.len(),
                have: scratch.len(),
            });
        }
        let plain = &mut scratch[..ct.len()];
        match self.mode {
            IvMode::V2 => self
                .gcm
                .open_to(&v2_iv(dir, p.seq()), &[], ct, p.tag(), plain)
                .map_err(|_| ControlError::Authentication)?,
            IvMode::Legacy => {
                plain.copy_from_slice(ct);
                let iv = legacy_iv(p.seq());
                self.legacy
                    .decrypt_in_place_detached((&iv).into(), &[], plain, p.tag().into())
                    .map_err(|_| ControlError::Authentication)?;
            }
        }
        let plain: &'s [u8] = plain;
        let msg_type = le16(&plain[0..2]);
        let len = le16(&plain[2..4]) as usize;
        if msg_type == ENCRYPTED {
            return Err(ControlError::NestedEncrypted);
        }
        let payload = plain[INNER_HEADER_LEN..]
            .get(..len)
            .ok_or(ControlError::InnerLength {
                claimed: len,
                available: plain.len() - 4,
            })?;
        Ok(ControlMessage {
            seq: p.seq(),
            msg_type,
            payload,
        })
    }
}

fn legacy_iv(seq: u32) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[0] = seq as u8;
    iv
}

pub(crate) fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

pub(crate) fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
