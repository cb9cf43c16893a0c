//! Host side: one encoded frame in, sealed video datagrams out (§6.4–6.7).

use super::VideoError;
use super::crypto::{PREFIX_LEN, seal_shard};
use super::fec_plan::{FramePlan, MAX_RS_SHARDS, block_fec};
use super::frame_header::{FRAME_HEADER_LEN, FrameHeader, FrameType};
use super::header::{HEADER_LEN, NvVideoPacket, NvVideoRepr, RTP_FLAGS_VALUE, flags};
use crate::crypto::AeadKey;
use crate::fec::gf8::Gf8CodeCache;
use crate::slots::DatagramSink;

/// Video stream parameters from the client's ANNOUNCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoConfig {
    /// `x-nv-video[0].packetSize` (`P`): NV header + frame data per packet. Already reduced by
    /// 32 by the client when video encryption is on.
    pub packet_size: usize,
    /// FEC percentage (Sunshine default 20; 0 disables FEC).
    pub fec_percentage: u8,
    /// `x-nv-vqos[0].fec.minRequiredFecPackets` (2 from stock clients).
    pub min_required_fec_packets: u8,
    /// `rikey` when video encryption was negotiated (`encryptionEnabled & 0x02`).
    pub encryption_key: Option<[u8; 16]>,
}

impl VideoConfig {
    /// Frame-data bytes per packet, `D = P − 16`.
    pub const fn data_len(&self) -> usize {
        self.packet_size - 16
    }

    /// Plaintext shard size, `S = P + 16`.
    pub const fn shard_len(&self) -> usize {
        self.packet_size + 16
    }

    /// Size of every datagram on the wire: `S`, or `S + 32` when encrypted.
    pub const fn datagram_len(&self) -> usize {
        self.shard_len()
            + if self.encryption_key.is_some() {
                PREFIX_LEN
            } else {
                0
            }
    }

    pub(crate) fn validate(&self) -> Result<(), VideoError> {
        if !(32..=65000).contains(&self.packet_size) {
            return Err(VideoError::PacketSize(self.packet_size));
        }
        Ok(())
    }
}

/// What one [`VideoPacketizer::packetize`] call sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameStats {
    /// The frame's frameIndex.
    pub frame_index: u32,
    /// Datagrams written to the sink.
    pub datagrams: usize,
    /// Data shards.
    pub data_shards: usize,
    /// Parity shards.
    pub parity_shards: usize,
    /// FEC blocks.
    pub blocks: usize,
    /// True when FEC is configured but the frame was too large for it (more than 4 blocks)
    /// and went without.
    pub fec_skipped: bool,
}

/// The host's video packetizer for one stream session.
///
/// Per-session state (RTP sequence and packet counter from 0, frameIndex from 1, the IV
/// counter) lives here; the reusable shard scratch and the cached Reed-Solomon codes mean
/// nothing allocates per packet, and nothing per frame once the largest frame shape was seen.
pub struct VideoPacketizer {
    config: VideoConfig,
    key: Option<AeadKey>,
    seq: u16,
    packet_counter: u32,
    frame_index: u32,
    iv_counter: u64,
    scratch: Vec<u8>,
    codes: Gf8CodeCache,
}

impl std::fmt::Debug for VideoPacketizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoPacketizer")
            .field("config.packet_size", &self.config.packet_size)
            .field("seq", &self.seq)
            .field("frame_index", &self.frame_index)
            .finish_non_exhaustive()
    }
}

impl VideoPacketizer {
    /// A packetizer at the start of a stream (sequence 0, packet counter 0, frame 1).
    pub fn new(config: VideoConfig) -> Result<Self, VideoError> {
        config.validate()?;
        Ok(Self {
            config,
            key: config.encryption_key.as_ref().map(AeadKey::aes128_gcm),
            seq: 0,
            packet_counter: 0,
            frame_index: 1,
            iv_counter: 0,
            scratch: Vec::new(),
            codes: Gf8CodeCache::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VideoConfig {
        &self.config
    }

    /// Next RTP sequence number.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// frameIndex the next frame gets.
    pub fn next_frame_index(&self) -> u32 {
        self.frame_index
    }

    /// Overrides the counters (tests and session resumption): RTP sequence, 24-bit packet
    /// counter, next frameIndex.
    pub fn set_counters(&mut self, seq: u16, packet_counter: u32, frame_index: u32) {
        self.seq = seq;
        self.packet_counter = packet_counter & 0xFF_FFFF;
        self.frame_index = frame_index;
    }

    /// Packetizes one encoded frame (Annex B access unit or AV1 temporal unit) and writes
    /// every datagram, data and parity, in send order into `sink`.
    ///
    /// `timestamp_90k` is the capture time on a 90 kHz clock; `host_latency` is capture-to-
    /// send time in 0.1 ms units (0 if unknown). The frame consumes a frameIndex even when
    /// it is too large or the sink fills up mid-frame (the client then sees it as lost).
    pub fn packetize<S: DatagramSink + ?Sized>(
        &mut self,
        frame: &[u8],
        frame_type: FrameType,
        timestamp_90k: u32,
        host_latency: u16,
        sink: &mut S,
    ) -> Result<FrameStats, VideoError> {
        let d = self.config.data_len();
        let s = self.config.shard_len();
        let stream_len = FRAME_HEADER_LEN + frame.len();
        // The frame consumes its index even if it cannot be sent, so the client sees the
        // gap and asks for recovery instead of decoding later frames against a missing one.
        let frame_index = self.frame_index;
        self.frame_index = self.frame_index.wrapping_add(1);
        let plan = FramePlan::new(stream_len.div_ceil(d), self.config.fec_percentage)?;

        let mut fh = [0u8; FRAME_HEADER_LEN];
        FrameHeader {
            host_latency,
            frame_type,
            last_payload_len: FrameHeader::last_payload_len_for(frame.len(), d),
        }
        .emit(&mut fh);

        let mut stats = FrameStats {
            frame_index,
            blocks: plan.blocks,
            fec_skipped: plan.pct == 0 && self.config.fec_percentage > 0,
            ..Default::default()
        };
        let mut first_packet = 0usize;
        for b in 0..plan.blocks {
            let m = plan.block_len(b);
            let fec = block_fec(m, plan.pct, self.config.min_required_fec_packets as usize);
            let total = m + fec.parity;
            let need = total * s;
            if self.scratch.len() < need {
                self.scratch.resize(need, 0);
            }
            let base_seq = self.seq;
            let base_counter = self.packet_counter;
            self.seq = self.seq.wrapping_add(total as u16);
            self.packet_counter = (self.packet_counter + total as u32) & 0xFF_FFFF;

            // Data shards: every header field final before encoding.
            for j in 0..m {
                let shard = &mut self.scratch[j * s..(j + 1) * s];
                let mut p = NvVideoPacket::new_unchecked(&mut *shard);
                let mut f = flags::CONTAINS_PIC_DATA;
                if j == 0 {
                    f |= flags::SOF;
                }
                if j + 1 == m {
                    f |= flags::EOF;
                }
                NvVideoRepr {
                    seq: base_seq.wrapping_add(j as u16),
                    timestamp: timestamp_90k,
                    packet_counter: (base_counter + j as u32) & 0xFF_FFFF,
                    frame_index,
                    flags: f,
                    extra_flags: 0,
                    block_index: b as u8,
                    last_block_index: (plan.blocks - 1) as u8,
                    data_shards: m as u16,
                    shard_index: j as u16,
                    fec_percentage: fec.pct,
                }
                .emit(&mut p);
                copy_stream(&fh, frame, (first_packet + j) * d, &mut shard[HEADER_LEN..]);
            }
            first_packet += m;

            if fec.parity > 0 {
                let code = self.codes.get(m, fec.parity)?;
                let (data, parity) = self.scratch[..need].split_at_mut(m * s);
                let mut data_refs: [&[u8]; MAX_RS_SHARDS] = [&[]; MAX_RS_SHARDS];
                for (r, c) in data_refs.iter_mut().zip(data.chunks_exact(s)) {
                    *r = c;
                }
                let mut parity_refs: [&mut [u8]; MAX_RS_SHARDS] =
                    std::array::from_fn(|_| &mut [][..]);
                for (r, c) in parity_refs.iter_mut().zip(parity.chunks_exact_mut(s)) {
                    *r = c;
                }
                code.encode(&data_refs[..m], &mut parity_refs[..fec.parity])?;
                // Stamp the fields the client rewrites on recovery.
                for (i, shard) in parity.chunks_exact_mut(s).enumerate() {
                    let j = m + i;
                    let mut p = NvVideoPacket::new_unchecked(shard);
                    p.set_rtp_flags(RTP_FLAGS_VALUE);
                    p.set_seq(base_seq.wrapping_add(j as u16));
                    p.set_timestamp(timestamp_90k);
                    p.set_frame_index(frame_index);
                    p.set_blocks(b as u8, (plan.blocks - 1) as u8);
                    p.set_fec_info(m as u16, j as u16, fec.pct);
                }
            }

            let dlen = self.config.datagram_len();
            for shard in self.scratch[..need].chunks_exact(s) {
                let out = sink.next_datagram(dlen).ok_or(VideoError::SinkFull)?;
                match &self.key {
                    None => out.copy_from_slice(shard),
                    Some(key) => {
                        out[PREFIX_LEN..].copy_from_slice(shard);
                        seal_shard(key, self.iv_counter, frame_index, out);
                        self.iv_counter = self.iv_counter.wrapping_add(1);
                    }
                }
                stats.datagrams += 1;
            }
            stats.data_shards += m;
            stats.parity_shards += fec.parity;
        }
        Ok(stats)
    }
}

/// Copies `dst.len()` bytes of the virtual stream `header || frame` starting at `off`,
/// zero-padding past its end.
fn copy_stream(header: &[u8; FRAME_HEADER_LEN], frame: &[u8], off: usize, dst: &mut [u8]) {
    let mut w = 0;
    if off < FRAME_HEADER_LEN {
        let n = (FRAME_HEADER_LEN - off).min(dst.len());
        dst[..n].copy_from_slice(&header[off..off + n]);
        w = n;
    }
    let start = (off + w).saturating_sub(FRAME_HEADER_LEN);
    if start < frame.len() {
        let n = (frame.len() - start).min(dst.len() - w);
        dst[w..w + n].copy_from_slice(&frame[start..start + n]);
        w += n;
    }
    dst[w..].fill(0);
}
