//! Encoder selection: NVENC → VAAPI → software, probing each by opening it, and one log
//! line saying what was chosen and why the others were skipped.

use tracing::info;

use super::ffmpeg::{FfmpegEncoder, has_encoder};
use super::{Backend, Codec, EncodeError, EncoderConfig};

/// FFmpeg encoder names for `codec`, in preference order.
pub fn candidates(codec: Codec) -> [(Backend, &'static str); 3] {
    match codec {
        Codec::H264 => [
            (Backend::Nvenc, "h264_nvenc"),
            (Backend::Vaapi, "h264_vaapi"),
            (Backend::Software, "libx264"),
        ],
        Codec::Hevc => [
            (Backend::Nvenc, "hevc_nvenc"),
            (Backend::Vaapi, "hevc_vaapi"),
            (Backend::Software, "libx265"),
        ],
        Codec::Av1 => [
            (Backend::Nvenc, "av1_nvenc"),
            (Backend::Vaapi, "av1_vaapi"),
            (Backend::Software, "libsvtav1"),
        ],
    }
}

/// Why a candidate was skipped, or `None` if it opened.
fn probe(backend: Backend, name: &str, cfg: &EncoderConfig) -> Result<FfmpegEncoder, String> {
    if !has_encoder(name) {
        return Err("not in this FFmpeg".into());
    }
    if backend == Backend::Vaapi {
        // VAAPI needs hardware frames (hwupload); that upload path is not written yet.
        let node = std::fs::read_dir("/dev/dri")
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
            })
            .unwrap_or(false);
        return Err(if node {
            "render node present but the VAAPI frame upload is not implemented".into()
        } else {
            "no /dev/dri render node".into()
        });
    }
    FfmpegEncoder::open(name, cfg).map_err(|e| match e {
        EncodeError::Open { reason, .. } => format!("open failed ({reason})"),
        other => other.to_string(),
    })
}

/// Opens the first encoder for `cfg.codec` that works, among the `allowed` backends, in
/// the order NVENC → VAAPI → software. Logs one line with the choice and the skips.
pub fn open_best(cfg: &EncoderConfig, allowed: &[Backend]) -> Result<FfmpegEncoder, EncodeError> {
    let mut skipped = Vec::new();
    for (backend, name) in candidates(cfg.codec) {
        if !allowed.contains(&backend) {
            skipped.push(format!("{name}: not allowed"));
            continue;
        }
        match probe(backend, name, cfg) {
            Ok(enc) => {
                info!(
                    "video encoder: {name} ({backend:?}) for {} {}x{}@{} {} kbit/s{}; skipped: {}",
                    cfg.codec,
                    cfg.mode.width,
                    cfg.mode.height,
                    cfg.mode.fps,
                    cfg.bitrate_bps / 1000,
                    if cfg.ten_bit { " 10-bit" } else { "" },
                    if skipped.is_empty() {
                        "none".into()
                    } else {
                        skipped.join("; ")
                    }
                );
                return Ok(enc);
            }
            Err(why) => skipped.push(format!("{name}: {why}")),
        }
    }
    Err(EncodeError::NoEncoder {
        codec: cfg.codec,
        reasons: skipped.join("; "),
    })
}

/// All backends, in preference order.
pub const ALL_BACKENDS: [Backend; 3] = [Backend::Nvenc, Backend::Vaapi, Backend::Software];
