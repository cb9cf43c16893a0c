//! How an AU is cut into FEC blocks (spec §5.4) and how big a shard is (§5.6).
//!
//! `total_data = max(1, ceil(len / S))` shards of S bytes (the last zero-padded), grouped
//! into consecutive blocks of exactly K data shards with only the last block smaller. Block
//! b carries `m_b = ceil(k_b · pct / 100)` parity shards, clamped so `k_b + m_b` stays within
//! the receiver's ceiling `min(K + ceil(0.9 K), 255 | 65535)`.

use super::{MAX_SHARD_BYTES, SEALED_OVERHEAD};

/// The FEC code of a session (Welcome `fec_scheme`, header byte 38).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FecScheme {
    /// 0: GF(2⁸) Reed-Solomon (nanors-compatible); at most 255 shards per block.
    Gf8,
    /// 1: GF(2¹⁶) Reed-Solomon (`reed-solomon-simd`); at most 65535 shards per block.
    Gf16,
}

impl FecScheme {
    /// The wire value.
    pub const fn wire(self) -> u8 {
        match self {
            Self::Gf8 => 0,
            Self::Gf16 => 1,
        }
    }

    /// The scheme of a wire value, if known.
    pub const fn from_wire(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Gf8),
            1 => Some(Self::Gf16),
            _ => None,
        }
    }

    /// Most shards (data + parity) one block may have.
    pub const fn max_total_shards(self) -> usize {
        match self {
            Self::Gf8 => 255,
            Self::Gf16 => 65535,
        }
    }
}

/// The receiver's ceiling on `k + m` of one block: `min(K + ceil(0.9 K), scheme limit)`.
pub const fn receiver_ceiling(max_data_per_block: usize, scheme: FecScheme) -> usize {
    let k = max_data_per_block;
    let c = k + (9 * k).div_ceil(10);
    let limit = scheme.max_total_shards();
    if c < limit { c } else { limit }
}

/// Parity shards of a block of `k` data shards at `pct` percent, clamped to `ceiling`.
pub const fn parity_shards(k: usize, pct: u8, ceiling: usize) -> usize {
    if pct == 0 {
        return 0;
    }
    let m = (k * pct as usize).div_ceil(100);
    let room = ceiling.saturating_sub(k);
    if m < room { m } else { room }
}

/// Whether a receiver configured with the Welcome's `S` accepts a frame with shard size `s`:
/// even and within `[min(512, S_welcome), 9152]`.
pub const fn shard_bytes_acceptable(s: usize, welcome_s: usize) -> bool {
    let lo = if welcome_s < 512 { welcome_s } else { 512 };
    s.is_multiple_of(2) && s >= lo && s >= 2 && s <= MAX_SHARD_BYTES
}

/// Shard payload S that fills one datagram on a path of `mtu` bytes: the MTU minus the IP
/// (20 or 40) and UDP (8) headers and the 64 bytes of seq, header and tag, made even and
/// capped at 9152. IPv4 1500 → 1408, IPv6 1500 → 1388. `None` if the MTU cannot carry a
/// shard at all.
pub const fn shard_payload_for_mtu(mtu: usize, ipv6: bool) -> Option<u16> {
    let ip = if ipv6 { 40 } else { 20 };
    let overhead = ip + 8 + SEALED_OVERHEAD;
    if mtu < overhead + 2 {
        return None;
    }
    let s = mtu - overhead;
    let s = if s > MAX_SHARD_BYTES {
        MAX_SHARD_BYTES
    } else {
        s
    };
    Some((s & !1) as u16)
}

/// The shard layout of one AU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameGeometry {
    /// AU length in bytes.
    pub frame_bytes: usize,
    /// Shard payload S.
    pub shard_bytes: usize,
    /// K: data shards of every block but the last.
    pub max_data_per_block: usize,
    /// Data shards of the whole AU: `max(1, ceil(frame_bytes / S))`.
    pub total_data: usize,
    /// Blocks: `ceil(total_data / K)`.
    pub block_count: usize,
}

impl FrameGeometry {
    /// Lays out an AU of `frame_bytes` with shard size `shard_bytes` (> 0) and `K` =
    /// `max_data_per_block` (> 0).
    pub const fn new(frame_bytes: usize, shard_bytes: usize, max_data_per_block: usize) -> Self {
        let total_data = if frame_bytes == 0 {
            1
        } else {
            frame_bytes.div_ceil(shard_bytes)
        };
        Self {
            frame_bytes,
            shard_bytes,
            max_data_per_block,
            total_data,
            block_count: total_data.div_ceil(max_data_per_block),
        }
    }

    /// Data shards `k_b` of block `b`.
    pub const fn block_data_shards(&self, b: usize) -> usize {
        let start = b * self.max_data_per_block;
        let end = start + self.max_data_per_block;
        let end = if end < self.total_data {
            end
        } else {
            self.total_data
        };
        end.saturating_sub(start)
    }

    /// AU-wide index of block `b`'s first data shard (`b · K`).
    pub const fn block_first_shard(&self, b: usize) -> usize {
        b * self.max_data_per_block
    }

    /// Bytes of the AU carried by data shard `i` (AU-wide index): S, less for the last.
    pub const fn payload_in_shard(&self, i: usize) -> usize {
        let start = i * self.shard_bytes;
        if start >= self.frame_bytes {
            0
        } else if self.frame_bytes - start < self.shard_bytes {
            self.frame_bytes - start
        } else {
            self.shard_bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        // §5.8: 3000 B at S 1408, K 4096 → 3 data shards, 1 block, m = ceil(0.6) = 1.
        let g = FrameGeometry::new(3000, 1408, 4096);
        assert_eq!(
            (g.total_data, g.block_count, g.block_data_shards(0)),
            (3, 1, 3)
        );
        assert_eq!(g.payload_in_shard(2), 184);
        let c = receiver_ceiling(4096, FecScheme::Gf16);
        assert_eq!(c, 4096 + 3687);
        assert_eq!(parity_shards(3, 20, c), 1);
        // K = 2 variant: blocks of 2 and 1, one parity each.
        let g = FrameGeometry::new(3000, 1408, 2);
        assert_eq!(
            (
                g.block_count,
                g.block_data_shards(0),
                g.block_data_shards(1)
            ),
            (2, 2, 1)
        );
        assert_eq!(
            parity_shards(1, 20, receiver_ceiling(2, FecScheme::Gf16)),
            1
        );
        // empty AU: one all-zero shard
        let g = FrameGeometry::new(0, 1408, 4096);
        assert_eq!(
            (g.total_data, g.block_count, g.payload_in_shard(0)),
            (1, 1, 0)
        );
    }

    #[test]
    fn parity_is_clamped_to_the_ceiling() {
        assert_eq!(parity_shards(10, 0, 100), 0);
        assert_eq!(parity_shards(10, 90, 100), 9);
        assert_eq!(
            parity_shards(100, 200, receiver_ceiling(100, FecScheme::Gf16)),
            90
        );
        // GF(2⁸): K = 200 → ceiling 255
        assert_eq!(receiver_ceiling(200, FecScheme::Gf8), 255);
        assert_eq!(parity_shards(200, 50, 255), 55);
        assert_eq!(parity_shards(255, 10, 255), 0);
    }

    #[test]
    fn shard_sizes_for_mtus() {
        assert_eq!(shard_payload_for_mtu(1500, false), Some(1408));
        assert_eq!(shard_payload_for_mtu(1500, true), Some(1388));
        assert_eq!(shard_payload_for_mtu(9000, false), Some(8908));
        assert_eq!(shard_payload_for_mtu(9300, false), Some(9152));
        assert_eq!(shard_payload_for_mtu(65535, true), Some(9152));
        assert_eq!(shard_payload_for_mtu(1501, false), Some(1408));
        assert_eq!(shard_payload_for_mtu(50, false), None);
        assert!(shard_bytes_acceptable(1408, 1408));
        assert!(shard_bytes_acceptable(512, 1408));
        assert!(!shard_bytes_acceptable(510, 1408));
        assert!(shard_bytes_acceptable(200, 200));
        assert!(!shard_bytes_acceptable(1407, 1408));
        assert!(!shard_bytes_acceptable(9154, 1408));
    }
}
