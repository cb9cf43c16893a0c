//! punktfunk/1, the native protocol (`docs/punktfunk1-protocol.md`).
//!
//! - [`data`]: the UDP data plane (§5): the 40-byte header, AEAD nonces, the anti-replay
//!   window, FEC block geometry, the host's frame sealer and the client's reassembler.
//! - [`control`]: the QUIC control plane's wire formats (§2–§4, §6) and SPAKE2 pairing (§3).

pub mod control;
pub mod data;
