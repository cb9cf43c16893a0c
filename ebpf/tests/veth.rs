//! The programs attached for real to veth pairs (punktfunk-testnet), with real UDP traffic
//! sent from the host side into a throw-away network namespace. Needs root; skips otherwise.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_ebpf::{
    LossInjector, LossPattern, TcAttachMode, TcPacer, XdpAttachMode, XdpSteering,
};
use punktfunk_testnet::VethNet;

const PORT: u16 = 47998;
const OTHER: u16 = 47999;

/// Sends to `warm` until one datagram arrives, so ARP is resolved before the measured
/// traffic (unresolved neighbours queue only a few packets).
fn warm_up(net: &VethNet, warm: &UdpSocket) {
    let tx = UdpSocket::bind((net.host_addr, 0)).unwrap();
    warm.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let to = warm.local_addr().unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..30 {
        tx.send_to(b"warm", to).unwrap();
        if warm.recv_from(&mut buf).is_ok() {
            return;
        }
    }
    panic!("no warm-up datagram crossed the veth pair");
}

/// Receives on `rx` until `want` datagrams arrived or `idle` passed without one; returns the
/// payloads.
fn receive(rx: &UdpSocket, want: usize, idle: Duration) -> Vec<Vec<u8>> {
    // A receive buffer far larger than any test's traffic: a stalled receiver thread on a
    // busy machine must not lose datagrams that the programs counted as passed.
    nix::sys::socket::setsockopt(rx, nix::sys::socket::sockopt::RcvBufForce, &(8 << 20)).unwrap();
    rx.set_read_timeout(Some(idle)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < want {
        match rx.recv_from(&mut buf) {
            Ok((n, _)) => got.push(buf[..n].to_vec()),
            Err(_) => break,
        }
    }
    got
}

/// Sends `n` numbered datagrams to `to` in small bursts (the veth XDP ring holds 256 frames).
fn send_numbered(from: Ipv4Addr, to: SocketAddr, n: u32, size: usize) {
    let tx = UdpSocket::bind((from, 0)).unwrap();
    let mut payload = vec![0u8; size];
    for i in 0..n {
        payload[..4].copy_from_slice(&i.to_be_bytes());
        tx.send_to(&payload, to).unwrap();
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn xorshift_drops(seed: u64, per_million: u32, n: u32) -> u64 {
    let mut x = seed;
    let mut dropped = 0;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if ((x >> 32) * 1_000_000) >> 32 < per_million as u64 {
            dropped += 1;
        }
    }
    dropped
}

#[test]
fn loss_injector_drops_the_configured_share_of_real_datagrams() {
    if common::skip_net() {
        return;
    }
    let net = VethNet::create().unwrap();
    let (ns_if, ns_addr) = (net.ns_if.clone(), net.ns_addr);
    let (seed, per_million, n) = (0xDEC0DE_u64, 250_000u32, 400u32);
    let (loss, rx, warm) = net
        .ns
        .run(move || {
            let mut loss = LossInjector::load().unwrap();
            loss.set_ports(&[PORT]).unwrap();
            loss.configure(LossPattern::Random { per_million, seed })
                .unwrap();
            // Attached inside the namespace: the interface name resolves there.
            loss.attach(&ns_if).unwrap();
            let rx = UdpSocket::bind((ns_addr, PORT)).unwrap();
            let warm = UdpSocket::bind((ns_addr, OTHER)).unwrap();
            (loss, rx, warm)
        })
        .unwrap();
    warm_up(&net, &warm);
    let receiver = std::thread::spawn(move || receive(&rx, n as usize, Duration::from_millis(500)));
    send_numbered(net.host_addr, SocketAddr::from((ns_addr, PORT)), n, 100);
    let got = receiver.join().unwrap();

    let s = loss.stats().unwrap();
    // Every datagram reached the program; it dropped exactly what the generator says.
    assert_eq!(s.passed + s.dropped, n as u64, "{s:?}");
    assert_eq!(s.dropped, xorshift_drops(seed, per_million, n));
    assert_eq!(got.len() as u64, s.passed);
    assert!(s.other >= 1, "the warm-up datagram passes as other traffic");
    let share = s.dropped as f64 / n as f64;
    assert!((0.15..0.35).contains(&share), "dropped share {share}");
}

#[test]
fn loss_injector_detaches_on_drop() {
    if common::skip_net() {
        return;
    }
    let net = VethNet::create().unwrap();
    let (ns_if, ns_addr) = (net.ns_if.clone(), net.ns_addr);
    let (loss, rx, warm) = net
        .ns
        .run(move || {
            let mut loss = LossInjector::load().unwrap();
            loss.set_ports(&[PORT]).unwrap();
            loss.configure(LossPattern::Burst { drop: 1, every: 1 })
                .unwrap();
            loss.attach_with(&ns_if, XdpAttachMode::Skb).unwrap();
            let rx = UdpSocket::bind((ns_addr, PORT)).unwrap();
            let warm = UdpSocket::bind((ns_addr, OTHER)).unwrap();
            (loss, rx, warm)
        })
        .unwrap();
    warm_up(&net, &warm);
    let to = SocketAddr::from((ns_addr, PORT));
    send_numbered(net.host_addr, to, 3, 32);
    assert!(receive(&rx, 3, Duration::from_millis(200)).is_empty());
    assert_eq!(loss.stats().unwrap().dropped, 3);
    drop(loss);
    send_numbered(net.host_addr, to, 3, 32);
    assert_eq!(receive(&rx, 3, Duration::from_millis(1000)).len(), 3);
}

#[test]
fn steering_without_a_socket_passes_all_traffic_to_the_kernel() {
    if common::skip_net() {
        return;
    }
    let net = VethNet::create().unwrap();
    let (ns_if, ns_addr) = (net.ns_if.clone(), net.ns_addr);
    let (steer, rx, other) = net
        .ns
        .run(move || {
            let mut steer = XdpSteering::load().unwrap();
            steer.set_ports(&[PORT]).unwrap();
            steer.attach(&ns_if, XdpAttachMode::Driver).unwrap();
            let rx = UdpSocket::bind((ns_addr, PORT)).unwrap();
            let other = UdpSocket::bind((ns_addr, OTHER)).unwrap();
            (steer, rx, other)
        })
        .unwrap();
    warm_up(&net, &other);
    let before = steer.stats().unwrap();
    send_numbered(net.host_addr, SocketAddr::from((ns_addr, PORT)), 10, 64);
    send_numbered(net.host_addr, SocketAddr::from((ns_addr, OTHER)), 10, 64);
    // Datapath port but no AF_XDP socket on the queue: the kernel stack gets them.
    assert_eq!(receive(&rx, 10, Duration::from_millis(1000)).len(), 10);
    assert_eq!(receive(&other, 10, Duration::from_millis(1000)).len(), 10);
    let s = steer.stats().unwrap();
    assert_eq!(s.no_socket, 10);
    assert_eq!(s.redirected, 0);
    assert!(s.passed - before.passed >= 10, "{before:?} → {s:?}");
}

#[test]
fn steering_delivers_datapath_datagrams_into_the_af_xdp_socket() {
    if common::skip_net() {
        return;
    }
    for mode in [XdpAttachMode::Driver, XdpAttachMode::Skb] {
        let net = VethNet::create().unwrap();
        let (ns_if, ns_addr) = (net.ns_if.clone(), net.ns_addr);
        let (steer, mut xsk, rx, other) = net
            .ns
            .run(move || {
                let idx = nix::net::if_::if_nametoindex(ns_if.as_str()).unwrap();
                let xsk = common::xsk::Xsk::bind(idx, 0).expect("AF_XDP bind (copy mode)");
                let mut steer = XdpSteering::load().unwrap();
                steer.set_ports(&[PORT]).unwrap();
                steer.register_xsk(0, &xsk).unwrap();
                steer.attach(&ns_if, mode).unwrap();
                let rx = UdpSocket::bind((ns_addr, PORT)).unwrap();
                let other = UdpSocket::bind((ns_addr, OTHER)).unwrap();
                (steer, xsk, rx, other)
            })
            .unwrap();
        warm_up(&net, &other);
        send_numbered(net.host_addr, SocketAddr::from((ns_addr, PORT)), 5, 80);
        send_numbered(net.host_addr, SocketAddr::from((ns_addr, OTHER)), 5, 80);
        assert_eq!(
            receive(&other, 5, Duration::from_millis(1000)).len(),
            5,
            "{mode:?}"
        );
        let mut frames = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while frames.len() < 5 && Instant::now() < deadline {
            frames.extend(xsk.drain());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(frames.len(), 5, "{mode:?}");
        for (i, f) in frames.iter().enumerate() {
            // Ethernet 14 + IPv4 20 + UDP 8, then the numbered payload.
            assert_eq!(f.len(), 42 + 80);
            assert_eq!(u16::from_be_bytes([f[36], f[37]]), PORT);
            assert_eq!(&f[42..46], &(i as u32).to_be_bytes(), "{mode:?} order");
        }
        // None of them reached the kernel socket.
        assert!(
            receive(&rx, 1, Duration::from_millis(100)).is_empty(),
            "{mode:?}"
        );
        let s = steer.stats().unwrap();
        assert_eq!(s.redirected, 5, "{mode:?}");
        assert_eq!(s.no_socket, 0, "{mode:?}");
        assert!(xdp_attached(&net), "{mode:?}");
        drop(steer);
        assert!(!xdp_attached(&net), "{mode:?}: detached on drop");
    }
}

/// How many programs are attached to the egress of `ifname` in `mode`.
fn tc_programs(ifname: &str, mode: TcAttachMode) -> usize {
    match mode {
        TcAttachMode::Clsact => {
            let out = std::process::Command::new("tc")
                .args(["filter", "show", "dev", ifname, "egress"])
                .output()
                .unwrap();
            assert!(out.status.success());
            // One line per attached filter: "... handle 0x1 tc_pace direct-action ...".
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("direct-action") && l.contains("tc_pace"))
                .count()
        }
        _ => {
            let (_, progs) = aya::programs::SchedClassifier::query_tcx(
                ifname,
                aya::programs::TcAttachType::Egress,
            )
            .unwrap();
            progs.len()
        }
    }
}

/// Whether `ip link` shows an XDP program on the namespace side of `net`.
fn xdp_attached(net: &VethNet) -> bool {
    let out = net
        .ns
        .exec(&["ip", "link", "show", "dev", &net.ns_if])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a live timespec for the kernel to fill.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0
    );
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn pacer_on_egress_stamps_real_traffic_which_still_flows() {
    if common::skip_net() {
        return;
    }
    for mode in [TcAttachMode::Tcx, TcAttachMode::Clsact] {
        let net = VethNet::create().unwrap();
        let ns_addr = net.ns_addr;
        let (rx, other) = net
            .ns
            .run(move || {
                (
                    UdpSocket::bind((ns_addr, PORT)).unwrap(),
                    UdpSocket::bind((ns_addr, OTHER)).unwrap(),
                )
            })
            .unwrap();
        let mut pacer = TcPacer::load().unwrap();
        // The host side's egress: what this host sends into the namespace.
        pacer.attach_with(&net.host_if, mode).unwrap();
        let flow = SocketAddr::from((ns_addr, PORT));
        pacer.set_rate(flow, 1_000_000).unwrap();
        warm_up(&net, &other);
        let t0 = monotonic_ns();
        send_numbered(net.host_addr, flow, 20, 200);
        // No fq qdisc here: the stamps are not enforced and nothing is held back or lost.
        assert_eq!(
            receive(&rx, 20, Duration::from_millis(1000)).len(),
            20,
            "{mode:?}"
        );
        let st = pacer.flow_state(flow).unwrap().unwrap();
        assert_eq!(st.packets, 20, "{mode:?}");
        assert_eq!(st.bytes, 20 * (14 + 20 + 8 + 200), "{mode:?}");
        // 20 frames of 242 B at 1 MB/s: the last departure is ≥ 19 gaps after the first,
        // and the first is no earlier than the send.
        assert!(st.next_departure_ns >= t0 + 20 * 242_000, "{mode:?}");
        let s = pacer.stats().unwrap();
        assert_eq!(s.stamped, 20, "{mode:?}");
        assert!(s.unpaced >= 1, "warm-up traffic is unpaced");
        // Attached where asked, and detached on drop.
        assert_eq!(tc_programs(&net.host_if, mode), 1, "{mode:?}");
        drop(pacer);
        assert_eq!(tc_programs(&net.host_if, mode), 0, "{mode:?}");
    }
}
