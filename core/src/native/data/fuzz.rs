//! Bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/native_*.rs`), kept here so the
//! crate's property tests drive exactly the same code with random bytes.

use crate::crypto::AeadKey;
use crate::slots::DatagramBuf;

use super::geometry::FecScheme;
use super::header::{DataHeader, DataHeaderRepr};
use super::nonce::{Direction, NoncePrefix, aad};
use super::reassembler::{Reassembler, ReassemblerConfig, ReassemblerStats};
use super::sealer::{FrameSealer, SealerConfig};
use super::{DataCipher, HEADER_LEN, SEQ_LEN};

const KEY: [u8; 16] = *b"punktfunk-fuzz!!";
const SALT: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];

/// Parses arbitrary bytes as a header; whatever parses must re-emit to the same fields.
pub fn header(data: &[u8]) {
    let Ok(view) = DataHeader::new_checked(data) else {
        return;
    };
    let Ok(repr) = DataHeaderRepr::parse(&view) else {
        return;
    };
    let bytes = repr.to_bytes();
    assert_eq!(&bytes[..], &data[..HEADER_LEN], "emit(parse(x)) == x");
    let again = DataHeaderRepr::parse(&DataHeader::new_checked(&bytes[..]).expect("40 bytes"));
    assert_eq!(again, Ok(repr));
}

fn config(sealed: bool, s: usize, k: usize, scheme: FecScheme) -> ReassemblerConfig {
    let cipher = if sealed {
        DataCipher::Sealed {
            key: AeadKey::aes128_gcm(&KEY),
            salt: SALT,
        }
    } else {
        DataCipher::Plaintext
    };
    let mut c = ReassemblerConfig::new(cipher, s, k);
    c.max_frame_bytes = 256 << 10;
    c.fec_scheme = scheme;
    c.max_pending_frames = 8;
    c
}

/// Splits `data` into chunks prefixed by a one-byte length (times 8, plus a byte).
fn chunks(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (&n, rest) = data.split_first()?;
        let n = (n as usize * 8 + n as usize % 8).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        data = tail;
        Some(chunk)
    })
}

/// Feeds arbitrary datagrams into reassemblers; never panics, and (sealed) never delivers
/// an AU that differs from what the sealer sealed.
///
/// The first byte picks a mode (bits 0–1) and the FEC scheme (bit 2: GF(2⁸)); the second
/// the shard size and K. Modes:
/// - 0: raw datagrams into a plaintext reassembler (every header path reachable);
/// - 1: raw datagrams into a sealed reassembler (length, tag and replay paths);
/// - 2: each chunk is `seq ‖ header ‖ shard` plaintext that is sealed with the session key
///   before it is fed, so arbitrary headers reach the post-authentication paths;
/// - 3: a real frame is sealed, then dropped, duplicated, reordered and corrupted as the
///   remaining bytes say; any AU delivered must be exactly the frame.
pub fn reassembler(data: &[u8]) -> ReassemblerStats {
    let Some((&mode, rest)) = data.split_first() else {
        return ReassemblerStats::default();
    };
    let Some((&shape, rest)) = rest.split_first() else {
        return ReassemblerStats::default();
    };
    let s = [512, 64, 1408, 200][shape as usize % 4];
    let k = 1 + (shape as usize >> 2) % 16;
    let scheme = if mode & 4 != 0 {
        FecScheme::Gf8
    } else {
        FecScheme::Gf16
    };
    match mode % 4 {
        0 | 1 => {
            let mut r = Reassembler::new(config(mode % 4 == 1, s, k, scheme));
            for dg in chunks(rest) {
                let _ = r.handle_datagram(dg);
                while let Some(f) = r.poll_frame() {
                    r.recycle(f);
                }
            }
            r.abandon_all();
            r.stats()
        }
        2 => {
            let key = AeadKey::aes128_gcm(&KEY);
            let prefix = NoncePrefix::new(SALT, Direction::HostToClient);
            let mut r = Reassembler::new(config(true, s, k, scheme));
            let mut buf = Vec::new();
            for chunk in chunks(rest) {
                if chunk.len() < SEQ_LEN {
                    continue;
                }
                let seq = u64::from_be_bytes(chunk[..SEQ_LEN].try_into().expect("8 bytes"));
                buf.clear();
                buf.extend_from_slice(chunk);
                let tag = key.seal_in_place(&prefix.nonce(seq), &aad(seq), &mut buf[SEQ_LEN..]);
                buf.extend_from_slice(&tag);
                let _ = r.handle_datagram(&buf);
                while let Some(f) = r.poll_frame() {
                    r.recycle(f);
                }
            }
            r.abandon_all();
            r.stats()
        }
        _ => mangled_frame(s, k, scheme, rest),
    }
}

fn mangled_frame(s: usize, k: usize, scheme: FecScheme, ops: &[u8]) -> ReassemblerStats {
    let Some((&[a, b, pct], ops)) = ops.split_first_chunk::<3>() else {
        return ReassemblerStats::default();
    };
    let len = (u16::from_le_bytes([a, b]) as usize) * 7 % (40 * s);
    let frame: Vec<u8> = (0..len).map(|i| (i * 13 + 7) as u8).collect();
    let cipher = DataCipher::Sealed {
        key: AeadKey::aes128_gcm(&KEY),
        salt: SALT,
    };
    let mut sc = SealerConfig::new(cipher, s, k);
    sc.fec_scheme = scheme;
    let mut sealer = FrameSealer::new(sc).expect("valid config");
    let mut out = DatagramBuf::new();
    sealer
        .seal_frame(&frame, 1, 5, pct % 101, &mut out)
        .expect("sealable");
    let mut r = Reassembler::new(config(true, s, k, scheme));
    let n = out.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut dg = Vec::new();
    for op in ops.chunks(2) {
        let (&code, arg) = (
            op.first().expect("chunk"),
            op.get(1).copied().unwrap_or(0) as usize,
        );
        match code % 4 {
            0 => {
                if !order.is_empty() {
                    order.remove(arg % order.len());
                }
            }
            1 => order.push(arg % n),
            2 => {
                let len = order.len();
                if len > 1 {
                    order.swap(arg % len, (arg / 7) % len);
                }
            }
            _ => {
                // corrupt one byte of one datagram
                if let Some(d) = out.get_mut(arg % n) {
                    let at = (arg * 31) % d.len();
                    d[at] ^= 1 << (code % 8);
                }
            }
        }
    }
    for &i in &order {
        dg.clear();
        dg.extend_from_slice(out.get(i).expect("index in range"));
        let _ = r.handle_datagram(&dg);
    }
    r.abandon_all();
    while let Some(f) = r.poll_frame() {
        assert_eq!(
            f.bytes(),
            &frame[..],
            "delivered AU differs from the sealed one"
        );
    }
    r.stats()
}
