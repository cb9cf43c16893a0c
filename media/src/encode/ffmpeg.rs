//! One FFmpeg video encoder (libx264, libx265, libsvtav1, *_nvenc) opened with low-latency
//! settings: no B-frames, infinite GOP with IDR on demand, CBR with a one-frame VBV,
//! zerolatency tuning and parameter sets in-band on every IDR (Annex B).

use std::collections::VecDeque;
use std::time::Instant;

use ff::format::Pixel;
use ffmpeg_next as ff;
use tracing::debug;

use super::{Backend, BitrateChange, Codec, EncodeError, EncodedFrame, EncoderConfig, FrameType};
use crate::frame::{PixelFormat, VideoFrame, VideoMode};

/// Initialises FFmpeg once (quiet logging: encoders report through our errors).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        ff::init().expect("ffmpeg init");
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

/// The scaler converting captured pixels into the encoder's format.
struct Scaler(ff::software::scaling::Context);
// SAFETY: the SwsContext is owned exclusively by this wrapper and only used through
// `&mut self`, so moving it to another thread (the encoder thread) is sound; libswscale
// contexts carry no thread affinity.
unsafe impl Send for Scaler {}

/// A low-latency FFmpeg encoder with runtime control.
pub struct FfmpegEncoder {
    name: String,
    backend: Backend,
    cfg: EncoderConfig,
    enc: ff::encoder::Video,
    scaler: Option<(PixelFormat, Scaler)>,
    src: ff::frame::Video,
    dst: ff::frame::Video,
    pkt: ff::Packet,
    /// Next stream frame number (= pts); survives rebuilds.
    next_frame: u64,
    force_idr: bool,
    rebuild_pending: bool,
    last_convert: std::time::Duration,
    /// (pts, capture ts, source frame number, submit instant) of frames inside the encoder.
    in_flight: VecDeque<(i64, u64, u64, Instant)>,
}

/// Which backend an FFmpeg encoder name belongs to.
pub fn backend_of(name: &str) -> Backend {
    if name.ends_with("_nvenc") {
        Backend::Nvenc
    } else if name.ends_with("_vaapi") {
        Backend::Vaapi
    } else {
        Backend::Software
    }
}

/// Whether the encoder turns a frame marked `I` into a key frame. FFmpeg 5.1's libsvtav1
/// wrapper ignores the mark, so forced key frames rebuild that encoder instead.
pub fn honours_forced_idr(name: &str) -> bool {
    name != "libsvtav1"
}

/// Whether a running encoder takes a new bitrate without a rebuild (FFmpeg's libx264 and
/// NVENC reconfigure when the context's rate fields change; others must be rebuilt).
pub fn live_bitrate(name: &str) -> bool {
    name == "libx264" || name.ends_with("_nvenc")
}

fn encoder_pixel(name: &str, ten_bit: bool) -> Pixel {
    match (backend_of(name), ten_bit) {
        (Backend::Nvenc, false) => Pixel::NV12,
        (Backend::Nvenc, true) => Pixel::P010LE,
        (_, false) => Pixel::YUV420P,
        (_, true) => Pixel::YUV420P10LE,
    }
}

fn source_pixel(f: PixelFormat) -> Pixel {
    match f {
        PixelFormat::Bgra => Pixel::BGRA,
        PixelFormat::Rgba => Pixel::RGBA,
        PixelFormat::Nv12 => Pixel::NV12,
    }
}

/// Encoder-private and generic options for low latency.
fn options(name: &str, cfg: &EncoderConfig) -> ff::Dictionary<'static> {
    let mut d = ff::Dictionary::new();
    let refs = cfg.max_ref_frames.unwrap_or(1).max(1);
    let vbv = cfg.bitrate_bps / cfg.mode.fps.max(1) as u64;
    d.set("b", &cfg.bitrate_bps.to_string());
    if name == "libsvtav1" {
        // SVT-AV1 takes CBR's buffer in milliseconds, at least 20 ms, and rejects maxrate.
        d.set("bufsize", &(cfg.bitrate_bps / 50).max(1).to_string());
    } else {
        d.set("maxrate", &cfg.bitrate_bps.to_string());
        d.set("bufsize", &vbv.max(1).to_string());
    }
    d.set("bf", "0");
    d.set("refs", &refs.to_string());
    d.set("slices", &cfg.slices.max(1).to_string());
    let preset = cfg.preset.as_deref();
    match name {
        "libx264" => {
            d.set("g", "2147483647");
            d.set("preset", preset.unwrap_or("ultrafast"));
            d.set("tune", "zerolatency");
            d.set("forced-idr", "1");
            // No nal-hrd=cbr: x264 refuses VBV changes at run time when NAL HRD is on.
            let mut p = format!(
                "repeat-headers=1:scenecut=0:keyint=infinite:bframes=0:ref={refs}:force-cfr=1"
            );
            if cfg.slices > 1 {
                // zerolatency uses sliced threads, where x264 makes one slice per thread.
                p += &format!(":slices={0}:threads={0}", cfg.slices);
            }
            if cfg.intra_refresh {
                p += ":intra-refresh=1";
            }
            d.set("x264-params", &p);
        }
        "libx265" => {
            d.set("g", "2147483647");
            d.set("preset", preset.unwrap_or("ultrafast"));
            d.set("tune", "zerolatency");
            d.set("forced-idr", "1");
            let mut p = format!(
                "repeat-headers=1:keyint=-1:scenecut=0:bframes=0:ref={refs}:log-level=error:info=0:strict-cbr=1"
            );
            if cfg.slices > 1 {
                p += &format!(":slices={}", cfg.slices);
            }
            if cfg.intra_refresh {
                p += ":intra-refresh=1";
            }
            d.set("x265-params", &p);
        }
        "libsvtav1" => {
            d.set("preset", preset.unwrap_or("12"));
            // Low-delay prediction (no reordering), CBR, no periodic key frames.
            d.set("svtav1-params", "pred-struct=1:rc=2:keyint=-1:scd=0");
        }
        n if n.ends_with("_nvenc") => {
            d.set("g", "2147483647");
            d.set("preset", preset.unwrap_or("p1"));
            d.set("tune", "ull");
            d.set("zerolatency", "1");
            d.set("delay", "0");
            d.set("rc", "cbr");
            d.set("forced-idr", "1");
            if cfg.intra_refresh {
                d.set("intra-refresh", "1");
            }
        }
        _ => {}
    }
    d
}

fn open_encoder(name: &str, cfg: &EncoderConfig) -> Result<ff::encoder::Video, EncodeError> {
    init();
    let codec =
        ff::encoder::find_by_name(name).ok_or_else(|| EncodeError::NotFound(name.to_string()))?;
    let open_err = |e: ff::Error| EncodeError::Open {
        name: name.to_string(),
        reason: e.to_string(),
    };
    let mut v = ff::codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(open_err)?;
    let VideoMode { width, height, fps } = cfg.mode;
    v.set_width(width);
    v.set_height(height);
    v.set_format(encoder_pixel(name, cfg.ten_bit));
    v.set_time_base((1, fps as i32));
    v.set_frame_rate(Some((fps as i32, 1)));
    v.set_max_b_frames(0);
    // swscale's RGB→YUV default is BT.601 limited range: say so in the VUI.
    v.set_colorspace(ff::color::Space::SMPTE170M);
    v.set_color_range(ff::color::Range::MPEG);
    v.set_color_primaries(ff::color::Primaries::SMPTE170M);
    v.set_color_transfer_characteristic(ff::color::TransferCharacteristic::SMPTE170M);
    v.open_as_with(codec, options(name, cfg)).map_err(open_err)
}

impl FfmpegEncoder {
    /// Opens encoder `name` (an FFmpeg encoder name such as `libx264`) for `cfg`.
    pub fn open(name: &str, cfg: &EncoderConfig) -> Result<Self, EncodeError> {
        let enc = open_encoder(name, cfg)?;
        let VideoMode { width, height, .. } = cfg.mode;
        Ok(Self {
            name: name.to_string(),
            backend: backend_of(name),
            cfg: cfg.clone(),
            enc,
            scaler: None,
            src: ff::frame::Video::empty(),
            dst: ff::frame::Video::new(encoder_pixel(name, cfg.ten_bit), width, height),
            pkt: ff::Packet::empty(),
            next_frame: 0,
            force_idr: false,
            rebuild_pending: false,
            last_convert: std::time::Duration::ZERO,
            in_flight: VecDeque::with_capacity(8),
        })
    }

    /// FFmpeg name of the encoder.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Backend the encoder runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Current configuration.
    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    /// Time the last [`FfmpegEncoder::encode`] spent converting pixels (part of
    /// `encode_time`).
    pub fn last_conversion_time(&self) -> std::time::Duration {
        self.last_convert
    }

    /// Makes the next encoded frame an IDR with parameter sets in front (for encoders
    /// that ignore forced key frames, by rebuilding before the next frame).
    pub fn request_idr(&mut self) {
        self.force_idr = true;
        if !honours_forced_idr(&self.name) {
            self.rebuild_pending = true;
        }
    }

    /// The client lost stream frames `first..=last`. The next frame must not reference
    /// them; these encoders cannot pick references, so this falls back to an IDR.
    pub fn invalidate_refs(&mut self, first: u64, last: u64) {
        debug!(first, last, "reference invalidation → IDR");
        self.request_idr();
    }

    /// Changes the target bitrate: reconfigures the running encoder where FFmpeg allows
    /// (libx264, NVENC), else rebuilds it before the next frame (frame numbering continues,
    /// that frame is an IDR).
    pub fn set_bitrate(&mut self, bps: u64) -> Result<BitrateChange, EncodeError> {
        self.cfg.bitrate_bps = bps;
        if live_bitrate(&self.name) {
            let vbv = (bps / self.cfg.mode.fps.max(1) as u64).max(1);
            self.enc.set_bit_rate(bps as usize);
            self.enc.set_max_bit_rate(bps as usize);
            // SAFETY: the context pointer is valid for the encoder's lifetime and we hold
            // `&mut self.enc`; FFmpeg's libx264/NVENC wrappers read `rc_buffer_size` on the
            // next frame and reconfigure (FFmpeg exposes no setter for this field).
            unsafe {
                (*self.enc.as_mut_ptr()).rc_buffer_size = vbv.min(i32::MAX as u64) as i32;
            }
            Ok(BitrateChange::Reconfigured)
        } else {
            self.rebuild_pending = true;
            Ok(BitrateChange::Rebuilt)
        }
    }

    /// Changes resolution/frame rate by rebuilding the encoder in place (numbering kept).
    /// Like a bitrate rebuild, it happens before the next frame: frames still inside the
    /// old encoder are flushed out first, then the new one starts with an IDR.
    pub fn set_mode(&mut self, mode: VideoMode) {
        self.cfg.mode = mode;
        self.rebuild_pending = true;
    }

    fn rebuild(&mut self) -> Result<(), EncodeError> {
        self.enc = open_encoder(&self.name, &self.cfg)?;
        let VideoMode { width, height, .. } = self.cfg.mode;
        self.dst =
            ff::frame::Video::new(encoder_pixel(&self.name, self.cfg.ten_bit), width, height);
        self.scaler = None;
        self.in_flight.clear();
        self.force_idr = true;
        self.rebuild_pending = false;
        Ok(())
    }

    /// Encodes one frame; every access unit the encoder emits goes to `out` (zero-latency
    /// settings emit exactly one per input frame). A frame of another size than the
    /// encoder's rebuilds the encoder first.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        mut out: impl FnMut(EncodedFrame),
    ) -> Result<(), EncodeError> {
        let t0 = Instant::now();
        if (frame.width, frame.height) != (self.cfg.mode.width, self.cfg.mode.height) {
            self.set_mode(VideoMode::new(frame.width, frame.height, self.cfg.mode.fps));
        }
        if self.rebuild_pending {
            // Frames still inside the old encoder come out before the rebuild.
            self.flush(&mut out)?;
            self.rebuild()?;
        }
        let tc = Instant::now();
        self.convert(frame)?;
        self.last_convert = tc.elapsed();
        let pts = self.next_frame as i64;
        self.next_frame += 1;
        self.dst.set_pts(Some(pts));
        self.dst.set_kind(if std::mem::take(&mut self.force_idr) {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        self.in_flight
            .push_back((pts, frame.capture_ts_ns, frame.frame_number, t0));
        self.enc
            .send_frame(&self.dst)
            .map_err(|e| EncodeError::Encode(e.to_string()))?;
        self.drain(&mut out)
    }

    /// Flushes frames still inside the encoder (end of stream).
    pub fn flush(&mut self, mut out: impl FnMut(EncodedFrame)) -> Result<(), EncodeError> {
        self.enc
            .send_eof()
            .map_err(|e| EncodeError::Encode(e.to_string()))?;
        self.drain(&mut out)
    }

    fn drain(&mut self, out: &mut impl FnMut(EncodedFrame)) -> Result<(), EncodeError> {
        loop {
            match self.enc.receive_packet(&mut self.pkt) {
                Ok(()) => {}
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(());
                }
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(EncodeError::Encode(e.to_string())),
            }
            let pts = self.pkt.pts().unwrap_or(-1);
            // Entries older than this packet were dropped by the encoder; discard them.
            let mut meta = None;
            while let Some(&(p, ts, src, t)) = self.in_flight.front() {
                if p > pts {
                    break;
                }
                self.in_flight.pop_front();
                if p == pts {
                    meta = Some((ts, src, t));
                }
            }
            let (capture_ts_ns, source_frame_number, t0) =
                meta.unwrap_or((0, u64::MAX, Instant::now()));
            out(EncodedFrame {
                bytes: self.pkt.data().unwrap_or_default().to_vec(),
                frame_type: if self.pkt.is_key() {
                    FrameType::Idr
                } else {
                    FrameType::P
                },
                capture_ts_ns,
                encode_time: t0.elapsed(),
                frame_number: pts as u64,
                source_frame_number,
            });
        }
    }

    fn convert(&mut self, frame: &VideoFrame) -> Result<(), EncodeError> {
        let (w, h) = (frame.width, frame.height);
        let need_new = match &self.scaler {
            Some((f, s)) => *f != frame.format || s.0.input().width != w || s.0.input().height != h,
            None => true,
        };
        if need_new {
            let sc = ff::software::scaling::Context::get(
                source_pixel(frame.format),
                w,
                h,
                self.dst.format(),
                w,
                h,
                ff::software::scaling::Flags::POINT,
            )
            .map_err(|e| EncodeError::Encode(format!("swscale: {e}")))?;
            self.scaler = Some((frame.format, Scaler(sc)));
            self.src = ff::frame::Video::new(source_pixel(frame.format), w, h);
        }
        copy_into(frame, &mut self.src);
        let (_, sc) = self.scaler.as_mut().expect("scaler set above");
        sc.0.run(&self.src, &mut self.dst)
            .map_err(|e| EncodeError::Encode(format!("swscale: {e}")))
    }
}

/// Copies a packed frame into an FFmpeg frame (whose rows may be padded).
fn copy_into(frame: &VideoFrame, dst: &mut ff::frame::Video) {
    let h = frame.height as usize;
    let planes: &[(usize, usize)] = match frame.format {
        PixelFormat::Bgra | PixelFormat::Rgba => &[(0, h)],
        PixelFormat::Nv12 => &[(0, h), (frame.stride * h, h.div_ceil(2))],
    };
    let row = frame.width as usize * frame.format.bytes_per_pixel();
    for (i, &(offset, rows)) in planes.iter().enumerate() {
        let ds = dst.stride(i);
        let d = dst.data_mut(i);
        for y in 0..rows {
            let s = &frame.data[offset + y * frame.stride..][..row];
            d[y * ds..y * ds + row].copy_from_slice(s);
        }
    }
}

impl std::fmt::Debug for FfmpegEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfmpegEncoder")
            .field("name", &self.name)
            .field("cfg", &self.cfg)
            .field("next_frame", &self.next_frame)
            .finish()
    }
}

/// Whether this FFmpeg build has encoder `name` (without opening it).
pub fn has_encoder(name: &str) -> bool {
    init();
    ff::encoder::find_by_name(name).is_some()
}

/// Whether `codec` is the codec `name` encodes.
pub fn codec_of(name: &str) -> Option<Codec> {
    match name {
        "libx264" | "h264_nvenc" | "h264_vaapi" => Some(Codec::H264),
        "libx265" | "hevc_nvenc" | "hevc_vaapi" => Some(Codec::Hevc),
        "libsvtav1" | "av1_nvenc" | "av1_vaapi" => Some(Codec::Av1),
        _ => None,
    }
}
