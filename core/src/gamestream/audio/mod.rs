//! The audio stream (`gamestream-protocol.md` §7): RTP/Opus packets with optional
//! AES-128-CBC and Reed-Solomon 4 + 2 FEC; [`AudioPacketizer`] (host) and
//! [`AudioDepacketizer`] (test client).

pub mod depacketizer;
pub mod packet;
pub mod packetizer;

pub use depacketizer::{AudioDepacketizer, AudioEvent, fuzz_datagrams as fuzz_one};
pub use packet::{AudioRepr, RtpAudioPacket};
pub use packetizer::{AudioConfig, AudioKey, AudioPacketizer};

use crate::crypto::CryptoError;
use crate::fec::FecError;

/// Data packets per FEC block.
pub const BLOCK_DATA: usize = 4;
/// FEC packets per block.
pub const BLOCK_PARITY: usize = 2;

/// Errors of the audio packetizer and depacketizer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// Shorter than the RTP (or FEC) header.
    #[error("audio packet truncated")]
    Truncated,
    /// A header field is invalid.
    #[error("invalid audio packet field: {0}")]
    InvalidField(&'static str),
    /// The Opus packet does not fit one datagram.
    #[error("audio payload of {0} bytes does not fit a 1400-byte datagram")]
    PayloadTooLarge(usize),
    /// The sink refused a datagram.
    #[error("datagram sink is full")]
    SinkFull,
    /// Decryption failed (bad padding or length).
    #[error("audio decryption: {0}")]
    Crypto(#[from] CryptoError),
    /// Reed-Solomon failed.
    #[error("FEC: {0}")]
    Fec(#[from] FecError),
}

/// The CBC IV of the packet with sequence number `seq`: BE32(rikeyid + seq), 12 zero bytes.
pub fn audio_iv(key_id: u32, seq: u16) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&key_id.wrapping_add(seq as u32).to_be_bytes());
    iv
}

#[cfg(test)]
mod tests;
