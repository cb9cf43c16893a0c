//! The client's video receiver (reference client and tests): hole punching (§4.6), batched
//! `recvmmsg`, core's reassembler, and verification of the synthetic stream (§5.7).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use punktfunk_core::native::control::PUNCH;
use punktfunk_core::native::control::handshake::WelcomeRepr;
use punktfunk_core::native::data::{
    MAX_DATAGRAM_BYTES, ReassembledFrame, Reassembler, ReassemblerStats, user_flags,
};

use crate::native::dataplane::verify_synthetic_au;
use crate::native::sealer::reassembler_config;

/// Datagrams per `recvmmsg` batch.
const BATCH: usize = 32;

/// What the receiver has seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received (UDP payload).
    pub bytes: u64,
    /// AUs that matched the synthetic pattern.
    pub verified: u64,
    /// AUs that did not match it.
    pub corrupt: u64,
    /// AUs flagged as recovery points.
    pub recovery_points: u64,
    /// Punches sent.
    pub punches: u64,
    /// The reassembler's counters.
    pub reassembly: ReassemblerStats,
}

/// Receives and reassembles one session's video.
pub struct VideoReceiver {
    sock: UdpSocket,
    dest: SocketAddr,
    reasm: Reassembler,
    bufs: Vec<[u8; MAX_DATAGRAM_BYTES]>,
    next_punch: Instant,
    stats: ReceiverStats,
    verify: bool,
}

impl VideoReceiver {
    /// A receiver on `sock` (the socket whose port went into Start) for the host data port
    /// `dest`; the socket is connected to it so nothing else is accepted. With `verify`, every
    /// AU is checked against the synthetic pattern.
    pub fn new(
        sock: UdpSocket,
        dest: SocketAddr,
        welcome: &WelcomeRepr,
        verify: bool,
    ) -> Result<Self, String> {
        sock.connect(dest)
            .map_err(|e| format!("connect data socket: {e}"))?;
        Ok(Self {
            sock,
            dest,
            reasm: Reassembler::new(reassembler_config(welcome)?),
            bufs: vec![[0u8; MAX_DATAGRAM_BYTES]; BATCH],
            next_punch: Instant::now(),
            stats: ReceiverStats::default(),
            verify,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> ReceiverStats {
        ReceiverStats {
            reassembly: self.reasm.stats(),
            ..self.stats
        }
    }

    fn punch(&mut self, now: Instant) {
        if now < self.next_punch {
            return;
        }
        // 15 punches 200 ms apart, then every 2 s for the whole session.
        let _ = self.sock.send(PUNCH);
        self.stats.punches += 1;
        let gap = if self.stats.punches < 15 {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        };
        self.next_punch = now + gap;
    }

    /// Punches when due, waits up to `timeout` for datagrams, feeds them to the reassembler and
    /// hands every completed AU to `on_frame`.
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut on_frame: impl FnMut(&ReassembledFrame),
    ) -> io::Result<()> {
        self.punch(Instant::now());
        let wait = timeout
            .min(self.next_punch.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        self.sock.set_read_timeout(Some(wait))?;
        let n = self.recv_batch()?;
        for i in 0..n.0 {
            let len = n.1[i];
            self.stats.datagrams += 1;
            self.stats.bytes += len as u64;
            let _ = self.reasm.handle_datagram(&self.bufs[i][..len]);
        }
        while let Some(frame) = self.reasm.poll_frame() {
            if frame.user_flags & user_flags::RECOVERY_POINT != 0 {
                self.stats.recovery_points += 1;
            }
            if self.verify {
                if verify_synthetic_au(frame.bytes()).is_some() {
                    self.stats.verified += 1;
                } else {
                    self.stats.corrupt += 1;
                }
            }
            on_frame(&frame);
            self.reasm.recycle(frame);
        }
        Ok(())
    }

    /// The host data address.
    pub fn dest(&self) -> SocketAddr {
        self.dest
    }

    /// One `recvmmsg` call: (datagrams, their lengths). A timeout is zero datagrams.
    fn recv_batch(&mut self) -> io::Result<(usize, [usize; BATCH])> {
        let mut iov: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: mmsghdr is a plain C struct; all-zero is a valid empty value.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for ((v, h), b) in iov
            .iter_mut()
            .zip(hdrs.iter_mut())
            .zip(self.bufs.iter_mut())
        {
            v.iov_base = b.as_mut_ptr().cast();
            v.iov_len = b.len();
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at one iovec over a live buffer of `iov_len` bytes owned
        // by `self.bufs`; `iov` and `hdrs` outlive the call; the kernel writes at most
        // `iov_len` bytes per buffer and the lengths into `hdrs`.
        let r = unsafe {
            libc::recvmmsg(
                self.sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let mut lens = [0usize; BATCH];
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok((0, lens)),
                // ICMP port unreachable before the host's socket is ready: keep going.
                io::ErrorKind::ConnectionRefused => Ok((0, lens)),
                _ => Err(e),
            };
        }
        let n = r as usize;
        for (l, h) in lens.iter_mut().zip(hdrs.iter()).take(n) {
            *l = h.msg_len as usize;
        }
        Ok((n, lens))
    }
}
