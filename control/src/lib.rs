//! punktfunk-control: the control plane.
//!
//! [`gamestream`]: the Moonlight-facing side (nvhttp over HTTP/HTTPS, PIN pairing, app
//! list and launch, the RTSP handshake, the encrypted ENet control stream, and stream sessions
//! that carry video, audio and input).
//!
//! [`native`]: punktfunk/1 (QUIC control, SPAKE2 pairing, sessions, the synthetic data plane).
//!
//! Shared infrastructure: [`runtime`] (glommio executors pinned to control cores) and [`quic`]
//! (a QUIC endpoint driving `quinn-proto` directly from a glommio UDP socket and glommio timers,
//! no tokio and no adapter).
#![warn(missing_docs)]

pub mod gamestream;
pub mod native;
pub mod quic;
pub mod runtime;
pub mod tls_client_auth;
