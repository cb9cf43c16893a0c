//! GameStream host side: what a stock Moonlight client talks to (gamestream-protocol.md).
//!
//! - [`pairing`]: PIN pairing crypto (§3) as a sans-IO per-client state machine, host and
//!   client certificates.
//! - [`nvhttp`]: the HTTP/HTTPS API (§2): serverinfo, pair, unpair, applist, appasset,
//!   launch, resume, cancel; paired clients persisted in a state directory.
//! - [`rtsp`]: the RTSP server (§4) on top of `punktfunk_core::gamestream::rtsp`.
//! - [`control_stream`]: the encrypted ENet control stream (§5).
//! - [`discovery`]: mDNS `_nvstream._tcp` on the chosen interfaces.
//! - [`stream`]: a stream session: pings, paced video and audio through the datapath, control.

pub mod apps;
pub mod control_stream;
pub mod discovery;
pub mod hex;
pub mod host;
pub mod nvhttp;
pub mod pairing;
pub mod rtsp;
pub mod session;
pub mod store;
pub mod stream;

pub use apps::AppConfig;
pub use host::{GameStreamHost, HostConfig, PinError, StartError};
pub use session::{HostEvent, LaunchSession, Ports, SessionEnd, StreamStart};
