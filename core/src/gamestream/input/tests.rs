use super::*;
use crate::input::Feedback;
use proptest::prelude::*;

fn ev(bytes: &[u8]) -> InputEvent {
    match parse_input_packet(bytes).unwrap() {
        InputPacket::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn hand_built_packets_parse_per_spec() {
    // Key down 'A' with Shift, moonlight-qt's 0x80 high byte, flags 0.
    let key = [0, 0, 0, 10, 3, 0, 0, 0, 0x00, 0x41, 0x80, 0x01, 0, 0];
    assert_eq!(
        ev(&key),
        InputEvent::Key(KeyEvent {
            vk: 0x41,
            pressed: true,
            modifiers: Modifiers::SHIFT,
            non_normalized: false
        })
    );
    // Relative motion: BE16 dx = -2, dy = 300.
    let rel = [0, 0, 0, 8, 7, 0, 0, 0, 0xFF, 0xFE, 0x01, 0x2C];
    assert_eq!(ev(&rel), InputEvent::PointerMotion { dx: -2, dy: 300 });
    // Absolute: x=100, y=200, ref 1919x1079 (client sends size minus 1).
    let abs = [
        0, 0, 0, 14, 5, 0, 0, 0, 0, 100, 0, 200, 0, 0, 0x07, 0x7F, 0x04, 0x37,
    ];
    assert_eq!(
        ev(&abs),
        InputEvent::PointerPosition(AbsolutePosition {
            x: 100,
            y: 200,
            width: 1919,
            height: 1079
        })
    );
    // Button 5 up = X2.
    let btn = [0, 0, 0, 5, 9, 0, 0, 0, 5];
    assert_eq!(
        ev(&btn),
        InputEvent::Button {
            button: MouseButton::X2,
            pressed: false
        }
    );
    // Vertical scroll -120 (BE16 twice), horizontal +60.
    let vs = [0, 0, 0, 10, 0x0A, 0, 0, 0, 0xFF, 0x88, 0xFF, 0x88, 0, 0];
    assert_eq!(
        ev(&vs),
        InputEvent::Scroll {
            axis: ScrollAxis::Vertical,
            amount: -120
        }
    );
    let hs = [0, 0, 0, 6, 1, 0, 0, 0x55, 0, 60];
    assert_eq!(
        ev(&hs),
        InputEvent::Scroll {
            axis: ScrollAxis::Horizontal,
            amount: 60
        }
    );
    // UTF-8 text "é": size = 4 + 2.
    let txt = [0, 0, 0, 6, 0x17, 0, 0, 0, 0xC3, 0xA9];
    assert_eq!(ev(&txt), InputEvent::Text(TextInput::new("é").unwrap()));
    // Enable haptics.
    assert_eq!(
        parse_input_packet(&[0, 0, 0, 6, 0x0D, 0, 0, 0, 1, 0]).unwrap(),
        InputPacket::EnableHaptics
    );
    // Battery: controller 2, charging, 0xFF percent = unknown.
    let bat = [0, 0, 0, 8, 7, 0, 0, 0x55, 2, 3, 0xFF, 0];
    assert_eq!(
        ev(&bat),
        InputEvent::GamepadBattery {
            index: 2,
            state: BatteryState::Charging,
            percent: None
        }
    );
}

#[test]
fn gamepad_state_packet_layout() {
    let state = GamepadState {
        buttons: GamepadButtons::A.union(GamepadButtons::PADDLE1),
        left_stick: (-32768, 32767),
        right_stick: (5, -5),
        left_trigger: 10,
        right_trigger: 255,
    };
    let mut out = [0u8; 34];
    assert_eq!(emit_gamepad_state(3, 0b1001, &state, &mut out).unwrap(), 34);
    assert_eq!(&out[0..8], &[0, 0, 0, 30, 0x0C, 0, 0, 0]);
    assert_eq!(&out[8..10], &[0x1A, 0]);
    assert_eq!(&out[10..12], &[3, 0]);
    assert_eq!(&out[12..14], &[0b1001, 0]);
    assert_eq!(&out[16..18], &[0x00, 0x10]); // A = 0x1000 low word
    assert_eq!(&out[18..20], &[10, 255]);
    assert_eq!(&out[20..22], &[0x00, 0x80]); // -32768
    assert_eq!(&out[30..32], &[0x01, 0x00]); // paddle 1 in the high word
    assert_eq!(&out[32..34], &[0x55, 0]);
    assert_eq!(
        parse_input_packet(&out).unwrap(),
        InputPacket::Gamepad {
            index: 3,
            active_mask: 0b1001,
            state
        }
    );
    out[10] = 16;
    assert!(matches!(
        parse_input_packet(&out),
        Err(InputError::InvalidField { .. })
    ));
}

#[test]
fn tracker_follows_sunshine_hotplug_rules() {
    let mut t = GamepadTracker::new();
    let mut got = Vec::new();
    let info = GamepadInfo {
        index: 1,
        kind: GamepadKind::PlayStation,
        capabilities: GamepadCapabilities::RUMBLE,
        supported_buttons: GamepadButtons::A,
    };
    // Arrival, then empty state with the pad's bit set.
    t.handle(InputPacket::Event(InputEvent::GamepadArrival(info)), |e| {
        got.push(e)
    });
    t.handle(
        InputPacket::Gamepad {
            index: 1,
            active_mask: 0b10,
            state: GamepadState::default(),
        },
        |e| got.push(e),
    );
    assert_eq!(
        got,
        vec![
            InputEvent::GamepadArrival(info),
            InputEvent::GamepadState {
                index: 1,
                state: GamepadState::default()
            },
        ]
    );
    // A second arrival for an existing pad is ignored.
    got.clear();
    t.handle(InputPacket::Event(InputEvent::GamepadArrival(info)), |e| {
        got.push(e)
    });
    assert!(got.is_empty());
    // Legacy client: a state packet for an unknown pad creates it first.
    t.handle(
        InputPacket::Gamepad {
            index: 0,
            active_mask: 0b11,
            state: GamepadState::default(),
        },
        |e| got.push(e),
    );
    assert!(matches!(
        got[0],
        InputEvent::GamepadArrival(GamepadInfo {
            index: 0,
            kind: GamepadKind::Unknown,
            ..
        })
    ));
    assert!(matches!(got[1], InputEvent::GamepadState { index: 0, .. }));
    assert_eq!(t.present(), 0b11);
    // Removal: bit clear; a repeat does nothing.
    got.clear();
    t.handle(
        InputPacket::Gamepad {
            index: 1,
            active_mask: 0b01,
            state: GamepadState::default(),
        },
        |e| got.push(e),
    );
    t.handle(
        InputPacket::Gamepad {
            index: 1,
            active_mask: 0b01,
            state: GamepadState::default(),
        },
        |e| got.push(e),
    );
    assert_eq!(got, vec![InputEvent::GamepadRemoval { index: 1 }]);
    assert_eq!(t.present(), 0b01);
    // Feedback type is re-exported for hosts; keep it used here.
    let _ = Feedback::Led {
        index: 0,
        r: 0,
        g: 0,
        b: 0,
    };
}

#[test]
fn errors_are_typed() {
    assert_eq!(parse_input_packet(&[0, 0, 0]), Err(InputError::Truncated));
    // size claims more than present
    assert_eq!(
        parse_input_packet(&[0, 0, 0, 20, 3, 0, 0, 0]),
        Err(InputError::Truncated)
    );
    // size below the header
    assert_eq!(
        parse_input_packet(&[0, 0, 0, 1, 3, 0, 0, 0]),
        Err(InputError::Truncated)
    );
    assert_eq!(
        parse_input_packet(&[0, 0, 0, 4, 0x99, 0, 0, 0]),
        Err(InputError::UnknownType(0x99))
    );
    assert!(matches!(
        parse_input_packet(&[0, 0, 0, 4, 3, 0, 0, 0]),
        Err(InputError::TooShort { need: 14, .. })
    ));
    assert_eq!(
        parse_input_packet(&[0, 0, 0, 5, 0x17, 0, 0, 0, 0xFF]),
        Err(InputError::InvalidUtf8)
    );
    assert!(matches!(
        parse_input_packet(&[0, 0, 0, 5, 8, 0, 0, 0, 9]),
        Err(InputError::InvalidField { .. })
    ));
    // NaN touch coordinate
    let mut touch = [0u8; 36];
    header(&mut touch, magic::TOUCH, 36).unwrap();
    touch[16..20].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(
        parse_input_packet(&touch),
        Err(InputError::InvalidField { field: "x", .. })
    ));
    // Trailing bytes beyond `size` are ignored.
    let btn = [0, 0, 0, 5, 8, 0, 0, 0, 1, 0xAA, 0xBB];
    assert_eq!(
        ev(&btn),
        InputEvent::Button {
            button: MouseButton::Left,
            pressed: true
        }
    );
}

fn f01() -> impl Strategy<Value = f32> {
    0.0f32..=1.0
}

fn arb_phase() -> impl Strategy<Value = TouchPhase> {
    (0u8..8).prop_map(|v| phase(v).unwrap())
}

fn arb_event() -> impl Strategy<Value = InputEvent> {
    prop_oneof![
        (any::<u8>(), any::<bool>(), 0u8..16, any::<bool>()).prop_map(|(vk, pressed, m, nn)| {
            InputEvent::Key(KeyEvent {
                vk,
                pressed,
                modifiers: Modifiers(m),
                non_normalized: nn,
            })
        }),
        "\\PC{0,16}".prop_map(|s| InputEvent::Text(TextInput::new(&s).unwrap())),
        (any::<i16>(), any::<i16>()).prop_map(|(dx, dy)| InputEvent::PointerMotion {
            dx: dx.into(),
            dy: dy.into()
        }),
        (any::<i16>(), any::<i16>(), 1i16.., 1i16..).prop_map(|(x, y, w, h)| {
            InputEvent::PointerPosition(AbsolutePosition {
                x: x.into(),
                y: y.into(),
                width: w as u32,
                height: h as u32,
            })
        }),
        (0usize..5, any::<bool>()).prop_map(|(b, pressed)| InputEvent::Button {
            button: [
                MouseButton::Left,
                MouseButton::Middle,
                MouseButton::Right,
                MouseButton::X1,
                MouseButton::X2
            ][b],
            pressed
        }),
        (any::<bool>(), any::<i16>()).prop_map(|(v, a)| InputEvent::Scroll {
            axis: if v {
                ScrollAxis::Vertical
            } else {
                ScrollAxis::Horizontal
            },
            amount: a.into()
        }),
        (0u8..16, 0u8..5, any::<u16>(), any::<u32>()).prop_map(|(index, k, c, b)| {
            InputEvent::GamepadArrival(GamepadInfo {
                index,
                kind: [
                    GamepadKind::Unknown,
                    GamepadKind::Xbox,
                    GamepadKind::PlayStation,
                    GamepadKind::Nintendo,
                    GamepadKind::Steam,
                ][k as usize],
                capabilities: GamepadCapabilities(c),
                supported_buttons: GamepadButtons(b),
            })
        }),
        (
            0u8..16,
            any::<bool>(),
            -50f32..50.0,
            -50f32..50.0,
            -50f32..50.0
        )
            .prop_map(|(index, g, x, y, z)| {
                InputEvent::GamepadMotion {
                    index,
                    sensor: if g {
                        MotionSensor::Gyroscope
                    } else {
                        MotionSensor::Accelerometer
                    },
                    xyz: [x, y, z],
                }
            }),
        (0u8..16, 0usize..6, proptest::option::of(0u8..=100)).prop_map(|(index, s, percent)| {
            InputEvent::GamepadBattery {
                index,
                state: [
                    BatteryState::Unknown,
                    BatteryState::NotPresent,
                    BatteryState::Discharging,
                    BatteryState::Charging,
                    BatteryState::NotCharging,
                    BatteryState::Full,
                ][s],
                percent,
            }
        }),
        (
            0u8..16,
            0u8..2,
            arb_phase(),
            any::<u32>(),
            f01(),
            f01(),
            f01()
        )
            .prop_map(|(index, touchpad, phase, pointer_id, x, y, pressure)| {
                InputEvent::GamepadTouch {
                    index,
                    touchpad,
                    touch: TouchEvent {
                        phase,
                        pointer_id,
                        x,
                        y,
                        pressure,
                        contact_major: 0.0,
                        contact_minor: 0.0,
                        orientation: None,
                    },
                }
            }),
        (
            arb_phase(),
            any::<u32>(),
            (f01(), f01(), f01(), f01(), f01()),
            proptest::option::of(0u16..360)
        )
            .prop_map(
                |(
                    phase,
                    pointer_id,
                    (x, y, pressure, contact_major, contact_minor),
                    orientation,
                )| {
                    InputEvent::Touch(TouchEvent {
                        phase,
                        pointer_id,
                        x,
                        y,
                        pressure,
                        contact_major,
                        contact_minor,
                        orientation,
                    })
                }
            ),
        (
            arb_phase(),
            0usize..3,
            0u8..8,
            (f01(), f01(), f01(), f01(), f01()),
            proptest::option::of(0u16..360),
            proptest::option::of(0u8..=90)
        )
            .prop_map(
                |(
                    phase,
                    t,
                    buttons,
                    (x, y, pressure, contact_major, contact_minor),
                    rotation,
                    tilt,
                )| {
                    InputEvent::Pen(PenEvent {
                        phase,
                        tool: [PenTool::Unknown, PenTool::Pen, PenTool::Eraser][t],
                        buttons: PenButtons(buttons),
                        x,
                        y,
                        pressure,
                        rotation,
                        tilt,
                        contact_major,
                        contact_minor,
                    })
                }
            ),
    ]
}

proptest! {
    #[test]
    fn emit_then_parse_round_trips(e in arb_event()) {
        let mut buf = [0u8; 128];
        let n = emit_input_packet(&e, &mut buf).unwrap();
        prop_assert_eq!(parse_input_packet(&buf[..n]).unwrap(), InputPacket::Event(e));
    }

    #[test]
    fn gamepad_state_round_trips(index in 0u8..16, mask in any::<u16>(), b in any::<u32>(), lt in any::<u8>(), rt in any::<u8>(), s in any::<[i16; 4]>()) {
        let state = GamepadState { buttons: GamepadButtons(b), left_trigger: lt, right_trigger: rt, left_stick: (s[0], s[1]), right_stick: (s[2], s[3]) };
        let mut buf = [0u8; 34];
        emit_gamepad_state(index, mask, &state, &mut buf).unwrap();
        prop_assert_eq!(parse_input_packet(&buf).unwrap(), InputPacket::Gamepad { index, active_mask: mask, state });
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        fuzz_one(&bytes);
    }

    #[test]
    fn parse_never_panics_with_valid_header(magic_i in 0usize..17, body in proptest::collection::vec(any::<u8>(), 0..40)) {
        let magics = [3u32, 4, 5, 7, 8, 9, 0x0A, 0x0C, 0x0D, 0x17, 0x5500_0001, 0x5500_0002, 0x5500_0003, 0x5500_0004, 0x5500_0005, 0x5500_0006, 0x5500_0007];
        let mut p = Vec::with_capacity(8 + body.len());
        p.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
        p.extend_from_slice(&magics[magic_i].to_le_bytes());
        p.extend_from_slice(&body);
        fuzz_one(&p);
    }
}
