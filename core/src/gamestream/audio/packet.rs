//! Audio RTP data packets and audio FEC packets (`gamestream-protocol.md` §7.1, §7.5).
//!
//! ```text
//! data:  0x80 | PT 97 | seq BE16 | timestamp ms BE32 | SSRC 0 | Opus payload (or CBC ciphertext)
//! FEC:   0x80 | PT 127 | seq BE16 | 0 (BE32) | 0 (BE32)
//!        | shardIndex u8 | PT 97 | baseSeq BE16 | baseTimestamp BE32 | SSRC 0 | parity
//! ```

use super::AudioError;

/// RTP header bytes.
pub const RTP_LEN: usize = 12;
/// FEC packet header bytes (RTP + FEC header).
pub const FEC_HEADER_LEN: usize = 24;
/// RTP byte 0 (version 2, no extension).
pub const RTP_FLAGS_VALUE: u8 = 0x80;
/// Payload type of audio data packets.
pub const PT_AUDIO: u8 = 97;
/// Payload type of audio FEC packets.
pub const PT_FEC: u8 = 127;
/// Largest datagram the client accepts.
pub const MAX_DATAGRAM: usize = 1400;

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A view of an audio RTP packet (data or FEC; the payload type tells which).
#[derive(Debug, Clone)]
pub struct RtpAudioPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RtpAudioPacket<T> {
    /// Wraps without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }
    /// Wraps after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, AudioError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Checks the 12-byte RTP header is present (and the FEC header for payload type 127).
    pub fn check_len(&self) -> Result<(), AudioError> {
        let b = self.buffer.as_ref();
        if b.len() < RTP_LEN || (b[1] & 0x7F == PT_FEC && b.len() < FEC_HEADER_LEN) {
            return Err(AudioError::Truncated);
        }
        Ok(())
    }
    /// RTP byte 0.
    pub fn rtp_flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    /// Payload type (marker bit masked off).
    pub fn payload_type(&self) -> u8 {
        self.buffer.as_ref()[1] & 0x7F
    }
    /// Sequence number.
    pub fn seq(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..4])
    }
    /// Timestamp (ms for data packets).
    pub fn timestamp(&self) -> u32 {
        be32(&self.buffer.as_ref()[4..8])
    }
    /// SSRC.
    pub fn ssrc(&self) -> u32 {
        be32(&self.buffer.as_ref()[8..12])
    }
    /// Bytes after the RTP header (the Opus or ciphertext payload of a data packet).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[RTP_LEN..]
    }
    /// FEC: parity shard index (0 or 1).
    pub fn fec_shard_index(&self) -> u8 {
        self.buffer.as_ref()[12]
    }
    /// FEC: payload type of the protected packets.
    pub fn fec_payload_type(&self) -> u8 {
        self.buffer.as_ref()[13]
    }
    /// FEC: sequence number of the block's first data packet.
    pub fn fec_base_seq(&self) -> u16 {
        be16(&self.buffer.as_ref()[14..16])
    }
    /// FEC: timestamp of the block's first data packet.
    pub fn fec_base_timestamp(&self) -> u32 {
        be32(&self.buffer.as_ref()[16..20])
    }
    /// FEC: the parity shard.
    pub fn fec_payload(&self) -> &[u8] {
        &self.buffer.as_ref()[FEC_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> RtpAudioPacket<T> {
    /// Writes the RTP header.
    pub fn set_rtp(&mut self, payload_type: u8, seq: u16, timestamp: u32) {
        let b = self.buffer.as_mut();
        b[0] = RTP_FLAGS_VALUE;
        b[1] = payload_type;
        b[2..4].copy_from_slice(&seq.to_be_bytes());
        b[4..8].copy_from_slice(&timestamp.to_be_bytes());
        b[8..12].fill(0);
    }
    /// Writes the FEC header after the RTP header.
    pub fn set_fec(&mut self, shard_index: u8, base_seq: u16, base_timestamp: u32) {
        let b = self.buffer.as_mut();
        b[12] = shard_index;
        b[13] = PT_AUDIO;
        b[14..16].copy_from_slice(&base_seq.to_be_bytes());
        b[16..20].copy_from_slice(&base_timestamp.to_be_bytes());
        b[20..24].fill(0);
    }
    /// The payload after the RTP header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[RTP_LEN..]
    }
    /// The parity after the FEC header, writable.
    pub fn fec_payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[FEC_HEADER_LEN..]
    }
}

/// The decoded header of an audio packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioRepr {
    /// A data packet.
    Data {
        /// Sequence number.
        seq: u16,
        /// Timestamp in ms.
        timestamp: u32,
    },
    /// An FEC packet.
    Fec {
        /// RTP sequence number of the FEC packet itself.
        seq: u16,
        /// Parity shard index (0 or 1).
        shard_index: u8,
        /// First data sequence number of the protected block (multiple of 4).
        base_seq: u16,
        /// Timestamp of the block's first data packet.
        base_timestamp: u32,
    },
}

impl AudioRepr {
    /// Parses and validates the header.
    pub fn parse<T: AsRef<[u8]>>(p: &RtpAudioPacket<T>) -> Result<Self, AudioError> {
        p.check_len()?;
        if p.rtp_flags() & 0xC0 != 0x80 {
            return Err(AudioError::InvalidField("RTP version"));
        }
        match p.payload_type() {
            PT_AUDIO => Ok(Self::Data {
                seq: p.seq(),
                timestamp: p.timestamp(),
            }),
            PT_FEC => {
                if p.fec_shard_index() > 1 {
                    return Err(AudioError::InvalidField("FEC shard index"));
                }
                if !p.fec_base_seq().is_multiple_of(4) {
                    return Err(AudioError::InvalidField("FEC base sequence"));
                }
                Ok(Self::Fec {
                    seq: p.seq(),
                    shard_index: p.fec_shard_index(),
                    base_seq: p.fec_base_seq(),
                    base_timestamp: p.fec_base_timestamp(),
                })
            }
            _ => Err(AudioError::InvalidField("payload type")),
        }
    }

    /// Header bytes.
    pub const fn buffer_len(&self) -> usize {
        match self {
            Self::Data { .. } => RTP_LEN,
            Self::Fec { .. } => FEC_HEADER_LEN,
        }
    }

    /// Writes the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut RtpAudioPacket<T>) {
        match *self {
            Self::Data { seq, timestamp } => p.set_rtp(PT_AUDIO, seq, timestamp),
            Self::Fec {
                seq,
                shard_index,
                base_seq,
                base_timestamp,
            } => {
                p.set_rtp(PT_FEC, seq, 0);
                p.set_fec(shard_index, base_seq, base_timestamp);
            }
        }
    }
}
