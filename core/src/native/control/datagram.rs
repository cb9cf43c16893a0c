//! Side planes: QUIC DATAGRAM frames demultiplexed by their first byte (§6).

use super::wire::{Reader, Wire, WireError, Writer};

/// Side-plane tags (first byte of a QUIC DATAGRAM).
pub mod tag {
    /// Input event (C→H), 18 bytes.
    pub const INPUT: u8 = 0xC8;
    /// Opus audio (H→C).
    pub const AUDIO: u8 = 0xC9;
    /// Rumble (H→C).
    pub const RUMBLE: u8 = 0xCA;
    /// Microphone Opus (C→H).
    pub const MIC: u8 = 0xCB;
    /// Rich input (C→H).
    pub const RICH_INPUT: u8 = 0xCC;
    /// HID output (H→C).
    pub const HID_OUTPUT: u8 = 0xCD;
    /// HDR static metadata (H→C).
    pub const HDR_META: u8 = 0xCE;
    /// Host timing (H→C).
    pub const HOST_TIMING: u8 = 0xCF;
    /// Cursor state (H→C).
    pub const CURSOR_STATE: u8 = 0xD0;
    /// Pad audio (H→C).
    pub const PAD_AUDIO: u8 = 0xD1;
    /// Redundant Opus (H→C).
    pub const AUDIO_RED: u8 = 0xD2;
    /// PCM audio (H→C).
    pub const PCM_AUDIO: u8 = 0xD3;
}

/// Length of an input event datagram.
pub const INPUT_EVENT_LEN: usize = 18;

/// Input event kinds (§6).
pub mod input_kind {
    /// Key down (code = Windows virtual-key).
    pub const KEY_DOWN: u8 = 0;
    /// Key up.
    pub const KEY_UP: u8 = 1;
    /// Relative mouse move (x, y = dx, dy).
    pub const MOUSE_MOVE: u8 = 2;
    /// Absolute mouse move (flags = width << 16 | height).
    pub const MOUSE_MOVE_ABS: u8 = 3;
    /// Mouse button down (code 1 left … 5 X2).
    pub const MOUSE_BUTTON_DOWN: u8 = 4;
    /// Mouse button up.
    pub const MOUSE_BUTTON_UP: u8 = 5;
    /// Scroll (x = signed delta, code 1 = horizontal).
    pub const MOUSE_SCROLL: u8 = 6;
    /// Gamepad button.
    pub const GAMEPAD_BUTTON: u8 = 7;
    /// Gamepad axis.
    pub const GAMEPAD_AXIS: u8 = 8;
    /// Touch down.
    pub const TOUCH_DOWN: u8 = 9;
    /// Touch move.
    pub const TOUCH_MOVE: u8 = 10;
    /// Touch up.
    pub const TOUCH_UP: u8 = 11;
    /// Full gamepad snapshot.
    pub const GAMEPAD_STATE: u8 = 12;
    /// Gamepad removed.
    pub const GAMEPAD_REMOVE: u8 = 13;
    /// Gamepad arrived.
    pub const GAMEPAD_ARRIVAL: u8 = 14;
    /// Text input (code = Unicode scalar).
    pub const TEXT_INPUT: u8 = 15;
}

/// A view over an 18-byte input event datagram (`tag, kind u8, code u32, x i32, y i32,
/// flags u32`, LE).
#[derive(Debug, Clone, Copy)]
pub struct InputEventPacket<T: AsRef<[u8]>> {
    buffer: T,
}

mod field {
    use core::ops::Range;
    pub const TAG: usize = 0;
    pub const KIND: usize = 1;
    pub const CODE: Range<usize> = 2..6;
    pub const X: Range<usize> = 6..10;
    pub const Y: Range<usize> = 10..14;
    pub const FLAGS: Range<usize> = 14..18;
}

impl<T: AsRef<[u8]>> InputEventPacket<T> {
    /// Wraps a buffer without checks.
    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }
    /// Wraps a buffer after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Ensures the buffer holds a whole event (longer buffers are accepted).
    pub fn check_len(&self) -> Result<(), WireError> {
        let have = self.buffer.as_ref().len();
        if have < INPUT_EVENT_LEN {
            return Err(WireError::Truncated {
                need: INPUT_EVENT_LEN,
                have,
            });
        }
        Ok(())
    }
    fn le32(&self, r: core::ops::Range<usize>) -> [u8; 4] {
        let mut out = [0u8; 4];
        out.copy_from_slice(&self.buffer.as_ref()[r]);
        out
    }
    /// The side-plane tag (0xC8 for a real input event).
    pub fn tag(&self) -> u8 {
        self.buffer.as_ref()[field::TAG]
    }
    /// Event kind.
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }
    /// Key/button code.
    pub fn code(&self) -> u32 {
        u32::from_le_bytes(self.le32(field::CODE))
    }
    /// X (or dx).
    pub fn x(&self) -> i32 {
        i32::from_le_bytes(self.le32(field::X))
    }
    /// Y (or dy).
    pub fn y(&self) -> i32 {
        i32::from_le_bytes(self.le32(field::Y))
    }
    /// Flags.
    pub fn flags(&self) -> u32 {
        u32::from_le_bytes(self.le32(field::FLAGS))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> InputEventPacket<T> {
    /// Sets the tag.
    pub fn set_tag(&mut self, v: u8) {
        self.buffer.as_mut()[field::TAG] = v;
    }
    /// Sets the kind.
    pub fn set_kind(&mut self, v: u8) {
        self.buffer.as_mut()[field::KIND] = v;
    }
    /// Sets the code.
    pub fn set_code(&mut self, v: u32) {
        self.buffer.as_mut()[field::CODE].copy_from_slice(&v.to_le_bytes());
    }
    /// Sets x.
    pub fn set_x(&mut self, v: i32) {
        self.buffer.as_mut()[field::X].copy_from_slice(&v.to_le_bytes());
    }
    /// Sets y.
    pub fn set_y(&mut self, v: i32) {
        self.buffer.as_mut()[field::Y].copy_from_slice(&v.to_le_bytes());
    }
    /// Sets the flags.
    pub fn set_flags(&mut self, v: u32) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&v.to_le_bytes());
    }
}

/// A decoded input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEventRepr {
    /// Kind (see [`input_kind`]).
    pub kind: u8,
    /// Code.
    pub code: u32,
    /// X.
    pub x: i32,
    /// Y.
    pub y: i32,
    /// Flags.
    pub flags: u32,
}

impl InputEventRepr {
    /// Parses a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &InputEventPacket<T>) -> Result<Self, WireError> {
        p.check_len()?;
        Ok(Self {
            kind: p.kind(),
            code: p.code(),
            x: p.x(),
            y: p.y(),
            flags: p.flags(),
        })
    }
}

impl Wire for InputEventRepr {
    fn buffer_len(&self) -> usize {
        INPUT_EVENT_LEN
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        if buf.len() < INPUT_EVENT_LEN {
            return Err(WireError::BufferTooSmall {
                need: INPUT_EVENT_LEN,
                have: buf.len(),
            });
        }
        let mut p = InputEventPacket::new_unchecked(&mut buf[..INPUT_EVENT_LEN]);
        p.set_tag(tag::INPUT);
        p.set_kind(self.kind);
        p.set_code(self.code);
        p.set_x(self.x);
        p.set_y(self.y);
        p.set_flags(self.flags);
        Ok(INPUT_EVENT_LEN)
    }
}

/// An audio-like side-plane datagram header (`tag, seq u32, pts_ns u64, payload`: 0xC9, 0xCB,
/// 0xD3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioRepr<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Presentation time, realtime ns.
    pub pts_ns: u64,
    /// Opus frame or PCM bytes.
    pub payload: &'a [u8],
}

/// One side-plane datagram, demultiplexed by tag. Unknown tags are kept (and ignored by hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideDatagram<'a> {
    /// 0xC8 input event.
    Input(InputEventRepr),
    /// 0xC9 Opus audio.
    Audio(AudioRepr<'a>),
    /// 0xCB microphone Opus.
    Mic(AudioRepr<'a>),
    /// Any other tag with its body (after the tag byte).
    Other {
        /// Tag byte.
        tag: u8,
        /// Bytes after the tag.
        body: &'a [u8],
    },
}

impl<'a> SideDatagram<'a> {
    /// Demultiplexes and parses one QUIC DATAGRAM payload.
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let t = r.u8()?;
        Ok(match t {
            tag::INPUT => Self::Input(InputEventRepr::parse(&InputEventPacket::new_checked(buf)?)?),
            tag::AUDIO | tag::MIC => {
                let a = AudioRepr {
                    seq: r.u32()?,
                    pts_ns: r.u64()?,
                    payload: r.rest(),
                };
                if t == tag::AUDIO {
                    Self::Audio(a)
                } else {
                    Self::Mic(a)
                }
            }
            other => Self::Other {
                tag: other,
                body: r.rest(),
            },
        })
    }
}

impl Wire for AudioRepr<'_> {
    fn buffer_len(&self) -> usize {
        13 + self.payload.len()
    }
    /// Emits with the 0xC9 tag.
    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u8(tag::AUDIO);
        w.u32(self.seq);
        w.u64(self.pts_ns);
        w.bytes(self.payload);
        Ok(w.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn input_event_layout() {
        let e = InputEventRepr {
            kind: input_kind::MOUSE_MOVE,
            code: 0x0102_0304,
            x: -2,
            y: 5,
            flags: 0xAABB,
        };
        let mut buf = [0u8; 18];
        e.emit(&mut buf).unwrap();
        assert_eq!(
            buf,
            [
                0xC8, 2, 4, 3, 2, 1, 0xfe, 0xff, 0xff, 0xff, 5, 0, 0, 0, 0xbb, 0xaa, 0, 0
            ]
        );
        assert_eq!(SideDatagram::parse(&buf).unwrap(), SideDatagram::Input(e));
        assert!(SideDatagram::parse(&buf[..17]).is_err());
        assert!(SideDatagram::parse(&[]).is_err());
        assert_eq!(
            SideDatagram::parse(&[0xCA, 1]).unwrap(),
            SideDatagram::Other {
                tag: 0xCA,
                body: &[1]
            }
        );
    }

    proptest! {
        #[test]
        fn input_round_trip(kind in any::<u8>(), code in any::<u32>(), x in any::<i32>(), y in any::<i32>(), flags in any::<u32>()) {
            let e = InputEventRepr { kind, code, x, y, flags };
            let mut buf = [0u8; 18];
            e.emit(&mut buf).unwrap();
            prop_assert_eq!(SideDatagram::parse(&buf).unwrap(), SideDatagram::Input(e));
        }
    }
}
