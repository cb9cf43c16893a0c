//! Ethernet + IPv4/IPv6 + UDP headers for frames written in place (AF_XDP).
//!
//! A [`HeaderTemplate`] is built once per flow (MACs, addresses, ports); per packet only the
//! lengths and checksums change, so [`HeaderTemplate::write`] copies the template and patches
//! them, reusing the precomputed partial sums.
//!
//! ```text
//!  Ethernet II (14)       | dst MAC (6) | src MAC (6) | ethertype (2) |
//!  IPv4 (20, no options)  |ver/ihl|tos| total length | id | flags/frag | ttl | proto | csum | src | dst |
//!  IPv6 (40)              |ver/tc/flow (4)| payload length | next hdr | hop limit | src (16) | dst (16) |
//!  UDP (8)                | src port | dst port | length | checksum |
//! ```
//!
//! The IPv4 header checksum is always computed. The UDP checksum is optional on IPv4 (0 means
//! "none", RFC 768) and mandatory on IPv6 (RFC 8200 §8.1); a computed checksum of 0 is sent as
//! 0xffff.

use std::net::{IpAddr, SocketAddr};

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// IPv4 header length (no options).
pub const IPV4_LEN: usize = 20;
/// IPv6 header length.
pub const IPV6_LEN: usize = 40;
/// UDP header length.
pub const UDP_LEN: usize = 8;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const IPPROTO_UDP: u8 = 17;

/// Internet checksum partial sum over `data` (big-endian 16-bit words; an odd last byte is
/// padded with zero). Fold with [`fold`].
pub fn sum(data: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes(c.try_into().expect("8 bytes"));
        acc += (w >> 48) + ((w >> 32) & 0xffff) + ((w >> 16) & 0xffff) + (w & 0xffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = rest.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Folds a partial sum into the one's-complement checksum field value.
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Precomputed headers of one flow.
#[derive(Debug, Clone)]
pub struct HeaderTemplate {
    bytes: [u8; ETH_LEN + IPV6_LEN + UDP_LEN],
    len: usize,
    v6: bool,
    udp_checksum: bool,
    /// IPv4: header sum without total length and checksum. IPv6: unused.
    ip_partial: u64,
    /// Pseudo-header sum without the length, plus the ports.
    udp_partial: u64,
}

impl HeaderTemplate {
    /// Builds the template. `src` and `dst` must be the same family; `udp_checksum` is forced
    /// on for IPv6.
    pub fn new(
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        src: SocketAddr,
        dst: SocketAddr,
        udp_checksum: bool,
    ) -> Option<Self> {
        let mut b = [0u8; ETH_LEN + IPV6_LEN + UDP_LEN];
        b[0..6].copy_from_slice(&dst_mac);
        b[6..12].copy_from_slice(&src_mac);
        let (v6, ip_len, ip_partial, pseudo) = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                b[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
                let ip = &mut b[ETH_LEN..ETH_LEN + IPV4_LEN];
                ip[0] = 0x45;
                ip[6] = 0x40; // DF
                ip[8] = 64;
                ip[9] = IPPROTO_UDP;
                ip[12..16].copy_from_slice(&s.octets());
                ip[16..20].copy_from_slice(&d.octets());
                let partial = sum(ip);
                let pseudo = sum(&s.octets()) + sum(&d.octets()) + u64::from(IPPROTO_UDP);
                (false, IPV4_LEN, partial, pseudo)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                b[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
                let ip = &mut b[ETH_LEN..ETH_LEN + IPV6_LEN];
                ip[0] = 0x60;
                ip[6] = IPPROTO_UDP;
                ip[7] = 64;
                ip[8..24].copy_from_slice(&s.octets());
                ip[24..40].copy_from_slice(&d.octets());
                let pseudo = sum(&s.octets()) + sum(&d.octets()) + u64::from(IPPROTO_UDP);
                (true, IPV6_LEN, 0, pseudo)
            }
            _ => return None,
        };
        let udp = ETH_LEN + ip_len;
        b[udp..udp + 2].copy_from_slice(&src.port().to_be_bytes());
        b[udp + 2..udp + 4].copy_from_slice(&dst.port().to_be_bytes());
        let udp_partial = pseudo + u64::from(src.port()) + u64::from(dst.port());
        Some(Self {
            bytes: b,
            len: udp + UDP_LEN,
            v6,
            udp_checksum: udp_checksum || v6,
            ip_partial,
            udp_partial,
        })
    }

    /// Bytes of headers before the UDP payload (42 for IPv4, 62 for IPv6).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a template has headers.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True for IPv6.
    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// Writes the headers for a payload of `payload_len` bytes into `frame[..self.len()]`,
    /// where `frame[self.len()..][..payload_len]` already holds the payload (needed for the
    /// UDP checksum). Returns the frame length, or `None` when `frame` is too short or the
    /// datagram exceeds 65535 bytes.
    pub fn write(&self, frame: &mut [u8], payload_len: usize) -> Option<usize> {
        let total = self.len + payload_len;
        let udp_len = u16::try_from(UDP_LEN + payload_len).ok()?;
        if frame.len() < total {
            return None;
        }
        let (hdr, payload) = frame.split_at_mut(self.len);
        hdr.copy_from_slice(&self.bytes[..self.len]);
        let udp = self.len - UDP_LEN;
        if self.v6 {
            hdr[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&udp_len.to_be_bytes());
        } else {
            let ip_total = u16::try_from(IPV4_LEN + UDP_LEN + payload_len).ok()?;
            hdr[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&ip_total.to_be_bytes());
            let csum = fold(self.ip_partial + u64::from(ip_total));
            hdr[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&csum.to_be_bytes());
        }
        hdr[udp + 4..udp + 6].copy_from_slice(&udp_len.to_be_bytes());
        if self.udp_checksum {
            // udp length counts twice: pseudo-header and UDP header.
            let acc = self.udp_partial + 2 * u64::from(udp_len) + sum(&payload[..payload_len]);
            let mut csum = fold(acc);
            if csum == 0 {
                csum = 0xffff;
            }
            hdr[udp + 6..udp + 8].copy_from_slice(&csum.to_be_bytes());
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straightforward RFC 1071 checksum, the reference.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            acc += u32::from(w);
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to ddf2 → checksum 220d.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), !0xddf2);
        assert_eq!(reference(&d), 0x220d);
    }

    #[test]
    fn known_ipv4_header_checksum() {
        // The classic example header 4500 0073 0000 4000 4011 ____ c0a8 0001 c0a8 00c7 → b861.
        let t = HeaderTemplate::new(
            [0; 6],
            [0; 6],
            "192.168.0.1:1".parse().unwrap(),
            "192.168.0.199:2".parse().unwrap(),
            false,
        )
        .unwrap();
        let mut f = vec![0u8; 14 + 0x73];
        t.write(&mut f, 0x73 - 28).unwrap();
        assert_eq!(&f[14 + 10..14 + 12], &[0xb8, 0x61]);
        assert_eq!(&f[14 + 26..14 + 28], &[0, 0], "IPv4 UDP checksum off");
    }

    fn udp_pseudo_check(frame: &[u8], v6: bool) -> u16 {
        // Recompute over pseudo-header + UDP header + payload: a valid checksum folds to 0.
        let (src, dst, udp) = if v6 {
            (&frame[22..38], &frame[38..54], &frame[54..])
        } else {
            (&frame[26..30], &frame[30..34], &frame[34..])
        };
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(src);
        pseudo.extend_from_slice(dst);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(udp);
        reference(&pseudo)
    }

    proptest! {
        #[test]
        fn sum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(fold(sum(&data)), reference(&data));
        }

        #[test]
        fn headers_verify(payload in proptest::collection::vec(any::<u8>(), 0..2000), v6: bool, sport: u16, dport: u16) {
            let (src, dst): (SocketAddr, SocketAddr) = if v6 {
                (format!("[fd77::1]:{sport}").parse().unwrap(), format!("[fd77::2]:{dport}").parse().unwrap())
            } else {
                (format!("10.77.1.1:{sport}").parse().unwrap(), format!("10.77.1.2:{dport}").parse().unwrap())
            };
            let t = HeaderTemplate::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], src, dst, true).unwrap();
            let mut frame = vec![0u8; t.len() + payload.len()];
            frame[t.len()..].copy_from_slice(&payload);
            let n = t.write(&mut frame, payload.len()).unwrap();
            prop_assert_eq!(n, frame.len());
            prop_assert_eq!(&frame[0..6], &[2, 0, 0, 0, 0, 2]);
            if !v6 {
                prop_assert_eq!(reference(&frame[14..34]), 0, "IPv4 header checksum");
                prop_assert_eq!(u16::from_be_bytes([frame[16], frame[17]]) as usize, 28 + payload.len());
            } else {
                prop_assert_eq!(u16::from_be_bytes([frame[18], frame[19]]) as usize, 8 + payload.len());
            }
            prop_assert_eq!(udp_pseudo_check(&frame, v6), 0, "UDP checksum");
            prop_assert_eq!(&frame[t.len()..], &payload[..]);
        }
    }

    #[test]
    fn mixed_families_and_short_frames_are_refused() {
        let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "[::1]:1".parse().unwrap();
        assert!(HeaderTemplate::new([0; 6], [0; 6], a, b, false).is_none());
        let t = HeaderTemplate::new([0; 6], [0; 6], a, a, false).unwrap();
        let mut f = [0u8; 50];
        assert!(t.write(&mut f, 9).is_none());
        assert_eq!(t.write(&mut f, 8), Some(50));
    }
}
