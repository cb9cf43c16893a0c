//! punktfunk/1 control plane, sans-IO (`punktfunk1-protocol.md` §1–§4, §6).
//!
//! * [`framing`]: the `u16 LE length ‖ payload` framing of the control stream (§2.4) and a
//!   resumable reader;
//! * [`handshake`]: the positional `PKF1` messages Hello, Welcome and Start (§4.2–§4.4);
//! * [`message`]: the typed `PKFc` catalogue (§2.5), pairing messages included (§3.2);
//! * [`close`]: QUIC application close codes (§2.6);
//! * [`datagram`]: side-plane QUIC DATAGRAM demux and the input event layout (§6);
//! * [`pake`]: the SPAKE2 PIN ceremony with key confirmation (§3.1) and the host's arming
//!   and rate-limit gate (§3.2–§3.3).
//!
//! Every parser takes untrusted bytes and returns a [`WireError`]; none panics.

pub mod close;
pub mod datagram;
pub mod framing;
pub mod handshake;
pub mod message;
pub mod pake;
mod wire;

pub use close::CloseCode;
pub use wire::{Wire, WireError};

/// The single ALPN protocol id of punktfunk/1 (§1.3).
pub const ALPN: &[u8] = b"pkf1";
/// Default UDP port of the QUIC control endpoint (§1.2).
pub const DEFAULT_PORT: u16 = 9777;
/// Wire version carried in `Hello.abi_version` / `Welcome.abi_version` (§8.1).
pub const WIRE_VERSION: u32 = 2;
/// SNI that clients send (not checked by the host).
pub const SNI: &str = "punktfunk";
/// Magic of the positional handshake messages (`PKF1`).
pub const MAGIC_HANDSHAKE: [u8; 4] = *b"PKF1";
/// Magic of every typed control message (`PKFc`).
pub const MAGIC_TYPED: [u8; 4] = *b"PKFc";
/// The plaintext hole-punch datagram the client sends to the data port (§4.6).
pub const PUNCH: &[u8; 8] = b"PFpunch1";

/// A display mode: width × height at a refresh rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Refresh rate in Hz.
    pub refresh_hz: u32,
}

impl Mode {
    /// A mode from its three numbers.
    pub const fn new(width: u32, height: u32, refresh_hz: u32) -> Self {
        Self {
            width,
            height,
            refresh_hz,
        }
    }
}

#[cfg(test)]
mod fuzz_tests;

/// Drives every control-plane parser with `data` (the body of the `native_control` fuzz target
/// and of the random-bytes property tests). Returns how many parsers accepted the input.
pub fn fuzz_parse_all(data: &[u8]) -> usize {
    let mut ok = 0;
    if let Ok(h) = handshake::HelloRepr::parse(data) {
        ok += 1;
        let mut buf = [0u8; 512];
        // Whatever parsed must re-emit and parse back to the same value.
        if let Ok(n) = h.emit(&mut buf) {
            assert_eq!(handshake::HelloRepr::parse(&buf[..n]).ok(), Some(h));
        }
    }
    if let Ok(w) = handshake::WelcomeRepr::parse(data) {
        ok += 1;
        let mut buf = [0u8; 256];
        if let Ok(n) = w.emit(&mut buf) {
            assert_eq!(handshake::WelcomeRepr::parse(&buf[..n]).ok(), Some(w));
        }
    }
    if handshake::StartRepr::parse(data).is_ok() {
        ok += 1;
    }
    if let Ok(m) = message::Message::parse(data) {
        ok += 1;
        let mut buf = vec![0u8; m.buffer_len()];
        if let Ok(n) = m.emit(&mut buf) {
            assert_eq!(message::Message::parse(&buf[..n]).ok(), Some(m));
        }
    }
    if datagram::SideDatagram::parse(data).is_ok() {
        ok += 1;
    }
    let mut reader = framing::FrameReader::new();
    reader.push(data);
    while let Some(frame) = reader.next_frame() {
        let _ = message::Message::parse(frame);
        ok += 1;
    }
    ok
}
