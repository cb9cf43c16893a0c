//! Property tests of the punktfunk/1 data plane: sealer → (loss, reordering, duplication,
//! replay, corruption) → reassembler. Recovery must be exact whenever every block lost no
//! more than its parity; otherwise the AU must be reported lost, never delivered wrong.

mod common;

use common::*;
use proptest::prelude::*;
use punktfunk_core::native::data::geometry::{
    FecScheme, FrameGeometry, parity_shards, receiver_ceiling,
};
use punktfunk_core::native::data::{
    DataCipher, DatagramError, FrameSealer, Reassembler, ReassemblerConfig, SealerConfig, fuzz,
};
use punktfunk_core::slots::DatagramBuf;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Block of each datagram in wire order (data of all blocks, then parity of all blocks),
/// and whether it is a data shard.
fn wire_blocks(len: usize, s: usize, k: usize, pct: u8) -> Vec<(usize, bool)> {
    wire_blocks_in(FecScheme::Gf16, len, s, k, pct)
}

fn wire_blocks_in(
    scheme: FecScheme,
    len: usize,
    s: usize,
    k: usize,
    pct: u8,
) -> Vec<(usize, bool)> {
    let g = FrameGeometry::new(len, s, k);
    let c = receiver_ceiling(k, scheme);
    let mut v: Vec<(usize, bool)> = (0..g.total_data).map(|i| (i / k, true)).collect();
    for b in 0..g.block_count {
        let m = parity_shards(g.block_data_shards(b), pct, c);
        v.extend(std::iter::repeat_n((b, false), m));
    }
    v
}

fn frame_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..6000,
        4 => 6000usize..300_000,
        1 => 300_000usize..=4 << 20,
    ]
}

fn shape() -> impl Strategy<Value = (usize, usize)> {
    (
        prop_oneof![
            Just(1408usize),
            Just(512),
            Just(1388),
            (1usize..=4576).prop_map(|x| x * 2)
        ],
        prop_oneof![Just(4096usize), 1usize..=48],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Loss up to each block's parity, any order, duplicates and replays: exact AU.
    #[test]
    fn recovers_exactly_within_parity(
        len in frame_len(), (s, k) in shape(), pct in 1u8..=90, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let au: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let mut sealer = sealer(s, k);
        let mut out = DatagramBuf::new();
        // a warm-up frame first so seq/frame_index are not at zero
        sealer.seal_frame(&[1, 2, 3], 1_000, 0, pct, &mut out).unwrap();
        let warm_n = out.len();
        let sealed = sealer.seal_frame(&au, 2_000, 9, pct, &mut out).unwrap();
        prop_assert_eq!(out.len(), warm_n + sealed.plan.datagrams);
        let blocks = wire_blocks(len, s, k, pct);
        prop_assert_eq!(blocks.len(), sealed.plan.datagrams);

        // per block: lose up to m shards
        let g = FrameGeometry::new(len, s, k);
        let c = receiver_ceiling(k, FecScheme::Gf16);
        let mut lost = vec![false; blocks.len()];
        let mut lost_data = 0;
        for b in 0..g.block_count {
            let m = parity_shards(g.block_data_shards(b), pct, c);
            let mut idx: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].0 == b).collect();
            idx.shuffle(&mut rng);
            for &i in idx.iter().take(rng.random_range(0..=m)) {
                lost[i] = true;
                lost_data += blocks[i].1 as usize;
            }
        }
        let mut order: Vec<usize> = (0..blocks.len()).filter(|&i| !lost[i]).map(|i| i + warm_n).collect();
        order.shuffle(&mut rng);
        // duplicates (same seq: replays)
        for _ in 0..rng.random_range(0..4) {
            let pick = order[rng.random_range(0..order.len())];
            order.insert(rng.random_range(0..=order.len()), pick);
        }
        let mut r = reassembler(s, k);
        for i in 0..warm_n {
            r.handle_datagram(out.get(i).unwrap()).unwrap();
        }
        let warm = r.poll_frame().unwrap();
        prop_assert_eq!(warm.bytes(), &[1u8, 2, 3][..]);
        let mut seen = std::collections::HashSet::new();
        for &i in &order {
            let res = r.handle_datagram(out.get(i).unwrap());
            if seen.insert(i) {
                prop_assert_eq!(res, Ok(()));
            } else {
                prop_assert!(matches!(res, Err(DatagramError::Replay(_))), "{:?}", res);
            }
        }
        let f = r.poll_frame().expect("recoverable AU delivered");
        prop_assert_eq!(f.frame_index, 1);
        prop_assert_eq!((f.pts_ns, f.user_flags), (2_000, 9));
        prop_assert!(f.bytes() == &au[..], "AU differs");
        // A block completes as soon as any k of its shards arrived (parity may come first
        // after reordering), so FEC restores at least the lost data shards and at most as
        // many as there is parity.
        prop_assert!(f.recovered_shards >= lost_data);
        prop_assert!(f.recovered_shards <= sealed.plan.parity_shards);
        prop_assert_eq!(r.stats().frames_lost, 0);
        prop_assert_eq!(r.stats().datagrams_replayed, (order.len() - seen.len()) as u64);
    }

    /// One block loses more than its parity: the AU is never delivered, and is counted lost.
    #[test]
    fn too_much_loss_is_reported_never_wrong(
        len in 1usize..200_000, (s, k) in shape(), pct in 0u8..=50, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let au: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let mut sealer = sealer(s, k);
        let mut out = DatagramBuf::new();
        sealer.seal_frame(&au, 5, 0, pct, &mut out).unwrap();
        let blocks = wire_blocks(len, s, k, pct);
        let g = FrameGeometry::new(len, s, k);
        let victim = rng.random_range(0..g.block_count);
        let m = parity_shards(g.block_data_shards(victim), pct, receiver_ceiling(k, FecScheme::Gf16));
        let mut idx: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].0 == victim).collect();
        idx.shuffle(&mut rng);
        idx.truncate(m + 1);
        let mut r = reassembler(s, k);
        let mut received = 0;
        for (i, dg) in out.iter().enumerate() {
            if !idx.contains(&i) {
                r.handle_datagram(dg).unwrap();
                received += 1;
            }
        }
        prop_assert!(r.poll_frame().is_none());
        r.abandon_all();
        // a frame none of whose datagrams arrived was never seen
        prop_assert_eq!(r.stats().frames_lost, u64::from(received > 0));
        prop_assert_eq!(r.stats().frames_complete, 0);
    }

    /// Random bytes, as datagrams or as fuzz-target input, never panic.
    #[test]
    fn garbage_never_panics(dgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..2000), 0..24)) {
        for sealed_mode in [true, false] {
            let cipher = if sealed_mode { sealed(SPEC_KEY, SPEC_SALT) } else { DataCipher::Plaintext };
            let mut r = Reassembler::new(ReassemblerConfig::new(cipher, 512, 8));
            for d in &dgs {
                prop_assert!(r.handle_datagram(d).is_err() || !sealed_mode);
            }
        }
        let flat: Vec<u8> = dgs.concat();
        fuzz::header(&flat);
        for mode in 0u8..8 {
            let mut input = vec![mode, flat.first().copied().unwrap_or(0)];
            input.extend_from_slice(&flat);
            fuzz::reassembler(&input);
        }
    }

    /// Headers with random fields sealed under the session key (mode 2 of the fuzz target):
    /// never panics, and whatever completes came from consistent headers.
    #[test]
    fn authentic_garbage_never_panics(input in prop::collection::vec(any::<u8>(), 0..4000)) {
        let mut v = vec![2u8];
        v.extend_from_slice(&input);
        fuzz::reassembler(&v);
        for mode in [3u8, 6, 7] {
            v[0] = mode;
            fuzz::reassembler(&v);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// GF(2⁸) sessions (scheme 0, K ≤ 255): loss within parity is repaired exactly, and
    /// the parity on the wire is `fec::gf8`'s Cauchy code of the zero-padded data shards.
    #[test]
    fn gf8_recovers_exactly_within_parity(
        len in 0usize..400_000, s in prop_oneof![Just(1408usize), Just(512)],
        k in 1usize..=255, pct in 1u8..=90, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let au: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let mut cfg = SealerConfig::new(sealed(SPEC_KEY, SPEC_SALT), s, k);
        cfg.fec_scheme = FecScheme::Gf8;
        let mut sealer = FrameSealer::new(cfg).unwrap();
        let mut out = DatagramBuf::new();
        let plan = sealer.seal_frame(&au, 9, 5, pct, &mut out).unwrap().plan;
        let blocks = wire_blocks_in(FecScheme::Gf8, len, s, k, pct);
        prop_assert_eq!(blocks.len(), plan.datagrams);

        // lose up to m shards per block
        let g = FrameGeometry::new(len, s, k);
        let c = receiver_ceiling(k, FecScheme::Gf8);
        let mut lost = vec![false; blocks.len()];
        for b in 0..g.block_count {
            let m = parity_shards(g.block_data_shards(b), pct, c);
            let mut idx: Vec<usize> = (0..blocks.len()).filter(|&i| blocks[i].0 == b).collect();
            idx.shuffle(&mut rng);
            for &i in idx.iter().take(rng.random_range(0..=m)) {
                lost[i] = true;
            }
        }
        let mut order: Vec<usize> = (0..blocks.len()).filter(|&i| !lost[i]).collect();
        order.shuffle(&mut rng);
        let mut rcfg = ReassemblerConfig::new(sealed(SPEC_KEY, SPEC_SALT), s, k);
        rcfg.fec_scheme = FecScheme::Gf8;
        let mut r = Reassembler::new(rcfg);
        for &i in &order {
            prop_assert_eq!(r.handle_datagram(out.get(i).unwrap()), Ok(()));
        }
        let f = r.poll_frame().expect("recoverable AU delivered");
        prop_assert!(f.bytes() == &au[..], "AU differs");
    }
}

#[test]
fn gf8_parity_is_the_cauchy_code_of_the_padded_shards() {
    use punktfunk_core::fec::gf8::Gf8Code;
    let au = test_frame(7, 3000);
    let mut cfg = SealerConfig::new(DataCipher::Plaintext, 1408, 2);
    cfg.fec_scheme = FecScheme::Gf8;
    let mut s = FrameSealer::new(cfg).unwrap();
    let mut out = DatagramBuf::new();
    s.seal_frame(&au, 0, 5, 50, &mut out).unwrap();
    // blocks (k 2, m 1) and (k 1, m 1): d0 d1 d2 p0 p1, header fec_scheme 0
    assert_eq!(out.len(), 5);
    assert!(out.iter().all(|d| d[38] == 0));
    let mut padded = au.clone();
    padded.resize(3 * 1408, 0);
    let shard = |i: usize| &padded[i * 1408..(i + 1) * 1408];
    let mut p0 = vec![0u8; 1408];
    Gf8Code::cauchy(2, 1)
        .unwrap()
        .encode(&[shard(0), shard(1)], &mut [&mut p0])
        .unwrap();
    assert_eq!(&out.get(3).unwrap()[40..], &p0[..]);
    let mut p1 = vec![0u8; 1408];
    Gf8Code::cauchy(1, 1)
        .unwrap()
        .encode(&[shard(2)], &mut [&mut p1])
        .unwrap();
    assert_eq!(&out.get(4).unwrap()[40..], &p1[..]);
    // K above 255 is refused under GF(2⁸)
    let mut cfg = SealerConfig::new(DataCipher::Plaintext, 1408, 256);
    cfg.fec_scheme = FecScheme::Gf8;
    assert!(FrameSealer::new(cfg).is_err());
}

#[test]
fn plaintext_mode_round_trips() {
    let au = test_frame(3, 10_000);
    let mut s = FrameSealer::new(SealerConfig::new(DataCipher::Plaintext, 1408, 4)).unwrap();
    let mut out = DatagramBuf::new();
    let plan = s.seal_frame(&au, 77, 5, 25, &mut out).unwrap().plan;
    assert_eq!(plan.datagram_len, 1448);
    let mut r = Reassembler::new(ReassemblerConfig::new(DataCipher::Plaintext, 1408, 4));
    for (i, dg) in out.iter().enumerate() {
        if i != 0 && i != 5 {
            r.handle_datagram(dg).unwrap();
        }
    }
    let f = r.poll_frame().unwrap();
    assert_eq!(f.into_vec(), au);
    // no replay filter in plaintext mode, but the same shard twice is a duplicate
    let mut r = Reassembler::new(ReassemblerConfig::new(DataCipher::Plaintext, 1408, 4));
    r.handle_datagram(out.get(0).unwrap()).unwrap();
    assert_eq!(
        r.handle_datagram(out.get(0).unwrap()),
        Err(DatagramError::DuplicateShard)
    );
    assert_eq!(r.stats().datagrams_duplicate, 1);
}
