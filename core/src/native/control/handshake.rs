//! The positional `PKF1` handshake: Hello, Welcome, Start (§4.2–§4.4).
//!
//! Optional trailing fields: a decoder that finds the buffer ending before a field uses its
//! documented default; an encoder omits a field only if it and every later field are at their
//! defaults. A field that is only partly present is an error.

use super::wire::{Reader, Wire, WireError, Writer};
use super::{MAGIC_HANDSHAKE, Mode, WIRE_VERSION};

/// Longest client name in a Hello (bytes).
pub const MAX_NAME_LEN: usize = 64;
/// Longest launch id in a Hello (bytes).
pub const MAX_LAUNCH_LEN: usize = 128;
/// Size of an HDR static metadata body.
pub const HDR_META_LEN: usize = 28;

/// Video codec bit: H.264.
pub const CODEC_H264: u8 = 0x01;
/// Video codec bit: HEVC.
pub const CODEC_HEVC: u8 = 0x02;
/// Video codec bit: AV1.
pub const CODEC_AV1: u8 = 0x04;
/// Video codec bit: PyroWave (opt-in only).
pub const CODEC_PYROWAVE: u8 = 0x08;

/// Hello video_caps: 10-bit.
pub const VIDEO_CAP_10BIT: u8 = 0x01;
/// Hello video_caps: HDR.
pub const VIDEO_CAP_HDR: u8 = 0x02;
/// Hello video_caps: 4:4:4.
pub const VIDEO_CAP_444: u8 = 0x04;
/// Hello video_caps: host-timing datagrams (0xCF).
pub const VIDEO_CAP_HOST_TIMING: u8 = 0x08;
/// Hello video_caps: probe frames in their own sequence space.
pub const VIDEO_CAP_PROBE_SEQ: u8 = 0x10;
/// Hello video_caps: streamed AUs.
pub const VIDEO_CAP_STREAMED_AU: u8 = 0x20;
/// Hello video_caps: ChaCha20-Poly1305.
pub const VIDEO_CAP_CHACHA20: u8 = 0x40;
/// Hello video_caps: multi-slice.
pub const VIDEO_CAP_MULTI_SLICE: u8 = 0x80;

/// Welcome FEC scheme: GF(2⁸).
pub const FEC_SCHEME_GF8: u8 = 0;
/// Welcome FEC scheme: GF(2¹⁶).
pub const FEC_SCHEME_GF16: u8 = 1;
/// Welcome cipher: AES-128-GCM.
pub const CIPHER_AES128_GCM: u8 = 0;
/// Welcome cipher: ChaCha20-Poly1305.
pub const CIPHER_CHACHA20_POLY1305: u8 = 1;
/// Grants an absent Welcome field means (every grant punktfunk v0.31 defines;
/// **unverified** against a client, never emitted by this host).
pub const GRANT_ALL: u32 = 0x3F;
/// Default audio sample rate.
pub const DEFAULT_AUDIO_RATE_HZ: u32 = 48_000;

/// Resolves the session codec: the client's preferred codec if shared (PyroWave only this way),
/// else HEVC > AV1 > H.264 over `client ∩ host`. A client listing no codec is HEVC-only.
pub fn resolve_codec(client: u8, host: u8, preferred: u8) -> Option<u8> {
    let client = if client == 0 { CODEC_HEVC } else { client };
    let shared = client & host;
    if preferred.count_ones() == 1 && shared & preferred != 0 {
        return Some(preferred);
    }
    [CODEC_HEVC, CODEC_AV1, CODEC_H264]
        .into_iter()
        .find(|c| shared & c != 0)
}

/// Client → host session request (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloRepr<'a> {
    /// Wire version the client speaks (must be [`WIRE_VERSION`]).
    pub abi_version: u32,
    /// Requested display mode.
    pub mode: Mode,
    /// Compositor preference (0 = auto).
    pub compositor: u8,
    /// Virtual gamepad preference (0 = auto).
    pub gamepad: u8,
    /// Requested bitrate, kbps (0 = host default / automatic).
    pub bitrate_kbps: u32,
    /// Client display name ("" = none), ≤ 64 bytes.
    pub name: &'a str,
    /// Launch id ("" = none), ≤ 128 bytes.
    pub launch: &'a str,
    /// `VIDEO_CAP_*` bits.
    pub video_caps: u8,
    /// Requested audio channels (2/6/8).
    pub audio_channels: u8,
    /// `CODEC_*` bits the client decodes (0 = HEVC only).
    pub video_codecs: u8,
    /// Preferred codec bit, or 0.
    pub preferred_codec: u8,
    /// Display HDR metadata body.
    pub display_hdr: Option<[u8; HDR_META_LEN]>,
    /// Client capability bits (cursor, phase-lock, …).
    pub client_caps: u8,
    /// Largest shard the client accepts (0 = not stated).
    pub max_shard_payload: u16,
    /// Requested audio sample rate.
    pub audio_rate_hz: u32,
    /// Requested audio sample depth.
    pub audio_bits: u8,
}

impl<'a> HelloRepr<'a> {
    /// A Hello with every optional field at its default.
    pub fn new(mode: Mode) -> Self {
        Self {
            abi_version: WIRE_VERSION,
            mode,
            compositor: 0,
            gamepad: 0,
            bitrate_kbps: 0,
            name: "",
            launch: "",
            video_caps: 0,
            audio_channels: 2,
            video_codecs: 0,
            preferred_codec: 0,
            display_hdr: None,
            client_caps: 0,
            max_shard_payload: 0,
            audio_rate_hz: DEFAULT_AUDIO_RATE_HZ,
            audio_bits: 16,
        }
    }

    /// Parses a Hello payload (without the frame prefix).
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        if r.array::<4>()? != MAGIC_HANDSHAKE {
            return Err(WireError::BadMagic);
        }
        let abi_version = r.u32()?;
        let mode = Mode::new(r.u32()?, r.u32()?, r.u32()?);
        let mut h = Self::new(mode);
        h.abi_version = abi_version;
        if r.is_empty() {
            return Ok(h);
        }
        h.compositor = r.u8()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.gamepad = r.u8()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.bitrate_kbps = r.u32()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.name = r.str8("name", MAX_NAME_LEN)?;
        if r.is_empty() {
            return Ok(h);
        }
        h.launch = r.str8("launch", MAX_LAUNCH_LEN)?;
        if r.is_empty() {
            return Ok(h);
        }
        h.video_caps = r.u8()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.audio_channels = r.u8()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.video_codecs = r.u8()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.preferred_codec = r.u8()?;
        if r.remaining() >= HDR_META_LEN {
            h.display_hdr = Some(r.array()?);
        }
        if r.is_empty() {
            return Ok(h);
        }
        h.client_caps = r.u8()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.max_shard_payload = r.u16()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.audio_rate_hz = r.u32()?;
        if r.is_empty() {
            return Ok(h);
        }
        h.audio_bits = r.u8()?;
        // Later (newer-client) bytes are ignored.
        Ok(h)
    }

    /// How many of the optional fields (in order) must be emitted.
    fn optional_count(&self) -> usize {
        let d = Self::new(self.mode);
        let nondefault = [
            self.compositor != d.compositor,
            self.gamepad != d.gamepad,
            self.bitrate_kbps != d.bitrate_kbps,
            !self.name.is_empty(),
            !self.launch.is_empty(),
            self.video_caps != d.video_caps,
            self.audio_channels != d.audio_channels,
            self.video_codecs != d.video_codecs,
            self.preferred_codec != d.preferred_codec,
            self.display_hdr.is_some(),
            self.client_caps != d.client_caps,
            self.max_shard_payload != d.max_shard_payload,
            self.audio_rate_hz != d.audio_rate_hz,
            self.audio_bits != d.audio_bits,
        ];
        nondefault.iter().rposition(|&b| b).map_or(0, |i| i + 1)
    }

    fn check(&self) -> Result<(), WireError> {
        if self.name.len() > MAX_NAME_LEN {
            return Err(WireError::TooLong {
                field: "name",
                len: self.name.len(),
                max: MAX_NAME_LEN,
            });
        }
        if self.launch.len() > MAX_LAUNCH_LEN {
            return Err(WireError::TooLong {
                field: "launch",
                len: self.launch.len(),
                max: MAX_LAUNCH_LEN,
            });
        }
        Ok(())
    }
}

const HELLO_FIXED: usize = 20;

impl Wire for HelloRepr<'_> {
    fn buffer_len(&self) -> usize {
        let n = self.optional_count();
        let sizes = [
            1,
            1,
            4,
            1 + self.name.len(),
            1 + self.launch.len(),
            1,
            1,
            1,
            1,
            if self.display_hdr.is_some() {
                HDR_META_LEN
            } else {
                0
            },
            1,
            2,
            4,
            1,
        ];
        HELLO_FIXED + sizes[..n].iter().sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let n = self.optional_count();
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.bytes(&MAGIC_HANDSHAKE);
        w.u32(self.abi_version);
        w.u32(self.mode.width);
        w.u32(self.mode.height);
        w.u32(self.mode.refresh_hz);
        for i in 0..n {
            match i {
                0 => w.u8(self.compositor),
                1 => w.u8(self.gamepad),
                2 => w.u32(self.bitrate_kbps),
                3 => w.str8(self.name),
                4 => w.str8(self.launch),
                5 => w.u8(self.video_caps),
                6 => w.u8(self.audio_channels),
                7 => w.u8(self.video_codecs),
                8 => w.u8(self.preferred_codec),
                9 => {
                    if let Some(hdr) = &self.display_hdr {
                        w.bytes(hdr);
                    }
                }
                10 => w.u8(self.client_caps),
                11 => w.u16(self.max_shard_payload),
                12 => w.u32(self.audio_rate_hz),
                _ => w.u8(self.audio_bits),
            }
        }
        Ok(w.pos())
    }
}

/// Host → client session offer (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WelcomeRepr {
    /// Wire version (clients do not check it).
    pub abi_version: u32,
    /// Host data-plane UDP port.
    pub udp_port: u16,
    /// Mode actually served.
    pub mode: Mode,
    /// [`FEC_SCHEME_GF8`] or [`FEC_SCHEME_GF16`].
    pub fec_scheme: u8,
    /// Initial FEC recovery percentage.
    pub fec_percent: u8,
    /// K: data shards per FEC block.
    pub max_data_per_block: u16,
    /// S: shard payload bytes.
    pub shard_payload: u16,
    /// Data plane encrypted (always true from this host).
    pub encrypt: bool,
    /// AES-128 data-plane key.
    pub key: [u8; 16],
    /// Nonce salt.
    pub salt: [u8; 4],
    /// Synthetic frame count (0 = unbounded / real video).
    pub frames: u32,
    /// Resolved compositor.
    pub compositor: u8,
    /// Resolved gamepad backend.
    pub gamepad: u8,
    /// Configured bitrate, kbps (0 = unknown; keeps client ABR off).
    pub bitrate_kbps: u32,
    /// Encode bit depth (8/10).
    pub bit_depth: u8,
    /// CICP colour primaries, transfer, matrix, full-range flag.
    pub cicp: [u8; 4],
    /// chroma_format_idc (1 = 4:2:0, 3 = 4:4:4).
    pub chroma_format: u8,
    /// Audio channels resolved.
    pub audio_channels: u8,
    /// Codec resolved (single `CODEC_*` bit).
    pub codec: u8,
    /// Host capability bits.
    pub host_caps: u8,
    /// Data-plane cipher: [`CIPHER_AES128_GCM`] or [`CIPHER_CHACHA20_POLY1305`].
    pub cipher: u8,
    /// ChaCha20-Poly1305 key, present iff `cipher` = 1.
    pub chacha_key: [u8; 32],
    /// Management-API port (0 = not advertised).
    pub mgmt_port: u16,
    /// Grant mask.
    pub grants: u32,
    /// Seconds until access expires (0 = permanent).
    pub expires_in_secs: u32,
    /// Audio codec (0 = Opus).
    pub audio_codec: u8,
    /// Audio rate resolved.
    pub audio_rate_hz: u32,
    /// Audio depth resolved.
    pub audio_bits: u8,
    /// PCM frame duration (0 for Opus).
    pub audio_frame_us: u16,
}

/// Bytes a Welcome must have (through `frames`).
pub const WELCOME_MIN_LEN: usize = 53;
/// Length of the common Welcome (through `host_caps`), always emitted.
pub const WELCOME_BASE_LEN: usize = 68;

impl WelcomeRepr {
    /// A Welcome with the given required fields and every other field at its decode default.
    pub fn new(udp_port: u16, mode: Mode, key: [u8; 16], salt: [u8; 4]) -> Self {
        Self {
            abi_version: WIRE_VERSION,
            udp_port,
            mode,
            fec_scheme: FEC_SCHEME_GF16,
            fec_percent: 10,
            max_data_per_block: 4096,
            shard_payload: 1408,
            encrypt: true,
            key,
            salt,
            frames: 0,
            compositor: 0,
            gamepad: 0,
            bitrate_kbps: 0,
            bit_depth: 8,
            cicp: [1, 1, 1, 0],
            chroma_format: 1,
            audio_channels: 2,
            codec: CODEC_HEVC,
            host_caps: 0,
            cipher: CIPHER_AES128_GCM,
            chacha_key: [0; 32],
            mgmt_port: 0,
            grants: GRANT_ALL,
            expires_in_secs: 0,
            audio_codec: 0,
            audio_rate_hz: DEFAULT_AUDIO_RATE_HZ,
            audio_bits: 16,
            audio_frame_us: 0,
        }
    }

    /// Parses a Welcome payload (≥ 53 bytes; later fields optional).
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        if buf.len() >= 4 && buf[..4] != MAGIC_HANDSHAKE {
            return Err(WireError::BadMagic);
        }
        if buf.len() < WELCOME_MIN_LEN {
            return Err(WireError::Truncated {
                need: WELCOME_MIN_LEN,
                have: buf.len(),
            });
        }
        let mut r = Reader::new(buf);
        r.array::<4>()?;
        let abi_version = r.u32()?;
        let udp_port = r.u16()?;
        let mode = Mode::new(r.u32()?, r.u32()?, r.u32()?);
        let mut w = Self::new(udp_port, mode, [0; 16], [0; 4]);
        w.abi_version = abi_version;
        w.fec_scheme = r.u8()?;
        w.fec_percent = r.u8()?;
        w.max_data_per_block = r.u16()?;
        w.shard_payload = r.u16()?;
        w.encrypt = r.u8()? != 0;
        w.key = r.array()?;
        w.salt = r.array()?;
        w.frames = r.u32()?;
        macro_rules! opt {
            ($field:expr, $read:expr) => {
                if r.is_empty() {
                    return Ok(w);
                }
                $field = $read;
            };
        }
        opt!(w.compositor, r.u8()?);
        opt!(w.gamepad, r.u8()?);
        opt!(w.bitrate_kbps, r.u32()?);
        opt!(w.bit_depth, r.u8()?);
        opt!(w.cicp, r.array()?);
        opt!(w.chroma_format, r.u8()?);
        opt!(w.audio_channels, r.u8()?);
        opt!(w.codec, r.u8()?);
        opt!(w.host_caps, r.u8()?);
        opt!(w.cipher, r.u8()?);
        match w.cipher {
            CIPHER_AES128_GCM => {}
            CIPHER_CHACHA20_POLY1305 => w.chacha_key = r.array()?,
            other => return Err(WireError::UnknownCipher(other)),
        }
        opt!(w.mgmt_port, r.u16()?);
        opt!(w.grants, r.u32()?);
        opt!(w.expires_in_secs, r.u32()?);
        opt!(w.audio_codec, r.u8()?);
        opt!(w.audio_rate_hz, r.u32()?);
        opt!(w.audio_bits, r.u8()?);
        opt!(w.audio_frame_us, r.u16()?);
        Ok(w)
    }

    fn optional_count(&self) -> usize {
        let d = Self::new(0, Mode::default(), [0; 16], [0; 4]);
        let nondefault = [
            self.cipher != d.cipher,
            self.mgmt_port != d.mgmt_port,
            self.grants != d.grants,
            self.expires_in_secs != d.expires_in_secs,
            self.audio_codec != d.audio_codec,
            self.audio_rate_hz != d.audio_rate_hz,
            self.audio_bits != d.audio_bits,
            self.audio_frame_us != d.audio_frame_us,
        ];
        nondefault.iter().rposition(|&b| b).map_or(0, |i| i + 1)
    }
}

impl Wire for WelcomeRepr {
    fn buffer_len(&self) -> usize {
        let chacha = if self.cipher == CIPHER_CHACHA20_POLY1305 {
            32
        } else {
            0
        };
        let sizes = [1 + chacha, 2, 4, 4, 1, 4, 1, 2];
        WELCOME_BASE_LEN + sizes[..self.optional_count()].iter().sum::<usize>()
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        if self.cipher > CIPHER_CHACHA20_POLY1305 {
            return Err(WireError::UnknownCipher(self.cipher));
        }
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.bytes(&MAGIC_HANDSHAKE);
        w.u32(self.abi_version);
        w.u16(self.udp_port);
        w.u32(self.mode.width);
        w.u32(self.mode.height);
        w.u32(self.mode.refresh_hz);
        w.u8(self.fec_scheme);
        w.u8(self.fec_percent);
        w.u16(self.max_data_per_block);
        w.u16(self.shard_payload);
        w.u8(self.encrypt as u8);
        w.bytes(&self.key);
        w.bytes(&self.salt);
        w.u32(self.frames);
        w.u8(self.compositor);
        w.u8(self.gamepad);
        w.u32(self.bitrate_kbps);
        w.u8(self.bit_depth);
        w.bytes(&self.cicp);
        w.u8(self.chroma_format);
        w.u8(self.audio_channels);
        w.u8(self.codec);
        w.u8(self.host_caps);
        for i in 0..self.optional_count() {
            match i {
                0 => {
                    w.u8(self.cipher);
                    if self.cipher == CIPHER_CHACHA20_POLY1305 {
                        w.bytes(&self.chacha_key);
                    }
                }
                1 => w.u16(self.mgmt_port),
                2 => w.u32(self.grants),
                3 => w.u32(self.expires_in_secs),
                4 => w.u8(self.audio_codec),
                5 => w.u32(self.audio_rate_hz),
                6 => w.u8(self.audio_bits),
                _ => w.u16(self.audio_frame_us),
            }
        }
        Ok(w.pos())
    }
}

/// Client → host: the client's data-plane UDP port (§4.4), 6 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRepr {
    /// The client's data socket port.
    pub client_udp_port: u16,
}

/// Length of a Start message.
pub const START_LEN: usize = 6;

impl StartRepr {
    /// Parses a Start payload (extra trailing bytes from newer clients are ignored).
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        if r.array::<4>()? != MAGIC_HANDSHAKE {
            return Err(WireError::BadMagic);
        }
        Ok(Self {
            client_udp_port: r.u16()?,
        })
    }
}

impl Wire for StartRepr {
    fn buffer_len(&self) -> usize {
        START_LEN
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(buf, START_LEN)?;
        w.bytes(&MAGIC_HANDSHAKE);
        w.u16(self.client_udp_port);
        Ok(w.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// §4.2 example: the probe-shaped 40-byte Hello.
    const HELLO_EX: &str = "504b4631 02000000 00050000 d0020000 3c000000 00 00 00000000 05 70726f6265 00 38 02 07 00 00 c023";

    #[test]
    fn hello_spec_example_parses_and_reencodes_byte_exact() {
        let bytes = hex(HELLO_EX);
        assert_eq!(bytes.len(), 40);
        let h = HelloRepr::parse(&bytes).unwrap();
        assert_eq!(h.abi_version, 2);
        assert_eq!(h.mode, Mode::new(1280, 720, 60));
        assert_eq!(h.name, "probe");
        assert_eq!(h.launch, "");
        assert_eq!(h.video_caps, 0x38);
        assert_eq!(h.audio_channels, 2);
        assert_eq!(h.video_codecs, 0x07);
        assert_eq!(h.preferred_codec, 0);
        assert_eq!(h.display_hdr, None);
        assert_eq!(h.client_caps, 0);
        assert_eq!(h.max_shard_payload, 9152);
        assert_eq!(h.audio_rate_hz, 48_000);
        let mut out = [0u8; 64];
        let n = h.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &bytes[..]);
    }

    #[test]
    fn minimal_hello_is_20_bytes_and_short_ones_fail() {
        let h = HelloRepr::new(Mode::new(1920, 1080, 120));
        assert_eq!(h.buffer_len(), 20);
        let mut out = [0u8; 20];
        h.emit(&mut out).unwrap();
        assert_eq!(HelloRepr::parse(&out).unwrap(), h);
        assert!(matches!(
            HelloRepr::parse(&out[..19]),
            Err(WireError::Truncated { .. })
        ));
        // A partly present bitrate field is an error, not a default.
        let mut long = out.to_vec();
        long.extend_from_slice(&[0, 0, 1, 2]);
        assert!(matches!(
            HelloRepr::parse(&long),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn hello_with_hdr_round_trips_and_hdr_is_detected_by_length() {
        let mut h = HelloRepr::new(Mode::new(3840, 2160, 60));
        h.display_hdr = Some([7; HDR_META_LEN]);
        h.audio_bits = 24;
        let mut out = [0u8; 128];
        let n = h.emit(&mut out).unwrap();
        assert_eq!(HelloRepr::parse(&out[..n]).unwrap(), h);
        h.display_hdr = None;
        let n = h.emit(&mut out).unwrap();
        assert_eq!(HelloRepr::parse(&out[..n]).unwrap(), h);
    }

    /// §4.3 example: the 68-byte Welcome.
    const WELCOME_EX: &str = "504b4631 02000000 409c 00050000 d0020000 3c000000 01 14 0010 8005 01
        101112131415161718191a1b1c1d1e1f a1b2c3d4 2c010000 00 00 00000000 08 01010100 01 02 02 00";

    #[test]
    fn welcome_spec_example_is_byte_exact() {
        let key: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
        let mut w = WelcomeRepr::new(
            40000,
            Mode::new(1280, 720, 60),
            key,
            [0xa1, 0xb2, 0xc3, 0xd4],
        );
        w.fec_percent = 20;
        w.frames = 300;
        let mut out = [0u8; 128];
        let n = w.emit(&mut out).unwrap();
        assert_eq!(n, WELCOME_BASE_LEN);
        assert_eq!(&out[..n], &hex(WELCOME_EX)[..]);
        assert_eq!(WelcomeRepr::parse(&out[..n]).unwrap(), w);
    }

    #[test]
    fn welcome_defaults_and_fail_closed_cipher() {
        let bytes = hex(WELCOME_EX);
        let short = WelcomeRepr::parse(&bytes[..53]).unwrap();
        assert_eq!(short.codec, CODEC_HEVC);
        assert_eq!(short.cicp, [1, 1, 1, 0]);
        assert!(WelcomeRepr::parse(&bytes[..52]).is_err());
        let mut with_cipher = bytes.clone();
        with_cipher.push(7);
        assert_eq!(
            WelcomeRepr::parse(&with_cipher),
            Err(WireError::UnknownCipher(7))
        );
        let mut w = WelcomeRepr::parse(&bytes).unwrap();
        w.audio_frame_us = 2000;
        w.cipher = CIPHER_CHACHA20_POLY1305;
        w.chacha_key = [9; 32];
        let mut out = [0u8; 256];
        let n = w.emit(&mut out).unwrap();
        assert_eq!(n, WELCOME_BASE_LEN + 1 + 32 + 2 + 4 + 4 + 1 + 4 + 1 + 2);
        assert_eq!(WelcomeRepr::parse(&out[..n]).unwrap(), w);
    }

    #[test]
    fn start_is_six_bytes() {
        let s = StartRepr {
            client_udp_port: 0xbeef,
        };
        let mut out = [0u8; 6];
        assert_eq!(s.emit(&mut out).unwrap(), 6);
        assert_eq!(out, [0x50, 0x4b, 0x46, 0x31, 0xef, 0xbe]);
        assert_eq!(StartRepr::parse(&out).unwrap(), s);
        assert!(StartRepr::parse(&out[..5]).is_err());
    }

    #[test]
    fn codec_resolution() {
        assert_eq!(
            resolve_codec(CODEC_H264 | CODEC_HEVC, CODEC_HEVC | CODEC_AV1, 0),
            Some(CODEC_HEVC)
        );
        assert_eq!(
            resolve_codec(0, CODEC_HEVC | CODEC_H264, 0),
            Some(CODEC_HEVC)
        );
        assert_eq!(resolve_codec(0, CODEC_H264, 0), None);
        assert_eq!(
            resolve_codec(CODEC_H264 | CODEC_HEVC, 0xff, CODEC_H264),
            Some(CODEC_H264)
        );
        assert_eq!(resolve_codec(CODEC_PYROWAVE, CODEC_PYROWAVE, 0), None);
    }

    fn arb_str(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::char::range('a', 'é'), 0..max / 2)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn hello_round_trips(
            w in any::<u32>(), hgt in any::<u32>(), hz in any::<u32>(), comp in any::<u8>(),
            pad in any::<u8>(), br in any::<u32>(), name in arb_str(64), launch in arb_str(128),
            caps in any::<u8>(), ch in any::<u8>(), codecs in any::<u8>(), pref in any::<u8>(),
            hdr in proptest::option::of(any::<[u8; 28]>()), cc in any::<u8>(), msp in any::<u16>(),
            rate in any::<u32>(), bits in any::<u8>(),
        ) {
            let h = HelloRepr {
                abi_version: 2, mode: Mode::new(w, hgt, hz), compositor: comp, gamepad: pad,
                bitrate_kbps: br, name: &name, launch: &launch, video_caps: caps,
                audio_channels: ch, video_codecs: codecs, preferred_codec: pref, display_hdr: hdr,
                client_caps: cc, max_shard_payload: msp, audio_rate_hz: rate, audio_bits: bits,
            };
            let mut out = [0u8; 512];
            let n = h.emit(&mut out).unwrap();
            prop_assert_eq!(n, h.buffer_len());
            prop_assert_eq!(HelloRepr::parse(&out[..n]).unwrap(), h);
        }

        #[test]
        fn welcome_round_trips(
            port in any::<u16>(), key in any::<[u8; 16]>(), salt in any::<[u8; 4]>(),
            pct in any::<u8>(), frames in any::<u32>(), cipher in 0u8..2, mgmt in any::<u16>(),
            grants in any::<u32>(), bits in any::<u8>(), fus in any::<u16>(),
        ) {
            let mut w = WelcomeRepr::new(port, Mode::new(1, 2, 3), key, salt);
            w.fec_percent = pct; w.frames = frames; w.cipher = cipher; w.mgmt_port = mgmt;
            w.grants = grants; w.audio_bits = bits; w.audio_frame_us = fus;
            if cipher == 1 { w.chacha_key = [3; 32]; }
            let mut out = [0u8; 256];
            let n = w.emit(&mut out).unwrap();
            prop_assert_eq!(n, w.buffer_len());
            prop_assert_eq!(WelcomeRepr::parse(&out[..n]).unwrap(), w);
        }
    }
}
