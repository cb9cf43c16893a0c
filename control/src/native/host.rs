//! The punktfunk/1 host: per-connection pairing ceremony (§3) and session (§4, §7).
//!
//! Runtime messages handled while a session runs: ClockProbe (→ ClockEcho), RequestKeyframe and
//! RfiRequest (→ next AU a recovery point), LossReport (→ adaptive FEC percentage),
//! SetBitrate (→ BitrateChanged), Reconfigure (→ Reconfigured, frame rate follows), ProbeRequest
//! (→ all-zero ProbeResult = decline); input datagrams (0xC8) go to an [`InputSink`]. Every
//! other message is ignored, as the protocol requires.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use glommio::net::UdpSocket;
use punktfunk_core::native::control::datagram::{InputEventRepr, SideDatagram};
use punktfunk_core::native::control::handshake::{
    CODEC_AV1, CODEC_H264, CODEC_HEVC, HelloRepr, StartRepr, WelcomeRepr, resolve_codec,
};
use punktfunk_core::native::control::message::Message;
use punktfunk_core::native::control::pake::{
    Arming, Fingerprint, HostAwaitingProof, HostPake, PairingGate, Pin,
};
use punktfunk_core::native::control::{CloseCode, MAGIC_HANDSHAKE, Mode, WIRE_VERSION};
use punktfunk_core::native::data::shard_payload_for_mtu;
use quinn_proto::{Connection, Event, VarInt};
use tracing::{debug, error, info};

use crate::native::dataplane::{AdaptiveFec, DataPlane, SealerFactory, SessionShared, realtime_ns};
use crate::native::state::PairedStore;
use crate::native::stream::ControlStream;
use crate::native::tls::peer_fingerprint;
use crate::quic::{ConnHandler, HandlerFactory};

/// The host's handshake budget (§4.1).
pub const HANDSHAKE_BUDGET: Duration = Duration::from_secs(10);
/// How long the host waits for a PairProof (§3.2).
pub const PAIR_PROOF_WAIT: Duration = Duration::from_secs(60);
/// How long the host waits for the client's close after PairResult (§3.2).
pub const PAIR_LINGER: Duration = Duration::from_secs(5);
/// After a bounded synthetic stream ends, the host waits this long before closing.
const END_LINGER: Duration = Duration::from_millis(500);

/// Session parameters of the host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Refuse clients whose certificate is not paired (default true).
    pub require_pairing: bool,
    /// Initial FEC percentage.
    pub fec_percent: u8,
    /// Keep the FEC percentage fixed (ignore LossReports).
    pub fec_pinned: bool,
    /// K, data shards per FEC block.
    pub max_data_per_block: u16,
    /// Link MTU used to size shards (1500 → S = 1408 on IPv4).
    pub link_mtu: u16,
    /// Bitrate announced in the Welcome (0 = unknown; keeps client ABR off).
    pub bitrate_kbps: u32,
    /// Highest bitrate a SetBitrate may apply.
    pub max_bitrate_kbps: u32,
    /// Synthetic AUs per session (0 = until the session ends).
    pub frames: u32,
    /// Codecs the host can emit (`CODEC_*` bits).
    pub codecs: u8,
    /// Fixed data-plane port (0 = ephemeral).
    pub data_port: u16,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            require_pairing: true,
            fec_percent: 10,
            fec_pinned: false,
            max_data_per_block: 4096,
            link_mtu: 1500,
            bitrate_kbps: 0,
            max_bitrate_kbps: 10_000_000,
            frames: 0,
            codecs: CODEC_HEVC | CODEC_H264 | CODEC_AV1,
            data_port: 0,
        }
    }
}

impl HostConfig {
    /// Shard payload S for a peer: core's `shard_payload_for_mtu` (1408 on IPv4 at MTU 1500,
    /// §5.6), at least 512, within the client's stated maximum.
    pub fn shard_payload(&self, peer: IpAddr, client_max: u16) -> u16 {
        let mut s = shard_payload_for_mtu(self.link_mtu as usize, peer.is_ipv6())
            .unwrap_or(512)
            .max(512);
        if client_max >= 512 {
            s = s.min(client_max & !1);
        }
        s
    }
}

/// Receives input events from clients.
pub trait InputSink {
    /// One event from the client with `client` fingerprint (None = anonymous).
    fn input(&mut self, client: Option<Fingerprint>, event: InputEventRepr);
}

/// Logs input events at debug level (until the media crate's injector exists).
#[derive(Debug, Default)]
pub struct LogInput;

impl InputSink for LogInput {
    fn input(&mut self, client: Option<Fingerprint>, event: InputEventRepr) {
        debug!(?client, ?event, "input event");
    }
}

/// Counters for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HostStats {
    /// Successful pairings.
    pub paired: u32,
    /// Failed or refused pairing ceremonies.
    pub pair_failures: u32,
    /// Sessions that reached Start.
    pub sessions: u32,
    /// Session requests refused (version, pairing, codec).
    pub refused: u32,
}

/// State shared by all connections of a host (one executor, so `Rc<RefCell<_>>`).
pub struct HostState {
    /// Session parameters.
    pub config: HostConfig,
    /// The host certificate's fingerprint.
    pub host_fp: Fingerprint,
    /// Paired clients.
    pub paired: PairedStore,
    gate: PairingGate,
    fixed_pin: Option<Pin>,
    epoch: Instant,
    on_pin: Box<dyn FnMut(&Pin)>,
    input: Box<dyn InputSink>,
    sealers: SealerFactory,
    /// Counters.
    pub stats: HostStats,
}

impl HostState {
    /// Host state; arms pairing at once (a fixed PIN, or a random one per ceremony) and calls
    /// `on_pin` with each armed PIN.
    pub fn new(
        config: HostConfig,
        host_fp: Fingerprint,
        paired: PairedStore,
        fixed_pin: Option<Pin>,
        on_pin: Box<dyn FnMut(&Pin)>,
        input: Box<dyn InputSink>,
        sealers: SealerFactory,
    ) -> Rc<RefCell<Self>> {
        let mut s = Self {
            config,
            host_fp,
            paired,
            gate: PairingGate::new(),
            fixed_pin,
            epoch: Instant::now(),
            on_pin,
            input,
            sealers,
            stats: HostStats::default(),
        };
        s.arm();
        Rc::new(RefCell::new(s))
    }

    fn arm(&mut self) {
        let pin = self
            .fixed_pin
            .unwrap_or_else(|| Pin::random(&mut rand_core::OsRng));
        self.gate.arm(Arming {
            pin,
            for_client: None,
            expires_ns: None,
        });
        (self.on_pin)(&pin);
    }

    fn now_ns(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

/// A handler factory for [`crate::quic::Driver::server`].
pub fn handler_factory(state: Rc<RefCell<HostState>>) -> HandlerFactory {
    Box::new(move |remote| Box::new(HostConn::new(state.clone(), remote)))
}

enum Phase {
    AwaitFirst,
    PairProof {
        pake: HostAwaitingProof,
        name: String,
        deadline: Instant,
    },
    PairLinger {
        code: CloseCode,
        deadline: Instant,
    },
    AwaitStart {
        welcome: WelcomeRepr,
        socket: UdpSocket,
    },
    Running {
        shared: Rc<SessionShared>,
        ended_at: Option<Instant>,
    },
    Done,
}

/// One connection on the host.
pub struct HostConn {
    state: Rc<RefCell<HostState>>,
    remote: SocketAddr,
    stream: ControlStream,
    phase: Phase,
    started: Instant,
    client_fp: Option<Fingerprint>,
    adaptive: AdaptiveFec,
    mode: Mode,
}

fn close(conn: &mut Connection, now: Instant, code: CloseCode, reason: &str) {
    conn.close(
        now,
        VarInt::from_u32(code.0),
        Bytes::copy_from_slice(reason.as_bytes()),
    );
}

/// The local IP the kernel uses to reach `peer` (the IP the client dialled on a single-homed
/// host), so video leaves from the address the client's data socket is connected to.
fn local_ip_towards(peer: SocketAddr) -> IpAddr {
    let any: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    StdUdpSocket::bind(any)
        .and_then(|s| {
            s.connect(peer)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(any.ip())
}

impl HostConn {
    fn new(state: Rc<RefCell<HostState>>, remote: SocketAddr) -> Self {
        debug!("connection from {remote}");
        Self {
            state,
            remote,
            stream: ControlStream::new(),
            phase: Phase::AwaitFirst,
            started: Instant::now(),
            client_fp: None,
            adaptive: AdaptiveFec::DEFAULT,
            mode: Mode::default(),
        }
    }

    fn end(&mut self, conn: &mut Connection, now: Instant, code: CloseCode, reason: &str) {
        if !matches!(self.phase, Phase::Done) {
            debug!("closing {} with {code}: {reason}", self.remote);
            close(conn, now, code, reason);
        }
        self.stop_session();
        self.phase = Phase::Done;
    }

    fn stop_session(&mut self) {
        match &self.phase {
            Phase::Running { shared, .. } => shared.stop.set(true),
            Phase::PairProof { .. } => {
                // The client gave up (wrong PIN: it sends no proof). The PIN is spent.
                let mut st = self.state.borrow_mut();
                st.stats.pair_failures += 1;
                st.arm();
            }
            _ => {}
        }
    }

    fn on_first(&mut self, conn: &mut Connection, now: Instant, frame: &[u8]) {
        if frame.len() >= 4 && frame[..4] == MAGIC_HANDSHAKE {
            match HelloRepr::parse(frame) {
                Ok(h) => self.on_hello(conn, now, &h),
                Err(e) => self.end(conn, now, CloseCode::ERROR, &format!("bad Hello: {e}")),
            }
            return;
        }
        match Message::parse(frame) {
            Ok(Message::PairRequest { name, spake }) => {
                self.on_pair_request(conn, now, name, spake)
            }
            Ok(other) => self.end(
                conn,
                now,
                CloseCode::ERROR,
                &format!("unexpected first message {:#04x}", other.ty()),
            ),
            Err(e) => self.end(
                conn,
                now,
                CloseCode::ERROR,
                &format!("bad first message: {e}"),
            ),
        }
    }

    fn on_pair_request(&mut self, conn: &mut Connection, now: Instant, name: &str, spake: &[u8]) {
        let Some(fp) = peer_fingerprint(conn) else {
            self.state.borrow_mut().stats.pair_failures += 1;
            return self.end(
                conn,
                now,
                CloseCode::IDENTITY_REQUIRED,
                "pairing needs a client certificate",
            );
        };
        let mut st = self.state.borrow_mut();
        let now_ns = st.now_ns(now);
        let pin = match st.gate.admit(now_ns, &fp) {
            Ok(pin) => pin,
            Err(code) => {
                st.stats.pair_failures += 1;
                drop(st);
                info!("pairing from {} refused: {code}", self.remote);
                return self.end(conn, now, code, "pairing refused");
            }
        };
        let host_fp = st.host_fp;
        drop(st);
        match HostPake::respond(&pin, fp, host_fp, spake, rand_core::OsRng) {
            Ok((pake, ch)) => {
                self.stream.send(&Message::PairChallenge {
                    spake: &ch.spake_b,
                    confirm: ch.confirm,
                });
                info!("pairing ceremony with {name:?} ({}) started", self.remote);
                self.phase = Phase::PairProof {
                    pake,
                    name: name.to_string(),
                    deadline: now + PAIR_PROOF_WAIT,
                };
            }
            Err(e) => {
                let mut st = self.state.borrow_mut();
                st.stats.pair_failures += 1;
                st.arm();
                drop(st);
                self.end(conn, now, CloseCode::ERROR, &format!("pairing: {e}"));
            }
        }
    }

    fn on_pair_proof(&mut self, now: Instant, confirm: &[u8; 32]) {
        let Phase::PairProof { pake, name, .. } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return;
        };
        let mut st = self.state.borrow_mut();
        let ok = match pake.handle_proof(confirm) {
            Ok(fp) => {
                let unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                match st.paired.add(&name, &fp, unix) {
                    Ok(()) => {
                        info!("paired {name:?} ({})", fp.to_hex());
                        st.stats.paired += 1;
                        true
                    }
                    Err(e) => {
                        error!("pairing {name:?} succeeded but could not be saved: {e}");
                        st.stats.pair_failures += 1;
                        false
                    }
                }
            }
            Err(e) => {
                info!("pairing with {name:?} failed: {e}");
                st.stats.pair_failures += 1;
                false
            }
        };
        st.arm();
        drop(st);
        self.stream.send(&Message::PairResult { ok });
        self.stream.finish();
        let code = if ok {
            CloseCode::NORMAL
        } else {
            CloseCode::ERROR
        };
        self.phase = Phase::PairLinger {
            code,
            deadline: now + PAIR_LINGER,
        };
    }

    fn on_hello(&mut self, conn: &mut Connection, now: Instant, hello: &HelloRepr<'_>) {
        let refuse = |this: &mut Self, conn: &mut Connection, code: CloseCode, why: &str| {
            this.state.borrow_mut().stats.refused += 1;
            info!("session from {} refused: {why}", this.remote);
            this.end(conn, now, code, why);
        };
        if hello.abi_version != WIRE_VERSION {
            let why = format!(
                "wire version mismatch: client {} host {WIRE_VERSION}",
                hello.abi_version
            );
            return refuse(self, conn, CloseCode::WIRE_VERSION_MISMATCH, &why);
        }
        self.client_fp = peer_fingerprint(conn);
        let st = self.state.borrow();
        let cfg = st.config.clone();
        let paired = self.client_fp.is_some_and(|fp| st.paired.contains(&fp));
        drop(st);
        if cfg.require_pairing && !paired {
            return match self.client_fp {
                None => refuse(
                    self,
                    conn,
                    CloseCode::IDENTITY_REQUIRED,
                    "client certificate required",
                ),
                Some(_) => refuse(self, conn, CloseCode::DENIED, "client is not paired"),
            };
        }
        let Some(codec) = resolve_codec(hello.video_codecs, cfg.codecs, hello.preferred_codec)
        else {
            return refuse(self, conn, CloseCode::SETUP_FAILED, "no shared video codec");
        };
        let local_ip = local_ip_towards(self.remote);
        let socket = match UdpSocket::bind(SocketAddr::new(local_ip, cfg.data_port)) {
            Ok(s) => s,
            Err(e) => {
                return refuse(
                    self,
                    conn,
                    CloseCode::SETUP_FAILED,
                    &format!("data socket: {e}"),
                );
            }
        };
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut mode = hello.mode;
        if mode.width == 0 || mode.height == 0 || mode.refresh_hz == 0 {
            mode = Mode::new(1920, 1080, 60);
        }
        self.mode = mode;
        let mut welcome = WelcomeRepr::new(port, mode, rand::random(), rand::random());
        welcome.fec_percent = cfg.fec_percent;
        welcome.max_data_per_block = cfg.max_data_per_block;
        welcome.shard_payload = cfg.shard_payload(self.remote.ip(), hello.max_shard_payload);
        welcome.frames = cfg.frames;
        welcome.bitrate_kbps = cfg.bitrate_kbps;
        welcome.codec = codec;
        welcome.compositor = hello.compositor;
        welcome.gamepad = hello.gamepad;
        self.stream.send(&welcome);
        info!(
            "session offer to {:?} at {}: {}x{}@{} S={} K={} FEC {}% data port {port}",
            hello.name,
            self.remote,
            mode.width,
            mode.height,
            mode.refresh_hz,
            welcome.shard_payload,
            welcome.max_data_per_block,
            welcome.fec_percent
        );
        self.phase = Phase::AwaitStart { welcome, socket };
    }

    fn on_start(&mut self, conn: &mut Connection, now: Instant, start: StartRepr) {
        let Phase::AwaitStart { welcome, socket } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return;
        };
        let st = self.state.borrow();
        let sealer = (st.sealers)(&welcome);
        drop(st);
        let sealer = match sealer {
            Ok(s) => s,
            Err(e) => {
                self.phase = Phase::AwaitFirst;
                return self.end(conn, now, CloseCode::SETUP_FAILED, &format!("sealer: {e}"));
            }
        };
        let shared = SessionShared::new(welcome.fec_percent, welcome.mode.refresh_hz);
        let dp = DataPlane {
            socket,
            peer_ip: self.remote.ip(),
            client_udp_port: start.client_udp_port,
            frames: welcome.frames,
            sealer,
            shared: shared.clone(),
        };
        glommio::spawn_local(dp.run()).detach();
        self.state.borrow_mut().stats.sessions += 1;
        self.phase = Phase::Running {
            shared,
            ended_at: None,
        };
    }

    fn on_runtime(&mut self, now: Instant, frame: &[u8]) {
        let Phase::Running { shared, .. } = &self.phase else {
            return;
        };
        let t2 = realtime_ns();
        let msg = match Message::parse(frame) {
            Ok(m) => m,
            Err(e) => {
                debug!("ignoring control message: {e}");
                return;
            }
        };
        match msg {
            Message::ClockProbe { t1_ns } => {
                self.stream.send(&Message::ClockEcho {
                    t1_ns,
                    t2_ns: t2,
                    t3_ns: realtime_ns(),
                });
            }
            Message::RequestKeyframe | Message::RfiRequest { .. } => {
                shared.keyframe_requested.set(true);
                shared.keyframes.set(shared.keyframes.get() + 1);
                debug!("keyframe requested ({msg:?})");
            }
            Message::LossReport { loss_ppm } => {
                if !self.state.borrow().config.fec_pinned {
                    let pct = self.adaptive.next(shared.fec_pct.get(), loss_ppm);
                    if pct != shared.fec_pct.get() {
                        debug!(
                            "loss {loss_ppm} ppm: FEC {}% → {pct}%",
                            shared.fec_pct.get()
                        );
                    }
                    shared.fec_pct.set(pct);
                }
            }
            Message::SetBitrate { kbps } => {
                let cfg = &self.state.borrow().config;
                let applied = if kbps == 0 {
                    cfg.bitrate_kbps
                } else {
                    kbps.min(cfg.max_bitrate_kbps)
                };
                self.stream.send(&Message::BitrateChanged { kbps: applied });
            }
            Message::Reconfigure { mode } => {
                let ok = (1..=16384).contains(&mode.width)
                    && (1..=16384).contains(&mode.height)
                    && (1..=1000).contains(&mode.refresh_hz);
                if ok {
                    self.mode = mode;
                    shared.fps.set(mode.refresh_hz);
                    shared.keyframe_requested.set(true);
                }
                self.stream.send(&Message::Reconfigured {
                    accepted: ok,
                    mode: self.mode,
                });
            }
            Message::ProbeRequest { .. } => {
                self.stream.send(&Message::ProbeResult {
                    bytes_sent: 0,
                    packets: 0,
                    duration_ms: 0,
                    wire: Some((0, 0)),
                });
            }
            other => debug!("ignoring control message type {:#04x}", other.ty()),
        }
        let _ = now;
    }

    fn on_datagrams(&mut self, conn: &mut Connection) {
        while let Some(d) = conn.datagrams().recv() {
            match SideDatagram::parse(&d) {
                Ok(SideDatagram::Input(ev)) => {
                    self.state.borrow_mut().input.input(self.client_fp, ev)
                }
                Ok(_) => {}
                Err(e) => debug!("bad side-plane datagram: {e}"),
            }
        }
    }
}

impl ConnHandler for HostConn {
    fn handle(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        event: Option<Event>,
    ) -> Option<Instant> {
        match event {
            Some(Event::ConnectionLost { reason }) => {
                debug!("connection {} ended: {reason}", self.remote);
                self.stop_session();
                self.phase = Phase::Done;
                return None;
            }
            Some(Event::DatagramReceived) => self.on_datagrams(conn),
            Some(_) => {}
            None => {}
        }
        if matches!(self.phase, Phase::Done) {
            return None;
        }
        self.stream.accept(conn);
        self.stream.pump(conn);
        while let Some(frame) = self.stream.next_frame() {
            let frame = frame.to_vec();
            match &self.phase {
                Phase::AwaitFirst => self.on_first(conn, now, &frame),
                Phase::PairProof { .. } => match Message::parse(&frame) {
                    Ok(Message::PairProof { confirm }) => self.on_pair_proof(now, &confirm),
                    _ => self.end(conn, now, CloseCode::ERROR, "expected PairProof"),
                },
                Phase::AwaitStart { .. } => match StartRepr::parse(&frame) {
                    Ok(s) => self.on_start(conn, now, s),
                    Err(e) => self.end(
                        conn,
                        now,
                        CloseCode::SETUP_FAILED,
                        &format!("bad Start: {e}"),
                    ),
                },
                Phase::Running { .. } => self.on_runtime(now, &frame),
                Phase::PairLinger { .. } | Phase::Done => {}
            }
        }
        if self.stream.failed() {
            self.end(conn, now, CloseCode::ERROR, "control stream failed");
        }
        self.stream.pump(conn);
        let budget = self.started + HANDSHAKE_BUDGET;
        match &mut self.phase {
            Phase::AwaitFirst | Phase::AwaitStart { .. } => {
                if now >= budget {
                    self.end(conn, now, CloseCode::SETUP_FAILED, "handshake timed out");
                    return None;
                }
                Some(budget)
            }
            Phase::PairProof { deadline, .. } => {
                let d = *deadline;
                if now >= d {
                    self.end(conn, now, CloseCode::ERROR, "no PairProof");
                    return None;
                }
                Some(d)
            }
            Phase::PairLinger { code, deadline } => {
                let (code, d) = (*code, *deadline);
                if now >= d {
                    self.end(conn, now, code, "pairing done");
                    return None;
                }
                Some(d)
            }
            Phase::Running { shared, ended_at } => {
                if shared.ended.get() {
                    let t = *ended_at.get_or_insert(now);
                    if now >= t + END_LINGER {
                        self.end(conn, now, CloseCode::NORMAL, "done");
                        return None;
                    }
                    return Some(t + END_LINGER);
                }
                None
            }
            Phase::Done => None,
        }
    }

    fn finished(&mut self, _conn: &Connection) {
        self.stop_session();
        if let Phase::PairLinger { .. } = self.phase {
            debug!("client {} closed after pairing", self.remote);
        }
        self.phase = Phase::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_payload_from_mtu() {
        let c = HostConfig::default();
        let v4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let v6: IpAddr = std::net::Ipv6Addr::LOCALHOST.into();
        assert_eq!(c.shard_payload(v4, 0), 1408);
        assert_eq!(c.shard_payload(v6, 0), 1388);
        assert_eq!(c.shard_payload(v4, 1000), 1000);
        let jumbo = HostConfig {
            link_mtu: 9000,
            ..HostConfig::default()
        };
        assert_eq!(jumbo.shard_payload(v4, 9152), 8908);
        assert_eq!(jumbo.shard_payload(v4, 0), 8908);
        let odd = HostConfig {
            link_mtu: 1501,
            ..HostConfig::default()
        };
        assert_eq!(odd.shard_payload(v4, 0) % 2, 0);
    }
}
