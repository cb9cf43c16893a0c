//! Steady-state sealing allocates nothing: a counting global allocator (this test binary
//! only) counts allocations made by the test thread while `seal_frame` runs into a warmed
//! `DatagramBuf`, for a single-block and a multi-block (parity arena) shape. The same is
//! checked for the reassembler's steady state with FEC repair and recycled buffers.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use punktfunk_core::slots::DatagramBuf;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while `f` runs.
fn count<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = ALLOCS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCS.load(Ordering::Relaxed) - before, r)
}

#[test]
fn counter_sees_allocations() {
    let (n, v) = count(|| vec![1u8; 100]);
    assert!(n >= 1 && v.len() == 100, "the counting allocator works");
}

#[test]
fn steady_state_seal_frame_allocates_nothing() {
    for (k, len) in [(4096usize, 1usize << 20), (64, 1 << 20), (4096, 3000)] {
        let au = test_frame(1, len);
        let mut s = sealer(1408, k);
        let mut out = DatagramBuf::new();
        for _ in 0..3 {
            out.clear();
            s.seal_frame(&au, 0, 5, 10, &mut out).unwrap();
        }
        let (n, ()) = count(|| {
            for i in 0..10u64 {
                out.clear();
                s.seal_frame(&au, i, 5, 10, &mut out).unwrap();
            }
        });
        assert_eq!(
            n, 0,
            "K {k}, {len} B: {n} allocations in 10 steady-state frames"
        );
        assert_eq!(out.len(), s.plan(len, 10).unwrap().datagrams);
    }
}

#[test]
fn steady_state_reassembly_allocates_nothing() {
    let au = test_frame(1, 200_000);
    let mut s = sealer(1408, 64);
    let mut r = reassembler(1408, 64);
    let mut out = DatagramBuf::new();
    let mut run = |frames: u64| {
        for i in 0..frames {
            out.clear();
            s.seal_frame(&au, i * 16_000_000, 5, 10, &mut out).unwrap();
            for (n, dg) in out.iter().enumerate() {
                if n % 50 != 7 {
                    r.handle_datagram(dg).unwrap();
                }
            }
            let f = r.poll_frame().expect("frame");
            assert!(f.recovered_shards > 0 && f.bytes() == &au[..]);
            r.recycle(f);
        }
    };
    run(5);
    let (n, ()) = count(|| run(10));
    // sealing is covered above; any allocation here is the reassembler's
    assert_eq!(n, 0, "{n} allocations in 10 steady-state frames");
}
