//! The receive path for the host's port: feedback and pings from clients.
//!
//! [`TxQueue::poll_rx`](crate::TxQueue::poll_rx) hands every waiting datagram to a callback
//! without blocking. Socket engines read their bound UDP socket. The AF_XDP engine, when opened
//! with an RX ring ([`XdpConfig::rx`](crate::xdp::XdpConfig::rx)), first drains its XSK RX
//! ring (frames the XDP steering program redirected: parsed here by [`parse_udp_frame`]) and
//! then its UDP socket (anything not steered, e.g. before the program is attached). Register
//! the engine's [`XdpEngine::xsk_fd`](crate::xdp::XdpEngine::xsk_fd) with
//! `punktfunk_ebpf::XdpSteering::register_xsk(queue, fd)` to switch feedback onto the XSK.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::headers::{ETH_LEN, IPV4_LEN, IPV6_LEN, UDP_LEN};

/// A UDP datagram found in an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFrame<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Destination.
    pub dst: SocketAddr,
    /// UDP payload.
    pub payload: &'a [u8],
}

/// Why a frame is not a plain UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than its headers say.
    #[error("frame truncated")]
    Truncated,
    /// Neither IPv4 nor IPv6 (ethertype given).
    #[error("not IP (ethertype {0:#06x})")]
    NotIp(u16),
    /// IP, but not UDP (protocol / next header given; IPv6 extension headers land here).
    #[error("not UDP (protocol {0})")]
    NotUdp(u8),
    /// An IPv4 fragment.
    #[error("IP fragment")]
    Fragment,
    /// Inconsistent version or length fields.
    #[error("malformed header")]
    Malformed,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Parses Ethernet II + IPv4/IPv6 + UDP. Never panics, whatever the bytes.
pub fn parse_udp_frame(frame: &[u8]) -> Result<UdpFrame<'_>, FrameError> {
    if frame.len() < ETH_LEN {
        return Err(FrameError::Truncated);
    }
    let ethertype = be16(frame, 12);
    let ip = &frame[ETH_LEN..];
    let (src_ip, dst_ip, l4): (IpAddr, IpAddr, &[u8]) = match ethertype {
        0x0800 => {
            if ip.len() < IPV4_LEN {
                return Err(FrameError::Truncated);
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ip[0] >> 4 != 4 || ihl < IPV4_LEN {
                return Err(FrameError::Malformed);
            }
            let total = usize::from(be16(ip, 2));
            if total < ihl {
                return Err(FrameError::Malformed);
            }
            if ip.len() < total {
                return Err(FrameError::Truncated);
            }
            if be16(ip, 6) & 0x3fff != 0 {
                return Err(FrameError::Fragment);
            }
            if ip[9] != 17 {
                return Err(FrameError::NotUdp(ip[9]));
            }
            let s: [u8; 4] = ip[12..16].try_into().map_err(|_| FrameError::Truncated)?;
            let d: [u8; 4] = ip[16..20].try_into().map_err(|_| FrameError::Truncated)?;
            (
                Ipv4Addr::from(s).into(),
                Ipv4Addr::from(d).into(),
                &ip[ihl..total],
            )
        }
        0x86dd => {
            if ip.len() < IPV6_LEN {
                return Err(FrameError::Truncated);
            }
            if ip[0] >> 4 != 6 {
                return Err(FrameError::Malformed);
            }
            if ip[6] != 17 {
                return Err(FrameError::NotUdp(ip[6]));
            }
            let plen = usize::from(be16(ip, 4));
            if ip.len() < IPV6_LEN + plen {
                return Err(FrameError::Truncated);
            }
            let s: [u8; 16] = ip[8..24].try_into().map_err(|_| FrameError::Truncated)?;
            let d: [u8; 16] = ip[24..40].try_into().map_err(|_| FrameError::Truncated)?;
            (
                Ipv6Addr::from(s).into(),
                Ipv6Addr::from(d).into(),
                &ip[IPV6_LEN..IPV6_LEN + plen],
            )
        }
        other => return Err(FrameError::NotIp(other)),
    };
    if l4.len() < UDP_LEN {
        return Err(FrameError::Truncated);
    }
    let udp_len = usize::from(be16(l4, 4));
    if udp_len < UDP_LEN {
        return Err(FrameError::Malformed);
    }
    if udp_len > l4.len() {
        return Err(FrameError::Truncated);
    }
    Ok(UdpFrame {
        src: SocketAddr::new(src_ip, be16(l4, 0)),
        dst: SocketAddr::new(dst_ip, be16(l4, 2)),
        payload: &l4[UDP_LEN..udp_len],
    })
}

/// Fuzz entry point (`fuzz/fuzz_targets/datapath_udp_frame.rs`): parse arbitrary bytes.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(f) = parse_udp_frame(data) {
        // The payload is always inside the input.
        assert!(f.payload.len() <= data.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::HeaderTemplate;
    use proptest::prelude::*;

    fn build(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
        let t = HeaderTemplate::new([2; 6], [4; 6], src, dst, true).unwrap();
        let mut f = vec![0u8; t.len() + payload.len()];
        f[t.len()..].copy_from_slice(payload);
        t.write(&mut f, payload.len()).unwrap();
        f
    }

    #[test]
    fn parses_what_the_template_writes() {
        for (s, d) in [
            ("10.0.0.1:4000", "10.0.0.2:47998"),
            ("[fd00::1]:4000", "[fd00::2]:47998"),
        ] {
            let (s, d) = (s.parse().unwrap(), d.parse().unwrap());
            let mut f = build(s, d, b"feedback");
            f.extend_from_slice(&[0; 6]); // Ethernet padding after the datagram is ignored
            let u = parse_udp_frame(&f).unwrap();
            assert_eq!((u.src, u.dst, u.payload), (s, d, &b"feedback"[..]));
        }
    }

    #[test]
    fn rejects_what_is_not_plain_udp() {
        let s = "10.0.0.1:1".parse().unwrap();
        let f = build(s, "10.0.0.2:2".parse().unwrap(), b"x");
        assert_eq!(parse_udp_frame(&f[..13]), Err(FrameError::Truncated));
        assert_eq!(
            parse_udp_frame(&f[..f.len() - 1]),
            Err(FrameError::Truncated)
        );
        let mut g = f.clone();
        g[12] = 0x08;
        g[13] = 0x06; // ARP
        assert_eq!(parse_udp_frame(&g), Err(FrameError::NotIp(0x0806)));
        let mut g = f.clone();
        g[14 + 9] = 6; // TCP
        assert_eq!(parse_udp_frame(&g), Err(FrameError::NotUdp(6)));
        let mut g = f.clone();
        g[14 + 6] = 0x20; // MF
        assert_eq!(parse_udp_frame(&g), Err(FrameError::Fragment));
        let mut g = f.clone();
        g[14] = 0x44; // IHL 4
        assert_eq!(parse_udp_frame(&g), Err(FrameError::Malformed));
        let mut g = f;
        g[14 + 20 + 4] = 0;
        g[14 + 20 + 5] = 3; // UDP length 3
        assert_eq!(parse_udp_frame(&g), Err(FrameError::Malformed));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            fuzz_one(&data);
        }

        #[test]
        fn mutated_frames_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..64), at: usize, v: u8, cut: usize) {
            let mut f = build("10.1.1.1:9".parse().unwrap(), "10.1.1.2:10".parse().unwrap(), &payload);
            let i = at % f.len();
            f[i] = v;
            f.truncate(cut % (f.len() + 1));
            fuzz_one(&f);
        }
    }
}
