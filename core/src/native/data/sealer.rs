//! The host side of the data plane: one AU in, its sealed datagrams out (spec §5.1–§5.4).
//!
//! [`FrameSealer::seal_frame`] writes every datagram straight into buffers handed out by a
//! [`DatagramSink`] (AF_XDP UMEM frames, io_uring buffers, or a [`DatagramBuf`](crate::slots::DatagramBuf)):
//! the clear seq, the header and the shard are written in place and then sealed in place,
//! so each byte of the AU is copied once into the datagram and once into the FEC encoder.
//! Wire order is data first (every block, in block order), then parity (every block, in
//! block order). Parity of all blocks but the last waits in an arena owned by the sealer;
//! the last block's parity goes from the encoder straight into the sink. Nothing allocates
//! per packet, and once the largest frame shape has been seen, nothing allocates per frame.

use crate::fec::FecError;
use crate::fec::gf8::{self, Gf8CodeCache};
use crate::fec::gf16::Gf16Encoder;
use crate::slots::DatagramSink;

use super::geometry::{FecScheme, FrameGeometry, parity_shards, receiver_ceiling};
use super::header::{DataHeader, DataHeaderRepr};
use super::nonce::{Direction, NoncePrefix, aad};
use super::{DataCipher, HEADER_LEN, HEADER_VERSION, MAX_SHARD_BYTES, SEQ_LEN, flags};

/// Largest K the GF(2¹⁶) sealer accepts: every block shape up to the receiver ceiling of
/// such a K is one `reed-solomon-simd` supports.
pub const MAX_GF16_DATA_PER_BLOCK: usize = 16384;
/// Largest K under GF(2⁸) (k + m ≤ 255).
pub const MAX_GF8_DATA_PER_BLOCK: usize = gf8::MAX_TOTAL_SHARDS;

/// Errors from configuring a sealer or sealing a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The shard payload is odd, zero, or above 9152 bytes.
    #[error("shard payload {0} must be even and within 2..=9152")]
    ShardPayload(usize),
    /// K (max data shards per block) is zero or too large for the FEC scheme.
    #[error("max_data_per_block {k} is outside 1..={max}")]
    MaxDataPerBlock {
        /// K requested.
        k: usize,
        /// Largest K of the scheme.
        max: usize,
    },
    /// The frame does not fit the header: more than u32::MAX bytes or 65535 blocks.
    #[error("frame of {0} bytes is too large for the header")]
    FrameTooLarge(usize),
    /// The sink had no room for the next datagram. The datagrams already written are valid
    /// and their sequence numbers are spent; the frame index is spent too.
    #[error("datagram sink is full after {written} of {needed} datagrams")]
    SinkFull {
        /// Datagrams written for this frame.
        written: usize,
        /// Datagrams the frame needed.
        needed: usize,
    },
    /// The FEC encoder refused a block (cannot happen with a validated config).
    #[error("FEC: {0}")]
    Fec(#[from] FecError),
}

/// How a [`FrameSealer`] protects and cuts frames (the Welcome's data-plane fields).
#[derive(Debug)]
pub struct SealerConfig {
    /// Encryption (Welcome `encrypt`, `cipher`, `key`, `salt`).
    pub cipher: DataCipher,
    /// S, the shard payload (Welcome `shard_payload`; 1408 on IPv4).
    pub shard_payload: usize,
    /// K, data shards per block (Welcome `max_data_per_block`; 4096).
    pub max_data_per_block: usize,
    /// FEC scheme (Welcome `fec_scheme`; GF(2¹⁶)).
    pub fec_scheme: FecScheme,
    /// Sender direction in the nonce (host → client for video).
    pub direction: Direction,
}

impl SealerConfig {
    /// GF(2¹⁶), host → client, with the given cipher, S and K.
    pub fn new(cipher: DataCipher, shard_payload: usize, max_data_per_block: usize) -> Self {
        Self {
            cipher,
            shard_payload,
            max_data_per_block,
            fec_scheme: FecScheme::Gf16,
            direction: Direction::HostToClient,
        }
    }
}

/// What sealing a frame of a given length will produce, so a datapath can reserve slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePlan {
    /// Datagrams the frame needs (data + parity).
    pub datagrams: usize,
    /// Length of every datagram (64 + S sealed, 40 + S plaintext).
    pub datagram_len: usize,
    /// FEC blocks.
    pub blocks: usize,
    /// Data shards over all blocks.
    pub data_shards: usize,
    /// Parity shards over all blocks.
    pub parity_shards: usize,
}

/// What [`FrameSealer::seal_frame`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedFrame {
    /// The frame index the AU was given.
    pub frame_index: u32,
    /// Sequence number of the first datagram.
    pub first_seq: u64,
    /// The shape of what was written.
    pub plan: FramePlan,
}

/// The host's per-session sealer: sequence and frame counters, FEC encoder, parity arena.
#[derive(Debug)]
pub struct FrameSealer {
    cipher: DataCipher,
    prefix: NoncePrefix,
    s: usize,
    k: usize,
    scheme: FecScheme,
    ceiling: usize,
    seq: u64,
    stream_seq: u32,
    frame_index: u32,
    encoder: Gf16Encoder,
    gf8: Gf8CodeCache,
    /// The AU's last data shard zero-padded to S (GF(2⁸) encodes from whole shards).
    pad: Vec<u8>,
    arena: Vec<u8>,
}

impl FrameSealer {
    /// A sealer whose first datagram has seq 0 and whose first AU has frame index 0.
    pub fn new(config: SealerConfig) -> Result<Self, SealError> {
        let s = config.shard_payload;
        if s == 0 || !s.is_multiple_of(2) || s > MAX_SHARD_BYTES {
            return Err(SealError::ShardPayload(s));
        }
        let k = config.max_data_per_block;
        let max = match config.fec_scheme {
            FecScheme::Gf8 => MAX_GF8_DATA_PER_BLOCK,
            FecScheme::Gf16 => MAX_GF16_DATA_PER_BLOCK,
        };
        if k == 0 || k > max {
            return Err(SealError::MaxDataPerBlock { k, max });
        }
        let salt = match &config.cipher {
            DataCipher::Sealed { salt, .. } => *salt,
            DataCipher::Plaintext => [0; 4],
        };
        Ok(Self {
            prefix: NoncePrefix::new(salt, config.direction),
            cipher: config.cipher,
            s,
            k,
            scheme: config.fec_scheme,
            ceiling: receiver_ceiling(k, config.fec_scheme),
            seq: 0,
            stream_seq: 0,
            frame_index: 0,
            encoder: Gf16Encoder::new(),
            gf8: Gf8CodeCache::new(),
            pad: vec![0; s],
            arena: Vec::new(),
        })
    }

    /// Sequence number the next datagram will carry.
    pub fn next_seq(&self) -> u64 {
        self.seq
    }

    /// Frame index the next AU will get.
    pub fn next_frame_index(&self) -> u32 {
        self.frame_index
    }

    /// Length of every datagram this sealer writes.
    pub fn datagram_len(&self) -> usize {
        self.cipher.overhead() + self.s
    }

    /// The datagrams a frame of `frame_len` bytes at `fec_pct` percent parity will need.
    pub fn plan(&self, frame_len: usize, fec_pct: u8) -> Result<FramePlan, SealError> {
        if frame_len > u32::MAX as usize {
            return Err(SealError::FrameTooLarge(frame_len));
        }
        let g = FrameGeometry::new(frame_len, self.s, self.k);
        if g.block_count > u16::MAX as usize {
            return Err(SealError::FrameTooLarge(frame_len));
        }
        let full = g.block_count - 1;
        let last_k = g.block_data_shards(full);
        let m_full = parity_shards(self.k, fec_pct, self.ceiling);
        let m_last = parity_shards(last_k, fec_pct, self.ceiling);
        let parity = full * m_full + m_last;
        Ok(FramePlan {
            datagrams: g.total_data + parity,
            datagram_len: self.datagram_len(),
            blocks: g.block_count,
            data_shards: g.total_data,
            parity_shards: parity,
        })
    }

    /// Seals one AU into `sink`: frame index +1, every datagram's seq +1.
    ///
    /// `pts_ns` is the capture time (CLOCK_REALTIME ns), `user_flags` the application bits,
    /// `fec_pct` the parity percentage for this AU (may change per AU).
    pub fn seal_frame(
        &mut self,
        frame: &[u8],
        pts_ns: u64,
        user_flags: u32,
        fec_pct: u8,
        sink: &mut impl DatagramSink,
    ) -> Result<SealedFrame, SealError> {
        let plan = self.plan(frame.len(), fec_pct)?;
        let g = FrameGeometry::new(frame.len(), self.s, self.k);
        let (s, k) = (self.s, self.k);
        let frame_index = self.frame_index;
        self.frame_index = frame_index.wrapping_add(1);
        let first_seq = self.seq;

        let full_blocks = g.block_count - 1;
        let m_full = parity_shards(k, fec_pct, self.ceiling);
        let last_k = g.block_data_shards(full_blocks);
        let m_last = parity_shards(last_k, fec_pct, self.ceiling);
        // Parity waiting for the data of later blocks: all blocks but the last under
        // GF(2¹⁶) (whose last block's parity streams from the encoder), all under GF(2⁸).
        let gf16 = self.scheme == FecScheme::Gf16;
        let arena_blocks = if gf16 { full_blocks } else { g.block_count };
        let arena_len = (full_blocks * m_full + if gf16 { 0 } else { m_last }) * s;
        if self.arena.len() < arena_len {
            self.arena.resize(arena_len, 0);
        }

        let mut out = Writer {
            cipher: &self.cipher,
            prefix: self.prefix,
            s,
            len: plan.datagram_len,
            seq: &mut self.seq,
            stream_seq: &mut self.stream_seq,
            written: 0,
            needed: plan.datagrams,
            hdr: DataHeaderRepr {
                pts_ns,
                frame_index,
                frame_bytes: frame.len() as u32,
                user_flags,
                block_count: g.block_count as u16,
                shard_bytes: s as u16,
                version: HEADER_VERSION,
                fec_scheme: self.scheme.wire(),
                ..DataHeaderRepr::default()
            },
        };
        let encoder = &mut self.encoder;
        let arena = &mut self.arena;

        // Data shards of every block; parity of all but the last block into the arena.
        for b in 0..g.block_count {
            let kb = g.block_data_shards(b);
            let mb = parity_shards(kb, fec_pct, self.ceiling);
            out.hdr.block_index = b as u16;
            out.hdr.data_shards = kb as u16;
            out.hdr.recovery_shards = mb as u16;
            let first = g.block_first_shard(b);
            let shard = |i: usize| {
                let start = ((first + i) * s).min(frame.len());
                &frame[start..(start + s).min(frame.len())]
            };
            if mb > 0 && !gf16 {
                let base = b * m_full * s;
                gf8_parity(
                    &mut self.gf8,
                    &mut self.pad,
                    kb,
                    mb,
                    shard,
                    &mut arena[base..],
                )?;
            }
            if mb > 0 && gf16 {
                encoder.begin(kb, mb, s)?;
            }
            for i in 0..kb {
                out.hdr.shard_index = i as u16;
                let fec = if mb > 0 && gf16 {
                    Some(&mut *encoder)
                } else {
                    None
                };
                out.write(sink, b == 0 && i == 0, shard(i), fec)?;
            }
            if mb > 0 && gf16 && b < full_blocks {
                let base = b * m_full * s;
                encoder.finish(|r, shard| {
                    arena[base + r * s..base + (r + 1) * s].copy_from_slice(shard)
                })?;
            }
        }

        // Parity of the blocks held in the arena, then (GF(2¹⁶)) the last block's from the
        // encoder.
        for b in 0..arena_blocks {
            let kb = g.block_data_shards(b);
            let mb = parity_shards(kb, fec_pct, self.ceiling);
            out.hdr.block_index = b as u16;
            out.hdr.data_shards = kb as u16;
            out.hdr.recovery_shards = mb as u16;
            for r in 0..mb {
                let at = (b * m_full + r) * s;
                out.hdr.shard_index = (kb + r) as u16;
                out.write(sink, false, &arena[at..at + s], None)?;
            }
        }
        if gf16 && m_last > 0 {
            out.hdr.block_index = full_blocks as u16;
            out.hdr.data_shards = last_k as u16;
            out.hdr.recovery_shards = m_last as u16;
            let mut result = Ok(());
            encoder.finish(|r, shard| {
                if result.is_ok() {
                    out.hdr.shard_index = (last_k + r) as u16;
                    result = out.write(sink, false, shard, None);
                }
            })?;
            result?;
        }
        debug_assert_eq!(out.written, plan.datagrams);
        Ok(SealedFrame {
            frame_index,
            first_seq,
            plan,
        })
    }
}

/// GF(2⁸) parity of one block (`kb` data shards given by `shard(i)`, the last possibly
/// short) into the first `mb · S` bytes of `out`. No allocation once the shape is cached.
fn gf8_parity<'f>(
    cache: &mut Gf8CodeCache,
    pad: &mut [u8],
    kb: usize,
    mb: usize,
    shard: impl Fn(usize) -> &'f [u8],
    out: &mut [u8],
) -> Result<(), SealError> {
    let s = pad.len();
    let code = cache.get(kb, mb)?;
    let last = shard(kb - 1);
    pad[..last.len()].copy_from_slice(last);
    pad[last.len()..].fill(0);
    let mut data: [&[u8]; gf8::MAX_TOTAL_SHARDS] = [&[]; gf8::MAX_TOTAL_SHARDS];
    for (i, d) in data.iter_mut().enumerate().take(kb) {
        *d = if i + 1 == kb { &*pad } else { shard(i) };
    }
    let mut parity: [&mut [u8]; gf8::MAX_TOTAL_SHARDS] =
        std::array::from_fn(|_| Default::default());
    for (p, chunk) in parity.iter_mut().zip(out[..mb * s].chunks_mut(s)) {
        *p = chunk;
    }
    code.encode(&data[..kb], &mut parity[..mb])?;
    Ok(())
}

/// Writes datagrams of one frame, in order, and keeps the counters.
struct Writer<'a> {
    cipher: &'a DataCipher,
    prefix: NoncePrefix,
    s: usize,
    len: usize,
    seq: &'a mut u64,
    stream_seq: &'a mut u32,
    written: usize,
    needed: usize,
    hdr: DataHeaderRepr,
}

impl Writer<'_> {
    /// Writes the next datagram: `payload` (≤ S bytes, zero-padded to S) under the current
    /// header fields. A data shard is also fed to `fec` before it is sealed.
    #[inline]
    fn write(
        &mut self,
        sink: &mut impl DatagramSink,
        sof: bool,
        payload: &[u8],
        fec: Option<&mut Gf16Encoder>,
    ) -> Result<(), SealError> {
        let Some(dg) = sink
            .next_datagram(self.len)
            .and_then(|d| d.get_mut(..self.len))
        else {
            return Err(SealError::SinkFull {
                written: self.written,
                needed: self.needed,
            });
        };
        let seq = *self.seq;
        let mut f = flags::PIC;
        if sof {
            f |= flags::SOF;
        }
        if self.written + 1 == self.needed {
            f |= flags::EOF;
        }
        self.hdr.flags = f;
        self.hdr.stream_seq = *self.stream_seq;

        let off = self.cipher.header_offset();
        let (hdr, rest) = dg[off..].split_at_mut(HEADER_LEN);
        self.hdr.emit(&mut DataHeader::new_unchecked(hdr));
        let body = &mut rest[..self.s];
        body[..payload.len()].copy_from_slice(payload);
        body[payload.len()..].fill(0);
        if let Some(enc) = fec {
            // Full shards go to the encoder from the frame itself; a padded one from the
            // datagram (its padding is part of the code word).
            enc.add(if payload.len() == self.s {
                payload
            } else {
                body
            })?;
        }
        if let DataCipher::Sealed { key, .. } = self.cipher {
            let a = aad(seq);
            dg[..SEQ_LEN].copy_from_slice(&a);
            let sealed_end = SEQ_LEN + HEADER_LEN + self.s;
            let tag = key.seal_in_place(&self.prefix.nonce(seq), &a, &mut dg[SEQ_LEN..sealed_end]);
            dg[sealed_end..].copy_from_slice(&tag);
        }
        *self.seq = seq + 1;
        *self.stream_seq = self.stream_seq.wrapping_add(1);
        self.written += 1;
        Ok(())
    }
}
