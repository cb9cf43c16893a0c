//! The RTP + NV video packet header (`gamestream-protocol.md` §6.2).
//!
//! ```text
//!  0       1       2               4                               8
//! +-------+-------+---------------+-------------------------------+
//! | 0x90  | PT 0  | seq (BE16)    | timestamp 90 kHz (BE32)       |
//! +-------+-------+---------------+-------------------------------+
//! | SSRC (BE32, 0)                | extension (4 bytes, 0)        |   8
//! +-------------------------------+-------------------------------+
//! | streamPacketIndex (LE32)      | frameIndex (LE32)             |  16
//! +-------+-------+-------+-------+-------------------------------+
//! | flags | extra | mFlags| mBlks | fecInfo (LE32)                |  24
//! +-------+-------+-------+-------+-------------------------------+
//! | D bytes of frame data                                         |  32
//! ```

use super::VideoError;

/// Field byte ranges.
pub mod field {
    use std::ops::Range;
    /// RTP version/flags byte.
    pub const RTP_FLAGS: usize = 0;
    /// RTP payload type.
    pub const PAYLOAD_TYPE: usize = 1;
    /// RTP sequence number, BE16.
    pub const SEQ: Range<usize> = 2..4;
    /// RTP timestamp, BE32, 90 kHz.
    pub const TIMESTAMP: Range<usize> = 4..8;
    /// RTP SSRC, BE32.
    pub const SSRC: Range<usize> = 8..12;
    /// RTP extension word.
    pub const EXTENSION: Range<usize> = 12..16;
    /// streamPacketIndex, LE32 (counter << 8).
    pub const STREAM_PACKET_INDEX: Range<usize> = 16..20;
    /// frameIndex, LE32.
    pub const FRAME_INDEX: Range<usize> = 20..24;
    /// flags.
    pub const FLAGS: usize = 24;
    /// extraFlags.
    pub const EXTRA_FLAGS: usize = 25;
    /// multiFecFlags.
    pub const MULTI_FEC_FLAGS: usize = 26;
    /// multiFecBlocks.
    pub const MULTI_FEC_BLOCKS: usize = 27;
    /// fecInfo, LE32.
    pub const FEC_INFO: Range<usize> = 28..32;
}

/// Bytes of the RTP part (12-byte header + 4-byte extension).
pub const RTP_LEN: usize = 16;
/// Bytes of RTP part + NV header, before the frame data.
pub const HEADER_LEN: usize = 32;
/// RTP byte 0: version 2 with the extension bit.
pub const RTP_FLAGS_VALUE: u8 = 0x90;
/// RTP extension bit.
pub const RTP_EXTENSION_BIT: u8 = 0x10;
/// multiFecFlags value.
pub const MULTI_FEC_FLAGS_VALUE: u8 = 0x10;

/// `flags` bits.
pub mod flags {
    /// The packet carries picture data (every data packet).
    pub const CONTAINS_PIC_DATA: u8 = 0x01;
    /// Last data packet of the FEC block.
    pub const EOF: u8 = 0x02;
    /// First data packet of the FEC block.
    pub const SOF: u8 = 0x04;
    /// Every bit a data packet may carry.
    pub const ALL: u8 = CONTAINS_PIC_DATA | EOF | SOF;
}

/// `extraFlags`: the frame is a long-term reference.
pub const EXTRA_FLAG_LTR: u8 = 0x01;

/// A view of one plaintext video datagram (a shard).
#[derive(Debug, Clone)]
pub struct NvVideoPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NvVideoPacket<T> {
    /// Wraps without checks; accessors panic on buffers shorter than [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, VideoError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the 32-byte header is present; then no accessor panics.
    pub fn check_len(&self) -> Result<(), VideoError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(VideoError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// RTP byte 0.
    pub fn rtp_flags(&self) -> u8 {
        self.b()[field::RTP_FLAGS]
    }
    /// RTP sequence number.
    pub fn seq(&self) -> u16 {
        u16::from_be_bytes(self.b()[field::SEQ].try_into().expect("2 bytes"))
    }
    /// RTP timestamp (90 kHz).
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes(self.b()[field::TIMESTAMP].try_into().expect("4 bytes"))
    }
    /// Raw streamPacketIndex field.
    pub fn stream_packet_index_raw(&self) -> u32 {
        u32::from_le_bytes(
            self.b()[field::STREAM_PACKET_INDEX]
                .try_into()
                .expect("4 bytes"),
        )
    }
    /// The 24-bit packet counter inside streamPacketIndex.
    pub fn packet_counter(&self) -> u32 {
        (self.stream_packet_index_raw() >> 8) & 0xFF_FFFF
    }
    /// frameIndex.
    pub fn frame_index(&self) -> u32 {
        u32::from_le_bytes(self.b()[field::FRAME_INDEX].try_into().expect("4 bytes"))
    }
    /// flags.
    pub fn flags(&self) -> u8 {
        self.b()[field::FLAGS]
    }
    /// extraFlags.
    pub fn extra_flags(&self) -> u8 {
        self.b()[field::EXTRA_FLAGS]
    }
    /// multiFecFlags.
    pub fn multi_fec_flags(&self) -> u8 {
        self.b()[field::MULTI_FEC_FLAGS]
    }
    /// Index of this FEC block in the frame (0..=3).
    pub fn block_index(&self) -> u8 {
        (self.b()[field::MULTI_FEC_BLOCKS] >> 4) & 0x3
    }
    /// Index of the frame's last FEC block (block count − 1).
    pub fn last_block_index(&self) -> u8 {
        (self.b()[field::MULTI_FEC_BLOCKS] >> 6) & 0x3
    }
    /// Raw fecInfo.
    pub fn fec_info(&self) -> u32 {
        u32::from_le_bytes(self.b()[field::FEC_INFO].try_into().expect("4 bytes"))
    }
    /// Data shards `m` of this block (fecInfo bits 22..32).
    pub fn data_shards(&self) -> u16 {
        ((self.fec_info() >> 22) & 0x3FF) as u16
    }
    /// This shard's index `j` in the block (fecInfo bits 12..22).
    pub fn shard_index(&self) -> u16 {
        ((self.fec_info() >> 12) & 0x3FF) as u16
    }
    /// The block's FEC percentage (fecInfo bits 4..12).
    pub fn fec_percentage(&self) -> u8 {
        ((self.fec_info() >> 4) & 0xFF) as u8
    }
    /// Frame data after the 32-byte header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NvVideoPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Writes RTP byte 0.
    pub fn set_rtp_flags(&mut self, v: u8) {
        self.bm()[field::RTP_FLAGS] = v;
    }
    /// Writes the payload type.
    pub fn set_payload_type(&mut self, v: u8) {
        self.bm()[field::PAYLOAD_TYPE] = v;
    }
    /// Writes the RTP sequence number.
    pub fn set_seq(&mut self, v: u16) {
        self.bm()[field::SEQ].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes the RTP timestamp.
    pub fn set_timestamp(&mut self, v: u32) {
        self.bm()[field::TIMESTAMP].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes SSRC and extension words as zero.
    pub fn clear_ssrc_and_extension(&mut self) {
        self.bm()[field::SSRC.start..field::EXTENSION.end].fill(0);
    }
    /// Writes streamPacketIndex = `counter << 8` (24-bit counter).
    pub fn set_packet_counter(&mut self, counter: u32) {
        self.bm()[field::STREAM_PACKET_INDEX].copy_from_slice(&(counter << 8).to_le_bytes());
    }
    /// Writes frameIndex.
    pub fn set_frame_index(&mut self, v: u32) {
        self.bm()[field::FRAME_INDEX].copy_from_slice(&v.to_le_bytes());
    }
    /// Writes flags.
    pub fn set_flags(&mut self, v: u8) {
        self.bm()[field::FLAGS] = v;
    }
    /// Writes extraFlags.
    pub fn set_extra_flags(&mut self, v: u8) {
        self.bm()[field::EXTRA_FLAGS] = v;
    }
    /// Writes multiFecFlags.
    pub fn set_multi_fec_flags(&mut self, v: u8) {
        self.bm()[field::MULTI_FEC_FLAGS] = v;
    }
    /// Writes multiFecBlocks from block index and last block index (each 0..=3).
    pub fn set_blocks(&mut self, block_index: u8, last_block_index: u8) {
        self.bm()[field::MULTI_FEC_BLOCKS] =
            ((block_index & 3) << 4) | ((last_block_index & 3) << 6);
    }
    /// Writes fecInfo from `m` data shards, shard index `j` and percentage `pct`.
    pub fn set_fec_info(&mut self, m: u16, j: u16, pct: u8) {
        let v = ((m as u32 & 0x3FF) << 22) | ((j as u32 & 0x3FF) << 12) | ((pct as u32) << 4);
        self.bm()[field::FEC_INFO].copy_from_slice(&v.to_le_bytes());
    }
    /// Frame data after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.bm()[HEADER_LEN..]
    }
}

/// The decoded header of a video packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NvVideoRepr {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp, 90 kHz.
    pub timestamp: u32,
    /// 24-bit packet counter (streamPacketIndex >> 8).
    pub packet_counter: u32,
    /// frameIndex.
    pub frame_index: u32,
    /// flags (meaningful on data shards only).
    pub flags: u8,
    /// extraFlags.
    pub extra_flags: u8,
    /// FEC block index in the frame.
    pub block_index: u8,
    /// Last FEC block index of the frame.
    pub last_block_index: u8,
    /// Data shards of the block.
    pub data_shards: u16,
    /// Index of this shard in the block.
    pub shard_index: u16,
    /// FEC percentage of the block.
    pub fec_percentage: u8,
}

impl NvVideoRepr {
    /// Parses the header; fails on short buffers and packets without the RTP extension bit.
    pub fn parse<T: AsRef<[u8]>>(p: &NvVideoPacket<T>) -> Result<Self, VideoError> {
        p.check_len()?;
        if p.rtp_flags() & RTP_EXTENSION_BIT == 0 {
            return Err(VideoError::NoRtpExtension);
        }
        Ok(Self {
            seq: p.seq(),
            timestamp: p.timestamp(),
            packet_counter: p.packet_counter(),
            frame_index: p.frame_index(),
            flags: p.flags(),
            extra_flags: p.extra_flags(),
            block_index: p.block_index(),
            last_block_index: p.last_block_index(),
            data_shards: p.data_shards(),
            shard_index: p.shard_index(),
            fec_percentage: p.fec_percentage(),
        })
    }

    /// Header bytes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes every header field (constants included) into `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut NvVideoPacket<T>) {
        p.set_rtp_flags(RTP_FLAGS_VALUE);
        p.set_payload_type(0);
        p.set_seq(self.seq);
        p.set_timestamp(self.timestamp);
        p.clear_ssrc_and_extension();
        p.set_packet_counter(self.packet_counter);
        p.set_frame_index(self.frame_index);
        p.set_flags(self.flags);
        p.set_extra_flags(self.extra_flags);
        p.set_multi_fec_flags(MULTI_FEC_FLAGS_VALUE);
        p.set_blocks(self.block_index, self.last_block_index);
        p.set_fec_info(self.data_shards, self.shard_index, self.fec_percentage);
    }
}
