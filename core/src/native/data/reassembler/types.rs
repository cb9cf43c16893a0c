//! The reassembler's public types: configuration, errors, counters and finished AUs.

use crate::fec::FecError;

use super::super::geometry::FecScheme;
use super::super::header::HeaderError;
use super::super::nonce::Direction;
use super::super::replay::ReplayError;
use super::super::{DataCipher, MAX_DATAGRAM_BYTES};

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// Shorter than the smallest datagram that can carry a header.
    #[error("datagram of {0} bytes is too short")]
    TooShort(usize),
    /// Longer than 9216 bytes.
    #[error("datagram of {0} bytes exceeds {MAX_DATAGRAM_BYTES}")]
    TooLong(usize),
    /// The AEAD tag did not verify.
    #[error("authentication failed")]
    Authentication,
    /// The anti-replay window refused the sequence number.
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    /// The header is truncated or its magic is wrong.
    #[error("header: {0}")]
    Header(#[from] HeaderError),
    /// A streamed-AU sentinel (`block_count` 0), which this receiver does not advertise.
    #[error("streamed AU sentinel not supported")]
    StreamedAu,
    /// `shard_bytes` is odd or outside `[min(512, S), 9152]`.
    #[error("shard size {0} not acceptable")]
    ShardBytes(u16),
    /// The datagram is shorter than its header's shard size says.
    #[error("datagram carries {have} bytes after the header, shard needs {need}")]
    Truncated {
        /// Payload bytes present.
        have: usize,
        /// Shard size announced.
        need: usize,
    },
    /// `frame_bytes` exceeds the session's `max_frame_bytes`.
    #[error("frame of {0} bytes exceeds the session limit")]
    FrameTooLarge(u32),
    /// Block counts or shard indices disagree with the geometry of §5.4.
    #[error("bad geometry: {0}")]
    Geometry(&'static str),
    /// The header disagrees with earlier datagrams of the same frame or block.
    #[error("header inconsistent with earlier datagrams of frame {0}")]
    Inconsistent(u32),
    /// This shard of this frame already arrived.
    #[error("duplicate shard")]
    DuplicateShard,
    /// FEC repair failed; the frame was abandoned.
    #[error("FEC repair failed: {0}")]
    Fec(#[from] FecError),
}

/// Receiver settings (from the Welcome, spec §4.3).
#[derive(Debug)]
pub struct ReassemblerConfig {
    /// Encryption (Welcome `encrypt`, `cipher`, `key`, `salt`).
    pub cipher: DataCipher,
    /// Welcome `shard_payload` S.
    pub shard_payload: usize,
    /// Welcome `max_data_per_block` K.
    pub max_data_per_block: usize,
    /// Welcome `fec_scheme`. GF(2⁸) is the nanors Cauchy code of `fec::gf8` (spec §5.4:
    /// punktfunk's own hosts never send it, so it is unverified against its clients).
    pub fec_scheme: FecScheme,
    /// Largest AU accepted (`session_config`: 4 × bitrate/fps clamped to [8, 64] MiB).
    pub max_frame_bytes: usize,
    /// Direction of the sender (host → client for video).
    pub direction: Direction,
    /// Most AUs in progress at once; when a new one would exceed it, the oldest is
    /// abandoned. Default 32 (each holds up to `max_frame_bytes`).
    pub max_pending_frames: usize,
}

impl ReassemblerConfig {
    /// GF(2¹⁶), host → client, 64 MiB frames, 32 pending AUs.
    pub fn new(cipher: DataCipher, shard_payload: usize, max_data_per_block: usize) -> Self {
        Self {
            cipher,
            shard_payload,
            max_data_per_block,
            fec_scheme: FecScheme::Gf16,
            max_frame_bytes: 64 << 20,
            direction: Direction::HostToClient,
            max_pending_frames: 32,
        }
    }
}

/// Counters since the reassembler was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblerStats {
    /// Datagrams accepted (including shards no longer needed).
    pub datagrams_ok: u64,
    /// Datagrams dropped as malformed, unauthentic or inconsistent.
    pub datagrams_bad: u64,
    /// Datagrams refused by the anti-replay window.
    pub datagrams_replayed: u64,
    /// Shards that arrived twice (under different sequence numbers, or in plaintext mode).
    pub datagrams_duplicate: u64,
    /// Authentic shards for blocks already complete or frames already finished/abandoned.
    pub shards_late: u64,
    /// Data shards restored by FEC.
    pub shards_recovered: u64,
    /// AUs delivered.
    pub frames_complete: u64,
    /// AUs delivered that needed FEC.
    pub frames_recovered: u64,
    /// AUs abandoned incomplete.
    pub frames_lost: u64,
}

/// A reassembled AU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassembledFrame {
    /// Frame index from the header.
    pub frame_index: u32,
    /// Capture time from the header.
    pub pts_ns: u64,
    /// Application flags from the header.
    pub user_flags: u32,
    /// Data shards of this AU that FEC restored.
    pub recovered_shards: usize,
    pub(super) buf: Vec<u8>,
    pub(super) len: usize,
}

impl ReassembledFrame {
    /// The AU's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The AU as a vector of exactly its bytes.
    pub fn into_vec(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }
}
