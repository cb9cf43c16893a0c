//! The pinned datapath thread: frames in through an SPSC ring, sealed into the engine and
//! released on the pacing plan, emptied frames back through a return ring.
//!
//! ```text
//!  encoder thread                         datapath thread (pinned)
//!  ──────────────                         ────────────────────────
//!  sender.recycled() ─┐                   pop frame
//!  fill frame         │  ── frames ──▶    plan = pacing::plan(shape)
//!  sender.send(frame) ┘                   for chunk: wait until offset (sleep, then spin)
//!                     ◀── empties ──          batch = queue.batch(n); sealer.seal(..); commit
//!                                         push frame back
//! ```
//!
//! The caller supplies the sealer ([`FrameSealer`]), so the thread never knows the protocol.
//! Nothing on this path allocates once the frame buffers exist (tests/no_alloc.rs proves it
//! with a counting allocator): the rings are preallocated, pacing plans are iterators, and
//! engines reuse their buffers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use punktfunk_core::pacing::{self, FrameShape, PacingConfig};
use punktfunk_core::slots::{DatagramBuf, DatagramSink};

use crate::spsc;
use crate::{TxBatch, TxError, TxQueue};

/// What a sealer says about a frame before sealing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Datagrams the frame becomes (data and parity).
    pub packets: u32,
    /// Size of each datagram (the largest, if they differ).
    pub datagram_len: u32,
}

/// Turns frames into datagrams; supplied by the caller (the punktfunk/1 or GameStream sealer).
pub trait FrameSealer<F>: Send {
    /// Prepares `frame` (FEC, headers) and says how many datagrams it becomes.
    fn begin_frame(&mut self, frame: &F) -> FrameInfo;

    /// Writes datagrams `first .. first + count` of the frame begun last into `sink`, in order;
    /// returns how many were written (fewer when the sink is full).
    fn seal(&mut self, frame: &F, first: u32, count: u32, sink: &mut dyn DatagramSink) -> u32;
}

/// Adapts a whole-frame sealer, one call writing every datagram of a frame into a sink (as
/// `punktfunk_core::native`'s `FrameSealer::seal_frame` does), to the chunked, paced release:
/// `begin_frame` seals the frame into a staging [`DatagramBuf`] owned by the datapath thread,
/// and each chunk copies its datagrams from there into the engine's batch.
///
/// This costs one extra copy of each datagram (memcpy, far faster than sealing) and no
/// allocation once the largest frame has been staged. Sealing in place into AF_XDP frames with
/// paced release needs staged TX (reserve a whole frame's UMEM frames, post descriptors per
/// chunk), which the engines do not offer yet.
pub struct StagedSealer<F, G> {
    seal: G,
    staged: DatagramBuf,
    _frame: std::marker::PhantomData<fn(&F)>,
}

impl<F, G: FnMut(&F, &mut DatagramBuf)> StagedSealer<F, G> {
    /// Wraps `seal`, which writes all datagrams of a frame into the buffer it is given.
    pub fn new(seal: G) -> Self {
        Self {
            seal,
            staged: DatagramBuf::new(),
            _frame: std::marker::PhantomData,
        }
    }
}

impl<F, G: FnMut(&F, &mut DatagramBuf) + Send> FrameSealer<F> for StagedSealer<F, G> {
    fn begin_frame(&mut self, frame: &F) -> FrameInfo {
        self.staged.clear();
        (self.seal)(frame, &mut self.staged);
        FrameInfo {
            packets: self.staged.len() as u32,
            datagram_len: self.staged.iter().map(<[u8]>::len).max().unwrap_or(0) as u32,
        }
    }

    fn seal(&mut self, _frame: &F, first: u32, count: u32, sink: &mut dyn DatagramSink) -> u32 {
        let mut n = 0;
        for i in first..first.saturating_add(count) {
            let Some(d) = self.staged.get(i as usize) else {
                break;
            };
            let Some(out) = sink.next_datagram(d.len()) else {
                break;
            };
            out.copy_from_slice(d);
            n += 1;
        }
        n
    }
}

/// Options of the datapath thread.
#[derive(Debug, Clone)]
pub struct DatapathConfig {
    /// Cores to pin to. `None`: the default (last allowed core if there are ≥ 2, else
    /// unpinned); `Some(vec![])`: unpinned.
    pub cores: Option<Vec<usize>>,
    /// Frames the hand-off ring holds (default 8).
    pub ring_capacity: usize,
    /// Pacing planner options.
    pub pacing: PacingConfig,
    /// Frame interval in ns (default 60 fps).
    pub interval_ns: u64,
    /// Link rate in bit/s for pacing (0: unknown; default 1 Gbit/s).
    pub link_bps: u64,
    /// Bytes each datagram adds on the wire (default 66: UDP 8 + IPv4 20 + Ethernet 14 +
    /// preamble/FCS/gap 24).
    pub wire_overhead: u32,
    /// Below this distance to a release deadline the thread spins instead of sleeping
    /// (default 200 µs).
    pub spin_ns: u64,
}

impl Default for DatapathConfig {
    fn default() -> Self {
        Self {
            cores: None,
            ring_capacity: 8,
            pacing: PacingConfig::default(),
            interval_ns: 16_666_667,
            link_bps: 1_000_000_000,
            wire_overhead: 66,
            spin_ns: 200_000,
        }
    }
}

/// Counters of the datapath thread (atomics, read any time with [`Datapath::report`]).
#[derive(Debug, Default)]
struct Counters {
    frames: AtomicU64,
    packets: AtomicU64,
    planned_spread_ns: AtomicU64,
    achieved_spread_ns: AtomicU64,
    max_lateness_ns: AtomicU64,
    errors: AtomicU64,
    pinned_core: AtomicU64,
    cpu_ns: AtomicU64,
}

/// A snapshot of the datapath thread's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatapathReport {
    /// Frames released completely.
    pub frames: u64,
    /// Datagrams committed.
    pub packets: u64,
    /// Sum over frames of the planned spread (first to last release).
    pub planned_spread_ns: u64,
    /// Sum over frames of the achieved spread.
    pub achieved_spread_ns: u64,
    /// Worst lateness of a release behind its deadline.
    pub max_lateness_ns: u64,
    /// Engine errors (batches lost).
    pub errors: u64,
    /// The core the thread is pinned to, if any.
    pub pinned_core: Option<usize>,
    /// CPU time the datapath thread had used when it finished its last frame (sealing,
    /// engine syscalls, and any spinning near release deadlines).
    pub cpu_ns: u64,
}

/// The encoder side: sends frames, gets emptied ones back.
pub struct FrameSender<F> {
    frames: spsc::Producer<F>,
    empties: spsc::Consumer<F>,
}

impl<F: Send> FrameSender<F> {
    /// Queues a frame for the datapath; hands it back when the ring is full.
    pub fn send(&mut self, frame: F) -> Result<(), F> {
        self.frames.push(frame)
    }

    /// An emptied frame buffer to reuse, if one came back.
    pub fn recycled(&mut self) -> Option<F> {
        self.empties.pop()
    }

    /// Frames queued and not yet taken by the datapath thread.
    pub fn queued(&self) -> usize {
        self.frames.len()
    }
}

/// The running datapath thread.
pub struct Datapath<Q, S> {
    handle: JoinHandle<Result<(Q, S), TxError>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
}

impl<Q, S> Datapath<Q, S> {
    /// The counters so far.
    pub fn report(&self) -> DatapathReport {
        let c = &self.counters;
        let pinned = c.pinned_core.load(Ordering::Relaxed);
        DatapathReport {
            frames: c.frames.load(Ordering::Acquire),
            packets: c.packets.load(Ordering::Relaxed),
            planned_spread_ns: c.planned_spread_ns.load(Ordering::Relaxed),
            achieved_spread_ns: c.achieved_spread_ns.load(Ordering::Relaxed),
            max_lateness_ns: c.max_lateness_ns.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            pinned_core: (pinned != u64::MAX).then_some(pinned as usize),
            cpu_ns: c.cpu_ns.load(Ordering::Relaxed),
        }
    }

    /// Lets the thread release what is queued, flushes the engine, and returns the engine
    /// and the sealer.
    pub fn finish(self) -> Result<(Q, S), TxError> {
        self.stop.store(true, Ordering::Release);
        self.handle
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

/// Starts the datapath thread over `queue` with `sealer`.
pub fn spawn<Q, F, S>(
    queue: Q,
    sealer: S,
    config: DatapathConfig,
) -> std::io::Result<(FrameSender<F>, Datapath<Q, S>)>
where
    Q: TxQueue + Send + 'static,
    F: Send + 'static,
    S: FrameSealer<F> + 'static,
{
    let (frames_tx, frames_rx) = spsc::channel(config.ring_capacity);
    // One more than the forward ring plus the frame in hand: the return ring never overflows.
    let (empties_tx, empties_rx) = spsc::channel(config.ring_capacity + 2);
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    counters.pinned_core.store(u64::MAX, Ordering::Relaxed);
    let cores = match &config.cores {
        Some(c) => c.clone(),
        None => crate::pin::default_datapath_core().into_iter().collect(),
    };
    let worker = Worker {
        queue,
        sealer,
        frames: frames_rx,
        empties: empties_tx,
        stop: stop.clone(),
        counters: counters.clone(),
        config,
    };
    let handle = std::thread::Builder::new()
        .name("pf-datapath".into())
        .spawn(move || worker.run(&cores))?;
    Ok((
        FrameSender {
            frames: frames_tx,
            empties: empties_rx,
        },
        Datapath {
            handle,
            stop,
            counters,
        },
    ))
}

struct Worker<Q, F, S> {
    queue: Q,
    sealer: S,
    frames: spsc::Consumer<F>,
    empties: spsc::Producer<F>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    config: DatapathConfig,
}

impl<Q: TxQueue, F: Send, S: FrameSealer<F>> Worker<Q, F, S> {
    fn run(mut self, cores: &[usize]) -> Result<(Q, S), TxError> {
        if !cores.is_empty() {
            match crate::pin::pin_current_thread(cores) {
                Ok(()) if cores.len() == 1 => self
                    .counters
                    .pinned_core
                    .store(cores[0] as u64, Ordering::Relaxed),
                Ok(()) => {}
                Err(e) => tracing::warn!("datapath: not pinned to {cores:?}: {e}"),
            }
        }
        let mut idle = 0u32;
        loop {
            match self.frames.pop() {
                Some(frame) => {
                    idle = 0;
                    self.release(&frame);
                    // The return ring has room for every frame in circulation; if the
                    // encoder dropped its end, the frame is simply freed.
                    let _ = self.empties.push(frame);
                }
                None => {
                    if self.stop.load(Ordering::Acquire) || self.frames.is_abandoned() {
                        // A frame pushed just before the stop flag is still released.
                        if let Some(frame) = self.frames.pop() {
                            self.release(&frame);
                            let _ = self.empties.push(frame);
                            continue;
                        }
                        break;
                    }
                    idle = idle.saturating_add(1);
                    if idle < 64 {
                        std::hint::spin_loop();
                    } else if idle < 128 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            }
        }
        self.queue.flush()?;
        Ok((self.queue, self.sealer))
    }

    fn wait_until(&self, deadline: Instant) {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let left = deadline - now;
            if left.as_nanos() as u64 > self.config.spin_ns {
                std::thread::sleep(left - Duration::from_nanos(self.config.spin_ns));
            } else {
                std::hint::spin_loop();
            }
        }
    }

    fn release(&mut self, frame: &F) {
        let info = self.sealer.begin_frame(frame);
        let shape = FrameShape {
            packets: info.packets,
            wire_bytes: info.datagram_len + self.config.wire_overhead,
            interval_ns: self.config.interval_ns,
            link_bps: self.config.link_bps,
        };
        let plan = pacing::plan(shape, &self.config.pacing);
        let planned = plan.last_offset_ns();
        let start = Instant::now();
        let mut first_release: Option<Instant> = None;
        let mut last_release = start;
        let mut max_late = 0u64;
        let mut packets = 0u64;
        for chunk in plan {
            let deadline = start + Duration::from_nanos(chunk.offset_ns);
            self.wait_until(deadline);
            let now = Instant::now();
            max_late = max_late.max((now - deadline).as_nanos() as u64);
            first_release.get_or_insert(now);
            last_release = now;
            let mut done = 0u32;
            while done < chunk.packets {
                let mut batch = match self.queue.batch((chunk.packets - done) as usize) {
                    Ok(b) => b,
                    Err(e) => {
                        report_error(&self.counters, &e);
                        break;
                    }
                };
                let k =
                    self.sealer
                        .seal(frame, chunk.first + done, chunk.packets - done, &mut batch);
                if k == 0 {
                    break; // no room or the sealer is done: nothing more to do for this chunk
                }
                match batch.commit() {
                    Ok(n) => packets += n as u64,
                    Err(e) => report_error(&self.counters, &e),
                }
                done += k;
            }
        }
        let c = &self.counters;
        let achieved = first_release.map_or(0, |f| (last_release - f).as_nanos() as u64);
        c.packets.fetch_add(packets, Ordering::Relaxed);
        c.planned_spread_ns.fetch_add(planned, Ordering::Relaxed);
        c.achieved_spread_ns.fetch_add(achieved, Ordering::Relaxed);
        c.max_lateness_ns.fetch_max(max_late, Ordering::Relaxed);
        // One clock read per frame (not per packet): the thread's own CPU time.
        if let Ok(t) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) {
            let ns = t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64;
            c.cpu_ns.store(ns, Ordering::Relaxed);
        }
        c.frames.fetch_add(1, Ordering::Release);
    }
}

fn report_error(counters: &Counters, e: &TxError) {
    if counters.errors.fetch_add(1, Ordering::Relaxed) == 0 {
        tracing::warn!("datapath: send failed (further errors only counted): {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_sealer_hands_out_chunks_in_order() {
        let mut st = StagedSealer::new(|n: &u32, buf: &mut DatagramBuf| {
            for i in 0..*n {
                let d = buf.next_datagram(10 + (i as usize % 3)).unwrap();
                d.fill(i as u8);
            }
        });
        let info = st.begin_frame(&7);
        assert_eq!(
            info,
            FrameInfo {
                packets: 7,
                datagram_len: 12
            }
        );
        let mut out = DatagramBuf::with_limit(3);
        assert_eq!(
            st.seal(&7, 2, 5, &mut out),
            3,
            "stops when the sink is full"
        );
        let got: Vec<Vec<u8>> = out.iter().map(<[u8]>::to_vec).collect();
        assert_eq!(got, vec![vec![2u8; 12], vec![3u8; 10], vec![4u8; 11]]);
        let mut rest = DatagramBuf::new();
        assert_eq!(st.seal(&7, 5, 10, &mut rest), 2, "stops at the frame's end");
        assert_eq!(rest.get(1), Some(&[6u8; 10][..]));
        // The next frame replaces the staged one.
        assert_eq!(st.begin_frame(&1).packets, 1);
    }
}
