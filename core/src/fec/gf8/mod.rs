//! GF(2⁸) Reed-Solomon, byte-exact with nanors: the code of Moonlight and Sunshine
//! (`gamestream-protocol.md` §6.6 for video, §7.5 for audio).
//!
//! - Field: GF(2⁸) with polynomial 0x11D, generator 2.
//! - Video: a systematic Cauchy code, parity `r` = `Σᵢ C[r][i]·dataᵢ` with
//!   `C[r][i] = inv((parity + i) XOR r)`; [`Gf8Code::cauchy`].
//! - Audio: NVIDIA's fixed 4 + 2 matrix; [`Gf8Code::gamestream_audio`].
//!
//! A [`Gf8Code`] is built once per (data, parity) shape with its coefficient tables laid out
//! for the fastest kernel of this CPU ([`Gf8Kernel::detect`]: AVX-512 + GFNI, AVX2 + GFNI,
//! AVX2 nibble tables or scalar), and [`Gf8CodeCache`] keeps one per shape. Encoding does not
//! allocate; it walks the shards in 32- or 64-byte strips, keeping a group of parity strips in
//! registers while all data shards stream through. Decoding solves only for the missing data
//! shards (an `e × e` inverse for `e` losses, closed-form for Cauchy codes) and then runs the
//! same kernels once over the received shards.

mod field;
mod kernel;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

pub use kernel::Gf8Kernel;
use kernel::Prepared;

use super::FecError;

/// Largest total (data + parity) shard count of one block.
pub const MAX_TOTAL_SHARDS: usize = 255;

/// GameStream audio's fixed parity matrix (row `r` holds the coefficients of data `0..4`).
const AUDIO_MATRIX: [[u8; 4]; 2] = [[0x77, 0x40, 0x38, 0x0e], [0xc7, 0xa7, 0x0d, 0x6c]];

/// A systematic GF(2⁸) code for one (data, parity) shape; build once, reuse for every block.
#[derive(Debug, Clone)]
pub struct Gf8Code {
    data: usize,
    parity: usize,
    /// Whether the matrix is nanors' Cauchy matrix (enables the closed-form inverse).
    cauchy: bool,
    /// The `parity × data` matrix prepared for the kernel.
    enc: Prepared,
}

impl Gf8Code {
    /// nanors/Moonlight Cauchy code: `C[r][i] = inv((parity + i) XOR r)`, poly 0x11D;
    /// `data >= 1`, `parity >= 1`, `data + parity <= 255` (else [`FecError::Shape`]).
    pub fn cauchy(data: usize, parity: usize) -> Result<Self, FecError> {
        Self::cauchy_with_kernel(data, parity, Gf8Kernel::detect())
    }

    /// [`Gf8Code::cauchy`] with an explicit kernel (tests and benchmarks compare kernels);
    /// a kernel this CPU lacks is replaced by [`Gf8Kernel::detect`]'s choice.
    pub fn cauchy_with_kernel(
        data: usize,
        parity: usize,
        kernel: Gf8Kernel,
    ) -> Result<Self, FecError> {
        if data == 0 || parity == 0 || data + parity > MAX_TOTAL_SHARDS {
            return Err(FecError::Shape { data, parity });
        }
        let mut coef = Vec::with_capacity(data * parity);
        for r in 0..parity {
            for i in 0..data {
                // (parity + i) ^ r != 0 because r < parity <= parity + i, and it is < 256.
                let x = ((parity + i) ^ r) as u8;
                coef.push(field::inv(x).expect("nonzero by construction"));
            }
        }
        Ok(Self::from_matrix(data, parity, coef, true, kernel))
    }

    /// GameStream audio's fixed 4+2 matrix (77 40 38 0e / c7 a7 0d 6c).
    pub fn gamestream_audio() -> Self {
        Self::gamestream_audio_with_kernel(Gf8Kernel::detect())
    }

    /// [`Gf8Code::gamestream_audio`] with an explicit kernel (falls back like
    /// [`Gf8Code::cauchy_with_kernel`]).
    pub fn gamestream_audio_with_kernel(kernel: Gf8Kernel) -> Self {
        let coef = AUDIO_MATRIX.iter().flatten().copied().collect();
        Self::from_matrix(4, 2, coef, false, kernel)
    }

    fn from_matrix(
        data: usize,
        parity: usize,
        coef: Vec<u8>,
        cauchy: bool,
        kernel: Gf8Kernel,
    ) -> Self {
        let kernel = if kernel.is_available() {
            kernel
        } else {
            Gf8Kernel::detect()
        };
        Self {
            data,
            parity,
            cauchy,
            enc: Prepared::new(kernel, parity, data, coef),
        }
    }

    /// Number of data shards.
    pub fn data_shards(&self) -> usize {
        self.data
    }

    /// Number of parity shards.
    pub fn parity_shards(&self) -> usize {
        self.parity
    }

    /// The kernel this code runs on.
    pub fn kernel(&self) -> Gf8Kernel {
        self.enc.kernel()
    }

    /// Coefficient `C[r][i]` of data shard `i` in parity shard `r`.
    ///
    /// # Panics
    /// If `r >= parity_shards()` or `i >= data_shards()`.
    pub fn coefficient(&self, r: usize, i: usize) -> u8 {
        assert!(
            r < self.parity && i < self.data,
            "coefficient index out of range"
        );
        self.enc.coef(r, i)
    }

    /// Parity of equal-length data shards into equal-length parity buffers. No allocation.
    pub fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<(), FecError> {
        if data.len() != self.data {
            return Err(FecError::ShardCount {
                got: data.len(),
                want: self.data,
            });
        }
        if parity.len() != self.parity {
            return Err(FecError::ShardCount {
                got: parity.len(),
                want: self.parity,
            });
        }
        let len = data[0].len();
        if let Some(bad) = data
            .iter()
            .map(|s| s.len())
            .chain(parity.iter().map(|s| s.len()))
            .find(|&l| l != len)
        {
            return Err(FecError::ShardLen {
                got: bad,
                want: len,
            });
        }
        if len > 0 {
            self.enc.apply(data, parity, false);
        }
        Ok(())
    }

    /// [`Gf8Code::encode`] for shards stored back to back: `data` holds the data shards
    /// (`data_shards() × shard_len` bytes), `parity` receives the parity shards
    /// (`parity_shards() × shard_len` bytes). No allocation.
    pub fn encode_contiguous(
        &self,
        data: &[u8],
        parity: &mut [u8],
        shard_len: usize,
    ) -> Result<(), FecError> {
        if data.len() != self.data * shard_len {
            return Err(FecError::ShardLen {
                got: data.len(),
                want: self.data * shard_len,
            });
        }
        if parity.len() != self.parity * shard_len {
            return Err(FecError::ShardLen {
                got: parity.len(),
                want: self.parity * shard_len,
            });
        }
        if shard_len == 0 {
            return Ok(());
        }
        let mut ins: [&[u8]; MAX_TOTAL_SHARDS] = [&[]; MAX_TOTAL_SHARDS];
        for (slot, chunk) in ins.iter_mut().zip(data.chunks_exact(shard_len)) {
            *slot = chunk;
        }
        let mut outs: [&mut [u8]; MAX_TOTAL_SHARDS] = std::array::from_fn(|_| &mut [][..]);
        for (slot, chunk) in outs.iter_mut().zip(parity.chunks_exact_mut(shard_len)) {
            *slot = chunk;
        }
        self.enc
            .apply(&ins[..self.data], &mut outs[..self.parity], false);
        Ok(())
    }

    /// Rebuilds missing data shards in place: `shards` has data+parity entries (all the same
    /// length), `present[i]` says which hold valid bytes; missing data shards are overwritten
    /// with the recovered bytes. Error NotEnoughShards if fewer than `data` are present.
    /// (May allocate for the matrix inversion — decode is the client side.)
    ///
    /// Missing parity shards are not rebuilt.
    pub fn reconstruct(&self, shards: &mut [&mut [u8]], present: &[bool]) -> Result<(), FecError> {
        let (m, k) = (self.data, self.parity);
        if shards.len() != m + k {
            return Err(FecError::ShardCount {
                got: shards.len(),
                want: m + k,
            });
        }
        if present.len() != m + k {
            return Err(FecError::ShardCount {
                got: present.len(),
                want: m + k,
            });
        }
        let len = shards[0].len();
        if let Some(bad) = shards.iter().map(|s| s.len()).find(|&l| l != len) {
            return Err(FecError::ShardLen {
                got: bad,
                want: len,
            });
        }
        let have = present.iter().filter(|&&p| p).count();
        if have < m {
            return Err(FecError::NotEnoughShards { have, need: m });
        }
        // Missing data shards E, the first |E| received parity rows P, received data K.
        let lost: Vec<usize> = (0..m).filter(|&i| !present[i]).collect();
        let e = lost.len();
        if e == 0 {
            return Ok(());
        }
        let rows: Vec<usize> = (0..k).filter(|&r| present[m + r]).take(e).collect();
        let kept: Vec<usize> = (0..m).filter(|&i| present[i]).collect();

        // d_E = A⁻¹ · (p_P + S · d_K) with A = C[P][E], S = C[P][K].
        let inv = if self.cauchy {
            self.cauchy_inverse(&rows, &lost)
        } else {
            let a: Vec<u8> = rows
                .iter()
                .flat_map(|&r| lost.iter().map(move |&i| (r, i)))
                .map(|(r, i)| self.enc.coef(r, i))
                .collect();
            invert(a, e).ok_or(FecError::Singular)?
        };
        // The recovery matrix D = [A⁻¹·S | A⁻¹] (e × m), over inputs [d_K.., p_P..].
        let mut dmat = vec![0u8; e * m];
        if !kept.is_empty() {
            let s_rows: Vec<Vec<u8>> = rows
                .iter()
                .map(|&r| kept.iter().map(|&i| self.enc.coef(r, i)).collect())
                .collect();
            let s_refs: Vec<&[u8]> = s_rows.iter().map(Vec::as_slice).collect();
            let mut prod = vec![vec![0u8; kept.len()]; e];
            let mut prod_refs: Vec<&mut [u8]> = prod.iter_mut().map(Vec::as_mut_slice).collect();
            Prepared::new(self.kernel(), e, e, inv.clone()).apply(&s_refs, &mut prod_refs, false);
            for (j, row) in prod.iter().enumerate() {
                dmat[j * m..j * m + kept.len()].copy_from_slice(row);
            }
        }
        for j in 0..e {
            dmat[j * m + kept.len()..(j + 1) * m].copy_from_slice(&inv[j * e..(j + 1) * e]);
        }
        if len == 0 {
            return Ok(());
        }
        let rec = Prepared::new(self.kernel(), e, m, dmat);

        // Split the shards into inputs (kept data, then used parity) and outputs (lost data).
        let mut kept_in: Vec<&[u8]> = Vec::with_capacity(m);
        let mut parity_in: Vec<(usize, &[u8])> = Vec::with_capacity(e);
        let mut outs: Vec<&mut [u8]> = Vec::with_capacity(e);
        for (idx, s) in shards.iter_mut().enumerate() {
            if idx < m {
                if present[idx] {
                    kept_in.push(&**s);
                } else {
                    outs.push(&mut **s);
                }
            } else if let Ok(pos) = rows.binary_search(&(idx - m)) {
                parity_in.push((pos, &**s));
            }
        }
        parity_in.sort_unstable_by_key(|&(pos, _)| pos);
        kept_in.extend(parity_in.into_iter().map(|(_, s)| s));
        rec.apply(&kept_in, &mut outs, false);
        Ok(())
    }

    /// Closed-form inverse of the Cauchy sub-matrix `A[a][b] = 1 / (x_a + y_b)` with
    /// `x_a = rows[a]`, `y_b = parity + cols[b]`, row-major `e × e` (rows indexed by `cols`):
    /// `A⁻¹[b][a] = FY[b]·FX[a] / (PX[a]·PY[b]·(x_a + y_b))`, where `FX[a] = Πₖ(x_a + y_k)`,
    /// `FY[b] = Πₖ(y_b + x_k)`, `PX[a] = Π_{k≠a}(x_a + x_k)`, `PY[b] = Π_{k≠b}(y_b + y_k)`.
    fn cauchy_inverse(&self, rows: &[usize], cols: &[usize]) -> Vec<u8> {
        use field::{EXP, LOG};
        // Everything in the log domain (mod 255): products become sums. All factors are
        // nonzero because the x's are distinct, the y's are distinct and x ∩ y = ∅.
        let e = rows.len();
        let x: Vec<u8> = rows.iter().map(|&r| r as u8).collect();
        let y: Vec<u8> = cols.iter().map(|&i| (self.parity + i) as u8).collect();
        let lg = |v: u8| u32::from(LOG[v as usize]);
        let log_sum = |it: &mut dyn Iterator<Item = u8>| it.map(lg).sum::<u32>() % 255;
        // FX[a] / PX[a] and FY[b] / PY[b], as logs.
        let lx: Vec<u32> = (0..e)
            .map(|a| {
                let fx = log_sum(&mut y.iter().map(|&yk| x[a] ^ yk));
                let px = log_sum(&mut (0..e).filter(|&k| k != a).map(|k| x[a] ^ x[k]));
                (fx + 255 - px) % 255
            })
            .collect();
        let ly: Vec<u32> = (0..e)
            .map(|b| {
                let fy = log_sum(&mut x.iter().map(|&xk| y[b] ^ xk));
                let py = log_sum(&mut (0..e).filter(|&k| k != b).map(|k| y[b] ^ y[k]));
                (fy + 255 - py) % 255
            })
            .collect();
        let mut out = vec![0u8; e * e];
        for (b, row) in out.chunks_exact_mut(e.max(1)).enumerate() {
            for (a, v) in row.iter_mut().enumerate() {
                let l = (lx[a] + ly[b] + 255 - lg(x[a] ^ y[b])) % 255;
                *v = EXP[l as usize];
            }
        }
        out
    }
}

/// Gauss-Jordan inverse of the row-major `n × n` matrix `a`; `None` if singular.
fn invert(mut a: Vec<u8>, n: usize) -> Option<Vec<u8>> {
    use field::{MUL, inv};
    let mut b = vec![0u8; n * n];
    for i in 0..n {
        b[i * n + i] = 1;
    }
    for p in 0..n {
        let pivot_row = (p..n).find(|&r| a[r * n + p] != 0)?;
        if pivot_row != p {
            for c in 0..n {
                a.swap(p * n + c, pivot_row * n + c);
                b.swap(p * n + c, pivot_row * n + c);
            }
        }
        let scale = &MUL[inv(a[p * n + p])? as usize];
        for c in 0..n {
            a[p * n + c] = scale[a[p * n + c] as usize];
            b[p * n + c] = scale[b[p * n + c] as usize];
        }
        for r in (0..n).filter(|&r| r != p) {
            let f = &MUL[a[r * n + p] as usize];
            if a[r * n + p] == 0 {
                continue;
            }
            for c in 0..n {
                a[r * n + c] ^= f[a[p * n + c] as usize];
                b[r * n + c] ^= f[b[p * n + c] as usize];
            }
        }
    }
    Some(b)
}

/// Cache of Cauchy codes keyed by shape, so a packetizer never rebuilds a code per frame.
#[derive(Debug, Default)]
pub struct Gf8CodeCache {
    kernel: Option<Gf8Kernel>,
    codes: BTreeMap<(usize, usize), Gf8Code>,
}

impl Gf8CodeCache {
    /// An empty cache whose codes use [`Gf8Kernel::detect`]'s kernel.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache whose codes use `kernel` (or the detected one where it is missing).
    pub fn with_kernel(kernel: Gf8Kernel) -> Self {
        Self {
            kernel: Some(kernel),
            codes: BTreeMap::new(),
        }
    }

    /// The Cauchy code for `data` + `parity` shards, built on first request.
    pub fn get(&mut self, data: usize, parity: usize) -> Result<&Gf8Code, FecError> {
        match self.codes.entry((data, parity)) {
            Entry::Occupied(o) => Ok(o.into_mut()),
            Entry::Vacant(v) => {
                let kernel = self.kernel.unwrap_or_else(Gf8Kernel::detect);
                Ok(v.insert(Gf8Code::cauchy_with_kernel(data, parity, kernel)?))
            }
        }
    }

    /// Number of shapes built so far.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether no shape was built yet.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}
