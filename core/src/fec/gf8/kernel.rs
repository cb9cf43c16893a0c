//! Kernel selection and the prepared coefficient matrices the kernels consume.

use std::sync::OnceLock;

use super::field::{AFFINE, MUL, NIBBLE};
#[cfg(target_arch = "x86_64")]
use super::x86;

/// An implementation of the GF(2⁸) multiply-accumulate kernels. All produce identical bytes;
/// [`Gf8Kernel::detect`] picks the fastest this CPU supports, once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gf8Kernel {
    /// Portable table lookups (the reference; the only kernel off x86-64).
    Scalar,
    /// AVX2 split-nibble tables with `vpshufb`, 32 bytes per step.
    Avx2,
    /// AVX2 + GFNI: `vgf2p8affineqb` on 256-bit vectors.
    Gfni256,
    /// AVX-512 (F, BW) + GFNI: `vgf2p8affineqb` on 512-bit vectors, `vpternlogq` folding.
    Gfni512,
}

impl Gf8Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [Gf8Kernel; 4] = [
        Gf8Kernel::Scalar,
        Gf8Kernel::Avx2,
        Gf8Kernel::Gfni256,
        Gf8Kernel::Gfni512,
    ];

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Gf8Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Gf8Kernel::Avx2 => x86::has_avx2(),
            #[cfg(target_arch = "x86_64")]
            Gf8Kernel::Gfni256 => x86::has_gfni256(),
            #[cfg(target_arch = "x86_64")]
            Gf8Kernel::Gfni512 => x86::has_gfni512(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest available kernel, detected on first use and cached.
    pub fn detect() -> Gf8Kernel {
        static BEST: OnceLock<Gf8Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            Self::ALL
                .into_iter()
                .rev()
                .find(|k| k.is_available())
                .unwrap_or(Gf8Kernel::Scalar)
        })
    }

    /// Short lowercase name (for logs and benchmark labels).
    pub fn name(self) -> &'static str {
        match self {
            Gf8Kernel::Scalar => "scalar",
            Gf8Kernel::Avx2 => "avx2",
            Gf8Kernel::Gfni256 => "gfni256",
            Gf8Kernel::Gfni512 => "gfni512",
        }
    }

    /// Rows per register group: the layout of the prepared tables depends on it.
    fn group_max(self) -> usize {
        match self {
            Gf8Kernel::Scalar => usize::MAX,
            #[cfg(target_arch = "x86_64")]
            Gf8Kernel::Avx2 => x86::GMAX_AVX2,
            #[cfg(target_arch = "x86_64")]
            Gf8Kernel::Gfni256 => x86::GMAX_GFNI256,
            #[cfg(target_arch = "x86_64")]
            Gf8Kernel::Gfni512 => x86::GMAX_GFNI512,
            #[cfg(not(target_arch = "x86_64"))]
            _ => usize::MAX,
        }
    }
}

/// Splits `rows` output rows into groups of at most `gmax`, as equal as possible:
/// yields `(first_row, count)`.
pub(super) fn groups(rows: usize, gmax: usize) -> impl Iterator<Item = (usize, usize)> {
    let n = rows.div_ceil(gmax);
    let (base, extra) = rows.checked_div(n).map_or((0, 0), |b| (b, rows % n));
    (0..n).scan(0usize, move |r0, gi| {
        let g = base + usize::from(gi < extra);
        let start = *r0;
        *r0 += g;
        Some((start, g))
    })
}

/// Per-kernel tables of a coefficient matrix.
#[derive(Clone)]
enum Tables {
    Scalar,
    Affine(Vec<u64>),
    Nibble(Vec<[u8; 32]>),
}

/// A `rows × cols` coefficient matrix prepared for one kernel: `out[r] (^)= Σᵢ M[r][i]·in[i]`.
#[derive(Clone)]
pub(super) struct Prepared {
    kernel: Gf8Kernel,
    rows: usize,
    cols: usize,
    /// Row-major coefficients.
    coef: Vec<u8>,
    tables: Tables,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("kernel", &self.kernel)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

/// Group-major order of the coefficients: for each register group, for each input column,
/// the group's rows.
fn layout<T: Copy + Default>(
    coef: &[u8],
    rows: usize,
    cols: usize,
    gmax: usize,
    f: impl Fn(u8) -> T,
) -> Vec<T> {
    let mut out = vec![T::default(); rows * cols];
    for (r0, g) in groups(rows, gmax) {
        let dst = &mut out[r0 * cols..(r0 + g) * cols];
        for (r, row) in coef[r0 * cols..(r0 + g) * cols]
            .chunks_exact(cols)
            .enumerate()
        {
            for (i, &c) in row.iter().enumerate() {
                dst[i * g + r] = f(c);
            }
        }
    }
    out
}

impl Prepared {
    /// Prepares the row-major `coef` (`rows × cols`) for `kernel` (which must be available).
    pub(super) fn new(kernel: Gf8Kernel, rows: usize, cols: usize, coef: Vec<u8>) -> Self {
        assert_eq!(coef.len(), rows * cols);
        let gmax = kernel.group_max();
        let tables = match kernel {
            Gf8Kernel::Scalar => Tables::Scalar,
            Gf8Kernel::Avx2 => {
                Tables::Nibble(layout(&coef, rows, cols, gmax, |c| NIBBLE[c as usize]))
            }
            Gf8Kernel::Gfni256 | Gf8Kernel::Gfni512 => {
                Tables::Affine(layout(&coef, rows, cols, gmax, |c| AFFINE[c as usize]))
            }
        };
        Self {
            kernel,
            rows,
            cols,
            coef,
            tables,
        }
    }

    /// The kernel the tables are laid out for.
    pub(super) fn kernel(&self) -> Gf8Kernel {
        self.kernel
    }

    /// Coefficient `M[r][i]`.
    pub(super) fn coef(&self, r: usize, i: usize) -> u8 {
        self.coef[r * self.cols + i]
    }

    /// `outs[r] = Σᵢ M[r][i]·ins[i]` (or `^=` with `accumulate`). Callers guarantee
    /// `ins.len() == cols`, `outs.len() == rows` and one common length for every slice.
    pub(super) fn apply(&self, ins: &[&[u8]], outs: &mut [&mut [u8]], accumulate: bool) {
        debug_assert_eq!(ins.len(), self.cols);
        debug_assert_eq!(outs.len(), self.rows);
        if self.rows == 0 || self.cols == 0 {
            return;
        }
        match &self.tables {
            Tables::Scalar => dot_scalar(&self.coef, ins, outs, accumulate),
            #[cfg(target_arch = "x86_64")]
            Tables::Nibble(t) => x86::dot_avx2(t, ins, outs, accumulate),
            #[cfg(target_arch = "x86_64")]
            Tables::Affine(m) if self.kernel == Gf8Kernel::Gfni512 => {
                x86::dot_gfni512(m, ins, outs, accumulate)
            }
            #[cfg(target_arch = "x86_64")]
            Tables::Affine(m) => x86::dot_gfni256(m, ins, outs, accumulate),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("SIMD tables off x86-64"),
        }
    }
}

/// The scalar reference: `outs[r] (^)= Σᵢ coef[r][i]·ins[i]` through the 64 KiB product table,
/// four inputs per pass over the output.
pub(super) fn dot_scalar(coef: &[u8], ins: &[&[u8]], outs: &mut [&mut [u8]], accumulate: bool) {
    let cols = ins.len();
    for (out, crow) in outs.iter_mut().zip(coef.chunks_exact(cols.max(1))) {
        if !accumulate {
            out.fill(0);
        }
        let mut quads = ins.chunks_exact(4).zip(crow.chunks_exact(4));
        for (x, c) in quads.by_ref() {
            let (t0, t1, t2, t3) = (
                &MUL[c[0] as usize],
                &MUL[c[1] as usize],
                &MUL[c[2] as usize],
                &MUL[c[3] as usize],
            );
            let it = out
                .iter_mut()
                .zip(x[0].iter())
                .zip(x[1].iter())
                .zip(x[2].iter())
                .zip(x[3]);
            for ((((o, &a), &b), &d), &e) in it {
                *o ^= t0[a as usize] ^ t1[b as usize] ^ t2[d as usize] ^ t3[e as usize];
            }
        }
        let done = cols - cols % 4;
        for (input, &c) in ins[done..].iter().zip(&crow[done..]) {
            let t = &MUL[c as usize];
            for (o, &x) in out.iter_mut().zip(input.iter()) {
                *o ^= t[x as usize];
            }
        }
    }
}

/// `dst ^= c · src` with `kernel` (equal lengths).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn mul_add(kernel: Gf8Kernel, c: u8, src: &[u8], dst: &mut [u8]) {
    single(kernel, c, src, dst, true)
}

/// `dst = c · src` with `kernel` (equal lengths).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn mul_into(kernel: Gf8Kernel, c: u8, src: &[u8], dst: &mut [u8]) {
    single(kernel, c, src, dst, false)
}

fn single(kernel: Gf8Kernel, c: u8, src: &[u8], dst: &mut [u8], accumulate: bool) {
    assert_eq!(src.len(), dst.len());
    if src.is_empty() {
        return;
    }
    let ins = [src];
    let mut outs = [dst];
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Gf8Kernel::Avx2 => x86::dot_avx2(&[NIBBLE[c as usize]], &ins, &mut outs, accumulate),
        #[cfg(target_arch = "x86_64")]
        Gf8Kernel::Gfni256 => x86::dot_gfni256(&[AFFINE[c as usize]], &ins, &mut outs, accumulate),
        #[cfg(target_arch = "x86_64")]
        Gf8Kernel::Gfni512 => x86::dot_gfni512(&[AFFINE[c as usize]], &ins, &mut outs, accumulate),
        _ => dot_scalar(&[c], &ins, &mut outs, accumulate),
    }
}
