//! Video encoding: low-latency encoders on the system FFmpeg (NVENC → VAAPI → software),
//! runtime control (IDR, reference invalidation, bitrate, mode) and the encoder thread.

pub mod annexb;
pub mod decode;
pub mod ffmpeg;
pub mod nvenc;
pub mod select;
pub mod thread;

use std::time::Duration;

use crate::frame::VideoMode;

/// Video codecs a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    Hevc,
    /// AV1.
    Av1,
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Codec::H264 => "H.264",
            Codec::Hevc => "HEVC",
            Codec::Av1 => "AV1",
        })
    }
}

/// Where an encoder runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// NVIDIA NVENC.
    Nvenc,
    /// VA-API (Intel/AMD).
    Vaapi,
    /// CPU (libx264, libx265, libsvtav1).
    Software,
}

/// What the client needs from the encoder (from RTSP ANNOUNCE / punktfunk/1 setup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Codec.
    pub codec: Codec,
    /// Picture size and frame rate.
    pub mode: VideoMode,
    /// Target bitrate in bits per second (CBR, one-frame VBV).
    pub bitrate_bps: u64,
    /// 10-bit output (HEVC Main10 / AV1 10-bit).
    pub ten_bit: bool,
    /// Maximum reference frames (`Some(1)`: only the previous frame).
    pub max_ref_frames: Option<u32>,
    /// Slices per frame (1 = no slicing).
    pub slices: u32,
    /// Use intra refresh instead of IDR frames where the encoder supports it.
    pub intra_refresh: bool,
    /// Encoder preset override (default: the fastest low-latency preset of each encoder).
    pub preset: Option<String>,
}

impl EncoderConfig {
    /// A config with low-latency defaults: 8-bit, 1 reference frame, no slicing.
    pub fn new(codec: Codec, mode: VideoMode, bitrate_bps: u64) -> Self {
        Self {
            codec,
            mode,
            bitrate_bps,
            ten_bit: false,
            max_ref_frames: Some(1),
            slices: 1,
            intra_refresh: false,
            preset: None,
        }
    }
}

/// Frame type of an encoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// Instantaneous decoder refresh (key frame), parameter sets in-band in front.
    Idr,
    /// Predicted frame.
    P,
}

/// One encoded access unit (Annex B for H.264/HEVC, OBUs for AV1).
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// Bitstream bytes.
    pub bytes: Vec<u8>,
    /// IDR or P.
    pub frame_type: FrameType,
    /// Capture time of the source frame (monotonic ns).
    pub capture_ts_ns: u64,
    /// Time spent in the encoder (conversion + encode).
    pub encode_time: Duration,
    /// Stream frame number: +1 per encoded frame, kept across encoder rebuilds.
    pub frame_number: u64,
    /// Frame number the source gave the picture.
    pub source_frame_number: u64,
}

/// How a bitrate change was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitrateChange {
    /// The running encoder took the new bitrate (no IDR).
    Reconfigured,
    /// The encoder was rebuilt (next frame is an IDR).
    Rebuilt,
}

/// Errors of encoders.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The FFmpeg build lacks the encoder.
    #[error("encoder {0} not in this FFmpeg")]
    NotFound(String),
    /// The encoder failed to open (no device, unsupported parameters).
    #[error("opening {name} failed: {reason}")]
    Open {
        /// Encoder name.
        name: String,
        /// FFmpeg's error.
        reason: String,
    },
    /// No candidate encoder for this codec could be opened.
    #[error("no usable {codec} encoder: {reasons}")]
    NoEncoder {
        /// The codec asked for.
        codec: Codec,
        /// Why each candidate was skipped.
        reasons: String,
    },
    /// Encoding or conversion failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// The encoder thread is gone.
    #[error("encoder thread stopped")]
    Stopped,
}
