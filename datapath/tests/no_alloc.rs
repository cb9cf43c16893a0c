//! Proves the steady state of the datapath allocates nothing: a counting global allocator,
//! an encoder loop that recycles frame buffers, and the pinned datapath thread sealing
//! synthetic frames into a real engine (io_uring, or sendmmsg where io_uring is missing) that
//! sends to a loopback socket. After warm-up, the allocation count must not move while
//! hundreds of frames pass through.
//!
//! One test in its own binary (harness = false) so no test runner threads allocate beside it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use punktfunk_core::slots::DatagramBuf;
use punktfunk_datapath::pipeline::{self, DatapathConfig, FrameInfo, FrameSealer, StagedSealer};
use punktfunk_datapath::{DatagramSink, EngineConfig, Flow, TxQueue, open_engine};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PAYLOAD: usize = 1200;

/// Splits a frame into 1200-byte datagrams, each prefixed with its index.
struct Chunker;

impl FrameSealer<Vec<u8>> for Chunker {
    fn begin_frame(&mut self, frame: &Vec<u8>) -> FrameInfo {
        FrameInfo {
            packets: frame.len().div_ceil(PAYLOAD) as u32,
            datagram_len: (PAYLOAD + 4) as u32,
        }
    }

    fn seal(
        &mut self,
        frame: &Vec<u8>,
        first: u32,
        count: u32,
        sink: &mut dyn DatagramSink,
    ) -> u32 {
        let mut written = 0;
        for i in first..first + count {
            let start = i as usize * PAYLOAD;
            let part = &frame[start..(start + PAYLOAD).min(frame.len())];
            let Some(d) = sink.next_datagram(part.len() + 4) else {
                break;
            };
            d[..4].copy_from_slice(&i.to_le_bytes());
            d[4..].copy_from_slice(part);
            written += 1;
        }
        written
    }
}

fn main() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let flow = Flow {
        local: "127.0.0.1:0".parse().unwrap(),
        remote: rx.local_addr().unwrap(),
    };
    let engine = open_engine(&flow, &EngineConfig::sockets()).unwrap();
    let kind = engine.kind();
    let config = DatapathConfig {
        interval_ns: 1_000_000, // 1000 fps keeps the test short
        link_bps: 10_000_000_000,
        ..DatapathConfig::default()
    };
    // The whole-frame adapter (as the punktfunk/1 sealer is wired) around the chunker: both
    // paths are covered by the allocation count.
    let mut chunker = Chunker;
    let sealer = StagedSealer::new(move |f: &Vec<u8>, buf: &mut DatagramBuf| {
        let info = chunker.begin_frame(f);
        chunker.seal(f, 0, info.packets, buf);
    });
    let (mut tx, dp) = pipeline::spawn(engine, sealer, config).unwrap();
    // Frame buffers, allocated up front.
    let mut spare: Vec<Vec<u8>> = (0..6).map(|_| Vec::with_capacity(64 * 1024)).collect();
    let mut run = |frames: u64, spare: &mut Vec<Vec<u8>>| {
        let target = dp.report().frames + frames;
        let mut sent = 0u64;
        let deadline = Instant::now() + Duration::from_secs(30);
        while dp.report().frames < target {
            assert!(Instant::now() < deadline, "datapath stalled");
            while let Some(f) = tx.recycled() {
                // `spare` never grows past its initial capacity (6 buffers circulate).
                spare.push(f);
            }
            if sent < frames
                && let Some(mut f) = spare.pop()
            {
                let len = 1000 + (sent as usize * 7919) % 60_000;
                f.clear();
                f.resize(len, sent as u8);
                match tx.send(f) {
                    Ok(()) => sent += 1,
                    Err(f) => spare.push(f),
                }
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    };
    // Warm-up: lazily initialised thread state, first plans, engine buffers.
    run(20, &mut spare);
    let before = ALLOCS.load(Ordering::SeqCst);
    run(300, &mut spare);
    let after = ALLOCS.load(Ordering::SeqCst);
    let report = dp.report();
    let (engine, _) = dp.finish().unwrap();
    eprintln!(
        "no_alloc: engine {kind}, {} frames, {} packets, pinned to {:?}, {:?}",
        report.frames,
        report.packets,
        report.pinned_core,
        engine.stats()
    );
    assert_eq!(report.errors, 0);
    assert!(report.packets > 300, "packets were sent");
    assert_eq!(
        after - before,
        0,
        "the steady state allocated {} times",
        after - before
    );
    println!("no_alloc: ok");
}
