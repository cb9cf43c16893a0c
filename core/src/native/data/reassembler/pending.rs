//! One AU being reassembled: its data area, which shards arrived, stored parity, and the
//! per-block FEC repair. Slots are pooled by the [`Reassembler`](super::Reassembler): the
//! vectors keep their capacity from frame to frame.

use crate::fec::FecError;
use crate::fec::gf8::Gf8CodeCache;
use crate::fec::gf16::Gf16Decoder;

use super::super::geometry::{FecScheme, FrameGeometry};

/// Per-block progress.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BlockState {
    /// Recovery shards of the block, as its first datagram announced.
    m: u16,
    /// Whether `m` has been set by a datagram yet.
    seen: bool,
    /// Distinct shards (data + parity) received.
    have: u32,
    /// Distinct data shards present (received or restored).
    data_have: u32,
    /// All data shards present.
    done: bool,
}

/// What adding a shard did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Added {
    /// Stored; the frame is still incomplete.
    Stored,
    /// The shard's block was already complete: not needed.
    Late,
    /// The frame is now complete.
    Complete,
}

/// Fields every datagram of a frame must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameKey {
    pub frame_index: u32,
    pub pts_ns: u64,
    pub user_flags: u32,
    pub frame_bytes: u32,
    pub shard_bytes: u16,
    pub block_count: u16,
}

/// A frame slot.
#[derive(Debug, Default)]
pub(super) struct PendingFrame {
    pub key: Option<FrameKey>,
    geometry: Option<FrameGeometry>,
    /// Bit per (block, shard index) at `block · ceiling + index`.
    bits: Vec<u64>,
    ceiling: usize,
    blocks: Vec<BlockState>,
    blocks_done: usize,
    /// Data area: data shard i of the AU at `i · S`.
    pub data: Vec<u8>,
    /// Received parity shards, appended.
    parity: Vec<u8>,
    /// (block, parity index r, offset in `parity`).
    parity_meta: Vec<(u32, u32, usize)>,
    /// Data shards restored by FEC.
    pub recovered: usize,
}

/// Scratch for FEC repair, shared by all slots.
#[derive(Debug, Default)]
pub(super) struct Repair {
    decoder: Gf16Decoder,
    gf8: Gf8CodeCache,
    restored: Vec<u8>,
    restored_idx: Vec<usize>,
    present: Vec<bool>,
}

impl PendingFrame {
    /// Starts the slot for a new frame, reusing its buffers.
    pub fn start(&mut self, key: FrameKey, k_max: usize, ceiling: usize, data: Vec<u8>) {
        let s = key.shard_bytes as usize;
        let g = FrameGeometry::new(key.frame_bytes as usize, s, k_max);
        self.key = Some(key);
        self.geometry = Some(g);
        self.ceiling = ceiling;
        let words = (g.block_count * ceiling).div_ceil(64);
        self.bits.clear();
        self.bits.resize(words, 0);
        self.blocks.clear();
        self.blocks.resize(g.block_count, BlockState::default());
        self.blocks_done = 0;
        self.data = data;
        let need = g.total_data * s;
        if self.data.len() < need {
            self.data.resize(need, 0);
        }
        self.parity.clear();
        self.parity_meta.clear();
        self.recovered = 0;
    }

    /// Ends the frame; returns the data buffer (for the output or the pool).
    pub fn take_data(&mut self) -> Vec<u8> {
        self.key = None;
        self.geometry = None;
        std::mem::take(&mut self.data)
    }

    /// Whether block `b` of this frame announced recovery count `m` before (or never did).
    pub fn block_m_matches(&self, b: usize, m: u16) -> bool {
        self.blocks.get(b).is_some_and(|st| !st.seen || st.m == m)
    }

    /// Whether shard `idx` of block `b` already arrived.
    pub fn has_shard(&self, b: usize, idx: usize) -> bool {
        bit_set(&self.bits, b * self.ceiling + idx)
    }

    /// Adds shard `idx` of block `b` (geometry validated by the caller: `idx < k_b + m`,
    /// `k_b + m ≤ ceiling`, `shard.len() == S`), repairing the block when enough arrived.
    pub fn add(
        &mut self,
        b: usize,
        m: u16,
        idx: usize,
        shard: &[u8],
        scheme: FecScheme,
        repair: &mut Repair,
    ) -> Result<Added, FecError> {
        let g = self.geometry.expect("started frame");
        let s = g.shard_bytes;
        let kb = g.block_data_shards(b);
        let pos = b * self.ceiling + idx;
        self.bits[pos / 64] |= 1 << (pos % 64);
        let st = &mut self.blocks[b];
        st.m = m;
        st.seen = true;
        if st.done {
            return Ok(Added::Late);
        }
        st.have += 1;
        if idx < kb {
            let at = (g.block_first_shard(b) + idx) * s;
            self.data[at..at + s].copy_from_slice(shard);
            st.data_have += 1;
        } else {
            let off = self.parity.len();
            self.parity.extend_from_slice(shard);
            self.parity_meta.push((b as u32, (idx - kb) as u32, off));
        }
        if st.data_have as usize == kb {
            st.done = true;
        } else if st.have as usize >= kb {
            match scheme {
                FecScheme::Gf16 => self.repair_block(b, kb, m as usize, repair)?,
                FecScheme::Gf8 => self.repair_block_gf8(b, kb, m as usize, repair)?,
            }
        }
        if self.blocks[b].done {
            self.blocks_done += 1;
            if self.blocks_done == self.blocks.len() {
                return Ok(Added::Complete);
            }
        }
        Ok(Added::Stored)
    }

    /// GF(2⁸) (nanors Cauchy code) repair of block `b`: the block's data shards are
    /// rebuilt in place in the data area; received parity is gathered into scratch.
    fn repair_block_gf8(
        &mut self,
        b: usize,
        kb: usize,
        m: usize,
        repair: &mut Repair,
    ) -> Result<(), FecError> {
        let g = self.geometry.expect("started frame");
        let s = g.shard_bytes;
        let first = g.block_first_shard(b);
        let base = b * self.ceiling;
        let code = repair.gf8.get(kb, m)?;
        repair.present.clear();
        repair
            .present
            .extend((0..kb).map(|i| bit_set(&self.bits, base + i)));
        repair.present.resize(kb + m, false);
        repair.restored.clear();
        repair.restored.resize(m * s, 0);
        for &(pb, r, off) in &self.parity_meta {
            let r = r as usize;
            if pb as usize == b && r < m {
                repair.restored[r * s..(r + 1) * s].copy_from_slice(&self.parity[off..off + s]);
                repair.present[kb + r] = true;
            }
        }
        let lost = repair.present[..kb].iter().filter(|&&p| !p).count();
        let data = &mut self.data[first * s..(first + kb) * s];
        let mut shards: Vec<&mut [u8]> = data
            .chunks_mut(s)
            .chain(repair.restored.chunks_mut(s))
            .collect();
        code.reconstruct(&mut shards, &repair.present)?;
        self.recovered += lost;
        let st = &mut self.blocks[b];
        st.data_have = kb as u32;
        st.done = true;
        Ok(())
    }

    /// Restores the missing data shards of block `b` from any `k_b` of its shards.
    fn repair_block(
        &mut self,
        b: usize,
        kb: usize,
        m: usize,
        repair: &mut Repair,
    ) -> Result<(), FecError> {
        let g = self.geometry.expect("started frame");
        let s = g.shard_bytes;
        let first = g.block_first_shard(b);
        let base = b * self.ceiling;
        let (bits, data, parity) = (&self.bits, &self.data, &self.parity);
        let originals = (0..kb)
            .filter(|&i| bit_set(bits, base + i))
            .map(|i| (i, &data[(first + i) * s..(first + i + 1) * s]));
        let recoveries = self
            .parity_meta
            .iter()
            .filter(|(pb, r, _)| *pb as usize == b && (*r as usize) < m)
            .map(|&(_, r, off)| (kb + r as usize, &parity[off..off + s]));
        repair.restored.clear();
        repair.restored_idx.clear();
        let (restored, restored_idx) = (&mut repair.restored, &mut repair.restored_idx);
        repair
            .decoder
            .decode(kb, m, s, originals.chain(recoveries), |i, shard| {
                restored_idx.push(i);
                restored.extend_from_slice(shard);
            })?;
        for (n, &i) in restored_idx.iter().enumerate() {
            let at = (first + i) * s;
            self.data[at..at + s].copy_from_slice(&restored[n * s..(n + 1) * s]);
        }
        self.recovered += restored_idx.len();
        let st = &mut self.blocks[b];
        st.data_have = kb as u32;
        st.done = true;
        Ok(())
    }
}

/// Whether bit `pos` of the shard bitmap is set (false past its end).
fn bit_set(bits: &[u64], pos: usize) -> bool {
    bits.get(pos / 64)
        .is_some_and(|w| w & (1 << (pos % 64)) != 0)
}
