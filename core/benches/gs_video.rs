//! GameStream video packetizer throughput: one 1080p-sized frame (150 KB) per iteration,
//! P = 1392, sealed into a fixed slot arena as the AF_XDP datapath would provide.
//!
//! Variants measured in the same run: no FEC (framing + copies only), 20 % FEC, and 20 % FEC
//! with AES-128-GCM video encryption.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use punktfunk_core::gamestream::video::{FrameType, VideoConfig, VideoPacketizer};
use punktfunk_core::slots::SlotArena;
use std::hint::black_box;

const FRAME: usize = 150_000;
const STRIDE: usize = 2048;
const SLOTS: usize = 512;

fn bench(c: &mut Criterion) {
    let frame: Vec<u8> = (0..FRAME).map(|i| (i * 7 + (i >> 9)) as u8).collect();
    let mut arena = vec![0u8; STRIDE * SLOTS];
    let mut lens = vec![0usize; SLOTS];
    let mut g = c.benchmark_group("gs_video_packetize_150KB");
    g.throughput(Throughput::Bytes(FRAME as u64));
    let variants: [(&str, u8, Option<[u8; 16]>, usize); 3] = [
        ("no_fec_plain", 0, None, 1392),
        ("fec20_plain", 20, None, 1392),
        ("fec20_aes_gcm", 20, Some([7; 16]), 1360),
    ];
    for (name, pct, key, p) in variants {
        let mut pk = VideoPacketizer::new(VideoConfig {
            packet_size: p,
            fec_percentage: pct,
            min_required_fec_packets: 2,
            encryption_key: key,
        })
        .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sink = SlotArena::new(&mut arena, STRIDE, &mut lens);
                let st = pk
                    .packetize(black_box(&frame), FrameType::P, 0, 0, &mut sink)
                    .unwrap();
                black_box(st.datagrams)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
