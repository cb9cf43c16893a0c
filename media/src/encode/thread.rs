//! The encoder thread: takes raw frames over a bounded queue, encodes them, and hands
//! encoded frames onward over another bounded channel. Nothing here waits on the control
//! plane: control messages are polled between frames, and a full queue drops the frame
//! (input side) or drops the encoded frame and forces an IDR (output side).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;

use tracing::warn;

use super::ffmpeg::FfmpegEncoder;
use super::{EncodeError, EncodedFrame};
use crate::frame::{VideoFrame, VideoMode};
use crate::source::VideoSource;

/// Runtime requests to the encoder (from the control plane or the transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderControl {
    /// Make the next frame an IDR.
    ForceIdr,
    /// The client lost frames `first..=last` (RFI); falls back to an IDR.
    InvalidateRefs {
        /// First lost stream frame.
        first: u64,
        /// Last lost stream frame.
        last: u64,
    },
    /// New target bitrate in bit/s.
    SetBitrate(u64),
    /// New resolution / frame rate.
    SetMode(VideoMode),
}

/// Counters of an encoder thread.
#[derive(Debug, Default)]
pub struct EncoderStats {
    /// Frames encoded.
    pub encoded: AtomicU64,
    /// Raw frames dropped because the encoder queue was full.
    pub dropped_input: AtomicU64,
    /// Encoded frames dropped because the consumer was not keeping up.
    pub dropped_output: AtomicU64,
}

/// Handle to a running encoder thread.
pub struct EncoderThread {
    frames: Option<SyncSender<VideoFrame>>,
    control: Sender<EncoderControl>,
    recycled: Receiver<VideoFrame>,
    stats: Arc<EncoderStats>,
    join: Option<JoinHandle<Result<(), EncodeError>>>,
}

impl EncoderThread {
    /// Starts `encoder` on its own thread with an input queue of `queue` frames; encoded
    /// frames go to `out` (a bounded channel whose receiver the transport owns).
    pub fn spawn(mut encoder: FfmpegEncoder, queue: usize, out: SyncSender<EncodedFrame>) -> Self {
        let (ftx, frx) = mpsc::sync_channel::<VideoFrame>(queue.max(1));
        let (ctx, crx) = mpsc::channel::<EncoderControl>();
        let (rtx, rrx) = mpsc::sync_channel::<VideoFrame>(queue.max(1) + 2);
        let stats = Arc::new(EncoderStats::default());
        let st = stats.clone();
        let join = std::thread::Builder::new()
            .name("pf-encode".into())
            .spawn(move || {
                while let Ok(frame) = frx.recv() {
                    while let Ok(c) = crx.try_recv() {
                        apply(&mut encoder, c)?;
                    }
                    let mut force_idr = false;
                    encoder.encode(&frame, |ef| {
                        st.encoded.fetch_add(1, Ordering::Relaxed);
                        match out.try_send(ef) {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => {
                                st.dropped_output.fetch_add(1, Ordering::Relaxed);
                                force_idr = true;
                            }
                            Err(TrySendError::Disconnected(_)) => {}
                        }
                    })?;
                    if force_idr {
                        encoder.request_idr();
                    }
                    let _ = rtx.try_send(frame);
                }
                Ok(())
            })
            .expect("spawn encoder thread");
        Self {
            frames: Some(ftx),
            control: ctx,
            recycled: rrx,
            stats,
            join: Some(join),
        }
    }

    /// Queues a frame; when the queue is full the frame is dropped and handed back.
    pub fn submit(&self, frame: VideoFrame) -> Result<(), VideoFrame> {
        let tx = self.frames.as_ref().expect("running");
        match tx.try_send(frame) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(f) | TrySendError::Disconnected(f)) => {
                self.stats.dropped_input.fetch_add(1, Ordering::Relaxed);
                Err(f)
            }
        }
    }

    /// A frame buffer the encoder is done with (to capture into without allocating).
    pub fn recycled_buffer(&self) -> Option<VideoFrame> {
        self.recycled.try_recv().ok()
    }

    /// A sender for runtime control; cheap to clone and never blocks.
    pub fn control(&self) -> Sender<EncoderControl> {
        self.control.clone()
    }

    /// Counters.
    pub fn stats(&self) -> &Arc<EncoderStats> {
        &self.stats
    }

    /// Stops the thread after the queued frames and returns its result.
    pub fn stop(mut self) -> Result<(), EncodeError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), EncodeError> {
        self.frames.take();
        match self.join.take() {
            Some(j) => j.join().map_err(|_| EncodeError::Stopped)?,
            None => Ok(()),
        }
    }
}

impl Drop for EncoderThread {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            warn!("encoder thread ended with error: {e}");
        }
    }
}

fn apply(enc: &mut FfmpegEncoder, c: EncoderControl) -> Result<(), EncodeError> {
    match c {
        EncoderControl::ForceIdr => enc.request_idr(),
        EncoderControl::InvalidateRefs { first, last } => enc.invalidate_refs(first, last),
        EncoderControl::SetBitrate(b) => {
            enc.set_bitrate(b)?;
        }
        EncoderControl::SetMode(m) => enc.set_mode(m),
    }
    Ok(())
}

/// Capture thread + encoder thread: a source feeding an encoder, each on its own thread.
pub struct VideoPipeline {
    stop: Arc<AtomicBool>,
    capture: Option<JoinHandle<Result<(), crate::source::SourceError>>>,
    control: Sender<EncoderControl>,
    stats: Arc<EncoderStats>,
}

impl VideoPipeline {
    /// Starts capturing from `source` into `encoder`. Encoded frames arrive on the returned
    /// receiver (bounded to `out_capacity`). `SetMode` requests should go through
    /// [`VideoPipeline::control`]; the encoder follows the frame size automatically.
    pub fn start(
        mut source: Box<dyn VideoSource>,
        encoder: FfmpegEncoder,
        queue: usize,
        out_capacity: usize,
    ) -> (Self, Receiver<EncodedFrame>) {
        let (otx, orx) = mpsc::sync_channel(out_capacity.max(1));
        let enc = EncoderThread::spawn(encoder, queue, otx);
        let control = enc.control();
        let stats = enc.stats().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let capture = std::thread::Builder::new()
            .name("pf-capture".into())
            .spawn(move || {
                let fmt = source.pixel_format();
                let mut result = Ok(());
                while !stop2.load(Ordering::Relaxed) {
                    let mut buf = enc
                        .recycled_buffer()
                        .unwrap_or_else(|| VideoFrame::new(1, 1, fmt));
                    if let Err(e) = source.next_frame(&mut buf) {
                        result = Err(e);
                        break;
                    }
                    let _ = enc.submit(buf);
                }
                if let Err(e) = enc.stop() {
                    warn!("encoder: {e}");
                }
                result
            })
            .expect("spawn capture thread");
        (
            Self {
                stop,
                capture: Some(capture),
                control,
                stats,
            },
            orx,
        )
    }

    /// Runtime control of the encoder.
    pub fn control(&self) -> Sender<EncoderControl> {
        self.control.clone()
    }

    /// Encoder counters.
    pub fn stats(&self) -> &Arc<EncoderStats> {
        &self.stats
    }

    /// Stops capture and encoding.
    pub fn stop(mut self) -> Result<(), crate::source::SourceError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), crate::source::SourceError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.capture.take() {
            Some(j) => j
                .join()
                .unwrap_or_else(|_| Err(crate::source::SourceError::Capture("panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for VideoPipeline {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
