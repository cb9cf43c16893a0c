//! The synthetic source: a moving test pattern at any `W×H@fps` with a [stamp] of frame
//! number and capture time drawn in. It is the default source of `punktfunk-host`, and
//! clients decode the stamp to measure latency and spot repeated/skipped frames.
//!
//! [stamp]: super::stamp

use std::sync::Arc;

use super::stamp::{Stamp, block_size, draw_stamp};
use super::{Pacer, SourceError, VideoSource};
use crate::clock::Clock;
use crate::frame::{PixelFormat, VideoFrame, VideoMode};

/// Moving BGRA test pattern with an embedded stamp.
pub struct SyntheticSource {
    mode: VideoMode,
    clock: Arc<dyn Clock>,
    pacer: Option<Pacer>,
    frame_number: u64,
    /// One gradient row, 256 pixels wider than the picture, shifted per frame and row.
    gradient: Vec<u8>,
}

impl SyntheticSource {
    /// A source at `mode`; `paced` makes [`VideoSource::next_frame`] wait for each frame's
    /// due time (unpaced sources run as fast as the consumer pulls, for benchmarks/tests).
    pub fn new(mode: VideoMode, clock: Arc<dyn Clock>, paced: bool) -> Result<Self, SourceError> {
        check_mode(mode)?;
        Ok(Self {
            mode,
            clock,
            pacer: paced.then(|| Pacer::new(mode.fps)),
            frame_number: 0,
            gradient: gradient_row(mode.width),
        })
    }

    /// Draws frame `n` with `stamp` into `frame` (reshaped to the mode).
    pub fn render(&self, n: u64, stamp: &Stamp, frame: &mut VideoFrame) {
        let (w, h) = (self.mode.width, self.mode.height);
        frame.reshape(w, h, PixelFormat::Bgra);
        let row_len = w as usize * 4;
        for (y, row) in frame.data.chunks_exact_mut(row_len).enumerate() {
            let shift = ((y as u64 / 2 + n * 4) % 256) as usize * 4;
            row.copy_from_slice(&self.gradient[shift..shift + row_len]);
        }
        let stride = frame.stride;
        let mut fill = |x: u32, y: u32, bw: u32, bh: u32, v: u8| {
            for yy in y..(y + bh).min(h) {
                let start = yy as usize * stride + x as usize * 4;
                let end = yy as usize * stride + (x + bw).min(w) as usize * 4;
                frame.data[start..end].fill(v);
            }
        };
        // A white box sweeping across below the stamp: motion for the encoder.
        let bs = block_size(w, h).unwrap_or(4);
        let side = (bs * 4).min(h / 4).max(1);
        let travel = (w - side.min(w)).max(1) as u64;
        let x = ((n * 8) % travel) as u32;
        let y = (bs * 5).min(h - side);
        fill(x, y, side, side, 0xff);
        draw_stamp(w, h, stamp, |x, y, bw, bh, white| {
            fill(x, y, bw, bh, if white { 0xff } else { 0 })
        });
    }
}

fn check_mode(mode: VideoMode) -> Result<(), SourceError> {
    if block_size(mode.width, mode.height).is_none() || mode.fps == 0 {
        return Err(SourceError::UnsupportedMode(
            mode,
            "synthetic pictures need at least 128x16 and fps > 0".into(),
        ));
    }
    Ok(())
}

fn gradient_row(width: u32) -> Vec<u8> {
    (0..width as usize + 256)
        .flat_map(|x| {
            let v = (x & 255) as u8;
            [v, 255 - v, v.wrapping_mul(3), 0xff]
        })
        .collect()
}

impl VideoSource for SyntheticSource {
    fn mode(&self) -> VideoMode {
        self.mode
    }

    fn pixel_format(&self) -> PixelFormat {
        PixelFormat::Bgra
    }

    fn set_mode(&mut self, mode: VideoMode) -> Result<(), SourceError> {
        check_mode(mode)?;
        if mode.fps != self.mode.fps && self.pacer.is_some() {
            self.pacer = Some(Pacer::new(mode.fps));
        }
        self.gradient = gradient_row(mode.width);
        self.mode = mode;
        Ok(())
    }

    fn next_frame(&mut self, frame: &mut VideoFrame) -> Result<(), SourceError> {
        if let Some(p) = &mut self.pacer {
            self.frame_number += p.wait();
        }
        let n = self.frame_number;
        let ts = self.clock.now_ns();
        let stamp = Stamp {
            frame_number: n as u32,
            capture_ts_ns: ts,
        };
        self.render(n, &stamp, frame);
        frame.capture_ts_ns = ts;
        frame.frame_number = n;
        self.frame_number += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::source::stamp::read_stamp_frame;

    #[test]
    fn frames_carry_number_and_timestamp() {
        let clock = ManualClock::new(1_000);
        let mut src =
            SyntheticSource::new(VideoMode::new(640, 360, 60), Arc::new(clock.clone()), false)
                .unwrap();
        let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
        let mut prev = None;
        for n in 0..5u64 {
            src.next_frame(&mut f).unwrap();
            assert_eq!((f.width, f.height, f.frame_number), (640, 360, n));
            let s = read_stamp_frame(&f).expect("stamp");
            assert_eq!(s.frame_number as u64, n);
            assert_eq!(s.capture_ts_ns, f.capture_ts_ns);
            assert_eq!(f.capture_ts_ns, 1_000 + n * 16_000_000);
            // The pattern moves: consecutive frames differ outside the stamp.
            let below = f.data[200 * f.stride..].to_vec();
            if let Some(p) = prev.replace(below.clone()) {
                assert_ne!(p, below);
            }
            clock.advance(16_000_000);
        }
    }

    #[test]
    fn mode_change_and_rejects_tiny_modes() {
        let mut src = SyntheticSource::new(
            VideoMode::new(320, 180, 30),
            Arc::new(ManualClock::new(0)),
            false,
        )
        .unwrap();
        assert!(src.set_mode(VideoMode::new(64, 64, 30)).is_err());
        src.set_mode(VideoMode::new(1280, 720, 120)).unwrap();
        let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
        src.next_frame(&mut f).unwrap();
        assert_eq!((f.width, f.height), (1280, 720));
        assert!(read_stamp_frame(&f).is_some());
    }

    #[test]
    fn paced_source_keeps_rate() {
        let mut src = SyntheticSource::new(
            VideoMode::new(160, 90, 100),
            Arc::new(crate::clock::MonotonicClock),
            true,
        )
        .unwrap();
        let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
        src.next_frame(&mut f).unwrap();
        let t0 = f.capture_ts_ns;
        for _ in 0..5 {
            src.next_frame(&mut f).unwrap();
        }
        // 5 intervals of 10 ms: never earlier than 40 ms (upper bound not asserted: noisy CI).
        assert!(
            f.capture_ts_ns - t0 >= 40_000_000,
            "{}",
            f.capture_ts_ns - t0
        );
    }
}
