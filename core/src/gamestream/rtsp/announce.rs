//! The ANNOUNCE body: the client's stream parameters (gamestream-protocol.md §4.5).
//!
//! The body is SDP-like text. Each `a=<name>:<value> ` line is an attribute (value with its
//! trailing space removed); the first occurrence of a name counts. [`StreamConfig::parse`]
//! turns it into typed settings with Sunshine's defaults for optional attributes and an
//! error naming the first missing or invalid required one (Sunshine answers 400).

/// Encryption bit: control stream v2 IV format (§9.4).
pub const ENC_CONTROL_V2: u32 = 0x01;
/// Encryption bit: video (§6.7).
pub const ENC_VIDEO: u32 = 0x02;
/// Encryption bit: audio (§7.4).
pub const ENC_AUDIO: u32 = 0x04;
/// GFE feature flag (`x-nv-general.featureFlags`): audio must be encrypted.
pub const NV_FF_AUDIO_ENCRYPTION: u32 = 0x20;
/// Client feature flag (`x-ml-general.featureFlags`): sends per-frame FEC status.
pub const ML_FF_FEC_STATUS: u32 = 0x01;
/// Client feature flag: uses the session ping payload and ENet connect data.
pub const ML_FF_SESSION_ID_V1: u32 = 0x02;

/// Why an ANNOUNCE body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// The body is not UTF-8 text.
    #[error("ANNOUNCE body is not UTF-8")]
    NotUtf8,
    /// A required attribute is absent.
    #[error("required attribute {0} is missing")]
    Missing(&'static str),
    /// An attribute is not a number in its allowed range.
    #[error("attribute {0} has an invalid value")]
    Invalid(&'static str),
    /// `bitStreamFormat` names no known codec.
    #[error("unknown bitStreamFormat {0}")]
    UnknownCodec(u32),
}

/// The codec the client chose (`x-nv-vqos[0].bitStreamFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// 0: H.264.
    H264,
    /// 1: HEVC.
    Hevc,
    /// 2: AV1.
    Av1,
}

/// Colour space of the encoder's YUV conversion (`encoderCscMode >> 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorSpace {
    /// 0: Rec. 601.
    Rec601,
    /// 1: Rec. 709.
    Rec709,
    /// 2: Rec. 2020.
    Rec2020,
}

/// Every client parameter a host acts on, from one ANNOUNCE body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Encode width (`clientViewportWd`).
    pub width: u32,
    /// Encode height (`clientViewportHt`).
    pub height: u32,
    /// Frame rate (`maxFPS`).
    pub fps: u32,
    /// Client display refresh rate × 100, 0 = unknown.
    pub client_refresh_rate_x100: u32,
    /// Video payload bytes per packet (NV header + data), §6.1 `P`.
    pub packet_size: u32,
    /// `bw.maximumBitrateKbps`: encoder bitrate when `configured_bitrate_kbps` is 0.
    pub max_bitrate_kbps: u32,
    /// `x-ml-video.configuredBitrateKbps`: the user's total budget, 0 = absent.
    pub configured_bitrate_kbps: u32,
    /// Chosen codec.
    pub codec: VideoCodec,
    /// 10-bit (HDR-capable) format chosen (`dynamicRangeMode`).
    pub hdr: bool,
    /// YUV 4:4:4 chosen (`chromaSamplingType`).
    pub yuv444: bool,
    /// Encoder colour space.
    pub color_space: ColorSpace,
    /// Full-range YUV.
    pub full_range: bool,
    /// Slices per frame requested by the decoder.
    pub slices_per_frame: u32,
    /// 1 = decoder needs a single reference frame; 0 = host may choose.
    pub max_ref_frames: u32,
    /// Intra refresh instead of IDR (`x-ss-video[0].intraRefresh`).
    pub intra_refresh: bool,
    /// Minimum parity shards per FEC block.
    pub fec_min_required: u32,
    /// DSCP-mark video (`x-nv-vqos[0].qosTrafficType` != 0).
    pub video_qos: bool,
    /// DSCP-mark audio (`x-nv-aqos.qosTrafficType` != 0).
    pub audio_qos: bool,
    /// Audio channel count.
    pub audio_channels: u32,
    /// Audio channel mask.
    pub audio_channel_mask: u32,
    /// High-quality surround layout requested (`AudioQuality`).
    pub audio_high_quality: bool,
    /// Opus frame duration in milliseconds (`x-nv-aqos.packetDuration`).
    pub audio_packet_duration_ms: u32,
    /// `x-ss-general.encryptionEnabled` bits ([`ENC_CONTROL_V2`], [`ENC_VIDEO`], [`ENC_AUDIO`]).
    pub encryption_enabled: u32,
    /// `x-nv-general.featureFlags` (GFE bits).
    pub nv_feature_flags: u32,
    /// `x-ml-general.featureFlags` (client bits).
    pub ml_feature_flags: u32,
    /// `x-nv-general.useReliableUdp`: control protocol (13 = encrypted ENet).
    pub control_protocol: u32,
    /// Dynamic resolution (`drc.enable`).
    pub dynamic_resolution: bool,
}

/// Finds the value of the first `a=<name>:` line.
fn attr<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.split('\n').find_map(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let rest = line.strip_prefix("a=")?;
        let (n, v) = rest.split_once(':')?;
        (n == name).then(|| v.strip_suffix(' ').unwrap_or(v).trim())
    })
}

impl StreamConfig {
    /// Parses an ANNOUNCE body. Never panics.
    pub fn parse(body: &[u8]) -> Result<Self, AnnounceError> {
        let body = core::str::from_utf8(body).map_err(|_| AnnounceError::NotUtf8)?;
        let num = |name: &'static str| -> Result<Option<u32>, AnnounceError> {
            match attr(body, name) {
                None => Ok(None),
                Some(v) => v
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| AnnounceError::Invalid(name)),
            }
        };
        let req = |name: &'static str| num(name)?.ok_or(AnnounceError::Missing(name));
        let opt = |name: &'static str, default: u32| {
            Ok::<u32, AnnounceError>(num(name)?.unwrap_or(default))
        };
        let ranged = |name: &'static str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(AnnounceError::Invalid(name))
            }
        };

        let audio_channels = ranged(
            "x-nv-audio.surround.numChannels",
            req("x-nv-audio.surround.numChannels")?,
            1,
            8,
        )?;
        let audio_channel_mask = req("x-nv-audio.surround.channelMask")?;
        let audio_high_quality = req("x-nv-audio.surround.AudioQuality")? != 0;
        let packet_size = ranged(
            "x-nv-video[0].packetSize",
            req("x-nv-video[0].packetSize")?,
            64,
            65_000,
        )?;
        let width = ranged(
            "x-nv-video[0].clientViewportWd",
            req("x-nv-video[0].clientViewportWd")?,
            1,
            16_384,
        )?;
        let height = ranged(
            "x-nv-video[0].clientViewportHt",
            req("x-nv-video[0].clientViewportHt")?,
            1,
            16_384,
        )?;
        let fps = ranged(
            "x-nv-video[0].maxFPS",
            req("x-nv-video[0].maxFPS")?,
            1,
            1000,
        )?;
        let max_bitrate_kbps = req("x-nv-vqos[0].bw.maximumBitrateKbps")?;
        let slices_per_frame = ranged(
            "x-nv-video[0].videoEncoderSlicesPerFrame",
            req("x-nv-video[0].videoEncoderSlicesPerFrame")?,
            0,
            64,
        )?;
        let max_ref_frames = req("x-nv-video[0].maxNumReferenceFrames")?;

        let codec = match opt("x-nv-vqos[0].bitStreamFormat", 0)? {
            0 => VideoCodec::H264,
            1 => VideoCodec::Hevc,
            2 => VideoCodec::Av1,
            other => return Err(AnnounceError::UnknownCodec(other)),
        };
        let csc = opt("x-nv-video[0].encoderCscMode", 0)?;
        let color_space = match csc >> 1 {
            0 => ColorSpace::Rec601,
            1 => ColorSpace::Rec709,
            2 => ColorSpace::Rec2020,
            _ => return Err(AnnounceError::Invalid("x-nv-video[0].encoderCscMode")),
        };
        let audio_packet_duration_ms = ranged(
            "x-nv-aqos.packetDuration",
            opt("x-nv-aqos.packetDuration", 5)?,
            1,
            60,
        )?;

        Ok(Self {
            width,
            height,
            fps,
            client_refresh_rate_x100: opt("x-nv-video[0].clientRefreshRateX100", 0)?,
            packet_size,
            max_bitrate_kbps,
            configured_bitrate_kbps: opt("x-ml-video.configuredBitrateKbps", 0)?,
            codec,
            hdr: opt("x-nv-video[0].dynamicRangeMode", 0)? != 0,
            yuv444: opt("x-ss-video[0].chromaSamplingType", 0)? != 0,
            color_space,
            full_range: csc & 1 != 0,
            slices_per_frame,
            max_ref_frames,
            intra_refresh: opt("x-ss-video[0].intraRefresh", 0)? != 0,
            fec_min_required: opt("x-nv-vqos[0].fec.minRequiredFecPackets", 0)?,
            video_qos: opt("x-nv-vqos[0].qosTrafficType", 5)? != 0,
            audio_qos: opt("x-nv-aqos.qosTrafficType", 4)? != 0,
            audio_channels,
            audio_channel_mask,
            audio_high_quality,
            audio_packet_duration_ms,
            encryption_enabled: opt("x-ss-general.encryptionEnabled", 0)?,
            nv_feature_flags: opt("x-nv-general.featureFlags", 135)?,
            ml_feature_flags: opt("x-ml-general.featureFlags", 0)?,
            control_protocol: opt("x-nv-general.useReliableUdp", 1)?,
            dynamic_resolution: opt("x-nv-vqos[0].drc.enable", 0)? != 0,
        })
    }

    /// Video packets are AES-GCM sealed (§6.7).
    pub fn video_encrypted(&self) -> bool {
        self.encryption_enabled & ENC_VIDEO != 0
    }

    /// Audio packets are AES-CBC encrypted (§7.4): either signal turns it on.
    pub fn audio_encrypted(&self) -> bool {
        self.encryption_enabled & ENC_AUDIO != 0
            || self.nv_feature_flags & NV_FF_AUDIO_ENCRYPTION != 0
    }

    /// Control messages use the v2 IV (§5.2).
    pub fn control_v2(&self) -> bool {
        self.encryption_enabled & ENC_CONTROL_V2 != 0
    }

    /// The client matches pings and the ENet peer by session ids, not by address (§9.3).
    pub fn uses_session_ids(&self) -> bool {
        self.ml_feature_flags & ML_FF_SESSION_ID_V1 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appendix C.3 (each `a=` line ends with a space before CRLF).
    pub(crate) fn c3_body() -> Vec<u8> {
        let attrs = "x-ml-general.featureFlags:3
x-ss-general.encryptionEnabled:5
x-ss-video[0].chromaSamplingType:0
x-nv-video[0].clientViewportWd:1920
x-nv-video[0].clientViewportHt:1080
x-nv-video[0].maxFPS:60
x-nv-video[0].packetSize:1392
x-nv-video[0].rateControlMode:4
x-nv-video[0].timeoutLengthMs:7000
x-nv-video[0].framesWithInvalidRefThreshold:0
x-nv-video[0].initialBitrateKbps:16000
x-nv-video[0].initialPeakBitrateKbps:16000
x-nv-vqos[0].bw.minimumBitrateKbps:16000
x-nv-vqos[0].bw.maximumBitrateKbps:16000
x-ml-video.configuredBitrateKbps:20000
x-nv-vqos[0].fec.enable:1
x-nv-vqos[0].videoQualityScoreUpdateTime:5000
x-nv-vqos[0].qosTrafficType:5
x-nv-aqos.qosTrafficType:4
x-nv-general.featureFlags:167
x-nv-general.useReliableUdp:13
x-nv-vqos[0].fec.minRequiredFecPackets:2
x-nv-vqos[0].bllFec.enable:0
x-nv-vqos[0].drc.enable:0
x-nv-general.enableRecoveryMode:0
x-nv-video[0].videoEncoderSlicesPerFrame:1
x-nv-clientSupportHevc:0
x-nv-vqos[0].bitStreamFormat:0
x-nv-video[0].dynamicRangeMode:0
x-nv-video[0].maxNumReferenceFrames:0
x-nv-video[0].clientRefreshRateX100:6000
x-nv-audio.surround.numChannels:2
x-nv-audio.surround.channelMask:3
x-nv-audio.surround.enable:0
x-nv-audio.surround.AudioQuality:0
x-nv-aqos.packetDuration:5
x-nv-video[0].encoderCscMode:2";
        let mut s = String::from(
            "v=0\r\no=android 0 14 IN IPv4 192.168.1.20\r\ns=NVIDIA Streaming Client\r\n",
        );
        for a in attrs.lines() {
            s.push_str("a=");
            s.push_str(a);
            s.push_str(" \r\n");
        }
        s.push_str("t=0 0\r\nm=video 47998  \r\n");
        s.into_bytes()
    }

    #[test]
    fn parses_appendix_c3() {
        let c = StreamConfig::parse(&c3_body()).unwrap();
        assert_eq!((c.width, c.height, c.fps), (1920, 1080, 60));
        assert_eq!(c.packet_size, 1392);
        assert_eq!(c.max_bitrate_kbps, 16000);
        assert_eq!(c.configured_bitrate_kbps, 20000);
        assert_eq!(c.codec, VideoCodec::H264);
        assert!(!c.hdr && !c.yuv444);
        assert_eq!(c.color_space, ColorSpace::Rec709);
        assert!(!c.full_range);
        assert_eq!(c.slices_per_frame, 1);
        assert_eq!(c.max_ref_frames, 0);
        assert_eq!(c.fec_min_required, 2);
        assert_eq!(c.client_refresh_rate_x100, 6000);
        assert_eq!((c.audio_channels, c.audio_channel_mask), (2, 3));
        assert!(!c.audio_high_quality);
        assert_eq!(c.audio_packet_duration_ms, 5);
        assert_eq!(c.encryption_enabled, 5);
        assert!(c.control_v2() && c.audio_encrypted() && !c.video_encrypted());
        assert_eq!(c.nv_feature_flags, 167);
        assert_eq!(c.control_protocol, 13);
        assert!(c.uses_session_ids());
        assert!(c.video_qos && c.audio_qos);
    }

    fn replace(body: &[u8], from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(body.to_vec())
            .unwrap()
            .replace(from, to)
            .into_bytes()
    }

    #[test]
    fn defaults_errors_and_variants() {
        let body = c3_body();
        assert_eq!(
            StreamConfig::parse(&replace(&body, "a=x-nv-video[0].maxFPS:60 \r\n", "")).unwrap_err(),
            AnnounceError::Missing("x-nv-video[0].maxFPS")
        );
        assert_eq!(
            StreamConfig::parse(&replace(&body, "maxFPS:60", "maxFPS:abc")).unwrap_err(),
            AnnounceError::Invalid("x-nv-video[0].maxFPS")
        );
        assert_eq!(
            StreamConfig::parse(&replace(&body, "bitStreamFormat:0", "bitStreamFormat:7"))
                .unwrap_err(),
            AnnounceError::UnknownCodec(7)
        );
        assert_eq!(
            StreamConfig::parse(&replace(&body, "numChannels:2", "numChannels:9")).unwrap_err(),
            AnnounceError::Invalid("x-nv-audio.surround.numChannels")
        );
        let hevc = StreamConfig::parse(&replace(
            &replace(&body, "bitStreamFormat:0", "bitStreamFormat:1"),
            "encoderCscMode:2",
            "encoderCscMode:5",
        ))
        .unwrap();
        assert_eq!(hevc.codec, VideoCodec::Hevc);
        assert_eq!(hevc.color_space, ColorSpace::Rec2020);
        assert!(hevc.full_range);
        // Optional attributes fall back to Sunshine's defaults.
        let minimal = replace(
            &replace(&body, "a=x-nv-aqos.packetDuration:5 \r\n", ""),
            "a=x-nv-general.featureFlags:167 \r\n",
            "",
        );
        let m = StreamConfig::parse(&minimal).unwrap();
        assert_eq!(m.audio_packet_duration_ms, 5);
        assert_eq!(m.nv_feature_flags, 135);
        assert!(
            m.audio_encrypted(),
            "encryptionEnabled bit 0x04 still asks for audio encryption"
        );
        assert_eq!(
            StreamConfig::parse(b"\xff").unwrap_err(),
            AnnounceError::NotUtf8
        );
        assert_eq!(
            StreamConfig::parse(b"").unwrap_err(),
            AnnounceError::Missing("x-nv-audio.surround.numChannels")
        );
    }
}
