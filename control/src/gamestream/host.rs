//! The GameStream host: configuration, shared state, and the listener threads of the
//! HTTP, HTTPS and RTSP ports.
//!
//! Each accepted connection gets its own thread (bounded in number); the phase-1 pairing
//! request is long-polled on a condition variable until the PIN arrives through
//! [`GameStreamHost::submit_pin`]. Finished RTSP handshakes come out of
//! [`GameStreamHost::next_event`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use punktfunk_core::gamestream::rtsp::DescribeCaps;

use super::apps::{AppConfig, AppRunner};
use super::pairing::{HostIdentity, PairingSession};
use super::session::{HostEvent, LaunchSession, Ports};
use super::store::{PairedClient, Store, StoreError};

/// `ServerCodecModeSupport` bit: H.264 (§9.2).
pub const SCM_H264: u32 = 0x0000_0001;
/// `ServerCodecModeSupport` bit: HEVC Main.
pub const SCM_HEVC: u32 = 0x0000_0100;
/// `ServerCodecModeSupport` bits: any AV1 profile.
pub const SCM_AV1_ANY: u32 = 0x0003_0000 | 0x0060_0000;

/// Host configuration.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// `hostname` in `/serverinfo`.
    pub hostname: String,
    /// Address the listeners bind (default 0.0.0.0).
    pub bind: IpAddr,
    /// Base port `B` (default 47989); every port derives from it (§1).
    pub base_port: u16,
    /// State directory (host identity, uniqueid, paired clients).
    pub state_dir: PathBuf,
    /// Apps offered in `/applist` (default: the desktop).
    pub apps: Vec<AppConfig>,
    /// `ServerCodecModeSupport` (must include [`SCM_H264`]).
    pub codec_mode_support: u32,
    /// Host feature flags, encryption bits and RFI for the DESCRIBE reply; the HEVC and
    /// AV1 markers are derived from `codec_mode_support`.
    pub describe: DescribeCaps,
    /// How long the phase-1 pairing request waits for the PIN.
    pub pin_timeout: Duration,
    /// How long a launch session accepts RTSP connections (Sunshine: 10 s ping timeout).
    pub launch_timeout: Duration,
    /// Idle timeout of HTTP/HTTPS/RTSP connections.
    pub io_timeout: Duration,
    /// Most connections served at once, per listener; more are closed at once.
    pub max_connections: usize,
    /// Sunshine's "mandatory encryption": `/launch` without `corever >= 1` gets 403, the
    /// DESCRIBE reply requests video and audio encryption, and an ANNOUNCE that does not
    /// enable both gets 403.
    pub require_encryption: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            hostname: "punktfunk".into(),
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            base_port: 47989,
            state_dir: PathBuf::from("/var/lib/punktfunk"),
            apps: vec![AppConfig::desktop()],
            codec_mode_support: SCM_H264,
            describe: DescribeCaps {
                feature_flags: 0,
                // Sunshine's LAN default: control v2 and audio; video encryption off.
                encryption_supported: 0x01 | 0x04,
                encryption_requested: 0x01,
                ref_pic_invalidation: false,
                hevc: false,
                av1: false,
            },
            pin_timeout: Duration::from_secs(300),
            launch_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            max_connections: 32,
            require_encryption: false,
        }
    }
}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The base port leaves no room for the derived ports.
    #[error("base port {0} cannot derive all ports")]
    BasePort(u16),
    /// The state directory failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding a listener failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// TLS configuration failed.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Why a PIN was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// No client is waiting for a PIN.
    #[error("no pairing is waiting for a PIN")]
    NoPairing,
    /// The PIN is not four digits.
    #[error("PIN must be four digits")]
    BadPin,
}

/// Pairing sessions by client `uniqueid`.
#[derive(Debug, Default)]
pub(crate) struct PairingTable {
    pub sessions: HashMap<String, PairingSession>,
    /// The `uniqueid` whose phase-1 request waits for the PIN.
    pub awaiting: Option<String>,
    /// Name given with the PIN, stored with the certificate after phase 4.
    pub names: HashMap<String, String>,
}

/// State shared by every connection thread.
pub(crate) struct Shared {
    pub config: HostConfig,
    pub ports: Ports,
    pub identity: HostIdentity,
    pub tls: Arc<rustls::ServerConfig>,
    pub store: Store,
    pub unique_id: String,
    pub paired: Mutex<Vec<PairedClient>>,
    pub pairing: Mutex<PairingTable>,
    pub pin_cv: Condvar,
    pub apps: AppRunner,
    pub launch: Mutex<Option<LaunchSession>>,
    pub events: Mutex<mpsc::Sender<HostEvent>>,
    pub stop: AtomicBool,
}

/// Locks a mutex, recovering the data if a thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Is this certificate fingerprint paired?
    pub fn is_paired(&self, fingerprint: &[u8; 32]) -> bool {
        lock(&self.paired)
            .iter()
            .any(|c| &c.cert.fingerprint() == fingerprint)
    }

    /// Sends an event to the streaming side (dropped if nobody listens).
    pub fn emit(&self, event: HostEvent) {
        let _ = lock(&self.events).send(event);
    }

    /// Ends the running app and any launch session (`/cancel`, app exit).
    pub fn end_sessions(&self) {
        lock(&self.launch).take();
        self.apps.stop();
    }
}

/// A running GameStream host.
pub struct GameStreamHost {
    shared: Arc<Shared>,
    events: Mutex<mpsc::Receiver<HostEvent>>,
    threads: Vec<JoinHandle<()>>,
    addrs: Vec<SocketAddr>,
}

impl std::fmt::Debug for GameStreamHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameStreamHost")
            .field("ports", &self.shared.ports)
            .finish_non_exhaustive()
    }
}

fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, StartError> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })
}

/// Which protocol a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Http,
    Https,
    Rtsp,
}

impl GameStreamHost {
    /// Loads or creates the state, binds HTTP, HTTPS and RTSP, and starts serving.
    pub fn start(mut config: HostConfig) -> Result<Self, StartError> {
        let ports =
            Ports::from_base(config.base_port).ok_or(StartError::BasePort(config.base_port))?;
        config.codec_mode_support |= SCM_H264;
        config.describe.hevc = config.codec_mode_support & SCM_HEVC != 0;
        config.describe.av1 = config.codec_mode_support & SCM_AV1_ANY != 0;
        if config.require_encryption {
            config.describe.encryption_supported |= 0x01 | 0x02 | 0x04;
            config.describe.encryption_requested |= 0x01 | 0x02 | 0x04;
        }
        let store = Store::open(&config.state_dir)?;
        let identity = store.host_identity()?;
        let unique_id = store.unique_id()?;
        let paired = store.paired_clients()?;
        let tls = super::nvhttp::tls::server_config(&identity)?;
        let listeners = [
            (Listener::Http, bind(config.bind, ports.http)?),
            (Listener::Https, bind(config.bind, ports.https)?),
            (Listener::Rtsp, bind(config.bind, ports.rtsp)?),
        ];
        let (tx, rx) = mpsc::channel();
        tracing::info!(
            http = ports.http,
            https = ports.https,
            rtsp = ports.rtsp,
            paired = paired.len(),
            "GameStream host listening"
        );
        let shared = Arc::new(Shared {
            config,
            ports,
            identity,
            tls,
            store,
            unique_id,
            paired: Mutex::new(paired),
            pairing: Mutex::new(PairingTable::default()),
            pin_cv: Condvar::new(),
            apps: AppRunner::default(),
            launch: Mutex::new(None),
            events: Mutex::new(tx),
            stop: AtomicBool::new(false),
        });
        let mut threads = Vec::new();
        let mut addrs = Vec::new();
        for (kind, listener) in listeners {
            addrs.push(listener.local_addr().map_err(|source| StartError::Bind {
                addr: SocketAddr::new(shared.config.bind, 0),
                source,
            })?);
            let shared = shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("gs-{kind:?}").to_lowercase())
                .spawn(move || accept_loop(shared, listener, kind))
                .map_err(|source| StartError::Bind {
                    addr: addrs[addrs.len() - 1],
                    source,
                })?;
            threads.push(t);
        }
        Ok(Self {
            shared,
            events: Mutex::new(rx),
            threads,
            addrs,
        })
    }

    /// The ports in use.
    pub fn ports(&self) -> Ports {
        self.shared.ports
    }

    /// The host's `uniqueid`.
    pub fn unique_id(&self) -> &str {
        &self.shared.unique_id
    }

    /// The host certificate (PEM) clients pin.
    pub fn cert_pem(&self) -> &str {
        self.shared.identity.cert_pem()
    }

    /// A client's phase-1 request is waiting for the user's PIN.
    pub fn pairing_pending(&self) -> bool {
        lock(&self.shared.pairing).awaiting.is_some()
    }

    /// The user typed `pin` for the waiting pairing; `name` is stored with the certificate.
    pub fn submit_pin(&self, pin: &str, name: &str) -> Result<(), PinError> {
        let mut t = lock(&self.shared.pairing);
        let uid = t.awaiting.clone().ok_or(PinError::NoPairing)?;
        let session = t.sessions.get_mut(&uid).ok_or(PinError::NoPairing)?;
        session.set_pin(pin).map_err(|_| PinError::BadPin)?;
        t.names.insert(uid, name.to_owned());
        t.awaiting = None;
        self.shared.pin_cv.notify_all();
        Ok(())
    }

    /// Paired clients.
    pub fn paired_clients(&self) -> Vec<PairedClient> {
        lock(&self.shared.paired).clone()
    }

    /// Removes a paired client by certificate fingerprint (management action; `/unpair`
    /// from the network never removes certificates). Returns whether one was removed.
    pub fn unpair_client(&self, fingerprint: &[u8; 32]) -> Result<bool, StoreError> {
        let mut paired = lock(&self.shared.paired);
        let before = paired.clone();
        paired.retain(|c| &c.cert.fingerprint() != fingerprint);
        if paired.len() == before.len() {
            return Ok(false);
        }
        if let Err(e) = self.shared.store.save_paired_clients(&paired) {
            *paired = before;
            return Err(e);
        }
        Ok(true)
    }

    /// The streaming side calls this once the client's ENet control stream is bound to the
    /// session: the pending launch session is cleared and RTSP stops accepting connections
    /// (Sunshine's behaviour, §4.1). Returns the session that was pending.
    pub fn launch_session_connected(&self) -> Option<LaunchSession> {
        lock(&self.shared.launch).take()
    }

    /// ID of the running app, 0 if none.
    pub fn current_app(&self) -> u32 {
        self.shared.apps.current()
    }

    /// Waits up to `timeout` for the next event (a finished RTSP handshake, the end of a
    /// session).
    pub fn next_event(&self, timeout: Duration) -> Option<HostEvent> {
        lock(&self.events).recv_timeout(timeout).ok()
    }

    /// Stops the listeners and the running app; joins the accept threads.
    pub fn shutdown(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.pin_cv.notify_all();
        for addr in &self.addrs {
            // Wake the blocking accept.
            let ip = if addr.ip().is_unspecified() {
                match addr {
                    SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                }
            } else {
                addr.ip()
            };
            let _ = TcpStream::connect_timeout(
                &SocketAddr::new(ip, addr.port()),
                Duration::from_secs(1),
            );
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.shared.end_sessions();
    }
}

impl Drop for GameStreamHost {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop_all();
        }
    }
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener, kind: Listener) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(?kind, "accept: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = stream.peer_addr().ok();
        if active.load(Ordering::SeqCst) >= shared.config.max_connections {
            tracing::warn!(?kind, ?peer, "too many connections; closing");
            continue;
        }
        let _ = stream.set_read_timeout(Some(shared.config.io_timeout));
        let _ = stream.set_write_timeout(Some(shared.config.io_timeout));
        let _ = stream.set_nodelay(true);
        active.fetch_add(1, Ordering::SeqCst);
        let (s, a) = (shared.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("gs-{kind:?}-conn").to_lowercase())
            .spawn(move || {
                match kind {
                    Listener::Http => super::nvhttp::serve_http(&s, stream),
                    Listener::Https => super::nvhttp::serve_https(&s, stream),
                    Listener::Rtsp => super::rtsp::serve(&s, stream),
                }
                a.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            active.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(?kind, "spawning connection thread: {e}");
        }
    }
}
