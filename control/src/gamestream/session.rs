//! The launch session (created by `/launch` or `/resume`, §2.8 step 3) and what the RTSP
//! handshake hands to the streaming side once the client sent PLAY.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use punktfunk_core::gamestream::rtsp::StreamConfig;

use super::nvhttp::query::LaunchParams;

/// Ports of one host, all derived from the base port `B` (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// HTTPS API, `B - 5`.
    pub https: u16,
    /// HTTP API, `B`.
    pub http: u16,
    /// Video (UDP), `B + 9`.
    pub video: u16,
    /// Control stream (ENet, UDP), `B + 10`.
    pub control: u16,
    /// Audio (UDP), `B + 11`.
    pub audio: u16,
    /// RTSP (TCP), `B + 21`.
    pub rtsp: u16,
}

impl Ports {
    /// Derives every port from `base` (default 47989). `None` if one would leave 1..=65535.
    pub fn from_base(base: u16) -> Option<Self> {
        Some(Self {
            https: base.checked_sub(5).filter(|&p| p > 0)?,
            http: base,
            video: base.checked_add(9)?,
            control: base.checked_add(10)?,
            audio: base.checked_add(11)?,
            rtsp: base.checked_add(21)?,
        })
    }
}

/// A pending launch session: keys and identifiers for one stream.
#[derive(Debug, Clone)]
pub struct LaunchSession {
    /// What `/launch` or `/resume` carried (key, key id, mode, audio, `corever`, ...).
    pub params: LaunchParams,
    /// The app the session streams.
    pub appid: u32,
    /// SHA-256 fingerprint of the client certificate that launched it.
    pub client_fingerprint: [u8; 32],
    /// Address of the client as seen on the HTTPS connection.
    pub client_ip: IpAddr,
    /// `X-SS-Ping-Payload`: 16 uppercase hex characters.
    pub ping_payload: String,
    /// `X-SS-Connect-Data`: the ENet CONNECT data value.
    pub connect_data: u32,
    /// When the session was created (the RTSP handshake must follow within the timeout).
    pub created: Instant,
    /// Host-to-client `rtspenc` sequence counter (last value used).
    pub rtsp_seq: u32,
    /// Streams set up so far (audio, video, control).
    pub setup: [bool; 3],
    /// The ANNOUNCE parameters, once received.
    pub config: Option<StreamConfig>,
    /// The client asked for high-quality stereo (a real address in the RTSP `Host:`).
    pub high_quality_audio: bool,
}

impl LaunchSession {
    /// The 16-byte audio/input IV: `BE32(rikeyid)` followed by 12 zero bytes.
    pub fn audio_iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&self.params.rikeyid.to_be_bytes());
        iv
    }
}

/// A finished RTSP handshake: everything the streaming side needs to start video, audio
/// and the ENet control stream for one client.
#[derive(Debug, Clone)]
pub struct StreamStart {
    /// The launch session (keys, ping payload, connect data).
    pub session: LaunchSession,
    /// The client's stream parameters from ANNOUNCE.
    pub config: StreamConfig,
    /// The client's address (its UDP ports are learned from its pings, §4.6).
    pub client_ip: IpAddr,
    /// The RTSP peer, for logs.
    pub rtsp_peer: SocketAddr,
    /// The host ports the client was told in SETUP.
    pub ports: Ports,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The app's process exited on its own.
    AppExited,
    /// A client called `/cancel`.
    Cancelled,
}

/// What the host reports to the streaming side.
#[derive(Debug, Clone)]
pub enum HostEvent {
    /// A client finished the RTSP handshake (PLAY): start streaming to it.
    StreamStart(Box<StreamStart>),
    /// The app ended or was cancelled: send the termination message (0x0109, reason
    /// 0x80030023) to connected clients and stop streaming.
    SessionEnded(SessionEnd),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports() {
        let p = Ports::from_base(47989).unwrap();
        assert_eq!(
            (p.https, p.http, p.video, p.control, p.audio, p.rtsp),
            (47984, 47989, 47998, 47999, 48000, 48010)
        );
        assert!(Ports::from_base(3).is_none());
        assert!(Ports::from_base(65530).is_none());
    }
}
