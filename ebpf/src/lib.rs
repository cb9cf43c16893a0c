//! punktfunk's eBPF programs and their loader.
//!
//! The programs are C (`src/bpf/*.bpf.c`), compiled by `build.rs` with clang
//! (`-O2 -g -target bpf`) and embedded in this crate; [aya] 0.14 loads them. Rust-written eBPF
//! would need a nightly toolchain, so it is not used (design-notes §4).
//!
//! | program | hook | loader | what it does |
//! |---|---|---|---|
//! | `xdp_steer` | XDP (ingress) | [`XdpSteering`] | UDP datagrams to the host's datapath ports → `bpf_redirect_map` into the XSKMAP slot of the receiving queue (the AF_XDP socket of that queue); everything else `XDP_PASS` untouched. A datapath port on a queue without a registered socket is passed to the kernel stack. |
//! | `tc_pace` | TC egress | [`TcPacer`] | EDT pacing: for flows (destination address + port) with a configured rate, `departure = max(now, next)`, `skb->tstamp = departure`, `next = departure + len·10⁹/rate`. The stamps take effect under the `fq` qdisc (or an EDT-aware NIC); this machine's kernel has no `fq`, so there they are carried but not enforced. |
//! | `xdp_loss` | XDP (ingress) | [`LossInjector`] | For test receivers: drops UDP datagrams to configured ports, either at a random rate from a seeded xorshift64 generator (reproducible exactly from the seed) or in a burst pattern (the first `drop` of every `every` packets). |
//!
//! All three parse Ethernet (up to two VLAN tags), IPv4 with any header length or IPv6 with
//! hop-by-hop/routing/destination-options extension headers, then UDP. IP fragments and
//! truncated packets are never treated as UDP datagrams: they pass untouched.
//!
//! Each loader keeps the aya types inside: `load()` loads the program into the kernel,
//! `attach*()` hooks it to an interface (detached again when the loader is dropped), setters
//! fill its maps, `stats()` reads its counters, and `test_run*()` runs it once on a
//! hand-built frame through `BPF_PROG_TEST_RUN` without attaching it anywhere.
//!
//! Loading needs root (CAP_BPF + CAP_NET_ADMIN); [`available`] says why not.

#![warn(missing_docs)]

mod loss;
mod obj;
mod pace;
mod steer;

pub use loss::{LossInjector, LossPattern, LossStats, ZERO_SEED_STATE};
pub use pace::{FlowState, PaceFlow, PacerStats, TcAction, TcAttachMode, TcPacer};
pub use steer::{SteerStats, XdpAttachMode, XdpSteering};

/// What an XDP program decided for a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAction {
    /// `XDP_ABORTED` (0): a program error; the frame is dropped.
    Aborted,
    /// `XDP_DROP` (1).
    Drop,
    /// `XDP_PASS` (2): continue into the kernel stack.
    Pass,
    /// `XDP_TX` (3): bounce back out of the receiving interface.
    Tx,
    /// `XDP_REDIRECT` (4): to another interface, CPU or AF_XDP socket.
    Redirect,
    /// Any other return value.
    Other(u32),
}

impl XdpAction {
    /// Maps a program's return value.
    pub fn from_raw(v: u32) -> Self {
        match v {
            0 => Self::Aborted,
            1 => Self::Drop,
            2 => Self::Pass,
            3 => Self::Tx,
            4 => Self::Redirect,
            other => Self::Other(other),
        }
    }
}

/// Errors of the loaders.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    /// The kernel (or aya) refused the object: no BPF support, not root, or the verifier said no.
    #[error("loading the {program} BPF object: {source}")]
    Load {
        /// The program whose object failed.
        program: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::EbpfError>,
    },
    /// The object lacks a program or map this crate expects (a build mismatch).
    #[error("the {program} BPF object has no {what} `{name}`")]
    Missing {
        /// The program's object.
        program: &'static str,
        /// "program" or "map".
        what: &'static str,
        /// The missing name.
        name: &'static str,
    },
    /// Loading a program into the kernel, attaching it or running it failed.
    #[error("{program}: {action}: {source}")]
    Program {
        /// The program.
        program: &'static str,
        /// What was being done.
        action: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// Reading or writing a map failed.
    #[error("map {map}: {action}: {source}")]
    Map {
        /// The map.
        map: &'static str,
        /// What was being done.
        action: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::maps::MapError>,
    },
    /// Adding the `clsact` qdisc for a classic TC attach failed.
    #[error("adding the clsact qdisc to {ifname}: {source}")]
    Qdisc {
        /// The interface.
        ifname: String,
        /// aya's error.
        #[source]
        source: Box<aya::programs::tc::TcError>,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Loading BPF needs privileges this process lacks.
    #[error("not running as root: loading eBPF programs needs CAP_BPF and CAP_NET_ADMIN")]
    NotRoot,
}

/// Checks that this process can load the programs: it is root and the kernel accepts
/// `xdp_steer`. The error explains why not; tests print it as their skip reason.
pub fn available() -> Result<(), EbpfError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(EbpfError::NotRoot);
    }
    XdpSteering::load().map(drop)
}
