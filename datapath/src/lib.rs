//! punktfunk-datapath: the transmit engines and the pinned datapath thread.
//!
//! Sealers in `punktfunk-core` write each finished datagram into a
//! [`DatagramSink`](punktfunk_core::slots::DatagramSink). Every engine here implements that sink
//! over its own transmit buffers and sends what was written in batches, behind one trait,
//! [`TxQueue`]:
//!
//! | engine | module | how it sends |
//! |---|---|---|
//! | AF_XDP | [`xdp`] | frames written in place into UMEM after Ethernet+IP+UDP headers; TX ring + batched kicks; zero-copy bind first, copy mode otherwise |
//! | io_uring | [`uring`] | batched `IORING_OP_SENDMSG`, equal-size runs coalesced with UDP GSO (`UDP_SEGMENT`); plain sends if the kernel refuses GSO |
//! | sendmmsg | [`mmsg`] | `sendmmsg(2)` of up to 64 datagrams on a connected UDP socket |
//!
//! [`open_engine`] tries them in that order and says in one log line why each one it skipped
//! failed. [`pipeline`] runs an engine on a pinned thread fed by an SPSC ring of frames
//! ([`spsc`]) and releases each frame per its pacing plan (`punktfunk_core::pacing`).
//!
//! `unsafe` lives only where the kernel interfaces need it: [`xdp`]'s `sys`, `umem` and `ring`
//! modules, the syscall wrappers in [`sys`], the io_uring submission in [`uring`] and the SPSC
//! ring's slots in [`spsc`]; each block carries its safety argument.
#![warn(missing_docs)]

use std::net::SocketAddr;

pub mod headers;
pub mod mmsg;
pub mod pin;
pub mod pipeline;
pub mod route;
pub mod rx;
pub mod select;
pub mod spsc;
pub mod sys;
pub mod uring;
pub mod xdp;

pub use punktfunk_core::slots::DatagramSink;
pub use select::{AnyEngine, EngineConfig, open_engine};

/// Which engine a queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// AF_XDP socket, zero-copy bind.
    XdpZeroCopy,
    /// AF_XDP socket, copy mode.
    XdpCopy,
    /// io_uring batched sendmsg.
    IoUring,
    /// sendmmsg on a UDP socket.
    Sendmmsg,
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::XdpZeroCopy => "af_xdp(zero-copy)",
            EngineKind::XdpCopy => "af_xdp(copy)",
            EngineKind::IoUring => "io_uring",
            EngineKind::Sendmmsg => "sendmmsg",
        })
    }
}

/// Counters every engine keeps (plain values; read with [`TxQueue::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Datagrams handed to the kernel / NIC.
    pub sent_packets: u64,
    /// UDP payload bytes of those datagrams.
    pub sent_bytes: u64,
    /// Datagrams given up on (the kernel kept refusing them).
    pub drops: u64,
    /// Datagrams written into a batch that was dropped without commit.
    pub discarded: u64,
    /// Send attempts retried after ENOBUFS / EAGAIN / EBUSY.
    pub retries: u64,
    /// System calls made to send (sendmmsg calls, io_uring submits, AF_XDP kicks).
    pub syscalls: u64,
}

/// Errors of the transmit engines.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The engine cannot be used for this destination or on this machine.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Route or neighbour lookup failed.
    #[error("route to {dst}: {why}")]
    Route {
        /// Destination looked up.
        dst: std::net::IpAddr,
        /// Why it failed.
        why: String,
    },
}

impl TxError {
    pub(crate) fn io(what: &'static str, source: std::io::Error) -> Self {
        TxError::Io { what, source }
    }
}

/// The flow a queue sends: from `local` (bound; port 0 picks one) to `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Local address to bind (unspecified address: chosen by the route).
    pub local: SocketAddr,
    /// Destination.
    pub remote: SocketAddr,
}

/// A transmit queue: hands out batches of datagram slots and sends them.
///
/// ```text
/// let mut batch = queue.batch(64)?;          // up to 64 slots of ≤ max_datagram() bytes
/// sealer.seal_into(&mut batch);              // batch: DatagramSink
/// let sent = batch.commit()?;                // headers finished, datagrams handed over
/// ```
pub trait TxQueue {
    /// The batch guard; it borrows the queue until committed or dropped.
    type Batch<'a>: TxBatch
    where
        Self: 'a;

    /// Reserves up to `max` datagram slots (fewer if the engine's buffers or rings are
    /// short; never more than [`TxQueue::batch_limit`]).
    fn batch(&mut self, max: usize) -> Result<Self::Batch<'_>, TxError>;

    /// Largest number of slots one batch can hold.
    fn batch_limit(&self) -> usize;

    /// Largest datagram (UDP payload) this queue sends.
    fn max_datagram(&self) -> usize;

    /// Waits until everything handed over has left the engine's buffers (AF_XDP completions
    /// reclaimed); a no-op for engines whose commit is synchronous.
    fn flush(&mut self) -> Result<(), TxError>;

    /// Counters so far.
    fn stats(&self) -> TxStats;

    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// The bound local address (replies arrive here).
    fn local_addr(&self) -> SocketAddr;

    /// The UDP socket bound to [`TxQueue::local_addr`]: the receive path for feedback when no
    /// XSK receive queue is attached.
    fn socket(&self) -> &std::net::UdpSocket;

    /// Hands each datagram waiting for [`TxQueue::local_addr`] (up to 64) to `on` as
    /// (source, payload) without blocking; returns how many. `buf` is scratch space for socket
    /// reads (65535 bytes holds any datagram). The AF_XDP engine also drains its XSK RX ring
    /// (see [`rx`]).
    fn poll_rx(
        &mut self,
        buf: &mut [u8],
        on: &mut dyn FnMut(SocketAddr, &[u8]),
    ) -> Result<usize, TxError> {
        socket_rx(self.socket(), buf, on, RX_BATCH)
    }
}

/// Most datagrams one `poll_rx` call hands out.
pub const RX_BATCH: usize = 64;

/// Reads up to `max` waiting datagrams from `sock` without blocking.
pub(crate) fn socket_rx(
    sock: &std::net::UdpSocket,
    buf: &mut [u8],
    on: &mut dyn FnMut(SocketAddr, &[u8]),
    max: usize,
) -> Result<usize, TxError> {
    use std::os::fd::AsFd;
    let mut n = 0;
    while n < max {
        match sys::recv_dontwait(sock.as_fd(), buf) {
            Ok(Some((len, from))) => {
                on(from, &buf[..len]);
                n += 1;
            }
            Ok(None) => break,
            Err(e) => return Err(TxError::io("recv", e)),
        }
    }
    Ok(n)
}

/// A reserved batch of datagram slots; write datagrams through [`DatagramSink`], then
/// [`TxBatch::commit`]. Dropping it uncommitted discards what was written.
pub trait TxBatch: DatagramSink {
    /// Datagrams written so far.
    fn len(&self) -> usize;

    /// True when nothing was written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends the written datagrams; returns how many were handed over (the rest were
    /// dropped after retries and counted in [`TxStats::drops`]).
    fn commit(self) -> Result<usize, TxError>;
}

/// Binds a UDP socket for `flow` and connects it to the destination.
pub(crate) fn bind_connected(flow: &Flow, sndbuf: usize) -> Result<std::net::UdpSocket, TxError> {
    let sock = std::net::UdpSocket::bind(flow.local).map_err(|e| TxError::io("bind UDP", e))?;
    sock.connect(flow.remote)
        .map_err(|e| TxError::io("connect UDP", e))?;
    if sndbuf > 0 {
        // Best effort: a smaller buffer only means more ENOBUFS retries.
        let _ = nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::SndBuf, &sndbuf);
    }
    Ok(sock)
}
