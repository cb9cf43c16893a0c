//! A GameStream media sender: the first ping fixes the client's endpoint (§4.6 rule 2), then
//! datagrams go out from the same port through a datapath engine, paced.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use punktfunk_core::pacing::{self, FrameShape, PacingConfig};
use punktfunk_core::slots::DatagramBuf;
use punktfunk_datapath::select::{AnyEngine, EngineConfig, open_engine};
use punktfunk_datapath::{EngineKind, Flow, TxBatch, TxError, TxQueue, TxStats};

use super::ping::PingMatcher;

/// Bytes a datagram occupies on the wire beyond its UDP payload (Ethernet, IPv4, UDP).
const WIRE_OVERHEAD: u32 = 14 + 20 + 8;

/// Errors of a media sender.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// No ping arrived before the deadline (Sunshine stops the session after 10 s).
    #[error("no ping from the client within {0:?}")]
    NoPing(Duration),
    /// The session was stopped while waiting.
    #[error("stopped")]
    Stopped,
    /// A socket call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The datapath refused.
    #[error(transparent)]
    Tx(#[from] TxError),
}

/// Waits on `socket` (bound to the host's video or audio port) for the session's first ping
/// and returns where it came from. Other datagrams are ignored.
pub fn wait_for_ping(
    socket: &UdpSocket,
    matcher: &PingMatcher,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<SocketAddr, SenderError> {
    let deadline = Instant::now() + timeout;
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|source| SenderError::Io {
            what: "set_read_timeout",
            source,
        })?;
    let mut buf = [0u8; 64];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(SenderError::Stopped);
        }
        if Instant::now() >= deadline {
            return Err(SenderError::NoPing(timeout));
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) if matcher.matches(&buf[..n], from) => return Ok(from),
            Ok((n, from)) => tracing::debug!(%from, len = n, "datagram on a media port ignored"),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionRefused
                ) => {}
            Err(source) => {
                return Err(SenderError::Io {
                    what: "recv ping",
                    source,
                });
            }
        }
    }
}

/// Sends one stream's datagrams to the client through a datapath engine.
pub struct MediaSender {
    engine: AnyEngine,
    buf: DatagramBuf,
    pacing: PacingConfig,
    link_bps: u64,
}

impl std::fmt::Debug for MediaSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSender")
            .field("engine", &self.engine.kind())
            .finish_non_exhaustive()
    }
}

impl MediaSender {
    /// Opens an engine sending from `local` (the port the client pinged) to `remote`.
    /// `link_bps` bounds the pacing rate (0: spread over the frame interval only).
    pub fn open(
        local: SocketAddr,
        remote: SocketAddr,
        engines: &EngineConfig,
        link_bps: u64,
    ) -> Result<Self, SenderError> {
        let engine = open_engine(&Flow { local, remote }, engines)?;
        tracing::info!(%local, %remote, engine = %engine.kind(), "media sender ready");
        Ok(Self {
            engine,
            buf: DatagramBuf::new(),
            pacing: PacingConfig::default(),
            link_bps,
        })
    }

    /// The buffer the packetizers write into; cleared.
    pub fn sink(&mut self) -> &mut DatagramBuf {
        self.buf.clear();
        &mut self.buf
    }

    /// Which engine sends.
    pub fn kind(&self) -> EngineKind {
        self.engine.kind()
    }

    /// The engine's counters.
    pub fn stats(&self) -> TxStats {
        self.engine.stats()
    }

    /// Sends what the packetizer wrote, spread over (most of) `interval` per the pacing plan;
    /// returns the datagrams handed over.
    pub fn send_paced(&mut self, interval: Duration) -> Result<usize, SenderError> {
        let n = self.buf.len();
        if n == 0 {
            return Ok(0);
        }
        let wire = self.buf.get(0).map_or(0, |d| d.len() as u32) + WIRE_OVERHEAD;
        let plan = pacing::plan(
            FrameShape {
                packets: n as u32,
                wire_bytes: wire,
                interval_ns: interval.as_nanos() as u64,
                link_bps: self.link_bps,
            },
            &self.pacing,
        );
        let start = Instant::now();
        let mut sent = 0;
        for chunk in plan {
            let due = start + Duration::from_nanos(chunk.offset_ns);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let first = chunk.first as usize;
            sent += self.send_range(first, first + chunk.packets as usize)?;
        }
        Ok(sent)
    }

    /// Sends everything written at once (audio: a few small datagrams).
    pub fn send_now(&mut self) -> Result<usize, SenderError> {
        self.send_range(0, self.buf.len())
    }

    fn send_range(&mut self, mut from: usize, to: usize) -> Result<usize, SenderError> {
        let mut sent = 0;
        let limit = self.engine.batch_limit().max(1);
        while from < to {
            let room = (to - from).min(limit);
            let mut batch = self.engine.batch(room)?;
            for i in from..from + room {
                let d = self.buf.get(i).expect("index below len");
                match punktfunk_core::slots::DatagramSink::next_datagram(&mut batch, d.len()) {
                    Some(slot) => slot.copy_from_slice(d),
                    None => break,
                }
            }
            let written = batch.len();
            if written == 0 {
                return Err(SenderError::Tx(TxError::Unsupported(
                    "datagram larger than the engine's slots".into(),
                )));
            }
            sent += batch.commit()?;
            from += written;
        }
        Ok(sent)
    }
}
