//! Control-stream framing: `u16 LE length ‖ payload` (§2.4).

use super::wire::{Wire, WireError};

/// Bytes of the length prefix.
pub const FRAME_HEADER_LEN: usize = 2;
/// Largest payload a frame can carry.
pub const MAX_FRAME_PAYLOAD: usize = u16::MAX as usize;

/// Writes `msg` framed (`u16 LE length ‖ payload`) to the front of `buf`.
pub fn emit_framed<W: Wire + ?Sized>(msg: &W, buf: &mut [u8]) -> Result<usize, WireError> {
    let len = msg.buffer_len();
    if len > MAX_FRAME_PAYLOAD {
        return Err(WireError::FrameTooLong(len));
    }
    let need = FRAME_HEADER_LEN + len;
    if buf.len() < need {
        return Err(WireError::BufferTooSmall {
            need,
            have: buf.len(),
        });
    }
    buf[..2].copy_from_slice(&(len as u16).to_le_bytes());
    let n = msg.emit(&mut buf[2..])?;
    debug_assert_eq!(n, len);
    Ok(need)
}

/// Appends `msg` framed to `out` (convenience for senders that build a stream buffer).
pub fn push_framed<W: Wire + ?Sized>(msg: &W, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    out.resize(start + FRAME_HEADER_LEN + msg.buffer_len(), 0);
    let n = emit_framed(msg, &mut out[start..])?;
    out.truncate(start + n);
    Ok(())
}

/// A resumable reader of framed control messages: push stream bytes as they arrive, take
/// complete frames out. Partial frames are kept across pushes.
///
/// The buffer grows to at most one pushed chunk plus one frame (65537 bytes) and is reused.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    head: usize,
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received stream bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }

    /// The next complete frame's payload, if one is buffered.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        let avail = &self.buf[self.head..];
        if avail.len() < FRAME_HEADER_LEN {
            return None;
        }
        let len = u16::from_le_bytes([avail[0], avail[1]]) as usize;
        if avail.len() < FRAME_HEADER_LEN + len {
            return None;
        }
        let start = self.head + FRAME_HEADER_LEN;
        self.head = start + len;
        Some(&self.buf[start..start + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::control::message::Message;
    use proptest::prelude::*;

    #[test]
    fn frames_survive_any_split() {
        let mut stream = Vec::new();
        push_framed(&Message::RequestKeyframe, &mut stream).unwrap();
        push_framed(&Message::LossReport { loss_ppm: 1234 }, &mut stream).unwrap();
        stream.extend_from_slice(&[0, 0]); // a legal zero-length frame
        assert_eq!(&stream[..2], &[5, 0]);
        for split in 0..=stream.len() {
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            r.push(&stream[..split]);
            while let Some(f) = r.next_frame() {
                got.push(f.to_vec());
            }
            r.push(&stream[split..]);
            while let Some(f) = r.next_frame() {
                got.push(f.to_vec());
            }
            assert_eq!(got.len(), 3, "split {split}");
            assert_eq!(Message::parse(&got[0]).unwrap(), Message::RequestKeyframe);
            assert_eq!(
                Message::parse(&got[1]).unwrap(),
                Message::LossReport { loss_ppm: 1234 }
            );
            assert!(got[2].is_empty());
            assert_eq!(r.pending(), 0);
        }
    }

    proptest! {
        #[test]
        fn byte_at_a_time_equals_whole(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let mut stream = Vec::new();
            for p in &payloads {
                stream.extend_from_slice(&(p.len() as u16).to_le_bytes());
                stream.extend_from_slice(p);
            }
            let mut r = FrameReader::new();
            let mut got = Vec::new();
            for b in &stream {
                r.push(std::slice::from_ref(b));
                while let Some(f) = r.next_frame() { got.push(f.to_vec()); }
            }
            prop_assert_eq!(got, payloads);
        }
    }
}
