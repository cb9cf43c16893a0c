//! The control stream (`gamestream-protocol.md` §5): encrypted message framing, message
//! types, and typed payloads.
//!
//! The host receives [`ClientMessage`]s and sends [`HostMessage`]s; each travels as one
//! ENet packet sealed by a [`ControlCipher`]. A session keeps one sequence counter per
//! direction (starting at 0).

pub mod message;
pub mod packet;
pub mod types;

pub use message::{ClientMessage, FrameFecStatus, HdrMetadata, HostMessage, LossStats};
pub use packet::{ControlCipher, ControlMessage, Direction, EncryptedControlPacket, IvMode};

/// Errors from control-stream framing and message parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Fewer bytes than the header or the `length` field needs.
    #[error("control message truncated")]
    Truncated,
    /// The message does not start with the encrypted marker `0x0001`.
    #[error("unencrypted control message (type {0:#06x}) on an encrypted stream")]
    NotEncrypted(u16),
    /// `length` is below the minimum of seq + tag + inner header.
    #[error("runt control message: length {0}")]
    Runt(u16),
    /// Authentication failed (wrong key, IV mode or direction, or tampering).
    #[error("control message authentication failed")]
    Authentication,
    /// The inner message is itself marked encrypted (Sunshine stops the session on this).
    #[error("nested encrypted control message")]
    NestedEncrypted,
    /// The inner payload length exceeds the decrypted bytes.
    #[error("inner payload length {claimed} exceeds {available} bytes")]
    InnerLength {
        /// Length claimed by the inner header.
        claimed: usize,
        /// Bytes available after the inner header.
        available: usize,
    },
    /// A known message type with a payload too short for its fields.
    #[error("message {msg_type:#06x}: payload of {got} bytes, need {need}")]
    ShortPayload {
        /// Message type.
        msg_type: u16,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// A field holds a value outside its range.
    #[error("message {msg_type:#06x}: invalid field value {value}")]
    InvalidField {
        /// Message type.
        msg_type: u16,
        /// The offending value.
        value: u32,
    },
    /// The message type is unknown in this direction.
    #[error("unknown message type {0:#06x}")]
    UnknownType(u16),
    /// The payload does not fit the 16-bit length field.
    #[error("payload of {0} bytes is too long for one control message")]
    PayloadTooLong(usize),
    /// The output buffer is too small.
    #[error("buffer too small: need {need}, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The cipher refused the input (cannot happen for valid sizes).
    #[error("encryption failed")]
    Crypto,
}

/// Opens one client message (host side) and parses its payload: the single entry point the
/// host's control loop and the fuzz target use. `scratch` must hold the ciphertext.
pub fn open_client_message<'s>(
    cipher: &ControlCipher,
    packet: &[u8],
    scratch: &'s mut [u8],
) -> Result<(u32, ClientMessage<'s>), ControlError> {
    let m = cipher.open(Direction::ClientToHost, packet, scratch)?;
    Ok((m.seq, ClientMessage::parse(m.msg_type, m.payload)?))
}

/// Fuzz and property-test entry point: `data` as a sealed message in both IV modes and
/// directions, and its tail as a payload of the type in its first two bytes.
pub fn fuzz_one(data: &[u8]) {
    let mut scratch = [0u8; 512];
    for mode in [IvMode::V2, IvMode::Legacy] {
        let c = ControlCipher::new(&[0; 16], mode);
        let _ = open_client_message(&c, data, &mut scratch);
        if let Ok(m) = c.open(Direction::HostToClient, data, &mut scratch) {
            let _ = HostMessage::parse(m.msg_type, m.payload);
        }
    }
    if data.len() >= 2 {
        let ty = u16::from_le_bytes([data[0], data[1]]);
        let _ = ClientMessage::parse(ty, &data[2..]);
        let _ = HostMessage::parse(ty, &data[2..]);
        if let Ok(ClientMessage::Input(p)) =
            ClientMessage::parse(super::control::types::client::INPUT_DATA, &data[2..])
        {
            super::input::fuzz_one(p);
        }
    }
}

#[cfg(test)]
mod tests;
