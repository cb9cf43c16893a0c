//! Pacing plans: when to release each chunk of a frame's datagrams.
//!
//! # Why pace
//!
//! An encoder hands over a whole video frame at once. Sent unpaced, a frame leaves the host as
//! one burst at the sender's line rate (10 Gbit/s and more on a kernel-bypass path), although
//! the stream's average rate is far lower. Somewhere downstream (a 1 Gbit/s switch port, a Wi-Fi
//! access point, the client's NIC ring or socket buffer) the burst meets a slower link with a
//! small queue, and the tail of every large frame is dropped. FEC repairs a few lost packets, not
//! the tail third of a keyframe: a 400 Mbit/s stream sent without pacing froze on every keyframe
//! for exactly this reason. Spreading each frame over most of its frame interval keeps the
//! instantaneous rate close to the average rate, so the queues never overflow.
//!
//! # The plan
//!
//! [`plan`] turns a frame (packet count, wire size per packet) plus the frame interval and the
//! link rate into a sequence of [`Chunk`]s: "release `packets` datagrams at `offset_ns` after
//! the frame's start". The plan
//! - spreads the frame over `spread` of the interval (default 85 %), leaving slack for the
//!   next frame to arrive late without overlapping this one;
//! - never asks for more than the link rate: between two chunk releases there is at least the
//!   time the first chunk needs on the wire at link rate;
//! - never finishes later than an unpaced send at link rate would when the frame does not fit
//!   the spread window: it then degenerates into back-to-back chunks at link rate;
//! - bounds chunk sizes (`max_chunk_packets`, default 64: one io_uring GSO send or one AF_XDP
//!   TX batch) and spaces chunks no closer than `min_gap_ns` (timer granularity) unless the link
//!   rate forces it.
//!
//! Times are `u64` nanosecond offsets from the frame's start: the plan is pure arithmetic, the
//! datapath thread owns the clock. The plan is an iterator and allocates nothing.

/// Parameters of the pacing planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingConfig {
    /// Share of the frame interval a frame may be spread over, in per-mille (default 850).
    pub spread_permille: u32,
    /// Largest chunk, in packets (default 64). At least 1.
    pub max_chunk_packets: u32,
    /// Smallest spacing between chunk releases the releaser can honour, in ns (default 100 µs).
    /// Finer plans only cost wake-ups; the link rate can still force chunks closer together.
    pub min_gap_ns: u64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            spread_permille: 850,
            max_chunk_packets: 64,
            min_gap_ns: 100_000,
        }
    }
}

/// What is paced: one frame's datagrams over a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameShape {
    /// Number of datagrams in the frame (data and parity).
    pub packets: u32,
    /// Bytes each datagram occupies on the wire (payload plus UDP/IP/Ethernet overhead).
    pub wire_bytes: u32,
    /// Frame interval in ns (16 666 667 at 60 fps).
    pub interval_ns: u64,
    /// Link rate in bit/s; 0 means unknown (the frame is then spread over the window without
    /// a rate bound).
    pub link_bps: u64,
}

impl FrameShape {
    /// Time the whole frame needs on the wire at link rate (0 when the rate is unknown).
    pub fn wire_time_ns(&self) -> u64 {
        wire_ns(u64::from(self.packets), self.wire_bytes, self.link_bps)
    }
}

fn wire_ns(packets: u64, wire_bytes: u32, link_bps: u64) -> u64 {
    if link_bps == 0 {
        return 0;
    }
    let bits = u128::from(packets) * u128::from(wire_bytes) * 8;
    // Round up: a plan must never assume the link is faster than it is.
    (bits * 1_000_000_000).div_ceil(u128::from(link_bps)) as u64
}

/// One release: `packets` datagrams at `offset_ns` after the frame's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Datagrams to release (≥ 1).
    pub packets: u32,
    /// Release time, ns after the frame's start.
    pub offset_ns: u64,
    /// Index of the chunk's first datagram within the frame.
    pub first: u32,
}

/// The release schedule of one frame; iterate it for the chunks.
#[derive(Debug, Clone)]
pub struct PacingPlan {
    packets: u32,
    chunks: u32,
    span_ns: u64,
    next: u32,
    wire_ns: u64,
}

impl PacingPlan {
    /// Number of chunks.
    pub fn chunk_count(&self) -> u32 {
        self.chunks
    }

    /// Time from the first release until the last chunk's release (the planned spread).
    pub fn last_offset_ns(&self) -> u64 {
        if self.chunks == 0 {
            0
        } else {
            self.offset_of(self.first_of(self.chunks - 1))
        }
    }

    /// When the last packet has left at link rate, ns after the frame's start (the planned
    /// finish); with an unknown link rate, the last release.
    pub fn finish_ns(&self) -> u64 {
        if self.chunks == 0 {
            return 0;
        }
        let last = self.chunks - 1;
        let n = u64::from(self.packets - self.first_of(last));
        self.offset_of(self.first_of(last)) + self.wire_ns * n / u64::from(self.packets.max(1))
    }

    fn first_of(&self, chunk: u32) -> u32 {
        // Even split: the first `packets % chunks` chunks carry one extra packet.
        let base = self.packets / self.chunks;
        let extra = self.packets % self.chunks;
        chunk * base + chunk.min(extra)
    }

    fn offset_of(&self, first_packet: u32) -> u64 {
        (u128::from(self.span_ns) * u128::from(first_packet) / u128::from(self.packets)) as u64
    }
}

impl Iterator for PacingPlan {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.next >= self.chunks {
            return None;
        }
        let first = self.first_of(self.next);
        let end = self.first_of(self.next + 1);
        self.next += 1;
        Some(Chunk {
            packets: end - first,
            offset_ns: self.offset_of(first),
            first,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.chunks - self.next) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for PacingPlan {}

/// Plans the release of one frame (see the module docs for the guarantees).
pub fn plan(shape: FrameShape, config: &PacingConfig) -> PacingPlan {
    let packets = shape.packets;
    let wire = shape.wire_time_ns();
    if packets == 0 {
        return PacingPlan {
            packets: 0,
            chunks: 0,
            span_ns: 0,
            next: 0,
            wire_ns: 0,
        };
    }
    let window = (u128::from(shape.interval_ns) * u128::from(config.spread_permille.min(1000))
        / 1000) as u64;
    // Spread over the window when the frame fits at link rate; otherwise at link rate.
    let span = window.max(wire);
    let max_chunk = config.max_chunk_packets.max(1);
    let min_chunks = packets.div_ceil(max_chunk);
    // Chunks no closer than min_gap on average, unless the chunk-size bound forces more.
    let by_gap = match span.checked_div(config.min_gap_ns) {
        None => packets,
        Some(n) => n.clamp(1, u64::from(packets)) as u32,
    };
    let chunks = by_gap.max(min_chunks).min(packets);
    PacingPlan {
        packets,
        chunks,
        span_ns: span,
        next: 0,
        wire_ns: wire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shape(packets: u32, wire_bytes: u32, interval_ns: u64, link_bps: u64) -> FrameShape {
        FrameShape {
            packets,
            wire_bytes,
            interval_ns,
            link_bps,
        }
    }

    #[test]
    fn keyframe_at_60fps_on_10g_is_spread_over_85_percent() {
        // 1 MiB keyframe ≈ 750 packets of 1442 wire bytes; 60 fps; 10 Gbit/s.
        let s = shape(750, 1442, 16_666_667, 10_000_000_000);
        let p = plan(s, &PacingConfig::default());
        let chunks: Vec<_> = p.clone().collect();
        assert_eq!(chunks.iter().map(|c| c.packets).sum::<u32>(), 750);
        assert_eq!(chunks[0].offset_ns, 0);
        let window = 16_666_667u64 * 850 / 1000;
        assert!(p.finish_ns() <= window);
        // The last release is within one chunk's share of the window's end.
        assert!(p.last_offset_ns() > window - window / chunks.len() as u64 - 1);
        assert!(chunks.iter().all(|c| c.packets <= 64));
    }

    #[test]
    fn oversized_frame_goes_at_link_rate() {
        // 4000 packets of 1500 B at 100 Mbit/s need 480 ms: far beyond a 16.7 ms interval.
        let s = shape(4000, 1500, 16_666_667, 100_000_000);
        let p = plan(s, &PacingConfig::default());
        assert_eq!(p.finish_ns(), s.wire_time_ns());
        assert_eq!(p.finish_ns(), 480_000_000);
    }

    #[test]
    fn empty_frame_has_no_chunks() {
        let mut p = plan(shape(0, 1500, 1000, 1000), &PacingConfig::default());
        assert_eq!(p.chunk_count(), 0);
        assert!(p.next().is_none());
        assert_eq!(p.finish_ns(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn plan_invariants(
            packets in 0u32..20_000,
            wire_bytes in 1u32..9000,
            interval_ns in 0u64..200_000_000,
            link_bps in prop_oneof![Just(0u64), 1_000_000u64..100_000_000_000],
            spread_permille in 0u32..1200,
            max_chunk_packets in 0u32..200,
            min_gap_ns in 0u64..2_000_000,
        ) {
            let s = shape(packets, wire_bytes, interval_ns, link_bps);
            let cfg = PacingConfig { spread_permille, max_chunk_packets, min_gap_ns };
            let p = plan(s, &cfg);
            let n_chunks = p.chunk_count() as usize;
            let chunks: Vec<Chunk> = p.clone().collect();
            prop_assert_eq!(chunks.len(), n_chunks);
            // Every packet exactly once, in order, chunks bounded.
            prop_assert_eq!(chunks.iter().map(|c| u64::from(c.packets)).sum::<u64>(), u64::from(packets));
            let mut next_first = 0;
            for c in &chunks {
                prop_assert!(c.packets >= 1);
                prop_assert!(c.packets <= max_chunk_packets.max(1));
                prop_assert_eq!(c.first, next_first);
                next_first += c.packets;
            }
            if let Some(c) = chunks.first() {
                prop_assert_eq!(c.offset_ns, 0);
            }
            // Never faster than the link: the gap after a chunk covers its wire time (1 ns of
            // integer rounding per step).
            for w in chunks.windows(2) {
                prop_assert!(w[1].offset_ns >= w[0].offset_ns);
                let need = wire_ns(u64::from(w[0].packets), wire_bytes, link_bps);
                prop_assert!(w[1].offset_ns - w[0].offset_ns + 1 >= need,
                    "gap {} < wire time {}", w[1].offset_ns - w[0].offset_ns, need);
            }
            // Fits in the window when the frame fits at link rate; otherwise no later than an
            // unpaced send at link rate.
            let window = interval_ns * u64::from(spread_permille.min(1000)) / 1000;
            let wire = s.wire_time_ns();
            prop_assert!(p.finish_ns() <= window.max(wire) + 1);
            if wire <= window {
                prop_assert!(p.finish_ns() <= interval_ns.max(wire));
            }
            // Chunks are no closer than min_gap on average unless the chunk bound forces it.
            if chunks.len() > 1 && chunks.len() as u64 > u64::from(packets.div_ceil(max_chunk_packets.max(1))) {
                prop_assert!(p.last_offset_ns() / (chunks.len() as u64 - 1) + 1 >= min_gap_ns.min(window.max(wire)));
            }
        }
    }
}
