//! [`TcPacer`]: the loader of `tc_pace`.

use std::net::{IpAddr, SocketAddr};

use aya::maps::{HashMap, MapData, MapError, PerCpuArray};
use aya::programs::tc::{self, TcAttachOptions};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType, TestRun, TestRunOptions};
use aya::{Ebpf, Pod, include_bytes_aligned};

use crate::EbpfError;
use crate::obj::{self, map_err, prog_err};

const PROGRAM: &str = "tc_pace";
const FLOWS: &str = "pace_flows";
const STATS: &str = "pace_stats";
/// Capacity of `pace_flows` (the C program's `max_entries`).
const MAX_FLOWS: usize = 1024;

static OBJECT: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tc_pace.bpf.o"));

/// Size of the kernel's `struct __sk_buff` (uapi, stable: fields are only appended).
const SK_BUFF_SIZE: usize = 192;
/// Offset of `__sk_buff.tstamp`.
const SK_BUFF_TSTAMP: usize = 152;

/// `struct pace_key` of tc_pace.bpf.c.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PaceKey {
    daddr: [u8; 16],
    dport: u16,
    pad: u16,
}

// SAFETY: plain integers and byte arrays, no padding (16 + 2 + 2 bytes), valid for any bits.
unsafe impl Pod for PaceKey {}

/// `struct pace_state` of tc_pace.bpf.c. `lock` is the program's `bpf_spin_lock`; the kernel
/// ignores it on map updates from user space.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PaceState {
    lock: u32,
    pad: u32,
    rate_bytes_per_sec: u64,
    next_ns: u64,
    packets: u64,
    bytes: u64,
}

// SAFETY: plain integers, no padding (4 + 4 + 4 × 8 bytes), valid for any bits.
unsafe impl Pod for PaceState {}

/// A paced flow: destination address and UDP port of the packets leaving this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaceFlow(pub SocketAddr);

impl PaceFlow {
    fn key(self) -> PaceKey {
        let daddr = match self.0.ip() {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        };
        PaceKey {
            daddr,
            dport: self.0.port(),
            pad: 0,
        }
    }
}

impl From<SocketAddr> for PaceFlow {
    fn from(a: SocketAddr) -> Self {
        Self(a)
    }
}

/// The pacing state of one flow, as the program last left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowState {
    /// Configured rate in bytes per second.
    pub rate_bytes_per_sec: u64,
    /// Departure time (CLOCK_MONOTONIC ns) the next packet of the flow will get at the earliest.
    pub next_departure_ns: u64,
    /// Packets stamped since the rate was set.
    pub packets: u64,
    /// Bytes (frame lengths at TC) stamped since the rate was set.
    pub bytes: u64,
}

/// Counters of `tc_pace`, summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacerStats {
    /// Packets of configured flows that got a departure stamp.
    pub stamped: u64,
    /// Everything else, passed unchanged.
    pub unpaced: u64,
}

/// What a TC program returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcAction {
    /// `TC_ACT_UNSPEC` (-1): no verdict; the next TCX program or filter runs, and without
    /// one the packet goes on. What `tc_pace` always returns.
    Continue,
    /// `TC_ACT_OK` (0): let the packet go on.
    Ok,
    /// `TC_ACT_SHOT` (2): drop.
    Shot,
    /// Any other value.
    Other(i32),
}

/// How a TC program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcAttachMode {
    /// TCX link (kernel ≥ 6.6), falling back to clsact when TCX is refused.
    #[default]
    Auto,
    /// TCX link only.
    Tcx,
    /// Classic: the `clsact` qdisc (added if missing, left in place afterwards) and a
    /// direct-action cls_bpf filter.
    Clsact,
}

/// The TC egress EDT pacer.
///
/// ```no_run
/// # fn f() -> Result<(), punktfunk_ebpf::EbpfError> {
/// use punktfunk_ebpf::TcPacer;
/// let mut pacer = TcPacer::load()?;
/// pacer.attach("eth0")?;
/// pacer.set_rate("192.0.2.7:48000".parse::<std::net::SocketAddr>().unwrap(), 125_000_000)?; // 1 Gbit/s
/// # Ok(()) }
/// ```
///
/// Dropping it detaches the program.
pub struct TcPacer {
    flows: HashMap<MapData, PaceKey, PaceState>,
    stats: PerCpuArray<MapData, u64>,
    ebpf: Ebpf,
}

impl TcPacer {
    /// Loads the program into the kernel (no flows configured, not attached).
    pub fn load() -> Result<Self, EbpfError> {
        let mut ebpf = obj::load_object(PROGRAM, OBJECT, &[])?;
        let flows = obj::take_map(&mut ebpf, PROGRAM, FLOWS)?;
        let stats = obj::take_map(&mut ebpf, PROGRAM, STATS)?;
        let mut me = Self { flows, stats, ebpf };
        me.program()?
            .load()
            .map_err(|e| prog_err(PROGRAM, "loading", e))?;
        Ok(me)
    }

    fn program(&mut self) -> Result<&mut SchedClassifier, EbpfError> {
        self.ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| obj::missing_program(PROGRAM))?
            .try_into()
            .map_err(|e| prog_err(PROGRAM, "finding", e))
    }

    /// Attaches to the egress of `ifname` ([`TcAttachMode::Auto`]).
    pub fn attach(&mut self, ifname: &str) -> Result<(), EbpfError> {
        self.attach_with(ifname, TcAttachMode::Auto)
    }

    /// Attaches to the egress of `ifname` the given way.
    pub fn attach_with(&mut self, ifname: &str, mode: TcAttachMode) -> Result<(), EbpfError> {
        let tcx = TcAttachOptions::TcxOrder(LinkOrder::default());
        let result = match mode {
            TcAttachMode::Tcx => {
                self.program()?
                    .attach_with_options(ifname, TcAttachType::Egress, tcx)
            }
            TcAttachMode::Auto => {
                match self
                    .program()?
                    .attach_with_options(ifname, TcAttachType::Egress, tcx)
                {
                    Ok(id) => Ok(id),
                    Err(e) => {
                        tracing::debug!(ifname, error = %e, "TCX attach refused, using clsact");
                        return self.attach_with(ifname, TcAttachMode::Clsact);
                    }
                }
            }
            TcAttachMode::Clsact => {
                match tc::qdisc_add_clsact(ifname) {
                    Ok(()) => {}
                    // EEXIST: the interface already has a clsact qdisc.
                    Err(tc::TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {
                    }
                    Err(source) => {
                        return Err(EbpfError::Qdisc {
                            ifname: ifname.to_string(),
                            source: Box::new(source),
                        });
                    }
                }
                self.program()?.attach_with_options(
                    ifname,
                    TcAttachType::Egress,
                    TcAttachOptions::Netlink(Default::default()),
                )
            }
        };
        result.map_err(|e| prog_err(PROGRAM, "attaching", e))?;
        tracing::debug!(ifname, ?mode, "tc_pace attached");
        Ok(())
    }

    /// Paces `flow` at `bytes_per_sec` (frame bytes at TC, i.e. including the Ethernet
    /// header). Resets the flow's departure state. A rate of 0 is refused: use
    /// [`Self::remove_rate`].
    pub fn set_rate(
        &mut self,
        flow: impl Into<PaceFlow>,
        bytes_per_sec: u64,
    ) -> Result<(), EbpfError> {
        if bytes_per_sec == 0 {
            return Err(EbpfError::InvalidConfig(
                "a pacing rate of 0 bytes/s; remove the flow instead".into(),
            ));
        }
        let key = flow.into().key();
        let state = PaceState {
            lock: 0,
            pad: 0,
            rate_bytes_per_sec: bytes_per_sec,
            next_ns: 0,
            packets: 0,
            bytes: 0,
        };
        self.flows.insert(key, state, 0).map_err(|e| match e {
            MapError::SyscallError(ref s) if s.io_error.raw_os_error() == Some(libc::E2BIG) => {
                EbpfError::InvalidConfig(format!("more than {MAX_FLOWS} paced flows"))
            }
            e => map_err(FLOWS, "setting a rate", e),
        })
    }

    /// Stops pacing `flow` (no error if it was not paced).
    pub fn remove_rate(&mut self, flow: impl Into<PaceFlow>) -> Result<(), EbpfError> {
        match self.flows.remove(&flow.into().key()) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(MapError::SyscallError(s)) if s.io_error.raw_os_error() == Some(libc::ENOENT) => {
                Ok(())
            }
            Err(e) => Err(map_err(FLOWS, "removing a rate", e)),
        }
    }

    /// The flow's current pacing state, or `None` if it is not paced.
    pub fn flow_state(&self, flow: impl Into<PaceFlow>) -> Result<Option<FlowState>, EbpfError> {
        match self.flows.get(&flow.into().key(), 0) {
            Ok(s) => Ok(Some(FlowState {
                rate_bytes_per_sec: s.rate_bytes_per_sec,
                next_departure_ns: s.next_ns,
                packets: s.packets,
                bytes: s.bytes,
            })),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(map_err(FLOWS, "reading a flow", e)),
        }
    }

    /// Reads the counters (summed over CPUs).
    pub fn stats(&self) -> Result<PacerStats, EbpfError> {
        Ok(PacerStats {
            stamped: obj::sum_per_cpu(&self.stats, STATS, 0)?,
            unpaced: obj::sum_per_cpu(&self.stats, STATS, 1)?,
        })
    }

    /// Runs the program once on `frame` (an Ethernet frame) through `BPF_PROG_TEST_RUN`, with
    /// `skb->tstamp = tstamp_in`, and returns its verdict and the `skb->tstamp` it left. The
    /// flow state and counters advance as for a real packet.
    pub fn test_run(&self, frame: &[u8], tstamp_in: u64) -> Result<(TcAction, u64), EbpfError> {
        let prog: &SchedClassifier = self
            .ebpf
            .program(PROGRAM)
            .ok_or_else(|| obj::missing_program(PROGRAM))?
            .try_into()
            .map_err(|e| prog_err(PROGRAM, "finding", e))?;
        let mut ctx_in = [0u8; SK_BUFF_SIZE];
        ctx_in[SK_BUFF_TSTAMP..SK_BUFF_TSTAMP + 8].copy_from_slice(&tstamp_in.to_ne_bytes());
        let mut ctx_out = [0u8; SK_BUFF_SIZE];
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(frame);
        opts.ctx_in = Some(&ctx_in);
        opts.ctx_out = Some(&mut ctx_out);
        let result = prog
            .test_run(opts)
            .map_err(|e| prog_err(PROGRAM, "BPF_PROG_TEST_RUN", e))?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&ctx_out[SK_BUFF_TSTAMP..SK_BUFF_TSTAMP + 8]);
        let action = match result.return_value as i32 {
            -1 => TcAction::Continue,
            0 => TcAction::Ok,
            2 => TcAction::Shot,
            other => TcAction::Other(other),
        };
        Ok((action, u64::from_ne_bytes(ts)))
    }
}

impl std::fmt::Debug for TcPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcPacer").finish_non_exhaustive()
    }
}
