//! [`XdpSteering`]: the loader of `xdp_steer`.

use std::os::fd::AsRawFd;

use aya::maps::{HashMap, MapData, PerCpuArray, XskMap};
use aya::programs::{TestRun, TestRunOptions, Xdp, XdpMode};
use aya::{Ebpf, include_bytes_aligned};

use crate::obj::{self, map_err, prog_err};
use crate::{EbpfError, XdpAction};

const PROGRAM: &str = "xdp_steer";
const PORTS: &str = "steer_ports";
const XSKS: &str = "steer_xsks";
const STATS: &str = "steer_stats";
/// Capacity of `steer_ports` (the C program's `max_entries`).
const MAX_PORTS: usize = 256;

static OBJECT: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/xdp_steer.bpf.o"));

/// How an XDP program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpAttachMode {
    /// Let the kernel choose (driver mode where the driver supports XDP, else generic).
    #[default]
    Auto,
    /// Generic XDP (`XDP_FLAGS_SKB_MODE`): works on every interface, after the skb is built.
    Skb,
    /// Native XDP in the driver (`XDP_FLAGS_DRV_MODE`): veth and most 10GbE+ NICs.
    Driver,
}

impl XdpAttachMode {
    fn aya(self) -> XdpMode {
        match self {
            Self::Auto => XdpMode::Default,
            Self::Skb => XdpMode::Skb,
            Self::Driver => XdpMode::Driver,
        }
    }
}

/// Counters of `xdp_steer`, summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SteerStats {
    /// Datapath datagrams redirected into an AF_XDP socket.
    pub redirected: u64,
    /// Everything else (other ports, non-UDP, fragments, truncated frames): passed untouched.
    pub passed: u64,
    /// Datapath datagrams that arrived on a queue with no registered socket: passed to the
    /// kernel stack.
    pub no_socket: u64,
}

/// The XDP steering program: datapath UDP ports → the AF_XDP socket of the receiving queue.
///
/// ```no_run
/// # fn f(xsk_fd: std::os::fd::RawFd) -> Result<(), punktfunk_ebpf::EbpfError> {
/// use punktfunk_ebpf::{XdpAttachMode, XdpSteering};
/// let mut steer = XdpSteering::load()?;
/// steer.set_ports(&[47998, 48000])?;
/// steer.register_xsk(0, &xsk_fd)?; // the AF_XDP socket bound to queue 0 of eth0
/// steer.attach("eth0", XdpAttachMode::Driver)?;
/// let s = steer.stats()?;
/// # Ok(()) }
/// ```
///
/// Dropping it detaches the program from every interface it was attached to.
pub struct XdpSteering {
    max_queues: u32,
    ports: HashMap<MapData, u16, u8>,
    xsks: XskMap<MapData>,
    stats: PerCpuArray<MapData, u64>,
    // Holds the program and its links; dropping it detaches.
    ebpf: Ebpf,
}

impl XdpSteering {
    /// Rx queues [`Self::load`] makes room for (queue ids 0..64).
    pub const DEFAULT_QUEUES: u32 = 64;

    /// Loads the program into the kernel (not attached anywhere yet, no ports, no sockets),
    /// with XSK map slots for rx queues `0..DEFAULT_QUEUES`.
    pub fn load() -> Result<Self, EbpfError> {
        Self::load_with_queues(Self::DEFAULT_QUEUES)
    }

    /// Like [`Self::load`], with XSK map slots for rx queues `0..queues` (size it to the
    /// NIC's rx queue count when that exceeds 64).
    pub fn load_with_queues(queues: u32) -> Result<Self, EbpfError> {
        if queues == 0 {
            return Err(EbpfError::InvalidConfig("an XSK map with 0 queues".into()));
        }
        let mut ebpf = obj::load_object(PROGRAM, OBJECT, &[(XSKS, queues)])?;
        let ports = obj::take_map(&mut ebpf, PROGRAM, PORTS)?;
        let xsks = obj::take_map(&mut ebpf, PROGRAM, XSKS)?;
        let stats = obj::take_map(&mut ebpf, PROGRAM, STATS)?;
        let mut me = Self {
            max_queues: queues,
            ports,
            xsks,
            stats,
            ebpf,
        };
        me.program()?
            .load()
            .map_err(|e| prog_err(PROGRAM, "loading", e))?;
        Ok(me)
    }

    fn program(&mut self) -> Result<&mut Xdp, EbpfError> {
        xdp_program(&mut self.ebpf, PROGRAM)
    }

    /// Attaches to `ifname` in `mode`. Can be called for several interfaces; all are detached
    /// when `self` drops.
    pub fn attach(&mut self, ifname: &str, mode: XdpAttachMode) -> Result<(), EbpfError> {
        self.program()?
            .attach(ifname, mode.aya())
            .map_err(|e| prog_err(PROGRAM, "attaching", e))?;
        tracing::debug!(ifname, ?mode, "xdp_steer attached");
        Ok(())
    }

    /// Attaches to the interface with index `ifindex` in `mode`.
    pub fn attach_ifindex(&mut self, ifindex: u32, mode: XdpAttachMode) -> Result<(), EbpfError> {
        self.program()?
            .attach_to_if_index(ifindex, mode.aya())
            .map_err(|e| prog_err(PROGRAM, "attaching", e))?;
        tracing::debug!(ifindex, ?mode, "xdp_steer attached");
        Ok(())
    }

    /// Sets the UDP destination ports to steer (replacing the previous set; at most 256).
    pub fn set_ports(&mut self, ports: &[u16]) -> Result<(), EbpfError> {
        obj::replace_ports(&mut self.ports, PORTS, MAX_PORTS, ports)
    }

    /// Sends datapath datagrams arriving on rx queue `queue_id` to the AF_XDP socket `fd`.
    /// The socket must already be bound (to that interface and queue), else the kernel
    /// refuses it. The map keeps its own reference until [`Self::unregister_xsk`] or until
    /// the socket is closed.
    pub fn register_xsk(&mut self, queue_id: u32, fd: &impl AsRawFd) -> Result<(), EbpfError> {
        self.check_queue(queue_id)?;
        self.xsks
            .set(queue_id, fd.as_raw_fd(), 0)
            .map_err(|e| map_err(XSKS, "registering a socket", e))
    }

    /// Removes the socket of rx queue `queue_id`; its datagrams go to the kernel stack again.
    pub fn unregister_xsk(&mut self, queue_id: u32) -> Result<(), EbpfError> {
        self.check_queue(queue_id)?;
        self.xsks
            .unset(queue_id)
            .map_err(|e| map_err(XSKS, "unregistering a socket", e))
    }

    /// Number of rx queues sockets can be registered for (queue ids `0..queues()`).
    pub fn queues(&self) -> u32 {
        self.max_queues
    }

    fn check_queue(&self, queue_id: u32) -> Result<(), EbpfError> {
        if queue_id >= self.max_queues {
            return Err(EbpfError::InvalidConfig(format!(
                "rx queue {queue_id} is beyond the XSK map's {} slots",
                self.max_queues
            )));
        }
        Ok(())
    }

    /// Reads the counters (summed over CPUs).
    pub fn stats(&self) -> Result<SteerStats, EbpfError> {
        Ok(SteerStats {
            redirected: obj::sum_per_cpu(&self.stats, STATS, 0)?,
            passed: obj::sum_per_cpu(&self.stats, STATS, 1)?,
            no_socket: obj::sum_per_cpu(&self.stats, STATS, 2)?,
        })
    }

    /// Runs the program once on `frame` (an Ethernet frame) through `BPF_PROG_TEST_RUN`, as if
    /// it had arrived on rx queue 0 of loopback. Counters count it. The kernel does not carry
    /// out a redirect here: the decision is returned.
    pub fn test_run(&self, frame: &[u8]) -> Result<XdpAction, EbpfError> {
        xdp_test_run(&self.ebpf, PROGRAM, frame)
    }
}

pub(crate) fn xdp_program<'a>(
    ebpf: &'a mut Ebpf,
    program: &'static str,
) -> Result<&'a mut Xdp, EbpfError> {
    ebpf.program_mut(program)
        .ok_or_else(|| obj::missing_program(program))?
        .try_into()
        .map_err(|e| prog_err(program, "finding", e))
}

pub(crate) fn xdp_test_run(
    ebpf: &Ebpf,
    program: &'static str,
    frame: &[u8],
) -> Result<XdpAction, EbpfError> {
    let prog: &Xdp = ebpf
        .program(program)
        .ok_or_else(|| obj::missing_program(program))?
        .try_into()
        .map_err(|e| prog_err(program, "finding", e))?;
    let mut opts = TestRunOptions::new();
    opts.data_in = Some(frame);
    let result = prog
        .test_run(opts)
        .map_err(|e| prog_err(program, "BPF_PROG_TEST_RUN", e))?;
    Ok(XdpAction::from_raw(result.return_value))
}

impl std::fmt::Debug for XdpSteering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpSteering").finish_non_exhaustive()
    }
}
