//! AF_XDP rings: typed producer/consumer views over the kernel's shared rings.
//!
//! Index arithmetic lives in the pure [`ProdCursor`]/[`ConsCursor`] (property-tested against a
//! model below); the only `unsafe` is reading/writing descriptors and the shared indices inside
//! the mapped ring. Producers publish with one `Release` store per batch; indices are read with
//! `Acquire` only when the cached copy says the ring looks full (producer) or empty (consumer).

use std::sync::atomic::{AtomicU32, Ordering};

use super::sys::Mmap;

/// Producer-side index bookkeeping (we fill, the kernel drains): fill and TX rings.
#[derive(Debug, Clone, Copy)]
pub struct ProdCursor {
    size: u32,
    prod: u32,
    cached_cons: u32,
}

impl ProdCursor {
    /// A cursor for a ring of `size` entries (a power of two) with both indices at `start`.
    pub fn new(size: u32, start: u32) -> Self {
        Self {
            size,
            prod: start,
            cached_cons: start,
        }
    }

    /// Free entries according to the cached consumer index.
    pub fn free(&self) -> u32 {
        self.size - self.prod.wrapping_sub(self.cached_cons)
    }

    /// Refreshes the consumer index when fewer than `want` entries look free; returns how many
    /// may be written now (≤ want).
    pub fn reserve(&mut self, want: u32, load_cons: impl FnOnce() -> u32) -> u32 {
        if self.free() < want {
            self.cached_cons = load_cons();
        }
        self.free().min(want)
    }

    /// Index of the `i`-th entry after the producer.
    pub fn slot(&self, i: u32) -> u32 {
        self.prod.wrapping_add(i) & (self.size - 1)
    }

    /// Advances the producer by `n` (≤ the last `reserve`); returns the new index to publish.
    pub fn advance(&mut self, n: u32) -> u32 {
        debug_assert!(n <= self.free());
        self.prod = self.prod.wrapping_add(n);
        self.prod
    }

    /// Entries written but not yet consumed (by the cached view).
    pub fn outstanding(&self) -> u32 {
        self.prod.wrapping_sub(self.cached_cons)
    }
}

/// Consumer-side index bookkeeping (the kernel fills, we drain): completion and RX rings.
#[derive(Debug, Clone, Copy)]
pub struct ConsCursor {
    size: u32,
    cons: u32,
    cached_prod: u32,
}

impl ConsCursor {
    /// A cursor for a ring of `size` entries with both indices at `start`.
    pub fn new(size: u32, start: u32) -> Self {
        Self {
            size,
            cons: start,
            cached_prod: start,
        }
    }

    /// Refreshes the producer index when fewer than `want` entries look available; returns
    /// how many may be read now (≤ want).
    pub fn peek(&mut self, want: u32, load_prod: impl FnOnce() -> u32) -> u32 {
        if self.cached_prod.wrapping_sub(self.cons) < want {
            self.cached_prod = load_prod();
        }
        self.cached_prod.wrapping_sub(self.cons).min(want)
    }

    /// Index of the `i`-th entry after the consumer.
    pub fn slot(&self, i: u32) -> u32 {
        self.cons.wrapping_add(i) & (self.size - 1)
    }

    /// Releases `n` read entries; returns the new index to publish.
    pub fn advance(&mut self, n: u32) -> u32 {
        self.cons = self.cons.wrapping_add(n);
        self.cons
    }
}

/// A mapped ring of `T` entries.
struct RingMap<T> {
    _map: Mmap,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut T,
    size: u32,
}

impl<T: Copy> RingMap<T> {
    /// # Safety
    /// `map` must be the kernel's mapping of a ring of `size` entries of `T` with the offsets
    /// in `off`, as returned by `XDP_MMAP_OFFSETS` for that ring.
    unsafe fn new(map: Mmap, off: &libc::xdp_ring_offset, size: u32) -> Self {
        let base = map.as_ptr();
        // SAFETY (for the adds): the kernel guarantees the offsets lie inside the mapping.
        unsafe {
            Self {
                producer: base.add(off.producer as usize) as *const AtomicU32,
                consumer: base.add(off.consumer as usize) as *const AtomicU32,
                flags: base.add(off.flags as usize) as *const AtomicU32,
                desc: base.add(off.desc as usize) as *mut T,
                size,
                _map: map,
            }
        }
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: points into the live mapping, 4-byte aligned (kernel layout), and the kernel
        // only accesses it atomically.
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }

    fn flags(&self) -> u32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.flags }.load(Ordering::Relaxed)
    }

    fn write(&mut self, slot: u32, v: T) {
        assert!(slot < self.size);
        // SAFETY: slot < size, inside the descriptor array; the slot is owned by the producer
        // (us) until published.
        unsafe { self.desc.add(slot as usize).write_volatile(v) }
    }

    fn read(&self, slot: u32) -> T {
        assert!(slot < self.size);
        // SAFETY: slot < size; the entry was published by the kernel (Acquire on producer)
        // and is not reused until we advance the consumer.
        unsafe { self.desc.add(slot as usize).read_volatile() }
    }
}

/// Ring size in bytes to map for `entries` entries of `T` at `off`.
pub fn map_len<T>(off: &libc::xdp_ring_offset, entries: u32) -> usize {
    off.desc as usize + entries as usize * std::mem::size_of::<T>()
}

/// A ring we produce into (fill ring: `u64` frame addresses; TX ring: `xdp_desc`).
pub struct Producer<T> {
    map: RingMap<T>,
    cur: ProdCursor,
}

// SAFETY: single owner; the raw pointers point into the owned mapping.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T: Copy> Producer<T> {
    /// # Safety
    /// As for the ring mapping: `map`, `off` and `size` must describe the same kernel ring.
    pub unsafe fn new(map: Mmap, off: &libc::xdp_ring_offset, size: u32) -> Self {
        // SAFETY: forwarded contract.
        let map = unsafe { RingMap::new(map, off, size) };
        let start = map.producer().load(Ordering::Relaxed);
        Self {
            cur: ProdCursor::new(size, start),
            map,
        }
    }

    /// Writes as many of `items` as fit and publishes them with one release store; returns
    /// how many were written.
    pub fn produce(&mut self, items: &[T]) -> usize {
        let cons = self.map.consumer();
        let n = self
            .cur
            .reserve(items.len() as u32, || cons.load(Ordering::Acquire));
        for (i, item) in items[..n as usize].iter().enumerate() {
            let slot = self.cur.slot(i as u32);
            self.map.write(slot, *item);
        }
        let idx = self.cur.advance(n);
        self.map.producer().store(idx, Ordering::Release);
        n as usize
    }

    /// Free entries (refreshing the consumer index).
    pub fn free(&mut self) -> u32 {
        let cons = self.map.consumer();
        self.cur.reserve(u32::MAX, || cons.load(Ordering::Acquire))
    }

    /// Entries published but not yet taken by the kernel (refreshing the consumer index).
    pub fn outstanding(&mut self) -> u32 {
        self.free();
        self.cur.outstanding()
    }

    /// True when the kernel asks for a wake-up (`XDP_RING_NEED_WAKEUP`).
    pub fn needs_wakeup(&self) -> bool {
        self.map.flags() & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

/// A ring we consume from (completion ring: `u64`; RX ring: `xdp_desc`).
pub struct Consumer<T> {
    map: RingMap<T>,
    cur: ConsCursor,
}

// SAFETY: single owner; the raw pointers point into the owned mapping.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T: Copy> Consumer<T> {
    /// # Safety
    /// As for the ring mapping: `map`, `off` and `size` must describe the same kernel ring.
    pub unsafe fn new(map: Mmap, off: &libc::xdp_ring_offset, size: u32) -> Self {
        // SAFETY: forwarded contract.
        let map = unsafe { RingMap::new(map, off, size) };
        let start = map.consumer().load(Ordering::Relaxed);
        Self {
            cur: ConsCursor::new(size, start),
            map,
        }
    }

    /// Reads up to `out.len()` entries into `out` and releases them; returns how many.
    pub fn consume(&mut self, out: &mut [T]) -> usize {
        let prod = self.map.producer();
        let n = self
            .cur
            .peek(out.len() as u32, || prod.load(Ordering::Acquire));
        for (i, o) in out[..n as usize].iter_mut().enumerate() {
            *o = self.map.read(self.cur.slot(i as u32));
        }
        let idx = self.cur.advance(n);
        self.map.consumer().store(idx, Ordering::Release);
        n as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        Produce(u32),
        KernelTake(u32),
        KernelPut(u32),
        Consume(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..20).prop_map(Op::Produce),
            (0u32..20).prop_map(Op::KernelTake),
            (0u32..20).prop_map(Op::KernelPut),
            (0u32..20).prop_map(Op::Consume),
        ]
    }

    proptest! {
        /// A producer ring and a consumer ring of 16 entries, driven against a model queue,
        /// starting at arbitrary (wrapping) indices: no entry is lost, duplicated, reordered
        /// or overwritten before the other side took it.
        #[test]
        fn cursors_match_model(ops in proptest::collection::vec(op(), 0..200), start: u32) {
            const SIZE: u32 = 16;
            // Producer side: our cursor + a simulated kernel consumer index + slots.
            let mut p = ProdCursor::new(SIZE, start);
            let mut k_cons = start;
            let mut p_slots = [u64::MAX; SIZE as usize];
            let mut p_model: VecDeque<u64> = VecDeque::new();
            let mut p_published = start;
            // Consumer side.
            let mut c = ConsCursor::new(SIZE, start);
            let mut k_prod = start;
            let mut c_slots = [u64::MAX; SIZE as usize];
            let mut c_model: VecDeque<u64> = VecDeque::new();
            let mut c_released = start;
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Produce(n) => {
                        let got = p.reserve(n, || k_cons);
                        prop_assert!(got <= n);
                        prop_assert!(p_model.len() as u32 + got <= SIZE);
                        // The model only knows it may write `SIZE - len` entries; the cursor
                        // may see fewer (stale cache) but never more.
                        for i in 0..got {
                            p_slots[p.slot(i) as usize] = next;
                            p_model.push_back(next);
                            next += 1;
                        }
                        p_published = p.advance(got);
                        if n > 0 && got < n {
                            prop_assert_eq!(p_model.len() as u32, SIZE, "refused while not full");
                        }
                    }
                    Op::KernelTake(n) => {
                        let avail = p_published.wrapping_sub(k_cons).min(n);
                        for _ in 0..avail {
                            let v = p_slots[(k_cons & (SIZE - 1)) as usize];
                            prop_assert_eq!(Some(v), p_model.pop_front());
                            k_cons = k_cons.wrapping_add(1);
                        }
                    }
                    Op::KernelPut(n) => {
                        let free = SIZE - k_prod.wrapping_sub(c_released);
                        for _ in 0..free.min(n) {
                            c_slots[(k_prod & (SIZE - 1)) as usize] = next;
                            c_model.push_back(next);
                            next += 1;
                            k_prod = k_prod.wrapping_add(1);
                        }
                    }
                    Op::Consume(n) => {
                        let got = c.peek(n, || k_prod);
                        prop_assert_eq!(got, (c_model.len() as u32).min(n));
                        for i in 0..got {
                            prop_assert_eq!(Some(c_slots[c.slot(i) as usize]), c_model.pop_front());
                        }
                        c_released = c.advance(got);
                    }
                }
            }
        }
    }
}
