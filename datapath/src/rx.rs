//! The receive path for the host's port: feedback and pings from clients.
//!
//! Today every engine receives on its bound UDP socket ([`TxQueue::socket`]). When the XDP
//! steering program (`punktfunk_ebpf::XdpSteering`) is attached, packets for the host's ports
//! are redirected into an XSK RX ring instead; that source becomes another [`RxSource`] variant
//! and callers stay unchanged.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use crate::TxQueue;

/// Where received datagrams come from.
#[derive(Debug)]
pub enum RxSource {
    /// A UDP socket (non-blocking reads).
    Socket(UdpSocket),
}

impl RxSource {
    /// Receives from a clone of the engine's socket, switched to non-blocking reads.
    pub fn from_queue<Q: TxQueue>(queue: &Q) -> io::Result<Self> {
        let s = queue.socket().try_clone()?;
        s.set_nonblocking(true)?;
        Ok(RxSource::Socket(s))
    }

    /// Reads one datagram into `buf` if one is waiting; `Ok(None)` when none is.
    pub fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self {
            RxSource::Socket(s) => match s.recv_from(buf) {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}
