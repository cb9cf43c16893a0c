//! GameStream (Moonlight) wire formats and handshakes (gamestream-protocol.md).

pub mod rtsp;
