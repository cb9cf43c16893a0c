//! Video sources: something that produces raw frames at an exact size and rate.

pub mod stamp;
pub mod synthetic;
pub mod x11;

use crate::frame::{PixelFormat, VideoFrame, VideoMode};

/// Errors of video sources.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source cannot produce this mode.
    #[error("mode {0:?} not supported: {1}")]
    UnsupportedMode(VideoMode, String),
    /// The display/device went away or failed.
    #[error("capture failed: {0}")]
    Capture(String),
}

/// A producer of raw frames (synthetic pattern, X11 screen, later virtual displays).
///
/// Sources are created at an exact `W×H@Hz` mode and pace themselves: [`next_frame`]
/// blocks until the next frame is due, then fills the caller's buffer in place (no
/// allocation per frame once the buffer has the right size).
///
/// [`next_frame`]: VideoSource::next_frame
pub trait VideoSource: Send {
    /// Current output mode.
    fn mode(&self) -> VideoMode;
    /// Pixel format of the frames.
    fn pixel_format(&self) -> PixelFormat;
    /// Switches to another mode (resolution/refresh change requested by a client).
    fn set_mode(&mut self, mode: VideoMode) -> Result<(), SourceError>;
    /// Waits until the next frame is due, then captures it into `frame` (reshaping the
    /// buffer if needed) with its capture timestamp and frame number.
    fn next_frame(&mut self, frame: &mut VideoFrame) -> Result<(), SourceError>;
}

/// Paces a source at a fixed rate on the real clock: frame `n` is due at `start + n·T`.
/// Missed deadlines are skipped rather than bunched up.
#[derive(Debug)]
pub struct Pacer {
    start: std::time::Instant,
    interval: std::time::Duration,
    next: u64,
}

impl Pacer {
    /// A pacer at `fps` frames per second, starting now.
    pub fn new(fps: u32) -> Self {
        Self {
            start: std::time::Instant::now(),
            interval: std::time::Duration::from_nanos(1_000_000_000 / fps.max(1) as u64),
            next: 0,
        }
    }

    /// Sleeps until the next tick; returns how many ticks were skipped because we were late.
    pub fn wait(&mut self) -> u64 {
        let now = std::time::Instant::now();
        let elapsed = now.duration_since(self.start);
        let due_tick = (elapsed.as_nanos() / self.interval.as_nanos().max(1)) as u64;
        let mut skipped = 0;
        if due_tick > self.next {
            skipped = due_tick - self.next;
            self.next = due_tick;
        }
        let due = self.start + self.interval * self.next as u32;
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next += 1;
        skipped
    }
}
