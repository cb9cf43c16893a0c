//! Every engine, forced in turn, sends datagrams of random sizes over a veth pair into a test
//! namespace; a plain UDP socket there receives them and every payload is checked byte for
//! byte (and its source address). Bounded: a few thousand datagrams, a few seconds each.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_datapath::mmsg::MmsgConfig;
use punktfunk_datapath::uring::{UringConfig, UringEngine};
use punktfunk_datapath::xdp::{XdpConfig, XdpEngine, ZeroCopy};
use punktfunk_datapath::{
    AnyEngine, DatagramSink, EngineConfig, EngineKind, Flow, TxBatch, TxQueue, open_engine,
};
use punktfunk_testnet::VethNet;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn testnet() -> Option<VethNet> {
    if let Err(why) = punktfunk_testnet::available() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(VethNet::create().expect("create veth test network"))
}

/// Adds IPv6 ULA addresses to both ends (no DAD), returns (host, ns) addresses.
fn add_v6(net: &VethNet) -> (IpAddr, IpAddr) {
    let n = net.host_addr.octets()[2];
    let host: IpAddr = format!("fd77:{n:x}::1").parse().unwrap();
    let ns: IpAddr = format!("fd77:{n:x}::2").parse().unwrap();
    punktfunk_testnet::ip(&[
        "-6",
        "addr",
        "add",
        &format!("{host}/64"),
        "dev",
        &net.host_if,
        "nodad",
    ])
    .unwrap();
    net.ns
        .exec(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("{ns}/64"),
            "dev",
            &net.ns_if,
            "nodad",
        ])
        .unwrap();
    (host, ns)
}

/// A receiving socket inside the namespace with a large buffer. The host's neighbour entry
/// for `addr` is resolved first: while ARP/NDP is pending the kernel queues only ~200 KB for
/// the address and drops the rest of a burst.
fn ns_receiver(net: &VethNet, addr: IpAddr) -> UdpSocket {
    punktfunk_datapath::route::resolve(addr, None, Duration::from_secs(2))
        .expect("neighbour resolution");
    net.ns
        .run(move || {
            let s = UdpSocket::bind((addr, 0)).unwrap();
            nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::RcvBufForce, &(32 << 20))
                .unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            s
        })
        .unwrap()
}

/// Datagram sizes in runs of equal size (so GSO coalesces), sometimes ending shorter.
fn sizes(rng: &mut StdRng, n: usize, max: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = rng.random_range(8..=max);
        let run = rng.random_range(1..=24).min(n - out.len());
        out.extend(std::iter::repeat_n(len, run));
        if out.len() < n && rng.random_bool(0.3) {
            out.push(rng.random_range(8..=len));
        }
    }
    out
}

fn payload(seq: u32, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed ^ u64::from(seq).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut p = vec![0u8; len];
    rng.fill(&mut p[..]);
    p[..4].copy_from_slice(&seq.to_le_bytes());
    p
}

/// Sends `n` datagrams through `q` to the receiver and checks that all arrive intact.
fn send_and_verify<Q: TxQueue>(q: &mut Q, rx: UdpSocket, n: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let lens = sizes(&mut rng, n, q.max_datagram());
    let expected_src = q.local_addr();
    let recv = std::thread::spawn(move || {
        let mut got: HashMap<u32, (Vec<u8>, SocketAddr)> = HashMap::new();
        let mut buf = vec![0u8; 65536];
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < n && Instant::now() < deadline {
            match rx.recv_from(&mut buf) {
                Ok((len, from)) => {
                    assert!(len >= 4, "runt datagram of {len} bytes");
                    let seq = u32::from_le_bytes(buf[..4].try_into().unwrap());
                    assert!(
                        got.insert(seq, (buf[..len].to_vec(), from)).is_none(),
                        "duplicate {seq}"
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("recv: {e}"),
            }
        }
        got
    });
    let mut seq = 0usize;
    while seq < n {
        let mut b = q.batch(n - seq).unwrap();
        let start = seq;
        while seq < n {
            let p = payload(seq as u32, lens[seq], seed);
            match b.next_datagram(p.len()) {
                Some(slot) => slot.copy_from_slice(&p),
                None => break,
            }
            seq += 1;
        }
        assert_eq!(b.len(), seq - start);
        assert!(b.len() > 0, "engine gave an empty batch");
        assert_eq!(b.commit().unwrap(), seq - start);
        if seq % 512 < 64 {
            // Let the receiver keep up: the test checks integrity, not speed.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    q.flush().unwrap();
    let got = recv.join().unwrap();
    let stats = q.stats();
    assert_eq!(stats.sent_packets, n as u64, "{stats:?}");
    assert_eq!(stats.drops, 0);
    assert_eq!(
        got.len(),
        n,
        "{} of {n} datagrams arrived ({:?})",
        got.len(),
        stats
    );
    for (seq, (data, from)) in &got {
        assert_eq!(
            data,
            &payload(*seq, lens[*seq as usize], seed),
            "datagram {seq} differs"
        );
        assert_eq!(*from, expected_src, "source address");
    }
    eprintln!("{}: {n} datagrams intact, {stats:?}", q.kind());
}

fn flow(rx: &UdpSocket, local: IpAddr) -> Flow {
    Flow {
        local: SocketAddr::new(local, 0),
        remote: rx.local_addr().unwrap(),
    }
}

/// False (with a SKIPPED line) when the config's engines are all unavailable here.
fn usable(cfg: &EngineConfig) -> bool {
    let xdp = cfg.xdp.is_some() && punktfunk_datapath::xdp::available().is_ok();
    let uring = cfg.uring.is_some() && punktfunk_datapath::uring::available().is_ok();
    let ok = xdp || uring || cfg.mmsg.is_some();
    if !ok {
        eprintln!("SKIPPED a case: its engine is unavailable here");
    }
    ok
}

fn only(xdp: Option<XdpConfig>, uring: bool, mmsg: bool) -> EngineConfig {
    EngineConfig {
        xdp,
        uring: uring.then(UringConfig::default),
        mmsg: mmsg.then(MmsgConfig::default),
    }
}

#[test]
fn sendmmsg_delivers_intact() {
    let Some(net) = testnet() else { return };
    let rx = ns_receiver(&net, net.ns_addr.into());
    let f = flow(&rx, net.host_addr.into());
    let mut q = open_engine(&f, &only(None, false, true)).unwrap();
    assert_eq!(q.kind(), EngineKind::Sendmmsg);
    send_and_verify(&mut q, rx, 3000, 1);
}

#[test]
fn io_uring_gso_delivers_intact() {
    let Some(net) = testnet() else { return };
    let rx = ns_receiver(&net, net.ns_addr.into());
    let f = flow(&rx, net.host_addr.into());
    let mut q = match UringEngine::open(&f, &UringConfig::default()) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("SKIPPED: io_uring unavailable: {e}");
            return;
        }
    };
    send_and_verify(&mut q, rx, 3000, 2);
    assert!(q.gso_active(), "veth accepts UDP GSO");
    // GSO coalesced runs: far fewer submits than datagrams is not asserted (timing-free),
    // but every datagram arrived as its own datagram above.
}

#[test]
fn io_uring_without_gso_delivers_intact() {
    let Some(net) = testnet() else { return };
    let rx = ns_receiver(&net, net.ns_addr.into());
    let f = flow(&rx, net.host_addr.into());
    let cfg = UringConfig {
        gso: false,
        ..UringConfig::default()
    };
    let mut q = match UringEngine::open(&f, &cfg) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("SKIPPED: io_uring unavailable: {e}");
            return;
        }
    };
    send_and_verify(&mut q, rx, 1500, 3);
}

fn xdp_or_skip(f: &Flow, cfg: &XdpConfig) -> Option<XdpEngine> {
    if let Err(why) = punktfunk_datapath::xdp::available() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(XdpEngine::open(f, cfg).expect("AF_XDP open"))
}

#[test]
fn af_xdp_copy_mode_delivers_intact_with_checksums() {
    let Some(net) = testnet() else { return };
    let rx = ns_receiver(&net, net.ns_addr.into());
    let f = flow(&rx, std::net::Ipv4Addr::UNSPECIFIED.into());
    // UDP checksum on: the receiving kernel verifies it (and the IPv4 header checksum, always).
    let cfg = XdpConfig {
        udp_checksum: true,
        ..XdpConfig::default()
    };
    let Some(mut q) = xdp_or_skip(&f, &cfg) else {
        return;
    };
    // veth has no zero-copy support: the engine must have fallen back to copy mode.
    assert_eq!(q.kind(), EngineKind::XdpCopy);
    assert_eq!(q.route().ifname, net.host_if);
    assert_eq!(q.route().dst_mac, net.ns_mac);
    assert_eq!(q.local_addr().ip(), IpAddr::from(net.host_addr));
    send_and_verify(&mut q, rx, 3000, 4);
}

#[test]
fn af_xdp_without_udp_checksum_and_small_umem() {
    let Some(net) = testnet() else { return };
    let rx = ns_receiver(&net, net.ns_addr.into());
    let f = flow(&rx, std::net::Ipv4Addr::UNSPECIFIED.into());
    // 256 frames for 3000 datagrams: completions must be reclaimed and reused.
    let cfg = XdpConfig {
        frames: 256,
        ring_size: 128,
        zero_copy: ZeroCopy::Never,
        ..XdpConfig::default()
    };
    let Some(mut q) = xdp_or_skip(&f, &cfg) else {
        return;
    };
    send_and_verify(&mut q, rx, 3000, 5);
}

#[test]
fn ipv6_through_every_engine() {
    let Some(net) = testnet() else { return };
    let (host6, ns6) = add_v6(&net);
    // 1500-byte MTU minus IPv6 and UDP headers.
    let v6 = 1452;
    for (i, cfg) in [
        EngineConfig {
            mmsg: Some(MmsgConfig {
                max_datagram: v6,
                ..MmsgConfig::default()
            }),
            ..only(None, false, false)
        },
        EngineConfig {
            uring: Some(UringConfig {
                max_datagram: v6,
                ..UringConfig::default()
            }),
            ..only(None, false, false)
        },
        only(Some(XdpConfig::default()), false, false),
    ]
    .into_iter()
    .enumerate()
    {
        if !usable(&cfg) {
            continue;
        }
        let rx = ns_receiver(&net, ns6);
        let local = if i == 2 {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            host6
        };
        let f = flow(&rx, local);
        let mut q = open_engine(&f, &cfg).unwrap();
        send_and_verify(&mut q, rx, 1000, 10 + i as u64);
    }
}

#[test]
fn fallback_order_and_forced_paths() {
    let Some(net) = testnet() else { return };
    // A loopback destination: AF_XDP refuses (no real interface) → io_uring.
    let lo_rx = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
    let lo = Flow {
        local: "127.0.0.1:0".parse().unwrap(),
        remote: lo_rx.local_addr().unwrap(),
    };
    let q = open_engine(&lo, &EngineConfig::all()).unwrap();
    assert!(matches!(q, AnyEngine::Uring(_) | AnyEngine::Mmsg(_)));
    // AF_XDP refused and io_uring off → sendmmsg.
    let q = open_engine(&lo, &only(Some(XdpConfig::default()), false, true)).unwrap();
    assert_eq!(q.kind(), EngineKind::Sendmmsg);
    // Everything off → an error, not a panic.
    assert!(open_engine(&lo, &only(None, false, false)).is_err());
    // Only AF_XDP and it cannot work → its own error comes back.
    assert!(open_engine(&lo, &only(Some(XdpConfig::default()), false, false)).is_err());
    if let Err(why) = punktfunk_datapath::xdp::available() {
        eprintln!("SKIPPED the AF_XDP part: {why}");
        return;
    }
    // Over veth with everything on, AF_XDP wins (copy mode) and sends.
    let rx = ns_receiver(&net, net.ns_addr.into());
    let f = flow(&rx, std::net::Ipv4Addr::UNSPECIFIED.into());
    let mut q = open_engine(&f, &EngineConfig::all()).unwrap();
    assert!(matches!(
        q.kind(),
        EngineKind::XdpCopy | EngineKind::XdpZeroCopy
    ));
    send_and_verify(&mut q, rx, 500, 20);
}

#[test]
fn dropped_batches_send_nothing() {
    let Some(net) = testnet() else { return };
    for cfg in [
        only(None, false, true),
        only(None, true, false),
        only(Some(XdpConfig::default()), false, false),
    ] {
        if !usable(&cfg) {
            continue;
        }
        let rx = ns_receiver(&net, net.ns_addr.into());
        rx.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let f = flow(&rx, std::net::Ipv4Addr::UNSPECIFIED.into());
        let f = if cfg.xdp.is_none() {
            Flow {
                local: SocketAddr::new(net.host_addr.into(), 0),
                ..f
            }
        } else {
            f
        };
        let mut q = open_engine(&f, &cfg).unwrap();
        {
            let mut b = q.batch(4).unwrap();
            b.next_datagram(10).unwrap().fill(1);
            b.next_datagram(10).unwrap().fill(2);
            // Too large for any engine's slots.
            assert!(b.next_datagram(70_000).is_none());
        }
        assert_eq!(q.stats().discarded, 2);
        assert_eq!(q.stats().sent_packets, 0);
        let mut b = q.batch(1).unwrap();
        b.next_datagram(5).unwrap().copy_from_slice(b"hello");
        assert!(b.next_datagram(5).is_none(), "batch of 1 holds one");
        b.commit().unwrap();
        q.flush().unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello", "{}", q.kind());
        assert!(
            rx.recv_from(&mut buf).is_err(),
            "discarded datagrams must not be sent"
        );
    }
}

#[test]
fn feedback_arrives_through_poll_rx_on_every_engine() {
    let Some(net) = testnet() else { return };
    for cfg in [
        only(None, false, true),
        only(None, true, false),
        only(
            Some(XdpConfig {
                rx: true,
                ..XdpConfig::default()
            }),
            false,
            false,
        ),
    ] {
        if !usable(&cfg) {
            continue;
        }
        let peer = ns_receiver(&net, net.ns_addr.into());
        let f = flow(&peer, std::net::Ipv4Addr::UNSPECIFIED.into());
        let f = if cfg.xdp.is_none() {
            Flow {
                local: SocketAddr::new(net.host_addr.into(), 0),
                ..f
            }
        } else {
            f
        };
        let mut q = open_engine(&f, &cfg).unwrap();
        if let AnyEngine::Xdp(x) = &q {
            assert!(x.has_rx_ring());
        }
        let host = q.local_addr();
        for i in 0..10u8 {
            peer.send_to(&[i; 100], host).unwrap();
        }
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < 10 && Instant::now() < deadline {
            let n = q
                .poll_rx(&mut buf, &mut |from, data| {
                    assert_eq!(from, peer.local_addr().unwrap());
                    got.push(data.to_vec());
                })
                .unwrap();
            if n == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(got.len(), 10, "{}", q.kind());
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &vec![i as u8; 100]);
        }
        // Nothing waiting: returns at once with 0.
        assert_eq!(q.poll_rx(&mut buf, &mut |_, _| {}).unwrap(), 0);
    }
}
