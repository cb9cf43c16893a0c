//! Tests of the GF(2⁸) code: Appendix B.1 vectors, kernel equivalence, round trips, errors.

use proptest::prelude::*;

use super::field::{AFFINE, EXP, LOG, MUL, NIBBLE, inv, mul};
use super::kernel::{Prepared, dot_scalar, groups, mul_add, mul_into};
use super::*;

/// Kernels this CPU runs; each test that loops over them prints which ran.
fn kernels() -> Vec<Gf8Kernel> {
    Gf8Kernel::ALL
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

fn report(test: &str, ran: &[Gf8Kernel]) {
    let skipped: Vec<_> = Gf8Kernel::ALL
        .iter()
        .filter(|k| !ran.contains(k))
        .map(|k| k.name())
        .collect();
    eprintln!(
        "{test}: ran kernels {:?}; not available on this CPU: {:?}",
        ran.iter().map(|k| k.name()).collect::<Vec<_>>(),
        skipped
    );
}

/// Bitwise carry-less multiply reduced by 0x11D: independent of the tables.
fn slow_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1D;
        }
        b >>= 1;
    }
    p
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn field_tables_match_bitwise_arithmetic() {
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            assert_eq!(mul(a, b), slow_mul(a, b), "{a:#x} * {b:#x}");
        }
        if a != 0 {
            assert_eq!(EXP[LOG[a as usize] as usize], a);
            assert_eq!(mul(a, inv(a).unwrap()), 1, "inverse of {a:#x}");
        }
    }
    assert_eq!(inv(0), None);
    assert_eq!(inv(2), Some(0x8e));
    // Generator 2 has order 255.
    assert_eq!((1..255).filter(|&i| EXP[i] == 1).count(), 0);
}

#[test]
fn affine_and_nibble_tables_multiply() {
    for c in 0..=255u8 {
        let q = AFFINE[c as usize];
        for x in 0..=255u8 {
            // gf2p8affineqb: result bit i = parity(byte (7 - i) of q AND x).
            let mut y = 0u8;
            for i in 0..8 {
                let row = (q >> (8 * (7 - i))) as u8;
                y |= (((row & x).count_ones() & 1) as u8) << i;
            }
            assert_eq!(y, slow_mul(c, x), "affine {c:#x} * {x:#x}");
            let t = &NIBBLE[c as usize];
            assert_eq!(
                t[(x & 15) as usize] ^ t[16 + (x >> 4) as usize],
                slow_mul(c, x)
            );
        }
    }
    assert_eq!(MUL[3][7], slow_mul(3, 7));
}

#[test]
fn groups_cover_rows() {
    for gmax in 1..30 {
        for rows in 0..260 {
            let g: Vec<_> = groups(rows, gmax).collect();
            assert_eq!(g.iter().map(|x| x.1).sum::<usize>(), rows);
            let mut next = 0;
            for &(r0, n) in &g {
                assert_eq!(r0, next);
                assert!(n >= 1 && n <= gmax);
                next += n;
            }
            if let (Some(min), Some(max)) =
                (g.iter().map(|x| x.1).min(), g.iter().map(|x| x.1).max())
            {
                assert!(max - min <= 1, "groups are balanced");
            }
        }
    }
}

#[test]
fn cauchy_matrices_match_appendix_b1() {
    let cases: [(usize, usize, &str); 3] = [
        (4, 2, "8e f4 47 a7 f4 8e a7 47"),
        (3, 2, "8e f4 47 f4 8e a7"),
        (1, 2, "8e f4"),
    ];
    for (m, k, want) in cases {
        let code = Gf8Code::cauchy(m, k).unwrap();
        let got: Vec<u8> = (0..k)
            .flat_map(|r| (0..m).map(move |i| (r, i)))
            .map(|(r, i)| code.coefficient(r, i))
            .collect();
        assert_eq!(got, hex(want), "matrix for m={m}, k={k}");
    }
}

#[test]
fn video_vector_encode_and_decode() {
    let data: Vec<Vec<u8>> = (0..3)
        .map(|i| (0..8).map(|t| (16 * i + t + 1) as u8).collect())
        .collect();
    let want = [
        hex("ce 89 b4 07 3a 7d 40 06"),
        hex("8c f6 2b 02 df a5 78 f7"),
    ];
    let ran = kernels();
    for &kernel in &ran {
        let code = Gf8Code::cauchy_with_kernel(3, 2, kernel).unwrap();
        assert_eq!(code.kernel(), kernel);
        let mut parity = vec![vec![0u8; 8]; 2];
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut prefs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        code.encode(&refs, &mut prefs).unwrap();
        assert_eq!(parity, want, "{kernel:?}");

        // Erase data0 and data2, recover from the parity shards.
        let mut shards: Vec<Vec<u8>> = data.iter().chain(parity.iter()).cloned().collect();
        shards[0] = vec![0xAA; 8];
        shards[2] = vec![0x55; 8];
        let mut srefs: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
        code.reconstruct(&mut srefs, &[false, true, false, true, true])
            .unwrap();
        assert_eq!(shards[..3], data[..], "{kernel:?}");
    }
    report("video_vector_encode_and_decode", &ran);
}

#[test]
fn audio_vector_encode_and_every_two_loss_decode() {
    let data = [
        hex("10 11 12 13"),
        hex("20 21 22 23"),
        hex("30 31 32 33"),
        hex("40 41 42 43"),
    ];
    let want = [hex("98 99 9a 9b"), hex("da db d8 d9")];
    let ran = kernels();
    for &kernel in &ran {
        let code = Gf8Code::gamestream_audio_with_kernel(kernel);
        assert_eq!((code.data_shards(), code.parity_shards()), (4, 2));
        assert_eq!(code.coefficient(1, 3), 0x6c);
        let mut parity = vec![vec![0u8; 4]; 2];
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut prefs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        code.encode(&refs, &mut prefs).unwrap();
        assert_eq!(parity, want, "{kernel:?}");
        // The fixed matrix must recover any two losses (it is MDS).
        for a in 0..6 {
            for b in a..6 {
                let mut shards: Vec<Vec<u8>> = data.iter().chain(parity.iter()).cloned().collect();
                let mut present = [true; 6];
                for &x in &[a, b] {
                    present[x] = false;
                    shards[x].fill(0xEE);
                }
                let mut srefs: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
                code.reconstruct(&mut srefs, &present).unwrap();
                assert_eq!(shards[..4], data[..], "lost {a},{b} with {kernel:?}");
            }
        }
    }
    report("audio_vector_encode_and_every_two_loss_decode", &ran);
}

#[test]
fn moonlight_shape_all_kernels_agree_and_recover_43_losses() {
    let (m, k, len) = (212, 43, 1408);
    let data: Vec<Vec<u8>> = (0..m)
        .map(|i| {
            (0..len)
                .map(|t| (i * 7 + t * 13 + (t >> 5)) as u8)
                .collect()
        })
        .collect();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let encode = |kernel| {
        let code = Gf8Code::cauchy_with_kernel(m, k, kernel).unwrap();
        let mut parity = vec![vec![0u8; len]; k];
        let mut prefs: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        code.encode(&refs, &mut prefs).unwrap();
        (code, parity)
    };
    let (_, reference) = encode(Gf8Kernel::Scalar);
    // Spot-check the reference against the definition.
    let code = Gf8Code::cauchy_with_kernel(m, k, Gf8Kernel::Scalar).unwrap();
    for (r, t) in [(0, 0), (42, 1407), (17, 640)] {
        let want = (0..m).fold(0u8, |acc, i| {
            acc ^ slow_mul(code.coefficient(r, i), data[i][t])
        });
        assert_eq!(reference[r][t], want);
    }
    let ran = kernels();
    for &kernel in &ran {
        let (code, parity) = encode(kernel);
        assert!(parity == reference, "{kernel:?} parity differs from scalar");
        // Lose 43 data shards spread over the block.
        let mut shards: Vec<Vec<u8>> = data.iter().chain(parity.iter()).cloned().collect();
        let mut present = vec![true; m + k];
        for j in 0..k {
            let i = (j * 5 + 3) % m;
            present[i] = false;
            shards[i].fill(0);
        }
        let mut srefs: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
        code.reconstruct(&mut srefs, &present).unwrap();
        assert!(shards[..m] == data[..], "{kernel:?} recovery");
    }
    report(
        "moonlight_shape_all_kernels_agree_and_recover_43_losses",
        &ran,
    );
}

#[test]
fn errors() {
    assert_eq!(
        Gf8Code::cauchy(0, 2).unwrap_err(),
        FecError::Shape { data: 0, parity: 2 }
    );
    assert_eq!(
        Gf8Code::cauchy(3, 0).unwrap_err(),
        FecError::Shape { data: 3, parity: 0 }
    );
    assert_eq!(
        Gf8Code::cauchy(200, 56).unwrap_err(),
        FecError::Shape {
            data: 200,
            parity: 56
        }
    );
    assert!(Gf8Code::cauchy(200, 55).is_ok());
    assert!(Gf8Code::cauchy(254, 1).is_ok());
    assert!(Gf8Code::cauchy(1, 254).is_ok());

    let code = Gf8Code::cauchy(3, 2).unwrap();
    let d = [[1u8; 8]; 3];
    let refs: Vec<&[u8]> = d.iter().map(|s| &s[..]).collect();
    let mut p = [[0u8; 8]; 2];
    let mut prefs: Vec<&mut [u8]> = p.iter_mut().map(|s| &mut s[..]).collect();
    assert_eq!(
        code.encode(&refs[..2], &mut prefs).unwrap_err(),
        FecError::ShardCount { got: 2, want: 3 }
    );
    assert_eq!(
        code.encode(&refs, &mut prefs[..1]).unwrap_err(),
        FecError::ShardCount { got: 1, want: 2 }
    );
    let short = [1u8; 7];
    let bad: Vec<&[u8]> = vec![&d[0], &short, &d[2]];
    assert_eq!(
        code.encode(&bad, &mut prefs).unwrap_err(),
        FecError::ShardLen { got: 7, want: 8 }
    );
    let mut p7 = [0u8; 7];
    let mut p8 = [0u8; 8];
    let mut badp: Vec<&mut [u8]> = vec![&mut p8, &mut p7];
    assert_eq!(
        code.encode(&refs, &mut badp).unwrap_err(),
        FecError::ShardLen { got: 7, want: 8 }
    );

    let mut shards = [[0u8; 8]; 5];
    let mut srefs: Vec<&mut [u8]> = shards.iter_mut().map(|s| &mut s[..]).collect();
    assert_eq!(
        code.reconstruct(&mut srefs, &[false, true, true, false, false])
            .unwrap_err(),
        FecError::NotEnoughShards { have: 2, need: 3 }
    );
    assert_eq!(
        code.reconstruct(&mut srefs, &[true; 4]).unwrap_err(),
        FecError::ShardCount { got: 4, want: 5 }
    );
    assert_eq!(
        code.reconstruct(&mut srefs[..4], &[true; 4]).unwrap_err(),
        FecError::ShardCount { got: 4, want: 5 }
    );
    let mut s9 = [0u8; 9];
    srefs[4] = &mut s9;
    assert_eq!(
        code.reconstruct(&mut srefs, &[true; 5]).unwrap_err(),
        FecError::ShardLen { got: 9, want: 8 }
    );
}

#[test]
fn cauchy_inverse_equals_gauss_jordan() {
    let code = Gf8Code::cauchy(40, 30).unwrap();
    for e in 1..=30usize {
        assert!((0..40).filter(|i| i % 4 != 1).count() >= e);
        let rows: Vec<usize> = (30 - e..30).collect();
        let lost: Vec<usize> = (0..40).filter(|i| i % 4 != 1).take(e).collect();
        let a: Vec<u8> = rows
            .iter()
            .flat_map(|&r| lost.iter().map(move |&i| (r, i)))
            .map(|(r, i)| code.coefficient(r, i))
            .collect();
        let gj = invert(a.clone(), e).expect("Cauchy sub-matrices are invertible");
        assert_eq!(code.cauchy_inverse(&rows, &lost), gj, "e = {e}");
        // And it really is the inverse.
        for i in 0..e {
            for j in 0..e {
                let v = (0..e).fold(0, |acc, t| acc ^ mul(a[i * e + t], gj[t * e + j]));
                assert_eq!(v, u8::from(i == j));
            }
        }
    }
    assert_eq!(invert(vec![1, 2, 2, 4], 2), None, "singular matrix");
}

#[test]
fn cache_reuses_codes() {
    let mut cache = Gf8CodeCache::new();
    assert!(cache.is_empty());
    let p1 = cache.get(212, 43).unwrap() as *const Gf8Code;
    let p2 = cache.get(212, 43).unwrap() as *const Gf8Code;
    assert_eq!(p1, p2);
    assert_eq!(cache.get(10, 2).unwrap().data_shards(), 10);
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache.get(250, 10).unwrap_err(),
        FecError::Shape {
            data: 250,
            parity: 10
        }
    );
    assert_eq!(cache.len(), 2);
    let mut scalar = Gf8CodeCache::with_kernel(Gf8Kernel::Scalar);
    assert_eq!(scalar.get(3, 2).unwrap().kernel(), Gf8Kernel::Scalar);
}

#[test]
fn detected_kernel_is_available() {
    let best = Gf8Kernel::detect();
    assert!(best.is_available());
    assert_eq!(Gf8Code::cauchy(4, 2).unwrap().kernel(), best);
    eprintln!("detected GF(2^8) kernel: {}", best.name());
    report("available kernels", &kernels());
}

/// Random coefficient matrix applied by every kernel equals the scalar reference.
fn check_dot(
    rows: usize,
    cols: usize,
    len: usize,
    seed: u64,
    accumulate: bool,
) -> Result<(), TestCaseError> {
    let mut rng = seed;
    let mut next = move || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 56) as u8
    };
    let coef: Vec<u8> = (0..rows * cols).map(|_| next()).collect();
    let ins: Vec<Vec<u8>> = (0..cols)
        .map(|_| (0..len).map(|_| next()).collect())
        .collect();
    let init: Vec<Vec<u8>> = (0..rows)
        .map(|_| (0..len).map(|_| next()).collect())
        .collect();
    let irefs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
    let mut want = init.clone();
    {
        let mut w: Vec<&mut [u8]> = want.iter_mut().map(Vec::as_mut_slice).collect();
        dot_scalar(&coef, &irefs, &mut w, accumulate);
    }
    for kernel in kernels() {
        let prep = Prepared::new(kernel, rows, cols, coef.clone());
        let mut got = init.clone();
        let mut g: Vec<&mut [u8]> = got.iter_mut().map(Vec::as_mut_slice).collect();
        prep.apply(&irefs, &mut g, accumulate);
        prop_assert_eq!(
            &got,
            &want,
            "{:?} rows={} cols={} len={}",
            kernel,
            rows,
            cols,
            len
        );
    }
    Ok(())
}

#[test]
fn dot_kernels_fixed_edge_lengths() {
    for len in [
        0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1408,
    ] {
        for (rows, cols) in [(1, 1), (2, 3), (24, 5), (25, 2), (43, 7), (9, 10), (13, 1)] {
            check_dot(rows, cols, len, (len * 31 + rows * 7 + cols) as u64, false).unwrap();
            check_dot(rows, cols, len, (len * 17 + rows + cols) as u64, true).unwrap();
        }
    }
    report("dot_kernels_fixed_edge_lengths", &kernels());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn dot_kernels_equal_scalar(rows in 1usize..50, cols in 1usize..40, len in 0usize..300, seed: u64, accumulate: bool) {
        check_dot(rows, cols, len, seed, accumulate)?;
    }

    #[test]
    fn single_coefficient_kernels_equal_scalar(c: u8, src in proptest::collection::vec(any::<u8>(), 0..200), fill: u8) {
        let want_mul: Vec<u8> = src.iter().map(|&x| slow_mul(c, x)).collect();
        let want_add: Vec<u8> = src.iter().map(|&x| slow_mul(c, x) ^ fill).collect();
        for kernel in kernels() {
            let mut d = vec![fill; src.len()];
            mul_into(kernel, c, &src, &mut d);
            prop_assert_eq!(&d, &want_mul, "mul {:?}", kernel);
            let mut d = vec![fill; src.len()];
            mul_add(kernel, c, &src, &mut d);
            prop_assert_eq!(&d, &want_add, "mul_add {:?}", kernel);
        }
    }

    #[test]
    fn round_trip_random_shapes(
        data in 1usize..255,
        parity_frac in 0.0f64..1.0,
        len in 0usize..80,
        seed: u64,
        kernel_pick: usize,
    ) {
        let parity = 1 + ((255 - data - 1) as f64 * parity_frac) as usize;
        prop_assume!(data + parity <= 255);
        let avail = kernels();
        let kernel = avail[kernel_pick % avail.len()];
        let code = Gf8Code::cauchy_with_kernel(data, parity, kernel).unwrap();
        let mut rng = seed;
        let mut next = move || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            rng >> 33
        };
        let d: Vec<Vec<u8>> = (0..data).map(|_| (0..len).map(|_| next() as u8).collect()).collect();
        let mut p = vec![vec![0u8; len]; parity];
        {
            let refs: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
            let mut prefs: Vec<&mut [u8]> = p.iter_mut().map(Vec::as_mut_slice).collect();
            code.encode(&refs, &mut prefs).unwrap();
        }
        // Erase up to `parity` random shards (data or parity).
        let total = data + parity;
        let lose = (next() as usize) % (parity + 1);
        let mut present = vec![true; total];
        let mut shards: Vec<Vec<u8>> = d.iter().chain(p.iter()).cloned().collect();
        for _ in 0..lose {
            let i = next() as usize % total;
            present[i] = false;
            shards[i].fill(0x5A);
        }
        let mut srefs: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
        code.reconstruct(&mut srefs, &present).unwrap();
        prop_assert!(shards[..data] == d[..], "{:?} ({},{}) len {} lost {}", kernel, data, parity, len, lose);

        // One more loss than parity (if that many exist) must be refused.
        if total > data {
            let mut present = vec![true; total];
            for x in present.iter_mut().take(parity + 1) {
                *x = false;
            }
            let mut srefs: Vec<&mut [u8]> = shards.iter_mut().map(Vec::as_mut_slice).collect();
            prop_assert_eq!(
                code.reconstruct(&mut srefs, &present).unwrap_err(),
                FecError::NotEnoughShards { have: data - 1, need: data }
            );
        }
    }
}

#[test]
fn every_kernel_multiplies_every_byte_by_every_constant() {
    let src: Vec<u8> = (0..=255u8).collect();
    let ran = kernels();
    for &kernel in &ran {
        for c in 0..=255u8 {
            let mut d = vec![0u8; 256];
            mul_into(kernel, c, &src, &mut d);
            for (x, &y) in d.iter().enumerate() {
                assert_eq!(y, slow_mul(c, x as u8), "{kernel:?}: {c:#x} * {x:#x}");
            }
        }
    }
    report("every_kernel_multiplies_every_byte_by_every_constant", &ran);
}

#[test]
fn contiguous_encode_equals_sliced_encode() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gf8Code>();
    assert_send_sync::<Gf8CodeCache>();
    for (m, k, len) in [
        (212, 43, 1408),
        (3, 2, 8),
        (1, 254, 5),
        (254, 1, 3),
        (7, 3, 0),
    ] {
        let code = Gf8Code::cauchy(m, k).unwrap();
        let data: Vec<u8> = (0..m * len).map(|t| (t * 37 + t / 11) as u8).collect();
        let mut flat = vec![0u8; k * len];
        code.encode_contiguous(&data, &mut flat, len).unwrap();
        let mut sliced = vec![vec![0u8; len]; k];
        let refs: Vec<&[u8]> = if len == 0 {
            vec![&[][..]; m]
        } else {
            data.chunks_exact(len).collect()
        };
        let mut prefs: Vec<&mut [u8]> = sliced.iter_mut().map(Vec::as_mut_slice).collect();
        code.encode(&refs, &mut prefs).unwrap();
        assert_eq!(flat, sliced.concat(), "({m},{k}) len {len}");
    }
    let code = Gf8Code::cauchy(3, 2).unwrap();
    assert_eq!(
        code.encode_contiguous(&[0; 23], &mut [0; 16], 8)
            .unwrap_err(),
        FecError::ShardLen { got: 23, want: 24 }
    );
    assert_eq!(
        code.encode_contiguous(&[0; 24], &mut [0; 17], 8)
            .unwrap_err(),
        FecError::ShardLen { got: 17, want: 16 }
    );
}
