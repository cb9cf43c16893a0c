//! GF(2⁸) arithmetic with reducing polynomial 0x11D (x⁸ + x⁴ + x³ + x² + 1) and generator 2,
//! the field of nanors. Every table is computed at compile time.

/// The reducing polynomial.
pub(super) const POLY: u16 = 0x11D;

const fn build_exp() -> [u8; 512] {
    let mut exp = [0u8; 512];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLY;
        }
        i += 1;
    }
    // exp[510], exp[511] are never reached by log sums (max 254 + 254 = 508).
    exp
}

const fn build_log(exp: &[u8; 512]) -> [u8; 256] {
    let mut log = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        log[exp[i] as usize] = i as u8;
        i += 1;
    }
    log
}

/// `EXP[i] = 2^i` for `i` in `0..510` (doubled so log sums need no reduction).
pub(super) static EXP: [u8; 512] = build_exp();
/// `LOG[x]` for `x != 0` (`LOG[0]` is unused).
pub(super) static LOG: [u8; 256] = build_log(&build_exp());

const fn cmul(a: u8, b: u8, exp: &[u8; 512], log: &[u8; 256]) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        exp[log[a as usize] as usize + log[b as usize] as usize]
    }
}

const fn build_mul() -> [[u8; 256]; 256] {
    let exp = build_exp();
    let log = build_log(&exp);
    let mut t = [[0u8; 256]; 256];
    let mut a = 0;
    while a < 256 {
        let mut b = 0;
        while b < 256 {
            t[a][b] = cmul(a as u8, b as u8, &exp, &log);
            b += 1;
        }
        a += 1;
    }
    t
}

/// `MUL[c][x] = c · x`: the scalar kernels' table (64 KiB).
pub(super) static MUL: [[u8; 256]; 256] = build_mul();

/// The 8×8 bit matrix of "multiply by `c`" in the layout of `gf2p8affineqb`: byte `7 - i` of the
/// qword is row `i`, whose bit `j` is bit `i` of `c · 2^j`.
const fn affine_of(c: u8, exp: &[u8; 512], log: &[u8; 256]) -> u64 {
    let mut q = 0u64;
    let mut i = 0;
    while i < 8 {
        let mut row = 0u8;
        let mut j = 0;
        while j < 8 {
            let col = cmul(c, 1u8 << j, exp, log);
            row |= ((col >> i) & 1) << j;
            j += 1;
        }
        q |= (row as u64) << (8 * (7 - i));
        i += 1;
    }
    q
}

const fn build_affine() -> [u64; 256] {
    let exp = build_exp();
    let log = build_log(&exp);
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = affine_of(c as u8, &exp, &log);
        c += 1;
    }
    t
}

/// `AFFINE[c]`: the `gf2p8affineqb` matrix multiplying each byte by `c` in this field
/// (`gf2p8mulb` would use the AES polynomial 0x11B, which is why the affine form is used).
pub(super) static AFFINE: [u64; 256] = build_affine();

const fn build_nibble() -> [[u8; 32]; 256] {
    let exp = build_exp();
    let log = build_log(&exp);
    let mut t = [[0u8; 32]; 256];
    let mut c = 0;
    while c < 256 {
        let mut n = 0;
        while n < 16 {
            t[c][n] = cmul(c as u8, n as u8, &exp, &log);
            t[c][16 + n] = cmul(c as u8, (n << 4) as u8, &exp, &log);
            n += 1;
        }
        c += 1;
    }
    t
}

/// `NIBBLE[c]`: `c · n` for the low nibble `n` (bytes 0..16) and `c · (n << 4)` (bytes
/// 16..32), the split tables of the `pshufb` kernels.
pub(super) static NIBBLE: [[u8; 32]; 256] = build_nibble();

/// `a · b`.
#[cfg(test)]
pub(super) fn mul(a: u8, b: u8) -> u8 {
    MUL[a as usize][b as usize]
}

/// The multiplicative inverse of `a`, `None` for zero.
#[inline]
pub(super) fn inv(a: u8) -> Option<u8> {
    (a != 0).then(|| EXP[255 - LOG[a as usize] as usize])
}
