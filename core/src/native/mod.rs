//! punktfunk/1, the native protocol (`docs/punktfunk1-protocol.md`).
//!
//! - [`control`]: the QUIC control plane (§1–§4, §6): framing, Hello/Welcome/Start, the
//!   typed `PKFc` messages, close codes, side-plane datagrams and the SPAKE2 pairing ceremony.
//! - [`data`]: the UDP data plane (§5): the 40-byte header, AEAD nonces, the anti-replay
//!   window, FEC block geometry, the host's frame sealer and the client's reassembler.

pub mod control;
pub mod data;
