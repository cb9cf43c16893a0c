//! Core lists (`--datapath-cores 1,3-5`) and pinning the current thread.

use nix::sched::{CpuSet, sched_setaffinity};
use nix::unistd::Pid;

/// Errors of core-list parsing and pinning.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The list is not of the form `1,3-5`.
    #[error("bad core list {0:?}: expected e.g. `1,3-5`")]
    Parse(String),
    /// A core number beyond what the CPU set can hold.
    #[error("core {0} out of range")]
    Range(usize),
    /// sched_setaffinity failed.
    #[error("sched_setaffinity: {0}")]
    Sys(#[from] nix::Error),
}

/// Parses a core list like `1`, `1,3`, `2-5,7` into core numbers (sorted, deduplicated).
pub fn parse_core_list(s: &str) -> Result<Vec<usize>, PinError> {
    let bad = || PinError::Parse(s.to_string());
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(bad());
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let a: usize = a.parse().map_err(|_| bad())?;
        let b: usize = b.parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        if b >= CpuSet::count() {
            return Err(PinError::Range(b));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The cores this process may run on.
pub fn allowed_cores() -> Vec<usize> {
    match nix::sched::sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The default datapath core: the last allowed core when there are at least two (the others
/// stay for the encoder and control plane); `None` (unpinned) on a single-core machine.
pub fn default_datapath_core() -> Option<usize> {
    let cores = allowed_cores();
    (cores.len() >= 2).then(|| *cores.last().expect("non-empty"))
}

/// Pins the calling thread to `cores`.
pub fn pin_current_thread(cores: &[usize]) -> Result<(), PinError> {
    let mut set = CpuSet::new();
    for &c in cores {
        set.set(c).map_err(|_| PinError::Range(c))?;
    }
    sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_lists() {
        assert_eq!(parse_core_list("1").unwrap(), vec![1]);
        assert_eq!(parse_core_list("3,1-2, 2").unwrap(), vec![1, 2, 3]);
        assert!(parse_core_list("").is_err());
        assert!(parse_core_list("2-1").is_err());
        assert!(parse_core_list("a").is_err());
        assert!(parse_core_list("1,,2").is_err());
        assert!(matches!(parse_core_list("100000"), Err(PinError::Range(_))));
    }

    #[test]
    fn pinning_a_thread_restricts_it() {
        let cores = allowed_cores();
        assert!(!cores.is_empty());
        let target = *cores.last().unwrap();
        let seen = std::thread::spawn(move || {
            pin_current_thread(&[target]).unwrap();
            allowed_cores()
        })
        .join()
        .unwrap();
        assert_eq!(seen, vec![target]);
    }
}
