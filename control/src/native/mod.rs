//! punktfunk/1, the native protocol's control plane (`punktfunk1-protocol.md`).
//!
//! * [`tls`]: rustls + aws-lc-rs configs, identities and fingerprints (§2.1–§2.2);
//! * [`state`]: persistent identity and paired clients, written atomically;
//! * [`stream`]: the framed control stream;
//! * [`host`]: the host: pairing ceremony and sessions;
//! * [`dataplane`]: the per-session video sender (hole punch, pacing, synthetic source);
//! * [`receiver`]: the client's video receiver (punch, recvmmsg, reassembly, verification);
//! * [`sealer`]: core's frame sealer behind the data plane's sealer trait;
//! * [`client`]: the reference-client side of pairing and session setup.

pub mod client;
pub mod dataplane;
pub mod host;
pub mod receiver;
pub mod sealer;
pub mod state;
pub mod stream;
pub mod tls;
