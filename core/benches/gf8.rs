//! GF(2⁸) Reed-Solomon encode (and decode) throughput, in data bytes per second.
//!
//! Ours (`punktfunk_core::fec::gf8`, every kernel this CPU runs) against `reed-solomon-erasure`
//! 6 (`galois_8`, default features) in the same run. reed-solomon-erasure uses a different
//! (Vandermonde-derived) matrix than nanors, so its parity bytes differ; the comparison is of
//! speed at the same shapes only.
//!
//! Run: `cargo bench -p punktfunk-core --bench gf8`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use punktfunk_core::fec::gf8::{Gf8Code, Gf8Kernel};
use reed_solomon_erasure::galois_8::ReedSolomon;

const SHARD: usize = 1408;
const SHAPES: [(usize, usize); 4] = [(212, 43), (100, 20), (32, 8), (4, 2)];

fn shards(n: usize, seed: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            (0..SHARD)
                .map(|t| ((i * 131 + t * 7 + seed) ^ (t >> 3)) as u8)
                .collect()
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("gf8_encode");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (m, k) in SHAPES {
        let data = shards(m, 1);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut parity = vec![vec![0u8; SHARD]; k];
        g.throughput(Throughput::Bytes((m * SHARD) as u64));
        let shape = format!("{m}+{k}");
        for kernel in Gf8Kernel::ALL.into_iter().filter(|k| k.is_available()) {
            let code = Gf8Code::cauchy_with_kernel(m, k, kernel).unwrap();
            g.bench_function(
                BenchmarkId::new(format!("ours-{}", kernel.name()), &shape),
                |b| {
                    b.iter(|| {
                        let mut prefs: Vec<&mut [u8]> =
                            parity.iter_mut().map(Vec::as_mut_slice).collect();
                        code.encode(black_box(&refs), &mut prefs).unwrap();
                    })
                },
            );
        }
        let rse = ReedSolomon::new(m, k).unwrap();
        g.bench_function(BenchmarkId::new("reed-solomon-erasure", &shape), |b| {
            b.iter(|| rse.encode_sep(black_box(&refs), &mut parity).unwrap())
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("gf8_decode");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (m, k) in [(212, 43), (32, 8)] {
        let data = shards(m, 2);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let code = Gf8Code::cauchy(m, k).unwrap();
        let mut parity = vec![vec![0u8; SHARD]; k];
        let mut prefs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        code.encode(&refs, &mut prefs).unwrap();
        // Lose k data shards spread over the block.
        let mut present = vec![true; m + k];
        for j in 0..k {
            present[(j * m) / k] = false;
        }
        let mut work: Vec<Vec<u8>> = data.iter().chain(parity.iter()).cloned().collect();
        g.throughput(Throughput::Bytes((m * SHARD) as u64));
        let shape = format!("{m}+{k}-lost{k}");
        g.bench_function(
            BenchmarkId::new(format!("ours-{}", code.kernel().name()), &shape),
            |b| {
                b.iter(|| {
                    let mut srefs: Vec<&mut [u8]> =
                        work.iter_mut().map(Vec::as_mut_slice).collect();
                    code.reconstruct(&mut srefs, black_box(&present)).unwrap();
                })
            },
        );
        assert!(work[..m] == data[..], "decode recovered the data");

        let rse = ReedSolomon::new(m, k).unwrap();
        let mut rse_parity = vec![vec![0u8; SHARD]; k];
        rse.encode_sep(&refs, &mut rse_parity).unwrap();
        let full: Vec<Vec<u8>> = data.iter().chain(rse_parity.iter()).cloned().collect();
        let mut opt: Vec<Option<Vec<u8>>> = full.iter().cloned().map(Some).collect();
        g.bench_function(BenchmarkId::new("reed-solomon-erasure", &shape), |b| {
            b.iter(|| {
                for (i, p) in present.iter().enumerate() {
                    if !p {
                        opt[i] = None;
                    }
                }
                rse.reconstruct_data(black_box(&mut opt)).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
