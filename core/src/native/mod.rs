//! punktfunk/1, the native protocol (`docs/punktfunk1-protocol.md`).
//!
//! `control` holds the QUIC control-plane wire formats, the pairing ceremony and the side-plane
//! datagram layouts.

pub mod control;
