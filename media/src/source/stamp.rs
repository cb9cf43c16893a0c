//! A 128-bit stamp drawn into pictures as big black/white blocks: frame number, capture
//! timestamp and a check word. Blocks are large enough to survive lossy encoding and 4:2:0
//! chroma subsampling, so a client decodes the stamp from the decoded picture and measures
//! capture→display latency and detects repeated or skipped frames.
//!
//! Layout: 32 columns × 4 rows of square blocks of [`block_size`] pixels in the top-left
//! corner; bit `i` (most significant first: frame number, timestamp, check) is block
//! (`i % 32`, `i / 32`), white for 1, black for 0.

/// Columns of stamp blocks.
pub const STAMP_COLS: u32 = 32;
/// Rows of stamp blocks.
pub const STAMP_ROWS: u32 = 4;

/// What a picture carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Source frame number (low 32 bits).
    pub frame_number: u32,
    /// Capture time, monotonic nanoseconds.
    pub capture_ts_ns: u64,
}

impl Stamp {
    fn check(&self) -> u32 {
        // splitmix64 finaliser over both fields: any misread bit changes the check.
        let mut z = (self.frame_number as u64) ^ self.capture_ts_ns.rotate_left(17);
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u32
    }

    /// The 128 bits as drawn.
    pub fn to_bits(&self) -> u128 {
        ((self.frame_number as u128) << 96)
            | ((self.capture_ts_ns as u128) << 32)
            | self.check() as u128
    }

    /// Parses drawn bits; `None` when the check word does not match.
    pub fn from_bits(bits: u128) -> Option<Self> {
        let s = Stamp {
            frame_number: (bits >> 96) as u32,
            capture_ts_ns: (bits >> 32) as u64,
        };
        (s.check() == bits as u32).then_some(s)
    }
}

/// Side of one stamp block for a picture size, or `None` when the picture is too small
/// (a stamp needs at least 128×16 pixels).
pub fn block_size(width: u32, height: u32) -> Option<u32> {
    let bs = (width / 40).clamp(4, 48).min((height / 8).max(4));
    (bs >= 4 && bs * STAMP_COLS <= width && bs * STAMP_ROWS <= height).then_some(bs)
}

/// Draws `stamp` through `fill(x, y, w, h, white)`, which paints a rectangle.
pub fn draw_stamp(
    width: u32,
    height: u32,
    stamp: &Stamp,
    mut fill: impl FnMut(u32, u32, u32, u32, bool),
) {
    let Some(bs) = block_size(width, height) else {
        return;
    };
    let bits = stamp.to_bits();
    for i in 0..STAMP_COLS * STAMP_ROWS {
        let bit = (bits >> (127 - i)) & 1 == 1;
        fill((i % STAMP_COLS) * bs, (i / STAMP_COLS) * bs, bs, bs, bit);
    }
}

/// Reads a stamp back through `luma(x, y)`; `None` when the picture is too small or the
/// check word does not match (no stamp, or too damaged).
pub fn read_stamp(width: u32, height: u32, luma: impl Fn(u32, u32) -> u8) -> Option<Stamp> {
    let bs = block_size(width, height)?;
    // Average the inner half of each block: edges blur under lossy coding.
    let (lo, hi) = (bs / 4, bs - bs / 4);
    let mut bits = 0u128;
    for i in 0..STAMP_COLS * STAMP_ROWS {
        let (x0, y0) = ((i % STAMP_COLS) * bs, (i / STAMP_COLS) * bs);
        let (mut sum, mut n) = (0u32, 0u32);
        for y in lo..hi {
            for x in lo..hi {
                sum += luma(x0 + x, y0 + y) as u32;
                n += 1;
            }
        }
        bits = (bits << 1) | (sum / n >= 128) as u128;
    }
    Stamp::from_bits(bits)
}

/// Reads a stamp from an 8-bit luma plane (e.g. the Y plane a decoder returns).
pub fn read_stamp_luma(plane: &[u8], stride: usize, width: u32, height: u32) -> Option<Stamp> {
    if plane.len() < stride * height as usize {
        return None;
    }
    read_stamp(width, height, |x, y| {
        plane[y as usize * stride + x as usize]
    })
}

/// Reads a stamp from a raw frame of any supported format.
pub fn read_stamp_frame(frame: &crate::frame::VideoFrame) -> Option<Stamp> {
    read_stamp(frame.width, frame.height, |x, y| frame.luma_at(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_roundtrip_and_check_catches_flips() {
        let s = Stamp {
            frame_number: 0xDEAD_BEEF,
            capture_ts_ns: 0x0123_4567_89AB_CDEF,
        };
        assert_eq!(Stamp::from_bits(s.to_bits()), Some(s));
        for bit in 0..128 {
            assert_eq!(
                Stamp::from_bits(s.to_bits() ^ (1u128 << bit)),
                None,
                "bit {bit}"
            );
        }
    }

    #[test]
    fn draw_then_read_on_a_plane() {
        let (w, h) = (320u32, 180u32);
        let mut plane = vec![90u8; (w * h) as usize];
        let s = Stamp {
            frame_number: 77,
            capture_ts_ns: 123_456_789_012,
        };
        draw_stamp(w, h, &s, |x, y, bw, bh, white| {
            for yy in y..y + bh {
                for xx in x..x + bw {
                    plane[(yy * w + xx) as usize] = if white { 255 } else { 0 };
                }
            }
        });
        assert_eq!(read_stamp_luma(&plane, w as usize, w, h), Some(s));
        // A blank picture carries no stamp.
        assert_eq!(
            read_stamp_luma(&vec![0; (w * h) as usize], w as usize, w, h),
            None
        );
    }

    #[test]
    fn too_small_pictures_have_no_stamp() {
        assert_eq!(block_size(100, 100), None);
        assert!(block_size(128, 16).is_some());
        assert_eq!(block_size(1920, 1080), Some(48));
    }
}
