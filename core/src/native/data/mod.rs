//! The punktfunk/1 data plane (spec §5): host → client UDP datagrams carrying one access
//! unit (AU) each, split into FEC-protected shards and sealed with an AEAD.
//!
//! A datagram (encrypt = 1) is `seq (8 B, BE, clear, also the AAD) ‖ sealed header (40 B) ‖
//! sealed shard (S B) ‖ tag (16 B)`; with encrypt = 0 it is just `header ‖ shard`.
//!
//! - [`header`]: the 40-byte header as a checked view ([`DataHeader`]) and a [`DataHeaderRepr`].
//! - [`nonce`]: nonce and AAD construction (salt with the direction bit, big-endian seq).
//! - [`replay`]: the receiver's 131 072-sequence anti-replay window.
//! - [`geometry`]: how an AU is cut into blocks of data and parity shards, and shard sizes.
//! - [`sealer`]: [`FrameSealer`], the host side: AU in, sealed datagrams into a
//!   [`DatagramSink`](crate::slots::DatagramSink).
//! - [`reassembler`]: [`Reassembler`], the client side: datagrams in, AUs out, FEC repair.
//! - [`welcome`]: sealer and reassembler configurations from a Welcome (§4.3).
//! - [`fuzz`]: the bodies of the cargo-fuzz targets, also driven by property tests.

pub mod fuzz;
pub mod geometry;
pub mod header;
pub mod nonce;
pub mod reassembler;
pub mod replay;
pub mod sealer;
pub mod welcome;

pub use geometry::{FecScheme, FrameGeometry, shard_payload_for_mtu};
pub use header::{DataHeader, DataHeaderRepr, HeaderError};
pub use nonce::Direction;
pub use reassembler::{
    DatagramError, ReassembledFrame, Reassembler, ReassemblerConfig, ReassemblerStats,
};
pub use replay::{ReplayError, ReplayWindow};
pub use sealer::{FramePlan, FrameSealer, SealError, SealedFrame, SealerConfig};
pub use welcome::WelcomeError;

use crate::crypto::AeadKey;

/// Bytes of the clear big-endian sequence number that leads every encrypted datagram.
pub const SEQ_LEN: usize = 8;
/// Bytes of the AEAD tag that ends every encrypted datagram.
pub const TAG_LEN: usize = crate::crypto::TAG_LEN;
/// Bytes of the data-plane header.
pub const HEADER_LEN: usize = 40;
/// Bytes an encrypted datagram adds around its shard: seq, header and tag (64).
pub const SEALED_OVERHEAD: usize = SEQ_LEN + HEADER_LEN + TAG_LEN;
/// The header's magic byte (offset 36).
pub const MAGIC: u8 = 0xC9;
/// The header `version` byte punktfunk's v0.31 host sends (phase P1); clients do not check it.
pub const HEADER_VERSION: u8 = 1;
/// Largest datagram a client accepts; longer ones are dropped.
pub const MAX_DATAGRAM_BYTES: usize = 9216;
/// Largest shard payload (jumbo frames): `MAX_DATAGRAM_BYTES - SEALED_OVERHEAD`.
pub const MAX_SHARD_BYTES: usize = MAX_DATAGRAM_BYTES - SEALED_OVERHEAD;
/// Smallest encrypted datagram a client looks at (seq + tag); shorter ones are dropped.
pub const MIN_SEALED_DATAGRAM: usize = SEQ_LEN + TAG_LEN;

/// Header `flags` bits (offset 39). Not read by the client's reassembler.
pub mod flags {
    /// Set on every packet of a picture.
    pub const PIC: u8 = 0x01;
    /// End of frame: set on the last packet emitted for the AU.
    pub const EOF: u8 = 0x02;
    /// Start of frame: set on block 0, shard 0.
    pub const SOF: u8 = 0x04;
    /// Probe filler packet.
    pub const PROBE: u8 = 0x08;
}

/// Header `user_flags` bits (offset 20), surfaced to applications as the frame's flags.
pub mod user_flags {
    /// The bits punktfunk's own hosts set on every video AU (0x1 | 0x4); the synthetic test
    /// stream of spec §5.7 uses exactly this value.
    pub const PUNKTFUNK_DEFAULT: u32 = 0x05;
    /// Probe filler AU (separate frame-index space).
    pub const PROBE: u32 = 0x08;
    /// Recovery point.
    pub const RECOVERY_POINT: u32 = 0x10;
    /// Recovery anchor: a clean P-frame answering an RFI request.
    pub const RECOVERY_ANCHOR: u32 = 0x20;
    /// Chunk-aligned AU (PyroWave).
    pub const CHUNK_ALIGNED: u32 = 0x40;
    /// Slice-streamed AU.
    pub const SLICE_STREAM: u32 = 0x80;
    /// Repeated frame (upstream v0.39+).
    pub const REPEAT: u32 = 0x100;
    /// Recovery close (upstream v0.39+).
    pub const RECOVERY_CLOSE: u32 = 0x200;
}

/// How datagrams are protected (Welcome `encrypt`, `cipher`, `key`, `salt`).
#[derive(Debug)]
pub enum DataCipher {
    /// encrypt = 1: AEAD-sealed with `key`; the nonce prefix is `salt` with the direction bit.
    Sealed {
        /// AES-128-GCM (cipher 0) or ChaCha20-Poly1305 (cipher 1) key.
        key: AeadKey,
        /// The Welcome's 4-byte salt (its top bit is replaced by the direction).
        salt: [u8; 4],
    },
    /// encrypt = 0: `header ‖ shard`, no seq, no tag, no replay filter.
    Plaintext,
}

impl DataCipher {
    /// Bytes a datagram adds around its shard: 64 sealed, 40 in plaintext.
    pub const fn overhead(&self) -> usize {
        match self {
            Self::Sealed { .. } => SEALED_OVERHEAD,
            Self::Plaintext => HEADER_LEN,
        }
    }

    /// Offset of the header inside a datagram: 8 sealed, 0 in plaintext.
    pub const fn header_offset(&self) -> usize {
        match self {
            Self::Sealed { .. } => SEQ_LEN,
            Self::Plaintext => 0,
        }
    }
}
