//! Input injection: core [`InputEvent`]s become low-level actions on virtual devices.
//!
//! [`translate::Translator`] turns events into evdev-level [`Action`]s (create a device,
//! emit `(type, code, value)`, sync). Backends consume them: [`recording`] keeps them for
//! tests of both protocols, [`uinput`] creates real kernel devices, and [`xtest`] injects
//! into an X server (its own mapping to X keycodes, pointer positions and buttons).

pub mod recording;
pub mod translate;
pub mod uinput;
pub mod xtest;

pub use punktfunk_core::input::{Feedback, InputEvent};

/// Kinds of virtual devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    /// Keyboard.
    Keyboard,
    /// Relative mouse with buttons and wheels.
    Mouse,
    /// Absolute pointer (tablet-like) for `PointerPosition`.
    AbsPointer,
    /// Multi-touch screen (protocol B).
    Touchscreen,
    /// Pen tablet.
    Pen,
    /// Xbox-style gamepad (xpad layout), with rumble.
    XboxPad(u8),
    /// DualSense-style gamepad (hid-playstation layout), with rumble.
    DualSensePad(u8),
}

impl DeviceKind {
    /// The gamepad index, for gamepads.
    pub fn pad_index(self) -> Option<u8> {
        match self {
            DeviceKind::XboxPad(i) | DeviceKind::DualSensePad(i) => Some(i),
            _ => None,
        }
    }
}

/// One low-level action on a virtual device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create the device (before its first event).
    Create(DeviceKind),
    /// Remove the device.
    Destroy(DeviceKind),
    /// An evdev event `(type, code, value)`.
    Emit {
        /// Device.
        device: DeviceKind,
        /// `EV_*` type.
        ty: u16,
        /// Code within the type.
        code: u16,
        /// Value.
        value: i32,
    },
    /// `SYN_REPORT`: the device's events so far form one report.
    Sync(DeviceKind),
}

/// Errors of input backends.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The backend cannot run on this machine (no /dev/uinput, no X server, ...).
    #[error("input backend unavailable: {0}")]
    Unavailable(String),
    /// Creating or writing a device failed.
    #[error("input device: {0}")]
    Device(String),
}

/// Something that injects client input into the host.
pub trait InputBackend: Send {
    /// Injects one event.
    fn handle(&mut self, event: &InputEvent) -> Result<(), InputError>;
    /// Feedback for the client produced since the last call (rumble set by games).
    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) -> Result<(), InputError>;
}
