//! The programs' packet parser against an independent Rust model on thousands of randomly
//! mutated and truncated frames (BPF_PROG_TEST_RUN): the verdict must match the model for
//! every frame, and nothing may ever return XDP_ABORTED. Needs root; skips otherwise.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use punktfunk_ebpf::{LossInjector, LossPattern, TcPacer, XdpAction, XdpSteering};

const PORT: u16 = 47998;

/// What the model says about a frame: the UDP destination port, if the frame is an
/// unfragmented UDP datagram whose header is complete.
fn model_udp_port(f: &[u8]) -> Option<u16> {
    let be16 = |o: usize| -> Option<u16> { Some(u16::from_be_bytes([*f.get(o)?, *f.get(o + 1)?])) };
    let mut proto = be16(12)?;
    let mut off = 14;
    for _ in 0..2 {
        if proto == 0x8100 || proto == 0x88a8 {
            proto = be16(off + 2)?;
            off += 4;
        }
    }
    let l4 = match proto {
        0x0800 => {
            if f.len() < off + 20 {
                return None;
            }
            let (ver, ihl) = (f[off] >> 4, (f[off] & 0xf) as usize);
            if ver != 4 || ihl < 5 || be16(off + 6)? & 0x3fff != 0 || f[off + 9] != 17 {
                return None;
            }
            off + ihl * 4
        }
        0x86dd => {
            if f.len() < off + 40 || f[off] >> 4 != 6 {
                return None;
            }
            let mut next = f[off + 6];
            let mut cur = off + 40;
            for _ in 0..4 {
                if matches!(next, 0 | 43 | 60) {
                    if f.len() < cur + 2 {
                        return None;
                    }
                    next = f[cur];
                    cur += (f[cur + 1] as usize + 1) * 8;
                }
            }
            if next != 17 {
                return None;
            }
            cur
        }
        _ => return None,
    };
    if f.len() < l4 + 8 {
        return None;
    }
    be16(l4 + 2)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let d6: Ipv6Addr = "fd00::2".parse().unwrap();
    let d4 = Ipv4Addr::new(10, 0, 0, 2);
    vec![
        common::udp4(d4, PORT, 16),
        common::ipv4(
            common::V4 {
                options: 12,
                vlan: true,
                ..Default::default()
            },
            PORT,
            16,
        ),
        common::ipv6(d6, &[], 17, PORT, 16),
        common::ipv6(d6, &[0, 60, 43, 60], 17, PORT, 16),
        common::ipv6(d6, &[0, 60, 43, 60, 0], 17, PORT, 16),
        common::ipv6(d6, &[44], 17, PORT, 16),
    ]
}

/// A mutated copy of a seed frame: a few bytes of the first 100 changed (sometimes to the
/// interesting values), sometimes truncated.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut f = seed.to_vec();
    for _ in 0..rng.below(4) {
        let i = rng.below(f.len().min(100));
        f[i] = match rng.below(4) {
            0 => [
                0x81, 0x00, 0x86, 0xdd, 0x08, 17, 0, 43, 60, 44, 0x45, 0x4f, 0x60,
            ][rng.below(13)],
            _ => rng.next() as u8,
        };
    }
    if rng.below(3) == 0 {
        let len = 14 + rng.below(f.len() - 13);
        f.truncate(len);
    }
    f
}

#[test]
fn steering_and_loss_verdicts_match_the_model_on_random_frames() {
    if common::skip() {
        return;
    }
    let mut steer = XdpSteering::load().unwrap();
    steer.set_ports(&[PORT]).unwrap();
    let mut loss = LossInjector::load().unwrap();
    loss.set_ports(&[PORT]).unwrap();
    loss.configure(LossPattern::Burst { drop: 1, every: 1 })
        .unwrap();
    let mut pacer = TcPacer::load().unwrap();
    pacer
        .set_rate(
            std::net::SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), PORT)),
            1_000_000,
        )
        .unwrap();

    let seeds = seeds();
    let mut rng = Rng(0x5EED);
    let (mut matched, mut total, mut refused) = (0u64, 0u64, 0u64);
    for _ in 0..4000 {
        let seed = &seeds[rng.below(seeds.len())];
        let f = mutate(&mut rng, seed);
        let is_match = model_udp_port(&f) == Some(PORT);
        // No socket is registered: a steering match shows as no_socket; the loss injector
        // drops every match.
        let before = steer.stats().unwrap().no_socket;
        assert_eq!(steer.test_run(&f).unwrap(), XdpAction::Pass, "{f:02x?}");
        assert_eq!(
            steer.stats().unwrap().no_socket - before,
            is_match as u64,
            "{f:02x?}"
        );
        let want = if is_match {
            XdpAction::Drop
        } else {
            XdpAction::Pass
        };
        assert_eq!(loss.test_run(&f).unwrap(), want, "{f:02x?}");
        // The pacer never drops and never fails, whatever the frame.
        match pacer.test_run(&f, 0) {
            Ok((act, _)) => assert_eq!(act, punktfunk_ebpf::TcAction::Continue),
            // The kernel's skb test harness itself refuses IP frames shorter than their
            // fixed IP header (before the program runs); nothing else may fail.
            Err(e) => {
                let ethertype = u16::from_be_bytes([f[12], f[13]]);
                let short = (ethertype == 0x0800 && f.len() < 14 + 20)
                    || (ethertype == 0x86dd && f.len() < 14 + 40);
                assert!(short, "{e}: {f:02x?}");
                refused += 1;
            }
        }
        matched += is_match as u64;
        total += 1;
    }
    // The mutations leave a good share of frames intact and break a good share.
    assert!(
        matched > total / 5 && matched < total * 4 / 5,
        "{matched}/{total}"
    );
    let p = pacer.stats().unwrap();
    assert_eq!(p.stamped + p.unpaced + refused, total);
    let s = loss.stats().unwrap();
    assert_eq!((s.dropped, s.passed + s.other), (matched, total - matched));
}
