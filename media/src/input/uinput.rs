//! The uinput backend: real kernel input devices (evdev crate) for keyboard, mouse,
//! absolute pointer, touchscreen, pen and Xbox/DualSense-style gamepads with rumble read
//! back from force-feedback uploads. Needs `/dev/uinput`; where it is missing
//! [`UinputBackend::new`] returns [`InputError::Unavailable`] and the host falls back.

use std::collections::BTreeMap;

use evdev::uinput::VirtualDevice;
use evdev::{
    AbsInfo, AbsoluteAxisCode as Abs, AttributeSet, BusType, EventSummary, FFEffectCode,
    FFEffectKind, InputId, KeyCode as Key, PropType, RelativeAxisCode as Rel, UInputCode,
    UinputAbsSetup,
};
use punktfunk_core::input::{Feedback, InputEvent};

use super::translate::{ABS_MAX, PRESSURE_MAX, TOUCH_SLOTS, Translator, XBOX_BUTTONS};
use super::{Action, DeviceKind, InputBackend, InputError};

const UINPUT: &str = "/dev/uinput";

fn dev_err(e: std::io::Error) -> InputError {
    InputError::Device(e.to_string())
}

/// Whether this machine can create uinput devices, and why not.
pub fn availability() -> Result<(), InputError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(UINPUT)
        .map(|_| ())
        .map_err(|e| InputError::Unavailable(format!("{UINPUT}: {e}")))
}

struct Pad {
    dev: VirtualDevice,
    /// Uploaded rumble effects: id → (strong, weak).
    effects: BTreeMap<i16, (u16, u16)>,
}

/// Kernel devices driven by translated events.
pub struct UinputBackend {
    translator: Translator,
    devices: BTreeMap<DeviceKind, Pad>,
    actions: Vec<Action>,
    batch: BTreeMap<DeviceKind, Vec<evdev::InputEvent>>,
}

impl UinputBackend {
    /// Checks `/dev/uinput`; devices are created when first used.
    pub fn new() -> Result<Self, InputError> {
        availability()?;
        Ok(Self {
            translator: Translator::new(),
            devices: BTreeMap::new(),
            actions: Vec::new(),
            batch: BTreeMap::new(),
        })
    }
}

fn abs(code: Abs, min: i32, max: i32, value: i32) -> UinputAbsSetup {
    UinputAbsSetup::new(code, AbsInfo::new(value, min, max, 0, 0, 0))
}

fn keys(list: &[Key]) -> AttributeSet<Key> {
    list.iter().copied().collect()
}

/// Builds the kernel device for `kind`.
fn build(kind: DeviceKind) -> std::io::Result<VirtualDevice> {
    let b = VirtualDevice::builder()?;
    match kind {
        DeviceKind::Keyboard => {
            let all: AttributeSet<Key> = (1..=248u16).map(Key).collect();
            b.name("punktfunk keyboard").with_keys(&all)?.build()
        }
        DeviceKind::Mouse => {
            let rel: AttributeSet<Rel> = [
                Rel::REL_X,
                Rel::REL_Y,
                Rel::REL_WHEEL,
                Rel::REL_HWHEEL,
                Rel::REL_WHEEL_HI_RES,
                Rel::REL_HWHEEL_HI_RES,
            ]
            .into_iter()
            .collect();
            b.name("punktfunk mouse")
                .with_keys(&keys(&[
                    Key::BTN_LEFT,
                    Key::BTN_RIGHT,
                    Key::BTN_MIDDLE,
                    Key::BTN_SIDE,
                    Key::BTN_EXTRA,
                ]))?
                .with_relative_axes(&rel)?
                .build()
        }
        DeviceKind::AbsPointer => b
            .name("punktfunk absolute pointer")
            .with_keys(&keys(&[Key::BTN_LEFT, Key::BTN_RIGHT, Key::BTN_MIDDLE]))?
            .with_absolute_axis(&abs(Abs::ABS_X, 0, ABS_MAX, 0))?
            .with_absolute_axis(&abs(Abs::ABS_Y, 0, ABS_MAX, 0))?
            .build(),
        DeviceKind::Touchscreen => {
            let props: AttributeSet<PropType> = [PropType::DIRECT].into_iter().collect();
            b.name("punktfunk touchscreen")
                .with_properties(&props)?
                .with_keys(&keys(&[Key::BTN_TOUCH]))?
                .with_absolute_axis(&abs(Abs::ABS_X, 0, ABS_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_Y, 0, ABS_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_MT_SLOT, 0, TOUCH_SLOTS as i32 - 1, 0))?
                .with_absolute_axis(&abs(Abs::ABS_MT_TRACKING_ID, -1, 0xffff, -1))?
                .with_absolute_axis(&abs(Abs::ABS_MT_POSITION_X, 0, ABS_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_MT_POSITION_Y, 0, ABS_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_MT_PRESSURE, 0, 255, 0))?
                .build()
        }
        DeviceKind::Pen => {
            let props: AttributeSet<PropType> = [PropType::DIRECT].into_iter().collect();
            b.name("punktfunk pen")
                .with_properties(&props)?
                .with_keys(&keys(&[
                    Key::BTN_TOOL_PEN,
                    Key::BTN_TOOL_RUBBER,
                    Key::BTN_TOUCH,
                    Key::BTN_STYLUS,
                    Key::BTN_STYLUS2,
                ]))?
                .with_absolute_axis(&abs(Abs::ABS_X, 0, ABS_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_Y, 0, ABS_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_PRESSURE, 0, PRESSURE_MAX, 0))?
                .with_absolute_axis(&abs(Abs::ABS_TILT_X, -90, 90, 0))?
                .with_absolute_axis(&abs(Abs::ABS_TILT_Y, -90, 90, 0))?
                .build()
        }
        DeviceKind::XboxPad(_) | DeviceKind::DualSensePad(_) => {
            let ds = matches!(kind, DeviceKind::DualSensePad(_));
            let mut k: Vec<Key> = XBOX_BUTTONS.iter().map(|(_, k)| *k).collect();
            if ds {
                k.extend([Key::BTN_TL2, Key::BTN_TR2]);
            }
            let ff: AttributeSet<FFEffectCode> = [FFEffectCode::FF_RUMBLE].into_iter().collect();
            let (smin, smax, center) = if ds {
                (0, 255, 128)
            } else {
                (-32768, 32767, 0)
            };
            let (name, id) = if ds {
                (
                    "punktfunk DualSense",
                    InputId::new(BusType::BUS_USB, 0x054c, 0x0ce6, 0x8111),
                )
            } else {
                (
                    "punktfunk Xbox pad",
                    InputId::new(BusType::BUS_USB, 0x045e, 0x028e, 0x0114),
                )
            };
            let mut b = b.name(name).input_id(id).with_keys(&keys(&k))?;
            for a in [Abs::ABS_X, Abs::ABS_Y, Abs::ABS_RX, Abs::ABS_RY] {
                b = b.with_absolute_axis(&abs(a, smin, smax, center))?;
            }
            for a in [Abs::ABS_Z, Abs::ABS_RZ] {
                b = b.with_absolute_axis(&abs(a, 0, 255, 0))?;
            }
            for a in [Abs::ABS_HAT0X, Abs::ABS_HAT0Y] {
                b = b.with_absolute_axis(&abs(a, -1, 1, 0))?;
            }
            let dev = b.with_ff(&ff)?.with_ff_effects_max(16).build()?;
            // Feedback is polled between events: never block on the device.
            rustix::fs::fcntl_setfl(&dev, rustix::fs::OFlags::NONBLOCK)?;
            Ok(dev)
        }
    }
}

impl InputBackend for UinputBackend {
    fn handle(&mut self, event: &InputEvent) -> Result<(), InputError> {
        let actions = &mut self.actions;
        self.translator.translate(event, |a| actions.push(a));
        for a in self.actions.drain(..) {
            match a {
                Action::Create(k) => {
                    let dev = build(k).map_err(dev_err)?;
                    self.devices.insert(
                        k,
                        Pad {
                            dev,
                            effects: BTreeMap::new(),
                        },
                    );
                }
                Action::Destroy(k) => {
                    self.devices.remove(&k);
                    self.batch.remove(&k);
                }
                Action::Emit {
                    device,
                    ty,
                    code,
                    value,
                } => self
                    .batch
                    .entry(device)
                    .or_default()
                    .push(evdev::InputEvent::new(ty, code, value)),
                Action::Sync(k) => {
                    let events = self.batch.entry(k).or_default();
                    if let Some(p) = self.devices.get_mut(&k) {
                        // `emit` appends the SYN_REPORT.
                        p.dev.emit(events).map_err(dev_err)?;
                    }
                    events.clear();
                }
            }
        }
        Ok(())
    }

    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) -> Result<(), InputError> {
        for (kind, pad) in &mut self.devices {
            let Some(index) = kind.pad_index() else {
                continue;
            };
            let events: Vec<evdev::InputEvent> = match pad.dev.fetch_events() {
                Ok(it) => it.collect(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(dev_err(e)),
            };
            for ev in events {
                match ev.destructure() {
                    EventSummary::UInput(u, UInputCode::UI_FF_UPLOAD, _) => {
                        let mut up = pad.dev.process_ff_upload(u).map_err(dev_err)?;
                        if let FFEffectKind::Rumble {
                            strong_magnitude,
                            weak_magnitude,
                        } = up.effect().kind
                        {
                            // Reuse an updated effect's id, else the lowest free one.
                            let id = match up.effect_id() {
                                id if id >= 0 && pad.effects.contains_key(&id) => id,
                                _ => (0..).find(|i| !pad.effects.contains_key(i)).unwrap_or(0),
                            };
                            up.set_effect_id(id);
                            pad.effects.insert(id, (strong_magnitude, weak_magnitude));
                        }
                        up.set_retval(0);
                    }
                    EventSummary::UInput(u, UInputCode::UI_FF_ERASE, _) => {
                        let er = pad.dev.process_ff_erase(u).map_err(dev_err)?;
                        pad.effects.remove(&(er.effect_id() as i16));
                    }
                    EventSummary::ForceFeedback(_, code, value) => {
                        let (low, high) = match pad.effects.get(&(code.0 as i16)) {
                            Some(&(s, w)) if value > 0 => (s, w),
                            _ => (0, 0),
                        };
                        out.push(Feedback::Rumble {
                            index,
                            low_freq: low,
                            high_freq: high,
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
