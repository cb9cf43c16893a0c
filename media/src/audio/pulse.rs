//! PulseAudio capture through libpulse-simple: records a source such as a null sink's
//! monitor (`vsink.monitor`) as 48 kHz float samples, with small fragments for low latency.

use std::sync::Arc;

use libpulse_binding::def::BufferAttr;
use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::Direction;
use libpulse_simple_binding::Simple;

use super::{AudioError, AudioFrame, AudioSource, SAMPLE_RATE};
use crate::clock::Clock;

/// Records from a PulseAudio source.
pub struct PulseSource {
    conn: Simple,
    channels: u8,
    clock: Arc<dyn Clock>,
    bytes: Vec<u8>,
}

impl PulseSource {
    /// Connects to `server` (`None`: the default from the environment) and records
    /// `device` (`None`: the default source; e.g. `Some("vsink.monitor")`) with `channels`
    /// channels, fragments of `fragment_ms`.
    pub fn connect(
        server: Option<&str>,
        device: Option<&str>,
        channels: u8,
        fragment_ms: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AudioError> {
        let spec = Spec {
            format: Format::FLOAT32NE,
            rate: SAMPLE_RATE,
            channels,
        };
        if !spec.is_valid() {
            return Err(AudioError::Unsupported(format!("{channels} channels")));
        }
        let frag = SAMPLE_RATE / 1000 * fragment_ms.max(1) * channels as u32 * 4;
        let attr = BufferAttr {
            maxlength: u32::MAX,
            tlength: u32::MAX,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: frag,
        };
        let conn = Simple::new(
            server,
            "punktfunk",
            Direction::Record,
            device,
            "capture",
            &spec,
            None,
            Some(&attr),
        )
        .map_err(|e| AudioError::Capture(format!("connect: {e}")))?;
        Ok(Self {
            conn,
            channels,
            clock,
            bytes: Vec::new(),
        })
    }
}

impl AudioSource for PulseSource {
    fn channels(&self) -> u8 {
        self.channels
    }

    fn read(&mut self, frame: &mut AudioFrame, n: usize) -> Result<(), AudioError> {
        let len = n * self.channels as usize * 4;
        self.bytes.resize(len, 0);
        self.conn
            .read(&mut self.bytes)
            .map_err(|e| AudioError::Capture(format!("read: {e}")))?;
        let now = self.clock.now_ns();
        // The first sample was captured one block (plus the server's latency) ago.
        let latency_ns = self.conn.get_latency().map(|l| l.0 * 1000).unwrap_or(0);
        let block_ns = n as u64 * 1_000_000_000 / SAMPLE_RATE as u64;
        frame.capture_ts_ns = now.saturating_sub(block_ns + latency_ns);
        frame.channels = self.channels;
        frame.samples.clear();
        frame.samples.extend(
            self.bytes
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        );
        Ok(())
    }
}
