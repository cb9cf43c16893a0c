//! glommio executors for the control plane, pinned to control cores.
//!
//! glommio registers io_uring buffers and needs `RLIMIT_MEMLOCK` ≥ 512 KiB (design-notes §4);
//! [`raise_memlock`] lifts the soft limit as far as allowed before an executor starts.

use std::future::Future;

use glommio::{CpuSet, LocalExecutorBuilder, Placement};
use thiserror::Error;

/// Smallest `RLIMIT_MEMLOCK` glommio works with.
pub const MIN_MEMLOCK: u64 = 512 * 1024;
/// What we ask for when allowed.
const WANT_MEMLOCK: u64 = 64 * 1024 * 1024;

/// Errors starting an executor.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// `RLIMIT_MEMLOCK` is below what glommio needs and cannot be raised.
    #[error(
        "RLIMIT_MEMLOCK is {have} bytes; glommio needs at least {MIN_MEMLOCK} (raise it with `ulimit -l` or LimitMEMLOCK=)"
    )]
    Memlock {
        /// Current soft limit.
        have: u64,
    },
    /// None of the requested cores is online.
    #[error("none of the control cores {0:?} is online")]
    NoCores(Vec<usize>),
    /// glommio failed to create or run the executor.
    #[error("glommio: {0}")]
    Glommio(String),
}

/// Raises the soft `RLIMIT_MEMLOCK` towards 64 MiB (capped by the hard limit, or raising the
/// hard limit when privileged). Returns the resulting soft limit.
pub fn raise_memlock() -> Result<u64, RuntimeError> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return Err(RuntimeError::Memlock { have: 0 });
    }
    if lim.rlim_cur < WANT_MEMLOCK {
        let want = libc::rlimit {
            rlim_cur: WANT_MEMLOCK.max(lim.rlim_cur),
            rlim_max: lim.rlim_max.max(WANT_MEMLOCK),
        };
        // SAFETY: setrlimit reads the struct we own; failure is handled below.
        if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &want) } != 0 {
            let capped = libc::rlimit {
                rlim_cur: lim.rlim_max.min(WANT_MEMLOCK).max(lim.rlim_cur),
                rlim_max: lim.rlim_max,
            };
            // SAFETY: as above.
            unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &capped) };
        }
        // SAFETY: as for the first getrlimit.
        unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    }
    if lim.rlim_cur < MIN_MEMLOCK {
        return Err(RuntimeError::Memlock { have: lim.rlim_cur });
    }
    Ok(lim.rlim_cur)
}

/// Runs `fut_gen()` on a new glommio executor thread named `name`, fenced to `cores` (empty =
/// unbound), and waits for its result.
pub fn run_pinned<G, F, T>(name: &str, cores: &[usize], fut_gen: G) -> Result<T, RuntimeError>
where
    G: FnOnce() -> F + Send + 'static,
    F: Future<Output = T> + 'static,
    T: Send + 'static,
{
    raise_memlock()?;
    let placement = if cores.is_empty() {
        Placement::Unbound
    } else {
        let set = CpuSet::online()
            .map_err(|e| RuntimeError::Glommio(e.to_string()))?
            .filter(|l| cores.contains(&l.cpu));
        if set.is_empty() {
            return Err(RuntimeError::NoCores(cores.to_vec()));
        }
        Placement::Fenced(set)
    };
    LocalExecutorBuilder::new(placement)
        .name(name)
        .io_memory(256 * 1024)
        .spawn(fut_gen)
        .map_err(|e| RuntimeError::Glommio(e.to_string()))?
        .join()
        .map_err(|e| RuntimeError::Glommio(e.to_string()))
}
