//! The DESCRIBE reply body: the host's capability lines (gamestream-protocol.md §4.3).
//!
//! Not real SDP: the client searches the text for substrings. The surround-params lines
//! are the identity mappings of §7.3 (normal quality rotated into GFE order, high quality
//! as is), for 2, 6 and 8 channels.

use core::fmt::Write;

use super::message::{BufferTooSmall, SliceWriter, emit_into, emit_vec, measured};

/// The `a=fmtp:97 surround-params=` lines: per channel count, normal then high quality.
pub const SURROUND_PARAMS: [&str; 6] = [
    "21101",       // stereo, normal
    "21101",       // stereo, high
    "642012453",   // 5.1 normal (GFE order: last digit is the LFE slot)
    "660012345",   // 5.1 high
    "85301245673", // 7.1 normal
    "88001234567", // 7.1 high
];

/// What the host offers in DESCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DescribeCaps {
    /// Host feature flags (§9.3: 0x01 pen/touch, 0x02 controller touchpad/motion).
    pub feature_flags: u32,
    /// Encryption the host can do (§9.4 bits).
    pub encryption_supported: u32,
    /// Encryption the host wants even without client opt-in.
    pub encryption_requested: u32,
    /// Reference frame invalidation is supported.
    pub ref_pic_invalidation: bool,
    /// HEVC offered (only if `ServerCodecModeSupport` has HEVC and `MaxLumaPixelsHEVC` > 0).
    pub hevc: bool,
    /// AV1 offered (only if `ServerCodecModeSupport` has an AV1 bit).
    pub av1: bool,
}

impl DescribeCaps {
    fn write(&self, w: &mut SliceWriter<'_>) {
        // Writing into a SliceWriter cannot fail.
        let _ = write!(
            w,
            "a=x-ss-general.featureFlags:{}\r\na=x-ss-general.encryptionSupported:{}\r\na=x-ss-general.encryptionRequested:{}\r\n",
            self.feature_flags, self.encryption_supported, self.encryption_requested
        );
        if self.ref_pic_invalidation {
            w.put(b"a=x-nv-video[0].refPicInvalidation:1\r\n");
        }
        if self.hevc {
            w.put(b"sprop-parameter-sets=AAAAAU\r\n");
        }
        if self.av1 {
            w.put(b"a=rtpmap:98 AV1/90000\r\n");
        }
        for p in SURROUND_PARAMS {
            let _ = write!(w, "a=fmtp:97 surround-params={p}\r\n");
        }
    }

    /// Bytes [`DescribeCaps::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        measured(|w| self.write(w))
    }

    /// Writes the body into the start of `out`; returns the bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        emit_into(out, |w| self.write(w))
    }

    /// The body as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        emit_vec(|w| self.write(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appendix C.2's DESCRIBE body, line for line.
    #[test]
    fn matches_appendix_c2() {
        let caps = DescribeCaps {
            feature_flags: 3,
            encryption_supported: 5,
            encryption_requested: 1,
            ref_pic_invalidation: false,
            hevc: true,
            av1: true,
        };
        let body = String::from_utf8(caps.to_vec()).unwrap();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(
            lines,
            [
                "a=x-ss-general.featureFlags:3",
                "a=x-ss-general.encryptionSupported:5",
                "a=x-ss-general.encryptionRequested:1",
                "sprop-parameter-sets=AAAAAU",
                "a=rtpmap:98 AV1/90000",
                "a=fmtp:97 surround-params=21101",
                "a=fmtp:97 surround-params=21101",
                "a=fmtp:97 surround-params=642012453",
                "a=fmtp:97 surround-params=660012345",
                "a=fmtp:97 surround-params=85301245673",
                "a=fmtp:97 surround-params=88001234567",
            ]
        );
        assert!(!body.contains('\0'));
    }

    /// The client's conversion of a normal-quality layout (§7.3: move the last digit to
    /// the LFE slot) must yield the identity mapping for 5.1 and 7.1.
    #[test]
    fn normal_quality_layouts_become_identity_on_the_client() {
        for p in [SURROUND_PARAMS[2], SURROUND_PARAMS[4]] {
            let d: Vec<u8> = p.bytes().map(|b| b - b'0').collect();
            let c = d[0] as usize;
            let mut map = d[3..3 + c].to_vec();
            let last = map.pop().unwrap();
            map.insert(3, last);
            assert_eq!(map, (0..c as u8).collect::<Vec<_>>(), "{p}");
        }
        let caps = DescribeCaps::default();
        let body = caps.to_vec();
        assert!(!String::from_utf8(body).unwrap().contains("AV1"));
    }
}
