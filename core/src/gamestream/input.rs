//! GameStream input packets (`gamestream-protocol.md` §8): the payload of control message
//! `0x0206`, parsed into [`crate::input`] events.
//!
//! Every packet starts with an 8-byte header: BE32 `size` (= packet length − 4) and LE32
//! `magic` (the packet type). [`parse_input_packet`] never panics; [`emit_input_packet`]
//! writes the packets a stock client sends (used by the test client and the round-trip
//! tests). Gamepad state packets carry the set of connected pads; [`GamepadTracker`] turns
//! them into arrival/removal events the way Sunshine does.

use crate::input::{
    AbsolutePosition, BatteryState, GamepadButtons, GamepadCapabilities, GamepadInfo, GamepadKind,
    GamepadState, InputEvent, KeyEvent, MAX_GAMEPADS, Modifiers, MotionSensor, MouseButton,
    PenButtons, PenEvent, PenTool, ScrollAxis, TextInput, TouchEvent, TouchPhase,
};

/// Input packet type numbers (LE32 `magic`).
pub mod magic {
    /// Key down.
    pub const KEY_DOWN: u32 = 0x0000_0003;
    /// Key up.
    pub const KEY_UP: u32 = 0x0000_0004;
    /// Absolute mouse position.
    pub const MOUSE_MOVE_ABS: u32 = 0x0000_0005;
    /// Relative mouse motion.
    pub const MOUSE_MOVE_REL: u32 = 0x0000_0007;
    /// Mouse button down.
    pub const MOUSE_BUTTON_DOWN: u32 = 0x0000_0008;
    /// Mouse button up.
    pub const MOUSE_BUTTON_UP: u32 = 0x0000_0009;
    /// Vertical scroll.
    pub const SCROLL: u32 = 0x0000_000A;
    /// Multi-controller gamepad state.
    pub const MULTI_CONTROLLER: u32 = 0x0000_000C;
    /// Enable haptics (shares its value with the pre-Gen-5 gamepad magic).
    pub const ENABLE_HAPTICS: u32 = 0x0000_000D;
    /// UTF-8 text.
    pub const UTF8_TEXT: u32 = 0x0000_0017;
    /// Horizontal scroll (Sunshine extension).
    pub const HSCROLL: u32 = 0x5500_0001;
    /// Touch (Sunshine extension).
    pub const TOUCH: u32 = 0x5500_0002;
    /// Pen (Sunshine extension).
    pub const PEN: u32 = 0x5500_0003;
    /// Controller arrival (Sunshine extension).
    pub const CONTROLLER_ARRIVAL: u32 = 0x5500_0004;
    /// Controller touchpad (Sunshine extension).
    pub const CONTROLLER_TOUCH: u32 = 0x5500_0005;
    /// Controller motion (Sunshine extension).
    pub const CONTROLLER_MOTION: u32 = 0x5500_0006;
    /// Controller battery (Sunshine extension).
    pub const CONTROLLER_BATTERY: u32 = 0x5500_0007;
}

/// Bytes of the common header.
pub const HEADER_LEN: usize = 8;

/// Constants inside the gamepad state packet.
const MC_HEADER_A: u16 = 0x001A;
const MC_HEADER_B: u16 = 0x0014;
const MC_MID_B: u16 = 0x009C;
const MC_TAIL_B: u16 = 0x0055;

/// Errors from parsing or emitting input packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Shorter than the 8-byte header, or than its `size` field claims.
    #[error("input packet truncated")]
    Truncated,
    /// The packet is shorter than its type's fixed layout.
    #[error("input packet {magic:#010x} has {got} bytes, needs {need}")]
    TooShort {
        /// Packet type.
        magic: u32,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// Unknown packet type.
    #[error("unknown input packet type {0:#010x}")]
    UnknownType(u32),
    /// A field holds a value outside its range (button number, event type, controller
    /// number, non-finite coordinate, …).
    #[error("input packet {magic:#010x}: invalid {field}")]
    InvalidField {
        /// Packet type.
        magic: u32,
        /// Which field.
        field: &'static str,
    },
    /// Text is not valid UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// Text longer than [`TextInput::CAPACITY`].
    #[error("text of {0} bytes is too long")]
    TextTooLong(usize),
    /// The output buffer is too small.
    #[error("buffer too small: need {need}, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The event has no GameStream packet (e.g. arrival/removal produced by the tracker).
    #[error("event has no GameStream packet form")]
    NotRepresentable,
}

/// A parsed input packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputPacket {
    /// A self-contained event.
    Event(InputEvent),
    /// Gamepad state plus the client's set of connected pads; feed it to a
    /// [`GamepadTracker`] to get arrival/removal/state events.
    Gamepad {
        /// Gamepad index `0..16`.
        index: u8,
        /// Bit `n` set = gamepad `n` is connected.
        active_mask: u16,
        /// Buttons, sticks, triggers.
        state: GamepadState,
    },
    /// "Enable haptics", sent once at start (nothing to do for a Linux host).
    EnableHaptics,
}

/// Fixed total size (header included) of each packet type, or its minimum for text.
fn packet_len(magic: u32) -> Option<usize> {
    Some(match magic {
        magic::KEY_DOWN | magic::KEY_UP => 14,
        magic::MOUSE_MOVE_REL => 12,
        magic::MOUSE_MOVE_ABS => 18,
        magic::MOUSE_BUTTON_DOWN | magic::MOUSE_BUTTON_UP => 9,
        magic::SCROLL => 14,
        magic::HSCROLL => 10,
        magic::UTF8_TEXT => 8,
        magic::MULTI_CONTROLLER => 34,
        magic::ENABLE_HAPTICS => 10,
        magic::TOUCH | magic::PEN => 36,
        magic::CONTROLLER_ARRIVAL => 16,
        magic::CONTROLLER_TOUCH => 28,
        magic::CONTROLLER_MOTION => 24,
        magic::CONTROLLER_BATTERY => 12,
        _ => return None,
    })
}

/// Little helper over the packet body with bounds already checked.
struct Body<'a>(&'a [u8]);

impl Body<'_> {
    fn u8(&self, o: usize) -> u8 {
        self.0[o]
    }
    fn le16(&self, o: usize) -> u16 {
        u16::from_le_bytes([self.0[o], self.0[o + 1]])
    }
    fn be16(&self, o: usize) -> u16 {
        u16::from_be_bytes([self.0[o], self.0[o + 1]])
    }
    fn le32(&self, o: usize) -> u32 {
        u32::from_le_bytes([self.0[o], self.0[o + 1], self.0[o + 2], self.0[o + 3]])
    }
    fn f32(&self, o: usize, magic: u32, field: &'static str) -> Result<f32, InputError> {
        let v = f32::from_bits(self.le32(o));
        if v.is_finite() {
            Ok(v)
        } else {
            Err(InputError::InvalidField { magic, field })
        }
    }
}

/// Parses one input packet (the payload of a `0x0206` control message). Bytes beyond the
/// header's `size` are ignored; packets longer than their type's layout are accepted.
pub fn parse_input_packet(bytes: &[u8]) -> Result<InputPacket, InputError> {
    if bytes.len() < HEADER_LEN {
        return Err(InputError::Truncated);
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let total = size.checked_add(4).ok_or(InputError::Truncated)?;
    if total < HEADER_LEN || bytes.len() < total {
        return Err(InputError::Truncated);
    }
    let bytes = &bytes[..total];
    let magic = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let need = packet_len(magic).ok_or(InputError::UnknownType(magic))?;
    if bytes.len() < need {
        return Err(InputError::TooShort {
            magic,
            need,
            got: bytes.len(),
        });
    }
    let b = Body(&bytes[HEADER_LEN..]);
    let invalid = |field| InputError::InvalidField { magic, field };
    let event = match magic {
        magic::KEY_DOWN | magic::KEY_UP => InputEvent::Key(KeyEvent {
            vk: (b.le16(1) & 0xFF) as u8,
            pressed: magic == magic::KEY_DOWN,
            modifiers: Modifiers(b.u8(3)),
            non_normalized: b.u8(0) & 0x01 != 0,
        }),
        magic::MOUSE_MOVE_REL => InputEvent::PointerMotion {
            dx: b.be16(0) as i16 as i32,
            dy: b.be16(2) as i16 as i32,
        },
        magic::MOUSE_MOVE_ABS => {
            let width = b.be16(6) as i16;
            let height = b.be16(8) as i16;
            if width <= 0 || height <= 0 {
                return Err(invalid("reference size"));
            }
            InputEvent::PointerPosition(AbsolutePosition {
                x: b.be16(0) as i16 as i32,
                y: b.be16(2) as i16 as i32,
                width: width as u32,
                height: height as u32,
            })
        }
        magic::MOUSE_BUTTON_DOWN | magic::MOUSE_BUTTON_UP => InputEvent::Button {
            button: match b.u8(0) {
                1 => MouseButton::Left,
                2 => MouseButton::Middle,
                3 => MouseButton::Right,
                4 => MouseButton::X1,
                5 => MouseButton::X2,
                _ => return Err(invalid("button")),
            },
            pressed: magic == magic::MOUSE_BUTTON_DOWN,
        },
        magic::SCROLL => InputEvent::Scroll {
            axis: ScrollAxis::Vertical,
            amount: b.be16(0) as i16 as i32,
        },
        magic::HSCROLL => InputEvent::Scroll {
            axis: ScrollAxis::Horizontal,
            amount: b.be16(0) as i16 as i32,
        },
        magic::UTF8_TEXT => {
            let text = b.0;
            let s = std::str::from_utf8(text).map_err(|_| InputError::InvalidUtf8)?;
            InputEvent::Text(TextInput::new(s).ok_or(InputError::TextTooLong(s.len()))?)
        }
        magic::ENABLE_HAPTICS => return Ok(InputPacket::EnableHaptics),
        magic::MULTI_CONTROLLER => {
            let index = b.le16(2);
            if index >= MAX_GAMEPADS as u16 {
                return Err(invalid("controller number"));
            }
            let buttons = b.le16(8) as u32 | (b.le16(22) as u32) << 16;
            return Ok(InputPacket::Gamepad {
                index: index as u8,
                active_mask: b.le16(4),
                state: GamepadState {
                    buttons: GamepadButtons(buttons),
                    left_trigger: b.u8(10),
                    right_trigger: b.u8(11),
                    left_stick: (b.le16(12) as i16, b.le16(14) as i16),
                    right_stick: (b.le16(16) as i16, b.le16(18) as i16),
                },
            });
        }
        magic::TOUCH => InputEvent::Touch(TouchEvent {
            phase: phase(b.u8(0)).ok_or(invalid("event type"))?,
            orientation: angle(b.le16(2)),
            pointer_id: b.le32(4),
            x: b.f32(8, magic, "x")?,
            y: b.f32(12, magic, "y")?,
            pressure: b.f32(16, magic, "pressure")?,
            contact_major: b.f32(20, magic, "contact area")?,
            contact_minor: b.f32(24, magic, "contact area")?,
        }),
        magic::PEN => InputEvent::Pen(PenEvent {
            phase: phase(b.u8(0)).ok_or(invalid("event type"))?,
            tool: match b.u8(1) {
                0 => PenTool::Unknown,
                1 => PenTool::Pen,
                2 => PenTool::Eraser,
                _ => return Err(invalid("tool")),
            },
            buttons: PenButtons(b.u8(2) & 0x07),
            x: b.f32(4, magic, "x")?,
            y: b.f32(8, magic, "y")?,
            pressure: b.f32(12, magic, "pressure")?,
            rotation: angle(b.le16(16)),
            tilt: match b.u8(18) {
                0xFF => None,
                t if t <= 90 => Some(t),
                _ => return Err(invalid("tilt")),
            },
            contact_major: b.f32(20, magic, "contact area")?,
            contact_minor: b.f32(24, magic, "contact area")?,
        }),
        magic::CONTROLLER_ARRIVAL => InputEvent::GamepadArrival(GamepadInfo {
            index: controller(b.u8(0)).ok_or(invalid("controller number"))?,
            kind: match b.u8(1) {
                1 => GamepadKind::Xbox,
                2 => GamepadKind::PlayStation,
                3 => GamepadKind::Nintendo,
                4 => GamepadKind::Steam,
                _ => GamepadKind::Unknown,
            },
            capabilities: GamepadCapabilities(b.le16(2)),
            supported_buttons: GamepadButtons(b.le32(4)),
        }),
        magic::CONTROLLER_TOUCH => InputEvent::GamepadTouch {
            index: controller(b.u8(0)).ok_or(invalid("controller number"))?,
            touchpad: b.u8(3),
            touch: TouchEvent {
                phase: phase(b.u8(1)).ok_or(invalid("event type"))?,
                pointer_id: b.le32(4),
                x: b.f32(8, magic, "x")?,
                y: b.f32(12, magic, "y")?,
                pressure: b.f32(16, magic, "pressure")?,
                contact_major: 0.0,
                contact_minor: 0.0,
                orientation: None,
            },
        },
        magic::CONTROLLER_MOTION => InputEvent::GamepadMotion {
            index: controller(b.u8(0)).ok_or(invalid("controller number"))?,
            sensor: match b.u8(1) {
                1 => MotionSensor::Accelerometer,
                2 => MotionSensor::Gyroscope,
                _ => return Err(invalid("motion type")),
            },
            xyz: [
                b.f32(4, magic, "x")?,
                b.f32(8, magic, "y")?,
                b.f32(12, magic, "z")?,
            ],
        },
        magic::CONTROLLER_BATTERY => InputEvent::GamepadBattery {
            index: controller(b.u8(0)).ok_or(invalid("controller number"))?,
            state: match b.u8(1) {
                1 => BatteryState::NotPresent,
                2 => BatteryState::Discharging,
                3 => BatteryState::Charging,
                4 => BatteryState::NotCharging,
                5 => BatteryState::Full,
                _ => BatteryState::Unknown,
            },
            percent: match b.u8(2) {
                p if p <= 100 => Some(p),
                _ => None,
            },
        },
        other => return Err(InputError::UnknownType(other)),
    };
    Ok(InputPacket::Event(event))
}

fn phase(v: u8) -> Option<TouchPhase> {
    Some(match v {
        0 => TouchPhase::Hover,
        1 => TouchPhase::Down,
        2 => TouchPhase::Up,
        3 => TouchPhase::Move,
        4 => TouchPhase::Cancel,
        5 => TouchPhase::ButtonOnly,
        6 => TouchPhase::HoverLeave,
        7 => TouchPhase::CancelAll,
        _ => return None,
    })
}

fn phase_code(p: TouchPhase) -> u8 {
    match p {
        TouchPhase::Hover => 0,
        TouchPhase::Down => 1,
        TouchPhase::Up => 2,
        TouchPhase::Move => 3,
        TouchPhase::Cancel => 4,
        TouchPhase::ButtonOnly => 5,
        TouchPhase::HoverLeave => 6,
        TouchPhase::CancelAll => 7,
    }
}

fn angle(v: u16) -> Option<u16> {
    (v < 360).then_some(v)
}

fn controller(v: u8) -> Option<u8> {
    (v < MAX_GAMEPADS).then_some(v)
}

/// Writes the GameStream packet for `event` into `out` and returns its length (the test
/// client's side). Arrival-less gamepad removal and state need [`emit_gamepad_state`].
pub fn emit_input_packet(event: &InputEvent, out: &mut [u8]) -> Result<usize, InputError> {
    let (magic, len) = match event {
        InputEvent::Key(k) => (
            if k.pressed {
                magic::KEY_DOWN
            } else {
                magic::KEY_UP
            },
            14,
        ),
        InputEvent::Text(t) => (magic::UTF8_TEXT, HEADER_LEN + t.as_str().len()),
        InputEvent::PointerMotion { .. } => (magic::MOUSE_MOVE_REL, 12),
        InputEvent::PointerPosition(_) => (magic::MOUSE_MOVE_ABS, 18),
        InputEvent::Button { pressed, .. } => (
            if *pressed {
                magic::MOUSE_BUTTON_DOWN
            } else {
                magic::MOUSE_BUTTON_UP
            },
            9,
        ),
        InputEvent::Scroll {
            axis: ScrollAxis::Vertical,
            ..
        } => (magic::SCROLL, 14),
        InputEvent::Scroll {
            axis: ScrollAxis::Horizontal,
            ..
        } => (magic::HSCROLL, 10),
        InputEvent::GamepadArrival(_) => (magic::CONTROLLER_ARRIVAL, 16),
        InputEvent::GamepadMotion { .. } => (magic::CONTROLLER_MOTION, 24),
        InputEvent::GamepadBattery { .. } => (magic::CONTROLLER_BATTERY, 12),
        InputEvent::GamepadTouch { .. } => (magic::CONTROLLER_TOUCH, 28),
        InputEvent::Touch(_) => (magic::TOUCH, 36),
        InputEvent::Pen(_) => (magic::PEN, 36),
        InputEvent::GamepadRemoval { .. } | InputEvent::GamepadState { .. } => {
            return Err(InputError::NotRepresentable);
        }
    };
    let o = header(out, magic, len)?;
    let b = &mut o[HEADER_LEN..];
    let f32le = |b: &mut [u8], at: usize, v: f32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    match *event {
        InputEvent::Key(k) => {
            b[0] = k.non_normalized as u8;
            b[1..3].copy_from_slice(&(0x8000u16 | k.vk as u16).to_le_bytes());
            b[3] = k.modifiers.0;
        }
        InputEvent::Text(t) => b.copy_from_slice(t.as_str().as_bytes()),
        InputEvent::PointerMotion { dx, dy } => {
            b[0..2].copy_from_slice(&clamp16(dx).to_be_bytes());
            b[2..4].copy_from_slice(&clamp16(dy).to_be_bytes());
        }
        InputEvent::PointerPosition(p) => {
            b[0..2].copy_from_slice(&clamp16(p.x).to_be_bytes());
            b[2..4].copy_from_slice(&clamp16(p.y).to_be_bytes());
            b[6..8].copy_from_slice(&clamp16(p.width as i32).to_be_bytes());
            b[8..10].copy_from_slice(&clamp16(p.height as i32).to_be_bytes());
        }
        InputEvent::Button { button, .. } => {
            b[0] = match button {
                MouseButton::Left => 1,
                MouseButton::Middle => 2,
                MouseButton::Right => 3,
                MouseButton::X1 => 4,
                MouseButton::X2 => 5,
            }
        }
        InputEvent::Scroll { axis, amount } => {
            let a = clamp16(amount).to_be_bytes();
            b[0..2].copy_from_slice(&a);
            if axis == ScrollAxis::Vertical {
                b[2..4].copy_from_slice(&a);
            }
        }
        InputEvent::GamepadArrival(g) => {
            b[0] = g.index;
            b[1] = match g.kind {
                GamepadKind::Unknown => 0,
                GamepadKind::Xbox => 1,
                GamepadKind::PlayStation => 2,
                GamepadKind::Nintendo => 3,
                GamepadKind::Steam => 4,
            };
            b[2..4].copy_from_slice(&g.capabilities.0.to_le_bytes());
            b[4..8].copy_from_slice(&g.supported_buttons.0.to_le_bytes());
        }
        InputEvent::GamepadMotion { index, sensor, xyz } => {
            b[0] = index;
            b[1] = match sensor {
                MotionSensor::Accelerometer => 1,
                MotionSensor::Gyroscope => 2,
            };
            for (i, v) in xyz.iter().enumerate() {
                f32le(b, 4 + 4 * i, *v);
            }
        }
        InputEvent::GamepadBattery {
            index,
            state,
            percent,
        } => {
            b[0] = index;
            b[1] = match state {
                BatteryState::Unknown => 0,
                BatteryState::NotPresent => 1,
                BatteryState::Discharging => 2,
                BatteryState::Charging => 3,
                BatteryState::NotCharging => 4,
                BatteryState::Full => 5,
            };
            b[2] = percent.unwrap_or(0xFF);
        }
        InputEvent::GamepadTouch {
            index,
            touchpad,
            touch,
        } => {
            b[0] = index;
            b[1] = phase_code(touch.phase);
            b[3] = touchpad;
            b[4..8].copy_from_slice(&touch.pointer_id.to_le_bytes());
            f32le(b, 8, touch.x);
            f32le(b, 12, touch.y);
            f32le(b, 16, touch.pressure);
        }
        InputEvent::Touch(t) => {
            b[0] = phase_code(t.phase);
            b[2..4].copy_from_slice(&t.orientation.unwrap_or(0xFFFF).to_le_bytes());
            b[4..8].copy_from_slice(&t.pointer_id.to_le_bytes());
            f32le(b, 8, t.x);
            f32le(b, 12, t.y);
            f32le(b, 16, t.pressure);
            f32le(b, 20, t.contact_major);
            f32le(b, 24, t.contact_minor);
        }
        InputEvent::Pen(p) => {
            b[0] = phase_code(p.phase);
            b[1] = match p.tool {
                PenTool::Unknown => 0,
                PenTool::Pen => 1,
                PenTool::Eraser => 2,
            };
            b[2] = p.buttons.0;
            f32le(b, 4, p.x);
            f32le(b, 8, p.y);
            f32le(b, 12, p.pressure);
            b[16..18].copy_from_slice(&p.rotation.unwrap_or(0xFFFF).to_le_bytes());
            b[18] = p.tilt.unwrap_or(0xFF);
            f32le(b, 20, p.contact_major);
            f32le(b, 24, p.contact_minor);
        }
        InputEvent::GamepadRemoval { .. } | InputEvent::GamepadState { .. } => {
            unreachable!("rejected above")
        }
    }
    Ok(len)
}

/// Writes a multi-controller state packet (magic `0x0C`, 34 bytes) as a stock client does.
pub fn emit_gamepad_state(
    index: u8,
    active_mask: u16,
    state: &GamepadState,
    out: &mut [u8],
) -> Result<usize, InputError> {
    let o = header(out, magic::MULTI_CONTROLLER, 34)?;
    let b = &mut o[HEADER_LEN..];
    let mut put = |at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    put(0, MC_HEADER_A);
    put(2, index as u16);
    put(4, active_mask);
    put(6, MC_HEADER_B);
    put(8, state.buttons.0 as u16);
    put(
        10,
        u16::from_le_bytes([state.left_trigger, state.right_trigger]),
    );
    put(12, state.left_stick.0 as u16);
    put(14, state.left_stick.1 as u16);
    put(16, state.right_stick.0 as u16);
    put(18, state.right_stick.1 as u16);
    put(20, MC_MID_B);
    put(22, (state.buttons.0 >> 16) as u16);
    put(24, MC_TAIL_B);
    Ok(34)
}

/// Writes the "enable haptics" packet.
pub fn emit_enable_haptics(out: &mut [u8]) -> Result<usize, InputError> {
    let o = header(out, magic::ENABLE_HAPTICS, 10)?;
    o[8..10].copy_from_slice(&1u16.to_le_bytes());
    Ok(10)
}

fn header(out: &mut [u8], magic: u32, len: usize) -> Result<&mut [u8], InputError> {
    if out.len() < len {
        return Err(InputError::BufferTooSmall {
            need: len,
            have: out.len(),
        });
    }
    let o = &mut out[..len];
    o.fill(0);
    o[0..4].copy_from_slice(&((len - 4) as u32).to_be_bytes());
    o[4..8].copy_from_slice(&magic.to_le_bytes());
    Ok(o)
}

fn clamp16(v: i32) -> i16 {
    v.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// Tracks which gamepads exist and turns parsed packets into events, following Sunshine:
/// an arrival packet creates a pad (ignored if it exists); a state packet for a pad whose
/// bit is set in the active mask creates it (as [`GamepadKind::Unknown`]) if needed, then
/// updates it; a state packet with its own bit clear removes the pad.
#[derive(Debug, Clone, Default)]
pub struct GamepadTracker {
    present: u16,
}

impl GamepadTracker {
    /// A tracker with no gamepads.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bit `n` set = gamepad `n` currently exists.
    pub fn present(&self) -> u16 {
        self.present
    }

    /// Feeds one packet; emits 0–2 events in order through `emit`.
    pub fn handle(&mut self, packet: InputPacket, mut emit: impl FnMut(InputEvent)) {
        match packet {
            InputPacket::EnableHaptics => {}
            InputPacket::Event(InputEvent::GamepadArrival(info)) => {
                let bit = 1u16 << info.index;
                if self.present & bit == 0 {
                    self.present |= bit;
                    emit(InputEvent::GamepadArrival(info));
                }
            }
            InputPacket::Event(e) => emit(e),
            InputPacket::Gamepad {
                index,
                active_mask,
                state,
            } => {
                let bit = 1u16 << index;
                if active_mask & bit == 0 {
                    if self.present & bit != 0 {
                        self.present &= !bit;
                        emit(InputEvent::GamepadRemoval { index });
                    }
                    return;
                }
                if self.present & bit == 0 {
                    self.present |= bit;
                    emit(InputEvent::GamepadArrival(GamepadInfo {
                        index,
                        kind: GamepadKind::Unknown,
                        capabilities: GamepadCapabilities::default(),
                        supported_buttons: GamepadButtons::default(),
                    }));
                }
                emit(InputEvent::GamepadState { index, state });
            }
        }
    }
}

/// Fuzz and property-test entry point: parses `data` and feeds the result to a tracker.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(p) = parse_input_packet(data) {
        GamepadTracker::new().handle(p, |_| {});
    }
}

#[cfg(test)]
mod tests;
