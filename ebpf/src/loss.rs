//! [`LossInjector`]: the loader of `xdp_loss`.

use aya::maps::{Array, HashMap, MapData, PerCpuArray};
use aya::{Ebpf, Pod, include_bytes_aligned};

use crate::obj::{self, map_err, prog_err};
use crate::steer::{xdp_program, xdp_test_run};
use crate::{EbpfError, XdpAction, XdpAttachMode};

const PROGRAM: &str = "xdp_loss";
const PORTS: &str = "loss_ports";
const CONFIG: &str = "loss_config";
const STATE: &str = "loss_state";
const STATS: &str = "loss_stats";
const MAX_PORTS: usize = 256;

static OBJECT: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/xdp_loss.bpf.o"));

/// The generator state used when the seed is 0 (xorshift64 would stay at 0 forever).
pub const ZERO_SEED_STATE: u64 = 0x9E37_79B9_7F4A_7C15;

const MODE_OFF: u32 = 0;
const MODE_RANDOM: u32 = 1;
const MODE_BURST: u32 = 2;

/// `struct loss_config` of xdp_loss.bpf.c.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct LossConfig {
    mode: u32,
    per_million: u32,
    drop: u32,
    every: u32,
}

// SAFETY: four u32, no padding, valid for any bits.
unsafe impl Pod for LossConfig {}

/// `struct loss_state` of xdp_loss.bpf.c (`lock` is the program's `bpf_spin_lock`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct LossState {
    lock: u32,
    pad: u32,
    rng: u64,
    seq: u64,
}

// SAFETY: plain integers, no padding (4 + 4 + 8 + 8), valid for any bits.
unsafe impl Pod for LossState {}

/// Which matching datagrams the injector drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossPattern {
    /// Drop nothing (count only).
    None,
    /// Drop each datagram with probability `per_million / 1e6`, from a xorshift64 generator
    /// started at `seed` (or [`ZERO_SEED_STATE`] if `seed` is 0) and stepped once per
    /// matching datagram: `x ^= x << 13; x ^= x >> 7; x ^= x << 17`; the datagram is dropped
    /// when `((x >> 32) * 1_000_000) >> 32 < per_million`. One generator serves all CPUs, so
    /// the drop sequence is exactly reproducible.
    Random {
        /// Drop probability in parts per million (≤ 1 000 000).
        per_million: u32,
        /// Generator seed.
        seed: u64,
    },
    /// Drop the first `drop` of every `every` matching datagrams (datagram `n`, counted from 0
    /// since the last `configure`, is dropped when `n % every < drop`).
    Burst {
        /// Datagrams dropped per period.
        drop: u32,
        /// Period length (> 0, ≥ `drop`).
        every: u32,
    },
}

/// Counters of `xdp_loss`, summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossStats {
    /// Datagrams to configured ports that were let through.
    pub passed: u64,
    /// Datagrams to configured ports that were dropped.
    pub dropped: u64,
    /// Everything else (passed untouched).
    pub other: u64,
}

/// The XDP loss injector for test receivers.
///
/// ```no_run
/// # fn f() -> Result<(), punktfunk_ebpf::EbpfError> {
/// use punktfunk_ebpf::{LossInjector, LossPattern};
/// let mut loss = LossInjector::load()?;
/// loss.set_ports(&[9000])?;
/// loss.configure(LossPattern::Random { per_million: 20_000, seed: 7 })?; // 2 %
/// loss.attach("veth1")?;
/// # Ok(()) }
/// ```
///
/// Dropping it detaches the program.
pub struct LossInjector {
    ports: HashMap<MapData, u16, u8>,
    config: Array<MapData, LossConfig>,
    state: Array<MapData, LossState>,
    stats: PerCpuArray<MapData, u64>,
    ebpf: Ebpf,
}

impl LossInjector {
    /// Loads the program (pattern [`LossPattern::None`], no ports, not attached).
    pub fn load() -> Result<Self, EbpfError> {
        let mut ebpf = obj::load_object(PROGRAM, OBJECT, &[])?;
        let ports = obj::take_map(&mut ebpf, PROGRAM, PORTS)?;
        let config = obj::take_map(&mut ebpf, PROGRAM, CONFIG)?;
        let state = obj::take_map(&mut ebpf, PROGRAM, STATE)?;
        let stats = obj::take_map(&mut ebpf, PROGRAM, STATS)?;
        let mut me = Self {
            ports,
            config,
            state,
            stats,
            ebpf,
        };
        xdp_program(&mut me.ebpf, PROGRAM)?
            .load()
            .map_err(|e| prog_err(PROGRAM, "loading", e))?;
        Ok(me)
    }

    /// Attaches to `ifname` (kernel's choice of XDP mode).
    pub fn attach(&mut self, ifname: &str) -> Result<(), EbpfError> {
        self.attach_with(ifname, XdpAttachMode::Auto)
    }

    /// Attaches to `ifname` in `mode`.
    pub fn attach_with(&mut self, ifname: &str, mode: XdpAttachMode) -> Result<(), EbpfError> {
        let mode = match mode {
            XdpAttachMode::Auto => aya::programs::XdpMode::Default,
            XdpAttachMode::Skb => aya::programs::XdpMode::Skb,
            XdpAttachMode::Driver => aya::programs::XdpMode::Driver,
        };
        xdp_program(&mut self.ebpf, PROGRAM)?
            .attach(ifname, mode)
            .map_err(|e| prog_err(PROGRAM, "attaching", e))?;
        Ok(())
    }

    /// Sets the UDP destination ports subject to loss (replacing the previous set; ≤ 256).
    pub fn set_ports(&mut self, ports: &[u16]) -> Result<(), EbpfError> {
        obj::replace_ports(&mut self.ports, PORTS, MAX_PORTS, ports)
    }

    /// Sets the loss pattern and restarts it (generator reseeded, packet index 0).
    pub fn configure(&mut self, pattern: LossPattern) -> Result<(), EbpfError> {
        let (config, rng) = match pattern {
            LossPattern::None => (
                LossConfig {
                    mode: MODE_OFF,
                    ..Default::default()
                },
                0,
            ),
            LossPattern::Random { per_million, seed } => {
                if per_million > 1_000_000 {
                    return Err(EbpfError::InvalidConfig(format!(
                        "loss of {per_million} per million"
                    )));
                }
                let rng = if seed == 0 { ZERO_SEED_STATE } else { seed };
                (
                    LossConfig {
                        mode: MODE_RANDOM,
                        per_million,
                        ..Default::default()
                    },
                    rng,
                )
            }
            LossPattern::Burst { drop, every } => {
                if every == 0 || drop > every {
                    return Err(EbpfError::InvalidConfig(format!(
                        "burst of {drop} every {every}"
                    )));
                }
                (
                    LossConfig {
                        mode: MODE_BURST,
                        drop,
                        every,
                        ..Default::default()
                    },
                    0,
                )
            }
        };
        // Stop dropping while the state is reset, then switch to the new pattern.
        self.config
            .set(0, LossConfig::default(), 0)
            .map_err(|e| map_err(CONFIG, "writing", e))?;
        self.state
            .set(
                0,
                LossState {
                    rng,
                    ..Default::default()
                },
                0,
            )
            .map_err(|e| map_err(STATE, "writing", e))?;
        self.config
            .set(0, config, 0)
            .map_err(|e| map_err(CONFIG, "writing", e))
    }

    /// Reads the counters (summed over CPUs).
    pub fn stats(&self) -> Result<LossStats, EbpfError> {
        Ok(LossStats {
            passed: obj::sum_per_cpu(&self.stats, STATS, 0)?,
            dropped: obj::sum_per_cpu(&self.stats, STATS, 1)?,
            other: obj::sum_per_cpu(&self.stats, STATS, 2)?,
        })
    }

    /// Runs the program once on `frame` through `BPF_PROG_TEST_RUN`; the generator and
    /// counters advance as for a real packet.
    pub fn test_run(&self, frame: &[u8]) -> Result<XdpAction, EbpfError> {
        xdp_test_run(&self.ebpf, PROGRAM, frame)
    }
}

impl std::fmt::Debug for LossInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LossInjector").finish_non_exhaustive()
    }
}
