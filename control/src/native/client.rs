//! The client side of punktfunk/1 (reference client and end-to-end tests): the pairing
//! ceremony (§3.2) and session setup with clock sync (§4.1–§4.5).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use punktfunk_core::native::control::handshake::{HelloRepr, StartRepr, WelcomeRepr};
use punktfunk_core::native::control::message::Message;
use punktfunk_core::native::control::pake::{ClientPake, Fingerprint, Pin};
use punktfunk_core::native::control::{CloseCode, Mode};
use quinn_proto::{Connection, ConnectionError, Event, VarInt};
use tracing::{debug, info};

use crate::native::dataplane::realtime_ns;
use crate::native::stream::ControlStream;
use crate::native::tls::PinVerify;
use crate::quic::ConnHandler;

/// How a connection ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The host closed with an application code.
    ByHost(CloseCode, String),
    /// This client closed it.
    Locally,
    /// Transport failure (timeout, TLS, reset).
    Transport(String),
}

fn ended_from(reason: &ConnectionError) -> Ended {
    match reason {
        ConnectionError::ApplicationClosed(c) => Ended::ByHost(
            CloseCode(u32::try_from(c.error_code.into_inner()).unwrap_or(u32::MAX)),
            String::from_utf8_lossy(&c.reason).into_owned(),
        ),
        ConnectionError::LocallyClosed => Ended::Locally,
        other => Ended::Transport(other.to_string()),
    }
}

fn close(conn: &mut Connection, now: Instant, code: CloseCode, reason: &str) {
    conn.close(
        now,
        VarInt::from_u32(code.0),
        Bytes::copy_from_slice(reason.as_bytes()),
    );
}

/// Result of a pairing attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairOutcome {
    /// Paired; keep this host fingerprint.
    Paired(Fingerprint),
    /// Key confirmation failed: wrong PIN or a man in the middle. No proof was sent.
    WrongPin,
    /// The host answered PairResult{ok = 0}.
    Rejected,
    /// The connection ended before a result.
    Ended(Ended),
}

/// Client side of the PIN ceremony.
pub struct PairClient {
    pin: Pin,
    name: String,
    client_fp: Fingerprint,
    verifier: Arc<PinVerify>,
    stream: ControlStream,
    pake: Option<ClientPake>,
    host_fp: Option<Fingerprint>,
    /// Where the outcome lands.
    pub outcome: Rc<RefCell<Option<PairOutcome>>>,
}

impl PairClient {
    /// A ceremony with `pin` for a client whose certificate has `client_fp`; `verifier` is the
    /// one given to the client config (it reports the host fingerprint observed).
    pub fn new(pin: Pin, name: &str, client_fp: Fingerprint, verifier: Arc<PinVerify>) -> Self {
        Self {
            pin,
            name: name.to_string(),
            client_fp,
            verifier,
            stream: ControlStream::new(),
            pake: None,
            host_fp: None,
            outcome: Rc::new(RefCell::new(None)),
        }
    }

    fn set(&self, o: PairOutcome) {
        let mut slot = self.outcome.borrow_mut();
        if slot.is_none() {
            *slot = Some(o);
        }
    }
}

impl ConnHandler for PairClient {
    fn handle(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        event: Option<Event>,
    ) -> Option<Instant> {
        match event {
            Some(Event::Connected) => {
                let Some(host_fp) = self.verifier.observed() else {
                    close(conn, now, CloseCode::ERROR, "no host certificate");
                    return None;
                };
                self.host_fp = Some(host_fp);
                self.stream.open(conn);
                let (pake, spake_a) =
                    ClientPake::start(&self.pin, self.client_fp, host_fp, rand_core::OsRng);
                self.pake = Some(pake);
                self.stream.send(&Message::PairRequest {
                    name: &self.name,
                    spake: &spake_a,
                });
            }
            Some(Event::ConnectionLost { reason }) => {
                self.set(PairOutcome::Ended(ended_from(&reason)));
                return None;
            }
            _ => {}
        }
        self.stream.pump(conn);
        while let Some(frame) = self.stream.next_frame() {
            let frame = frame.to_vec();
            match Message::parse(&frame) {
                Ok(Message::PairChallenge { spake, confirm }) => {
                    let Some(pake) = self.pake.take() else {
                        continue;
                    };
                    match pake.handle_challenge(spake, &confirm) {
                        Ok(proof) => self.stream.send(&Message::PairProof { confirm: proof }),
                        Err(e) => {
                            info!("pairing failed: {e}");
                            self.set(PairOutcome::WrongPin);
                            close(conn, now, CloseCode::ERROR, "pairing failed");
                        }
                    }
                }
                Ok(Message::PairResult { ok }) => {
                    match (ok, self.host_fp) {
                        (true, Some(fp)) => self.set(PairOutcome::Paired(fp)),
                        _ => self.set(PairOutcome::Rejected),
                    }
                    let code = if ok {
                        CloseCode::NORMAL
                    } else {
                        CloseCode::ERROR
                    };
                    close(conn, now, code, "pair done");
                }
                other => debug!("pairing: ignoring {other:?}"),
            }
        }
        self.stream.pump(conn);
        None
    }
}

/// What a session client asks for.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Display mode.
    pub mode: Mode,
    /// Client name.
    pub name: String,
    /// Requested bitrate (0 = automatic).
    pub bitrate_kbps: u32,
    /// `CODEC_*` bits.
    pub video_codecs: u8,
    /// `VIDEO_CAP_*` bits.
    pub video_caps: u8,
    /// Largest shard accepted.
    pub max_shard_payload: u16,
    /// Clock-sync rounds (8 in punktfunk's clients).
    pub clock_rounds: u32,
}

impl Default for SessionParams {
    fn default() -> Self {
        Self {
            mode: Mode::new(1280, 720, 60),
            name: "punktfunk-client".into(),
            bitrate_kbps: 0,
            video_codecs: 0x07,
            video_caps: 0x38,
            max_shard_payload: 9152,
            clock_rounds: 8,
        }
    }
}

/// State a session client shares with the application driving it.
#[derive(Debug, Default)]
pub struct SessionState {
    /// The host's offer.
    pub welcome: Option<WelcomeRepr>,
    /// The data socket (bound before Start; the application takes it to receive video).
    pub data_socket: Option<StdUdpSocket>,
    /// Clock-sync rounds answered.
    pub clock_rounds: u32,
    /// Min-RTT clock offset (host − client), ns.
    pub clock_offset_ns: Option<i64>,
    /// Handshake and clock sync are done; video can be received.
    pub ready: bool,
    /// Typed messages received after setup (owned copies: type byte and payload).
    pub received: Vec<(u8, Vec<u8>)>,
    /// Typed messages to send (framed by the handler).
    pub outbox: VecDeque<Vec<u8>>,
    /// QUIC datagrams to send.
    pub datagrams: VecDeque<Vec<u8>>,
    /// Ask the handler to close with this code.
    pub quit: Option<CloseCode>,
    /// How the connection ended.
    pub ended: Option<Ended>,
}

enum SPhase {
    Connecting,
    AwaitWelcome,
    Clock {
        round: u32,
        t1: u64,
        sent: Instant,
        best_rtt: u64,
    },
    Running,
}

/// Client side of a session: Hello → Welcome → Start → clock sync → runtime.
pub struct SessionClient {
    params: SessionParams,
    stream: ControlStream,
    phase: SPhase,
    /// Shared with the application.
    pub state: Rc<RefCell<SessionState>>,
}

/// Per-round wait for a ClockEcho (§4.5).
const CLOCK_WAIT: Duration = Duration::from_secs(2);

impl SessionClient {
    /// A session client.
    pub fn new(params: SessionParams) -> Self {
        Self {
            params,
            stream: ControlStream::new(),
            phase: SPhase::Connecting,
            state: Rc::default(),
        }
    }

    fn send_probe(&mut self, round: u32, best_rtt: u64, now: Instant) {
        let t1 = realtime_ns();
        self.stream.send(&Message::ClockProbe { t1_ns: t1 });
        self.phase = SPhase::Clock {
            round,
            t1,
            sent: now,
            best_rtt,
        };
    }

    fn finish_clock(&mut self) {
        self.phase = SPhase::Running;
        self.state.borrow_mut().ready = true;
    }
}

impl ConnHandler for SessionClient {
    fn handle(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        event: Option<Event>,
    ) -> Option<Instant> {
        match event {
            Some(Event::Connected) => {
                self.stream.open(conn);
                let p = &self.params;
                let mut hello = HelloRepr::new(p.mode);
                hello.name = &p.name;
                hello.bitrate_kbps = p.bitrate_kbps;
                hello.video_codecs = p.video_codecs;
                hello.video_caps = p.video_caps;
                hello.max_shard_payload = p.max_shard_payload;
                self.stream.send(&hello);
                self.phase = SPhase::AwaitWelcome;
            }
            Some(Event::ConnectionLost { reason }) => {
                self.state.borrow_mut().ended = Some(ended_from(&reason));
                return None;
            }
            _ => {}
        }
        self.stream.pump(conn);
        while let Some(frame) = self.stream.next_frame() {
            let frame = frame.to_vec();
            match self.phase {
                SPhase::AwaitWelcome => match WelcomeRepr::parse(&frame) {
                    Ok(w) => {
                        let sock = match StdUdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0))) {
                            Ok(s) => s,
                            Err(e) => {
                                close(conn, now, CloseCode::ERROR, &format!("data socket: {e}"));
                                return None;
                            }
                        };
                        let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
                        {
                            let mut st = self.state.borrow_mut();
                            st.welcome = Some(w);
                            st.data_socket = Some(sock);
                        }
                        self.stream.send(&StartRepr {
                            client_udp_port: port,
                        });
                        if self.params.clock_rounds == 0 {
                            self.finish_clock();
                        } else {
                            self.send_probe(0, u64::MAX, now);
                        }
                    }
                    Err(e) => {
                        close(conn, now, CloseCode::ERROR, &format!("bad Welcome: {e}"));
                        return None;
                    }
                },
                SPhase::Clock {
                    round,
                    t1,
                    best_rtt,
                    ..
                } => {
                    if let Ok(Message::ClockEcho {
                        t1_ns,
                        t2_ns,
                        t3_ns,
                    }) = Message::parse(&frame)
                    {
                        if t1_ns != t1 {
                            continue;
                        }
                        let t4 = realtime_ns();
                        let rtt = t4
                            .saturating_sub(t1)
                            .saturating_sub(t3_ns.saturating_sub(t2_ns));
                        let mut best = best_rtt;
                        {
                            let mut st = self.state.borrow_mut();
                            st.clock_rounds += 1;
                            if rtt < best {
                                best = rtt;
                                let offset = ((t2_ns as i128 - t1 as i128)
                                    + (t3_ns as i128 - t4 as i128))
                                    / 2;
                                st.clock_offset_ns = Some(offset as i64);
                            }
                        }
                        if round + 1 >= self.params.clock_rounds {
                            self.finish_clock();
                        } else {
                            self.send_probe(round + 1, best, now);
                        }
                    }
                }
                SPhase::Running => {
                    if let Ok(m) = Message::parse(&frame) {
                        self.state
                            .borrow_mut()
                            .received
                            .push((m.ty(), frame[4..].to_vec()));
                    }
                }
                SPhase::Connecting => {}
            }
        }
        // Application requests.
        let (outbox, datagrams, quit) = {
            let mut st = self.state.borrow_mut();
            (
                std::mem::take(&mut st.outbox),
                std::mem::take(&mut st.datagrams),
                st.quit.take(),
            )
        };
        for m in outbox {
            if let Ok(msg) = Message::parse(&m) {
                self.stream.send(&msg);
            }
        }
        for d in datagrams {
            if let Err(e) = conn.datagrams().send(Bytes::from(d), true) {
                debug!("datagram not sent: {e}");
            }
        }
        self.stream.pump(conn);
        if let Some(code) = quit {
            close(conn, now, code, "client quit");
            return None;
        }
        if let SPhase::Clock { sent, .. } = self.phase {
            if now >= sent + CLOCK_WAIT {
                // First timeout ends the sync (§4.5).
                self.finish_clock();
            } else {
                return Some(sent + CLOCK_WAIT);
            }
        }
        None
    }
}
