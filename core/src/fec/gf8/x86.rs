//! x86-64 SIMD kernels for the GF(2⁸) dot product `out[r] (^)= Σᵢ c[r][i] · in[i]`.
//!
//! Three kernels, each register-blocked: a strip of one vector width is processed for a group
//! of up to `GMAX_*` output rows held in registers while every input shard is streamed through,
//! so the parity bytes of a strip never leave the register file until they are stored.
//!
//! - `gfni512`: AVX-512 + GFNI, 64-byte strips. Multiplication by a constant is one
//!   `vgf2p8affineqb` with the constant's 8×8 bit matrix (`field::AFFINE`); two products are
//!   folded into the accumulator with one `vpternlogq` (three-way XOR). Tails use byte masks.
//! - `gfni256`: AVX2 + GFNI (VEX encoded, 16 registers), 32-byte strips.
//! - `avx2`: AVX2 split-nibble tables (`vpshufb` on the low and high nibble, `field::NIBBLE`).
//!
//! Every public function here is safe: it checks that the CPU has the features and that all
//! slices are long enough before entering the `unsafe` target-feature code.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::kernel::groups;

/// Output rows per register group of the AVX-512 GFNI kernel (32 zmm registers).
pub(super) const GMAX_GFNI512: usize = 24;
/// Output rows per register group of the 256-bit GFNI kernel (16 ymm registers).
pub(super) const GMAX_GFNI256: usize = 10;
/// Output rows per register group of the AVX2 nibble kernel (16 ymm registers).
pub(super) const GMAX_AVX2: usize = 7;

/// Whether the AVX-512 GFNI kernel can run here.
pub(super) fn has_gfni512() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("gfni")
}

/// Whether the 256-bit GFNI kernel can run here.
pub(super) fn has_gfni256() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("gfni")
}

/// Whether the AVX2 nibble kernel can run here.
pub(super) fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
}

/// Checks the shapes every kernel relies on and returns the common shard length.
fn check<T>(tables: &[T], ins: &[&[u8]], outs: &[&mut [u8]]) -> usize {
    let len = ins.first().map_or(0, |s| s.len());
    assert!(!ins.is_empty() && !outs.is_empty(), "empty dot product");
    assert_eq!(tables.len(), ins.len() * outs.len(), "table size");
    assert!(ins.iter().all(|s| s.len() == len), "input lengths differ");
    assert!(outs.iter().all(|s| s.len() == len), "output lengths differ");
    len
}

/// Calls `$f::<G>($args)` for the runtime group size `$g`, one instantiation per size.
macro_rules! with_group {
    ($g:expr, $f:ident, [$($n:literal)*], $args:tt) => {
        match $g {
            $( $n => $f::<$n> $args, )*
            _ => unreachable!("group size above the kernel's maximum"),
        }
    };
}

// ---------------------------------------------------------------------------------------------
// AVX-512 + GFNI

/// `outs[r] (^)= Σᵢ M[r][i] · ins[i]` with `mats` in the group-major layout of
/// `kernel::layout` for `GMAX_GFNI512` (one `AFFINE` matrix per coefficient).
pub(super) fn dot_gfni512(mats: &[u64], ins: &[&[u8]], outs: &mut [&mut [u8]], accumulate: bool) {
    assert!(has_gfni512(), "AVX-512 GFNI kernel on a CPU without it");
    let len = check(mats, ins, outs);
    let cols = ins.len();
    for (r0, g) in groups(outs.len(), GMAX_GFNI512) {
        let m = &mats[r0 * cols..(r0 + g) * cols];
        let o = &mut outs[r0..r0 + g];
        // SAFETY: the CPU has avx512f, avx512bw and gfni (asserted above); `m` holds g·cols
        // matrices, `o` holds g rows and every input and output slice holds exactly `len`
        // bytes (checked), which is all `run_gfni512` reads or writes.
        unsafe {
            with_group!(
                g,
                run_gfni512,
                [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24],
                (m, ins, o, len, accumulate)
            )
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,gfni")]
unsafe fn run_gfni512<const G: usize>(
    mats: &[u64],
    ins: &[&[u8]],
    outs: &mut [&mut [u8]],
    len: usize,
    accumulate: bool,
) {
    let mut off = 0;
    while off + 64 <= len {
        // SAFETY: off + 64 <= len, the caller's contract for every slice.
        unsafe { strip_gfni512::<G, false>(mats, ins, outs, off, u64::MAX, accumulate) };
        off += 64;
    }
    if off < len {
        let mask = (1u64 << (len - off)) - 1;
        // SAFETY: masked loads and stores touch only the `len - off` bytes left.
        unsafe { strip_gfni512::<G, true>(mats, ins, outs, off, mask, accumulate) };
    }
}

/// One 64-byte strip (or, with `MASKED`, the bytes selected by `mask`) at offset `off`.
///
/// Safety: AVX-512F/BW and GFNI present; `mats.len() == G * ins.len()`, `outs.len() == G`;
/// every slice has at least `off + 64` bytes (or `off + popcount(mask)` when `MASKED`).
#[target_feature(enable = "avx512f,avx512bw,gfni")]
unsafe fn strip_gfni512<const G: usize, const MASKED: bool>(
    mats: &[u64],
    ins: &[&[u8]],
    outs: &mut [&mut [u8]],
    off: usize,
    mask: u64,
    accumulate: bool,
) {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn load<const MASKED: bool>(p: *const u8, mask: u64) -> __m512i {
        // SAFETY: the caller guarantees the bytes read (all 64, or those in `mask`) exist.
        unsafe {
            if MASKED {
                _mm512_maskz_loadu_epi8(mask, p.cast())
            } else {
                _mm512_loadu_si512(p.cast())
            }
        }
    }
    let cols = ins.len();
    let mut acc = [_mm512_setzero_si512(); G];
    // SAFETY (whole block): indices stay below `cols` and `G`, `mats` holds `G * cols`
    // entries read in order, and every pointer is `off` bytes into a slice long enough for the
    // strip (function contract).
    unsafe {
        if accumulate {
            for (r, a) in acc.iter_mut().enumerate() {
                *a = load::<MASKED>(outs.get_unchecked(r).as_ptr().add(off), mask);
            }
        }
        let mut m = mats.as_ptr();
        let mut i = 0;
        while i + 2 <= cols {
            let x0 = load::<MASKED>(ins.get_unchecked(i).as_ptr().add(off), mask);
            let x1 = load::<MASKED>(ins.get_unchecked(i + 1).as_ptr().add(off), mask);
            for (r, a) in acc.iter_mut().enumerate() {
                let p0 =
                    _mm512_gf2p8affine_epi64_epi8::<0>(x0, _mm512_set1_epi64(*m.add(r) as i64));
                let p1 =
                    _mm512_gf2p8affine_epi64_epi8::<0>(x1, _mm512_set1_epi64(*m.add(G + r) as i64));
                *a = _mm512_ternarylogic_epi64::<0x96>(*a, p0, p1);
            }
            m = m.add(2 * G);
            i += 2;
        }
        if i < cols {
            let x0 = load::<MASKED>(ins.get_unchecked(i).as_ptr().add(off), mask);
            for (r, a) in acc.iter_mut().enumerate() {
                let p0 =
                    _mm512_gf2p8affine_epi64_epi8::<0>(x0, _mm512_set1_epi64(*m.add(r) as i64));
                *a = _mm512_xor_si512(*a, p0);
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let p = outs.get_unchecked_mut(r).as_mut_ptr().add(off);
            if MASKED {
                _mm512_mask_storeu_epi8(p.cast(), mask, *a);
            } else {
                _mm512_storeu_si512(p.cast(), *a);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 256-bit helpers shared by the AVX2+GFNI and AVX2 nibble kernels

/// Loads 32 bytes, or with `PARTIAL` the first `n < 32` bytes zero-extended.
///
/// Safety: AVX present; `p` is valid for reading 32 bytes (or `n` with `PARTIAL`).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load256<const PARTIAL: bool>(p: *const u8, n: usize) -> __m256i {
    // SAFETY: the caller guarantees `p` is readable for the bytes copied or loaded.
    unsafe {
        if PARTIAL {
            let mut buf = [0u8; 32];
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            _mm256_loadu_si256(buf.as_ptr().cast())
        } else {
            _mm256_loadu_si256(p.cast())
        }
    }
}

/// Stores 32 bytes, or with `PARTIAL` the first `n < 32` bytes.
///
/// Safety: AVX present; `p` is valid for writing 32 bytes (or `n` with `PARTIAL`).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store256<const PARTIAL: bool>(p: *mut u8, n: usize, v: __m256i) {
    // SAFETY: the caller guarantees `p` is writable for the bytes stored or copied.
    unsafe {
        if PARTIAL {
            let mut buf = [0u8; 32];
            _mm256_storeu_si256(buf.as_mut_ptr().cast(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        } else {
            _mm256_storeu_si256(p.cast(), v);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + GFNI (VEX, 256-bit)

/// Like [`dot_gfni512`] with 32-byte strips and the `GMAX_GFNI256` layout.
pub(super) fn dot_gfni256(mats: &[u64], ins: &[&[u8]], outs: &mut [&mut [u8]], accumulate: bool) {
    assert!(has_gfni256(), "AVX2 GFNI kernel on a CPU without it");
    let len = check(mats, ins, outs);
    let cols = ins.len();
    for (r0, g) in groups(outs.len(), GMAX_GFNI256) {
        let m = &mats[r0 * cols..(r0 + g) * cols];
        let o = &mut outs[r0..r0 + g];
        // SAFETY: the CPU has avx2 and gfni (asserted above); `m` holds g·cols matrices, `o`
        // holds g rows, every slice holds exactly `len` bytes (checked).
        unsafe {
            with_group!(g, run_gfni256, [1 2 3 4 5 6 7 8 9 10 11 12], (m, ins, o, len, accumulate))
        }
    }
}

#[target_feature(enable = "avx2,gfni")]
unsafe fn run_gfni256<const G: usize>(
    mats: &[u64],
    ins: &[&[u8]],
    outs: &mut [&mut [u8]],
    len: usize,
    accumulate: bool,
) {
    let mut off = 0;
    while off + 32 <= len {
        // SAFETY: off + 32 <= len, the caller's contract for every slice.
        unsafe { strip_gfni256::<G, false>(mats, ins, outs, off, 32, accumulate) };
        off += 32;
    }
    if off < len {
        // SAFETY: partial loads and stores touch only the `len - off` bytes left.
        unsafe { strip_gfni256::<G, true>(mats, ins, outs, off, len - off, accumulate) };
    }
}

/// Safety: AVX2 and GFNI present; `mats.len() == G * ins.len()`, `outs.len() == G`; every
/// slice has at least `off + 32` bytes (or `off + n` with `PARTIAL`).
#[target_feature(enable = "avx2,gfni")]
unsafe fn strip_gfni256<const G: usize, const PARTIAL: bool>(
    mats: &[u64],
    ins: &[&[u8]],
    outs: &mut [&mut [u8]],
    off: usize,
    n: usize,
    accumulate: bool,
) {
    let cols = ins.len();
    let mut acc = [_mm256_setzero_si256(); G];
    // SAFETY (whole block): indices stay below `cols` and `G`, `mats` holds `G * cols`
    // entries read in order, every pointer is `off` bytes into a slice long enough (contract).
    unsafe {
        if accumulate {
            for (r, a) in acc.iter_mut().enumerate() {
                *a = load256::<PARTIAL>(outs.get_unchecked(r).as_ptr().add(off), n);
            }
        }
        let mut m = mats.as_ptr();
        for i in 0..cols {
            let x = load256::<PARTIAL>(ins.get_unchecked(i).as_ptr().add(off), n);
            for (r, a) in acc.iter_mut().enumerate() {
                let p = _mm256_gf2p8affine_epi64_epi8::<0>(x, _mm256_set1_epi64x(*m.add(r) as i64));
                *a = _mm256_xor_si256(*a, p);
            }
            m = m.add(G);
        }
        for (r, a) in acc.iter().enumerate() {
            store256::<PARTIAL>(outs.get_unchecked_mut(r).as_mut_ptr().add(off), n, *a);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 split-nibble tables

/// Like [`dot_gfni512`] with `NIBBLE` tables, 32-byte strips and the `GMAX_AVX2` layout.
pub(super) fn dot_avx2(tabs: &[[u8; 32]], ins: &[&[u8]], outs: &mut [&mut [u8]], accumulate: bool) {
    assert!(has_avx2(), "AVX2 kernel on a CPU without it");
    let len = check(tabs, ins, outs);
    let cols = ins.len();
    for (r0, g) in groups(outs.len(), GMAX_AVX2) {
        let t = &tabs[r0 * cols..(r0 + g) * cols];
        let o = &mut outs[r0..r0 + g];
        // SAFETY: the CPU has avx2 (asserted above); `t` holds g·cols tables, `o` holds g rows,
        // every slice holds exactly `len` bytes (checked).
        unsafe { with_group!(g, run_avx2, [1 2 3 4 5 6 7 8 9], (t, ins, o, len, accumulate)) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn run_avx2<const G: usize>(
    tabs: &[[u8; 32]],
    ins: &[&[u8]],
    outs: &mut [&mut [u8]],
    len: usize,
    accumulate: bool,
) {
    let mut off = 0;
    while off + 32 <= len {
        // SAFETY: off + 32 <= len, the caller's contract for every slice.
        unsafe { strip_avx2::<G, false>(tabs, ins, outs, off, 32, accumulate) };
        off += 32;
    }
    if off < len {
        // SAFETY: partial loads and stores touch only the `len - off` bytes left.
        unsafe { strip_avx2::<G, true>(tabs, ins, outs, off, len - off, accumulate) };
    }
}

/// Safety: AVX2 present; `tabs.len() == G * ins.len()`, `outs.len() == G`; every slice has at
/// least `off + 32` bytes (or `off + n` with `PARTIAL`).
#[target_feature(enable = "avx2")]
unsafe fn strip_avx2<const G: usize, const PARTIAL: bool>(
    tabs: &[[u8; 32]],
    ins: &[&[u8]],
    outs: &mut [&mut [u8]],
    off: usize,
    n: usize,
    accumulate: bool,
) {
    let cols = ins.len();
    let nib = _mm256_set1_epi8(0x0f);
    let mut acc = [_mm256_setzero_si256(); G];
    // SAFETY (whole block): indices stay below `cols` and `G`, `tabs` holds `G * cols`
    // tables of 32 bytes read in order, every pointer is `off` bytes into a slice long enough.
    unsafe {
        if accumulate {
            for (r, a) in acc.iter_mut().enumerate() {
                *a = load256::<PARTIAL>(outs.get_unchecked(r).as_ptr().add(off), n);
            }
        }
        let mut t = tabs.as_ptr();
        for i in 0..cols {
            let x = load256::<PARTIAL>(ins.get_unchecked(i).as_ptr().add(off), n);
            let lo = _mm256_and_si256(x, nib);
            let hi = _mm256_and_si256(_mm256_srli_epi64::<4>(x), nib);
            for (r, a) in acc.iter_mut().enumerate() {
                let tp = (*t.add(r)).as_ptr();
                let tlo = _mm256_broadcastsi128_si256(_mm_loadu_si128(tp.cast()));
                let thi = _mm256_broadcastsi128_si256(_mm_loadu_si128(tp.add(16).cast()));
                let p =
                    _mm256_xor_si256(_mm256_shuffle_epi8(tlo, lo), _mm256_shuffle_epi8(thi, hi));
                *a = _mm256_xor_si256(*a, p);
            }
            t = t.add(G);
        }
        for (r, a) in acc.iter().enumerate() {
            store256::<PARTIAL>(outs.get_unchecked_mut(r).as_mut_ptr().add(off), n, *a);
        }
    }
}
