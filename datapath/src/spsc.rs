//! A bounded lock-free single-producer single-consumer ring.
//!
//! Carries frames from the encoder thread to the datapath thread, and the emptied frame
//! buffers back (a second ring), so the steady state allocates nothing. Each side caches the
//! other side's index and reloads it (Acquire) only when the ring looks full/empty; a push or
//! pop publishes with one Release store.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[repr(align(128))]
struct Padded<T>(T);

struct Shared<T> {
    /// Next slot to read (owned by the consumer).
    head: Padded<AtomicUsize>,
    /// Next slot to write (owned by the producer).
    tail: Padded<AtomicUsize>,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: a slot is accessed by exactly one side at a time: the producer writes slots in
// [tail, head + cap) and publishes them with a Release store of `tail`; the consumer reads
// slots in [head, tail) after an Acquire load of `tail` and hands them back with a Release
// store of `head`. Values of T move between threads, hence T: Send.
unsafe impl<T: Send> Sync for Shared<T> {}
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let head = *self.head.0.get_mut();
        let tail = *self.tail.0.get_mut();
        let cap = self.slots.len();
        for i in head..tail {
            // SAFETY: slots in [head, tail) hold initialised values nobody else can reach
            // (we have &mut self).
            unsafe { self.slots[i % cap].get_mut().assume_init_drop() };
        }
    }
}

/// Creates a ring holding up to `capacity` items.
pub fn channel<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let cap = capacity.max(1);
    let slots = (0..cap)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        slots,
    });
    (
        Producer {
            shared: shared.clone(),
            tail: 0,
            cached_head: 0,
        },
        Consumer {
            shared,
            head: 0,
            cached_tail: 0,
        },
    )
}

/// The writing end.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
    cached_head: usize,
}

impl<T: Send> Producer<T> {
    /// Appends `v`, or hands it back when the ring is full.
    pub fn push(&mut self, v: T) -> Result<(), T> {
        let cap = self.shared.slots.len();
        if self.tail - self.cached_head == cap {
            self.cached_head = self.shared.head.0.load(Ordering::Acquire);
            if self.tail - self.cached_head == cap {
                return Err(v);
            }
        }
        let slot = &self.shared.slots[self.tail % cap];
        // SAFETY: tail - head < cap, so this slot is not visible to the consumer and holds no
        // value (it was read out before `head` moved past it).
        unsafe { (*slot.get()).write(v) };
        self.tail += 1;
        self.shared.tail.0.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Items currently queued (a snapshot).
    pub fn len(&self) -> usize {
        self.tail - self.shared.head.0.load(Ordering::Acquire)
    }

    /// True when nothing is queued (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the consumer has been dropped.
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }
}

/// The reading end.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
    cached_tail: usize,
}

impl<T: Send> Consumer<T> {
    /// Takes the oldest item, if any.
    pub fn pop(&mut self) -> Option<T> {
        if self.head == self.cached_tail {
            self.cached_tail = self.shared.tail.0.load(Ordering::Acquire);
            if self.head == self.cached_tail {
                return None;
            }
        }
        let cap = self.shared.slots.len();
        let slot = &self.shared.slots[self.head % cap];
        // SAFETY: head < tail (Acquire-loaded), so the producer initialised this slot and
        // will not touch it until `head` is published past it.
        let v = unsafe { (*slot.get()).assume_init_read() };
        self.head += 1;
        self.shared.head.0.store(self.head, Ordering::Release);
        Some(v)
    }

    /// True when the producer has been dropped (items may still be queued).
    pub fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    proptest! {
        #[test]
        fn matches_a_queue_model(ops in proptest::collection::vec(any::<bool>(), 0..500), cap in 1usize..9) {
            let (mut p, mut c) = channel::<u32>(cap);
            let mut model = VecDeque::new();
            let mut next = 0;
            for push in ops {
                if push {
                    let r = p.push(next);
                    if model.len() < cap {
                        prop_assert!(r.is_ok());
                        model.push_back(next);
                    } else {
                        prop_assert_eq!(r, Err(next));
                    }
                    next += 1;
                } else {
                    prop_assert_eq!(c.pop(), model.pop_front());
                }
                prop_assert_eq!(p.len(), model.len());
            }
        }
    }

    #[test]
    fn crosses_threads_in_order_and_drops_leftovers() {
        let (mut p, mut c) = channel::<Box<u64>>(16);
        const N: u64 = 200_000;
        let t = std::thread::spawn(move || {
            let mut expect = 0;
            while expect < N {
                if let Some(v) = c.pop() {
                    assert_eq!(*v, expect);
                    expect += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
            c
        });
        for i in 0..N {
            let mut v = Box::new(i);
            loop {
                match p.push(v) {
                    Ok(()) => break,
                    Err(back) => {
                        v = back;
                        std::thread::yield_now();
                    }
                }
            }
        }
        let c = t.join().unwrap();
        // Leftovers are dropped with the ring (Miri/ASan would flag leaks or double drops).
        let counter = Arc::new(());
        drop(c);
        let (mut p2, c2) = channel::<Arc<()>>(4);
        let _ = p2.push(counter.clone());
        let _ = p2.push(counter.clone());
        assert_eq!(Arc::strong_count(&counter), 3);
        drop(p2);
        drop(c2);
        assert_eq!(Arc::strong_count(&counter), 1);
    }
}
