//! The recording backend: translates events exactly like the uinput backend and records
//! the actions instead of writing them to the kernel. Tests of both protocols use it to
//! check what a client's input turns into; rumble can be simulated to test the feedback
//! path.

use punktfunk_core::input::{Feedback, InputEvent};

use super::translate::Translator;
use super::{Action, DeviceKind, InputBackend, InputError};

/// Records translated actions.
#[derive(Debug, Default)]
pub struct RecordingBackend {
    translator: Translator,
    /// Every action so far, in order.
    pub actions: Vec<Action>,
    feedback: Vec<Feedback>,
}

impl RecordingBackend {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the recorded actions.
    pub fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Events that could not be translated.
    pub fn dropped(&self) -> u64 {
        self.translator.dropped
    }

    /// Simulates a game setting rumble on gamepad `index` (as a uinput FF effect would).
    pub fn simulate_rumble(&mut self, index: u8, low_freq: u16, high_freq: u16) {
        self.feedback.push(Feedback::Rumble {
            index,
            low_freq,
            high_freq,
        });
    }

    /// Only the `Emit` actions of `device`, as `(type, code, value)`.
    pub fn emitted(actions: &[Action], device: DeviceKind) -> Vec<(u16, u16, i32)> {
        actions
            .iter()
            .filter_map(|a| match *a {
                Action::Emit {
                    device: d,
                    ty,
                    code,
                    value,
                } if d == device => Some((ty, code, value)),
                _ => None,
            })
            .collect()
    }
}

impl InputBackend for RecordingBackend {
    fn handle(&mut self, event: &InputEvent) -> Result<(), InputError> {
        let actions = &mut self.actions;
        self.translator.translate(event, |a| actions.push(a));
        Ok(())
    }

    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) -> Result<(), InputError> {
        out.append(&mut self.feedback);
        Ok(())
    }
}
