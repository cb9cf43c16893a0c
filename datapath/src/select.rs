//! Engine selection with automatic fallback: AF_XDP → io_uring → sendmmsg.
//!
//! Each engine that cannot be opened is skipped with one `warn` log line giving the reason
//! (no permission, unsupported driver, no io_uring, loopback destination, ...). Each backend can
//! be switched off in [`EngineConfig`], so tests and users can force any path.

use std::net::{SocketAddr, UdpSocket};

use punktfunk_core::slots::DatagramSink;

use crate::mmsg::{MmsgBatch, MmsgConfig, MmsgEngine};
use crate::uring::{UringBatch, UringConfig, UringEngine};
use crate::xdp::{XdpBatch, XdpConfig, XdpEngine};
use crate::{EngineKind, Flow, TxBatch, TxError, TxQueue, TxStats};

/// Which engines may be used, and their options.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// AF_XDP options; `None` switches AF_XDP off (the default: it needs an interface choice,
    /// `--xdp eth0`).
    pub xdp: Option<XdpConfig>,
    /// io_uring options; `None` switches io_uring off.
    pub uring: Option<UringConfig>,
    /// sendmmsg options; `None` switches sendmmsg off.
    pub mmsg: Option<MmsgConfig>,
}

impl EngineConfig {
    /// Every engine on, with default options.
    pub fn all() -> Self {
        Self {
            xdp: Some(XdpConfig::default()),
            uring: Some(UringConfig::default()),
            mmsg: Some(MmsgConfig::default()),
        }
    }

    /// The kernel-socket engines only (io_uring, then sendmmsg).
    pub fn sockets() -> Self {
        Self {
            xdp: None,
            ..Self::all()
        }
    }
}

/// One of the engines, chosen at run time.
pub enum AnyEngine {
    /// AF_XDP.
    Xdp(Box<XdpEngine>),
    /// io_uring.
    Uring(Box<UringEngine>),
    /// sendmmsg.
    Mmsg(MmsgEngine),
}

/// Opens the first engine that works for `flow`, in the order AF_XDP, io_uring, sendmmsg.
pub fn open_engine(flow: &Flow, config: &EngineConfig) -> Result<AnyEngine, TxError> {
    let mut last: Option<TxError> = None;
    if let Some(c) = &config.xdp {
        match XdpEngine::open(flow, c) {
            Ok(e) => {
                tracing::info!(
                    "datapath: {} on {} to {}",
                    e.kind(),
                    e.route().ifname,
                    flow.remote
                );
                return Ok(AnyEngine::Xdp(Box::new(e)));
            }
            Err(e) => {
                tracing::warn!("datapath: AF_XDP unavailable, trying io_uring: {e}");
                last = Some(e);
            }
        }
    }
    if let Some(c) = &config.uring {
        match UringEngine::open(flow, c) {
            Ok(e) => {
                tracing::info!("datapath: io_uring to {}", flow.remote);
                return Ok(AnyEngine::Uring(Box::new(e)));
            }
            Err(e) => {
                tracing::warn!("datapath: io_uring unavailable, trying sendmmsg: {e}");
                last = Some(e);
            }
        }
    }
    if let Some(c) = &config.mmsg {
        match MmsgEngine::open(flow, c) {
            Ok(e) => {
                tracing::info!("datapath: sendmmsg to {}", flow.remote);
                return Ok(AnyEngine::Mmsg(e));
            }
            Err(e) => {
                tracing::warn!("datapath: sendmmsg unavailable: {e}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| TxError::Unsupported("every engine is switched off".into())))
}

macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            AnyEngine::Xdp($e) => $body,
            AnyEngine::Uring($e) => $body,
            AnyEngine::Mmsg($e) => $body,
        }
    };
}

impl TxQueue for AnyEngine {
    type Batch<'a> = AnyBatch<'a>;

    fn batch(&mut self, max: usize) -> Result<AnyBatch<'_>, TxError> {
        Ok(match self {
            AnyEngine::Xdp(e) => AnyBatch::Xdp(e.batch(max)?),
            AnyEngine::Uring(e) => AnyBatch::Uring(e.batch(max)?),
            AnyEngine::Mmsg(e) => AnyBatch::Mmsg(e.batch(max)?),
        })
    }

    fn batch_limit(&self) -> usize {
        each!(self, e => e.batch_limit())
    }

    fn max_datagram(&self) -> usize {
        each!(self, e => e.max_datagram())
    }

    fn flush(&mut self) -> Result<(), TxError> {
        each!(self, e => e.flush())
    }

    fn stats(&self) -> TxStats {
        each!(self, e => e.stats())
    }

    fn kind(&self) -> EngineKind {
        each!(self, e => e.kind())
    }

    fn local_addr(&self) -> SocketAddr {
        each!(self, e => e.local_addr())
    }

    fn socket(&self) -> &UdpSocket {
        each!(self, e => e.socket())
    }

    fn poll_rx(
        &mut self,
        buf: &mut [u8],
        on: &mut dyn FnMut(SocketAddr, &[u8]),
    ) -> Result<usize, TxError> {
        each!(self, e => e.poll_rx(buf, on))
    }
}

/// A batch of whichever engine is in use.
#[must_use = "a batch sends nothing until committed"]
pub enum AnyBatch<'a> {
    /// AF_XDP.
    Xdp(XdpBatch<'a>),
    /// io_uring.
    Uring(UringBatch<'a>),
    /// sendmmsg.
    Mmsg(MmsgBatch<'a>),
}

impl DatagramSink for AnyBatch<'_> {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        match self {
            AnyBatch::Xdp(b) => b.next_datagram(len),
            AnyBatch::Uring(b) => b.next_datagram(len),
            AnyBatch::Mmsg(b) => b.next_datagram(len),
        }
    }
}

impl TxBatch for AnyBatch<'_> {
    fn len(&self) -> usize {
        match self {
            AnyBatch::Xdp(b) => b.len(),
            AnyBatch::Uring(b) => b.len(),
            AnyBatch::Mmsg(b) => b.len(),
        }
    }

    fn commit(self) -> Result<usize, TxError> {
        match self {
            AnyBatch::Xdp(b) => b.commit(),
            AnyBatch::Uring(b) => b.commit(),
            AnyBatch::Mmsg(b) => b.commit(),
        }
    }
}
