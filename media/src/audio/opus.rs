//! Opus multistream encoding with GameStream's layouts (gamestream-protocol.md §7.2/§7.3):
//! stereo, 5.1 and 7.1 at normal/high quality, 5 or 10 ms frames, hard CBR (audio FEC needs
//! equal packet sizes), RESTRICTED_LOWDELAY. A decoder is included for tests and clients.

use std::ffi::CStr;
use std::ptr::NonNull;

use audiopus_sys as sys;

use super::{AudioError, SAMPLE_RATE};

/// A multistream layout: how channels are packed into Opus streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusLayout {
    /// Channel count (2, 6 or 8).
    pub channels: u8,
    /// Opus streams.
    pub streams: u8,
    /// Of which coupled (stereo) streams.
    pub coupled: u8,
    /// Per input channel (FL FR C LFE BL BR SL SR), the coded channel it goes to.
    pub mapping: Vec<u8>,
    /// Bitrate in bit/s.
    pub bitrate_bps: u32,
}

impl OpusLayout {
    /// Sunshine's layout for `channels` at normal or high quality (§7.2 table).
    pub fn gamestream(channels: u8, high_quality: bool) -> Option<Self> {
        let (streams, coupled, bitrate) = match (channels, high_quality) {
            (2, false) => (1, 1, 96_000),
            (2, true) => (1, 1, 512_000),
            (6, false) => (4, 2, 256_000),
            (6, true) => (6, 0, 1_536_000),
            (8, false) => (5, 3, 450_000),
            (8, true) => (8, 0, 2_048_000),
            _ => return None,
        };
        Some(Self {
            channels,
            streams,
            coupled,
            mapping: (0..channels).collect(),
            bitrate_bps: bitrate,
        })
    }

    /// The digits after `surround-params=` in DESCRIBE for this layout (§7.3). For the
    /// normal-quality 6/8-channel layouts the client moves the last digit into the LFE slot,
    /// so the mapping is sent as `d0 d1 d2 d4 … d(C-1) d3`.
    pub fn surround_params(&self, high_quality: bool) -> String {
        let mut m = self.mapping.clone();
        if !high_quality && self.channels > 2 {
            let lfe = m.remove(3);
            m.push(lfe);
        }
        let mut s = format!("{}{}{}", self.channels, self.streams, self.coupled);
        for d in m {
            s.push(char::from(b'0' + d));
        }
        s
    }
}

/// Largest Opus packet that still fits a GameStream audio datagram: 1400 bytes minus the
/// 12-byte RTP header leave 1388, and AES-CBC with PKCS#7 always pads to the next multiple
/// of 16 (1376 at most), so the plaintext must stay below 1376 bytes.
pub const MAX_PACKET: usize = 1375;

fn opus_err(code: i32) -> AudioError {
    // SAFETY: opus_strerror returns a pointer to a static NUL-terminated string for any code.
    let msg = unsafe { CStr::from_ptr(sys::opus_strerror(code)) };
    AudioError::Opus(format!("{} ({code})", msg.to_string_lossy()))
}

fn samples_per_frame(frame_ms: u32) -> Result<usize, AudioError> {
    match frame_ms {
        5 | 10 | 20 => Ok((SAMPLE_RATE / 1000 * frame_ms) as usize),
        _ => Err(AudioError::Unsupported(format!(
            "{frame_ms} ms Opus frames"
        ))),
    }
}

/// A CBR, RESTRICTED_LOWDELAY multistream Opus encoder.
pub struct OpusEncoder {
    st: NonNull<sys::OpusMSEncoder>,
    layout: OpusLayout,
    frame_samples: usize,
}

// SAFETY: the encoder state is owned exclusively and only used through `&mut self`;
// libopus encoders have no thread affinity.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    /// An encoder for `layout` with `frame_ms` (5 or 10; 20 also works) frames.
    pub fn new(layout: &OpusLayout, frame_ms: u32) -> Result<Self, AudioError> {
        let frame_samples = samples_per_frame(frame_ms)?;
        if layout.mapping.len() != layout.channels as usize {
            return Err(AudioError::Unsupported("mapping length != channels".into()));
        }
        let mut err = 0;
        // SAFETY: mapping has `channels` entries (checked above); err is a valid out-pointer.
        let st = unsafe {
            sys::opus_multistream_encoder_create(
                SAMPLE_RATE as i32,
                layout.channels as i32,
                layout.streams as i32,
                layout.coupled as i32,
                layout.mapping.as_ptr(),
                sys::OPUS_APPLICATION_RESTRICTED_LOWDELAY,
                &mut err,
            )
        };
        let st = NonNull::new(st).ok_or_else(|| opus_err(err))?;
        let mut me = Self {
            st,
            layout: layout.clone(),
            frame_samples,
        };
        me.ctl(sys::OPUS_SET_VBR_REQUEST, 0)?;
        me.set_bitrate(layout.bitrate_bps)?;
        Ok(me)
    }

    fn ctl(&mut self, request: i32, value: i32) -> Result<(), AudioError> {
        // SAFETY: `st` is a live encoder; the SET requests used here take one opus_int32.
        let r = unsafe { sys::opus_multistream_encoder_ctl(self.st.as_ptr(), request, value) };
        if r == sys::OPUS_OK {
            Ok(())
        } else {
            Err(opus_err(r))
        }
    }

    /// Changes the bitrate (bit/s), e.g. from the session's negotiated value. Rates whose
    /// CBR packets would exceed [`MAX_PACKET`] (high-quality surround at 10 ms) are lowered
    /// to fit: a capped packet would starve the last streams of the layout.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), AudioError> {
        let frame_ms = self.frame_samples as u64 * 1000 / SAMPLE_RATE as u64;
        let bps = bps.min((MAX_PACKET as u64 * 8000 / frame_ms) as u32);
        self.ctl(sys::OPUS_SET_BITRATE_REQUEST, bps as i32)?;
        self.layout.bitrate_bps = bps;
        Ok(())
    }

    /// Samples per channel in one frame.
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// The layout.
    pub fn layout(&self) -> &OpusLayout {
        &self.layout
    }

    /// Encodes one frame of interleaved samples (`frame_samples() × channels`) into `out`;
    /// returns the packet length.
    pub fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, AudioError> {
        if pcm.len() != self.frame_samples * self.layout.channels as usize {
            return Err(AudioError::Unsupported(format!(
                "{} samples for a {}-sample {}-channel frame",
                pcm.len(),
                self.frame_samples,
                self.layout.channels
            )));
        }
        // SAFETY: pcm holds frame_samples × channels floats (checked); out is writable for
        // out.len() bytes.
        let n = unsafe {
            sys::opus_multistream_encode_float(
                self.st.as_ptr(),
                pcm.as_ptr(),
                self.frame_samples as i32,
                out.as_mut_ptr(),
                out.len().min(i32::MAX as usize) as i32,
            )
        };
        if n < 0 {
            Err(opus_err(n))
        } else {
            Ok(n as usize)
        }
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: destroying the encoder created in `new`, once.
        unsafe { sys::opus_multistream_encoder_destroy(self.st.as_ptr()) }
    }
}

/// A multistream Opus decoder (client side / tests).
pub struct OpusDecoder {
    st: NonNull<sys::OpusMSDecoder>,
    channels: u8,
}

// SAFETY: as for the encoder: exclusively owned state used through `&mut self`.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    /// A decoder for `layout` (its mapping used as the decoder mapping).
    pub fn new(layout: &OpusLayout) -> Result<Self, AudioError> {
        let mut err = 0;
        // SAFETY: mapping has `channels` entries for layouts from `gamestream`; err is valid.
        let st = unsafe {
            sys::opus_multistream_decoder_create(
                SAMPLE_RATE as i32,
                layout.channels as i32,
                layout.streams as i32,
                layout.coupled as i32,
                layout.mapping.as_ptr(),
                &mut err,
            )
        };
        Ok(Self {
            st: NonNull::new(st).ok_or_else(|| opus_err(err))?,
            channels: layout.channels,
        })
    }

    /// Decodes one packet into `pcm` (interleaved); returns samples per channel.
    pub fn decode(&mut self, packet: &[u8], pcm: &mut [f32]) -> Result<usize, AudioError> {
        let frame = pcm.len() / self.channels as usize;
        // SAFETY: packet is readable for its length; pcm has room for `frame × channels`.
        let n = unsafe {
            sys::opus_multistream_decode_float(
                self.st.as_ptr(),
                packet.as_ptr(),
                packet.len() as i32,
                pcm.as_mut_ptr(),
                frame as i32,
                0,
            )
        };
        if n < 0 {
            Err(opus_err(n))
        } else {
            Ok(n as usize)
        }
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: destroying the decoder created in `new`, once.
        unsafe { sys::opus_multistream_decoder_destroy(self.st.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audio::analysis::{channel, dominant_frequency, rms};
    use crate::audio::tone::ToneSource;
    use crate::audio::{AudioFrame, AudioSource};
    use crate::clock::ManualClock;

    #[test]
    fn surround_params_match_the_spec() {
        let p = |c, hq| OpusLayout::gamestream(c, hq).unwrap().surround_params(hq);
        assert_eq!(p(2, false), "21101");
        assert_eq!(p(6, false), "642012453");
        assert_eq!(p(6, true), "660012345");
        assert_eq!(p(8, false), "85301245673");
        assert_eq!(p(8, true), "88001234567");
        assert!(OpusLayout::gamestream(4, false).is_none());
    }

    #[test]
    fn every_layout_roundtrips_tones_at_constant_packet_size() {
        for channels in [2u8, 6, 8] {
            for hq in [false, true] {
                for frame_ms in [5u32, 10] {
                    let layout = OpusLayout::gamestream(channels, hq).unwrap();
                    let mut enc = OpusEncoder::new(&layout, frame_ms).unwrap();
                    let mut dec = OpusDecoder::new(&layout).unwrap();
                    let mut src = ToneSource::new(
                        channels,
                        400.0,
                        250.0,
                        Arc::new(ManualClock::new(0)),
                        false,
                    );
                    let (mut f, mut pkt) = (AudioFrame::default(), [0u8; 1400]);
                    let mut pcm = vec![0f32; enc.frame_samples() * channels as usize];
                    let (mut sizes, mut decoded) = (Vec::new(), Vec::new());
                    for _ in 0..(400 / frame_ms) {
                        src.read(&mut f, enc.frame_samples()).unwrap();
                        let n = enc.encode(&f.samples, &mut pkt).unwrap();
                        sizes.push(n);
                        let got = dec.decode(&pkt[..n], &mut pcm).unwrap();
                        assert_eq!(got, enc.frame_samples());
                        decoded.extend_from_slice(&pcm);
                    }
                    let what = format!("{channels}ch hq={hq} {frame_ms}ms");
                    // Hard CBR: every packet the same size, = bitrate × duration.
                    // (High-quality 5.1/7.1 at 10 ms is lowered to fit MAX_PACKET.)
                    let want = (enc.layout().bitrate_bps as usize * frame_ms as usize) / 8000;
                    assert!(want <= MAX_PACKET, "{what}");
                    assert!(sizes.iter().all(|&s| s == sizes[0]), "{what}: {sizes:?}");
                    assert!(
                        sizes[0] <= want && sizes[0] + 8 * channels as usize >= want,
                        "{what}: {} vs {want}",
                        sizes[0]
                    );
                    // Skip the codec's start-up, then find each channel's tone again.
                    let tail = &decoded[decoded.len() / 2..];
                    for c in 0..channels as usize {
                        let ch = channel(tail, channels as usize, c);
                        assert!(rms(&ch) > 0.1, "{what} ch{c} silent");
                        let got = dominant_frequency(&ch, SAMPLE_RATE, 100.0, 6000.0);
                        assert!(
                            (got - src.frequency(c)).abs() <= 3.0,
                            "{what} ch{c}: {got} vs {}",
                            src.frequency(c)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_frames() {
        let l = OpusLayout::gamestream(2, false).unwrap();
        assert!(OpusEncoder::new(&l, 7).is_err());
        let mut e = OpusEncoder::new(&l, 5).unwrap();
        assert!(e.encode(&[0.0; 10], &mut [0; 100]).is_err());
    }
}
