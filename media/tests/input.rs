//! Input translation through the recording backend (what the uinput backend writes), the
//! uinput backend where /dev/uinput exists, and XTest for real under a private Xvfb.

use evdev::{AbsoluteAxisCode as Abs, EventType, KeyCode as Key, RelativeAxisCode as Rel};
use punktfunk_core::input::{
    AbsolutePosition, Feedback, GamepadButtons, GamepadCapabilities, GamepadInfo, GamepadKind,
    GamepadState, InputEvent, KeyEvent, Modifiers, MouseButton, PenButtons, PenEvent, PenTool,
    ScrollAxis, TouchEvent, TouchPhase, vk,
};
use punktfunk_media::input::recording::RecordingBackend;
use punktfunk_media::input::{Action, DeviceKind, InputBackend, InputError};

const KEY: u16 = EventType::KEY.0;
const ABS: u16 = EventType::ABSOLUTE.0;
const REL: u16 = EventType::RELATIVE.0;

fn key(vk: u8, pressed: bool) -> InputEvent {
    InputEvent::Key(KeyEvent {
        vk,
        pressed,
        modifiers: Modifiers::NONE,
        non_normalized: false,
    })
}

fn touch(phase: TouchPhase, id: u32, x: f32, y: f32) -> InputEvent {
    InputEvent::Touch(TouchEvent {
        phase,
        pointer_id: id,
        x,
        y,
        pressure: 1.0,
        contact_major: 0.0,
        contact_minor: 0.0,
        orientation: None,
    })
}

fn run(events: &[InputEvent]) -> (RecordingBackend, Vec<Action>) {
    let mut r = RecordingBackend::new();
    for e in events {
        r.handle(e).unwrap();
    }
    let a = r.take();
    (r, a)
}

#[test]
fn keys_become_evdev_keys_on_a_keyboard() {
    let (r, a) = run(&[key(vk::KEY_A, true), key(vk::KEY_A, false), key(0xFF, true)]);
    let kb = DeviceKind::Keyboard;
    assert_eq!(
        a,
        vec![
            Action::Create(kb),
            Action::Emit {
                device: kb,
                ty: KEY,
                code: Key::KEY_A.0,
                value: 1
            },
            Action::Sync(kb),
            Action::Emit {
                device: kb,
                ty: KEY,
                code: Key::KEY_A.0,
                value: 0
            },
            Action::Sync(kb),
        ]
    );
    assert_eq!(r.dropped(), 1, "unknown VK 0xFF is dropped, not guessed");
}

#[test]
fn mouse_motion_buttons_and_scroll() {
    let m = DeviceKind::Mouse;
    let (_, a) = run(&[
        InputEvent::PointerMotion { dx: 5, dy: -3 },
        InputEvent::Button {
            button: MouseButton::Right,
            pressed: true,
        },
        InputEvent::Scroll {
            axis: ScrollAxis::Vertical,
            amount: 60,
        },
        InputEvent::Scroll {
            axis: ScrollAxis::Vertical,
            amount: 60,
        },
        InputEvent::Scroll {
            axis: ScrollAxis::Horizontal,
            amount: -240,
        },
    ]);
    assert_eq!(
        RecordingBackend::emitted(&a, m),
        vec![
            (REL, Rel::REL_X.0, 5),
            (REL, Rel::REL_Y.0, -3),
            (KEY, Key::BTN_RIGHT.0, 1),
            (REL, Rel::REL_WHEEL_HI_RES.0, 60),
            // The second half notch completes one wheel click.
            (REL, Rel::REL_WHEEL_HI_RES.0, 60),
            (REL, Rel::REL_WHEEL.0, 1),
            (REL, Rel::REL_HWHEEL_HI_RES.0, -240),
            (REL, Rel::REL_HWHEEL.0, -2),
        ]
    );
    assert_eq!(a.iter().filter(|x| **x == Action::Sync(m)).count(), 5);
}

#[test]
fn absolute_pointer_scales_to_the_axis_range() {
    let (_, a) = run(&[InputEvent::PointerPosition(AbsolutePosition {
        x: 960,
        y: 540,
        width: 1920,
        height: 1080,
    })]);
    assert_eq!(
        RecordingBackend::emitted(&a, DeviceKind::AbsPointer),
        vec![(ABS, Abs::ABS_X.0, 32768), (ABS, Abs::ABS_Y.0, 32768)]
    );
}

#[test]
fn gamepads_xbox_and_dualsense_layouts_changes_only() {
    let info = |index, kind| {
        InputEvent::GamepadArrival(GamepadInfo {
            index,
            kind,
            capabilities: GamepadCapabilities::RUMBLE,
            supported_buttons: GamepadButtons(0xffff),
        })
    };
    let st = |buttons: GamepadButtons, ly: i16, lt: u8| GamepadState {
        buttons,
        left_stick: (0, ly),
        right_stick: (0, 0),
        left_trigger: lt,
        right_trigger: 0,
    };
    let (_, a) = run(&[
        info(0, GamepadKind::Xbox),
        info(1, GamepadKind::PlayStation),
        InputEvent::GamepadState {
            index: 0,
            state: st(GamepadButtons::A.union(GamepadButtons::DPAD_UP), 32767, 0),
        },
        InputEvent::GamepadState {
            index: 1,
            state: st(GamepadButtons::B, -32768, 200),
        },
        // Same state again: nothing new.
        InputEvent::GamepadState {
            index: 1,
            state: st(GamepadButtons::B, -32768, 200),
        },
        InputEvent::GamepadRemoval { index: 0 },
    ]);
    let (x, ds) = (DeviceKind::XboxPad(0), DeviceKind::DualSensePad(1));
    assert_eq!(a[0], Action::Create(x));
    assert_eq!(a[1], Action::Create(ds));
    assert_eq!(
        RecordingBackend::emitted(&a, x),
        vec![
            (KEY, Key::BTN_SOUTH.0, 1),
            (ABS, Abs::ABS_HAT0Y.0, -1),
            // XInput up (+32767) is evdev up (negative).
            (ABS, Abs::ABS_Y.0, -32768),
        ]
    );
    assert_eq!(
        RecordingBackend::emitted(&a, ds),
        vec![
            (KEY, Key::BTN_EAST.0, 1),
            // DualSense sticks run 0..=255, down = 255.
            (ABS, Abs::ABS_Y.0, 255),
            (ABS, Abs::ABS_Z.0, 200),
            (KEY, Key::BTN_TL2.0, 1),
        ]
    );
    assert_eq!(a.iter().filter(|x| **x == Action::Sync(ds)).count(), 1);
    assert_eq!(*a.last().unwrap(), Action::Destroy(x));
}

#[test]
fn multitouch_slots_and_tracking_ids() {
    let d = DeviceKind::Touchscreen;
    let (_, a) = run(&[
        touch(TouchPhase::Down, 7, 0.0, 0.0),
        touch(TouchPhase::Down, 9, 1.0, 1.0),
        touch(TouchPhase::Move, 9, 0.5, 0.5),
        touch(TouchPhase::Up, 7, 0.0, 0.0),
        touch(TouchPhase::Up, 9, 0.0, 0.0),
        touch(TouchPhase::Move, 9, 0.1, 0.1), // unknown contact: dropped
    ]);
    let e = RecordingBackend::emitted(&a, d);
    let slot = |s| (ABS, Abs::ABS_MT_SLOT.0, s);
    let tid = |t| (ABS, Abs::ABS_MT_TRACKING_ID.0, t);
    // First contact: slot 0, tracking id 0, BTN_TOUCH down.
    assert_eq!(&e[..2], &[slot(0), tid(0)]);
    assert!(e.contains(&(KEY, Key::BTN_TOUCH.0, 1)));
    // Second contact: slot 1, tracking id 1, at full scale.
    let i = e.iter().position(|x| *x == slot(1)).unwrap();
    assert_eq!(e[i + 1], tid(1));
    assert!(e.contains(&(ABS, Abs::ABS_MT_POSITION_X.0, 65535)));
    assert!(e.contains(&(ABS, Abs::ABS_MT_POSITION_Y.0, 32768)));
    // Lifting both releases both slots, BTN_TOUCH up only at the end.
    let ups: Vec<_> = e.iter().filter(|x| **x == tid(-1)).collect();
    assert_eq!(ups.len(), 2);
    assert_eq!(e.last(), Some(&(KEY, Key::BTN_TOUCH.0, 0)));
    assert_eq!(e.iter().filter(|x| x.1 == Key::BTN_TOUCH.0).count(), 2);
}

#[test]
fn pen_hover_touch_and_leave() {
    let pen = |phase, pressure, buttons| {
        InputEvent::Pen(PenEvent {
            phase,
            tool: PenTool::Pen,
            buttons,
            x: 0.25,
            y: 0.75,
            pressure,
            rotation: None,
            tilt: None,
            contact_major: 0.0,
            contact_minor: 0.0,
        })
    };
    let (_, a) = run(&[
        pen(TouchPhase::Hover, 0.0, PenButtons(0)),
        pen(TouchPhase::Down, 0.5, PenButtons::PRIMARY),
        pen(TouchPhase::Up, 0.0, PenButtons(0)),
        pen(TouchPhase::HoverLeave, 0.0, PenButtons(0)),
    ]);
    let e = RecordingBackend::emitted(&a, DeviceKind::Pen);
    assert_eq!(e[0], (KEY, Key::BTN_TOOL_PEN.0, 1));
    assert!(e.contains(&(ABS, Abs::ABS_X.0, 16384)));
    assert!(e.contains(&(ABS, Abs::ABS_PRESSURE.0, 2048)));
    assert!(e.contains(&(KEY, Key::BTN_STYLUS.0, 1)));
    let touches: Vec<i32> = e
        .iter()
        .filter(|x| x.1 == Key::BTN_TOUCH.0)
        .map(|x| x.2)
        .collect();
    assert_eq!(touches, vec![1, 0]);
    assert_eq!(e.last(), Some(&(KEY, Key::BTN_TOOL_PEN.0, 0)));
}

#[test]
fn rumble_feedback_flows_back() {
    let mut r = RecordingBackend::new();
    r.simulate_rumble(2, 1000, 2000);
    let mut fb = Vec::new();
    r.poll_feedback(&mut fb).unwrap();
    assert_eq!(
        fb,
        vec![Feedback::Rumble {
            index: 2,
            low_freq: 1000,
            high_freq: 2000
        }]
    );
    fb.clear();
    r.poll_feedback(&mut fb).unwrap();
    assert!(fb.is_empty());
}

#[test]
fn uinput_backend_or_skip() {
    use punktfunk_media::input::uinput::UinputBackend;
    match UinputBackend::new() {
        Err(InputError::Unavailable(why)) => eprintln!("SKIP uinput: {why}"),
        Err(e) => panic!("{e}"),
        Ok(mut b) => {
            // Devices get created and written; rumble polling never blocks.
            b.handle(&key(vk::KEY_A, true)).unwrap();
            b.handle(&key(vk::KEY_A, false)).unwrap();
            b.handle(&InputEvent::GamepadState {
                index: 0,
                state: GamepadState::default(),
            })
            .unwrap();
            let mut fb = Vec::new();
            b.poll_feedback(&mut fb).unwrap();
            assert!(fb.is_empty());
        }
    }
}

mod xtest {
    use super::*;
    use punktfunk_media::headless::Xvfb;
    use punktfunk_media::input::xtest::XTestBackend;
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ConnectionExt, KeyButMask};

    /// Injects and waits until the server processed it (queries use another connection).
    fn h(b: &mut XTestBackend, e: &InputEvent) {
        b.handle(e).unwrap();
        b.sync().unwrap();
    }

    #[test]
    fn injects_pointer_buttons_keys_and_touch() {
        let x = match Xvfb::start(800, 600) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("SKIP: {e}");
                return;
            }
        };
        let mut b = XTestBackend::connect(Some(x.display())).unwrap();
        let (conn, n) = x11rb::connect(Some(x.display())).unwrap();
        let root = conn.setup().roots[n].root;
        // No pointer acceleration: relative motion lands exactly.
        conn.change_pointer_control(1, 1, 0, true, true)
            .unwrap()
            .check()
            .unwrap();
        let pointer = || {
            let r = conn.query_pointer(root).unwrap().reply().unwrap();
            (r.root_x, r.root_y, r.mask)
        };
        let key_down = |code: u8| {
            let km = conn.query_keymap().unwrap().reply().unwrap().keys;
            km[code as usize / 8] & (1 << (code % 8)) != 0
        };

        h(
            &mut b,
            &InputEvent::PointerPosition(AbsolutePosition {
                x: 500,
                y: 250,
                width: 1000,
                height: 1000,
            }),
        );
        let p = pointer();
        assert_eq!((p.0, p.1), (400, 150));
        h(&mut b, &InputEvent::PointerMotion { dx: 10, dy: -20 });
        let p = pointer();
        assert_eq!((p.0, p.1), (410, 130));

        h(
            &mut b,
            &InputEvent::Button {
                button: MouseButton::Left,
                pressed: true,
            },
        );
        assert!(pointer().2.contains(KeyButMask::BUTTON1));
        h(
            &mut b,
            &InputEvent::Button {
                button: MouseButton::Left,
                pressed: false,
            },
        );
        assert!(!pointer().2.contains(KeyButMask::BUTTON1));

        // 'A' = evdev KEY_A (30) = X keycode 38, which the server maps to keysym 'a'.
        let min = conn.setup().min_keycode;
        let map = conn.get_keyboard_mapping(38, 1).unwrap().reply().unwrap();
        assert!(min <= 38);
        assert_eq!(map.keysyms.first(), Some(&0x61), "keycode 38 is 'a'");
        h(&mut b, &key(vk::KEY_A, true));
        assert!(key_down(38));
        h(&mut b, &key(vk::KEY_A, false));
        assert!(!key_down(38));
        h(&mut b, &key(vk::LSHIFT, true));
        assert!(pointer().2.contains(KeyButMask::SHIFT));
        h(&mut b, &key(vk::LSHIFT, false));

        // A touch drives the pointer with button 1.
        h(&mut b, &touch(TouchPhase::Down, 3, 0.5, 0.5));
        let p = pointer();
        assert_eq!((p.0, p.1), (400, 300));
        assert!(p.2.contains(KeyButMask::BUTTON1));
        h(&mut b, &touch(TouchPhase::Move, 3, 0.25, 0.25));
        assert_eq!(pointer().0, 200);
        h(&mut b, &touch(TouchPhase::Up, 3, 0.25, 0.25));
        assert!(!pointer().2.contains(KeyButMask::BUTTON1));

        // Gamepads cannot go through XTest: counted as dropped.
        h(&mut b, &InputEvent::GamepadRemoval { index: 0 });
        assert_eq!(b.dropped, 1);
    }
}
