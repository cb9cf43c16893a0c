//! The three programs loaded into the kernel and run on hand-built frames through
//! BPF_PROG_TEST_RUN (no interface attached). Needs root; skips with the reason otherwise.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use common::{V4, ipv4, ipv6, udp4};
use punktfunk_ebpf::{
    LossInjector, LossPattern, TcAction, TcPacer, XdpAction, XdpSteering, ZERO_SEED_STATE,
};

const PORT: u16 = 47998;
const OTHER: u16 = 47999;

fn v6dst() -> Ipv6Addr {
    "fd00::2".parse().unwrap()
}

/// Frames that must be steered when PORT is a datapath port, with the offset where the UDP
/// header ends.
fn matching_frames() -> Vec<(&'static str, Vec<u8>, usize)> {
    let d4 = Ipv4Addr::new(10, 0, 0, 2);
    vec![
        ("ipv4", udp4(d4, PORT, 32), 14 + 20 + 8),
        (
            "ipv4 + 40 B options",
            ipv4(
                V4 {
                    options: 40,
                    ..V4::default()
                },
                PORT,
                32,
            ),
            14 + 60 + 8,
        ),
        (
            "ipv4 in 802.1Q",
            ipv4(
                V4 {
                    vlan: true,
                    ..V4::default()
                },
                PORT,
                32,
            ),
            18 + 20 + 8,
        ),
        (
            "ipv4 no DF",
            ipv4(
                V4 {
                    frag: 0,
                    ..V4::default()
                },
                PORT,
                0,
            ),
            14 + 20 + 8,
        ),
        ("ipv6", ipv6(v6dst(), &[], 17, PORT, 32), 14 + 40 + 8),
        (
            "ipv6 + hop-by-hop, dst-opts, routing",
            ipv6(v6dst(), &[0, 60, 43], 17, PORT, 32),
            14 + 40 + 24 + 8,
        ),
    ]
}

/// Frames that must never be steered whatever the port set.
fn other_frames() -> Vec<(&'static str, Vec<u8>)> {
    let d4 = Ipv4Addr::new(10, 0, 0, 2);
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.resize(42, 0);
    vec![
        ("ipv4 other port", udp4(d4, OTHER, 32)),
        ("ipv6 other port", ipv6(v6dst(), &[], 17, OTHER, 32)),
        (
            "tcp to the port",
            ipv4(
                V4 {
                    proto: 6,
                    ..V4::default()
                },
                PORT,
                32,
            ),
        ),
        ("ipv6 tcp to the port", ipv6(v6dst(), &[], 6, PORT, 32)),
        (
            "ipv4 first fragment (MF)",
            ipv4(
                V4 {
                    frag: 0x2000,
                    ..V4::default()
                },
                PORT,
                32,
            ),
        ),
        (
            "ipv4 later fragment",
            ipv4(
                V4 {
                    frag: 0x0010,
                    ..V4::default()
                },
                PORT,
                32,
            ),
        ),
        ("ipv6 fragment header", ipv6(v6dst(), &[44], 17, PORT, 32)),
        ("arp", arp),
    ]
}

#[test]
fn steering_without_socket_passes_everything_and_counts_it() {
    if common::skip() {
        return;
    }
    let mut steer = XdpSteering::load().unwrap();
    steer.set_ports(&[PORT, 9]).unwrap();
    let mut matching = 0;
    for (what, f, _) in matching_frames() {
        // No socket registered for queue 0: bpf_redirect_map falls back to XDP_PASS.
        assert_eq!(steer.test_run(&f).unwrap(), XdpAction::Pass, "{what}");
        matching += 1;
    }
    let mut other = 0;
    for (what, f) in other_frames() {
        assert_eq!(steer.test_run(&f).unwrap(), XdpAction::Pass, "{what}");
        other += 1;
    }
    let s = steer.stats().unwrap();
    assert_eq!(s.redirected, 0);
    assert_eq!(s.no_socket, matching);
    assert_eq!(s.passed, other);

    // Replacing the port set removes the old ports: PORT is now an ordinary port.
    steer.set_ports(&[9]).unwrap();
    let (_, f, _) = &matching_frames()[0];
    assert_eq!(steer.test_run(f).unwrap(), XdpAction::Pass);
    assert_eq!(steer.stats().unwrap().passed, other + 1);
    assert_eq!(steer.stats().unwrap().no_socket, matching);

    // Out-of-range inputs are typed errors.
    assert!(steer.set_ports(&(0..=256).collect::<Vec<u16>>()).is_err());
    assert_eq!(steer.queues(), XdpSteering::DEFAULT_QUEUES);
    assert!(steer.unregister_xsk(XdpSteering::DEFAULT_QUEUES).is_err());
    assert!(
        steer
            .unregister_xsk(XdpSteering::DEFAULT_QUEUES - 1)
            .is_ok()
    );
    let mut wide = XdpSteering::load_with_queues(200).unwrap();
    assert_eq!(wide.queues(), 200);
    assert!(wide.unregister_xsk(199).is_ok());
    assert!(wide.unregister_xsk(200).is_err());
    assert!(XdpSteering::load_with_queues(0).is_err());
}

#[test]
fn test_run_refuses_frames_shorter_than_ethernet() {
    if common::skip() {
        return;
    }
    let steer = XdpSteering::load().unwrap();
    // The kernel refuses XDP test input below ETH_HLEN; a frame of exactly 14 bytes runs.
    assert!(steer.test_run(&[0u8; 13]).is_err());
    assert_eq!(steer.test_run(&[0u8; 14]).unwrap(), XdpAction::Pass);
}

#[test]
fn steering_redirects_datapath_ports_into_a_registered_socket() {
    if common::skip_net() {
        return;
    }
    // An XSK map slot only accepts a bound AF_XDP socket, and binding needs an interface:
    // bind to the namespace side of a throw-away veth pair.
    let net = punktfunk_testnet::VethNet::create().unwrap();
    let ns_if = net.ns_if.clone();
    let xsk = net
        .ns
        .run(move || {
            let idx = nix::net::if_::if_nametoindex(ns_if.as_str()).unwrap();
            common::xsk::Xsk::bind(idx, 0)
        })
        .unwrap()
        .expect("binding an AF_XDP socket in copy mode");

    let mut steer = XdpSteering::load().unwrap();
    steer.set_ports(&[PORT]).unwrap();
    steer.register_xsk(0, &xsk).unwrap();

    let mut redirected = 0;
    let mut passed = 0;
    for (what, f, udp_end) in matching_frames() {
        // The kernel reports the redirect decision as the action; it does not deliver the
        // frame during a test run.
        assert_eq!(steer.test_run(&f).unwrap(), XdpAction::Redirect, "{what}");
        redirected += 1;
        // Every truncation: steered exactly when the whole UDP header is present.
        for len in 14..f.len() {
            let want = if len >= udp_end {
                XdpAction::Redirect
            } else {
                XdpAction::Pass
            };
            assert_eq!(
                steer.test_run(&f[..len]).unwrap(),
                want,
                "{what} cut at {len}"
            );
            if want == XdpAction::Redirect {
                redirected += 1;
            } else {
                passed += 1;
            }
        }
    }
    for (what, f) in other_frames() {
        assert_eq!(steer.test_run(&f).unwrap(), XdpAction::Pass, "{what}");
        passed += 1;
    }
    let s = steer.stats().unwrap();
    assert_eq!(s.redirected, redirected);
    assert_eq!(s.passed, passed);
    assert_eq!(s.no_socket, 0);

    // Unregistered: back to the kernel stack.
    steer.unregister_xsk(0).unwrap();
    let (_, f, _) = &matching_frames()[0];
    assert_eq!(steer.test_run(f).unwrap(), XdpAction::Pass);
    assert_eq!(steer.stats().unwrap().no_socket, 1);
    // An unbound socket is refused by the kernel.
    let unbound = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(steer.register_xsk(1, &unbound).is_err());
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a live timespec for the kernel to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn pacer_stamps_departures_at_the_configured_rate_per_flow() {
    if common::skip() {
        return;
    }
    let mut pacer = TcPacer::load().unwrap();
    let a_addr = Ipv4Addr::new(10, 0, 0, 2);
    let a = SocketAddr::from((a_addr, PORT));
    let b = SocketAddr::from((v6dst(), PORT));
    // Slow enough (gaps of about a second) that every packet of the burst departs in the
    // slot after its predecessor's, however long the machine stalls between test runs.
    let rate_a = 1_003u64; // bytes/s
    let rate_b = 777u64;
    pacer.set_rate(a, rate_a).unwrap();
    pacer.set_rate(b, rate_b).unwrap();
    let frame_a = udp4(a_addr, PORT, 1000);
    let frame_b = ipv6(v6dst(), &[], 17, PORT, 700);
    let gap_a = frame_a.len() as u64 * 1_000_000_000 / rate_a;
    let gap_b = frame_b.len() as u64 * 1_000_000_000 / rate_b;

    let before = monotonic_ns();
    let mut stamps_a = Vec::new();
    let mut stamps_b = Vec::new();
    for _ in 0..8 {
        let (act, ts) = pacer.test_run(&frame_a, 0).unwrap();
        assert_eq!(act, TcAction::Continue);
        stamps_a.push(ts);
        let (act, ts) = pacer.test_run(&frame_b, 0).unwrap();
        assert_eq!(act, TcAction::Continue);
        stamps_b.push(ts);
    }
    let after = monotonic_ns();
    // The first packet of each flow leaves now (between the clock reads)...
    for first in [stamps_a[0], stamps_b[0]] {
        assert!(
            first >= before && first <= after,
            "{before} <= {first} <= {after}"
        );
    }
    // ...and each later one exactly len * 1e9 / rate after its predecessor in the same flow.
    for w in stamps_a.windows(2) {
        assert_eq!(w[1] - w[0], gap_a);
    }
    for w in stamps_b.windows(2) {
        assert_eq!(w[1] - w[0], gap_b);
    }
    let sa = pacer.flow_state(a).unwrap().unwrap();
    assert_eq!(sa.next_departure_ns, stamps_a[7] + gap_a);
    assert_eq!(sa.packets, 8);
    assert_eq!(sa.bytes, 8 * frame_a.len() as u64);
    assert_eq!(sa.rate_bytes_per_sec, rate_a);
    let sb = pacer.flow_state(b).unwrap().unwrap();
    assert_eq!(sb.next_departure_ns, stamps_b[7] + gap_b);

    // A stamp already later than the pacer's departure time is kept.
    let late = sa.next_departure_ns + 1_000_000_000;
    assert_eq!(pacer.test_run(&frame_a, late).unwrap().1, late);
    // Unpaced traffic keeps whatever stamp it had: other port, other address, not UDP.
    let unpaced = [
        udp4(a_addr, OTHER, 100),
        udp4(Ipv4Addr::new(10, 0, 0, 3), PORT, 100),
        ipv4(
            V4 {
                proto: 6,
                dst: a_addr,
                ..V4::default()
            },
            PORT,
            100,
        ),
    ];
    for f in &unpaced {
        assert_eq!(pacer.test_run(f, 777).unwrap(), (TcAction::Continue, 777));
    }
    let stats = pacer.stats().unwrap();
    assert_eq!(stats.stamped, 17);
    assert_eq!(stats.unpaced, 3);

    // A fast flow is never stamped into the past: departure = now when idle.
    pacer.remove_rate(a).unwrap();
    assert_eq!(pacer.flow_state(a).unwrap(), None);
    pacer.set_rate(a, u64::MAX / 2_000_000_000_000).unwrap();
    let t0 = monotonic_ns();
    let (_, ts) = pacer.test_run(&frame_a, 0).unwrap();
    assert!(ts >= t0 && ts <= monotonic_ns());
    assert!(pacer.set_rate(a, 0).is_err());
    pacer.remove_rate(b).unwrap();
    pacer.remove_rate(b).unwrap();
}

/// Independent model of xdp_loss's random mode: xorshift64 stepped once per matching
/// datagram, dropped when ((x >> 32) * 1e6) >> 32 < per_million.
struct RandomModel {
    x: u64,
    per_million: u64,
}

impl RandomModel {
    fn new(seed: u64, per_million: u32) -> Self {
        Self {
            x: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
            per_million: per_million as u64,
        }
    }
    fn drop_next(&mut self) -> bool {
        let mut x = self.x;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.x = x;
        ((x >> 32) * 1_000_000) >> 32 < self.per_million
    }
}

#[test]
fn loss_random_pattern_matches_the_model_exactly() {
    if common::skip() {
        return;
    }
    assert_eq!(ZERO_SEED_STATE, 0x9E37_79B9_7F4A_7C15);
    let mut loss = LossInjector::load().unwrap();
    loss.set_ports(&[PORT]).unwrap();
    let hit = udp4(Ipv4Addr::new(10, 0, 0, 2), PORT, 64);
    let hit6 = ipv6(v6dst(), &[], 17, PORT, 64);
    let miss = udp4(Ipv4Addr::new(10, 0, 0, 2), OTHER, 64);
    let mut total_dropped = 0;
    let mut total_passed = 0;
    for (seed, per_million, n) in [
        (12345u64, 100_000u32, 1500),
        (0, 333_333, 600),
        (99, 0, 200),
        (7, 1_000_000, 200),
    ] {
        loss.configure(LossPattern::Random { per_million, seed })
            .unwrap();
        let mut model = RandomModel::new(seed, per_million);
        let mut dropped = 0;
        for i in 0..n {
            // Non-matching traffic in between must not advance the generator.
            if i % 7 == 0 {
                assert_eq!(loss.test_run(&miss).unwrap(), XdpAction::Pass);
            }
            let frame = if i % 2 == 0 { &hit } else { &hit6 };
            let want = if model.drop_next() {
                dropped += 1;
                XdpAction::Drop
            } else {
                XdpAction::Pass
            };
            assert_eq!(
                loss.test_run(frame).unwrap(),
                want,
                "seed {seed} packet {i}"
            );
        }
        // The share is what was asked for, loosely (the exact sequence is checked above).
        let share = dropped as f64 / n as f64;
        assert!(
            (share - per_million as f64 / 1e6).abs() < 0.05,
            "share {share}"
        );
        total_dropped += dropped;
        total_passed += n - dropped;
    }
    let s = loss.stats().unwrap();
    assert_eq!(s.dropped, total_dropped as u64);
    assert_eq!(s.passed, total_passed as u64);
    assert_eq!(
        s.other,
        (1500u64).div_ceil(7) + 600u64.div_ceil(7) + 2 * 200u64.div_ceil(7)
    );

    assert!(
        loss.configure(LossPattern::Random {
            per_million: 1_000_001,
            seed: 1
        })
        .is_err()
    );
}

#[test]
fn loss_burst_pattern_is_exact() {
    if common::skip() {
        return;
    }
    let mut loss = LossInjector::load().unwrap();
    loss.set_ports(&[PORT, OTHER]).unwrap();
    let a = udp4(Ipv4Addr::new(10, 0, 0, 2), PORT, 10);
    let b = udp4(Ipv4Addr::new(10, 0, 0, 2), OTHER, 10);
    let not_udp = ipv4(
        V4 {
            proto: 6,
            ..V4::default()
        },
        PORT,
        10,
    );
    loss.configure(LossPattern::Burst { drop: 3, every: 10 })
        .unwrap();
    let mut got = Vec::new();
    for i in 0..50 {
        let f = if i % 3 == 0 { &b } else { &a };
        got.push(loss.test_run(f).unwrap() == XdpAction::Drop);
        assert_eq!(loss.test_run(&not_udp).unwrap(), XdpAction::Pass);
    }
    let want: Vec<bool> = (0..50).map(|n| n % 10 < 3).collect();
    assert_eq!(got, want);
    assert_eq!(
        loss.stats().unwrap(),
        punktfunk_ebpf::LossStats {
            passed: 35,
            dropped: 15,
            other: 50
        }
    );
    // Reconfiguring restarts the period.
    loss.configure(LossPattern::Burst { drop: 1, every: 2 })
        .unwrap();
    let got: Vec<bool> = (0..6)
        .map(|_| loss.test_run(&a).unwrap() == XdpAction::Drop)
        .collect();
    assert_eq!(got, [true, false, true, false, true, false]);
    loss.configure(LossPattern::None).unwrap();
    assert_eq!(loss.test_run(&a).unwrap(), XdpAction::Pass);
    assert!(
        loss.configure(LossPattern::Burst { drop: 3, every: 0 })
            .is_err()
    );
    assert!(
        loss.configure(LossPattern::Burst { drop: 3, every: 2 })
            .is_err()
    );
}
