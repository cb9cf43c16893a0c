//! The 40-byte punktfunk/1 data-plane header (spec §5.2), little-endian.
//!
//! ```text
//! off  0  pts_ns        u64   capture time, CLOCK_REALTIME ns
//! off  8  frame_index   u32   +1 per AU, wrapping
//! off 12  stream_seq    u32   +1 per packet across AUs
//! off 16  frame_bytes   u32   exact AU length
//! off 20  user_flags    u32   application bits (`user_flags`)
//! off 24  block_index   u16
//! off 26  block_count   u16   0 = streamed-AU sentinel
//! off 28  data_shards   u16   k of this block
//! off 30  recovery_shards u16 m of this block
//! off 32  shard_index   u16   0..k data, k..k+m parity
//! off 34  shard_bytes   u16   S
//! off 36  magic         u8    0xC9
//! off 37  version       u8
//! off 38  fec_scheme    u8    1 = GF(2^16), 0 = GF(2^8)
//! off 39  flags         u8    PIC / EOF / SOF / PROBE
//! ```

use super::{HEADER_LEN, MAGIC};

/// Errors from reading a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The buffer is shorter than the 40-byte header.
    #[error("header needs {HEADER_LEN} bytes, got {0}")]
    Truncated(usize),
    /// The magic byte is not 0xC9.
    #[error("bad magic byte {0:#04x}")]
    BadMagic(u8),
}

/// Byte ranges of the header fields.
pub mod field {
    use core::ops::Range;

    /// `pts_ns`, u64.
    pub const PTS_NS: Range<usize> = 0..8;
    /// `frame_index`, u32.
    pub const FRAME_INDEX: Range<usize> = 8..12;
    /// `stream_seq`, u32.
    pub const STREAM_SEQ: Range<usize> = 12..16;
    /// `frame_bytes`, u32.
    pub const FRAME_BYTES: Range<usize> = 16..20;
    /// `user_flags`, u32.
    pub const USER_FLAGS: Range<usize> = 20..24;
    /// `block_index`, u16.
    pub const BLOCK_INDEX: Range<usize> = 24..26;
    /// `block_count`, u16.
    pub const BLOCK_COUNT: Range<usize> = 26..28;
    /// `data_shards`, u16.
    pub const DATA_SHARDS: Range<usize> = 28..30;
    /// `recovery_shards`, u16.
    pub const RECOVERY_SHARDS: Range<usize> = 30..32;
    /// `shard_index`, u16.
    pub const SHARD_INDEX: Range<usize> = 32..34;
    /// `shard_bytes`, u16.
    pub const SHARD_BYTES: Range<usize> = 34..36;
    /// `magic`, u8.
    pub const MAGIC: usize = 36;
    /// `version`, u8.
    pub const VERSION: usize = 37;
    /// `fec_scheme`, u8.
    pub const FEC_SCHEME: usize = 38;
    /// `flags`, u8.
    pub const FLAGS: usize = 39;
}

/// A checked view over a header at the start of a buffer.
///
/// After [`DataHeader::new_checked`] (or [`DataHeader::check_len`]) succeeds, no accessor
/// can panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader<T: AsRef<[u8]>> {
    buffer: T,
}

macro_rules! getters {
    ($($(#[$m:meta])* $name:ident, $set:ident: $ty:ty = $range:expr;)*) => {
        impl<T: AsRef<[u8]>> DataHeader<T> {
            $(
                $(#[$m])*
                #[inline]
                pub fn $name(&self) -> $ty {
                    let b = &self.buffer.as_ref()[$range];
                    <$ty>::from_le_bytes(b.try_into().expect("field width"))
                }
            )*
        }
        impl<T: AsRef<[u8]> + AsMut<[u8]>> DataHeader<T> {
            $(
                #[doc = concat!("Sets `", stringify!($name), "`.")]
                #[inline]
                pub fn $set(&mut self, value: $ty) {
                    self.buffer.as_mut()[$range].copy_from_slice(&value.to_le_bytes());
                }
            )*
        }
    };
}

getters! {
    /// Capture time, CLOCK_REALTIME nanoseconds.
    pts_ns, set_pts_ns: u64 = field::PTS_NS;
    /// AU number, +1 per AU, wrapping.
    frame_index, set_frame_index: u32 = field::FRAME_INDEX;
    /// Per-packet counter across AUs.
    stream_seq, set_stream_seq: u32 = field::STREAM_SEQ;
    /// Exact AU length in bytes.
    frame_bytes, set_frame_bytes: u32 = field::FRAME_BYTES;
    /// Application flag bits.
    user_flags, set_user_flags: u32 = field::USER_FLAGS;
    /// FEC block of this shard.
    block_index, set_block_index: u16 = field::BLOCK_INDEX;
    /// FEC blocks in the AU (0 = streamed-AU sentinel).
    block_count, set_block_count: u16 = field::BLOCK_COUNT;
    /// Data shards (k) of this block.
    data_shards, set_data_shards: u16 = field::DATA_SHARDS;
    /// Recovery shards (m) of this block.
    recovery_shards, set_recovery_shards: u16 = field::RECOVERY_SHARDS;
    /// Shard index inside the block: `0..k` data, `k..k+m` parity.
    shard_index, set_shard_index: u16 = field::SHARD_INDEX;
    /// Shard payload size S.
    shard_bytes, set_shard_bytes: u16 = field::SHARD_BYTES;
    /// Magic byte (0xC9).
    magic, set_magic: u8 = field::MAGIC..field::MAGIC + 1;
    /// Header version byte.
    version, set_version: u8 = field::VERSION..field::VERSION + 1;
    /// FEC scheme byte (1 = GF(2¹⁶), 0 = GF(2⁸)).
    fec_scheme, set_fec_scheme: u8 = field::FEC_SCHEME..field::FEC_SCHEME + 1;
    /// Packet flag bits ([`flags`](super::flags)).
    flags, set_flags: u8 = field::FLAGS..field::FLAGS + 1;
}

impl<T: AsRef<[u8]>> DataHeader<T> {
    /// Wraps a buffer without checking its length (accessors may then panic).
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after checking it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, HeaderError> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks that the buffer holds a whole header (extra bytes are allowed).
    pub fn check_len(&self) -> Result<(), HeaderError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(HeaderError::Truncated(len))
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The header's fields as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataHeaderRepr {
    /// Capture time, CLOCK_REALTIME nanoseconds.
    pub pts_ns: u64,
    /// AU number.
    pub frame_index: u32,
    /// Per-packet counter across AUs.
    pub stream_seq: u32,
    /// Exact AU length.
    pub frame_bytes: u32,
    /// Application flag bits.
    pub user_flags: u32,
    /// FEC block of this shard.
    pub block_index: u16,
    /// FEC blocks in the AU.
    pub block_count: u16,
    /// Data shards (k) of this block.
    pub data_shards: u16,
    /// Recovery shards (m) of this block.
    pub recovery_shards: u16,
    /// Shard index in the block.
    pub shard_index: u16,
    /// Shard payload size S.
    pub shard_bytes: u16,
    /// Header version byte.
    pub version: u8,
    /// FEC scheme byte.
    pub fec_scheme: u8,
    /// Packet flag bits.
    pub flags: u8,
}

impl DataHeaderRepr {
    /// Reads a header, checking its length and magic byte (all other fields are taken as
    /// they are; the reassembler validates them against the session's geometry).
    pub fn parse<T: AsRef<[u8]>>(header: &DataHeader<T>) -> Result<Self, HeaderError> {
        header.check_len()?;
        if header.magic() != MAGIC {
            return Err(HeaderError::BadMagic(header.magic()));
        }
        Ok(Self {
            pts_ns: header.pts_ns(),
            frame_index: header.frame_index(),
            stream_seq: header.stream_seq(),
            frame_bytes: header.frame_bytes(),
            user_flags: header.user_flags(),
            block_index: header.block_index(),
            block_count: header.block_count(),
            data_shards: header.data_shards(),
            recovery_shards: header.recovery_shards(),
            shard_index: header.shard_index(),
            shard_bytes: header.shard_bytes(),
            version: header.version(),
            fec_scheme: header.fec_scheme(),
            flags: header.flags(),
        })
    }

    /// Bytes [`emit`](Self::emit) writes (40).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (with the magic byte) into the first 40 bytes of `header`'s buffer.
    ///
    /// The view must be checked (or the buffer known to be ≥ 40 bytes).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut DataHeader<T>) {
        header.set_pts_ns(self.pts_ns);
        header.set_frame_index(self.frame_index);
        header.set_stream_seq(self.stream_seq);
        header.set_frame_bytes(self.frame_bytes);
        header.set_user_flags(self.user_flags);
        header.set_block_index(self.block_index);
        header.set_block_count(self.block_count);
        header.set_data_shards(self.data_shards);
        header.set_recovery_shards(self.recovery_shards);
        header.set_shard_index(self.shard_index);
        header.set_shard_bytes(self.shard_bytes);
        header.set_magic(MAGIC);
        header.set_version(self.version);
        header.set_fec_scheme(self.fec_scheme);
        header.set_flags(self.flags);
    }

    /// Writes the header into a 40-byte array.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        self.emit(&mut DataHeader::new_unchecked(&mut out[..]));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain header of spec §5.8, datagram 0.
    const SPEC_HDR: &str = "15cd853dfe9c9717 00000000 00000000 b80b0000 05000000 0000 0100 0300 0100 0000 8005 c9 01 01 05";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn spec_repr() -> DataHeaderRepr {
        DataHeaderRepr {
            pts_ns: 1_700_000_000_123_456_789,
            frame_index: 0,
            stream_seq: 0,
            frame_bytes: 3000,
            user_flags: 5,
            block_index: 0,
            block_count: 1,
            data_shards: 3,
            recovery_shards: 1,
            shard_index: 0,
            shard_bytes: 1408,
            version: 1,
            fec_scheme: 1,
            flags: 0x05,
        }
    }

    #[test]
    fn spec_header_round_trips() {
        let bytes = hex(SPEC_HDR);
        assert_eq!(bytes.len(), HEADER_LEN);
        let view = DataHeader::new_checked(&bytes[..]).unwrap();
        assert_eq!(view.frame_bytes(), 3000);
        assert_eq!(view.shard_bytes(), 1408);
        let repr = DataHeaderRepr::parse(&view).unwrap();
        assert_eq!(repr, spec_repr());
        assert_eq!(repr.to_bytes().to_vec(), bytes);
    }

    #[test]
    fn short_and_bad_magic_are_errors() {
        assert_eq!(
            DataHeader::new_checked(&[0u8; 39][..]),
            Err(HeaderError::Truncated(39))
        );
        let mut bytes = spec_repr().to_bytes();
        bytes[field::MAGIC] = 0xC8;
        let view = DataHeader::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            DataHeaderRepr::parse(&view),
            Err(HeaderError::BadMagic(0xC8))
        );
    }

    #[test]
    fn setters_touch_only_their_field() {
        let mut buf = [0u8; 48];
        let mut h = DataHeader::new_checked(&mut buf[..]).unwrap();
        h.set_shard_index(0xBEEF);
        h.set_flags(0x7);
        assert_eq!(h.shard_index(), 0xBEEF);
        assert_eq!(&buf[32..34], &[0xEF, 0xBE]);
        assert_eq!(buf[39], 0x7);
        assert_eq!(buf.iter().filter(|&&b| b != 0).count(), 3);
    }
}
