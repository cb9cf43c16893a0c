//! A synthetic audio source: one sine tone per channel (channel `i` at `base + i·step` Hz,
//! so tests can tell channels apart after a multichannel codec).

use std::sync::Arc;

use super::{AudioError, AudioFrame, AudioSource, SAMPLE_RATE};
use crate::clock::Clock;

/// Sine tones, optionally paced in real time.
pub struct ToneSource {
    channels: u8,
    freqs: Vec<f32>,
    amplitude: f32,
    clock: Arc<dyn Clock>,
    paced: Option<(std::time::Instant, u64)>,
    pos: u64,
}

impl ToneSource {
    /// `channels` tones at `base_hz + i·step_hz`, amplitude 0.5. `paced` makes `read`
    /// wait until the samples would have been captured in real time.
    pub fn new(
        channels: u8,
        base_hz: f32,
        step_hz: f32,
        clock: Arc<dyn Clock>,
        paced: bool,
    ) -> Self {
        Self {
            channels,
            freqs: (0..channels)
                .map(|i| base_hz + i as f32 * step_hz)
                .collect(),
            amplitude: 0.5,
            clock,
            paced: paced.then(|| (std::time::Instant::now(), 0)),
            pos: 0,
        }
    }

    /// Frequency of channel `i`.
    pub fn frequency(&self, i: usize) -> f32 {
        self.freqs[i]
    }
}

impl AudioSource for ToneSource {
    fn channels(&self) -> u8 {
        self.channels
    }

    fn read(&mut self, frame: &mut AudioFrame, n: usize) -> Result<(), AudioError> {
        if let Some((start, _)) = &mut self.paced {
            let due = *start
                + std::time::Duration::from_nanos(
                    (self.pos + n as u64) * 1_000_000_000 / SAMPLE_RATE as u64,
                );
            let now = std::time::Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        frame.channels = self.channels;
        frame.capture_ts_ns = self.clock.now_ns();
        frame.samples.clear();
        let tau = 2.0 * std::f64::consts::PI;
        for k in 0..n as u64 {
            let t = (self.pos + k) as f64 / SAMPLE_RATE as f64;
            for &f in &self.freqs {
                frame
                    .samples
                    .push(((tau * f as f64 * t).sin() * self.amplitude as f64) as f32);
            }
        }
        self.pos += n as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::analysis::{channel, dominant_frequency};
    use crate::clock::ManualClock;

    #[test]
    fn channels_carry_their_tones_continuously() {
        let mut src = ToneSource::new(6, 500.0, 300.0, Arc::new(ManualClock::new(7)), false);
        let mut f = AudioFrame::default();
        let mut all = Vec::new();
        for _ in 0..10 {
            src.read(&mut f, 480).unwrap();
            assert_eq!(f.len_per_channel(), 480);
            assert_eq!(f.capture_ts_ns, 7);
            all.extend_from_slice(&f.samples);
        }
        for c in 0..6 {
            let got = dominant_frequency(&channel(&all, 6, c), SAMPLE_RATE, 100.0, 4000.0);
            assert!((got - src.frequency(c)).abs() <= 2.0, "ch{c}: {got}");
        }
    }
}
