//! The receiver's sliding anti-replay window (spec §5.3).
//!
//! 131 072 sequences wide: the first sequence may be anything; a sequence newer than the
//! highest seen moves the window; one inside the window is accepted once; one that is a
//! whole window (or more) behind the highest is dropped. The bitmap is allocated once
//! (16 KiB); checking and recording never allocate.

/// Width of the window in sequences.
pub const REPLAY_WINDOW: u64 = 131_072;

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

/// Why a sequence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The sequence was already accepted.
    #[error("sequence {0} already seen")]
    Replayed(u64),
    /// The sequence is a whole window or more behind the highest accepted.
    #[error("sequence {seq} is too old (highest {highest})")]
    TooOld {
        /// The refused sequence.
        seq: u64,
        /// The highest sequence accepted so far.
        highest: u64,
    },
}

/// Anti-replay bitmap over the last [`REPLAY_WINDOW`] sequences.
#[derive(Clone)]
pub struct ReplayWindow {
    bits: Box<[u64; WORDS]>,
    highest: Option<u64>,
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("highest", &self.highest)
            .finish_non_exhaustive()
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// An empty window: the first sequence checked is accepted, whatever it is.
    pub fn new() -> Self {
        Self {
            bits: Box::new([0u64; WORDS]),
            highest: None,
        }
    }

    /// The highest sequence accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    #[inline]
    fn bit(seq: u64) -> (usize, u64) {
        let slot = seq % REPLAY_WINDOW;
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    /// Would `seq` be accepted? Does not record it (call after authentication fails to
    /// keep forged packets from moving the window).
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if seq > highest {
            return Ok(());
        }
        if highest - seq >= REPLAY_WINDOW {
            return Err(ReplayError::TooOld { seq, highest });
        }
        let (w, b) = Self::bit(seq);
        if self.bits[w] & b != 0 {
            Err(ReplayError::Replayed(seq))
        } else {
            Ok(())
        }
    }

    /// Checks `seq` and, if acceptable, records it.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        match self.highest {
            Some(highest) if seq <= highest => {}
            Some(highest) => {
                // Slots of the sequences the window slides over (highest, seq] now describe
                // those new sequences: clear them.
                let gap = seq - highest;
                if gap >= REPLAY_WINDOW {
                    self.bits.fill(0);
                } else {
                    self.clear_range(highest + 1, seq);
                }
                self.highest = Some(seq);
            }
            None => self.highest = Some(seq),
        }
        let (w, b) = Self::bit(seq);
        self.bits[w] |= b;
        Ok(())
    }

    /// Clears the slots of sequences `from..=to` (fewer than a window of them).
    fn clear_range(&mut self, from: u64, to: u64) {
        let mut s = from;
        while s <= to {
            let slot = s % REPLAY_WINDOW;
            let bit = slot % 64;
            let w = (slot / 64) as usize;
            if bit == 0 && to - s >= 63 {
                self.bits[w] = 0;
                s += 64;
            } else {
                self.bits[w] &= !(1u64 << bit);
                s += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_sequence_may_be_anything_and_replays_are_refused() {
        let mut w = ReplayWindow::new();
        w.accept(1_000_000).unwrap();
        assert_eq!(w.accept(1_000_000), Err(ReplayError::Replayed(1_000_000)));
        w.accept(999_999).unwrap();
        assert_eq!(w.accept(999_999), Err(ReplayError::Replayed(999_999)));
        w.accept(1_000_001).unwrap();
        assert_eq!(w.highest(), Some(1_000_001));
    }

    #[test]
    fn window_edge_is_exact() {
        let mut w = ReplayWindow::new();
        w.accept(REPLAY_WINDOW + 10).unwrap();
        // exactly one window behind: dropped; one less: accepted once
        assert_eq!(
            w.accept(10),
            Err(ReplayError::TooOld {
                seq: 10,
                highest: REPLAY_WINDOW + 10
            })
        );
        w.accept(11).unwrap();
        assert_eq!(w.accept(11), Err(ReplayError::Replayed(11)));
        // a jump of more than a window forgets everything older
        w.accept(10 * REPLAY_WINDOW).unwrap();
        w.accept(9 * REPLAY_WINDOW + 1).unwrap();
        assert!(w.accept(9 * REPLAY_WINDOW).is_err());
    }

    #[test]
    fn check_does_not_record() {
        let mut w = ReplayWindow::new();
        w.accept(5).unwrap();
        w.check(7).unwrap();
        w.check(7).unwrap();
        w.accept(7).unwrap();
        assert!(w.check(7).is_err());
        assert!(w.check(6).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Against a model: a set of accepted sequences and the highest.
        #[test]
        fn matches_model(start in 0u64..1u64 << 40, steps in prop::collection::vec((-200_000i64..200_000, any::<bool>()), 1..200)) {
            let mut w = ReplayWindow::new();
            let mut seen = std::collections::BTreeSet::new();
            let mut highest: Option<u64> = None;
            for (delta, small) in steps {
                let delta = if small { delta % 100 } else { delta };
                let base = highest.unwrap_or(start) as i64;
                let seq = (base + delta).max(0) as u64;
                let want_ok = match highest {
                    None => true,
                    Some(h) => seq > h || (h - seq < REPLAY_WINDOW && !seen.contains(&seq)),
                };
                let got = w.accept(seq);
                prop_assert_eq!(got.is_ok(), want_ok, "seq {} highest {:?}", seq, highest);
                if want_ok {
                    seen.insert(seq);
                    highest = Some(highest.map_or(seq, |h| h.max(seq)));
                }
            }
        }
    }
}
