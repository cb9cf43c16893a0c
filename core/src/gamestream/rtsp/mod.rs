//! The GameStream RTSP handshake (gamestream-protocol.md §4), sans-IO.
//!
//! - [`message`]: requests parsed incrementally from bytes (one request per TCP connection,
//!   the client's quirks of §4.1 accepted) and responses emitted into caller buffers in the
//!   exact shape the client's parser needs.
//! - [`enc`]: `rtspenc://` message sealing and opening (§4.7).
//! - [`announce`]: the ANNOUNCE SDP body as a typed [`StreamConfig`] (§4.5).
//! - [`describe`]: the DESCRIBE reply body, the host's capability lines (§4.3, §7.3).

pub mod announce;
pub mod describe;
pub mod enc;
pub mod message;

pub use announce::{AnnounceError, StreamConfig, VideoCodec};
pub use describe::DescribeCaps;
pub use enc::{Direction, EncError, RtspCipher};
pub use message::{
    Header, MAX_HEADERS, Method, ParseError, ParsedResponse, Request, Response, parse_request,
};

/// The stream a SETUP request targets (the text between the first `=` and the next `/` of
/// the target, §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupStream {
    /// `streamid=audio/...`
    Audio,
    /// `streamid=video/...`
    Video,
    /// `streamid=control/...`
    Control,
}

impl SetupStream {
    /// Classifies a SETUP target such as `streamid=audio/0/0`; `None` for anything else
    /// (Sunshine answers those with 404).
    pub fn from_target(target: &str) -> Option<Self> {
        let (_, rest) = target.split_once('=')?;
        let kind = rest.split('/').next()?;
        match kind {
            "audio" => Some(Self::Audio),
            "video" => Some(Self::Video),
            "control" => Some(Self::Control),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_targets() {
        assert_eq!(
            SetupStream::from_target("streamid=audio/0/0"),
            Some(SetupStream::Audio)
        );
        assert_eq!(
            SetupStream::from_target("streamid=video/0/0"),
            Some(SetupStream::Video)
        );
        assert_eq!(
            SetupStream::from_target("streamid=control/13/0"),
            Some(SetupStream::Control)
        );
        assert_eq!(
            SetupStream::from_target("streamid=video"),
            Some(SetupStream::Video)
        );
        assert_eq!(SetupStream::from_target("streamid=mic/0/0"), None);
        assert_eq!(SetupStream::from_target("/"), None);
    }
}

/// Drives every RTSP parser with untrusted bytes (the `gs_rtsp` fuzz target and the
/// property test call this): request parsing, ANNOUNCE bodies, response parsing and
/// `rtspenc` framing/opening. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(Some((req, used))) = parse_request(data) {
        assert!(used <= data.len());
        let _ = req.cseq();
        let _ = SetupStream::from_target(req.target);
        let _ = StreamConfig::parse(req.body);
    }
    let _ = StreamConfig::parse(data);
    let _ = ParsedResponse::parse(data);
    if let Ok(Some(len)) = enc::frame_len(data) {
        assert!(len >= enc::HEADER_LEN);
        let cipher = RtspCipher::new(&[0u8; 16]);
        let _ = cipher.open_to_vec(&data[..len.min(data.len())], Direction::ClientToHost);
    }
}

#[cfg(test)]
mod fuzz_tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            super::fuzz_one(&data);
        }

        #[test]
        fn mutated_requests_never_panic(
            cut in 0usize..200,
            flip in 0usize..200,
            byte in any::<u8>(),
        ) {
            let mut msg = b"ANNOUNCE streamid=control/13/0 RTSP/1.0\r\nCSeq: 6\r\nContent-length: 40\r\n\r\na=x-nv-video[0].maxFPS:60 \r\nt=0 0\r\n".to_vec();
            let i = flip % msg.len();
            msg[i] = byte;
            msg.truncate(cut.min(msg.len()));
            super::fuzz_one(&msg);
        }
    }
}
