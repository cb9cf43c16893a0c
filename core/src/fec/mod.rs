//! Reed-Solomon erasure codes.
//!
//! - [`gf16`]: GF(2¹⁶) through `reed-solomon-simd`, for punktfunk/1 (blocks up to 65535 shards).
//! - [`gf8`]: GF(2⁸) byte-exact with nanors, the code of Moonlight and Sunshine (GameStream video
//!   and audio; punktfunk/1's optional scheme 0).
//!
//! Encoders and decoders are built once per shape and reused: nothing allocates per frame
//! once a shape has been seen.

pub mod gf16;
pub mod gf8;

/// Errors from encoding or decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FecError {
    /// The (data, parity) shape is outside what the code supports.
    #[error("unsupported shape: {data} data + {parity} parity shards")]
    Shape {
        /// Data shards requested.
        data: usize,
        /// Parity shards requested.
        parity: usize,
    },
    /// A shard has the wrong length (all shards of a block share one length; GF(2¹⁶) needs it even).
    #[error("shard of {got} bytes where {want} were expected")]
    ShardLen {
        /// Length given.
        got: usize,
        /// Length required.
        want: usize,
    },
    /// A shard index is out of range or was given twice.
    #[error("shard index {0} invalid or duplicated")]
    ShardIndex(usize),
    /// Fewer shards than data shards arrived: the block cannot be recovered.
    #[error("not enough shards: have {have}, need {need}")]
    NotEnoughShards {
        /// Shards available.
        have: usize,
        /// Shards needed (the data count).
        need: usize,
    },
    /// The decoding matrix for the received shards is singular (only possible with a
    /// non-MDS matrix such as a fixed one; never for the Cauchy codes).
    #[error("the received shards do not determine the data (singular matrix)")]
    Singular,
    /// The wrong number of shards was given to the encoder.
    #[error("expected {want} data shards, got {got}")]
    ShardCount {
        /// Shards given.
        got: usize,
        /// Shards expected.
        want: usize,
    },
}
