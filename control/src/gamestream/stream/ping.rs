//! The client's UDP pings (§4.6): `X-SS-Ping-Payload` (16 ASCII characters) followed by a
//! BE32 counter, or the legacy 4-byte `PING` matched by source address.

use std::net::{IpAddr, SocketAddr};

/// Length of the session ping payload.
pub const PAYLOAD_LEN: usize = 16;
/// The session ping: payload plus BE32 counter.
pub const SESSION_PING_LEN: usize = PAYLOAD_LEN + 4;
/// The legacy ping.
pub const LEGACY_PING: &[u8; 4] = b"PING";

/// Decides whether a datagram is this session's ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingMatcher {
    payload: [u8; PAYLOAD_LEN],
    /// The client's address, for legacy pings (`None`: legacy pings refused, as for clients
    /// that announced `x-ml-general.featureFlags & 0x02`).
    legacy_from: Option<IpAddr>,
}

impl PingMatcher {
    /// A matcher for `payload` (must be 16 bytes, else `None`); `legacy_from` allows the
    /// 4-byte `PING` from that address.
    pub fn new(payload: &[u8], legacy_from: Option<IpAddr>) -> Option<Self> {
        Some(Self {
            payload: payload.try_into().ok()?,
            legacy_from,
        })
    }

    /// True when `datagram` from `from` is this session's ping.
    pub fn matches(&self, datagram: &[u8], from: SocketAddr) -> bool {
        if datagram.len() >= SESSION_PING_LEN {
            datagram[..PAYLOAD_LEN] == self.payload
        } else if datagram.len() == LEGACY_PING.len() {
            self.legacy_from == Some(from.ip()) && datagram == LEGACY_PING
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_and_legacy_pings() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let from = SocketAddr::new(ip, 5000);
        let other = SocketAddr::new("10.0.0.6".parse().unwrap(), 5000);
        let m = PingMatcher::new(b"0123456789ABCDEF", Some(ip)).unwrap();
        let mut ping = b"0123456789ABCDEF".to_vec();
        ping.extend_from_slice(&7u32.to_be_bytes());
        assert!(
            m.matches(&ping, other),
            "session pings match by payload from anywhere"
        );
        ping[3] = b'x';
        assert!(!m.matches(&ping, from));
        assert!(!m.matches(&ping[..19], from), "short session ping");
        assert!(m.matches(b"PING", from));
        assert!(
            !m.matches(b"PING", other),
            "legacy pings only from the client"
        );
        assert!(!m.matches(b"PONG", from));
        let strict = PingMatcher::new(b"0123456789ABCDEF", None).unwrap();
        assert!(!strict.matches(b"PING", from));
        assert!(PingMatcher::new(b"short", None).is_none());
    }
}
