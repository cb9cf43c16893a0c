//! The client side of the data plane: datagrams in, AUs out (spec §5.3–§5.5).
//!
//! [`Reassembler::handle_datagram`] opens a datagram (length limits, AEAD, anti-replay),
//! validates its header against the session geometry, and files its shard; a block
//! completes with any k of its k + m shards (missing data restored by GF(2¹⁶) FEC), an AU
//! when all its blocks do. [`Reassembler::poll_frame`] hands out finished AUs in completion
//! order. An incomplete AU is abandoned once it is more than 120 ms of pts, or more than 64
//! frame indices (half-space wrap compare), behind the newest AU seen; shards of finished
//! or abandoned AUs are ignored. No input makes it panic.
//!
//! Memory: one scratch datagram buffer, a pool of frame slots and of AU buffers reused
//! across frames (give finished AUs back with [`Reassembler::recycle`]).

mod pending;
mod types;

use std::collections::VecDeque;

use super::geometry::{FecScheme, FrameGeometry, receiver_ceiling, shard_bytes_acceptable};
use super::header::{DataHeader, DataHeaderRepr};
use super::nonce::{NoncePrefix, aad};
use super::replay::ReplayWindow;
use super::{DataCipher, HEADER_LEN, MAX_DATAGRAM_BYTES, MIN_SEALED_DATAGRAM, SEQ_LEN, TAG_LEN};
use pending::{Added, FrameKey, PendingFrame, Repair};
pub use types::{DatagramError, ReassembledFrame, ReassemblerConfig, ReassemblerStats};

/// An incomplete AU this many ns of pts behind the newest is abandoned.
pub const ABANDON_PTS_NS: u64 = 120_000_000;
/// An incomplete AU more than this many frame indices behind the newest is abandoned.
pub const ABANDON_FRAMES: u32 = 64;

/// Bitmap of finished (complete or abandoned) frame indices near the newest.
#[derive(Debug, Default, Clone)]
struct Finished {
    bits: [u64; 2],
}

impl Finished {
    const SPAN: u32 = 128;
    fn slot(i: u32) -> (usize, u64) {
        let s = i % Self::SPAN;
        ((s / 64) as usize, 1 << (s % 64))
    }
    fn contains(&self, i: u32) -> bool {
        let (w, b) = Self::slot(i);
        self.bits[w] & b != 0
    }
    fn insert(&mut self, i: u32) {
        let (w, b) = Self::slot(i);
        self.bits[w] |= b;
    }
    /// The newest index moves from `old` to `new` (newer): slots of (old, new] are reused.
    fn advance(&mut self, old: u32, new: u32) {
        let d = new.wrapping_sub(old);
        if d >= Self::SPAN {
            self.bits = [0; 2];
        } else {
            for i in 1..=d {
                let (w, b) = Self::slot(old.wrapping_add(i));
                self.bits[w] &= !b;
            }
        }
    }
}

/// `a` is newer than `b` in half-space wrap-around order.
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The client's reassembler for one session.
#[derive(Debug)]
pub struct Reassembler {
    cipher: DataCipher,
    prefix: NoncePrefix,
    s_welcome: usize,
    k: usize,
    scheme: FecScheme,
    ceiling: usize,
    max_frame_bytes: usize,
    max_pending: usize,
    replay: ReplayWindow,
    scratch: Vec<u8>,
    pending: Vec<PendingFrame>,
    free_slots: Vec<PendingFrame>,
    spare_bufs: Vec<Vec<u8>>,
    ready: VecDeque<ReassembledFrame>,
    newest: Option<(u32, u64)>,
    finished: Finished,
    repair: Repair,
    stats: ReassemblerStats,
}

impl Reassembler {
    /// A reassembler for a session; `K` is clamped to at least 1.
    pub fn new(config: ReassemblerConfig) -> Self {
        let salt = match &config.cipher {
            DataCipher::Sealed { salt, .. } => *salt,
            DataCipher::Plaintext => [0; 4],
        };
        let k = config.max_data_per_block.max(1);
        Self {
            prefix: NoncePrefix::new(salt, config.direction),
            cipher: config.cipher,
            s_welcome: config.shard_payload,
            k,
            scheme: config.fec_scheme,
            ceiling: receiver_ceiling(k, config.fec_scheme),
            max_frame_bytes: config.max_frame_bytes,
            max_pending: config.max_pending_frames.max(1),
            replay: ReplayWindow::new(),
            scratch: vec![0; MAX_DATAGRAM_BYTES],
            pending: Vec::new(),
            free_slots: Vec::new(),
            spare_bufs: Vec::new(),
            ready: VecDeque::new(),
            newest: None,
            finished: Finished::default(),
            repair: Repair::default(),
            stats: ReassemblerStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> ReassemblerStats {
        self.stats
    }

    /// AUs currently in progress.
    pub fn pending_frames(&self) -> usize {
        self.pending.len()
    }

    /// The next finished AU, in completion order.
    pub fn poll_frame(&mut self) -> Option<ReassembledFrame> {
        self.ready.pop_front()
    }

    /// Gives an AU's buffer back for reuse by later frames.
    pub fn recycle(&mut self, frame: ReassembledFrame) {
        if self.spare_bufs.len() < 8 {
            self.spare_bufs.push(frame.buf);
        }
    }

    /// Abandons every incomplete AU (end of stream); they count as lost.
    pub fn abandon_all(&mut self) {
        while let Some(mut slot) = self.pending.pop() {
            self.stats.frames_lost += 1;
            if let Some(key) = slot.key {
                self.mark_finished(key.frame_index);
            }
            self.release(&mut slot);
            self.free_slots.push(slot);
        }
    }

    /// Takes one datagram from the data socket.
    pub fn handle_datagram(&mut self, datagram: &[u8]) -> Result<(), DatagramError> {
        let r = self.handle_inner(datagram);
        match &r {
            Ok(()) => self.stats.datagrams_ok += 1,
            Err(DatagramError::Replay(_)) => self.stats.datagrams_replayed += 1,
            Err(DatagramError::DuplicateShard) => self.stats.datagrams_duplicate += 1,
            Err(_) => self.stats.datagrams_bad += 1,
        }
        r
    }

    fn handle_inner(&mut self, dg: &[u8]) -> Result<(), DatagramError> {
        let len = dg.len();
        if len > MAX_DATAGRAM_BYTES {
            return Err(DatagramError::TooLong(len));
        }
        let plain_len = match &self.cipher {
            DataCipher::Sealed { key, .. } => {
                if len < MIN_SEALED_DATAGRAM + HEADER_LEN {
                    return Err(DatagramError::TooShort(len));
                }
                let seq = u64::from_be_bytes(dg[..SEQ_LEN].try_into().expect("8 bytes"));
                self.replay.check(seq)?;
                let (ct, tag) = dg[SEQ_LEN..].split_at(len - SEQ_LEN - TAG_LEN);
                let tag: &[u8; TAG_LEN] = tag.try_into().expect("16 bytes");
                key.open_to(
                    &self.prefix.nonce(seq),
                    &aad(seq),
                    ct,
                    tag,
                    &mut self.scratch[..ct.len()],
                )
                .map_err(|_| DatagramError::Authentication)?;
                self.replay.accept(seq)?;
                ct.len()
            }
            DataCipher::Plaintext => {
                if len < HEADER_LEN {
                    return Err(DatagramError::TooShort(len));
                }
                self.scratch[..len].copy_from_slice(dg);
                len
            }
        };
        let scratch = std::mem::take(&mut self.scratch);
        let r = self.file_shard(&scratch[..plain_len]);
        self.scratch = scratch;
        r
    }

    /// Validates a plaintext `header ‖ shard` and files the shard.
    fn file_shard(&mut self, plain: &[u8]) -> Result<(), DatagramError> {
        let h = DataHeaderRepr::parse(&DataHeader::new_checked(plain)?)?;
        if h.block_count == 0 {
            return Err(DatagramError::StreamedAu);
        }
        let s = h.shard_bytes as usize;
        if !shard_bytes_acceptable(s, self.s_welcome) {
            return Err(DatagramError::ShardBytes(h.shard_bytes));
        }
        let have = plain.len() - HEADER_LEN;
        if have < s {
            return Err(DatagramError::Truncated { have, need: s });
        }
        if h.frame_bytes as usize > self.max_frame_bytes {
            return Err(DatagramError::FrameTooLarge(h.frame_bytes));
        }
        let (kb, m, idx, b) = (
            h.data_shards as usize,
            h.recovery_shards as usize,
            h.shard_index as usize,
            h.block_index as usize,
        );
        if kb == 0 || kb > self.k {
            return Err(DatagramError::Geometry("data_shards outside 1..=K"));
        }
        if kb + m > self.ceiling {
            return Err(DatagramError::Geometry("k + m above the receiver ceiling"));
        }
        if idx >= kb + m {
            return Err(DatagramError::Geometry("shard_index beyond k + m"));
        }
        let g = FrameGeometry::new(h.frame_bytes as usize, s, self.k);
        if g.block_count != h.block_count as usize {
            return Err(DatagramError::Geometry(
                "block_count differs from the derivation",
            ));
        }
        if b >= g.block_count {
            return Err(DatagramError::Geometry("block_index beyond block_count"));
        }
        if g.block_data_shards(b) != kb {
            return Err(DatagramError::Geometry(
                "data_shards differs from the derivation",
            ));
        }
        let key = FrameKey {
            frame_index: h.frame_index,
            pts_ns: h.pts_ns,
            user_flags: h.user_flags,
            frame_bytes: h.frame_bytes,
            shard_bytes: h.shard_bytes,
            block_count: h.block_count,
        };
        let shard = &plain[HEADER_LEN..HEADER_LEN + s];

        let at = match self
            .pending
            .iter()
            .position(|p| p.key.is_some_and(|k| k.frame_index == key.frame_index))
        {
            Some(at) => {
                if self.pending[at].key != Some(key) {
                    return Err(DatagramError::Inconsistent(key.frame_index));
                }
                at
            }
            None => {
                if self.is_stale_or_finished(&key) {
                    self.stats.shards_late += 1;
                    return Ok(());
                }
                self.open_frame(key)
            }
        };
        let slot = &mut self.pending[at];
        if !slot.block_m_matches(b, m as u16) {
            return Err(DatagramError::Inconsistent(key.frame_index));
        }
        if slot.has_shard(b, idx) {
            return Err(DatagramError::DuplicateShard);
        }
        match slot.add(b, m as u16, idx, shard, self.scheme, &mut self.repair) {
            Ok(Added::Stored) => Ok(()),
            Ok(Added::Late) => {
                self.stats.shards_late += 1;
                Ok(())
            }
            Ok(Added::Complete) => {
                let mut slot = self.pending.swap_remove(at);
                let recovered = slot.recovered;
                let data = slot.take_data();
                self.free_slots.push(slot);
                self.mark_finished(key.frame_index);
                self.stats.frames_complete += 1;
                self.stats.shards_recovered += recovered as u64;
                if recovered > 0 {
                    self.stats.frames_recovered += 1;
                }
                self.ready.push_back(ReassembledFrame {
                    frame_index: key.frame_index,
                    pts_ns: key.pts_ns,
                    user_flags: key.user_flags,
                    recovered_shards: recovered,
                    buf: data,
                    len: key.frame_bytes as usize,
                });
                Ok(())
            }
            Err(e) => {
                let mut slot = self.pending.swap_remove(at);
                self.stats.frames_lost += 1;
                self.mark_finished(key.frame_index);
                self.release(&mut slot);
                self.free_slots.push(slot);
                Err(e.into())
            }
        }
    }

    /// Shards of a frame that is not in progress: ignored if it finished already or is too
    /// far behind the newest AU.
    fn is_stale_or_finished(&self, key: &FrameKey) -> bool {
        let Some((idx, pts)) = self.newest else {
            return false;
        };
        if newer(key.frame_index, idx) {
            return false;
        }
        let behind = idx.wrapping_sub(key.frame_index);
        behind > ABANDON_FRAMES
            || pts.saturating_sub(key.pts_ns) > ABANDON_PTS_NS
            || self.finished.contains(key.frame_index)
    }

    /// Starts a frame slot; moves the newest mark and abandons what falls behind it.
    fn open_frame(&mut self, key: FrameKey) -> usize {
        match self.newest {
            None => self.newest = Some((key.frame_index, key.pts_ns)),
            Some((idx, _)) if newer(key.frame_index, idx) => {
                self.finished.advance(idx, key.frame_index);
                self.newest = Some((key.frame_index, key.pts_ns));
                self.abandon_behind();
            }
            Some(_) => {}
        }
        if self.pending.len() >= self.max_pending {
            // Abandon the oldest frame in progress.
            let newest = self.newest.map_or(0, |(n, _)| n);
            let oldest = (0..self.pending.len())
                .max_by_key(|&i| {
                    newest.wrapping_sub(self.pending[i].key.map_or(newest, |k| k.frame_index))
                })
                .unwrap_or(0);
            self.abandon_at(oldest);
        }
        let mut slot = self.free_slots.pop().unwrap_or_default();
        let buf = self.spare_bufs.pop().unwrap_or_default();
        slot.start(key, self.k, self.ceiling, buf);
        self.pending.push(slot);
        self.pending.len() - 1
    }

    fn abandon_behind(&mut self) {
        let Some((idx, pts)) = self.newest else {
            return;
        };
        let mut i = 0;
        while i < self.pending.len() {
            let stale = self.pending[i].key.is_none_or(|k| {
                idx.wrapping_sub(k.frame_index) > ABANDON_FRAMES
                    || pts.saturating_sub(k.pts_ns) > ABANDON_PTS_NS
            });
            if stale {
                self.abandon_at(i);
            } else {
                i += 1;
            }
        }
    }

    fn abandon_at(&mut self, i: usize) {
        let mut slot = self.pending.swap_remove(i);
        self.stats.frames_lost += 1;
        if let Some(k) = slot.key {
            self.mark_finished(k.frame_index);
        }
        self.release(&mut slot);
        self.free_slots.push(slot);
    }

    /// Records a finished frame, if it is within the span the bitmap describes.
    fn mark_finished(&mut self, frame_index: u32) {
        if let Some((n, _)) = self.newest
            && n.wrapping_sub(frame_index) < Finished::SPAN
        {
            self.finished.insert(frame_index);
        }
    }

    fn release(&mut self, slot: &mut PendingFrame) {
        let buf = slot.take_data();
        if self.spare_bufs.len() < 8 {
            self.spare_bufs.push(buf);
        }
    }
}
