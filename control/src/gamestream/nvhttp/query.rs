//! The query strings of nvhttp requests (§2): `name=value` pairs joined by `&`, with
//! percent-encoding, parsed into typed values with typed errors.

use std::borrow::Cow;

/// Most parameters accepted in one query (moonlight-qt's `/launch` sends about 20).
pub const MAX_PARAMS: usize = 64;

/// Why a query string or one of its values was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding")]
    PercentEncoding,
    /// A name or value is not UTF-8 after percent-decoding.
    #[error("query is not UTF-8")]
    NotUtf8,
    /// More than [`MAX_PARAMS`] parameters.
    #[error("more than {MAX_PARAMS} parameters")]
    TooManyParams,
    /// A required parameter is absent.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter does not have the required form.
    #[error("invalid parameter {0}")]
    Invalid(&'static str),
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes and `+` (space).
fn decode(s: &str) -> Result<Cow<'_, str>, QueryError> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex_val);
                let lo = b.get(i + 2).copied().and_then(hex_val);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(QueryError::PercentEncoding);
                };
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| QueryError::NotUtf8)
}

/// A parsed query string.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// Parses the text after `?` (without it). Empty pieces (`&&`) are skipped; a piece
    /// without `=` is a name with an empty value.
    pub fn parse(query: &'a str) -> Result<Self, QueryError> {
        let mut params = Vec::new();
        for piece in query.split('&').filter(|p| !p.is_empty()) {
            if params.len() == MAX_PARAMS {
                return Err(QueryError::TooManyParams);
            }
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            params.push((decode(name)?, decode(value)?));
        }
        Ok(Self { params })
    }

    /// The first value of `name` (names are case-sensitive, as Sunshine matches them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The value of a required parameter.
    pub fn require(&self, name: &'static str) -> Result<&str, QueryError> {
        self.get(name).ok_or(QueryError::Missing(name))
    }

    /// An optional decimal `u32`.
    pub fn u32(&self, name: &'static str) -> Result<Option<u32>, QueryError> {
        self.get(name)
            .map(|v| v.trim().parse().map_err(|_| QueryError::Invalid(name)))
            .transpose()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// No parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// The `mode` parameter: `WIDTHxHEIGHTxFPS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayMode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second (0 when a client hides fps > 60 from NVIDIA hosts).
    pub fps: u32,
}

impl DisplayMode {
    /// Parses `1920x1080x60`.
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        let mut it = s.split('x').map(|p| p.parse::<u32>());
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(Ok(width)), Some(Ok(height)), Some(Ok(fps)), None)
                if (1..=16_384).contains(&width) && (1..=16_384).contains(&height) =>
            {
                Ok(Self { width, height, fps })
            }
            _ => Err(QueryError::Invalid("mode")),
        }
    }
}

/// What `/launch` and `/resume` carry (§2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchParams {
    /// `appid` (0 or absent on `/resume`).
    pub appid: u32,
    /// Requested display mode, if given.
    pub mode: Option<DisplayMode>,
    /// `rikey`: the 16-byte AES session key.
    pub rikey: [u8; 16],
    /// `rikeyid`: signed decimal on the wire, kept as its u32 bit pattern.
    pub rikeyid: u32,
    /// `localAudioPlayMode`: also play audio on the host.
    pub local_audio: bool,
    /// `surroundAudioInfo`: `(channelMask << 16) | channelCount`; stereo when absent.
    pub surround_audio_info: u32,
    /// `sops`: change the host display mode to match.
    pub sops: bool,
    /// `hdrMode`: the client wants HDR.
    pub hdr: bool,
    /// `corever`: 1 = the client can do encrypted RTSP.
    pub corever: u32,
    /// `remoteControllersBitmap` (or `gcmap`).
    pub controllers: u32,
}

/// Stereo: `(0x3 << 16) | 2`.
pub const SURROUND_STEREO: u32 = 0x0003_0002;

impl LaunchParams {
    /// Parses `/launch` (`launch = true`: `appid` and `localAudioPlayMode` are required) or
    /// `/resume` parameters.
    pub fn parse(q: &Query<'_>, launch: bool) -> Result<Self, QueryError> {
        let key = super::super::hex::decode(q.require("rikey")?)
            .map_err(|_| QueryError::Invalid("rikey"))?;
        let rikey: [u8; 16] = key.try_into().map_err(|_| QueryError::Invalid("rikey"))?;
        let rikeyid = q.require("rikeyid")?.trim();
        let rikeyid = rikeyid
            .parse::<i32>()
            .map(|v| v as u32)
            .or_else(|_| rikeyid.parse::<u32>())
            .map_err(|_| QueryError::Invalid("rikeyid"))?;
        let appid = if launch {
            q.require("appid")?;
            q.u32("appid")?.unwrap_or(0)
        } else {
            q.u32("appid")?.unwrap_or(0)
        };
        let local_audio = if launch {
            q.require("localAudioPlayMode")?;
            q.u32("localAudioPlayMode")?.unwrap_or(0) != 0
        } else {
            q.u32("localAudioPlayMode")?.unwrap_or(0) != 0
        };
        let mode = q.get("mode").map(DisplayMode::parse).transpose()?;
        Ok(Self {
            appid,
            mode,
            rikey,
            rikeyid,
            local_audio,
            surround_audio_info: q.u32("surroundAudioInfo")?.unwrap_or(SURROUND_STEREO),
            sops: q.u32("sops")?.unwrap_or(0) != 0,
            hdr: q.u32("hdrMode")?.unwrap_or(0) != 0,
            corever: q.u32("corever")?.unwrap_or(0),
            controllers: match q.u32("remoteControllersBitmap")? {
                Some(v) => v,
                None => q.u32("gcmap")?.unwrap_or(0),
            },
        })
    }

    /// The client asked for encrypted RTSP (`corever >= 1`).
    pub fn rtsp_encrypted(&self) -> bool {
        self.corever >= 1
    }
}

/// Drives the query parsers with untrusted bytes (the `gs_nvhttp_query` fuzz target and
/// the property test call this). Must never panic.
pub fn fuzz_one(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Query::parse(text) {
        let _ = LaunchParams::parse(&q, true);
        let _ = LaunchParams::parse(&q, false);
        let _ = q.u32("appid");
        if let Some(m) = q.get("mode") {
            let _ = DisplayMode::parse(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAUNCH: &str = "uniqueid=0123456789ABCDEF&uuid=1b2c&appid=881448767&mode=1920x1080x60&additionalStates=1&sops=0&rikey=000102030405060708090a0b0c0d0e0f&rikeyid=-1534239870&localAudioPlayMode=0&surroundAudioInfo=196610&remoteControllersBitmap=1&gcmap=1&gcpersist=0&corever=1&clientHdrCapDisplayData=0x0x0x0%2Bx";

    #[test]
    fn parses_moonlight_launch() {
        let q = Query::parse(LAUNCH).unwrap();
        assert_eq!(q.get("uniqueid"), Some("0123456789ABCDEF"));
        assert_eq!(q.get("clientHdrCapDisplayData"), Some("0x0x0x0+x"));
        let p = LaunchParams::parse(&q, true).unwrap();
        assert_eq!(p.appid, 881448767);
        assert_eq!(
            p.mode,
            Some(DisplayMode {
                width: 1920,
                height: 1080,
                fps: 60
            })
        );
        assert_eq!(p.rikey, core::array::from_fn(|i| i as u8));
        assert_eq!(p.rikeyid, (-1534239870i32) as u32);
        assert_eq!(p.surround_audio_info, 196610);
        assert!(p.rtsp_encrypted());
        assert_eq!(p.controllers, 1);
        assert!(!p.local_audio && !p.hdr && !p.sops);
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            Query::parse("a=%zz").unwrap_err(),
            QueryError::PercentEncoding
        );
        assert_eq!(Query::parse("a=%ff").unwrap_err(), QueryError::NotUtf8);
        assert_eq!(
            Query::parse(&"a=1&".repeat(MAX_PARAMS + 1)).unwrap_err(),
            QueryError::TooManyParams
        );
        let q = Query::parse("rikeyid=1&localAudioPlayMode=0&appid=1").unwrap();
        assert_eq!(
            LaunchParams::parse(&q, true).unwrap_err(),
            QueryError::Missing("rikey")
        );
        let q = Query::parse("rikey=00&rikeyid=1").unwrap();
        assert_eq!(
            LaunchParams::parse(&q, false).unwrap_err(),
            QueryError::Invalid("rikey")
        );
        let q = Query::parse("rikey=000102030405060708090a0b0c0d0e0f&rikeyid=x").unwrap();
        assert_eq!(
            LaunchParams::parse(&q, false).unwrap_err(),
            QueryError::Invalid("rikeyid")
        );
        let q = Query::parse("rikey=000102030405060708090a0b0c0d0e0f&rikeyid=4294967295").unwrap();
        let p = LaunchParams::parse(&q, false).unwrap();
        assert_eq!(
            (p.rikeyid, p.appid, p.surround_audio_info),
            (u32::MAX, 0, SURROUND_STEREO)
        );
        let q = Query::parse("rikey=000102030405060708090a0b0c0d0e0f&rikeyid=1").unwrap();
        assert_eq!(
            LaunchParams::parse(&q, true).unwrap_err(),
            QueryError::Missing("appid")
        );
        assert_eq!(
            DisplayMode::parse("1920x1080").unwrap_err(),
            QueryError::Invalid("mode")
        );
        assert_eq!(
            DisplayMode::parse("0x1080x60").unwrap_err(),
            QueryError::Invalid("mode")
        );
        let q = Query::parse("&&flag&x=").unwrap();
        assert_eq!(
            (q.get("flag"), q.get("x"), q.len()),
            (Some(""), Some(""), 2)
        );
    }

    proptest::proptest! {
        #[test]
        fn random_queries_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            fuzz_one(&data);
        }

        #[test]
        fn random_launch_like_text_never_panics(s in "[a-zA-Z=&%0-9x+-]{0,200}") {
            fuzz_one(s.as_bytes());
        }
    }
}
