//! punktfunk-control: the control plane.
//!
//! * [`runtime`]: glommio executors pinned to control cores;
//! * [`quic`]: a QUIC endpoint driving `quinn-proto` directly from a glommio UDP socket and
//!   glommio timers (no tokio, no adapter);
//! * [`tls`]: rustls + aws-lc-rs configs, identities and fingerprints (punktfunk/1 §2.1–§2.2);
//! * [`state`]: persistent identity and paired clients, written atomically;
//! * [`host`]: the punktfunk/1 host: pairing ceremony and sessions;
//! * [`dataplane`]: the per-session video sender (hole punch, pacing, synthetic source);
//! * [`client`]: the reference-client side of pairing and session setup.

pub mod client;
pub mod dataplane;
pub mod host;
pub mod quic;
pub mod runtime;
pub mod sealer;
pub mod state;
pub mod stream;
pub mod tls;
