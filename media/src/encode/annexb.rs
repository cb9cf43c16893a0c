//! Annex B byte-stream helpers: split an access unit into NAL units and classify them
//! (H.264 / HEVC), used to check that every IDR carries its parameter sets in-band first.

use super::Codec;

/// Iterates the NAL unit payloads (without start codes) of an Annex B access unit.
pub fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| {
            // Trim the start code (and a 4-byte form's leading zero) before the next NAL.
            let mut e = s - 3;
            while e > 0 && data[e - 1] == 0 {
                e -= 1;
            }
            e
        })
        .chain(std::iter::once(data.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .map(move |(s, e)| &data[s..e.max(s)])
}

/// Kind of a NAL unit, as far as stream checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalKind {
    /// HEVC video parameter set.
    Vps,
    /// Sequence parameter set.
    Sps,
    /// Picture parameter set.
    Pps,
    /// IDR / IRAP slice.
    Idr,
    /// Any other slice.
    Slice,
    /// Anything else (SEI, AUD, ...).
    Other,
}

/// Classifies one NAL unit (payload without start code).
pub fn nal_kind(codec: Codec, nal: &[u8]) -> NalKind {
    let Some(&b0) = nal.first() else {
        return NalKind::Other;
    };
    match codec {
        Codec::H264 => match b0 & 0x1f {
            7 => NalKind::Sps,
            8 => NalKind::Pps,
            5 => NalKind::Idr,
            1 => NalKind::Slice,
            _ => NalKind::Other,
        },
        Codec::Hevc => match (b0 >> 1) & 0x3f {
            32 => NalKind::Vps,
            33 => NalKind::Sps,
            34 => NalKind::Pps,
            16..=21 => NalKind::Idr,
            0..=9 => NalKind::Slice,
            _ => NalKind::Other,
        },
        Codec::Av1 => NalKind::Other,
    }
}

/// True when the access unit is a key frame whose parameter sets (SPS+PPS, and VPS for
/// HEVC) all come before its first IDR slice — what Moonlight's depacketizer requires.
pub fn idr_with_parameter_sets(codec: Codec, data: &[u8]) -> bool {
    let (mut vps, mut sps, mut pps) = (false, false, false);
    for nal in nal_units(data) {
        match nal_kind(codec, nal) {
            NalKind::Vps => vps = true,
            NalKind::Sps => sps = true,
            NalKind::Pps => pps = true,
            NalKind::Idr => return sps && pps && (vps || codec != Codec::Hevc),
            NalKind::Slice => return false,
            NalKind::Other => {}
        }
    }
    false
}

/// True when the access unit contains an IDR/IRAP slice.
pub fn contains_idr(codec: Codec, data: &[u8]) -> bool {
    nal_units(data).any(|n| nal_kind(codec, n) == NalKind::Idr)
}

/// Reads bits MSB-first from an RBSP (emulation-prevention bytes already removed).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let b = *self.data.get(self.pos / 8)?;
        let v = (b >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(v as u32)
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }
    /// Unsigned Exp-Golomb.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
}

/// `max_num_ref_frames` of an H.264 SPS NAL unit (with its header byte). `None` when the
/// NAL is not an SPS or uses features this small parser skips (scaling matrices, POC type 1).
pub fn h264_max_num_ref_frames(nal: &[u8]) -> Option<u32> {
    if nal.first()? & 0x1f != 7 {
        return None;
    }
    // Remove emulation-prevention bytes (00 00 03 → 00 00).
    let mut rbsp = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in &nal[1..] {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = Bits {
        data: &rbsp,
        pos: 0,
    };
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        if r.ue()? == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            return None; // seq_scaling_matrix_present_flag
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        2 => {}
        _ => return None,
    }
    r.ue()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let au = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9,
        ];
        let nals: Vec<&[u8]> = nal_units(&au).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 9, 9][..]]
        );
        assert!(idr_with_parameter_sets(Codec::H264, &au));
        // IDR without SPS in front is not enough.
        assert!(!idr_with_parameter_sets(Codec::H264, &au[11..]));
        assert!(contains_idr(Codec::H264, &au[11..]));
    }

    #[test]
    fn sps_parser_never_panics_on_garbage() {
        let mut x = 0x1234_5678u32;
        for len in 0..200 {
            let nal: Vec<u8> = (0..len)
                .map(|i| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    if i == 0 { 0x67 } else { (x >> 24) as u8 }
                })
                .collect();
            let _ = h264_max_num_ref_frames(&nal);
            let _ = nal_units(&nal).count();
        }
        // All-zero payload: Exp-Golomb runs off the end → None.
        assert_eq!(h264_max_num_ref_frames(&[0x67, 0, 0, 0]), None);
    }

    #[test]
    fn hevc_needs_vps() {
        let au = [0, 0, 1, 0x42, 1, 0, 0, 1, 0x44, 1, 0, 0, 1, 0x26, 1];
        assert!(!idr_with_parameter_sets(Codec::Hevc, &au));
        let full = [&[0, 0, 1, 0x40, 1][..], &au].concat();
        assert!(idr_with_parameter_sets(Codec::Hevc, &full));
    }
}
