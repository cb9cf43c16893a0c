//! Shared helpers of the integration tests: skip checks and hand-built frames.
#![allow(dead_code)]

use std::net::{Ipv4Addr, Ipv6Addr};

pub mod xsk;

/// Returns true (and prints the reason) when eBPF programs cannot be loaded here.
pub fn skip() -> bool {
    match punktfunk_ebpf::available() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            true
        }
    }
}

/// Returns true (and prints the reason) when eBPF or test networks are unavailable.
pub fn skip_net() -> bool {
    if skip() {
        return true;
    }
    match punktfunk_testnet::available() {
        Ok(()) => false,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            true
        }
    }
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

fn eth(ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn udp_header(sport: u16, dport: u16, payload_len: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]); // checksum optional over IPv4; nobody checks it here
    u
}

/// Options for [`ipv4`].
#[derive(Clone, Copy)]
pub struct V4 {
    pub dst: Ipv4Addr,
    pub proto: u8,
    /// Extra option bytes (multiple of 4).
    pub options: usize,
    /// Raw flags + fragment offset field.
    pub frag: u16,
    pub vlan: bool,
}

impl Default for V4 {
    fn default() -> Self {
        Self {
            dst: Ipv4Addr::new(10, 0, 0, 2),
            proto: 17,
            options: 0,
            frag: 0x4000, // DF
            vlan: false,
        }
    }
}

/// An Ethernet/IPv4/UDP (or other `proto`) frame to `dport` with `payload` bytes.
pub fn ipv4(o: V4, dport: u16, payload: usize) -> Vec<u8> {
    let mut f = if o.vlan {
        let mut f = eth(0x8100);
        f.extend_from_slice(&[0x00, 0x05, 0x08, 0x00]);
        f
    } else {
        eth(0x0800)
    };
    let ihl = 5 + o.options / 4;
    let l4 = if o.proto == 17 {
        let mut l4 = udp_header(40000, dport, payload);
        l4.resize(8 + payload, 0xab);
        l4
    } else {
        // Something port-shaped that is not UDP (e.g. TCP): must not match.
        let mut l4 = udp_header(40000, dport, payload);
        l4.resize(20 + payload, 0xab);
        l4
    };
    let total = ihl * 4 + l4.len();
    f.push(0x40 | ihl as u8);
    f.push(0);
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34]);
    f.extend_from_slice(&o.frag.to_be_bytes());
    f.push(64);
    f.push(o.proto);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1]);
    f.extend_from_slice(&o.dst.octets());
    // NOP options ending in EOL.
    f.extend(std::iter::repeat_n(1u8, o.options));
    if o.options > 0 {
        let n = f.len();
        f[n - 1] = 0;
    }
    f.extend_from_slice(&l4);
    f
}

/// An IPv4/UDP frame with default options.
pub fn udp4(dst: Ipv4Addr, dport: u16, payload: usize) -> Vec<u8> {
    ipv4(
        V4 {
            dst,
            ..V4::default()
        },
        dport,
        payload,
    )
}

/// An Ethernet/IPv6 frame: `ext` lists extension header types (each 8 bytes) before the
/// final `proto` (17 = UDP).
pub fn ipv6(dst: Ipv6Addr, ext: &[u8], proto: u8, dport: u16, payload: usize) -> Vec<u8> {
    let mut f = eth(0x86dd);
    let mut l4 = udp_header(40000, dport, payload);
    l4.resize(8 + payload, 0xcd);
    let plen = ext.len() * 8 + l4.len();
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(plen as u16).to_be_bytes());
    f.push(*ext.first().unwrap_or(&proto));
    f.push(64);
    f.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&dst.octets());
    for (i, _) in ext.iter().enumerate() {
        let next = *ext.get(i + 1).unwrap_or(&proto);
        f.push(next);
        f.push(0); // length 0 → 8 bytes
        f.extend_from_slice(&[0; 6]);
    }
    f.extend_from_slice(&l4);
    f
}
