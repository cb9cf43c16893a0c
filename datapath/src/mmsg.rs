//! The sendmmsg engine: a connected UDP socket, batches of up to 64 datagrams per syscall.
//!
//! The portable baseline: works everywhere UDP does.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;

use punktfunk_core::slots::DatagramSink;

use crate::sys::{MmsgScratch, is_transient};
use crate::{EngineKind, Flow, TxBatch, TxError, TxQueue, TxStats, bind_connected};

/// How often one batch is retried on ENOBUFS/EAGAIN before its rest is dropped.
pub(crate) const MAX_RETRIES: u32 = 64;

/// Options of the sendmmsg engine.
#[derive(Debug, Clone, Copy)]
pub struct MmsgConfig {
    /// Datagrams per batch (default 64).
    pub batch: usize,
    /// Largest datagram (default 1472: a 1500-byte MTU minus IPv4 and UDP headers).
    pub max_datagram: usize,
    /// SO_SNDBUF to request (default 4 MiB; 0 keeps the system default).
    pub sndbuf: usize,
}

impl Default for MmsgConfig {
    fn default() -> Self {
        Self {
            batch: 64,
            max_datagram: 1472,
            sndbuf: 4 << 20,
        }
    }
}

/// sendmmsg transmit queue.
pub struct MmsgEngine {
    sock: UdpSocket,
    local: SocketAddr,
    arena: Box<[u8]>,
    lens: Box<[usize]>,
    stride: usize,
    scratch: MmsgScratch,
    stats: TxStats,
}

impl MmsgEngine {
    /// Binds and connects a socket for `flow`.
    pub fn open(flow: &Flow, config: &MmsgConfig) -> Result<Self, TxError> {
        let sock = bind_connected(flow, config.sndbuf)?;
        let local = sock
            .local_addr()
            .map_err(|e| TxError::io("local_addr", e))?;
        let batch = config.batch.max(1);
        let stride = config.max_datagram.max(1);
        Ok(Self {
            sock,
            local,
            arena: vec![0u8; batch * stride].into_boxed_slice(),
            lens: vec![0usize; batch].into_boxed_slice(),
            stride,
            scratch: MmsgScratch::new(batch),
            stats: TxStats::default(),
        })
    }

    fn send(&mut self, n: usize) -> Result<usize, TxError> {
        let mut done = 0;
        let mut retries = 0;
        while done < n {
            let arena = &self.arena[done * self.stride..];
            self.stats.syscalls += 1;
            match self
                .scratch
                .send(self.sock.as_fd(), arena, self.stride, &self.lens[done..n])
            {
                Ok(k) => {
                    self.stats.sent_packets += k as u64;
                    self.stats.sent_bytes += self.lens[done..done + k].iter().sum::<usize>() as u64;
                    done += k;
                }
                Err(e) if is_transient(&e) && retries < MAX_RETRIES => {
                    retries += 1;
                    self.stats.retries += 1;
                    std::thread::yield_now();
                }
                Err(e) if is_transient(&e) => {
                    self.stats.drops += (n - done) as u64;
                    return Ok(done);
                }
                Err(e) => return Err(TxError::io("sendmmsg", e)),
            }
        }
        Ok(done)
    }
}

impl TxQueue for MmsgEngine {
    type Batch<'a> = MmsgBatch<'a>;

    fn batch(&mut self, max: usize) -> Result<MmsgBatch<'_>, TxError> {
        let limit = max.min(self.lens.len());
        Ok(MmsgBatch {
            engine: self,
            n: 0,
            limit,
            committed: false,
        })
    }

    fn batch_limit(&self) -> usize {
        self.lens.len()
    }

    fn max_datagram(&self) -> usize {
        self.stride
    }

    fn flush(&mut self) -> Result<(), TxError> {
        Ok(())
    }

    fn stats(&self) -> TxStats {
        self.stats
    }

    fn kind(&self) -> EngineKind {
        EngineKind::Sendmmsg
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn socket(&self) -> &UdpSocket {
        &self.sock
    }
}

/// A batch of the sendmmsg engine.
#[must_use = "a batch sends nothing until committed"]
pub struct MmsgBatch<'a> {
    engine: &'a mut MmsgEngine,
    n: usize,
    limit: usize,
    committed: bool,
}

impl DatagramSink for MmsgBatch<'_> {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.n >= self.limit || len > self.engine.stride {
            return None;
        }
        let start = self.n * self.engine.stride;
        self.engine.lens[self.n] = len;
        self.n += 1;
        Some(&mut self.engine.arena[start..start + len])
    }
}

impl TxBatch for MmsgBatch<'_> {
    fn len(&self) -> usize {
        self.n
    }

    fn commit(mut self) -> Result<usize, TxError> {
        self.committed = true;
        self.engine.send(self.n)
    }
}

impl Drop for MmsgBatch<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.engine.stats.discarded += self.n as u64;
        }
    }
}
