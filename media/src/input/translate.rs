//! Core input events → evdev-level actions (Linux input-event codes from the `evdev`
//! crate). Stateful: tracks created devices, gamepad state (only changes are emitted),
//! touch slots and scroll remainders.

use std::collections::BTreeSet;

use evdev::{AbsoluteAxisCode as Abs, EventType, KeyCode as Key, RelativeAxisCode as Rel};
use punktfunk_core::input::{
    GamepadButtons, GamepadKind, GamepadState, InputEvent, MAX_GAMEPADS, PenButtons, PenEvent,
    PenTool, SCROLL_NOTCH, ScrollAxis, TouchEvent, TouchPhase, vk_to_evdev,
};

use super::{Action, DeviceKind};

/// Absolute axes of pointer, touch and pen devices run `0..=ABS_MAX`.
pub const ABS_MAX: i32 = 65_535;
/// Pen pressure runs `0..=PRESSURE_MAX`.
pub const PRESSURE_MAX: i32 = 4_096;
/// Touch slots of the virtual touchscreen.
pub const TOUCH_SLOTS: usize = 10;

/// Xbox layout: core button → evdev key (xpad).
pub const XBOX_BUTTONS: [(GamepadButtons, Key); 11] = [
    (GamepadButtons::A, Key::BTN_SOUTH),
    (GamepadButtons::B, Key::BTN_EAST),
    (GamepadButtons::X, Key::BTN_NORTH),
    (GamepadButtons::Y, Key::BTN_WEST),
    (GamepadButtons::LEFT_SHOULDER, Key::BTN_TL),
    (GamepadButtons::RIGHT_SHOULDER, Key::BTN_TR),
    (GamepadButtons::BACK, Key::BTN_SELECT),
    (GamepadButtons::START, Key::BTN_START),
    (GamepadButtons::GUIDE, Key::BTN_MODE),
    (GamepadButtons::LEFT_STICK, Key::BTN_THUMBL),
    (GamepadButtons::RIGHT_STICK, Key::BTN_THUMBR),
];

/// Gamepad style a `GamepadKind` gets.
pub fn pad_device(index: u8, kind: GamepadKind) -> DeviceKind {
    match kind {
        GamepadKind::PlayStation => DeviceKind::DualSensePad(index),
        _ => DeviceKind::XboxPad(index),
    }
}

/// Turns events into actions.
#[derive(Debug, Default)]
pub struct Translator {
    created: BTreeSet<DeviceKind>,
    pads: [Option<(DeviceKind, GamepadState)>; MAX_GAMEPADS as usize],
    /// pointer id per touch slot.
    slots: [Option<u32>; TOUCH_SLOTS],
    next_tracking_id: i32,
    scroll_rest: [i32; 2],
    pen_down: bool,
    pen_in_range: Option<PenTool>,
    /// Events that could not be translated (unknown keys, out-of-range pads, text).
    pub dropped: u64,
}

struct Out<'a, F: FnMut(Action)> {
    t: &'a mut BTreeSet<DeviceKind>,
    f: F,
}

impl<F: FnMut(Action)> Out<'_, F> {
    fn ensure(&mut self, d: DeviceKind) {
        if self.t.insert(d) {
            (self.f)(Action::Create(d));
        }
    }
    fn emit(&mut self, device: DeviceKind, ty: EventType, code: u16, value: i32) {
        self.ensure(device);
        (self.f)(Action::Emit {
            device,
            ty: ty.0,
            code,
            value,
        });
    }
    fn key(&mut self, d: DeviceKind, k: Key, v: i32) {
        self.emit(d, EventType::KEY, k.0, v)
    }
    fn abs(&mut self, d: DeviceKind, a: Abs, v: i32) {
        self.emit(d, EventType::ABSOLUTE, a.0, v)
    }
    fn rel(&mut self, d: DeviceKind, r: Rel, v: i32) {
        self.emit(d, EventType::RELATIVE, r.0, v)
    }
    fn sync(&mut self, d: DeviceKind) {
        (self.f)(Action::Sync(d));
    }
}

fn norm(v: f32) -> i32 {
    (v.clamp(0.0, 1.0) * ABS_MAX as f32).round() as i32
}

impl Translator {
    /// A translator with no devices yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Translates one event; every resulting action goes to `out`.
    pub fn translate(&mut self, ev: &InputEvent, out: impl FnMut(Action)) {
        let mut created = std::mem::take(&mut self.created);
        let mut o = Out {
            t: &mut created,
            f: out,
        };
        self.dispatch(ev, &mut o);
        self.created = created;
    }

    fn dispatch<F: FnMut(Action)>(&mut self, ev: &InputEvent, o: &mut Out<'_, F>) {
        match *ev {
            InputEvent::Key(k) => match vk_to_evdev(k.vk) {
                Some(code) => {
                    o.emit(DeviceKind::Keyboard, EventType::KEY, code, k.pressed as i32);
                    o.sync(DeviceKind::Keyboard);
                }
                None => self.dropped += 1,
            },
            InputEvent::Text(_) => self.dropped += 1,
            InputEvent::PointerMotion { dx, dy } => {
                let m = DeviceKind::Mouse;
                if dx != 0 {
                    o.rel(m, Rel::REL_X, dx);
                }
                if dy != 0 {
                    o.rel(m, Rel::REL_Y, dy);
                }
                o.sync(m);
            }
            InputEvent::PointerPosition(p) => {
                let (x, y) = p.scale_to(ABS_MAX as u32 + 1, ABS_MAX as u32 + 1);
                let d = DeviceKind::AbsPointer;
                o.abs(d, Abs::ABS_X, x as i32);
                o.abs(d, Abs::ABS_Y, y as i32);
                o.sync(d);
            }
            InputEvent::Button { button, pressed } => {
                o.emit(
                    DeviceKind::Mouse,
                    EventType::KEY,
                    button.evdev_code(),
                    pressed as i32,
                );
                o.sync(DeviceKind::Mouse);
            }
            InputEvent::Scroll { axis, amount } => {
                let (i, hi, lo) = match axis {
                    ScrollAxis::Vertical => (0, Rel::REL_WHEEL_HI_RES, Rel::REL_WHEEL),
                    ScrollAxis::Horizontal => (1, Rel::REL_HWHEEL_HI_RES, Rel::REL_HWHEEL),
                };
                let m = DeviceKind::Mouse;
                o.rel(m, hi, amount);
                self.scroll_rest[i] += amount;
                let notches = self.scroll_rest[i] / SCROLL_NOTCH;
                if notches != 0 {
                    self.scroll_rest[i] -= notches * SCROLL_NOTCH;
                    o.rel(m, lo, notches);
                }
                o.sync(m);
            }
            InputEvent::GamepadArrival(info) => {
                let Some(slot) = self.pads.get_mut(info.index as usize) else {
                    self.dropped += 1;
                    return;
                };
                let d = pad_device(info.index, info.kind);
                if let Some((old, _)) = slot.take()
                    && old != d
                {
                    o.t.remove(&old);
                    (o.f)(Action::Destroy(old));
                }
                o.ensure(d);
                *slot = Some((d, GamepadState::default()));
            }
            InputEvent::GamepadRemoval { index } => {
                if let Some((d, _)) = self.pads.get_mut(index as usize).and_then(Option::take) {
                    o.t.remove(&d);
                    (o.f)(Action::Destroy(d));
                }
            }
            InputEvent::GamepadState { index, state } => {
                let Some(slot) = self.pads.get_mut(index as usize) else {
                    self.dropped += 1;
                    return;
                };
                let (d, prev) =
                    *slot.get_or_insert((DeviceKind::XboxPad(index), GamepadState::default()));
                let full = !o.t.contains(&d);
                if state != prev || full {
                    pad_state(o, d, &prev, &state, full);
                    o.sync(d);
                }
                *slot = Some((d, state));
            }
            InputEvent::Touch(t) => self.touch(o, &t),
            InputEvent::Pen(p) => self.pen(o, &p),
            // Motion sensors, battery and gamepad touchpads need the DualSense's extra
            // devices (motion, touchpad); not modelled yet.
            InputEvent::GamepadMotion { .. }
            | InputEvent::GamepadBattery { .. }
            | InputEvent::GamepadTouch { .. } => self.dropped += 1,
        }
    }

    fn touch<F: FnMut(Action)>(&mut self, o: &mut Out<'_, F>, t: &TouchEvent) {
        let d = DeviceKind::Touchscreen;
        let active_before = self.slots.iter().any(Option::is_some);
        let release = |o: &mut Out<'_, F>, slot: usize| {
            o.abs(d, Abs::ABS_MT_SLOT, slot as i32);
            o.abs(d, Abs::ABS_MT_TRACKING_ID, -1);
        };
        match t.phase {
            TouchPhase::Down | TouchPhase::Move => {
                let slot = match self.slots.iter().position(|s| *s == Some(t.pointer_id)) {
                    Some(s) => s,
                    None if t.phase == TouchPhase::Down => {
                        let Some(free) = self.slots.iter().position(Option::is_none) else {
                            self.dropped += 1;
                            return;
                        };
                        self.slots[free] = Some(t.pointer_id);
                        o.abs(d, Abs::ABS_MT_SLOT, free as i32);
                        o.abs(d, Abs::ABS_MT_TRACKING_ID, self.next_tracking_id);
                        self.next_tracking_id = (self.next_tracking_id + 1) & 0xffff;
                        free
                    }
                    None => {
                        self.dropped += 1;
                        return;
                    }
                };
                let (x, y) = (norm(t.x), norm(t.y));
                o.abs(d, Abs::ABS_MT_SLOT, slot as i32);
                o.abs(d, Abs::ABS_MT_POSITION_X, x);
                o.abs(d, Abs::ABS_MT_POSITION_Y, y);
                o.abs(
                    d,
                    Abs::ABS_MT_PRESSURE,
                    (t.pressure.clamp(0.0, 1.0) * 255.0) as i32,
                );
                if slot == self.slots.iter().position(Option::is_some).unwrap_or(slot) {
                    // Single-touch emulation follows the first active contact.
                    o.abs(d, Abs::ABS_X, x);
                    o.abs(d, Abs::ABS_Y, y);
                }
            }
            TouchPhase::Up | TouchPhase::Cancel => {
                match self.slots.iter().position(|s| *s == Some(t.pointer_id)) {
                    Some(s) => {
                        self.slots[s] = None;
                        release(o, s);
                    }
                    None => {
                        self.dropped += 1;
                        return;
                    }
                }
            }
            TouchPhase::CancelAll => {
                for s in 0..TOUCH_SLOTS {
                    if self.slots[s].take().is_some() {
                        release(o, s);
                    }
                }
            }
            TouchPhase::Hover | TouchPhase::HoverLeave | TouchPhase::ButtonOnly => {
                self.dropped += 1;
                return;
            }
        }
        let active = self.slots.iter().any(Option::is_some);
        if active != active_before {
            o.key(d, Key::BTN_TOUCH, active as i32);
        }
        o.sync(d);
    }

    fn pen<F: FnMut(Action)>(&mut self, o: &mut Out<'_, F>, p: &PenEvent) {
        let d = DeviceKind::Pen;
        let tool = match p.tool {
            PenTool::Eraser => Key::BTN_TOOL_RUBBER,
            _ => Key::BTN_TOOL_PEN,
        };
        let leaving = matches!(
            p.phase,
            TouchPhase::HoverLeave | TouchPhase::Cancel | TouchPhase::CancelAll
        );
        if leaving {
            if self.pen_down {
                o.key(d, Key::BTN_TOUCH, 0);
                o.abs(d, Abs::ABS_PRESSURE, 0);
                self.pen_down = false;
            }
            if let Some(t) = self.pen_in_range.take() {
                let k = if t == PenTool::Eraser {
                    Key::BTN_TOOL_RUBBER
                } else {
                    Key::BTN_TOOL_PEN
                };
                o.key(d, k, 0);
            }
            o.sync(d);
            return;
        }
        if self.pen_in_range != Some(p.tool) {
            if let Some(old) = self.pen_in_range.replace(p.tool) {
                let k = if old == PenTool::Eraser {
                    Key::BTN_TOOL_RUBBER
                } else {
                    Key::BTN_TOOL_PEN
                };
                o.key(d, k, 0);
            }
            o.key(d, tool, 1);
        }
        o.abs(d, Abs::ABS_X, norm(p.x));
        o.abs(d, Abs::ABS_Y, norm(p.y));
        let down = match p.phase {
            TouchPhase::Down => true,
            TouchPhase::Move => self.pen_down,
            _ => false,
        };
        o.abs(
            d,
            Abs::ABS_PRESSURE,
            if down {
                (p.pressure.clamp(0.0, 1.0) * PRESSURE_MAX as f32) as i32
            } else {
                0
            },
        );
        if let (Some(tilt), Some(rot)) = (p.tilt, p.rotation) {
            let (s, c) = (rot as f32).to_radians().sin_cos();
            o.abs(d, Abs::ABS_TILT_X, (tilt as f32 * s).round() as i32);
            o.abs(d, Abs::ABS_TILT_Y, (-(tilt as f32) * c).round() as i32);
        }
        if down != self.pen_down {
            o.key(d, Key::BTN_TOUCH, down as i32);
            self.pen_down = down;
        }
        o.key(
            d,
            Key::BTN_STYLUS,
            p.buttons.contains(PenButtons::PRIMARY) as i32,
        );
        o.key(
            d,
            Key::BTN_STYLUS2,
            p.buttons.contains(PenButtons::SECONDARY) as i32,
        );
        o.sync(d);
    }
}

/// Emits the changes between two gamepad states (all values when `full`).
fn pad_state<F: FnMut(Action)>(
    o: &mut Out<'_, F>,
    d: DeviceKind,
    prev: &GamepadState,
    s: &GamepadState,
    full: bool,
) {
    let dualsense = matches!(d, DeviceKind::DualSensePad(_));
    for (b, k) in XBOX_BUTTONS {
        let (was, is) = (prev.buttons.contains(b), s.buttons.contains(b));
        if full || was != is {
            o.key(d, k, is as i32);
        }
    }
    let hat = |neg: GamepadButtons, pos: GamepadButtons, st: &GamepadState| {
        st.buttons.contains(pos) as i32 - st.buttons.contains(neg) as i32
    };
    for (axis, neg, pos) in [
        (
            Abs::ABS_HAT0X,
            GamepadButtons::DPAD_LEFT,
            GamepadButtons::DPAD_RIGHT,
        ),
        (
            Abs::ABS_HAT0Y,
            GamepadButtons::DPAD_UP,
            GamepadButtons::DPAD_DOWN,
        ),
    ] {
        let (a, b) = (hat(neg, pos, prev), hat(neg, pos, s));
        if full || a != b {
            o.abs(d, axis, b);
        }
    }
    // Sticks: XInput has up positive; evdev has down positive. DualSense reports 0..=255.
    let stick = |v: i16, invert: bool| -> i32 {
        let v = if invert { -(v as i32) - 1 } else { v as i32 }.clamp(-32768, 32767);
        if dualsense { (v + 32768) >> 8 } else { v }
    };
    let axes = [
        (Abs::ABS_X, prev.left_stick.0, s.left_stick.0, false),
        (Abs::ABS_Y, prev.left_stick.1, s.left_stick.1, true),
        (Abs::ABS_RX, prev.right_stick.0, s.right_stick.0, false),
        (Abs::ABS_RY, prev.right_stick.1, s.right_stick.1, true),
    ];
    for (axis, a, b, inv) in axes {
        if full || a != b {
            o.abs(d, axis, stick(b, inv));
        }
    }
    for (axis, key, a, b) in [
        (Abs::ABS_Z, Key::BTN_TL2, prev.left_trigger, s.left_trigger),
        (
            Abs::ABS_RZ,
            Key::BTN_TR2,
            prev.right_trigger,
            s.right_trigger,
        ),
    ] {
        if full || a != b {
            o.abs(d, axis, b as i32);
            if dualsense && (full || (a > 0) != (b > 0)) {
                o.key(d, key, (b > 0) as i32);
            }
        }
    }
}
