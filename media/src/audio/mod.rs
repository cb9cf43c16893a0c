//! Audio: sources (synthetic tone, PulseAudio monitor capture), Opus (multistream, the
//! GameStream layouts) and small signal analysis used by tests and the reference client.

pub mod analysis;
pub mod opus;
pub mod pulse;
pub mod tone;

/// Sample rate of everything here (GameStream and punktfunk/1 use 48 kHz).
pub const SAMPLE_RATE: u32 = 48_000;

/// Errors of audio sources and codecs.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// Capture failed or the server went away.
    #[error("audio capture: {0}")]
    Capture(String),
    /// libopus returned an error.
    #[error("opus: {0}")]
    Opus(String),
    /// Unsupported channel count / layout / frame duration.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// A block of interleaved f32 samples (48 kHz).
#[derive(Debug, Clone, Default)]
pub struct AudioFrame {
    /// Channel count.
    pub channels: u8,
    /// Interleaved samples, `channels` per time step.
    pub samples: Vec<f32>,
    /// Monotonic time (ns) at which the first sample was captured.
    pub capture_ts_ns: u64,
}

impl AudioFrame {
    /// Samples per channel.
    pub fn len_per_channel(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }
}

/// A producer of PCM audio.
pub trait AudioSource: Send {
    /// Channel count of the samples.
    fn channels(&self) -> u8;
    /// Fills `frame` with exactly `samples_per_channel` samples per channel, blocking until
    /// they are available.
    fn read(
        &mut self,
        frame: &mut AudioFrame,
        samples_per_channel: usize,
    ) -> Result<(), AudioError>;
}
