//! The streaming half of a GameStream session (gamestream-protocol.md §4.6, §6, §7, §10
//! steps 19–28): learning the client's UDP endpoints from its pings, sending paced video and
//! audio through the datapath, and acting on the control stream.
//!
//! - [`ping`]: recognising the client's pings on the video and audio ports (sans-IO).
//! - [`sender`]: a UDP media sender: waits for the first ping, then sends packetized frames
//!   through a datapath engine from the same port, paced per `punktfunk_core::pacing`.
//! - [`session`]: runs one stream session: video, audio and control threads around the
//!   media sources the host supplies ([`VideoFeed`], [`AudioFeed`], [`InputSink`]).

pub mod ping;
pub mod sender;
pub mod session;

pub use ping::PingMatcher;
pub use sender::{MediaSender, SenderError};
pub use session::{
    AudioFeed, EncodedVideo, InputSink, SessionReport, StreamOptions, StreamSession, VideoFeed,
};
