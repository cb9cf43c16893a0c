//! One client's control-stream session, sans-IO: sealed bytes in, typed events out.

use punktfunk_core::gamestream::control::{
    ClientMessage, ControlCipher, ControlError, FrameFecStatus, HostMessage, IvMode,
    open_client_message,
};
use punktfunk_core::gamestream::input::{GamepadTracker, InputPacket, parse_input_packet};
use punktfunk_core::input::InputEvent;

/// What a client asked for, or sent, on the control stream.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlEvent {
    /// Encode the next frame as an IDR frame (`0x0302`; also the client's first message).
    RequestIdr,
    /// Frames `first..=last` were lost: invalidate them or send an IDR (`0x0301`).
    InvalidateRefFrames {
        /// First lost frame.
        first: u64,
        /// Last lost frame.
        last: u64,
    },
    /// One input event for the input backend.
    Input(InputEvent),
    /// The client's per-frame FEC report (`0x5502`).
    FrameFecStatus(FrameFecStatus),
}

/// Why a session must end: a client that sends these is dropped (Sunshine's rules, §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A message failed authentication: wrong key, tampering, or an unencrypted message.
    #[error("control message failed authentication or framing: {0}")]
    Sealed(ControlError),
}

/// Counters of one session, for logs and the management API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlStats {
    /// Messages opened successfully.
    pub messages: u64,
    /// Periodic pings received.
    pub pings: u64,
    /// Input packets turned into events.
    pub input_packets: u64,
    /// Messages or input packets that decrypted but could not be parsed (dropped, session kept).
    pub malformed: u64,
    /// Message types this host does not interpret (ignored).
    pub unknown: u64,
    /// Host messages sealed.
    pub sent: u64,
}

/// The control stream of one client: its key, both sequence counters and its gamepad set.
pub struct ControlSession {
    cipher: ControlCipher,
    send_seq: u32,
    gamepads: GamepadTracker,
    scratch: Vec<u8>,
    stats: ControlStats,
}

impl std::fmt::Debug for ControlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlSession")
            .field("send_seq", &self.send_seq)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Largest ENet payload a client message can have (the 16-bit length field).
const MAX_MESSAGE: usize = u16::MAX as usize + 4;

impl ControlSession {
    /// A session keyed with the launch's `rikey`, in the negotiated IV mode.
    pub fn new(rikey: &[u8; 16], iv_mode: IvMode) -> Self {
        Self {
            cipher: ControlCipher::new(rikey, iv_mode),
            send_seq: 0,
            gamepads: GamepadTracker::new(),
            scratch: vec![0; MAX_MESSAGE],
            stats: ControlStats::default(),
        }
    }

    /// The session's counters.
    pub fn stats(&self) -> ControlStats {
        self.stats
    }

    /// Handles one ENet packet from the client. Events go to `emit`. A message that fails
    /// authentication is fatal ([`SessionError`]); a decrypted but malformed message or input
    /// packet is counted and dropped.
    pub fn handle_packet(
        &mut self,
        packet: &[u8],
        mut emit: impl FnMut(ControlEvent),
    ) -> Result<(), SessionError> {
        let (_seq, msg) = match open_client_message(&self.cipher, packet, &mut self.scratch) {
            Ok(m) => m,
            Err(e @ (ControlError::ShortPayload { .. } | ControlError::UnknownType(_))) => {
                tracing::debug!(error = %e, "malformed control message dropped");
                self.stats.malformed += 1;
                return Ok(());
            }
            Err(e) => return Err(SessionError::Sealed(e)),
        };
        self.stats.messages += 1;
        match msg {
            ClientMessage::RequestIdr => emit(ControlEvent::RequestIdr),
            ClientMessage::InvalidateRefFrames { first, last } => {
                emit(ControlEvent::InvalidateRefFrames { first, last })
            }
            ClientMessage::Ping => self.stats.pings += 1,
            ClientMessage::FrameFecStatus(s) => emit(ControlEvent::FrameFecStatus(s)),
            ClientMessage::Input(bytes) => match parse_input_packet(bytes) {
                Ok(InputPacket::Event(ev)) => {
                    self.stats.input_packets += 1;
                    emit(ControlEvent::Input(ev));
                }
                Ok(p) => {
                    self.stats.input_packets += 1;
                    self.gamepads.handle(p, |ev| emit(ControlEvent::Input(ev)));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "malformed input packet dropped");
                    self.stats.malformed += 1;
                }
            },
            ClientMessage::StartB
            | ClientMessage::LtrFrameAck { .. }
            | ClientMessage::LossStats(_) => {}
            ClientMessage::Unknown { msg_type, .. } => {
                tracing::trace!(msg_type, "unknown control message ignored");
                self.stats.unknown += 1;
            }
        }
        Ok(())
    }

    /// Seals `msg` for the client into `out` (at least 24 + 4 + 27 bytes) and returns its length.
    pub fn seal(&mut self, msg: &HostMessage, out: &mut [u8]) -> Result<usize, ControlError> {
        let n = msg.seal(&self.cipher, self.send_seq, out)?;
        self.send_seq = self.send_seq.wrapping_add(1);
        self.stats.sent += 1;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use punktfunk_core::gamestream::control::{Direction, types};
    use punktfunk_core::gamestream::input::emit_input_packet;
    use punktfunk_core::input::{InputEvent, KeyEvent, Modifiers};

    const KEY: [u8; 16] = [7; 16];

    fn client_msg(seq: u32, msg_type: u16, payload: &[u8]) -> Vec<u8> {
        let c = ControlCipher::new(&KEY, IvMode::V2);
        let mut out = vec![0u8; ControlCipher::sealed_len(payload.len())];
        let n = c
            .seal(Direction::ClientToHost, seq, msg_type, payload, &mut out)
            .unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn requests_and_input_become_events() {
        let mut s = ControlSession::new(&KEY, IvMode::V2);
        let mut events = Vec::new();
        s.handle_packet(
            &client_msg(0, types::client::REQUEST_IDR_FRAME, &[0, 0]),
            |e| events.push(e),
        )
        .unwrap();
        let mut rfi = [0u8; 24];
        rfi[..8].copy_from_slice(&5u64.to_le_bytes());
        rfi[8..16].copy_from_slice(&9u64.to_le_bytes());
        s.handle_packet(
            &client_msg(1, types::client::INVALIDATE_REF_FRAMES, &rfi),
            |e| events.push(e),
        )
        .unwrap();
        let key = InputEvent::Key(KeyEvent {
            vk: 0x41,
            pressed: true,
            modifiers: Modifiers::SHIFT,
            non_normalized: false,
        });
        let mut buf = [0u8; 64];
        let n = emit_input_packet(&key, &mut buf).unwrap();
        s.handle_packet(&client_msg(2, types::client::INPUT_DATA, &buf[..n]), |e| {
            events.push(e)
        })
        .unwrap();
        s.handle_packet(
            &client_msg(3, types::client::PERIODIC_PING, &[4, 0, 0, 0, 0, 0, 0, 0]),
            |e| events.push(e),
        )
        .unwrap();
        assert_eq!(
            events,
            vec![
                ControlEvent::RequestIdr,
                ControlEvent::InvalidateRefFrames { first: 5, last: 9 },
                ControlEvent::Input(key),
            ]
        );
        let st = s.stats();
        assert_eq!(
            (st.messages, st.pings, st.input_packets, st.malformed),
            (4, 1, 1, 0)
        );
    }

    #[test]
    fn tampered_message_is_fatal_but_malformed_input_is_not() {
        let mut s = ControlSession::new(&KEY, IvMode::V2);
        let mut bad = client_msg(0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.handle_packet(&bad, |_| panic!("no event")).is_err());
        // wrong key
        let other = ControlCipher::new(&[8; 16], IvMode::V2);
        let mut out = [0u8; 64];
        let n = other
            .seal(
                Direction::ClientToHost,
                0,
                types::client::REQUEST_IDR_FRAME,
                &[0, 0],
                &mut out,
            )
            .unwrap();
        assert!(s.handle_packet(&out[..n], |_| panic!("no event")).is_err());
        // garbage
        assert!(s.handle_packet(&[1, 2, 3], |_| panic!("no event")).is_err());
        // a truncated input packet inside a valid message is dropped, the session lives
        s.handle_packet(
            &client_msg(1, types::client::INPUT_DATA, &[0, 0, 0, 9]),
            |_| panic!("no event"),
        )
        .unwrap();
        assert_eq!(s.stats().malformed, 1);
    }

    #[test]
    fn host_messages_use_consecutive_sequence_numbers() {
        let mut s = ControlSession::new(&KEY, IvMode::V2);
        let c = ControlCipher::new(&KEY, IvMode::V2);
        for want_seq in 0..3u32 {
            let mut out = [0u8; 64];
            let n = s
                .seal(
                    &HostMessage::Termination {
                        reason: 0x8003_0023,
                    },
                    &mut out,
                )
                .unwrap();
            let mut scratch = [0u8; 64];
            let m = c
                .open(Direction::HostToClient, &out[..n], &mut scratch)
                .unwrap();
            assert_eq!(m.seq, want_seq);
            assert_eq!(m.msg_type, types::host::TERMINATION);
            assert_eq!(m.payload, &0x8003_0023u32.to_be_bytes());
        }
    }
}
