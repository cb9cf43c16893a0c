//! Caller-owned storage for sealed datagrams.
//!
//! Sealers never allocate per packet: they ask a [`DatagramSink`] for the next datagram's
//! buffer and write the finished, encrypted datagram straight into it. The datapath implements
//! the sink over AF_XDP UMEM frames (after the Ethernet/IP/UDP headroom) or io_uring buffers;
//! tests and simple senders use [`DatagramBuf`].

/// Hands out one writable buffer per datagram, in send order.
pub trait DatagramSink {
    /// Returns the buffer for the next datagram, exactly `len` bytes long, or `None` when the
    /// sink has no room left. A returned buffer counts as one datagram of `len` bytes.
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]>;
}

/// A reusable in-memory sink: datagrams stored back to back in one growable buffer.
///
/// Allocation happens only when a frame needs more room than any frame before it; `clear`
/// keeps the capacity, so a long-lived `DatagramBuf` stops allocating after warm-up.
#[derive(Debug, Default, Clone)]
pub struct DatagramBuf {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    limit: Option<usize>,
}

impl DatagramBuf {
    /// An empty buffer with no datagram limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer that refuses datagrams beyond `max` (to exercise sink-full paths).
    pub fn with_limit(max: usize) -> Self {
        Self {
            limit: Some(max),
            ..Self::default()
        }
    }

    /// Forgets all datagrams, keeping the allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// Number of datagrams held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no datagram is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Datagram `i`, if present.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }

    /// Mutable datagram `i` (tests use it to corrupt packets).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&mut self.bytes[start..end])
    }

    /// All datagrams in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).map(move |i| self.get(i).expect("index in range"))
    }
}

impl DatagramSink for DatagramBuf {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.limit.is_some_and(|max| self.ends.len() >= max) {
            return None;
        }
        let start = self.bytes.len();
        self.bytes.resize(start + len, 0);
        self.ends.push(start + len);
        Some(&mut self.bytes[start..])
    }
}

/// A sink over a fixed arena of equal-size slots (`stride` bytes each), as a datapath ring
/// of frames looks; records each datagram's length.
#[derive(Debug)]
pub struct SlotArena<'a> {
    arena: &'a mut [u8],
    stride: usize,
    lens: &'a mut [usize],
    used: usize,
}

impl<'a> SlotArena<'a> {
    /// Wraps `arena`, cut into `arena.len() / stride` slots; `lens` receives each datagram's
    /// length and must have one entry per slot.
    pub fn new(arena: &'a mut [u8], stride: usize, lens: &'a mut [usize]) -> Self {
        assert!(stride > 0, "slot stride must be positive");
        Self {
            arena,
            stride,
            lens,
            used: 0,
        }
    }

    /// Datagrams written so far.
    pub fn used(&self) -> usize {
        self.used
    }
}

impl DatagramSink for SlotArena<'_> {
    fn next_datagram(&mut self, len: usize) -> Option<&mut [u8]> {
        let slots = (self.arena.len() / self.stride).min(self.lens.len());
        if self.used >= slots || len > self.stride {
            return None;
        }
        let start = self.used * self.stride;
        self.lens[self.used] = len;
        self.used += 1;
        Some(&mut self.arena[start..start + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_keeps_datagrams_in_order_and_respects_limit() {
        let mut b = DatagramBuf::with_limit(2);
        b.next_datagram(3).unwrap().copy_from_slice(&[1, 2, 3]);
        b.next_datagram(1).unwrap()[0] = 9;
        assert!(b.next_datagram(1).is_none());
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(0), Some(&[1u8, 2, 3][..]));
        assert_eq!(b.get(1), Some(&[9u8][..]));
        assert_eq!(b.get(2), None);
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn arena_refuses_oversize_and_overflow() {
        let mut mem = [0u8; 8];
        let mut lens = [0usize; 2];
        let mut a = SlotArena::new(&mut mem, 4, &mut lens);
        assert!(a.next_datagram(5).is_none());
        a.next_datagram(4).unwrap().fill(1);
        a.next_datagram(2).unwrap().fill(2);
        assert!(a.next_datagram(1).is_none());
        assert_eq!(a.used(), 2);
        assert_eq!(mem, [1, 1, 1, 1, 2, 2, 0, 0]);
        assert_eq!(lens, [4, 2]);
    }
}
