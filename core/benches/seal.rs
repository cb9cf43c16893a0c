//! punktfunk/1 frame sealing: a 1 MiB AU at S = 1408 (1472-byte datagrams), K = 4096, 10 %
//! GF(2¹⁶) parity (745 data + 75 parity shards), AES-128-GCM, into a warmed `DatagramBuf`.
//!
//! Alongside, in the same run:
//! - `fec`: raw `reed_solomon_simd::encode` (fresh encoder per call), a reused raw
//!   `ReedSolomonEncoder`, and our `Gf16Encoder` on the same (745, 75) shape;
//! - `seal`: a naive sealer (a `Vec` per packet, RustCrypto `aes-gcm`, allocating FEC) as the
//!   baseline, and the split of our sealer's cost (plaintext mode = FEC + copies only; AEAD only).
//!
//! Also into a `SlotArena` (fixed slots, no zeroing: what the AF_XDP datapath looks like).
//!
//! Times are the benchmark thread's CPU time (see `cpu_time`), so preemption by other
//! processes on a shared machine does not count.
//!
//! Run: `cargo bench -p punktfunk-core --bench seal`

use aes_gcm::aead::{AeadInPlace, KeyInit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use punktfunk_core::crypto::AeadKey;
use punktfunk_core::fec::gf16::Gf16Encoder;
use punktfunk_core::native::data::{
    DataCipher, DataHeaderRepr, FrameSealer, HEADER_LEN, Reassembler, ReassemblerConfig,
    SealerConfig,
};
use punktfunk_core::slots::{DatagramBuf, SlotArena};
use std::hint::black_box;
use std::time::Duration;

mod cpu_time {
    //! A criterion measurement of the benchmark thread's own CPU time
    //! (`CLOCK_THREAD_CPUTIME_ID`): on the shared 2-core development machine other builds
    //! preempt the benchmark, which inflates wall time but not the thread's CPU time.
    use criterion::measurement::{Measurement, ValueFormatter, WallTime};
    use nix::time::{ClockId, clock_gettime};

    /// Thread CPU time in nanoseconds.
    pub struct ThreadCpu;

    static WALL: WallTime = WallTime;

    /// The thread's CPU time now, ns.
    pub fn now_ns() -> u64 {
        let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    }

    impl Measurement for ThreadCpu {
        type Intermediate = u64;
        type Value = u64;
        fn start(&self) -> u64 {
            now_ns()
        }
        fn end(&self, start: u64) -> u64 {
            now_ns() - start
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            // Values are nanoseconds, as wall time's are.
            WALL.formatter()
        }
    }
}
use cpu_time::ThreadCpu;

const FRAME: usize = 1 << 20;
const S: usize = 1408;
const K: usize = 4096;
const PCT: u8 = 10;
const KEY: [u8; 16] = [0x10; 16];
const SALT: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];

fn frame() -> Vec<u8> {
    (0..FRAME).map(|i| (i * 31 + (i >> 11)) as u8).collect()
}

fn shards(frame: &[u8]) -> Vec<Vec<u8>> {
    frame
        .chunks(S)
        .map(|c| {
            let mut v = c.to_vec();
            v.resize(S, 0);
            v
        })
        .collect()
}

/// The straightforward sealer: every datagram its own `Vec`, FEC through the allocating
/// one-shot API, RustCrypto AES-GCM.
fn naive_seal(frame: &[u8], cipher: &aes_gcm::Aes128Gcm, seq: &mut u64) -> Vec<Vec<u8>> {
    let data = shards(frame);
    let k = data.len();
    let m = (k * PCT as usize).div_ceil(100);
    let parity = reed_solomon_simd::encode(k, m, &data).expect("shape");
    let mut out = Vec::with_capacity(k + m);
    for (i, shard) in data.iter().chain(parity.iter()).enumerate() {
        let hdr = DataHeaderRepr {
            frame_bytes: frame.len() as u32,
            block_count: 1,
            data_shards: k as u16,
            recovery_shards: m as u16,
            shard_index: i as u16,
            shard_bytes: S as u16,
            ..Default::default()
        };
        let mut dg = Vec::with_capacity(8 + HEADER_LEN + S + 16);
        dg.extend_from_slice(&seq.to_be_bytes());
        dg.extend_from_slice(&hdr.to_bytes());
        dg.extend_from_slice(shard);
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&[SALT[0] & 0x7f, SALT[1], SALT[2], SALT[3]]);
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        let (aad, body) = dg.split_at_mut(8);
        let tag = cipher
            .encrypt_in_place_detached((&nonce).into(), aad, body)
            .expect("seal");
        dg.extend_from_slice(&tag);
        out.push(dg);
        *seq += 1;
    }
    out
}

fn bench_seal(c: &mut Criterion<ThreadCpu>) {
    let au = frame();
    let mut g = c.benchmark_group("seal_1MiB");
    g.throughput(Throughput::Bytes(FRAME as u64));
    g.sample_size(30).measurement_time(Duration::from_secs(6));

    let cfg = |cipher| SealerConfig::new(cipher, S, K);
    let mut sealer = FrameSealer::new(cfg(DataCipher::Sealed {
        key: AeadKey::aes128_gcm(&KEY),
        salt: SALT,
    }))
    .unwrap();
    let mut out = DatagramBuf::new();
    sealer.seal_frame(&au, 0, 5, PCT, &mut out).unwrap();
    g.bench_function("punktfunk_sealer_aes128gcm", |b| {
        b.iter(|| {
            out.clear();
            black_box(
                sealer
                    .seal_frame(black_box(&au), 0, 5, PCT, &mut out)
                    .unwrap(),
            )
        })
    });

    // The same into fixed slots that are not zeroed first, as AF_XDP UMEM frames are.
    let plan = sealer.plan(FRAME, PCT).unwrap();
    let stride = plan.datagram_len.next_multiple_of(64);
    let mut arena = vec![0u8; plan.datagrams * stride];
    let mut lens = vec![0usize; plan.datagrams];
    g.bench_function("punktfunk_sealer_aes128gcm_into_slot_arena", |b| {
        b.iter(|| {
            let mut slots = SlotArena::new(&mut arena, stride, &mut lens);
            black_box(
                sealer
                    .seal_frame(black_box(&au), 0, 5, PCT, &mut slots)
                    .unwrap(),
            )
        })
    });

    let mut plain = FrameSealer::new(cfg(DataCipher::Plaintext)).unwrap();
    g.bench_function("punktfunk_sealer_plaintext (FEC + copies only)", |b| {
        b.iter(|| {
            out.clear();
            black_box(
                plain
                    .seal_frame(black_box(&au), 0, 5, PCT, &mut out)
                    .unwrap(),
            )
        })
    });

    // AEAD alone over the same 820 datagram bodies (1448 B each).
    let key = AeadKey::aes128_gcm(&KEY);
    let n = sealer.plan(FRAME, PCT).unwrap().datagrams;
    let mut bodies = vec![0u8; n * (HEADER_LEN + S)];
    g.bench_function("aead_only_aws_lc (820 x 1448 B)", |b| {
        b.iter(|| {
            for (i, body) in bodies.chunks_mut(HEADER_LEN + S).enumerate() {
                let seq = i as u64;
                let mut nonce = [0u8; 12];
                nonce[4..].copy_from_slice(&seq.to_be_bytes());
                black_box(key.seal_in_place(&nonce, &seq.to_be_bytes(), body));
            }
        })
    });

    let rc = aes_gcm::Aes128Gcm::new_from_slice(&KEY).unwrap();
    let mut seq = 0u64;
    g.bench_function("naive_sealer_vec_per_packet_rustcrypto", |b| {
        b.iter(|| black_box(naive_seal(black_box(&au), &rc, &mut seq)))
    });
    g.finish();
}

fn bench_fec(c: &mut Criterion<ThreadCpu>) {
    let data = shards(&frame());
    let k = data.len();
    let m = (k * PCT as usize).div_ceil(100);
    let mut g = c.benchmark_group("fec_gf16");
    g.throughput(Throughput::Bytes((k * S) as u64));
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    let id = |name: &str| BenchmarkId::new(name, format!("{k}+{m}x{S}"));

    g.bench_function(id("reed_solomon_simd::encode"), |b| {
        b.iter(|| black_box(reed_solomon_simd::encode(k, m, black_box(&data)).unwrap()))
    });

    let mut parity = vec![vec![0u8; S]; m];
    let mut ours = Gf16Encoder::new();
    g.bench_function(id("punktfunk Gf16Encoder"), |b| {
        b.iter(|| {
            ours.begin(k, m, S).unwrap();
            for d in &data {
                ours.add(d).unwrap();
            }
            ours.finish(|r, shard| parity[r].copy_from_slice(shard))
                .unwrap();
        })
    });
    let mut raw = reed_solomon_simd::ReedSolomonEncoder::new(k, m, S).unwrap();
    g.bench_function(id("raw_encoder_reused"), |b| {
        b.iter(|| {
            raw.reset(k, m, S).unwrap();
            for d in &data {
                raw.add_original_shard(d).unwrap();
            }
            let r = raw.encode().unwrap();
            for (p, shard) in parity.iter_mut().zip(r.recovery_iter()) {
                p.copy_from_slice(shard);
            }
        })
    });

    // Decoding the same block with 8 data shards lost (what 1 % loss costs the receiver).
    let parity = reed_solomon_simd::encode(k, m, &data).unwrap();
    g.bench_function(id("reed_solomon_simd::decode 8 lost"), |b| {
        b.iter(|| {
            let originals = data.iter().enumerate().filter(|(i, _)| i % 100 != 7);
            let recovery = parity.iter().enumerate().take(8);
            black_box(reed_solomon_simd::decode(k, m, originals, recovery).unwrap())
        })
    });
    g.finish();
}

/// The client side: the 820 datagrams of one AU back into the AU, with no loss and with
/// 1 % of datagrams dropped (FEC repair).
fn bench_reassemble(c: &mut Criterion<ThreadCpu>) {
    let au = frame();
    let cipher = || DataCipher::Sealed {
        key: AeadKey::aes128_gcm(&KEY),
        salt: SALT,
    };
    let mut sealer = FrameSealer::new(SealerConfig::new(cipher(), S, K)).unwrap();
    let mut r = Reassembler::new(ReassemblerConfig::new(cipher(), S, K));
    let mut g = c.benchmark_group("reassemble_1MiB");
    g.throughput(Throughput::Bytes(FRAME as u64));
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    let mut out = DatagramBuf::new();
    let mut pts = 0u64;
    for (name, drop_every) in [("no_loss", None), ("1pct_loss_fec", Some(100))] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = 0;
                for _ in 0..iters {
                    // seal a fresh frame (new seq numbers) outside the measurement
                    out.clear();
                    pts += 16_000_000;
                    sealer.seal_frame(&au, pts, 5, PCT, &mut out).unwrap();
                    let t0 = cpu_time::now_ns();
                    for (i, dg) in out.iter().enumerate() {
                        if drop_every.is_none_or(|n| i % n != 7) {
                            r.handle_datagram(dg).unwrap();
                        }
                    }
                    let f = r.poll_frame().expect("AU");
                    r.recycle(black_box(f));
                    total += cpu_time::now_ns() - t0;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench_seal, bench_fec, bench_reassemble
}
criterion_main!(benches);
