//! Typed payloads of the control messages the host handles or sends (§5.3).

use super::ControlError;
use super::packet::{ControlCipher, Direction, le16, le32};
use super::types::{client, host};
use crate::input::{Feedback, MotionSensor};

/// A message from the client, parsed from its inner type and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    /// `0x0302`: encode the next frame as an IDR frame (also the first "start" message).
    RequestIdr,
    /// `0x0307`: start B; nothing to do.
    StartB,
    /// `0x0301`: frames `first..=last` were lost; invalidate them (or send an IDR).
    InvalidateRefFrames {
        /// First lost frame index.
        first: u64,
        /// Last lost frame index.
        last: u64,
    },
    /// `0x0200`: periodic keep-alive.
    Ping,
    /// `0x0206`: one input packet (parse with [`crate::gamestream::input`]).
    Input(&'a [u8]),
    /// `0x5502`: per-frame FEC status.
    FrameFecStatus(FrameFecStatus),
    /// `0x0350`: the client decoded a long-term reference frame.
    LtrFrameAck {
        /// The acknowledged frame index.
        frame_index: u32,
    },
    /// `0x0201`: loss statistics (older hosts only).
    LossStats(LossStats),
    /// A type this host does not interpret (kept, not dropped).
    Unknown {
        /// Inner message type.
        msg_type: u16,
        /// Payload.
        payload: &'a [u8],
    },
}

/// The client's per-frame FEC report (`0x5502`, big-endian fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameFecStatus {
    /// Frame index.
    pub frame_index: u32,
    /// Highest RTP sequence number received in the block.
    pub highest_received_seq: u16,
    /// Next contiguous sequence number expected.
    pub next_contiguous_seq: u16,
    /// Packets missing before the highest received.
    pub missing_before_highest: u16,
    /// Data shards of the block.
    pub total_data: u16,
    /// Parity shards of the block.
    pub total_parity: u16,
    /// Data shards received.
    pub received_data: u16,
    /// Parity shards received.
    pub received_parity: u16,
    /// FEC percentage of the block.
    pub fec_percentage: u8,
    /// Block index within the frame.
    pub block_index: u8,
    /// Blocks in the frame.
    pub block_count: u8,
}

/// Loss statistics (`0x0201`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LossStats {
    /// Reporting interval in milliseconds.
    pub interval_ms: u32,
    /// Last frame decoded successfully.
    pub last_good_frame: u64,
}

impl<'a> ClientMessage<'a> {
    /// Parses an inner client message. Unknown types become [`ClientMessage::Unknown`];
    /// known types with short payloads are errors.
    pub fn parse(msg_type: u16, payload: &'a [u8]) -> Result<Self, ControlError> {
        let need = |n: usize| -> Result<(), ControlError> {
            if payload.len() < n {
                Err(ControlError::ShortPayload {
                    msg_type,
                    need: n,
                    got: payload.len(),
                })
            } else {
                Ok(())
            }
        };
        Ok(match msg_type {
            client::REQUEST_IDR_FRAME => Self::RequestIdr,
            client::START_B => Self::StartB,
            client::PERIODIC_PING => Self::Ping,
            client::INPUT_DATA => Self::Input(payload),
            client::INVALIDATE_REF_FRAMES => {
                need(16)?;
                Self::InvalidateRefFrames {
                    first: le64(&payload[0..8]),
                    last: le64(&payload[8..16]),
                }
            }
            client::FRAME_FEC_STATUS => {
                need(21)?;
                let be16 = |o: usize| u16::from_be_bytes([payload[o], payload[o + 1]]);
                Self::FrameFecStatus(FrameFecStatus {
                    frame_index: u32::from_be_bytes([
                        payload[0], payload[1], payload[2], payload[3],
                    ]),
                    highest_received_seq: be16(4),
                    next_contiguous_seq: be16(6),
                    missing_before_highest: be16(8),
                    total_data: be16(10),
                    total_parity: be16(12),
                    received_data: be16(14),
                    received_parity: be16(16),
                    fec_percentage: payload[18],
                    block_index: payload[19],
                    block_count: payload[20],
                })
            }
            client::LTR_FRAME_ACK => {
                need(4)?;
                Self::LtrFrameAck {
                    frame_index: le32(&payload[0..4]),
                }
            }
            client::LOSS_STATS => {
                need(20)?;
                Self::LossStats(LossStats {
                    interval_ms: le32(&payload[4..8]),
                    last_good_frame: le64(&payload[12..20]),
                })
            }
            _ => Self::Unknown { msg_type, payload },
        })
    }

    /// The inner message type.
    pub fn msg_type(&self) -> u16 {
        match self {
            Self::RequestIdr => client::REQUEST_IDR_FRAME,
            Self::StartB => client::START_B,
            Self::InvalidateRefFrames { .. } => client::INVALIDATE_REF_FRAMES,
            Self::Ping => client::PERIODIC_PING,
            Self::Input(_) => client::INPUT_DATA,
            Self::FrameFecStatus(_) => client::FRAME_FEC_STATUS,
            Self::LtrFrameAck { .. } => client::LTR_FRAME_ACK,
            Self::LossStats(_) => client::LOSS_STATS,
            Self::Unknown { msg_type, .. } => *msg_type,
        }
    }

    /// Payload bytes [`emit_payload`](Self::emit_payload) writes.
    pub fn payload_len(&self) -> usize {
        match self {
            Self::RequestIdr => 2,
            Self::StartB => 1,
            Self::InvalidateRefFrames { .. } => 24,
            Self::Ping => 8,
            Self::Input(p) | Self::Unknown { payload: p, .. } => p.len(),
            Self::FrameFecStatus(_) => 21,
            Self::LtrFrameAck { .. } => 8,
            Self::LossStats(_) => 32,
        }
    }

    /// Writes the payload as a stock client does into `out` (exactly
    /// [`payload_len`](Self::payload_len) bytes). Used by the test client.
    pub fn emit_payload(&self, out: &mut [u8]) -> Result<usize, ControlError> {
        let n = self.payload_len();
        if out.len() < n {
            return Err(ControlError::BufferTooSmall {
                need: n,
                have: out.len(),
            });
        }
        let out = &mut out[..n];
        out.fill(0);
        match self {
            Self::RequestIdr | Self::StartB => {}
            Self::InvalidateRefFrames { first, last } => {
                out[0..8].copy_from_slice(&first.to_le_bytes());
                out[8..16].copy_from_slice(&last.to_le_bytes());
            }
            Self::Ping => out[0..2].copy_from_slice(&4u16.to_le_bytes()),
            Self::Input(p) | Self::Unknown { payload: p, .. } => out.copy_from_slice(p),
            Self::FrameFecStatus(s) => {
                out[0..4].copy_from_slice(&s.frame_index.to_be_bytes());
                let fields = [
                    s.highest_received_seq,
                    s.next_contiguous_seq,
                    s.missing_before_highest,
                    s.total_data,
                    s.total_parity,
                    s.received_data,
                    s.received_parity,
                ];
                for (i, v) in fields.iter().enumerate() {
                    out[4 + 2 * i..6 + 2 * i].copy_from_slice(&v.to_be_bytes());
                }
                out[18] = s.fec_percentage;
                out[19] = s.block_index;
                out[20] = s.block_count;
            }
            Self::LtrFrameAck { frame_index } => {
                out[0..4].copy_from_slice(&frame_index.to_le_bytes())
            }
            Self::LossStats(s) => {
                out[4..8].copy_from_slice(&s.interval_ms.to_le_bytes());
                out[8..12].copy_from_slice(&1000u32.to_le_bytes());
                out[12..20].copy_from_slice(&s.last_good_frame.to_le_bytes());
                out[28..32].copy_from_slice(&0x14u32.to_le_bytes());
            }
        }
        Ok(n)
    }

    /// Seals this message as the client would (test client side).
    pub fn seal(
        &self,
        cipher: &ControlCipher,
        seq: u32,
        out: &mut [u8],
    ) -> Result<usize, ControlError> {
        seal_typed(
            cipher,
            Direction::ClientToHost,
            seq,
            self.msg_type(),
            self.payload_len(),
            out,
            |p| self.emit_payload(p),
        )
    }
}

/// HDR mastering metadata of an [`HostMessage::HdrMode`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HdrMetadata {
    /// Display primaries `[R, G, B]` as `(x, y)`, normalised to 50000.
    pub primaries: [(u16, u16); 3],
    /// White point `(x, y)`, normalised to 50000.
    pub white_point: (u16, u16),
    /// Maximum display luminance in nits.
    pub max_display_luminance: u16,
    /// Minimum display luminance in 1/10000 nit.
    pub min_display_luminance: u16,
    /// Maximum content light level in nits.
    pub max_content_light_level: u16,
    /// Maximum frame-average light level in nits.
    pub max_frame_average_light_level: u16,
    /// Maximum full-frame luminance in nits.
    pub max_full_frame_luminance: u16,
}

/// A message from the host to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostMessage {
    /// `0x0109`: the session ends; `reason` is HRESULT-style
    /// (see [`super::types::termination`]).
    Termination {
        /// Reason code.
        reason: u32,
    },
    /// `0x010b`: rumble motors.
    Rumble {
        /// Controller number.
        controller: u16,
        /// Low-frequency motor, 0..=65535.
        low_freq: u16,
        /// High-frequency motor, 0..=65535.
        high_freq: u16,
    },
    /// `0x010e`: HDR mode; `metadata` is meaningful when `enabled`. 27-byte payload: u8
    /// enabled, then 13 LE16 (moonlight-common-c's `SS_HDR_METADATA`; the protocol notes'
    /// "23 bytes / 11 x LE16" undercounts its own field list).
    HdrMode {
        /// True when the stream is HDR.
        enabled: bool,
        /// Mastering metadata.
        metadata: HdrMetadata,
    },
    /// `0x5500`: trigger rumble.
    RumbleTriggers {
        /// Controller number.
        controller: u16,
        /// Left trigger motor.
        left: u16,
        /// Right trigger motor.
        right: u16,
    },
    /// `0x5501`: report rate for a motion sensor (0 = stop).
    SetMotionEvent {
        /// Controller number.
        controller: u16,
        /// Reports per second.
        rate_hz: u16,
        /// Sensor.
        sensor: MotionSensor,
    },
    /// `0x5502`: RGB LED colour.
    SetRgbLed {
        /// Controller number.
        controller: u16,
        /// Red.
        r: u8,
        /// Green.
        g: u8,
        /// Blue.
        b: u8,
    },
    /// `0x5503`: DualSense adaptive triggers.
    SetAdaptiveTriggers {
        /// Controller number.
        controller: u16,
        /// 0x04 right trigger, 0x08 left trigger.
        event_flags: u8,
        /// Left effect type.
        left_type: u8,
        /// Right effect type.
        right_type: u8,
        /// Left effect parameters.
        left: [u8; 10],
        /// Right effect parameters.
        right: [u8; 10],
    },
}

/// Sunshine's filler in the first 4 bytes of a rumble payload.
const RUMBLE_FILLER: u32 = 0x00C0_FFEE;

impl From<Feedback> for HostMessage {
    fn from(f: Feedback) -> Self {
        match f {
            Feedback::Rumble {
                index,
                low_freq,
                high_freq,
            } => Self::Rumble {
                controller: index as u16,
                low_freq,
                high_freq,
            },
            Feedback::TriggerRumble { index, left, right } => Self::RumbleTriggers {
                controller: index as u16,
                left,
                right,
            },
            Feedback::Led { index, r, g, b } => Self::SetRgbLed {
                controller: index as u16,
                r,
                g,
                b,
            },
            Feedback::MotionEventRate {
                index,
                sensor,
                rate_hz,
            } => Self::SetMotionEvent {
                controller: index as u16,
                rate_hz,
                sensor,
            },
            Feedback::AdaptiveTriggers {
                index,
                event_flags,
                left_type,
                right_type,
                left,
                right,
            } => Self::SetAdaptiveTriggers {
                controller: index as u16,
                event_flags,
                left_type,
                right_type,
                left,
                right,
            },
        }
    }
}

/// Largest payload of any [`HostMessage`].
pub const MAX_HOST_PAYLOAD: usize = 27;

impl HostMessage {
    /// The inner message type.
    pub fn msg_type(&self) -> u16 {
        match self {
            Self::Termination { .. } => host::TERMINATION,
            Self::Rumble { .. } => host::RUMBLE,
            Self::HdrMode { .. } => host::HDR_MODE,
            Self::RumbleTriggers { .. } => host::RUMBLE_TRIGGERS,
            Self::SetMotionEvent { .. } => host::SET_MOTION_EVENT,
            Self::SetRgbLed { .. } => host::SET_RGB_LED,
            Self::SetAdaptiveTriggers { .. } => host::SET_ADAPTIVE_TRIGGERS,
        }
    }

    /// Payload bytes [`emit_payload`](Self::emit_payload) writes.
    pub fn payload_len(&self) -> usize {
        match self {
            Self::Termination { .. } => 4,
            Self::Rumble { .. } => 10,
            Self::HdrMode { .. } => 27,
            Self::RumbleTriggers { .. } => 6,
            Self::SetMotionEvent { .. } => 5,
            Self::SetRgbLed { .. } => 5,
            Self::SetAdaptiveTriggers { .. } => 25,
        }
    }

    /// Writes the payload into `out` and returns its length.
    pub fn emit_payload(&self, out: &mut [u8]) -> Result<usize, ControlError> {
        let n = self.payload_len();
        if out.len() < n {
            return Err(ControlError::BufferTooSmall {
                need: n,
                have: out.len(),
            });
        }
        let out = &mut out[..n];
        let mut w = Writer { out, pos: 0 };
        match *self {
            Self::Termination { reason } => w.bytes(&reason.to_be_bytes()),
            Self::Rumble {
                controller,
                low_freq,
                high_freq,
            } => {
                w.bytes(&RUMBLE_FILLER.to_le_bytes());
                w.le16(controller);
                w.le16(low_freq);
                w.le16(high_freq);
            }
            Self::HdrMode {
                enabled,
                metadata: m,
            } => {
                w.bytes(&[enabled as u8]);
                for (x, y) in m.primaries.iter().chain(std::iter::once(&m.white_point)) {
                    w.le16(*x);
                    w.le16(*y);
                }
                w.le16(m.max_display_luminance);
                w.le16(m.min_display_luminance);
                w.le16(m.max_content_light_level);
                w.le16(m.max_frame_average_light_level);
                w.le16(m.max_full_frame_luminance);
            }
            Self::RumbleTriggers {
                controller,
                left,
                right,
            } => {
                w.le16(controller);
                w.le16(left);
                w.le16(right);
            }
            Self::SetMotionEvent {
                controller,
                rate_hz,
                sensor,
            } => {
                w.le16(controller);
                w.le16(rate_hz);
                w.bytes(&[motion_type(sensor)]);
            }
            Self::SetRgbLed {
                controller,
                r,
                g,
                b,
            } => {
                w.le16(controller);
                w.bytes(&[r, g, b]);
            }
            Self::SetAdaptiveTriggers {
                controller,
                event_flags,
                left_type,
                right_type,
                left,
                right,
            } => {
                w.le16(controller);
                w.bytes(&[event_flags, left_type, right_type]);
                w.bytes(&left);
                w.bytes(&right);
            }
        }
        debug_assert_eq!(w.pos, n);
        Ok(n)
    }

    /// Parses a host message (test client side). A termination payload shorter than 4
    /// bytes is the legacy LE16 form; [`super::types::termination::LEGACY_GRACEFUL`] maps to
    /// [`super::types::termination::GRACEFUL`].
    pub fn parse(msg_type: u16, payload: &[u8]) -> Result<Self, ControlError> {
        let need = |n: usize| -> Result<(), ControlError> {
            if payload.len() < n {
                Err(ControlError::ShortPayload {
                    msg_type,
                    need: n,
                    got: payload.len(),
                })
            } else {
                Ok(())
            }
        };
        let l16 = |o: usize| le16(&payload[o..o + 2]);
        Ok(match msg_type {
            host::TERMINATION => {
                if payload.len() >= 4 {
                    Self::Termination {
                        reason: u32::from_be_bytes([
                            payload[0], payload[1], payload[2], payload[3],
                        ]),
                    }
                } else {
                    need(2)?;
                    let r = l16(0);
                    let reason = if r == super::types::termination::LEGACY_GRACEFUL {
                        super::types::termination::GRACEFUL
                    } else {
                        r as u32
                    };
                    Self::Termination { reason }
                }
            }
            host::RUMBLE => {
                need(10)?;
                Self::Rumble {
                    controller: l16(4),
                    low_freq: l16(6),
                    high_freq: l16(8),
                }
            }
            host::HDR_MODE => {
                need(27)?;
                let p = |i: usize| (l16(1 + 4 * i), l16(3 + 4 * i));
                Self::HdrMode {
                    enabled: payload[0] != 0,
                    metadata: HdrMetadata {
                        primaries: [p(0), p(1), p(2)],
                        white_point: p(3),
                        max_display_luminance: l16(17),
                        min_display_luminance: l16(19),
                        max_content_light_level: l16(21),
                        max_frame_average_light_level: l16(23),
                        max_full_frame_luminance: l16(25),
                    },
                }
            }
            host::RUMBLE_TRIGGERS => {
                need(6)?;
                Self::RumbleTriggers {
                    controller: l16(0),
                    left: l16(2),
                    right: l16(4),
                }
            }
            host::SET_MOTION_EVENT => {
                need(5)?;
                let sensor = match payload[4] {
                    1 => MotionSensor::Accelerometer,
                    2 => MotionSensor::Gyroscope,
                    v => {
                        return Err(ControlError::InvalidField {
                            msg_type,
                            value: v as u32,
                        });
                    }
                };
                Self::SetMotionEvent {
                    controller: l16(0),
                    rate_hz: l16(2),
                    sensor,
                }
            }
            host::SET_RGB_LED => {
                need(5)?;
                Self::SetRgbLed {
                    controller: l16(0),
                    r: payload[2],
                    g: payload[3],
                    b: payload[4],
                }
            }
            host::SET_ADAPTIVE_TRIGGERS => {
                need(25)?;
                Self::SetAdaptiveTriggers {
                    controller: l16(0),
                    event_flags: payload[2],
                    left_type: payload[3],
                    right_type: payload[4],
                    left: payload[5..15].try_into().expect("10 bytes"),
                    right: payload[15..25].try_into().expect("10 bytes"),
                }
            }
            other => return Err(ControlError::UnknownType(other)),
        })
    }

    /// Seals this message for the client with sequence number `seq` into `out`.
    pub fn seal(
        &self,
        cipher: &ControlCipher,
        seq: u32,
        out: &mut [u8],
    ) -> Result<usize, ControlError> {
        seal_typed(
            cipher,
            Direction::HostToClient,
            seq,
            self.msg_type(),
            self.payload_len(),
            out,
            |p| self.emit_payload(p),
        )
    }
}

/// Seals one typed message whose payload `emit` writes in place (both directions).
fn seal_typed(
    cipher: &ControlCipher,
    dir: Direction,
    seq: u32,
    msg_type: u16,
    payload_len: usize,
    out: &mut [u8],
    emit: impl FnOnce(&mut [u8]) -> Result<usize, ControlError>,
) -> Result<usize, ControlError> {
    let mut res = Ok(0);
    let n = cipher.seal_with(dir, seq, msg_type, payload_len, out, |p| res = emit(p))?;
    res.map(|_| n)
}

fn motion_type(s: MotionSensor) -> u8 {
    match s {
        MotionSensor::Accelerometer => 1,
        MotionSensor::Gyroscope => 2,
    }
}

struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.out[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn le16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}
