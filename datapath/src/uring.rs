//! The io_uring engine: batched `IORING_OP_SENDMSG` with UDP GSO.
//!
//! Datagrams are packed back to back into one arena. At commit, runs of equal-size datagrams
//! (optionally ending in one shorter datagram, as UDP GSO allows) become one `sendmsg` with a
//! `UDP_SEGMENT` control message, up to 64 segments and 64 KiB per send; all sends of a batch
//! go to the kernel in one `io_uring_enter`. If the kernel refuses GSO (EIO, EINVAL,
//! EOPNOTSUPP) the engine logs once and sends one datagram per `sendmsg` from then on.
//!
//! Registered buffers are not used: `IORING_OP_SENDMSG` copies from plain iovecs (fixed
//! buffers only apply to the `*_FIXED` and zero-copy send opcodes), and zero-copy UDP sends
//! were measured slower than copying on loopback and veth (design-notes §4).

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use io_uring::{IoUring, opcode, types};
use punktfunk_core::slots::DatagramSink;

use crate::mmsg::MAX_RETRIES;
use crate::{EngineKind, Flow, TxBatch, TxError, TxQueue, TxStats, bind_connected};

/// Most segments the kernel accepts in one GSO send (UDP_MAX_SEGMENTS is 64 on older kernels).
pub const GSO_MAX_SEGMENTS: usize = 64;
/// Most bytes in one GSO send (the IP length field, minus headers).
pub const GSO_MAX_BYTES: usize = 65_000;

/// Options of the io_uring engine.
#[derive(Debug, Clone, Copy)]
pub struct UringConfig {
    /// Datagrams per batch (default 256).
    pub batch: usize,
    /// Largest datagram (default 1472).
    pub max_datagram: usize,
    /// Coalesce equal-size runs with UDP GSO (default true).
    pub gso: bool,
    /// SO_SNDBUF to request (default 8 MiB; 0 keeps the system default).
    pub sndbuf: usize,
}

impl Default for UringConfig {
    fn default() -> Self {
        Self {
            batch: 256,
            max_datagram: 1472,
            gso: true,
            sndbuf: 8 << 20,
        }
    }
}

/// Checks that io_uring can be set up here (ENOSYS on old kernels, EPERM where
/// `kernel.io_uring_disabled` forbids it); tests print the error as their skip reason.
pub fn available() -> Result<(), TxError> {
    IoUring::new(2)
        .map(drop)
        .map_err(|e| TxError::io("io_uring_setup", e))
}

#[repr(C)]
#[derive(Clone, Copy)]
struct GsoCmsg {
    hdr: libc::cmsghdr,
    segment: u16,
    _pad: [u8; 6],
}

/// One planned `sendmsg`: datagrams `[first, first + count)`, `bytes` long from `offset`.
#[derive(Clone, Copy, Default)]
struct Run {
    first: u32,
    count: u32,
    offset: usize,
    bytes: usize,
    segment: u16,
    state: RunState,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum RunState {
    #[default]
    Pending,
    Done,
}

/// io_uring transmit queue.
pub struct UringEngine {
    ring: IoUring,
    sock: UdpSocket,
    local: SocketAddr,
    arena: Box<[u8]>,
    lens: Box<[u16]>,
    runs: Box<[Run]>,
    msgs: Box<[libc::msghdr]>,
    iovs: Box<[libc::iovec]>,
    cmsgs: Box<[GsoCmsg]>,
    max_datagram: usize,
    gso: bool,
    stats: TxStats,
}

// SAFETY: the raw pointers in msgs/iovs point into the engine's own boxed arrays and are only
// used by the kernel between submit and the reaping of their completions inside `send`; the
// engine moves between threads only as a whole.
unsafe impl Send for UringEngine {}

impl UringEngine {
    /// Sets up a ring and a connected socket for `flow`. Fails when io_uring is unavailable
    /// (ENOSYS, or EPERM when `kernel.io_uring_disabled` forbids it).
    pub fn open(flow: &Flow, config: &UringConfig) -> Result<Self, TxError> {
        let batch = config.batch.clamp(1, 4096);
        let ring = IoUring::new(batch.next_power_of_two() as u32)
            .map_err(|e| TxError::io("io_uring_setup", e))?;
        let sock = bind_connected(flow, config.sndbuf)?;
        let local = sock
            .local_addr()
            .map_err(|e| TxError::io("local_addr", e))?;
        let max_datagram = config.max_datagram.clamp(1, 65_507);
        // SAFETY: msghdr and cmsghdr are plain C structs; all-zero is a valid value.
        let zero_msg: libc::msghdr = unsafe { std::mem::zeroed() };
        let zero_cmsg: GsoCmsg = unsafe { std::mem::zeroed() };
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Ok(Self {
            ring,
            sock,
            local,
            arena: vec![0u8; batch * max_datagram].into_boxed_slice(),
            lens: vec![0u16; batch].into_boxed_slice(),
            runs: vec![Run::default(); batch].into_boxed_slice(),
            msgs: vec![zero_msg; batch].into_boxed_slice(),
            iovs: vec![zero_iov; batch].into_boxed_slice(),
            cmsgs: vec![zero_cmsg; batch].into_boxed_slice(),
            max_datagram,
            gso: config.gso,
            stats: TxStats::default(),
        })
    }

    /// True while sends are coalesced with UDP GSO.
    pub fn gso_active(&self) -> bool {
        self.gso
    }

    /// Splits datagrams `[0, n)` into runs; returns the number of runs.
    fn plan_runs(&mut self, n: usize) -> usize {
        let mut runs = 0;
        let mut i = 0;
        let mut offset = 0;
        while i < n {
            let seg = self.lens[i] as usize;
            let mut j = i + 1;
            let mut bytes = seg;
            if self.gso {
                let max_segs = GSO_MAX_SEGMENTS.min(GSO_MAX_BYTES / seg.max(1)).max(1);
                while j < n && self.lens[j] as usize == seg && j - i < max_segs {
                    bytes += seg;
                    j += 1;
                }
                // GSO allows one shorter last segment.
                if j < n && (self.lens[j] as usize) < seg && j - i < max_segs {
                    bytes += self.lens[j] as usize;
                    j += 1;
                }
            }
            self.runs[runs] = Run {
                first: i as u32,
                count: (j - i) as u32,
                offset,
                bytes,
                segment: seg as u16,
                state: RunState::Pending,
            };
            runs += 1;
            offset += bytes;
            i = j;
        }
        runs
    }

    fn send(&mut self, n: usize) -> Result<usize, TxError> {
        if n == 0 {
            return Ok(0);
        }
        let mut runs = self.plan_runs(n);
        let mut sent = 0usize;
        let mut rounds = 0u32;
        loop {
            let mut submitted = 0usize;
            for r in 0..runs {
                let run = self.runs[r];
                if run.state != RunState::Pending {
                    continue;
                }
                self.iovs[r] = libc::iovec {
                    iov_base: self.arena[run.offset..].as_mut_ptr() as *mut libc::c_void,
                    iov_len: run.bytes,
                };
                let msg = &mut self.msgs[r];
                msg.msg_name = std::ptr::null_mut();
                msg.msg_namelen = 0;
                msg.msg_iov = &mut self.iovs[r];
                msg.msg_iovlen = 1;
                msg.msg_flags = 0;
                if run.count > 1 {
                    let c = &mut self.cmsgs[r];
                    c.hdr.cmsg_len = (std::mem::size_of::<libc::cmsghdr>() + 2) as _;
                    c.hdr.cmsg_level = libc::SOL_UDP;
                    c.hdr.cmsg_type = libc::UDP_SEGMENT;
                    c.segment = run.segment;
                    msg.msg_control = c as *mut GsoCmsg as *mut libc::c_void;
                    msg.msg_controllen = std::mem::size_of::<GsoCmsg>() as _;
                } else {
                    msg.msg_control = std::ptr::null_mut();
                    msg.msg_controllen = 0;
                }
                let entry = opcode::SendMsg::new(types::Fd(self.sock.as_raw_fd()), msg)
                    .build()
                    .user_data(r as u64);
                // SAFETY: the msghdr, its iovec, control message and the arena bytes it points
                // to live in `self` and are neither moved nor written until this call has
                // reaped every completion below (`submit_and_wait(submitted)` + drain loop).
                let pushed = unsafe { self.ring.submission().push(&entry) };
                if pushed.is_err() {
                    break; // ring full: the rest goes next round
                }
                submitted += 1;
            }
            if submitted == 0 {
                break;
            }
            self.stats.syscalls += 1;
            let mut reaped = 0usize;
            let mut transient = false;
            let mut gso_refused = false;
            let mut fatal: Option<std::io::Error> = None;
            while reaped < submitted {
                match self.ring.submit_and_wait(submitted - reaped) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                    Err(e) => return Err(TxError::io("io_uring_enter", e)),
                }
                for cqe in self.ring.completion() {
                    reaped += 1;
                    let r = cqe.user_data() as usize;
                    let res = cqe.result();
                    let run = &mut self.runs[r];
                    if res >= 0 {
                        run.state = RunState::Done;
                        sent += run.count as usize;
                        self.stats.sent_packets += u64::from(run.count);
                        self.stats.sent_bytes += run.bytes as u64;
                    } else {
                        let errno = -res;
                        match errno {
                            libc::ENOBUFS | libc::EAGAIN | libc::EINTR => transient = true,
                            libc::EIO | libc::EINVAL | libc::EOPNOTSUPP
                                if self.gso && run.count > 1 =>
                            {
                                gso_refused = true
                            }
                            _ => fatal = Some(std::io::Error::from_raw_os_error(errno)),
                        }
                    }
                }
            }
            if let Some(e) = fatal {
                return Err(TxError::io("io_uring sendmsg", e));
            }
            if gso_refused {
                tracing::warn!(
                    "io_uring: kernel refused UDP GSO; sending one datagram per sendmsg"
                );
                self.gso = false;
                // Re-plan what is still pending without GSO.
                runs = self.replan_pending(runs);
            }
            if transient {
                self.stats.retries += 1;
                rounds += 1;
                if rounds > MAX_RETRIES {
                    let lost: u32 = self.runs[..runs]
                        .iter()
                        .filter(|r| r.state == RunState::Pending)
                        .map(|r| r.count)
                        .sum();
                    self.stats.drops += u64::from(lost);
                    break;
                }
                std::thread::yield_now();
            }
        }
        Ok(sent)
    }

    /// Splits every pending run into single-datagram runs (after GSO was refused).
    fn replan_pending(&mut self, runs: usize) -> usize {
        // Single-datagram runs never outnumber datagrams, so they fit in `self.runs`; rebuild
        // from the back so unprocessed entries are not overwritten.
        let mut singles = 0usize;
        for r in 0..runs {
            if self.runs[r].state == RunState::Pending {
                singles += self.runs[r].count as usize;
            }
        }
        let mut out = singles;
        for r in (0..runs).rev() {
            let run = self.runs[r];
            if run.state != RunState::Pending {
                continue;
            }
            let mut off = run.offset + run.bytes;
            for k in (0..run.count).rev() {
                let i = run.first + k;
                let len = self.lens[i as usize] as usize;
                off -= len;
                out -= 1;
                self.runs[out] = Run {
                    first: i,
                    count: 1,
                    offset: off,
                    bytes: len,
                    segment: len as u16,
                    state: RunState::Pending,
                };
            }
        }
        singles
    }
}

impl TxQueue for UringEngine {
    type Batch<'a> = UringBatch<'a>;

    fn batch(&mut self, max: usize) -> Result<UringBatch<'_>, TxError> {
        let limit = max.min(self.lens.len());
        Ok(UringBatch {
            engine: self,
            n: 0,
            used: 0,
            limit,
            committed: false,
        })
    }

    fn batch_limit(&self) -> usize {
        self.lens.len()
    }

    fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    fn flush(&mut self) -> Result<(), TxError> {
        Ok(())
    }

    fn stats(&self) -> TxStats {
        self.stats
    }

    fn kind(&self) -> EngineKind {
        EngineKind::IoUring
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn socket(&self) -> &UdpSocket {
        &self.sock
    }
}

/// A batch of the io_uring engine.
#[must_use = "a batch sends nothing until committed"]
pub struct UringBatch<'a> {
    engine: &'a mut UringEngine,
    n: usize,
    used: usize,
    limit: usize,
    committed: bool,
}

impl DatagramSink for UringBatch<'_> {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.n >= self.limit || len > self.engine.max_datagram || len == 0 {
            return None;
        }
        let start = self.used;
        self.engine.lens[self.n] = len as u16;
        self.n += 1;
        self.used += len;
        Some(&mut self.engine.arena[start..start + len])
    }
}

impl TxBatch for UringBatch<'_> {
    fn len(&self) -> usize {
        self.n
    }

    fn commit(mut self) -> Result<usize, TxError> {
        self.committed = true;
        self.engine.send(self.n)
    }
}

impl Drop for UringBatch<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.engine.stats.discarded += self.n as u64;
        }
    }
}
