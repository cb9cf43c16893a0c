//! The AF_XDP engine: datagrams written in place into UMEM frames, sent through the TX ring.
//!
//! Written directly over the kernel interface (`libc` definitions of `if_xdp.h`) rather than
//! through xsk-rs or xdpilone: the TX-only socket needs ~300 lines (socket, UMEM registration,
//! four ring mappings, bind, kick), xsk-rs drags in libxdp/libbpf built from C sources and a
//! default XDP program that needs bpffs, and owning the rings lets the batch guard write
//! frames in place without an extra layer. The shape follows s2n-quic-xdp: [`sys`] (syscalls),
//! [`umem`] (packet memory), [`ring`] (typed producer/consumer rings with a model-tested
//! cursor); all `unsafe` is in those three modules.
//!
//! Frame layout: `| Ethernet | IPv4/IPv6 | UDP | payload (written by the sealer) |` at the start
//! of each 2 KiB frame. Headers come from a [`HeaderTemplate`] built from the kernel's route and
//! neighbour tables ([`crate::route`]). Commit finishes the headers, posts the descriptors with
//! one release store and kicks the kernel (`sendto(MSG_DONTWAIT)`) until the TX ring is drained
//! (copy mode sends at most a small budget of frames per kick); completions are reclaimed
//! lazily into the free list.
//!
//! Bind: zero-copy is tried first; when the driver cannot (veth: EOPNOTSUPP), the socket is
//! rebuilt in copy mode. EBUSY right after a previous socket on the same queue closed is
//! retried briefly. The chosen mode is reported by [`TxQueue::kind`].
//!
//! Receive: the engine also binds a UDP socket on its source port, which receives feedback
//! while nothing is steered into the XSK. With [`XdpConfig::rx`] the socket also gets an RX
//! ring; register [`XdpEngine::xsk_fd`] with the XDP steering program and the host's ports
//! arrive there. [`TxQueue::poll_rx`] drains both (see [`crate::rx`]).

pub mod ring;
pub mod sys;
pub mod umem;

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use punktfunk_core::slots::DatagramSink;

use crate::headers::{HeaderTemplate, IPV4_LEN, IPV6_LEN, UDP_LEN};
use crate::route::{self, Route};
use crate::sys::is_transient;
use crate::{EngineKind, Flow, TxBatch, TxError, TxQueue, TxStats};
use ring::{Consumer, Producer};
use umem::Umem;

/// Whether to use zero-copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroCopy {
    /// Try zero-copy, fall back to copy mode.
    #[default]
    Try,
    /// Zero-copy or fail.
    Require,
    /// Copy mode only.
    Never,
}

/// Options of the AF_XDP engine.
#[derive(Debug, Clone)]
pub struct XdpConfig {
    /// Interface to send on; `None` takes the one the route to the destination uses.
    pub ifname: Option<String>,
    /// NIC queue to bind (default 0).
    pub queue: u32,
    /// UMEM frames (default 4096: 8 MiB of 2 KiB frames; bounds frames in flight).
    pub frames: u32,
    /// TX and completion ring entries (default 2048; a power of two).
    pub ring_size: u32,
    /// Zero-copy policy.
    pub zero_copy: ZeroCopy,
    /// Compute the UDP checksum on IPv4 too (always on for IPv6; default false).
    pub udp_checksum: bool,
    /// Largest datagram (default 1472, further bounded by the interface MTU).
    pub max_datagram: usize,
    /// Largest batch (default 64).
    pub batch: usize,
    /// How long to wait for the next hop's MAC (default 1 s).
    pub neighbour_wait: Duration,
    /// Also open an RX ring (`ring_size` extra UMEM frames posted on the fill ring) for
    /// datagrams an XDP steering program redirects into this socket (default false).
    pub rx: bool,
}

impl Default for XdpConfig {
    fn default() -> Self {
        Self {
            ifname: None,
            queue: 0,
            frames: 4096,
            ring_size: 2048,
            zero_copy: ZeroCopy::Try,
            udp_checksum: false,
            max_datagram: 1472,
            batch: 64,
            neighbour_wait: Duration::from_secs(1),
            rx: false,
        }
    }
}

const FRAME_SIZE: u32 = 2048;

/// Checks that this kernel and these privileges allow AF_XDP sockets (tests print the error
/// as their skip reason).
pub fn available() -> Result<(), TxError> {
    sys::xsk_socket()
        .map(drop)
        .map_err(|e| TxError::io("AF_XDP socket", e))
}
/// How long commit and flush keep kicking a ring that does not drain before giving up.
const STALL_LIMIT: Duration = Duration::from_millis(500);

/// The kernel side of one XSK: socket, UMEM and rings. Fields drop in order: rings unmap
/// before the socket closes, the UMEM last.
struct Xsk {
    tx: Producer<libc::xdp_desc>,
    comp: Consumer<u64>,
    fill: Producer<u64>,
    rx: Option<Consumer<libc::xdp_desc>>,
    fd: OwnedFd,
    umem: Umem,
}

impl Xsk {
    /// Opens the socket with `frames` UMEM frames; with `rx`, the last `ring_size` of them
    /// are posted on the fill ring for the RX ring.
    fn open(
        ifindex: u32,
        queue: u32,
        frames: u32,
        ring_size: u32,
        zc: bool,
        rx: bool,
    ) -> std::io::Result<Self> {
        let fd = sys::xsk_socket()?;
        let umem = Umem::new(frames, FRAME_SIZE)?;
        umem.register(fd.as_fd())?;
        sys::set_opt(fd.as_fd(), libc::XDP_UMEM_FILL_RING, &ring_size)?;
        sys::set_opt(fd.as_fd(), libc::XDP_UMEM_COMPLETION_RING, &ring_size)?;
        sys::set_opt(fd.as_fd(), libc::XDP_TX_RING, &ring_size)?;
        if rx {
            sys::set_opt(fd.as_fd(), libc::XDP_RX_RING, &ring_size)?;
        }
        let off = sys::mmap_offsets(fd.as_fd())?;
        let rx_ring = if rx {
            let map = sys::Mmap::ring(
                fd.as_fd(),
                libc::XDP_PGOFF_RX_RING as u64,
                ring::map_len::<libc::xdp_desc>(&off.rx, ring_size),
            )?;
            // SAFETY: the kernel's RX ring mapping, sized for `ring_size` descriptors.
            Some(unsafe { Consumer::new(map, &off.rx, ring_size) })
        } else {
            None
        };
        let fill_map = sys::Mmap::ring(
            fd.as_fd(),
            libc::XDP_UMEM_PGOFF_FILL_RING,
            ring::map_len::<u64>(&off.fr, ring_size),
        )?;
        let comp_map = sys::Mmap::ring(
            fd.as_fd(),
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
            ring::map_len::<u64>(&off.cr, ring_size),
        )?;
        let tx_map = sys::Mmap::ring(
            fd.as_fd(),
            libc::XDP_PGOFF_TX_RING as u64,
            ring::map_len::<libc::xdp_desc>(&off.tx, ring_size),
        )?;
        // SAFETY: each map is the kernel's mapping of the ring named by its offset set, sized
        // for `ring_size` entries of the ring's entry type.
        let (mut fill, comp, tx) = unsafe {
            (
                Producer::new(fill_map, &off.fr, ring_size),
                Consumer::new(comp_map, &off.cr, ring_size),
                Producer::new(tx_map, &off.tx, ring_size),
            )
        };
        if rx {
            // Post the RX frames before binding so the first packets have somewhere to go.
            let rx_frames: Vec<u64> = (frames - ring_size..frames).map(|i| umem.addr(i)).collect();
            fill.produce(&rx_frames);
        }
        let flags = if zc {
            libc::XDP_ZEROCOPY | libc::XDP_USE_NEED_WAKEUP
        } else {
            libc::XDP_COPY | libc::XDP_USE_NEED_WAKEUP
        };
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            match sys::bind(fd.as_fd(), ifindex, queue, flags) {
                Ok(()) => break,
                // The queue may still be held by a socket closed a moment ago.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Self {
            tx,
            comp,
            fill,
            rx: rx_ring,
            fd,
            umem,
        })
    }
}

/// AF_XDP transmit queue.
pub struct XdpEngine {
    xsk: Xsk,
    zero_copy: bool,
    sock: UdpSocket,
    local: SocketAddr,
    route: Route,
    tmpl: HeaderTemplate,
    free: Vec<u64>,
    pending: Vec<(u64, u32)>,
    descs: Vec<libc::xdp_desc>,
    comp_buf: Vec<u64>,
    rx_descs: Vec<libc::xdp_desc>,
    rx_recycle: Vec<u64>,
    in_flight: u32,
    max_datagram: usize,
    batch: usize,
    stats: TxStats,
}

impl XdpEngine {
    /// Resolves the route to `flow.remote`, binds the UDP socket and the XSK.
    pub fn open(flow: &Flow, config: &XdpConfig) -> Result<Self, TxError> {
        let route = route::resolve(
            flow.remote.ip(),
            config.ifname.as_deref(),
            config.neighbour_wait,
        )?;
        let bind_ip = if flow.local.ip().is_unspecified() {
            route.src
        } else {
            flow.local.ip()
        };
        let sock = UdpSocket::bind((bind_ip, flow.local.port()))
            .map_err(|e| TxError::io("bind UDP (XDP source port)", e))?;
        sock.connect(flow.remote)
            .map_err(|e| TxError::io("connect UDP", e))?;
        let local = sock
            .local_addr()
            .map_err(|e| TxError::io("local_addr", e))?;
        let ring_size = config.ring_size.clamp(64, 1 << 16).next_power_of_two();
        let tx_frames = config.frames.max(ring_size);
        let frames = tx_frames + if config.rx { ring_size } else { 0 };
        let (xsk, zero_copy) = match config.zero_copy {
            ZeroCopy::Never => (
                Self::open_xsk(&route, config, frames, ring_size, false)?,
                false,
            ),
            ZeroCopy::Require => (
                Self::open_xsk(&route, config, frames, ring_size, true)?,
                true,
            ),
            ZeroCopy::Try => match Self::open_xsk(&route, config, frames, ring_size, true) {
                Ok(x) => (x, true),
                Err(e) => {
                    tracing::info!(
                        "af_xdp: zero-copy bind on {} failed ({e}); using copy mode",
                        route.ifname
                    );
                    (
                        Self::open_xsk(&route, config, frames, ring_size, false)?,
                        false,
                    )
                }
            },
        };
        let tmpl = HeaderTemplate::new(
            route.src_mac,
            route.dst_mac,
            local,
            flow.remote,
            config.udp_checksum,
        )
        .ok_or_else(|| TxError::Unsupported("source and destination families differ".into()))?;
        let ip_udp = if tmpl.is_v6() {
            IPV6_LEN + UDP_LEN
        } else {
            IPV4_LEN + UDP_LEN
        };
        let max_datagram = config
            .max_datagram
            .min(route.mtu as usize - ip_udp)
            .min(FRAME_SIZE as usize - tmpl.len());
        let free: Vec<u64> = (0..tx_frames).rev().map(|i| xsk.umem.addr(i)).collect();
        let batch = config.batch.clamp(1, ring_size as usize);
        Ok(Self {
            xsk,
            zero_copy,
            sock,
            local,
            route,
            tmpl,
            free,
            pending: Vec::with_capacity(batch),
            descs: Vec::with_capacity(batch),
            comp_buf: vec![0; ring_size as usize],
            rx_descs: vec![
                libc::xdp_desc {
                    addr: 0,
                    len: 0,
                    options: 0
                };
                crate::RX_BATCH
            ],
            rx_recycle: Vec::with_capacity(crate::RX_BATCH),
            in_flight: 0,
            max_datagram,
            batch,
            stats: TxStats::default(),
        })
    }

    fn open_xsk(
        route: &Route,
        config: &XdpConfig,
        frames: u32,
        ring_size: u32,
        zc: bool,
    ) -> Result<Xsk, TxError> {
        Xsk::open(
            route.ifindex,
            config.queue,
            frames,
            ring_size,
            zc,
            config.rx,
        )
        .map_err(|e| {
            let what = if e.raw_os_error() == Some(libc::EPERM) {
                "AF_XDP socket (needs CAP_NET_RAW/CAP_NET_ADMIN)"
            } else if zc {
                "AF_XDP zero-copy bind"
            } else {
                "AF_XDP bind"
            };
            TxError::io(what, e)
        })
    }

    /// The route the engine resolved (interface, addresses, MACs).
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The AF_XDP socket, for `XdpSteering::register_xsk(queue, fd)`.
    pub fn xsk_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.xsk.fd.as_fd()
    }

    /// True when the socket has an RX ring (see [`XdpConfig::rx`]).
    pub fn has_rx_ring(&self) -> bool {
        self.xsk.rx.is_some()
    }

    /// Drains up to `RX_BATCH` frames from the RX ring into `on`, returning their frames to
    /// the fill ring; frames that are not plain UDP are skipped.
    fn poll_xsk_rx(&mut self, on: &mut dyn FnMut(SocketAddr, &[u8])) -> usize {
        let Some(rx) = self.xsk.rx.as_mut() else {
            return 0;
        };
        let n = rx.consume(&mut self.rx_descs);
        self.rx_recycle.clear();
        let frame = u64::from(self.xsk.umem.frame_size());
        for d in &self.rx_descs[..n] {
            if let Some(bytes) = self.xsk.umem.bytes(d.addr, d.len)
                && let Ok(u) = crate::rx::parse_udp_frame(bytes)
            {
                on(u.src, u.payload);
            }
            self.rx_recycle.push(d.addr - d.addr % frame);
        }
        // The fill ring has room for every RX frame (same size, nothing else posted).
        self.xsk.fill.produce(&self.rx_recycle);
        if n > 0 && self.xsk.fill.needs_wakeup() {
            let _ = sys::kick_rx(self.xsk.fd.as_fd());
        }
        n
    }

    /// True when bound in zero-copy mode.
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Moves completed frames back to the free list.
    fn reclaim(&mut self) -> usize {
        let n = self.xsk.comp.consume(&mut self.comp_buf);
        self.free.extend_from_slice(&self.comp_buf[..n]);
        self.in_flight -= n as u32;
        n
    }

    /// One kick. Copy mode answers EAGAIN when it used up its per-call budget with frames
    /// left (normal progress); a transient refusal counts as a retry only when the kernel
    /// took nothing.
    fn kick(&mut self) -> Result<(), TxError> {
        self.stats.syscalls += 1;
        let before = self.xsk.tx.outstanding();
        match sys::kick_tx(self.xsk.fd.as_fd()) {
            Ok(()) => Ok(()),
            Err(e) if is_transient(&e) => {
                if self.xsk.tx.outstanding() == before {
                    self.stats.retries += 1;
                }
                Ok(())
            }
            Err(e) => Err(TxError::io("AF_XDP kick", e)),
        }
    }

    /// Kicks until the kernel has taken every posted descriptor (copy mode sends a bounded
    /// number per kick), or only when asked for in zero-copy mode.
    fn drain_tx(&mut self) -> Result<(), TxError> {
        let start = Instant::now();
        loop {
            if self.xsk.tx.outstanding() == 0 {
                return Ok(());
            }
            if !self.zero_copy || self.xsk.tx.needs_wakeup() {
                self.kick()?;
            }
            self.reclaim();
            if self.zero_copy && !self.xsk.tx.needs_wakeup() {
                return Ok(()); // the driver drains on its own
            }
            if start.elapsed() > STALL_LIMIT {
                return Err(TxError::io(
                    "AF_XDP TX ring does not drain",
                    std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                ));
            }
        }
    }

    /// Makes sure at least `want` frames are free, kicking and reclaiming for a bounded time.
    fn ensure_free(&mut self, want: usize) -> Result<(), TxError> {
        self.reclaim();
        let start = Instant::now();
        while self.free.len() < want && self.in_flight > 0 {
            self.kick()?;
            if self.reclaim() == 0 {
                if start.elapsed() > STALL_LIMIT {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        Ok(())
    }
}

impl TxQueue for XdpEngine {
    type Batch<'a> = XdpBatch<'a>;

    fn batch(&mut self, max: usize) -> Result<XdpBatch<'_>, TxError> {
        let want = max.min(self.batch);
        self.ensure_free(want)?;
        let ring_free = self.xsk.tx.free() as usize;
        let limit = want.min(self.free.len()).min(ring_free);
        self.pending.clear();
        Ok(XdpBatch {
            engine: self,
            limit,
            committed: false,
        })
    }

    fn batch_limit(&self) -> usize {
        self.batch
    }

    fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    fn flush(&mut self) -> Result<(), TxError> {
        self.drain_tx()?;
        let start = Instant::now();
        while self.in_flight > 0 {
            if self.reclaim() == 0 {
                if !self.zero_copy || self.xsk.tx.needs_wakeup() {
                    self.kick()?;
                }
                if start.elapsed() > STALL_LIMIT {
                    return Err(TxError::io(
                        "AF_XDP completions missing",
                        std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                    ));
                }
                std::thread::yield_now();
            }
        }
        Ok(())
    }

    fn stats(&self) -> TxStats {
        self.stats
    }

    fn kind(&self) -> EngineKind {
        if self.zero_copy {
            EngineKind::XdpZeroCopy
        } else {
            EngineKind::XdpCopy
        }
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    fn poll_rx(
        &mut self,
        buf: &mut [u8],
        on: &mut dyn FnMut(SocketAddr, &[u8]),
    ) -> Result<usize, TxError> {
        let n = self.poll_xsk_rx(on);
        Ok(n + crate::socket_rx(&self.sock, buf, on, crate::RX_BATCH)?)
    }
}

/// A batch of UMEM frames being written.
#[must_use = "a batch sends nothing until committed"]
pub struct XdpBatch<'a> {
    engine: &'a mut XdpEngine,
    limit: usize,
    committed: bool,
}

impl DatagramSink for XdpBatch<'_> {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        let e = &mut *self.engine;
        if e.pending.len() >= self.limit || len > e.max_datagram {
            return None;
        }
        let addr = e.free.pop()?;
        e.pending.push((addr, len as u32));
        let hdr = e.tmpl.len();
        Some(&mut e.xsk.umem.frame_mut(addr)[hdr..hdr + len])
    }
}

impl TxBatch for XdpBatch<'_> {
    fn len(&self) -> usize {
        self.engine.pending.len()
    }

    fn commit(mut self) -> Result<usize, TxError> {
        self.committed = true;
        let e = &mut *self.engine;
        e.descs.clear();
        let mut bytes = 0u64;
        for &(addr, len) in &e.pending {
            let frame = e.xsk.umem.frame_mut(addr);
            let total = e
                .tmpl
                .write(frame, len as usize)
                .expect("frame holds headers + max_datagram");
            e.descs.push(libc::xdp_desc {
                addr,
                len: total as u32,
                options: 0,
            });
            bytes += u64::from(len);
        }
        let n = e.xsk.tx.produce(&e.descs);
        // `batch` reserved ring space, so all fit; anything else would be a bookkeeping bug.
        debug_assert_eq!(n, e.descs.len());
        for &(addr, _) in &e.pending[n..] {
            e.free.push(addr);
            e.stats.drops += 1;
        }
        e.pending.clear();
        e.in_flight += n as u32;
        e.stats.sent_packets += n as u64;
        e.stats.sent_bytes += bytes;
        e.drain_tx()?;
        Ok(n)
    }
}

impl Drop for XdpBatch<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let e = &mut *self.engine;
            e.stats.discarded += e.pending.len() as u64;
            for &(addr, _) in &e.pending {
                e.free.push(addr);
            }
            e.pending.clear();
        }
    }
}
