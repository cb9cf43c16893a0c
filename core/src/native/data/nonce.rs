//! AEAD nonce and AAD of a data-plane datagram (spec §5.3).
//!
//! nonce (12 B) = `salt'` (4 B) ‖ seq (8 B, big-endian), where `salt'` is the Welcome salt
//! with the top bit of byte 0 replaced by the sender's direction. AAD = the 8 clear seq bytes
//! that lead the datagram.

use crate::crypto::NONCE_LEN;

use super::SEQ_LEN;

/// Who sealed a datagram; selects the top bit of the nonce's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Host to client (video): bit clear.
    HostToClient,
    /// Client to host: bit set.
    ClientToHost,
}

/// The per-session nonce prefix: salt with the direction bit applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncePrefix([u8; 4]);

impl NoncePrefix {
    /// Applies `direction` to the Welcome `salt`.
    pub const fn new(salt: [u8; 4], direction: Direction) -> Self {
        let mut p = salt;
        p[0] = match direction {
            Direction::HostToClient => p[0] & 0x7F,
            Direction::ClientToHost => p[0] | 0x80,
        };
        Self(p)
    }

    /// The 4 prefix bytes.
    pub const fn bytes(&self) -> [u8; 4] {
        self.0
    }

    /// The nonce of datagram `seq`.
    #[inline]
    pub fn nonce(&self, seq: u64) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        n[..4].copy_from_slice(&self.0);
        n[4..].copy_from_slice(&seq.to_be_bytes());
        n
    }
}

/// The AAD (and clear datagram prefix) of datagram `seq`: its big-endian bytes.
#[inline]
pub const fn aad(seq: u64) -> [u8; SEQ_LEN] {
    seq.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_nonce_prefix_and_layout() {
        // §5.3: salt a1 b2 c3 d4 → host nonce prefix 21 b2 c3 d4.
        let host = NoncePrefix::new([0xa1, 0xb2, 0xc3, 0xd4], Direction::HostToClient);
        assert_eq!(host.bytes(), [0x21, 0xb2, 0xc3, 0xd4]);
        let client = NoncePrefix::new([0x21, 0xb2, 0xc3, 0xd4], Direction::ClientToHost);
        assert_eq!(client.bytes(), [0xa1, 0xb2, 0xc3, 0xd4]);
        assert_eq!(
            host.nonce(0x0102_0304_0506_0708),
            [0x21, 0xb2, 0xc3, 0xd4, 1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(aad(1), [0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
