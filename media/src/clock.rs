//! Clocks. Capture timestamps are monotonic nanoseconds taken from a [`Clock`], so tests can
//! pass a manual clock and the host passes `CLOCK_MONOTONIC` (shared by every process on the
//! machine, which lets a local reference client compare its own clock with embedded stamps).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of monotonic time in nanoseconds.
pub trait Clock: Send + Sync {
    /// Current time in nanoseconds. Never decreases.
    fn now_ns(&self) -> u64;
}

/// `CLOCK_MONOTONIC`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now_ns(&self) -> u64 {
        monotonic_ns()
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock starting at `ns`.
    pub fn new(ns: u64) -> Self {
        Self(Arc::new(AtomicU64::new(ns)))
    }
    /// Moves the clock forward by `ns`.
    pub fn advance(&self, ns: u64) {
        self.0.fetch_add(ns, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_moves_forward() {
        let a = MonotonicClock.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MonotonicClock.now_ns();
        assert!(b >= a + 1_000_000, "{a} -> {b}");
    }

    #[test]
    fn manual_clock_advances_only_when_told() {
        let c = ManualClock::new(5);
        assert_eq!(c.now_ns(), 5);
        c.clone().advance(10);
        assert_eq!(c.now_ns(), 15);
    }
}
