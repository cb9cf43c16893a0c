//! How a frame is cut into FEC blocks and how many parity shards each block gets
//! (`gamestream-protocol.md` §6.4–6.5).

use super::VideoError;

/// At most this many FEC blocks per frame (2-bit field).
pub const MAX_BLOCKS: usize = 4;
/// At most this many shards (data + parity) per Reed-Solomon block.
pub const MAX_RS_SHARDS: usize = 255;
/// At most this many data shards per block (10-bit field).
pub const MAX_BLOCK_DATA_SHARDS: usize = 1023;

/// Parity count and effective percentage of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockFec {
    /// Parity shards to generate.
    pub parity: usize,
    /// Percentage written into fecInfo; `ceil(m * pct / 100) == parity` always holds.
    pub pct: u8,
}

/// Parity shards the client derives from `m` and `pct`: `ceil(m * pct / 100)`.
pub const fn client_parity(m: usize, pct: u8) -> usize {
    (m * pct as usize).div_ceil(100)
}

/// Parity for a block of `m` data shards at the configured percentage `pct` with the
/// client's minimum `min_parity` (§6.5, robust rule): the result always satisfies
/// `client_parity(m, result.pct) == result.parity` and `m + parity <= 255` (when parity > 0),
/// and gives at least the requested parity whenever that fits in 255 shards.
pub fn block_fec(m: usize, pct: u8, min_parity: usize) -> BlockFec {
    if pct == 0 || m == 0 || m >= MAX_RS_SHARDS {
        return BlockFec { parity: 0, pct: 0 };
    }
    let mut pct_b = pct;
    if client_parity(m, pct) < min_parity {
        let want = min_parity.min(MAX_RS_SHARDS - m);
        // Sunshine's rule floor(100 * k / m) where it reproduces k (always for a minimum of
        // 2), else the robust floor(100 * (k - 1) / m) + 1.
        let sunshine = 100 * want / m;
        pct_b = if sunshine <= 255 && client_parity(m, sunshine as u8) == want {
            sunshine as u8
        } else {
            (100 * (want - 1) / m + 1).min(255) as u8
        };
    }
    // Shrink until the block fits in 255 shards (only reachable with large minimums).
    while pct_b > 0 && m + client_parity(m, pct_b) > MAX_RS_SHARDS {
        pct_b -= 1;
    }
    BlockFec {
        parity: client_parity(m, pct_b),
        pct: pct_b,
    }
}

/// How one frame is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FramePlan {
    /// Data packets of the frame.
    pub packets: usize,
    /// FEC blocks (1..=4).
    pub blocks: usize,
    /// Data shards of each of the first `blocks - 1` blocks; the last gets the rest.
    pub per_block: usize,
    /// FEC percentage for the frame (0 when FEC had to be turned off).
    pub pct: u8,
}

impl FramePlan {
    /// Plans a frame of `packets` data packets at percentage `pct`.
    pub fn new(packets: usize, pct: u8) -> Result<Self, VideoError> {
        let packets = packets.max(1);
        let max_per_block = (MAX_RS_SHARDS * 100) / (100 + pct as usize);
        let mut blocks = packets.div_ceil(max_per_block);
        let mut pct = pct;
        if blocks > MAX_BLOCKS {
            pct = 0;
            blocks = MAX_BLOCKS;
        }
        let per_block = packets.div_ceil(blocks);
        // With fewer packets than blocks would leave the last block empty; cannot happen for
        // reachable inputs (blocks > 1 needs packets > 71) but keep the plan consistent.
        let blocks = packets.div_ceil(per_block);
        if per_block > MAX_BLOCK_DATA_SHARDS {
            return Err(VideoError::FrameTooLarge { packets });
        }
        Ok(Self {
            packets,
            blocks,
            per_block,
            pct,
        })
    }

    /// Data shards of block `b`.
    pub fn block_len(&self, b: usize) -> usize {
        if b + 1 < self.blocks {
            self.per_block
        } else {
            self.packets - self.per_block * (self.blocks - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §6.5 invariant, exhaustively over block sizes, percentages and minimums.
    #[test]
    fn parity_count_always_matches_what_the_client_derives() {
        for m in 1..=MAX_BLOCK_DATA_SHARDS {
            for pct in 0..=255u8 {
                for min in 0..=8usize {
                    let f = block_fec(m, pct, min);
                    assert_eq!(
                        client_parity(m, f.pct),
                        f.parity,
                        "m={m} pct={pct} min={min}"
                    );
                    if f.parity > 0 {
                        assert!(m + f.parity <= MAX_RS_SHARDS, "m={m} pct={pct} min={min}");
                    }
                    if pct > 0 && m < MAX_RS_SHARDS {
                        let requested = client_parity(m, pct).max(min);
                        let representable = requested.min(MAX_RS_SHARDS - m);
                        // Never fewer than requested when some percentage byte gives a
                        // parity count in [requested, 255 - m].
                        let achievable = (1..=255u8).any(|p| {
                            let q = client_parity(m, p);
                            q >= representable && m + q <= MAX_RS_SHARDS
                        });
                        if achievable {
                            assert!(
                                f.parity >= representable,
                                "m={m} pct={pct} min={min}: {f:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sunshine_rule_cases_from_the_spec() {
        // C.4: m = 3, 20 %, minimum 2 -> k = 2, pct_b = 66 (Sunshine's floor(200/3)).
        assert_eq!(block_fec(3, 20, 2), BlockFec { parity: 2, pct: 66 });
        // No minimum bump: k = ceil(212 * 20 / 100) = 43.
        assert_eq!(
            block_fec(212, 20, 2),
            BlockFec {
                parity: 43,
                pct: 20
            }
        );
        // The spec's failing case for Sunshine's rule (min 3, m = 151) stays consistent.
        let f = block_fec(151, 1, 3);
        assert_eq!(client_parity(151, f.pct), f.parity);
        assert!(f.parity >= 3);
        // m = 1 with minimum 3: percentage must fit a byte.
        let f = block_fec(1, 20, 3);
        assert_eq!(
            f,
            BlockFec {
                parity: 3,
                pct: 201
            }
        );
    }

    #[test]
    fn frame_plans() {
        let p = FramePlan::new(3, 20).unwrap();
        assert_eq!((p.blocks, p.per_block, p.pct), (1, 3, 20));
        // 212 fits one block at 20 %, 213 needs two.
        assert_eq!(FramePlan::new(212, 20).unwrap().blocks, 1);
        let p = FramePlan::new(213, 20).unwrap();
        assert_eq!((p.blocks, p.block_len(0), p.block_len(1)), (2, 107, 106));
        // Beyond 4 blocks FEC is turned off and 4 blocks are used.
        let p = FramePlan::new(4 * 212 + 1, 20).unwrap();
        assert_eq!((p.blocks, p.pct), (4, 0));
        assert_eq!((0..4).map(|b| p.block_len(b)).sum::<usize>(), 4 * 212 + 1);
        assert!(FramePlan::new(4 * 1023 + 1, 20).is_err());
        // Every plan covers every packet with non-empty blocks.
        for n in 1..=4200 {
            for pct in [0u8, 1, 20, 50, 100, 255] {
                if let Ok(p) = FramePlan::new(n, pct) {
                    let lens: Vec<_> = (0..p.blocks).map(|b| p.block_len(b)).collect();
                    assert_eq!(lens.iter().sum::<usize>(), n);
                    assert!(lens.iter().all(|&l| l > 0 && l <= MAX_BLOCK_DATA_SHARDS));
                    assert!(p.blocks <= MAX_BLOCKS);
                    if p.pct > 0 {
                        assert!(
                            lens.iter()
                                .all(|&l| l + client_parity(l, p.pct) <= MAX_RS_SHARDS)
                        );
                    }
                }
            }
        }
    }
}
