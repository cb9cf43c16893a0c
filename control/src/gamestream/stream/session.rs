//! One GameStream stream session: the threads that carry video, audio and the control
//! stream between the media pipeline and one Moonlight client, from PLAY to teardown.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use punktfunk_core::gamestream::audio::{AudioConfig, AudioKey, AudioPacketizer};
use punktfunk_core::gamestream::control::IvMode;
use punktfunk_core::gamestream::control::types::termination;
use punktfunk_core::gamestream::control::{HdrMetadata, HostMessage};
use punktfunk_core::gamestream::video::{FrameType, VideoConfig, VideoPacketizer};
use punktfunk_core::input::{Feedback, InputEvent};
use punktfunk_datapath::select::EngineConfig;

use super::ping::PingMatcher;
use super::sender::{MediaSender, SenderError, wait_for_ping};
use crate::gamestream::control_stream::server::{EndReason, ServerEvent};
use crate::gamestream::control_stream::{ControlBinding, ControlEvent, ControlServer, MatchBy};
use crate::gamestream::session::StreamStart;

/// One encoded video frame from the media pipeline.
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    /// Annex B (H.264/HEVC) or AV1 OBUs; IDR frames carry their parameter sets in band.
    pub data: Vec<u8>,
    /// True for an IDR / key frame.
    pub idr: bool,
    /// When the picture was captured.
    pub captured: Instant,
}

/// Where encoded video comes from (the media crate's encoder thread, or a test feed).
pub trait VideoFeed: Send + 'static {
    /// Blocks until the next frame; `None` ends the stream.
    fn next_frame(&mut self) -> Option<EncodedVideo>;
    /// Makes the next frame an IDR (client request `0x0302`, or RFI without encoder support).
    fn request_idr(&mut self);
}

/// Where Opus packets come from, in real time (one packet per `packetDuration`).
pub trait AudioFeed: Send + 'static {
    /// Blocks until the next packet; `None` ends the audio stream.
    fn next_packet(&mut self) -> Option<Vec<u8>>;
}

/// Where the client's input goes (the media crate's injection backends), and where feedback
/// for the client (rumble, LEDs, motion-sensor rates set by games) comes from.
pub trait InputSink: Send + 'static {
    /// Injects one event.
    fn inject(&mut self, event: InputEvent);
    /// Appends feedback produced since the last call; polled about every 50 ms.
    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) {
        let _ = out;
    }
}

impl<T: InputSink + ?Sized> InputSink for Box<T> {
    fn inject(&mut self, event: InputEvent) {
        (**self).inject(event)
    }
    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) {
        (**self).poll_feedback(out)
    }
}

/// Knobs of a stream session.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Address the media and control sockets bind (the ports come from the session).
    pub bind_ip: IpAddr,
    /// Engines the media senders may use (AF_XDP only with `--xdp`).
    pub engines: EngineConfig,
    /// How long to wait for the client's first ping on each media port (Sunshine: 10 s).
    pub ping_timeout: Duration,
    /// Link rate bounding the pacing (Sunshine paces at ~80% of 1 Gbit/s).
    pub link_bps: u64,
    /// Video FEC percentage (Sunshine's default: 20).
    pub fec_percentage: u8,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::from([0, 0, 0, 0]),
            engines: EngineConfig::sockets(),
            ping_timeout: Duration::from_secs(10),
            link_bps: 800_000_000,
            fec_percentage: 20,
        }
    }
}

/// What a finished session did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionReport {
    /// Video frames sent.
    pub video_frames: u64,
    /// Video datagrams sent.
    pub video_datagrams: u64,
    /// IDR frames sent.
    pub idr_frames: u64,
    /// IDR requests received (including RFI answered with an IDR).
    pub idr_requests: u64,
    /// Audio datagrams sent (data + FEC).
    pub audio_datagrams: u64,
    /// Input events injected.
    pub input_events: u64,
    /// Feedback messages (rumble, LED, ...) sent to the client.
    pub feedback_sent: u64,
    /// Host processing time per video frame.
    pub timings: FrameTimings,
    /// Why the session ended, as a log line.
    pub end: String,
}

/// Per-frame host timings kept for the report (bounded: the first `MAX_TIMED_FRAMES`).
const MAX_TIMED_FRAMES: usize = 1 << 16;

#[derive(Default)]
struct Counters {
    /// (packetize, frame in → last datagram out) in µs, per frame; locked once per frame.
    frame_times: std::sync::Mutex<Vec<(u32, u32)>>,
    /// Why a media thread stopped the session, if one did.
    end: std::sync::Mutex<Option<String>>,
    video_frames: AtomicU64,
    video_datagrams: AtomicU64,
    idr_frames: AtomicU64,
    idr_requests: AtomicU64,
    audio_datagrams: AtomicU64,
    input_events: AtomicU64,
    feedback_sent: AtomicU64,
}

impl Counters {
    /// Stops the session, recording the first reason given.
    fn end_with(&self, stop: &AtomicBool, why: String) {
        if let Ok(mut e) = self.end.lock() {
            e.get_or_insert(why);
        }
        stop.store(true, Ordering::Relaxed);
    }

    fn record_frame(&self, packetize: Duration, out: Duration) {
        if let Ok(mut t) = self.frame_times.lock()
            && t.len() < MAX_TIMED_FRAMES
        {
            if t.capacity() == 0 {
                t.reserve_exact(4096);
            }
            t.push((packetize.as_micros() as u32, out.as_micros() as u32));
        }
    }

    fn percentiles(&self) -> FrameTimings {
        let Ok(t) = self.frame_times.lock() else {
            return FrameTimings::default();
        };
        let mut a: Vec<u32> = t.iter().map(|x| x.0).collect();
        let mut b: Vec<u32> = t.iter().map(|x| x.1).collect();
        a.sort_unstable();
        b.sort_unstable();
        let p = |v: &[u32], q: usize| {
            v.get((v.len() * q / 100).min(v.len().saturating_sub(1)))
                .copied()
        };
        FrameTimings {
            packetize_p50_us: p(&a, 50).unwrap_or(0),
            packetize_p99_us: p(&a, 99).unwrap_or(0),
            out_p50_us: p(&b, 50).unwrap_or(0),
            out_p99_us: p(&b, 99).unwrap_or(0),
        }
    }
}

/// Host processing time per video frame, in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameTimings {
    /// Packetizing (FEC, encryption) a frame: median.
    pub packetize_p50_us: u32,
    /// Packetizing a frame: 99th percentile.
    pub packetize_p99_us: u32,
    /// Frame in → last datagram handed to the kernel (includes the pacing spread): median.
    pub out_p50_us: u32,
    /// Frame in → last datagram out: 99th percentile.
    pub out_p99_us: u32,
}

/// A running stream session; [`StreamSession::stop`] or the client's disconnect ends it.
pub struct StreamSession {
    stop: Arc<AtomicBool>,
    control: Arc<ControlServer>,
    counters: Arc<Counters>,
    threads: Vec<JoinHandle<Result<(), String>>>,
    control_thread: Option<JoinHandle<String>>,
}

impl std::fmt::Debug for StreamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSession").finish_non_exhaustive()
    }
}

/// Errors starting a session.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A port could not be bound.
    #[error("binding {what} port {addr}: {source}")]
    Bind {
        /// Which stream.
        what: &'static str,
        /// Address.
        addr: SocketAddr,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The control stream could not start.
    #[error(transparent)]
    Control(#[from] crate::gamestream::control_stream::ControlServerError),
    /// The ping payload from RTSP SETUP is not 16 bytes.
    #[error("ping payload is not 16 bytes")]
    PingPayload,
    /// The video parameters are unusable.
    #[error("video configuration: {0}")]
    Video(String),
}

impl StreamSession {
    /// Starts the control, video and audio threads for a client that finished RTSP.
    pub fn start(
        start: &StreamStart,
        opts: &StreamOptions,
        video: impl VideoFeed,
        audio: impl AudioFeed,
        input: impl InputSink,
    ) -> Result<Self, StartError> {
        let cfg = &start.config;
        let sess = &start.session;
        let rikey = sess.params.rikey;
        // Clients that announced featureFlags 0x02 are matched by connect data and never use
        // legacy pings (§4.6, §5.1).
        let by_connect_data = cfg.ml_feature_flags & 0x02 != 0;
        let legacy_from = (!by_connect_data).then_some(start.client_ip);
        let matcher = PingMatcher::new(sess.ping_payload.as_bytes(), legacy_from)
            .ok_or(StartError::PingPayload)?;

        let control = Arc::new(ControlServer::start(SocketAddr::new(
            opts.bind_ip,
            start.ports.control,
        ))?);
        control.expect(ControlBinding {
            matcher: if by_connect_data {
                MatchBy::ConnectData(sess.connect_data)
            } else {
                MatchBy::ClientIp(start.client_ip)
            },
            rikey,
            iv_mode: if cfg.encryption_enabled & 0x01 != 0 {
                IvMode::V2
            } else {
                IvMode::Legacy
            },
        });

        let bind = |what: &'static str, port: u16| {
            let addr = SocketAddr::new(opts.bind_ip, port);
            UdpSocket::bind(addr).map_err(|source| StartError::Bind { what, addr, source })
        };
        let video_socket = bind("video", start.ports.video)?;
        let audio_socket = bind("audio", start.ports.audio)?;

        let video_config = VideoConfig {
            packet_size: cfg.packet_size as usize,
            fec_percentage: opts.fec_percentage,
            min_required_fec_packets: cfg.fec_min_required.min(255) as u8,
            encryption_key: (cfg.encryption_enabled & 0x02 != 0).then_some(rikey),
        };
        let packetizer =
            VideoPacketizer::new(video_config).map_err(|e| StartError::Video(e.to_string()))?;
        let audio_config = AudioConfig {
            packet_duration_ms: cfg.audio_packet_duration_ms.clamp(5, 10),
            encryption: (cfg.encryption_enabled & 0x04 != 0 || cfg.nv_feature_flags & 0x20 != 0)
                .then_some(AudioKey {
                    key: rikey,
                    key_id: sess.params.rikeyid,
                }),
        };

        let stop = Arc::new(AtomicBool::new(false));
        let idr = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let interval = Duration::from_nanos(1_000_000_000 / u64::from(cfg.fps.max(1)));

        let mut threads = Vec::new();
        {
            let (stop, idr, counters, opts) =
                (stop.clone(), idr.clone(), counters.clone(), opts.clone());
            threads.push(spawn("gs-video", move || {
                video_loop(
                    video_socket,
                    matcher,
                    packetizer,
                    video,
                    interval,
                    &opts,
                    &stop,
                    &idr,
                    &counters,
                )
            }));
        }
        {
            let (stop, counters, opts) = (stop.clone(), counters.clone(), opts.clone());
            threads.push(spawn("gs-audio", move || {
                audio_loop(
                    audio_socket,
                    matcher,
                    audio_config,
                    audio,
                    &opts,
                    &stop,
                    &counters,
                )
            }));
        }
        let control_thread = {
            let (stop, control, counters) = (stop.clone(), control.clone(), counters.clone());
            Some(
                std::thread::Builder::new()
                    .name("gs-session".into())
                    .spawn(move || control_loop(&control, input, &stop, &idr, &counters))
                    .expect("spawning a thread"),
            )
        };
        tracing::info!(client = %start.client_ip, width = cfg.width, height = cfg.height, fps = cfg.fps,
            codec = ?cfg.codec, "GameStream stream session started");
        Ok(Self {
            stop,
            control,
            counters,
            threads,
            control_thread,
        })
    }

    /// True once the session has ended on its own (client disconnect, timeout, bad input).
    pub fn is_finished(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Ends the session: sends the termination message (`reason`, e.g. app exited), stops
    /// the threads and returns the report.
    pub fn stop(mut self, reason: u32) -> SessionReport {
        if !self.stop.load(Ordering::Relaxed) {
            self.control.terminate(reason);
        }
        self.finish()
    }

    /// Waits until the session ends on its own, then returns the report.
    pub fn wait(mut self) -> SessionReport {
        let end = self
            .control_thread
            .take()
            .map(|t| t.join().unwrap_or_else(|_| "panicked".into()));
        let mut r = self.finish();
        if let Some(end) = end {
            r.end = end;
        }
        r
    }

    fn finish(&mut self) -> SessionReport {
        let end = match self.control_thread.take() {
            Some(t) => {
                // The control loop ends on its own once `stop` is set or the client leaves.
                self.stop.store(true, Ordering::Relaxed);
                t.join().unwrap_or_else(|_| "panicked".into())
            }
            None => String::new(),
        };
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "stream thread ended with an error"),
                Err(_) => tracing::error!("stream thread panicked"),
            }
        }
        let c = &self.counters;
        SessionReport {
            video_frames: c.video_frames.load(Ordering::Relaxed),
            video_datagrams: c.video_datagrams.load(Ordering::Relaxed),
            idr_frames: c.idr_frames.load(Ordering::Relaxed),
            idr_requests: c.idr_requests.load(Ordering::Relaxed),
            audio_datagrams: c.audio_datagrams.load(Ordering::Relaxed),
            input_events: c.input_events.load(Ordering::Relaxed),
            feedback_sent: c.feedback_sent.load(Ordering::Relaxed),
            timings: c.percentiles(),
            end,
        }
    }
}

impl Drop for StreamSession {
    fn drop(&mut self) {
        if self.control_thread.is_some() || !self.threads.is_empty() {
            self.control.terminate(termination::GRACEFUL);
            self.finish();
        }
    }
}

fn spawn(
    name: &str,
    f: impl FnOnce() -> Result<(), SenderError> + Send + 'static,
) -> JoinHandle<Result<(), String>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || f().map_err(|e| e.to_string()))
        .expect("spawning a thread")
}

fn control_loop(
    control: &ControlServer,
    mut input: impl InputSink,
    stop: &AtomicBool,
    idr: &AtomicBool,
    counters: &Counters,
) -> String {
    let mut feedback = Vec::new();
    let mut connected = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            return counters
                .end
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_else(|| "stopped by the host".into());
        }
        if connected {
            input.poll_feedback(&mut feedback);
            for f in feedback.drain(..) {
                counters.feedback_sent.fetch_add(1, Ordering::Relaxed);
                control.send(HostMessage::from(f));
            }
        }
        let Some(ev) = control.next_event(Duration::from_millis(50)) else {
            continue;
        };
        match ev {
            ServerEvent::Connected(addr) => {
                tracing::info!(%addr, "control stream up");
                connected = true;
                // Sunshine announces the dynamic range whenever capture starts (§5.3); the
                // synthetic and X11 sources are SDR.
                control.send(HostMessage::HdrMode {
                    enabled: false,
                    metadata: HdrMetadata::default(),
                });
            }
            ServerEvent::Control(ControlEvent::RequestIdr) => {
                counters.idr_requests.fetch_add(1, Ordering::Relaxed);
                idr.store(true, Ordering::Relaxed);
            }
            ServerEvent::Control(ControlEvent::InvalidateRefFrames { first, last }) => {
                // No reference invalidation in the encoders yet: answer with an IDR (§6.9).
                tracing::debug!(first, last, "RFI answered with an IDR");
                counters.idr_requests.fetch_add(1, Ordering::Relaxed);
                idr.store(true, Ordering::Relaxed);
            }
            ServerEvent::Control(ControlEvent::Input(ev)) => {
                counters.input_events.fetch_add(1, Ordering::Relaxed);
                input.inject(ev);
            }
            ServerEvent::Control(ControlEvent::FrameFecStatus(_)) => {}
            ServerEvent::Ended(reason) => {
                stop.store(true, Ordering::Relaxed);
                return match reason {
                    EndReason::Disconnected => "client disconnected".into(),
                    EndReason::Terminated => "terminated by the host".into(),
                    EndReason::BadMessage(why) => format!("client dropped: {why}"),
                };
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn video_loop(
    socket: UdpSocket,
    matcher: PingMatcher,
    mut packetizer: VideoPacketizer,
    mut feed: impl VideoFeed,
    interval: Duration,
    opts: &StreamOptions,
    stop: &AtomicBool,
    idr: &AtomicBool,
    counters: &Counters,
) -> Result<(), SenderError> {
    let Some(mut sender) = open_on_ping(
        "video",
        socket,
        &matcher,
        opts.link_bps,
        opts,
        stop,
        counters,
    )?
    else {
        return Ok(());
    };
    let epoch = Instant::now();
    // The first frame must be an IDR (§6.8).
    feed.request_idr();
    while !stop.load(Ordering::Relaxed) {
        if idr.swap(false, Ordering::Relaxed) {
            feed.request_idr();
        }
        let Some(frame) = feed.next_frame() else {
            break;
        };
        let ts90k = (frame.captured.saturating_duration_since(epoch).as_micros() * 9 / 100) as u32;
        let latency = (frame.captured.elapsed().as_micros() / 100).min(u16::MAX as u128) as u16;
        let frame_type = if frame.idr {
            FrameType::Idr
        } else {
            FrameType::P
        };
        let t0 = Instant::now();
        match packetizer.packetize(&frame.data, frame_type, ts90k, latency, sender.sink()) {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, len = frame.data.len(), "frame not sent");
                continue;
            }
        }
        let packetized = t0.elapsed();
        // A vanished client makes sends fail (ICMP port unreachable); keep going until the
        // control stream's timeout ends the session, as Sunshine does.
        let sent = match sender.send_paced(interval) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "video send failed");
                0
            }
        };
        counters.record_frame(packetized, t0.elapsed());
        counters.video_frames.fetch_add(1, Ordering::Relaxed);
        counters
            .video_datagrams
            .fetch_add(sent as u64, Ordering::Relaxed);
        if frame.idr {
            counters.idr_frames.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Waits for the client's first ping on `socket` (the host's `what` port), then opens a media
/// sender from that port to where the ping came from (§4.6). `None` when the session was
/// stopped meanwhile; no ping in time stops the session with the reason.
#[allow(clippy::too_many_arguments)]
fn open_on_ping(
    what: &str,
    socket: UdpSocket,
    matcher: &PingMatcher,
    link_bps: u64,
    opts: &StreamOptions,
    stop: &AtomicBool,
    counters: &Counters,
) -> Result<Option<MediaSender>, SenderError> {
    let local = socket.local_addr().map_err(|source| SenderError::Io {
        what: "local_addr",
        source,
    })?;
    let client = match wait_for_ping(&socket, matcher, opts.ping_timeout, stop) {
        Ok(c) => c,
        Err(SenderError::Stopped) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "no {what} ping: stopping the session");
            counters.end_with(stop, format!("no {what} ping: {e}"));
            return Err(e);
        }
    };
    drop(socket);
    MediaSender::open(local, client, &opts.engines, link_bps).map(Some)
}

fn audio_loop(
    socket: UdpSocket,
    matcher: PingMatcher,
    config: AudioConfig,
    mut feed: impl AudioFeed,
    opts: &StreamOptions,
    stop: &AtomicBool,
    counters: &Counters,
) -> Result<(), SenderError> {
    let Some(mut sender) = open_on_ping("audio", socket, &matcher, 0, opts, stop, counters)? else {
        return Ok(());
    };
    let mut packetizer = AudioPacketizer::new(config);
    while !stop.load(Ordering::Relaxed) {
        let Some(opus) = feed.next_packet() else {
            break;
        };
        if let Err(e) = packetizer.packetize(&opus, sender.sink()) {
            tracing::warn!(error = %e, "audio packet not sent");
            continue;
        }
        let n = sender.send_now().unwrap_or_else(|e| {
            tracing::debug!(error = %e, "audio send failed");
            0
        });
        counters
            .audio_datagrams
            .fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(())
}
