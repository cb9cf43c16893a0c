//! The GameStream (Moonlight) service of `punktfunk-host`: the nvhttp/RTSP host from
//! `punktfunk-control`, and for each client that finishes RTSP a stream session fed by the
//! media pipeline (source → encoder, tone → Opus, input → injection backend).
//!
//! Pairing PINs reach the running host through a UNIX socket in the state directory:
//! `punktfunk-host pin 1234` (see [`submit_pin`]).

use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use punktfunk_control::gamestream::discovery::{Advertiser, Interfaces};
use punktfunk_control::gamestream::session::{HostEvent, StreamStart};
use punktfunk_control::gamestream::stream::{
    AudioFeed, EncodedVideo, InputSink, StreamOptions, StreamSession, VideoFeed,
};
use punktfunk_control::gamestream::{GameStreamHost, HostConfig};
use punktfunk_core::gamestream::control::types::termination;
use punktfunk_core::gamestream::rtsp::announce::VideoCodec;
use punktfunk_core::input::{Feedback, InputEvent};
use punktfunk_datapath::select::EngineConfig;
use punktfunk_media::audio::opus::{OpusEncoder, OpusLayout};
use punktfunk_media::audio::tone::ToneSource;
use punktfunk_media::audio::{AudioFrame, AudioSource};
use punktfunk_media::clock::{MonotonicClock, monotonic_ns};
use punktfunk_media::encode::select::open_best;
use punktfunk_media::encode::thread::{EncoderControl, VideoPipeline};
use punktfunk_media::encode::{Backend, Codec, EncodedFrame, EncoderConfig, FrameType};
use punktfunk_media::frame::VideoMode;
use punktfunk_media::input::InputBackend;
use punktfunk_media::source::synthetic::SyntheticSource;
use tracing::{info, warn};

/// Name of the PIN socket inside the state directory.
pub const PIN_SOCKET: &str = "gamestream-pin.sock";

/// What the GameStream service needs from the host's settings.
#[derive(Clone)]
pub struct GameStreamSettings {
    /// Address every GameStream listener binds.
    pub bind: IpAddr,
    /// Base port (47989 by default; every other port derives from it).
    pub base_port: u16,
    /// State directory (its `gamestream/` folder holds identity and paired clients).
    pub state_dir: PathBuf,
    /// `hostname` shown to clients.
    pub hostname: String,
    /// Engines the media senders may use.
    pub engines: EngineConfig,
    /// Makes the input sink of each session ([`BackendInput`] unless a test records).
    pub input: InputFactory,
    /// Where to advertise `_nvstream._tcp` over mDNS (`None`: not at all).
    pub mdns: Option<Interfaces>,
}

/// Creates the input sink for a new session.
pub type InputFactory = Arc<dyn Fn() -> Box<dyn InputSink> + Send + Sync>;

/// The default: the first injection backend that works here.
pub fn backend_input() -> InputFactory {
    Arc::new(|| Box::new(BackendInput::new()))
}

impl std::fmt::Debug for GameStreamService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameStreamService")
            .field("socket", &self.socket_path)
            .finish_non_exhaustive()
    }
}

/// The running service.
pub struct GameStreamService {
    host: Arc<GameStreamHost>,
    _mdns: Option<Advertiser>,
    threads: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    socket_path: PathBuf,
}

impl GameStreamService {
    /// Starts the nvhttp/RTSP host, the PIN socket, and the session loop.
    pub fn start(s: &GameStreamSettings, stop: Arc<AtomicBool>) -> anyhow::Result<Self> {
        let gs_dir = s.state_dir.join("gamestream");
        let host = Arc::new(
            GameStreamHost::start(HostConfig {
                hostname: s.hostname.clone(),
                bind: s.bind,
                base_port: s.base_port,
                state_dir: gs_dir,
                ..HostConfig::default()
            })
            .context("starting the GameStream host")?,
        );
        let p = host.ports();
        info!(
            http = p.http,
            https = p.https,
            rtsp = p.rtsp,
            "GameStream (Moonlight) host listening; pair with `punktfunk-host pin <PIN>` when a client asks"
        );
        // Discovery is a convenience: a failure is logged and the host serves on.
        let mdns = s.mdns.as_ref().and_then(|ifs| {
            Advertiser::start(&s.hostname, p.http, ifs)
                .inspect_err(
                    |e| warn!(error = %e, "mDNS advertisement failed; add the host by address"),
                )
                .ok()
        });
        let socket_path = s.state_dir.join(PIN_SOCKET);
        let _ = std::fs::remove_file(&socket_path);
        let listener = UnixListener::bind(&socket_path)
            .with_context(|| format!("binding {}", socket_path.display()))?;
        listener.set_nonblocking(true)?;
        let mut threads = Vec::new();
        {
            let (host, stop) = (host.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                pin_loop(&listener, &host, &stop)
            }));
        }
        {
            let (host, stop, engines, input) = (
                host.clone(),
                stop.clone(),
                s.engines.clone(),
                s.input.clone(),
            );
            threads.push(std::thread::spawn(move || {
                session_loop(&host, &stop, &engines, &input)
            }));
        }
        Ok(Self {
            host,
            _mdns: mdns,
            threads,
            stop,
            socket_path,
        })
    }

    /// The nvhttp/RTSP host (ports, unique id, paired clients).
    pub fn host(&self) -> &GameStreamHost {
        &self.host
    }

    /// Stops the session loop and the listeners.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket_path);
        if let Ok(host) = Arc::try_unwrap(self.host) {
            host.shutdown();
        }
    }
}

/// Sends a PIN (and the client's display name) to a running host's PIN socket.
pub fn submit_pin(state_dir: &Path, pin: &str, name: &str) -> anyhow::Result<String> {
    let path = state_dir.join(PIN_SOCKET);
    let mut s = UnixStream::connect(&path).with_context(|| {
        format!(
            "no running host listens on {} (is punktfunk-host running with this state dir?)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    writeln!(s, "{pin} {name}")?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    let reply = reply.trim().to_string();
    match reply.strip_prefix("ok") {
        Some(_) => Ok(reply),
        None => Err(anyhow!("host refused the PIN: {reply}")),
    }
}

fn pin_loop(listener: &UnixListener, host: &GameStreamHost, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.trim().splitn(2, ' ');
                let pin = parts.next().unwrap_or_default();
                let name = parts.next().unwrap_or("Moonlight");
                let reply = match host.submit_pin(pin, name) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("error {e}"),
                };
                info!(result = %reply, "PIN submitted through the PIN socket");
                let _ = writeln!(&stream, "{reply}");
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                warn!(error = %e, "PIN socket");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn session_loop(
    host: &GameStreamHost,
    stop: &AtomicBool,
    engines: &EngineConfig,
    input: &InputFactory,
) {
    let mut current: Option<StreamSession> = None;
    while !stop.load(Ordering::Relaxed) {
        if current.as_ref().is_some_and(StreamSession::is_finished) {
            let report = current.take().expect("checked").stop(termination::GRACEFUL);
            info!(?report, "GameStream session ended");
        }
        match host.next_event(Duration::from_millis(100)) {
            Some(HostEvent::StreamStart(start)) => {
                if let Some(old) = current.take() {
                    info!("a new stream replaces the running one");
                    let _ = old.stop(termination::GRACEFUL);
                }
                match start_session(&start, engines, input()) {
                    Ok(s) => current = Some(s),
                    Err(e) => warn!(error = %e, "GameStream session could not start"),
                }
            }
            Some(HostEvent::SessionEnded(why)) => {
                if let Some(s) = current.take() {
                    let report = s.stop(termination::GRACEFUL);
                    info!(?why, ?report, "GameStream session ended by the host");
                }
            }
            None => {}
        }
    }
    if let Some(s) = current.take() {
        let _ = s.stop(termination::GRACEFUL);
    }
}

/// Builds the media feeds for `start` and starts its stream session.
pub fn start_session(
    start: &StreamStart,
    engines: &EngineConfig,
    input: Box<dyn InputSink>,
) -> anyhow::Result<StreamSession> {
    let cfg = &start.config;
    let codec = match cfg.codec {
        VideoCodec::H264 => Codec::H264,
        VideoCodec::Hevc => Codec::Hevc,
        VideoCodec::Av1 => Codec::Av1,
    };
    let mode = VideoMode::new(cfg.width.max(16), cfg.height.max(16), cfg.fps.clamp(1, 240));
    let bitrate_kbps = match (cfg.configured_bitrate_kbps, cfg.max_bitrate_kbps) {
        (0, 0) => 20_000,
        (0, m) => m,
        (c, _) => c,
    };
    let video = MediaVideo::start(
        codec,
        mode,
        u64::from(bitrate_kbps) * 1000,
        cfg.max_ref_frames,
    )?;
    let channels = cfg.audio_channels.clamp(2, 8) as u8;
    let audio = MediaAudio::new(
        channels,
        start.session.high_quality_audio,
        cfg.audio_packet_duration_ms,
    )?;
    let opts = StreamOptions {
        bind_ip: start.ports_bind_ip(),
        engines: engines.clone(),
        ..StreamOptions::default()
    };
    Ok(StreamSession::start(start, &opts, video, audio, input)?)
}

/// Binds like the host's listeners (the address the RTSP peer reached).
trait BindIp {
    fn ports_bind_ip(&self) -> IpAddr;
}

impl BindIp for StreamStart {
    fn ports_bind_ip(&self) -> IpAddr {
        if self.client_ip.is_loopback() {
            self.client_ip
        } else if self.client_ip.is_ipv4() {
            IpAddr::from([0, 0, 0, 0])
        } else {
            IpAddr::from([0u16; 8])
        }
    }
}

/// Synthetic source → encoder thread, as a [`VideoFeed`].
pub struct MediaVideo {
    pipeline: Option<VideoPipeline>,
    frames: Receiver<EncodedFrame>,
    control: Sender<EncoderControl>,
}

impl MediaVideo {
    /// Starts capture and encoding at the client's mode and bitrate.
    pub fn start(
        codec: Codec,
        mode: VideoMode,
        bitrate_bps: u64,
        max_ref: u32,
    ) -> anyhow::Result<Self> {
        // One reference frame whatever the client allows (`max_ref` 0 = no limit): the
        // lowest-latency setting, and what lets loss recovery work without RFI.
        let _ = max_ref;
        let ec = EncoderConfig::new(codec, mode, bitrate_bps);
        let encoder = open_best(&ec, &[Backend::Nvenc, Backend::Vaapi, Backend::Software])
            .with_context(|| {
                format!(
                    "no {codec} encoder for {}x{}@{}",
                    mode.width, mode.height, mode.fps
                )
            })?;
        let source = SyntheticSource::new(mode, Arc::new(MonotonicClock), true)
            .context("synthetic source")?;
        let (pipeline, frames) = VideoPipeline::start(Box::new(source), encoder, 2, 4);
        let control = pipeline.control();
        Ok(Self {
            pipeline: Some(pipeline),
            frames,
            control,
        })
    }
}

impl VideoFeed for MediaVideo {
    fn next_frame(&mut self) -> Option<EncodedVideo> {
        let f = self.frames.recv_timeout(Duration::from_secs(2)).ok()?;
        let age = Duration::from_nanos(monotonic_ns().saturating_sub(f.capture_ts_ns));
        let captured = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        Some(EncodedVideo {
            data: f.bytes,
            idr: f.frame_type == FrameType::Idr,
            captured,
        })
    }

    fn request_idr(&mut self) {
        let _ = self.control.send(EncoderControl::ForceIdr);
    }
}

impl Drop for MediaVideo {
    fn drop(&mut self) {
        if let Some(p) = self.pipeline.take() {
            // Unblock a capture thread waiting to hand over a frame.
            while self.frames.try_recv().is_ok() {}
            let _ = p.stop();
        }
    }
}

/// Tone source → Opus, paced in real time, as an [`AudioFeed`].
pub struct MediaAudio {
    source: ToneSource,
    encoder: OpusEncoder,
    frame: AudioFrame,
    out: Vec<u8>,
}

impl MediaAudio {
    /// A tone per channel, encoded with the GameStream layout for `channels`.
    pub fn new(channels: u8, high_quality: bool, packet_ms: u32) -> anyhow::Result<Self> {
        let layout = OpusLayout::gamestream(channels, high_quality)
            .ok_or_else(|| anyhow!("no GameStream Opus layout for {channels} channels"))?;
        let encoder = OpusEncoder::new(&layout, packet_ms.clamp(5, 10)).context("Opus encoder")?;
        Ok(Self {
            source: ToneSource::new(channels, 440.0, 110.0, Arc::new(MonotonicClock), true),
            encoder,
            frame: AudioFrame::default(),
            out: vec![0; 4000],
        })
    }
}

impl AudioFeed for MediaAudio {
    fn next_packet(&mut self) -> Option<Vec<u8>> {
        let n = self.encoder.frame_samples();
        self.source.read(&mut self.frame, n).ok()?;
        let len = self
            .encoder
            .encode(&self.frame.samples, &mut self.out)
            .ok()?;
        Some(self.out[..len].to_vec())
    }
}

/// The first input backend that works here: XTest on `$DISPLAY`, uinput, else a log.
pub struct BackendInput {
    backend: Option<Box<dyn InputBackend>>,
}

impl BackendInput {
    /// Picks the backend (one log line says which and why).
    pub fn new() -> Self {
        let backend: Option<Box<dyn InputBackend>> =
            match punktfunk_media::input::xtest::XTestBackend::connect(None) {
                Ok(b) => {
                    info!("input: XTest on the X display");
                    Some(Box::new(b))
                }
                Err(x) => match punktfunk_media::input::uinput::UinputBackend::new() {
                    Ok(b) => {
                        info!("input: uinput virtual devices");
                        Some(Box::new(b))
                    }
                    Err(u) => {
                        warn!(xtest = %x, uinput = %u, "input: no injection backend; events are logged only");
                        None
                    }
                },
            };
        Self { backend }
    }
}

impl Default for BackendInput {
    fn default() -> Self {
        Self::new()
    }
}

impl InputSink for BackendInput {
    fn inject(&mut self, event: InputEvent) {
        match &mut self.backend {
            Some(b) => {
                if let Err(e) = b.handle(&event) {
                    warn!(error = %e, "input injection failed");
                }
            }
            None => tracing::debug!(?event, "input event (no backend)"),
        }
    }

    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) {
        if let Some(b) = &mut self.backend
            && let Err(e) = b.poll_feedback(out)
        {
            warn!(error = %e, "reading input feedback failed");
        }
    }
}
