//! The 8-byte frame header prepended to every encoded frame (`gamestream-protocol.md` §6.3).

use super::VideoError;

/// Bytes of the short frame header.
pub const FRAME_HEADER_LEN: usize = 8;
/// Header type byte of the short header.
pub const SHORT_HEADER_TYPE: u8 = 0x01;

/// Frame type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// P-frame (1).
    P,
    /// IDR / key frame (2).
    Idr,
    /// P-frame with intra refresh (4).
    IntraRefresh,
    /// P-frame after reference frame invalidation (5).
    AfterRfi,
}

impl FrameType {
    /// Wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::P => 1,
            Self::Idr => 2,
            Self::IntraRefresh => 4,
            Self::AfterRfi => 5,
        }
    }

    /// From the wire value.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::P,
            2 => Self::Idr,
            4 => Self::IntraRefresh,
            5 => Self::AfterRfi,
            _ => return None,
        })
    }
}

/// The decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Host processing latency in 0.1 ms units (0 = unknown).
    pub host_latency: u16,
    /// Frame type.
    pub frame_type: FrameType,
    /// Meaningful data bytes in the frame's last packet (1..=D).
    pub last_payload_len: u16,
}

impl FrameHeader {
    /// Parses the first 8 bytes of a frame's data.
    pub fn parse(b: &[u8]) -> Result<Self, VideoError> {
        if b.len() < FRAME_HEADER_LEN {
            return Err(VideoError::Truncated);
        }
        if b[0] != SHORT_HEADER_TYPE {
            return Err(VideoError::FrameHeader("header type"));
        }
        Ok(Self {
            host_latency: u16::from_le_bytes([b[1], b[2]]),
            frame_type: FrameType::from_u8(b[3]).ok_or(VideoError::FrameHeader("frame type"))?,
            last_payload_len: u16::from_le_bytes([b[4], b[5]]),
        })
    }

    /// Header bytes.
    pub const fn buffer_len(&self) -> usize {
        FRAME_HEADER_LEN
    }

    /// Writes the header.
    pub fn emit(&self, out: &mut [u8; FRAME_HEADER_LEN]) {
        out[0] = SHORT_HEADER_TYPE;
        out[1..3].copy_from_slice(&self.host_latency.to_le_bytes());
        out[3] = self.frame_type.to_u8();
        out[4..6].copy_from_slice(&self.last_payload_len.to_le_bytes());
        out[6..8].fill(0);
    }

    /// `lastPayloadLen` for a frame of `frame_len` bytes cut into `d`-byte chunks.
    pub const fn last_payload_len_for(frame_len: usize, d: usize) -> u16 {
        let r = (FRAME_HEADER_LEN + frame_len) % d;
        (if r == 0 { d } else { r }) as u16
    }
}
