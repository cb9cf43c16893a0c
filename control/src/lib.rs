//! punktfunk-control: the control plane.
//!
//! * [`gamestream`]: the Moonlight-facing side (nvhttp over HTTP/HTTPS, PIN pairing, app
//!   list and launch, the RTSP handshake, the encrypted ENet control stream);
//! * [`runtime`]: glommio executors pinned to control cores;
//! * [`quic`]: a QUIC endpoint driving `quinn-proto` directly from a glommio UDP socket and
//!   glommio timers (no tokio, no adapter);
//! * [`tls`]: rustls + aws-lc-rs configs, identities and fingerprints (punktfunk/1 §2.1–§2.2);
//! * [`state`]: persistent identity and paired clients, written atomically;
//! * [`host`]: the punktfunk/1 host: pairing ceremony and sessions;
//! * [`dataplane`]: the per-session video sender (hole punch, pacing, synthetic source);
//! * [`client`]: the reference-client side of pairing and session setup.
#![warn(missing_docs)]

pub mod client;
pub mod dataplane;
pub mod gamestream;
pub mod host;
pub mod quic;
pub mod runtime;
pub mod sealer;
pub mod state;
pub mod stream;
pub mod tls;
