//! Shared error type and bounds-checked cursors for the control-plane codecs.

use thiserror::Error;

/// Why a control-plane message could not be parsed or emitted.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The input ended inside a required (or partially present) field.
    #[error("message truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed to read the field.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The message does not start with the expected magic.
    #[error("bad magic")]
    BadMagic,
    /// A fixed-size typed message has the wrong length.
    #[error("message type {ty:#04x} has length {len}")]
    BadLength {
        /// The message type.
        ty: u8,
        /// Its payload length.
        len: usize,
    },
    /// A length-prefixed string exceeds the protocol's bound.
    #[error("field {field} is {len} bytes, more than {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A string field is not UTF-8.
    #[error("field {0} is not UTF-8")]
    NotUtf8(&'static str),
    /// The Welcome names a cipher this implementation does not know (fail-closed, §4.3).
    #[error("unknown cipher {0}")]
    UnknownCipher(u8),
    /// The output buffer is shorter than [`Wire::buffer_len`].
    #[error("output buffer too small: need {need}, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A control frame payload exceeds 65535 bytes.
    #[error("frame payload of {0} bytes exceeds 65535")]
    FrameTooLong(usize),
}

/// A message with a fixed wire encoding: emitted into a caller-provided buffer.
pub trait Wire {
    /// Exact number of bytes [`emit`](Wire::emit) writes.
    fn buffer_len(&self) -> usize;
    /// Writes the message to the front of `buf`, returning the number of bytes written.
    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError>;
}

/// Bounds-checked little-endian reader over untrusted bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError::Truncated {
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// `len u8 ‖ UTF-8`, bounded by `max`.
    pub(crate) fn str8(&mut self, field: &'static str, max: usize) -> Result<&'a str, WireError> {
        let len = self.u8()? as usize;
        if len > max {
            return Err(WireError::TooLong { field, len, max });
        }
        std::str::from_utf8(self.bytes(len)?).map_err(|_| WireError::NotUtf8(field))
    }
}

/// Bounds-checked little-endian writer into a caller-provided buffer.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer that first checks the whole message (`need` bytes) fits.
    pub(crate) fn new(buf: &'a mut [u8], need: usize) -> Result<Self, WireError> {
        if buf.len() < need {
            return Err(WireError::BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        Ok(Self { buf, pos: 0 })
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    // The constructor checked the total size; `buffer_len` and `emit` are kept in agreement
    // by the round-trip tests, so slicing here cannot go out of bounds for correct callers.
    // A mismatch would be a bug in this crate, caught by those tests.
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn str8(&mut self, s: &str) {
        self.u8(s.len() as u8);
        self.bytes(s.as_bytes());
    }
}
