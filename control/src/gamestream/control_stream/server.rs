//! The control-stream driver: one thread owns the ENet host, admits the one client the RTSP
//! handshake announced, and exchanges events and commands with the rest of the host.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use punktfunk_core::gamestream::control::{HostMessage, IvMode, types::termination};
use rusty_enet::{EventNoRef, Host, HostSettings, Packet, PeerID};

use super::session::{ControlEvent, ControlSession};
use super::socket::EnetSocket;

/// Moonlight connects with 48 channels; allow ENet's maximum like Sunshine.
const CHANNEL_LIMIT: usize = 255;
/// Peers at once (a refused client still takes a slot until its disconnect completes).
const PEER_LIMIT: usize = 16;
/// Peer timeout: ENet `timeout limit 2, min 10 s, max 10 s` as the client uses (§5.1).
const TIMEOUT_MS: u32 = 10_000;
/// How long the driver sleeps in `poll` when nothing is due.
const POLL_MS: u16 = 2;

/// How the expected client is recognised when it connects (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchBy {
    /// By the ENet CONNECT data (`X-SS-Connect-Data`), when the client announced
    /// `x-ml-general.featureFlags & 0x02`.
    ConnectData(u32),
    /// By the client's IP address otherwise.
    ClientIp(IpAddr),
}

/// The client the RTSP handshake announced, and its key.
#[derive(Debug, Clone)]
pub struct ControlBinding {
    /// How to recognise it.
    pub matcher: MatchBy,
    /// The launch's `rikey`.
    pub rikey: [u8; 16],
    /// Control encryption v2 or the legacy IV.
    pub iv_mode: IvMode,
}

/// What the control stream reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// The expected client connected.
    Connected(SocketAddr),
    /// The client sent something the host must act on.
    Control(ControlEvent),
    /// The session ended (disconnect, timeout, or the client was dropped for bad input).
    Ended(EndReason),
}

/// Why a control session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// ENet disconnect from the client, or its 10 s timeout.
    Disconnected,
    /// The host terminated it ([`ControlServer::terminate`]).
    Terminated,
    /// The client sent a message that failed authentication and was dropped.
    BadMessage(String),
}

/// Errors starting the control stream.
#[derive(Debug, thiserror::Error)]
pub enum ControlServerError {
    /// Binding the UDP port failed.
    #[error("binding the control port {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The ENet host could not be created.
    #[error("creating the ENet host: {0}")]
    Enet(String),
}

enum Command {
    Expect(ControlBinding),
    Send(HostMessage),
    Terminate(u32),
    Shutdown,
}

/// The running control stream (a thread); stopped on drop.
pub struct ControlServer {
    commands: Sender<Command>,
    // A mutex makes the server `Sync`: one session thread reads events while another may
    // send commands (termination) through `commands`.
    events: std::sync::Mutex<Receiver<ServerEvent>>,
    local_addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl ControlServer {
    /// Binds `addr` (UDP) and starts the driver thread.
    pub fn start(addr: SocketAddr) -> Result<Self, ControlServerError> {
        let socket =
            UdpSocket::bind(addr).map_err(|source| ControlServerError::Bind { addr, source })?;
        let local_addr = socket
            .local_addr()
            .map_err(|source| ControlServerError::Bind { addr, source })?;
        let epoch = Instant::now();
        let settings = HostSettings {
            peer_limit: PEER_LIMIT,
            channel_limit: CHANNEL_LIMIT,
            // rusty_enet defaults to the wall clock; ENet needs a monotonic one.
            time: Box::new(move || epoch.elapsed()),
            ..HostSettings::default()
        };
        let host = Host::new(EnetSocket::new(socket), settings)
            .map_err(|e| ControlServerError::Enet(format!("{e:?}")))?;
        let (commands, command_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("gs-control".into())
            .spawn(move || Driver::new(host, event_tx).run(command_rx))
            .map_err(|e| ControlServerError::Enet(e.to_string()))?;
        tracing::info!(%local_addr, "GameStream control stream listening");
        Ok(Self {
            commands,
            events: std::sync::Mutex::new(events),
            local_addr,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Admits the next client that matches `binding` (replacing any earlier expectation).
    pub fn expect(&self, binding: ControlBinding) {
        let _ = self.commands.send(Command::Expect(binding));
    }

    /// Sends a message to the connected client (reliable, channel 0, as Sunshine does).
    pub fn send(&self, msg: HostMessage) {
        let _ = self.commands.send(Command::Send(msg));
    }

    /// Sends the termination message with `reason`, flushes, and disconnects the client.
    pub fn terminate(&self, reason: u32) {
        let _ = self.commands.send(Command::Terminate(reason));
    }

    /// Ends the session because the app exited (reason `0x80030023`, §5.4).
    pub fn end_gracefully(&self) {
        self.terminate(termination::GRACEFUL);
    }

    /// The next event, waiting up to `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<ServerEvent> {
        self.events.lock().ok()?.recv_timeout(timeout).ok()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Active {
    peer: PeerID,
    addr: SocketAddr,
    session: ControlSession,
}

struct Driver {
    host: Host<EnetSocket>,
    events: Sender<ServerEvent>,
    expected: Option<ControlBinding>,
    active: Option<Active>,
    out: [u8; 128],
}

impl Driver {
    fn new(host: Host<EnetSocket>, events: Sender<ServerEvent>) -> Self {
        Self {
            host,
            events,
            expected: None,
            active: None,
            out: [0; 128],
        }
    }

    fn run(mut self, commands: Receiver<Command>) {
        let fd = self.host.socket().udp().as_raw_fd();
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => {
                        self.shutdown();
                        return;
                    }
                    Ok(cmd) => self.command(cmd),
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            loop {
                match self.host.service() {
                    Ok(Some(ev)) => {
                        let ev = ev.no_ref();
                        self.event(ev);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "control stream socket error");
                        break;
                    }
                }
            }
            // SAFETY: `fd` belongs to the socket owned by `self.host`, which outlives this call.
            #[allow(unsafe_code)]
            let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
            let mut fds = [nix::poll::PollFd::new(
                bfd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(POLL_MS));
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Expect(b) => self.expected = Some(b),
            Command::Send(msg) => self.send(&msg),
            Command::Terminate(reason) => {
                self.send(&HostMessage::Termination { reason });
                if let Some(a) = self.active.take() {
                    self.host.flush();
                    self.host.peer_mut(a.peer).disconnect_later(0);
                    self.host.socket_mut().forget(a.peer.0 as u16);
                    let _ = self.events.send(ServerEvent::Ended(EndReason::Terminated));
                }
            }
            Command::Shutdown => unreachable!("handled by the loop"),
        }
    }

    fn send(&mut self, msg: &HostMessage) {
        let Some(a) = self.active.as_mut() else {
            tracing::debug!(?msg, "no control client connected; message dropped");
            return;
        };
        match a.session.seal(msg, &mut self.out) {
            Ok(n) => {
                let packet = Packet::reliable(&self.out[..n]);
                if let Err(e) = self.host.peer_mut(a.peer).send(0, &packet) {
                    tracing::warn!(error = ?e, "control message not queued");
                }
            }
            Err(e) => tracing::warn!(error = %e, "sealing a control message failed"),
        }
    }

    fn event(&mut self, ev: EventNoRef) {
        match ev {
            EventNoRef::Connect { peer, data } => self.connect(peer, data),
            EventNoRef::Disconnect { peer, .. } => {
                self.host.socket_mut().forget(peer.0 as u16);
                if self.active.as_ref().is_some_and(|a| a.peer == peer) {
                    let a = self.active.take().expect("checked");
                    tracing::info!(addr = %a.addr, stats = ?a.session.stats(), "control stream client disconnected");
                    let _ = self
                        .events
                        .send(ServerEvent::Ended(EndReason::Disconnected));
                }
            }
            EventNoRef::Receive { peer, packet, .. } => {
                let Some(a) = self.active.as_mut().filter(|a| a.peer == peer) else {
                    return;
                };
                let events = &self.events;
                match a.session.handle_packet(packet.data(), |e| {
                    let _ = events.send(ServerEvent::Control(e));
                }) {
                    Ok(()) => self.host.socket_mut().confirm(peer.0 as u16),
                    Err(e) => {
                        tracing::warn!(addr = %a.addr, error = %e, "control stream client dropped");
                        let reason = e.to_string();
                        self.host.peer_mut(peer).disconnect_now(0);
                        self.host.socket_mut().forget(peer.0 as u16);
                        self.active = None;
                        let _ = self
                            .events
                            .send(ServerEvent::Ended(EndReason::BadMessage(reason)));
                    }
                }
            }
        }
    }

    fn connect(&mut self, peer: PeerID, data: u32) {
        let addr = self.host.peer(peer).address();
        let admit = match (&self.expected, &self.active, addr) {
            (Some(b), None, Some(addr)) => match b.matcher {
                MatchBy::ConnectData(d) => d == data,
                MatchBy::ClientIp(ip) => ip == addr.ip(),
            },
            _ => false,
        };
        let Some(addr) = addr.filter(|_| admit) else {
            tracing::warn!(
                ?addr,
                connect_data = format_args!("{data:#010x}"),
                busy = self.active.is_some(),
                "control stream: unexpected client refused"
            );
            self.host.peer_mut(peer).disconnect_now(0);
            return;
        };
        let b = self.expected.take().expect("admit implies expected");
        self.host
            .peer_mut(peer)
            .set_timeout(2, TIMEOUT_MS, TIMEOUT_MS);
        self.host.socket_mut().bind_peer(peer.0 as u16, addr);
        self.active = Some(Active {
            peer,
            addr,
            session: ControlSession::new(&b.rikey, b.iv_mode),
        });
        tracing::info!(%addr, "control stream client connected");
        let _ = self.events.send(ServerEvent::Connected(addr));
    }

    fn shutdown(&mut self) {
        if let Some(a) = self.active.take() {
            self.send_termination_now(a);
        }
    }

    fn send_termination_now(&mut self, a: Active) {
        let mut a = a;
        if let Ok(n) = a.session.seal(
            &HostMessage::Termination {
                reason: termination::GRACEFUL,
            },
            &mut self.out,
        ) {
            let _ = self
                .host
                .peer_mut(a.peer)
                .send(0, &Packet::reliable(&self.out[..n]));
        }
        self.host.peer_mut(a.peer).disconnect_later(0);
        self.host.flush();
    }
}
