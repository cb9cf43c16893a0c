use super::depacketizer::fuzz_datagrams;
use super::fec_plan::client_parity;
use super::*;
use crate::fec::gf8::Gf8Code;
use crate::slots::DatagramBuf;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn cfg(p: usize, pct: u8, key: Option<[u8; 16]>) -> VideoConfig {
    VideoConfig {
        packet_size: p,
        fec_percentage: pct,
        min_required_fec_packets: 2,
        encryption_key: key,
    }
}

fn frame_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..len).map(|_| r.random()).collect()
}

/// Appendix C.4: one small P-frame, P = 1392, no encryption.
#[test]
fn c4_small_p_frame_on_the_wire() {
    let mut pk = VideoPacketizer::new(cfg(1392, 20, None)).unwrap();
    pk.set_counters(1000, 1000, 42);
    let frame = frame_bytes(3000, 1);
    let mut sink = DatagramBuf::new();
    let st = pk
        .packetize(&frame, FrameType::P, 12345, 17, &mut sink)
        .unwrap();
    assert_eq!(
        (
            st.frame_index,
            st.data_shards,
            st.parity_shards,
            st.blocks,
            st.datagrams
        ),
        (42, 3, 2, 1, 5)
    );
    assert_eq!(pk.next_seq(), 1005);
    let want_flags = [0x05, 0x01, 0x03];
    for (j, d) in sink.iter().enumerate() {
        assert_eq!(d.len(), 1408);
        let p = NvVideoPacket::new_checked(d).unwrap();
        assert_eq!(d[0], 0x90);
        assert_eq!(p.seq(), 1000 + j as u16);
        assert_eq!(p.timestamp(), 12345);
        assert_eq!(p.frame_index(), 42);
        assert_eq!(d[27], 0x00, "multiFecBlocks");
        assert_eq!(p.fec_info(), 0x00C0_0420 | ((j as u32) << 12));
        if j < 3 {
            assert_eq!(p.stream_packet_index_raw(), (1000 + j as u32) << 8);
            assert_eq!(p.flags(), want_flags[j]);
            assert_eq!(d[26], 0x10, "multiFecFlags");
        }
    }
    let d0 = sink.get(0).unwrap();
    assert_eq!(&d0[32..40], &[0x01, 17, 0, 0x01, 0x00, 0x01, 0, 0]);
    assert_eq!(&d0[40..40 + 1368], &frame[..1368]);
    // The last data shard holds 256 meaningful bytes, then zero padding.
    let d2 = sink.get(2).unwrap();
    assert_eq!(&d2[32..32 + 256], &frame[3000 - 256..]);
    assert!(d2[32 + 256..].iter().all(|&b| b == 0));
    // Parity = RS over the whole data shards, except the stamped header bytes.
    let code = Gf8Code::cauchy(3, 2).unwrap();
    let data: Vec<&[u8]> = (0..3).map(|i| sink.get(i).unwrap()).collect();
    let mut par = vec![vec![0u8; 1408]; 2];
    let mut refs: Vec<&mut [u8]> = par.iter_mut().map(|v| &mut v[..]).collect();
    code.encode(&data, &mut refs).unwrap();
    let stamped = |i: usize| matches!(i, 0 | 2..=7 | 20..=23 | 27..=31);
    for (r, want) in par.iter().enumerate() {
        let got = sink.get(3 + r).unwrap();
        for i in (0..1408).filter(|&i| !stamped(i)) {
            assert_eq!(got[i], want[i], "parity {r} byte {i}");
        }
    }
}

#[test]
fn counters_start_at_zero_and_frame_one() {
    let mut pk = VideoPacketizer::new(cfg(1392, 20, None)).unwrap();
    let mut sink = DatagramBuf::new();
    pk.packetize(&[1, 2, 3], FrameType::Idr, 0, 0, &mut sink)
        .unwrap();
    let p = NvVideoPacket::new_checked(sink.get(0).unwrap()).unwrap();
    assert_eq!((p.seq(), p.packet_counter(), p.frame_index()), (0, 0, 1));
    assert_eq!(p.flags(), 0x07);
    // 1 data shard + minimum 2 parity.
    assert_eq!(sink.len(), 3);
    assert_eq!(pk.next_frame_index(), 2);
}

#[test]
fn encrypted_prefix_layout_and_iv_counter() {
    let key = [9u8; 16];
    let mut pk = VideoPacketizer::new(cfg(1360, 20, Some(key))).unwrap();
    let mut sink = DatagramBuf::new();
    pk.packetize(&frame_bytes(5000, 2), FrameType::Idr, 0, 0, &mut sink)
        .unwrap();
    pk.packetize(&frame_bytes(100, 3), FrameType::P, 0, 0, &mut sink)
        .unwrap();
    let aead = crate::crypto::AeadKey::aes128_gcm(&key);
    for (n, d) in sink.iter().enumerate() {
        assert_eq!(d.len(), 1360 + 16 + 32);
        assert_eq!(&d[0..8], &(n as u64).to_le_bytes());
        assert_eq!(&d[8..12], &[0, 0, 0, b'V']);
        let mut plain = vec![0u8; d.len() - 32];
        let fi = crypto::open_shard(&aead, d, &mut plain).unwrap();
        assert_eq!(
            fi,
            NvVideoPacket::new_checked(&plain[..])
                .unwrap()
                .frame_index()
        );
        assert_eq!(u32::from_le_bytes(d[12..16].try_into().unwrap()), fi);
    }
}

/// Packetizes `frames`, drops shards with `drop`, depacketizes, and returns what came out.
/// Delivered (frameIndex, data), lost ranges, corrupt frame indices.
type Outcome = (Vec<(u32, Vec<u8>)>, Vec<(u32, u32)>, Vec<u32>);

fn run(
    config: VideoConfig,
    frames: &[Vec<u8>],
    mut drop: impl FnMut(usize, &NvVideoRepr) -> bool,
) -> Outcome {
    let mut pk = VideoPacketizer::new(config).unwrap();
    let mut dp = VideoDepacketizer::new(config).unwrap();
    let key = config
        .encryption_key
        .map(|k| crate::crypto::AeadKey::aes128_gcm(&k));
    let (mut got, mut lost, mut corrupt) = (Vec::new(), Vec::new(), Vec::new());
    let mut sink = DatagramBuf::new();
    for (i, f) in frames.iter().enumerate() {
        sink.clear();
        pk.packetize(
            f,
            if i == 0 { FrameType::Idr } else { FrameType::P },
            i as u32 * 1500,
            3,
            &mut sink,
        )
        .unwrap();
        for d in sink.iter() {
            let plain = match &key {
                Some(k) => {
                    let mut p = vec![0u8; d.len() - 32];
                    crypto::open_shard(k, d, &mut p).unwrap();
                    p
                }
                None => d.to_vec(),
            };
            let repr =
                NvVideoRepr::parse(&NvVideoPacket::new_checked(&plain[..]).unwrap()).unwrap();
            if drop(i, &repr) {
                continue;
            }
            dp.handle_datagram(d, |e| match e {
                VideoEvent::Frame(fr) => got.push((fr.frame_index, fr.data.to_vec())),
                VideoEvent::Lost { first, last } => lost.push((first, last)),
                VideoEvent::Corrupt { frame_index, .. } => corrupt.push(frame_index),
            })
            .unwrap();
        }
    }
    dp.flush(|e| {
        if let VideoEvent::Lost { first, last } = e {
            lost.push((first, last))
        }
    });
    (got, lost, corrupt)
}

#[test]
fn many_blocks_and_no_fec_frames_round_trip() {
    // P = 64 → D = 48: 30 KB = 626 packets = 3 blocks at 20 %; 60 KB > 4 blocks → no FEC.
    for key in [None, Some([3u8; 16])] {
        let frames = vec![
            frame_bytes(30_000, 4),
            frame_bytes(60_000, 5),
            frame_bytes(0, 6),
            frame_bytes(47, 7),
        ];
        let (got, lost, corrupt) = run(cfg(64, 20, key), &frames, |_, _| false);
        assert!(lost.is_empty() && corrupt.is_empty());
        assert_eq!(got.len(), 4);
        for (i, (fi, data)) in got.iter().enumerate() {
            assert_eq!(*fi, i as u32 + 1);
            assert_eq!(data, &frames[i]);
        }
    }
    let mut pk = VideoPacketizer::new(cfg(64, 20, None)).unwrap();
    let mut sink = DatagramBuf::new();
    let st = pk
        .packetize(&frame_bytes(60_000, 5), FrameType::P, 0, 0, &mut sink)
        .unwrap();
    assert!(st.fec_skipped);
    assert_eq!((st.blocks, st.parity_shards), (4, 0));
    let st = pk
        .packetize(&frame_bytes(30_000, 5), FrameType::P, 0, 0, &mut sink)
        .unwrap();
    assert_eq!(st.blocks, 3);
    assert!(!st.fec_skipped);
    // Beyond 4 × 1023 packets the frame cannot be sent, but it still uses up its index.
    let before = pk.next_frame_index();
    assert!(matches!(
        pk.packetize(&frame_bytes(200_000, 6), FrameType::P, 0, 0, &mut sink),
        Err(VideoError::FrameTooLarge { .. })
    ));
    assert_eq!(pk.next_frame_index(), before + 1);
}

#[test]
fn sink_full_is_an_error_and_the_next_frame_still_works() {
    let c = cfg(1392, 20, None);
    let mut pk = VideoPacketizer::new(c).unwrap();
    let mut small = DatagramBuf::with_limit(2);
    assert_eq!(
        pk.packetize(&frame_bytes(5000, 1), FrameType::P, 0, 0, &mut small),
        Err(VideoError::SinkFull)
    );
    let mut sink = DatagramBuf::new();
    let f = frame_bytes(5000, 2);
    pk.packetize(&f, FrameType::P, 0, 0, &mut sink).unwrap();
    let mut dp = VideoDepacketizer::new(c).unwrap();
    let mut frames = Vec::new();
    let mut lost = Vec::new();
    for d in sink.iter() {
        dp.handle_datagram(d, |e| match e {
            VideoEvent::Frame(fr) => frames.push((fr.frame_index, fr.data.to_vec())),
            VideoEvent::Lost { first, last } => lost.push((first, last)),
            VideoEvent::Corrupt { .. } => panic!("corrupt"),
        })
        .unwrap();
    }
    assert_eq!(frames, vec![(2, f)]);
    assert_eq!(
        lost,
        vec![(1, 1)],
        "frame 1 never made it out of the full sink"
    );
}

#[test]
fn tampered_encrypted_datagram_is_rejected() {
    let c = cfg(1392, 20, Some([1; 16]));
    let mut pk = VideoPacketizer::new(c).unwrap();
    let mut sink = DatagramBuf::new();
    pk.packetize(&frame_bytes(100, 1), FrameType::P, 0, 0, &mut sink)
        .unwrap();
    sink.get_mut(0).unwrap()[100] ^= 1;
    let mut dp = VideoDepacketizer::new(c).unwrap();
    assert_eq!(
        dp.handle_datagram(sink.get(0).unwrap(), |_| {}),
        Err(VideoError::Authentication)
    );
    assert_eq!(dp.stats().bad_packets, 1);
    // The other two shards (parity) still recover the frame.
    let mut got = None;
    for d in sink.iter().skip(1) {
        dp.handle_datagram(d, |e| {
            if let VideoEvent::Frame(f) = e {
                got = Some((f.data.to_vec(), f.recovered_shards));
            }
        })
        .unwrap();
    }
    assert_eq!(got, Some((frame_bytes(100, 1), 1)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random loss up to the parity count of every block: every frame comes back exactly.
    #[test]
    fn loss_up_to_parity_recovers_exactly(
        lens in proptest::collection::vec(0usize..25_000, 1..5),
        pct in prop_oneof![Just(20u8), 1u8..=100],
        small in any::<bool>(),
        encrypted in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let p = if small { 64 } else { 1392 };
        let c = cfg(p, pct, encrypted.then_some([5; 16]));
        let frames: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, &l)| frame_bytes(l, seed ^ i as u64)).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        // Per (frame, block): which shard indices to drop, at most k of them.
        let mut plan = std::collections::HashMap::<(usize, u8), Vec<u16>>::new();
        let (got, lost, corrupt) = run(c, &frames, |i, r| {
            let k = client_parity(r.data_shards as usize, r.fec_percentage);
            let total = r.data_shards as usize + k;
            let drops = plan.entry((i, r.block_index)).or_insert_with(|| {
                let n = rng.random_range(0..=k);
                let mut idx: Vec<u16> = (0..total as u16).collect();
                for x in 0..n { let y = rng.random_range(x..total); idx.swap(x, y); }
                idx.truncate(n);
                idx
            });
            drops.contains(&r.shard_index)
        });
        prop_assert!(lost.is_empty(), "lost {:?}", lost);
        prop_assert!(corrupt.is_empty());
        prop_assert_eq!(got.len(), frames.len());
        for (i, (fi, data)) in got.iter().enumerate() {
            prop_assert_eq!(*fi, i as u32 + 1);
            prop_assert_eq!(data, &frames[i]);
        }
    }

    /// More loss than parity in some block: that frame is reported lost, never delivered
    /// wrong; the others still arrive exactly.
    #[test]
    fn loss_above_parity_reports_loss_never_corruption(
        lens in proptest::collection::vec(1usize..20_000, 2..5),
        victim in 0usize..4,
        encrypted in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let c = cfg(1392, 20, encrypted.then_some([6; 16]));
        let mut frames: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, &l)| frame_bytes(l, seed ^ i as u64)).collect();
        let victim = victim % frames.len();
        // A frame after the victim, so even a victim that vanished entirely shows as a gap.
        frames.push(frame_bytes(10, seed));
        let (got, lost, corrupt) = run(c, &frames, |i, r| {
            let k = client_parity(r.data_shards as usize, r.fec_percentage);
            // Drop k + 1 shards of block 0 of the victim frame.
            i == victim && r.block_index == 0 && (r.shard_index as usize) <= k
        });
        prop_assert!(corrupt.is_empty());
        let v = victim as u32 + 1;
        prop_assert!(lost.iter().any(|&(a, b)| a <= v && v <= b), "victim {} not in {:?}", v, lost);
        prop_assert_eq!(got.len(), frames.len() - 1);
        for (fi, data) in &got {
            prop_assert!(*fi != v);
            prop_assert_eq!(data, &frames[*fi as usize - 1]);
        }
    }

    #[test]
    fn depacketizer_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_datagrams(&bytes);
    }

    /// Valid streams with random byte corruption: errors or loss, never a panic.
    #[test]
    fn depacketizer_never_panics_on_corrupted_streams(seed in any::<u64>(), flips in 1usize..20) {
        let c = cfg(64, 20, None);
        let mut pk = VideoPacketizer::new(c).unwrap();
        let mut sink = DatagramBuf::new();
        for i in 0..3 {
            pk.packetize(&frame_bytes(300 + i * 500, seed), FrameType::P, 0, 0, &mut sink).unwrap();
        }
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..flips {
            let i = rng.random_range(0..sink.len());
            let d = sink.get_mut(i).unwrap();
            let b = rng.random_range(0..d.len());
            d[b] = rng.random();
        }
        let mut dp = VideoDepacketizer::new(c).unwrap();
        for d in sink.iter() {
            let _ = dp.handle_datagram(d, |_| {});
        }
        dp.flush(|_| {});
    }
}
