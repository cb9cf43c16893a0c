//! XTest backend: injects keys, pointer motion/position, buttons, wheel and (primary)
//! touch into an X server through the XTEST extension. X keycodes are evdev codes + 8
//! (the xkb `evdev` keycodes every current X server, Xvfb included, uses).

use punktfunk_core::input::{
    Feedback, InputEvent, MouseButton, SCROLL_NOTCH, ScrollAxis, TouchPhase, vk_to_evdev,
};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
    MOTION_NOTIFY_EVENT, Window,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

use super::{InputBackend, InputError};

fn xerr(e: impl std::fmt::Display) -> InputError {
    InputError::Device(e.to_string())
}

/// Offset between evdev key codes and X keycodes.
pub const X_KEYCODE_OFFSET: u16 = 8;

/// X core button number of a mouse button.
pub fn x_button(b: MouseButton) -> u8 {
    match b {
        MouseButton::Left => 1,
        MouseButton::Middle => 2,
        MouseButton::Right => 3,
        MouseButton::X1 => 8,
        MouseButton::X2 => 9,
    }
}

/// Injects into one X screen.
pub struct XTestBackend {
    conn: RustConnection,
    root: Window,
    size: (u32, u32),
    scroll_rest: [i32; 2],
    touch: Option<u32>,
    /// Events XTest cannot express (gamepads, pen, text, extra touches).
    pub dropped: u64,
}

impl XTestBackend {
    /// Connects to `display` (`None`: `$DISPLAY`) and checks for XTEST.
    pub fn connect(display: Option<&str>) -> Result<Self, InputError> {
        let (conn, n) =
            x11rb::connect(display).map_err(|e| InputError::Unavailable(e.to_string()))?;
        let screen = &conn.setup().roots[n];
        let (root, size) = (
            screen.root,
            (
                screen.width_in_pixels as u32,
                screen.height_in_pixels as u32,
            ),
        );
        conn.xtest_get_version(2, 2)
            .map_err(xerr)?
            .reply()
            .map_err(|e| InputError::Unavailable(format!("no XTEST: {e}")))?;
        Ok(Self {
            conn,
            root,
            size,
            scroll_rest: [0; 2],
            touch: None,
            dropped: 0,
        })
    }

    /// Waits until the server has processed every injected event (a round trip), so a
    /// query on another connection sees their effect.
    pub fn sync(&self) -> Result<(), InputError> {
        use x11rb::protocol::xproto::ConnectionExt as _;
        self.conn
            .get_input_focus()
            .map_err(xerr)?
            .reply()
            .map_err(xerr)?;
        Ok(())
    }

    fn fake(&self, ty: u8, detail: u8, x: i16, y: i16) -> Result<(), InputError> {
        self.conn
            .xtest_fake_input(ty, detail, 0, self.root, x, y, 0)
            .map_err(xerr)?;
        Ok(())
    }

    fn move_to(&self, x: u32, y: u32) -> Result<(), InputError> {
        self.fake(MOTION_NOTIFY_EVENT, 0, x as i16, y as i16)
    }

    fn normalised(&self, x: f32, y: f32) -> (u32, u32) {
        let s = |v: f32, n: u32| ((v.clamp(0.0, 1.0) * n as f32) as u32).min(n.saturating_sub(1));
        (s(x, self.size.0), s(y, self.size.1))
    }
}

impl InputBackend for XTestBackend {
    fn handle(&mut self, event: &InputEvent) -> Result<(), InputError> {
        match *event {
            InputEvent::Key(k) => match vk_to_evdev(k.vk) {
                Some(code) if code + X_KEYCODE_OFFSET <= 255 => {
                    let ty = if k.pressed {
                        KEY_PRESS_EVENT
                    } else {
                        KEY_RELEASE_EVENT
                    };
                    self.fake(ty, (code + X_KEYCODE_OFFSET) as u8, 0, 0)?;
                }
                _ => self.dropped += 1,
            },
            InputEvent::PointerMotion { dx, dy } => {
                // detail = 1: relative motion.
                self.fake(MOTION_NOTIFY_EVENT, 1, dx as i16, dy as i16)?;
            }
            InputEvent::PointerPosition(p) => {
                let (x, y) = p.scale_to(self.size.0, self.size.1);
                self.move_to(x, y)?;
            }
            InputEvent::Button { button, pressed } => {
                let ty = if pressed {
                    BUTTON_PRESS_EVENT
                } else {
                    BUTTON_RELEASE_EVENT
                };
                self.fake(ty, x_button(button), 0, 0)?;
            }
            InputEvent::Scroll { axis, amount } => {
                let (i, pos, neg) = match axis {
                    ScrollAxis::Vertical => (0, 4, 5),
                    ScrollAxis::Horizontal => (1, 7, 6),
                };
                self.scroll_rest[i] += amount;
                let notches = self.scroll_rest[i] / SCROLL_NOTCH;
                self.scroll_rest[i] -= notches * SCROLL_NOTCH;
                let b = if notches > 0 { pos } else { neg };
                for _ in 0..notches.unsigned_abs() {
                    self.fake(BUTTON_PRESS_EVENT, b, 0, 0)?;
                    self.fake(BUTTON_RELEASE_EVENT, b, 0, 0)?;
                }
            }
            InputEvent::Touch(t) => {
                // The first contact drives the pointer with the left button; others drop.
                let (x, y) = self.normalised(t.x, t.y);
                match (t.phase, self.touch) {
                    (TouchPhase::Down, None) => {
                        self.touch = Some(t.pointer_id);
                        self.move_to(x, y)?;
                        self.fake(BUTTON_PRESS_EVENT, 1, 0, 0)?;
                    }
                    (TouchPhase::Move, Some(id)) if id == t.pointer_id => self.move_to(x, y)?,
                    (TouchPhase::Up | TouchPhase::Cancel, Some(id)) if id == t.pointer_id => {
                        self.touch = None;
                        self.fake(BUTTON_RELEASE_EVENT, 1, 0, 0)?;
                    }
                    (TouchPhase::CancelAll, Some(_)) => {
                        self.touch = None;
                        self.fake(BUTTON_RELEASE_EVENT, 1, 0, 0)?;
                    }
                    _ => self.dropped += 1,
                }
            }
            _ => self.dropped += 1,
        }
        self.conn.flush().map_err(xerr)?;
        Ok(())
    }

    fn poll_feedback(&mut self, _out: &mut Vec<Feedback>) -> Result<(), InputError> {
        Ok(())
    }
}
