//! A software decoder (FFmpeg) for checking encoded streams: used by tests and by the
//! reference client to read the embedded [stamp](crate::source::stamp) back.

use ff::format::Pixel;
use ffmpeg_next as ff;

use super::{Codec, EncodeError};
use crate::source::stamp::{Stamp, read_stamp};

/// A decoder of Annex B (H.264/HEVC) or AV1 access units.
pub struct VideoDecoder {
    dec: ff::decoder::Video,
    frame: ff::frame::Video,
}

/// One decoded picture, as far as stream checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedInfo {
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// The stamp found in the picture, if any.
    pub stamp: Option<Stamp>,
    /// Whether the decoder flagged the picture as a key frame.
    pub key: bool,
}

impl VideoDecoder {
    /// A decoder for `codec` (FFmpeg's native h264/hevc decoders; libdav1d or FFmpeg's av1
    /// for AV1).
    pub fn new(codec: Codec) -> Result<Self, EncodeError> {
        super::ffmpeg::init();
        let found = match codec {
            Codec::H264 => ff::decoder::find(ff::codec::Id::H264),
            Codec::Hevc => ff::decoder::find(ff::codec::Id::HEVC),
            Codec::Av1 => ff::decoder::find_by_name("libdav1d")
                .or_else(|| ff::decoder::find_by_name("libaom-av1"))
                .or_else(|| ff::decoder::find(ff::codec::Id::AV1)),
        };
        let c = found.ok_or_else(|| EncodeError::NotFound(format!("{codec} decoder")))?;
        let dec = ff::codec::Context::new_with_codec(c)
            .decoder()
            .video()
            .map_err(|e| EncodeError::Open {
                name: c.name().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            dec,
            frame: ff::frame::Video::empty(),
        })
    }

    /// Decodes one access unit; each picture that comes out is reported to `out`.
    pub fn decode(
        &mut self,
        data: &[u8],
        mut out: impl FnMut(DecodedInfo),
    ) -> Result<(), EncodeError> {
        let pkt = ff::Packet::copy(data);
        self.dec
            .send_packet(&pkt)
            .map_err(|e| EncodeError::Encode(format!("decode: {e}")))?;
        self.drain(&mut out)
    }

    /// Flushes pictures still inside the decoder.
    pub fn flush(&mut self, mut out: impl FnMut(DecodedInfo)) -> Result<(), EncodeError> {
        self.dec
            .send_eof()
            .map_err(|e| EncodeError::Encode(format!("decode: {e}")))?;
        self.drain(&mut out)
    }

    fn drain(&mut self, out: &mut impl FnMut(DecodedInfo)) -> Result<(), EncodeError> {
        while self.dec.receive_frame(&mut self.frame).is_ok() {
            out(DecodedInfo {
                width: self.frame.width(),
                height: self.frame.height(),
                stamp: stamp_of(&self.frame),
                key: self.frame.is_key(),
            });
        }
        Ok(())
    }
}

/// Reads the stamp from a decoded YUV picture (8- or 10-bit luma).
pub fn stamp_of(f: &ff::frame::Video) -> Option<Stamp> {
    let (w, h, stride) = (f.width(), f.height(), f.stride(0));
    let y = f.data(0);
    match f.format() {
        Pixel::YUV420P10LE | Pixel::P010LE => {
            let shift = if f.format() == Pixel::P010LE { 8 } else { 2 };
            read_stamp(w, h, |x, yy| {
                let i = yy as usize * stride + x as usize * 2;
                (u16::from_le_bytes([y[i], y[i + 1]]) >> shift) as u8
            })
        }
        _ => read_stamp(w, h, |x, yy| y[yy as usize * stride + x as usize]),
    }
}
