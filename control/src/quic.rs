//! A QUIC endpoint driving `quinn-proto` directly from a glommio UDP socket and glommio timers.
//!
//! One task receives datagrams into a local channel (so a timer firing never loses a datagram);
//! the driver loop feeds them to the `quinn_proto::Endpoint`, runs each connection's
//! [`ConnHandler`] on its events and deadlines, and sends every `Transmit` from the same
//! socket. Everything lives on one glommio executor: no locks, no `Send` bounds, no tokio.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use glommio::channels::local_channel::{self, LocalReceiver};
use glommio::net::UdpSocket;
use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Endpoint, EndpointConfig, Event,
    ServerConfig,
};
use tracing::{debug, warn};

/// Largest datagram the receive task accepts (QUIC packets here stay ≤ 1472 bytes).
const RECV_BUF: usize = 4096;
/// The driver re-checks the stop flag and handler state at least this often.
const MAX_TICK: Duration = Duration::from_millis(20);
/// How long connections get to close cleanly after a stop request.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Application logic of one connection, run by the [`Driver`].
pub trait ConnHandler {
    /// Called with each connection event, and with `None` on every driver tick. The handler
    /// reads/writes streams and datagrams on `conn` and returns its next deadline, if any.
    fn handle(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        event: Option<Event>,
    ) -> Option<Instant>;

    /// Called once when the connection has been drained and is removed.
    fn finished(&mut self, _conn: &Connection) {}
}

/// Makes a handler for each accepted connection (server side).
pub type HandlerFactory = Box<dyn FnMut(SocketAddr) -> Box<dyn ConnHandler>>;

struct Entry {
    conn: Connection,
    handler: Box<dyn ConnHandler>,
    deadline: Option<Instant>,
}

/// The endpoint driver.
pub struct Driver {
    socket: Rc<UdpSocket>,
    endpoint: Endpoint,
    conns: HashMap<ConnectionHandle, Entry>,
    factory: Option<HandlerFactory>,
    rx: LocalReceiver<(BytesMut, SocketAddr)>,
    recv_task: Option<glommio::Task<()>>,
    buf: Vec<u8>,
    stop: Arc<AtomicBool>,
}

impl Driver {
    /// A server endpoint on `bind`, making a handler per connection with `factory`.
    pub fn server(
        bind: SocketAddr,
        config: ServerConfig,
        factory: HandlerFactory,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let endpoint = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            Some(Arc::new(config)),
            true,
            None,
        );
        Self::new(bind, endpoint, Some(factory), stop)
    }

    /// A client endpoint on `bind` (use `0.0.0.0:0`); add connections with [`connect`](Self::connect).
    pub fn client(bind: SocketAddr, stop: Arc<AtomicBool>) -> io::Result<Self> {
        let endpoint = Endpoint::new(Arc::new(EndpointConfig::default()), None, true, None);
        Self::new(bind, endpoint, None, stop)
    }

    fn new(
        bind: SocketAddr,
        endpoint: Endpoint,
        factory: Option<HandlerFactory>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let socket = Rc::new(UdpSocket::bind(bind).map_err(io::Error::from)?);
        let (tx, rx) = local_channel::new_bounded(4096);
        let rs = socket.clone();
        let recv_task = glommio::spawn_local(async move {
            let mut buf = vec![0u8; RECV_BUF];
            loop {
                match rs.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        if tx.send((BytesMut::from(&buf[..n]), from)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        debug!("QUIC socket receive error: {e}");
                        glommio::timer::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        });
        Ok(Self {
            socket,
            endpoint,
            conns: HashMap::new(),
            factory,
            rx,
            recv_task: Some(recv_task),
            buf: Vec::with_capacity(2048),
            stop,
        })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr().map_err(io::Error::from)
    }

    /// Starts a client connection to `remote` run by `handler`.
    pub fn connect(
        &mut self,
        config: ClientConfig,
        remote: SocketAddr,
        server_name: &str,
        handler: Box<dyn ConnHandler>,
    ) -> Result<(), quinn_proto::ConnectError> {
        let (ch, conn) = self
            .endpoint
            .connect(Instant::now(), config, remote, server_name)?;
        self.conns.insert(
            ch,
            Entry {
                conn,
                handler,
                deadline: None,
            },
        );
        Ok(())
    }

    /// Number of live connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Runs until stopped (server: stop flag, then all connections closed; client: when its
    /// connections are gone).
    pub async fn run(mut self) -> io::Result<()> {
        let mut closing_since: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let handles: Vec<ConnectionHandle> = self.conns.keys().copied().collect();
            for ch in handles {
                self.drive(ch, now, true).await;
            }
            if closing_since.is_none() && self.stop.load(Ordering::Relaxed) {
                closing_since = Some(now);
                self.factory = None;
                for e in self.conns.values_mut() {
                    e.conn.close(
                        now,
                        0u32.into(),
                        bytes::Bytes::from_static(b"host shutting down"),
                    );
                }
                continue;
            }
            if self.conns.is_empty() && (self.factory.is_none() || closing_since.is_some()) {
                break;
            }
            if closing_since.is_some_and(|t| now.duration_since(t) > CLOSE_GRACE) {
                warn!(
                    "{} connection(s) did not close within {:?}",
                    self.conns.len(),
                    CLOSE_GRACE
                );
                break;
            }
            let mut deadline = now + MAX_TICK;
            for e in self.conns.values_mut() {
                for d in [e.conn.poll_timeout(), e.deadline].into_iter().flatten() {
                    deadline = deadline.min(d);
                }
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            let got = if wait.is_zero() {
                None
            } else {
                match glommio::timer::timeout(wait, async { Ok(self.rx.recv().await) }).await {
                    Ok(Some(d)) => Some(d),
                    Ok(None) => return Err(io::Error::other("QUIC receive task ended")),
                    Err(_) => None,
                }
            };
            if let Some((data, from)) = got {
                self.handle_datagram(data, from).await;
                // Drain what else is queued before ticking handlers again.
                for _ in 0..256 {
                    match futures_lite::future::poll_once(self.rx.recv()).await {
                        Some(Some((data, from))) => self.handle_datagram(data, from).await,
                        _ => break,
                    }
                }
            }
        }
        if let Some(t) = self.recv_task.take() {
            t.cancel().await;
        }
        Ok(())
    }

    async fn send(&self, len: usize, dest: SocketAddr) {
        if let Err(e) = self.socket.send_to(&self.buf[..len], dest).await {
            debug!("QUIC send to {dest} failed: {e}");
        }
    }

    async fn handle_datagram(&mut self, data: BytesMut, from: SocketAddr) {
        let now = Instant::now();
        self.buf.clear();
        let Some(ev) = self
            .endpoint
            .handle(now, from, None, None, data, &mut self.buf)
        else {
            return;
        };
        match ev {
            DatagramEvent::ConnectionEvent(ch, cev) => {
                if let Some(e) = self.conns.get_mut(&ch) {
                    e.conn.handle_event(cev);
                    self.drive(ch, now, false).await;
                }
            }
            DatagramEvent::NewConnection(incoming) => {
                let Some(factory) = self.factory.as_mut() else {
                    self.buf.clear();
                    let t = self.endpoint.refuse(incoming, &mut self.buf);
                    self.send(t.size, t.destination).await;
                    return;
                };
                self.buf.clear();
                match self.endpoint.accept(incoming, now, &mut self.buf, None) {
                    Ok((ch, conn)) => {
                        let handler = factory(conn.remote_address());
                        self.conns.insert(
                            ch,
                            Entry {
                                conn,
                                handler,
                                deadline: None,
                            },
                        );
                        self.drive(ch, now, false).await;
                    }
                    Err(e) => {
                        debug!("refused a connection from {from}: {}", e.cause);
                        if let Some(t) = e.response {
                            self.send(t.size, t.destination).await;
                        }
                    }
                }
            }
            DatagramEvent::Response(t) => self.send(t.size, t.destination).await,
        }
    }

    /// Processes one connection: timers, events, handler, transmits, endpoint events.
    async fn drive(&mut self, ch: ConnectionHandle, now: Instant, tick: bool) {
        let Some(e) = self.conns.get_mut(&ch) else {
            return;
        };
        if tick && e.conn.poll_timeout().is_some_and(|t| t <= now) {
            e.conn.handle_timeout(now);
        }
        loop {
            let mut progressed = false;
            while let Some(ev) = e.conn.poll_endpoint_events() {
                if let Some(cev) = self.endpoint.handle_event(ch, ev) {
                    e.conn.handle_event(cev);
                }
                progressed = true;
            }
            while let Some(ev) = e.conn.poll() {
                e.deadline = e.handler.handle(&mut e.conn, now, Some(ev));
                progressed = true;
            }
            e.deadline = e.handler.handle(&mut e.conn, now, None);
            loop {
                self.buf.clear();
                let Some(t) = e.conn.poll_transmit(now, 1, &mut self.buf) else {
                    break;
                };
                if let Err(err) = self
                    .socket
                    .send_to(&self.buf[..t.size], t.destination)
                    .await
                {
                    debug!("QUIC send to {} failed: {err}", t.destination);
                }
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        if e.conn.is_drained()
            && let Some(mut e) = self.conns.remove(&ch)
        {
            e.handler.finished(&e.conn);
        }
    }
}
