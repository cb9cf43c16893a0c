//! A simulated NIC: a [`TxQueue`] that builds frames exactly as the AF_XDP engine does
//! (Ethernet + IPv4 + UDP headers from a [`HeaderTemplate`], payload written in place into
//! 2 KiB frames) and "transmits" them at a set line rate: commit returns only once the wire
//! time of everything committed so far has elapsed. It measures what one datapath core can
//! seal and enqueue, independent of veth's copy-mode limits.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_datapath::headers::HeaderTemplate;
use punktfunk_datapath::{DatagramSink, EngineKind, TxBatch, TxError, TxQueue, TxStats};

const FRAME: usize = 2048;

/// The simulated NIC queue.
pub struct SimNic {
    frames: Box<[u8]>,
    lens: Box<[usize]>,
    tmpl: HeaderTemplate,
    sock: UdpSocket,
    rate_bps: u64,
    start: Option<Instant>,
    wire_bits: u128,
    stats: TxStats,
}

impl SimNic {
    /// A queue of `batch` frames draining at `rate_bps` (0: unlimited).
    pub fn new(batch: usize, rate_bps: u64) -> std::io::Result<Self> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        let local = sock.local_addr()?;
        let remote: SocketAddr = "127.0.0.1:9".parse().expect("literal");
        let tmpl =
            HeaderTemplate::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], local, remote, false)
                .expect("same family");
        Ok(Self {
            frames: vec![0u8; batch * FRAME].into_boxed_slice(),
            lens: vec![0; batch].into_boxed_slice(),
            tmpl,
            sock,
            rate_bps,
            start: None,
            wire_bits: 0,
            stats: TxStats::default(),
        })
    }
}

impl TxQueue for SimNic {
    type Batch<'a> = SimBatch<'a>;

    fn batch(&mut self, max: usize) -> Result<SimBatch<'_>, TxError> {
        let limit = max.min(self.lens.len());
        Ok(SimBatch {
            nic: self,
            n: 0,
            limit,
        })
    }

    fn batch_limit(&self) -> usize {
        self.lens.len()
    }

    fn max_datagram(&self) -> usize {
        1472
    }

    fn flush(&mut self) -> Result<(), TxError> {
        Ok(())
    }

    fn stats(&self) -> TxStats {
        self.stats
    }

    fn kind(&self) -> EngineKind {
        // Reported as AF_XDP zero-copy: the path it stands in for.
        EngineKind::XdpZeroCopy
    }

    fn local_addr(&self) -> SocketAddr {
        self.sock.local_addr().expect("bound")
    }

    fn socket(&self) -> &UdpSocket {
        &self.sock
    }
}

/// A batch of simulated frames.
pub struct SimBatch<'a> {
    nic: &'a mut SimNic,
    n: usize,
    limit: usize,
}

impl DatagramSink for SimBatch<'_> {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        let hdr = self.nic.tmpl.len();
        if self.n >= self.limit || hdr + len > FRAME {
            return None;
        }
        let start = self.n * FRAME + hdr;
        self.nic.lens[self.n] = len;
        self.n += 1;
        Some(&mut self.nic.frames[start..start + len])
    }
}

impl TxBatch for SimBatch<'_> {
    fn len(&self) -> usize {
        self.n
    }

    fn commit(self) -> Result<usize, TxError> {
        let nic = self.nic;
        let start = *nic.start.get_or_insert_with(Instant::now);
        for i in 0..self.n {
            let frame = &mut nic.frames[i * FRAME..(i + 1) * FRAME];
            let total = nic.tmpl.write(frame, nic.lens[i]).expect("fits");
            // What a NIC would read: keep the written frame observable.
            std::hint::black_box(&frame[..total]);
            nic.wire_bits += ((total + 24) * 8) as u128; // + preamble, FCS, gap
            nic.stats.sent_packets += 1;
            nic.stats.sent_bytes += nic.lens[i] as u64;
        }
        if nic.rate_bps > 0 {
            let due = Duration::from_nanos(
                (nic.wire_bits * 1_000_000_000 / u128::from(nic.rate_bps)) as u64,
            );
            while start.elapsed() < due {
                std::hint::spin_loop();
            }
        }
        Ok(self.n)
    }
}
