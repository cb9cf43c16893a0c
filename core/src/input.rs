//! Protocol-neutral input events.
//!
//! Both protocols (GameStream from Moonlight clients, punktfunk/1 from native clients) decode
//! their wire packets into these plain values, and the media crate's injection backends
//! (uinput, XTest, compositor remote-desktop APIs) consume them. Haptics and other feedback
//! that travels back to the client is [`Feedback`].
//!
//! Conventions shared by every producer and consumer:
//! - keys are Windows virtual-key codes (what GameStream sends); [`vk_to_evdev`] maps them to
//!   Linux evdev key codes;
//! - scroll amounts are high-resolution units, [`SCROLL_NOTCH`] (120) per wheel notch,
//!   positive = up / right;
//! - touch and pen coordinates are normalised to 0.0..=1.0 over the streamed area,
//!   top-left origin;
//! - gamepad sticks are signed 16-bit with up and right positive (XInput convention).

/// High-resolution scroll units per wheel notch (Windows `WHEEL_DELTA`).
pub const SCROLL_NOTCH: i32 = 120;

/// Maximum number of gamepads a session can have (indices `0..MAX_GAMEPADS`).
pub const MAX_GAMEPADS: u8 = 16;

/// One input event from a client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputEvent {
    /// A key went down or up.
    Key(KeyEvent),
    /// Text to type as-is (already composed by the client's input method).
    Text(TextInput),
    /// Relative pointer motion in device units (pixels of the client's mouse).
    PointerMotion {
        /// Horizontal motion, positive = right.
        dx: i32,
        /// Vertical motion, positive = down.
        dy: i32,
    },
    /// Absolute pointer position: `(x, y)` inside a reference area of
    /// `width` x `height`; map `x / width`, `y / height` onto the streamed area.
    PointerPosition(AbsolutePosition),
    /// A mouse button was pressed or released.
    Button {
        /// Which button.
        button: MouseButton,
        /// True = pressed, false = released.
        pressed: bool,
    },
    /// Wheel scroll in high-resolution units ([`SCROLL_NOTCH`] per notch).
    Scroll {
        /// Which wheel axis.
        axis: ScrollAxis,
        /// Amount, positive = up (vertical) or right (horizontal).
        amount: i32,
    },
    /// A gamepad was plugged in (sent before its first state).
    GamepadArrival(GamepadInfo),
    /// A gamepad was unplugged.
    GamepadRemoval {
        /// Gamepad index `0..MAX_GAMEPADS`.
        index: u8,
    },
    /// The full current state of one gamepad.
    GamepadState {
        /// Gamepad index `0..MAX_GAMEPADS`.
        index: u8,
        /// Buttons, sticks and triggers.
        state: GamepadState,
    },
    /// A motion-sensor reading of one gamepad.
    GamepadMotion {
        /// Gamepad index `0..MAX_GAMEPADS`.
        index: u8,
        /// Which sensor.
        sensor: MotionSensor,
        /// Reading on the X, Y and Z axes (SDL axis convention): m/s² including gravity for
        /// the accelerometer, degrees per second for the gyroscope.
        xyz: [f32; 3],
    },
    /// Battery state of one gamepad.
    GamepadBattery {
        /// Gamepad index `0..MAX_GAMEPADS`.
        index: u8,
        /// Charging state.
        state: BatteryState,
        /// Charge in percent (0..=100), `None` if unknown.
        percent: Option<u8>,
    },
    /// A touch on a gamepad's touchpad (PlayStation controllers).
    GamepadTouch {
        /// Gamepad index `0..MAX_GAMEPADS`.
        index: u8,
        /// Touchpad index on the controller (0 = first).
        touchpad: u8,
        /// The contact; only pointer id, phase, position and pressure are meaningful.
        touch: TouchEvent,
    },
    /// A touch-screen contact.
    Touch(TouchEvent),
    /// A pen / stylus event.
    Pen(PenEvent),
}

/// A key press or release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyEvent {
    /// Windows virtual-key code (`VK_*`), interpreted on a US English layout.
    pub vk: u8,
    /// True = pressed, false = released.
    pub pressed: bool,
    /// Modifier keys held according to the client at the time of the event.
    pub modifiers: Modifiers,
    /// True when the client says the key code is *not* normalised to the US layout
    /// (GameStream Sunshine extension flag 0x01).
    pub non_normalized: bool,
}

/// Modifier keys held, as a bit set (the GameStream bit values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Modifiers(pub u8);

impl Modifiers {
    /// No modifiers.
    pub const NONE: Self = Self(0);
    /// Shift.
    pub const SHIFT: Self = Self(0x01);
    /// Control.
    pub const CTRL: Self = Self(0x02);
    /// Alt.
    pub const ALT: Self = Self(0x04);
    /// Meta / Windows / Super.
    pub const META: Self = Self(0x08);

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// UTF-8 text held inline (no allocation), up to [`TextInput::CAPACITY`] bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextInput {
    len: u8,
    bytes: [u8; TextInput::CAPACITY],
}

impl TextInput {
    /// Maximum bytes of one text event. Longer text is split with [`TextInput::chunks`].
    pub const CAPACITY: usize = 64;

    /// Wraps `s` if it fits in [`TextInput::CAPACITY`] bytes.
    pub fn new(s: &str) -> Option<Self> {
        if s.len() > Self::CAPACITY {
            return None;
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    /// Splits `s` into events of at most [`TextInput::CAPACITY`] bytes, each cut on a
    /// character boundary.
    pub fn chunks(s: &str) -> impl Iterator<Item = TextInput> + '_ {
        let mut rest = s;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let mut cut = rest.len().min(Self::CAPACITY);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (head, tail) = rest.split_at(cut);
            rest = tail;
            Self::new(head)
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ever built from a `&str` prefix cut on a char boundary.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::fmt::Debug for TextInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TextInput").field(&self.as_str()).finish()
    }
}

/// Absolute pointer position inside a reference area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbsolutePosition {
    /// X inside the reference area, `0..width`.
    pub x: i32,
    /// Y inside the reference area, `0..height`.
    pub y: i32,
    /// Width of the reference area (the client's view of the stream), > 0.
    pub width: u32,
    /// Height of the reference area, > 0.
    pub height: u32,
}

impl AbsolutePosition {
    /// The position scaled onto an output of `out_w` x `out_h` pixels, clamped inside it.
    pub fn scale_to(&self, out_w: u32, out_h: u32) -> (u32, u32) {
        let scale = |v: i32, range: u32, out: u32| -> u32 {
            if range == 0 || out == 0 {
                return 0;
            }
            let v = v.clamp(0, range as i32) as u64;
            ((v * out as u64) / range as u64).min(out as u64 - 1) as u32
        };
        (
            scale(self.x, self.width, out_w),
            scale(self.y, self.height, out_h),
        )
    }
}

/// Mouse buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MouseButton {
    /// Left (primary) button.
    Left,
    /// Middle button (wheel click).
    Middle,
    /// Right (secondary) button.
    Right,
    /// First side button (back).
    X1,
    /// Second side button (forward).
    X2,
}

impl MouseButton {
    /// The Linux evdev code (`BTN_LEFT`..`BTN_EXTRA`).
    pub const fn evdev_code(self) -> u16 {
        match self {
            Self::Left => 0x110,
            Self::Right => 0x111,
            Self::Middle => 0x112,
            Self::X1 => 0x113,
            Self::X2 => 0x114,
        }
    }
}

/// Scroll wheel axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrollAxis {
    /// Vertical wheel, positive = up.
    Vertical,
    /// Horizontal wheel, positive = right.
    Horizontal,
}

/// What a newly connected gamepad is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GamepadInfo {
    /// Gamepad index `0..MAX_GAMEPADS`.
    pub index: u8,
    /// Controller family (decides which virtual device to create).
    pub kind: GamepadKind,
    /// What the physical controller can do.
    pub capabilities: GamepadCapabilities,
    /// Buttons the controller has.
    pub supported_buttons: GamepadButtons,
}

/// Controller family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GamepadKind {
    /// Unknown: treat as an Xbox-style pad.
    #[default]
    Unknown,
    /// Xbox / XInput.
    Xbox,
    /// PlayStation (DualShock / DualSense).
    PlayStation,
    /// Nintendo (Switch Pro).
    Nintendo,
    /// Valve Steam Controller.
    Steam,
}

/// Gamepad capability bits (the GameStream bit values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GamepadCapabilities(pub u16);

impl GamepadCapabilities {
    /// Analog triggers.
    pub const ANALOG_TRIGGERS: Self = Self(0x01);
    /// Rumble motors.
    pub const RUMBLE: Self = Self(0x02);
    /// Trigger rumble motors.
    pub const TRIGGER_RUMBLE: Self = Self(0x04);
    /// A touchpad.
    pub const TOUCHPAD: Self = Self(0x08);
    /// Accelerometer.
    pub const ACCELEROMETER: Self = Self(0x10);
    /// Gyroscope.
    pub const GYROSCOPE: Self = Self(0x20);
    /// Reports battery state.
    pub const BATTERY: Self = Self(0x40);
    /// RGB LED.
    pub const RGB_LED: Self = Self(0x80);
    /// Two touchpads.
    pub const DUAL_TOUCHPADS: Self = Self(0x100);

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Gamepad buttons as a 32-bit set (the GameStream / XInput bit values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GamepadButtons(pub u32);

impl GamepadButtons {
    /// D-pad up.
    pub const DPAD_UP: Self = Self(0x0001);
    /// D-pad down.
    pub const DPAD_DOWN: Self = Self(0x0002);
    /// D-pad left.
    pub const DPAD_LEFT: Self = Self(0x0004);
    /// D-pad right.
    pub const DPAD_RIGHT: Self = Self(0x0008);
    /// Start / Options / Menu.
    pub const START: Self = Self(0x0010);
    /// Back / Select / View / Share.
    pub const BACK: Self = Self(0x0020);
    /// Left stick click.
    pub const LEFT_STICK: Self = Self(0x0040);
    /// Right stick click.
    pub const RIGHT_STICK: Self = Self(0x0080);
    /// Left shoulder (LB / L1).
    pub const LEFT_SHOULDER: Self = Self(0x0100);
    /// Right shoulder (RB / R1).
    pub const RIGHT_SHOULDER: Self = Self(0x0200);
    /// Guide / Home / PS.
    pub const GUIDE: Self = Self(0x0400);
    /// A / Cross.
    pub const A: Self = Self(0x1000);
    /// B / Circle.
    pub const B: Self = Self(0x2000);
    /// X / Square.
    pub const X: Self = Self(0x4000);
    /// Y / Triangle.
    pub const Y: Self = Self(0x8000);
    /// Paddle 1.
    pub const PADDLE1: Self = Self(0x01_0000);
    /// Paddle 2.
    pub const PADDLE2: Self = Self(0x02_0000);
    /// Paddle 3.
    pub const PADDLE3: Self = Self(0x04_0000);
    /// Paddle 4.
    pub const PADDLE4: Self = Self(0x08_0000);
    /// Touchpad click (PlayStation).
    pub const TOUCHPAD: Self = Self(0x10_0000);
    /// Misc button (Share / Mic / Capture / Mute).
    pub const MISC: Self = Self(0x20_0000);

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The full state of one gamepad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GamepadState {
    /// Buttons held.
    pub buttons: GamepadButtons,
    /// Left stick `(x, y)`, right and up positive.
    pub left_stick: (i16, i16),
    /// Right stick `(x, y)`, right and up positive.
    pub right_stick: (i16, i16),
    /// Left trigger, 0 = released .. 255 = fully pressed.
    pub left_trigger: u8,
    /// Right trigger, 0 = released .. 255 = fully pressed.
    pub right_trigger: u8,
}

/// Gamepad motion sensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MotionSensor {
    /// Accelerometer (m/s², including gravity).
    Accelerometer,
    /// Gyroscope (degrees per second).
    Gyroscope,
}

/// Gamepad battery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BatteryState {
    /// Unknown.
    #[default]
    Unknown,
    /// No battery (wired controller).
    NotPresent,
    /// Running on battery.
    Discharging,
    /// Charging.
    Charging,
    /// Plugged in but not charging.
    NotCharging,
    /// Fully charged.
    Full,
}

/// Phase of a touch or pen contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TouchPhase {
    /// Hovering above the surface (pressure field holds the distance).
    Hover,
    /// Contact started.
    Down,
    /// Contact ended.
    Up,
    /// Contact moved.
    Move,
    /// This contact was cancelled (only the pointer id is valid).
    Cancel,
    /// Only the pen buttons changed; coordinates are not meaningful.
    ButtonOnly,
    /// The hovering tool left the detection range.
    HoverLeave,
    /// Every contact was cancelled.
    CancelAll,
}

/// A touch-screen (or touchpad) contact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TouchEvent {
    /// What happened.
    pub phase: TouchPhase,
    /// Identifies the contact across its events.
    pub pointer_id: u32,
    /// X, 0.0..=1.0 over the streamed area.
    pub x: f32,
    /// Y, 0.0..=1.0 over the streamed area.
    pub y: f32,
    /// Pressure 0.0..=1.0 (0 = unknown), or hover distance for [`TouchPhase::Hover`].
    pub pressure: f32,
    /// Contact ellipse major axis, in the same normalised units (0 = unknown).
    pub contact_major: f32,
    /// Contact ellipse minor axis (0 = unknown).
    pub contact_minor: f32,
    /// Orientation of the contact in degrees 0..360, `None` if unknown.
    pub orientation: Option<u16>,
}

/// Pen tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PenTool {
    /// Unknown tool.
    #[default]
    Unknown,
    /// The pen tip.
    Pen,
    /// The eraser end.
    Eraser,
}

/// Pen barrel buttons as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PenButtons(pub u8);

impl PenButtons {
    /// Primary barrel button.
    pub const PRIMARY: Self = Self(0x01);
    /// Secondary barrel button.
    pub const SECONDARY: Self = Self(0x02);
    /// Tertiary barrel button.
    pub const TERTIARY: Self = Self(0x04);

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A pen / stylus event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PenEvent {
    /// What happened.
    pub phase: TouchPhase,
    /// Which end of the pen.
    pub tool: PenTool,
    /// Barrel buttons held.
    pub buttons: PenButtons,
    /// X, 0.0..=1.0 over the streamed area.
    pub x: f32,
    /// Y, 0.0..=1.0 over the streamed area.
    pub y: f32,
    /// Pressure 0.0..=1.0 (0 = unknown), or hover distance for [`TouchPhase::Hover`].
    pub pressure: f32,
    /// Rotation in degrees 0..360, `None` if unknown.
    pub rotation: Option<u16>,
    /// Tilt from the surface normal in degrees 0..=90, `None` if unknown.
    pub tilt: Option<u8>,
    /// Contact ellipse major axis (normalised, 0 = unknown).
    pub contact_major: f32,
    /// Contact ellipse minor axis (normalised, 0 = unknown).
    pub contact_minor: f32,
}

/// Feedback from the host's virtual devices back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feedback {
    /// Main rumble motors.
    Rumble {
        /// Gamepad index.
        index: u8,
        /// Low-frequency (large) motor, 0..=65535.
        low_freq: u16,
        /// High-frequency (small) motor, 0..=65535.
        high_freq: u16,
    },
    /// Trigger rumble motors (Xbox One impulse triggers).
    TriggerRumble {
        /// Gamepad index.
        index: u8,
        /// Left trigger motor, 0..=65535.
        left: u16,
        /// Right trigger motor, 0..=65535.
        right: u16,
    },
    /// Set the controller's RGB LED.
    Led {
        /// Gamepad index.
        index: u8,
        /// Red.
        r: u8,
        /// Green.
        g: u8,
        /// Blue.
        b: u8,
    },
    /// Ask the client to report a motion sensor at `rate_hz` (0 = stop).
    MotionEventRate {
        /// Gamepad index.
        index: u8,
        /// Which sensor.
        sensor: MotionSensor,
        /// Reports per second, 0 = stop.
        rate_hz: u16,
    },
    /// DualSense adaptive trigger effects.
    AdaptiveTriggers {
        /// Gamepad index.
        index: u8,
        /// Which triggers the effects apply to: 0x04 right, 0x08 left.
        event_flags: u8,
        /// Left trigger effect type.
        left_type: u8,
        /// Right trigger effect type.
        right_type: u8,
        /// Left trigger effect parameters.
        left: [u8; 10],
        /// Right trigger effect parameters.
        right: [u8; 10],
    },
}

/// Windows virtual-key codes that have no letter or digit of their own, by name.
pub mod vk {
    #![allow(missing_docs)]
    pub const BACK: u8 = 0x08;
    pub const TAB: u8 = 0x09;
    pub const CLEAR: u8 = 0x0C;
    pub const RETURN: u8 = 0x0D;
    pub const SHIFT: u8 = 0x10;
    pub const CONTROL: u8 = 0x11;
    pub const MENU: u8 = 0x12;
    pub const PAUSE: u8 = 0x13;
    pub const CAPITAL: u8 = 0x14;
    pub const KANA: u8 = 0x15;
    pub const HANJA: u8 = 0x19;
    pub const ESCAPE: u8 = 0x1B;
    pub const CONVERT: u8 = 0x1C;
    pub const NONCONVERT: u8 = 0x1D;
    pub const SPACE: u8 = 0x20;
    pub const PRIOR: u8 = 0x21;
    pub const NEXT: u8 = 0x22;
    pub const END: u8 = 0x23;
    pub const HOME: u8 = 0x24;
    pub const LEFT: u8 = 0x25;
    pub const UP: u8 = 0x26;
    pub const RIGHT: u8 = 0x27;
    pub const DOWN: u8 = 0x28;
    pub const SELECT: u8 = 0x29;
    pub const PRINT: u8 = 0x2A;
    pub const SNAPSHOT: u8 = 0x2C;
    pub const INSERT: u8 = 0x2D;
    pub const DELETE: u8 = 0x2E;
    pub const HELP: u8 = 0x2F;
    pub const KEY_0: u8 = 0x30;
    pub const KEY_A: u8 = 0x41;
    pub const LWIN: u8 = 0x5B;
    pub const RWIN: u8 = 0x5C;
    pub const APPS: u8 = 0x5D;
    pub const SLEEP: u8 = 0x5F;
    pub const NUMPAD0: u8 = 0x60;
    pub const MULTIPLY: u8 = 0x6A;
    pub const ADD: u8 = 0x6B;
    pub const SEPARATOR: u8 = 0x6C;
    pub const SUBTRACT: u8 = 0x6D;
    pub const DECIMAL: u8 = 0x6E;
    pub const DIVIDE: u8 = 0x6F;
    pub const F1: u8 = 0x70;
    pub const NUMLOCK: u8 = 0x90;
    pub const SCROLL: u8 = 0x91;
    pub const LSHIFT: u8 = 0xA0;
    pub const RSHIFT: u8 = 0xA1;
    pub const LCONTROL: u8 = 0xA2;
    pub const RCONTROL: u8 = 0xA3;
    pub const LMENU: u8 = 0xA4;
    pub const RMENU: u8 = 0xA5;
    pub const BROWSER_BACK: u8 = 0xA6;
    pub const BROWSER_FORWARD: u8 = 0xA7;
    pub const BROWSER_REFRESH: u8 = 0xA8;
    pub const BROWSER_STOP: u8 = 0xA9;
    pub const BROWSER_SEARCH: u8 = 0xAA;
    pub const BROWSER_FAVORITES: u8 = 0xAB;
    pub const BROWSER_HOME: u8 = 0xAC;
    pub const VOLUME_MUTE: u8 = 0xAD;
    pub const VOLUME_DOWN: u8 = 0xAE;
    pub const VOLUME_UP: u8 = 0xAF;
    pub const MEDIA_NEXT_TRACK: u8 = 0xB0;
    pub const MEDIA_PREV_TRACK: u8 = 0xB1;
    pub const MEDIA_STOP: u8 = 0xB2;
    pub const MEDIA_PLAY_PAUSE: u8 = 0xB3;
    pub const LAUNCH_MAIL: u8 = 0xB4;
    pub const OEM_1: u8 = 0xBA;
    pub const OEM_PLUS: u8 = 0xBB;
    pub const OEM_COMMA: u8 = 0xBC;
    pub const OEM_MINUS: u8 = 0xBD;
    pub const OEM_PERIOD: u8 = 0xBE;
    pub const OEM_2: u8 = 0xBF;
    pub const OEM_3: u8 = 0xC0;
    pub const OEM_4: u8 = 0xDB;
    pub const OEM_5: u8 = 0xDC;
    pub const OEM_6: u8 = 0xDD;
    pub const OEM_7: u8 = 0xDE;
    pub const OEM_102: u8 = 0xE2;
}

/// Linux evdev key code (`KEY_*` from `linux/input-event-codes.h`) for a Windows virtual-key
/// code on a US layout, or `None` for keys without a Linux equivalent. Generic modifiers
/// (`VK_SHIFT`, `VK_CONTROL`, `VK_MENU`) map to their left-hand keys.
pub const fn vk_to_evdev(vk: u8) -> Option<u16> {
    let code: u16 = match vk {
        vk::BACK => 14,
        vk::TAB => 15,
        vk::CLEAR => 0x163, // KEY_CLEAR
        vk::RETURN => 28,
        vk::SHIFT | vk::LSHIFT => 42,
        vk::CONTROL | vk::LCONTROL => 29,
        vk::MENU | vk::LMENU => 56,
        vk::PAUSE => 119,
        vk::CAPITAL => 58,
        vk::KANA => 122,  // KEY_HANGEUL (VK_HANGUL shares the value)
        vk::HANJA => 123, // KEY_HANJA
        vk::ESCAPE => 1,
        vk::CONVERT => 92,    // KEY_HENKAN
        vk::NONCONVERT => 94, // KEY_MUHENKAN
        vk::SPACE => 57,
        vk::PRIOR => 104,
        vk::NEXT => 109,
        vk::END => 107,
        vk::HOME => 102,
        vk::LEFT => 105,
        vk::UP => 103,
        vk::RIGHT => 106,
        vk::DOWN => 108,
        vk::SELECT => 0x161,
        vk::PRINT => 210,
        vk::SNAPSHOT => 99, // KEY_SYSRQ (Print Screen)
        vk::INSERT => 110,
        vk::DELETE => 111,
        vk::HELP => 138,
        // '0'..'9': KEY_0 is 11, KEY_1..KEY_9 are 2..10.
        0x30 => 11,
        0x31..=0x39 => (vk - 0x31) as u16 + 2,
        // 'A'..'Z' follow the QWERTY rows, not the alphabet.
        0x41..=0x5A => LETTERS[(vk - 0x41) as usize],
        vk::LWIN => 125,
        vk::RWIN => 126,
        vk::APPS => 127, // KEY_COMPOSE (the menu key)
        vk::SLEEP => 142,
        0x60 => 82, // KP0
        0x61 => 79,
        0x62 => 80,
        0x63 => 81,
        0x64 => 75,
        0x65 => 76,
        0x66 => 77,
        0x67 => 71,
        0x68 => 72,
        0x69 => 73, // KP9
        vk::MULTIPLY => 55,
        vk::ADD => 78,
        vk::SEPARATOR => 121, // KEY_KPCOMMA
        vk::SUBTRACT => 74,
        vk::DECIMAL => 83,
        vk::DIVIDE => 98,
        // F1..F10 = 59..68, F11 = 87, F12 = 88, F13..F24 = 183..194.
        0x70..=0x79 => (vk - 0x70) as u16 + 59,
        0x7A => 87,
        0x7B => 88,
        0x7C..=0x87 => (vk - 0x7C) as u16 + 183,
        vk::NUMLOCK => 69,
        vk::SCROLL => 70,
        vk::RSHIFT => 54,
        vk::RCONTROL => 97,
        vk::RMENU => 100,
        vk::BROWSER_BACK => 158,
        vk::BROWSER_FORWARD => 159,
        vk::BROWSER_REFRESH => 173,
        vk::BROWSER_STOP => 128,
        vk::BROWSER_SEARCH => 217,
        vk::BROWSER_FAVORITES => 156, // KEY_BOOKMARKS
        vk::BROWSER_HOME => 172,      // KEY_HOMEPAGE
        vk::VOLUME_MUTE => 113,
        vk::VOLUME_DOWN => 114,
        vk::VOLUME_UP => 115,
        vk::MEDIA_NEXT_TRACK => 163,
        vk::MEDIA_PREV_TRACK => 165,
        vk::MEDIA_STOP => 166,
        vk::MEDIA_PLAY_PAUSE => 164,
        vk::LAUNCH_MAIL => 155,
        vk::OEM_1 => 39,      // ;:
        vk::OEM_PLUS => 13,   // =+
        vk::OEM_COMMA => 51,  // ,<
        vk::OEM_MINUS => 12,  // -_
        vk::OEM_PERIOD => 52, // .>
        vk::OEM_2 => 53,      // /?
        vk::OEM_3 => 41,      // `~
        vk::OEM_4 => 26,      // [{
        vk::OEM_5 => 43,      // \|
        vk::OEM_6 => 27,      // ]}
        vk::OEM_7 => 40,      // '"
        vk::OEM_102 => 86,    // KEY_102ND (<> on ISO keyboards)
        _ => return None,
    };
    Some(code)
}

/// evdev codes of `A`..`Z`.
const LETTERS: [u16; 26] = [
    30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45,
    21, 44,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vk_letters_digits_and_fkeys_map_to_evdev() {
        assert_eq!(vk_to_evdev(b'A'), Some(30)); // KEY_A
        assert_eq!(vk_to_evdev(b'Q'), Some(16)); // KEY_Q
        assert_eq!(vk_to_evdev(b'Z'), Some(44)); // KEY_Z
        assert_eq!(vk_to_evdev(b'M'), Some(50)); // KEY_M
        assert_eq!(vk_to_evdev(b'1'), Some(2));
        assert_eq!(vk_to_evdev(b'9'), Some(10));
        assert_eq!(vk_to_evdev(b'0'), Some(11));
        assert_eq!(vk_to_evdev(vk::F1), Some(59));
        assert_eq!(vk_to_evdev(vk::F1 + 9), Some(68)); // F10
        assert_eq!(vk_to_evdev(vk::F1 + 11), Some(88)); // F12
        assert_eq!(vk_to_evdev(vk::F1 + 12), Some(183)); // F13
        assert_eq!(vk_to_evdev(vk::F1 + 23), Some(194)); // F24
        assert_eq!(vk_to_evdev(0x07), None);
        assert_eq!(vk_to_evdev(0xFF), None);
    }

    #[test]
    fn vk_table_is_injective() {
        // Two different keys must never type the same Linux key, except the generic
        // modifiers which deliberately alias their left-hand keys.
        let mut seen = std::collections::HashMap::new();
        for v in 0..=255u8 {
            let Some(code) = vk_to_evdev(v) else { continue };
            if matches!(v, vk::SHIFT | vk::CONTROL | vk::MENU) {
                continue;
            }
            if let Some(prev) = seen.insert(code, v) {
                panic!("vk {prev:#x} and {v:#x} both map to evdev {code}");
            }
        }
        assert!(seen.len() > 100);
    }

    #[test]
    fn text_chunks_split_on_char_boundaries() {
        let s = "é".repeat(50); // 100 bytes
        let parts: Vec<_> = TextInput::chunks(&s).collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].as_str().len(), 64);
        let joined: String = parts.iter().map(|p| p.as_str()).collect();
        assert_eq!(joined, s);
        assert!(TextInput::new(&"x".repeat(65)).is_none());
        assert_eq!(TextInput::new("hi").unwrap().as_str(), "hi");
    }

    #[test]
    fn absolute_position_scales_and_clamps() {
        let p = AbsolutePosition {
            x: 959,
            y: 539,
            width: 1919,
            height: 1079,
        };
        assert_eq!(p.scale_to(3840, 2160), (1918, 1078));
        let edge = AbsolutePosition {
            x: 5000,
            y: -3,
            width: 100,
            height: 100,
        };
        assert_eq!(edge.scale_to(200, 200), (199, 0));
    }
}
