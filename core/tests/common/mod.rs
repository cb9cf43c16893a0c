//! Helpers shared by the punktfunk/1 data-plane integration tests.
#![allow(dead_code)]

use punktfunk_core::crypto::AeadKey;
use punktfunk_core::native::data::{
    DataCipher, FrameSealer, Reassembler, ReassemblerConfig, SealerConfig,
};

/// Spec §5.8 key `10 11 … 1f`.
pub const SPEC_KEY: [u8; 16] = [
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];
/// Spec §5.8 salt.
pub const SPEC_SALT: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
/// Spec §5.8 pts.
pub const SPEC_PTS: u64 = 1_700_000_000_123_456_789;

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The synthetic test AU of spec §5.7: u32 LE index, then byte[i] = (index + i) mod 256.
pub fn test_frame(index: u32, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (index as usize + i) as u8).collect();
    let n = len.min(4);
    v[..n].copy_from_slice(&index.to_le_bytes()[..n]);
    v
}

pub fn sealed(key: [u8; 16], salt: [u8; 4]) -> DataCipher {
    DataCipher::Sealed {
        key: AeadKey::aes128_gcm(&key),
        salt,
    }
}

pub fn sealer(s: usize, k: usize) -> FrameSealer {
    FrameSealer::new(SealerConfig::new(sealed(SPEC_KEY, SPEC_SALT), s, k)).unwrap()
}

pub fn reassembler(s: usize, k: usize) -> Reassembler {
    Reassembler::new(ReassemblerConfig::new(sealed(SPEC_KEY, SPEC_SALT), s, k))
}
