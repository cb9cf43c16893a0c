//! Test-client side: video datagrams in, frames out, with FEC recovery (what
//! moonlight-common-c's depacketizer does, reduced to what tests and the reference client
//! need). Never panics on any input.

use super::VideoError;
use super::crypto::{PREFIX_LEN, open_shard};
use super::fec_plan::{MAX_BLOCK_DATA_SHARDS, MAX_BLOCKS, MAX_RS_SHARDS, client_parity};
use super::frame_header::{FRAME_HEADER_LEN, FrameHeader};
use super::header::{HEADER_LEN, NvVideoPacket, NvVideoRepr, flags};
use super::packetizer::VideoConfig;
use crate::crypto::AeadKey;
use crate::fec::gf8::Gf8CodeCache;

/// A complete frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedFrame<'a> {
    /// frameIndex.
    pub frame_index: u32,
    /// RTP timestamp (90 kHz).
    pub timestamp: u32,
    /// The frame header.
    pub header: FrameHeader,
    /// Frame bytes without the 8-byte header (for H.264/HEVC the last packet's zero padding
    /// is trimmed too, using `lastPayloadLen`).
    pub data: &'a [u8],
    /// Data shards rebuilt by FEC.
    pub recovered_shards: usize,
}

/// What the depacketizer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoEvent<'a> {
    /// A frame was reassembled.
    Frame(ReceivedFrame<'a>),
    /// Frames `first..=last` were lost (not enough shards, or never seen).
    Lost {
        /// First lost frameIndex.
        first: u32,
        /// Last lost frameIndex.
        last: u32,
    },
    /// A frame had enough shards but failed validation after recovery.
    Corrupt {
        /// frameIndex.
        frame_index: u32,
        /// What was wrong.
        reason: &'static str,
    },
}

/// Counters over the depacketizer's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepacketizerStats {
    /// Frames delivered.
    pub frames: u64,
    /// Frames lost.
    pub lost_frames: u64,
    /// Frames that failed validation.
    pub corrupt_frames: u64,
    /// Data shards rebuilt by FEC.
    pub recovered_shards: u64,
    /// Datagrams rejected (bad length, authentication, inconsistent header).
    pub bad_packets: u64,
    /// Datagrams of frames already finished or given up, and duplicates.
    pub stale_packets: u64,
}

#[derive(Debug, Default)]
struct Block {
    active: bool,
    complete: bool,
    m: usize,
    k: usize,
    pct: u8,
    have: usize,
    shards: Vec<u8>,
    present: Vec<bool>,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    frame_index: u32,
    timestamp: u32,
    last_block: u8,
}

/// Reassembles frames from video datagrams.
pub struct VideoDepacketizer {
    d: usize,
    s: usize,
    key: Option<AeadKey>,
    plain: Vec<u8>,
    cur: Option<Current>,
    last_done: Option<u32>,
    blocks: [Block; MAX_BLOCKS],
    frame: Vec<u8>,
    codes: Gf8CodeCache,
    stats: DepacketizerStats,
}

impl std::fmt::Debug for VideoDepacketizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoDepacketizer")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Half-range "a is after b" on 32-bit frame indices.
fn after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

impl VideoDepacketizer {
    /// A depacketizer for the stream described by `config`.
    pub fn new(config: VideoConfig) -> Result<Self, VideoError> {
        config.validate()?;
        Ok(Self {
            d: config.data_len(),
            s: config.shard_len(),
            key: config.encryption_key.as_ref().map(AeadKey::aes128_gcm),
            plain: vec![0; config.shard_len()],
            cur: None,
            // Streams start at frameIndex 1: a lost first frame shows as a gap.
            last_done: Some(0),
            blocks: Default::default(),
            frame: Vec::new(),
            codes: Gf8CodeCache::new(),
            stats: DepacketizerStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> DepacketizerStats {
        self.stats
    }

    /// Handles one datagram; completed, lost and corrupt frames are reported through `emit`.
    /// A rejected datagram returns its error (and counts in `bad_packets`); the state stays
    /// consistent either way.
    pub fn handle_datagram(
        &mut self,
        dgram: &[u8],
        mut emit: impl FnMut(VideoEvent<'_>),
    ) -> Result<(), VideoError> {
        let r = self.ingest(dgram, &mut emit);
        if r.is_err() {
            self.stats.bad_packets += 1;
        }
        r
    }

    /// Gives up on the frame in progress (end of stream), reporting it lost.
    pub fn flush(&mut self, mut emit: impl FnMut(VideoEvent<'_>)) {
        if let Some(c) = self.cur.take() {
            self.give_up(c.frame_index, &mut emit);
        }
    }

    fn ingest(
        &mut self,
        dgram: &[u8],
        emit: &mut impl FnMut(VideoEvent<'_>),
    ) -> Result<(), VideoError> {
        let s = self.s;
        match &self.key {
            Some(key) => {
                if dgram.len() < PREFIX_LEN + s {
                    return Err(VideoError::Truncated);
                }
                open_shard(key, &dgram[..PREFIX_LEN + s], &mut self.plain)?;
            }
            None => {
                if dgram.len() < s {
                    return Err(VideoError::Truncated);
                }
                self.plain.copy_from_slice(&dgram[..s]);
            }
        }
        let repr = NvVideoRepr::parse(&NvVideoPacket::new_unchecked(&self.plain[..]))?;
        let m = repr.data_shards as usize;
        let k = client_parity(m, repr.fec_percentage);
        let j = repr.shard_index as usize;
        if m == 0 || m > MAX_BLOCK_DATA_SHARDS || (k > 0 && m + k > MAX_RS_SHARDS) {
            return Err(VideoError::InvalidField("data shard count"));
        }
        if j >= m + k {
            return Err(VideoError::InvalidField("shard index"));
        }
        if repr.block_index > repr.last_block_index {
            return Err(VideoError::InvalidField("block index"));
        }

        let fi = repr.frame_index;
        if let Some(done) = self.last_done
            && !after(fi, done)
        {
            self.stats.stale_packets += 1;
            return Ok(());
        }
        match self.cur {
            Some(c) if c.frame_index == fi => {
                if c.last_block != repr.last_block_index {
                    return Err(VideoError::InvalidField("block count"));
                }
            }
            Some(c) if !after(fi, c.frame_index) => {
                self.stats.stale_packets += 1;
                return Ok(());
            }
            cur => {
                if let Some(c) = cur {
                    self.give_up(c.frame_index, emit);
                }
                // Frames between the last finished one and this one never showed up.
                let expected = match self.last_done {
                    Some(done) => done.wrapping_add(1),
                    None => fi,
                };
                if expected != fi && after(fi, expected) {
                    let last = fi.wrapping_sub(1);
                    self.stats.lost_frames += u64::from(last.wrapping_sub(expected)) + 1;
                    emit(VideoEvent::Lost {
                        first: expected,
                        last,
                    });
                }
                self.last_done = Some(fi.wrapping_sub(1));
                for b in &mut self.blocks {
                    b.active = false;
                    b.complete = false;
                }
                self.cur = Some(Current {
                    frame_index: fi,
                    timestamp: repr.timestamp,
                    last_block: repr.last_block_index,
                });
            }
        }

        let block = &mut self.blocks[repr.block_index as usize];
        if !block.active {
            block.active = true;
            block.complete = false;
            block.m = m;
            block.k = k;
            block.pct = repr.fec_percentage;
            block.have = 0;
            let need = (m + k) * s;
            if block.shards.len() < need {
                block.shards.resize(need, 0);
            }
            block.present.clear();
            block.present.resize(m + k, false);
        } else if block.m != m || block.pct != repr.fec_percentage {
            return Err(VideoError::InvalidField("block shape changed"));
        }
        if block.complete || block.present[j] {
            self.stats.stale_packets += 1;
            return Ok(());
        }
        block.shards[j * s..(j + 1) * s].copy_from_slice(&self.plain);
        block.present[j] = true;
        block.have += 1;
        if block.have >= block.m {
            block.complete = true;
        }
        let Some(c) = self.cur else { return Ok(()) };
        if self.blocks[..=c.last_block as usize]
            .iter()
            .all(|b| b.active && b.complete)
        {
            self.cur = None;
            self.last_done = Some(c.frame_index);
            self.finish(c, emit);
        }
        Ok(())
    }

    fn give_up(&mut self, frame_index: u32, emit: &mut impl FnMut(VideoEvent<'_>)) {
        self.stats.lost_frames += 1;
        self.last_done = Some(frame_index);
        for b in &mut self.blocks {
            b.active = false;
        }
        emit(VideoEvent::Lost {
            first: frame_index,
            last: frame_index,
        });
    }

    fn finish(&mut self, c: Current, emit: &mut impl FnMut(VideoEvent<'_>)) {
        match self.assemble(c) {
            Ok((header, recovered, len)) => {
                self.stats.frames += 1;
                self.stats.recovered_shards += recovered as u64;
                emit(VideoEvent::Frame(ReceivedFrame {
                    frame_index: c.frame_index,
                    timestamp: c.timestamp,
                    header,
                    data: &self.frame[FRAME_HEADER_LEN..len],
                    recovered_shards: recovered,
                }));
            }
            Err(reason) => {
                self.stats.corrupt_frames += 1;
                emit(VideoEvent::Corrupt {
                    frame_index: c.frame_index,
                    reason,
                });
            }
        }
        for b in &mut self.blocks {
            b.active = false;
        }
    }

    /// Recovers, validates and concatenates the frame's blocks into `self.frame`; returns
    /// the header, recovered shard count and the end of the meaningful data.
    fn assemble(&mut self, c: Current) -> Result<(FrameHeader, usize, usize), &'static str> {
        let (s, d) = (self.s, self.d);
        let mut recovered = 0;
        self.frame.clear();
        for block in &mut self.blocks[..=c.last_block as usize] {
            let (m, k) = (block.m, block.k);
            let missing = block.present[..m].iter().filter(|p| !**p).count();
            if missing > 0 {
                let code = self.codes.get(m, k).map_err(|_| "FEC shape")?;
                let mut refs: Vec<&mut [u8]> =
                    block.shards[..(m + k) * s].chunks_exact_mut(s).collect();
                code.reconstruct(&mut refs, &block.present)
                    .map_err(|_| "FEC recovery failed")?;
                recovered += missing;
            }
            let mut first_counter = 0;
            for j in 0..m {
                let p = NvVideoPacket::new_unchecked(&block.shards[j * s..(j + 1) * s]);
                let mut want = flags::CONTAINS_PIC_DATA;
                if j == 0 {
                    want |= flags::SOF;
                    first_counter = p.packet_counter();
                }
                if j + 1 == m {
                    want |= flags::EOF;
                }
                if p.flags() != want {
                    return Err("data shard flags");
                }
                if p.packet_counter() != (first_counter + j as u32) & 0xFF_FFFF {
                    return Err("streamPacketIndex not consecutive");
                }
                self.frame.extend_from_slice(&p.payload()[..d]);
            }
        }
        let header = FrameHeader::parse(&self.frame).map_err(|_| "frame header")?;
        let lpl = header.last_payload_len as usize;
        if lpl == 0 || lpl > d {
            return Err("lastPayloadLen out of range");
        }
        let len = self.frame.len() - d + lpl;
        if len < FRAME_HEADER_LEN {
            return Err("frame shorter than its header");
        }
        // Never read past the stored data even for odd shard sizes.
        debug_assert!(len <= self.frame.len() && HEADER_LEN < s);
        Ok((header, recovered, len))
    }
}

/// Runs arbitrary bytes through a fresh depacketizer (fuzz and property-test entry point):
/// as plaintext and as encrypted datagrams of a small stream.
pub fn fuzz_datagrams(data: &[u8]) {
    for key in [None, Some([7u8; 16])] {
        let cfg = VideoConfig {
            packet_size: 64,
            fec_percentage: 20,
            min_required_fec_packets: 2,
            encryption_key: key,
        };
        let Ok(mut dp) = VideoDepacketizer::new(cfg) else {
            return;
        };
        let len = cfg.datagram_len();
        for chunk in data.chunks(len.max(1)) {
            let _ = dp.handle_datagram(chunk, |_| {});
        }
        // Also as one datagram cut at every length prefix of the start.
        let _ = dp.handle_datagram(&data[..data.len().min(len)], |_| {});
        dp.flush(|_| {});
    }
}
