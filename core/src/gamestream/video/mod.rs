//! The video stream (`gamestream-protocol.md` §6): RTP + NV packets, FEC blocks, optional
//! AES-GCM, and both ends: [`VideoPacketizer`] (host) and [`VideoDepacketizer`] (test client).

pub mod crypto;
pub mod depacketizer;
pub mod fec_plan;
pub mod frame_header;
pub mod header;
pub mod packetizer;

pub use depacketizer::{
    DepacketizerStats, ReceivedFrame, VideoDepacketizer, VideoEvent, fuzz_datagrams as fuzz_one,
};
pub use frame_header::{FrameHeader, FrameType};
pub use header::{NvVideoPacket, NvVideoRepr};
pub use packetizer::{FrameStats, VideoConfig, VideoPacketizer};

use crate::fec::FecError;

/// Errors of the video packetizer and depacketizer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VideoError {
    /// A datagram is shorter than its headers or than the configured shard size.
    #[error("video datagram truncated")]
    Truncated,
    /// RTP byte 0 lacks the extension bit, so the NV header cannot be located.
    #[error("RTP extension bit not set")]
    NoRtpExtension,
    /// The configured packet size is out of range.
    #[error("invalid packet size {0} (need 32..=65000, multiple of 16)")]
    PacketSize(usize),
    /// The frame needs more than 4 × 1023 packets.
    #[error("frame of {packets} packets is too large to send")]
    FrameTooLarge {
        /// Packets the frame would need.
        packets: usize,
    },
    /// The sink refused a datagram (no room).
    #[error("datagram sink is full")]
    SinkFull,
    /// Decryption failed.
    #[error("video packet authentication failed")]
    Authentication,
    /// A header field is inconsistent (shard index beyond the block, bad block count, ...).
    #[error("invalid video packet field: {0}")]
    InvalidField(&'static str),
    /// The frame header is invalid.
    #[error("invalid frame header: {0}")]
    FrameHeader(&'static str),
    /// Reed-Solomon failed.
    #[error("FEC: {0}")]
    Fec(#[from] FecError),
}

#[cfg(test)]
mod tests;
