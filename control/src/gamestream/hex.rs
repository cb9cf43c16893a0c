//! Hex as GameStream uses it: the host emits uppercase, clients emit lowercase; both parse.

/// Why a hex string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// Odd number of digits.
    #[error("odd number of hex digits")]
    OddLength,
    /// A character that is not a hex digit, at this index.
    #[error("invalid hex digit at {0}")]
    InvalidDigit(usize),
}

/// Uppercase hex of `bytes`.
pub fn encode_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn nibble(c: u8, at: usize) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::InvalidDigit(at)),
    }
}

/// Decodes hex digits of either case.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    b.chunks_exact(2)
        .enumerate()
        .map(|(i, p)| Ok(nibble(p[0], 2 * i)? << 4 | nibble(p[1], 2 * i + 1)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(encode_upper(&[0x00, 0xab, 0x7f]), "00AB7F");
        assert_eq!(decode("00ab7F").unwrap(), vec![0x00, 0xab, 0x7f]);
        assert_eq!(decode("abc").unwrap_err(), HexError::OddLength);
        assert_eq!(decode("0g").unwrap_err(), HexError::InvalidDigit(1));
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }
}
